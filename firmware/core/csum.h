/*
 * The internet checksum (RFC 1071): the one's-complement sum of big-endian
 * 16-bit words, folded and inverted. One copy for the firmware's answers
 * (policy/enforce.c) and the test-capture writer (tools/tg-pcapgen), so the
 * frames the gateway forges and the captures the tests replay agree on it.
 *
 * Static inline: the firmware calls it per forged frame, tg-pcapgen per
 * generated one, and neither needs an object file for four lines.
 */
#ifndef TG_CSUM_H
#define TG_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Adds len bytes at p to a running sum. An odd length pads with a zero byte,
 * so only the last run of a checksum may be odd.
 */
static inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* The checksum field's value for a running sum: carries folded in, inverted. */
static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif

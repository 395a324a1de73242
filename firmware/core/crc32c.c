/*
 * CRC-32C, slicing-by-8; see crc32c.h. The tables (8 KiB) are built on the
 * first call: the loop has one thread, and a constant table would be 256
 * lines of numbers nobody can check by reading.
 */
#include "core/crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc32c_tab[8][256];
static bool crc32c_ready;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_tab[t][i] = (crc32c_tab[t - 1][i] >> 8) ^
					   crc32c_tab[0][crc32c_tab[t - 1][i] & 0xff];
	crc32c_ready = true;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (!crc32c_ready)
		crc32c_init();
	crc = ~crc;
	for (; len && ((uintptr_t)b & 7); len--)
		crc = crc32c_tab[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	for (; len >= 8; len -= 8, b += 8) {
		uint32_t lo, hi;

		memcpy(&lo, b, 4);
		memcpy(&hi, b + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		lo = __builtin_bswap32(lo);
		hi = __builtin_bswap32(hi);
#endif
		lo ^= crc;
		crc = crc32c_tab[7][lo & 0xff] ^ crc32c_tab[6][(lo >> 8) & 0xff] ^
		      crc32c_tab[5][(lo >> 16) & 0xff] ^ crc32c_tab[4][lo >> 24] ^
		      crc32c_tab[3][hi & 0xff] ^ crc32c_tab[2][(hi >> 8) & 0xff] ^
		      crc32c_tab[1][(hi >> 16) & 0xff] ^ crc32c_tab[0][hi >> 24];
	}
	while (len--)
		crc = crc32c_tab[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

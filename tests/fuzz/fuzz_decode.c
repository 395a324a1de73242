/*
 * libFuzzer target for decode_packet(): the first input byte picks the link
 * type (including invalid ones), the rest is the frame. The frame is copied
 * to a buffer of exactly its size so ASan sees any read past caplen, and on
 * DECODE_OK every pointer range in struct pkt must lie inside the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *ptr, uint32_t len, const uint8_t *buf, size_t buflen)
{
	if (!ptr)
		return len == 0;
	return ptr >= buf && ptr <= buf + buflen && len <= (size_t)(buf + buflen - ptr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum link_type link;
	enum decode_err err;
	uint8_t *frame;
	uint32_t caplen;
	struct pkt p;

	if (size < 1 || size - 1 > UINT32_MAX)
		return 0;
	/* 0 and LINK_RAW + 1 exercise the unsupported-link path. */
	link = (enum link_type)(data[0] % (LINK_RAW + 2));
	caplen = (uint32_t)(size - 1);
	frame = malloc(caplen ? caplen : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, caplen);

	/* Half the inputs claim a longer wire length, as a snaplen would. */
	err = decode_packet(link, frame, caplen, caplen + (data[0] & 0x80 ? 100 : 0), &p);
	if ((unsigned int)err >= DECODE_ERR_MAX)
		abort();
	if (err == DECODE_OK) {
		if (!inside(p.l3, p.l3_len, frame, caplen) || !inside(p.l4, p.l4_len, frame, caplen) ||
		    !inside(p.payload, p.payload_len, frame, caplen) ||
		    !inside(p.inner, p.inner ? 1 : 0, frame, caplen))
			abort();
		if (p.ip_version != 4 && p.ip_version != 6)
			abort();
		if (p.l4 && (p.l4 < p.l3 || p.payload < p.l4 ||
			     p.payload + p.payload_len > p.l4 + p.l4_len))
			abort();
	}
	free(frame);
	return 0;
}

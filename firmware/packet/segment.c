/*
 * Cutting a coalesced TCP frame into wire segments (segment.h). What the
 * kernel's GSO does for TCP, for the few frames the gateway consumes
 * itself; every segment is checksummed in full, since nothing below will.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/csum.h"
#include "packet/segment.h"

static uint16_t seg_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t seg_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void seg_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void seg_put32(uint8_t *p, uint32_t v)
{
	seg_put16(p, (uint16_t)(v >> 16));
	seg_put16(p + 2, (uint16_t)v);
}

int segment_tcp(const uint8_t *frame, uint32_t len, uint32_t seg_size, segment_fn fn, void *ctx)
{
	/* Single-threaded firmware: one frame under construction at a time. */
	static uint8_t out[SEGMENT_FRAME_MAX];
	uint32_t l3 = 14, l4, hl, payload, off, seq;
	uint16_t type, ip_id = 0;
	uint8_t flags;
	bool v4;
	int n = 0;

	if (len < l3)
		return -EINVAL;
	type = seg_get16(frame + 12);
	for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
		if (len < l3 + 4)
			return -EINVAL;
		type = seg_get16(frame + l3 + 2);
		l3 += 4;
	}
	if (type == 0x0800 && len >= l3 + 20 && frame[l3] >> 4 == 4) {
		if (frame[l3 + 9] != 6)
			return -EPROTONOSUPPORT;
		v4 = true;
		l4 = l3 + (frame[l3] & 15u) * 4u;
		ip_id = seg_get16(frame + l3 + 4);
		if (l4 < l3 + 20)
			return -EINVAL;
	} else if (type == 0x86dd && len >= l3 + 40 && frame[l3] >> 4 == 6) {
		if (frame[l3 + 6] != 6)
			return -EPROTONOSUPPORT;
		v4 = false;
		l4 = l3 + 40;
	} else {
		return type == 0x0800 || type == 0x86dd ? -EINVAL : -EPROTONOSUPPORT;
	}
	if (len < l4 + 20)
		return -EINVAL;
	hl = l4 + (frame[l4 + 12] >> 4) * 4u;
	if (hl < l4 + 20 || len < hl || !seg_size || hl + seg_size > SEGMENT_FRAME_MAX)
		return -EINVAL;
	payload = len - hl;
	seq = seg_get32(frame + l4 + 4);
	flags = frame[l4 + 13];
	off = 0;
	do {
		uint32_t chunk = payload - off < seg_size ? payload - off : seg_size;
		uint32_t flen = hl + chunk, sum;
		bool last = off + chunk >= payload;

		memcpy(out, frame, hl);
		memcpy(out + hl, frame + hl + off, chunk);
		if (v4) {
			seg_put16(out + l3 + 2, (uint16_t)(flen - l3));
			seg_put16(out + l3 + 4, (uint16_t)(ip_id + n));
			seg_put16(out + l3 + 10, 0);
			seg_put16(out + l3 + 10, csum_fold(csum_add(0, out + l3, l4 - l3)));
			sum = csum_add(0, out + l3 + 12, 8);
		} else {
			seg_put16(out + l3 + 4, (uint16_t)(flen - l3 - 40));
			sum = csum_add(0, out + l3 + 8, 32);
		}
		seg_put32(out + l4 + 4, seq + off);
		/* CWR (0x80) on the first segment only; FIN (0x01) and PSH (0x08) on the last only. */
		out[l4 + 13] = (uint8_t)(flags & ~(n ? 0x80u : 0u) & ~(last ? 0u : 0x09u));
		seg_put16(out + l4 + 16, 0);
		sum += 6u + (flen - l4);
		seg_put16(out + l4 + 16, csum_fold(csum_add(sum, out + l4, flen - l4)));
		fn(out, flen, ctx);
		n++;
		off += chunk;
	} while (off < payload);
	return n;
}

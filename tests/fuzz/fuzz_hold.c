/*
 * libFuzzer target for the hold (packet/hold.c): the name parsers and the
 * reassembly of segments with any sequence number, length and order.
 *
 * Input: one byte n (segments, 1..16), then n descriptors of 4 bytes
 * (offset into the stream: 2 bytes, signed so a segment may start before
 * the first one held; length: 1 byte; flags: 1 byte, bit 0 flips the
 * segment's first byte, bit 1 lets the clock jump past the time limit),
 * then the request stream itself.
 *
 * Checked: the parsers, over the stream copied to a buffer of exactly its
 * size (ASan sees any read past the end), keep their word: a verdict
 * (found, none, not mine) on a prefix is the verdict on the whole stream,
 * with the same name, and a name is NUL-terminated and at most
 * HOLD_NAME_MAX bytes. The hold: every result is one of its enum, a name is
 * reported only with HOLD_NAME, the frames handed back when a hold ends are
 * frames that were kept (same bytes, arrival order) and the pool is empty
 * once every hold has ended or expired.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "packet/decode.h"
#include "packet/hold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLOW_BYTES 1024
#define MAX_SEGS 16
#define ISN 0xffffff00u

static void check_name(const char *name)
{
	if (strnlen(name, HOLD_NAME_MAX + 1) > HOLD_NAME_MAX)
		abort();
}

static void check_parsers(const uint8_t *stream, size_t len)
{
	static uint8_t scratch[FLOW_BYTES];
	char whole[HOLD_NAME_MAX + 1], part[HOLD_NAME_MAX + 1];
	uint8_t *buf = malloc(len ? len : 1);
	enum hold_parse w, p;
	size_t cuts[3] = { len / 3, len / 2, len ? len - 1 : 0 };

	if (!buf)
		return;
	memcpy(buf, stream, len);
	for (int kind = 0; kind < 2; kind++) {
		w = kind ? hold_parse_http(buf, len, whole)
			 : hold_parse_tls(buf, len, scratch, sizeof(scratch), whole);
		if (w == HOLD_PARSE_FOUND)
			check_name(whole);
		for (int i = 0; i < 3; i++) {
			p = kind ? hold_parse_http(buf, cuts[i], part)
				 : hold_parse_tls(buf, cuts[i], scratch, sizeof(scratch), part);
			if (p == HOLD_PARSE_MORE)
				continue;
			if (p != w)
				abort(); /* a prefix's verdict was not the whole's */
			if (p == HOLD_PARSE_FOUND && strcmp(part, whole))
				abort();
		}
	}
	free(buf);
}

/* A client segment of the flow 10.0.0.1:40000 -> 10.0.0.2:443 in frame[]. */
static uint32_t build(uint8_t *frame, uint32_t seq, const uint8_t *payload, uint32_t n)
{
	static const uint8_t head[54] = {
		2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
	};

	memcpy(frame, head, sizeof(head));
	frame[16] = (uint8_t)((40 + n) >> 8);
	frame[17] = (uint8_t)(40 + n);
	frame[38] = (uint8_t)(seq >> 24);
	frame[39] = (uint8_t)(seq >> 16);
	frame[40] = (uint8_t)(seq >> 8);
	frame[41] = (uint8_t)seq;
	memcpy(frame + sizeof(head), payload, n);
	return (uint32_t)sizeof(head) + n;
}

struct kept {
	uint32_t n, next;
	uint32_t len[MAX_SEGS];
	uint8_t frame[MAX_SEGS][54 + 256];
};

static void given_back(const struct hold_frame *fr, void *ctx)
{
	struct kept *k = ctx;

	/* Arrival order: the tags count up, and each frame is the one kept. */
	if (fr->tag < k->next || fr->tag >= k->n || fr->len != k->len[fr->tag] ||
	    memcmp(fr->data, k->frame[fr->tag], fr->len))
		abort();
	k->next = fr->tag + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hold *h;
	const struct hold_config cfg = { .flow_bytes = FLOW_BYTES, .pool_bytes = 64 * 1024,
					 .time_ms = 100 };
	struct flow f;
	struct kept k;
	struct hold_stats st;
	const uint8_t *stream;
	size_t n, stream_len;
	uint64_t now = 1000;
	bool ended = false;

	if (!h && !(h = hold_new(&cfg)))
		abort();
	if (size < 1)
		return 0;
	n = data[0] % MAX_SEGS + 1;
	if (size < 1 + 4 * n)
		return 0;
	stream = data + 1 + 4 * n;
	stream_len = size - 1 - 4 * n;
	check_parsers(stream, stream_len);

	memset(&f, 0, sizeof(f));
	memset(&k, 0, sizeof(k));
	f.id = 1;
	f.key.l4_proto = 6;
	f.packets[FLOW_DIR_FWD] = 2;
	if (data[0] & 0x80) {
		/* The client's SYN seen: the hold knows where the request starts. */
		uint8_t syn[54];
		struct pkt sp;

		build(syn, ISN, NULL, 0);
		syn[47] = 0x02;
		if (decode_packet(LINK_ETHERNET, syn, sizeof(syn), sizeof(syn), &sp) != DECODE_OK)
			abort();
		hold_note_syn(h, &f, &sp, FLOW_DIR_FWD);
	}
	for (size_t i = 0; i < n && !ended; i++) {
		const uint8_t *d = data + 1 + 4 * i;
		int16_t off = (int16_t)(d[0] << 8 | d[1]);
		uint32_t len = d[2], from = (uint32_t)(off < 0 ? 0 : off);
		uint8_t payload[256];
		uint8_t frame[54 + 256];
		struct pkt p;
		uint32_t flen;
		enum hold_result r;
		enum hold_name_kind kind;
		const char *name;

		if (from >= stream_len)
			len = 0;
		else if (len > stream_len - from)
			len = (uint32_t)(stream_len - from);
		if (!len)
			continue;
		memcpy(payload, stream + from, len);
		if (d[3] & 1)
			payload[0] ^= 0xff;
		if (d[3] & 2)
			now += 150;
		flen = build(frame, ISN + 1 + (uint32_t)(int32_t)off, payload, len);
		if (decode_packet(LINK_ETHERNET, frame, flen, flen, &p) != DECODE_OK)
			abort();
		f.packets[FLOW_DIR_FWD]++;
		hold_expire(h, now, given_back, &k);
		r = hold_frame(h, &f, &p, FLOW_DIR_FWD, frame, flen, k.n, NULL, now);
		name = hold_name(h, &f, &kind);
		if (name && r != HOLD_NAME)
			abort();
		switch (r) {
		case HOLD_PASS:
		case HOLD_DUP:
			break;
		case HOLD_HELD:
			k.len[k.n] = flen;
			memcpy(k.frame[k.n++], frame, flen);
			break;
		case HOLD_NAME:
		case HOLD_NONAME:
			k.len[k.n] = flen;
			memcpy(k.frame[k.n++], frame, flen);
			if (r == HOLD_NAME)
				check_name(name);
			hold_end(h, &f, r == HOLD_NONAME, given_back, &k);
			ended = true;
			break;
		case HOLD_GIVEUP:
		case HOLD_CONFLICT:
			hold_end(h, &f, r == HOLD_GIVEUP, given_back, &k);
			ended = true;
			break;
		default:
			abort();
		}
	}
	/* Time ends every hold: a begun request after at most 20 limits more. */
	for (int i = 1; i <= 25 && hold_active(h, &f); i++)
		hold_expire(h, now + 1000u * (uint64_t)i, given_back, &k);
	hold_get_stats(h, &st);
	if (st.active || hold_active(h, &f))
		abort();
	/* The next input starts from a clean pool, with this flow id forgotten. */
	hold_free(h);
	h = NULL;
	return 0;
}

/*
 * The spool's bytes on flash (docs/reports.md "Spool format"): a record's
 * header and the reader that finds intact records in a segment whatever
 * else it holds. Apart from spool.c (the queues, files and counters) so the
 * fuzzer and the recovery benchmark attack exactly this.
 *
 * A record: magic f5 54 47 52, u32 length of the JSON, u64 tg.seq, u8 kind,
 * u8 flags, u16 zero, u32 CRC-32C of the 16 bytes from the length to the
 * zero and of the JSON; then the JSON. The magic's first byte never occurs
 * in UTF-8, so JSON text cannot imitate a header; the CRC covers everything
 * else, so a header the reader takes is the header that was written.
 */
#include <string.h>

#include "core/crc32c.h"
#include "report/spool.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void spool_encode(uint8_t *out, uint64_t seq, enum report_kind kind, uint8_t flags,
		  const void *json, uint32_t len)
{
	uint32_t crc;

	put32(out, SPOOL_REC_MAGIC);
	put32(out + 4, len);
	put64(out + 8, seq);
	out[16] = (uint8_t)kind;
	out[17] = flags;
	out[18] = out[19] = 0;
	memcpy(out + SPOOL_REC_HDR, json, len);
	crc = crc32c(0, out + 4, 16);
	crc = crc32c(crc, json, len);
	put32(out + 20, crc);
}

enum parse { P_OK, P_TORN, P_BAD };

/* What lies at off: an intact record, the start of one cut short by the end, or neither. */
static enum parse parse_at(const uint8_t *buf, size_t len, size_t off, struct spool_view *v)
{
	static const uint8_t magic[4] = { 0xf5, 0x54, 0x47, 0x52 };
	size_t left = len - off;
	uint32_t plen, crc;

	if (left < 4)
		return memcmp(buf + off, magic, left) ? P_BAD : P_TORN;
	if (get32(buf + off) != SPOOL_REC_MAGIC)
		return P_BAD;
	if (left < SPOOL_REC_HDR)
		return P_TORN;
	plen = get32(buf + off + 4);
	if (plen == 0 || plen > SPOOL_RECORD_MAX || buf[off + 16] >= SPOOL_KINDS ||
	    buf[off + 18] || buf[off + 19] || get64(buf + off + 8) == 0 ||
	    get64(buf + off + 8) > SPOOL_SEQ_LIMIT)
		return P_BAD;
	if (plen > left - SPOOL_REC_HDR)
		return P_TORN;
	crc = crc32c(0, buf + off + 4, 16);
	crc = crc32c(crc, buf + off + SPOOL_REC_HDR, plen);
	if (crc != get32(buf + off + 20))
		return P_BAD;
	v->seq = get64(buf + off + 8);
	v->kind = buf[off + 16];
	v->flags = buf[off + 17];
	v->data = buf + off + SPOOL_REC_HDR;
	v->len = plen;
	v->off = off;
	return P_OK;
}

void spool_scan_begin(const uint8_t *buf, size_t len, struct spool_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (len >= SPOOL_SEG_HDR && !memcmp(buf, SPOOL_SEG_MAGIC, SPOOL_SEG_HDR)) {
		sc->off = SPOOL_SEG_HDR;
		return;
	}
	/* A file cut inside its header is torn; any other header is damage. Records may follow. */
	if (len < SPOOL_SEG_HDR && !memcmp(buf, SPOOL_SEG_MAGIC, len)) {
		if (len)
			sc->torn++;
		sc->off = len;
		return;
	}
	sc->corrupt++;
	sc->off = len < SPOOL_SEG_HDR ? len : SPOOL_SEG_HDR;
}

int spool_scan_next(const uint8_t *buf, size_t len, struct spool_scan *sc, struct spool_view *v)
{
	enum parse first;
	size_t q;

	if (sc->off >= len)
		return 0;
	first = parse_at(buf, len, sc->off, v);
	if (first == P_OK) {
		sc->off += SPOOL_REC_HDR + v->len;
		return 1;
	}
	/* Damage: the next intact record, searched by its magic's first byte. */
	for (q = sc->off + 1; q < len; q++) {
		const uint8_t *m = memchr(buf + q, 0xf5, len - q);

		if (!m)
			break;
		q = (size_t)(m - buf);
		if (parse_at(buf, len, q, v) == P_OK) {
			sc->corrupt++;
			sc->off = q + SPOOL_REC_HDR + v->len;
			return 1;
		}
	}
	if (first == P_TORN)
		sc->torn++;
	else
		sc->corrupt++;
	sc->off = len;
	return 0;
}

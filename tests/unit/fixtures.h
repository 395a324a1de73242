/*
 * What several unit tests build the same way, written once: bytes in network
 * order, frames built layer by layer, DNS names in wire form, addresses,
 * a seeded random sequence (a failure replays), hub key pairs, blocklist
 * bundles, flow records, a captured output stream and a scratch directory.
 *
 * Header only (static inline), so a test includes it after <cmocka.h> and
 * the Makefile's one rule per tests/unit/test_*.c still builds every test.
 * A builder that runs out of room fails the test, it never writes past it.
 */
#ifndef TG_TESTS_FIXTURES_H
#define TG_TESTS_FIXTURES_H

#include <arpa/inet.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "packet/decode.h"
#include "packet/flow.h"
#include "policy/bundle.h"

/* ---------------------------------------------------------------- bytes */

static inline void fx_wr16(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void fx_wr32(uint8_t *b, uint32_t v)
{
	fx_wr16(b, v >> 16);
	fx_wr16(b + 2, v & 0xffff);
}

static inline uint16_t fx_rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t fx_rd32(const uint8_t *b)
{
	return (uint32_t)fx_rd16(b) << 16 | fx_rd16(b + 2);
}

/*
 * A frame or a message being written: len bytes of b are used. 4096 bytes
 * hold the largest frame or DNS message a test builds.
 */
struct fx_buf {
	uint8_t b[4096];
	uint32_t len;
};

/* n more bytes, zeroed; returns where they start. */
static inline uint8_t *fx_grow(struct fx_buf *f, uint32_t n)
{
	uint8_t *at = f->b + f->len;

	assert_true(f->len + n <= sizeof(f->b));
	memset(at, 0, n);
	f->len += n;
	return at;
}

/* n bytes of data (NULL: zeros); returns their offset. */
static inline uint32_t fx_put(struct fx_buf *f, const void *data, uint32_t n)
{
	uint32_t off = f->len;
	uint8_t *at = fx_grow(f, n);

	if (data)
		memcpy(at, data, n);
	return off;
}

static inline void fx_set16(struct fx_buf *f, uint32_t off, uint32_t v)
{
	fx_wr16(f->b + off, v);
}

static inline uint32_t fx_put8(struct fx_buf *f, uint32_t v)
{
	uint32_t off = fx_put(f, NULL, 1);

	f->b[off] = (uint8_t)v;
	return off;
}

static inline uint32_t fx_put16(struct fx_buf *f, uint32_t v)
{
	uint32_t off = fx_put(f, NULL, 2);

	fx_wr16(f->b + off, v);
	return off;
}

static inline uint32_t fx_put32(struct fx_buf *f, uint32_t v)
{
	uint32_t off = fx_put(f, NULL, 4);

	fx_wr32(f->b + off, v);
	return off;
}

/* ---------------------------------------------------------------- frames, layer by layer */

/* Ethernet to 02:00:00:00:00:01 from 02:00:00:00:00:02. */
static inline uint32_t fx_eth(struct fx_buf *f, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };
	uint32_t off = fx_put(f, macs, sizeof(macs));

	fx_put16(f, type);
	return off;
}

/* 802.1Q/802.1ad tag: TCI, then the EtherType of what follows. */
static inline void fx_tag(struct fx_buf *f, uint16_t tci, uint16_t next_type)
{
	fx_put16(f, tci);
	fx_put16(f, next_type);
}

/* IPv4 header of ihl words (NOP options past 20 bytes), TTL 64; finish with fx_end_ip4(). */
static inline uint32_t fx_ip4_ihl(struct fx_buf *f, uint8_t proto, unsigned int ihl,
				  const uint8_t *src, const uint8_t *dst)
{
	uint32_t off = fx_put(f, NULL, ihl * 4);
	uint8_t *h = f->b + off;

	h[0] = (uint8_t)(0x40 | ihl);
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	for (unsigned int i = 20; i < ihl * 4; i++)
		h[i] = 1;
	return off;
}

static inline uint32_t fx_ip4(struct fx_buf *f, uint8_t proto, const uint8_t *src,
			      const uint8_t *dst)
{
	return fx_ip4_ihl(f, proto, 5, src, dst);
}

/* Sets the total length to everything from the header at off to the current end. */
static inline void fx_end_ip4(struct fx_buf *f, uint32_t off)
{
	fx_set16(f, off + 2, f->len - off);
}

static inline uint32_t fx_ip6(struct fx_buf *f, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	uint32_t off = fx_put(f, NULL, 40);
	uint8_t *h = f->b + off;

	h[0] = 0x60;
	h[6] = nh;
	h[7] = 64;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	return off;
}

/* Sets the payload length to everything after the header at off. */
static inline void fx_end_ip6(struct fx_buf *f, uint32_t off)
{
	fx_set16(f, off + 4, f->len - off - 40);
}

/* TCP header with opt_words words of NOP options. */
static inline uint32_t fx_tcp(struct fx_buf *f, uint16_t sport, uint16_t dport, uint8_t flags,
			      unsigned int opt_words)
{
	uint32_t off = fx_put(f, NULL, 20 + 4 * opt_words);
	uint8_t *h = f->b + off;

	fx_wr16(h, sport);
	fx_wr16(h + 2, dport);
	h[12] = (uint8_t)((5 + opt_words) << 4);
	h[13] = flags;
	for (unsigned int i = 20; i < 20 + 4 * opt_words; i++)
		h[i] = 1;
	return off;
}

static inline uint32_t fx_udp(struct fx_buf *f, uint16_t sport, uint16_t dport)
{
	uint32_t off = fx_put(f, NULL, 8);

	fx_wr16(f->b + off, sport);
	fx_wr16(f->b + off + 2, dport);
	return off;
}

/* n payload bytes "abc...zab..." */
static inline uint32_t fx_data(struct fx_buf *f, uint32_t n)
{
	uint32_t off = fx_put(f, NULL, n);

	for (uint32_t i = 0; i < n; i++)
		f->b[off + i] = (uint8_t)('a' + i % 26);
	return off;
}

/* ---------------------------------------------------------------- DNS names */

/* The labels of a dotted name, without the root label that ends a name. */
static inline void fx_dns_labels(struct fx_buf *m, const char *name)
{
	while (*name) {
		size_t len = strcspn(name, ".");

		fx_put8(m, (uint32_t)len);
		fx_put(m, name, (uint32_t)len);
		name += len;
		if (*name == '.')
			name++;
	}
}

/* A whole uncompressed name, case kept; returns its offset. */
static inline uint32_t fx_dns_name(struct fx_buf *m, const char *name)
{
	uint32_t off = m->len;

	fx_dns_labels(m, name);
	fx_put8(m, 0);
	return off;
}

/* A response (id 0x1234, no error) to an A query for name: one answer, addr "a.b.c.d", ttl s. */
static inline void fx_dns_answer_a(struct fx_buf *m, const char *name, const char *addr, uint32_t ttl)
{
	uint8_t a[4];

	fx_put16(m, 0x1234);
	fx_put16(m, 0x8180);
	fx_put16(m, 1);
	fx_put16(m, 1);
	fx_put16(m, 0);
	fx_put16(m, 0);
	fx_dns_name(m, name);
	fx_put16(m, 1);
	fx_put16(m, 1);
	fx_put16(m, 0xc00c);
	fx_put16(m, 1);
	fx_put16(m, 1);
	fx_put32(m, ttl);
	fx_put16(m, 4);
	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	fx_put(m, a, 4);
}

/* ---------------------------------------------------------------- addresses */

/* IPv4 a.b.c.d written 0xaabbccdd: numeric order is memcmp order. */
static inline union ip_addr fx_v4(uint32_t a)
{
	union ip_addr ip;

	memset(&ip, 0, sizeof(ip));
	fx_wr32(ip.b, a);
	return ip;
}

/* 2001:db8::<n> (the last two bytes). */
static inline union ip_addr fx_v6(uint16_t n)
{
	union ip_addr ip;

	memset(&ip, 0, sizeof(ip));
	fx_wr32(ip.b, 0x20010db8);
	fx_wr16(ip.b + 14, n);
	return ip;
}

/* ---------------------------------------------------------------- random, reproducible */

/* xorshift64*: a fixed sequence for a seed (non-zero), so a failure replays. */
static inline uint64_t fx_rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545f4914f6cdd1d);
}

/* 0 .. n - 1 (n > 0). */
static inline uint32_t fx_rnd_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(fx_rnd(s) % n);
}

/* ---------------------------------------------------------------- hub keys */

/*
 * Two key pairs from bundle_keygen(): the hub's, which a gateway trusts, and
 * another one (an attacker's). PEM text; a key's length for the firmware's
 * calls is strlen() + 1 (mbedTLS parses PEM with its NUL).
 */
struct fx_keys {
	char *priv, *pub;
	char *other_priv, *other_pub;
};

/* 0, or -1 for a cmocka group setup to fail with. */
static inline int fx_keys_make(struct fx_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (bundle_keygen(&k->priv, &k->pub) || bundle_keygen(&k->other_priv, &k->other_pub))
		return -1;
	return 0;
}

static inline void fx_keys_free(struct fx_keys *k)
{
	free(k->priv);
	free(k->pub);
	free(k->other_priv);
	free(k->other_pub);
	memset(k, 0, sizeof(*k));
}

/* ---------------------------------------------------------------- bundles */

/*
 * Entries for a test's bundle: a domain (flags BUNDLE_F_EXACT or 0, expiry
 * 0 = never) and an IPv4 prefix "a.b.c.d"/len, in the block or allow list.
 */
static inline void fx_add_domain(struct bundle_builder *bb, const char *name, bool allow,
				 uint32_t rule, uint8_t action, uint8_t flags, uint32_t expires)
{
	struct bundle_meta m = { .rule = rule, .action = action, .flags = flags, .expires = expires };

	assert_int_equal(bundle_builder_add_domain(bb, name, allow, &m), 0);
}

static inline void fx_add_net4(struct bundle_builder *bb, const char *addr, uint8_t len, bool allow,
			       uint32_t rule, uint8_t action)
{
	struct bundle_meta m = { .rule = rule, .action = action };
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	assert_int_equal(bundle_builder_add_ip(bb, AF_INET, a, len, allow, &m), 0);
}

/*
 * The builder's entries as an opened full bundle of region "test", created
 * 10 s before now_s and expiring a day after, signed with priv (PEM; NULL:
 * unsigned, it opens but never verifies). The builder is freed; *bytes
 * (malloc'ed) holds the file and must outlive *b.
 */
static inline void fx_bundle_open(struct bundle_builder *bb, uint64_t serial, uint64_t now_s,
				  const char *priv, uint8_t **bytes, struct bundle **b)
{
	struct bundle_info info = { .region = "test", .serial = serial, .created = now_s - 10,
				    .expires = now_s + 86400 };
	size_t len;

	assert_int_equal(bundle_build(bb, &info, (const uint8_t *)priv, priv ? strlen(priv) + 1 : 0,
				      bytes, &len),
			 0);
	assert_int_equal(bundle_open_mem(*bytes, len, b), BUNDLE_OK);
	bundle_builder_free(bb);
}

/* ---------------------------------------------------------------- flow records */

/*
 * A flow record as the table leaves a new IPv4 TCP flow src:sport ->
 * dst:dport (addresses "a.b.c.d"), the initiator endpoint a, id 1: for
 * tests that judge records without a table.
 */
static inline void fx_tcp_flow(struct flow *f, const char *src, uint16_t sport, const char *dst,
			       uint16_t dport)
{
	memset(f, 0, sizeof(*f));
	f->key.ip_version = 4;
	f->key.l4_proto = 6;
	assert_int_equal(inet_pton(AF_INET, src, f->key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, dst, f->key.b.b), 1);
	f->key.port_a = sport;
	f->key.port_b = dport;
	f->init_is_a = 1;
	f->id = 1;
}

/* ---------------------------------------------------------------- captured output */

/* A stream whose text a test reads back (open_memstream). */
struct fx_capture {
	FILE *f;
	char *text;
	size_t len;
};

static inline FILE *fx_capture_open(struct fx_capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

/* Close the stream; the text stays until fx_capture_free(). */
static inline const char *fx_capture_close(struct fx_capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	c->f = NULL;
	assert_non_null(c->text);
	return c->text;
}

static inline void fx_capture_free(struct fx_capture *c)
{
	free(c->text);
	c->text = NULL;
}

/* ---------------------------------------------------------------- report records */

/*
 * With TG_RECORDS_OUT=FILE in the environment, rec is appended to FILE as
 * one JSON line, for tests/integration/report_replay.sh to check against
 * the schemas of docs/reports.md.
 */
static inline void fx_records_out(const json_t *rec)
{
	const char *out = getenv("TG_RECORDS_OUT");
	FILE *f;

	if (!out)
		return;
	f = fopen(out, "a");
	assert_non_null(f);
	assert_int_equal(json_dumpf(rec, f, JSON_COMPACT), 0);
	fputc('\n', f);
	assert_int_equal(fclose(f), 0);
}

/* ---------------------------------------------------------------- scratch directory */

/* A fresh directory made the working directory, and the one to go back to. */
struct fx_scratch {
	char dir[64];
	char olddir[4096];
};

/* 0, or -1 for a cmocka group setup to fail with. */
static inline int fx_scratch_enter(struct fx_scratch *s, const char *name)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/tg-%s-XXXXXX", name);
	if (!getcwd(s->olddir, sizeof(s->olddir)) || !mkdtemp(s->dir) || chdir(s->dir) < 0)
		return -1;
	return 0;
}

static inline int fx_scratch_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Back to the old directory; the scratch one is removed with all in it. */
static inline int fx_scratch_leave(struct fx_scratch *s)
{
	if (chdir(s->olddir) < 0)
		return -1;
	return nftw(s->dir, fx_scratch_rm, 8, FTW_DEPTH | FTW_PHYS);
}

#endif

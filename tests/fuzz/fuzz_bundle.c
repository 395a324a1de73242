/*
 * libFuzzer target for the bundle reader (firmware/policy/bundle_open.c), in two modes
 * chosen by the first input byte:
 *
 *  - even: the rest is a bundle file. It is opened as is, and again with
 *    its body hash field recomputed, because almost no mutated file has the
 *    right hash and the checks behind it (sections, ordering, parents,
 *    indices) are the ones a malicious but signed file would attack.
 *  - odd: the rest is a recipe of entries. They are built into a bundle
 *    (which must open), then one byte chosen by the input is flipped and the
 *    hash recomputed, and that is opened; with bits 1-3 set, the entries
 *    are also split into two bundles whose delta is made and applied (with
 *    real signatures: slow under the sanitizers, so not every time).
 *
 * Every entry the recipe added must then be found (by itself or by a more
 * specific entry; a name's sub-domain unless it is exact-only).
 * Whatever opens is exercised: lookups of fixed and input-derived keys,
 * names, and the canonical-form promise: an opened full
 * bundle, reloaded into a builder and built again, gives back the same bytes
 * up to its signature trailer (so the reader accepts nothing the encoder
 * would not write). A delta that opens is applied to an empty bundle of its
 * base serial, which must refuse it or return a bundle that opens.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/sha256.h>

#include "policy/bundle.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *priv_pem, *pub_pem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (bundle_keygen(&priv_pem, &pub_pem))
		abort();
	return 0;
}

/* Header field: bytes covered by the signature (docs/bundle-format.md). */
static uint64_t signed_len_of(const uint8_t *p, size_t len)
{
	uint64_t v;

	if (len < 128)
		return 0;
	memcpy(&v, p + 80, sizeof(v));
	return v;
}

/* Recompute the body hash of a bundle-shaped buffer in place, if its header allows. */
static void fix_hash(uint8_t *p, size_t len)
{
	uint64_t sl = signed_len_of(p, len);

	if (sl < 128 || sl > len)
		return;
	mbedtls_sha256_ret(p + 128, (size_t)sl - 128, p + 96, 0);
}

static void on_name(const char *name, const struct bundle_meta *meta, bool allow, void *ctx)
{
	size_t *n = ctx;

	(void)allow;
	if (strlen(name) == 0 || strlen(name) > BUNDLE_PROTO_NAME_MAX || meta->action == 0)
		abort();
	(*n)++;
}

static void lookups(const struct bundle *b, const uint8_t *k, size_t klen)
{
	static const char *const names[] = { "example.com", "a.b.example.com", "com", "",
					     "x.tk.", "WWW.Example.COM" };
	uint8_t key[32] = { 0 };
	struct bundle_match m;
	size_t i, n = 0;

	memcpy(key, k, klen < sizeof(key) ? klen : sizeof(key));
	for (i = 0; i < 2; i++) {
		bool allow = i;
		uint8_t ff[16];

		memset(ff, 0xff, sizeof(ff));
		bundle_lookup_ipv4(b, key, 0, allow, &m);
		bundle_lookup_ipv4(b, key + 4, UINT64_MAX, allow, &m);
		bundle_lookup_ipv4(b, ff, 0, allow, &m);
		bundle_lookup_ipv6(b, key, 0, allow, &m);
		bundle_lookup_ipv6(b, key + 16, 1, allow, &m);
		bundle_lookup_ipv6(b, ff, 0, allow, &m);
		bundle_lookup_ja3(b, key, 0, allow, &m);
		bundle_lookup_domain(b, (const char *)k, klen, 0, allow, &m);
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (bundle_lookup_domain(b, names[j], strlen(names[j]), 0, allow, &m) &&
			    m.name_off > strlen(names[j]))
				abort();
	}
	bundle_foreach_name(b, BUNDLE_PROTO, on_name, &n);
	bundle_foreach_name(b, BUNDLE_CATEGORY, on_name, &n);
	if (n != bundle_count(b, BUNDLE_PROTO, false) + bundle_count(b, BUNDLE_PROTO, true) +
			 bundle_count(b, BUNDLE_CATEGORY, false) + bundle_count(b, BUNDLE_CATEGORY, true))
		abort();
}

static void round_trip(const struct bundle *b)
{
	struct bundle_builder *bb = bundle_builder_new();
	const uint8_t *data;
	struct bundle *again;
	uint8_t *out = NULL;
	size_t len, out_len;
	uint64_t sl;

	data = bundle_data(b, &len);
	sl = signed_len_of(data, len);
	if (!bb || bundle_builder_load(bb, b) != 0 ||
	    bundle_build(bb, bundle_get_info(b), NULL, 0, &out, &out_len) != 0)
		abort();
	if (out_len < sl || memcmp(out, data, (size_t)sl) != 0) {
		fprintf(stderr, "an opened bundle is not in canonical form\n");
		abort();
	}
	if (bundle_open_mem(out, out_len, &again) != BUNDLE_OK)
		abort();
	bundle_close(again);
	free(out);
	bundle_builder_free(bb);
}

/* A delta that opens, applied to an empty full bundle of its base serial. */
static void apply_to_empty(const struct bundle *d)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_info info = *bundle_get_info(d);
	struct bundle *cur, *res;
	uint8_t *base, *out = NULL;
	size_t base_len, out_len;
	enum bundle_err err;

	info.serial = info.base_serial;
	info.base_serial = 0;
	if (!bb || bundle_build(bb, &info, NULL, 0, &base, &base_len) != 0 ||
	    bundle_open_mem(base, base_len, &cur) != BUNDLE_OK)
		abort();
	/* a key that does not parse: everything but the final ECDSA check runs */
	err = bundle_apply_delta(cur, d, (const uint8_t *)"not a key", 9, &out, &out_len);
	if (err == BUNDLE_OK) {
		if (bundle_open_mem(out, out_len, &res) != BUNDLE_OK)
			abort();
		bundle_close(res);
		free(out);
	} else if (out) {
		abort();
	}
	bundle_close(cur);
	free(base);
	bundle_builder_free(bb);
}

static void exercise(const uint8_t *p, size_t len, const uint8_t *k, size_t klen)
{
	struct bundle *b = NULL;
	enum bundle_err err = bundle_open_mem(p, len, &b);

	if (err != BUNDLE_OK) {
		if (b || err >= BUNDLE_ERR_MAX)
			abort();
		return;
	}
	lookups(b, k, klen);
	/* signature checks are slow under the sanitizers: only the key path here */
	if (bundle_check(b, (const uint8_t *)"not a key", 9, NULL, 0, 0, 0) != BUNDLE_ERR_MALFORMED)
		abort();
	if (bundle_is_delta(b))
		apply_to_empty(b);
	else
		round_trip(b);
	bundle_close(b);
}

static void raw_mode(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	exercise(data, size, data, size);
	if (size < 128)
		return;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	fix_hash(copy, size);
	exercise(copy, size, data, size);
	free(copy);
}

/*
 * One entry per 20 input bytes: op, then parameters. Entries added become
 * probes: each must be found in the built bundle (by itself, or by a longer
 * prefix or, for a name, by a sub-domain unless exact-only).
 */
struct probe {
	int kind; /* 0 none, 4 or 6: address, 'd' domain */
	uint8_t addr[16];
	uint8_t plen;
	bool allow, exact;
	char name[20];
};

static void check_probe(const struct bundle *b, const struct probe *p)
{
	struct bundle_match m;
	char sub[24];

	switch (p->kind) {
	case 4:
		if (!bundle_lookup_ipv4(b, p->addr, 0, p->allow, &m) || m.prefix_len < p->plen)
			abort();
		break;
	case 6:
		if (!bundle_lookup_ipv6(b, p->addr, 0, p->allow, &m) || m.prefix_len < p->plen)
			abort();
		break;
	case 'd':
		if (!bundle_lookup_domain(b, p->name, strlen(p->name), 0, p->allow, &m) || m.name_off != 0)
			abort();
		/* "x.name" may itself be an entry (name_off 0) */
		snprintf(sub, sizeof(sub), "X.%s", p->name);
		if (!bundle_lookup_domain(b, sub, strlen(sub), 0, p->allow, &m))
			m.name_off = UINT16_MAX;
		if (p->exact ? m.name_off == 2 : m.name_off > 2)
			abort();
		break;
	default:
		break;
	}
}

static void add_from(struct bundle_builder *bb, const uint8_t *r, struct probe *p)
{
	struct bundle_meta m = { .rule = r[1], .expires = r[2] ? r[2] : 0, .flags = 0 };
	bool allow = r[0] & 0x80;
	char name[64];
	size_t i, n;

	m.action = allow ? BUNDLE_ACT_ALLOW : (r[0] & 0x40 ? BUNDLE_ACT_ALERT : BUNDLE_ACT_BLOCK);
	memset(p, 0, sizeof(*p));
	p->allow = allow;
	switch (r[0] & 7) {
	case 0:
		if (bundle_builder_add_ip(bb, AF_INET, r + 4, r[3] % 33, allow, &m) == 0) {
			p->kind = 4;
			memcpy(p->addr, r + 4, 4);
			p->plen = r[3] % 33;
		}
		break;
	case 1:
	case 2:
		/* few host bits set: short prefixes get their tail cleared */
		memcpy(p->addr, r + 4, 16);
		p->plen = r[3] % 129;
		for (i = 0; i < 16; i++)
			if (8 * i >= p->plen)
				p->addr[i] = 0;
		if (bundle_builder_add_ip(bb, AF_INET6, p->addr, p->plen, allow, &m) == 0)
			p->kind = 6;
		break;
	case 3:
	case 4:
		/* a name from a small alphabet so parents and children happen */
		n = 1 + r[3] % 15;
		for (i = 0; i < n; i++)
			name[i] = "ab.c-x."[r[4 + i] % 7];
		name[n] = '\0';
		m.flags = r[0] & 0x20 ? BUNDLE_F_EXACT : 0;
		if (bundle_builder_add_domain(bb, name, allow, &m) == 0) {
			p->kind = 'd';
			p->exact = m.flags;
			/* normalised, so "ab." and "ab" are seen as the same entry */
			memcpy(p->name, name, n + 1);
			if (p->name[n - 1] == '.')
				p->name[n - 1] = '\0';
		}
		break;
	case 5:
		bundle_builder_add_ja3(bb, r + 4, allow, &m);
		break;
	default:
		n = 1 + r[3] % 8;
		for (i = 0; i < n; i++)
			name[i] = (char)('A' + r[4 + i] % 26);
		name[n] = '\0';
		bundle_builder_add_name(bb, r[0] & 8 ? BUNDLE_PROTO : BUNDLE_CATEGORY, name, allow, &m);
	}
}

static void recipe_mode(const uint8_t *data, size_t size, bool delta)
{
	struct bundle_builder *all = bundle_builder_new(), *a = bundle_builder_new();
	struct bundle_info info = { .region = "fuzz", .serial = 2, .created = 10, .expires = 20 };
	struct probe *probes = calloc(size / 20 + 1, sizeof(*probes)), unused;
	struct bundle *ba, *bb, *bd;
	uint8_t *out, *fa, *d;
	size_t out_len, fa_len, d_len, i, flip;

	if (!all || !a || !probes)
		abort();
	/* bit 4 of the op: also in the old bundle; with an odd rule, only there (a removal) */
	for (i = 0; i + 20 <= size; i += 20) {
		if (!(data[i] & 0x10) || !(data[i + 1] & 1))
			add_from(all, data + i, &probes[i / 20]);
		if (data[i] & 0x10)
			add_from(a, data + i, &unused);
	}
	if (bundle_build(all, &info, delta ? (const uint8_t *)priv_pem : NULL, delta ? strlen(priv_pem) : 0,
			 &out, &out_len) != 0 ||
	    bundle_open_mem(out, out_len, &bb) != BUNDLE_OK)
		abort();
	lookups(bb, data, size);
	/* a later entry may have replaced an earlier one's flags: probe the last of each */
	for (i = 0; i < size / 20; i++) {
		size_t j;

		for (j = i + 1; j < size / 20; j++)
			if (probes[j].kind == 'd' && probes[i].kind == 'd' && probes[j].allow == probes[i].allow &&
			    !strcmp(probes[j].name, probes[i].name))
				break;
		if (j == size / 20)
			check_probe(bb, &probes[i]);
	}
	round_trip(bb);
	if (delta) {
		info.serial = 1;
		if (bundle_build(a, &info, NULL, 0, &fa, &fa_len) != 0 ||
		    bundle_open_mem(fa, fa_len, &ba) != BUNDLE_OK ||
		    bundle_diff(ba, bb, NULL, 0, &d, &d_len) != 0 || bundle_open_mem(d, d_len, &bd) != BUNDLE_OK)
			abort();
		{
			uint8_t *res;
			size_t res_len;

			if (bundle_apply_delta(ba, bd, (const uint8_t *)pub_pem, strlen(pub_pem), &res, &res_len) !=
				    BUNDLE_OK ||
			    res_len != out_len || memcmp(res, out, out_len) != 0) {
				fprintf(stderr, "delta applied does not give the full bundle\n");
				abort();
			}
			free(res);
		}
		exercise(d, d_len, data, size);
		/* and a delta with one byte changed, hash recomputed */
		if (size % 20 >= 3) {
			const uint8_t *t = data + size - size % 20;

			d[((size_t)t[1] << 8 | t[0]) % d_len] ^= t[2] ? t[2] : 1;
			fix_hash(d, d_len);
			exercise(d, d_len, data, size);
		}
		bundle_close(bd);
		bundle_close(ba);
		free(d);
		free(fa);
	}
	bundle_close(bb);
	/* one flipped byte, hash recomputed: must be refused or still canonical */
	if (size % 20 >= 3 && out_len) {
		const uint8_t *t = data + size - size % 20;

		flip = ((size_t)t[0] << 8 | t[1]) % out_len;
		out[flip] ^= t[2] ? t[2] : 1;
		fix_hash(out, out_len);
		exercise(out, out_len, data, size);
	}
	free(out);
	free(probes);
	bundle_builder_free(all);
	bundle_builder_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		recipe_mode(data + 1, size - 1, (data[0] & 0x0e) == 0x0e);
	else
		raw_mode(data + 1, size - 1);
	return 0;
}

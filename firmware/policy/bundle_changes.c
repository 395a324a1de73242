/*
 * Blocklist bundles, what changed between two of them (bundle.h,
 * bundle_changes()): the entries of one kind and list that one bundle has
 * and the other has not, or has with another meta (rule, action, expiry,
 * flags), so a swap can re-judge only the flows those entries can reach.
 *
 * Why it looks like this:
 *
 * - Both sections are in canonical order (bundle_open.c checked it), so one
 *   merge pass over the two finds every difference, with no allocation but
 *   a meta index map. Domain sections indexed alike (the usual case: the
 *   index size is a function of the count) go bucket by bucket, a bucket
 *   the same in both passed with one memcmp.
 * - Entries are compared by what a lookup sees (the key, and the meta the
 *   entry resolves to, through a map of one bundle's meta indices onto the
 *   other's), not by bytes: a new rule elsewhere renumbers the metas, and a
 *   new prefix moves every parent link after it, without changing what an
 *   unchanged entry matches.
 * - Domain entries keep only the low bytes of their hash (the top bits are
 *   the bucket's), so the whole hash is rebuilt bucket by bucket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/bundle_priv.h"

/* One entry of a section as a lookup sees it. */
struct change_ent {
	uint64_t hi, lo;         /* IP: the address (hi, lo), domain: the hash (hi), names: 0 */
	const uint8_t *key;      /* names and JA3: the stored key */
	uint32_t plen;           /* IP prefix length */
	uint64_t chk;            /* domain allow list: the check hash */
	uint32_t mi;             /* its meta, an index in its own bundle's meta table */
};

/* Reads entries of one section in canonical order. */
struct change_cur {
	const struct bundle *b;
	const struct bsec *s;
	unsigned tab;
	uint32_t i, t, t_end; /* entry; domains: bucket and the end of its range */
};

static const size_t name_key_bytes[TAB_MAX] = { [TAB_PROTO] = 32, [TAB_CAT] = 32, [TAB_JA3] = 16 };

static bool cur_next(struct change_cur *c, struct change_ent *e)
{
	const struct bsec *s = c->s;

	if (!s || c->i >= s->n)
		return false;
	*e = (struct change_ent){ .key = NULL };
	if (c->tab <= TAB_V6L) {
		struct pfx p;

		ip_get(s, c->tab, false, c->i, &p);
		e->hi = p.hi;
		e->lo = p.lo;
		e->plen = p.plen;
		e->mi = ip_meta(s, c->tab, c->i);
	} else if (c->tab == TAB_DOM) {
		/* the bucket this entry is in: the first whose range ends after it */
		while (s->bits && c->i >= c->t_end) {
			c->t++;
			c->t_end = ld32(s->idx + 4 * ((size_t)c->t + 1));
		}
		e->hi = s->bits ? dom_full(s, c->t, c->i) : dom_stored(s, c->i);
		if (s->chk)
			e->chk = ld64(s->chk + 8 * (size_t)c->i);
		e->mi = ld32(s->meta + 4 * (size_t)c->i);
	} else {
		e->key = s->a + name_key_bytes[c->tab] * (size_t)c->i;
		e->mi = ld32(s->meta + 4 * (size_t)c->i);
	}
	c->i++;
	return true;
}

static void cur_init(struct change_cur *c, const struct bundle *b, unsigned tab, unsigned list)
{
	memset(c, 0, sizeof(*c));
	c->tab = tab;
	if (!b || !b->sec[tab][list].n)
		return;
	c->b = b;
	c->s = &b->sec[tab][list];
	if (tab == TAB_DOM && c->s->bits)
		c->t_end = ld32(c->s->idx + 4); /* end of bucket 0 */
}

/* Canonical order of two entries' keys (the order both sections are in). */
static int ent_cmp(unsigned tab, const struct change_ent *x, const struct change_ent *y)
{
	if (tab <= TAB_V6L) {
		struct pfx a = { .hi = x->hi, .lo = x->lo, .plen = x->plen };
		struct pfx b = { .hi = y->hi, .lo = y->lo, .plen = y->plen };

		return pfx_cmp(&a, &b);
	}
	if (tab == TAB_DOM)
		return x->hi == y->hi ? 0 : x->hi < y->hi ? -1 : 1;
	return memcmp(x->key, y->key, name_key_bytes[tab]);
}

static void change_out(unsigned tab, const struct change_ent *e, struct bundle_change *out)
{
	size_t klen = tab < TAB_MAX ? name_key_bytes[tab] : 0;

	memset(out, 0, sizeof(*out));
	out->hi = e->hi;
	out->lo = e->lo;
	out->plen = (uint8_t)e->plen;
	if (klen && e->key)
		memcpy(out->key, e->key, klen < sizeof(out->key) ? klen : sizeof(out->key));
}

/*
 * remap[i]: the index in b's meta table of the meta a's index i names, or
 * UINT32_MAX where b has no such meta. Both tables are sorted and free of
 * duplicates (bundle_open.c checked it): one merge. NULL when out of memory.
 */
static uint32_t *meta_remap(const struct bundle *a, const struct bundle *b)
{
	uint32_t *remap = malloc(sizeof(*remap) * (a->nmeta ? a->nmeta : 1));
	struct bundle_meta x, y;
	uint32_t i = 0, j = 0;
	int c;

	if (!remap)
		return NULL;
	for (; i < a->nmeta; i++) {
		meta_read(a, i, &x);
		remap[i] = UINT32_MAX;
		for (c = 1; j < b->nmeta; j++) {
			meta_read(b, j, &y);
			c = meta_cmp(&x, &y);
			if (c <= 0)
				break;
		}
		if (j < b->nmeta && c == 0)
			remap[i] = j;
	}
	return remap;
}

/* Every meta of a keeps its index in b: entries that are the same are the same bytes. */
static bool remap_identity(const struct bundle *a, const uint32_t *remap)
{
	for (uint32_t i = 0; i < a->nmeta; i++)
		if (remap[i] != i)
			return false;
	return true;
}

/* The same bytes (with remap_identity()): the same entries. */
static bool sec_same_bytes(unsigned tab, unsigned list, const struct bsec *x, const struct bsec *y)
{
	struct layout l;

	if (x->n != y->n)
		return false;
	if (!x->n)
		return true;
	bundle_layout(tab, list, x->n, &l); /* the section's arrays, from its first byte (a) on */
	return memcmp(x->a, y->a, (size_t)l.len) == 0;
}

/* The same entry in both lists: the same key (compared by the caller), meta and check hash. */
static bool ent_same_meta(const uint32_t *remap, const struct change_ent *x, const struct change_ent *y)
{
	return remap && remap[x->mi] == y->mi && x->chk == y->chk;
}

/*
 * Domain sections indexed alike: bucket by bucket, a bucket whose stored
 * keys, metas and check hashes are the same in both is passed in one
 * memcmp; only the buckets that differ are merged entry by entry.
 */
static size_t dom_changes(const struct bsec *x, const struct bsec *y, const uint32_t *remap,
			  struct bundle_change *out, size_t max)
{
	size_t n = 0, nb = (size_t)1 << x->bits;

	for (size_t t = 0; t < nb; t++) {
		uint32_t i = ld32(x->idx + 4 * t), ie = ld32(x->idx + 4 * (t + 1));
		uint32_t j = ld32(y->idx + 4 * t), je = ld32(y->idx + 4 * (t + 1));
		bool same = ie - i == je - j &&
			    memcmp(x->a + (size_t)x->kw * i, y->a + (size_t)y->kw * j, (size_t)x->kw * (ie - i)) == 0 &&
			    (!x->chk || memcmp(x->chk + 8 * (size_t)i, y->chk + 8 * (size_t)j, 8 * (size_t)(ie - i)) == 0);

		for (uint32_t k = 0; same && k < ie - i; k++)
			same = remap[ld32(x->meta + 4 * ((size_t)i + k))] == ld32(y->meta + 4 * ((size_t)j + k));
		while (!same && (i < ie || j < je)) {
			uint64_t hx = i < ie ? dom_full(x, (unsigned)t, i) : UINT64_MAX;
			uint64_t hy = j < je ? dom_full(y, (unsigned)t, j) : UINT64_MAX;
			int c = i == ie ? 1 : j == je ? -1 : hx < hy ? -1 : hx > hy;

			if (c == 0 && remap[ld32(x->meta + 4 * (size_t)i)] == ld32(y->meta + 4 * (size_t)j) &&
			    (!x->chk || ld64(x->chk + 8 * (size_t)i) == ld64(y->chk + 8 * (size_t)j))) {
				i++;
				j++;
				continue;
			}
			if (n == max)
				return max + 1;
			memset(&out[n], 0, sizeof(out[n]));
			out[n++].hi = c <= 0 ? hx : hy;
			if (c <= 0)
				i++;
			if (c >= 0)
				j++;
		}
	}
	return n;
}

static unsigned kind_tab(enum bundle_kind kind, unsigned part)
{
	switch (kind) {
	case BUNDLE_IPV4:
		return TAB_V4;
	case BUNDLE_IPV6:
		return part ? TAB_V6L : TAB_V6S;
	case BUNDLE_DOMAIN:
		return TAB_DOM;
	case BUNDLE_PROTO:
		return TAB_PROTO;
	case BUNDLE_CATEGORY:
		return TAB_CAT;
	default:
		return TAB_JA3;
	}
}

long bundle_changes(const struct bundle *a, const struct bundle *b, enum bundle_kind kind, bool allow,
		    struct bundle_change *out, size_t max)
{
	unsigned list = allow ? LIST_ALLOW : 0;
	uint32_t *remap = NULL;
	bool same_metas = false;
	size_t n = 0;

	if ((unsigned)kind >= BUNDLE_KIND_MAX || (a && a->delta) || (b && b->delta))
		return -EINVAL;
	if (a && b && !(remap = meta_remap(a, b)))
		return -ENOMEM;
	same_metas = remap && remap_identity(a, remap);
	for (unsigned part = 0; part < (kind == BUNDLE_IPV6 ? 2u : 1u); part++) {
		unsigned tab = kind_tab(kind, part);
		const struct bsec *x = a ? &a->sec[tab][list] : NULL, *y = b ? &b->sec[tab][list] : NULL;
		struct change_cur ca, cb;
		struct change_ent ea, eb;
		bool ha, hb;

		if (same_metas && sec_same_bytes(tab, list, x, y))
			continue;
		if (tab == TAB_DOM && x && y && x->n && y->n && x->bits && x->bits == y->bits) {
			n += dom_changes(x, y, remap, out + n, max - n);
			if (n > max)
				break;
			continue;
		}
		cur_init(&ca, a, tab, list);
		cur_init(&cb, b, tab, list);
		ha = cur_next(&ca, &ea);
		hb = cur_next(&cb, &eb);
		while (ha || hb) {
			int c = !ha ? 1 : !hb ? -1 : ent_cmp(tab, &ea, &eb);

			if (c == 0 && ent_same_meta(remap, &ea, &eb)) {
				ha = cur_next(&ca, &ea);
				hb = cur_next(&cb, &eb);
				continue;
			}
			if (n == max) {
				n = max + 1;
				goto out;
			}
			change_out(tab, c <= 0 ? &ea : &eb, &out[n++]);
			/* the same key with another meta is one change */
			if (c <= 0)
				ha = cur_next(&ca, &ea);
			if (c >= 0)
				hb = cur_next(&cb, &eb);
		}
	}
out:
	free(remap);
	return (long)n;
}

/*
 * Blocklist bundles, lookups: the in-place matchers the policy calls for
 * every new flow's addresses, name and JA3 (bundle.h, "lookups").
 *
 * Why they look like this:
 *
 * - Lookups read the file in place: a sorted array per list, with a small
 *   table on the top bits of the key so a binary search covers ~8-16
 *   entries, i.e. a couple of cache misses per probe. The validator
 *   (bundle_open.c) has checked every offset they follow, so they do no
 *   bounds checks of their own.
 * - Prefixes are nested or disjoint, so each one records its nearest
 *   enclosing prefix (parent) at build time: the longest match is the last
 *   prefix starting at or before the address, or one of its ancestors.
 * - A name is hashed once per suffix, the suffixes of one name in a batch
 *   whose index slots are prefetched together (see DOM_BATCH).
 * - A big domain list has a filter in RAM (bundle_priv.h, dom_filter_*):
 *   most suffixes of most names are no entry, and the filter's one word
 *   says so without touching the mapped list, whose index and buckets are
 *   cache misses once the flow table has been through the caches.
 */
#include <string.h>

#include "core/siphash.h"
#include "policy/bundle_priv.h"

/*
 * Every cache line of [from, to), at most 8: a bucket is 8-16 records, and
 * its binary search reads 2-4 of them, each a cache miss that waits for the
 * one before. Asked for at once, they arrive together.
 */
static inline void prefetch_range(const uint8_t *from, const uint8_t *to)
{
	const uintptr_t line = 64;
	uintptr_t a = (uintptr_t)from & ~(line - 1);

	for (unsigned i = 0; i < 8 && a < (uintptr_t)to; i++, a += line)
		__builtin_prefetch((const void *)a);
}

static void match_fill(const struct bundle *b, uint32_t mi, struct bundle_match *m)
{
	memset(m, 0, sizeof(*m));
	meta_read(b, mi, &m->meta);
}

/*
 * Longest match in one IP table: the last prefix starting at or before the
 * address is the most specific candidate; every prefix covering the address
 * is it or one of its ancestors (prefixes are nested or disjoint), so walk
 * the parent links (validated to point backwards: the walk ends).
 */
static bool ip_lookup(const struct bundle *b, unsigned tab, bool allow, uint64_t hi, uint64_t lo,
		      uint64_t now_s, struct pfx *found, uint32_t *mi)
{
	const struct bsec *s = &b->sec[tab][allow ? LIST_ALLOW : 0];
	uint32_t l, h, mid, i;
	struct bundle_meta meta;
	struct pfx p;

	if (!s->n)
		return false;
	bucket(s, hi, &l, &h);
	prefetch_range(s->a + (size_t)l * s->esize, s->a + (size_t)h * s->esize);
	while (l < h) {
		mid = l + (h - l) / 2;
		ip_get(s, tab, false, mid, &p);
		if (p.hi < hi || (p.hi == hi && p.lo <= lo))
			l = mid + 1;
		else
			h = mid;
	}
	for (i = l - 1; l && i != NO_PARENT; i = ip_parent(s, tab, i)) {
		ip_get(s, tab, false, i, &p);
		if (!pfx_covers(&p, hi, lo))
			continue;
		*mi = ip_meta(s, tab, i);
		meta_read(b, *mi, &meta);
		if (meta_live(&meta, now_s)) {
			*found = p;
			return true;
		}
	}
	return false;
}

bool bundle_lookup_ipv4(const struct bundle *b, const uint8_t addr[4], uint64_t now_s, bool allow,
			struct bundle_match *m)
{
	uint64_t hi = (uint64_t)addr[0] << 56 | (uint64_t)addr[1] << 48 | (uint64_t)addr[2] << 40 |
		      (uint64_t)addr[3] << 32;
	struct pfx p;
	uint32_t mi;

	if (!ip_lookup(b, TAB_V4, allow, hi, 0, now_s, &p, &mi))
		return false;
	match_fill(b, mi, m);
	m->prefix_len = (uint8_t)p.plen;
	stbe64(m->addr, p.hi);
	memset(m->addr + 4, 0, 4);
	return true;
}

bool bundle_lookup_ipv6(const struct bundle *b, const uint8_t addr[16], uint64_t now_s, bool allow,
			struct bundle_match *m)
{
	uint64_t hi = ldbe64(addr), lo = ldbe64(addr + 8);
	struct pfx p;
	uint32_t mi;

	if (!ip_lookup(b, TAB_V6L, allow, hi, lo, now_s, &p, &mi) &&
	    !ip_lookup(b, TAB_V6S, allow, hi, lo, now_s, &p, &mi))
		return false;
	match_fill(b, mi, m);
	m->prefix_len = (uint8_t)p.plen;
	stbe64(m->addr, p.hi);
	stbe64(m->addr + 8, p.lo);
	return true;
}

static void prefetch_ip_tab(const struct bundle *b, unsigned tab, uint64_t hi, int step)
{
	for (unsigned list = 0; list <= LIST_ALLOW; list++) {
		const struct bsec *s = &b->sec[tab][list];
		uint32_t l, h;

		if (!s->n)
			continue;
		if (step == 0) {
			__builtin_prefetch(s->idx + 4 * (size_t)top_bits(hi, s->bits));
			continue;
		}
		bucket(s, hi, &l, &h);
		prefetch_range(s->a + (size_t)l * s->esize, s->a + (size_t)h * s->esize);
	}
}

void bundle_prefetch_ip(const struct bundle *b, uint8_t ip_version, const uint8_t *addr, int step)
{
	if (ip_version == 4) {
		prefetch_ip_tab(b, TAB_V4, (uint64_t)ldbe32(addr) << 32, step);
	} else {
		prefetch_ip_tab(b, TAB_V6L, ldbe64(addr), step);
		prefetch_ip_tab(b, TAB_V6S, ldbe64(addr), step);
	}
}

/* Binary search of the stored bytes `low` of a hash among entries [l, r) (its bucket). */
static bool dom_find(const struct bsec *s, uint64_t low, uint32_t l, uint32_t r, uint32_t *at)
{
	uint32_t mid;
	uint64_t v;

	while (l < r) {
		mid = l + (r - l) / 2;
		v = dom_stored(s, mid);
		if (v == low) {
			*at = mid;
			return true;
		}
		if (v < low)
			l = mid + 1;
		else
			r = mid;
	}
	return false;
}

/*
 * Suffixes of a name probed together: their hashes are computed and their
 * index slots and buckets prefetched before any is searched, so the cache
 * misses of the 3-4 suffixes of a typical name overlap instead of adding up
 * (about twice the lookups per second on a million domains).
 */
#define DOM_BATCH 8

/*
 * Names are matched leniently (any bytes, empty labels, long labels): an
 * entry is a valid name, so a malformed query can only match through a
 * valid parent suffix, never evade one. Only the last BUNDLE_NAME_MAX
 * bytes can hold a suffix that is an entry.
 */
bool bundle_lookup_domain(const struct bundle *b, const char *name, size_t len, uint64_t now_s,
			  bool allow, struct bundle_match *m)
{
	const struct bsec *s = &b->sec[TAB_DOM][allow ? LIST_ALLOW : 0];
	uint32_t at, mi, lo[DOM_BATCH], hi[DOM_BATCH];
	size_t start, n, pos, i, off[DOM_BATCH];
	char buf[BUNDLE_NAME_MAX];
	uint64_t h[DOM_BATCH];
	struct bundle_meta meta;
	unsigned k, j;
	const char *dot;

	if (!s->n || !name)
		return false;
	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > UINT16_MAX)
		return false;
	start = len > BUNDLE_NAME_MAX ? len - BUNDLE_NAME_MAX : 0;
	if (start && name[start - 1] != '.') {
		dot = memchr(name + start, '.', len - start);
		if (!dot)
			return false;
		start = (size_t)(dot - name) + 1;
	}
	n = len - start;
	for (i = 0; i < n; i++)
		buf[i] = bundle_lower(name[start + i]);
	for (pos = 0; pos < n;) {
		/* the next suffixes, most specific first */
		for (k = 0; k < DOM_BATCH && pos < n; k++) {
			off[k] = pos;
			h[k] = siphash24(bundle_domain_key, buf + pos, n - pos);
			__builtin_prefetch(s->filt ? (const void *)dom_filter_word(s, h[k])
						   : (const void *)(s->idx + 4 * (size_t)top_bits(h[k], s->bits)));
			dot = memchr(buf + pos, '.', n - pos);
			pos = dot ? (size_t)(dot - buf) + 1 : n;
		}
		for (j = 0; j < k; j++) {
			/* a suffix the filter rules out is no entry: its bucket is never read */
			if (!dom_filter_may(s, h[j])) {
				lo[j] = hi[j] = 0;
				continue;
			}
			bucket(s, h[j], &lo[j], &hi[j]);
			prefetch_range(s->a + (size_t)s->kw * lo[j], s->a + (size_t)s->kw * hi[j]);
			if (s->filt) /* past the filter, most suffixes are entries: their metas next */
				prefetch_range(s->meta + 4 * (size_t)lo[j], s->meta + 4 * (size_t)hi[j]);
		}
		for (j = 0; j < k; j++) {
			if (!dom_find(s, h[j] & dom_low_mask(s->kw), lo[j], hi[j], &at))
				continue;
			mi = ld32(s->meta + 4 * (size_t)at);
			meta_read(b, mi, &meta);
			if ((!(meta.flags & BUNDLE_F_EXACT) || start + off[j] == 0) && meta_live(&meta, now_s) &&
			    (!allow || ld64(s->chk + 8 * (size_t)at) ==
					       siphash24(bundle_check_key, buf + off[j], n - off[j]))) {
				match_fill(b, mi, m);
				m->name_off = (uint16_t)(start + off[j]);
				return true;
			}
		}
	}
	return false;
}

bool bundle_lookup_ja3(const struct bundle *b, const uint8_t md5[16], uint64_t now_s, bool allow,
		       struct bundle_match *m)
{
	const struct bsec *s = &b->sec[TAB_JA3][allow ? LIST_ALLOW : 0];
	struct bundle_meta meta;
	uint32_t l = 0, r = s->n, mid, mi;
	int c;

	while (l < r) {
		mid = l + (r - l) / 2;
		c = memcmp(s->a + 16 * (size_t)mid, md5, 16);
		if (c == 0) {
			mi = ld32(s->meta + 4 * (size_t)mid);
			meta_read(b, mi, &meta);
			if (!meta_live(&meta, now_s))
				return false;
			match_fill(b, mi, m);
			return true;
		}
		if (c < 0)
			l = mid + 1;
		else
			r = mid;
	}
	return false;
}

void bundle_foreach_name(const struct bundle *b, enum bundle_kind kind, bundle_name_fn fn, void *ctx)
{
	unsigned tab = kind == BUNDLE_PROTO ? TAB_PROTO : TAB_CAT, list;
	struct bundle_meta meta;
	char name[33];
	uint32_t i;

	if (kind != BUNDLE_PROTO && kind != BUNDLE_CATEGORY)
		return;
	for (list = 0; list <= LIST_ALLOW; list++) {
		const struct bsec *s = &b->sec[tab][list];

		for (i = 0; i < s->n; i++) {
			memcpy(name, s->a + 32 * (size_t)i, 32);
			name[32] = '\0';
			meta_read(b, ld32(s->meta + 4 * (size_t)i), &meta);
			fn(name, &meta, list == LIST_ALLOW, ctx);
		}
	}
}

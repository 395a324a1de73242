/*
 * What a bundle swap changed (policy_changes.h), and whether it can reach
 * a flow.
 *
 * Why it looks like this: the changed domain entries are their 64-bit
 * hashes, sorted, so a flow's name costs one SipHash and one binary search
 * of a few KB per suffix, never a cache miss in the million-entry list;
 * changed IPv4 prefixes are intervals sorted by their first address, each
 * with the greatest last address of any up to it, so "is this address in
 * one of them" is one binary search too (prefixes nest, so a plain sort by
 * start would not do).
 */
#include <stdlib.h>
#include <string.h>

#include "packet/dpi.h"
#include "policy/policy_changes.h"

/*
 * The changed domain hashes as a set: open addressing on the low bits of
 * the hash (a SipHash: spread evenly), at most half full, so a name's
 * suffix costs one or two probes of a 16 KB table.
 */
#define DOM_MASK (2 * POLICY_CHANGES_MAX - 1)

static void policy_dom_add(struct policy_changes *c, uint64_t h)
{
	size_t i = h & DOM_MASK;

	if (!h) {
		c->dom_zero = true;
		return;
	}
	while (c->dom[i] && c->dom[i] != h)
		i = (i + 1) & DOM_MASK;
	c->dom[i] = h;
}

static bool policy_dom_has(const struct policy_changes *c, uint64_t h)
{
	size_t i = h & DOM_MASK;

	if (!h)
		return c->dom_zero;
	for (; c->dom[i]; i = (i + 1) & DOM_MASK)
		if (c->dom[i] == h)
			return true;
	return false;
}

static int policy_v4_cmp(const void *x, const void *y)
{
	const uint32_t *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1];
}

/* The changed entries of one kind (block and allow list) into buf; false past max. */
static bool policy_kind_changes(const struct bundle *old, const struct bundle *b, enum bundle_kind k,
				struct bundle_change *buf, size_t max, size_t *n)
{
	*n = 0;
	for (int allow = 0; allow < 2; allow++) {
		long got = bundle_changes(old, b, k, allow, buf + *n, max - *n);

		if (got < 0 || (size_t)got > max - *n)
			return false;
		*n += (size_t)got;
	}
	return true;
}

/*
 * What changed from old to b, kept for policy_rejudge(). A walk under the
 * last changes that did not end leaves flows judged by an older list than
 * old: every flow is judged again then, as with no old list.
 */
void policy_changes_note(struct policy_changes *c, const struct bundle *old, const struct bundle *b)
{
	struct bundle_change *buf = NULL;
	uint32_t (*v4)[2] = NULL;
	size_t n, i;

	c->all = c->open || !old || !b;
	c->open = true;
	c->ipv6 = c->classes = false;
	c->n_dom = c->n_v4 = 0;
	if (c->all)
		return;
	buf = malloc(sizeof(*buf) * POLICY_CHANGES_MAX);
	v4 = malloc(sizeof(*v4) * POLICY_CHANGES_MAX);
	if (!buf || !v4)
		goto all;
	for (enum bundle_kind k = BUNDLE_IPV6; k < BUNDLE_KIND_MAX; k++) {
		if (k == BUNDLE_DOMAIN)
			continue;
		if (!policy_kind_changes(old, b, k, buf, 1, &n))
			goto all; /* more than a few: no point in keeping them */
		if (n && k == BUNDLE_IPV6)
			c->ipv6 = true;
		else if (n)
			c->classes = true;
	}
	if (!policy_kind_changes(old, b, BUNDLE_DOMAIN, buf, POLICY_CHANGES_MAX, &n))
		goto all;
	memset(c->dom, 0, sizeof(c->dom));
	c->dom_zero = false;
	for (i = 0; i < n; i++)
		policy_dom_add(c, buf[i].hi);
	c->n_dom = (uint32_t)n;
	if (!policy_kind_changes(old, b, BUNDLE_IPV4, buf, POLICY_CHANGES_MAX, &n))
		goto all;
	for (i = 0; i < n; i++) {
		v4[i][0] = (uint32_t)(buf[i].hi >> 32);
		v4[i][1] = buf[i].plen >= 32 ? v4[i][0] : v4[i][0] | (UINT32_MAX >> buf[i].plen);
	}
	qsort(v4, n, sizeof(v4[0]), policy_v4_cmp);
	memset(c->v4_16, 0, sizeof(c->v4_16));
	for (i = 0; i < n; i++)
		for (uint32_t s16 = v4[i][0] >> 16; s16 <= v4[i][1] >> 16; s16++)
			c->v4_16[s16 / 64] |= 1ull << (s16 % 64);
	for (i = 0; i < n; i++) {
		c->v4_lo[i] = v4[i][0];
		c->v4_hi_max[i] = i && c->v4_hi_max[i - 1] > v4[i][1] ? c->v4_hi_max[i - 1] : v4[i][1];
	}
	c->n_v4 = (uint32_t)n;
	free(buf);
	free(v4);
	return;
all:
	free(buf);
	free(v4);
	c->all = true;
}

/* Is an IPv4 address in a changed prefix? */
static bool policy_v4_changed(const struct policy_changes *c, const union ip_addr *a)
{
	uint32_t v = (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 | a->b[3];
	uint32_t l = 0, h = c->n_v4, mid;

	if (!(c->v4_16[v >> 22] & (1ull << ((v >> 16) % 64))))
		return false; /* no changed prefix in its /16: most addresses, one load */
	while (l < h) { /* the first prefix starting after v */
		mid = l + (h - l) / 2;
		if (c->v4_lo[mid] <= v)
			l = mid + 1;
		else
			h = mid;
	}
	return l && c->v4_hi_max[l - 1] >= v;
}

/*
 * Is the name, or a parent domain of it, a changed entry? The name as a
 * lookup takes it: ASCII lower case, no trailing dot; a name too long to be
 * looked up (policy_name_is()) is never matched, changed or not.
 */
static bool policy_name_changed(const struct policy_changes *c, const char *name)
{
	size_t len, pos = 0;
	const char *dot;

	if (!c->n_dom || !name)
		return false;
	len = strnlen(name, BUNDLE_NAME_MAX + 1);
	if (len > BUNDLE_NAME_MAX)
		return false;
	/* bundle_domain_hash() lower-cases and drops the trailing dot, as lookups do */
	while (pos < len) {
		if (policy_dom_has(c, bundle_domain_hash(name + pos, len - pos)))
			return true;
		dot = memchr(name + pos, '.', len - pos);
		pos = dot ? (size_t)(dot - name) + 1 : len;
	}
	return false;
}

/*
 * Can the entries the swap changed reach f? Its addresses, and every name
 * its judgement looks up: the one it shows, the names its ends are bound
 * to, the listed name the one it shows is a proved alias of. A flow they
 * cannot reach would be judged as before: it keeps its verdict.
 */
bool policy_changes_reach(const struct policy_changes *c, const struct flow *f, struct dnsbind *bindings,
			  uint64_t now_ms)
{
	const union ip_addr *ends[2] = { &f->key.a, &f->key.b };
	const char *host = NULL, *alias;
	struct dnsbind_stats bs;

	if (c->all || (c->classes && (f->flags & FLOW_F_DECIDED)))
		return true;
	if (f->key.ip_version == 4 ? policy_v4_changed(c, ends[0]) || policy_v4_changed(c, ends[1])
				   : c->ipv6)
		return true;
	if (!c->n_dom)
		return false;
	if (dpi_host(f, &host) != DPI_HOST_NONE && policy_name_changed(c, host))
		return true;
	dnsbind_get_stats(bindings, &bs);
	if (!bs.active && !bs.aliases)
		return false; /* no binding and no alias to look up */
	for (int i = 0; i < 2; i++)
		if (policy_name_changed(c, dnsbind_lookup(bindings, f->key.ip_version, ends[i], now_ms)))
			return true;
	if (host && *host) {
		char norm[BUNDLE_NAME_MAX + 2];
		size_t len = 0;

		for (; len <= BUNDLE_NAME_MAX && host[len]; len++)
			norm[len] = (char)(host[len] >= 'A' && host[len] <= 'Z' ? host[len] + 32 : host[len]);
		if (len <= BUNDLE_NAME_MAX) {
			if (len && norm[len - 1] == '.')
				len--;
			norm[len] = '\0';
			alias = dnsbind_alias_lookup(bindings, norm, f->last_ms);
			if (policy_name_changed(c, alias))
				return true;
		}
	}
	return false;
}


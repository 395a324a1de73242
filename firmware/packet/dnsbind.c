/*
 * DNS bindings: one fixed array of entries, a bucket array of indices, and a
 * binary min-heap of entry indices ordered by expiry. See dnsbind.h for the
 * contract.
 *
 * Why it is built this way:
 *
 * - Nothing is allocated after dnsbind_new(). Entries are one calloc'd array
 *   handed out from a high-water mark and then from a free list threaded
 *   through hnext, as in the flow table, so untouched entries cost no RSS.
 * - Buckets are a power of two >= capacity (load factor <= 1), chained by
 *   "index + 1" (0 = none). The bucket is SipHash-2-4 (siphash24) of the
 *   family and address under a random key: DNS answers come from whoever
 *   runs a domain, and a known hash would let them aim every address they
 *   answer with at one chain.
 * - The heap answers both questions an add asks: which bindings have
 *   expired (all at its top: reclaimed before every add, O(log n) each, so
 *   a dead binding never forces out a live one) and which live binding is
 *   closest to expiry when the table is full (its root). Each entry knows
 *   its heap position, so a rebind or a lazy removal at lookup is also
 *   O(log n). Ties in expiry go to the lower sequence number (bound or
 *   rebound first), so replacement is deterministic.
 *
 * Time comes from the caller and may go backwards (replay of unordered
 * captures); that only delays expiry, since a binding expires once now is
 * past its expiry, whatever happened in between.
 *
 * The hash key comes from siphash_random_key() (flow.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/siphash.h"
#include "packet/dnsbind.h"
#include "packet/flow.h"

_Static_assert(CONFIG_DNS_BINDING_TTL_MIN <= CONFIG_DNS_BINDING_TTL_MAX,
	       "CONFIG_DNS_BINDING_TTL_MIN exceeds CONFIG_DNS_BINDING_TTL_MAX");
_Static_assert(CONFIG_DNS_BINDINGS <= DNSBIND_MAX_CAPACITY, "CONFIG_DNS_BINDINGS too large");

struct dnsbind_entry {
	union ip_addr addr;      /* IPv4: first 4 bytes, rest zero */
	uint64_t expires_ms;     /* alive while now <= expires_ms */
	uint64_t seq;            /* when bound or rebound: breaks ties in expiry */
	uint32_t hnext;          /* bucket chain, or free list: index + 1, 0 ends */
	uint32_t heap_pos;
	uint8_t family;
	char name[DNS_NAME_MAX + 1];
};

/* The per-entry size dnsbind.h and the DNS_BINDINGS help text quote. */
_Static_assert(sizeof(struct dnsbind_entry) <= 296, "dnsbind entry grew: update the docs");

struct dnsbind {
	struct dnsbind_entry *e;
	uint32_t *buckets;       /* index + 1 of the chain head, 0 = empty */
	uint32_t *heap;          /* entry indices; heap[0] expires first */
	uint32_t mask;           /* bucket count - 1 */
	uint32_t capacity;
	uint32_t used;           /* entries [0, used) were handed out at least once */
	uint32_t free_head;      /* index + 1 */
	uint64_t seq;
	struct dnsbind_stats st; /* st.active is the heap's size */
	uint8_t key[16];
};

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16; /* IPv6 and alias keys: 16 */
}

static uint32_t bucket_of(const struct dnsbind *t, uint8_t family, const union ip_addr *addr)
{
	uint8_t k[17];

	k[0] = family;
	memcpy(k + 1, addr->b, addr_len(family));
	return (uint32_t)siphash24(t->key, k, 1 + addr_len(family)) & t->mask;
}

/* ---------------------------------------------------------------- heap */

static bool before(const struct dnsbind *t, uint32_t a, uint32_t b)
{
	const struct dnsbind_entry *x = &t->e[a], *y = &t->e[b];

	return x->expires_ms < y->expires_ms || (x->expires_ms == y->expires_ms && x->seq < y->seq);
}

static void heap_put(struct dnsbind *t, uint32_t pos, uint32_t idx)
{
	t->heap[pos] = idx;
	t->e[idx].heap_pos = pos;
}

/* Move the entry at pos up or down until its parent is before it and it is before its children. */
static void heap_fix(struct dnsbind *t, uint32_t pos)
{
	uint32_t idx = t->heap[pos], n = t->st.active, parent, child;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (!before(t, idx, t->heap[parent]))
			break;
		heap_put(t, pos, t->heap[parent]);
		pos = parent;
	}
	for (;;) {
		child = 2 * pos + 1;
		if (child >= n)
			break;
		if (child + 1 < n && before(t, t->heap[child + 1], t->heap[child]))
			child++;
		if (!before(t, t->heap[child], idx))
			break;
		heap_put(t, pos, t->heap[child]);
		pos = child;
	}
	heap_put(t, pos, idx);
}

/* ---------------------------------------------------------------- entries */

/* Index + 1 of the entry for (family, addr) in its bucket, 0 if none; *bucket is set. */
static uint32_t find(const struct dnsbind *t, uint8_t family, const union ip_addr *addr,
		     uint32_t *bucket)
{
	uint32_t ref;
	const struct dnsbind_entry *e;

	*bucket = bucket_of(t, family, addr);
	for (ref = t->buckets[*bucket]; ref; ref = e->hnext) {
		e = &t->e[ref - 1];
		if (e->family == family && memcmp(e->addr.b, addr->b, addr_len(family)) == 0)
			return ref;
	}
	return 0;
}

/* Unlink entry idx from its bucket and the heap and put it on the free list. */
static void drop(struct dnsbind *t, uint32_t idx)
{
	struct dnsbind_entry *e = &t->e[idx];
	uint32_t *link = &t->buckets[bucket_of(t, e->family, &e->addr)];
	uint32_t pos = e->heap_pos, last;

	while (*link != idx + 1)
		link = &t->e[*link - 1].hnext;
	*link = e->hnext;

	last = t->heap[--t->st.active];
	if (pos < t->st.active) {
		heap_put(t, pos, last);
		heap_fix(t, pos);
	}
	e->hnext = t->free_head;
	t->free_head = idx + 1;
}

/* Drop every binding that has expired at now. */
static void reclaim(struct dnsbind *t, uint64_t now_ms)
{
	while (t->st.active && t->e[t->heap[0]].expires_ms < now_ms) {
		drop(t, t->heap[0]);
		t->st.expired++;
	}
}

static uint64_t expiry(uint32_t ttl_s, uint64_t now_ms)
{
	uint64_t ttl_ms;

	if (ttl_s < CONFIG_DNS_BINDING_TTL_MIN)
		ttl_s = CONFIG_DNS_BINDING_TTL_MIN;
	if (ttl_s > CONFIG_DNS_BINDING_TTL_MAX)
		ttl_s = CONFIG_DNS_BINDING_TTL_MAX;
	ttl_ms = (uint64_t)ttl_s * 1000;
	return now_ms > UINT64_MAX - ttl_ms ? UINT64_MAX : now_ms + ttl_ms;
}

/* ---------------------------------------------------------------- API */

struct dnsbind *dnsbind_new(uint32_t capacity)
{
	struct dnsbind *t;
	uint32_t nbuckets = 1;

	if (!capacity)
		capacity = CONFIG_DNS_BINDINGS;
	if (capacity > DNSBIND_MAX_CAPACITY) {
		errno = EINVAL;
		return NULL;
	}
	while (nbuckets < capacity)
		nbuckets <<= 1;

	t = calloc(1, sizeof(*t));
	if (!t)
		goto err_table;
	t->e = calloc(capacity, sizeof(*t->e));
	if (!t->e)
		goto err_entries;
	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		goto err_buckets;
	t->heap = calloc(capacity, sizeof(*t->heap));
	if (!t->heap)
		goto err_heap;

	t->mask = nbuckets - 1;
	t->capacity = capacity;
	t->st.capacity = capacity;
	siphash_random_key(t->key, "townguard dnsbind key");
	return t;

err_heap:
	free(t->buckets);
err_buckets:
	free(t->e);
err_entries:
	free(t);
err_table:
	errno = ENOMEM;
	return NULL;
}

void dnsbind_free(struct dnsbind *t)
{
	if (!t)
		return;
	free(t->heap);
	free(t->buckets);
	free(t->e);
	free(t);
}

/*
 * Aliases share the table with the addresses: an alias is keyed by a
 * 128-bit SipHash of its name (two keys derived from the table's), stored
 * where an IPv6 address would be under a family of its own, so it takes
 * part in the same expiry, heap and replacement. Two names colliding in 128
 * keyed bits is not a concern.
 */
#define DNSBIND_ALIAS 0xa5

static void alias_key(const struct dnsbind *t, const char *alias, size_t len, union ip_addr *k)
{
	uint8_t key2[16];
	uint64_t h[2];

	memcpy(key2, t->key, sizeof(key2));
	key2[0] ^= 0x01;
	h[0] = siphash24(t->key, alias, len);
	h[1] = siphash24(key2, alias, len);
	memcpy(k->b, h, sizeof(k->b));
}

static void add(struct dnsbind *t, uint8_t family, const union ip_addr *addr, const char *name,
		size_t len, uint32_t ttl_s, uint64_t now_ms)
{
	struct dnsbind_entry *e;
	uint32_t bucket, ref, idx;

	reclaim(t, now_ms);

	ref = find(t, family, addr, &bucket);
	if (ref) {
		e = &t->e[ref - 1];
		t->st.updated++;
	} else {
		if (t->st.active == t->capacity) {
			drop(t, t->heap[0]);
			t->st.replaced_full++;
		}
		if (t->free_head) {
			idx = t->free_head - 1;
			t->free_head = t->e[idx].hnext;
		} else {
			idx = t->used++;
		}
		e = &t->e[idx];
		e->family = family;
		memset(&e->addr, 0, sizeof(e->addr));
		memcpy(e->addr.b, addr->b, addr_len(family));
		e->hnext = t->buckets[bucket];
		t->buckets[bucket] = idx + 1;
		e->heap_pos = t->st.active++;
		t->heap[e->heap_pos] = idx;
		t->st.added++;
	}
	memcpy(e->name, name, len + 1);
	e->expires_ms = expiry(ttl_s, now_ms);
	e->seq = ++t->seq;
	heap_fix(t, e->heap_pos);
}

void dnsbind_add(struct dnsbind *t, uint8_t family, const union ip_addr *addr, const char *name,
		 uint32_t ttl_s, uint64_t now_ms)
{
	size_t len;

	if ((family != 4 && family != 6) || !name ||
	    (len = strnlen(name, DNS_NAME_MAX + 1)) > DNS_NAME_MAX) {
		t->st.refused++;
		return;
	}
	add(t, family, addr, name, len, ttl_s, now_ms);
}

void dnsbind_alias_add(struct dnsbind *t, const char *alias, const char *name, uint32_t ttl_s,
		       uint64_t now_ms)
{
	union ip_addr k;
	size_t alen, len;

	if (!alias || !name || (alen = strnlen(alias, DNS_NAME_MAX + 1)) > DNS_NAME_MAX ||
	    (len = strnlen(name, DNS_NAME_MAX + 1)) > DNS_NAME_MAX) {
		t->st.refused++;
		return;
	}
	alias_key(t, alias, alen, &k);
	add(t, DNSBIND_ALIAS, &k, name, len, ttl_s, now_ms);
	t->st.aliases++;
}

/* The live entry of (family, addr) at now_ms, or NULL (an expired one is dropped). */
static const char *lookup(struct dnsbind *t, uint8_t family, const union ip_addr *addr,
			  uint64_t now_ms)
{
	uint32_t bucket, ref = find(t, family, addr, &bucket);

	if (ref && t->e[ref - 1].expires_ms < now_ms) {
		drop(t, ref - 1);
		t->st.expired++;
		ref = 0;
	}
	if (!ref) {
		t->st.misses++;
		return NULL;
	}
	t->st.hits++;
	return t->e[ref - 1].name;
}

const char *dnsbind_lookup(struct dnsbind *t, uint8_t family, const union ip_addr *addr,
			   uint64_t now_ms)
{
	if (family != 4 && family != 6) {
		t->st.misses++;
		return NULL;
	}
	return lookup(t, family, addr, now_ms);
}

const char *dnsbind_alias_lookup(struct dnsbind *t, const char *alias, uint64_t now_ms)
{
	union ip_addr k;
	size_t len = strnlen(alias, DNS_NAME_MAX + 1);

	if (len > DNS_NAME_MAX) {
		t->st.misses++;
		return NULL;
	}
	alias_key(t, alias, len, &k);
	return lookup(t, DNSBIND_ALIAS, &k, now_ms);
}

void dnsbind_clear(struct dnsbind *t)
{
	memset(t->buckets, 0, ((size_t)t->mask + 1) * sizeof(*t->buckets));
	t->used = 0;
	t->free_head = 0;
	t->st.active = 0;
}

void dnsbind_get_stats(const struct dnsbind *t, struct dnsbind_stats *st)
{
	*st = t->st;
}

/*
 * Blocklist bundles, the builder: an in-memory set of entries the hub fills
 * from its feeds, and that the gateway fills from the bundle in force to
 * apply a delta (bundle.h, "building"). The encoder (bundle_encode.c) turns
 * it into a file.
 *
 * Why it is built this way:
 *
 * - One open-addressing hash table per (kind, list), keyed by the entry's
 *   canonical key, so "last wins" is one probe per added entry; metas (rule,
 *   expiry, action, flags) are interned once and shared by id.
 * - The table hash is SipHash under a random per-builder key: a hostile feed
 *   cannot aim its keys at one slot chain. (The key a domain is stored under
 *   in the file is a different, fixed one: bundle_format.c.)
 * - Removed entries stay in place marked DEAD, so a delta's removals and
 *   re-additions never move an element.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/siphash.h"
#include "policy/bundle_priv.h"

/* The bucket of domain entry i of a section: the last t with index[t] <= i. */
static unsigned dom_bucket_of(const struct bsec *s, uint32_t i)
{
	unsigned lo = 0, hi = 1u << s->bits, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (ld32(s->idx + 4 * (size_t)mid) <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}


struct bundle_builder *bundle_builder_new(void)
{
	struct bundle_builder *bb = calloc(1, sizeof(*bb));
	uint64_t seed[2];

	if (!bb)
		return NULL;
	if (getrandom(bb->hkey, sizeof(bb->hkey), GRND_NONBLOCK) != (ssize_t)sizeof(bb->hkey)) {
		seed[0] = (uint64_t)(uintptr_t)bb ^ (uint64_t)getpid() << 32;
		seed[1] = (uint64_t)(uintptr_t)&seed;
		memcpy(bb->hkey, seed, sizeof(bb->hkey));
	}
	return bb;
}

void bundle_builder_free(struct bundle_builder *bb)
{
	unsigned tab, list;

	if (!bb)
		return;
	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = 0; list < 2; list++) {
			free(bb->t[tab][list].el);
			free(bb->t[tab][list].slot);
		}
	}
	free(bb->meta);
	free(bb->mslot);
	free(bb->names);
	free(bb);
}

size_t bundle_builder_replaced(const struct bundle_builder *bb)
{
	return bb->replaced;
}

static size_t slot_of(const struct bundle_builder *bb, const void *key, size_t ks, size_t nslot)
{
	return (size_t)siphash24(bb->hkey, key, ks) & (nslot - 1);
}

/* Element index with this key, or -1. */
long bundle_tab_find(const struct bundle_builder *bb, const struct btab *t, unsigned tab,
		     const uint8_t *key)
{
	size_t s;
	uint32_t v;

	if (!t->nslot)
		return -1;
	for (s = slot_of(bb, key, tab_ks[tab], t->nslot);; s = (s + 1) & (t->nslot - 1)) {
		v = t->slot[s];
		if (!v)
			return -1;
		if (!memcmp(el_at(t, tab, v - 1), key, tab_ks[tab]))
			return (long)v - 1;
	}
}

/* Room for `more` elements: elements array, and slots at most half full. */
static int tab_reserve(const struct bundle_builder *bb, struct btab *t, unsigned tab, size_t more)
{
	size_t want = t->n + more, cap, nslot, i, s;
	uint32_t *slot;
	uint8_t *el;

	if (want > MAX_ELEMS)
		return -ENOMEM;
	if (want > t->cap) {
		cap = t->cap ? t->cap : 64;
		while (cap < want)
			cap *= 2;
		el = realloc(t->el, cap * tab_es[tab]);
		if (!el)
			return -ENOMEM;
		t->el = el;
		t->cap = cap;
	}
	if (2 * want <= t->nslot)
		return 0;
	nslot = t->nslot ? t->nslot : 128;
	while (nslot < 2 * want)
		nslot *= 2;
	slot = calloc(nslot, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		for (s = slot_of(bb, el_at(t, tab, i), tab_ks[tab], nslot); slot[s]; s = (s + 1) & (nslot - 1))
			;
		slot[s] = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

int bundle_meta_intern(struct bundle_builder *bb, const struct bundle_meta *m, uint32_t *id)
{
	uint8_t k[10];
	size_t s, i, nslot;
	uint32_t *slot;
	struct bundle_meta *nm;

	st32(k, m->rule);
	st32(k + 4, m->expires);
	k[8] = m->action;
	k[9] = m->flags;
	if (2 * (bb->nmeta + 1) > bb->nmslot) {
		nslot = bb->nmslot ? 2 * bb->nmslot : 64;
		slot = calloc(nslot, sizeof(*slot));
		if (!slot)
			return -ENOMEM;
		for (i = 0; i < bb->nmeta; i++) {
			uint8_t ki[10];

			st32(ki, bb->meta[i].rule);
			st32(ki + 4, bb->meta[i].expires);
			ki[8] = bb->meta[i].action;
			ki[9] = bb->meta[i].flags;
			for (s = slot_of(bb, ki, sizeof(ki), nslot); slot[s]; s = (s + 1) & (nslot - 1))
				;
			slot[s] = (uint32_t)i + 1;
		}
		free(bb->mslot);
		bb->mslot = slot;
		bb->nmslot = nslot;
	}
	for (s = slot_of(bb, k, sizeof(k), bb->nmslot); bb->mslot[s]; s = (s + 1) & (bb->nmslot - 1)) {
		if (!meta_cmp(&bb->meta[bb->mslot[s] - 1], m)) {
			*id = bb->mslot[s] - 1;
			return 0;
		}
	}
	if (bb->nmeta >= MAX_ELEMS)
		return -ENOMEM;
	if (bb->nmeta == bb->capmeta) {
		size_t cap = bb->capmeta ? 2 * bb->capmeta : 16;

		nm = realloc(bb->meta, cap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		bb->meta = nm;
		bb->capmeta = cap;
	}
	memset(&bb->meta[bb->nmeta], 0, sizeof(*bb->meta));
	bb->meta[bb->nmeta].rule = m->rule;
	bb->meta[bb->nmeta].expires = m->expires;
	bb->meta[bb->nmeta].action = m->action;
	bb->meta[bb->nmeta].flags = m->flags;
	bb->mslot[s] = (uint32_t)bb->nmeta + 1;
	*id = (uint32_t)bb->nmeta++;
	return 0;
}

static int name_store(struct bundle_builder *bb, const char *name, size_t len, uint32_t *off)
{
	size_t cap;
	char *p;

	if (!bb->names_len)
		bb->names_len = 1;
	if (bb->names_len + len + 1 > bb->names_cap) {
		cap = bb->names_cap ? bb->names_cap : 4096;
		while (cap < bb->names_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		p = realloc(bb->names, cap);
		if (!p)
			return -ENOMEM;
		bb->names = p;
		bb->names_cap = cap;
	}
	memcpy(bb->names + bb->names_len, name, len);
	bb->names[bb->names_len + len] = '\0';
	*off = (uint32_t)bb->names_len;
	bb->names_len += len + 1;
	return 0;
}

/*
 * Two domain elements with the same 64-bit hash are one entry only if they
 * are the same name: compared by name when both were added by name, else by
 * check hash when both know it, else (an entry loaded by hash) taken as the
 * same.
 */
static bool dom_collides(const struct bundle_builder *bb, const uint8_t *el, uint64_t chk,
			 const char *name)
{
	uint64_t echk;
	uint32_t eoff;

	memcpy(&echk, el + DOM_CHK, sizeof(echk));
	memcpy(&eoff, el + DOM_NAME, sizeof(eoff));
	if (name && eoff)
		return strcmp(bb->names + eoff, name) != 0;
	return chk && echk && chk != echk;
}

/*
 * Add or replace the element with this key. For domains, chk is the check
 * hash (0 = unknown) and name the normalised name (NULL = by hash).
 * Returns 0 (added), 1 (replaced a live element) or -errno.
 */
int bundle_tab_put(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key,
		   uint32_t meta_id, uint64_t chk, const char *name)
{
	struct btab *t = &bb->t[tab][allow];
	uint32_t off = 0;
	uint8_t *el;
	long at;
	int ret;

	at = bundle_tab_find(bb, t, tab, key);
	if (at >= 0) {
		bool live = el_meta(t, tab, (size_t)at) != DEAD;

		el = el_at(t, tab, (size_t)at);
		if (tab == TAB_DOM) {
			if (live && dom_collides(bb, el, chk, name))
				return -EEXIST;
			memcpy(&off, el + DOM_NAME, sizeof(off));
			if (name && (!off || !live)) {
				ret = name_store(bb, name, strlen(name), &off);
				if (ret)
					return ret;
				memcpy(el + DOM_NAME, &off, sizeof(off));
			}
			if (chk || !live)
				memcpy(el + DOM_CHK, &chk, sizeof(chk));
		}
		if (!live)
			t->live++;
		el_set_meta(t, tab, (size_t)at, meta_id);
		return live;
	}
	ret = tab_reserve(bb, t, tab, 1);
	if (ret)
		return ret;
	if (tab == TAB_DOM && name) {
		ret = name_store(bb, name, strlen(name), &off);
		if (ret)
			return ret;
	}
	el = el_at(t, tab, t->n);
	memset(el, 0, tab_es[tab]);
	memcpy(el, key, tab_ks[tab]);
	if (tab == TAB_DOM) {
		memcpy(el + DOM_CHK, &chk, sizeof(chk));
		memcpy(el + DOM_NAME, &off, sizeof(off));
	}
	el_set_meta(t, tab, t->n, meta_id);
	{
		size_t s = slot_of(bb, key, tab_ks[tab], t->nslot);

		while (t->slot[s])
			s = (s + 1) & (t->nslot - 1);
		t->slot[s] = (uint32_t)t->n + 1;
	}
	t->n++;
	t->live++;
	return 0;
}

/* Remove the element with this key, if live. Returns whether it was. */
bool bundle_tab_remove(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key)
{
	struct btab *t = &bb->t[tab][allow];
	long at = bundle_tab_find(bb, t, tab, key);

	if (at < 0 || el_meta(t, tab, (size_t)at) == DEAD)
		return false;
	el_set_meta(t, tab, (size_t)at, DEAD);
	t->live--;
	return true;
}

static int add_entry(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key,
		     const struct bundle_meta *m, uint64_t chk, const char *name)
{
	uint32_t id;
	int ret;

	if (!m || !meta_ok(m, tab, allow))
		return -EINVAL;
	ret = bundle_meta_intern(bb, m, &id);
	if (ret)
		return ret;
	ret = bundle_tab_put(bb, tab, allow, key, id, chk, name);
	if (ret == 1) {
		bb->replaced++;
		ret = 0;
	}
	return ret;
}

/* Builder key of a prefix: address big-endian (4, 8 or 16 bytes), then its length. */
static unsigned ip_tab_key(int family, const uint8_t *addr, uint8_t plen, uint8_t key[17])
{
	unsigned tab;

	if (family == AF_INET)
		tab = TAB_V4;
	else
		tab = plen <= 64 ? TAB_V6S : TAB_V6L;
	memcpy(key, addr, ip_key_bytes[tab]);
	key[ip_key_bytes[tab]] = plen;
	return tab;
}

void bundle_pfx_from_key(unsigned tab, const uint8_t *key, struct pfx *p)
{
	if (tab == TAB_V4) {
		p->hi = (uint64_t)key[0] << 56 | (uint64_t)key[1] << 48 | (uint64_t)key[2] << 40 |
			(uint64_t)key[3] << 32;
		p->lo = 0;
	} else {
		p->hi = ldbe64(key);
		p->lo = tab == TAB_V6L ? ldbe64(key + 8) : 0;
	}
	p->plen = key[ip_key_bytes[tab]];
}

static void key_from_pfx(unsigned tab, const struct pfx *p, uint8_t key[17])
{
	uint8_t tmp[8];

	stbe64(tmp, p->hi);
	memcpy(key, tmp, tab == TAB_V4 ? 4 : 8);
	if (tab == TAB_V6L)
		stbe64(key + 8, p->lo);
	key[ip_key_bytes[tab]] = (uint8_t)p->plen;
}

int bundle_builder_add_ip(struct bundle_builder *bb, int family, const uint8_t *addr,
			  uint8_t prefix_len, bool allow, const struct bundle_meta *m)
{
	uint8_t key[17];
	struct pfx p;
	unsigned tab;

	if (!addr || (family != AF_INET && family != AF_INET6) ||
	    prefix_len > (family == AF_INET ? 32 : 128))
		return -EINVAL;
	tab = ip_tab_key(family, addr, prefix_len, key);
	bundle_pfx_from_key(tab, key, &p);
	/* host bits set: refused rather than silently widened (192.0.2.1/24 is ambiguous) */
	if (!pfx_host_bits_zero(&p) || (tab == TAB_V6S && !all_zero(addr + 8, 8)))
		return -EINVAL;
	return add_entry(bb, tab, allow, key, m, 0, NULL);
}

int bundle_builder_add_domain(struct bundle_builder *bb, const char *name, bool allow,
			      const struct bundle_meta *m)
{
	char norm[BUNDLE_NAME_MAX + 1];
	uint8_t key[8];
	size_t len;

	if (!name || bundle_domain_normalise(name, strnlen(name, BUNDLE_NAME_MAX + 2), norm, &len, NULL))
		return -EINVAL;
	stbe64(key, siphash24(bundle_domain_key, norm, len));
	return add_entry(bb, TAB_DOM, allow, key, m, siphash24(bundle_check_key, norm, len), norm);
}

int bundle_builder_add_name(struct bundle_builder *bb, enum bundle_kind kind, const char *name,
			    bool allow, const struct bundle_meta *m)
{
	uint8_t key[32] = { 0 };
	size_t len;

	if (!name || (kind != BUNDLE_PROTO && kind != BUNDLE_CATEGORY))
		return -EINVAL;
	len = strnlen(name, 33);
	if (len > BUNDLE_PROTO_NAME_MAX)
		return -EINVAL;
	memcpy(key, name, len);
	if (!bundle_name_ok(key))
		return -EINVAL;
	return add_entry(bb, kind == BUNDLE_PROTO ? TAB_PROTO : TAB_CAT, allow, key, m, 0, NULL);
}

int bundle_builder_add_ja3(struct bundle_builder *bb, const uint8_t md5[16], bool allow,
			   const struct bundle_meta *m)
{
	if (!md5)
		return -EINVAL;
	return add_entry(bb, TAB_JA3, allow, md5, m, 0, NULL);
}

/* Builder key of entry i of a bundle section (entries or removals). */
void bundle_key_from_section(const struct bsec *s, unsigned tab, bool del, uint32_t i, uint8_t key[32])
{
	struct pfx p;

	switch (tab) {
	case TAB_V4:
	case TAB_V6S:
	case TAB_V6L:
		ip_get(s, tab, del, i, &p);
		key_from_pfx(tab, &p, key);
		break;
	case TAB_DOM:
		stbe64(key, del ? ld64(s->a + 8 * (size_t)i) : dom_full(s, dom_bucket_of(s, i), i));
		break;
	case TAB_JA3:
		memcpy(key, s->a + 16 * (size_t)i, 16);
		break;
	default:
		memcpy(key, s->a + 32 * (size_t)i, 32);
		break;
	}
}

/* Add (replacing) every entry of the block and allow sections of b. */
int bundle_load_entries(struct bundle_builder *bb, const struct bundle *b)
{
	struct bundle_meta m;
	uint32_t *ids, i, mi;
	unsigned tab, list;
	uint8_t key[32];
	uint64_t chk;
	int ret = 0;

	ids = calloc(b->nmeta ? b->nmeta : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < b->nmeta && !ret; i++) {
		meta_read(b, i, &m);
		ret = bundle_meta_intern(bb, &m, &ids[i]);
	}
	for (tab = 0; tab < TAB_MAX && !ret; tab++) {
		for (list = 0; list <= LIST_ALLOW && !ret; list++) {
			const struct bsec *s = &b->sec[tab][list];

			if (!s->n)
				continue;
			ret = tab_reserve(bb, &bb->t[tab][list], tab, s->n);
			for (i = 0; i < s->n && !ret; i++) {
				bundle_key_from_section(s, tab, false, i, key);
				if (tab <= TAB_V6L)
					mi = ip_meta(s, tab, i);
				else
					mi = ld32(s->meta + 4 * (size_t)i);
				chk = s->chk ? ld64(s->chk + 8 * (size_t)i) : 0;
				ret = bundle_tab_put(bb, tab, list, key, ids[mi], chk, NULL);
				ret = ret < 0 ? ret : 0;
			}
		}
	}
	free(ids);
	return ret;
}

int bundle_builder_load(struct bundle_builder *bb, const struct bundle *b)
{
	if (b->delta)
		return -EINVAL;
	return bundle_load_entries(bb, b);
}

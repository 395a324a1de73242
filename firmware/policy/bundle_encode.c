/*
 * Blocklist bundles, writing: the one encoder, full bundles (bundle_build)
 * and deltas (bundle_diff).
 *
 * Why one encoder: it sorts, deduplicates metas and writes a canonical
 * layout, so the same entries and info always give the same bytes. A
 * gateway applies a delta by merging sorted sections (bundle_merge.c), which
 * writes the same layout entry by entry: the result is byte for byte what
 * this encoder gave the hub, and the full bundle's signature the delta
 * carries proves it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "policy/bundle_priv.h"

struct sortent {
	uint64_t k; /* first key bytes, big-endian: most comparisons stop here */
	uint32_t i;
};

struct sortctx {
	const struct btab *t;
	unsigned tab;
};

static int sortent_cmp(const void *a, const void *b, void *ctx)
{
	const struct sortent *x = a, *y = b;
	const struct sortctx *c = ctx;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return memcmp(el_at(c->t, c->tab, x->i), el_at(c->t, c->tab, y->i), tab_ks[c->tab]);
}

/* Live elements of a table in canonical (key) order. */
static struct sortent *tab_sorted(const struct btab *t, unsigned tab)
{
	struct sortctx ctx = { t, tab };
	struct sortent *v = malloc((t->live ? t->live : 1) * sizeof(*v));
	uint8_t k[8];
	size_t i, n = 0;

	if (!v)
		return NULL;
	for (i = 0; i < t->n; i++) {
		if (el_meta(t, tab, i) == DEAD)
			continue;
		memset(k, 0, sizeof(k));
		memcpy(k, el_at(t, tab, i), tab_ks[tab] < 8 ? tab_ks[tab] : 8);
		v[n].k = ldbe64(k);
		v[n].i = (uint32_t)i;
		n++;
	}
	qsort_r(v, n, sizeof(*v), sortent_cmp, &ctx);
	return v;
}

struct esec {
	unsigned type, list;
	const struct btab *t; /* NULL: META or FULLSIG */
	struct sortent *ord;
	uint32_t n;
	struct layout l;
	uint64_t off;
};

struct encoder {
	const struct bundle_builder *adds, *dels;
	uint32_t *meta_map; /* builder meta id -> file index */
	uint32_t *meta_ord; /* file index -> builder meta id */
	uint32_t nmeta;
	struct esec sec[MAX_SECTIONS];
	unsigned nsec;
};

static int meta_id_cmp(const void *a, const void *b, void *ctx)
{
	const struct bundle_meta *m = ctx;

	return meta_cmp(&m[*(const uint32_t *)a], &m[*(const uint32_t *)b]);
}

/* The metas live entries use, in canonical order. */
static int enc_metas(struct encoder *e)
{
	const struct bundle_builder *bb = e->adds;
	unsigned tab, list;
	uint32_t id, n = 0;
	size_t i;

	e->meta_map = malloc((bb->nmeta ? bb->nmeta : 1) * sizeof(uint32_t));
	e->meta_ord = malloc((bb->nmeta ? bb->nmeta : 1) * sizeof(uint32_t));
	if (!e->meta_map || !e->meta_ord)
		return -ENOMEM;
	memset(e->meta_map, 0xff, bb->nmeta * sizeof(uint32_t));
	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = 0; list < 2; list++) {
			const struct btab *t = &bb->t[tab][list];

			for (i = 0; i < t->n; i++) {
				id = el_meta(t, tab, i);
				if (id != DEAD && e->meta_map[id] == UINT32_MAX) {
					e->meta_map[id] = 0;
					e->meta_ord[n++] = id;
				}
			}
		}
	}
	qsort_r(e->meta_ord, n, sizeof(uint32_t), meta_id_cmp, bb->meta);
	for (i = 0; i < n; i++)
		e->meta_map[e->meta_ord[i]] = (uint32_t)i;
	e->nmeta = n;
	return 0;
}

static int enc_add_section(struct encoder *e, unsigned tab, unsigned list, const struct btab *t)
{
	struct esec *s;

	if (!t->live)
		return 0;
	if (tab <= TAB_V6L && !(list & LIST_DEL) && t->live > IP_MAX_ENTRIES)
		return -E2BIG;
	s = &e->sec[e->nsec++];
	s->type = ST_TAB + tab;
	s->list = list;
	s->t = t;
	s->n = (uint32_t)t->live;
	s->ord = tab_sorted(t, tab);
	if (!s->ord)
		return -ENOMEM;
	bundle_layout(tab, list, s->n, &s->l);
	return 0;
}

static void enc_idx(uint8_t *idx, unsigned bits, uint32_t *t_next, uint32_t i, uint64_t key)
{
	unsigned top = top_bits(key, bits);

	while (*t_next <= top)
		st32(idx + 4 * (size_t)(*t_next)++, i);
}

static void enc_idx_end(uint8_t *idx, unsigned bits, uint32_t t_next, uint32_t n)
{
	while (t_next <= (1u << bits))
		st32(idx + 4 * (size_t)t_next++, n);
}

static void enc_section(const struct encoder *e, const struct esec *s, uint8_t *p)
{
	unsigned tab = s->type - ST_TAB;
	bool del = s->list & LIST_DEL;
	const uint8_t *el;
	uint32_t i, t_next = 0, mi, parent;
	struct pstack st;
	struct pfx pf;
	uint8_t *r;
	uint64_t h, chk;

	st.n = 0;
	for (i = 0; i < s->n; i++) {
		el = el_at(s->t, tab, s->ord[i].i);
		mi = del ? 0 : e->meta_map[el_meta(s->t, tab, s->ord[i].i)];
		switch (tab) {
		case TAB_V4:
		case TAB_V6S:
		case TAB_V6L:
			bundle_pfx_from_key(tab, el, &pf);
			r = p + (size_t)i * s->l.esize;
			if (tab == TAB_V4) {
				st32(r, (uint32_t)(pf.hi >> 32));
			} else {
				st64(r, pf.hi);
				if (tab == TAB_V6L)
					st64(r + 8, pf.lo);
			}
			if (del) {
				r[ip_key_bytes[tab]] = (uint8_t)pf.plen;
				break;
			}
			parent = pstack_push(&st, i, &pf);
			st32(r + ip_key_bytes[tab], mi);
			st32(r + ip_key_bytes[tab] + 4,
			     (parent == NO_PARENT ? IP_NO_PARENT : parent) | (uint32_t)pf.plen << 24);
			enc_idx(p + s->l.idx, s->l.bits, &t_next, i, pf.hi);
			break;
		case TAB_DOM:
			h = ldbe64(el);
			if (del) {
				st64(p + 8 * (size_t)i, h);
				break;
			}
			{
				uint8_t v[8];

				st64(v, h);
				memcpy(p + (size_t)s->l.kw * i, v, s->l.kw);
			}
			if (s->l.chk) {
				memcpy(&chk, el + DOM_CHK, sizeof(chk));
				st64(p + s->l.chk + 8 * (size_t)i, chk);
			}
			st32(p + s->l.meta + 4 * (size_t)i, mi);
			enc_idx(p + s->l.idx, s->l.bits, &t_next, i, h);
			break;
		default: {
			size_t ks = tab == TAB_JA3 ? 16 : 32;

			memcpy(p + ks * i, el, ks);
			if (!del)
				st32(p + s->l.meta + 4 * (size_t)i, mi);
			break;
		}
		}
	}
	if (!del && tab <= TAB_DOM)
		enc_idx_end(p + s->l.idx, s->l.bits, t_next, s->n);
}

/*
 * Serialise: full bundle (dels == NULL) or delta (dels = removals, fsig =
 * the new full bundle's signature). *out has room for the trailer and the
 * largest signature after *signed_len bytes; the body hash is filled in.
 */
static int encode(const struct bundle_builder *adds, const struct bundle_builder *dels,
		  const struct bundle_info *info, const uint8_t *fsig, size_t fsig_len,
		  uint8_t **out, size_t *signed_len)
{
	struct encoder e;
	struct esec *s;
	uint64_t off, total;
	unsigned tab, list, i;
	uint8_t *buf = NULL, *t;
	int ret = -EINVAL;

	memset(&e, 0, sizeof(e));
	e.adds = adds;
	e.dels = dels;
	*out = NULL;
	if (!bundle_info_ok(info, dels != NULL) || (dels && (!fsig_len || fsig_len > SIG_MAX)))
		return -EINVAL;
	ret = enc_metas(&e);
	if (ret)
		goto out;
	if (e.nmeta) {
		s = &e.sec[e.nsec++];
		s->type = ST_META;
		s->n = e.nmeta;
		s->l.esize = META_SIZE;
		s->l.len = (uint64_t)META_SIZE * e.nmeta;
	}
	for (tab = 0; tab < TAB_MAX && !ret; tab++) {
		for (list = 0; list < NLISTS && !ret; list++) {
			if (list & LIST_DEL)
				ret = dels ? enc_add_section(&e, tab, list, &dels->t[tab][list & 1]) : 0;
			else
				ret = enc_add_section(&e, tab, list, &adds->t[tab][list]);
		}
	}
	if (ret)
		goto out;
	if (dels) {
		s = &e.sec[e.nsec++];
		s->type = ST_FULLSIG;
		s->n = 1;
		s->l.esize = (uint32_t)fsig_len;
		s->l.len = fsig_len;
	}
	off = HDR_SIZE + (uint64_t)SECT_SIZE * e.nsec;
	for (i = 0; i < e.nsec; i++) {
		e.sec[i].off = off;
		off = align8(off + e.sec[i].l.len);
	}
	total = off + TRAILER_SIZE + SIG_MAX;
	if (total > SIZE_MAX) {
		ret = -EFBIG;
		goto out;
	}
	buf = calloc(1, (size_t)total);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(buf + H_MAGIC, bundle_magic, sizeof(bundle_magic));
	st16(buf + H_VERSION, FORMAT_VERSION);
	st16(buf + H_FLAGS, dels ? FLAG_DELTA : 0);
	st32(buf + H_HSIZE, HDR_SIZE);
	memcpy(buf + H_REGION, info->region, strnlen(info->region, BUNDLE_REGION_MAX));
	st64(buf + H_SERIAL, info->serial);
	st64(buf + H_BASE, info->base_serial);
	st64(buf + H_CREATED, info->created);
	st64(buf + H_EXPIRES, info->expires);
	st64(buf + H_SIGNED, off);
	st32(buf + H_NSECT, e.nsec);
	for (i = 0; i < e.nsec; i++) {
		s = &e.sec[i];
		t = buf + HDR_SIZE + (size_t)SECT_SIZE * i;
		st32(t + S_TYPE, s->type);
		st32(t + S_LIST, s->list);
		st64(t + S_OFF, s->off);
		st64(t + S_LEN, s->l.len);
		st32(t + S_COUNT, s->n);
		st16(t + S_ESIZE, (uint16_t)s->l.esize);
		t[S_BITS] = (uint8_t)s->l.bits;
		if (s->type == ST_META) {
			uint32_t k;

			for (k = 0; k < e.nmeta; k++) {
				const struct bundle_meta *m = &adds->meta[e.meta_ord[k]];
				uint8_t *p = buf + s->off + (size_t)META_SIZE * k;

				st32(p, m->rule);
				st32(p + 4, m->expires);
				p[8] = m->action;
				p[9] = m->flags;
			}
		} else if (s->type == ST_FULLSIG) {
			memcpy(buf + s->off, fsig, fsig_len);
		} else {
			enc_section(&e, s, buf + s->off);
		}
	}
	if (mbedtls_sha256_ret(buf + HDR_SIZE, (size_t)off - HDR_SIZE, buf + H_BODY_HASH, 0)) {
		ret = -EIO;
		goto out;
	}
	*out = buf;
	*signed_len = (size_t)off;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	for (i = 0; i < e.nsec; i++)
		free(e.sec[i].ord);
	free(e.meta_map);
	free(e.meta_ord);
	return ret;
}

/* Sign the first signed_len bytes of buf (privkey NULL: unsigned) and write the trailer. */
static int finish(uint8_t *buf, size_t signed_len, const uint8_t *privkey, size_t privkey_len,
		  const uint8_t *sig, size_t sig_len, size_t *out_len)
{
	uint8_t hash[32], mysig[SIG_MAX];
	int ret;

	if (!sig && privkey) {
		if (mbedtls_sha256_ret(buf, signed_len, hash, 0))
			return -EIO;
		ret = bundle_sign_digest(privkey, privkey_len, hash, mysig, &sig_len);
		if (ret)
			return ret;
		sig = mysig;
	}
	if (!sig)
		sig_len = 0;
	if (sig_len > SIG_MAX)
		return -EINVAL;
	memcpy(buf + signed_len, bundle_trailer_magic, sizeof(bundle_trailer_magic));
	st16(buf + signed_len + sizeof(bundle_trailer_magic), (uint16_t)sig_len);
	if (sig_len)
		memcpy(buf + signed_len + TRAILER_SIZE, sig, sig_len);
	*out_len = signed_len + TRAILER_SIZE + sig_len;
	return 0;
}

int bundle_build(const struct bundle_builder *bb, const struct bundle_info *info,
		 const uint8_t *privkey, size_t privkey_len, uint8_t **out, size_t *out_len)
{
	size_t signed_len;
	uint8_t *buf;
	int ret;

	*out = NULL;
	if (!bb || !info)
		return -EINVAL;
	ret = encode(bb, NULL, info, NULL, 0, &buf, &signed_len);
	if (ret)
		return ret;
	ret = finish(buf, signed_len, privkey, privkey_len, NULL, 0, out_len);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

static bool same_meta(const struct bundle_builder *a, uint32_t ia, const struct bundle_builder *b,
		      uint32_t ib)
{
	return meta_cmp(&a->meta[ia], &b->meta[ib]) == 0;
}

/* Entries of `to` absent from `from` or with another meta go to adds; entries of `from` absent from `to` go to dels. */
static int diff_tables(struct bundle_builder *from, struct bundle_builder *to, struct bundle_builder *adds,
		       struct bundle_builder *dels)
{
	unsigned tab, list;
	uint32_t id;
	uint64_t chk;
	size_t i;
	long at;
	int ret = 0;

	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = 0; list < 2; list++) {
			const struct btab *tf = &from->t[tab][list], *tt = &to->t[tab][list];

			for (i = 0; i < tt->n && ret >= 0; i++) {
				const uint8_t *el = el_at(tt, tab, i);

				if (el_meta(tt, tab, i) == DEAD)
					continue;
				at = bundle_tab_find(from, tf, tab, el);
				if (at >= 0 && el_meta(tf, tab, (size_t)at) != DEAD &&
				    same_meta(from, el_meta(tf, tab, (size_t)at), to, el_meta(tt, tab, i)))
					continue;
				ret = bundle_meta_intern(adds, &to->meta[el_meta(tt, tab, i)], &id);
				chk = 0;
				if (tab == TAB_DOM)
					memcpy(&chk, el + DOM_CHK, sizeof(chk));
				if (!ret)
					ret = bundle_tab_put(adds, tab, list, el, id, chk, NULL);
			}
			for (i = 0; i < tf->n && ret >= 0; i++) {
				const uint8_t *el = el_at(tf, tab, i);

				if (el_meta(tf, tab, i) == DEAD)
					continue;
				at = bundle_tab_find(to, tt, tab, el);
				if (at < 0 || el_meta(tt, tab, (size_t)at) == DEAD)
					ret = bundle_tab_put(dels, tab, list, el, 0, 0, NULL);
			}
		}
	}
	return ret < 0 ? ret : 0;
}

int bundle_diff(const struct bundle *old, const struct bundle *new_b, const uint8_t *privkey,
		size_t privkey_len, uint8_t **out, size_t *out_len)
{
	struct bundle_builder *from, *to, *adds, *dels;
	struct bundle_info info;
	size_t signed_len;
	uint8_t *buf = NULL;
	int ret = -ENOMEM;

	*out = NULL;
	if (!old || !new_b || old->delta || new_b->delta || new_b->info.serial <= old->info.serial ||
	    !new_b->sig_len)
		return -EINVAL;
	from = bundle_builder_new();
	to = bundle_builder_new();
	adds = bundle_builder_new();
	dels = bundle_builder_new();
	if (!from || !to || !adds || !dels)
		goto out;
	ret = bundle_load_entries(from, old);
	if (!ret)
		ret = bundle_load_entries(to, new_b);
	if (!ret)
		ret = diff_tables(from, to, adds, dels);
	if (ret)
		goto out;
	info = new_b->info;
	info.base_serial = old->info.serial;
	ret = encode(adds, dels, &info, new_b->sig, new_b->sig_len, &buf, &signed_len);
	if (!ret)
		ret = finish(buf, signed_len, privkey, privkey_len, NULL, 0, out_len);
	if (!ret) {
		*out = buf;
		buf = NULL;
	}
out:
	free(buf);
	bundle_builder_free(from);
	bundle_builder_free(to);
	bundle_builder_free(adds);
	bundle_builder_free(dels);
	return ret;
}

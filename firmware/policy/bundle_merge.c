/*
 * Blocklist bundles, applying a delta on a gateway (bundle.h,
 * bundle_apply_delta and bundle_apply_delta_file): the list in force and the
 * delta are both sorted, section by section, so the new full bundle is their
 * merge, written out in order.
 *
 * Why a merge and not a builder: rebuilding the list in force in hash tables
 * and encoding it again took about 5 times the file in RAM (135 MiB for a
 * 1M + 1M list, next to the list in force), and seconds on the loop. The
 * merge keeps a cursor on each of three sorted inputs per (kind, list): the
 * section in force, the delta's additions and its removals; every output
 * entry is produced in canonical order, so the bytes are exactly what the
 * hub's encoder (bundle_encode.c) writes for the same entries, and the full
 * bundle's signature the delta carries proves it. What it holds in RAM is
 * the two meta maps (u32 per meta), one index table (at most 256 KiB) and a
 * 64 KiB write buffer; the result goes to a file and never sits in memory
 * beside the list in force.
 *
 * The rules are those of the builder it replaces (docs/bundle-format.md,
 * "Deltas"): removals apply to the list in force, additions replace an entry
 * of the same key; a removal of a key that is not in force means the delta
 * was made from another list (`signature`); an allow-list domain addition
 * whose check hash differs from the entry in force with the same hash is a
 * different name (`malformed`). Both are found by a first counting pass,
 * before a byte is written.
 *
 * Each section's arrays (keys, check hashes, metas) lie one after the other
 * in the file, so the merge runs once per array: it is cheap (a compare per
 * entry, no allocation), and writing stays sequential.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "policy/bundle_priv.h"

/* ---------------------------------------------------------------- cursors */

/* One sorted input of a (tab, list): a section of a bundle, read in order. */
struct mcur {
	const struct bsec *s;
	unsigned tab;
	bool del;
	uint32_t i, n;
	unsigned t;       /* domain entries: the bucket of entry i */
	struct pfx p;     /* IP key */
	uint64_t h;       /* domain key */
	const uint8_t *k; /* name or JA3 key */
};

static void mcur_load(struct mcur *c)
{
	const struct bsec *s = c->s;

	if (c->i >= c->n)
		return;
	switch (c->tab) {
	case TAB_V4:
	case TAB_V6S:
	case TAB_V6L:
		ip_get(s, c->tab, c->del, c->i, &c->p);
		break;
	case TAB_DOM:
		if (c->del) {
			c->h = ld64(s->a + 8 * (size_t)c->i);
			break;
		}
		/* the index is monotone and ends with n > i: this stops */
		while (ld32(s->idx + 4 * ((size_t)c->t + 1)) <= c->i)
			c->t++;
		c->h = dom_full(s, c->t, c->i);
		break;
	default:
		c->k = s->a + (size_t)(c->tab == TAB_JA3 ? 16 : 32) * c->i;
		break;
	}
}

static void mcur_init(struct mcur *c, const struct bsec *s, unsigned tab, bool del)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->tab = tab;
	c->del = del;
	c->n = s->n;
	mcur_load(c);
}

static void mcur_next(struct mcur *c)
{
	c->i++;
	mcur_load(c);
}

static bool mcur_more(const struct mcur *c)
{
	return c->i < c->n;
}

/* Canonical order of the two current keys (both cursors have one). */
static int mcur_cmp(const struct mcur *a, const struct mcur *b)
{
	switch (a->tab) {
	case TAB_V4:
	case TAB_V6S:
	case TAB_V6L:
		return pfx_cmp(&a->p, &b->p);
	case TAB_DOM:
		return a->h < b->h ? -1 : a->h > b->h;
	default:
		return memcmp(a->k, b->k, a->tab == TAB_JA3 ? 16 : 32);
	}
}

static uint32_t mcur_meta(const struct mcur *c)
{
	if (c->tab <= TAB_V6L)
		return ip_meta(c->s, c->tab, c->i);
	return ld32(c->s->meta + 4 * (size_t)c->i);
}

static uint64_t mcur_chk(const struct mcur *c)
{
	return c->s->chk ? ld64(c->s->chk + 8 * (size_t)c->i) : 0;
}

/* ---------------------------------------------------------------- the merge */

/* The entries of one (tab, list) of the new full bundle, in order. */
struct merge {
	struct mcur o, a, r;  /* in force, additions, removals */
	const struct mcur *e; /* the entry produced: &o or &a */
	bool adv_o, adv_a;    /* advance that cursor before the next entry */
	uint64_t absent;      /* removals of keys not in force */
	bool collide;         /* an allow-list domain addition that is another name */
};

static void merge_init(struct merge *m, const struct bundle *cur, const struct bundle *d,
		       unsigned tab, unsigned list)
{
	memset(m, 0, sizeof(*m));
	mcur_init(&m->o, &cur->sec[tab][list], tab, false);
	mcur_init(&m->a, &d->sec[tab][list], tab, false);
	mcur_init(&m->r, &d->sec[tab][list | LIST_DEL], tab, true);
}

static bool merge_next(struct merge *m)
{
	struct mcur *o = &m->o, *a = &m->a, *r = &m->r;
	const struct mcur *low;
	bool removed;
	int c;

	if (m->adv_o)
		mcur_next(o);
	if (m->adv_a)
		mcur_next(a);
	m->adv_o = m->adv_a = false;
	for (;;) {
		if (!mcur_more(o) && !mcur_more(a)) {
			m->absent += r->n - r->i;
			r->i = r->n;
			return false;
		}
		c = !mcur_more(o) ? 1 : !mcur_more(a) ? -1 : mcur_cmp(o, a);
		low = c <= 0 ? o : a;
		/* removals below the lowest key left match nothing in force */
		while (mcur_more(r) && mcur_cmp(r, low) < 0) {
			m->absent++;
			mcur_next(r);
		}
		removed = c <= 0 && mcur_more(r) && mcur_cmp(r, o) == 0;
		if (removed)
			mcur_next(r);
		if (c > 0) {
			m->e = a;
			m->adv_a = true;
			return true;
		}
		if (c == 0) {
			/* removed first, then added: the builder compared nothing */
			if (!removed && o->tab == TAB_DOM && mcur_chk(o) && mcur_chk(a) &&
			    mcur_chk(o) != mcur_chk(a))
				m->collide = true;
			m->e = a;
			m->adv_a = true;
			mcur_next(o);
			return true;
		}
		if (removed) {
			mcur_next(o);
			continue;
		}
		m->e = o;
		m->adv_o = true;
		return true;
	}
}

/* ---------------------------------------------------------------- output */

#define SINK_BUF ((size_t)64 * 1024)

/* Where the new bundle goes: a file through a small buffer, or memory. */
struct msink {
	int fd;          /* -1: memory */
	uint8_t *mem;    /* memory: the whole file */
	uint8_t *buf;    /* file: bytes not written yet */
	size_t nbuf;
	uint64_t off;    /* bytes put so far */
	uint64_t signed_len;
	mbedtls_sha256_context body;
	int err;
};

static void sink_flush(struct msink *k)
{
	size_t done = 0;
	ssize_t n;

	while (k->fd >= 0 && done < k->nbuf && !k->err) {
		n = write(k->fd, k->buf + done, k->nbuf - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			k->err = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	k->nbuf = 0;
}

/* Bytes at k->off; those of the body (128 .. signed_len-1) are hashed as they go. */
static void sink_put(struct msink *k, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t n;

	if (k->off >= HDR_SIZE && k->off < k->signed_len) {
		n = k->signed_len - k->off < len ? (size_t)(k->signed_len - k->off) : len;
		if (mbedtls_sha256_update_ret(&k->body, b, n))
			k->err = -EIO;
	}
	if (k->fd < 0) {
		memcpy(k->mem + k->off, b, len);
		k->off += len;
		return;
	}
	k->off += len;
	while (len) {
		n = SINK_BUF - k->nbuf < len ? SINK_BUF - k->nbuf : len;
		memcpy(k->buf + k->nbuf, b, n);
		k->nbuf += n;
		b += n;
		len -= n;
		if (k->nbuf == SINK_BUF)
			sink_flush(k);
	}
}

/* Zero bytes up to offset `to` (padding). */
static void sink_zero_to(struct msink *k, uint64_t to)
{
	static const uint8_t zeros[64];

	while (k->off < to) {
		size_t n = to - k->off < sizeof(zeros) ? (size_t)(to - k->off) : sizeof(zeros);

		sink_put(k, zeros, n);
	}
}

static void sink_u32(struct msink *k, uint32_t v)
{
	uint8_t b[4];

	st32(b, v);
	sink_put(k, b, 4);
}

static void sink_u64(struct msink *k, uint64_t v)
{
	uint8_t b[8];

	st64(b, v);
	sink_put(k, b, 8);
}

/* ---------------------------------------------------------------- the new bundle */

struct osec {
	unsigned tab, list; /* tab TAB_MAX: the meta table */
	uint32_t n;
	struct layout l;
	uint64_t off;
};

struct apply {
	const struct bundle *cur, *d;
	uint32_t *map_o, *map_d; /* meta index in cur / d -> in the new bundle (UINT32_MAX: unused) */
	uint32_t nmeta;
	struct osec sec[MAX_SECTIONS];
	unsigned nsec;
	uint64_t signed_len, len;
	uint32_t *idx;           /* one section's index table, while it is written */
};

static uint32_t entry_meta(const struct apply *ap, const struct merge *m)
{
	uint32_t mi = mcur_meta(m->e);

	return m->e == &m->a ? ap->map_d[mi] : ap->map_o[mi];
}

/*
 * First pass: the entries of each (tab, list) counted and the metas they use
 * marked (map value 0 = used, before numbering). Returns BUNDLE_OK or why
 * the delta cannot apply.
 */
static enum bundle_err count_entries(struct apply *ap, uint32_t count[TAB_MAX][2])
{
	bool collide = false;
	uint64_t absent = 0, n;
	struct merge m;
	unsigned tab, list;

	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = 0; list < 2; list++) {
			merge_init(&m, ap->cur, ap->d, tab, list);
			n = 0;
			while (merge_next(&m)) {
				uint32_t mi = mcur_meta(m.e);

				if (m.e == &m.a)
					ap->map_d[mi] = 0;
				else
					ap->map_o[mi] = 0;
				n++;
			}
			absent += m.absent;
			collide |= m.collide;
			if (n > MAX_ELEMS || (tab <= TAB_V6L && n > IP_MAX_ENTRIES))
				return BUNDLE_ERR_MALFORMED;
			count[tab][list] = (uint32_t)n;
		}
	}
	/* the builder's order: an addition that cannot be added fails before the check */
	if (collide)
		return BUNDLE_ERR_MALFORMED;
	return absent ? BUNDLE_ERR_SIGNATURE : BUNDLE_OK;
}

/*
 * The metas used, in canonical order: both tables are sorted and without
 * duplicates, so this is a merge too; equal metas become one. With a sink,
 * the records are written; without, the maps are numbered.
 */
static void merge_metas(struct apply *ap, struct msink *k)
{
	const struct bundle *cur = ap->cur, *d = ap->d;
	struct bundle_meta mo, md;
	uint32_t i = 0, j = 0, n = 0;
	const struct bundle_meta *take;
	uint8_t rec[META_SIZE];
	int c;

	for (;;) {
		while (i < cur->nmeta && ap->map_o[i] == UINT32_MAX)
			i++;
		while (j < d->nmeta && ap->map_d[j] == UINT32_MAX)
			j++;
		if (i >= cur->nmeta && j >= d->nmeta)
			break;
		if (i < cur->nmeta)
			meta_read(cur, i, &mo);
		if (j < d->nmeta)
			meta_read(d, j, &md);
		c = i >= cur->nmeta ? 1 : j >= d->nmeta ? -1 : meta_cmp(&mo, &md);
		take = c <= 0 ? &mo : &md;
		if (k) {
			memset(rec, 0, sizeof(rec));
			st32(rec, take->rule);
			st32(rec + 4, take->expires);
			rec[8] = take->action;
			rec[9] = take->flags;
			sink_put(k, rec, sizeof(rec));
		} else {
			if (c <= 0)
				ap->map_o[i] = n;
			if (c >= 0)
				ap->map_d[j] = n;
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		n++;
	}
	ap->nmeta = n;
}

/* Sections, their layouts and offsets, as the encoder places them. */
static void place_sections(struct apply *ap, uint32_t count[TAB_MAX][2])
{
	uint64_t off;
	unsigned tab, list, i;
	struct osec *s;

	ap->nsec = 0;
	if (ap->nmeta) {
		s = &ap->sec[ap->nsec++];
		memset(s, 0, sizeof(*s));
		s->tab = TAB_MAX;
		s->n = ap->nmeta;
		s->l.esize = META_SIZE;
		s->l.len = (uint64_t)META_SIZE * ap->nmeta;
	}
	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = 0; list < 2; list++) {
			if (!count[tab][list])
				continue;
			s = &ap->sec[ap->nsec++];
			s->tab = tab;
			s->list = list;
			s->n = count[tab][list];
			bundle_layout(tab, list, s->n, &s->l);
		}
	}
	off = HDR_SIZE + (uint64_t)SECT_SIZE * ap->nsec;
	for (i = 0; i < ap->nsec; i++) {
		ap->sec[i].off = off;
		off = align8(off + ap->sec[i].l.len);
	}
	ap->signed_len = off;
	ap->len = off + TRAILER_SIZE + ap->d->full_sig_len;
}

static void put_header(const struct apply *ap, uint8_t hdr[HDR_SIZE])
{
	const struct bundle_info *in = &ap->d->info;

	memset(hdr, 0, HDR_SIZE);
	memcpy(hdr + H_MAGIC, bundle_magic, sizeof(bundle_magic));
	st16(hdr + H_VERSION, FORMAT_VERSION);
	st32(hdr + H_HSIZE, HDR_SIZE);
	memcpy(hdr + H_REGION, in->region, strnlen(in->region, BUNDLE_REGION_MAX));
	st64(hdr + H_SERIAL, in->serial);
	st64(hdr + H_CREATED, in->created);
	st64(hdr + H_EXPIRES, in->expires);
	st64(hdr + H_SIGNED, ap->signed_len);
	st32(hdr + H_NSECT, ap->nsec);
}

static void put_table(const struct apply *ap, struct msink *k)
{
	uint8_t e[SECT_SIZE];
	unsigned i;

	for (i = 0; i < ap->nsec; i++) {
		const struct osec *s = &ap->sec[i];

		memset(e, 0, sizeof(e));
		st32(e + S_TYPE, s->tab == TAB_MAX ? ST_META : ST_TAB + s->tab);
		st32(e + S_LIST, s->list);
		st64(e + S_OFF, s->off);
		st64(e + S_LEN, s->l.len);
		st32(e + S_COUNT, s->n);
		st16(e + S_ESIZE, (uint16_t)s->l.esize);
		e[S_BITS] = (uint8_t)s->l.bits;
		sink_put(k, e, sizeof(e));
	}
}

/* index[t] = entries with top bits < t (the encoder's enc_idx / enc_idx_end). */
static void idx_add(uint32_t *idx, unsigned bits, uint32_t *t_next, uint32_t i, uint64_t key)
{
	unsigned top = top_bits(key, bits);

	while (*t_next <= top)
		idx[(*t_next)++] = i;
}

static void idx_put(struct msink *k, uint32_t *idx, unsigned bits, uint32_t t_next, uint32_t n)
{
	size_t t, nb = (size_t)1 << bits;

	while (t_next <= nb)
		idx[t_next++] = n;
	for (t = 0; t <= nb; t++)
		sink_u32(k, idx[t]);
}

static void put_ip(struct apply *ap, const struct osec *s, struct msink *k)
{
	unsigned tab = s->tab;
	uint32_t i = 0, t_next = 0, parent;
	uint8_t r[24];
	struct pstack st;
	struct merge m;

	st.n = 0;
	merge_init(&m, ap->cur, ap->d, tab, s->list);
	while (merge_next(&m)) {
		const struct pfx *p = &m.e->p;
		unsigned kb = ip_key_bytes[tab];

		if (tab == TAB_V4) {
			st32(r, (uint32_t)(p->hi >> 32));
		} else {
			st64(r, p->hi);
			if (tab == TAB_V6L)
				st64(r + 8, p->lo);
		}
		parent = pstack_push(&st, i, p);
		st32(r + kb, entry_meta(ap, &m));
		st32(r + kb + 4, (parent == NO_PARENT ? IP_NO_PARENT : parent) | (uint32_t)p->plen << 24);
		sink_put(k, r, kb + 8);
		idx_add(ap->idx, s->l.bits, &t_next, i, p->hi);
		i++;
	}
	sink_zero_to(k, s->off + s->l.idx);
	idx_put(k, ap->idx, s->l.bits, t_next, s->n);
}

static void put_domains(struct apply *ap, const struct osec *s, struct msink *k)
{
	uint32_t i = 0, t_next = 0;
	struct merge m;
	uint8_t v[8];

	merge_init(&m, ap->cur, ap->d, TAB_DOM, s->list);
	while (merge_next(&m)) {
		st64(v, m.e->h);
		sink_put(k, v, s->l.kw);
		idx_add(ap->idx, s->l.bits, &t_next, i++, m.e->h);
	}
	if (s->l.chk) {
		sink_zero_to(k, s->off + s->l.chk);
		merge_init(&m, ap->cur, ap->d, TAB_DOM, s->list);
		while (merge_next(&m))
			sink_u64(k, mcur_chk(m.e));
	}
	sink_zero_to(k, s->off + s->l.meta);
	merge_init(&m, ap->cur, ap->d, TAB_DOM, s->list);
	while (merge_next(&m))
		sink_u32(k, entry_meta(ap, &m));
	sink_zero_to(k, s->off + s->l.idx);
	idx_put(k, ap->idx, s->l.bits, t_next, s->n);
}

static void put_keyed(struct apply *ap, const struct osec *s, struct msink *k)
{
	size_t ks = s->tab == TAB_JA3 ? 16 : 32;
	struct merge m;

	merge_init(&m, ap->cur, ap->d, s->tab, s->list);
	while (merge_next(&m))
		sink_put(k, m.e->k, ks);
	merge_init(&m, ap->cur, ap->d, s->tab, s->list);
	while (merge_next(&m))
		sink_u32(k, entry_meta(ap, &m));
}

/* Everything up to signed_len: header (body hash still zero), table, sections. */
static void put_body(struct apply *ap, struct msink *k)
{
	uint8_t hdr[HDR_SIZE];
	unsigned i;

	put_header(ap, hdr);
	sink_put(k, hdr, sizeof(hdr));
	put_table(ap, k);
	for (i = 0; i < ap->nsec; i++) {
		const struct osec *s = &ap->sec[i];

		sink_zero_to(k, s->off);
		if (s->tab == TAB_MAX)
			merge_metas(ap, k);
		else if (s->tab <= TAB_V6L)
			put_ip(ap, s, k);
		else if (s->tab == TAB_DOM)
			put_domains(ap, s, k);
		else
			put_keyed(ap, s, k);
	}
	sink_zero_to(k, ap->signed_len);
}

static void put_trailer(const struct apply *ap, struct msink *k)
{
	uint8_t t[TRAILER_SIZE];

	memcpy(t, bundle_trailer_magic, sizeof(bundle_trailer_magic));
	st16(t + sizeof(bundle_trailer_magic), (uint16_t)ap->d->full_sig_len);
	sink_put(k, t, sizeof(t));
	sink_put(k, ap->d->full_sig, ap->d->full_sig_len);
}

/*
 * The signed digest (header with its body hash, then the body, read back
 * from the file in chunks: page cache, not this process's memory) and the
 * file's, continued over the trailer.
 */
static int digest_signed(const struct apply *ap, const struct msink *k, const uint8_t hdr[HDR_SIZE],
			 struct bundle_digests *d)
{
	mbedtls_sha256_context all, file;
	uint64_t off;
	size_t n;
	ssize_t got;
	int ret = 0;

	mbedtls_sha256_init(&all);
	mbedtls_sha256_init(&file);
	ret |= mbedtls_sha256_starts_ret(&all, 0);
	ret |= mbedtls_sha256_update_ret(&all, hdr, HDR_SIZE);
	if (k->fd < 0) {
		ret |= mbedtls_sha256_update_ret(&all, k->mem + HDR_SIZE, ap->signed_len - HDR_SIZE);
	} else {
		for (off = HDR_SIZE; off < ap->signed_len && !ret; off += (uint64_t)got) {
			n = ap->signed_len - off < SINK_BUF ? (size_t)(ap->signed_len - off) : SINK_BUF;
			got = pread(k->fd, k->buf, n, (off_t)off);
			if (got <= 0) {
				ret = -1;
				break;
			}
			ret |= mbedtls_sha256_update_ret(&all, k->buf, (size_t)got);
		}
	}
	mbedtls_sha256_clone(&file, &all);
	ret |= mbedtls_sha256_finish_ret(&all, d->signed_);
	{
		uint8_t t[TRAILER_SIZE];

		memcpy(t, bundle_trailer_magic, sizeof(bundle_trailer_magic));
		st16(t + sizeof(bundle_trailer_magic), (uint16_t)ap->d->full_sig_len);
		ret |= mbedtls_sha256_update_ret(&file, t, sizeof(t));
		ret |= mbedtls_sha256_update_ret(&file, ap->d->full_sig, ap->d->full_sig_len);
	}
	ret |= mbedtls_sha256_finish_ret(&file, d->file);
	mbedtls_sha256_free(&all);
	mbedtls_sha256_free(&file);
	d->signed_len = ap->signed_len;
	d->len = ap->len;
	return ret ? -EIO : 0;
}

static enum bundle_err apply(const struct bundle *cur, const struct bundle *delta, const uint8_t *pubkey,
			     size_t pubkey_len, struct msink *k, uint8_t **mem, struct bundle_digests *dg)
{
	uint32_t count[TAB_MAX][2];
	uint8_t hdr[HDR_SIZE];
	struct bundle_digests dd;
	struct apply ap;
	enum bundle_err err;

	if (cur->delta || !delta->delta)
		return BUNDLE_ERR_KIND;
	if (delta->info.base_serial != cur->info.serial)
		return BUNDLE_ERR_BASE;
	memset(&ap, 0, sizeof(ap));
	ap.cur = cur;
	ap.d = delta;
	err = BUNDLE_ERR_NOMEM;
	ap.map_o = malloc(((size_t)cur->nmeta + 1) * sizeof(uint32_t));
	ap.map_d = malloc(((size_t)delta->nmeta + 1) * sizeof(uint32_t));
	ap.idx = malloc((((size_t)1 << 16) + 1) * sizeof(uint32_t));
	if (!ap.map_o || !ap.map_d || !ap.idx)
		goto out;
	memset(ap.map_o, 0xff, ((size_t)cur->nmeta + 1) * sizeof(uint32_t));
	memset(ap.map_d, 0xff, ((size_t)delta->nmeta + 1) * sizeof(uint32_t));
	err = count_entries(&ap, count);
	if (err != BUNDLE_OK)
		goto out;
	merge_metas(&ap, NULL);
	place_sections(&ap, count);
	if (ap.len > SIZE_MAX) {
		err = BUNDLE_ERR_NOMEM;
		goto out;
	}
	if (mem) {
		*mem = malloc((size_t)ap.len);
		if (!*mem) {
			err = BUNDLE_ERR_NOMEM;
			goto out;
		}
		k->mem = *mem;
	}
	k->signed_len = ap.signed_len;
	mbedtls_sha256_init(&k->body);
	if (mbedtls_sha256_starts_ret(&k->body, 0))
		k->err = -EIO;
	put_body(&ap, k);
	put_trailer(&ap, k);
	sink_flush(k);
	if (!k->err && mbedtls_sha256_finish_ret(&k->body, hdr + H_BODY_HASH))
		k->err = -EIO;
	mbedtls_sha256_free(&k->body);
	/* the header again, now with its body hash */
	if (!k->err) {
		uint8_t body_hash[32];

		memcpy(body_hash, hdr + H_BODY_HASH, 32);
		put_header(&ap, hdr);
		memcpy(hdr + H_BODY_HASH, body_hash, 32);
		if (k->fd < 0)
			memcpy(k->mem, hdr, HDR_SIZE);
		else if (pwrite(k->fd, hdr, HDR_SIZE, 0) != (ssize_t)HDR_SIZE)
			k->err = -EIO;
	}
	if (!k->err && k->off != ap.len)
		k->err = -EIO;
	if (k->err || digest_signed(&ap, k, hdr, &dd)) {
		err = k->err == -ENOMEM ? BUNDLE_ERR_NOMEM : BUNDLE_ERR_IO;
		goto out;
	}
	memcpy(dd.body, hdr + H_BODY_HASH, 32);
	err = bundle_verify_digest(pubkey, pubkey_len, dd.signed_, delta->full_sig, delta->full_sig_len);
	if (err == BUNDLE_OK && dg)
		*dg = dd;
out:
	if (err != BUNDLE_OK && mem) {
		free(*mem);
		*mem = NULL;
	}
	free(ap.map_o);
	free(ap.map_d);
	free(ap.idx);
	return err;
}

enum bundle_err bundle_apply_delta(const struct bundle *current, const struct bundle *delta,
				   const uint8_t *pubkey, size_t pubkey_len, uint8_t **out,
				   size_t *out_len)
{
	struct bundle_digests d;
	struct msink k = { .fd = -1 };
	enum bundle_err err;

	*out = NULL;
	err = apply(current, delta, pubkey, pubkey_len, &k, out, &d);
	if (err == BUNDLE_OK)
		*out_len = (size_t)d.len;
	return err;
}

enum bundle_err bundle_apply_delta_file(const struct bundle *current, const struct bundle *delta,
					const uint8_t *pubkey, size_t pubkey_len, const char *path,
					struct bundle_digests *d)
{
	struct msink k = { .fd = -1 };
	enum bundle_err err;

	k.buf = malloc(SINK_BUF);
	if (!k.buf)
		return BUNDLE_ERR_NOMEM;
	k.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (k.fd < 0) {
		free(k.buf);
		return BUNDLE_ERR_IO;
	}
	err = apply(current, delta, pubkey, pubkey_len, &k, NULL, d);
	if (err == BUNDLE_OK && fsync(k.fd) < 0)
		err = BUNDLE_ERR_IO;
	if (close(k.fd) < 0 && err == BUNDLE_OK)
		err = BUNDLE_ERR_IO;
	if (err != BUNDLE_OK)
		unlink(path);
	free(k.buf);
	return err;
}

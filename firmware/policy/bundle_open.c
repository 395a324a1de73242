/*
 * Blocklist bundles, opening: the validator, the opened bundle's accessors
 * and the gateway's acceptance rules (bundle.h, "reading").
 *
 * Why it is built this way:
 *
 * - Opening is the only O(n) step on the gateway: it checks every byte a
 *   lookup could later trust (offsets, counts, ordering, meta indices,
 *   parent links, index tables) so that lookups do no bounds checks of their
 *   own and still cannot read outside the file, even from a malicious file
 *   that carries a valid signature. It accepts exactly what the encoder
 *   produces (canonical layout, zero padding, only used metas...), so a
 *   bundle that opens, reloaded into a builder and encoded again, gives back
 *   the same bytes: the fuzzer checks that.
 * - Integers in the file are little-endian and read through memcpy, which
 *   compilers turn into plain loads: an mmap'ed file is page aligned and
 *   sections are 8-aligned, but a caller's buffer need not be.
 * - The file is hashed once, at open (body hash, signed digest and the
 *   file's SHA-256 in one pass), so checking the signature later is O(1).
 * - A candidate that arrives while another list is in force is opened lean
 *   (bundle_open_file_digests): mapped without MAP_POPULATE and checked in
 *   windows, the pages behind each window dropped again (MADV_DONTNEED: a
 *   private read-only file mapping reads them back from the page cache if
 *   touched), so checking a 25 MB list adds about 1 MiB to the process,
 *   not 25. bundle_populate() maps its pages in once the old list is closed.
 * - A bundle opened from its file the plain way (at start, SIGHUP, replay)
 *   is mapped with MAP_POPULATE, so the check reads it in one go, and its
 *   pages are given back once it is checked: lookups map in again the
 *   part they use (a 100k-flow replay about half of a 25 MB list), which
 *   is all the process then holds of it (docs/benchmarks.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "policy/bundle_priv.h"

/*
 * A lean open drops what it has checked every LEAN_STEP entries of a
 * section (and every hash chunk): 32768 entries are at most 768 KiB of
 * records, so the window stays near 1 MiB whatever the list's size.
 */
#define LEAN_STEP 32768u

/* Drop the whole pages of [from, to) from a lean bundle's mapping. */
static void lean_drop(const struct bundle *b, const uint8_t *from, const uint8_t *to)
{
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)from + pg - 1) & ~(pg - 1), hi = (uintptr_t)to & ~(pg - 1);

	if (!b->lean || !b->map || hi <= lo)
		return;
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Entries [0, i) of an array of `w`-byte elements at p are checked. */
static void lean_step(const struct bundle *b, uint32_t i, const uint8_t *p, size_t w)
{
	if (b->lean && p && i && i % LEAN_STEP == 0)
		lean_drop(b, p, p + (size_t)i * w);
}


/* The index must say, for each bucket t, how many entries have top bits < t. */
static bool check_idx_table(const struct bsec *s)
{
	uint32_t prev = 0, v;
	size_t t, nb = (size_t)1 << s->bits;

	if (ld32(s->idx) != 0 || ld32(s->idx + 4 * nb) != s->n)
		return false;
	for (t = 0; t <= nb; t++) {
		v = ld32(s->idx + 4 * t);
		if (v < prev)
			return false;
		prev = v;
	}
	return true;
}

static bool check_idx_entry(const struct bsec *s, uint32_t i, uint64_t key)
{
	uint32_t lo, hi;

	bucket(s, key, &lo, &hi);
	return lo <= i && i < hi;
}

/* Meta index of an entry of (tab, list): in range, fitting the list, and now used. */
static bool check_meta_ref(const struct bundle *b, unsigned tab, unsigned list, uint32_t mi,
			   uint8_t *used)
{
	struct bundle_meta m;

	if (mi >= b->nmeta)
		return false;
	meta_read(b, mi, &m);
	if (!meta_ok(&m, tab, list & LIST_ALLOW))
		return false;
	used[mi / 8] |= (uint8_t)(1u << (mi % 8));
	return true;
}

static bool check_meta_table(const struct bundle *b)
{
	struct bundle_meta prev = { 0 }, m;
	const uint8_t *p;
	uint32_t i;

	for (i = 0; i < b->nmeta; i++) {
		p = b->meta + (size_t)i * META_SIZE;
		meta_read(b, i, &m);
		if (p[10] || p[11] || m.action < BUNDLE_ACT_BLOCK || m.action > BUNDLE_ACT_ALLOW ||
		    (m.flags & ~BUNDLE_F_EXACT))
			return false;
		if (i && meta_cmp(&prev, &m) >= 0)
			return false;
		prev = m;
	}
	return true;
}

static bool check_ip(const struct bundle *b, unsigned tab, unsigned list, uint8_t *used)
{
	const struct bsec *s = &b->sec[tab][list];
	bool del = list & LIST_DEL;
	unsigned kb = ip_key_bytes[tab];
	struct pstack st;
	struct pfx p, prev = { 0 };
	const uint8_t *r;
	uint32_t i;

	st.n = 0;
	if (!del && !check_idx_table(s))
		return false;
	for (i = 0; i < s->n; i++) {
		r = s->a + (size_t)i * s->esize;
		ip_get(s, tab, del, i, &p);
		if (!pfx_plen_ok(tab, p.plen) || !pfx_host_bits_zero(&p) ||
		    (del && !all_zero(r + kb + 1, s->esize - kb - 1)))
			return false;
		if (i && pfx_cmp(&prev, &p) >= 0)
			return false;
		prev = p;
		if (del)
			continue;
		if (!check_meta_ref(b, tab, list, ip_meta(s, tab, i), used) ||
		    ip_parent(s, tab, i) != pstack_push(&st, i, &p) || !check_idx_entry(s, i, p.hi))
			return false;
		lean_step(b, i, s->a, s->esize);
	}
	return true;
}

/*
 * The filter of a domain entry section (bundle_priv.h, dom_filter_*): the
 * smallest power of two of 64-bit words with at least 8 bits per entry.
 * Without the RAM for it the section has none and lookups search the list
 * for every suffix, as they did before there were filters.
 */
static void dom_filter_alloc(struct bsec *s)
{
	size_t words = 1;

	if (s->n < DOM_FILTER_MIN)
		return;
	while (words * 8 < s->n)
		words *= 2;
	s->filt = calloc(words, sizeof(*s->filt));
	s->filt_mask = s->filt ? (uint32_t)(words - 1) : 0;
}

static void dom_filter_free(struct bundle *b)
{
	for (unsigned list = 0; list < NLISTS; list++) {
		free(b->sec[TAB_DOM][list].filt);
		b->sec[TAB_DOM][list].filt = NULL;
	}
}

static bool check_domains(struct bundle *b, unsigned list, uint8_t *used)
{
	struct bsec *s = &b->sec[TAB_DOM][list];
	bool del = list & LIST_DEL;
	uint64_t h, prev = 0;
	unsigned t = 0;
	uint32_t i;

	if (!del && !check_idx_table(s))
		return false;
	if (!del)
		dom_filter_alloc(s);
	for (i = 0; i < s->n; i++) {
		if (del) {
			h = ld64(s->a + 8 * (size_t)i);
		} else {
			/* the index is monotone and ends with n > i: this stops */
			while (ld32(s->idx + 4 * ((size_t)t + 1)) <= i)
				t++;
			h = dom_full(s, t, i);
			/* the stored bytes must agree with the bucket where they overlap */
			if (top_bits(h, s->bits) != t)
				return false;
			if (s->filt)
				s->filt[(uint32_t)h & s->filt_mask] |= dom_filter_bits(h);
		}
		if (i && h <= prev)
			return false;
		prev = h;
		if (!del && !check_meta_ref(b, TAB_DOM, list, ld32(s->meta + 4 * (size_t)i), used))
			return false;
		lean_step(b, i, s->a, del ? 8 : s->kw);
		lean_step(b, i, s->chk, 8);
		lean_step(b, i, s->meta, 4);
	}
	return true;
}

static bool check_keyed(const struct bundle *b, unsigned tab, unsigned list, uint8_t *used)
{
	const struct bsec *s = &b->sec[tab][list];
	size_t ks = tab == TAB_JA3 ? 16 : 32;
	const uint8_t *k;
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		k = s->a + ks * i;
		if (tab != TAB_JA3 && !bundle_name_ok(k))
			return false;
		if (i && memcmp(k - ks, k, ks) >= 0)
			return false;
		if (!(list & LIST_DEL) &&
		    !check_meta_ref(b, tab, list, ld32(s->meta + 4 * (size_t)i), used))
			return false;
		lean_step(b, i, s->a, ks);
		lean_step(b, i, s->meta, 4);
	}
	return true;
}

/* Header fields and the trailer: everything that is O(1) to check. */
static enum bundle_err parse_header(struct bundle *b, uint32_t *nsect)
{
	const uint8_t *d = b->data;
	uint64_t signed_len;
	size_t siglen;
	uint16_t flags;

	if (b->len < sizeof(bundle_magic))
		return BUNDLE_ERR_TRUNCATED;
	if (memcmp(d + H_MAGIC, bundle_magic, sizeof(bundle_magic)) != 0)
		return BUNDLE_ERR_MAGIC;
	if (b->len < HDR_SIZE)
		return BUNDLE_ERR_TRUNCATED;
	if (ld16(d + H_VERSION) != FORMAT_VERSION)
		return BUNDLE_ERR_VERSION;
	flags = ld16(d + H_FLAGS);
	b->delta = flags & FLAG_DELTA;
	if ((flags & ~FLAG_DELTA) || ld32(d + H_HSIZE) != HDR_SIZE || ld32(d + H_RSVD))
		return BUNDLE_ERR_MALFORMED;
	memcpy(b->info.region, d + H_REGION, BUNDLE_REGION_MAX + 1);
	if (!bundle_region_ok(b->info.region, BUNDLE_REGION_MAX + 1) ||
	    !all_zero(d + H_REGION + strlen(b->info.region), BUNDLE_REGION_MAX + 1 - strlen(b->info.region)))
		return BUNDLE_ERR_MALFORMED;
	b->info.serial = ld64(d + H_SERIAL);
	b->info.base_serial = ld64(d + H_BASE);
	b->info.created = ld64(d + H_CREATED);
	b->info.expires = ld64(d + H_EXPIRES);
	if (!bundle_info_ok(&b->info, b->delta))
		return BUNDLE_ERR_MALFORMED;
	*nsect = ld32(d + H_NSECT);
	signed_len = ld64(d + H_SIGNED);
	if (*nsect > MAX_SECTIONS || signed_len % 8 || signed_len < HDR_SIZE + SECT_SIZE * *nsect)
		return BUNDLE_ERR_MALFORMED;
	if (signed_len > b->len - TRAILER_SIZE)
		return BUNDLE_ERR_TRUNCATED;
	b->signed_len = (size_t)signed_len;
	if (memcmp(d + b->signed_len, bundle_trailer_magic, sizeof(bundle_trailer_magic)) != 0)
		return BUNDLE_ERR_MALFORMED;
	siglen = ld16(d + b->signed_len + sizeof(bundle_trailer_magic));
	if (siglen > b->len - b->signed_len - TRAILER_SIZE)
		return BUNDLE_ERR_TRUNCATED;
	if (siglen < b->len - b->signed_len - TRAILER_SIZE)
		return BUNDLE_ERR_MALFORMED;
	b->sig = d + b->signed_len + TRAILER_SIZE;
	b->sig_len = siglen;
	return BUNDLE_OK;
}

/* The section table: canonical order, contiguous 8-aligned sections, exact sizes. */
static enum bundle_err parse_sections(struct bundle *b, uint32_t nsect)
{
	const uint8_t *d = b->data, *e;
	uint64_t off = HDR_SIZE + (uint64_t)SECT_SIZE * nsect, soff, slen;
	unsigned type, list, prev_key = 0, key, tab;
	uint32_t i, count, esize, bits;
	bool entries = false;
	struct layout l;
	struct bsec *s;

	for (i = 0; i < nsect; i++) {
		e = d + HDR_SIZE + (size_t)SECT_SIZE * i;
		type = ld32(e + S_TYPE);
		list = ld32(e + S_LIST);
		soff = ld64(e + S_OFF);
		slen = ld64(e + S_LEN);
		count = ld32(e + S_COUNT);
		esize = ld16(e + S_ESIZE);
		bits = e[S_BITS];
		if (type < ST_META || type > ST_FULLSIG || list >= NLISTS || e[S_RSVD] || count == 0)
			return BUNDLE_ERR_MALFORMED;
		key = type * NLISTS + list;
		if (key <= prev_key || soff != off || slen > b->signed_len - soff)
			return BUNDLE_ERR_MALFORMED;
		prev_key = key;
		if (type == ST_META) {
			if (list || esize != META_SIZE || bits || slen != (uint64_t)META_SIZE * count)
				return BUNDLE_ERR_MALFORMED;
			b->meta = d + soff;
			b->nmeta = count;
		} else if (type == ST_FULLSIG) {
			if (!b->delta || list || count != 1 || esize != slen || slen == 0 ||
			    slen > SIG_MAX || bits)
				return BUNDLE_ERR_MALFORMED;
			b->full_sig = d + soff;
			b->full_sig_len = (size_t)slen;
		} else {
			tab = type - ST_TAB;
			if ((list & LIST_DEL) && !b->delta)
				return BUNDLE_ERR_MALFORMED;
			bundle_layout(tab, list, count, &l);
			if (esize != l.esize || bits != l.bits || slen != l.len ||
			    (tab <= TAB_V6L && !(list & LIST_DEL) && count > IP_MAX_ENTRIES))
				return BUNDLE_ERR_MALFORMED;
			/* padding between arrays */
			if (!all_zero(d + soff + l.pad, (size_t)(l.pad_end - l.pad)) ||
			    (tab == TAB_DOM && !(list & LIST_DEL) &&
			     !all_zero(d + soff + l.meta + 4ull * count, (size_t)(l.idx - l.meta - 4ull * count))))
				return BUNDLE_ERR_MALFORMED;
			s = &b->sec[tab][list];
			s->a = d + soff;
			s->chk = l.chk ? d + soff + l.chk : NULL;
			s->meta = l.meta ? d + soff + l.meta : NULL;
			s->idx = tab <= TAB_DOM && !(list & LIST_DEL) ? d + soff + l.idx : NULL;
			s->n = count;
			s->esize = esize;
			s->bits = l.bits;
			s->kw = l.kw;
			if (!(list & LIST_DEL))
				entries = true;
		}
		off = align8(soff + slen);
		if (off > b->signed_len || !all_zero(d + soff + slen, (size_t)(off - soff - slen)))
			return BUNDLE_ERR_MALFORMED;
	}
	if (off != b->signed_len || entries != (b->meta != NULL) || b->delta != (b->full_sig != NULL))
		return BUNDLE_ERR_MALFORMED;
	return BUNDLE_OK;
}

/*
 * Body hash (checked against the header), the digest the signature covers
 * and the file's SHA-256, in one pass over the file so it is read once.
 */
static enum bundle_err hash_file(struct bundle *b)
{
	const size_t chunk = (size_t)256 * 1024;
	mbedtls_sha256_context body, all, file;
	uint8_t body_hash[32];
	size_t off, n;
	int ret = 0;

	if (b->given && b->given->len == b->len && b->given->signed_len == b->signed_len) {
		memcpy(b->signed_hash, b->given->signed_, 32);
		memcpy(b->file_hash, b->given->file, 32);
		return memcmp(b->given->body, b->data + H_BODY_HASH, 32) ? BUNDLE_ERR_HASH : BUNDLE_OK;
	}
	mbedtls_sha256_init(&body);
	mbedtls_sha256_init(&all);
	mbedtls_sha256_init(&file);
	ret |= mbedtls_sha256_starts_ret(&body, 0);
	ret |= mbedtls_sha256_starts_ret(&all, 0);
	ret |= mbedtls_sha256_update_ret(&all, b->data, HDR_SIZE);
	for (off = HDR_SIZE; off < b->signed_len; off += n) {
		n = b->signed_len - off < chunk ? b->signed_len - off : chunk;
		ret |= mbedtls_sha256_update_ret(&body, b->data + off, n);
		ret |= mbedtls_sha256_update_ret(&all, b->data + off, n);
		lean_drop(b, b->data + HDR_SIZE, b->data + off + n);
	}
	ret |= mbedtls_sha256_finish_ret(&body, body_hash);
	mbedtls_sha256_clone(&file, &all);
	ret |= mbedtls_sha256_finish_ret(&all, b->signed_hash);
	ret |= mbedtls_sha256_update_ret(&file, b->data + b->signed_len, b->len - b->signed_len);
	ret |= mbedtls_sha256_finish_ret(&file, b->file_hash);
	mbedtls_sha256_free(&body);
	mbedtls_sha256_free(&all);
	mbedtls_sha256_free(&file);
	if (ret)
		return BUNDLE_ERR_NOMEM;
	return memcmp(body_hash, b->data + H_BODY_HASH, 32) ? BUNDLE_ERR_HASH : BUNDLE_OK;
}

/* Contents of every section; then every meta must have been used. */
static enum bundle_err check_contents(struct bundle *b)
{
	uint8_t *used = NULL;
	enum bundle_err err = BUNDLE_ERR_MALFORMED;
	unsigned tab, list;
	bool ok = true;
	uint32_t i;

	if (b->nmeta) {
		used = calloc((b->nmeta + 7) / 8, 1);
		if (!used)
			return BUNDLE_ERR_NOMEM;
	}
	if (!check_meta_table(b))
		goto out;
	for (tab = 0; tab < TAB_MAX && ok; tab++) {
		for (list = 0; list < NLISTS && ok; list++) {
			const struct bsec *s = &b->sec[tab][list];

			if (!s->n)
				continue;
			if (tab <= TAB_V6L)
				ok = check_ip(b, tab, list, used);
			else if (tab == TAB_DOM)
				ok = check_domains(b, list, used);
			else
				ok = check_keyed(b, tab, list, used);
			/* the section is checked: its index and last window go too */
			if (b->lean)
				lean_drop(b, s->a, b->data + b->signed_len);
		}
	}
	if (!ok)
		goto out;
	for (i = 0; i < b->nmeta; i++)
		if (!(used[i / 8] & (1u << (i % 8))))
			goto out;
	err = BUNDLE_OK;
out:
	free(used);
	return err;
}

static enum bundle_err bundle_parse(struct bundle *b)
{
	enum bundle_err err;
	uint32_t nsect;

	err = parse_header(b, &nsect);
	if (err == BUNDLE_OK)
		err = parse_sections(b, nsect);
	if (err == BUNDLE_OK)
		err = hash_file(b);
	if (err == BUNDLE_OK)
		err = check_contents(b);
	if (b->lean)
		lean_drop(b, b->data, b->data + b->len);
	return err;
}

static enum bundle_err open_mem(const void *data, size_t len, const struct bundle_digests *given,
				void *map, struct bundle **out)
{
	struct bundle *b;
	enum bundle_err err;

	*out = NULL;
	if (!data && len)
		return BUNDLE_ERR_IO;
	b = calloc(1, sizeof(*b));
	if (!b)
		return BUNDLE_ERR_NOMEM;
	b->data = data;
	b->len = len;
	b->given = given;
	/* lean: a mapping made without MAP_POPULATE (bundle_open_file_digests) */
	b->map = map;
	b->map_len = map ? len : 0;
	b->lean = map != NULL;
	err = bundle_parse(b);
	b->given = NULL;
	if (err != BUNDLE_OK) {
		dom_filter_free(b);
		free(b);
		return err;
	}
	*out = b;
	return BUNDLE_OK;
}

enum bundle_err bundle_open_mem(const void *data, size_t len, struct bundle **out)
{
	return open_mem(data, len, NULL, NULL, out);
}

/*
 * The file is mapped private and read-only. Writers replace bundle files by
 * rename (never in place), so the mapped inode does not change under us.
 */
static enum bundle_err open_file(const char *path, const struct bundle_digests *d, bool lean,
				 struct bundle **out)
{
	enum bundle_err err;
	struct stat st;
	void *map;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BUNDLE_ERR_IO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return BUNDLE_ERR_IO;
	}
	if (st.st_size == 0) {
		close(fd);
		return BUNDLE_ERR_TRUNCATED;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | (lean ? 0 : MAP_POPULATE), fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return BUNDLE_ERR_IO;
	err = open_mem(map, (size_t)st.st_size, d, lean ? map : NULL, out);
	if (err != BUNDLE_OK) {
		munmap(map, (size_t)st.st_size);
		return err;
	}
	(*out)->map = map;
	(*out)->map_len = (size_t)st.st_size;
	/*
	 * The check has read every page; a lookup reads a few. The pages are
	 * given back (a private read-only file mapping: they stay in the page
	 * cache, and a lookup that touches one maps it again with its
	 * neighbours, a minor fault), so the process holds the part of the
	 * list its traffic uses, not the whole file: a replay of 100k flows
	 * touches about half of a 25 MB list. A lean open keeps its pages out
	 * until bundle_populate().
	 */
	if (!lean)
		madvise(map, (size_t)st.st_size, MADV_DONTNEED);
	return BUNDLE_OK;
}

enum bundle_err bundle_open_file(const char *path, struct bundle **out)
{
	return open_file(path, NULL, false, out);
}

enum bundle_err bundle_open_file_digests(const char *path, const struct bundle_digests *d,
					 struct bundle **out)
{
	return open_file(path, d, true, out);
}

/*
 * The lean bundle's pages mapped in one call (Linux 5.14+), else a read per
 * page: after this, lookups take no page faults and RSS holds the list.
 * Done for a swap, where every open flow is looked up at once.
 */
void bundle_populate(struct bundle *b)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	volatile uint8_t sink = 0;
	size_t off;

	if (!b || !b->lean || !b->map)
		return;
	b->lean = false;
#ifdef MADV_POPULATE_READ
	if (madvise(b->map, b->map_len, MADV_POPULATE_READ) == 0)
		return;
#endif
	for (off = 0; off < b->map_len; off += pg)
		sink ^= b->data[off];
	(void)sink;
}

void bundle_close(struct bundle *b)
{
	if (!b)
		return;
	if (b->map)
		munmap(b->map, b->map_len);
	dom_filter_free(b);
	free(b);
}

const struct bundle_info *bundle_get_info(const struct bundle *b)
{
	return &b->info;
}

bool bundle_is_delta(const struct bundle *b)
{
	return b->delta;
}

const uint8_t *bundle_data(const struct bundle *b, size_t *len)
{
	if (len)
		*len = b->len;
	return b->data;
}

void bundle_sha256(const struct bundle *b, uint8_t out[32])
{
	memcpy(out, b->file_hash, 32);
}

size_t bundle_count(const struct bundle *b, enum bundle_kind kind, bool allow)
{
	switch (kind) {
	case BUNDLE_IPV4:
		return b->sec[TAB_V4][allow].n;
	case BUNDLE_IPV6:
		return (size_t)b->sec[TAB_V6S][allow].n + b->sec[TAB_V6L][allow].n;
	case BUNDLE_DOMAIN:
		return b->sec[TAB_DOM][allow].n;
	case BUNDLE_PROTO:
		return b->sec[TAB_PROTO][allow].n;
	case BUNDLE_CATEGORY:
		return b->sec[TAB_CAT][allow].n;
	case BUNDLE_JA3:
		return b->sec[TAB_JA3][allow].n;
	default:
		return 0;
	}
}

size_t bundle_filter_bytes(const struct bundle *b)
{
	size_t n = 0;

	for (unsigned list = 0; list < NLISTS; list++)
		if (b->sec[TAB_DOM][list].filt)
			n += ((size_t)b->sec[TAB_DOM][list].filt_mask + 1) * sizeof(uint64_t);
	return n;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

enum bundle_err bundle_check(const struct bundle *b, const uint8_t *pubkey, size_t pubkey_len,
			     const char *region, uint64_t in_force_serial, uint64_t now_s,
			     uint64_t skew_s)
{
	enum bundle_err err = bundle_verify(b, pubkey, pubkey_len);

	if (err != BUNDLE_OK)
		return err;
	if (region && strcmp(region, b->info.region) != 0)
		return BUNDLE_ERR_REGION;
	if (b->delta)
		return BUNDLE_ERR_KIND;
	if (now_s >= add_sat(b->info.expires, skew_s))
		return BUNDLE_ERR_EXPIRED;
	if (b->info.created > add_sat(now_s, skew_s))
		return BUNDLE_ERR_NOT_YET;
	if (b->info.serial <= in_force_serial)
		return BUNDLE_ERR_STALE;
	return BUNDLE_OK;
}

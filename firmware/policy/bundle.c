/*
 * Blocklist bundles: the one encoder, the validator and the in-place
 * matchers. bundle.h is the contract; docs/bundle-format.md the byte layout.
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
 * - Lookups read the file in place: a sorted array per list, with a small
 *   table on the top bits of the key so a binary search covers ~8-16
 *   entries, i.e. a couple of cache misses per probe.
 * - Prefixes are nested or disjoint, so each one records its nearest
 *   enclosing prefix (parent) at build time: the longest match is the last
 *   prefix starting at or before the address, or one of its ancestors.
 * - Domains are SipHash-2-4 of the normalised name under a fixed, published
 *   key (the file must mean the same thing on every gateway). Allow lists
 *   also carry a second, independent 64-bit hash (see allow_check_key).
 * - The builder keeps one hash table per (kind, list) for "last wins", and
 *   metas interned once; the encoder sorts, deduplicates metas and writes.
 *   Applying a delta reuses the same builder and encoder, so the result is
 *   byte for byte what the hub built and signed, and its signature proves it.
 *
 * mbedTLS (SHA-256, ECDSA P-256) is used only in this file.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "core/common.h"
#include "core/siphash.h"
#include "packet/flow.h"
#include "policy/bundle.h"

/* ---------------------------------------------------------------- format */

#define FORMAT_VERSION 1u
#define HDR_SIZE 128u
#define SECT_SIZE 32u
#define FLAG_DELTA 0x0001u
#define TRAILER_SIZE 8u
/* 1 meta + 7 kinds x 4 lists + 1 carried signature, with room to spare */
#define MAX_SECTIONS 32u
/* a DER ECDSA P-256 signature is at most 72 bytes; any key type mbedTLS knows fits */
#define SIG_MAX ((size_t)BUNDLE_SIG_MAX)
#define NO_PARENT UINT32_MAX
/*
 * An IP record keeps its prefix length in the top byte of the parent word:
 * no padding, so a record is its key plus 8 bytes. Parents are then 24-bit
 * indices (0xFFFFFF = none), so an IP section holds at most 2^24 - 1 entries.
 */
#define IP_NO_PARENT 0xFFFFFFu
#define IP_MAX_ENTRIES 0xFFFFFFu
#define META_SIZE 12u
/* at most 129 nested prefixes (/0 ... /128) */
#define MAX_DEPTH 130u

static const uint8_t bundle_magic[8] = { 'T', 'G', 'B', 'U', 'N', 'D', 'L', 'E' };
static const uint8_t trailer_magic[6] = { 'T', 'G', 'S', 'I', 'G', 0 };

/* Header fields (byte offsets); see docs/bundle-format.md. */
enum {
	H_MAGIC = 0,
	H_VERSION = 8,
	H_FLAGS = 10,
	H_HSIZE = 12,
	H_REGION = 16,
	H_SERIAL = 48,
	H_BASE = 56,
	H_CREATED = 64,
	H_EXPIRES = 72,
	H_SIGNED = 80,
	H_NSECT = 88,
	H_RSVD = 92,
	H_BODY_HASH = 96,
};

/* Section table entry fields. */
enum {
	S_TYPE = 0,
	S_LIST = 4,
	S_OFF = 8,
	S_LEN = 16,
	S_COUNT = 24,
	S_ESIZE = 28,
	S_BITS = 30,
	S_RSVD = 31,
};

/* Section types: META, then one per table (type = ST_TAB + tab), then the
 * full bundle's signature carried by a delta. */
#define ST_META 1u
#define ST_TAB 2u
#define ST_FULLSIG 9u

/* Internal tables: IPv6 is split at /64 so most v6 keys take 8 bytes. */
enum tab { TAB_V4, TAB_V6S, TAB_V6L, TAB_DOM, TAB_PROTO, TAB_CAT, TAB_JA3, TAB_MAX };

/* Section list: bit 0 = allow list, bit 1 = removals (deltas only). */
#define LIST_ALLOW 1u
#define LIST_DEL 2u
#define NLISTS 4u

/* Key bytes of an IP record (v4 address, v6 upper half, whole v6 address). */
static const uint8_t ip_key_bytes[3] = { 4, 8, 16 };

/*
 * SipHash-2-4 keys of domain entries, fixed and published so that every
 * gateway computes the same hash: ASCII "townguard-domain" and, for the
 * second hash allow lists carry, "townguard-check!".
 */
static const uint8_t domain_key[16] = { 0x74, 0x6f, 0x77, 0x6e, 0x67, 0x75, 0x61, 0x72,
					0x64, 0x2d, 0x64, 0x6f, 0x6d, 0x61, 0x69, 0x6e };
static const uint8_t allow_check_key[16] = { 0x74, 0x6f, 0x77, 0x6e, 0x67, 0x75, 0x61, 0x72,
					     0x64, 0x2d, 0x63, 0x68, 0x65, 0x63, 0x6b, 0x21 };

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint64_t ldbe64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void stbe64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint64_t align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/*
 * Bits of the top-bits index of a section of n entries: buckets of 8 to 16
 * entries on average, at most 2^16 buckets (256 KiB for a million entries),
 * none below 16 entries. A function of n alone, so the layout is canonical.
 */
static unsigned idx_bits(uint64_t n)
{
	unsigned lg;

	if (n < 16)
		return 0;
	lg = 63u - (unsigned)__builtin_clzll(n);
	return lg - 3 > 16 ? 16 : lg - 3;
}

/*
 * Bytes kept of each domain hash in an entry section with a `bits` index:
 * the top 8 * (bits / 8) bits of a hash are those of its bucket number, so
 * they are not stored (6 bytes per hash from 2^19 entries, 7 from 2^11).
 */
static unsigned dom_key_bytes(unsigned bits)
{
	return 8 - bits / 8;
}

/* Where the arrays of a section are, from its type, list and count. */
struct layout {
	uint32_t esize; /* entry size recorded in the section table */
	unsigned bits;  /* top-bits index size, 0 = no index */
	unsigned kw;    /* domain entries: bytes per stored hash */
	uint64_t pad;   /* zero bytes from here ... */
	uint64_t pad_end; /* ... to here (between two arrays) */
	uint64_t chk;   /* domain allow list: check hashes */
	uint64_t meta;  /* domain, JA3, names: meta indices (IP records embed theirs) */
	uint64_t idx;   /* index table, if any */
	uint64_t len;   /* bytes of the section, before its padding to 8 */
};

static void layout(unsigned tab, unsigned list, uint64_t n, struct layout *l)
{
	bool del = list & LIST_DEL;

	memset(l, 0, sizeof(*l));
	switch (tab) {
	case TAB_V4:
	case TAB_V6S:
	case TAB_V6L:
		if (del) {
			l->esize = (uint32_t)align8(ip_key_bytes[tab] + 1u);
			l->len = n * l->esize;
			return;
		}
		l->esize = ip_key_bytes[tab] + 8u;
		l->pad = n * l->esize;
		l->idx = align8(l->pad);
		l->pad_end = l->idx;
		break;
	case TAB_DOM:
		if (del) {
			l->esize = 8;
			l->len = 8 * n;
			return;
		}
		l->bits = idx_bits(n);
		l->kw = dom_key_bytes(l->bits);
		l->esize = l->kw + 4;
		l->pad = l->kw * n;
		if (list & LIST_ALLOW) {
			l->esize += 8;
			l->chk = align8(l->pad);
			l->pad_end = l->chk;
			l->meta = l->chk + 8 * n;
		} else {
			l->meta = align8(l->pad);
			l->pad_end = l->meta;
		}
		l->idx = align8(l->meta + 4 * n);
		/* the meta array is followed by at most 4 zero bytes, checked with the rest */
		break;
	case TAB_JA3:
		l->esize = del ? 16 : 20;
		l->meta = 16 * n;
		l->len = l->esize * n;
		return;
	default: /* protocol and category names */
		l->esize = del ? 32 : 36;
		l->meta = 32 * n;
		l->len = l->esize * n;
		return;
	}
	l->bits = idx_bits(n);
	l->len = l->idx + 4 * ((1ull << l->bits) + 1);
}

/* ---------------------------------------------------------------- prefixes */

/* A prefix as a left-aligned 128-bit key: IPv4 a.b.c.d is hi = a.b.c.d << 32. */
struct pfx {
	uint64_t hi, lo;
	unsigned plen;
};

static void pfx_mask(unsigned plen, uint64_t *mhi, uint64_t *mlo)
{
	*mhi = plen == 0 ? 0 : plen >= 64 ? UINT64_MAX : ~(UINT64_MAX >> plen);
	*mlo = plen <= 64 ? 0 : plen >= 128 ? UINT64_MAX : ~(UINT64_MAX >> (plen - 64));
}

static bool pfx_covers(const struct pfx *p, uint64_t hi, uint64_t lo)
{
	uint64_t mhi, mlo;

	pfx_mask(p->plen, &mhi, &mlo);
	return (hi & mhi) == p->hi && (lo & mlo) == p->lo;
}

static bool pfx_host_bits_zero(const struct pfx *p)
{
	return pfx_covers(p, p->hi, p->lo);
}

/* Canonical order: by address, then by length (enclosing prefix first). */
static int pfx_cmp(const struct pfx *a, const struct pfx *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return 0;
}

static bool pfx_plen_ok(unsigned tab, unsigned plen)
{
	switch (tab) {
	case TAB_V4:
		return plen <= 32;
	case TAB_V6S:
		return plen <= 64;
	default:
		return plen > 64 && plen <= 128;
	}
}

/*
 * Parents in one pass over prefixes in canonical order: the stack holds the
 * chain of prefixes enclosing the current one; each is strictly shorter than
 * the next, so it never holds more than MAX_DEPTH.
 */
struct pstack {
	unsigned n;
	uint32_t idx[MAX_DEPTH];
	struct pfx p[MAX_DEPTH];
};

static uint32_t pstack_push(struct pstack *st, uint32_t i, const struct pfx *p)
{
	uint32_t parent;

	while (st->n && !(st->p[st->n - 1].plen < p->plen && pfx_covers(&st->p[st->n - 1], p->hi, p->lo)))
		st->n--;
	parent = st->n ? st->idx[st->n - 1] : NO_PARENT;
	if (st->n < MAX_DEPTH) {
		st->idx[st->n] = i;
		st->p[st->n] = *p;
		st->n++;
	}
	return parent;
}

/* ---------------------------------------------------------------- opened bundles */

struct bsec {
	const uint8_t *a;   /* records (IP), keys (others) */
	const uint8_t *chk; /* domain allow list: check hashes */
	const uint8_t *meta;
	const uint8_t *idx;
	uint32_t n;
	uint32_t esize;
	unsigned bits;
	unsigned kw; /* domain entries: bytes per stored hash */
};

struct bundle {
	const uint8_t *data;
	size_t len;
	void *map; /* bundle_open_file: the mapping to unmap */
	size_t map_len;
	struct bundle_info info;
	bool delta;
	size_t signed_len; /* bytes before the trailer */
	const uint8_t *sig;
	size_t sig_len;
	const uint8_t *full_sig; /* delta: the new full bundle's signature */
	size_t full_sig_len;
	const uint8_t *meta;
	uint32_t nmeta;
	struct bsec sec[TAB_MAX][NLISTS];
	uint8_t signed_hash[32]; /* SHA-256 of the bytes before the trailer */
	uint8_t file_hash[32];   /* SHA-256 of the whole file */
	const struct bundle_digests *given; /* while opening: the reader's digests, or NULL */
};

static void meta_read(const struct bundle *b, uint32_t i, struct bundle_meta *m)
{
	const uint8_t *p = b->meta + (size_t)i * META_SIZE;

	m->rule = ld32(p);
	m->expires = ld32(p + 4);
	m->action = p[8];
	m->flags = p[9];
}

static int meta_cmp(const struct bundle_meta *a, const struct bundle_meta *b)
{
	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	if (a->expires != b->expires)
		return a->expires < b->expires ? -1 : 1;
	if (a->action != b->action)
		return a->action < b->action ? -1 : 1;
	if (a->flags != b->flags)
		return a->flags < b->flags ? -1 : 1;
	return 0;
}

/* Actions by list, flags by kind: an allow list holds ALLOW, a block list BLOCK or ALERT. */
static bool meta_ok(const struct bundle_meta *m, unsigned tab, bool allow)
{
	if (allow ? m->action != BUNDLE_ACT_ALLOW
		  : m->action != BUNDLE_ACT_BLOCK && m->action != BUNDLE_ACT_ALERT)
		return false;
	return !(m->flags & ~(tab == TAB_DOM ? BUNDLE_F_EXACT : 0));
}

static bool meta_live(const struct bundle_meta *m, uint64_t now_s)
{
	return m->expires == 0 || now_s < m->expires;
}

/* IP record or removal key i. */
static void ip_get(const struct bsec *s, unsigned tab, bool del, uint32_t i, struct pfx *p)
{
	const uint8_t *r = s->a + (size_t)i * s->esize;
	unsigned kb = ip_key_bytes[tab];

	if (tab == TAB_V4) {
		p->hi = (uint64_t)ld32(r) << 32;
		p->lo = 0;
	} else {
		p->hi = ld64(r);
		p->lo = tab == TAB_V6L ? ld64(r + 8) : 0;
	}
	p->plen = del ? r[kb] : ld32(r + kb + 4) >> 24;
}

static uint32_t ip_meta(const struct bsec *s, unsigned tab, uint32_t i)
{
	return ld32(s->a + (size_t)i * s->esize + ip_key_bytes[tab]);
}

static uint32_t ip_parent(const struct bsec *s, unsigned tab, uint32_t i)
{
	uint32_t p = ld32(s->a + (size_t)i * s->esize + ip_key_bytes[tab] + 4) & IP_NO_PARENT;

	return p == IP_NO_PARENT ? NO_PARENT : p;
}

static inline unsigned top_bits(uint64_t key, unsigned bits)
{
	return bits ? (unsigned)(key >> (64 - bits)) : 0;
}

/* The index range [*lo, *hi) of entries whose key has the top bits of key. */
static inline void bucket(const struct bsec *s, uint64_t key, uint32_t *lo, uint32_t *hi)
{
	unsigned t = top_bits(key, s->bits);

	*lo = ld32(s->idx + 4 * (size_t)t);
	*hi = ld32(s->idx + 4 * (size_t)t + 4);
}

static inline uint64_t dom_low_mask(unsigned kw)
{
	return kw >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * kw)) - 1;
}

/*
 * Stored (low) bytes of the hash of domain entry i: one 8-byte load, masked.
 * For the last hash it reads up to 2 bytes past the hash array, into the
 * meta array that always follows it in the section.
 */
static inline uint64_t dom_stored(const struct bsec *s, uint32_t i)
{
	return ld64(s->a + (size_t)s->kw * i) & dom_low_mask(s->kw);
}

/* The whole hash of domain entry i, which is in bucket t. */
static inline uint64_t dom_full(const struct bsec *s, unsigned t, uint32_t i)
{
	uint64_t low = dom_stored(s, i);

	if (s->kw == 8)
		return low;
	return (uint64_t)(t >> (s->bits % 8)) << (8 * s->kw) | low;
}

/* The bucket of entry i: the last t with index[t] <= i. */
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

/* --- validation */

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
	}
	return true;
}

static bool check_domains(const struct bundle *b, unsigned list, uint8_t *used)
{
	const struct bsec *s = &b->sec[TAB_DOM][list];
	bool del = list & LIST_DEL;
	uint64_t h, prev = 0;
	unsigned t = 0;
	uint32_t i;

	if (!del && !check_idx_table(s))
		return false;
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
		}
		if (i && h <= prev)
			return false;
		prev = h;
		if (!del && !check_meta_ref(b, TAB_DOM, list, ld32(s->meta + 4 * (size_t)i), used))
			return false;
	}
	return true;
}

/* Protocol and category names: 1 to 31 printable ASCII bytes, NUL padded to 32. */
static bool name_ok(const uint8_t *p)
{
	size_t n = strnlen((const char *)p, 32), i;

	if (n == 0 || n > BUNDLE_PROTO_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return all_zero(p + n, 32 - n);
}

static bool check_keyed(const struct bundle *b, unsigned tab, unsigned list, uint8_t *used)
{
	const struct bsec *s = &b->sec[tab][list];
	size_t ks = tab == TAB_JA3 ? 16 : 32;
	const uint8_t *k;
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		k = s->a + ks * i;
		if (tab != TAB_JA3 && !name_ok(k))
			return false;
		if (i && memcmp(k - ks, k, ks) >= 0)
			return false;
		if (!(list & LIST_DEL) &&
		    !check_meta_ref(b, tab, list, ld32(s->meta + 4 * (size_t)i), used))
			return false;
	}
	return true;
}

static bool region_ok(const char *r, size_t max)
{
	size_t n = strnlen(r, max), i;

	if (n == 0 || n > BUNDLE_REGION_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return false;
	return true;
}

static bool info_ok(const struct bundle_info *info, bool delta)
{
	if (!region_ok(info->region, sizeof(info->region)) || info->serial == 0 ||
	    info->expires <= info->created)
		return false;
	if (delta)
		return info->base_serial != 0 && info->base_serial < info->serial;
	return info->base_serial == 0;
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
	if (!region_ok(b->info.region, BUNDLE_REGION_MAX + 1) ||
	    !all_zero(d + H_REGION + strlen(b->info.region), BUNDLE_REGION_MAX + 1 - strlen(b->info.region)))
		return BUNDLE_ERR_MALFORMED;
	b->info.serial = ld64(d + H_SERIAL);
	b->info.base_serial = ld64(d + H_BASE);
	b->info.created = ld64(d + H_CREATED);
	b->info.expires = ld64(d + H_EXPIRES);
	if (!info_ok(&b->info, b->delta))
		return BUNDLE_ERR_MALFORMED;
	*nsect = ld32(d + H_NSECT);
	signed_len = ld64(d + H_SIGNED);
	if (*nsect > MAX_SECTIONS || signed_len % 8 || signed_len < HDR_SIZE + SECT_SIZE * *nsect)
		return BUNDLE_ERR_MALFORMED;
	if (signed_len > b->len - TRAILER_SIZE)
		return BUNDLE_ERR_TRUNCATED;
	b->signed_len = (size_t)signed_len;
	if (memcmp(d + b->signed_len, trailer_magic, sizeof(trailer_magic)) != 0)
		return BUNDLE_ERR_MALFORMED;
	siglen = ld16(d + b->signed_len + sizeof(trailer_magic));
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
			layout(tab, list, count, &l);
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
static enum bundle_err check_contents(const struct bundle *b)
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
			if (!b->sec[tab][list].n)
				continue;
			if (tab <= TAB_V6L)
				ok = check_ip(b, tab, list, used);
			else if (tab == TAB_DOM)
				ok = check_domains(b, list, used);
			else
				ok = check_keyed(b, tab, list, used);
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
	return err;
}

static enum bundle_err open_mem(const void *data, size_t len, const struct bundle_digests *given,
				struct bundle **out)
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
	err = bundle_parse(b);
	b->given = NULL;
	if (err != BUNDLE_OK) {
		free(b);
		return err;
	}
	*out = b;
	return BUNDLE_OK;
}

enum bundle_err bundle_open_mem(const void *data, size_t len, struct bundle **out)
{
	return open_mem(data, len, NULL, out);
}

/*
 * The file is mapped private and read-only. Writers replace bundle files by
 * rename (never in place), so the mapped inode does not change under us.
 */
enum bundle_err bundle_open_file(const char *path, struct bundle **out)
{
	return bundle_open_file_digests(path, NULL, out);
}

enum bundle_err bundle_open_file_digests(const char *path, const struct bundle_digests *d,
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
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return BUNDLE_ERR_IO;
	err = open_mem(map, (size_t)st.st_size, d, out);
	if (err != BUNDLE_OK) {
		munmap(map, (size_t)st.st_size);
		return err;
	}
	(*out)->map = map;
	(*out)->map_len = (size_t)st.st_size;
	return BUNDLE_OK;
}

void bundle_close(struct bundle *b)
{
	if (!b)
		return;
	if (b->map)
		munmap(b->map, b->map_len);
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

/* ---------------------------------------------------------------- keys and signatures */

/*
 * Parse a key given as PEM or DER. mbedTLS wants PEM with its terminating NUL
 * counted in the length; key files read from disk do not have one.
 */
static int key_parse(mbedtls_pk_context *pk, const uint8_t *key, size_t len, bool priv)
{
	static const char pem_begin[] = "-----BEGIN";
	uint8_t *tmp = NULL;
	int ret;

	if (!key || !len)
		return -EINVAL;
	if (key[len - 1] != '\0' && memmem(key, len, pem_begin, sizeof(pem_begin) - 1)) {
		tmp = malloc(len + 1);
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, key, len);
		tmp[len] = '\0';
		key = tmp;
		len++;
	}
	if (priv)
		ret = mbedtls_pk_parse_key(pk, key, len, NULL, 0);
	else
		ret = mbedtls_pk_parse_public_key(pk, key, len);
	if (tmp) {
		mbedtls_platform_zeroize(tmp, len);
		free(tmp);
	}
	if (ret)
		return -EINVAL;
	/* only ECDSA P-256 hub keys */
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA) ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return -EINVAL;
	return 0;
}

static int drbg_seed(mbedtls_entropy_context *ent, mbedtls_ctr_drbg_context *drbg)
{
	static const char pers[] = "townguard-bundle";

	mbedtls_entropy_init(ent);
	mbedtls_ctr_drbg_init(drbg);
	if (mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, ent, (const unsigned char *)pers,
				  sizeof(pers) - 1))
		return -EIO;
	return 0;
}

/*
 * Sign a SHA-256 digest. mbedTLS 2.28 is built with MBEDTLS_ECDSA_DETERMINISTIC,
 * so mbedtls_pk_sign() uses RFC 6979 nonces (the DRBG only blinds): the same
 * key and bundle always give the same signature.
 */
int bundle_sign_digest(const uint8_t *privkey, size_t privkey_len, const uint8_t hash[32],
		       uint8_t *sig, size_t *sig_len)
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	int ret;

	mbedtls_pk_init(&pk);
	ret = key_parse(&pk, privkey, privkey_len, true);
	if (ret)
		goto out_pk;
	ret = drbg_seed(&ent, &drbg);
	if (!ret && mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len,
				    mbedtls_ctr_drbg_random, &drbg))
		ret = -EIO;
	if (!ret && (*sig_len == 0 || *sig_len > SIG_MAX))
		ret = -EIO;
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
out_pk:
	mbedtls_pk_free(&pk);
	return ret;
}

enum bundle_err bundle_verify_digest(const uint8_t *pubkey, size_t pubkey_len, const uint8_t hash[32],
				     const uint8_t *sig, size_t sig_len)
{
	mbedtls_pk_context pk;
	enum bundle_err err = BUNDLE_OK;

	mbedtls_pk_init(&pk);
	if (key_parse(&pk, pubkey, pubkey_len, false))
		err = BUNDLE_ERR_MALFORMED;
	else if (!sig_len || mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len))
		err = BUNDLE_ERR_SIGNATURE;
	mbedtls_pk_free(&pk);
	return err;
}

enum bundle_err bundle_verify(const struct bundle *b, const uint8_t *pubkey, size_t pubkey_len)
{
	return bundle_verify_digest(pubkey, pubkey_len, b->signed_hash, b->sig, b->sig_len);
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

int bundle_keygen(char **priv_pem, char **pub_pem)
{
	unsigned char priv[1024], pub[512];
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	int ret;

	*priv_pem = NULL;
	*pub_pem = NULL;
	mbedtls_pk_init(&pk);
	ret = drbg_seed(&ent, &drbg);
	if (!ret && (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
		     mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
					 mbedtls_ctr_drbg_random, &drbg) ||
		     mbedtls_pk_write_key_pem(&pk, priv, sizeof(priv)) ||
		     mbedtls_pk_write_pubkey_pem(&pk, pub, sizeof(pub))))
		ret = -EIO;
	if (!ret) {
		*priv_pem = strdup((const char *)priv);
		*pub_pem = strdup((const char *)pub);
		if (!*priv_pem || !*pub_pem) {
			free(*priv_pem);
			free(*pub_pem);
			*priv_pem = NULL;
			*pub_pem = NULL;
			ret = -ENOMEM;
		}
	}
	mbedtls_platform_zeroize(priv, sizeof(priv));
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	mbedtls_pk_free(&pk);
	return ret;
}

/* ---------------------------------------------------------------- lookups */

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

static inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
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
		buf[i] = lower(name[start + i]);
	for (pos = 0; pos < n;) {
		/* the next suffixes, most specific first */
		for (k = 0; k < DOM_BATCH && pos < n; k++) {
			off[k] = pos;
			h[k] = siphash24(domain_key, buf + pos, n - pos);
			__builtin_prefetch(s->idx + 4 * (size_t)top_bits(h[k], s->bits));
			dot = memchr(buf + pos, '.', n - pos);
			pos = dot ? (size_t)(dot - buf) + 1 : n;
		}
		for (j = 0; j < k; j++) {
			bucket(s, h[j], &lo[j], &hi[j]);
			__builtin_prefetch(s->a + (size_t)s->kw * ((size_t)lo[j] + (hi[j] - lo[j]) / 2));
		}
		for (j = 0; j < k; j++) {
			if (!dom_find(s, h[j] & dom_low_mask(s->kw), lo[j], hi[j], &at))
				continue;
			mi = ld32(s->meta + 4 * (size_t)at);
			meta_read(b, mi, &meta);
			if ((!(meta.flags & BUNDLE_F_EXACT) || start + off[j] == 0) && meta_live(&meta, now_s) &&
			    (!allow || ld64(s->chk + 8 * (size_t)at) ==
					       siphash24(allow_check_key, buf + off[j], n - off[j]))) {
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

/* Normalise a name (ASCII lower case, one trailing dot removed) into out. */
static size_t domain_normalise(const char *name, size_t len, char *out)
{
	size_t i;

	if (len && name[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++)
		out[i] = lower(name[i]);
	return len;
}

uint64_t bundle_domain_hash(const char *name, size_t len)
{
	char buf[BUNDLE_NAME_MAX + 1];

	if (!name || len > BUNDLE_NAME_MAX + 1)
		return 0;
	len = domain_normalise(name, len, buf);
	if (len > BUNDLE_NAME_MAX)
		return 0;
	return siphash24(domain_key, buf, len);
}

/* ---------------------------------------------------------------- builder */

/*
 * Elements of a builder table, fixed size per table: the key first, in an
 * order where memcmp() is the canonical order (addresses big-endian, then
 * the prefix length; domain hash big-endian), then the meta id (u32,
 * DEAD = removed), then for domains the check hash (u64) and the offset of
 * the name in the builder's name arena (u32, 0 = loaded by hash).
 */
static const uint8_t tab_ks[TAB_MAX] = { 5, 9, 17, 8, 32, 32, 16 };
static const uint8_t tab_mo[TAB_MAX] = { 8, 12, 20, 8, 32, 32, 16 };
static const uint8_t tab_es[TAB_MAX] = { 12, 16, 24, 24, 36, 36, 20 };
#define DOM_CHK 12
#define DOM_NAME 20
#define DEAD UINT32_MAX
/* element and meta counts stay below this, so indices fit in a u32 with room for DEAD */
#define MAX_ELEMS (UINT32_MAX / 2)

struct btab {
	uint8_t *el;
	uint32_t *slot; /* open addressing on the key: element index + 1, 0 = free */
	size_t n, cap, nslot, live;
};

struct bundle_builder {
	struct btab t[TAB_MAX][2];
	struct bundle_meta *meta;
	uint32_t *mslot;
	size_t nmeta, capmeta, nmslot;
	char *names; /* normalised domain names, NUL-terminated; offset 0 unused */
	size_t names_len, names_cap;
	size_t replaced;
	uint8_t hkey[16]; /* random: a hostile feed cannot aim keys at one slot chain */
};

static inline uint8_t *el_at(const struct btab *t, unsigned tab, size_t i)
{
	return t->el + i * tab_es[tab];
}

static inline uint32_t el_meta(const struct btab *t, unsigned tab, size_t i)
{
	uint32_t v;

	memcpy(&v, el_at(t, tab, i) + tab_mo[tab], sizeof(v));
	return v;
}

static inline void el_set_meta(struct btab *t, unsigned tab, size_t i, uint32_t v)
{
	memcpy(el_at(t, tab, i) + tab_mo[tab], &v, sizeof(v));
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
static long tab_find(const struct bundle_builder *bb, const struct btab *t, unsigned tab,
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

static int meta_intern(struct bundle_builder *bb, const struct bundle_meta *m, uint32_t *id)
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
static int tab_put(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key,
		   uint32_t meta_id, uint64_t chk, const char *name)
{
	struct btab *t = &bb->t[tab][allow];
	uint32_t off = 0;
	uint8_t *el;
	long at;
	int ret;

	at = tab_find(bb, t, tab, key);
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
static bool tab_remove(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key)
{
	struct btab *t = &bb->t[tab][allow];
	long at = tab_find(bb, t, tab, key);

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
	ret = meta_intern(bb, m, &id);
	if (ret)
		return ret;
	ret = tab_put(bb, tab, allow, key, id, chk, name);
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

static void pfx_from_key(unsigned tab, const uint8_t *key, struct pfx *p)
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
	pfx_from_key(tab, key, &p);
	/* host bits set: refused rather than silently widened (192.0.2.1/24 is ambiguous) */
	if (!pfx_host_bits_zero(&p) || (tab == TAB_V6S && !all_zero(addr + 8, 8)))
		return -EINVAL;
	return add_entry(bb, tab, allow, key, m, 0, NULL);
}

/* Builder-side name check: 1-253 bytes, labels of 1-63 bytes of [a-z0-9_-]. */
static int domain_valid(const char *name, size_t len, char *out, size_t *out_len)
{
	size_t i, label = 0;
	char c;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > BUNDLE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		c = lower(name[i]);
		if (c == '.') {
			if (!label)
				return -EINVAL;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		out[i] = c;
	}
	if (!label)
		return -EINVAL;
	out[len] = '\0';
	*out_len = len;
	return 0;
}

int bundle_builder_add_domain(struct bundle_builder *bb, const char *name, bool allow,
			      const struct bundle_meta *m)
{
	char norm[BUNDLE_NAME_MAX + 1];
	uint8_t key[8];
	size_t len;

	if (!name || domain_valid(name, strnlen(name, BUNDLE_NAME_MAX + 2), norm, &len))
		return -EINVAL;
	stbe64(key, siphash24(domain_key, norm, len));
	return add_entry(bb, TAB_DOM, allow, key, m, siphash24(allow_check_key, norm, len), norm);
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
	if (!name_ok(key))
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
static void key_from_section(const struct bsec *s, unsigned tab, bool del, uint32_t i, uint8_t key[32])
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
static int load_entries(struct bundle_builder *bb, const struct bundle *b)
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
		ret = meta_intern(bb, &m, &ids[i]);
	}
	for (tab = 0; tab < TAB_MAX && !ret; tab++) {
		for (list = 0; list <= LIST_ALLOW && !ret; list++) {
			const struct bsec *s = &b->sec[tab][list];

			if (!s->n)
				continue;
			ret = tab_reserve(bb, &bb->t[tab][list], tab, s->n);
			for (i = 0; i < s->n && !ret; i++) {
				key_from_section(s, tab, false, i, key);
				if (tab <= TAB_V6L)
					mi = ip_meta(s, tab, i);
				else
					mi = ld32(s->meta + 4 * (size_t)i);
				chk = s->chk ? ld64(s->chk + 8 * (size_t)i) : 0;
				ret = tab_put(bb, tab, list, key, ids[mi], chk, NULL);
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
	return load_entries(bb, b);
}

/* ---------------------------------------------------------------- encoder */

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
	layout(tab, list, s->n, &s->l);
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
			pfx_from_key(tab, el, &pf);
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
	if (!info_ok(info, dels != NULL) || (dels && (!fsig_len || fsig_len > SIG_MAX)))
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
	uint8_t hash[32], mysig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
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
	memcpy(buf + signed_len, trailer_magic, sizeof(trailer_magic));
	st16(buf + signed_len + sizeof(trailer_magic), (uint16_t)sig_len);
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
				at = tab_find(from, tf, tab, el);
				if (at >= 0 && el_meta(tf, tab, (size_t)at) != DEAD &&
				    same_meta(from, el_meta(tf, tab, (size_t)at), to, el_meta(tt, tab, i)))
					continue;
				ret = meta_intern(adds, &to->meta[el_meta(tt, tab, i)], &id);
				chk = 0;
				if (tab == TAB_DOM)
					memcpy(&chk, el + DOM_CHK, sizeof(chk));
				if (!ret)
					ret = tab_put(adds, tab, list, el, id, chk, NULL);
			}
			for (i = 0; i < tf->n && ret >= 0; i++) {
				const uint8_t *el = el_at(tf, tab, i);

				if (el_meta(tf, tab, i) == DEAD)
					continue;
				at = tab_find(to, tt, tab, el);
				if (at < 0 || el_meta(tt, tab, (size_t)at) == DEAD)
					ret = tab_put(dels, tab, list, el, 0, 0, NULL);
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
	ret = load_entries(from, old);
	if (!ret)
		ret = load_entries(to, new_b);
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

enum bundle_err bundle_apply_delta(const struct bundle *current, const struct bundle *delta,
				   const uint8_t *pubkey, size_t pubkey_len, uint8_t **out,
				   size_t *out_len)
{
	struct bundle_builder *bb;
	struct bundle_info info;
	enum bundle_err err = BUNDLE_ERR_NOMEM;
	unsigned tab, list;
	uint8_t key[32], hash[32];
	size_t signed_len, len;
	uint8_t *buf = NULL;
	uint32_t i;
	bool fits = true;
	int ret;

	*out = NULL;
	if (current->delta || !delta->delta)
		return BUNDLE_ERR_KIND;
	if (delta->info.base_serial != current->info.serial)
		return BUNDLE_ERR_BASE;
	bb = bundle_builder_new();
	if (!bb || load_entries(bb, current))
		goto out;
	for (tab = 0; tab < TAB_MAX; tab++) {
		for (list = LIST_DEL; list < NLISTS; list++) {
			const struct bsec *s = &delta->sec[tab][list];

			for (i = 0; i < s->n; i++) {
				key_from_section(s, tab, true, i, key);
				/* removing what is not there: cannot give what the hub signed */
				fits &= tab_remove(bb, tab, list & LIST_ALLOW, key);
			}
		}
	}
	ret = load_entries(bb, delta);
	info = delta->info;
	info.base_serial = 0;
	if (!ret)
		ret = encode(bb, NULL, &info, NULL, 0, &buf, &signed_len);
	if (!ret)
		ret = finish(buf, signed_len, NULL, 0, delta->full_sig, delta->full_sig_len, &len);
	if (!ret && mbedtls_sha256_ret(buf, signed_len, hash, 0))
		ret = -EIO;
	if (ret) {
		/* an addition colliding with a different entry, or no memory */
		err = ret == -ENOMEM ? BUNDLE_ERR_NOMEM : BUNDLE_ERR_MALFORMED;
		goto out;
	}
	err = bundle_verify_digest(pubkey, pubkey_len, hash, delta->full_sig, delta->full_sig_len);
	if (err == BUNDLE_OK && !fits)
		err = BUNDLE_ERR_SIGNATURE;
	if (err == BUNDLE_OK) {
		*out = buf;
		*out_len = len;
		buf = NULL;
	}
out:
	free(buf);
	bundle_builder_free(bb);
	return err;
}

/* ---------------------------------------------------------------- errors */

static const struct {
	const char *name, *text;
} bundle_errs[BUNDLE_ERR_MAX] = {
	[BUNDLE_OK] = { "ok", "bundle accepted" },
	[BUNDLE_ERR_IO] = { "io", "cannot read the bundle file" },
	[BUNDLE_ERR_TRUNCATED] = { "truncated", "bundle is shorter than its header says (truncated)" },
	[BUNDLE_ERR_MAGIC] = { "magic", "not a townguard bundle (bad magic)" },
	[BUNDLE_ERR_VERSION] = { "version", "bundle format version not supported by this firmware" },
	[BUNDLE_ERR_MALFORMED] = { "malformed", "bundle structure is inconsistent (header, sections, ordering or sizes)" },
	[BUNDLE_ERR_HASH] = { "hash", "bundle body hash does not match (corrupted or altered)" },
	[BUNDLE_ERR_SIGNATURE] = { "signature", "bundle signature does not verify with the hub key" },
	[BUNDLE_ERR_REGION] = { "region", "bundle is for another region" },
	[BUNDLE_ERR_STALE] = { "stale", "bundle serial is not newer than the one in force" },
	[BUNDLE_ERR_EXPIRED] = { "expired", "bundle is past its expiry time" },
	[BUNDLE_ERR_NOT_YET] = { "not_yet", "bundle was created in the future (clock or forgery)" },
	[BUNDLE_ERR_BASE] = { "base", "delta does not apply to the serial in force" },
	[BUNDLE_ERR_KIND] = { "kind", "delta bundle where a full bundle was expected, or the reverse" },
	[BUNDLE_ERR_NOMEM] = { "nomem", "out of memory while handling the bundle" },
};

const char *bundle_err_name(enum bundle_err e)
{
	return (unsigned)e < BUNDLE_ERR_MAX ? bundle_errs[e].name : "unknown";
}

const char *bundle_err_text(enum bundle_err e)
{
	return (unsigned)e < BUNDLE_ERR_MAX ? bundle_errs[e].text : "unknown bundle error";
}

const char *bundle_kind_name(enum bundle_kind k)
{
	static const char *const names[BUNDLE_KIND_MAX] = {
		[BUNDLE_IPV4] = "ipv4",	    [BUNDLE_IPV6] = "ipv6",	    [BUNDLE_DOMAIN] = "domain",
		[BUNDLE_PROTO] = "protocol", [BUNDLE_CATEGORY] = "category", [BUNDLE_JA3] = "ja3",
	};

	return (unsigned int)k < BUNDLE_KIND_MAX ? names[k] : "?";
}

const char *bundle_action_name(uint8_t action)
{
	switch (action) {
	case BUNDLE_ACT_BLOCK:
		return "block";
	case BUNDLE_ACT_ALERT:
		return "alert";
	case BUNDLE_ACT_ALLOW:
		return "allow";
	default:
		return "?";
	}
}

/*
 * What the bundle files share and nothing else sees: the on-flash layout
 * (docs/bundle-format.md), the opened bundle and the builder's tables, and
 * the small readers every one of them uses. bundle.h is the contract; this
 * header is private to firmware/policy/bundle*.c.
 *
 * The readers are static inline on purpose: a lookup or the validator calls
 * them once per probed entry, and they must compile to plain loads in the
 * file that uses them, as they did when the bundle code was one file.
 */
#ifndef TG_BUNDLE_PRIV_H
#define TG_BUNDLE_PRIV_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* "TGBUNDLE" and "TGSIG\0" (bundle_format.c). */
extern const uint8_t bundle_magic[8];
extern const uint8_t bundle_trailer_magic[6];

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
 * SipHash-2-4 keys of domain entries, fixed and published (bundle_format.c):
 * the entry key, and the second hash allow lists carry.
 */
extern const uint8_t bundle_domain_key[16];
extern const uint8_t bundle_check_key[16];

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

static inline uint32_t ldbe32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
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

static inline bool all_zero(const uint8_t *p, size_t n)
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
static inline unsigned idx_bits(uint64_t n)
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
static inline unsigned dom_key_bytes(unsigned bits)
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

void bundle_layout(unsigned tab, unsigned list, uint64_t n, struct layout *l);

/* Region names, header info and protocol/category names as the format allows them. */
bool bundle_region_ok(const char *r, size_t max);
bool bundle_info_ok(const struct bundle_info *info, bool delta);
bool bundle_name_ok(const uint8_t *p);

static inline char bundle_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---------------------------------------------------------------- prefixes */

/* A prefix as a left-aligned 128-bit key: IPv4 a.b.c.d is hi = a.b.c.d << 32. */
struct pfx {
	uint64_t hi, lo;
	unsigned plen;
};

static inline void pfx_mask(unsigned plen, uint64_t *mhi, uint64_t *mlo)
{
	*mhi = plen == 0 ? 0 : plen >= 64 ? UINT64_MAX : ~(UINT64_MAX >> plen);
	*mlo = plen <= 64 ? 0 : plen >= 128 ? UINT64_MAX : ~(UINT64_MAX >> (plen - 64));
}

static inline bool pfx_covers(const struct pfx *p, uint64_t hi, uint64_t lo)
{
	uint64_t mhi, mlo;

	pfx_mask(p->plen, &mhi, &mlo);
	return (hi & mhi) == p->hi && (lo & mlo) == p->lo;
}

static inline bool pfx_host_bits_zero(const struct pfx *p)
{
	return pfx_covers(p, p->hi, p->lo);
}

/* Canonical order: by address, then by length (enclosing prefix first). */
static inline int pfx_cmp(const struct pfx *a, const struct pfx *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return 0;
}

static inline bool pfx_plen_ok(unsigned tab, unsigned plen)
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

static inline uint32_t pstack_push(struct pstack *st, uint32_t i, const struct pfx *p)
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
	/*
	 * Domain entry sections of DOM_FILTER_MIN entries or more: a filter of
	 * their hashes in RAM, built by the validator (dom_filter_*), NULL for
	 * the rest. filt_mask: words - 1 (a power of two).
	 */
	uint64_t *filt;
	uint32_t filt_mask;
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
	bool lean; /* mapped without its pages: checked in windows, brought in by bundle_populate() */
};

static inline void meta_read(const struct bundle *b, uint32_t i, struct bundle_meta *m)
{
	const uint8_t *p = b->meta + (size_t)i * META_SIZE;

	m->rule = ld32(p);
	m->expires = ld32(p + 4);
	m->action = p[8];
	m->flags = p[9];
}

static inline int meta_cmp(const struct bundle_meta *a, const struct bundle_meta *b)
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
static inline bool meta_ok(const struct bundle_meta *m, unsigned tab, bool allow)
{
	if (allow ? m->action != BUNDLE_ACT_ALLOW
		  : m->action != BUNDLE_ACT_BLOCK && m->action != BUNDLE_ACT_ALERT)
		return false;
	return !(m->flags & ~(tab == TAB_DOM ? BUNDLE_F_EXACT : 0));
}

static inline bool meta_live(const struct bundle_meta *m, uint64_t now_s)
{
	return m->expires == 0 || now_s < m->expires;
}

/* IP record or removal key i. */
static inline void ip_get(const struct bsec *s, unsigned tab, bool del, uint32_t i, struct pfx *p)
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

static inline uint32_t ip_meta(const struct bsec *s, unsigned tab, uint32_t i)
{
	return ld32(s->a + (size_t)i * s->esize + ip_key_bytes[tab]);
}

static inline uint32_t ip_parent(const struct bsec *s, unsigned tab, uint32_t i)
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

/*
 * The in-RAM filter of a domain entry section: a Bloom filter blocked to one
 * 64-bit word per hash (one cache line read per probe, wherever the section
 * is), DOM_FILTER_K bits of that word set, about 8-16 bits per entry. Built
 * from every entry's whole hash, so a suffix whose hash is an entry always
 * passes (no entry is ever hidden); a suffix that is none passes with a
 * probability of about 3-4 % (docs/benchmarks.md), and only then is the
 * mapped list searched. The word comes from the hash's low bits, the bit
 * positions from bits 32-49: the bucket index uses the top bits.
 */
#define DOM_FILTER_MIN 4096u
#define DOM_FILTER_K 3u

static inline uint64_t dom_filter_bits(uint64_t h)
{
	return UINT64_C(1) << ((h >> 32) & 63) | UINT64_C(1) << ((h >> 38) & 63) |
	       UINT64_C(1) << ((h >> 44) & 63);
}

static inline const uint64_t *dom_filter_word(const struct bsec *s, uint64_t h)
{
	return s->filt + ((uint32_t)h & s->filt_mask);
}

/* False: no entry of s has the hash h (s without a filter: always true). */
static inline bool dom_filter_may(const struct bsec *s, uint64_t h)
{
	uint64_t want = dom_filter_bits(h);

	return !s->filt || (*dom_filter_word(s, h) & want) == want;
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

/* Builder internals the encoder, diff and delta code use (bundle_build.c). */
long bundle_tab_find(const struct bundle_builder *bb, const struct btab *t, unsigned tab,
		     const uint8_t *key);
int bundle_tab_put(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key,
		   uint32_t meta_id, uint64_t chk, const char *name);
bool bundle_tab_remove(struct bundle_builder *bb, unsigned tab, bool allow, const uint8_t *key);
int bundle_meta_intern(struct bundle_builder *bb, const struct bundle_meta *m, uint32_t *id);
void bundle_pfx_from_key(unsigned tab, const uint8_t *key, struct pfx *p);
void bundle_key_from_section(const struct bsec *s, unsigned tab, bool del, uint32_t i,
			     uint8_t key[32]);
int bundle_load_entries(struct bundle_builder *bb, const struct bundle *b);

#endif

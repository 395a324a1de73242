/*
 * Blocklist bundles: one signed, versioned file that is both what the hub
 * publishes and what the gateway keeps on flash and looks up in place.
 * The byte layout is documented in docs/bundle-format.md.
 *
 * Shared by the firmware (open, verify, look up, apply a delta) and the hub's
 * tool tg-hub (build, sign, diff): one encoder, so a delta applied on a
 * gateway yields byte for byte the full bundle the hub signed.
 *
 * Entries, by kind:
 *   - IPv4 and IPv6 prefixes: longest-prefix match;
 *   - domains: a name matches an entry for itself or any parent domain
 *     (example.com covers a.b.example.com) unless the entry is exact-only;
 *     stored as 64-bit hashes of the normalised name (lower case, no
 *     trailing dot), so a million names take 10 bytes each (hash and rule;
 *     allow lists also keep a second hash, see docs/bundle-format.md);
 *   - nDPI protocol and category names (mapped to ids by the gateway);
 *   - JA3 hashes (MD5, 16 bytes).
 * Each kind has a block list (entries whose action is block or alert-only)
 * and an allow list (overrides). Every entry carries a rule id, an action and
 * an optional expiry (seconds since the epoch, 0 = none).
 */
#ifndef TG_BUNDLE_H
#define TG_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/region.h"

#define BUNDLE_REGION_MAX TG_REGION_MAX /* bytes of region name, [a-z0-9-]: core/region.h */
#define BUNDLE_NAME_MAX 253  /* longest domain name */
#define BUNDLE_PROTO_NAME_MAX 31

enum bundle_kind {
	BUNDLE_IPV4 = 0,
	BUNDLE_IPV6,
	BUNDLE_DOMAIN,
	BUNDLE_PROTO,
	BUNDLE_CATEGORY,
	BUNDLE_JA3,
	BUNDLE_KIND_MAX
};

enum bundle_action {
	BUNDLE_ACT_BLOCK = 1, /* drop and report */
	BUNDLE_ACT_ALERT = 2, /* report only */
	BUNDLE_ACT_ALLOW = 3, /* only in allow lists: overrides block and alert of the same kind */
};

/* bundle_meta.flags */
#define BUNDLE_F_EXACT 0x01 /* domain: match this name only, not its subdomains */

struct bundle_meta {
	uint32_t rule;    /* rule id chosen by the hub; reported with every hit */
	uint32_t expires; /* seconds since the epoch; 0 = never */
	uint8_t action;   /* enum bundle_action */
	uint8_t flags;    /* BUNDLE_F_* */
};

/* What a bundle says about itself (header fields). */
struct bundle_info {
	char region[BUNDLE_REGION_MAX + 1];
	uint64_t serial;      /* monotonic, > 0 */
	uint64_t base_serial; /* delta: the serial it applies to; full bundle: 0 */
	uint64_t created;     /* seconds since the epoch */
	uint64_t expires;     /* seconds since the epoch; the whole bundle is refused after it */
};

/* Why a bundle was refused. Keep bundle_err_name() in step. */
enum bundle_err {
	BUNDLE_OK = 0,
	BUNDLE_ERR_IO,          /* cannot read the file */
	BUNDLE_ERR_TRUNCATED,   /* shorter than its header, section table or sections say */
	BUNDLE_ERR_MAGIC,       /* not a townguard bundle */
	BUNDLE_ERR_VERSION,     /* format version this firmware does not know */
	BUNDLE_ERR_MALFORMED,   /* inconsistent header, sections, ordering or sizes */
	BUNDLE_ERR_HASH,        /* body hash does not match (corrupted or altered) */
	BUNDLE_ERR_SIGNATURE,   /* signature does not verify with the hub key (forged, wrong key, flipped byte) */
	BUNDLE_ERR_REGION,      /* bundle for another region */
	BUNDLE_ERR_STALE,       /* serial not newer than the one in force (replay of an older list) */
	BUNDLE_ERR_EXPIRED,     /* past its expiry time */
	BUNDLE_ERR_NOT_YET,     /* created in the future (clock or forgery) */
	BUNDLE_ERR_BASE,        /* delta whose base is not the serial in force */
	BUNDLE_ERR_KIND,        /* a delta where a full bundle was expected, or the reverse */
	BUNDLE_ERR_NOMEM,
	BUNDLE_ERR_MAX
};

const char *bundle_kind_name(enum bundle_kind k);      /* "ipv4", "domain", ... */
const char *bundle_action_name(uint8_t action);        /* "block", "alert", "allow" */
const char *bundle_err_name(enum bundle_err e);      /* "signature", "stale", ... */
const char *bundle_err_text(enum bundle_err e);      /* one sentence for logs and state */

/* ------------------------------------------------------------ reading */

struct bundle; /* an opened, structurally checked bundle (mmap or memory) */

/*
 * Open and structurally check a bundle: header, section table, bounds and
 * ordering of every section (so lookups can trust it), body hash. Does NOT
 * check the signature: call bundle_verify(). Returns BUNDLE_OK and *out.
 */
enum bundle_err bundle_open_file(const char *path, struct bundle **out);
/* Same over a caller's buffer, which must outlive the bundle (not copied). */
enum bundle_err bundle_open_mem(const void *data, size_t len, struct bundle **out);

/*
 * The digests step 4 of opening computes (docs/bundle-format.md), taken
 * from a reader that saw the bytes go by (bundle_digest.h: OTA hashes the
 * fragments as they arrive, so opening a 25 MB file does not hash it again
 * in one go on the loop). Used only when len and signed_len are those of
 * the file opened; otherwise the file is hashed as by bundle_open_file().
 * The body hash is still compared with the header's.
 */
struct bundle_digests {
	uint8_t body[32];     /* SHA-256 of bytes 128 .. signed_len-1 */
	uint8_t signed_[32];  /* SHA-256 of bytes 0 .. signed_len-1 (what the signature covers) */
	uint8_t file[32];     /* SHA-256 of the whole file */
	uint64_t signed_len, len;
};
enum bundle_err bundle_open_file_digests(const char *path, const struct bundle_digests *d,
					 struct bundle **out);
/*
 * bundle_open_file_digests() opens lean, for a candidate that arrives while
 * another list is in force: the file is mapped without its pages and
 * checked in windows of about 1 MiB that are dropped again, so the check
 * never holds the new list in RAM next to the old one. Lookups work on it
 * as they are (a page is read when touched); bundle_populate() maps all its
 * pages at once, to call when the list it replaces is closed (a no-op for
 * any other bundle).
 */
void bundle_populate(struct bundle *b);
void bundle_close(struct bundle *b);

const struct bundle_info *bundle_get_info(const struct bundle *b);
bool bundle_is_delta(const struct bundle *b);
/* The file's bytes (for persisting what was verified) and its SHA-256. */
const uint8_t *bundle_data(const struct bundle *b, size_t *len);
void bundle_sha256(const struct bundle *b, uint8_t out[32]);
/* Entries in the block (allow = false) or allow list of a kind. */
size_t bundle_count(const struct bundle *b, enum bundle_kind kind, bool allow);
/*
 * Bytes of RAM the opened bundle holds besides its file: the filters of its
 * domain lists (about 1 byte per entry), which spare the mapped list a
 * search for most names' suffixes (bundle_lookup.c).
 */
size_t bundle_filter_bytes(const struct bundle *b);

/*
 * Check the signature with the hub's public key (PEM or DER, as read from a
 * key file). Returns BUNDLE_OK or BUNDLE_ERR_SIGNATURE (or _MALFORMED if the
 * key cannot be parsed). Constant work per byte: hashing is done at open.
 */
enum bundle_err bundle_verify(const struct bundle *b, const uint8_t *pubkey, size_t pubkey_len);

/*
 * The hub's signature primitive, shared with signed commands: ECDSA P-256
 * over a SHA-256 digest, DER-encoded; give the signer a BUNDLE_SIG_MAX buffer. Signing
 * is deterministic (RFC 6979). bundle_sign_digest() returns 0 or -errno;
 * bundle_verify_digest() BUNDLE_OK, BUNDLE_ERR_SIGNATURE or
 * BUNDLE_ERR_MALFORMED (not a P-256 public key).
 */
#define BUNDLE_SIG_MAX 1024
int bundle_sign_digest(const uint8_t *privkey, size_t privkey_len, const uint8_t hash[32],
		       uint8_t *sig, size_t *sig_len);
enum bundle_err bundle_verify_digest(const uint8_t *pubkey, size_t pubkey_len, const uint8_t hash[32],
				     const uint8_t *sig, size_t sig_len);

/*
 * Acceptance rules of a gateway, in order: signature, region, not a delta
 * (full bundles only here), not expired and not created in the future
 * (now_s, with `skew_s` tolerance), serial newer than `in_force_serial`.
 * Expired means now_s >= expires + skew_s; in the future, created > now_s +
 * skew_s. region NULL skips the region rule (tools; a gateway always passes it).
 */
enum bundle_err bundle_check(const struct bundle *b, const uint8_t *pubkey, size_t pubkey_len,
			     const char *region, uint64_t in_force_serial, uint64_t now_s,
			     uint64_t skew_s);

/* What matched. */
struct bundle_match {
	struct bundle_meta meta;
	uint8_t prefix_len;  /* IP: length of the matching prefix */
	uint8_t addr[16];    /* IP: the matching prefix's address (network order) */
	uint16_t name_off;   /* domain: offset in the looked-up name where the matching suffix starts */
};

/*
 * Lookups, in place. `now_s` hides entries whose expiry has passed. `allow`
 * selects the allow list. Return true and fill *m on a match.
 * IP: longest matching prefix. Domain: the name is normalised (ASCII case,
 * one trailing dot) and matched against itself and every parent domain; the
 * most specific entry wins; exact-only entries match only the whole name.
 */
bool bundle_lookup_ipv4(const struct bundle *b, const uint8_t addr[4], uint64_t now_s, bool allow,
			struct bundle_match *m);
bool bundle_lookup_ipv6(const struct bundle *b, const uint8_t addr[16], uint64_t now_s, bool allow,
			struct bundle_match *m);
bool bundle_lookup_domain(const struct bundle *b, const char *name, size_t len, uint64_t now_s,
			  bool allow, struct bundle_match *m);
bool bundle_lookup_ja3(const struct bundle *b, const uint8_t md5[16], uint64_t now_s, bool allow,
		       struct bundle_match *m);

/*
 * Ask for the cache lines an address lookup (both lists) will read, in two
 * steps some lookups apart: step 0 the index slots, step 1 (which reads
 * them) the bucket of records they point to. A loop over many addresses
 * that calls step 0 for the one 2k ahead and step 1 for the one k ahead
 * overlaps the misses of the next 2k lookups instead of waiting for each
 * in turn (policy_rejudge_ahead()). ip_version 4 or 6; no effect on results.
 */
void bundle_prefetch_ip(const struct bundle *b, uint8_t ip_version, const uint8_t *addr, int step);

/*
 * What changed in one kind and list between two full bundles a and b
 * (either may be NULL: no list): every entry one has and the other has not,
 * or has with another meta, written to out as its key (IP: the prefix in
 * hi, lo (left-aligned, as bundle_match's addr reads) and plen; domain: the
 * 64-bit hash of the entry's name (bundle_domain_hash()) in hi; protocol,
 * category, JA3: the stored key). Returns how many, max + 1 when there are
 * more than max (out then holds the first max), or -EINVAL (a delta, a bad
 * kind). Entries are compared as lookups see them, not as bytes: a meta
 * table renumbered by another entry's new rule changes nothing here.
 */
struct bundle_change {
	uint64_t hi, lo;
	uint8_t plen;
	uint8_t key[32];
};
long bundle_changes(const struct bundle *a, const struct bundle *b, enum bundle_kind kind, bool allow,
		    struct bundle_change *out, size_t max);

/*
 * Protocol and category entries, for the gateway to map names to nDPI ids:
 * block list first, then allow list, each in name order. Entries past their
 * expiry are reported too: the caller honours meta->expires at match time.
 */
typedef void (*bundle_name_fn)(const char *name, const struct bundle_meta *meta, bool allow,
			       void *ctx);
void bundle_foreach_name(const struct bundle *b, enum bundle_kind kind, bundle_name_fn fn,
			 void *ctx);

/* The 64-bit hash a domain entry is stored under (normalised name; 0 if longer than BUNDLE_NAME_MAX). */
uint64_t bundle_domain_hash(const char *name, size_t len);

/*
 * A domain name as an entry holds it, the one rule for the builder and the
 * hub's feed parsers: one trailing dot dropped, 1 to BUNDLE_NAME_MAX bytes,
 * labels of 1 to BUNDLE_LABEL_MAX bytes of letters, digits, '-' and '_'
 * (anywhere: malware registers names like "x-.duckdns.org", and a name that
 * resolves must be listable), ASCII only (internationalised names are
 * written in punycode), then lower-cased into out with a NUL. Returns 0 and
 * *out_len (may be NULL), or -EINVAL and, if fault is not NULL, the first
 * fault reading left to right (the total length is checked last).
 */
#define BUNDLE_LABEL_MAX 63
enum bundle_name_fault_kind {
	BUNDLE_NAME_EMPTY = 1,   /* nothing but perhaps a dot */
	BUNDLE_NAME_EMPTY_LABEL, /* a leading dot or ".." (at: the dot) */
	BUNDLE_NAME_LONG_LABEL,  /* at, len: the label */
	BUNDLE_NAME_BAD_CHAR,    /* at: the byte */
	BUNDLE_NAME_TOO_LONG,    /* len: the name's, without its trailing dot */
};
struct bundle_name_fault {
	enum bundle_name_fault_kind kind;
	size_t at, len; /* offsets and lengths in the name as given */
};
int bundle_domain_normalise(const char *name, size_t len, char out[BUNDLE_NAME_MAX + 1],
			    size_t *out_len, struct bundle_name_fault *fault);

/* ------------------------------------------------------------ building */

struct bundle_builder; /* an in-memory set of entries */

struct bundle_builder *bundle_builder_new(void);
void bundle_builder_free(struct bundle_builder *bb);

/*
 * Add entries. An entry already present with the same key in the same list
 * is replaced (last wins) and counted in bundle_builder_replaced().
 * Return 0, -EINVAL (bad prefix length, name not a valid domain, ...) or -ENOMEM.
 *
 * -EINVAL also for: a prefix with host bits set (refused, not widened); an
 * action that does not fit the list (allow lists hold BUNDLE_ACT_ALLOW, block
 * lists BLOCK or ALERT); flags other than BUNDLE_F_EXACT, or that flag on
 * anything but a domain. Domains: as bundle_domain_normalise() takes them
 * (no '*': "*.example.com" is written "example.com").
 * Names: 1-31 printable ASCII bytes. family is AF_INET or AF_INET6.
 * add_domain returns -EEXIST if the name's 64-bit hash equals that of
 * another name already in the list (never seen in practice; refused so two
 * names never share an entry).
 */
int bundle_builder_add_ip(struct bundle_builder *bb, int family, const uint8_t *addr,
			  uint8_t prefix_len, bool allow, const struct bundle_meta *m);
int bundle_builder_add_domain(struct bundle_builder *bb, const char *name, bool allow,
			      const struct bundle_meta *m);
int bundle_builder_add_name(struct bundle_builder *bb, enum bundle_kind kind /* PROTO or CATEGORY */,
			    const char *name, bool allow, const struct bundle_meta *m);
int bundle_builder_add_ja3(struct bundle_builder *bb, const uint8_t md5[16], bool allow,
			   const struct bundle_meta *m);
size_t bundle_builder_replaced(const struct bundle_builder *bb);

/* Load every entry of an opened full bundle (to edit it, or to apply a delta to it). */
int bundle_builder_load(struct bundle_builder *bb, const struct bundle *b);

/*
 * Serialise the entries as a full bundle (canonical: the same entries and info
 * always give the same bytes), signed with the hub's private key (PEM/DER).
 * *out is malloc'ed. Returns 0 or -errno.
 * Signatures are deterministic (RFC 6979), so the whole file is canonical.
 * privkey NULL writes an unsigned bundle (empty signature: it opens but never
 * verifies), for tests and tools that only look.
 */
int bundle_build(const struct bundle_builder *bb, const struct bundle_info *info,
		 const uint8_t *privkey, size_t privkey_len, uint8_t **out, size_t *out_len);

/*
 * Delta from full bundle `old` to full bundle `new` (new's serial must be
 * greater): additions, removals, and new's own signature, signed as a delta
 * with the same key. Returns 0 or -errno.
 * new must be signed (-EINVAL otherwise); privkey NULL leaves the delta itself
 * unsigned (apply does not need its signature: the result is checked against
 * new's).
 */
int bundle_diff(const struct bundle *old, const struct bundle *new_b, const uint8_t *privkey,
		size_t privkey_len, uint8_t **out, size_t *out_len);

/*
 * Apply a verified delta to the full bundle in force: merge its sorted
 * sections with the delta's additions and removals into the full bundle it
 * describes (bundle_merge.c) and check that against the signature of the
 * full bundle the hub made. Returns BUNDLE_OK with *out and *out_len
 * (malloc'ed, a full bundle to open, check and persist like any other) or
 * BUNDLE_ERR_BASE (wrong base serial), BUNDLE_ERR_KIND,
 * BUNDLE_ERR_SIGNATURE (result differs from what the hub signed, or a
 * removal names a key not in force: the delta was made from another list),
 * BUNDLE_ERR_MALFORMED (an allow-list domain addition that is another name
 * with the same hash), BUNDLE_ERR_NOMEM.
 */
enum bundle_err bundle_apply_delta(const struct bundle *current, const struct bundle *delta,
				   const uint8_t *pubkey, size_t pubkey_len, uint8_t **out,
				   size_t *out_len);
/*
 * The same, written to the file `path` (created or truncated, synced)
 * through a 64 KiB buffer, so the new list never sits in RAM next to the
 * one in force; *d gets its digests for bundle_open_file_digests(). Also
 * BUNDLE_ERR_IO (cannot write path). On any refusal path is removed.
 */
enum bundle_err bundle_apply_delta_file(const struct bundle *current, const struct bundle *delta,
					const uint8_t *pubkey, size_t pubkey_len, const char *path,
					struct bundle_digests *d);

/* ------------------------------------------------------------ keys */

/* Generate an ECDSA P-256 key pair as PEM strings (malloc'ed). Returns 0 or -errno. */
int bundle_keygen(char **priv_pem, char **pub_pem);

/*
 * The mbedTLS plumbing the hub's PKI tool (tools/hub_pki.c) shares with the
 * signer, so that one place decides what a hub key is and how randomness is
 * drawn. Only the structures' names are needed here, not mbedTLS's headers.
 *
 * bundle_key_parse: a key as PEM (with or without its terminating NUL) or
 * DER, private (priv) or public, into an initialised pk context; only ECDSA
 * P-256 keys are taken. Returns 0, -EINVAL or -ENOMEM.
 * bundle_drbg_seed: initialise both contexts and seed a CTR-DRBG from the
 * platform's entropy with the personalisation string pers; the caller frees
 * both contexts, also on failure. Returns 0 or -EIO.
 */
struct mbedtls_pk_context;
struct mbedtls_entropy_context;
struct mbedtls_ctr_drbg_context;
int bundle_key_parse(struct mbedtls_pk_context *pk, const uint8_t *key, size_t len, bool priv);
int bundle_drbg_seed(struct mbedtls_entropy_context *ent, struct mbedtls_ctr_drbg_context *drbg,
		     const char *pers);

#endif

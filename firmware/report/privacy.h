/*
 * What of the office leaves the box (issue 12, "privacy that the office
 * controls"): each field class of a record (internal addresses, MACs, host
 * names, looked-up names) is written as it is, as a keyed pseudonym, or not
 * at all, as [report] says; internal addresses may instead be mapped with
 * Crypto-PAn, which keeps prefixes (hosts of one subnet stay in one subnet).
 *
 * The key is 32 random bytes made on the box at first use
 * (<data>/report.key, mode 0600) and never sent. Two keys are derived from
 * it with HMAC-SHA256 (labels "tg-pseudonym", "tg-cryptopan"), so the
 * pseudonym of a value never reveals the Crypto-PAn key and the other way
 * round. Pseudonyms carry their class: "ip-", "mac-", "host-", "name-" and
 * 12 hex digits (48 bits of HMAC), so `townguard report reveal` knows what
 * to search. 48 bits: a box would need some 16 million distinct values of
 * one class before two of them were even likely to share a pseudonym (an
 * office has hundreds), and a sweep of the 17.9 million private IPv4
 * addresses finds a false match once in 15 million sweeps; every bit more
 * is a byte on the SOC's wire for each host in each summary.
 */
#ifndef TG_REPORT_PRIVACY_H
#define TG_REPORT_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "core/config.h"

enum privacy_class {
	PRIV_ADDR = 0, /* internal IPv4/IPv6 addresses */
	PRIV_MAC,      /* MAC addresses */
	PRIV_HOST,     /* internal hosts' own names (DHCP host name) */
	PRIV_QUERY,    /* names the internal hosts looked up (DNS) */
	PRIV_CLASS_MAX
};

#define PRIVACY_KEY_LEN 32
/* The HMAC's bytes a pseudonym keeps (twice as many hex digits). */
#define PRIVACY_PSEUDONYM_BYTES 6
/* "host-" + the hex digits + NUL, the longest pseudonym (room to spare). */
#define PRIVACY_PSEUDONYM_MAX 32

struct privacy {
	int level[PRIV_CLASS_MAX]; /* enum tg_privacy_level */
	/*
	 * Pseudonyms: HMAC-SHA256 under a derived key, its two padded key
	 * blocks hashed once here, so that a pseudonym costs two SHA-256
	 * compressions, not four (privacy_mac).
	 */
	mbedtls_sha256_context hmac_inner, hmac_outer;
	uint8_t pan_key[32];       /* Crypto-PAn: AES-128 key, then the pad's plain text */
	uint8_t pan_pad[16];       /* AES(pan_key[16..31]) */
	void *aes;                 /* mbedtls_aes_context, NULL until a Crypto-PAn level needs it */
};

/*
 * Read <data_dir>/report.key, or make one (getrandom, written once with
 * fsync, mode 0600) if there is none. Returns 0 or -errno, with what went
 * wrong (the path, the length found, the error) logged.
 */
int privacy_load_key(const char *data_dir, uint8_t key[PRIVACY_KEY_LEN]);

/* Levels from [report]; keys derived from key. Returns 0 or -ENOMEM. */
int privacy_init(struct privacy *p, const struct tg_config *cfg, const uint8_t key[PRIVACY_KEY_LEN]);
void privacy_uninit(struct privacy *p);
/*
 * Crypto-PAn's own 32-byte key (AES-128 key, then the pad's plain text),
 * as the reference implementation takes it: privacy_init() sets one derived
 * from the box's key; tests set the paper's sample key. Returns 0 or -ENOMEM.
 */
int privacy_set_cryptopan_key(struct privacy *p, const uint8_t key[32]);

/* HMAC-SHA256 of the class's tag byte, then len bytes of value, under the pseudonyms' key. */
void privacy_mac(const struct privacy *p, uint8_t tag, const void *value, size_t len, uint8_t mac[32]);
/* The pseudonym of len bytes of value in class c into out (PRIVACY_PSEUDONYM_MAX). */
void privacy_pseudonym(const struct privacy *p, enum privacy_class c, const void *value, size_t len,
		       char *out);

/*
 * Crypto-PAn of an address (4 or 16 bytes, network order) into out: the
 * first k bits of two results agree exactly when the first k bits of the
 * inputs do. privacy_cryptopan_reverse() undoes it.
 */
void privacy_cryptopan(const struct privacy *p, const uint8_t *in, size_t len, uint8_t *out);
void privacy_cryptopan_reverse(const struct privacy *p, const uint8_t *in, size_t len, uint8_t *out);

/*
 * Set what an internal address (4 or 16 bytes) may say into obj: "ip" with
 * the address (raw, or Crypto-PAn's, a valid address of the same family) or
 * "id" with its pseudonym (ECS: an ip field must hold an address), or
 * nothing when dropped. Returns 0 or -ENOMEM.
 */
int privacy_set_addr(const struct privacy *p, json_t *obj, const uint8_t *addr, int ip_version);

/* A name of class c (PRIV_HOST, PRIV_QUERY) as field `field` of obj, as its level says. */
int privacy_set_name(const struct privacy *p, json_t *obj, const char *field, enum privacy_class c,
		     const char *name);

/* A MAC as "mac" in ECS form (AA-BB-CC-DD-EE-FF) or its pseudonym as "mac", or nothing. */
int privacy_set_mac(const struct privacy *p, json_t *obj, const uint8_t mac[6]);

/* The class a pseudonym's prefix names, or -1 if it is none of ours. */
int privacy_pseudonym_class(const char *pseudonym);

#endif

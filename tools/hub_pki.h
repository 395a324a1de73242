/*
 * The region's certificates (tg-hub provision), made with mbedTLS: one CA per
 * region, and from it the broker's server certificate, the hub's client
 * certificate and one client certificate per gateway (docs/protocol.md,
 * "Identity"). Everything here works on PEM text in memory; which file holds
 * what is tg-hub's business.
 *
 * Keys are ECDSA P-256 (the firmware's bundle_keygen()), certificates are
 * X.509 v3 signed with ECDSA-SHA256, serials are 127 random bits. Subject
 * names are "CN=<cn>,O=townguard"; the issuer of a leaf is the CA's subject,
 * rebuilt from the CA's CN, so the bytes match the CA certificate's.
 */
#ifndef TG_HUB_PKI_H
#define TG_HUB_PKI_H

#include <stddef.h>
#include <stdint.h>

struct hub_pki_key; /* a parsed private key */

/* A new P-256 key: parsed in *key and as PEM text in *pem (malloc'ed). 0 or -errno. */
int hub_pki_key_new(struct hub_pki_key **key, char **pem);
/* A PEM private key as read from a file (len without the terminating NUL). 0 or -errno. */
int hub_pki_key_parse(const char *pem, size_t len, struct hub_pki_key **key);
void hub_pki_key_free(struct hub_pki_key *key);

enum hub_pki_role {
	HUB_PKI_CA = 0, /* basicConstraints CA:TRUE (path length 0), keyCertSign|cRLSign */
	HUB_PKI_SERVER, /* digitalSignature, extendedKeyUsage serverAuth, subjectAltName */
	HUB_PKI_CLIENT, /* digitalSignature, extendedKeyUsage clientAuth */
};

struct hub_pki_cert {
	enum hub_pki_role role;
	const char *cn;          /* subject CN: 1..64 bytes, no ',', '=', '\\', '"', '+' */
	const char *dns;         /* SERVER: subjectAltName DNS name, or NULL */
	const uint8_t *ip;       /* SERVER: subjectAltName IP address (network order), or NULL */
	size_t ip_len;           /* 4 or 16 */
	unsigned int years;      /* validity */
	int64_t now;             /* seconds since the epoch: notBefore is an hour earlier */
};

/*
 * Issue a certificate for `subject`'s public key, signed by `issuer` whose
 * CN is `issuer_cn` (for the CA itself: subject == issuer, issuer_cn ==
 * c->cn). *pem is malloc'ed. Returns 0, -EINVAL (a name that cannot be a
 * subject, a bad SAN) or -EIO (mbedTLS refused; nothing else is known).
 */
int hub_pki_issue(const struct hub_pki_cert *c, struct hub_pki_key *subject,
		  struct hub_pki_key *issuer, const char *issuer_cn, char **pem);

/*
 * Check a certificate found on disk before keeping it: it parses, its CN is
 * `cn`, it chains to the CA (ca_pem; for the CA itself, its own text) and is
 * within its validity, and it belongs to `key`. Lengths exclude the NUL that
 * must follow each text. Returns 0, or -EINVAL with the reason in why.
 */
int hub_pki_check(const char *crt_pem, size_t crt_len, const char *ca_pem, size_t ca_len,
		  const char *cn, const struct hub_pki_key *key, char *why, size_t why_size);

#endif

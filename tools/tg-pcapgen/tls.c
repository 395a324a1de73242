/*
 * TLS 1.2 handshake records, hand-assembled rather than produced by a TLS
 * library: a library draws fresh randoms and keys on every run, and nothing
 * here encrypts or verifies anything. Randoms, keys and ciphertext come from
 * the capture's PRNG stream. The one certificate is a real, self-signed DER
 * blob generated once (see tls_cert) so that nDPI's certificate parser finds
 * a well-formed subject, issuer and validity.
 */
#include <string.h>

#include "core/common.h"
#include "tls.h"

/*
 * A self-signed ECDSA P-256 certificate for CN=tracker.example.net (SAN the
 * same), valid 2026-01-01 to 2027-01-01 so the capture's own clock finds it
 * current. Generated once with python3-cryptography from a fixed key; it
 * verifies against itself with `openssl verify`.
 */
static const uint8_t tls_cert[] = {
	0x30, 0x82, 0x01, 0x4c, 0x30, 0x81, 0xf4, 0xa0, 0x03, 0x02, 0x01, 0x02,
	0x02, 0x02, 0x10, 0x01, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x04, 0x03, 0x02, 0x30, 0x1e, 0x31, 0x1c, 0x30, 0x1a, 0x06, 0x03,
	0x55, 0x04, 0x03, 0x0c, 0x13, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x72,
	0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
	0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x30, 0x31, 0x30, 0x31, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x30, 0x5a, 0x17, 0x0d, 0x32, 0x37, 0x30, 0x31, 0x30,
	0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x5a, 0x30, 0x1e, 0x31, 0x1c,
	0x30, 0x1a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x13, 0x74, 0x72, 0x61,
	0x63, 0x6b, 0x65, 0x72, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x2e, 0x6e, 0x65, 0x74, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
	0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xe7, 0xac, 0x8e, 0x9f, 0x45,
	0xf9, 0xa8, 0x71, 0x08, 0x0c, 0xaf, 0xbe, 0x90, 0x90, 0xbb, 0x55, 0xf5,
	0xb0, 0x3e, 0xe1, 0x70, 0x3f, 0xea, 0x35, 0x63, 0x0a, 0x82, 0x6d, 0xc1,
	0xa2, 0x6b, 0x20, 0x5e, 0x88, 0x37, 0xc3, 0xb5, 0x6f, 0x88, 0x47, 0x5d,
	0x7c, 0x5d, 0xee, 0xd6, 0x04, 0xc9, 0xd6, 0xc1, 0x33, 0xe8, 0x9a, 0x38,
	0x9f, 0x68, 0x6e, 0x5e, 0xc6, 0x79, 0xcf, 0x14, 0xb3, 0x9c, 0xb2, 0xa3,
	0x22, 0x30, 0x20, 0x30, 0x1e, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x17,
	0x30, 0x15, 0x82, 0x13, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x72, 0x2e,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03,
	0x47, 0x00, 0x30, 0x44, 0x02, 0x20, 0x3d, 0x08, 0xbc, 0x70, 0xae, 0x59,
	0x9b, 0x89, 0xb1, 0xde, 0x5a, 0x94, 0xac, 0x03, 0x4e, 0x05, 0x14, 0x3b,
	0x50, 0x3b, 0xff, 0xfb, 0x5b, 0x52, 0x6c, 0xd2, 0x96, 0x8c, 0x7d, 0xca,
	0xde, 0x98, 0x02, 0x20, 0x42, 0x29, 0x63, 0x10, 0x90, 0x1a, 0x3d, 0x69,
	0xe6, 0x78, 0x5d, 0x98, 0x36, 0xbe, 0x6f, 0x59, 0x13, 0xf8, 0x6e, 0x4d,
	0xb9, 0xd0, 0xa0, 0x72, 0x12, 0x52, 0x05, 0x22, 0xa3, 0x99, 0xb5, 0x06,
};

/*
 * What a TLS 1.2 browser offered before TLS 1.3 (Firefox ~60 order): AEAD
 * ECDHE suites first, CBC and RSA key exchange last for old servers.
 */
static const uint16_t tls_ciphers[] = {
	0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
	0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a,
};

/* x25519, secp256r1, secp384r1, secp521r1 */
static const uint16_t tls_groups[] = { 0x001d, 0x0017, 0x0018, 0x0019 };

/* ecdsa/rsa_pss/rsa_pkcs1 with sha256, 384, 512; then the sha1 fallbacks. */
static const uint16_t tls_sigalgs[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0203, 0x0201,
};

/* ECDHE-ECDSA-AES128-GCM-SHA256: the first offer, and the cert is ECDSA. */
#define TLS_CHOSEN_CIPHER 0xc02b

#define TLS_EXT_SNI 0x0000
#define TLS_EXT_STATUS_REQUEST 0x0005
#define TLS_EXT_GROUPS 0x000a
#define TLS_EXT_POINT_FORMATS 0x000b
#define TLS_EXT_SIGALGS 0x000d
#define TLS_EXT_ALPN 0x0010
#define TLS_EXT_EMS 0x0017
#define TLS_EXT_TICKET 0x0023
#define TLS_EXT_RENEGO 0xff01

/* AES-GCM record overhead: 8-byte explicit nonce + 16-byte tag. */
#define TLS_GCM_OVERHEAD 24

static size_t tls_record_open(struct buf *b, uint8_t type, uint16_t version)
{
	buf_put8(b, type);
	buf_put16(b, version);
	return buf_open_len16(b);
}

static size_t tls_hs_open(struct buf *b, uint8_t hs_type)
{
	buf_put8(b, hs_type);
	return buf_open_len24(b);
}

static size_t tls_ext_open(struct buf *b, uint16_t type)
{
	buf_put16(b, type);
	return buf_open_len16(b);
}

static void tls_ext_empty(struct buf *b, uint16_t type)
{
	buf_put16(b, type);
	buf_put16(b, 0);
}

static void tls_alpn(struct buf *b, const char *const *protos, size_t n)
{
	size_t ext = tls_ext_open(b, TLS_EXT_ALPN);
	size_t list = buf_open_len16(b);

	for (size_t i = 0; i < n; i++) {
		size_t p = buf_open_len8(b);

		buf_putstr(b, protos[i]);
		buf_close_len8(b, p);
	}
	buf_close_len16(b, list);
	buf_close_len16(b, ext);
}

static void tls_u16_list(struct buf *b, const uint16_t *v, size_t n)
{
	size_t l = buf_open_len16(b);

	for (size_t i = 0; i < n; i++)
		buf_put16(b, v[i]);
	buf_close_len16(b, l);
}

void tls_client_hello(struct buf *b, struct pg_rng *r, const char *sni,
		      const uint8_t session_id[32])
{
	static const char *const alpn[] = { "h2", "http/1.1" };
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0301);
	size_t hs = tls_hs_open(b, 1);
	size_t exts, e, l;

	buf_put16(b, 0x0303);
	buf_putrand(b, r, 32);
	buf_put8(b, 32);
	buf_putmem(b, session_id, 32);
	tls_u16_list(b, tls_ciphers, ARRAY_SIZE(tls_ciphers));
	buf_put8(b, 1); /* compression methods: null only */
	buf_put8(b, 0);

	exts = buf_open_len16(b);

	e = tls_ext_open(b, TLS_EXT_SNI);
	l = buf_open_len16(b);
	buf_put8(b, 0); /* host_name */
	buf_put16(b, (uint16_t)strlen(sni));
	buf_putstr(b, sni);
	buf_close_len16(b, l);
	buf_close_len16(b, e);

	tls_ext_empty(b, TLS_EXT_EMS);

	e = tls_ext_open(b, TLS_EXT_RENEGO);
	buf_put8(b, 0);
	buf_close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_GROUPS);
	tls_u16_list(b, tls_groups, ARRAY_SIZE(tls_groups));
	buf_close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_POINT_FORMATS);
	buf_put8(b, 1);
	buf_put8(b, 0); /* uncompressed */
	buf_close_len16(b, e);

	tls_ext_empty(b, TLS_EXT_TICKET);
	tls_alpn(b, alpn, ARRAY_SIZE(alpn));

	e = tls_ext_open(b, TLS_EXT_STATUS_REQUEST);
	buf_put8(b, 1);   /* ocsp */
	buf_put16(b, 0);  /* no responder ids */
	buf_put16(b, 0);  /* no request extensions */
	buf_close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_SIGALGS);
	tls_u16_list(b, tls_sigalgs, ARRAY_SIZE(tls_sigalgs));
	buf_close_len16(b, e);

	buf_close_len16(b, exts);
	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

void tls_server_hello(struct buf *b, struct pg_rng *r, const uint8_t session_id[32],
		      const char *alpn)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 2);
	size_t exts, e;

	buf_put16(b, 0x0303);
	buf_putrand(b, r, 32);
	buf_put8(b, 32);
	buf_putmem(b, session_id, 32);
	buf_put16(b, TLS_CHOSEN_CIPHER);
	buf_put8(b, 0);

	exts = buf_open_len16(b);
	e = tls_ext_open(b, TLS_EXT_RENEGO);
	buf_put8(b, 0);
	buf_close_len16(b, e);
	tls_ext_empty(b, TLS_EXT_EMS);
	e = tls_ext_open(b, TLS_EXT_POINT_FORMATS);
	buf_put8(b, 1);
	buf_put8(b, 0);
	buf_close_len16(b, e);
	tls_alpn(b, &alpn, 1);
	buf_close_len16(b, exts);

	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

void tls_certificate(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 11);
	size_t list = buf_open_len24(b);
	size_t one = buf_open_len24(b);

	buf_putmem(b, tls_cert, sizeof(tls_cert));
	buf_close_len24(b, one);
	buf_close_len24(b, list);
	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

/* A DER ECDSA-Sig-Value with 32-byte r and s that need no sign padding. */
static void tls_fake_ecdsa_sig(struct buf *b, struct pg_rng *r)
{
	size_t l = buf_open_len16(b);

	buf_put8(b, 0x30);
	buf_put8(b, 68);
	for (int i = 0; i < 2; i++) {
		uint8_t v[32];

		rng_bytes(r, v, sizeof(v));
		v[0] = (uint8_t)((v[0] & 0x7f) | 0x01);
		buf_put8(b, 0x02);
		buf_put8(b, 32);
		buf_putmem(b, v, sizeof(v));
	}
	buf_close_len16(b, l);
}

void tls_server_key_exchange(struct buf *b, struct pg_rng *r)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 12);

	buf_put8(b, 3); /* named_curve */
	buf_put16(b, 0x001d);
	buf_put8(b, 32);
	buf_putrand(b, r, 32);
	buf_put16(b, 0x0403);
	tls_fake_ecdsa_sig(b, r);
	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

void tls_server_hello_done(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 14);

	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

void tls_client_key_exchange(struct buf *b, struct pg_rng *r)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 16);

	buf_put8(b, 32);
	buf_putrand(b, r, 32);
	buf_close_len24(b, hs);
	buf_close_len16(b, rec);
}

void tls_change_cipher_spec(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_CCS, 0x0303);

	buf_put8(b, 1);
	buf_close_len16(b, rec);
}

void tls_sealed(struct buf *b, struct pg_rng *r, uint8_t type, size_t plain_len)
{
	size_t rec = tls_record_open(b, type, 0x0303);

	buf_putrand(b, r, TLS_GCM_OVERHEAD + plain_len);
	buf_close_len16(b, rec);
}

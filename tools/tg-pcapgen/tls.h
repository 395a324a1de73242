/* TLS 1.2 records, one builder per handshake message (tls.c). */
#ifndef TG_PCAPGEN_TLS_H
#define TG_PCAPGEN_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rng.h"

/* Record content types. */
#define TLS_CCS 20
#define TLS_ALERT 21
#define TLS_HANDSHAKE 22
#define TLS_APPDATA 23

/* Finished: 12 bytes of verify_data behind a 4-byte handshake header. */
#define TLS_FINISHED_PLAIN 16
/* close_notify: a 2-byte alert. */
#define TLS_ALERT_PLAIN 2

/* ClientHello as a TLS 1.2 browser sends it, with SNI sni. */
void tls_client_hello(struct buf *b, struct pg_rng *r, const char *sni,
		      const uint8_t session_id[32]);
/* ServerHello choosing ECDHE-ECDSA-AES128-GCM-SHA256 and ALPN alpn. */
void tls_server_hello(struct buf *b, struct pg_rng *r, const uint8_t session_id[32],
		      const char *alpn);
/* Certificate: the one self-signed certificate. */
void tls_certificate(struct buf *b);
/* ECDHE parameters: x25519 and a public key, signed with ecdsa_secp256r1_sha256. */
void tls_server_key_exchange(struct buf *b, struct pg_rng *r);
void tls_server_hello_done(struct buf *b);
void tls_client_key_exchange(struct buf *b, struct pg_rng *r);
void tls_change_cipher_spec(struct buf *b);
/* An encrypted record: nonce, ciphertext and tag all look like noise. */
void tls_sealed(struct buf *b, struct pg_rng *r, uint8_t type, size_t plain_len);

#endif

/*
 * TLS 1.2 handshakes over frame.c's TCP: the record builders of tls.c sent
 * as the flights a browser and a server exchange, one segment run each.
 */
#include "tls.h"
#include "tlsconv.h"

static uint8_t payload[PG_PAYLOAD_MAX];

/* ChangeCipherSpec and the encrypted Finished: the end of either side's handshake. */
static void tlsconv_finished(struct buf *b, struct pg_rng *r)
{
	tls_change_cipher_spec(b);
	tls_sealed(b, r, TLS_HANDSHAKE, TLS_FINISHED_PLAIN);
}

/* The TCP handshake, then the ClientHello (session id sid) and the server's ACK. */
static void tlsconv_hello(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, const char *sni,
			  const uint8_t sid[32])
{
	struct buf b = BUF_ON(payload);

	frame_tcp_open(out, c);
	tls_client_hello(&b, r, sni, sid);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);
	frame_tcp_ack(out, c, PG_SRV);
}

void tlsconv_open_full(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, const char *sni,
		       const char *alpn)
{
	uint8_t sid_cli[32], sid_srv[32];
	struct buf b = BUF_ON(payload);

	rng_bytes(r, sid_cli, sizeof(sid_cli));
	rng_bytes(r, sid_srv, sizeof(sid_srv));
	tlsconv_hello(out, r, c, sni, sid_cli);

	tls_server_hello(&b, r, sid_srv, alpn);
	tls_certificate(&b);
	tls_server_key_exchange(&b, r);
	tls_server_hello_done(&b);
	frame_tcp_data(out, c, PG_SRV, b.p, b.len);
	frame_tcp_ack(out, c, PG_CLI);

	b.len = 0;
	tls_client_key_exchange(&b, r);
	tlsconv_finished(&b, r);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	tlsconv_finished(&b, r);
	frame_tcp_data(out, c, PG_SRV, b.p, b.len);
}

void tlsconv_open_resumed(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, const char *sni,
			  const char *alpn, size_t first_len)
{
	uint8_t sid[32];
	struct buf b = BUF_ON(payload);

	rng_bytes(r, sid, sizeof(sid));
	tlsconv_hello(out, r, c, sni, sid);

	tls_server_hello(&b, r, sid, alpn);
	tlsconv_finished(&b, r);
	frame_tcp_data(out, c, PG_SRV, b.p, b.len);

	b.len = 0;
	tlsconv_finished(&b, r);
	tls_sealed(&b, r, TLS_APPDATA, first_len);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);
}

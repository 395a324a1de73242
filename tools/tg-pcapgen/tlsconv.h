/* TLS 1.2 handshakes as TCP conversations (tlsconv.c): what demo and office share. */
#ifndef TG_PCAPGEN_TLSCONV_H
#define TG_PCAPGEN_TLSCONV_H

#include <stddef.h>

#include "frame.h"
#include "rng.h"

/*
 * The TCP handshake, then a full TLS 1.2 handshake for sni: ClientHello;
 * ServerHello (ALPN alpn), Certificate, ServerKeyExchange, ServerHelloDone;
 * ClientKeyExchange, ChangeCipherSpec, Finished; ChangeCipherSpec, Finished.
 */
void tlsconv_open_full(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, const char *sni,
		       const char *alpn);
/*
 * The TCP handshake, then an abbreviated (session-id resumption) one: the
 * server echoes the client's session id and goes straight to
 * ChangeCipherSpec, Finished; the client's ChangeCipherSpec and Finished
 * carry its first application data record (first_len plain bytes) along.
 */
void tlsconv_open_resumed(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, const char *sni,
			  const char *alpn, size_t first_len);

#endif

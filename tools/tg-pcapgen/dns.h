/* DNS query and answer payloads (dns.c). */
#ifndef TG_PCAPGEN_DNS_H
#define TG_PCAPGEN_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DNS_A 1
#define DNS_AAAA 28

/* A recursive query (RD) for one name. */
void dns_query(struct buf *b, uint16_t id, const char *name, uint16_t qtype);
/* Its answer (QR, RD, RA): the question again and one record pointing at it. */
void dns_reply(struct buf *b, uint16_t id, const char *name, uint16_t qtype, const uint8_t *rdata,
	       size_t rdlen, uint32_t ttl);

#endif

/*
 * DNS messages as a stub resolver and a recursive server exchange them: one
 * question, and for the answer one record whose name is a compression
 * pointer to it.
 */
#include <string.h>

#include "dns.h"

static void dns_name(struct buf *b, const char *name)
{
	while (*name) {
		size_t n = strcspn(name, ".");

		buf_put8(b, (uint8_t)n);
		buf_putmem(b, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	buf_put8(b, 0);
}

static void dns_header(struct buf *b, uint16_t id, uint16_t flags, uint16_t ancount)
{
	buf_put16(b, id);
	buf_put16(b, flags);
	buf_put16(b, 1); /* qdcount */
	buf_put16(b, ancount);
	buf_put16(b, 0); /* nscount */
	buf_put16(b, 0); /* arcount */
}

void dns_query(struct buf *b, uint16_t id, const char *name, uint16_t qtype)
{
	dns_header(b, id, 0x0100, 0);
	dns_name(b, name);
	buf_put16(b, qtype);
	buf_put16(b, 1); /* IN */
}

void dns_reply(struct buf *b, uint16_t id, const char *name, uint16_t qtype,
	       const uint8_t *rdata, size_t rdlen, uint32_t ttl)
{
	dns_header(b, id, 0x8180, 1);
	dns_name(b, name);
	buf_put16(b, qtype);
	buf_put16(b, 1);
	buf_put16(b, 0xc00c); /* compression pointer to the question name */
	buf_put16(b, qtype);
	buf_put16(b, 1);
	buf_put32(b, ttl);
	buf_put16(b, (uint16_t)rdlen);
	buf_putmem(b, rdata, rdlen);
}

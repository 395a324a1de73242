/*
 * DNS bindings: which name an address was last answered for, until the
 * answer's TTL runs out.
 *
 * The gateway sees a client ask for a name and the answer's addresses; a
 * later flow to one of those addresses (QUIC, TLS with ECH, anything that
 * carries no SNI or Host) is then judged by that name (verdict stage
 * `dns_binding`). One binding per address (family and address): binding an
 * address again replaces its name and expiry, so an address shared by
 * several names (a CDN edge) is judged by the name most recently answered
 * with it.
 *
 * The table also holds aliases the answers proved: a query name whose
 * CNAME chain led to a listed name is bound, as a name, to that listed name
 * for the TTL (dnsbind_alias_add()), so a flow that names the alias (its SNI
 * or Host) is known to go to the listed name. Aliases and addresses share
 * the capacity, the expiry and the replacement rule.
 *
 * Memory is fixed at dnsbind_new(): capacity entries, each holding its name
 * whole. Names are stored up to DNS_NAME_MAX (253) bytes rather than in
 * shorter slots because a name that did not fit would go unbound, and the
 * owner of a blocked domain chooses its subdomains: padding them past the
 * slot would take its addresses out of the table. A binding costs 304
 * bytes (a 296-byte entry, 4 of bucket, 4 of heap), and entries are handed
 * out from a high-water mark, so a table that never fills never touches its
 * tail (16384 bindings: at most 4.75 MiB; 128-byte name slots would have
 * saved 2 MiB of that).
 *
 * Times are the caller's milliseconds (capture time in replay). A binding
 * made at now with TTL t (clamped to CONFIG_DNS_BINDING_TTL_MIN..MAX
 * seconds) is returned by lookups up to and including now + t, and is gone
 * 1 ms later. Expired bindings are dropped when looked up and reclaimed
 * before every add; when the table is full of live bindings, the one
 * closest to expiry is replaced (ties: the one bound or rebound first).
 */
#ifndef TG_DNSBIND_H
#define TG_DNSBIND_H

#include <stdint.h>

#include "packet/decode.h"
#include "packet/dns.h"

#define DNSBIND_MAX_CAPACITY (UINT32_C(1) << 24)

struct dnsbind;

struct dnsbind_stats {
	uint64_t added;          /* new bindings */
	uint64_t updated;        /* bound again: name and expiry replaced */
	uint64_t replaced_full;  /* live bindings replaced because the table was full */
	uint64_t expired;        /* bindings dropped at their expiry */
	uint64_t refused;        /* adds with a family other than 4 and 6 or a name over 253 bytes */
	uint64_t aliases;        /* dnsbind_alias_add() calls taken (new or updated) */
	uint64_t hits, misses;   /* lookups */
	uint32_t active;
	uint32_t capacity;
};

/*
 * capacity: bindings, 0 = CONFIG_DNS_BINDINGS. Returns NULL with errno
 * EINVAL (capacity over DNSBIND_MAX_CAPACITY) or ENOMEM.
 */
struct dnsbind *dnsbind_new(uint32_t capacity);
void dnsbind_free(struct dnsbind *t);

/*
 * Bind addr (family 4: the first 4 bytes; 6: all 16) to name (normalised
 * as dns_parse() writes it, NUL-terminated, at most DNS_NAME_MAX bytes)
 * until now_ms + ttl_s seconds (clamped). Binding an address again replaces
 * its name and expiry. A bad family or name is refused (counted).
 */
void dnsbind_add(struct dnsbind *t, uint8_t family, const union ip_addr *addr, const char *name,
		 uint32_t ttl_s, uint64_t now_ms);

/*
 * The name addr is bound to at now_ms, or NULL (an expired binding is
 * dropped and not returned). The string stays valid until the next
 * dnsbind_add(), dnsbind_clear() or dnsbind_free().
 */
const char *dnsbind_lookup(struct dnsbind *t, uint8_t family, const union ip_addr *addr,
			   uint64_t now_ms);

/*
 * Bind the name alias (normalised, at most DNS_NAME_MAX bytes) to the listed
 * name it is a CNAME alias of, until now_ms + ttl_s (clamped), as
 * dnsbind_add() does for an address. A name too long is refused (counted).
 */
void dnsbind_alias_add(struct dnsbind *t, const char *alias, const char *name, uint32_t ttl_s,
		       uint64_t now_ms);

/* The listed name alias is bound to at now_ms, or NULL; valid as dnsbind_lookup()'s. */
const char *dnsbind_alias_lookup(struct dnsbind *t, const char *alias, uint64_t now_ms);

/* Drop every binding (the counters are kept). */
void dnsbind_clear(struct dnsbind *t);

void dnsbind_get_stats(const struct dnsbind *t, struct dnsbind_stats *st);

#endif

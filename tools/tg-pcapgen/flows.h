/* Captures of N distinct flows of one kind, for benchmarks and fuzzing (flows.c). */
#ifndef TG_PCAPGEN_FLOWS_H
#define TG_PCAPGEN_FLOWS_H

#include <stdint.h>

/*
 * Flow i comes from 10.a.b.z, with a.b = i mod FLOW_HOSTS and
 * z = 1 + i / FLOW_HOSTS: distinct for every i below FLOWS_MAX, so every
 * flow is a distinct 5-tuple whatever port the PRNG picks. FLOW_HOSTS is
 * prime so that consecutive flows walk all of 10.a.b before reusing one.
 */
#define FLOW_HOSTS 65521u
#define FLOWS_MAX ((uint64_t)FLOW_HOSTS * 254u)
/* --packets-per-flow at most this. */
#define FLOW_PPF_MAX 1000

/* --kind: what each flow is. */
enum flow_kind { FLOW_DNS, FLOW_SYN, FLOW_UDP, FLOW_GARBAGE };

struct flows_opts {
	uint64_t seed;       /* the PRNG stream's start (--seed) */
	uint64_t ppf;        /* packets per flow (--packets-per-flow); 0: the kind's */
	enum flow_kind kind; /* --kind */
	const char *blocked; /* --blocked (office): a domains feed */
};

/*
 * Writes n (1..FLOWS_MAX) flows to path. 0 or a negative errno (already
 * reported).
 */
int flows_write(uint64_t n, const char *path, const struct flows_opts *o);

#endif

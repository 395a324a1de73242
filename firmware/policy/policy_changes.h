/*
 * What a bundle swap changed, for re-judging the open flows
 * (policy_rejudge(), policy.h): the entries the new list added, dropped or
 * gave another meta, kept so that a flow none of them can reach is passed
 * over instead of looked up again. A delta from the hub changes a handful
 * of a million entries; judging 100k flows against the whole list costs
 * 80-170 ms on a small board (docs/benchmarks.md), checking them against
 * the handful a few.
 */
#ifndef TG_POLICY_CHANGES_H
#define TG_POLICY_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "packet/dnsbind.h"
#include "packet/flow.h"
#include "policy/bundle.h"

/*
 * What a swap changed (policy_set_bundle()), for policy_rejudge() to pass
 * over the flows no changed entry can reach. Up to POLICY_CHANGES_MAX
 * changed domain entries and IPv4 prefixes are kept one by one (a delta
 * from the hub adds or drops a few hundred); past that, or for a change in
 * IPv6, protocols, categories or JA3 (small sections, rarely changed),
 * every flow those can reach is judged again.
 */
#define POLICY_CHANGES_MAX 1024

struct policy_changes {
	bool open;     /* a walk under these changes has not ended (policy_rejudge_done()) */
	bool all;      /* every flow is judged again */
	bool ipv6;     /* an IPv6 section changed: every IPv6 flow */
	bool classes;  /* protocol, category or JA3 changed: every flow DPI decided */
	uint32_t n_dom, n_v4;
	bool dom_zero;                          /* a changed domain's hash is 0 (not a slot) */
	uint64_t dom[2 * POLICY_CHANGES_MAX];   /* changed domain hashes, open addressing; 0 = free */
	uint64_t v4_16[65536 / 64];             /* the /16s a changed IPv4 prefix touches */
	uint32_t v4_lo[POLICY_CHANGES_MAX];    /* changed IPv4 prefixes by first address ... */
	uint32_t v4_hi_max[POLICY_CHANGES_MAX]; /* ... and the last address of any up to here */
};

/*
 * What changed from old to b (either NULL: no list); the bundles must be
 * open. After a walk that did not end (c->open), every flow is reached.
 */
void policy_changes_note(struct policy_changes *c, const struct bundle *old, const struct bundle *b);

/* Can the changes reach f (its addresses, the names its judgement looks up)? */
bool policy_changes_reach(const struct policy_changes *c, const struct flow *f, struct dnsbind *bindings,
			  uint64_t now_ms);

#endif

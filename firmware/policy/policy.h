/*
 * Policy: a verdict per flow from the blocklist bundle in force, taken at the
 * earliest point the evidence exists:
 *
 *   stage        evidence                               when
 *   ip           either endpoint's address              first packet
 *   dns_binding  an alias of a listed name the flow       its name; with no name, once
 *                names, or for a flow with no name, the   none is coming (first packet
 *                address answered for a listed name       for ICMP, port 53 ...)
 *   dns          DNS query name, each query on its own   the query
 *   sni          TLS / QUIC server name                  the ClientHello
 *   http_host    HTTP Host                               the request
 *   protocol     nDPI protocol (app, then master)        detection
 *   category     nDPI category                           detection
 *   ja3          JA3 client hash                         detection
 *
 * Precedence (docs/policy.md): an allow-list entry of a kind overrides block
 * and alert entries of the same kind (an allowed name is not judged by a
 * blocked parent; an allowed address is not judged by a blocked prefix).
 * The first block verdict is final; an alert verdict is kept until a block
 * verdict replaces it. Every hit is reported through the hit callback with
 * the indicator that matched, so hits are counted per rule even when a flow
 * matches several.
 *
 * A verdict belongs to the request it judged. On port 53 the flow is not
 * judged by a DNS name: every query is, on its own, and its verdict (stage
 * dns in the flow) lasts until the next query replaces it, so the answers to
 * allowed queries on a flow that carried a blocked one pass untouched.
 *
 * DNS responses bind the answered addresses to the first listed name of the
 * chain (query name, then CNAMEs) for the records' TTL, and learn the names
 * before it on the chain as aliases of it. A flow is judged by its own name
 * when it shows one (SNI, Host), and an alias counts as its listed name
 * (stage dns_binding); the address binding judges only a flow that shows no
 * name: at its first packet if it cannot (ICMP, port 53...), else once DPI
 * or its first bytes say none is coming. Exact-only entries bind no
 * address. docs/policy.md has the trade-off.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stdint.h>

#include "packet/decode.h"
#include "packet/dpi.h"
#include "packet/flow.h"
#include "packet/pipeline.h"
#include "policy/bundle.h"

enum policy_stage {
	POLICY_STAGE_NONE = 0,
	POLICY_STAGE_IP,
	POLICY_STAGE_DNS,
	POLICY_STAGE_SNI,
	POLICY_STAGE_HTTP_HOST,
	POLICY_STAGE_DNS_BINDING,
	POLICY_STAGE_PROTOCOL,
	POLICY_STAGE_CATEGORY,
	POLICY_STAGE_JA3,
	POLICY_STAGE_MAX
};

const char *policy_stage_name(enum policy_stage s); /* "ip", "dns", ... */

#define POLICY_INDICATOR_MAX 256

/* One match, reported as it happens. */
struct policy_hit {
	const struct flow *flow;
	uint32_t rule;
	uint8_t action;                      /* enum bundle_action (block or alert) */
	uint8_t stage;                       /* enum policy_stage */
	char indicator[POLICY_INDICATOR_MAX];/* "203.0.113.0/24", "example.com", "BitTorrent", ja3 hex */
};

typedef void (*policy_hit_fn)(const struct policy_hit *hit, void *ctx);

struct policy_stats {
	uint64_t hits[POLICY_STAGE_MAX];
	uint64_t allowed;       /* matches suppressed by an allow entry */
	uint64_t dns_responses; /* responses parsed for bindings */
	uint64_t dns_bad;       /* responses that did not parse */
	uint64_t bindings;      /* addresses bound to a listed name */
	uint64_t aliases;       /* names learned as aliases of a listed name (CNAME chains) */
	uint64_t bind_pending;  /* flows to a bound address left to be judged by their own name */
	uint64_t queries;       /* DNS queries judged (each on its own) */
	uint64_t queries_bad;   /* messages to port 53 that are no parsable query: passed unjudged */
	uint64_t rejudge_skipped; /* flows policy_rejudge() passed over: nothing the swap changed reaches them */
};

struct policy;

/* Returns NULL on allocation failure. dpi maps protocol and category names. */
struct policy *policy_new(struct dpi *dpi, policy_hit_fn on_hit, void *ctx);
void policy_free(struct policy *p);

/*
 * Judge flows with bundle b from now on (NULL: no bundle). The caller keeps b
 * open until it is replaced, and the one it replaces open during the call:
 * what changed from it to b is worked out here (bundle_changes()) for
 * policy_rejudge(). Verdicts already taken stay.
 */
void policy_set_bundle(struct policy *p, const struct bundle *b);
const struct bundle *policy_bundle(const struct policy *p);

/* A new flow's first packet (stages ip and dns_binding). wall_s: seconds since the epoch. */
void policy_flow_start(struct policy *p, struct flow *f, uint64_t wall_s, uint64_t now_ms);
/* After DPI saw a packet of f: host names as soon as nDPI has them, the rest at detection. */
void policy_flow_dpi(struct policy *p, struct flow *f, uint64_t wall_s);
/* Every packet: DNS responses feed the bindings. */
void policy_packet(struct policy *p, struct flow *f, const struct pkt *pk, uint64_t wall_s,
		   uint64_t now_ms);

/*
 * A host name read outside nDPI (packet/hold.c's parsers: an SNI or Host
 * split across segments), judged as policy_flow_dpi() judges nDPI's: once
 * per flow (FLOW_F_HOST_CHECKED), stage sni or http_host by kind.
 */
void policy_flow_name(struct policy *p, struct flow *f, enum dpi_host_kind kind, const char *name,
		      uint64_t wall_s);

void policy_get_stats(const struct policy *p, struct policy_stats *st);

/* What a new bundle did to a flow's verdict (policy_rejudge()). */
enum policy_rejudge_result {
	POLICY_REJUDGE_SAME = 0, /* blocked before and now, or not blocked before and now */
	POLICY_REJUDGE_BLOCKED,  /* not blocked before, blocked now: the flow must be cut */
	POLICY_REJUDGE_LIFTED,   /* blocked before, not now: its frames pass again */
};

/*
 * Judge a live flow again, from scratch, against the bundle in force (set
 * with policy_set_bundle()), with every piece of evidence it has shown so
 * far: its addresses and the DNS bindings (stages ip, dns_binding), its
 * recorded name (dns, sni, http_host) and, once DPI has decided, protocol,
 * category and JA3. The earlier verdict is dropped first: a block the new
 * list no longer has is lifted (FLOW_F_ENFORCED cleared, so a later block
 * resets again). A flow still in DPI is judged on what it has shown and
 * judged on by the packet path as usual. Hits are reported through the hit
 * callback (and counted) only when the verdict differs from the earlier
 * one, so re-judging does not count a rule twice for one flow.
 */
enum policy_rejudge_result policy_rejudge(struct policy *p, struct flow *f, uint64_t wall_s,
					  uint64_t now_ms);

/*
 * Which flows policy_rejudge() judges again: only those the swap's changes
 * can reach (docs/policy.md, "A new list and the open flows"). A flow is
 * reached when an entry that was added, removed or given another rule,
 * action, expiry or flag covers one of its addresses, the name it shows, a
 * name one of its ends is bound to or the listed name its name is a proved
 * alias of; more than POLICY_CHANGES_MAX changed domains or IPv4 prefixes,
 * any change in IPv6 (for IPv6 flows) or in protocols, categories or JA3
 * (for flows DPI decided) reach them all. The rest keep their verdict and
 * are counted in rejudge_skipped: they would be judged as they were. The
 * changes hold against the list replaced only if every flow was judged
 * under it: the walk calls policy_rejudge_done() when it has passed every
 * flow, and a swap before that (or from no list, or to none) judges every
 * flow again.
 */
void policy_rejudge_done(struct policy *p);

/*
 * A walk's look ahead (bundle_prefetch_ip()): step 0 for the flow
 * 2 * POLICY_AHEAD records before the one policy_rejudge() judges, step 1
 * for the one POLICY_AHEAD before, so the cache misses of its addresses'
 * lookups in a big list overlap with the flows judged meanwhile. Only while
 * every flow is judged again (the first list, a swap during a walk); a no-op
 * otherwise and for no list. Never changes a verdict.
 */
#define POLICY_AHEAD 8
void policy_rejudge_ahead(struct policy *p, const struct flow *f, int step);

/*
 * The look ahead as a queue for a walk's callback: policy_ahead_push()
 * takes each flow the walk hands over and returns the one to judge now
 * (2 * POLICY_AHEAD flows back, NULL while the queue fills); once the walk
 * call returns, policy_ahead_pop() hands out the rest, oldest first, until
 * NULL. Drain it before anything else runs: the queued records are only
 * valid within the walk call. Zero-initialise.
 */
struct policy_ahead {
	struct flow *q[2 * POLICY_AHEAD];
	uint32_t n, done; /* flows pushed, flows handed back */
};

struct flow *policy_ahead_push(struct policy *p, struct policy_ahead *a, struct flow *f);
struct flow *policy_ahead_pop(struct policy_ahead *a);

/* The three calls above as the packet path's judge: pipeline_set_judge(pl, &policy_judge, p). */
extern const struct pipeline_judge policy_judge;

#endif

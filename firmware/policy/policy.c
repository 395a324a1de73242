/*
 * Per-flow verdicts from the bundle in force. See policy.h for the stages and
 * the precedence rules, docs/policy.md for the operator's view.
 *
 * Protocol and category entries name nDPI protocols and categories; they are
 * mapped to nDPI ids once per bundle (a bitmap each for the block and allow
 * lists), so judging a decided flow costs two bit tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "policy"
#include "core/common.h"
#include "core/log.h"
#include "packet/dns.h"
#include "packet/dnsbind.h"
#include "policy/policy.h"
#include "policy/policy_changes.h"

#define DNS_PORT 53

/*
 * Packets a flow to a DNS-bound address may send before its binding judges
 * it when it shows no name: a SYN, the handshake's ACK and a ClientHello or
 * request split over up to six segments (two are usual: a post-quantum key
 * share makes a ClientHello of about 1.8 KB).
 */
#define POLICY_BIND_WAIT 8

/* nDPI 4.2 protocol ids are below 512 and category ids below 256 (custom ones included). */
#define POLICY_MAX_PROTO_ID 512
#define POLICY_MAX_CATEGORY_ID 256

struct policy_names {
	uint64_t bits[POLICY_MAX_PROTO_ID / 64];
	struct bundle_meta meta[POLICY_MAX_PROTO_ID];
};

struct policy {
	const struct bundle *bundle;
	struct policy_changes changes;
	struct dpi *dpi;
	struct dnsbind *bindings;
	policy_hit_fn on_hit;
	void *ctx;
	/* [0] block list, [1] allow list */
	struct policy_names protos[2];
	struct policy_names categories[2];
	struct policy_stats st;
};

static const char *const stage_names[POLICY_STAGE_MAX] = {
	[POLICY_STAGE_NONE] = "none",	     [POLICY_STAGE_IP] = "ip",
	[POLICY_STAGE_DNS] = "dns",	     [POLICY_STAGE_SNI] = "sni",
	[POLICY_STAGE_HTTP_HOST] = "http_host", [POLICY_STAGE_DNS_BINDING] = "dns_binding",
	[POLICY_STAGE_PROTOCOL] = "protocol", [POLICY_STAGE_CATEGORY] = "category",
	[POLICY_STAGE_JA3] = "ja3",
};

const char *policy_stage_name(enum policy_stage s)
{
	return (unsigned int)s < POLICY_STAGE_MAX ? stage_names[s] : "?";
}

struct policy *policy_new(struct dpi *dpi, policy_hit_fn on_hit, void *ctx)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->bindings = dnsbind_new(0);
	if (!p->bindings) {
		free(p);
		return NULL;
	}
	p->dpi = dpi;
	p->on_hit = on_hit;
	p->ctx = ctx;
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	dnsbind_free(p->bindings);
	free(p);
}

struct policy_map_ctx {
	struct policy *p;
	enum bundle_kind kind;
};

static void policy_map_name(const char *name, const struct bundle_meta *meta, bool allow, void *c)
{
	struct policy_map_ctx *mc = c;
	struct policy *p = mc->p;
	bool proto = mc->kind == BUNDLE_PROTO;
	struct policy_names *n = proto ? &p->protos[allow] : &p->categories[allow];
	int id = proto ? dpi_proto_id(p->dpi, name) : dpi_category_id(p->dpi, name);
	int max = proto ? POLICY_MAX_PROTO_ID : POLICY_MAX_CATEGORY_ID;

	if (id < 0 || id >= max) {
		log_warn("bundle %s \"%s\" is not known to nDPI: entry (rule %u) ignored",
			 proto ? "protocol" : "category", name, meta->rule);
		return;
	}
	n->bits[id / 64] |= 1ull << (id % 64);
	n->meta[id] = *meta;
}

void policy_rejudge_done(struct policy *p)
{
	p->changes.open = false;
}

void policy_rejudge_ahead(struct policy *p, const struct flow *f, int step)
{
	if (!p->bundle || !p->changes.all)
		return;
	bundle_prefetch_ip(p->bundle, f->key.ip_version, flow_dst(f)->b, step);
}

struct flow *policy_ahead_push(struct policy *p, struct policy_ahead *a, struct flow *f)
{
	const uint32_t size = 2 * POLICY_AHEAD;
	struct flow *out = NULL;

	policy_rejudge_ahead(p, f, 0);
	if (a->n - a->done >= POLICY_AHEAD)
		policy_rejudge_ahead(p, a->q[(a->n - POLICY_AHEAD) % size], 1);
	if (a->n - a->done == size)
		out = a->q[a->done++ % size];
	a->q[a->n++ % size] = f;
	return out;
}

struct flow *policy_ahead_pop(struct policy_ahead *a)
{
	if (a->done == a->n) {
		a->n = a->done = 0;
		return NULL;
	}
	return a->q[a->done++ % (2 * POLICY_AHEAD)];
}

void policy_set_bundle(struct policy *p, const struct bundle *b)
{
	struct policy_map_ctx mc = { .p = p };

	policy_changes_note(&p->changes, p->bundle, b);
	p->bundle = b;
	memset(p->protos, 0, sizeof(p->protos));
	memset(p->categories, 0, sizeof(p->categories));
	if (!b)
		return;
	mc.kind = BUNDLE_PROTO;
	bundle_foreach_name(b, BUNDLE_PROTO, policy_map_name, &mc);
	mc.kind = BUNDLE_CATEGORY;
	bundle_foreach_name(b, BUNDLE_CATEGORY, policy_map_name, &mc);
}

const struct bundle *policy_bundle(const struct policy *p)
{
	return p->bundle;
}

void policy_get_stats(const struct policy *p, struct policy_stats *st)
{
	*st = p->st;
}

/* Port 53: the queries on it are judged one by one, not the flow (policy.h). */
static bool policy_dns_flow(const struct flow *f)
{
	return (f->key.l4_proto == IPPROTO_UDP || f->key.l4_proto == IPPROTO_TCP) &&
	       (f->key.port_a == DNS_PORT || f->key.port_b == DNS_PORT);
}

/* The verdict in f is that of the DNS query just judged, not the flow's own. */
static bool policy_query_verdict(const struct flow *f)
{
	return f->verdict_stage == POLICY_STAGE_DNS && policy_dns_flow(f);
}

/* ------------------------------------------------------------ re-judging on a swap */

struct policy_rejudge_ctx {
	struct policy_hit hit;   /* the hit the verdict now rests on */
	bool have;
};

/* While re-judging: keep the hit the flow's verdict was taken from, report nothing yet. */
static void policy_rejudge_hit(const struct policy_hit *hit, void *c)
{
	struct policy_rejudge_ctx *rc = c;
	const struct flow *f = hit->flow;

	if (hit->rule == f->verdict_rule && hit->stage == f->verdict_stage &&
	    hit->action == f->verdict_action) {
		rc->hit = *hit;
		rc->have = true;
	}
}

/*
 * Run the same stages as the packet path (policy_flow_start(),
 * policy_flow_dpi()) on a flow whose verdict was cleared, with the hit
 * callback and the counters set aside, so the rules these functions apply
 * are the ones re-judging applies.
 */
enum policy_rejudge_result policy_rejudge(struct policy *p, struct flow *f, uint64_t wall_s,
					  uint64_t now_ms)
{
	bool was_blocked = f->verdict_stage && f->verdict_action == BUNDLE_ACT_BLOCK;
	uint8_t old_stage = f->verdict_stage, old_action = f->verdict_action;
	uint32_t old_rule = f->verdict_rule;
	struct policy_stats st = p->st;
	struct policy_rejudge_ctx rc = { .have = false };
	policy_hit_fn on_hit = p->on_hit;
	void *ctx = p->ctx;
	bool blocked;

	if (!policy_changes_reach(&p->changes, f, p->bindings, now_ms)) {
		p->st.rejudge_skipped++;
		return POLICY_REJUDGE_SAME;
	}
	f->verdict_stage = POLICY_STAGE_NONE;
	f->verdict_action = 0;
	f->verdict_rule = 0;
	f->flags &= (uint8_t)~(FLOW_F_HOST_CHECKED | FLOW_F_CLASS_CHECKED);
	p->on_hit = policy_rejudge_hit;
	p->ctx = &rc;
	policy_flow_start(p, f, wall_s, now_ms);
	policy_flow_dpi(p, f, wall_s);
	p->on_hit = on_hit;
	p->ctx = ctx;
	st.allowed = p->st.allowed;
	p->st = st;

	blocked = f->verdict_stage && f->verdict_action == BUNDLE_ACT_BLOCK;
	if (rc.have && (f->verdict_stage != old_stage || f->verdict_action != old_action ||
			f->verdict_rule != old_rule)) {
		p->st.hits[rc.hit.stage]++;
		if (p->on_hit)
			p->on_hit(&rc.hit, p->ctx);
	}
	if (was_blocked == blocked)
		return POLICY_REJUDGE_SAME;
	if (!blocked) {
		f->flags &= (uint8_t)~FLOW_F_ENFORCED;
		return POLICY_REJUDGE_LIFTED;
	}
	return POLICY_REJUDGE_BLOCKED;
}

/*
 * Record a hit: a block verdict is final, an alert one stands until a block
 * replaces it. Every hit is reported, kept or not, so rules are counted.
 */
static void policy_hit(struct policy *p, struct flow *f, const struct bundle_meta *m,
		       enum policy_stage stage, const char *indicator)
{
	/*
	 * Filled field by field, the text copied up to its NUL: a swap can
	 * make a hit of most of 100k flows in one walk, and formatting
	 * (snprintf) and zeroing 256 bytes each time was a sixth of it.
	 */
	size_t n = strnlen(indicator, sizeof(((struct policy_hit *)0)->indicator) - 1);
	struct policy_hit hit;
	bool keep = !f->verdict_stage || policy_query_verdict(f) ||
		    (f->verdict_action != BUNDLE_ACT_BLOCK && m->action == BUNDLE_ACT_BLOCK);

	if (keep) {
		f->verdict_rule = m->rule;
		f->verdict_action = m->action;
		f->verdict_stage = (uint8_t)stage;
	}
	hit.flow = f;
	hit.rule = m->rule;
	hit.action = m->action;
	hit.stage = (uint8_t)stage;
	memcpy(hit.indicator, indicator, n);
	hit.indicator[n] = '\0';
	p->st.hits[stage]++;
	if (p->on_hit)
		p->on_hit(&hit, p->ctx);
}

static bool policy_final(const struct flow *f)
{
	return f->verdict_stage && f->verdict_action == BUNDLE_ACT_BLOCK && !policy_query_verdict(f);
}

/* Look an address up: allow list first (it overrides), then the block list. */
static bool policy_ip(struct policy *p, uint8_t ip_version, const union ip_addr *a, uint64_t wall_s,
		      struct bundle_match *m)
{
	bool (*lookup)(const struct bundle *, const uint8_t *, uint64_t, bool, struct bundle_match *) =
		ip_version == 4 ? bundle_lookup_ipv4 : bundle_lookup_ipv6;

	if (lookup(p->bundle, a->b, wall_s, true, m)) {
		p->st.allowed++;
		return false;
	}
	return lookup(p->bundle, a->b, wall_s, false, m);
}

/* Decimal digits of v (< 1000) at p; returns the end. */
static char *policy_put_dec(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/*
 * "a.b.c.d/len" or "v6addr/len". IPv4 by hand: glibc's inet_ntop() formats
 * it with sprintf, and a swap that cuts 50k flows by address paid for it.
 */
static void policy_prefix_text(uint8_t ip_version, const struct bundle_match *m, char *buf,
			       size_t len)
{
	char addr[INET6_ADDRSTRLEN], *e;

	if (ip_version == 4 && len >= sizeof("255.255.255.255/32")) {
		e = buf;
		for (int i = 0; i < 4; i++) {
			e = policy_put_dec(e, m->addr[i]);
			*e++ = i < 3 ? '.' : '/';
		}
		e = policy_put_dec(e, m->prefix_len);
		*e = '\0';
		return;
	}
	inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, m->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, m->prefix_len);
}

enum policy_name_is {
	NAME_UNLISTED = 0,
	NAME_LISTED,  /* block or alert entry, *m filled */
	NAME_ALLOWED, /* an allow entry covers it */
	NAME_TOO_LONG,
};

/*
 * A name: allow list first, then the block list. The name is normalised
 * (ASCII lower case, no trailing dot) into norm, so the indicator reported
 * (norm + m->name_off) reads as the listed entry does.
 */
static enum policy_name_is policy_name_is(struct policy *p, const char *name, uint64_t wall_s,
					  struct bundle_match *m, char norm[BUNDLE_NAME_MAX + 2])
{
	size_t len = 0;

	for (; len <= BUNDLE_NAME_MAX && name[len]; len++)
		norm[len] = (char)(name[len] >= 'A' && name[len] <= 'Z' ? name[len] + 32 : name[len]);
	if (len > BUNDLE_NAME_MAX) {
		norm[0] = '\0';
		return NAME_TOO_LONG; /* longer than any domain: nothing can be listed under it */
	}
	if (len && norm[len - 1] == '.')
		len--;
	norm[len] = '\0';
	if (bundle_lookup_domain(p->bundle, norm, len, wall_s, true, m)) {
		p->st.allowed++;
		return NAME_ALLOWED;
	}
	return bundle_lookup_domain(p->bundle, norm, len, wall_s, false, m) ? NAME_LISTED
									    : NAME_UNLISTED;
}

static bool policy_name(struct policy *p, const char *name, uint64_t wall_s, struct bundle_match *m,
			char norm[BUNDLE_NAME_MAX + 2])
{
	return policy_name_is(p, name, wall_s, m, norm) == NAME_LISTED;
}

/*
 * Can f still show a name of its own (TLS or QUIC SNI, HTTP Host)? TCP and
 * UDP can, except port 53, whose names are the queries' and not the
 * server's.
 */
static bool policy_may_be_named(const struct flow *f)
{
	return (f->key.l4_proto == IPPROTO_TCP || f->key.l4_proto == IPPROTO_UDP) &&
	       !policy_dns_flow(f);
}

/*
 * The listed name an end of f is bound to, or false. Exact entries do not
 * bind addresses (they name one host, not what else its servers carry), so a
 * binding whose name is now listed exact-only is not used either.
 */
static bool policy_bound(struct policy *p, const struct flow *f, const union ip_addr *end,
			 uint64_t wall_s, uint64_t now_ms, struct bundle_match *m,
			 char norm[BUNDLE_NAME_MAX + 2])
{
	const char *name = dnsbind_lookup(p->bindings, f->key.ip_version, end, now_ms);

	return name && policy_name(p, name, wall_s, m, norm) && !(m->meta.flags & BUNDLE_F_EXACT);
}

/* Judge f by the bindings of its ends: the responder first. */
static void policy_bind_apply(struct policy *p, struct flow *f, uint64_t wall_s, uint64_t now_ms)
{
	const union ip_addr *ends[2] = { flow_dst(f), flow_src(f) };
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2];

	f->policy_flags &= (uint8_t)~FLOW_PF_BIND_PENDING;
	for (int i = 0; i < 2 && !policy_final(f); i++)
		if (policy_bound(p, f, ends[i], wall_s, now_ms, &m, norm))
			policy_hit(p, f, &m.meta, POLICY_STAGE_DNS_BINDING, norm + m.name_off);
}

void policy_flow_start(struct policy *p, struct flow *f, uint64_t wall_s, uint64_t now_ms)
{
	const union ip_addr *ends[2] = { flow_dst(f), flow_src(f) };
	struct bundle_match m;
	char text[POLICY_INDICATOR_MAX];

	if (!p->bundle)
		return;
	/* The responder first: it is the outside party in an office's outbound flow. */
	for (int i = 0; i < 2 && !policy_final(f); i++) {
		if (policy_ip(p, f->key.ip_version, ends[i], wall_s, &m)) {
			policy_prefix_text(f->key.ip_version, &m, text, sizeof(text));
			policy_hit(p, f, &m.meta, POLICY_STAGE_IP, text);
		}
	}
	if (policy_final(f))
		return;
	/*
	 * A flow that may still show its own name is judged by that name, so a
	 * binding waits (policy_bind_settle()); the rest are judged now.
	 */
	if (!policy_may_be_named(f)) {
		policy_bind_apply(p, f, wall_s, now_ms);
		return;
	}
	for (int i = 0; i < 2; i++) {
		char norm[BUNDLE_NAME_MAX + 2];

		if (policy_bound(p, f, ends[i], wall_s, now_ms, &m, norm)) {
			f->policy_flags |= FLOW_PF_BIND_PENDING;
			p->st.bind_pending++;
			return;
		}
	}
}

/*
 * Could payload be the start of a request that names its server: a TLS
 * handshake record, a DTLS one, a QUIC long header, or an HTTP request line
 * (a method of capital letters and a space, or the first letters of one)?
 */
static bool policy_named_start(const uint8_t *b, uint32_t n)
{
	uint32_t i;

	if (!n)
		return false;
	if (b[0] == 0x16)
		return n < 2 || b[1] == 0x03 || b[1] == 0xfe; /* TLS 3.x, DTLS 254.x */
	if ((b[0] & 0xc0) == 0xc0)
		return true; /* QUIC long header; over TCP nothing else starts so and names a host */
	for (i = 0; i < n && i < 16 && b[i] >= 'A' && b[i] <= 'Z'; i++)
		;
	return i > 0 && (i == n || b[i] == ' ');
}

/*
 * A pending binding becomes a verdict once it is clear the flow shows no
 * name: DPI is done without one, the initiator's first bytes are not a
 * request that names its server, or it has sent POLICY_BIND_WAIT packets
 * without a name. A flow that showed a name was judged by it (policy_flow_dpi)
 * and the binding is dropped. pk: the packet just seen, or NULL.
 */
static void policy_bind_settle(struct policy *p, struct flow *f, const struct pkt *pk,
			       uint64_t wall_s, uint64_t now_ms)
{
	const char *host;
	bool fwd;

	if (!(f->policy_flags & FLOW_PF_BIND_PENDING))
		return;
	if (policy_final(f) || dpi_host(f, &host) != DPI_HOST_NONE) {
		f->policy_flags &= (uint8_t)~FLOW_PF_BIND_PENDING;
		return;
	}
	fwd = pk && pk->sport == flow_sport(f) &&
	      memcmp(pk->src.b, flow_src(f)->b, f->key.ip_version == 4 ? 4 : 16) == 0;
	if ((f->flags & FLOW_F_DECIDED) || f->packets[FLOW_DIR_FWD] > POLICY_BIND_WAIT ||
	    (fwd && pk->payload_len && !policy_named_start(pk->payload, pk->payload_len)))
		policy_bind_apply(p, f, wall_s, now_ms);
}

static void policy_names_check(struct policy *p, struct flow *f, const struct policy_names *n,
			       enum policy_stage stage, const uint16_t *ids, int nids, uint64_t wall_s)
{
	for (int i = 0; i < nids; i++) {
		uint16_t id = ids[i];
		char name[64];
		struct flow_dpi_result r = { .app = id, .category = id };

		if (id >= POLICY_MAX_PROTO_ID || !(n[0].bits[id / 64] & (1ull << (id % 64))))
			continue;
		if (n[0].meta[id].expires && wall_s >= n[0].meta[id].expires)
			continue;
		if (n[1].bits[id / 64] & (1ull << (id % 64))) {
			p->st.allowed++;
			continue;
		}
		if (stage == POLICY_STAGE_PROTOCOL)
			dpi_proto_name(p->dpi, &r, name, sizeof(name));
		else
			snprintf(name, sizeof(name), "%s", dpi_category_name(p->dpi, &r));
		policy_hit(p, f, &n[0].meta[id], stage, name);
		return;
	}
}

/*
 * The name a flow shows (SNI, Host; a DNS query name off port 53): listed,
 * or an alias a DNS answer proved of a listed name (stage dns_binding,
 * the listed name as indicator), unless an allow entry covers it. The
 * flow's binding, if any, no longer matters: the flow said where it goes.
 */
static void policy_host(struct policy *p, struct flow *f, enum policy_stage stage, const char *host,
			uint64_t wall_s)
{
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2], tnorm[BUNDLE_NAME_MAX + 2];
	const char *target;

	f->policy_flags &= (uint8_t)~FLOW_PF_BIND_PENDING;
	switch (policy_name_is(p, host, wall_s, &m, norm)) {
	case NAME_LISTED:
		policy_hit(p, f, &m.meta, stage, norm + m.name_off);
		return;
	case NAME_UNLISTED:
		/* f->last_ms: the time of the packet that showed the name. */
		target = norm[0] ? dnsbind_alias_lookup(p->bindings, norm, f->last_ms) : NULL;
		if (target && policy_name(p, target, wall_s, &m, tnorm))
			policy_hit(p, f, &m.meta, POLICY_STAGE_DNS_BINDING, tnorm + m.name_off);
		return;
	default:
		return;
	}
}

void policy_flow_dpi(struct policy *p, struct flow *f, uint64_t wall_s)
{
	static const uint8_t stage_of[] = {
		[DPI_HOST_DNS] = POLICY_STAGE_DNS,
		[DPI_HOST_SNI] = POLICY_STAGE_SNI,
		[DPI_HOST_HTTP] = POLICY_STAGE_HTTP_HOST,
	};
	const struct flow_dpi_result *r = &f->dpi_result;
	struct bundle_match m;
	const char *host;
	enum dpi_host_kind kind;

	if (!p->bundle) {
		/* Nothing to judge by: once DPI is done the class counts as checked, so
		 * the pipeline stops calling here for every packet. A first list clears
		 * the flag when it re-judges the flow (policy_rejudge). */
		if (f->flags & FLOW_F_DECIDED)
			f->flags |= FLOW_F_CLASS_CHECKED;
		return;
	}
	if (!(f->flags & FLOW_F_HOST_CHECKED)) {
		kind = dpi_host(f, &host);
		if (kind == DPI_HOST_DNS && policy_dns_flow(f)) {
			/* Port 53: each query is judged on its own (policy_packet). */
			f->flags |= FLOW_F_HOST_CHECKED;
		} else if (kind != DPI_HOST_NONE) {
			f->flags |= FLOW_F_HOST_CHECKED;
			if (!policy_final(f))
				policy_host(p, f, (enum policy_stage)stage_of[kind], host, wall_s);
		}
	}
	/* At a flow's end, or once DPI is done: the binding of a flow with no name. */
	policy_bind_settle(p, f, NULL, wall_s, f->last_ms);
	if (!(f->flags & FLOW_F_DECIDED) || (f->flags & FLOW_F_CLASS_CHECKED))
		return;
	f->flags |= FLOW_F_CLASS_CHECKED;
	if (!policy_final(f)) {
		/* The application first (TLS.YouTube: YouTube), then its carrier. */
		const uint16_t protos[2] = { r->app, r->master };

		policy_names_check(p, f, p->protos, POLICY_STAGE_PROTOCOL, protos, 2, wall_s);
	}
	if (!policy_final(f) && r->category < POLICY_MAX_CATEGORY_ID) {
		const uint16_t category = r->category;

		policy_names_check(p, f, p->categories, POLICY_STAGE_CATEGORY, &category, 1, wall_s);
	}
	if (!policy_final(f) && r->has_ja3c) {
		bool allowed = bundle_lookup_ja3(p->bundle, r->ja3c, wall_s, true, &m);

		if (allowed)
			p->st.allowed++;
		else if (bundle_lookup_ja3(p->bundle, r->ja3c, wall_s, false, &m)) {
			char text[33];

			hex_encode(r->ja3c, 16, text);
			policy_hit(p, f, &m.meta, POLICY_STAGE_JA3, text);
		}
	}
}

void policy_flow_name(struct policy *p, struct flow *f, enum dpi_host_kind kind, const char *name,
		      uint64_t wall_s)
{
	if (!p->bundle || (f->flags & FLOW_F_HOST_CHECKED) || kind == DPI_HOST_NONE || !*name)
		return;
	f->flags |= FLOW_F_HOST_CHECKED;
	/* The same rules as a name nDPI read: the name itself, then a proved alias. */
	if (!policy_final(f))
		policy_host(p, f, kind == DPI_HOST_HTTP ? POLICY_STAGE_HTTP_HOST : POLICY_STAGE_SNI,
			    name, wall_s);
}

/*
 * A response: find the first listed name of the chain (the query name, then
 * the CNAMEs in order). Every name before it on the chain is an alias the
 * answer proved: learned as that name for the TTL. Every answered address
 * is bound to it, unless its entry is exact-only: an exact entry names one
 * host, and the addresses of that host's servers (a CDN's edges) carry
 * other names too. An allowed name on the chain is no alias.
 */
static void policy_bind(struct policy *p, const struct dns_msg *msg, uint64_t wall_s,
			uint64_t now_ms)
{
	const char *chain[1 + DNS_MAX_CNAMES];
	bool allowed[1 + DNS_MAX_CNAMES];
	unsigned int n = 0, i, at;
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2];
	uint32_t ttl = UINT32_MAX;

	if (msg->qname[0])
		chain[n++] = msg->qname;
	for (i = 0; i < msg->n_cnames; i++)
		chain[n++] = msg->cnames[i];
	for (at = 0; at < n; at++) {
		enum policy_name_is is = policy_name_is(p, chain[at], wall_s, &m, norm);

		if (is == NAME_LISTED)
			break;
		allowed[at] = is == NAME_ALLOWED;
	}
	if (at == n)
		return;
	for (i = 0; i < msg->n_answers; i++)
		if (msg->answers[i].ttl < ttl)
			ttl = msg->answers[i].ttl;
	if (ttl == UINT32_MAX)
		ttl = 0; /* no address: the shortest binding time */
	for (i = 0; i < at; i++) {
		if (allowed[i])
			continue;
		dnsbind_alias_add(p->bindings, chain[i], chain[at], ttl, now_ms);
		p->st.aliases++;
	}
	if (m.meta.flags & BUNDLE_F_EXACT)
		return;
	for (i = 0; i < msg->n_answers; i++) {
		dnsbind_add(p->bindings, msg->answers[i].family, &msg->answers[i].addr, chain[at],
			    msg->answers[i].ttl, now_ms);
		p->st.bindings++;
	}
}

/* "192.0.2.1:5353" or "[2001:db8::1]:5353" for a log line. */
static void policy_endpoint_text(const struct pkt *pk, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(pk->ip_version == 4 ? AF_INET : AF_INET6, pk->src.b, addr, sizeof(addr));
	snprintf(buf, len, pk->ip_version == 4 ? "%s:%u" : "[%s]:%u", addr, pk->sport);
}

/*
 * A query to port 53: its name is judged now, for this query alone. The
 * verdict lands in f at stage dns and stays there until the next message to
 * port 53 replaces it: it tells the enforcer what to do with this frame, and
 * a blocked query leaves no mark on the flow's later queries or answers.
 */
static void policy_query(struct policy *p, struct flow *f, const struct dns_msg *dm,
			 uint64_t wall_s)
{
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2];

	p->st.queries++;
	if (!policy_final(f) && dm->qname[0] && policy_name(p, dm->qname, wall_s, &m, norm))
		policy_hit(p, f, &m.meta, POLICY_STAGE_DNS, norm + m.name_off);
}

void policy_packet(struct policy *p, struct flow *f, const struct pkt *pk, uint64_t wall_s,
		   uint64_t now_ms)
{
	const uint8_t *msg = pk->payload;
	size_t len = pk->payload_len;
	struct dns_msg dm;
	enum dns_err err;
	char from[INET6_ADDRSTRLEN + 8];

	if (!p->bundle)
		return;
	policy_bind_settle(p, f, pk, wall_s, now_ms);
	if ((pk->sport != DNS_PORT && pk->dport != DNS_PORT) || !pk->payload_len ||
	    (pk->l4_proto != IPPROTO_UDP && pk->l4_proto != IPPROTO_TCP))
		return;
	/* Whatever it is, the last query's verdict was for the last query. */
	if (pk->dport == DNS_PORT && policy_query_verdict(f)) {
		f->verdict_stage = POLICY_STAGE_NONE;
		f->verdict_rule = 0;
		f->verdict_action = 0;
	}
	if (pk->l4_proto == IPPROTO_TCP && dns_tcp_message(pk->payload, pk->payload_len, &msg, &len) != 0)
		return;
	err = dns_parse(msg, len, &dm);
	if (err == DNS_OK && !dm.response && pk->dport == DNS_PORT) {
		policy_query(p, f, &dm, wall_s);
		return;
	}
	if (err == DNS_OK && dm.response && pk->sport == DNS_PORT) {
		p->st.dns_responses++;
		if (dm.n_answers || dm.n_cnames)
			policy_bind(p, &dm, wall_s, now_ms);
		return;
	}
	policy_endpoint_text(pk, from, sizeof(from));
	if (pk->dport == DNS_PORT) {
		p->st.queries_bad++;
		log_debug_rl("DNS message from %s to port 53 is no query (%s): passed unjudged", from,
			     err != DNS_OK ? dns_err_name(err) : "a response");
	} else {
		p->st.dns_bad++;
		log_debug_rl("DNS message from %s (port 53) not parsed as a response (%s)", from,
			     err != DNS_OK ? dns_err_name(err) : "a query");
	}
}

static void judge_flow_start(void *p, struct flow *f, uint64_t wall_s, uint64_t now_ms)
{
	policy_flow_start(p, f, wall_s, now_ms);
}

static void judge_flow_dpi(void *p, struct flow *f, uint64_t wall_s)
{
	policy_flow_dpi(p, f, wall_s);
}

static void judge_packet(void *p, struct flow *f, const struct pkt *pk, uint64_t wall_s,
			 uint64_t now_ms)
{
	policy_packet(p, f, pk, wall_s, now_ms);
}

const struct pipeline_judge policy_judge = {
	.flow_start = judge_flow_start,
	.flow_dpi = judge_flow_dpi,
	.packet = judge_packet,
};

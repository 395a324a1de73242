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

/* nDPI 4.2 protocol ids are below 512 and category ids below 256 (custom ones included). */
#define POLICY_MAX_PROTO_ID 512
#define POLICY_MAX_CATEGORY_ID 256

struct policy_names {
	uint64_t bits[POLICY_MAX_PROTO_ID / 64];
	struct bundle_meta meta[POLICY_MAX_PROTO_ID];
};

struct policy {
	const struct bundle *bundle;
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

void policy_set_bundle(struct policy *p, const struct bundle *b)
{
	struct policy_map_ctx mc = { .p = p };

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

/*
 * Record a hit: a block verdict is final, an alert one stands until a block
 * replaces it. Every hit is reported, kept or not, so rules are counted.
 */
static void policy_hit(struct policy *p, struct flow *f, const struct bundle_meta *m,
		       enum policy_stage stage, const char *indicator)
{
	struct policy_hit hit = {
		.flow = f,
		.rule = m->rule,
		.action = m->action,
		.stage = (uint8_t)stage,
	};
	bool keep = !f->verdict_stage ||
		    (f->verdict_action != BUNDLE_ACT_BLOCK && m->action == BUNDLE_ACT_BLOCK);

	if (keep) {
		f->verdict_rule = m->rule;
		f->verdict_action = m->action;
		f->verdict_stage = (uint8_t)stage;
	}
	p->st.hits[stage]++;
	snprintf(hit.indicator, sizeof(hit.indicator), "%s", indicator);
	if (p->on_hit)
		p->on_hit(&hit, p->ctx);
}

static bool policy_final(const struct flow *f)
{
	return f->verdict_stage && f->verdict_action == BUNDLE_ACT_BLOCK;
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

static void policy_prefix_text(uint8_t ip_version, const struct bundle_match *m, char *buf,
			       size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, m->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, m->prefix_len);
}

/*
 * A name: allow list first, then the block list. The name is normalised
 * (ASCII lower case, no trailing dot) into norm, so the indicator reported
 * (norm + m->name_off) reads as the listed entry does.
 */
static bool policy_name(struct policy *p, const char *name, uint64_t wall_s, struct bundle_match *m,
			char norm[BUNDLE_NAME_MAX + 2])
{
	size_t len = 0;

	for (; len <= BUNDLE_NAME_MAX && name[len]; len++)
		norm[len] = (char)(name[len] >= 'A' && name[len] <= 'Z' ? name[len] + 32 : name[len]);
	if (len > BUNDLE_NAME_MAX)
		return false; /* longer than any domain: nothing can be listed under it */
	if (len && norm[len - 1] == '.')
		len--;
	norm[len] = '\0';
	if (bundle_lookup_domain(p->bundle, norm, len, wall_s, true, m)) {
		p->st.allowed++;
		return false;
	}
	return bundle_lookup_domain(p->bundle, norm, len, wall_s, false, m);
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
	for (int i = 0; i < 2 && !policy_final(f); i++) {
		const char *name = dnsbind_lookup(p->bindings, f->key.ip_version, ends[i], now_ms);
		char norm[BUNDLE_NAME_MAX + 2];

		if (name && policy_name(p, name, wall_s, &m, norm))
			policy_hit(p, f, &m.meta, POLICY_STAGE_DNS_BINDING, norm + m.name_off);
	}
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

	if (!p->bundle)
		return;
	if (!(f->flags & FLOW_F_HOST_CHECKED)) {
		kind = dpi_host(f, &host);
		if (kind != DPI_HOST_NONE) {
			char norm[BUNDLE_NAME_MAX + 2];

			f->flags |= FLOW_F_HOST_CHECKED;
			if (!policy_final(f) && policy_name(p, host, wall_s, &m, norm))
				policy_hit(p, f, &m.meta, (enum policy_stage)stage_of[kind],
					   norm + m.name_off);
		}
	}
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
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2];

	if (!p->bundle || (f->flags & FLOW_F_HOST_CHECKED) || kind == DPI_HOST_NONE || !*name)
		return;
	f->flags |= FLOW_F_HOST_CHECKED;
	if (!policy_final(f) && policy_name(p, name, wall_s, &m, norm))
		policy_hit(p, f, &m.meta,
			   kind == DPI_HOST_HTTP ? POLICY_STAGE_HTTP_HOST : POLICY_STAGE_SNI,
			   norm + m.name_off);
}

/*
 * Bind every answered address to the name the client asked for if it is
 * listed (block or alert), else to the first listed CNAME of the chain
 * (a tracker hidden behind a first-party name).
 */
static void policy_bind(struct policy *p, const struct dns_msg *msg, uint64_t wall_s,
			uint64_t now_ms)
{
	struct bundle_match m;
	char norm[BUNDLE_NAME_MAX + 2];
	const char *name = NULL;

	if (msg->qname[0] && policy_name(p, msg->qname, wall_s, &m, norm))
		name = msg->qname;
	for (unsigned int i = 0; !name && i < msg->n_cnames; i++)
		if (policy_name(p, msg->cnames[i], wall_s, &m, norm))
			name = msg->cnames[i];
	if (!name)
		return;
	for (unsigned int i = 0; i < msg->n_answers; i++) {
		dnsbind_add(p->bindings, msg->answers[i].family, &msg->answers[i].addr, name,
			    msg->answers[i].ttl, now_ms);
		p->st.bindings++;
	}
}

void policy_packet(struct policy *p, struct flow *f, const struct pkt *pk, uint64_t wall_s,
		   uint64_t now_ms)
{
	const uint8_t *msg = pk->payload;
	size_t len = pk->payload_len;
	struct dns_msg dm;

	(void)f;
	if (!p->bundle || pk->sport != 53 || !pk->payload_len)
		return;
	if (pk->l4_proto == IPPROTO_TCP) {
		if (dns_tcp_message(pk->payload, pk->payload_len, &msg, &len) != 0)
			return;
	} else if (pk->l4_proto != IPPROTO_UDP) {
		return;
	}
	if (dns_parse(msg, len, &dm) != DNS_OK || !dm.response) {
		p->st.dns_bad++;
		log_debug_rl("DNS message from port 53 not parsed as a response");
		return;
	}
	p->st.dns_responses++;
	if (dm.n_answers)
		policy_bind(p, &dm, wall_s, now_ms);
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

/*
 * Policy specification (firmware/policy/policy.c): which evidence gives which
 * verdict, and the precedence rules of docs/policy.md.
 *
 * One signed bundle is built at setup with tg-hub's code path
 * (bundle_builder + bundle_build), then opened as a gateway would. Flows are
 * struct flow records filled by hand; DPI results are set as nDPI would set
 * them (protocol ids are nDPI 4.2's: DNS 5, HTTP 7, TLS 91, BitTorrent 37).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "core/log.h"
#include "packet/dns.h"
#include "packet/dpi.h"
#include "policy/bundle.h"
#include "policy/policy.h"

#include "fixtures.h"

#define P_DNS 5
#define P_HTTP 7
#define P_TLS 91
#define P_BITTORRENT 37

#define NOW 1800000000ull /* wall seconds used for entry expiry */

enum { R_BLOCK_DOM = 1, R_ALERT_DOM, R_ALLOW_DOM, R_EXACT, R_BLOCK_NET, R_ALLOW_HOST,
       R_ALERT_NET, R_PROTO, R_EXPIRED };

static struct dpi *dpi;
static struct bundle *bundle;
static uint8_t *bundle_bytes;
static struct policy_hit hits[16];
static int n_hits;

static void on_hit(const struct policy_hit *h, void *ctx)
{
	(void)ctx;
	if (n_hits < 16)
		hits[n_hits] = *h;
	n_hits++;
}

static int setup(void **state)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_meta proto = { .rule = R_PROTO, .action = BUNDLE_ACT_ALERT };
	struct fx_keys keys;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_non_null(bb);
	fx_add_domain(bb, "blocked.example", false, R_BLOCK_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_add_domain(bb, "watched.example", false, R_ALERT_DOM, BUNDLE_ACT_ALERT, 0, 0);
	fx_add_domain(bb, "ok.blocked.example", true, R_ALLOW_DOM, BUNDLE_ACT_ALLOW, 0, 0);
	fx_add_domain(bb, "only.example", false, R_EXACT, BUNDLE_ACT_BLOCK, BUNDLE_F_EXACT, 0);
	fx_add_domain(bb, "old.example", false, R_EXPIRED, BUNDLE_ACT_BLOCK, 0, NOW - 1);
	fx_add_net4(bb, "203.0.113.0", 24, false, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	fx_add_net4(bb, "203.0.113.7", 32, true, R_ALLOW_HOST, BUNDLE_ACT_ALLOW);
	fx_add_net4(bb, "198.51.100.0", 24, false, R_ALERT_NET, BUNDLE_ACT_ALERT);
	assert_int_equal(bundle_builder_add_name(bb, BUNDLE_PROTO, "BitTorrent", false, &proto), 0);
	assert_int_equal(fx_keys_make(&keys), 0);
	fx_bundle_open(bb, 1, NOW, keys.priv, &bundle_bytes, &bundle);
	assert_int_equal(bundle_verify(bundle, (const uint8_t *)keys.pub, strlen(keys.pub) + 1),
			 BUNDLE_OK);
	fx_keys_free(&keys);
	dpi = dpi_new(NULL, NULL);
	assert_non_null(dpi);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bundle_close(bundle);
	free(bundle_bytes);
	dpi_free(dpi);
	return 0;
}

static struct policy *new_policy(void)
{
	struct policy *p = policy_new(dpi, on_hit, NULL);

	assert_non_null(p);
	policy_set_bundle(p, bundle);
	n_hits = 0;
	return p;
}

/* A TCP flow 192.0.2.10:40000 -> dst:443, initiator = endpoint a. */
static void flow_to(struct flow *f, const char *dst)
{
	fx_tcp_flow(f, "192.0.2.10", 40000, dst, 443);
}

/* As nDPI leaves a decided flow: protocol pair and host name. */
static void decided(struct flow *f, uint16_t master, uint16_t app, const char *host)
{
	f->flags |= FLOW_F_DECIDED;
	f->dpi_result.master = master;
	f->dpi_result.app = app;
	snprintf(f->dpi_result.host, sizeof(f->dpi_result.host), "%s", host);
}

static void assert_verdict(const struct flow *f, enum policy_stage stage, uint32_t rule,
			   uint8_t action)
{
	assert_int_equal(f->verdict_stage, stage);
	assert_int_equal(f->verdict_rule, rule);
	assert_int_equal(f->verdict_action, action);
}

static void test_sni_of_a_subdomain_is_blocked_by_its_listed_parent(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.99");
	decided(&f, P_TLS, P_TLS, "WWW.Blocked.Example.");
	policy_flow_start(p, &f, NOW, 0);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_SNI, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	assert_int_equal(n_hits, 1);
	assert_string_equal(hits[0].indicator, "blocked.example");
	policy_free(p);
}

static void test_name_kind_follows_the_protocol(void **state)
{
	struct policy *p = new_policy();
	struct flow dns, http;

	(void)state;
	flow_to(&dns, "192.0.2.53");
	decided(&dns, P_DNS, P_DNS, "a.blocked.example");
	policy_flow_dpi(p, &dns, NOW);
	assert_verdict(&dns, POLICY_STAGE_DNS, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	flow_to(&http, "192.0.2.80");
	decided(&http, P_HTTP, P_HTTP, "blocked.example");
	policy_flow_dpi(p, &http, NOW);
	assert_verdict(&http, POLICY_STAGE_HTTP_HOST, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

static void test_allow_listed_subdomain_wins_over_blocked_parent(void **state)
{
	struct policy *p = new_policy();
	struct flow f;
	struct policy_stats st;

	(void)state;
	flow_to(&f, "192.0.2.99");
	decided(&f, P_TLS, P_TLS, "cdn.ok.blocked.example");
	policy_flow_dpi(p, &f, NOW);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(n_hits, 0);
	policy_get_stats(p, &st);
	assert_int_equal(st.allowed, 1);
	policy_free(p);
}

static void test_exact_only_entry_does_not_cover_subdomains(void **state)
{
	struct policy *p = new_policy();
	struct flow a, b;

	(void)state;
	flow_to(&a, "192.0.2.1");
	decided(&a, P_TLS, P_TLS, "only.example");
	policy_flow_dpi(p, &a, NOW);
	assert_verdict(&a, POLICY_STAGE_SNI, R_EXACT, BUNDLE_ACT_BLOCK);
	flow_to(&b, "192.0.2.2");
	decided(&b, P_TLS, P_TLS, "sub.only.example");
	policy_flow_dpi(p, &b, NOW);
	assert_int_equal(b.verdict_stage, POLICY_STAGE_NONE);
	policy_free(p);
}

static void test_expired_entry_no_longer_matches(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.1");
	decided(&f, P_TLS, P_TLS, "old.example");
	policy_flow_dpi(p, &f, NOW);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	flow_to(&f, "192.0.2.1");
	decided(&f, P_TLS, P_TLS, "old.example");
	policy_flow_dpi(p, &f, NOW - 2); /* the same entry a few seconds earlier */
	assert_verdict(&f, POLICY_STAGE_SNI, R_EXPIRED, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

static void test_address_in_prefix_is_judged_at_the_first_packet(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "203.0.113.50");
	policy_flow_start(p, &f, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_IP, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	assert_string_equal(hits[0].indicator, "203.0.113.0/24");
	policy_free(p);
}

static void test_allowed_address_wins_over_blocked_prefix(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "203.0.113.7");
	policy_flow_start(p, &f, NOW, 0);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	policy_free(p);
}

static void test_alert_is_replaced_by_a_later_block(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "198.51.100.9");
	policy_flow_start(p, &f, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_IP, R_ALERT_NET, BUNDLE_ACT_ALERT);
	decided(&f, P_TLS, P_TLS, "x.blocked.example");
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_SNI, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	assert_int_equal(n_hits, 2);
	policy_free(p);
}

static void test_block_is_final(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "203.0.113.50");
	policy_flow_start(p, &f, NOW, 0);
	decided(&f, P_TLS, P_TLS, "www.watched.example");
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_IP, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

static void test_alert_does_not_replace_an_alert(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "198.51.100.9");
	policy_flow_start(p, &f, NOW, 0);
	decided(&f, P_TLS, P_TLS, "watched.example");
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_IP, R_ALERT_NET, BUNDLE_ACT_ALERT);
	assert_int_equal(n_hits, 2); /* both counted for their rules */
	policy_free(p);
}

static void test_protocol_entry_matches_at_detection(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.7");
	decided(&f, 0, P_BITTORRENT, "");
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_PROTOCOL, R_PROTO, BUNDLE_ACT_ALERT);
	assert_string_equal(hits[0].indicator, "BitTorrent");
	policy_free(p);
}

static void test_names_of_other_protocols_are_not_destinations(void **state)
{
	struct policy *p = new_policy();
	struct flow f;

	(void)state;
	/* DHCP's host name is the client's own name, not where it goes. */
	flow_to(&f, "192.0.2.7");
	decided(&f, 18 /* DHCP */, 18, "blocked.example");
	policy_flow_dpi(p, &f, NOW);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	policy_free(p);
}

static void test_no_bundle_no_verdict(void **state)
{
	struct policy *p = policy_new(dpi, on_hit, NULL);
	struct flow f;

	(void)state;
	n_hits = 0;
	flow_to(&f, "203.0.113.50");
	decided(&f, P_TLS, P_TLS, "blocked.example");
	policy_flow_start(p, &f, NOW, 0);
	policy_flow_dpi(p, &f, NOW);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(n_hits, 0);
	policy_free(p);
}

/* ---------------------------------------------------------------- DNS */

#define QR 0x8000
#define CLIENT "192.0.2.10"
#define RESOLVER "192.0.2.53"

/* A UDP packet between CLIENT:5353 and RESOLVER:53 carrying m. */
static struct pkt dns_pkt(const struct fx_buf *m, bool from_resolver)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ip_version = 4;
	p.l4_proto = 17;
	assert_int_equal(inet_pton(AF_INET, from_resolver ? RESOLVER : CLIENT, p.src.b), 1);
	assert_int_equal(inet_pton(AF_INET, from_resolver ? CLIENT : RESOLVER, p.dst.b), 1);
	p.sport = from_resolver ? 53 : 5353;
	p.dport = from_resolver ? 5353 : 53;
	p.payload = m->b;
	p.payload_len = m->len;
	return p;
}

static void dns_flow(struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->key.ip_version = 4;
	f->key.l4_proto = 17;
	assert_int_equal(inet_pton(AF_INET, CLIENT, f->key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, RESOLVER, f->key.b.b), 1);
	f->key.port_a = 5353;
	f->key.port_b = 53;
	f->init_is_a = 1;
	f->id = 1;
}

static void dns_query(struct fx_buf *m, uint16_t id, const char *name)
{
	m->len = 0;
	fx_put16(m, id);
	fx_put16(m, 0x0100);
	fx_put16(m, 1);
	fx_put16(m, 0);
	fx_put16(m, 0);
	fx_put16(m, 0);
	fx_dns_name(m, name);
	fx_put16(m, DNS_TYPE_A);
	fx_put16(m, DNS_CLASS_IN);
}

/*
 * A response for qname: a CNAME chain (NULL-terminated, may be empty), then
 * one A record a.b.c.d for the last name, TTL 300.
 */
static void dns_answer(struct fx_buf *m, const char *qname, const char *const *cnames,
		       const char *addr)
{
	uint32_t owner = 12, n = 1;
	uint8_t a[4];

	for (const char *const *c = cnames; *c; c++)
		n++;
	m->len = 0;
	fx_put16(m, 0x4242);
	fx_put16(m, QR | 0x0100 | 0x0080);
	fx_put16(m, 1);
	fx_put16(m, n);
	fx_put16(m, 0);
	fx_put16(m, 0);
	fx_dns_name(m, qname);
	fx_put16(m, DNS_TYPE_A);
	fx_put16(m, DNS_CLASS_IN);
	for (const char *const *c = cnames; *c; c++) {
		fx_put16(m, 0xc000 | owner);
		fx_put16(m, DNS_TYPE_CNAME);
		fx_put16(m, DNS_CLASS_IN);
		fx_put32(m, 300);
		fx_put16(m, (uint32_t)strlen(*c) + 2);
		owner = fx_dns_name(m, *c);
	}
	fx_put16(m, 0xc000 | owner);
	fx_put16(m, DNS_TYPE_A);
	fx_put16(m, DNS_CLASS_IN);
	fx_put32(m, 300);
	fx_put16(m, 4);
	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	fx_put(m, a, 4);
}

/* The resolver's answer crossing the gateway on its own flow, at time 0. */
static void resolve(struct policy *p, const char *qname, const char *const *cnames, const char *addr)
{
	struct fx_buf m;
	struct flow f;
	struct pkt pk;

	dns_flow(&f);
	dns_answer(&m, qname, cnames, addr);
	pk = dns_pkt(&m, true);
	policy_packet(p, &f, &pk, NOW, 0);
}

/*
 * Every query on a port-53 flow is judged on its own: a blocked one is
 * blocked (stage dns), the next allowed one on the same flow is not, and
 * the DNS name nDPI read from the flow's first query judges nothing.
 */
static void test_each_dns_query_is_judged_on_its_own(void **state)
{
	struct policy *p = new_policy();
	struct policy_stats st;
	struct fx_buf m;
	struct flow f;
	struct pkt pk;
	int blocked = 0;

	(void)state;
	dns_flow(&f);
	policy_flow_start(p, &f, NOW, 0);
	decided(&f, P_DNS, P_DNS, "ads.blocked.example");
	policy_flow_dpi(p, &f, NOW);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	for (int i = 0; i < 100; i++) {
		bool bad = i % 2 == 0;

		dns_query(&m, (uint16_t)i, bad ? "ads.blocked.example" : "fine.example");
		pk = dns_pkt(&m, false);
		policy_packet(p, &f, &pk, NOW, (uint64_t)i);
		if (bad) {
			assert_verdict(&f, POLICY_STAGE_DNS, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
			blocked++;
		} else {
			assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
			assert_int_equal(f.verdict_action, 0);
		}
		/* The answer to the allowed query changes nothing. */
		if (!bad) {
			dns_answer(&m, "fine.example", (const char *const[]){ NULL }, "192.0.2.77");
			pk = dns_pkt(&m, true);
			policy_packet(p, &f, &pk, NOW, (uint64_t)i);
			assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
		}
	}
	assert_int_equal(n_hits, blocked);
	assert_int_equal(hits[0].stage, POLICY_STAGE_DNS);
	assert_string_equal(hits[0].indicator, "blocked.example");
	policy_get_stats(p, &st);
	assert_int_equal(st.queries, 100);
	assert_int_equal(st.queries_bad, 0);
	policy_free(p);
}

/* A message to port 53 that is no query is counted and leaves no verdict. */
static void test_unparsable_query_clears_the_last_verdict(void **state)
{
	struct policy *p = new_policy();
	struct policy_stats st;
	struct fx_buf m;
	struct flow f;
	struct pkt pk;

	(void)state;
	dns_flow(&f);
	dns_query(&m, 1, "blocked.example");
	pk = dns_pkt(&m, false);
	policy_packet(p, &f, &pk, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_DNS, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	m.len = 5;
	pk = dns_pkt(&m, false);
	policy_packet(p, &f, &pk, NOW, 1);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	policy_get_stats(p, &st);
	assert_int_equal(st.queries_bad, 1);
	policy_free(p);
}

/* A block of the resolver's address is the flow's, and final: queries do not undo it. */
static void test_blocked_resolver_stays_blocked(void **state)
{
	struct policy *p = new_policy();
	struct fx_buf m;
	struct flow f;
	struct pkt pk;

	(void)state;
	dns_flow(&f);
	assert_int_equal(inet_pton(AF_INET, "203.0.113.53", f.key.b.b), 1);
	policy_flow_start(p, &f, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_IP, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	dns_query(&m, 1, "fine.example");
	pk = dns_pkt(&m, false);
	memcpy(pk.dst.b, f.key.b.b, 4);
	policy_packet(p, &f, &pk, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_IP, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

/* Between two resolvers both ports are 53: a response still binds, a query is still judged. */
static void test_resolver_to_resolver_messages(void **state)
{
	static const char *const none[] = { NULL };
	struct policy *p = new_policy();
	struct policy_stats st;
	struct fx_buf m;
	struct flow f, icmp;
	struct pkt pk;

	(void)state;
	dns_flow(&f);
	f.key.port_a = 53;
	dns_answer(&m, "x.blocked.example", none, "192.0.2.46");
	pk = dns_pkt(&m, true);
	pk.dport = 53;
	policy_packet(p, &f, &pk, NOW, 0);
	dns_query(&m, 9, "y.blocked.example");
	pk = dns_pkt(&m, false);
	pk.sport = 53;
	policy_packet(p, &f, &pk, NOW, 0);
	assert_verdict(&f, POLICY_STAGE_DNS, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	policy_get_stats(p, &st);
	assert_int_equal(st.dns_responses, 1);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.queries_bad + st.dns_bad, 0);
	flow_to(&icmp, "192.0.2.46");
	icmp.key.l4_proto = 1;
	policy_flow_start(p, &icmp, NOW, 1);
	assert_verdict(&icmp, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

/* A TCP packet of flow f (set up by flow_to) from the initiator, carrying payload. */
static struct pkt fwd_pkt(const struct flow *f, const void *payload, uint32_t len)
{
	struct pkt pk;

	memset(&pk, 0, sizeof(pk));
	pk.ip_version = 4;
	pk.l4_proto = f->key.l4_proto;
	pk.src = f->key.a;
	pk.dst = f->key.b;
	pk.sport = f->key.port_a;
	pk.dport = f->key.port_b;
	pk.payload = payload;
	pk.payload_len = len;
	return pk;
}

/* One packet of f through the judge as the pipeline does it (f->packets counted first). */
static void step(struct policy *p, struct flow *f, const void *payload, uint32_t len)
{
	struct pkt pk = fwd_pkt(f, payload, len);

	f->packets[FLOW_DIR_FWD]++;
	if (f->packets[FLOW_DIR_FWD] == 1)
		policy_flow_start(p, f, NOW, 1);
	policy_flow_dpi(p, f, NOW);
	policy_packet(p, f, &pk, NOW, 1);
}

/*
 * A flow that shows its own name is judged by it, not by the binding of its
 * address: a neighbour on the same CDN address passes, the listed name and
 * an alias the answer proved are blocked.
 */
static void test_named_flow_is_judged_by_its_own_name(void **state)
{
	static const char *const chain[] = { "edge.blocked.example", NULL };
	struct policy *p = new_policy();
	struct flow nb, al, own;

	(void)state;
	resolve(p, "alias.example", chain, "192.0.2.44");
	/* The SYN passes: the name comes with the ClientHello. */
	flow_to(&nb, "192.0.2.44");
	step(p, &nb, NULL, 0);
	assert_int_equal(nb.verdict_stage, POLICY_STAGE_NONE);
	assert_true(nb.policy_flags & FLOW_PF_BIND_PENDING);
	snprintf(nb.dpi_result.host, sizeof(nb.dpi_result.host), "neighbour.example");
	nb.dpi_result.master = nb.dpi_result.app = P_TLS;
	step(p, &nb, "\x16\x03\x01", 3);
	assert_int_equal(nb.verdict_stage, POLICY_STAGE_NONE);
	assert_false(nb.policy_flags & FLOW_PF_BIND_PENDING);
	decided(&nb, P_TLS, P_TLS, "neighbour.example");
	step(p, &nb, "\x17\x03\x03", 3);
	assert_int_equal(nb.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(n_hits, 0);

	flow_to(&al, "198.18.0.1"); /* an alias is its listed name at any address */
	step(p, &al, NULL, 0);
	decided(&al, P_TLS, P_TLS, "Alias.Example");
	step(p, &al, "\x16\x03\x01", 3);
	assert_verdict(&al, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	assert_string_equal(hits[0].indicator, "blocked.example");

	flow_to(&own, "192.0.2.44");
	step(p, &own, NULL, 0);
	decided(&own, P_TLS, P_TLS, "www.blocked.example");
	step(p, &own, "\x16\x03\x01", 3);
	assert_verdict(&own, POLICY_STAGE_SNI, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

/*
 * A flow to a bound address that shows no name is judged by the binding:
 * at its first packet if it cannot show one (ICMP), at its first bytes if
 * they are no request that names a server, once DPI is done otherwise.
 */
static void test_unnamed_flow_is_judged_by_the_binding(void **state)
{
	static const char *const none[] = { NULL };
	struct policy *p = new_policy();
	struct flow icmp, ssh, tls, quiet;

	(void)state;
	resolve(p, "cdn.blocked.example", none, "192.0.2.45");

	flow_to(&icmp, "192.0.2.45");
	icmp.key.l4_proto = 1;
	icmp.key.port_a = icmp.key.port_b = 0;
	policy_flow_start(p, &icmp, NOW, 1);
	assert_verdict(&icmp, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);

	flow_to(&ssh, "192.0.2.45");
	step(p, &ssh, NULL, 0);
	step(p, &ssh, NULL, 0);
	assert_int_equal(ssh.verdict_stage, POLICY_STAGE_NONE);
	step(p, &ssh, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	assert_verdict(&ssh, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	assert_string_equal(hits[1].indicator, "blocked.example");

	/* Looks like TLS but never names a server: judged when DPI is done. */
	flow_to(&tls, "192.0.2.45");
	step(p, &tls, NULL, 0);
	step(p, &tls, "\x16\x03\x01\x02\x00", 5);
	step(p, &tls, "GET", 3);
	assert_int_equal(tls.verdict_stage, POLICY_STAGE_NONE);
	decided(&tls, P_TLS, P_TLS, "");
	step(p, &tls, "\x17\x03\x03", 3);
	assert_verdict(&tls, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);

	/* Or after POLICY_BIND_WAIT packets without a name. */
	flow_to(&quiet, "192.0.2.45");
	for (int i = 0; i < 8; i++)
		step(p, &quiet, "\x16\x03\x01", 3);
	assert_int_equal(quiet.verdict_stage, POLICY_STAGE_NONE);
	step(p, &quiet, "\x16\x03\x01", 3);
	assert_verdict(&quiet, POLICY_STAGE_DNS_BINDING, R_BLOCK_DOM, BUNDLE_ACT_BLOCK);
	assert_int_equal(n_hits, 4);
	policy_free(p);
}

/*
 * An exact-only entry binds no address: the answer for it leaves its
 * servers' other names alone, even flows with no name. Its aliases are
 * learned; an allowed name on the chain is no alias.
 */
static void test_exact_entry_binds_only_flows_that_name_it(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const to_exact[] = { "only.example", NULL };
	static const char *const to_blocked[] = { "edge.blocked.example", NULL };
	struct policy *p = new_policy();
	struct policy_stats st;
	struct flow icmp, sib, self, al, ok;

	(void)state;
	resolve(p, "only.example", none, "192.0.2.55");
	policy_get_stats(p, &st);
	assert_int_equal(st.bindings, 0);
	flow_to(&icmp, "192.0.2.55");
	icmp.key.l4_proto = 1;
	policy_flow_start(p, &icmp, NOW, 1);
	assert_int_equal(icmp.verdict_stage, POLICY_STAGE_NONE);
	flow_to(&sib, "192.0.2.55");
	step(p, &sib, NULL, 0);
	step(p, &sib, "SSH-2.0-x\r\n", 11);
	assert_int_equal(sib.verdict_stage, POLICY_STAGE_NONE);
	decided(&sib, P_TLS, P_TLS, "sibling.example");
	step(p, &sib, "\x17", 1);
	assert_int_equal(sib.verdict_stage, POLICY_STAGE_NONE);
	flow_to(&self, "192.0.2.55");
	decided(&self, P_TLS, P_TLS, "only.example");
	step(p, &self, "\x16\x03\x01", 3);
	assert_verdict(&self, POLICY_STAGE_SNI, R_EXACT, BUNDLE_ACT_BLOCK);

	resolve(p, "cname.example", to_exact, "192.0.2.56");
	flow_to(&al, "192.0.2.56");
	decided(&al, P_TLS, P_TLS, "cname.example");
	step(p, &al, "\x16\x03\x01", 3);
	assert_verdict(&al, POLICY_STAGE_DNS_BINDING, R_EXACT, BUNDLE_ACT_BLOCK);
	assert_string_equal(hits[1].indicator, "only.example");

	resolve(p, "ok.blocked.example", to_blocked, "192.0.2.57");
	flow_to(&ok, "192.0.2.57");
	decided(&ok, P_TLS, P_TLS, "ok.blocked.example");
	step(p, &ok, "\x16\x03\x01", 3);
	assert_int_equal(ok.verdict_stage, POLICY_STAGE_NONE);
	policy_get_stats(p, &st);
	assert_int_equal(st.aliases, 1);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_of_a_subdomain_is_blocked_by_its_listed_parent),
		cmocka_unit_test(test_name_kind_follows_the_protocol),
		cmocka_unit_test(test_allow_listed_subdomain_wins_over_blocked_parent),
		cmocka_unit_test(test_exact_only_entry_does_not_cover_subdomains),
		cmocka_unit_test(test_expired_entry_no_longer_matches),
		cmocka_unit_test(test_address_in_prefix_is_judged_at_the_first_packet),
		cmocka_unit_test(test_allowed_address_wins_over_blocked_prefix),
		cmocka_unit_test(test_alert_is_replaced_by_a_later_block),
		cmocka_unit_test(test_block_is_final),
		cmocka_unit_test(test_alert_does_not_replace_an_alert),
		cmocka_unit_test(test_protocol_entry_matches_at_detection),
		cmocka_unit_test(test_names_of_other_protocols_are_not_destinations),
		cmocka_unit_test(test_no_bundle_no_verdict),
		cmocka_unit_test(test_each_dns_query_is_judged_on_its_own),
		cmocka_unit_test(test_unparsable_query_clears_the_last_verdict),
		cmocka_unit_test(test_blocked_resolver_stays_blocked),
		cmocka_unit_test(test_resolver_to_resolver_messages),
		cmocka_unit_test(test_named_flow_is_judged_by_its_own_name),
		cmocka_unit_test(test_unnamed_flow_is_judged_by_the_binding),
		cmocka_unit_test(test_exact_entry_binds_only_flows_that_name_it),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

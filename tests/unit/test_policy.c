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

static void add_dom(struct bundle_builder *bb, const char *name, bool allow, uint32_t rule,
		    uint8_t action, uint8_t flags, uint32_t expires)
{
	struct bundle_meta m = { .rule = rule, .action = action, .flags = flags, .expires = expires };

	assert_int_equal(bundle_builder_add_domain(bb, name, allow, &m), 0);
}

static void add_net(struct bundle_builder *bb, const char *addr, uint8_t len, bool allow,
		    uint32_t rule, uint8_t action)
{
	struct bundle_meta m = { .rule = rule, .action = action };
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	assert_int_equal(bundle_builder_add_ip(bb, AF_INET, a, len, allow, &m), 0);
}

static int setup(void **state)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_info info = { .region = "test", .serial = 1, .created = NOW - 10,
				    .expires = NOW + 86400 };
	struct bundle_meta proto = { .rule = R_PROTO, .action = BUNDLE_ACT_ALERT };
	struct fx_keys keys;
	size_t len;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_non_null(bb);
	add_dom(bb, "blocked.example", false, R_BLOCK_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	add_dom(bb, "watched.example", false, R_ALERT_DOM, BUNDLE_ACT_ALERT, 0, 0);
	add_dom(bb, "ok.blocked.example", true, R_ALLOW_DOM, BUNDLE_ACT_ALLOW, 0, 0);
	add_dom(bb, "only.example", false, R_EXACT, BUNDLE_ACT_BLOCK, BUNDLE_F_EXACT, 0);
	add_dom(bb, "old.example", false, R_EXPIRED, BUNDLE_ACT_BLOCK, 0, NOW - 1);
	add_net(bb, "203.0.113.0", 24, false, R_BLOCK_NET, BUNDLE_ACT_BLOCK);
	add_net(bb, "203.0.113.7", 32, true, R_ALLOW_HOST, BUNDLE_ACT_ALLOW);
	add_net(bb, "198.51.100.0", 24, false, R_ALERT_NET, BUNDLE_ACT_ALERT);
	assert_int_equal(bundle_builder_add_name(bb, BUNDLE_PROTO, "BitTorrent", false, &proto), 0);
	assert_int_equal(fx_keys_make(&keys), 0);
	assert_int_equal(bundle_build(bb, &info, (const uint8_t *)keys.priv, strlen(keys.priv) + 1,
				      &bundle_bytes, &len),
			 0);
	assert_int_equal(bundle_open_mem(bundle_bytes, len, &bundle), BUNDLE_OK);
	assert_int_equal(bundle_verify(bundle, (const uint8_t *)keys.pub, strlen(keys.pub) + 1),
			 BUNDLE_OK);
	bundle_builder_free(bb);
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
	memset(f, 0, sizeof(*f));
	f->key.ip_version = 4;
	f->key.l4_proto = 6;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.10", f->key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, dst, f->key.b.b), 1);
	f->key.port_a = 40000;
	f->key.port_b = 443;
	f->init_is_a = 1;
	f->id = 1;
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * What a swap changed, and the flows re-judging passes over
 * (bundle_changes(), policy_changes.c, policy_rejudge()): a flow no added,
 * removed or altered entry can reach keeps its verdict without a lookup;
 * every flow one can reach is judged again, so a delta never hides a new
 * block, whatever the section around the new entry looks like.
 *
 * The base list ("base") has a few domains and prefixes; each test builds
 * the next list from it with one change and swaps it in after a finished
 * walk (policy_rejudge_done()), as the gateway does.
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
#include "packet/flow.h"
#include "policy/bundle.h"
#include "policy/policy.h"

#include "fixtures.h"

#define P_TLS 91
#define NOW 1800000000ull

enum { R_BASE_DOM = 1, R_BASE_NET, R_NEW };

static struct dpi *dpi;

/* The base list, plus whatever add() puts in (NULL: nothing). */
typedef void (*add_fn)(struct bundle_builder *bb);

static struct bundle *list(uint64_t serial, add_fn add, uint8_t **bytes)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle *b;
	char name[32];

	assert_non_null(bb);
	/* enough entries for an index of several buckets (16 and more) */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "base%02d.example", i);
		fx_add_domain(bb, name, false, R_BASE_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	}
	fx_add_net4(bb, "203.0.113.0", 24, false, R_BASE_NET, BUNDLE_ACT_BLOCK);
	fx_add_net4(bb, "198.51.100.128", 25, false, R_BASE_NET, BUNDLE_ACT_BLOCK);
	if (add)
		add(bb);
	fx_bundle_open(bb, serial, NOW, NULL, bytes, &b);
	return b;
}

static void add_domain_same_rule(struct bundle_builder *bb)
{
	/* the base's rule: the meta table stays byte for byte the same */
	fx_add_domain(bb, "new.example", false, R_BASE_DOM, BUNDLE_ACT_BLOCK, 0, 0);
}

static void add_net_same_rule(struct bundle_builder *bb)
{
	fx_add_net4(bb, "192.0.2.64", 26, false, R_BASE_NET, BUNDLE_ACT_BLOCK);
}

static void add_allow_under_base(struct bundle_builder *bb)
{
	fx_add_domain(bb, "ok.base07.example", true, R_NEW, BUNDLE_ACT_ALLOW, 0, 0);
}

static void add_other_rule_elsewhere(struct bundle_builder *bb)
{
	/* a new rule renumbers the meta table; no base entry changes */
	fx_add_domain(bb, "elsewhere.example", false, R_NEW, BUNDLE_ACT_ALERT, 0, 0);
}

struct swap {
	struct bundle *a, *b;
	uint8_t *a_bytes, *b_bytes;
	struct policy *p;
};

/* The base in force, flows judged under it by the caller, then b swapped in. */
static void swap_begin(struct swap *s, add_fn add)
{
	s->a = list(1, NULL, &s->a_bytes);
	s->b = list(2, add, &s->b_bytes);
	s->p = policy_new(dpi, NULL, NULL);
	assert_non_null(s->p);
	policy_set_bundle(s->p, s->a);
	policy_rejudge_done(s->p);
}

static void swap_now(struct swap *s)
{
	policy_set_bundle(s->p, s->b);
}

static void swap_end(struct swap *s)
{
	policy_free(s->p);
	bundle_close(s->a);
	bundle_close(s->b);
	free(s->a_bytes);
	free(s->b_bytes);
}

/* A TLS flow 192.0.2.10:40000 -> dst:443 with its SNI, judged under p's list. */
static void flow_open(struct policy *p, struct flow *f, const char *dst, const char *sni)
{
	fx_tcp_flow(f, "10.1.1.10", 40000, dst, 443);
	f->flags |= FLOW_F_DECIDED;
	f->dpi_result.master = P_TLS;
	f->dpi_result.app = P_TLS;
	snprintf(f->dpi_result.host, sizeof(f->dpi_result.host), "%s", sni);
	policy_flow_start(p, f, NOW, 0);
	policy_flow_dpi(p, f, NOW);
}

static uint64_t skipped(const struct policy *p)
{
	struct policy_stats st;

	policy_get_stats(p, &st);
	return st.rejudge_skipped;
}

static void test_changes_are_the_entries_that_differ_not_the_bytes(void **state)
{
	struct bundle_change out[8];
	uint8_t *b1, *b2, *b3;
	struct bundle *base = list(1, NULL, &b1), *dom = list(2, add_domain_same_rule, &b2),
		      *other = list(3, add_other_rule_elsewhere, &b3);

	(void)state;
	/* the same list: nothing */
	assert_int_equal(bundle_changes(base, base, BUNDLE_DOMAIN, false, out, 8), 0);
	/* one more domain: that one, as the hash its name is stored under */
	assert_int_equal(bundle_changes(base, dom, BUNDLE_DOMAIN, false, out, 8), 1);
	assert_true(out[0].hi == bundle_domain_hash("new.example", strlen("new.example")));
	assert_int_equal(bundle_changes(base, dom, BUNDLE_IPV4, false, out, 8), 0);
	/* a new rule elsewhere renumbers the metas: only the new entry differs */
	assert_int_equal(bundle_changes(base, other, BUNDLE_DOMAIN, false, out, 8), 1);
	assert_int_equal(bundle_changes(base, other, BUNDLE_IPV4, false, out, 8), 0);
	/* from no list: every entry; past max: max + 1 */
	assert_int_equal(bundle_changes(NULL, base, BUNDLE_IPV4, false, out, 8), 2);
	assert_int_equal(bundle_changes(NULL, base, BUNDLE_DOMAIN, false, out, 8), 9);
	assert_int_equal(bundle_changes(base, NULL, BUNDLE_DOMAIN, false, out, 8), 9);
	bundle_close(base);
	bundle_close(dom);
	bundle_close(other);
	free(b1);
	free(b2);
	free(b3);
}

/*
 * The delta a hub sends most: one more name under a rule the list has. The
 * domain section looks much as it did (same meta table, one entry more):
 * a flow to a subdomain of the new entry is cut, the others are not looked
 * at again.
 */
static void test_one_new_domain_under_an_old_rule_cuts_its_flow_and_skips_the_rest(void **state)
{
	struct swap s;
	struct flow hit, other, base;

	(void)state;
	swap_begin(&s, add_domain_same_rule);
	flow_open(s.p, &hit, "192.0.2.99", "cdn.NEW.example.");
	flow_open(s.p, &other, "192.0.2.98", "other.example");
	flow_open(s.p, &base, "192.0.2.97", "www.base03.example");
	assert_int_equal(hit.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(base.verdict_rule, R_BASE_DOM);
	swap_now(&s);
	assert_int_equal(policy_rejudge(s.p, &hit, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_int_equal(hit.verdict_stage, POLICY_STAGE_SNI);
	assert_int_equal(hit.verdict_rule, R_BASE_DOM);
	assert_int_equal(skipped(s.p), 0);
	assert_int_equal(policy_rejudge(s.p, &other, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(policy_rejudge(s.p, &base, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(base.verdict_rule, R_BASE_DOM);
	assert_int_equal(skipped(s.p), 2);
	swap_end(&s);
}

static void test_one_new_prefix_cuts_the_flows_it_covers_from_either_end(void **state)
{
	struct swap s;
	struct flow in, out, rev;

	(void)state;
	swap_begin(&s, add_net_same_rule);
	flow_open(s.p, &in, "192.0.2.77", "a.example");
	flow_open(s.p, &out, "192.0.2.63", "a.example"); /* the address before the new /26 */
	flow_open(s.p, &rev, "192.0.2.1", "a.example");
	/* the new prefix at the initiator's end */
	assert_int_equal(inet_pton(AF_INET, "192.0.2.127", rev.key.a.b), 1);
	swap_now(&s);
	assert_int_equal(policy_rejudge(s.p, &in, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_int_equal(in.verdict_stage, POLICY_STAGE_IP);
	assert_int_equal(policy_rejudge(s.p, &out, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(skipped(s.p), 1);
	assert_int_equal(policy_rejudge(s.p, &rev, NOW, 0), POLICY_REJUDGE_BLOCKED);
	swap_end(&s);
}

/* An allow entry added under a listed domain lifts the block it covers, and only that one. */
static void test_new_allow_entry_lifts_the_block_it_covers(void **state)
{
	struct swap s;
	struct flow ok, still;

	(void)state;
	swap_begin(&s, add_allow_under_base);
	flow_open(s.p, &ok, "192.0.2.99", "ok.base07.example");
	flow_open(s.p, &still, "192.0.2.98", "no.base07.example");
	assert_int_equal(ok.verdict_rule, R_BASE_DOM);
	swap_now(&s);
	assert_int_equal(policy_rejudge(s.p, &ok, NOW, 0), POLICY_REJUDGE_LIFTED);
	assert_int_equal(policy_rejudge(s.p, &still, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(still.verdict_rule, R_BASE_DOM);
	assert_int_equal(skipped(s.p), 1);
	swap_end(&s);
}

/* The base swapped back in: the entry the last list added is gone, its block lifted. */
static void test_removed_entry_lifts_its_block(void **state)
{
	struct swap s;
	struct flow f;

	(void)state;
	swap_begin(&s, add_domain_same_rule);
	swap_now(&s);
	policy_rejudge_done(s.p);
	flow_open(s.p, &f, "192.0.2.99", "new.example");
	assert_int_equal(f.verdict_stage, POLICY_STAGE_SNI);
	policy_set_bundle(s.p, s.a);
	assert_int_equal(policy_rejudge(s.p, &f, NOW, 0), POLICY_REJUDGE_LIFTED);
	swap_end(&s);
}

/*
 * A flow whose name shows nothing of the change but whose server address
 * was bound by DNS to the newly listed name is reached through the binding.
 */
static void test_binding_to_a_newly_listed_name_is_reached(void **state)
{
	struct fx_buf m = { .len = 0 };
	struct swap s;
	struct flow f, dns;
	struct pkt pk = { .ip_version = 4, .l4_proto = 17, .sport = 53, .dport = 5353 };

	(void)state;
	swap_begin(&s, add_domain_same_rule);
	fx_dns_answer_a(&m, "new.example", "192.0.2.99", 300);
	pk.payload = m.b;
	pk.payload_len = m.len;
	swap_now(&s);
	memset(&dns, 0, sizeof(dns));
	dns.key.ip_version = 4;
	dns.key.l4_proto = 17;
	policy_packet(s.p, &dns, &pk, NOW, 0); /* the answer, under the new list, during the walk */
	/* a nameless flow to the bound address, open since before the swap */
	memset(&f, 0, sizeof(f));
	f.key.ip_version = 4;
	f.key.l4_proto = 1; /* ICMP: judged by its binding at once */
	assert_int_equal(inet_pton(AF_INET, "10.1.1.10", f.key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.99", f.key.b.b), 1);
	f.init_is_a = 1;
	assert_int_equal(policy_rejudge(s.p, &f, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_DNS_BINDING);
	swap_end(&s);
}

/* A swap before the last walk ended: some flows were judged by an older list, so all are judged. */
static void test_swap_during_an_unfinished_walk_judges_every_flow(void **state)
{
	struct swap s;
	struct flow f;

	(void)state;
	swap_begin(&s, add_domain_same_rule);
	flow_open(s.p, &f, "192.0.2.98", "other.example");
	swap_now(&s); /* no policy_rejudge_done() after it */
	policy_set_bundle(s.p, s.a);
	assert_int_equal(policy_rejudge(s.p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(skipped(s.p), 0);
	swap_end(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes_are_the_entries_that_differ_not_the_bytes),
		cmocka_unit_test(test_one_new_domain_under_an_old_rule_cuts_its_flow_and_skips_the_rest),
		cmocka_unit_test(test_one_new_prefix_cuts_the_flows_it_covers_from_either_end),
		cmocka_unit_test(test_new_allow_entry_lifts_the_block_it_covers),
		cmocka_unit_test(test_removed_entry_lifts_its_block),
		cmocka_unit_test(test_binding_to_a_newly_listed_name_is_reached),
		cmocka_unit_test(test_swap_during_an_unfinished_walk_judges_every_flow),
	};

	log_set_level(LOG_LVL_ERR);
	dpi = dpi_new(NULL, NULL);
	assert_non_null(dpi);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

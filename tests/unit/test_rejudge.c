/*
 * Re-judging on a bundle swap (policy_rejudge(), flow_walk()): every open
 * flow is judged again against the new list with what it has shown, a
 * flow the new list blocks is reported once as cut, a block the new list
 * no longer has is lifted, and an allowed flow is left alone.
 *
 * Two signed bundles are built at setup with tg-hub's code path: "old" (in
 * force when the flows opened) and "new" (swapped in). Flows are struct
 * flow records filled as the packet path leaves them (protocol ids are
 * nDPI 4.2's: DNS 5, HTTP 7, TLS 91, BitTorrent 37).
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
#include "core/csum.h"
#include "core/log.h"
#include "packet/dpi.h"
#include "packet/flow.h"
#include "policy/bundle.h"
#include "policy/enforce.h"
#include "policy/policy.h"

#include "fixtures.h"

#define P_DNS 5
#define P_HTTP 7
#define P_TLS 91
#define P_BITTORRENT 37

#define NOW 1800000000ull /* wall seconds used for entry expiry */

enum { R_OLD_NET = 1, R_OLD_DOM, R_KEPT_DOM, R_NEW_NET, R_NEW_DOM, R_NEW_PROTO, R_NEW_CAT,
       R_NEW_JA3, R_ALERT_DOM, R_BOUND_DOM, R_OTHER_KEPT };

static const uint8_t ja3_bad[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static struct dpi *dpi;
static struct bundle *old_b, *new_b;
static uint8_t *old_bytes, *new_bytes;
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
	struct bundle_builder *bb;
	struct bundle_meta m;
	struct fx_keys keys;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_int_equal(fx_keys_make(&keys), 0);

	bb = bundle_builder_new();
	assert_non_null(bb);
	fx_add_net4(bb, "203.0.113.0", 24, false, R_OLD_NET, BUNDLE_ACT_BLOCK);
	fx_add_domain(bb, "lifted.example", false, R_OLD_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_add_domain(bb, "kept.example", false, R_KEPT_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_add_domain(bb, "bound.example", false, R_BOUND_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_bundle_open(bb, 1, NOW, keys.priv, &old_bytes, &old_b);

	bb = bundle_builder_new();
	assert_non_null(bb);
	fx_add_net4(bb, "198.51.100.0", 24, false, R_NEW_NET, BUNDLE_ACT_BLOCK);
	fx_add_domain(bb, "kept.example", false, R_KEPT_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_add_domain(bb, "blocked.example", false, R_NEW_DOM, BUNDLE_ACT_BLOCK, 0, 0);
	fx_add_domain(bb, "watched.example", false, R_ALERT_DOM, BUNDLE_ACT_ALERT, 0, 0);
	m = (struct bundle_meta){ .rule = R_NEW_PROTO, .action = BUNDLE_ACT_BLOCK };
	assert_int_equal(bundle_builder_add_name(bb, BUNDLE_PROTO, "BitTorrent", false, &m), 0);
	m = (struct bundle_meta){ .rule = R_NEW_CAT, .action = BUNDLE_ACT_BLOCK };
	assert_int_equal(bundle_builder_add_name(bb, BUNDLE_CATEGORY, "Mining", false, &m), 0);
	m = (struct bundle_meta){ .rule = R_NEW_JA3, .action = BUNDLE_ACT_BLOCK };
	assert_int_equal(bundle_builder_add_ja3(bb, ja3_bad, false, &m), 0);
	fx_bundle_open(bb, 2, NOW, keys.priv, &new_bytes, &new_b);

	fx_keys_free(&keys);
	dpi = dpi_new(NULL, NULL);
	assert_non_null(dpi);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bundle_close(old_b);
	bundle_close(new_b);
	free(old_bytes);
	free(new_bytes);
	dpi_free(dpi);
	return 0;
}

/* A policy with the old list in force. */
static struct policy *old_policy(void)
{
	struct policy *p = policy_new(dpi, on_hit, NULL);

	assert_non_null(p);
	policy_set_bundle(p, old_b);
	n_hits = 0;
	return p;
}

/*
 * The swap: the new list in force, hits counted from here. The flows were
 * judged under the old list, as after a finished walk, so the rule that
 * passes over flows the changes cannot reach (test_policy_changes.c) is
 * in play in every test here too.
 */
static void swap(struct policy *p)
{
	policy_rejudge_done(p);
	policy_set_bundle(p, new_b);
	n_hits = 0;
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

/* The packet path under the old list: first packet, then DPI. */
static void opened(struct policy *p, struct flow *f)
{
	policy_flow_start(p, f, NOW, 0);
	policy_flow_dpi(p, f, NOW);
}

static void assert_verdict(const struct flow *f, enum policy_stage stage, uint32_t rule,
			   uint8_t action)
{
	assert_int_equal(f->verdict_stage, stage);
	assert_int_equal(f->verdict_rule, rule);
	assert_int_equal(f->verdict_action, action);
}

static void test_allowed_flow_stays_allowed_and_nothing_is_reported(void **state)
{
	struct policy *p = old_policy();
	struct policy_stats before, after;
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.99");
	decided(&f, P_TLS, P_TLS, "allowed.example");
	opened(p, &f);
	swap(p);
	policy_get_stats(p, &before);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(n_hits, 0);
	policy_get_stats(p, &after);
	assert_memory_equal(before.hits, after.hits, sizeof(before.hits));
	/* Judged on everything it showed: the packet path has nothing left to check. */
	assert_true(f.flags & FLOW_F_HOST_CHECKED);
	assert_true(f.flags & FLOW_F_CLASS_CHECKED);
	policy_free(p);
}

static void test_open_flow_to_a_newly_blocked_address_is_cut(void **state)
{
	struct policy *p = old_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "198.51.100.20");
	decided(&f, P_TLS, P_TLS, "allowed.example");
	opened(p, &f);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	swap(p);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&f, POLICY_STAGE_IP, R_NEW_NET, BUNDLE_ACT_BLOCK);
	assert_int_equal(n_hits, 1);
	assert_string_equal(hits[0].indicator, "198.51.100.0/24");
	assert_ptr_equal(hits[0].flow, &f);
	policy_free(p);
}

/* The recorded name is judged by the stage its protocol gives it. */
static void test_open_flow_is_cut_by_its_recorded_name_of_each_kind(void **state)
{
	static const struct {
		uint16_t proto;
		enum policy_stage stage;
	} kinds[] = {
		{ P_TLS, POLICY_STAGE_SNI },
		{ P_HTTP, POLICY_STAGE_HTTP_HOST },
		{ P_DNS, POLICY_STAGE_DNS },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct policy *p = old_policy();
		struct flow f;

		flow_to(&f, "192.0.2.99");
		decided(&f, kinds[i].proto, kinds[i].proto, "cdn.Blocked.Example");
		opened(p, &f);
		assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
		swap(p);
		assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_BLOCKED);
		assert_verdict(&f, kinds[i].stage, R_NEW_DOM, BUNDLE_ACT_BLOCK);
		assert_int_equal(n_hits, 1);
		assert_string_equal(hits[0].indicator, "blocked.example");
		policy_free(p);
	}
}

static void test_open_flow_is_cut_by_protocol_category_and_ja3(void **state)
{
	int mining = dpi_category_id(dpi, "Mining");
	struct policy *p = old_policy();
	struct flow fp, fc, fj;

	(void)state;
	assert_true(mining > 0);
	flow_to(&fp, "192.0.2.7");
	decided(&fp, 0, P_BITTORRENT, "");
	flow_to(&fc, "192.0.2.8");
	decided(&fc, P_TLS, P_TLS, "");
	fc.dpi_result.category = (uint16_t)mining;
	flow_to(&fj, "192.0.2.9");
	decided(&fj, P_TLS, P_TLS, "");
	fj.dpi_result.has_ja3c = 1;
	memcpy(fj.dpi_result.ja3c, ja3_bad, 16);
	opened(p, &fp);
	opened(p, &fc);
	opened(p, &fj);
	assert_int_equal(n_hits, 0);
	swap(p);
	assert_int_equal(policy_rejudge(p, &fp, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&fp, POLICY_STAGE_PROTOCOL, R_NEW_PROTO, BUNDLE_ACT_BLOCK);
	assert_int_equal(policy_rejudge(p, &fc, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&fc, POLICY_STAGE_CATEGORY, R_NEW_CAT, BUNDLE_ACT_BLOCK);
	assert_int_equal(policy_rejudge(p, &fj, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&fj, POLICY_STAGE_JA3, R_NEW_JA3, BUNDLE_ACT_BLOCK);
	assert_int_equal(n_hits, 3);
	assert_string_equal(hits[0].indicator, "BitTorrent");
	assert_string_equal(hits[2].indicator, "deadbeef0102030405060708090a0b0c");
	policy_free(p);
}

static void test_block_the_new_list_no_longer_has_is_lifted(void **state)
{
	struct policy *p = old_policy();
	struct flow fa, fn;

	(void)state;
	/* Blocked at its address, and one by its name; the enforcement reset both. */
	flow_to(&fa, "203.0.113.5");
	decided(&fa, P_TLS, P_TLS, "allowed.example");
	flow_to(&fn, "192.0.2.99");
	decided(&fn, P_TLS, P_TLS, "www.lifted.example");
	opened(p, &fa);
	opened(p, &fn);
	assert_verdict(&fa, POLICY_STAGE_IP, R_OLD_NET, BUNDLE_ACT_BLOCK);
	assert_verdict(&fn, POLICY_STAGE_SNI, R_OLD_DOM, BUNDLE_ACT_BLOCK);
	fa.flags |= FLOW_F_ENFORCED;
	fn.flags |= FLOW_F_ENFORCED;
	swap(p);
	assert_int_equal(policy_rejudge(p, &fa, NOW, 0), POLICY_REJUDGE_LIFTED);
	assert_int_equal(policy_rejudge(p, &fn, NOW, 0), POLICY_REJUDGE_LIFTED);
	assert_int_equal(fa.verdict_stage, POLICY_STAGE_NONE);
	assert_int_equal(fn.verdict_stage, POLICY_STAGE_NONE);
	assert_false(fa.flags & FLOW_F_ENFORCED);
	assert_false(fn.flags & FLOW_F_ENFORCED);
	assert_int_equal(n_hits, 0);
	/* Lifted, then blocked again by a later list: cut again (reset again). */
	policy_set_bundle(p, old_b);
	assert_int_equal(policy_rejudge(p, &fa, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&fa, POLICY_STAGE_IP, R_OLD_NET, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

static void test_block_the_new_list_keeps_is_not_cut_or_counted_again(void **state)
{
	struct policy *p = old_policy();
	struct policy_stats before, after;
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.99");
	decided(&f, P_TLS, P_TLS, "kept.example");
	opened(p, &f);
	assert_verdict(&f, POLICY_STAGE_SNI, R_KEPT_DOM, BUNDLE_ACT_BLOCK);
	f.flags |= FLOW_F_ENFORCED;
	swap(p);
	policy_get_stats(p, &before);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_verdict(&f, POLICY_STAGE_SNI, R_KEPT_DOM, BUNDLE_ACT_BLOCK);
	assert_true(f.flags & FLOW_F_ENFORCED);
	assert_int_equal(n_hits, 0);
	policy_get_stats(p, &after);
	assert_memory_equal(before.hits, after.hits, sizeof(before.hits));
	policy_free(p);
}

static void test_new_alert_is_reported_but_not_a_cut(void **state)
{
	struct policy *p = old_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.99");
	decided(&f, P_TLS, P_TLS, "watched.example");
	opened(p, &f);
	swap(p);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_verdict(&f, POLICY_STAGE_SNI, R_ALERT_DOM, BUNDLE_ACT_ALERT);
	assert_int_equal(n_hits, 1);
	assert_int_equal(hits[0].action, BUNDLE_ACT_ALERT);
	/* The same list again: nothing new to report. */
	n_hits = 0;
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_int_equal(n_hits, 0);
	policy_free(p);
}

/*
 * Mid-DPI: judged on what it has shown (its addresses); the rest is judged
 * by the packet path, against the new list, once DPI has it.
 */
static void test_flow_mid_dpi_is_judged_on_what_it_has_shown(void **state)
{
	struct policy *p = old_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "192.0.2.7");
	policy_flow_start(p, &f, NOW, 0);
	policy_flow_dpi(p, &f, NOW);
	swap(p);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_SAME);
	assert_false(f.flags & FLOW_F_HOST_CHECKED);
	assert_false(f.flags & FLOW_F_CLASS_CHECKED);
	/* DPI decides after the swap: the new list's protocol entry applies. */
	decided(&f, 0, P_BITTORRENT, "");
	policy_flow_dpi(p, &f, NOW);
	assert_verdict(&f, POLICY_STAGE_PROTOCOL, R_NEW_PROTO, BUNDLE_ACT_BLOCK);

	/* A mid-DPI flow to a newly blocked address is cut at once. */
	flow_to(&f, "198.51.100.1");
	policy_set_bundle(p, old_b);
	policy_flow_start(p, &f, NOW, 0);
	swap(p);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&f, POLICY_STAGE_IP, R_NEW_NET, BUNDLE_ACT_BLOCK);
	policy_free(p);
}

/* One DNS response on UDP from port 53: name A addr, TTL 300. */
static void dns_answer(struct policy *p, const char *name, const char *addr, uint64_t now_ms)
{
	struct fx_buf m = { .len = 0 };
	struct flow f;
	struct pkt pk;

	fx_dns_answer_a(&m, name, addr, 300);
	memset(&pk, 0, sizeof(pk));
	pk.ip_version = 4;
	pk.l4_proto = 17;
	pk.sport = 53;
	pk.dport = 33333;
	pk.payload = m.b;
	pk.payload_len = m.len;
	flow_to(&f, "192.0.2.53");
	f.key.l4_proto = 17;
	policy_packet(p, &f, &pk, NOW, now_ms);
}

/*
 * Bindings learned under the old list stay until their TTL and are judged
 * by the new list: a bound name the new list no longer has lifts the flow,
 * one it still has keeps it blocked.
 */
static void test_binding_learned_under_the_old_list_judges_by_the_new_one(void **state)
{
	struct policy *p = old_policy();
	struct flow f;

	(void)state;
	dns_answer(p, "bound.example", "192.0.2.44", 1000);
	flow_to(&f, "192.0.2.44");
	f.key.l4_proto = 1; /* ICMP: never shows a name, judged by the binding at once */
	policy_flow_start(p, &f, NOW, 2000);
	assert_verdict(&f, POLICY_STAGE_DNS_BINDING, R_BOUND_DOM, BUNDLE_ACT_BLOCK);
	swap(p);
	assert_int_equal(policy_rejudge(p, &f, NOW, 3000), POLICY_REJUDGE_LIFTED);
	assert_int_equal(f.verdict_stage, POLICY_STAGE_NONE);
	/* Back to the old list while the binding lives: blocked again. */
	policy_set_bundle(p, old_b);
	assert_int_equal(policy_rejudge(p, &f, NOW, 4000), POLICY_REJUDGE_BLOCKED);
	assert_verdict(&f, POLICY_STAGE_DNS_BINDING, R_BOUND_DOM, BUNDLE_ACT_BLOCK);
	/* After its TTL the binding judges nothing. */
	assert_int_equal(policy_rejudge(p, &f, NOW, 1000 + 301 * 1000), POLICY_REJUDGE_LIFTED);
	policy_free(p);
}

static void test_no_bundle_lifts_every_block(void **state)
{
	struct policy *p = old_policy();
	struct flow f;

	(void)state;
	flow_to(&f, "203.0.113.5");
	opened(p, &f);
	assert_verdict(&f, POLICY_STAGE_IP, R_OLD_NET, BUNDLE_ACT_BLOCK);
	policy_set_bundle(p, NULL);
	assert_int_equal(policy_rejudge(p, &f, NOW, 0), POLICY_REJUDGE_LIFTED);
	policy_free(p);
}

/* ---------------------------------------------------------------- the cut */

static uint32_t seq_of(const uint8_t *frame, uint32_t len, uint8_t *flags)
{
	struct pkt q;

	assert_int_equal(decode_packet(LINK_ETHERNET, frame, len, len, &q), DECODE_OK);
	*flags = q.tcp_flags;
	return fx_rd32(q.l4 + 4);
}

/*
 * A flow cut while its client's window is closed (a slow reader, or an
 * nfqueue flow handed back by the kernel) first shows a zero-window probe
 * from the server, one below the client's next number: the client gets a
 * RST at both numbers, the server one at its own acknowledgment number.
 */
static void test_cut_at_a_window_probe_resets_the_client_at_its_next_number(void **state)
{
	static const uint8_t server[4] = { 198, 51, 100, 20 }, client[4] = { 192, 0, 2, 10 };
	struct enforce_config ec = { .blocked_address = ENFORCE_ADDR_RESET };
	struct fx_buf fr = { .len = 0 };
	struct enforce_action act;
	struct enforce e;
	uint32_t ip, tcp;
	uint8_t flags;
	struct flow f;
	struct pkt p;

	(void)state;
	fx_eth(&fr, ETHERTYPE_IPV4);
	ip = fx_ip4(&fr, 6, server, client);
	tcp = fx_tcp(&fr, 443, 40000, 0x10 /* ACK */, 0);
	fx_wr32(fr.b + tcp + 4, 1788202); /* snd_una - 1 */
	fx_wr32(fr.b + tcp + 8, 703);
	fx_end_ip4(&fr, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, fr.b, fr.len, fr.len, &p), DECODE_OK);
	flow_to(&f, "198.51.100.20");
	f.flags |= FLOW_F_REPLY;
	f.verdict_stage = POLICY_STAGE_IP;
	f.verdict_action = BUNDLE_ACT_BLOCK;
	enforce_init(&e, &ec);
	enforce_frame(&e, &f, &p, FLOW_DIR_REV, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 3);
	assert_int_equal(act.frames[0].to, ENFORCE_TO_SENDER);
	assert_int_equal(seq_of(act.frames[0].data, act.frames[0].len, &flags), 703);
	assert_int_equal(act.frames[1].to, ENFORCE_TO_RECEIVER);
	assert_int_equal(seq_of(act.frames[1].data, act.frames[1].len, &flags), 1788202);
	assert_int_equal(act.frames[2].to, ENFORCE_TO_RECEIVER);
	assert_int_equal(seq_of(act.frames[2].data, act.frames[2].len, &flags), 1788203);
	assert_int_equal(flags, 0x14 /* RST|ACK */);
	assert_int_equal(e.st.rst_sent, 3);

	/* A segment with data starts exactly where the receiver expects: one RST each. */
	memset(&f, 0, sizeof(f));
	fr.len = 0;
	fx_eth(&fr, ETHERTYPE_IPV4);
	ip = fx_ip4(&fr, 6, server, client);
	tcp = fx_tcp(&fr, 443, 40000, 0x10, 0);
	fx_wr32(fr.b + tcp + 4, 1788203);
	fx_data(&fr, 100);
	fx_end_ip4(&fr, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, fr.b, fr.len, fr.len, &p), DECODE_OK);
	flow_to(&f, "198.51.100.20");
	f.flags |= FLOW_F_REPLY;
	f.verdict_stage = POLICY_STAGE_IP;
	f.verdict_action = BUNDLE_ACT_BLOCK;
	enforce_frame(&e, &f, &p, FLOW_DIR_REV, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.n_frames, 2);
	assert_int_equal(seq_of(act.frames[1].data, act.frames[1].len, &flags), 1788203);
}

/* A TCP segment server:443 -> client:40000 (or back), VLAN 7, decoded into p. */
static void segment(struct fx_buf *fr, struct pkt *p, bool from_server, uint8_t flags,
		    uint32_t seq, uint32_t payload)
{
	static const uint8_t server[4] = { 198, 51, 100, 20 }, client[4] = { 192, 0, 2, 10 };
	uint32_t ip, tcp;

	fr->len = 0;
	fx_eth(fr, ETHERTYPE_8021Q);
	fx_tag(fr, 7, ETHERTYPE_IPV4);
	ip = fx_ip4(fr, 6, from_server ? server : client, from_server ? client : server);
	tcp = fx_tcp(fr, from_server ? 443 : 40000, from_server ? 40000 : 443, flags, 0);
	fx_wr32(fr->b + tcp + 4, seq);
	if (payload)
		fx_data(fr, payload);
	fx_end_ip4(fr, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, fr->b, fr->len, fr->len, p), DECODE_OK);
}

/*
 * The record keeps the responder's furthest sequence number (a
 * retransmission does not move it back), and the cut RST built from it
 * goes from the responder to the initiator, on the flow's VLAN, at exactly
 * that number.
 */
static void test_cut_rst_from_the_record_is_at_the_initiators_next_number(void **state)
{
	static const uint8_t client_mac[6] = { 2, 0, 0, 0, 0, 0x10 }, router_mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct flow_table_config cfg = { .capacity = 16 };
	struct flow_table *t = flow_table_new(&cfg);
	uint8_t out[ENFORCE_FRAME_MAX];
	struct fx_buf fr;
	enum flow_dir dir;
	struct flow *f;
	bool created;
	struct pkt p, q;
	uint32_t len;

	(void)state;
	assert_non_null(t);
	segment(&fr, &p, false, 0x02 /* SYN */, 5000, 0);
	f = flow_lookup(t, &p, 0, &dir, &created);
	flow_account(t, f, &p, dir, 0);
	/* The responder has sent nothing: there is no number to cut at. */
	assert_int_equal(enforce_build_cut(f, client_mac, router_mac, false, out), 0);
	segment(&fr, &p, true, 0x12 /* SYN|ACK */, 1000, 0);
	assert_ptr_equal(flow_lookup(t, &p, 1, &dir, &created), f);
	assert_int_equal(dir, FLOW_DIR_REV);
	flow_account(t, f, &p, dir, 1);
	assert_int_equal(f->rev_next_seq, 1001);
	segment(&fr, &p, true, 0x18, 1001, 100);
	flow_account(t, f, &p, FLOW_DIR_REV, 2);
	segment(&fr, &p, true, 0x18, 1101, 50);
	flow_account(t, f, &p, FLOW_DIR_REV, 3);
	segment(&fr, &p, true, 0x18, 1001, 100); /* a retransmission */
	flow_account(t, f, &p, FLOW_DIR_REV, 4);
	segment(&fr, &p, false, 0x10, 5001, 10); /* the initiator's own data moves nothing */
	flow_account(t, f, &p, FLOW_DIR_FWD, 5);
	assert_int_equal(f->rev_next_seq, 1151);

	len = enforce_build_cut(f, client_mac, router_mac, false, out);
	assert_int_equal(len, 60); /* 18 + 20 + 20 = 58, padded */
	assert_int_equal(decode_packet(LINK_ETHERNET, out, len, len, &q), DECODE_OK);
	assert_memory_equal(out, client_mac, 6);
	assert_memory_equal(out + 6, router_mac, 6);
	assert_int_equal(q.vlan, 7);
	assert_int_equal(fx_rd32(q.src.b), 0xc6336414); /* 198.51.100.20 */
	assert_int_equal(fx_rd32(q.dst.b), 0xc000020a); /* 192.0.2.10 */
	assert_int_equal(q.sport, 443);
	assert_int_equal(q.dport, 40000);
	assert_int_equal(q.tcp_flags, 0x04 /* RST */);
	assert_int_equal(fx_rd32(q.l4 + 4), 1151);
	/* The checksums are right: the IPv4 header sums to zero. */
	assert_int_equal(csum_fold(csum_add(0, q.l3, 20)), 0);

	/* The probe: the same segment as a bare ACK. */
	len = enforce_build_cut(f, client_mac, router_mac, true, out);
	assert_int_equal(decode_packet(LINK_ETHERNET, out, len, len, &q), DECODE_OK);
	assert_int_equal(q.tcp_flags, 0x10 /* ACK */);
	assert_int_equal(fx_rd32(q.l4 + 4), 1151);

	/* Not TCP: nothing to build. */
	f->key.l4_proto = 17;
	assert_int_equal(enforce_build_cut(f, client_mac, router_mac, false, out), 0);
	f->key.l4_proto = 6;
	flow_table_free(t);
}

/* ---------------------------------------------------------------- flow_walk */

struct walk_seen {
	uint32_t count[64];
	uint32_t visits;
};

static void walk_count(struct flow *f, void *ctx)
{
	struct walk_seen *s = ctx;

	assert_true(f->id < 64);
	s->count[f->id]++;
	s->visits++;
}

static struct flow *udp_flow(struct flow_table *t, uint32_t n, uint64_t now_ms)
{
	struct pkt p;
	enum flow_dir dir;
	bool created;
	struct flow *f;

	memset(&p, 0, sizeof(p));
	p.ip_version = 4;
	p.l4_proto = 17;
	p.src = fx_v4(0xc0000200 + n);
	p.dst = fx_v4(0xc6336401);
	p.sport = (uint16_t)(40000 + n);
	p.dport = 443;
	p.wire_len = 100;
	f = flow_lookup(t, &p, now_ms, &dir, &created);
	assert_non_null(f);
	assert_true(created);
	flow_account(t, f, &p, dir, now_ms);
	return f;
}

static void test_walk_in_slices_sees_every_live_flow_once_and_no_ended_one(void **state)
{
	struct flow_table_config cfg = { .capacity = 64, .timeout_ms[FLOW_CLASS_UDP] = 1000 };
	struct flow_table *t = flow_table_new(&cfg);
	struct walk_seen seen = { .visits = 0 };
	uint32_t cursor = 0, slices = 0;

	(void)state;
	assert_non_null(t);
	/* Flows 1..20 at t=0 (they will have ended), 21..50 at t=5000. */
	for (uint32_t i = 0; i < 20; i++)
		udp_flow(t, i, 0);
	for (uint32_t i = 20; i < 50; i++)
		udp_flow(t, i, 5000);
	assert_int_equal(flow_expire(t, 5500), 20);
	/* Three of the freed records are reused: ids 51..53. */
	for (uint32_t i = 50; i < 53; i++)
		udp_flow(t, i, 5500);

	while (!flow_walk(t, &cursor, 7, walk_count, &seen))
		slices++;
	assert_true(slices >= 6);
	assert_int_equal(seen.visits, 33);
	for (uint32_t id = 1; id <= 20; id++)
		assert_int_equal(seen.count[id], 0);
	for (uint32_t id = 21; id <= 53; id++)
		assert_int_equal(seen.count[id], 1);

	/* flow_find(): the live flow of a packet, either way; nothing created for another. */
	{
		struct flow_table_stats st0, st1;
		struct pkt p;

		flow_table_get_stats(t, &st0);
		memset(&p, 0, sizeof(p));
		p.ip_version = 4;
		p.l4_proto = 17;
		p.src = fx_v4(0xc6336401);
		p.dst = fx_v4(0xc0000200 + 30);
		p.sport = 443;
		p.dport = 40030;
		assert_non_null(flow_find(t, &p));
		assert_int_equal(flow_find(t, &p)->id, 31);
		p.dport = 40031 + 100;
		assert_null(flow_find(t, &p));
		p.dst = fx_v4(0xc0000200 + 5); /* ended */
		p.dport = 40005;
		assert_null(flow_find(t, &p));
		flow_table_get_stats(t, &st1);
		assert_int_equal(st1.created, st0.created);
	}

	/* In one go (max 0), from the start again. */
	memset(&seen, 0, sizeof(seen));
	cursor = 0;
	assert_true(flow_walk(t, &cursor, 0, walk_count, &seen));
	assert_int_equal(seen.visits, 33);
	flow_table_free(t);
}

/*
 * The look-ahead queue a walk's callback judges through (policy_ahead_push(),
 * policy_ahead_pop()): every flow comes back exactly once, in the order it
 * went in, and is judged as policy_rejudge() alone judges it, from no list
 * (where the queue asks for the list's lines ahead) and from the old one
 * (where it does not).
 */
#define AHEAD_FLOWS 45

static void ahead_flows(struct policy *p, struct flow *f)
{
	static const char *const nets[3] = { "198.51.100", "203.0.113", "100.64.0" };
	char dst[32];

	for (unsigned i = 0; i < AHEAD_FLOWS; i++) {
		snprintf(dst, sizeof(dst), "%s.%u", nets[i % 3], i + 1);
		fx_tcp_flow(&f[i], "192.0.2.10", (uint16_t)(40000 + i), dst, 443);
		if (i % 4 == 3)
			decided(&f[i], P_TLS, P_TLS, i % 8 == 3 ? "www.blocked.example" : "fine.example");
		opened(p, &f[i]);
	}
}

static void check_ahead_queue(bool from_none)
{
	static struct flow direct[AHEAD_FLOWS], queued[AHEAD_FLOWS];
	enum policy_rejudge_result want[AHEAD_FLOWS], got;
	struct policy *pd = from_none ? policy_new(dpi, on_hit, NULL) : old_policy();
	struct policy *pq = from_none ? policy_new(dpi, on_hit, NULL) : old_policy();
	struct policy_ahead q;
	struct flow *f;
	unsigned out = 0, cut = 0;

	assert_non_null(pd);
	assert_non_null(pq);
	ahead_flows(pd, direct);
	ahead_flows(pq, queued);
	if (from_none) {
		policy_set_bundle(pd, new_b);
		policy_set_bundle(pq, new_b);
	} else {
		swap(pd);
		swap(pq);
	}
	for (unsigned i = 0; i < AHEAD_FLOWS; i++) {
		want[i] = policy_rejudge(pd, &direct[i], NOW, 0);
		cut += want[i] == POLICY_REJUDGE_BLOCKED;
	}
	/* in two walk calls, as a sliced walk makes them: 20 flows, the queue drained, the rest */
	memset(&q, 0, sizeof(q));
	for (unsigned i = 0; i < AHEAD_FLOWS; i++) {
		f = policy_ahead_push(pq, &q, &queued[i]);
		if (f) {
			assert_ptr_equal(f, &queued[out]);
			got = policy_rejudge(pq, f, NOW, 0);
			assert_int_equal(got, want[out]);
			out++;
		}
		if (i == 19 || i == AHEAD_FLOWS - 1)
			while ((f = policy_ahead_pop(&q))) {
				assert_ptr_equal(f, &queued[out]);
				assert_int_equal(policy_rejudge(pq, f, NOW, 0), want[out]);
				out++;
			}
		/* nothing is held back longer than the queue's length */
		assert_true(i + 1 - out <= 2 * POLICY_AHEAD);
	}
	assert_int_equal(out, AHEAD_FLOWS);
	assert_null(policy_ahead_pop(&q));
	for (unsigned i = 0; i < AHEAD_FLOWS; i++)
		assert_verdict(&queued[i], direct[i].verdict_stage, direct[i].verdict_rule,
			       direct[i].verdict_action);
	/* the new net's 15 flows, and the TLS flows to blocked.example on the others */
	assert_true(cut >= 15);
	policy_free(pd);
	policy_free(pq);
}

static void test_look_ahead_queue_judges_every_flow_once_in_order(void **state)
{
	(void)state;
	check_ahead_queue(true);
	check_ahead_queue(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_flow_stays_allowed_and_nothing_is_reported),
		cmocka_unit_test(test_open_flow_to_a_newly_blocked_address_is_cut),
		cmocka_unit_test(test_open_flow_is_cut_by_its_recorded_name_of_each_kind),
		cmocka_unit_test(test_open_flow_is_cut_by_protocol_category_and_ja3),
		cmocka_unit_test(test_block_the_new_list_no_longer_has_is_lifted),
		cmocka_unit_test(test_block_the_new_list_keeps_is_not_cut_or_counted_again),
		cmocka_unit_test(test_new_alert_is_reported_but_not_a_cut),
		cmocka_unit_test(test_flow_mid_dpi_is_judged_on_what_it_has_shown),
		cmocka_unit_test(test_binding_learned_under_the_old_list_judges_by_the_new_one),
		cmocka_unit_test(test_no_bundle_lifts_every_block),
		cmocka_unit_test(test_cut_at_a_window_probe_resets_the_client_at_its_next_number),
		cmocka_unit_test(test_cut_rst_from_the_record_is_at_the_initiators_next_number),
		cmocka_unit_test(test_walk_in_slices_sees_every_live_flow_once_and_no_ended_one),
		cmocka_unit_test(test_look_ahead_queue_judges_every_flow_once_in_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

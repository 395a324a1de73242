/*
 * What the gateway says about traffic (firmware/app/report.c): one JSON line
 * per ended flow, compared byte for byte with a golden line, and totals that
 * add up: every ended flow counted once, under its app protocol or else its
 * master, its packets and bytes in that protocol's row, and the rule hits.
 *
 * Flows are struct flow records filled by hand as the flow table and nDPI
 * leave them (protocol ids are nDPI 4.2's: DNS 5, HTTP 7, TLS 91, Google
 * 126); names in the output are nDPI's own.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "app/report.h"
#include "core/config.h"
#include "core/log.h"

#include "fixtures.h"

#define P_DNS 5
#define P_HTTP 7
#define P_TLS 91
#define P_GOOGLE 126
#define CAT_WEB 5
#define EPOCH_MS INT64_C(1800000000000)

static struct dpi *dpi;

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERR);
	dpi = dpi_new(NULL, NULL);
	return dpi ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dpi_free(dpi);
	return 0;
}

/* A flow from a to b, initiated by a: c2s packets/bytes forward, s2c back. */
static void flow_of(struct flow *f, uint32_t id, uint8_t ver, uint8_t proto, const char *a,
		    uint16_t port_a, const char *b, uint16_t port_b)
{
	int af = ver == 4 ? AF_INET : AF_INET6;

	memset(f, 0, sizeof(*f));
	f->id = id;
	f->key.ip_version = ver;
	f->key.l4_proto = proto;
	assert_int_equal(inet_pton(af, a, f->key.a.b), 1);
	assert_int_equal(inet_pton(af, b, f->key.b.b), 1);
	f->key.port_a = port_a;
	f->key.port_b = port_b;
	f->init_is_a = 1;
	f->flags = FLOW_F_DECIDED;
}

static void traffic(struct flow *f, uint32_t c2s, uint32_t s2c, uint64_t c2s_bytes,
		    uint64_t s2c_bytes)
{
	f->packets[FLOW_DIR_FWD] = c2s;
	f->packets[FLOW_DIR_REV] = s2c;
	f->bytes[FLOW_DIR_FWD] = c2s_bytes;
	f->bytes[FLOW_DIR_REV] = s2c_bytes;
}

static const char *json_of(struct fx_capture *c, const struct flow *f, enum flow_end_reason why,
			   const char *indicator)
{
	assert_int_equal(report_flow_json(fx_capture_open(c), dpi, f, why, EPOCH_MS, indicator), 0);
	return fx_capture_close(c);
}

/* ---------------------------------------------------------------- one flow, one line */

static void test_a_blocked_tls_flow_is_one_line_with_every_field_in_order(void **state)
{
	struct fx_capture c;
	struct flow f;

	(void)state;
	flow_of(&f, 7, 4, 6, "192.0.2.10", 40000, "203.0.113.7", 443);
	traffic(&f, 5, 4, 900, 4100);
	f.first_ms = 1000;
	f.last_ms = 2500;
	f.key.vlan = 12;
	f.dpi_result.master = P_TLS;
	f.dpi_result.app = P_GOOGLE;
	f.dpi_result.category = CAT_WEB;
	f.dpi_result.tls_version = 0x0303;
	f.dpi_result.risks = 1ull << 1 | 1ull << 0 /* no risk: never named */;
	f.dpi_result.has_ja3c = 1;
	for (int i = 0; i < 16; i++)
		f.dpi_result.ja3c[i] = (uint8_t)(0x10 * i + i);
	snprintf(f.dpi_result.host, sizeof(f.dpi_result.host), "www.google.com");
	f.verdict_stage = POLICY_STAGE_SNI;
	f.verdict_rule = 42;
	f.verdict_action = BUNDLE_ACT_BLOCK;

	assert_string_equal(json_of(&c, &f, FLOW_END_IDLE, "google.com"),
			    "{\"src\":\"192.0.2.10\",\"sport\":40000,\"dst\":\"203.0.113.7\","
			    "\"dport\":443,\"l4\":\"TCP\",\"vlan\":12,\"ip\":4,\"packets\":9,"
			    "\"bytes\":5000,\"c2s_packets\":5,\"s2c_packets\":4,"
			    "\"first_ms\":1800000001000,\"last_ms\":1800000002500,"
			    "\"proto\":\"TLS.Google\",\"category\":\"Web\","
			    "\"risks\":[\"XSS Attack\"],\"guessed\":false,\"end\":\"idle\","
			    "\"host\":\"www.google.com\","
			    "\"ja3c\":\"00112233445566778899aabbccddeeff\",\"ja3s\":null,"
			    "\"tls\":\"TLSv1.2\","
			    "\"verdict\":{\"action\":\"block\",\"rule\":42,"
			    "\"indicator\":\"google.com\",\"stage\":\"sni\"}}\n");
	fx_capture_free(&c);
}

static void test_a_flow_without_verdict_or_names_has_nulls_and_its_initiator_first(void **state)
{
	struct fx_capture c;
	struct flow f;

	(void)state;
	/* the initiator is endpoint b of the key: src/dst follow the initiator */
	flow_of(&f, 8, 6, 17, "2001:db8::53", 53, "2001:db8::1", 5353);
	f.init_is_a = 0;
	traffic(&f, 1, 1, 80, 120);
	f.first_ms = f.last_ms = 0;
	f.dpi_result.master = P_DNS;
	f.dpi_result.guessed = 1;

	assert_string_equal(json_of(&c, &f, FLOW_END_SHUTDOWN, NULL),
			    "{\"src\":\"2001:db8::1\",\"sport\":5353,\"dst\":\"2001:db8::53\","
			    "\"dport\":53,\"l4\":\"UDP\",\"vlan\":0,\"ip\":6,\"packets\":2,"
			    "\"bytes\":200,\"c2s_packets\":1,\"s2c_packets\":1,"
			    "\"first_ms\":1800000000000,\"last_ms\":1800000000000,"
			    "\"proto\":\"DNS\",\"category\":\"Unspecified\",\"risks\":[],"
			    "\"guessed\":true,\"end\":\"shutdown\",\"host\":null,\"ja3c\":null,"
			    "\"ja3s\":null,\"tls\":null,\"verdict\":null}\n");
	fx_capture_free(&c);
}

static void test_names_off_the_wire_are_escaped_never_dropped(void **state)
{
	struct fx_capture c;
	struct flow f;
	const char *line;

	(void)state;
	flow_of(&f, 9, 4, 132, "192.0.2.10", 0, "192.0.2.20", 0);
	snprintf(f.dpi_result.host, sizeof(f.dpi_result.host), "a\\b\x01\xc3\xa9\x7f.example");
	f.verdict_stage = POLICY_STAGE_DNS;
	f.verdict_action = BUNDLE_ACT_ALERT;

	line = json_of(&c, &f, FLOW_END_EVICTED, "\"x\"\xff");
	/* an unnamed transport is its number */
	assert_non_null(strstr(line, "\"l4\":\"132\","));
	assert_non_null(strstr(line, "\"end\":\"evicted\","));
	assert_non_null(strstr(line, "\"host\":\"a\\\\\\\\b\\\\x01\\\\xc3\\\\xa9\\\\x7f.example\","));
	assert_non_null(strstr(line, "\"indicator\":\"\\\"x\\\"\\\\xff\",\"stage\":\"dns\""));
	fx_capture_free(&c);
}

/* ---------------------------------------------------------------- totals */

/* Six ended flows: Google over TLS twice, plain TLS, DNS twice, one unknown. */
static void count_sample(struct report *r, struct flow *f)
{
	static const struct {
		uint16_t master, app;
		uint32_t packets;
		uint64_t bytes;
		enum flow_end_reason why;
	} s[6] = {
		{ P_TLS, P_GOOGLE, 10, 6000, FLOW_END_IDLE },
		{ P_TLS, P_GOOGLE, 4, 3000, FLOW_END_SHUTDOWN },
		{ P_TLS, 0, 3, 2500, FLOW_END_IDLE },
		{ P_DNS, 0, 2, 180, FLOW_END_IDLE },
		{ 0, P_DNS, 2, 200, FLOW_END_EVICTED },
		{ 0, 0, 1, 60, FLOW_END_IDLE },
	};

	for (int i = 0; i < 6; i++) {
		flow_of(&f[i], (uint32_t)i + 1, 4, 6, "192.0.2.10", (uint16_t)(40000 + i),
			"203.0.113.7", 443);
		traffic(&f[i], s[i].packets - s[i].packets / 2, s[i].packets / 2,
			s[i].bytes / 4, s[i].bytes - s[i].bytes / 4);
		f[i].dpi_result.master = s[i].master;
		f[i].dpi_result.app = s[i].app;
		report_count_flow(r, &f[i], s[i].why);
	}
}

static void test_ended_flows_are_counted_once_under_their_app_else_master_and_add_up(void **state)
{
	struct report *r = calloc(1, sizeof(*r));
	uint64_t flows = 0, packets = 0, bytes = 0;
	struct flow f[6];
	unsigned int rows = 0;

	(void)state;
	assert_non_null(r);
	count_sample(r, f);

	assert_int_equal(r->flows, 6);
	assert_int_equal(r->ended[FLOW_END_IDLE], 4);
	assert_int_equal(r->ended[FLOW_END_EVICTED], 1);
	assert_int_equal(r->ended[FLOW_END_SHUTDOWN], 1);
	for (int i = 0; i < REPORT_MAX_PROTOS; i++) {
		const struct report_proto *p = &r->protos[i];

		if (!p->flows)
			continue;
		rows++;
		flows += p->flows;
		packets += p->packets;
		bytes += p->bytes;
		if (p->id == P_GOOGLE) {
			assert_int_equal(p->flows, 2);
			assert_int_equal(p->packets, 14);
			assert_int_equal(p->bytes, 9000);
		} else if (p->id == P_DNS) {
			/* master DNS and app DNS are one row */
			assert_int_equal(p->flows, 2);
			assert_int_equal(p->bytes, 380);
		} else if (p->id == P_TLS) {
			assert_int_equal(p->flows, 1);
		} else {
			assert_int_equal(p->id, 0);
			assert_int_equal(p->flows, 1);
		}
	}
	assert_int_equal(rows, 4);
	assert_int_equal(flows, r->flows);
	assert_int_equal(packets, 10 + 4 + 3 + 2 + 2 + 1);
	assert_int_equal(bytes, 6000 + 3000 + 2500 + 180 + 200 + 60);
	assert_int_equal(r->overflow_flows, 0);
	report_free(r);
	free(r);
}

static void test_the_indicator_is_kept_for_the_hit_that_is_the_verdict_until_forgotten(
	void **state)
{
	struct report *r = calloc(1, sizeof(*r));
	struct policy_hit hit = { .rule = 5, .action = BUNDLE_ACT_ALERT, .stage = POLICY_STAGE_IP };
	struct flow f, g;

	(void)state;
	assert_non_null(r);
	flow_of(&f, 3, 4, 6, "192.0.2.10", 40000, "203.0.113.7", 443);
	g = f;
	g.id = 3 + REPORT_HASH; /* same bucket, another flow */
	f.verdict_stage = POLICY_STAGE_SNI;
	f.verdict_rule = 9;
	hit.flow = &f;
	snprintf(hit.indicator, sizeof(hit.indicator), "203.0.113.0/24");
	report_hit(r, &hit); /* not the verdict's rule: counted, not kept */
	assert_null(report_indicator(r, &f));
	hit.rule = 9;
	report_hit(r, &hit); /* the verdict's rule at another stage: not kept either */
	assert_null(report_indicator(r, &f));
	hit.stage = POLICY_STAGE_SNI;
	snprintf(hit.indicator, sizeof(hit.indicator), "bad.example");
	report_hit(r, &hit);
	assert_string_equal(report_indicator(r, &f), "bad.example");
	assert_null(report_indicator(r, &g));
	report_forget(r, &f);
	assert_null(report_indicator(r, &f));
	report_free(r);
	free(r);
}

static void test_totals_name_frames_discards_flows_protocols_by_bytes_and_rule_hits(void **state)
{
	static const uint8_t short_frame[10];
	struct report *r = calloc(1, sizeof(*r));
	struct policy_hit hit = { .action = BUNDLE_ACT_BLOCK, .stage = POLICY_STAGE_IP };
	struct fx_capture c;
	struct pipeline pl;
	struct tg_config cfg;
	struct dpi_stats ds;
	struct flow f[6];
	const char *text;
	char want[2048];

	(void)state;
	assert_non_null(r);
	config_defaults(&cfg);
	assert_int_equal(pipeline_init(&pl, &cfg, 64, NULL, NULL), 0);
	pipeline_frame(&pl, LINK_ETHERNET, short_frame, 10, 10, 0, NULL);
	pipeline_frame(&pl, LINK_ETHERNET, short_frame, 10, 64, 1, NULL);
	count_sample(r, f);
	hit.flow = &f[0];
	for (uint32_t rule = 30; rule > 0; rule -= 10) /* 30, 20, 10: listed by id */
		for (uint32_t n = 0; n < rule / 10; n++) {
			hit.rule = rule;
			report_hit(r, &hit);
		}
	r->port_valid = true;
	r->port = (struct port_stats){ .rx_frames = 9, .kernel_drops = 2, .iface_drops = 1 };

	report_totals(fx_capture_open(&c), r, &pl, 2.0);
	text = fx_capture_close(&c);
	dpi_get_stats(pl.dpi, &ds);
	snprintf(want, sizeof(want),
		 "frames          2 (74 bytes)\n"
		 "tracked         0\n"
		 "not tracked     short_l2         2\n"
		 "flows           6 (idle 4, evicted 1, at end 1; table capacity 64)\n"
		 "dpi             0 detected, 0 given up (0 pushed out), 0 packets inspected\n"
		 "dpi memory      peak 0 flows in inspection, nDPI heap peak %zu KiB\n"
		 "dpi cap         %u flows: 0 pushed out (0 before any payload, inspected again from it), "
		 "0 payload-less packets deferred\n"
		 "port            9 received, 2 dropped by the kernel, 1 by the interface\n"
		 "time            2.000 s, 1 frames/s\n"
		 "\n"
		 "protocol                    packets          bytes    flows\n"
		 "Google                           14           9000        2\n"
		 "TLS                               3           2500        1\n"
		 "DNS                               4            380        2\n"
		 "Unknown                           1             60        1\n"
		 "\n"
		 "rule       action         hits\n"
		 "10         block             1\n"
		 "20         block             2\n"
		 "30         block             3\n",
		 ds.heap_bytes_peak / 1024, (unsigned int)CONFIG_DPI_MAX_INSPECTED);
	assert_string_equal(text, want);
	fx_capture_free(&c);
	pipeline_uninit(&pl);
	report_free(r);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_blocked_tls_flow_is_one_line_with_every_field_in_order),
		cmocka_unit_test(test_a_flow_without_verdict_or_names_has_nulls_and_its_initiator_first),
		cmocka_unit_test(test_names_off_the_wire_are_escaped_never_dropped),
		cmocka_unit_test(test_ended_flows_are_counted_once_under_their_app_else_master_and_add_up),
		cmocka_unit_test(
			test_the_indicator_is_kept_for_the_hit_that_is_the_verdict_until_forgotten),
		cmocka_unit_test(test_totals_name_frames_discards_flows_protocols_by_bytes_and_rule_hits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Alerts (firmware/report/alert.c): a rule's first hit alerts once per
 * interval and again in the next; risky flows fold per server and risks
 * into one alert with their count, sent at the interval's end; a type over its limit is held back and
 * the next alert of it says how many; internal endpoints and devices go
 * through the privacy levels, external ones are raw; each type carries the
 * fields its schema asks. With TG_RECORDS_OUT=FILE every record is also
 * written there as a JSON line, for tests/integration/report_replay.sh to
 * check against docs/reports.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

#define LOG_MODULE "test"
#include "core/config.h"
#include "core/log.h"
#include "packet/dpi.h"
#include "policy/bundle.h"
#include "report/alert.h"
#include "report/privacy.h"
#include "report/record.h"

static const uint8_t key[PRIVACY_KEY_LEN] = { 9 };

struct t {
	struct privacy priv;
	struct record_observer obs;
	struct report_sink sink;
	struct alerts *a;
	json_t *recs;
	uint64_t seq;
};

static int keep_put(void *ctx, enum report_kind kind, json_t *rec)
{
	struct t *t = ctx;

	assert_int_equal(kind, REPORT_ALERT);
	record_set_seq(rec, ++t->seq);
	fx_records_out(rec);
	json_array_append_new(t->recs, rec);
	return 0;
}

static void start(struct t *t, uint32_t limit)
{
	struct tg_config cfg;
	struct alert_config ac;

	memset(t, 0, sizeof(*t));
	config_defaults(&cfg);
	assert_int_equal(privacy_init(&t->priv, &cfg, key), 0);
	record_observer_init(&t->obs, &cfg);
	t->sink = (struct report_sink){ .put = keep_put, .ctx = t };
	t->recs = json_array();
	ac = (struct alert_config){ .interval_ms = 60000, .limit = limit, .privacy = &t->priv,
				    .observer = &t->obs, .sink = &t->sink };
	t->a = alerts_new(&ac);
	assert_non_null(t->a);
	alerts_clock(t->a, UINT64_C(1800000000000), 0);
}

static void stop(struct t *t)
{
	alerts_free(t->a);
	privacy_uninit(&t->priv);
	json_decref(t->recs);
}

static void flow_of(struct flow *f, const char *a, const char *b)
{
	memset(f, 0, sizeof(*f));
	f->key.ip_version = 4;
	f->key.l4_proto = 6;
	assert_int_equal(inet_pton(AF_INET, a, f->key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, b, f->key.b.b), 1);
	f->key.port_a = 40000;
	f->key.port_b = 443;
	f->init_is_a = 1;
}

static const char *str(const json_t *rec, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(rec, a), b));
}

static json_t *tg_alert(const json_t *rec)
{
	return json_object_get(json_object_get(rec, "tg"), "alert");
}

static void test_a_rule_alerts_once_per_interval_and_again_in_the_next(void **state)
{
	struct t t;
	struct flow f;
	json_t *rec;

	(void)state;
	start(&t, 20);
	flow_of(&f, "192.168.1.20", "203.0.113.9");
	assert_int_equal(alert_hit(t.a, &f, 77, BUNDLE_ACT_BLOCK, 5, "sni", "bad.example"), 1);
	assert_int_equal(alert_hit(t.a, &f, 77, BUNDLE_ACT_BLOCK, 5, "sni", "bad.example"), 0);
	assert_int_equal(alert_hit(t.a, &f, 78, BUNDLE_ACT_ALERT, 5, "ip", "203.0.113.0/24"), 1);
	alerts_clock(t.a, UINT64_C(1800000030000), 0); /* the same minute */
	assert_int_equal(alert_hit(t.a, &f, 77, BUNDLE_ACT_BLOCK, 5, "sni", "bad.example"), 0);
	alerts_clock(t.a, UINT64_C(1800000060000), 0); /* the next */
	assert_int_equal(alert_hit(t.a, &f, 77, BUNDLE_ACT_BLOCK, 5, "sni", "bad.example"), 1);
	assert_int_equal(json_array_size(t.recs), 3);

	rec = json_array_get(t.recs, 0);
	assert_string_equal(str(rec, "event", "kind"), "alert");
	assert_string_equal(str(rec, "event", "dataset"), "townguard.alert");
	assert_string_equal(str(rec, "event", "action"), "first_hit");
	assert_string_equal(str(rec, "rule", "id"), "77");
	assert_string_equal(str(rec, "destination", "ip"), "203.0.113.9");
	/* The office's side: a pseudonym in source.address, never its address. */
	assert_null(json_object_get(json_object_get(rec, "source"), "ip"));
	assert_int_equal(privacy_pseudonym_class(str(rec, "source", "address")), PRIV_ADDR);
	assert_string_equal(json_string_value(json_object_get(tg_alert(rec), "indicator")), "bad.example");
	assert_string_equal(json_string_value(json_object_get(tg_alert(rec), "action")), "block");
	assert_string_equal(json_string_value(json_object_get(rec, "@timestamp")), "2027-01-15T08:00:00.000Z");
	/* A block is "denied"; an alert-only rule an "indicator". */
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"), "type"), 0)), "denied");
	rec = json_array_get(t.recs, 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"), "type"), 0)), "indicator");
	stop(&t);
}

static void test_over_the_limit_alerts_are_held_back_and_counted_in_the_next(void **state)
{
	struct t t;
	struct flow f;

	(void)state;
	start(&t, 2);
	flow_of(&f, "10.0.0.5", "198.51.100.1");
	for (uint32_t rule = 1; rule <= 5; rule++)
		alert_hit(t.a, &f, rule, BUNDLE_ACT_BLOCK, 1, "ip", "198.51.100.1");
	assert_int_equal(json_array_size(t.recs), 2);
	assert_int_equal(alerts_suppressed(t.a, ALERT_FIRST_HIT), 3);
	/* Other types have limits of their own. */
	assert_int_equal(alert_link(t.a, "lan0", false), 1);
	alerts_clock(t.a, UINT64_C(1800000060000), 0);
	assert_int_equal(alert_hit(t.a, &f, 9, BUNDLE_ACT_BLOCK, 1, "ip", "198.51.100.1"), 1);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(json_array_get(t.recs, 3)), "suppressed")), 3);
	assert_int_equal(alert_hit(t.a, &f, 10, BUNDLE_ACT_BLOCK, 1, "ip", "198.51.100.1"), 1);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(json_array_get(t.recs, 4)), "suppressed")), 0);
	stop(&t);
}

static void test_every_type_says_what_happened_through_the_privacy_levels(void **state)
{
	struct t t;
	uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 }, ip[4] = { 192, 168, 1, 77 };
	json_t *host, *rec;
	char *text;

	(void)state;
	start(&t, 20);
	assert_int_equal(alert_new_device(t.a, mac, ip, 4, "alice-laptop"), 1);
	assert_int_equal(alert_link(t.a, "wan0", false), 1);
	assert_int_equal(alert_link(t.a, "wan0", true), 1);
	assert_int_equal(alert_bundle_refused(t.a, "BAD_SIGNATURE", 12), 1);
	assert_int_equal(alert_spool_drop(t.a, "summary", 40), 1);
	host = json_object_get(json_array_get(t.recs, 0), "host");
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "mac"))), PRIV_MAC);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "id"))), PRIV_ADDR);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "hostname"))), PRIV_HOST);
	text = json_dumps(t.recs, JSON_COMPACT);
	assert_null(strstr(text, "192.168.1.77"));
	assert_null(strstr(text, "alice"));
	assert_null(strstr(text, "02-11-22"));
	free(text);
	rec = json_array_get(t.recs, 1);
	assert_string_equal(str(rec, "event", "action"), "link_down");
	assert_string_equal(json_string_value(json_object_get(tg_alert(rec), "port")), "wan0");
	assert_string_equal(str(json_array_get(t.recs, 2), "event", "action"), "link_up");
	rec = json_array_get(t.recs, 3);
	assert_string_equal(json_string_value(json_object_get(tg_alert(rec), "reason")), "BAD_SIGNATURE");
	rec = json_array_get(t.recs, 4);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "dropped")), 40);
	stop(&t);

	/* raw: the office chose to show them. */
	start(&t, 20);
	t.priv.level[PRIV_ADDR] = TG_PRIV_RAW;
	t.priv.level[PRIV_MAC] = TG_PRIV_RAW;
	t.priv.level[PRIV_HOST] = TG_PRIV_RAW;
	assert_int_equal(alert_new_device(t.a, mac, ip, 4, "alice-laptop"), 1);
	host = json_object_get(json_array_get(t.recs, 0), "host");
	assert_string_equal(json_string_value(json_object_get(host, "mac")), "02-11-22-33-44-55");
	assert_string_equal(json_string_value(json_object_get(host, "ip")), "192.168.1.77");
	assert_string_equal(json_string_value(json_object_get(host, "hostname")), "alice-laptop");
	stop(&t);
}

static void test_a_console_event_alerts_with_what_happened_and_its_category(void **state)
{
	struct t t;
	json_t *rec, *con;

	(void)state;
	start(&t, 20);
	assert_int_equal(alert_console(t.a, "lockout", "3 in a row"), 1);
	assert_int_equal(alert_console(t.a, "config_commit", "log.level=debug"), 1);
	assert_int_equal(alert_console(t.a, "no_such_event", ""), -EINVAL);
	assert_int_equal(json_array_size(t.recs), 2);
	rec = json_array_get(t.recs, 0);
	assert_string_equal(str(rec, "event", "action"), "console");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"),
									     "category"), 0)),
			    "authentication");
	con = json_object_get(tg_alert(rec), "console");
	assert_string_equal(json_string_value(json_object_get(con, "event")), "lockout");
	assert_string_equal(json_string_value(json_object_get(con, "detail")), "3 in a row");
	rec = json_array_get(t.recs, 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"),
									     "category"), 0)),
			    "configuration");
	stop(&t);
}

/* nDPI 4.2: risk 6 self-signed certificate (high, 100), 24 missing SNI (medium, 50). */
#define RISK_SELF_SIGNED (1ull << 6)
#define RISK_NO_SNI (1ull << 24)

static void test_risky_flows_fold_per_server_and_risks_into_one_alert_at_the_interval_end(void **state)
{
	struct t t;
	struct flow f, g;
	json_t *rec, *risks;

	(void)state;
	start(&t, 20);
	alerts_clock(t.a, UINT64_C(1800000005000), 0);
	flow_of(&f, "192.168.1.20", "203.0.113.9");
	f.dpi_result.risks = RISK_SELF_SIGNED | RISK_NO_SNI;
	assert_int_equal(dpi_risk_score(f.dpi_result.risks), 150);
	assert_int_equal(dpi_risk_score(RISK_SELF_SIGNED), 100);
	assert_int_equal(dpi_risk_score(0), 0);
	assert_int_equal(alert_risk(t.a, &f, 150, "TLS"), 1);
	/* it waits for the interval's end */
	assert_int_equal(json_array_size(t.recs), 0);
	alerts_clock(t.a, UINT64_C(1800000030000), 0);
	/* the client's next connection to the same server with the same risks, and another client's: folded */
	f.key.port_a = 40001;
	assert_int_equal(alert_risk(t.a, &f, 150, "TLS"), 0);
	flow_of(&g, "192.168.1.21", "203.0.113.9");
	g.dpi_result.risks = RISK_SELF_SIGNED | RISK_NO_SNI;
	assert_int_equal(alert_risk(t.a, &g, 150, "TLS"), 0);
	/* other risks, or another server: alerts of their own */
	f.dpi_result.risks = RISK_SELF_SIGNED;
	assert_int_equal(alert_risk(t.a, &f, 100, "TLS"), 1);
	flow_of(&g, "192.168.1.20", "203.0.113.10");
	g.dpi_result.risks = RISK_SELF_SIGNED;
	assert_int_equal(alert_risk(t.a, &g, 100, "TLS"), 1);
	assert_int_equal(json_array_size(t.recs), 0);
	alerts_clock(t.a, UINT64_C(1800000060000), 0); /* the next interval: the three are sent */
	assert_int_equal(json_array_size(t.recs), 3);
	/* a server and risks told are not told again for an hour (the summaries count them) */
	assert_int_equal(alert_risk(t.a, &g, 100, "TLS"), 0);
	alerts_clock(t.a, UINT64_C(1800003600000), 0);
	assert_int_equal(alert_risk(t.a, &g, 100, "TLS"), 0);
	alerts_clock(t.a, UINT64_C(1800003630000), 0);
	assert_int_equal(alert_risk(t.a, &g, 100, "TLS"), 1);
	assert_int_equal(alerts_flush(t.a), 1);
	assert_int_equal(json_array_size(t.recs), 4);
	assert_int_equal(alerts_flush(t.a), 0);

	rec = json_array_get(t.recs, 0);
	assert_string_equal(str(rec, "event", "action"), "risk");
	/* when its first flow was seen, and how many it stands for */
	assert_string_equal(json_string_value(json_object_get(rec, "@timestamp")), "2027-01-15T08:00:05.000Z");
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "count")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "event"), "risk_score")), 150);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "score")), 150);
	risks = json_object_get(tg_alert(rec), "risks");
	assert_int_equal(json_array_size(risks), 2);
	assert_string_equal(json_string_value(json_array_get(risks, 0)), dpi_risk_name(6));
	assert_string_equal(json_string_value(json_array_get(risks, 1)), dpi_risk_name(24));
	assert_string_equal(json_string_value(json_object_get(tg_alert(rec), "application")), "TLS");
	assert_string_equal(str(rec, "destination", "ip"), "203.0.113.9");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "source"), "port")), 40000);
	assert_null(json_object_get(json_object_get(rec, "source"), "ip"));
	assert_int_equal(privacy_pseudonym_class(str(rec, "source", "address")), PRIV_ADDR);
	rec = json_array_get(t.recs, 1);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "count")), 1);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "score")), 100);
	assert_string_equal(json_string_value(json_object_get(rec, "@timestamp")), "2027-01-15T08:00:30.000Z");
	assert_string_equal(str(json_array_get(t.recs, 2), "destination", "ip"), "203.0.113.10");
	rec = json_array_get(t.recs, 3);
	assert_string_equal(str(rec, "destination", "ip"), "203.0.113.10");
	assert_string_equal(json_string_value(json_object_get(rec, "@timestamp")), "2027-01-15T09:00:30.000Z");
	stop(&t);

	/* the type's limit holds risk alerts too: servers past it are counted once each */
	start(&t, 2);
	for (int i = 0; i < 5; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "203.0.113.%d", 20 + i);
		flow_of(&f, "192.168.1.20", dst);
		f.dpi_result.risks = RISK_SELF_SIGNED;
		alert_risk(t.a, &f, 100, "TLS");
		alert_risk(t.a, &f, 100, "TLS");
	}
	assert_int_equal(alerts_suppressed(t.a, ALERT_RISK), 3);
	assert_int_equal(alerts_flush(t.a), 2);
	assert_int_equal(json_array_size(t.recs), 2);
	rec = json_array_get(t.recs, 0);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "suppressed")), 3);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(rec), "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(tg_alert(json_array_get(t.recs, 1)), "suppressed")), 0);
	/* those held back may alert in the next interval */
	alerts_clock(t.a, UINT64_C(1800000060000), 0);
	alert_risk(t.a, &f, 100, "TLS");
	assert_int_equal(alerts_flush(t.a), 1);
	assert_string_equal(str(json_array_get(t.recs, 2), "destination", "ip"), "203.0.113.24");
	stop(&t);
}

static void test_a_flood_of_risky_servers_is_bounded_and_never_silent(void **state)
{
	struct t t;
	struct flow f;
	uint64_t now = UINT64_C(1800000000000);
	int alerts = 0;

	(void)state;
	start(&t, 10000);
	/* 5000 servers a minute for 10 minutes: more than the table holds for an hour */
	for (int m = 0; m < 10; m++, now += 60000) {
		alerts_clock(t.a, now, 0);
		for (int i = 0; i < 5000; i++) {
			char dst[32];

			snprintf(dst, sizeof(dst), "10.%d.%d.%d", m, i / 250, i % 250);
			flow_of(&f, "192.168.1.20", dst);
			f.dpi_result.risks = RISK_SELF_SIGNED;
			alerts += alert_risk(t.a, &f, 100, "TLS");
		}
	}
	alerts_flush(t.a);
	/* each interval at most the table's quarter waits; the rest are counted, none unsaid */
	assert_int_equal(alerts, (int)json_array_size(t.recs));
	assert_int_equal((uint64_t)alerts + alerts_suppressed(t.a, ALERT_RISK), 50000);
	stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_rule_alerts_once_per_interval_and_again_in_the_next),
		cmocka_unit_test(test_over_the_limit_alerts_are_held_back_and_counted_in_the_next),
		cmocka_unit_test(test_every_type_says_what_happened_through_the_privacy_levels),
		cmocka_unit_test(test_risky_flows_fold_per_server_and_risks_into_one_alert_at_the_interval_end),
		cmocka_unit_test(test_a_flood_of_risky_servers_is_bounded_and_never_silent),
		cmocka_unit_test(test_a_console_event_alerts_with_what_happened_and_its_category),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

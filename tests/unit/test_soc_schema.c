/*
 * tg-soc's record validator (tools/tg-soc/schema.c) over the schemas of
 * docs/reports.md as the build embeds them: a record of each kind passes;
 * each way of failing is refused with the field, the value and what was
 * allowed; the origin check (topic vs record); a schema keyword tg-soc does
 * not check refuses to load. And the intake of a whole message
 * (tools/tg-soc/intake.c) without a store: a bad record refused, the rest
 * of its message kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "report/batch.h"
#include "soc_fixtures.h"
#include "tg-soc/intake.h"
#include "tg-soc/schema.h"

static struct schema_set *set;

static int setup(void **state)
{
	(void)state;
	return schema_load(&set, schema_srcs);
}

static int teardown(void **state)
{
	(void)state;
	schema_free(set);
	return 0;
}

static json_t *load(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

static void test_fixtures_pass(void **state)
{
	const char *fx[] = { SOC_FX_SUMMARY, SOC_FX_ALERT, SOC_FX_ASSET };
	struct schema_error e;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		json_t *r = load(fx[i]);
		int ret = schema_check(set, r, &e);

		if (ret)
			fail_msg("fixture %zu: %s: %s = %s: %s", i, e.dataset, e.field, e.value, e.allowed);
		assert_int_equal(schema_check_origin(r, "gw-a", "north",
						     i == 0 ? "summary" : i == 1 ? "alert" : "asset", &e),
				 0);
		json_decref(r);
	}
}

/* rec with the change made by fn, refused naming field, value and allowed (substrings) */
static void expect_refusal(const char *text, void (*fn)(json_t *), const char *field,
			   const char *value, const char *allowed)
{
	struct schema_error e;
	json_t *r = load(text);

	fn(r);
	assert_int_equal(schema_check(set, r, &e), -22);
	if (strcmp(e.field, field) || !strstr(e.value, value) || !strstr(e.allowed, allowed))
		fail_msg("got %s: %s = %s: allowed %s; wanted %s = %s: %s", e.dataset, e.field, e.value,
			 e.allowed, field, value, allowed);
	json_decref(r);
}

static void drop_seq(json_t *r)
{
	json_object_del(json_object_get(r, "tg"), "seq");
}

static void bad_event_id(json_t *r)
{
	json_object_set_new(json_object_get(r, "event"), "id", json_string("XYZ"));
}

static void extra_field(json_t *r)
{
	json_object_set_new(json_object_get(r, "tg"), "colour", json_string("red"));
}

static void bad_tlp(json_t *r)
{
	json_object_set_new(json_object_get(r, "labels"), "tlp", json_string("white"));
}

static void negative_bytes(json_t *r)
{
	json_object_set_new(json_object_get(r, "network"), "bytes", json_integer(-5));
}

static void bad_ip(json_t *r)
{
	json_object_set_new(json_object_get(r, "destination"), "ip", json_string("300.1.2.3"));
}

static void no_rule(json_t *r)
{
	json_object_del(r, "rule");
}

static void bad_dataset(json_t *r)
{
	json_object_set_new(json_object_get(r, "event"), "dataset", json_string("townguard.nope"));
}

static void both_ip_and_id(json_t *r)
{
	json_object_set_new(json_object_get(r, "host"), "ip", json_string("192.0.2.9"));
}

static void string_seq(json_t *r)
{
	json_object_set_new(json_object_get(r, "tg"), "seq", json_string("1"));
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refusal(SOC_FX_SUMMARY, drop_seq, "tg.seq", "(missing)", "required");
	expect_refusal(SOC_FX_SUMMARY, string_seq, "tg.seq", "\"1\"", "an integer, not string");
	expect_refusal(SOC_FX_SUMMARY, bad_event_id, "event.id", "\"XYZ\"", "^[0-9a-f]{32}$");
	expect_refusal(SOC_FX_SUMMARY, extra_field, "tg.colour", "\"red\"", "no such field");
	expect_refusal(SOC_FX_SUMMARY, bad_tlp, "labels.tlp", "\"white\"", "one of [\"clear\"");
	expect_refusal(SOC_FX_SUMMARY, negative_bytes, "network.bytes", "-5", "at least 0");
	expect_refusal(SOC_FX_ALERT, bad_ip, "destination.ip", "300.1.2.3", "any of");
	/* first_hit requires rule (allOf / if / then) */
	expect_refusal(SOC_FX_ALERT, no_rule, "rule", "(missing)", "required");
	expect_refusal(SOC_FX_ALERT, bad_dataset, "event.dataset", "townguard.nope",
		       "townguard.summary");
	/* host: not both ip and id */
	expect_refusal(SOC_FX_ASSET, both_ip_and_id, "host", "192.0.2.9", "not {\"required\"");
}

static void test_origin(void **state)
{
	struct schema_error e;
	json_t *r = load(SOC_FX_ALERT);

	(void)state;
	assert_int_equal(schema_check_origin(r, "gw-b", "north", "alert", &e), -22);
	assert_string_equal(e.field, "observer.id");
	assert_non_null(strstr(e.allowed, "gw-b"));
	assert_int_equal(schema_check_origin(r, "gw-a", "south", "alert", &e), -22);
	assert_string_equal(e.field, "organization.id");
	assert_int_equal(schema_check_origin(r, "gw-a", "north", "summary", &e), -22);
	assert_string_equal(e.field, "event.kind");
	assert_non_null(strstr(e.allowed, "\"metric\" on a summary topic"));
	json_decref(r);
}

static void test_unknown_keyword(void **state)
{
	static const struct schema_src bad[] = {
		{ "x.y", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
			 "\"minLength\":3}}}" },
		{ 0 },
	};
	static const struct schema_src field_named_like_keyword[] = {
		{ "x.y", "{\"type\":\"object\",\"properties\":{\"minLength\":{\"type\":\"string\"}}}" },
		{ 0 },
	};
	struct schema_set *s = NULL;

	(void)state;
	assert_int_equal(schema_load(&s, bad), -22);
	assert_int_equal(schema_load(&s, field_named_like_keyword), 0);
	schema_free(s);
}

/* One message of three records, the middle one bad: two kept, one refused. */
static void test_intake_keeps_the_rest(void **state)
{
	const char *fx[] = { SOC_FX_SUMMARY, SOC_FX_ALERT, SOC_FX_ASSET };
	struct intake in = { .schemas = set, .region = "north", .quiet = true };
	json_t *recs[3];
	uint8_t msg[16384];
	long len;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		recs[i] = load(fx[i]);
	/* an alert on the summary topic is refused; so is the asset; keep them apart: */
	json_object_set_new(json_object_get(recs[1], "event"), "kind", json_string("metric"));
	json_object_set_new(json_object_get(recs[2], "tg"), "seq", json_integer(4));
	json_object_set_new(json_object_get(recs[2], "event"), "kind", json_string("metric"));
	json_decref(recs[2]);
	recs[2] = load(SOC_FX_SUMMARY);
	json_object_set_new(json_object_get(recs[2], "tg"), "seq", json_integer(4));
	len = batch_encode(recs, 3, msg, sizeof(msg));
	assert_true(len > 0);
	assert_int_equal(intake_message(&in, "tg/v1/north/gw/gw-a/summary", msg, (size_t)len, 1), 0);
	assert_int_equal(in.st.records, 3);
	assert_int_equal(in.st.inserted, 2);
	assert_int_equal(in.st.refused, 1);
	/* not zstd: the message refused, nothing counted as stored */
	assert_int_equal(intake_message(&in, "tg/v1/north/gw/gw-a/summary", "garbage", 7, 1), 0);
	assert_int_equal(in.st.bad_messages, 1);
	/* another region's topic, a topic of no kind */
	assert_int_equal(intake_message(&in, "tg/v1/south/gw/gw-a/summary", msg, (size_t)len, 1), 0);
	assert_int_equal(intake_message(&in, "tg/v1/north/gw/gw-a/cmd", msg, (size_t)len, 1), 0);
	assert_int_equal(in.st.bad_messages, 3);
	assert_int_equal(in.st.inserted, 2);
	for (size_t i = 0; i < 3; i++)
		json_decref(recs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_pass),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_unknown_keyword),
		cmocka_unit_test(test_intake_keeps_the_rest),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

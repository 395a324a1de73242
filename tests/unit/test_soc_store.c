/*
 * tg-soc's store (tools/tg-soc/store*.c) on both back ends, with the same
 * cases: SQLite in a scratch file, and a real PostgreSQL server this test
 * starts itself (tests/pg-scratch: initdb into a scratch directory, the
 * server on a unix socket there). The PostgreSQL cases are skipped, saying
 * why, only when that server cannot start.
 *
 * Deduplication on (gateway, tg.seq); a transaction rolled back keeps
 * nothing; members from records and state messages (online, the last will,
 * the serial against the hub's, the newest summary's spool and drops,
 * alerts in 24 h); alerts by rule and member; top applications, destinations
 * and blocks (with the indicator its first hit named); assets; one record
 * back as stored; the walk by time; retention. And the schema in
 * docs/tg-soc.md is the one the store creates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "soc_fixtures.h"
#include "tg-soc/store.h"
#include "tg-soc/store_priv.h"
#include "tg-soc/util.h"

static char scratch[] = "/tmp/tg-soc-store.XXXXXX";
static char pg_url[512];
static const char *pg_skip;

/* 2026-12-03T11:00:00Z: an hour after the fixtures */
#define NOW_MS 1796295600000LL

static struct store *open_sqlite(void)
{
	char url[600];
	struct store *s;

	snprintf(url, sizeof(url), "sqlite:%s/t-%d.db", scratch, rand());
	assert_int_equal(store_open(&s, url), 0);
	assert_string_equal(store_backend(s), "sqlite");
	return s;
}

static struct store *open_pg(void)
{
	struct store *s;
	char sql[64];

	if (pg_skip)
		skip();
	assert_int_equal(store_open(&s, pg_url), 0);
	assert_string_equal(store_backend(s), "postgresql");
	/* every case starts empty */
	static const char *const tables[] = { "records", "members", "assets", "refusals" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s", tables[i]);
		assert_int_equal(s->ops->exec(s, sql), 0);
	}
	return s;
}

static json_t *load(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

static void put_fixtures(struct store *s)
{
	const char *fx[] = { SOC_FX_SUMMARY, SOC_FX_ALERT, SOC_FX_ASSET };

	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 3; i++) {
		json_t *r = load(fx[i]);

		assert_int_equal(store_put(s, r, "gw-a", (uint64_t)i + 1, NOW_MS - 1000), STORE_INSERTED);
		json_decref(r);
	}
	assert_int_equal(store_commit(s), 0);
}

static void dedup_and_rollback(struct store *s)
{
	json_t *r = load(SOC_FX_ALERT);

	put_fixtures(s);
	assert_int_equal(store_put(s, r, "gw-a", 2, NOW_MS), STORE_DUPLICATE);
	assert_int_equal(store_count(s, "records"), 3);
	/* the same seq from another gateway is another record */
	json_object_set_new(json_object_get(r, "observer"), "id", json_string("gw-b"));
	assert_int_equal(store_put(s, r, "gw-b", 2, NOW_MS), STORE_INSERTED);
	assert_int_equal(store_count(s, "records"), 4);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_put(s, r, "gw-b", 9, NOW_MS), STORE_INSERTED);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_count(s, "records"), 4);
	json_decref(r);
	store_close(s);
}

static const json_t *row_of(const json_t *rows, const char *key, const char *val)
{
	const json_t *row;
	size_t i;

	json_array_foreach(rows, i, row) {
		if (!strcmp(json_string_value(json_object_get(row, key)) ?: "", val))
			return row;
	}
	fail_msg("no row with %s = %s", key, val);
	return NULL;
}

static void members(struct store *s)
{
	json_t *on = load("{\"online\":true,\"gateway\":\"gw-a\",\"region\":\"north\",\"mode\":\"bridge\","
			  "\"bundle\":{\"serial\":42,\"sha256\":\"ab12\"},\"last_refusal\":{\"reason\":"
			  "\"signature\",\"serial\":43,\"kind\":\"full\",\"at\":1796380000},"
			  "\"time\":1796294600,\"uptime_s\":600}");
	json_t *will = load("{\"online\":false,\"gateway\":\"gw-c\",\"region\":\"north\"}");
	struct store_members_query q = { .now_ms = NOW_MS, .stale_ms = 600000, .hub_serial = 42,
					 .hub_sha256 = "ab12" };
	const json_t *a, *c;
	json_t *rows;

	put_fixtures(s);
	assert_int_equal(store_put_state(s, "north", "gw-a", on, NOW_MS - 5000), 0);
	assert_int_equal(store_put_state(s, "north", "gw-c", will, NOW_MS - 7200000), 0);
	assert_int_equal(store_query_members(s, &q, &rows), 0);
	assert_int_equal(json_array_size(rows), 2);
	a = row_of(rows, "gateway", "gw-a");
	assert_true(json_is_true(json_object_get(a, "online")));
	assert_string_equal(json_string_value(json_object_get(a, "since")), "2026-12-03T10:33:20.000Z");
	assert_int_equal(soc_json_int(a, "serial", 0), 42);
	assert_true(json_is_true(json_object_get(a, "serial_current")));
	assert_true(json_is_true(json_object_get(a, "hash_match")));
	assert_string_equal(soc_json_str(a, "last_refusal.reason"), "signature");
	assert_int_equal(soc_json_int(a, "alerts_24h", -1), 1);
	assert_int_equal(soc_json_int(a, "spool_records", -1), 4);
	assert_int_equal(soc_json_int(a, "drops", -1), 3);
	assert_string_equal(soc_json_str(a, "last_summary.time"), "2026-12-03T10:01:00.000Z");
	c = row_of(rows, "gateway", "gw-c");
	assert_true(json_is_false(json_object_get(c, "online")));
	assert_true(json_is_null(json_object_get(c, "serial")));
	assert_true(json_is_false(json_object_get(c, "serial_current")));
	json_decref(rows);

	/* the will after an online state keeps the bundle; a newer hub serial makes it old */
	json_object_set_new(will, "gateway", json_string("gw-a"));
	assert_int_equal(store_put_state(s, "north", "gw-a", will, NOW_MS - 1000), 0);
	q.hub_serial = 43;
	q.hub_sha256 = "cd34";
	assert_int_equal(store_query_members(s, &q, &rows), 0);
	a = row_of(rows, "gateway", "gw-a");
	assert_true(json_is_false(json_object_get(a, "online")));
	assert_string_equal(json_string_value(json_object_get(a, "since")), "2026-12-03T10:59:59.000Z");
	assert_int_equal(soc_json_int(a, "serial", 0), 42);
	assert_true(json_is_false(json_object_get(a, "serial_current")));
	assert_true(json_is_false(json_object_get(a, "hash_match")));
	json_decref(rows);
	json_decref(on);
	json_decref(will);
	store_close(s);
}

static void alerts_top_assets(struct store *s)
{
	struct store_filter f = { .rule = "7" };
	json_t *rows, *rec, *want;
	const json_t *row;

	put_fixtures(s);
	assert_int_equal(store_query_alerts(s, &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_string_equal(soc_json_str(row, "indicator"), "evil.example");
	assert_string_equal(soc_json_str(row, "action"), "first_hit");
	json_decref(rows);
	f = (struct store_filter){ .member = "gw-b" };
	assert_int_equal(store_query_alerts(s, &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	f = (struct store_filter){ .since_ms = NOW_MS - 86400000, .action = "risk" };
	assert_int_equal(store_query_alerts(s, &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	f = (struct store_filter){ 0 };
	assert_int_equal(store_query_top(s, "applications", &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(soc_json_str(json_array_get(rows, 0), "name"), "TLS");
	assert_int_equal(soc_json_int(json_array_get(rows, 0), "bytes", 0), 5752);
	json_decref(rows);
	assert_int_equal(store_query_top(s, "destinations", &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(soc_json_str(json_array_get(rows, 0), "name"), "example.org");
	json_decref(rows);
	assert_int_equal(store_query_top(s, "blocks", &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(soc_json_str(json_array_get(rows, 0), "rule"), "7");
	assert_int_equal(soc_json_int(json_array_get(rows, 0), "count", 0), 3);
	assert_string_equal(soc_json_str(json_array_get(rows, 0), "indicator"), "evil.example");
	json_decref(rows);
	assert_int_equal(store_query_top(s, "nonsense", &f, &rows), -22);

	f = (struct store_filter){ .since_ms = NOW_MS - 86400000 };
	assert_int_equal(store_query_assets(s, &f, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_string_equal(soc_json_str(row, "device"), "mac-0123456789ab");
	assert_string_equal(soc_json_str(row, "manufacturer"), "Apple, Inc.");
	assert_true(json_is_true(json_object_get(row, "new")));
	json_decref(rows);

	assert_int_equal(store_get_record(s, "gw-a", 2, &rec), 0);
	want = load(SOC_FX_ALERT);
	assert_true(json_equal(rec, want));
	json_decref(rec);
	json_decref(want);
	assert_int_equal(store_get_record(s, "gw-a", 99, &rec), -2);
	store_close(s);
}

static int walk(void *ctx, const json_t *rec)
{
	json_t *seqs = ctx;

	json_array_append_new(seqs, json_integer(soc_json_int(rec, "tg.seq", 0)));
	return 0;
}

static int stop_at_first(void *ctx, const json_t *rec)
{
	(void)ctx;
	(void)rec;
	return 7;
}

static void foreach_and_retain(struct store *s)
{
	struct store_filter f = { 0 };
	json_t *seqs = json_array();
	int64_t cut;

	put_fixtures(s);
	/* by @timestamp: the alert (10:00:40) first, then summary and asset (10:01:00) by seq */
	assert_int_equal(store_foreach(s, &f, walk, seqs), 0);
	assert_int_equal(json_array_size(seqs), 3);
	assert_int_equal(json_integer_value(json_array_get(seqs, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(seqs, 1)), 1);
	assert_int_equal(json_integer_value(json_array_get(seqs, 2)), 3);
	json_array_clear(seqs);
	f.kind = "asset";
	assert_int_equal(store_foreach(s, &f, walk, seqs), 0);
	assert_int_equal(json_array_size(seqs), 1);
	f.kind = NULL;
	assert_int_equal(store_foreach(s, &f, stop_at_first, NULL), 7);

	assert_int_equal(soc_parse_time("2026-12-03T10:00:50.000Z", &cut), 0);
	assert_int_equal(store_retain(s, cut), 1);
	assert_int_equal(store_count(s, "records"), 2);
	json_decref(seqs);
	store_close(s);
}

static void test_sqlite_dedup(void **st) { (void)st; dedup_and_rollback(open_sqlite()); }
static void test_sqlite_members(void **st) { (void)st; members(open_sqlite()); }
static void test_sqlite_queries(void **st) { (void)st; alerts_top_assets(open_sqlite()); }
static void test_sqlite_foreach(void **st) { (void)st; foreach_and_retain(open_sqlite()); }
static void test_pg_dedup(void **st) { (void)st; dedup_and_rollback(open_pg()); }
static void test_pg_members(void **st) { (void)st; members(open_pg()); }
static void test_pg_queries(void **st) { (void)st; alerts_top_assets(open_pg()); }
static void test_pg_foreach(void **st) { (void)st; foreach_and_retain(open_pg()); }

/* docs/tg-soc.md's ```sql block is store_schema_sql, byte for byte. */
static void test_schema_documented(void **st)
{
	char path[512], *text, *start, *end;
	const char *top = getenv("TOP");
	FILE *f;
	long n;

	(void)st;
	snprintf(path, sizeof(path), "%s/docs/tg-soc.md", top ? top : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	start = strstr(text, "```sql\n");
	assert_non_null(start);
	start += 7;
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	if (strcmp(start, store_schema_sql))
		fail_msg("docs/tg-soc.md's schema differs from store.c's store_schema_sql");
	free(text);
}

static int setup(void **st)
{
	char cmd[700];
	FILE *p;
	const char *top = getenv("TOP");

	(void)st;
	/* the postgres user (initdb, the server) must reach scratch/pg */
	if (!mkdtemp(scratch) || chmod(scratch, 0711) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/tests/pg-scratch start %s/pg 2>&1", top ? top : ".", scratch);
	p = popen(cmd, "r");
	if (!p || !fgets(pg_url, sizeof(pg_url), p) || strncmp(pg_url, "postgresql://", 13)) {
		pg_skip = "the PostgreSQL server did not start";
		fprintf(stderr, "skipping the PostgreSQL cases: %s: %s", pg_skip, pg_url);
	}
	if (p)
		pclose(p);
	pg_url[strcspn(pg_url, "\n")] = '\0';
	return 0;
}

static int teardown(void **st)
{
	char cmd[700];
	const char *top = getenv("TOP");

	(void)st;
	snprintf(cmd, sizeof(cmd), "%s/tests/pg-scratch stop %s/pg; rm -rf %s", top ? top : ".",
		 scratch, scratch);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_documented),
		cmocka_unit_test(test_sqlite_dedup),
		cmocka_unit_test(test_sqlite_members),
		cmocka_unit_test(test_sqlite_queries),
		cmocka_unit_test(test_sqlite_foreach),
		cmocka_unit_test(test_pg_dedup),
		cmocka_unit_test(test_pg_members),
		cmocka_unit_test(test_pg_queries),
		cmocka_unit_test(test_pg_foreach),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

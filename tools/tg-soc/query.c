/*
 * tg-soc's questions (docs/tg-soc.md "Queries"): members, alerts, top,
 * assets, show. Each asks the store (store.h) for rows as a JSON array and
 * prints them as a table for people (80 columns) or, with --json, as the
 * array itself for scripts: the same rows either way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/bundle.h"
#include "tg-hub/common.h"
#include "tg-soc/cmds.h"
#include "tg-soc/store.h"
#include "tg-soc/util.h"

struct query_args {
	const char *db, *since, *until, *member, *rule, *kind, *hub_bundle, *stale;
	uint64_t limit;
	bool json;
};

#define DB_OPT                                                                                    \
	OPT_STR("db", struct query_args, db, "URL", OPT_REQ,                                      \
		"the store: sqlite:PATH, a PATH, or postgresql://...")
#define JSON_OPT OPT_BOOL("json", struct query_args, json, "the rows as one JSON array")
#define SINCE_OPT                                                                                 \
	OPT_STR("since", struct query_args, since, "WHEN", 0,                                     \
		"from AGE ago (24h, 7d) or an ISO 8601 time")
#define MEMBER_OPT OPT_STR("member", struct query_args, member, "ID", 0, "one member (gateway id)")
#define LIMIT_OPT OPT_NUM("limit", struct query_args, limit, 1, 1000000, "N", 0, "at most N rows")

const struct opt soc_members_opts[] = {
	DB_OPT,
	OPT_STR("hub-bundle", struct query_args, hub_bundle, "FILE", 0,
		"the full bundle the hub published last: each member's serial and hash against it"),
	OPT_STR("stale", struct query_args, stale, "AGE", 0,
		"offline after AGE without a record or state (default 10m)"),
	JSON_OPT,
	{ 0 },
};

const struct opt soc_alerts_opts[] = {
	DB_OPT, SINCE_OPT,
	OPT_STR("until", struct query_args, until, "WHEN", 0, "up to AGE ago or an ISO 8601 time"),
	MEMBER_OPT,
	OPT_STR("rule", struct query_args, rule, "ID", 0, "one rule id"),
	OPT_STR("kind", struct query_args, kind, "KIND", 0,
		"first_hit, risk, new_device, bundle_refused, link_down, link_up, spool_drop"),
	LIMIT_OPT, JSON_OPT,
	{ 0 },
};

const struct opt soc_top_opts[] = {
	OPT_ARGS("applications|destinations|blocks"),
	DB_OPT, SINCE_OPT, MEMBER_OPT,
	OPT_NUM("limit", struct query_args, limit, 1, 100000, "N", 0, "at most N rows (default 10)"),
	JSON_OPT,
	{ 0 },
};

const struct opt soc_assets_opts[] = {
	DB_OPT, MEMBER_OPT,
	OPT_STR("since", struct query_args, since, "WHEN", 0,
		"devices first seen after this are new (default 24h)"),
	LIMIT_OPT, JSON_OPT,
	{ 0 },
};

const struct opt soc_show_opts[] = {
	OPT_ARGS("GATEWAY SEQ"),
	DB_OPT,
	{ 0 },
};

/* "24h" (ago) or an ISO time -> ms; -EINVAL after a message. */
static int parse_when(const char *opt, const char *s, int64_t now, int64_t *out)
{
	int64_t d;

	if (soc_parse_duration(s, &d) == 0) {
		*out = now - d;
		return 0;
	}
	if (soc_parse_time(s, out) == 0)
		return 0;
	soc_errf("--%s \"%s\": not an age (24h, 7d, 90m) or an ISO 8601 time", opt, s);
	return -EINVAL;
}

static int open_args(const struct hub_cmd *cmd, struct query_args *a, int argc, char **argv,
		     int operands, struct store **s, struct store_filter *f)
{
	int64_t now = soc_now_ms();
	int first, status;

	status = opts_parse(cmd, a, argc, argv, &first);
	if (status)
		return status;
	if (argc - first != operands || !a->db)
		return opts_usage(cmd);
	memset(f, 0, sizeof(*f));
	if ((a->since && parse_when("since", a->since, now, &f->since_ms) < 0) ||
	    (a->until && parse_when("until", a->until, now, &f->until_ms) < 0))
		return EXIT_USAGE;
	f->member = a->member;
	f->rule = a->rule;
	f->action = a->kind;
	f->limit = (size_t)a->limit;
	if (store_open(s, a->db) < 0) {
		soc_errf("--db %s: cannot open the store", a->db);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int print_json(json_t *rows)
{
	char *text = json_dumps(rows, JSON_INDENT(2));

	if (!text)
		return EXIT_FAIL;
	puts(text);
	free(text);
	return EXIT_OK;
}

/* A string field of row, "-" when absent or null; cut to width with '~'. */
static const char *cell(const json_t *row, const char *key, char *buf, size_t size, int width)
{
	const json_t *v = json_object_get(row, key);

	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, size, "-");
	if (width > 0 && strlen(buf) > (size_t)width && (size_t)width < size) {
		buf[width - 1] = '~';
		buf[width] = '\0';
	}
	return buf;
}

static int64_t age_of(const json_t *row, const char *key, int64_t now)
{
	int64_t t;

	return soc_parse_time(json_string_value(json_object_get(row, key)), &t) == 0 ? now - t : -1;
}

/* ---------------------------------------------------------------- members */

static int hub_latest(const char *path, uint64_t *serial, char sha[65])
{
	struct bundle *b;
	uint8_t h[32];

	if (hub_open_bundle(path, &b) < 0)
		return -EINVAL;
	*serial = bundle_get_info(b)->serial;
	bundle_sha256(b, h);
	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * (size_t)i, 3, "%02x", h[i]);
	bundle_close(b);
	return 0;
}

static void members_table(const json_t *rows, int64_t now)
{
	char a[64], b[64], c[64], d[64], g[64], age[16];
	const json_t *row;
	size_t i;

	printf("%-14s %-12s %-9s %-7s %6s %5s %5s  %s\n", "MEMBER", "STATUS", "SERIAL", "SUMMARY",
	       "ALERTS", "SPOOL", "DROPS", "LAST REFUSAL");
	json_array_foreach(rows, i, row) {
		const json_t *ref = json_object_get(row, "last_refusal");
		const json_t *cur = json_object_get(row, "serial_current");
		const json_t *hash = json_object_get(row, "hash_match");
		int64_t since = age_of(row, "since", now), sum;
		char status[32], serial[80], summary[16], refusal[64];

		snprintf(status, sizeof(status), "%s %s",
			 json_is_true(json_object_get(row, "online")) ? "online" : "offline",
			 since >= 0 ? soc_age_str(since, age, sizeof(age)) : "");
		cell(row, "serial", a, sizeof(a), 5);
		snprintf(serial, sizeof(serial), "%s%s", a,
			 json_is_false(hash) && json_is_true(cur) ? " HASH!"
			 : json_is_false(cur)			  ? " old"
			 : json_is_true(cur)			  ? " ok"
								  : "");
		sum = age_of(json_object_get(row, "last_summary"), "time", now);
		snprintf(summary, sizeof(summary), "%s", sum >= 0 ? soc_age_str(sum, age, sizeof(age)) : "-");
		if (json_is_object(ref))
			snprintf(refusal, sizeof(refusal), "%s %" JSON_INTEGER_FORMAT,
				 json_string_value(json_object_get(ref, "reason")) ?: "?",
				 json_integer_value(json_object_get(ref, "serial")));
		else
			snprintf(refusal, sizeof(refusal), "-");
		printf("%-14s %-12s %-9s %-7s %6s %5s %5s  %.14s\n",
		       cell(row, "gateway", g, sizeof(g), 14), status, serial, summary,
		       cell(row, "alerts_24h", b, sizeof(b), 6), cell(row, "spool_records", c, sizeof(c), 5),
		       cell(row, "drops", d, sizeof(d), 5), refusal);
	}
}

int soc_members(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct query_args a = { 0 };
	struct store_members_query q = { .now_ms = soc_now_ms(), .stale_ms = 600000 };
	struct store_filter f;
	struct store *s = NULL;
	char sha[65];
	json_t *rows;
	int status;

	status = open_args(cmd, &a, argc, argv, 0, &s, &f);
	if (status)
		return status;
	status = EXIT_FAIL;
	if (a.stale && soc_parse_duration(a.stale, &q.stale_ms) < 0) {
		soc_errf("--stale \"%s\": not an age (10m, 1h)", a.stale);
		status = EXIT_USAGE;
		goto out;
	}
	if (a.hub_bundle) {
		if (hub_latest(a.hub_bundle, &q.hub_serial, sha) < 0)
			goto out;
		q.hub_sha256 = sha;
	}
	if (store_query_members(s, &q, &rows) < 0)
		goto out;
	if (a.json)
		status = print_json(rows);
	else {
		members_table(rows, q.now_ms);
		status = EXIT_OK;
	}
	json_decref(rows);
out:
	store_close(s);
	return status;
}

/* ---------------------------------------------------------------- alerts, top, assets */

/* A query of the store into rows, and the table for people that prints them. */
typedef int (*query_fn)(struct store *s, const struct store_filter *f, const char *what,
			json_t **rows);
typedef void (*table_fn)(const json_t *rows, const char *what);

static int query_run(const struct hub_cmd *cmd, struct query_args *a, int argc, char **argv,
		     int operands, const char *what, query_fn query, table_fn table)
{
	struct store_filter f;
	struct store *s = NULL;
	json_t *rows;
	int status;

	status = open_args(cmd, a, argc, argv, operands, &s, &f);
	if (status)
		return status;
	/* the operand, after the parser moved the options before it */
	if (operands == 1)
		what = argv[argc - 1];
	status = query(s, &f, what, &rows);
	if (status < 0) {
		store_close(s);
		return status == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (a->json) {
		status = print_json(rows);
	} else {
		table(rows, what);
		status = EXIT_OK;
	}
	json_decref(rows);
	store_close(s);
	return status;
}

static int alerts_query(struct store *s, const struct store_filter *f, const char *what, json_t **rows)
{
	(void)what;
	return store_query_alerts(s, f, rows);
}

static void alerts_table(const json_t *rows, const char *what)
{
	char t[32], g[32], k[32], r[16], ind[64];
	const json_t *row;
	size_t i;

	(void)what;
	printf("%-19s %-16s %-14s %-8s %s\n", "TIME", "MEMBER", "KIND", "RULE", "INDICATOR / DETAIL");
	json_array_foreach(rows, i, row) {
		static const char *const keys[] = { "indicator", "reason", "host", "port" };
		const char *detail = NULL;

		for (size_t k2 = 0; !detail && k2 < sizeof(keys) / sizeof(keys[0]); k2++)
			detail = json_string_value(json_object_get(row, keys[k2]));
		snprintf(ind, sizeof(ind), "%s", detail ? detail : "-");
		cell(row, "time", t, sizeof(t), 0);
		t[19] = '\0';
		printf("%-19s %-16s %-14s %-8s %.19s\n", t, cell(row, "gateway", g, sizeof(g), 16),
		       cell(row, "action", k, sizeof(k), 14), cell(row, "rule", r, sizeof(r), 8), ind);
	}
}

int soc_alerts(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct query_args a = { 0 };

	return query_run(cmd, &a, argc, argv, 0, NULL, alerts_query, alerts_table);
}

static void human_bytes(int64_t b, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double x = (double)b;
	int u = 0;

	while (x >= 1000 && u < 4) {
		x /= 1000;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", x, units[u]);
}

static int top_query(struct store *s, const struct store_filter *f, const char *what, json_t **rows)
{
	int ret = store_query_top(s, what, f, rows);

	if (ret == -EINVAL)
		soc_errf("top: say what: applications, destinations or blocks, not \"%s\"", what);
	return ret;
}

static void top_table(const json_t *rows, const char *what)
{
	char name[48], by[24], fl[24], m[24];
	const json_t *row;
	size_t i;

	if (!strcmp(what, "blocks")) {
		printf("%-10s %10s %8s  %s\n", "RULE", "BLOCKS", "MEMBERS", "INDICATOR");
		json_array_foreach(rows, i, row) {
			printf("%-10s %10s %8s  %.50s\n", cell(row, "rule", name, sizeof(name), 10),
			       cell(row, "count", fl, sizeof(fl), 10),
			       cell(row, "member_count", m, sizeof(m), 8),
			       cell(row, "indicator", by, sizeof(by), 0));
		}
		return;
	}
	printf("%-40s %10s %10s %8s\n", !strcmp(what, "applications") ? "APPLICATION" : "DESTINATION",
	       "BYTES", "FLOWS", "MEMBERS");
	json_array_foreach(rows, i, row) {
		human_bytes(soc_json_int(row, "bytes", 0), by, sizeof(by));
		printf("%-40s %10s %10s %8s\n", cell(row, "name", name, sizeof(name), 40), by,
		       cell(row, "flows", fl, sizeof(fl), 10), cell(row, "member_count", m, sizeof(m), 8));
	}
}

int soc_top(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct query_args a = { .limit = 10 };

	return query_run(cmd, &a, argc, argv, 1, NULL, top_query, top_table);
}

static int assets_query(struct store *s, const struct store_filter *f, const char *what, json_t **rows)
{
	(void)what;
	return store_query_assets(s, f, rows);
}

static void assets_table(const json_t *rows, const char *what)
{
	char g[32], d[32], ip[32], h[24], m[24], t[32];
	const json_t *row;
	size_t i;

	(void)what;
	printf("%-3s %-14s %-25s %-15s %-10s %s\n", "NEW", "MEMBER", "DEVICE", "ADDRESS", "FIRST SEEN",
	       "NAME / MAKER");
	json_array_foreach(rows, i, row) {
		const char *addr = json_string_value(json_object_get(row, "ip"));

		if (!addr)
			addr = json_string_value(json_object_get(row, "address"));
		snprintf(ip, sizeof(ip), "%s", addr ? addr : "-");
		if (strlen(ip) > 15)
			snprintf(ip + 12, sizeof(ip) - 12, "~");
		cell(row, "first_seen", t, sizeof(t), 0);
		t[10] = '\0';
		cell(row, "hostname", h, sizeof(h), 0);
		if (!strcmp(h, "-"))
			cell(row, "manufacturer", m, sizeof(m), 0);
		else
			m[0] = '\0';
		printf("%-3s %-14s %-25s %-15s %-10s %.10s%.10s\n",
		       json_is_true(json_object_get(row, "new")) ? "*" : "",
		       cell(row, "gateway", g, sizeof(g), 14), cell(row, "device", d, sizeof(d), 25), ip, t,
		       m[0] ? "" : h, m);
	}
}

int soc_assets(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct query_args a = { 0 };

	return query_run(cmd, &a, argc, argv, 0, NULL, assets_query, assets_table);
}

/* ---------------------------------------------------------------- show */

int soc_show(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct query_args a = { 0 };
	struct store_filter f;
	struct store *s = NULL;
	json_t *rec;
	uint64_t seq;
	int status, ret;

	status = open_args(cmd, &a, argc, argv, 2, &s, &f);
	if (status)
		return status;
	if (hub_parse_u64("SEQ", argv[argc - 1], 1, INT64_MAX, &seq) < 0) {
		store_close(s);
		return EXIT_USAGE;
	}
	ret = store_get_record(s, argv[argc - 2], seq, &rec);
	store_close(s);
	if (ret == -ENOENT) {
		soc_errf("no record %s %" PRIu64 " in %s", argv[argc - 2], seq, a.db);
		return EXIT_FAIL;
	}
	if (ret < 0)
		return EXIT_FAIL;
	status = print_json(rec);
	json_decref(rec);
	return status;
}

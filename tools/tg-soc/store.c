/*
 * tg-soc's storage (store.h): every statement, written once in the SQL that
 * SQLite and PostgreSQL share, over the back end's exec/run (store_priv.h).
 * The queries that read JSON inside the records (top, the members' last
 * summary) parse it here, not in SQL, so both back ends give the same rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-soc/store_priv.h"
#include "tg-soc/util.h"

const char store_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS records (\n"
	"  gateway  TEXT   NOT NULL,          -- observer.id\n"
	"  seq      BIGINT NOT NULL,          -- tg.seq\n"
	"  ts       BIGINT NOT NULL,          -- @timestamp\n"
	"  kind     TEXT   NOT NULL,          -- event.kind: metric, alert, asset\n"
	"  dataset  TEXT   NOT NULL,          -- event.dataset\n"
	"  region   TEXT   NOT NULL,          -- organization.id\n"
	"  action   TEXT,                     -- event.action (alerts, assets)\n"
	"  rule     TEXT,                     -- rule.id (alerts)\n"
	"  received BIGINT NOT NULL,          -- when tg-soc stored it\n"
	"  body     TEXT   NOT NULL,          -- the record\n"
	"  PRIMARY KEY (gateway, seq)         -- the deduplication key\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS records_ts ON records (ts);\n"
	"CREATE INDEX IF NOT EXISTS records_kind_ts ON records (kind, ts);\n"
	"CREATE INDEX IF NOT EXISTS records_gw_kind_ts ON records (gateway, kind, ts);\n"
	"\n"
	"CREATE TABLE IF NOT EXISTS members (\n"
	"  gateway      TEXT PRIMARY KEY,     -- observer.id, or the <id> of its state topic\n"
	"  region       TEXT NOT NULL,\n"
	"  first_seen   BIGINT NOT NULL,      -- first record or state received\n"
	"  last_seen    BIGINT NOT NULL,      -- last record or state received\n"
	"  last_ts      BIGINT,               -- the newest record's @timestamp\n"
	"  summary_seq  BIGINT,               -- tg.seq of the newest summary (by @timestamp)\n"
	"  summary_ts   BIGINT,\n"
	"  online       INTEGER,              -- the last state message: 1, 0; NULL: none yet\n"
	"  online_since BIGINT,               -- when online last changed\n"
	"  state        TEXT                  -- the last state message, JSON\n"
	");\n"
	"\n"
	"CREATE TABLE IF NOT EXISTS assets (\n"
	"  gateway    TEXT   NOT NULL,\n"
	"  device     TEXT   NOT NULL,        -- host.mac (raw or pseudonym), else host.ip / host.id\n"
	"  first_seen BIGINT NOT NULL,        -- tg.asset.first_seen\n"
	"  last_seen  BIGINT NOT NULL,        -- tg.asset.last_seen\n"
	"  seq        BIGINT NOT NULL,        -- the newest asset record of the device\n"
	"  PRIMARY KEY (gateway, device)\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS assets_first ON assets (first_seen);\n"
	"\n"
	"CREATE TABLE IF NOT EXISTS refusals (\n"
	"  received BIGINT NOT NULL,\n"
	"  topic    TEXT   NOT NULL,\n"
	"  gateway  TEXT,\n"
	"  idx      BIGINT NOT NULL,          -- the record's index in its message; -1: the message\n"
	"  dataset  TEXT,\n"
	"  field    TEXT   NOT NULL,\n"
	"  value    TEXT,\n"
	"  allowed  TEXT   NOT NULL\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS refusals_received ON refusals (received);\n";

/* ---------------------------------------------------------------- values */

struct store_val v_str(const char *s)
{
	struct store_val v = { .s = s };

	return v;
}

void v_int(struct store_val *v, int64_t i)
{
	snprintf(v->buf, sizeof(v->buf), "%" PRId64, i);
	v->s = v->buf;
}

int64_t col_int(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* ---------------------------------------------------------------- open, close */

int store_open(struct store **out, const char *url)
{
	struct store *s;
	const struct store_ops *ops = &store_sqlite_ops;
	const char *arg = url;
	int ret;

	if (!url || !*url)
		return -EINVAL;
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11) ||
	    strstr(url, "dbname=")) {
		ops = &store_pg_ops;
	} else if (!strncmp(url, "sqlite:", 7)) {
		arg = url + 7;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	ret = ops->open(s, arg);
	if (ret < 0) {
		free(s);
		return ret;
	}
	ret = ops->exec(s, store_schema_sql);
	if (ret < 0) {
		ops->close(s);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s);
	free(s);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

int store_begin(struct store *s)
{
	return s->ops->exec(s, "BEGIN");
}

int store_commit(struct store *s)
{
	return s->ops->exec(s, "COMMIT");
}

int store_rollback(struct store *s)
{
	return s->ops->exec(s, "ROLLBACK");
}

/* ---------------------------------------------------------------- writes */

static const char sql_insert_record[] =
	"INSERT INTO records (gateway, seq, ts, kind, dataset, region, action, rule, received, body) "
	"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway, seq) DO NOTHING";

static const char sql_member_record[] =
	"INSERT INTO members (gateway, region, first_seen, last_seen, last_ts, summary_seq, summary_ts) "
	"VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway) DO UPDATE SET "
	"last_seen = CASE WHEN excluded.last_seen > members.last_seen THEN excluded.last_seen "
	"ELSE members.last_seen END, "
	"last_ts = CASE WHEN members.last_ts IS NULL OR excluded.last_ts > members.last_ts "
	"THEN excluded.last_ts ELSE members.last_ts END, "
	"summary_seq = CASE WHEN excluded.summary_ts IS NOT NULL AND (members.summary_ts IS NULL "
	"OR excluded.summary_ts >= members.summary_ts) THEN excluded.summary_seq "
	"ELSE members.summary_seq END, "
	"summary_ts = CASE WHEN excluded.summary_ts IS NOT NULL AND (members.summary_ts IS NULL "
	"OR excluded.summary_ts >= members.summary_ts) THEN excluded.summary_ts "
	"ELSE members.summary_ts END";

static const char sql_asset[] =
	"INSERT INTO assets (gateway, device, first_seen, last_seen, seq) VALUES (?, ?, ?, ?, ?) "
	"ON CONFLICT (gateway, device) DO UPDATE SET "
	"first_seen = CASE WHEN excluded.first_seen < assets.first_seen THEN excluded.first_seen "
	"ELSE assets.first_seen END, "
	"seq = CASE WHEN excluded.last_seen >= assets.last_seen THEN excluded.seq ELSE assets.seq END, "
	"last_seen = CASE WHEN excluded.last_seen > assets.last_seen THEN excluded.last_seen "
	"ELSE assets.last_seen END";

static int put_asset(struct store *s, const json_t *rec, const char *gateway, uint64_t seq)
{
	const char *dev = soc_json_str(rec, "host.mac");
	int64_t first = 0, last = 0;
	struct store_val v[5];

	if (!dev)
		dev = soc_json_str(rec, "host.ip");
	if (!dev)
		dev = soc_json_str(rec, "host.id");
	if (!dev)
		return 0;
	if (soc_parse_time(soc_json_str(rec, "tg.asset.first_seen"), &first) < 0 ||
	    soc_parse_time(soc_json_str(rec, "tg.asset.last_seen"), &last) < 0)
		return 0;
	v[0] = v_str(gateway);
	v[1] = v_str(dev);
	V_INT(v, 2, first);
	V_INT(v, 3, last);
	V_INT(v, 4, (int64_t)seq);
	return s->ops->run(s, sql_asset, v, 5, NULL, NULL) < 0 ? -EIO : 0;
}

int store_put(struct store *s, const json_t *rec, const char *gateway, uint64_t seq,
	      int64_t received_ms)
{
	const char *kind = soc_json_str(rec, "event.kind");
	const char *dataset = soc_json_str(rec, "event.dataset");
	const char *region = soc_json_str(rec, "organization.id");
	int64_t ts;
	struct store_val v[10];
	char *body;
	long n;
	bool summary;

	if (!kind || !dataset || !region || !gateway || !seq || seq > INT64_MAX ||
	    soc_parse_time(soc_json_str(rec, "@timestamp"), &ts) < 0)
		return -EINVAL;
	body = json_dumps(rec, JSON_COMPACT);
	if (!body)
		return -ENOMEM;
	v[0] = v_str(gateway);
	V_INT(v, 1, (int64_t)seq);
	V_INT(v, 2, ts);
	v[3] = v_str(kind);
	v[4] = v_str(dataset);
	v[5] = v_str(region);
	v[6] = v_str(soc_json_str(rec, "event.action"));
	v[7] = v_str(soc_json_str(rec, "rule.id"));
	V_INT(v, 8, received_ms);
	v[9] = v_str(body);
	n = s->ops->run(s, sql_insert_record, v, 10, NULL, NULL);
	free(body);
	if (n < 0)
		return -EIO;
	if (n == 0)
		return STORE_DUPLICATE;

	summary = !strcmp(kind, "metric");
	v[0] = v_str(gateway);
	v[1] = v_str(region);
	V_INT(v, 2, received_ms);
	V_INT(v, 3, received_ms);
	V_INT(v, 4, ts);
	if (summary) {
		V_INT(v, 5, (int64_t)seq);
		V_INT(v, 6, ts);
	} else {
		v[5] = v_str(NULL);
		v[6] = v_str(NULL);
	}
	if (s->ops->run(s, sql_member_record, v, 7, NULL, NULL) < 0)
		return -EIO;
	if (!strcmp(kind, "asset") && put_asset(s, rec, gateway, seq) < 0)
		return -EIO;
	return STORE_INSERTED;
}

/*
 * A state message replaces the one kept, except the last will
 * ({"online": false, ...}, no bundle): the last state with a bundle stays, so
 * an offline member still shows the serial it enforced.
 */
static const char sql_state[] =
	"INSERT INTO members (gateway, region, first_seen, last_seen, online, online_since, state) "
	"VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway) DO UPDATE SET "
	"last_seen = CASE WHEN excluded.last_seen > members.last_seen THEN excluded.last_seen "
	"ELSE members.last_seen END, "
	"online_since = CASE WHEN members.online IS NULL OR members.online <> excluded.online "
	"THEN excluded.online_since ELSE members.online_since END, "
	"online = excluded.online, "
	"state = CASE WHEN excluded.online = 0 AND members.state IS NOT NULL THEN members.state "
	"ELSE excluded.state END";

int store_put_state(struct store *s, const char *region, const char *gateway,
		    const json_t *state, int64_t received_ms)
{
	json_t *online = json_object_get(state, "online");
	int64_t since = received_ms;
	struct store_val v[7];
	char *body;
	long n;

	if (!json_is_boolean(online) || !gateway || !region)
		return -EINVAL;
	if (json_is_true(online) && json_is_integer(json_object_get(state, "time")) &&
	    json_integer_value(json_object_get(state, "time")) > 0) {
		int64_t t = (int64_t)json_integer_value(json_object_get(state, "time")) * 1000;
		int64_t up = soc_json_int(state, "uptime_s", -1);

		/* online since the gateway started its session: its time less its uptime */
		since = up >= 0 && up * 1000 <= t ? t - up * 1000 : t;
	}
	body = json_dumps(state, JSON_COMPACT);
	if (!body)
		return -ENOMEM;
	v[0] = v_str(gateway);
	v[1] = v_str(region);
	V_INT(v, 2, received_ms);
	V_INT(v, 3, received_ms);
	V_INT(v, 4, json_is_true(online) ? 1 : 0);
	V_INT(v, 5, since);
	v[6] = v_str(body);
	n = s->ops->run(s, sql_state, v, 7, NULL, NULL);
	free(body);
	return n < 0 ? -EIO : 0;
}

int store_put_refusal(struct store *s, const struct store_refusal *r)
{
	static const char sql[] = "INSERT INTO refusals (received, topic, gateway, idx, dataset, "
				  "field, value, allowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	struct store_val v[8];

	V_INT(v, 0, r->received_ms);
	v[1] = v_str(r->topic ? r->topic : "");
	v[2] = v_str(r->gateway);
	V_INT(v, 3, r->index);
	v[4] = v_str(r->dataset);
	v[5] = v_str(r->field ? r->field : "(record)");
	v[6] = v_str(r->value);
	v[7] = v_str(r->allowed ? r->allowed : "");
	return s->ops->run(s, sql, v, 8, NULL, NULL) < 0 ? -EIO : 0;
}

long store_retain(struct store *s, int64_t cutoff_ms)
{
	struct store_val v[1];
	long n;

	V_INT(v, 0, cutoff_ms);
	n = s->ops->run(s, "DELETE FROM records WHERE ts < ?", v, 1, NULL, NULL);
	if (n < 0 || s->ops->run(s, "DELETE FROM assets WHERE last_seen < ?", v, 1, NULL, NULL) < 0 ||
	    s->ops->run(s, "DELETE FROM refusals WHERE received < ?", v, 1, NULL, NULL) < 0)
		return -EIO;
	return n;
}

static int count_row(void *ctx, int ncol, const char *const *vals)
{
	if (ncol > 0)
		*(long *)ctx = (long)col_int(vals[0]);
	return 0;
}

long store_count(struct store *s, const char *table)
{
	static const char *const tables[] = { "records", "members", "assets", "refusals" };
	char sql[64];
	long n = -1;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (strcmp(table, tables[i]) != 0)
			continue;
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", tables[i]);
		if (s->ops->run(s, sql, NULL, 0, count_row, &n) < 0)
			return -EIO;
		return n;
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- filters */

void where_add(struct where *w, const char *clause, const char *text, const int64_t *num)
{
	size_t len = strlen(w->sql);

	if (w->n >= STORE_PARAMS_MAX)
		return;
	snprintf(w->sql + len, sizeof(w->sql) - len, "%s%s", w->n ? " AND " : " WHERE ", clause);
	if (num)
		V_INT(w->v, w->n, *num);
	else
		w->v[w->n] = v_str(text);
	w->n++;
}

void where_filter(struct where *w, const struct store_filter *f, bool alerts)
{
	if (f->kind)
		where_add(w, "kind = ?", f->kind, NULL);
	if (f->since_ms)
		where_add(w, "ts >= ?", NULL, &f->since_ms);
	if (f->until_ms)
		where_add(w, "ts < ?", NULL, &f->until_ms);
	if (f->member)
		where_add(w, "gateway = ?", f->member, NULL);
	if (alerts && f->rule)
		where_add(w, "rule = ?", f->rule, NULL);
	if (alerts && f->action)
		where_add(w, "action = ?", f->action, NULL);
}

void limit_clause(char *sql, size_t size, size_t limit)
{
	size_t len = strlen(sql);

	if (limit)
		snprintf(sql + len, size - len, " LIMIT %zu", limit);
}

/* ---------------------------------------------------------------- records */

struct foreach_ctx {
	store_record_fn fn;
	void *ctx;
	int ret; /* fn's non-zero return, which stopped the walk */
};

static int foreach_row(void *ctx, int ncol, const char *const *vals)
{
	struct foreach_ctx *c = ctx;
	json_t *rec;
	int ret;

	if (ncol < 1 || !vals[0])
		return 0;
	rec = json_loads(vals[0], 0, NULL);
	if (!rec)
		return 0;
	ret = c->fn(c->ctx, rec);
	json_decref(rec);
	if (ret)
		c->ret = ret;
	return ret;
}

int store_foreach(struct store *s, const struct store_filter *f, store_record_fn fn, void *ctx)
{
	struct where w = { .sql = "SELECT body FROM records" };
	struct foreach_ctx c = { fn, ctx, 0 };
	long n;

	where_filter(&w, f, false);
	strncat(w.sql, " ORDER BY ts, gateway, seq", sizeof(w.sql) - strlen(w.sql) - 1);
	limit_clause(w.sql, sizeof(w.sql), f->limit);
	n = s->ops->run(s, w.sql, w.v, w.n, foreach_row, &c);
	if (c.ret)
		return c.ret;
	return n < 0 ? -EIO : 0;
}

static int one_body(void *ctx, int ncol, const char *const *vals)
{
	json_t **out = ctx;

	if (ncol >= 1 && vals[0] && !*out)
		*out = json_loads(vals[0], 0, NULL);
	return 0;
}

int store_get_record(struct store *s, const char *gateway, uint64_t seq, json_t **out)
{
	struct store_val v[2];

	*out = NULL;
	if (!gateway || seq > INT64_MAX)
		return -EINVAL;
	v[0] = v_str(gateway);
	V_INT(v, 1, (int64_t)seq);
	if (s->ops->run(s, "SELECT body FROM records WHERE gateway = ? AND seq = ?", v, 2,
			one_body, out) < 0)
		return -EIO;
	return *out ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------- alerts */

static int alert_row(void *ctx, int ncol, const char *const *vals)
{
	json_t *rows = ctx, *rec, *row;
	const char *ind;
	char t[32];

	if (ncol < 2 || !vals[1])
		return 0;
	rec = json_loads(vals[1], 0, NULL);
	if (!rec)
		return 0;
	ind = soc_json_str(rec, "tg.alert.indicator");
	if (!ind)
		ind = soc_json_str(rec, "destination.ip");
	row = json_pack("{ss ss sI ss}", "time", soc_time_str(col_int(vals[0]), t, sizeof(t)),
			"gateway", soc_json_str(rec, "observer.id") ?: "",
			"seq", (json_int_t)soc_json_int(rec, "tg.seq", 0),
			"action", soc_json_str(rec, "event.action") ?: "");
	if (row) {
		static const char *const opt[][2] = {
			{ "rule", "rule.id" },          { "application", "tg.alert.application" },
			{ "verdict", "tg.alert.action" }, { "source", "source.ip" },
			{ "source_id", "source.address" }, { "reason", "tg.alert.reason" },
			{ "host", "host.mac" },         { "port", "tg.alert.port" },
		};

		if (ind)
			json_object_set_new(row, "indicator", json_string(ind));
		for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
			const char *val = soc_json_str(rec, opt[i][1]);

			if (val)
				json_object_set_new(row, opt[i][0], json_string(val));
		}
		if (soc_json_path(rec, "tg.alert.bundle.serial"))
			json_object_set_new(row, "serial",
					    json_integer(soc_json_int(rec, "tg.alert.bundle.serial", 0)));
		if (soc_json_path(rec, "tg.alert.score"))
			json_object_set_new(row, "score",
					    json_integer(soc_json_int(rec, "tg.alert.score", 0)));
		json_array_append_new(rows, row);
	}
	json_decref(rec);
	return 0;
}

int store_query_alerts(struct store *s, const struct store_filter *f, json_t **out)
{
	struct where w = { .sql = "SELECT ts, body FROM records" };
	struct store_filter g = *f;
	json_t *rows = json_array();

	if (!rows)
		return -ENOMEM;
	g.kind = "alert";
	where_filter(&w, &g, true);
	strncat(w.sql, " ORDER BY ts DESC, gateway, seq DESC", sizeof(w.sql) - strlen(w.sql) - 1);
	limit_clause(w.sql, sizeof(w.sql), f->limit);
	if (s->ops->run(s, w.sql, w.v, w.n, alert_row, rows) < 0) {
		json_decref(rows);
		return -EIO;
	}
	*out = rows;
	return 0;
}

/*
 * tg-soc's queries that read inside the records (store.h): members (the
 * kept state and the newest summary of each), top (the summaries' lists
 * added up) and the inventory. The SQL only selects; the JSON is read here,
 * so both back ends give the same rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-soc/store_priv.h"
#include "tg-soc/util.h"

/* ---------------------------------------------------------------- members */

struct members_ctx {
	const struct store_members_query *q;
	json_t *rows;
};

static void set_time(json_t *row, const char *key, int64_t ms)
{
	char t[32];

	json_object_set_new(row, key, ms ? json_string(soc_time_str(ms, t, sizeof(t))) : json_null());
}

/* From the newest summary: its time, bytes, the spool and the drops. */
static void member_summary(json_t *row, const char *body)
{
	json_t *rec = body ? json_loads(body, 0, NULL) : NULL;
	json_t *ports, *p;
	int64_t drops = 0;
	size_t i;

	if (!rec) {
		json_object_set_new(row, "last_summary", json_null());
		return;
	}
	json_object_set_new(row, "last_summary",
			    json_pack("{ss sI sI sI}", "time", soc_json_str(rec, "@timestamp") ?: "",
				      "bytes", (json_int_t)soc_json_int(rec, "tg.summary.totals.bytes", 0),
				      "flows", (json_int_t)soc_json_int(rec, "tg.summary.totals.flows", 0),
				      "hosts", (json_int_t)soc_json_int(rec, "tg.summary.totals.hosts", 0)));
	json_object_set_new(row, "spool_records",
			    json_integer(soc_json_int(rec, "tg.summary.health.spool.records", 0)));
	json_object_set_new(row, "spool_bytes",
			    json_integer(soc_json_int(rec, "tg.summary.health.spool.bytes", 0)));
	json_object_set_new(row, "spool_dropped",
			    json_integer(soc_json_int(rec, "tg.summary.health.spool.dropped", 0)));
	ports = soc_json_path(rec, "tg.summary.health.ports");
	json_array_foreach(ports, i, p) {
		drops += soc_json_int(p, "kernel_drops", 0) + soc_json_int(p, "interface_drops", 0);
	}
	json_object_set_new(row, "drops", json_integer(drops));
	json_decref(rec);
}

/* gateway region first_seen last_seen last_ts online online_since state alerts summary */
static int member_row(void *ctx, int ncol, const char *const *v)
{
	struct members_ctx *c = ctx;
	const struct store_members_query *q = c->q;
	json_t *row, *state = NULL, *bundle, *refusal;
	int64_t last_seen, since;
	bool online;

	if (ncol < 10)
		return 0;
	row = json_pack("{ss ss}", "gateway", v[0] ?: "", "region", v[1] ?: "");
	if (!row)
		return -ENOMEM;
	last_seen = col_int(v[3]);
	if (v[5]) {
		/* the state message decides; a will seen or nothing for stale_ms: offline */
		online = col_int(v[5]) == 1 && (!q->stale_ms || q->now_ms - last_seen <= q->stale_ms);
		since = online ? col_int(v[6]) : (col_int(v[5]) == 1 ? last_seen : col_int(v[6]));
		json_object_set_new(row, "status_from", json_string("state"));
	} else {
		online = q->stale_ms && q->now_ms - last_seen <= q->stale_ms;
		since = online ? col_int(v[2]) : last_seen;
		json_object_set_new(row, "status_from", json_string("records"));
	}
	json_object_set_new(row, "online", json_boolean(online));
	set_time(row, "since", since);
	set_time(row, "first_seen", col_int(v[2]));
	set_time(row, "last_seen", last_seen);
	set_time(row, "last_record", col_int(v[4]));
	if (v[7])
		state = json_loads(v[7], 0, NULL);
	bundle = json_object_get(state, "bundle");
	if (json_is_object(bundle)) {
		const char *sha = json_string_value(json_object_get(bundle, "sha256"));
		int64_t serial = soc_json_int(bundle, "serial", -1);

		json_object_set_new(row, "serial", json_integer(serial));
		json_object_set_new(row, "sha256", sha ? json_string(sha) : json_null());
		json_object_set_new(row, "serial_current",
				    q->hub_serial ? json_boolean((uint64_t)serial == q->hub_serial)
						  : json_null());
		json_object_set_new(row, "hash_match",
				    q->hub_sha256 && sha ? json_boolean(!strcmp(sha, q->hub_sha256))
							 : json_null());
	} else {
		json_object_set_new(row, "serial", json_null());
		json_object_set_new(row, "sha256", json_null());
		json_object_set_new(row, "serial_current", q->hub_serial ? json_false() : json_null());
		json_object_set_new(row, "hash_match", q->hub_sha256 ? json_false() : json_null());
	}
	if (q->hub_serial)
		json_object_set_new(row, "hub_serial", json_integer((json_int_t)q->hub_serial));
	refusal = json_object_get(state, "last_refusal");
	json_object_set(row, "last_refusal", json_is_object(refusal) ? refusal : json_null());
	json_object_set_new(row, "mode", json_is_string(json_object_get(state, "mode"))
					       ? json_incref(json_object_get(state, "mode")) : json_null());
	json_object_set_new(row, "alerts_24h", json_integer(col_int(v[8])));
	member_summary(row, v[9]);
	json_decref(state);
	json_array_append_new(c->rows, row);
	return 0;
}

int store_query_members(struct store *s, const struct store_members_query *q, json_t **out)
{
	static const char sql[] =
		"SELECT m.gateway, m.region, m.first_seen, m.last_seen, m.last_ts, m.online, "
		"m.online_since, m.state, "
		"(SELECT COUNT(*) FROM records a WHERE a.gateway = m.gateway AND a.kind = 'alert' "
		"AND a.ts >= ?), "
		"(SELECT r.body FROM records r WHERE r.gateway = m.gateway AND r.seq = m.summary_seq) "
		"FROM members m ORDER BY m.gateway";
	struct members_ctx c = { q, json_array() };
	struct store_val v[1];

	if (!c.rows)
		return -ENOMEM;
	V_INT(v, 0, q->now_ms - 86400000);
	if (s->ops->run(s, sql, v, 1, member_row, &c) < 0) {
		json_decref(c.rows);
		return -EIO;
	}
	*out = c.rows;
	return 0;
}

/* ---------------------------------------------------------------- top */

struct top_entry {
	char *name;
	int64_t bytes, packets, flows, count;
	char members[8][64]; /* distinct gateways, the first few */
	int nmembers;        /* how many distinct, counted up to 8 exactly, then "8+" */
	char *indicator;     /* blocks: what the rule matched (from a first_hit alert) */
};

struct top_ctx {
	const char *what;
	struct top_entry *e;
	size_t n, cap;
};

static struct top_entry *top_get(struct top_ctx *c, const char *name)
{
	struct top_entry *e;

	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].name, name))
			return &c->e[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;

		e = realloc(c->e, cap * sizeof(*e));
		if (!e)
			return NULL;
		c->e = e;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name)
		return NULL;
	c->n++;
	return e;
}

static void top_member(struct top_entry *e, const char *gw)
{
	for (int i = 0; i < e->nmembers && i < 8; i++)
		if (!strcmp(e->members[i], gw))
			return;
	if (e->nmembers < 8)
		snprintf(e->members[e->nmembers], sizeof(e->members[0]), "%s", gw);
	if (e->nmembers < 9)
		e->nmembers++;
}

static void top_add(struct top_ctx *c, const char *name, const json_t *o, const char *gw,
		    int64_t count)
{
	struct top_entry *e = top_get(c, name);

	if (!e)
		return;
	e->bytes += soc_json_int(o, "bytes", 0);
	e->packets += soc_json_int(o, "packets", 0);
	e->flows += soc_json_int(o, "flows", 0);
	e->count += count;
	top_member(e, gw);
}

static int top_row(void *ctx, int ncol, const char *const *v)
{
	struct top_ctx *c = ctx;
	json_t *rec, *list, *it;
	const char *gw;
	size_t i;

	if (ncol < 1 || !v[0])
		return 0;
	rec = json_loads(v[0], 0, NULL);
	gw = soc_json_str(rec, "observer.id") ?: "";
	if (!strcmp(c->what, "applications")) {
		list = soc_json_path(rec, "tg.summary.applications");
		json_array_foreach(list, i, it) {
			if (json_string_value(json_object_get(it, "name")))
				top_add(c, json_string_value(json_object_get(it, "name")), it, gw, 1);
		}
	} else if (!strcmp(c->what, "destinations")) {
		list = soc_json_path(rec, "tg.summary.destinations.top");
		json_array_foreach(list, i, it) {
			const char *name = json_string_value(json_object_get(it, "domain"));

			if (!name)
				name = json_string_value(json_object_get(it, "ip"));
			if (!name)
				name = json_string_value(json_object_get(it, "id"));
			if (name)
				top_add(c, name, it, gw, 1);
		}
	} else if (!strcmp(soc_json_str(rec, "event.kind") ?: "", "alert")) {
		/* blocks: a first hit names what its rule matched */
		const char *rule = soc_json_str(rec, "rule.id");
		const char *ind = soc_json_str(rec, "tg.alert.indicator");

		for (i = 0; rule && ind && i < c->n; i++)
			if (!strcmp(c->e[i].name, rule) && !c->e[i].indicator)
				c->e[i].indicator = strdup(ind);
	} else {
		list = soc_json_path(rec, "tg.summary.blocks");
		json_array_foreach(list, i, it) {
			const char *rule = soc_json_str(it, "rule.id");

			if (rule)
				top_add(c, rule, it, gw, soc_json_int(it, "count", 0));
		}
	}
	json_decref(rec);
	return 0;
}

static int top_cmp(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;
	int64_t kx = x->bytes ? x->bytes : x->count, ky = y->bytes ? y->bytes : y->count;

	if (kx != ky)
		return kx < ky ? 1 : -1;
	return strcmp(x->name, y->name);
}

int store_query_top(struct store *s, const char *what, const struct store_filter *f, json_t **out)
{
	struct top_ctx c = { .what = what };
	struct where w = { .sql = "SELECT body FROM records" };
	struct store_filter g = *f;
	bool blocks = !strcmp(what, "blocks");
	json_t *rows;
	int ret = 0;

	if (!blocks && strcmp(what, "applications") != 0 && strcmp(what, "destinations") != 0)
		return -EINVAL;
	g.kind = "metric";
	g.limit = 0;
	where_filter(&w, &g, false);
	if (s->ops->run(s, w.sql, w.v, w.n, top_row, &c) < 0)
		ret = -EIO;
	if (!ret && blocks && c.n) {
		struct where a = { .sql = "SELECT body FROM records" };

		g.kind = "alert";
		g.action = "first_hit";
		where_filter(&a, &g, true);
		if (s->ops->run(s, a.sql, a.v, a.n, top_row, &c) < 0)
			ret = -EIO;
	}
	rows = json_array();
	if (!rows)
		ret = -ENOMEM;
	if (c.n)
		qsort(c.e, c.n, sizeof(*c.e), top_cmp);
	for (size_t i = 0; i < c.n; i++) {
		struct top_entry *e = &c.e[i];
		json_t *row, *m;

		if (!ret && (!f->limit || i < f->limit)) {
			m = json_array();
			for (int k = 0; k < e->nmembers && k < 8; k++)
				json_array_append_new(m, json_string(e->members[k]));
			if (blocks)
				row = json_pack("{ss sI ss* so}", "rule", e->name, "count",
						(json_int_t)e->count, "indicator", e->indicator,
						"members", m);
			else
				row = json_pack("{ss sI sI sI so}", "name", e->name, "bytes",
						(json_int_t)e->bytes, "packets", (json_int_t)e->packets,
						"flows", (json_int_t)e->flows, "members", m);
			if (row) {
				json_object_set_new(row, "member_count", json_integer(e->nmembers));
				json_array_append_new(rows, row);
			}
		}
		free(e->name);
		free(e->indicator);
	}
	free(c.e);
	if (ret) {
		json_decref(rows);
		return ret;
	}
	*out = rows;
	return 0;
}

/* ---------------------------------------------------------------- assets */

struct assets_ctx {
	json_t *rows;
	int64_t new_after;
};

/* gateway device first_seen last_seen body */
static int asset_row(void *ctx, int ncol, const char *const *v)
{
	struct assets_ctx *c = ctx;
	json_t *rec, *row;
	int64_t first;

	if (ncol < 5)
		return 0;
	rec = v[4] ? json_loads(v[4], 0, NULL) : NULL;
	first = col_int(v[2]);
	row = json_pack("{ss ss}", "gateway", v[0] ?: "", "device", v[1] ?: "");
	if (!row) {
		json_decref(rec);
		return -ENOMEM;
	}
	set_time(row, "first_seen", first);
	set_time(row, "last_seen", col_int(v[3]));
	json_object_set_new(row, "new", json_boolean(first >= c->new_after));
	if (rec) {
		static const char *const opt[][2] = {
			{ "ip", "host.ip" },         { "address", "host.id" },
			{ "hostname", "host.hostname" }, { "manufacturer", "device.manufacturer" },
			{ "vendor_class", "tg.asset.vendor_class" },
		};

		for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
			const char *val = soc_json_str(rec, opt[i][1]);

			if (val)
				json_object_set_new(row, opt[i][0], json_string(val));
		}
		json_decref(rec);
	}
	json_array_append_new(c->rows, row);
	return 0;
}

int store_query_assets(struct store *s, const struct store_filter *f, json_t **out)
{
	struct where w = { .sql = "SELECT a.gateway, a.device, a.first_seen, a.last_seen, r.body "
				  "FROM assets a LEFT JOIN records r ON r.gateway = a.gateway AND "
				  "r.seq = a.seq" };
	struct assets_ctx c = { json_array(), (f->since_ms ? f->since_ms : soc_now_ms() - 86400000) };

	if (!c.rows)
		return -ENOMEM;
	if (f->member)
		where_add(&w, "a.gateway = ?", f->member, NULL);
	strncat(w.sql, " ORDER BY a.first_seen DESC, a.gateway, a.device",
		sizeof(w.sql) - strlen(w.sql) - 1);
	limit_clause(w.sql, sizeof(w.sql), f->limit);
	if (s->ops->run(s, w.sql, w.v, w.n, asset_row, &c) < 0) {
		json_decref(c.rows);
		return -EIO;
	}
	*out = c.rows;
	return 0;
}

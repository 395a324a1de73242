/*
 * tg-soc's storage: one API over two back ends, SQLite (store_sqlite.c: WAL,
 * one file, the default) and PostgreSQL (store_pg.c: libpq). The schema is
 * docs/tg-soc.md "Schema"; every statement is written once (store.c) in the
 * SQL both dialects share, with ? placeholders.
 *
 * A record is stored once per (gateway, seq) = (observer.id, tg.seq):
 * store_put() of a pair already stored is STORE_DUPLICATE and changes
 * nothing. Writes between store_begin() and store_commit() are one
 * transaction: tg-soc collect commits each MQTT message's records before the
 * message is acknowledged (docs/tg-soc.md "Delivery").
 *
 * Queries return a new json_t array of row objects (the caller
 * json_decref()s it): the table output and --json print the same rows.
 * Times in and out are milliseconds since the epoch (UTC); rows carry them as
 * ISO 8601 strings as the records do.
 *
 * Every function returns 0 (or the non-negative result it names) or a
 * negative errno: -EINVAL bad argument, -ENOENT no such record, -EIO the
 * database refused (the reason is logged with the statement).
 */
#ifndef TG_SOC_STORE_H
#define TG_SOC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

/*
 * url: "sqlite:PATH", a plain PATH (SQLite), or "postgresql://..." /
 * "postgres://..." (any libpq connection URI; also "host=/dir dbname=x").
 * Creates the schema when absent. *out on 0.
 */
int store_open(struct store **out, const char *url);
void store_close(struct store *s);
/* "sqlite" or "postgresql" */
const char *store_backend(const struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

enum store_put_result {
	STORE_INSERTED = 0,
	STORE_DUPLICATE = 1,
};

/*
 * rec: a record that passed schema_check() (schema.h). gateway is its
 * observer.id, seq its tg.seq; received_ms when tg-soc took it. Returns
 * STORE_INSERTED or STORE_DUPLICATE, or -errno. Also keeps members (first
 * and last seen, newest summary) and assets (the newest record per device).
 */
int store_put(struct store *s, const json_t *rec, const char *gateway, uint64_t seq,
	      int64_t received_ms);

/*
 * A gateway's retained state message (docs/protocol.md "state"), as received
 * on tg/v1/<region>/gw/<id>/state: kept in members (online, since, serial,
 * sha256, last refusal). An empty retained message clears nothing.
 */
int store_put_state(struct store *s, const char *region, const char *gateway,
		    const json_t *state, int64_t received_ms);

/* One refused record or message, kept in refusals (the log line says the same). */
struct store_refusal {
	int64_t received_ms;
	const char *topic;
	const char *gateway;  /* from the topic; may be NULL */
	long index;           /* record index in the message, from 0; -1: the whole message */
	const char *dataset;  /* may be NULL */
	const char *field;    /* path, "tg.seq"; "(record)" */
	const char *value;    /* the value, JSON, cut to 200 bytes */
	const char *allowed;  /* what the schema allows */
};
int store_put_refusal(struct store *s, const struct store_refusal *r);

/* Deletes records (and assets, refusals) older than cutoff_ms; returns how many records. */
long store_retain(struct store *s, int64_t cutoff_ms);

/*
 * Queries. now_ms: the time "online since" and "last 24 h" are counted
 * from. hub_serial/hub_sha256: the hub's latest published bundle (0/NULL:
 * unknown), each member row says whether it enforces it.
 */
struct store_members_query {
	int64_t now_ms;
	int64_t stale_ms;        /* no record and no state for that long: offline */
	uint64_t hub_serial;
	const char *hub_sha256;  /* 64 hex digits */
};
int store_query_members(struct store *s, const struct store_members_query *q, json_t **out);

struct store_filter {
	int64_t since_ms, until_ms;  /* [since, until); 0: open */
	const char *member;          /* observer.id; NULL: every member */
	const char *rule;            /* rule.id (alerts) */
	const char *action;          /* event.action / tg.alert.type (alerts) */
	const char *kind;            /* event.kind: metric, alert, asset; NULL: all */
	size_t limit;                /* 0: no limit */
};
/* Alert records, newest first: rows {time, gateway, seq, action, rule, indicator, ...}. */
int store_query_alerts(struct store *s, const struct store_filter *f, json_t **out);

/* what: "applications", "destinations", "blocks"; rows {name, bytes, packets, flows, members} largest first. */
int store_query_top(struct store *s, const char *what, const struct store_filter *f, json_t **out);

/* The inventory, one row per (gateway, device), newest first_seen first. */
int store_query_assets(struct store *s, const struct store_filter *f, json_t **out);

/* One record as stored (the JSON the gateway sent). -ENOENT when absent. */
int store_get_record(struct store *s, const char *gateway, uint64_t seq, json_t **out);

/*
 * Every record matching f (kind, member, since/until; rule/action ignored),
 * oldest first by @timestamp then (gateway, seq), handed to fn; fn's non-zero
 * return stops the walk and is returned. rec is borrowed for the call.
 */
typedef int (*store_record_fn)(void *ctx, const json_t *rec);
int store_foreach(struct store *s, const struct store_filter *f, store_record_fn fn, void *ctx);

/* Rows counted (tests, bench): table "records", "members", "assets", "refusals". */
long store_count(struct store *s, const char *table);

#endif

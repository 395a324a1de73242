/*
 * tg-soc's SQLite back end (store_priv.h): one file in WAL mode, so the
 * queries of an analyst read while collect writes; synchronous FULL, so a
 * transaction that returned from COMMIT is on disk before collect
 * acknowledges its message (docs/tg-soc.md "Delivery"). The first 16
 * statements are prepared once and kept, by their text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tg-soc/store_priv.h"
#include "tg-soc/util.h"

#define CACHE 16

struct sq_cache {
	char *sql[CACHE];
	sqlite3_stmt *st[CACHE];
};

static int sq_open(struct store *s, const char *path)
{
	sqlite3 *db = NULL;
	struct sq_cache *c;
	char *err = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		soc_errf("sqlite:%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, &err) !=
	    SQLITE_OK) {
		soc_errf("sqlite:%s: cannot set WAL mode: %s", path, err ? err : "?");
		sqlite3_free(err);
		sqlite3_close(db);
		return -EIO;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		sqlite3_close(db);
		return -ENOMEM;
	}
	s->db = db;
	s->priv = c;
	return 0;
}

static void sq_close(struct store *s)
{
	struct sq_cache *c = s->priv;

	for (int i = 0; c && i < CACHE; i++) {
		sqlite3_finalize(c->st[i]);
		free(c->sql[i]);
	}
	free(c);
	sqlite3_close(s->db);
}

static int sq_exec(struct store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		soc_errf("sqlite: \"%.60s\": %s", sql, err ? err : sqlite3_errmsg(s->db));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* A cached statement for sql (reset), or a new one *owned = true. */
static sqlite3_stmt *sq_prepare(struct store *s, const char *sql, bool *owned)
{
	struct sq_cache *c = s->priv;
	sqlite3_stmt *st = NULL;
	int free_slot = -1;

	*owned = false;
	for (int i = 0; i < CACHE; i++) {
		if (c->sql[i] && !strcmp(c->sql[i], sql))
			return c->st[i];
		if (!c->sql[i] && free_slot < 0)
			free_slot = i;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		soc_errf("sqlite: \"%.80s\": %s", sql, sqlite3_errmsg(s->db));
		return NULL;
	}
	if (free_slot >= 0 && (c->sql[free_slot] = strdup(sql)) != NULL) {
		c->st[free_slot] = st;
	} else {
		*owned = true;
	}
	return st;
}

static long sq_run(struct store *s, const char *sql, const struct store_val *v, size_t nv,
		   store_row_fn fn, void *ctx)
{
	const char *vals[64];
	sqlite3_stmt *st;
	bool owned;
	long rows = 0;
	int rc, ret = 0;

	st = sq_prepare(s, sql, &owned);
	if (!st)
		return -EIO;
	for (size_t i = 0; i < nv; i++) {
		rc = v[i].s ? sqlite3_bind_text(st, (int)i + 1, v[i].s, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(st, (int)i + 1);
		if (rc != SQLITE_OK) {
			soc_errf("sqlite: \"%.80s\": value %zu: %s", sql, i + 1, sqlite3_errmsg(s->db));
			if (owned)
				sqlite3_finalize(st);
			else
				sqlite3_reset(st);
			return -EIO;
		}
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_count(st);

		rows++;
		if (!fn)
			continue;
		if (n > 64)
			n = 64;
		for (int i = 0; i < n; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		ret = fn(ctx, n, vals);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE) {
		soc_errf("sqlite: \"%.80s\": %s", sql, sqlite3_errmsg(s->db));
		rows = -EIO;
	} else if (!ret && !sqlite3_stmt_readonly(st)) {
		rows = sqlite3_changes(s->db);
	}
	if (owned) {
		sqlite3_finalize(st);
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return ret ? ret : rows;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.run = sq_run,
};

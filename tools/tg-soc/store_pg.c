/*
 * tg-soc's PostgreSQL back end (store_priv.h), over libpq: for a region that
 * outgrows one file or has several analysts querying at once. The same
 * statements as SQLite: store.c's ? placeholders become $1, $2..., values go
 * as text and PostgreSQL converts them for the column. The first 32
 * statements are prepared once on the connection and kept, by their text;
 * rows come one at a time (single-row mode), so a walk over every record
 * (store_foreach) never holds the table in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tg-soc/store_priv.h"
#include "tg-soc/util.h"

#define CACHE 32

struct pg_cache {
	char *sql[CACHE];
};

static void pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" from the schema, and the like */
}

static int pg_open(struct store *s, const char *url)
{
	PGconn *db = PQconnectdb(url);
	struct pg_cache *c;

	if (!db || PQstatus(db) != CONNECTION_OK) {
		soc_errf("postgresql: %s: cannot connect: %s", url,
			 db ? PQerrorMessage(db) : "out of memory");
		PQfinish(db);
		return -EIO;
	}
	PQsetNoticeProcessor(db, pg_quiet, NULL);
	c = calloc(1, sizeof(*c));
	if (!c) {
		PQfinish(db);
		return -ENOMEM;
	}
	s->db = db;
	s->priv = c;
	return 0;
}

static void pg_close(struct store *s)
{
	struct pg_cache *c = s->priv;

	for (int i = 0; c && i < CACHE; i++)
		free(c->sql[i]);
	free(c);
	PQfinish(s->db);
}

static int pg_exec(struct store *s, const char *sql)
{
	PGresult *r = PQexec(s->db, sql);
	ExecStatusType st = PQresultStatus(r);
	int ret = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		soc_errf("postgresql: \"%.60s\": %s", sql, PQerrorMessage(s->db));
		ret = -EIO;
	}
	PQclear(r);
	return ret;
}

/* sql with each ? as $N into out. */
static int pg_number(const char *sql, char *out, size_t size)
{
	size_t o = 0;
	int n = 0;

	for (const char *p = sql; *p; p++) {
		if (o + 8 >= size)
			return -E2BIG;
		if (*p == '?')
			o += (size_t)snprintf(out + o, size - o, "$%d", ++n);
		else
			out[o++] = *p;
	}
	out[o] = '\0';
	return n;
}

/* The name of the prepared statement for sql, prepared now if new ("": the unnamed one). */
static int pg_prepare(struct store *s, const char *sql, size_t nv, char name[16])
{
	struct pg_cache *c = s->priv;
	char text[2048];
	PGresult *r;
	int slot = -1;

	for (int i = 0; i < CACHE; i++) {
		if (c->sql[i] && !strcmp(c->sql[i], sql)) {
			snprintf(name, 16, "tg%d", i);
			return 0;
		}
		if (!c->sql[i] && slot < 0)
			slot = i;
	}
	if (pg_number(sql, text, sizeof(text)) != (int)nv) {
		soc_errf("postgresql: \"%.80s\": %zu values for its placeholders", sql, nv);
		return -EINVAL;
	}
	if (slot >= 0)
		snprintf(name, 16, "tg%d", slot);
	else
		name[0] = '\0';
	r = PQprepare(s->db, name, text, (int)nv, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		soc_errf("postgresql: \"%.80s\": %s", sql, PQerrorMessage(s->db));
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	if (slot >= 0 && !(c->sql[slot] = strdup(sql)))
		return -ENOMEM; /* the name is taken: the slot stays unusable */
	return 0;
}

static long pg_run(struct store *s, const char *sql, const struct store_val *v, size_t nv,
		   store_row_fn fn, void *ctx)
{
	const char *params[STORE_PARAMS_MAX], *vals[64];
	char name[16];
	PGresult *r;
	long rows = 0, changed = -1;
	int ret = 0, failed = 0;

	if (nv > STORE_PARAMS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nv; i++)
		params[i] = v[i].s;
	if (pg_prepare(s, sql, nv, name) < 0)
		return -EIO;
	if (!PQsendQueryPrepared(s->db, name, (int)nv, params, NULL, NULL, 0)) {
		soc_errf("postgresql: \"%.80s\": %s", sql, PQerrorMessage(s->db));
		return -EIO;
	}
	PQsetSingleRowMode(s->db);
	while ((r = PQgetResult(s->db)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE && !ret) {
			int n = PQnfields(r);

			rows++;
			if (n > 64)
				n = 64;
			for (int i = 0; fn && i < n; i++)
				vals[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
			if (fn)
				ret = fn(ctx, n, vals);
		} else if (st == PGRES_COMMAND_OK) {
			const char *t = PQcmdTuples(r);

			changed = *t ? strtol(t, NULL, 10) : 0;
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && !failed) {
			soc_errf("postgresql: \"%.80s\": %s", sql, PQresultErrorMessage(r));
			failed = 1;
		}
		PQclear(r);
	}
	if (ret)
		return ret;
	if (failed)
		return -EIO;
	return changed >= 0 ? changed : rows;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.run = pg_run,
};

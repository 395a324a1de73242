/*
 * Inside tg-soc's storage: what a back end (store_sqlite.c, store_pg.c)
 * gives store.c, which writes every statement once. Statements use ?
 * placeholders (the PostgreSQL back end numbers them $1, $2...); values go
 * in and come out as text (SQL NULL is a NULL pointer), which both libraries
 * convert for the column's type.
 */
#ifndef TG_SOC_STORE_PRIV_H
#define TG_SOC_STORE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg-soc/store.h"

#define STORE_PARAMS_MAX 16

/* One bound value: text, or NULL for SQL NULL. */
struct store_val {
	const char *s;
	char buf[24]; /* an integer's digits when s points here */
};

/* A row of a SELECT: ncol values, NULL for SQL NULL. Non-zero stops the statement. */
typedef int (*store_row_fn)(void *ctx, int ncol, const char *const *vals);

struct store_ops {
	const char *name;
	int (*open)(struct store *s, const char *url);
	void (*close)(struct store *s);
	/* Statements with no parameters and no rows (the schema, BEGIN, COMMIT). */
	int (*exec)(struct store *s, const char *sql);
	/*
	 * One statement: rows to fn (may be NULL), then the number of rows it
	 * changed (INSERT, UPDATE, DELETE) or returned, or -EIO after a log line
	 * naming the statement and the database's message; fn's non-zero return
	 * is returned as it is.
	 */
	long (*run)(struct store *s, const char *sql, const struct store_val *v, size_t nv,
		    store_row_fn fn, void *ctx);
};

struct store {
	const struct store_ops *ops;
	void *db;
	void *priv; /* the back end's own (statement cache) */
};

extern const struct store_ops store_sqlite_ops, store_pg_ops;

/* Values: text (NULL: SQL NULL) and integers (written into v->buf). */
struct store_val v_str(const char *s);
void v_int(struct store_val *v, int64_t i);
/* An integer's text must stay in its own slot of the array. */
#define V_INT(arr, idx, i) v_int(&(arr)[idx], (i))
int64_t col_int(const char *s);

/* A statement's WHERE clauses and their values, built from a filter. */
struct where {
	char sql[512];
	struct store_val v[STORE_PARAMS_MAX];
	size_t n;
};
void where_add(struct where *w, const char *clause, const char *text, const int64_t *num);
/* kind, since, until, member; rule and action too when alerts. */
void where_filter(struct where *w, const struct store_filter *f, bool alerts);
void limit_clause(char *sql, size_t size, size_t limit);

/* The schema (docs/tg-soc.md "Schema", which tests/unit/test_soc_store.c compares). */
extern const char store_schema_sql[];

#endif

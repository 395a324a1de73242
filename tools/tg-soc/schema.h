/*
 * tg-soc's record validator: the JSON Schemas of docs/reports.md ("Schemas",
 * one per event.dataset), embedded at build time by tools/tg-soc/mk-schemas
 * (the one source, as tests/report_schema.py reads it), checked here in C.
 *
 * The subset of draft 2020-12 those schemas use: type, const, enum,
 * properties, required, additionalProperties, minimum, maximum, pattern
 * (POSIX extended regular expressions, which the schemas' patterns are),
 * format ipv4/ipv6, items, minItems, maxItems, minProperties, maxProperties,
 * anyOf, allOf, not, if/then/else and $ref to #/$defs/NAME. A keyword it
 * does not know makes schema_load() fail, so a schema cannot say more than
 * tg-soc checks.
 *
 * A refusal names the dataset, the field (its dotted path), the value and
 * what the schema allows: the first failure found.
 */
#ifndef TG_SOC_SCHEMA_H
#define TG_SOC_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

/* The schemas as mk-schemas embeds them; {NULL, NULL} ends the list. */
struct schema_src {
	const char *dataset;
	const char *json;
};
extern const struct schema_src schema_srcs[];

struct schema_set;

struct schema_error {
	char dataset[48];
	char field[128];  /* "tg.summary.totals.bytes", "(record)" */
	char value[128];  /* the value as JSON, cut; "(missing)" */
	char allowed[200];
};

/* srcs: schema_srcs, or a test's. 0, or -EINVAL after a message naming the schema and keyword. */
int schema_load(struct schema_set **out, const struct schema_src *srcs);
void schema_free(struct schema_set *set);

/* 0: rec passes the schema of its event.dataset; -EINVAL with *err filled. */
int schema_check(const struct schema_set *set, const json_t *rec, struct schema_error *err);

/*
 * Where a record came from must be what it says: observer.id the topic's
 * gateway, organization.id its region, event.kind the topic's (summary:
 * metric; alert; asset), tg.seq present. 0 or -EINVAL with *err filled.
 */
int schema_check_origin(const json_t *rec, const char *gateway, const char *region,
			const char *topic_kind, struct schema_error *err);

#endif

/*
 * tg-soc's record validator (schema.h): a JSON Schema evaluator for the
 * keywords docs/reports.md's schemas use, and nothing it cannot check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-soc/schema.h"
#include "tg-soc/util.h"

#define SCHEMAS_MAX 8
#define PATTERNS_MAX 64

struct pattern {
	const char *text; /* borrowed from the schema */
	regex_t re;
};

struct schema {
	const char *dataset;
	json_t *root;
};

struct schema_set {
	struct schema s[SCHEMAS_MAX];
	size_t n;
	struct pattern pat[PATTERNS_MAX];
	size_t npat;
};

/* One check in progress: the schema's root (for $ref), the error to fill, quiet in anyOf/not/if. */
struct eval {
	const struct schema_set *set;
	const json_t *root;
	struct schema_error *err;
	bool quiet;
};

static const char *const known_keywords[] = {
	"$schema", "title", "description", "$defs", "type", "const", "enum", "properties",
	"required", "additionalProperties", "minimum", "maximum", "pattern", "format", "items",
	"minItems", "maxItems", "minProperties", "maxProperties", "anyOf", "allOf", "not", "if",
	"then", "else", "$ref",
};

/* ---------------------------------------------------------------- loading */

static int load_walk(struct schema_set *set, const char *ds, json_t *node, int depth)
{
	const char *key;
	json_t *val;
	size_t i;

	if (depth > 32)
		return -EINVAL;
	if (json_is_array(node)) {
		json_array_foreach(node, i, val) {
			if (load_walk(set, ds, val, depth + 1) < 0)
				return -EINVAL;
		}
		return 0;
	}
	if (!json_is_object(node))
		return 0;
	json_object_foreach(node, key, val) {
		bool known = false;

		for (i = 0; i < sizeof(known_keywords) / sizeof(known_keywords[0]); i++)
			known |= !strcmp(key, known_keywords[i]);
		if (!known) {
			soc_errf("schema %s: keyword \"%s\": not one tg-soc checks", ds, key);
			return -EINVAL;
		}
		if (!strcmp(key, "pattern")) {
			struct pattern *p;
			char msg[128];
			int rc;

			if (!json_is_string(val) || set->npat == PATTERNS_MAX) {
				soc_errf("schema %s: pattern: not a string, or more than %d", ds,
					 PATTERNS_MAX);
				return -EINVAL;
			}
			p = &set->pat[set->npat];
			p->text = json_string_value(val);
			rc = regcomp(&p->re, p->text, REG_EXTENDED | REG_NOSUB);
			if (rc) {
				regerror(rc, &p->re, msg, sizeof(msg));
				soc_errf("schema %s: pattern \"%s\": %s", ds, p->text, msg);
				return -EINVAL;
			}
			set->npat++;
			continue;
		}
		/* the members of properties and $defs are schemas; const and enum are values */
		if (!strcmp(key, "properties") || !strcmp(key, "$defs")) {
			const char *name;
			json_t *sub;

			json_object_foreach(val, name, sub) {
				if (load_walk(set, ds, sub, depth + 1) < 0)
					return -EINVAL;
			}
		} else if (strcmp(key, "const") != 0 && strcmp(key, "enum") != 0 &&
			   strcmp(key, "required") != 0 &&
			   load_walk(set, ds, val, depth + 1) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

int schema_load(struct schema_set **out, const struct schema_src *srcs)
{
	struct schema_set *set = calloc(1, sizeof(*set));
	json_error_t jerr;

	if (!set)
		return -ENOMEM;
	for (const struct schema_src *src = srcs; src->dataset; src++) {
		struct schema *s;

		if (set->n == SCHEMAS_MAX) {
			soc_errf("schema %s: more than %d schemas", src->dataset, SCHEMAS_MAX);
			goto err;
		}
		s = &set->s[set->n];
		s->dataset = src->dataset;
		s->root = json_loads(src->json, 0, &jerr);
		if (!json_is_object(s->root)) {
			soc_errf("schema %s: line %d: %s", src->dataset, jerr.line, jerr.text);
			json_decref(s->root);
			goto err;
		}
		set->n++;
		if (load_walk(set, src->dataset, s->root, 0) < 0)
			goto err;
	}
	*out = set;
	return 0;
err:
	schema_free(set);
	return -EINVAL;
}

void schema_free(struct schema_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		json_decref(set->s[i].root);
	for (size_t i = 0; i < set->npat; i++)
		regfree(&set->pat[i].re);
	free(set);
}

/* ---------------------------------------------------------------- checking */

static int fail(struct eval *e, const char *path, const json_t *v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct eval *e, const char *path, const json_t *v, const char *fmt, ...)
{
	va_list ap;
	char *dump;

	if (e->quiet)
		return -EINVAL;
	snprintf(e->err->field, sizeof(e->err->field), "%s", *path ? path : "(record)");
	dump = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	snprintf(e->err->value, sizeof(e->err->value), "%s", dump ? dump : "(missing)");
	free(dump);
	va_start(ap, fmt);
	vsnprintf(e->err->allowed, sizeof(e->err->allowed), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	return -EINVAL;
}

static void join(char *out, size_t size, const char *path, const char *key)
{
	snprintf(out, size, "%s%s%s", path, *path ? "." : "", key);
}

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static bool type_is(const json_t *v, const char *t)
{
	if (!strcmp(t, "number"))
		return json_is_number(v);
	return !strcmp(type_of(v), t);
}

static const regex_t *pattern_of(const struct schema_set *set, const char *text)
{
	for (size_t i = 0; i < set->npat; i++)
		if (set->pat[i].text == text)
			return &set->pat[i].re;
	return NULL;
}

static int check(struct eval *e, const json_t *sch, const json_t *v, const char *path, int depth);

static int check_quiet(struct eval *e, const json_t *sch, const json_t *v, const char *path,
		       int depth)
{
	bool was = e->quiet;
	int ret;

	e->quiet = true;
	ret = check(e, sch, v, path, depth);
	e->quiet = was;
	return ret;
}

static const json_t *resolve(struct eval *e, const json_t *sch)
{
	const char *ref = json_string_value(json_object_get(sch, "$ref"));

	if (!ref)
		return sch;
	if (strncmp(ref, "#/$defs/", 8) != 0)
		return NULL;
	return json_object_get(json_object_get(e->root, "$defs"), ref + 8);
}

static int check_object(struct eval *e, const json_t *sch, const json_t *v, const char *path,
			int depth)
{
	const json_t *props = json_object_get(sch, "properties");
	const json_t *req = json_object_get(sch, "required");
	const json_t *addl = json_object_get(sch, "additionalProperties");
	const json_t *it, *p;
	const char *key;
	char sub[256];
	size_t i;

	json_array_foreach(req, i, it) {
		key = json_string_value(it);
		if (key && !json_object_get(v, key)) {
			join(sub, sizeof(sub), path, key);
			return fail(e, sub, NULL, "required");
		}
	}
	json_object_foreach((json_t *)v, key, it) {
		join(sub, sizeof(sub), path, key);
		p = json_object_get(props, key);
		if (p) {
			if (check(e, p, it, sub, depth + 1) < 0)
				return -EINVAL;
		} else if (json_is_false(addl)) {
			char known[160] = "";
			const char *k;
			json_t *x;

			json_object_foreach((json_t *)props, k, x) {
				size_t len = strlen(known);

				snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", k);
			}
			return fail(e, sub, it, "no such field (allowed: %s)", known);
		} else if (json_is_object(addl) && check(e, addl, it, sub, depth + 1) < 0) {
			return -EINVAL;
		}
	}
	it = json_object_get(sch, "maxProperties");
	if (json_is_integer(it) && json_object_size(v) > (size_t)json_integer_value(it))
		return fail(e, path, v, "at most %lld fields", (long long)json_integer_value(it));
	it = json_object_get(sch, "minProperties");
	if (json_is_integer(it) && json_object_size(v) < (size_t)json_integer_value(it))
		return fail(e, path, v, "at least %lld fields", (long long)json_integer_value(it));
	return 0;
}

static int check_array(struct eval *e, const json_t *sch, const json_t *v, const char *path,
		       int depth)
{
	const json_t *items = json_object_get(sch, "items"), *it, *n;
	char sub[256];
	size_t i;

	n = json_object_get(sch, "minItems");
	if (json_is_integer(n) && json_array_size(v) < (size_t)json_integer_value(n))
		return fail(e, path, v, "at least %lld items", (long long)json_integer_value(n));
	n = json_object_get(sch, "maxItems");
	if (json_is_integer(n) && json_array_size(v) > (size_t)json_integer_value(n))
		return fail(e, path, v, "at most %lld items", (long long)json_integer_value(n));
	if (!items)
		return 0;
	json_array_foreach(v, i, it) {
		snprintf(sub, sizeof(sub), "%s.%zu", path, i);
		if (check(e, items, it, sub, depth + 1) < 0)
			return -EINVAL;
	}
	return 0;
}

static int check_scalar(struct eval *e, const json_t *sch, const json_t *v, const char *path)
{
	const json_t *k;

	if (json_is_number(v)) {
		double x = json_number_value(v);

		k = json_object_get(sch, "minimum");
		if (json_is_number(k) && x < json_number_value(k))
			return fail(e, path, v, "at least %g", json_number_value(k));
		k = json_object_get(sch, "maximum");
		if (json_is_number(k) && x > json_number_value(k))
			return fail(e, path, v, "at most %g", json_number_value(k));
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *fmt;
		const regex_t *re;
		unsigned char addr[16];

		k = json_object_get(sch, "pattern");
		if (k) {
			re = pattern_of(e->set, json_string_value(k));
			if (!re || strlen(s) != json_string_length(v) ||
			    regexec(re, s, 0, NULL, 0) != 0)
				return fail(e, path, v, "a string matching %s", json_string_value(k));
		}
		fmt = json_string_value(json_object_get(sch, "format"));
		if (fmt && !strcmp(fmt, "ipv4") && inet_pton(AF_INET, s, addr) != 1)
			return fail(e, path, v, "an IPv4 address");
		if (fmt && !strcmp(fmt, "ipv6") && inet_pton(AF_INET6, s, addr) != 1)
			return fail(e, path, v, "an IPv6 address");
	}
	return 0;
}

static int check(struct eval *e, const json_t *sch, const json_t *v, const char *path, int depth)
{
	const json_t *k, *it;
	size_t i;

	if (depth > 48)
		return fail(e, path, v, "nesting at most 48 deep");
	sch = resolve(e, sch);
	if (!json_is_object(sch))
		return fail(e, path, v, "(the schema's $ref does not resolve)");

	k = json_object_get(sch, "type");
	if (json_is_string(k) && !type_is(v, json_string_value(k)))
		return fail(e, path, v, "%s %s, not %s", strchr("aeiou", *json_string_value(k)) ? "an" : "a",
			    json_string_value(k), type_of(v));
	if (json_is_array(k)) {
		bool ok = false;

		json_array_foreach(k, i, it) {
			ok |= json_is_string(it) && type_is(v, json_string_value(it));
		}
		if (!ok)
			return fail(e, path, v, "one of the types of the schema, not a %s", type_of(v));
	}
	k = json_object_get(sch, "const");
	if (k && !json_equal((json_t *)k, (json_t *)v)) {
		char *want = json_dumps(k, JSON_COMPACT | JSON_ENCODE_ANY);
		int ret = fail(e, path, v, "%s", want ? want : "the schema's const");

		free(want);
		return ret;
	}
	k = json_object_get(sch, "enum");
	if (json_is_array(k)) {
		bool ok = false;

		json_array_foreach(k, i, it) {
			ok |= json_equal((json_t *)it, (json_t *)v);
		}
		if (!ok) {
			char *want = json_dumps(k, JSON_COMPACT);
			int ret = fail(e, path, v, "one of %s", want ? want : "the schema's enum");

			free(want);
			return ret;
		}
	}
	if (json_is_object(v) && check_object(e, sch, v, path, depth) < 0)
		return -EINVAL;
	if (json_is_array(v) && check_array(e, sch, v, path, depth) < 0)
		return -EINVAL;
	if (check_scalar(e, sch, v, path) < 0)
		return -EINVAL;

	k = json_object_get(sch, "anyOf");
	if (json_is_array(k)) {
		bool ok = false;

		json_array_foreach(k, i, it) {
			if (!ok && check_quiet(e, it, v, path, depth + 1) == 0)
				ok = true;
		}
		if (!ok) {
			char *want = json_dumps(k, JSON_COMPACT);
			int ret = fail(e, path, v, "any of %s", want ? want : "anyOf");

			free(want);
			return ret;
		}
	}
	k = json_object_get(sch, "allOf");
	json_array_foreach(k, i, it) {
		if (check(e, it, v, path, depth + 1) < 0)
			return -EINVAL;
	}
	k = json_object_get(sch, "not");
	if (k && check_quiet(e, k, v, path, depth + 1) == 0) {
		char *want = json_dumps(k, JSON_COMPACT);
		int ret = fail(e, path, v, "not %s", want ? want : "(the schema's not)");

		free(want);
		return ret;
	}
	k = json_object_get(sch, "if");
	if (k) {
		const json_t *then = json_object_get(sch, "then"), *els = json_object_get(sch, "else");

		if (check_quiet(e, k, v, path, depth + 1) == 0) {
			if (then && check(e, then, v, path, depth + 1) < 0)
				return -EINVAL;
		} else if (els && check(e, els, v, path, depth + 1) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

int schema_check(const struct schema_set *set, const json_t *rec, struct schema_error *err)
{
	struct eval e = { .set = set, .err = err };
	const char *ds = soc_json_str(rec, "event.dataset");
	char known[128] = "";

	memset(err, 0, sizeof(*err));
	for (size_t i = 0; ds && i < set->n; i++) {
		if (strcmp(set->s[i].dataset, ds) != 0)
			continue;
		snprintf(err->dataset, sizeof(err->dataset), "%s", ds);
		e.root = set->s[i].root;
		return check(&e, e.root, rec, "", 0);
	}
	for (size_t i = 0; i < set->n; i++) {
		size_t len = strlen(known);

		snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", set->s[i].dataset);
	}
	snprintf(err->dataset, sizeof(err->dataset), "%s", ds ? ds : "?");
	e.root = NULL;
	if (!json_is_object(rec))
		return fail(&e, "", rec, "a JSON object (a record)");
	return fail(&e, "event.dataset", soc_json_path(rec, "event.dataset"),
		    "a dataset with a schema (%s)", known);
}

int schema_check_origin(const json_t *rec, const char *gateway, const char *region,
			const char *topic_kind, struct schema_error *err)
{
	struct eval e = { .err = err };
	const char *want_kind = !strcmp(topic_kind, "summary") ? "metric" : topic_kind;
	const char *s;

	s = soc_json_str(rec, "observer.id");
	if (!s || strcmp(s, gateway) != 0)
		return fail(&e, "observer.id", soc_json_path(rec, "observer.id"),
			    "\"%s\", the gateway of the topic", gateway);
	s = soc_json_str(rec, "organization.id");
	if (!s || strcmp(s, region) != 0)
		return fail(&e, "organization.id", soc_json_path(rec, "organization.id"),
			    "\"%s\", the region of the topic", region);
	s = soc_json_str(rec, "event.kind");
	if (!s || strcmp(s, want_kind) != 0)
		return fail(&e, "event.kind", soc_json_path(rec, "event.kind"),
			    "\"%s\" on a %s topic", want_kind, topic_kind);
	if (!json_is_integer(soc_json_path(rec, "tg.seq")) || soc_json_int(rec, "tg.seq", 0) < 1)
		return fail(&e, "tg.seq", soc_json_path(rec, "tg.seq"), "an integer >= 1");
	return 0;
}

/*
 * tg-soc indicators: the loop back to the hub. The external destinations
 * that alerts flagged at several members (a first hit of an alert-only or
 * block rule names its indicator; a risk alert names the remote address) in
 * a window become a STIX 2.1 bundle that `tg-hub build stix:FILE` takes as it
 * is (tools/feeds_stix.c): one indicator per destination, pattern
 * [domain-name:value = '...'] or [ipv4-addr:value = '...'] / ipv6-addr,
 * valid_until = now + --valid, the evidence in x_tg_members (how many
 * members), x_tg_alerts, x_tg_gateways and the description.
 *
 * What is blocked region-wide must be seen by a person first: the listing is
 * printed and the file is written only after a "y" on standard input
 * (--review, the default when standard input is a terminal), or with --yes
 * for a pipeline whose owner decided to trust it. Without either and with no
 * terminal, nothing is written (exit 1).
 *
 * Indicator ids are UUIDv5 of the region and value (RFC 4122, SHA-1): the same
 * destination keeps its id from one run to the next, so a newer bundle is a
 * new version of the same STIX objects, not new ones.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/sha1.h>

#include "tg-hub/common.h"
#include "tg-hub/opts.h"
#include "tg-soc/out.h"
#include "tg-soc/util.h"

/* STIX 2.1's namespace for deterministic identifiers (section 2.9). */
static const uint8_t stix_ns[16] = { 0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
				     0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7 };

enum ind_type { IND_DOMAIN, IND_IPV4, IND_IPV6 };
static const char *const ind_path[] = { "domain-name:value", "ipv4-addr:value", "ipv6-addr:value" };

/*
 * Internal addresses are never indicators (docs/reports.md "Interval
 * summaries" lists them; the gateway applies the same list): RFC 1918,
 * 100.64/10, 169.254/16, 127/8, fc00::/7, fe80::/10, ::1.
 */
static const struct {
	int af;
	uint8_t net[16];
	unsigned int bits;
} internal_nets[] = {
	{ AF_INET, { 10 }, 8 },		   { AF_INET, { 172, 16 }, 12 },
	{ AF_INET, { 192, 168 }, 16 },	   { AF_INET, { 100, 64 }, 10 },
	{ AF_INET, { 169, 254 }, 16 },	   { AF_INET, { 127 }, 8 },
	{ AF_INET6, { 0xfc }, 7 },	   { AF_INET6, { 0xfe, 0x80 }, 10 },
	{ AF_INET6, { [15] = 1 }, 128 },
};

static bool addr_internal(int af, const uint8_t *a)
{
	for (size_t i = 0; i < sizeof(internal_nets) / sizeof(internal_nets[0]); i++) {
		unsigned int bits = internal_nets[i].bits, full = bits / 8, rest = bits % 8;

		if (internal_nets[i].af != af || memcmp(a, internal_nets[i].net, full) != 0)
			continue;
		if (!rest || ((a[full] ^ internal_nets[i].net[full]) & (0xff << (8 - rest))) == 0)
			return true;
	}
	return false;
}

/*
 * What kind of external destination v is, into norm (lower-case domain, or
 * the address/prefix as given): 0, or -EINVAL for what is no external
 * destination (an internal address, a JA3 hash, "proto:NAME").
 */
static int classify(const char *v, char *norm, size_t size, enum ind_type *t)
{
	char addr[INET6_ADDRSTRLEN + 8];
	uint8_t b[16];
	const char *slash = strchr(v, '/');
	size_t n = slash ? (size_t)(slash - v) : strlen(v);
	bool dot = false;

	if (!*v || strlen(v) >= size || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, b) == 1 || inet_pton(AF_INET6, addr, b) == 1) {
		int af = strchr(addr, ':') ? AF_INET6 : AF_INET;

		if (addr_internal(af, b))
			return -EINVAL;
		*t = af == AF_INET ? IND_IPV4 : IND_IPV6;
		snprintf(norm, size, "%s", v);
		return 0;
	}
	if (slash || strlen(v) > 253)
		return -EINVAL;
	for (size_t i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return -EINVAL;
		dot |= c == '.';
		norm[i] = (char)tolower(c);
		norm[i + 1] = '\0';
	}
	if (!dot)
		return -EINVAL;
	*t = IND_DOMAIN;
	return 0;
}

struct ind_args {
	const char *db, *from, *since, *valid, *out, *region;
	uint64_t min_members;
	bool review, yes;
};

const struct opt indicators_opts[] = {
	OPT_STR("db", struct ind_args, db, "URL", 0, "the store"),
	OPT_STR("from", struct ind_args, from, "FILE", OPT_ALT, "records as JSON lines instead"),
	OPT_STR("since", struct ind_args, since, "T", 0, "alerts from T (default 24h)"),
	OPT_NUM("min-members", struct ind_args, min_members, 1, 100000, "N", 0,
		"flagged at N members at least (default 2)"),
	OPT_STR("valid", struct ind_args, valid, "D", 0, "valid_until = now + D (default 7d)"),
	OPT_STR("region", struct ind_args, region, "R", 0, "only alerts of region R (organization.id)"),
	OPT_BOOL("review", struct ind_args, review, "list them and ask before writing (the default)"),
	OPT_BOOL("yes", struct ind_args, yes, "write without asking (after review elsewhere)"),
	OPT_STR("out", struct ind_args, out, "FILE", OPT_REQ, "the STIX 2.1 bundle"),
	{ 0 },
};

struct ind_walk {
	const char *region;
	char seen_region[64]; /* the region of the alerts read; "+" when several */
	json_t *seen; /* value -> {type, gateways{}, alerts, first, last, why{}} */
	unsigned long records, skipped;
};

static void note(struct ind_walk *w, const char *value, const char *gw, const char *why,
		 const char *ts)
{
	char norm[256];
	enum ind_type t;
	json_t *e;

	if (classify(value, norm, sizeof(norm), &t) < 0) {
		w->skipped++;
		return;
	}
	e = json_object_get(w->seen, norm);
	if (!e) {
		e = json_pack("{s:i, s:{}, s:i, s:s, s:s, s:{}}", "type", (int)t, "gateways", "alerts",
			      0, "first", ts, "last", ts, "why");
		if (!e || json_object_set_new(w->seen, norm, e) < 0)
			return;
	}
	json_object_set_new(json_object_get(e, "gateways"), gw, json_true());
	json_object_set_new(json_object_get(e, "why"), why, json_true());
	json_object_set_new(e, "alerts", json_integer(json_integer_value(json_object_get(e, "alerts")) + 1));
	/* ISO 8601 UTC with milliseconds: the text order is the time order */
	if (strcmp(ts, json_string_value(json_object_get(e, "first"))) < 0)
		json_object_set_new(e, "first", json_string(ts));
	if (strcmp(ts, json_string_value(json_object_get(e, "last"))) > 0)
		json_object_set_new(e, "last", json_string(ts));
}

static int ind_record(void *ctx, const json_t *rec)
{
	struct ind_walk *w = ctx;
	const char *type = soc_json_str(rec, "tg.alert.type"), *gw = soc_json_str(rec, "observer.id");
	const char *ts = soc_json_str(rec, "@timestamp"), *v;
	char why[96];

	w->records++;
	if (!type || !gw || !ts)
		return 0;
	v = soc_json_str(rec, "organization.id");
	if (w->region && (!v || strcmp(v, w->region) != 0))
		return 0;
	if (v && !w->seen_region[0])
		snprintf(w->seen_region, sizeof(w->seen_region), "%s", v);
	else if (v && strcmp(v, w->seen_region) != 0)
		snprintf(w->seen_region, sizeof(w->seen_region), "+");
	if (!strcmp(type, "first_hit") && (v = soc_json_str(rec, "tg.alert.indicator"))) {
		snprintf(why, sizeof(why), "first_hit rule %s (%s)",
			 soc_json_str(rec, "rule.id") ? soc_json_str(rec, "rule.id") : "?",
			 soc_json_str(rec, "tg.alert.action") ? soc_json_str(rec, "tg.alert.action")
							       : "block");
		note(w, v, gw, why, ts);
	} else if (!strcmp(type, "risk") && (v = soc_json_str(rec, "destination.ip"))) {
		json_t *risks = soc_json_path(rec, "tg.alert.risks");

		snprintf(why, sizeof(why), "risk %s%s",
			 json_string_value(json_array_get(risks, 0)) ? json_string_value(json_array_get(risks, 0))
								     : "?",
			 json_array_size(risks) > 1 ? " and more" : "");
		note(w, v, gw, why, ts);
	}
	return 0;
}

/* RFC 4122 UUIDv5 (SHA-1) of name in STIX's namespace, as 36 characters. */
static void uuid5(const char *name, char out[37])
{
	mbedtls_sha1_context c;
	uint8_t h[20];

	mbedtls_sha1_init(&c);
	mbedtls_sha1_starts_ret(&c);
	mbedtls_sha1_update_ret(&c, stix_ns, sizeof(stix_ns));
	mbedtls_sha1_update_ret(&c, (const uint8_t *)name, strlen(name));
	mbedtls_sha1_finish_ret(&c, h);
	mbedtls_sha1_free(&c);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x50);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
		 h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
		 h[15]);
}

/* The selected values, most members first, then by value. */
struct pick {
	const char *value;
	json_t *e;
	size_t members;
};

static int pick_cmp(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->members != y->members)
		return x->members < y->members ? 1 : -1;
	return strcmp(x->value, y->value);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c" of an object's keys, sorted (jansson keeps insertion order). */
static char *keys_joined(json_t *o)
{
	size_t n = json_object_size(o), i = 0, len = 1, at = 0;
	const char **v;
	char *s;

	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (void *it = json_object_iter(o); it && i < n; it = json_object_iter_next(o, it)) {
		v[i] = json_object_iter_key(it);
		len += strlen(v[i++]) + 2;
	}
	qsort(v, n, sizeof(*v), str_ptr_cmp);
	s = malloc(len);
	for (i = 0; s && i < n; i++)
		at += (size_t)snprintf(s + at, len - at, "%s%s", i ? ", " : "", v[i]);
	if (s && !n)
		s[0] = '\0';
	free(v);
	return s;
}

/* A STIX string literal: ' and \\ escaped (STIX 2.1 patterning, 9.2). */
static void stix_literal(char *out, size_t size, const char *v)
{
	size_t n = 0;

	for (; *v && n + 3 < size; v++) {
		if (*v == '\'' || *v == '\\')
			out[n++] = '\\';
		out[n++] = *v;
	}
	out[n] = '\0';
}

static json_t *stix_indicator(const struct pick *p, const char *region, const char *now,
			      const char *until)
{
	json_t *gws = json_object_get(p->e, "gateways"), *arr = json_array(), *ind;
	enum ind_type t = (enum ind_type)json_integer_value(json_object_get(p->e, "type"));
	char id[64], uuid[37], name[512], pat[600], lit[520], desc[2048], *members, *why;

	snprintf(name, sizeof(name), "tg-soc:%s:%s", region ? region : "", p->value);
	uuid5(name, uuid);
	snprintf(id, sizeof(id), "indicator--%s", uuid);
	stix_literal(lit, sizeof(lit), p->value);
	snprintf(pat, sizeof(pat), "[%s = '%s']", ind_path[t], lit);
	for (void *it = json_object_iter(gws); it; it = json_object_iter_next(gws, it))
		json_array_append_new(arr, json_string(json_object_iter_key(it)));
	members = keys_joined(gws);
	why = keys_joined(json_object_get(p->e, "why"));
	snprintf(name, sizeof(name), "%s flagged at %zu members", p->value, p->members);
	snprintf(desc, sizeof(desc), "Flagged at %zu members of region %s (%s) by %s, %" JSON_INTEGER_FORMAT
		 " alerts between %s and %s (tg-soc indicators)",
		 p->members, region ? region : "-", members ? members : "", why ? why : "",
		 json_integer_value(json_object_get(p->e, "alerts")),
		 json_string_value(json_object_get(p->e, "first")),
		 json_string_value(json_object_get(p->e, "last")));
	ind = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, "
			"s:I, s:I, s:o, s:s}",
			"type", "indicator", "spec_version", "2.1", "id", id, "created", now,
			"modified", now, "name", name, "description", desc,
			"indicator_types", "malicious-activity", "pattern", pat, "pattern_type", "stix",
			"valid_from", now, "valid_until", until, "x_tg_members", (json_int_t)p->members,
			"x_tg_alerts", json_integer_value(json_object_get(p->e, "alerts")),
			"x_tg_gateways", arr, "x_tg_region", region ? region : "");
	free(members);
	free(why);
	return ind;
}

/* The listing a person reviews, on stdout. */
static void ind_list(const struct pick *p, size_t n, uint64_t min, const char *out)
{
	printf("%zu indicator%s flagged at %" PRIu64 " members or more, for %s:\n", n,
	       n == 1 ? "" : "s", min, out);
	if (n)
		printf("  %-40s %-6s %7s %6s  %-24s %s\n", "VALUE", "TYPE", "MEMBERS", "ALERTS",
		       "LAST", "WHY");
	for (size_t i = 0; i < n; i++) {
		static const char *const tn[] = { "domain", "ipv4", "ipv6" };
		char *why = keys_joined(json_object_get(p[i].e, "why"));
		char *gws = keys_joined(json_object_get(p[i].e, "gateways"));

		printf("  %-40s %-6s %7zu %6" JSON_INTEGER_FORMAT "  %-24s %s (%s)\n", p[i].value,
		       tn[json_integer_value(json_object_get(p[i].e, "type"))], p[i].members,
		       json_integer_value(json_object_get(p[i].e, "alerts")),
		       json_string_value(json_object_get(p[i].e, "last")), why ? why : "",
		       gws ? gws : "");
		free(why);
		free(gws);
	}
}

/* A "y" or "yes" on standard input. */
static bool ind_confirm(size_t n, const char *out)
{
	char line[64];

	fprintf(stderr, "write %zu indicator%s to %s? [y/N] ", n, n == 1 ? "" : "s", out);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

int indicators_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct ind_args o = { .min_members = 2 };
	struct ind_walk w = { 0 };
	struct store_filter f = { .kind = "alert" };
	struct soc_source src;
	struct pick *picks = NULL;
	int64_t now = soc_now_ms(), valid;
	char nowbuf[32], untilbuf[32], uuid[37], bid[160];
	size_t n = 0;
	json_t *e, *bundle = NULL, *objs;
	char *text = NULL;
	int first, status, ret;

	status = opts_parse(cmd, &o, argc, argv, &first);
	if (status)
		return status;
	if (first != argc || !o.out)
		return opts_usage(cmd);
	if (o.review && o.yes) {
		soc_errf("--review asks before writing, --yes does not: give one");
		return EXIT_USAGE;
	}
	if (soc_time_arg("--since", o.since ? o.since : "24h", now, &f.since_ms) < 0)
		return EXIT_USAGE;
	if (soc_parse_duration(o.valid ? o.valid : "7d", &valid) < 0 || valid <= 0) {
		soc_errf("--valid \"%s\": not a duration (30d, 24h, 90m)", o.valid);
		return EXIT_USAGE;
	}
	w.region = o.region;
	w.seen = json_object();
	if (!w.seen)
		return EXIT_FAIL;
	src = (struct soc_source){ .db = o.db, .from = o.from };
	ret = soc_source_each(&src, &f, ind_record, &w);
	if (ret < 0) {
		json_decref(w.seen);
		return EXIT_FAIL;
	}
	picks = calloc(json_object_size(w.seen) + 1, sizeof(*picks));
	if (!picks) {
		json_decref(w.seen);
		return EXIT_FAIL;
	}
	for (void *it = json_object_iter(w.seen); it; it = json_object_iter_next(w.seen, it)) {
		size_t m;

		e = json_object_iter_value(it);
		m = json_object_size(json_object_get(e, "gateways"));
		if (m >= o.min_members)
			picks[n++] = (struct pick){ .value = json_object_iter_key(it), .e = e, .members = m };
	}
	qsort(picks, n, sizeof(*picks), pick_cmp);
	ind_list(picks, n, o.min_members, o.out);
	fprintf(stderr, "tg-soc: indicators: %lu alerts read, %zu destinations, %zu at %" PRIu64
			" members or more; %lu not external destinations (internal addresses, "
			"hashes, protocols)\n",
		w.records, json_object_size(w.seen), n, o.min_members, w.skipped);
	status = EXIT_FAIL;
	if (!o.yes && !o.review && !isatty(STDIN_FILENO)) {
		soc_errf("indicators: %s not written: a person reviews the list first (--review "
			 "asks on standard input; --yes writes without asking)",
			 o.out);
		goto out;
	}
	if (!o.yes && !ind_confirm(n, o.out)) {
		soc_errf("indicators: %s not written (not confirmed)", o.out);
		goto out;
	}
	soc_time_str(now, nowbuf, sizeof(nowbuf));
	soc_time_str(now + valid, untilbuf, sizeof(untilbuf));
	if (!o.region && w.seen_region[0])
		o.region = w.seen_region;
	snprintf(bid, sizeof(bid), "tg-soc:bundle:%s:%s", o.region ? o.region : "", nowbuf);
	uuid5(bid, uuid);
	snprintf(bid, sizeof(bid), "bundle--%s", uuid);
	objs = json_array();
	bundle = json_pack("{s:s, s:s, s:o}", "type", "bundle", "id", bid, "objects", objs);
	if (!bundle)
		goto out;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(objs, stix_indicator(&picks[i], o.region, nowbuf, untilbuf));
	text = json_dumps(bundle, JSON_INDENT(2));
	if (!text || hub_write_atomic(o.out, text, strlen(text), 0644) < 0)
		goto out;
	printf("wrote %s: %zu indicator%s, valid until %s\n", o.out, n, n == 1 ? "" : "s", untilbuf);
	status = EXIT_OK;
out:
	free(text);
	json_decref(bundle);
	free(picks);
	json_decref(w.seen);
	return status;
}

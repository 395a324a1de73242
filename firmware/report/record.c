/*
 * The envelope of every record (record.h). event.id is 32 hex digits: 16
 * of SHA-256 over the region and the gateway's id (the same in every record
 * of one gateway), then tg.seq's 16, set with it by the sink. Unique per
 * record of a region as (observer.id, tg.seq) is, which the SOC
 * deduplicates by, and cheap on the wire: within a message only the last
 * digits differ (128 random bits were 16 bytes no compressor could take off
 * each record, a quarter of an asset record).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

#include "core/common.h"
#include "report/record.h"

static const char *const kind_names[] = {
	[REPORT_SUMMARY] = "metric",
	[REPORT_ALERT] = "alert",
	[REPORT_ASSET] = "asset",
};
static const char *const datasets[] = {
	[REPORT_SUMMARY] = "townguard.summary",
	[REPORT_ALERT] = "townguard.alert",
	[REPORT_ASSET] = "townguard.asset",
};

const char *record_kind_name(enum report_kind kind)
{
	return (size_t)kind < ARRAY_SIZE(kind_names) ? kind_names[kind] : "?";
}

const char *record_dataset(enum report_kind kind)
{
	return (size_t)kind < ARRAY_SIZE(datasets) ? datasets[kind] : "?";
}

void record_observer_init(struct record_observer *o, const struct tg_config *cfg)
{
	char text[2 * CONFIG_NAME_MAX + 32];
	uint8_t sha[32];
	int n;

	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", cfg->gateway.id);
	snprintf(o->name, sizeof(o->name), "%s", cfg->gateway.id);
	snprintf(o->region, sizeof(o->region), "%s", cfg->gateway.region);
	o->version = CONFIG_VERSION;
	o->tlp = config_tlp_name(cfg->report.tlp);
	n = snprintf(text, sizeof(text), "townguard event.id|%s|%s", o->region, o->id);
	mbedtls_sha256_ret((const unsigned char *)text, (size_t)n, sha, 0);
	hex_encode(sha, 8, o->id_prefix);
}

/* v as `digits` decimal digits at p. */
static void put_digits(char *p, unsigned int v, int digits)
{
	while (digits-- > 0) {
		p[digits] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Every record has two to six of these: the digits are put by hand, as
 * strftime() and snprintf() did them at ten times the cost.
 */
void record_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (ms < 0)
		s = 0, ms = 0;
	gmtime_r(&s, &tm);
	if (tm.tm_year + 1900 > 9999) {
		n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(out + n, 32 - n, ".%03uZ", (unsigned int)(ms % 1000));
		return;
	}
	memcpy(out, "0000-00-00T00:00:00.000Z", 25);
	put_digits(out, (unsigned int)(tm.tm_year + 1900), 4);
	put_digits(out + 5, (unsigned int)tm.tm_mon + 1, 2);
	put_digits(out + 8, (unsigned int)tm.tm_mday, 2);
	put_digits(out + 11, (unsigned int)tm.tm_hour, 2);
	put_digits(out + 14, (unsigned int)tm.tm_min, 2);
	put_digits(out + 17, (unsigned int)tm.tm_sec, 2);
	put_digits(out + 20, (unsigned int)(ms % 1000), 3);
}

json_t *record_new(struct record_observer *o, enum report_kind kind, int64_t ms)
{
	char ts[32], id[33];

	record_time(ms, ts);
	/* tg.seq's digits come with it (record_set_seq) */
	snprintf(id, sizeof(id), "%.16s%016x", o->id_prefix, 0u);
	return json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s}, s:{s:s}, s:{s:b}}",
			 "@timestamp", ts,
			 "ecs", "version", RECORD_ECS_VERSION,
			 "event", "kind", record_kind_name(kind), "dataset", record_dataset(kind), "id", id,
			 "observer", "id", o->id, "name", o->name, "version", o->version,
			 "organization", "id", o->region,
			 "labels", "tlp", o->tlp,
			 "tg", "replayed", 0);
}

static json_t *record_tg(json_t *rec)
{
	json_t *tg;

	if (!json_is_object(rec))
		return NULL;
	tg = json_object_get(rec, "tg");
	if (!tg) {
		tg = json_object();
		if (json_object_set_new(rec, "tg", tg) < 0)
			return NULL;
	}
	return json_is_object(tg) ? tg : NULL;
}

int record_set_seq(json_t *rec, uint64_t seq)
{
	json_t *tg = record_tg(rec), *ev = json_object_get(rec, "event");
	const char *id = json_string_value(json_object_get(ev, "id"));

	if (!tg || json_object_set_new(tg, "seq", json_integer((json_int_t)seq)) < 0)
		return -EINVAL;
	/* event.id: the gateway's 16 digits (record_new's), then the number's */
	if (id && strlen(id) == 32) {
		char text[33];

		snprintf(text, sizeof(text), "%.16s%016" PRIx64, id, seq);
		if (json_object_set_new(ev, "id", json_string(text)) < 0)
			return -EINVAL;
	}
	return 0;
}

int record_set_replayed(json_t *rec, bool replayed)
{
	json_t *tg = record_tg(rec);

	if (!tg || json_object_set_new(tg, "replayed", json_boolean(replayed)) < 0)
		return -EINVAL;
	return 0;
}

uint64_t record_seq(const json_t *rec)
{
	json_t *seq = json_object_get(json_object_get(rec, "tg"), "seq");

	return json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0;
}

/* ------------------------------------------------------------ the text */

/*
 * jansson's json_dumps() costs some 100,000 instructions a record (a
 * callback per token, a hash table of the containers it is in to find
 * loops, printf for numbers): more than making the record. Records are
 * trees of objects, arrays, strings, integers and booleans, made here;
 * this writes them the way jansson does (compact, keys in the order they
 * were set, strings escaped as dump.c does: \" \\ \b \f \n \r \t, other
 * control characters as \u00XX, UTF-8 as it is) into one buffer.
 */
struct rec_text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_put(struct rec_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n >= t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *p;

		while (t->len + n >= cap)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void text_string(struct rec_text *t, const char *s, size_t len)
{
	const char *run = s, *end = s + len;

	text_put(t, "\"", 1);
	for (; s < end; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		text_put(t, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': text_put(t, "\\\"", 2); break;
		case '\\': text_put(t, "\\\\", 2); break;
		case '\b': text_put(t, "\\b", 2); break;
		case '\f': text_put(t, "\\f", 2); break;
		case '\n': text_put(t, "\\n", 2); break;
		case '\r': text_put(t, "\\r", 2); break;
		case '\t': text_put(t, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			text_put(t, esc, 6);
			break;
		}
	}
	text_put(t, run, (size_t)(end - run));
	text_put(t, "\"", 1);
}

static void text_integer(struct rec_text *t, json_int_t v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	text_put(t, p, (size_t)(d + sizeof(d) - p));
}

static void text_value(struct rec_text *t, const json_t *v)
{
	const char *key;
	json_t *x;
	char *other;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		text_put(t, "{", 1);
		i = 0;
		json_object_foreach((json_t *)v, key, x) {
			if (i++)
				text_put(t, ",", 1);
			text_string(t, key, strlen(key));
			text_put(t, ":", 1);
			text_value(t, x);
		}
		text_put(t, "}", 1);
		break;
	case JSON_ARRAY:
		text_put(t, "[", 1);
		json_array_foreach(v, i, x) {
			if (i)
				text_put(t, ",", 1);
			text_value(t, x);
		}
		text_put(t, "]", 1);
		break;
	case JSON_STRING:
		text_string(t, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		text_integer(t, json_integer_value(v));
		break;
	case JSON_TRUE:
		text_put(t, "true", 4);
		break;
	case JSON_FALSE:
		text_put(t, "false", 5);
		break;
	case JSON_NULL:
		text_put(t, "null", 4);
		break;
	default:
		/* a real, which no record holds: jansson's own digits */
		other = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!other)
			t->failed = true;
		else
			text_put(t, other, strlen(other));
		free(other);
		break;
	}
}

char *record_dumps(const json_t *rec, size_t *len)
{
	struct rec_text t = { 0 };

	text_value(&t, rec);
	text_put(&t, "", 1);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len - 1;
	return t.p;
}

static int print_put(void *ctx, enum report_kind kind, json_t *rec)
{
	struct record_print_sink *ps = ctx;
	FILE *out = ps->out;
	char *line = NULL;
	size_t n = 0;

	(void)kind;
	if (ps->error || record_set_seq(rec, ++ps->seq) < 0 || !(line = record_dumps(rec, &n)) ||
	    fwrite(line, 1, n, out) != n || fputc('\n', out) == EOF)
		ps->error = -EIO;
	free(line);
	json_decref(rec);
	return ps->error;
}

void record_print_sink_init(struct report_sink *sink, struct record_print_sink *ps, void *file)
{
	memset(ps, 0, sizeof(*ps));
	ps->out = file;
	sink->put = print_put;
	sink->ctx = ps;
}

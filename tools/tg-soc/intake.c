/* tg-soc's intake of one message (intake.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/batch.h"
#include "tg-soc/intake.h"
#include "tg-soc/schema.h"
#include "tg-soc/store.h"
#include "tg-soc/util.h"

#define ID_MAX 64

struct topic {
	char region[ID_MAX], gateway[ID_MAX], kind[16];
};

/* tg/v1/<region>/gw/<id>/<kind>: 0, or -EINVAL. */
static int topic_parse(const char *topic, struct topic *t)
{
	const char *p = topic, *slash;
	char *fields[3] = { t->region, t->gateway, t->kind };
	size_t sizes[3] = { sizeof(t->region), sizeof(t->gateway), sizeof(t->kind) };

	if (strncmp(p, "tg/v1/", 6) != 0)
		return -EINVAL;
	p += 6;
	for (int i = 0; i < 3; i++) {
		size_t n;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!n || n >= sizes[i])
			return -EINVAL;
		memcpy(fields[i], p, n);
		fields[i][n] = '\0';
		if (i == 0) {
			if (!slash || strncmp(slash, "/gw/", 4) != 0)
				return -EINVAL;
			p = slash + 4;
		} else {
			if (i == 2 && slash)
				return -EINVAL;
			if (i == 1 && !slash)
				return -EINVAL;
			p = slash ? slash + 1 : p + n;
		}
	}
	if (strcmp(t->kind, "summary") != 0 && strcmp(t->kind, "alert") != 0 &&
	    strcmp(t->kind, "asset") != 0 && strcmp(t->kind, "state") != 0)
		return -EINVAL;
	return 0;
}

static void refuse(struct intake *in, const char *topic, const char *gateway, long idx,
		   const struct schema_error *e, int64_t now_ms)
{
	struct store_refusal r = {
		.received_ms = now_ms,
		.topic = topic,
		.gateway = gateway,
		.index = idx,
		.dataset = e->dataset[0] ? e->dataset : NULL,
		.field = e->field,
		.value = e->value,
		.allowed = e->allowed,
	};

	in->st.refused++;
	if (!in->quiet) {
		if (idx >= 0)
			soc_logf("warning", "%s: record %ld: %s: refused: %s = %s: allowed %s", topic,
				 idx, e->dataset[0] ? e->dataset : "?", e->field, e->value, e->allowed);
		else
			soc_logf("warning", "%s: message refused: %s = %s: allowed %s", topic,
				 e->field, e->value, e->allowed);
	}
	if (in->store)
		(void)store_put_refusal(in->store, &r);
}

static void refuse_msg(struct intake *in, const char *topic, const char *gateway,
		       const char *field, const char *value, const char *allowed, int64_t now_ms)
{
	struct schema_error e = { 0 };

	snprintf(e.field, sizeof(e.field), "%s", field);
	snprintf(e.value, sizeof(e.value), "%s", value);
	snprintf(e.allowed, sizeof(e.allowed), "%s", allowed);
	in->st.bad_messages++;
	refuse(in, topic, gateway, -1, &e, now_ms);
}

static int intake_state(struct intake *in, const char *topic, const struct topic *t,
			const void *payload, size_t len, int64_t now_ms)
{
	json_t *state;
	json_error_t jerr;
	int ret;

	if (!len)
		return 0; /* a retained state cleared */
	state = json_loadb(payload, len, 0, &jerr);
	if (!json_is_object(state) || !json_is_boolean(json_object_get(state, "online"))) {
		char where[64];

		snprintf(where, sizeof(where), "line %d column %d", jerr.line, jerr.column);
		refuse_msg(in, topic, t->gateway, "(state)", state ? "a JSON value" : where,
			   "a JSON object with online true or false (docs/protocol.md \"state\")",
			   now_ms);
		json_decref(state);
		return 0;
	}
	ret = in->store ? store_put_state(in->store, t->region, t->gateway, state, now_ms) : 0;
	json_decref(state);
	if (ret < 0)
		return -EIO;
	in->st.states++;
	return 0;
}

/* Each line of text: checked, then stored. */
static int intake_lines(struct intake *in, const char *topic, const struct topic *t, char *text,
			int64_t now_ms, json_t *stored)
{
	char *line = text, *nl;
	long idx = 0;
	uint64_t ins = 0, dup = 0, bad = 0;

	for (; *line; line = nl ? nl + 1 : line + strlen(line), idx++) {
		struct schema_error e;
		json_error_t jerr;
		json_t *rec;
		int ret;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!*line) {
			if (!nl)
				break;
			idx--;
			continue;
		}
		in->st.records++;
		rec = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (!rec) {
			memset(&e, 0, sizeof(e));
			snprintf(e.field, sizeof(e.field), "(record)");
			snprintf(e.value, sizeof(e.value), "%.60s", line);
			snprintf(e.allowed, sizeof(e.allowed), "one JSON object per line (column %d: %s)",
				 jerr.column, jerr.text);
			refuse(in, topic, t->gateway, idx, &e, now_ms);
			bad++;
			continue;
		}
		if (schema_check(in->schemas, rec, &e) < 0 ||
		    schema_check_origin(rec, t->gateway, t->region, t->kind, &e) < 0) {
			if (!e.dataset[0])
				snprintf(e.dataset, sizeof(e.dataset), "%s",
					 soc_json_str(rec, "event.dataset") ?: "?");
			refuse(in, topic, t->gateway, idx, &e, now_ms);
			json_decref(rec);
			bad++;
			continue;
		}
		ret = in->store ? store_put(in->store, rec, t->gateway,
					    (uint64_t)soc_json_int(rec, "tg.seq", 0), now_ms)
				: STORE_INSERTED;
		if (ret < 0) {
			json_decref(rec);
			return -EIO;
		}
		if (ret == STORE_DUPLICATE) {
			dup++;
			json_decref(rec);
			continue;
		}
		ins++;
		/* kept for the live export, after the commit */
		if (json_array_append_new(stored, rec) < 0)
			return -ENOMEM;
	}
	in->st.inserted += ins;
	in->st.duplicates += dup;
	if (!in->quiet)
		soc_logf("info", "%s: %ld records: %" PRIu64 " stored, %" PRIu64 " duplicates, %" PRIu64
			 " refused", topic, idx, ins, dup, bad);
	return 0;
}

int intake_message(struct intake *in, const char *topic, const void *payload, size_t len,
		   int64_t now_ms)
{
	json_t *stored, *rec;
	size_t i;
	struct topic t;
	char *text;
	size_t tlen;
	int ret;

	if (topic_parse(topic, &t) < 0 || (strcmp(in->region, "+") != 0 && strcmp(t.region, in->region) != 0)) {
		refuse_msg(in, topic, NULL, "(topic)", topic,
			   "tg/v1/<region>/gw/<id>/summary|alert|asset|state of this region", now_ms);
		return 0;
	}
	if (!strcmp(t.kind, "state"))
		return intake_state(in, topic, &t, payload, len, now_ms);
	in->st.messages++;
	text = batch_decode(payload, len, &tlen);
	if (!text) {
		char v[32];

		snprintf(v, sizeof(v), "%zu bytes", len);
		refuse_msg(in, topic, t.gateway, "(message)", v,
			   "one zstd frame with its content size, at most 64 MiB of JSON lines", now_ms);
		return 0;
	}
	if (strlen(text) != tlen) {
		refuse_msg(in, topic, t.gateway, "(message)", "a NUL byte",
			   "UTF-8 JSON lines", now_ms);
		free(text);
		return 0;
	}
	stored = json_array();
	if (!stored || (in->store && store_begin(in->store) < 0)) {
		json_decref(stored);
		free(text);
		return -EIO;
	}
	ret = intake_lines(in, topic, &t, text, now_ms, stored);
	free(text);
	if (ret == 0 && in->store && store_commit(in->store) < 0)
		ret = -EIO;
	if (ret < 0 && in->store)
		(void)store_rollback(in->store);
	json_array_foreach(stored, i, rec) {
		if (ret == 0 && in->export_record)
			in->export_record(in->exporter, rec);
	}
	json_decref(stored);
	return ret;
}

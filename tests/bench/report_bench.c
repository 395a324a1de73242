/*
 * Report bytes on the wire (docs/benchmarks.md, part 9): JSON lines as
 * `townguard replay --reports` (or `--flows`, the anchor) writes them,
 * batched the way the gateway sends them, compressed by the firmware's own
 * encoder (batch_encode in firmware/report/batch.c: one zstd frame of JSON
 * lines per MQTT message), with the framing around each message estimated.
 *
 *   report-bench reports|flows FILE INTERVAL_S TOPIC_PREFIX [HOLD]
 *
 * Records are grouped by interval (a summary or asset by the interval it
 * closes, a flow record by its last_ms) and kind, and alerts by the moment
 * they are made (they never wait: a message per moment, see rb_classify);
 * summaries and assets by HOLD intervals from the first summary's (default
 * 1; [report] batch_intervals: the gateway holds them until the oldest has
 * waited that many, then sends them together, batch.h),
 * and each group goes out as messages of at most BATCH_RECORDS_MAX records
 * and uplink_report_max() bytes (the gateway's largest report payload),
 * filled in order; a record too large alone is cut with batch_cut, as the
 * spool's drain does. Framing per message, stated rather than measured:
 *
 *   MQTT   PUBLISH QoS 1: 1 + remaining-length varint + 2 + topic + 2 (packet
 *          id), and the broker's 4-byte PUBACK
 *   TLS    21 bytes per record (TLS 1.2 ChaCha20-Poly1305, which the broker
 *          tg-hub provisions takes first and report_live checks the uplink
 *          negotiates: 5 header, 16 tag; AES-GCM would add an 8-byte explicit
 *          nonce), one record for the PUBLISH and one for the PUBACK
 *   TCP/IP 40 bytes per segment (IPv4 and TCP without options, as lwIP sends
 *          with its defaults): the PUBLISH's segments (MSS 1460), the PUBACK's,
 *          and one pure ACK
 *
 * Output (KEY=VALUE, for tests/bench/run):
 *   slot N kind NAME span=K records= json= messages= zstd= mqtt= tls= tcpip= cut=
 *   kind NAME records= json= messages= zstd= mqtt= tls= tcpip= cut=
 *   total records= json= messages= zstd= mqtt= tls= tcpip= cut=
 * (slot: K intervals' (HOLD for summaries and assets), N the first's start
 * / INTERVAL_S since the epoch; for alerts, N is the ms they were made at)
 * json: the lines as read (with their newlines); zstd: the message payloads;
 * mqtt, tls and tcpip: what each layer adds; cut: entries batch_cut took
 * out to fit; whole: each interval's records of the kind as one zstd frame,
 * uncut (what the wire would carry with no message size limit). Exit 1 on
 * bad input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub/uplink.h"
#include "report/batch.h"

#define RB_KINDS 4
#define RB_MSS 1460
#define RB_TLS_RECORD 21
#define RB_TCPIP 40
/* An interval's records in one frame, for the uncut figure. */
#define RB_WHOLE_MAX (64u << 20)

struct rb_rec {
	json_t *rec;
	size_t len;    /* the line's bytes with its newline */
	int kind;
	int64_t slot;  /* interval index */
	size_t idx;    /* line number: the order within an interval */
};

struct rb_sum {
	uint64_t records, json, messages, zstd, mqtt, tls, tcpip, cut;
	uint64_t whole; /* each interval's records as one zstd frame, uncut, with no size limit */
};

static const char *const kind_leaf[RB_KINDS] = { "summary", "alert", "asset", "flow" };

/* "2026-01-01T00:01:00.000Z" in ms since the epoch; -1 if it is not that shape. */
static int64_t rb_time_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	if (!rest || (*rest == '.' && sscanf(rest, ".%3d", &ms) != 1))
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static int rb_classify(struct rb_rec *r, bool flows, int64_t iv_ms, const char *file, size_t line)
{
	const char *kind;
	int64_t t;

	if (flows) {
		json_t *v = json_object_get(r->rec, "last_ms");

		if (!json_is_integer(v)) {
			fprintf(stderr, "report-bench: %s:%zu: a flow record without last_ms\n", file, line);
			return -EINVAL;
		}
		r->kind = 3;
		r->slot = json_integer_value(v) / iv_ms;
		return 0;
	}
	kind = json_string_value(json_object_get(json_object_get(r->rec, "event"), "kind"));
	t = rb_time_ms(json_string_value(json_object_get(r->rec, "@timestamp")));
	if (!kind || t < 0) {
		fprintf(stderr, "report-bench: %s:%zu: no event.kind or @timestamp\n", file, line);
		return -EINVAL;
	}
	if (!strcmp(kind, "metric")) {
		r->kind = 0;
		t -= 1; /* a summary's @timestamp is its interval's end */
	} else if (!strcmp(kind, "alert")) {
		const char *action = json_string_value(json_object_get(json_object_get(r->rec, "event"), "action"));

		r->kind = 1;
		/*
		 * Alerts go as they are made: one message each, but those made at
		 * one moment together. A risk alert is made at its interval's end
		 * (folded per server), the others at their @timestamp.
		 */
		if (action && !strcmp(action, "risk"))
			t = t / iv_ms * iv_ms + iv_ms - 1;
		r->slot = t;
		return 0;
	} else if (!strcmp(kind, "asset")) {
		r->kind = 2;
		t -= 1; /* asset records are made at their interval's end, stamped with it */
	} else {
		fprintf(stderr, "report-bench: %s:%zu: event.kind `%s' (want metric, alert or asset)\n",
			file, line, kind);
		return -EINVAL;
	}
	r->slot = t / iv_ms;
	return 0;
}

static int rb_cmp(const void *a, const void *b)
{
	const struct rb_rec *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static size_t varint_len(size_t n)
{
	return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/* One message of payload bytes on topic: what it costs beyond the payload. */
static void rb_frame(struct rb_sum *s, size_t payload, size_t topic)
{
	size_t rl = 2 + topic + 2 + payload, publish = 1 + varint_len(rl) + rl;
	size_t tls = publish + RB_TLS_RECORD;

	s->messages++;
	s->zstd += payload;
	s->mqtt += publish - payload + 4;
	s->tls += 2 * RB_TLS_RECORD;
	s->tcpip += RB_TCPIP * ((tls + RB_MSS - 1) / RB_MSS + 2);
}

static int rb_send(struct rb_sum *s, json_t **recs, size_t n, uint8_t *out, size_t cap, size_t topic)
{
	long len;

	while (n) {
		size_t k = 1;

		len = batch_encode(recs, 1, out, cap);
		if (len == -EMSGSIZE) {
			long cut = batch_cut(recs[0], cap);

			if (cut < 0)
				return (int)cut;
			s->cut += (uint64_t)cut;
			len = batch_encode(recs, 1, out, cap);
		}
		if (len < 0)
			return (int)len;
		/* As many more as still fit, in order. */
		while (k < n && k < BATCH_RECORDS_MAX) {
			long l2 = batch_encode(recs, k + 1, out, cap);

			if (l2 == -EMSGSIZE)
				break;
			if (l2 < 0)
				return (int)l2;
			len = l2;
			k++;
		}
		rb_frame(s, (size_t)len, topic);
		recs += k;
		n -= k;
	}
	return 0;
}

static void rb_add(struct rb_sum *to, const struct rb_sum *s)
{
	to->records += s->records;
	to->json += s->json;
	to->messages += s->messages;
	to->zstd += s->zstd;
	to->mqtt += s->mqtt;
	to->tls += s->tls;
	to->tcpip += s->tcpip;
	to->cut += s->cut;
	to->whole += s->whole;
}

static void rb_print(const char *what, const struct rb_sum *s)
{
	printf("%s records=%" PRIu64 " json=%" PRIu64 " messages=%" PRIu64 " zstd=%" PRIu64
	       " mqtt=%" PRIu64 " tls=%" PRIu64 " tcpip=%" PRIu64 " cut=%" PRIu64 " whole=%" PRIu64 "\n",
	       what, s->records, s->json, s->messages, s->zstd, s->mqtt, s->tls, s->tcpip, s->cut,
	       s->whole);
}

int main(int argc, char **argv)
{
	struct rb_rec *r = NULL;
	size_t n = 0, cap = 0, lineno = 0, max = uplink_report_max();
	struct rb_sum sum[RB_KINDS] = { 0 }, total = { 0 };
	char *line = NULL;
	size_t lcap = 0;
	ssize_t got;
	uint8_t *out = malloc(max), *whole = malloc(RB_WHOLE_MAX);
	json_t **batch = NULL;
	bool flows;
	long iv, hold = 1;
	int64_t first = INT64_MAX;
	FILE *f;

	if (argc < 5 || argc > 6 || (strcmp(argv[1], "reports") && strcmp(argv[1], "flows")) ||
	    (iv = strtol(argv[3], NULL, 10)) <= 0 || (argc == 6 && (hold = strtol(argv[5], NULL, 10)) <= 0)) {
		fprintf(stderr, "usage: report-bench reports|flows FILE INTERVAL_S TOPIC_PREFIX [HOLD]\n");
		return 2;
	}
	flows = !strcmp(argv[1], "flows");
	f = fopen(argv[2], "r");
	if (!f || !out || !whole) {
		fprintf(stderr, "report-bench: cannot read %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	while ((got = getline(&line, &lcap, f)) > 0) {
		json_error_t e;

		lineno++;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			r = realloc(r, cap * sizeof(*r));
			if (!r)
				return 1;
		}
		r[n].rec = json_loads(line, 0, &e);
		if (!r[n].rec) {
			fprintf(stderr, "report-bench: %s:%zu: not JSON: %s\n", argv[2], lineno, e.text);
			return 1;
		}
		r[n].len = (size_t)got;
		r[n].idx = lineno;
		if (rb_classify(&r[n], flows, iv * 1000, argv[2], lineno) < 0)
			return 1;
		n++;
	}
	fclose(f);
	free(line);
	/* Held kinds: HOLD intervals a message, counted from the first summary's. */
	for (size_t i = 0; i < n; i++)
		if (r[i].kind == 0 && r[i].slot < first)
			first = r[i].slot;
	for (size_t i = 0; i < n && hold > 1; i++)
		if ((r[i].kind == 0 || r[i].kind == 2) && r[i].slot >= first)
			r[i].slot = first + (r[i].slot - first) / hold * hold;
	qsort(r, n, sizeof(*r), rb_cmp);
	batch = calloc(n ? n : 1, sizeof(*batch));
	if (!batch)
		return 1;
	/* Each kind's records of one interval, in the order they were written. */
	for (int k = 0; k < RB_KINDS; k++) {
		size_t topic = strlen(argv[4]) + 1 + strlen(kind_leaf[k]);

		for (size_t i = 0; i < n;) {
			struct rb_sum one = { 0 };
			size_t m = 0, j;

			for (j = i; j < n && r[j].slot == r[i].slot; j++)
				if (r[j].kind == k) {
					batch[m++] = r[j].rec;
					one.records++;
					one.json += r[j].len;
				}
			if (m) {
				long w = batch_encode(batch, m, whole, RB_WHOLE_MAX);
				char what[64];

				if (w < 0 || rb_send(&one, batch, m, out, max, topic) < 0) {
					fprintf(stderr, "report-bench: batch_encode failed\n");
					return 1;
				}
				one.whole = (uint64_t)w;
				snprintf(what, sizeof(what), "slot %" PRId64 " kind %s span=%ld", r[i].slot,
					 kind_leaf[k], k == 0 || k == 2 ? hold : 1);
				rb_print(what, &one);
				rb_add(&sum[k], &one);
			}
			i = j;
		}
		if (!sum[k].records)
			continue;
		{
			char what[32];

			snprintf(what, sizeof(what), "kind %s", kind_leaf[k]);
			rb_print(what, &sum[k]);
		}
		rb_add(&total, &sum[k]);
	}
	rb_print("total", &total);
	printf("max_msg=%zu\n", max);
	for (size_t i = 0; i < n; i++)
		json_decref(r[i].rec);
	free(r);
	free(batch);
	free(out);
	free(whole);
	return 0;
}

/*
 * soc-bench: tg-soc's store (tools/tg-soc/store.h) under load, for `make
 * bench` part 10 (tests/bench/run, docs/benchmarks.md).
 *
 *   soc-bench URL GATEWAYS DAYS INTERVAL_MIN ALERTS_PER_DAY BATCH RAW_FILE
 *
 * Stores DAYS of synthetic records of GATEWAYS gateways ending now into the
 * store at URL (empty): each gateway's interval summaries every
 * INTERVAL_MIN minutes (the shape the firmware writes: 8 applications, 10
 * hosts and 10 destinations in the top lists, blocks, the health block) and
 * ALERTS_PER_DAY first-hit alerts, BATCH records per transaction in time
 * order, as collect stores a message's records. Every record is also
 * written as a JSON line to RAW_FILE: the anchor, the same records stored
 * raw. Then times the queries: members, and alerts --since 24h (the
 * median of 5 runs each). Prints one line:
 *
 *   soc backend=B records=N ingest_s=S rec_per_s=R members_ms=M members_rows=G
 *       alerts24_ms=A alerts24_rows=K raw_bytes=J
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tg-soc/store.h"
#include "tg-soc/util.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static json_t *named(const char *name, int64_t bytes)
{
	return json_pack("{ss sI sI sI}", "name", name, "bytes", (json_int_t)bytes, "packets",
			 (json_int_t)(bytes / 700 + 1), "flows", (json_int_t)(bytes / 50000 + 1));
}

static json_t *envelope(const char *gw, uint64_t seq, int64_t ts, const char *kind,
			const char *dataset)
{
	char t[32], id[33];

	soc_time_str(ts, t, sizeof(t));
	snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, (uint64_t)ts, seq);
	return json_pack("{ss s{ss} s{ss ss ss} s{ss ss ss} s{ss} s{ss} s{sI sb}}", "@timestamp", t,
			 "ecs", "version", "8.11.0", "event", "kind", kind, "dataset", dataset, "id", id,
			 "observer", "id", gw, "name", gw, "version", "0.4.0", "organization", "id",
			 "north", "labels", "tlp", "amber", "tg", "seq", (json_int_t)seq, "replayed", 0);
}

static const char *const apps[] = { "TLS", "DNS", "HTTP", "QUIC", "Google", "Microsoft", "NTP",
				    "WhatsApp" };

static json_t *summary(const char *gw, uint64_t seq, int64_t ts, int interval_s)
{
	json_t *r = envelope(gw, seq, ts, "metric", "townguard.summary");
	json_t *a = json_array(), *hosts = json_array(), *dests = json_array(), *blocks = json_array();
	char t0[32], t1[32], name[64];
	int64_t total = 0;

	for (size_t i = 0; i < 8; i++) {
		int64_t b = (int64_t)rnd(2000000) >> i;

		total += b;
		json_array_append_new(a, named(apps[i], b));
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "ip-%020x", rnd(1u << 30) + (unsigned)i);
		json_array_append_new(hosts, json_pack("{ss sI si si}", "id", name, "bytes",
						       (json_int_t)(total >> (i + 1)), "packets", 10, "flows", 2));
		snprintf(name, sizeof(name), "site%u.example.%s", rnd(5000), i % 2 ? "org" : "com");
		json_array_append_new(dests, json_pack("{ss sI si si}", "domain", name, "bytes",
						       (json_int_t)(total >> (i + 1)), "packets", 10, "flows", 2));
	}
	if (rnd(4) == 0)
		json_array_append_new(blocks, json_pack("{s{ss} s{sI} ss sI}", "rule", "id", "101",
							"bundle", "serial", 42, "action", "block",
							"count", (json_int_t)rnd(5) + 1));
	soc_time_str(ts - interval_s * 1000LL, t0, sizeof(t0));
	soc_time_str(ts, t1, sizeof(t1));
	json_object_update(json_object_get(r, "event"),
			   json_pack("{ss ss sI}", "start", t0, "end", t1, "duration",
				     (json_int_t)interval_s * 1000000000LL));
	json_object_set_new(r, "network", json_pack("{sI sI}", "bytes", (json_int_t)total, "packets",
						    (json_int_t)(total / 700)));
	json_object_set_new(json_object_get(r, "tg"), "summary",
			    json_pack("{si s{sI sI si si} so s[o] s{so s{si si si si}} s{so s{si si si si}} so si s[] "
				      "s{s[{ss sb si si si si si}] si so si si si s{si si si} s{si}}}",
				      "interval_s", interval_s, "totals", "bytes", (json_int_t)total,
				      "packets", (json_int_t)(total / 700), "flows", 40, "hosts", 25,
				      "applications", a, "categories", named("Web", total), "hosts",
				      "top", hosts, "other", "count", 15, "bytes", 1000, "packets", 10,
				      "flows", 3, "destinations", "top", dests, "other", "count", 30,
				      "bytes", 5000, "packets", 40, "flows", 9, "blocks", blocks,
				      "blocks_other", 0, "risks", "health", "ports", "name", "lan", "up", 1,
				      "received", 90000, "sent", 89000, "kernel_drops", 0,
				      "interface_drops", 0, "send_errors", 0, "frames", 180000,
				      "not_tracked", json_object(), "flows_active", 60, "evictions", 0,
				      "dpi_given_up", 0, "spool", "records", 0, "bytes", 0, "dropped", 0,
				      "bundle", "serial", 42));
	return r;
}

static json_t *alert(const char *gw, uint64_t seq, int64_t ts)
{
	json_t *r = envelope(gw, seq, ts, "alert", "townguard.alert");
	char ind[64];

	snprintf(ind, sizeof(ind), "bad%u.example", rnd(200));
	json_object_update(json_object_get(r, "event"),
			   json_pack("{ss s[s] s[ss]}", "action", "first_hit", "category", "network",
				     "type", "denied", "indicator"));
	json_object_set_new(r, "rule", json_pack("{ss}", "id", "101"));
	json_object_set_new(r, "source", json_pack("{ss si}", "address", "ip-0123456789abcdef0123",
						   "port", 40000 + (int)rnd(20000)));
	json_object_set_new(r, "destination", json_pack("{ss si}", "ip", "192.0.2.7", "port", 443));
	json_object_set_new(r, "network", json_pack("{ss}", "transport", "tcp"));
	json_object_set_new(json_object_get(r, "tg"), "alert",
			    json_pack("{ss si ss ss ss s{si}}", "type", "first_hit", "suppressed", 0,
				      "action", "block", "stage", "sni", "indicator", ind, "bundle",
				      "serial", 42));
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct store *s;
	FILE *raw;
	int gws, days, interval_min, alerts_day, batch;
	int64_t end, start, step, alert_step;
	uint64_t *seq;
	long n = 0, in_tx = 0, raw_bytes = 0;
	double t0, ingest, ms[5];
	double members_ms, alerts_ms;
	size_t members_rows = 0, alerts_rows = 0;

	if (argc != 8) {
		fprintf(stderr, "usage: soc-bench URL GATEWAYS DAYS INTERVAL_MIN ALERTS_PER_DAY BATCH RAW_FILE\n");
		return 2;
	}
	gws = atoi(argv[2]);
	days = atoi(argv[3]);
	interval_min = atoi(argv[4]);
	alerts_day = atoi(argv[5]);
	batch = atoi(argv[6]);
	if (gws < 1 || days < 1 || interval_min < 1 || alerts_day < 1 || batch < 1)
		return 2;
	if (store_open(&s, argv[1]) < 0)
		return 1;
	raw = fopen(argv[7], "w");
	seq = calloc((size_t)gws, sizeof(*seq));
	if (!raw || !seq)
		return 1;
	end = soc_now_ms() / 60000 * 60000;
	start = end - (int64_t)days * 86400000;
	step = (int64_t)interval_min * 60000;
	alert_step = 86400000 / alerts_day;

	t0 = now_s();
	for (int64_t t = start + step; t <= end; t += step) {
		for (int g = 0; g < gws; g++) {
			char gw[32];
			int nrec = 1 + (int)((t - start) / alert_step - (t - step - start) / alert_step);

			snprintf(gw, sizeof(gw), "gw-%03d", g);
			for (int k = 0; k < nrec; k++) {
				json_t *r = k == 0 ? summary(gw, ++seq[g], t, interval_min * 60)
						   : alert(gw, ++seq[g], t - 1000 * k);
				char *line = json_dumps(r, JSON_COMPACT);

				if (!in_tx && store_begin(s) < 0)
					return 1;
				if (store_put(s, r, gw, seq[g], t) != STORE_INSERTED)
					return 1;
				raw_bytes += (long)strlen(line) + 1;
				fputs(line, raw);
				fputc('\n', raw);
				free(line);
				json_decref(r);
				n++;
				if (++in_tx == batch) {
					if (store_commit(s) < 0)
						return 1;
					in_tx = 0;
				}
			}
		}
	}
	if (in_tx && store_commit(s) < 0)
		return 1;
	ingest = now_s() - t0;
	fclose(raw);

	for (int i = 0; i < 5; i++) {
		struct store_members_query q = { .now_ms = end, .stale_ms = 600000, .hub_serial = 42 };
		json_t *rows;

		t0 = now_s();
		if (store_query_members(s, &q, &rows) < 0)
			return 1;
		ms[i] = (now_s() - t0) * 1000;
		members_rows = json_array_size(rows);
		json_decref(rows);
	}
	qsort(ms, 5, sizeof(ms[0]), cmp_double);
	members_ms = ms[2];
	for (int i = 0; i < 5; i++) {
		struct store_filter f = { .since_ms = end - 86400000 };
		json_t *rows;

		t0 = now_s();
		if (store_query_alerts(s, &f, &rows) < 0)
			return 1;
		ms[i] = (now_s() - t0) * 1000;
		alerts_rows = json_array_size(rows);
		json_decref(rows);
	}
	qsort(ms, 5, sizeof(ms[0]), cmp_double);
	alerts_ms = ms[2];
	printf("soc backend=%s records=%ld ingest_s=%.2f rec_per_s=%.0f members_ms=%.1f members_rows=%zu "
	       "alerts24_ms=%.1f alerts24_rows=%zu raw_bytes=%ld\n",
	       store_backend(s), n, ingest, (double)n / ingest, members_ms, members_rows, alerts_ms,
	       alerts_rows, raw_bytes);
	store_close(s);
	free(seq);
	return 0;
}

/*
 * soc-bench: tg-soc's store (tools/tg-soc/store.h) under load, for `make
 * bench` part 10 (tests/bench/run, docs/benchmarks.md).
 *
 *   soc-bench URL GATEWAYS DAYS INTERVAL_MIN ALERTS_PER_DAY BATCH FLOWS_PER_MIN FLOWS_FILE
 *
 * Stores DAYS of synthetic records of GATEWAYS gateways ending now into the
 * store at URL (empty): for each gateway a 60 s summary every INTERVAL_MIN
 * minutes (a sample of the summaries a gateway sends every minute, in the
 * shape the firmware writes: 8 applications, 10 hosts and 10 destinations in
 * the top lists, blocks, the health block), counting FLOWS_PER_MIN flows, and
 * ALERTS_PER_DAY first-hit alerts, BATCH records per transaction in time
 * order, as collect stores a message's records. Then times the queries:
 * members, and alerts --since 24h (the median of 5 runs each).
 *
 * The anchor is the same traffic as per-flow JSON lines stored raw (what a
 * SOC collecting Suricata's EVE flow or Zeek's conn.log would keep): for
 * every summary of gw-000, one line per flow it counts, in the shape of
 * `townguard replay --flows` (docs/replay.md: the same keys in the same
 * order), each flow of one of the summary's applications (their flows and
 * bytes add up to the application's), to one of its destinations, blocked
 * when the summary counts a block, written to FLOWS_FILE. One gateway's:
 * every gateway's records are drawn alike, and all of them as flows would be
 * GATEWAYS times as many bytes (tens of GB). Prints one line:
 *
 *   soc backend=B records=N ingest_s=S rec_per_s=R members_ms=M members_rows=G
 *       alerts24_ms=A alerts24_rows=K json_bytes=J flow_gateway=gw-000
 *       flow_records=F flow_lines=L flow_bytes=Y
 *
 * json_bytes: all the stored records as JSON lines; flow_records: gw-000's
 * records, flow_lines and flow_bytes: the anchor's lines and bytes for them.
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

static json_t *named(const char *name, int64_t bytes, int64_t flows)
{
	return json_pack("{ss sI sI sI}", "name", name, "bytes", (json_int_t)bytes, "packets",
			 (json_int_t)(bytes / 700 + 1), "flows", (json_int_t)flows);
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

#define APPS 8
#define TOP 10
/* A summary's interval: the default (docs/reports.md), so its flows are a minute's. */
#define INTERVAL_S 60

/* How an application's flows look in replay --flows: nDPI's name, transport, port. */
static const struct {
	const char *name, *proto, *l4;
	int port;
	bool tls, named;
} apps[APPS] = {
	{ "TLS", "TLS", "TCP", 443, true, true },
	{ "DNS", "DNS", "UDP", 53, false, true },
	{ "HTTP", "HTTP", "TCP", 80, false, true },
	{ "QUIC", "QUIC.Google", "UDP", 443, false, true },
	{ "Google", "TLS.Google", "TCP", 443, true, true },
	{ "Microsoft", "TLS.Microsoft", "TCP", 443, true, true },
	{ "NTP", "NTP", "UDP", 123, false, false },
	{ "WhatsApp", "TLS.WhatsApp", "TCP", 443, true, true },
};

/* What one summary counts: the flow lines of the anchor are drawn from it. */
struct parts {
	int64_t app_bytes[APPS], total;
	int64_t app_flows[APPS], flows;
	char dest[TOP][48];
	int blocked; /* flows blocked by rule 101 */
};

/* flows >= APPS: each application has at least one, the rest by its share of the bytes. */
static void parts_make(struct parts *p, int64_t flows)
{
	int64_t given = 0;

	p->total = 0;
	for (int i = 0; i < APPS; i++) {
		p->app_bytes[i] = ((int64_t)rnd(2000000) >> i) + 1000;
		p->total += p->app_bytes[i];
	}
	for (int i = 0; i < APPS; i++) {
		p->app_flows[i] = 1 + (flows - APPS) * p->app_bytes[i] / p->total;
		given += p->app_flows[i];
	}
	p->app_flows[0] += flows - given;
	p->flows = flows;
	for (int i = 0; i < TOP; i++)
		snprintf(p->dest[i], sizeof(p->dest[i]), "site%u.example.%s", rnd(5000),
			 i % 2 ? "org" : "com");
	p->blocked = rnd(4) == 0 ? (int)rnd(5) + 1 : 0;
}

static json_t *summary(const char *gw, uint64_t seq, int64_t ts, const struct parts *p)
{
	json_t *r = envelope(gw, seq, ts, "metric", "townguard.summary");
	json_t *a = json_array(), *hosts = json_array(), *dests = json_array(), *blocks = json_array();
	char t0[32], t1[32], name[64];
	int64_t total = p->total;

	for (size_t i = 0; i < APPS; i++)
		json_array_append_new(a, named(apps[i].name, p->app_bytes[i], p->app_flows[i]));
	for (int i = 0; i < TOP; i++) {
		snprintf(name, sizeof(name), "ip-%020x", rnd(1u << 30) + (unsigned)i);
		json_array_append_new(hosts, json_pack("{ss sI si si}", "id", name, "bytes",
						       (json_int_t)(total >> (i + 1)), "packets", 10, "flows", 2));
		json_array_append_new(dests, json_pack("{ss sI si si}", "domain", p->dest[i], "bytes",
						       (json_int_t)(total >> (i + 1)), "packets", 10, "flows", 2));
	}
	if (p->blocked)
		json_array_append_new(blocks, json_pack("{s{ss} s{sI} ss sI}", "rule", "id", "101",
							"bundle", "serial", 42, "action", "block",
							"count", (json_int_t)p->blocked));
	soc_time_str(ts - INTERVAL_S * 1000LL, t0, sizeof(t0));
	soc_time_str(ts, t1, sizeof(t1));
	json_object_update(json_object_get(r, "event"),
			   json_pack("{ss ss sI}", "start", t0, "end", t1, "duration",
				     (json_int_t)INTERVAL_S * 1000000000LL));
	json_object_set_new(r, "network", json_pack("{sI sI}", "bytes", (json_int_t)total, "packets",
						    (json_int_t)(total / 700)));
	json_object_set_new(json_object_get(r, "tg"), "summary",
			    json_pack("{si s{sI sI sI si} so s[o] s{so s{si si si si}} s{so s{si si si si}} so si s[] "
				      "s{s[{ss sb si si si si si}] si so si si si s{si si si} s{si}}}",
				      "interval_s", INTERVAL_S, "totals", "bytes", (json_int_t)total,
				      "packets", (json_int_t)(total / 700), "flows", (json_int_t)p->flows,
				      "hosts", 25, "applications", a, "categories",
				      named("Web", total, p->flows), "hosts",
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

static void hex32(char out[33])
{
	for (int i = 0; i < 32; i++)
		out[i] = "0123456789abcdef"[rnd(16)];
	out[32] = '\0';
}

/*
 * The flows summary p counts, one replay --flows line each, to out: their
 * bytes and flows add up to each application's. Returns the bytes written,
 * or -1.
 */
static long flow_lines(FILE *out, const struct parts *p, int64_t ts, long *lines)
{
	int blocked = p->blocked;
	long bytes = 0;

	for (int i = 0; i < APPS; i++) {
		int64_t left = p->app_bytes[i];

		for (int64_t k = 0; k < p->app_flows[i]; k++) {
			int64_t b = k + 1 == p->app_flows[i] ? left : p->app_bytes[i] / p->app_flows[i];
			int64_t pk = b / 700 + 2, first = ts - INTERVAL_S * 1000LL + rnd(INTERVAL_S * 1000);
			char src[16], dst[16], ja3c[33], ja3s[33];
			const char *host = apps[i].named ? p->dest[rnd(TOP)] : NULL;
			json_t *o;
			char *line;

			left -= b;
			snprintf(src, sizeof(src), "192.168.10.%u", rnd(200) + 1);
			snprintf(dst, sizeof(dst), "%u.%u.%u.%u", rnd(200) + 20, rnd(256), rnd(256),
				 rnd(254) + 1);
			hex32(ja3c);
			hex32(ja3s);
			o = json_pack("{ss si ss si ss si si sI sI sI sI sI sI ss ss s[] sb ss}", "src", src,
				      "sport", 32768 + (int)rnd(28000), "dst", dst, "dport", apps[i].port,
				      "l4", apps[i].l4, "vlan", 0, "ip", 4, "packets", (json_int_t)pk,
				      "bytes", (json_int_t)b, "c2s_packets", (json_int_t)(pk / 2),
				      "s2c_packets", (json_int_t)(pk - pk / 2), "first_ms", (json_int_t)first,
				      "last_ms", (json_int_t)(first + rnd(30000)), "proto", apps[i].proto,
				      "category", "Web", "risks", "guessed", 0, "end", "idle");
			if (!o)
				return -1;
			json_object_set_new(o, "host", host ? json_string(host) : json_null());
			json_object_set_new(o, "ja3c", apps[i].tls ? json_string(ja3c) : json_null());
			json_object_set_new(o, "ja3s", apps[i].tls ? json_string(ja3s) : json_null());
			json_object_set_new(o, "tls", apps[i].tls ? json_string("TLSv1.3") : json_null());
			json_object_set_new(o, "verdict",
					    blocked > 0 && apps[i].tls
						    ? json_pack("{ss si ss ss}", "action", "block", "rule", 101,
								"indicator", host, "stage", "sni")
						    : json_null());
			if (blocked > 0 && apps[i].tls)
				blocked--;
			line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(o);
			if (!line || fputs(line, out) < 0 || fputc('\n', out) < 0) {
				free(line);
				return -1;
			}
			bytes += (long)strlen(line) + 1;
			(*lines)++;
			free(line);
		}
	}
	return bytes;
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
	json_object_set_new(r, "source", json_pack("{ss si}", "address", "ip-0123456789ab",
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
	FILE *flows_out;
	int gws, days, interval_min, alerts_day, batch;
	int64_t end, start, step, alert_step, flows_min;
	uint64_t *seq;
	long n = 0, in_tx = 0, json_bytes = 0, flow_records = 0, flow_lines_n = 0, flow_bytes = 0;
	double t0, ingest, flow_s = 0, ms[5];
	double members_ms, alerts_ms;
	size_t members_rows = 0, alerts_rows = 0;

	if (argc != 9) {
		fprintf(stderr, "usage: soc-bench URL GATEWAYS DAYS INTERVAL_MIN ALERTS_PER_DAY BATCH "
				"FLOWS_PER_MIN FLOWS_FILE\n");
		return 2;
	}
	gws = atoi(argv[2]);
	days = atoi(argv[3]);
	interval_min = atoi(argv[4]);
	alerts_day = atoi(argv[5]);
	batch = atoi(argv[6]);
	flows_min = atoll(argv[7]);
	if (gws < 1 || days < 1 || interval_min < 1 || alerts_day < 1 || batch < 1 ||
	    flows_min < APPS) {
		fprintf(stderr, "soc-bench: GATEWAYS, DAYS, INTERVAL_MIN, ALERTS_PER_DAY, BATCH at "
				"least 1, FLOWS_PER_MIN at least %d\n", APPS);
		return 2;
	}
	if (store_open(&s, argv[1]) < 0)
		return 1;
	flows_out = fopen(argv[8], "w");
	seq = calloc((size_t)gws, sizeof(*seq));
	if (!flows_out || !seq)
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
				struct parts p;
				json_t *r;
				char *line;

				if (k == 0) {
					parts_make(&p, flows_min);
					r = summary(gw, ++seq[g], t, &p);
				} else {
					r = alert(gw, ++seq[g], t - 1000 * k);
				}
				line = json_dumps(r, JSON_COMPACT);
				if (!in_tx && store_begin(s) < 0)
					return 1;
				if (!line || store_put(s, r, gw, seq[g], t) != STORE_INSERTED)
					return 1;
				json_bytes += (long)strlen(line) + 1;
				free(line);
				json_decref(r);
				n++;
				if (g == 0) {
					/* the anchor's lines: not part of the ingest time */
					double f0 = now_s();
					long b = k == 0 ? flow_lines(flows_out, &p, t, &flow_lines_n) : 0;

					if (b < 0)
						return 1;
					flow_bytes += b;
					flow_records++;
					flow_s += now_s() - f0;
				}
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
	ingest = now_s() - t0 - flow_s;
	if (fclose(flows_out) != 0)
		return 1;

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
	       "alerts24_ms=%.1f alerts24_rows=%zu json_bytes=%ld flow_gateway=gw-000 flow_records=%ld "
	       "flow_lines=%ld flow_bytes=%ld\n",
	       store_backend(s), n, ingest, (double)n / ingest, members_ms, members_rows, alerts_ms,
	       alerts_rows, json_bytes, flow_records, flow_lines_n, flow_bytes);
	store_close(s);
	free(seq);
	return 0;
}

/*
 * Interval summaries (firmware/report/summary.c) against a naive reference:
 * every shared capture (../shared/pcaps) run through the real pipeline, its
 * ended flows kept and added up the obvious way, and the records compared:
 * totals, per application, the top-N hosts in order, the other bucket, and
 * in every record the parts adding up to the totals. Then the rules a
 * capture cannot pin: ties, the other bucket's count, a flow that lives
 * across intervals counted once per interval and never twice, blocks by
 * rule and serial, the envelope and tg.seq.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "core/config.h"
#include "core/log.h"
#include "core/port.h"
#include "packet/dpi.h"
#include "packet/pipeline.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/summary.h"
#include "fixtures.h"

static const uint8_t key[PRIVACY_KEY_LEN] = { 7 };

/* ---------------------------------------------------------------- a sink that keeps records */

struct keep {
	json_t *recs;
	uint64_t seq;
};

static int keep_put(void *ctx, enum report_kind kind, json_t *rec)
{
	struct keep *k = ctx;

	assert_int_equal(kind, REPORT_SUMMARY);
	assert_int_equal(record_set_seq(rec, ++k->seq), 0);
	json_array_append_new(k->recs, rec);
	return 0;
}

/* ---------------------------------------------------------------- the naive reference */

struct ref_flow {
	char app[64];
	char host[INET6_ADDRSTRLEN];
	uint64_t bytes, packets;
};

struct run {
	struct pipeline pl;
	struct summary *sum;
	struct privacy priv;
	struct record_observer obs;
	struct report_sink sink;
	struct keep keep;
	struct ref_flow *flows;
	size_t n, cap;
};

/* Written apart from summary.c on purpose: the ranges as the RFCs list them. */
static int ref_internal(const uint8_t *b, int v)
{
	static const uint8_t zero[15];

	if (v == 4) {
		uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

		return (a >> 24) == 10 || (a >> 24) == 127 || (a >> 20) == (172u << 4 | 1) ||
		       (a >> 16) == (192u << 8 | 168) || (a >> 16) == (169u << 8 | 254) ||
		       (a >> 22) == (100u << 2 | 1);
	}
	return (b[0] >> 1) == (0xfc >> 1) || (b[0] == 0xfe && (b[1] >> 6) == 2) ||
	       (memcmp(b, zero, 15) == 0 && b[15] == 1);
}

static void ref_end(struct pipeline *pl, struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct run *r = ctx;
	struct ref_flow *rf;
	const uint8_t *src = flow_src(f)->b, *dst = flow_dst(f)->b, *local;
	int v = f->key.ip_version;
	struct flow_dpi_result res = { .app = f->dpi_result.app ? f->dpi_result.app : f->dpi_result.master };

	(void)why;
	summary_flow_end(r->sum, f);
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->flows = realloc(r->flows, r->cap * sizeof(*r->flows));
		assert_non_null(r->flows);
	}
	rf = &r->flows[r->n++];
	local = ref_internal(src, v) || !ref_internal(dst, v) ? src : dst;
	inet_ntop(v == 4 ? AF_INET : AF_INET6, local, rf->host, sizeof(rf->host));
	dpi_proto_name(pl->dpi, &res, rf->app, sizeof(rf->app));
	rf->bytes = f->bytes[0] + f->bytes[1];
	rf->packets = (uint64_t)f->packets[0] + f->packets[1];
}

static void run_frame(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct run *r = ctx;

	assert_true(summary_tick(r->sum, fr->ts_us / 1000, NULL, &r->sink) >= 0);
	pipeline_frame(&r->pl, port->link, fr->data, fr->caplen, fr->wirelen, fr->ts_us / 1000, NULL);
}

static void run_start(struct run *r, uint32_t interval_s, uint32_t top_n)
{
	struct tg_config cfg;
	struct summary_config sc;

	memset(r, 0, sizeof(*r));
	config_defaults(&cfg);
	cfg.report.internal_addresses = TG_PRIV_RAW; /* the reference compares addresses */
	assert_int_equal(privacy_init(&r->priv, &cfg, key), 0);
	record_observer_init(&r->obs, &cfg);
	assert_int_equal(pipeline_init(&r->pl, &cfg, 0, ref_end, r), 0);
	sc = (struct summary_config){ .interval_ms = interval_s * 1000, .top_n = top_n,
				      .privacy = &r->priv, .observer = &r->obs };
	r->sum = summary_new(&sc, &r->pl);
	assert_non_null(r->sum);
	r->keep.recs = json_array();
	r->sink = (struct report_sink){ .put = keep_put, .ctx = &r->keep };
}

/* Replay path; 0, or -1 when it cannot be opened. */
static int run_capture(struct run *r, const char *path)
{
	struct port_config pc = { .name = path };
	struct port port;
	int n;

	if (port_open(&port, "pcap-file", &pc) < 0)
		return -1;
	while ((n = port_rx_burst(&port, run_frame, r, 256)) > 0)
		;
	port_close(&port);
	flow_end_all(r->pl.flows);
	assert_true(summary_flush(r->sum, r->pl.now_ms, NULL, &r->sink) >= 0);
	return 0;
}

static void run_free(struct run *r)
{
	summary_free(r->sum);
	pipeline_uninit(&r->pl);
	privacy_uninit(&r->priv);
	json_decref(r->keep.recs);
	free(r->flows);
}

/* ---------------------------------------------------------------- reading records */

static uint64_t num(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("no integer \"%s\" in %s", k, json_dumps(o, JSON_COMPACT));
	return (uint64_t)json_integer_value(v);
}

static json_t *summ(const json_t *rec)
{
	json_t *s = json_object_get(json_object_get(rec, "tg"), "summary");

	assert_non_null(s);
	return s;
}

/* The entries of arr (and `other` when given) add up to totals, field by field. */
static void assert_adds_up(const json_t *arr, const json_t *other, const json_t *totals,
			   const char *what)
{
	/* the parts carry bytes and flows; packets only the totals (docs/reports.md) */
	static const char *const fields[] = { "bytes", "flows" };

	if (other && json_object_get(other, "packets"))
		fail_msg("%s: `other` has packets", what);
	for (size_t f = 0; f < 2; f++) {
		uint64_t sum = other ? num(other, fields[f]) : 0;
		size_t i;
		json_t *e;

		json_array_foreach(arr, i, e) {
			if (json_object_get(e, "packets"))
				fail_msg("%s: an entry has packets: %s", what, json_dumps(e, JSON_COMPACT));
			sum += num(e, fields[f]);
		}
		if (sum != num(totals, fields[f]))
			fail_msg("%s: %s add up to %llu, the total is %llu", what, fields[f],
				 (unsigned long long)sum, (unsigned long long)num(totals, fields[f]));
	}
}

static void assert_record_adds_up(const json_t *rec)
{
	json_t *s = summ(rec), *tot = json_object_get(s, "totals");
	json_t *hosts = json_object_get(s, "hosts"), *dests = json_object_get(s, "destinations");

	assert_adds_up(json_object_get(s, "applications"), NULL, tot, "applications");
	assert_adds_up(json_object_get(s, "categories"), NULL, tot, "categories");
	assert_adds_up(json_object_get(hosts, "top"), json_object_get(hosts, "other"), tot, "hosts");
	assert_adds_up(json_object_get(dests, "top"), json_object_get(dests, "other"), tot,
		       "destinations");
	assert_int_equal(num(json_object_get(rec, "network"), "bytes"), num(tot, "bytes"));
	/* At most N named, and the hosts named plus the other bucket's are the active hosts. */
	assert_true(json_array_size(json_object_get(hosts, "top")) <= 10);
	assert_int_equal(json_array_size(json_object_get(hosts, "top")) +
				 num(json_object_get(hosts, "other"), "count"),
			 num(tot, "hosts"));
}

/* ---------------------------------------------------------------- against the captures */

static const char *pcap_dir(void)
{
	static char dir[4096];
	const char *shared = getenv("SHARED");

	snprintf(dir, sizeof(dir), "%s/pcaps", shared ? shared : "../shared");
	return dir;
}

static int ref_host_cmp(const void *a, const void *b)
{
	const struct ref_flow *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	/* Ties by address, numerically (the summary's rule): compare as bytes. */
	{
		uint8_t ax[16] = { 0 }, ay[16] = { 0 };
		int vx = strchr(x->host, ':') ? 6 : 4, vy = strchr(y->host, ':') ? 6 : 4;

		if (vx != vy)
			return vx - vy;
		inet_pton(vx == 4 ? AF_INET : AF_INET6, x->host, ax);
		inet_pton(vy == 4 ? AF_INET : AF_INET6, y->host, ay);
		return memcmp(ax, ay, 16);
	}
}

/* Per key (app or host) sums of the reference flows: a small linear table, the naive way. */
static size_t ref_group(const struct run *r, bool by_host, struct ref_flow **out)
{
	struct ref_flow *g = calloc(r->n + 1, sizeof(*g));
	size_t n = 0;

	assert_non_null(g);
	for (size_t i = 0; i < r->n; i++) {
		const char *k = by_host ? r->flows[i].host : r->flows[i].app;
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(by_host ? g[j].host : g[j].app, k) == 0)
				break;
		if (j == n) {
			if (by_host)
				memcpy(g[n].host, k, sizeof(g[n].host));
			else
				memcpy(g[n].app, k, sizeof(g[n].app));
			n++;
		}
		g[j].bytes += r->flows[i].bytes;
		g[j].packets += r->flows[i].packets;
	}
	*out = g;
	return n;
}

static void check_one_capture(const char *path)
{
	struct run one, many;
	struct ref_flow *hosts, *apps;
	uint64_t bytes = 0, packets = 0, sum_bytes = 0, sum_packets = 0, sum_flows = 0;
	size_t nh, na, i;
	json_t *rec, *s, *top;

	/* One interval (a day) holds the whole capture: the records are the reference's. */
	run_start(&one, 86400, 10);
	assert_int_equal(run_capture(&one, path), 0);
	for (i = 0; i < one.n; i++)
		bytes += one.flows[i].bytes, packets += one.flows[i].packets;
	json_array_foreach(one.keep.recs, i, rec) {
		assert_record_adds_up(rec);
		s = json_object_get(summ(rec), "totals");
		sum_bytes += num(s, "bytes");
		sum_packets += num(s, "packets");
		sum_flows += num(s, "flows");
	}
	assert_int_equal(sum_bytes, bytes);
	assert_int_equal(sum_packets, packets);
	if (json_array_size(one.keep.recs) == 1) {
		rec = json_array_get(one.keep.recs, 0);
		assert_int_equal(sum_flows, one.n);
		nh = ref_group(&one, true, &hosts);
		qsort(hosts, nh, sizeof(*hosts), ref_host_cmp);
		top = json_object_get(json_object_get(summ(rec), "hosts"), "top");
		assert_int_equal(json_array_size(top), nh < 10 ? nh : 10);
		for (i = 0; i < json_array_size(top); i++) {
			json_t *e = json_array_get(top, i);

			if (strcmp(json_string_value(json_object_get(e, "ip")), hosts[i].host) != 0 ||
			    num(e, "bytes") != hosts[i].bytes)
				fail_msg("%s: host %zu is %s (%llu bytes), the reference's %s (%llu)", path,
					 i, json_string_value(json_object_get(e, "ip")),
					 (unsigned long long)num(e, "bytes"), hosts[i].host,
					 (unsigned long long)hosts[i].bytes);
		}
		assert_int_equal(num(json_object_get(json_object_get(summ(rec), "hosts"), "other"),
				     "count"),
				 nh > 10 ? nh - 10 : 0);
		free(hosts);
	}

	/* One-second intervals: the same bytes per application, spread over many records. */
	run_start(&many, 1, 10);
	assert_int_equal(run_capture(&many, path), 0);
	na = ref_group(&many, false, &apps);
	for (size_t a = 0; a < na; a++) {
		uint64_t got = 0;

		json_array_foreach(many.keep.recs, i, rec) {
			size_t j;
			json_t *e;

			json_array_foreach(json_object_get(summ(rec), "applications"), j, e)
				if (strcmp(json_string_value(json_object_get(e, "name")), apps[a].app) == 0)
					got += num(e, "bytes");
		}
		if (got != apps[a].bytes)
			fail_msg("%s: %s has %llu bytes in the summaries, %llu in the flows", path,
				 apps[a].app, (unsigned long long)got, (unsigned long long)apps[a].bytes);
	}
	json_array_foreach(many.keep.recs, i, rec) {
		assert_record_adds_up(rec);
		assert_int_equal(record_seq(rec), i + 1);
	}
	free(apps);
	run_free(&one);
	run_free(&many);
}

static void test_every_shared_capture_adds_up_like_the_naive_reference(void **state)
{
	const char *dir = pcap_dir();
	struct dirent **names;
	char path[8192];
	int n, done = 0;

	(void)state;
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		print_message("SKIP: no shared captures at %s (set SHARED to the folder holding pcaps/)\n",
			      dir);
		skip();
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		if ((len > 5 && strcmp(name + len - 5, ".pcap") == 0) ||
		    (len > 7 && strcmp(name + len - 7, ".pcapng") == 0)) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			check_one_capture(path);
			done++;
		}
		free(names[i]);
	}
	free(names);
	print_message("%d captures checked against the reference\n", done);
	assert_true(done > 0);
}

/* ---------------------------------------------------------------- the rules, one by one */

static void flow_of(struct flow *f, uint32_t id, const char *a, const char *b, uint64_t bytes)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->key.ip_version = 4;
	f->key.l4_proto = 6;
	assert_int_equal(inet_pton(AF_INET, a, f->key.a.b), 1);
	assert_int_equal(inet_pton(AF_INET, b, f->key.b.b), 1);
	f->key.port_a = 40000;
	f->key.port_b = 443;
	f->init_is_a = 1;
	f->flags = FLOW_F_DECIDED;
	f->packets[0] = 1;
	f->bytes[0] = bytes;
}

static void test_top_n_ties_go_by_address_and_the_rest_is_other_with_its_count(void **state)
{
	struct run r;
	struct flow f;
	json_t *hosts, *top, *other;

	(void)state;
	run_start(&r, 60, 2);
	assert_int_equal(summary_tick(r.sum, 60000, NULL, &r.sink), 0);
	flow_of(&f, 1, "10.0.0.3", "203.0.113.1", 100);
	summary_flow_end(r.sum, &f);
	flow_of(&f, 2, "10.0.0.1", "203.0.113.1", 100);
	summary_flow_end(r.sum, &f);
	flow_of(&f, 3, "10.0.0.2", "203.0.113.2", 100);
	summary_flow_end(r.sum, &f);
	flow_of(&f, 4, "10.0.0.4", "203.0.113.3", 50);
	summary_flow_end(r.sum, &f);
	/* A flow the office did not start: its host is still the internal side. */
	flow_of(&f, 5, "198.51.100.7", "10.0.0.1", 10);
	summary_flow_end(r.sum, &f);
	assert_int_equal(summary_tick(r.sum, 120000, NULL, &r.sink), 1);

	hosts = json_object_get(summ(json_array_get(r.keep.recs, 0)), "hosts");
	top = json_object_get(hosts, "top");
	other = json_object_get(hosts, "other");
	assert_int_equal(json_array_size(top), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "ip")), "10.0.0.1");
	assert_int_equal(num(json_array_get(top, 0), "bytes"), 110);
	assert_int_equal(num(json_array_get(top, 0), "flows"), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "ip")), "10.0.0.2");
	assert_int_equal(num(other, "count"), 2);
	assert_int_equal(num(other, "bytes"), 150);
	assert_int_equal(num(other, "flows"), 2);
	assert_record_adds_up(json_array_get(r.keep.recs, 0));

	/* Destinations: external addresses raw; 203.0.113.1 and the tie 203.0.113.2 named. */
	top = json_object_get(json_object_get(summ(json_array_get(r.keep.recs, 0)), "destinations"), "top");
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "ip")), "203.0.113.1");
	assert_int_equal(num(json_array_get(top, 0), "bytes"), 200);
	assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "ip")), "203.0.113.2");
	run_free(&r);
}

static void test_at_the_default_level_no_internal_address_is_written(void **state)
{
	struct run r;
	struct tg_config cfg;
	struct flow f;
	char *text;

	(void)state;
	run_start(&r, 60, 10);
	config_defaults(&cfg);
	privacy_uninit(&r.priv);
	assert_int_equal(privacy_init(&r.priv, &cfg, key), 0);
	summary_tick(r.sum, 0, NULL, &r.sink);
	flow_of(&f, 1, "192.168.7.20", "203.0.113.1", 100);
	summary_flow_end(r.sum, &f);
	flow_of(&f, 2, "192.168.7.21", "192.168.7.1", 100); /* inside the office both ways */
	summary_flow_end(r.sum, &f);
	assert_int_equal(summary_flush(r.sum, 30000, NULL, &r.sink), 1);
	text = json_dumps(r.keep.recs, JSON_COMPACT);
	assert_null(strstr(text, "192.168."));
	assert_non_null(strstr(text, "\"id\":\"ip-"));
	assert_non_null(strstr(text, "203.0.113.1"));
	free(text);
	run_free(&r);
}

/* A 100-byte DNS query from 10.0.0.9:sport to 198.51.100.53. */
static void dns_pkt(struct pkt *p, uint16_t sport)
{
	memset(p, 0, sizeof(*p));
	p->ip_version = 4;
	p->l4_proto = 17;
	inet_pton(AF_INET, "10.0.0.9", p->src.b);
	inet_pton(AF_INET, "198.51.100.53", p->dst.b);
	p->sport = sport;
	p->dport = 53;
	p->wire_len = 100;
}

static void test_a_flow_across_intervals_counts_in_each_and_never_twice(void **state)
{
	struct run r;
	struct flow *f;
	struct pkt p;
	enum flow_dir dir;
	bool created;
	json_t *t[4];

	(void)state;
	run_start(&r, 10, 10);
	dns_pkt(&p, 5000);
	summary_tick(r.sum, 1000, NULL, &r.sink);
	f = flow_lookup(r.pl.flows, &p, 1000, &dir, &created);
	assert_non_null(f);
	flow_account(r.pl.flows, f, &p, dir, 1000);
	/* Still in DPI at the interval's end: it waits, so its bytes go to what it is decided to be. */
	assert_int_equal(summary_tick(r.sum, 10000, NULL, &r.sink), 1);  /* [0, 10 s): 0 */
	f->flags |= FLOW_F_DECIDED;
	assert_int_equal(summary_tick(r.sum, 20000, NULL, &r.sink), 1);  /* [10, 20 s): 100 */
	flow_account(r.pl.flows, f, &p, dir, 22000);
	flow_account(r.pl.flows, f, &p, dir, 23000);
	assert_int_equal(summary_tick(r.sum, 30000, NULL, &r.sink), 1);  /* [20, 30 s): 200 */
	flow_account(r.pl.flows, f, &p, dir, 31000);
	flow_end_all(r.pl.flows);                                         /* it ends: 100 more */
	assert_int_equal(summary_flush(r.sum, 35000, NULL, &r.sink), 1);
	assert_int_equal(json_array_size(r.keep.recs), 4);
	for (int i = 0; i < 4; i++)
		t[i] = json_object_get(summ(json_array_get(r.keep.recs, (size_t)i)), "totals");
	assert_int_equal(num(t[0], "bytes"), 0);
	assert_int_equal(num(t[1], "bytes"), 100);
	assert_int_equal(num(t[2], "bytes"), 200);
	assert_int_equal(num(t[2], "packets"), 2);
	assert_int_equal(num(t[3], "bytes"), 100);
	/* One flow, active in three intervals: once in each. */
	assert_int_equal(num(t[0], "flows") + num(t[1], "flows") + num(t[2], "flows") + num(t[3], "flows"), 3);
	run_free(&r);
}

/*
 * Thousands of flows open at an interval's end grow the carry table many
 * times over, their ids chosen to collide; they then end in the flow table's
 * order, not the carry table's, so entries leave from everywhere in its runs:
 * every one must still be found, or a flow's bytes would be counted again in
 * full.
 */
static void test_thousands_of_carried_flows_end_in_any_order_and_count_once(void **state)
{
	enum { N = 5000 };
	static struct flow *fl[N];
	struct run r;
	struct pkt p;
	enum flow_dir dir;
	bool created;
	json_t *t[3];

	(void)state;
	run_start(&r, 10, 10);
	dns_pkt(&p, 10000);
	summary_tick(r.sum, 1000, NULL, &r.sink);
	for (int i = 0; i < N; i++) {
		dns_pkt(&p, (uint16_t)(10000 + i));
		fl[i] = flow_lookup(r.pl.flows, &p, 1000, &dir, &created);
		assert_non_null(fl[i]);
		assert_true(created);
		flow_account(r.pl.flows, fl[i], &p, dir, 1000);
		fl[i]->flags |= FLOW_F_DECIDED;
		/* ids 1024 apart land on a few home slots: long runs to probe and close up */
		fl[i]->id = 1 + (uint32_t)i * 1024;
	}
	assert_int_equal(summary_tick(r.sum, 10000, NULL, &r.sink), 1);  /* [0, 10 s): N x 100 */
	for (int i = 0; i < N; i++) {
		dns_pkt(&p, (uint16_t)(10000 + i));
		flow_account(r.pl.flows, fl[i], &p, FLOW_DIR_FWD, 12000);
	}
	assert_int_equal(summary_tick(r.sum, 20000, NULL, &r.sink), 1);  /* [10, 20 s): N x 100 */
	for (int i = 1; i < N; i += 2) {
		dns_pkt(&p, (uint16_t)(10000 + i));
		flow_account(r.pl.flows, fl[i], &p, FLOW_DIR_FWD, 21000);
	}
	flow_end_all(r.pl.flows);  /* the odd ones did 100 more; the even ones nothing */
	assert_int_equal(summary_flush(r.sum, 25000, NULL, &r.sink), 1);
	assert_int_equal(json_array_size(r.keep.recs), 3);
	for (int i = 0; i < 3; i++) {
		t[i] = json_object_get(summ(json_array_get(r.keep.recs, (size_t)i)), "totals");
		assert_record_adds_up(json_array_get(r.keep.recs, (size_t)i));
	}
	assert_int_equal(num(t[0], "bytes"), N * 100);
	assert_int_equal(num(t[0], "flows"), N);
	assert_int_equal(num(t[1], "bytes"), N * 100);
	assert_int_equal(num(t[1], "flows"), N);
	assert_int_equal(num(t[2], "bytes"), N / 2 * 100);
	assert_int_equal(num(t[2], "flows"), N / 2);
	run_free(&r);
}

static void test_blocks_are_counted_per_rule_and_serial_and_an_empty_interval_still_reports(void **state)
{
	struct run r;
	json_t *blocks, *rec;

	(void)state;
	run_start(&r, 60, 10);
	summary_tick(r.sum, 0, NULL, &r.sink);
	summary_hit(r.sum, 42, BUNDLE_ACT_BLOCK, 7);
	summary_hit(r.sum, 42, BUNDLE_ACT_BLOCK, 7);
	summary_hit(r.sum, 42, BUNDLE_ACT_BLOCK, 8);
	summary_hit(r.sum, 5, BUNDLE_ACT_ALERT, 8);
	assert_int_equal(summary_tick(r.sum, 180000, NULL, &r.sink), 3);
	rec = json_array_get(r.keep.recs, 0);
	blocks = json_object_get(summ(rec), "blocks");
	assert_int_equal(json_array_size(blocks), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(blocks, 0), "rule"), "id")), "42");
	assert_int_equal(num(json_object_get(json_array_get(blocks, 0), "bundle"), "serial"), 7);
	assert_int_equal(num(json_array_get(blocks, 0), "count"), 2);
	assert_int_equal(num(json_array_get(blocks, 1), "count"), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 2), "action")), "alert");
	/* The next two intervals carried nothing and are reported all the same, numbered on. */
	assert_int_equal(json_array_size(json_object_get(summ(json_array_get(r.keep.recs, 2)), "blocks")), 0);
	assert_int_equal(record_seq(json_array_get(r.keep.recs, 2)), 3);
	run_free(&r);
}

/* health.inventory: the devices held, and the new ones of each interval (the gateway gives a count since start). */
static void test_health_says_the_devices_known_and_new_in_each_interval(void **state)
{
	struct summary_health h = { .inventory_valid = true, .inventory_devices = 3, .inventory_added = 3 };
	struct run r;
	json_t *inv[4];

	(void)state;
	run_start(&r, 60, 10);
	summary_tick(r.sum, 0, NULL, &r.sink);
	assert_int_equal(summary_tick(r.sum, 60000, &h, &r.sink), 1);     /* [0, 60 s): 3 new */
	h.inventory_devices = 5, h.inventory_added = 5;
	assert_int_equal(summary_tick(r.sum, 180000, &h, &r.sink), 2);    /* 2 new, then none */
	h.inventory_devices = 5, h.inventory_added = 6;                     /* one took an idle one's place */
	assert_int_equal(summary_tick(r.sum, 240000, &h, &r.sink), 1);
	for (size_t i = 0; i < 4; i++) {
		inv[i] = json_object_get(json_object_get(summ(json_array_get(r.keep.recs, i)), "health"), "inventory");
		assert_non_null(inv[i]);
	}
	assert_int_equal(num(inv[0], "devices"), 3);
	assert_int_equal(num(inv[0], "new"), 3);
	assert_int_equal(num(inv[1], "devices"), 5);
	assert_int_equal(num(inv[1], "new"), 2);
	assert_int_equal(num(inv[2], "new"), 0);
	assert_int_equal(num(inv[3], "devices"), 5);
	assert_int_equal(num(inv[3], "new"), 1);
	/* no inventory: no figure (not a zero that says none is known) */
	assert_int_equal(summary_tick(r.sum, 300000, NULL, &r.sink), 1);
	assert_null(json_object_get(json_object_get(summ(json_array_get(r.keep.recs, 4)), "health"), "inventory"));
	run_free(&r);
}

static void test_the_envelope_names_the_gateway_the_region_the_tlp_and_the_interval(void **state)
{
	struct run r;
	json_t *rec, *ev;

	(void)state;
	run_start(&r, 60, 10);
	summary_tick(r.sum, INT64_C(1800000000000), NULL, &r.sink);
	assert_int_equal(summary_tick(r.sum, INT64_C(1800000060000), NULL, &r.sink), 1);
	assert_int_equal(summary_tick(r.sum, INT64_C(1800000120000), NULL, &r.sink), 1);
	rec = json_array_get(r.keep.recs, 0);
	ev = json_object_get(rec, "event");
	assert_string_equal(json_string_value(json_object_get(rec, "@timestamp")), "2027-01-15T08:01:00.000Z");
	assert_string_equal(json_string_value(json_object_get(ev, "start")), "2027-01-15T08:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "metric");
	assert_string_equal(json_string_value(json_object_get(ev, "dataset")), "townguard.summary");
	assert_int_equal(num(ev, "duration"), INT64_C(60000000000));
	assert_int_equal(strlen(json_string_value(json_object_get(ev, "id"))), 32);
	assert_string_not_equal(json_string_value(json_object_get(ev, "id")),
				json_string_value(json_object_get(json_object_get(json_array_get(r.keep.recs, 1), "event"), "id")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "ecs"), "version")), RECORD_ECS_VERSION);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "observer"), "id")), "gw-local");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "organization"), "id")), "local");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "labels"), "tlp")), "amber");
	assert_true(json_is_false(json_object_get(json_object_get(rec, "tg"), "replayed")));
	assert_int_equal(record_seq(rec), 1);
	assert_int_equal(record_set_replayed(rec, true), 0);
	assert_true(json_is_true(json_object_get(json_object_get(rec, "tg"), "replayed")));
	run_free(&r);
}

/* record_dumps() against jansson's json_dumps(JSON_COMPACT): one text, byte for byte. */
static void same_text(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT), *got;
	size_t n = 0;

	assert_non_null(want);
	got = record_dumps(v, &n);
	assert_non_null(got);
	assert_int_equal(n, strlen(want));
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_the_record_text_is_jansson_s_byte_for_byte(void **state)
{
	char every[128];
	json_t *o = json_object(), *a = json_array();
	struct run r;

	(void)state;
	for (int c = 1; c < 128; c++)
		every[c - 1] = (char)c;
	every[127] = '\0';
	json_object_set_new(o, "every ASCII byte", json_string(every));
	json_object_set_new(o, "utf-8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", json_string("\"q\"\\/\xc3\xa9"));
	json_object_set_new(o, "nul inside", json_stringn("a\0b", 3));
	json_object_set_new(o, "", json_string(""));
	json_array_append_new(a, json_integer(INT64_MIN));
	json_array_append_new(a, json_integer(INT64_MAX));
	json_array_append_new(a, json_integer(-1));
	json_array_append_new(a, json_integer(0));
	json_array_append_new(a, json_true());
	json_array_append_new(a, json_false());
	json_array_append_new(a, json_null());
	json_array_append_new(a, json_real(1.5));
	json_array_append_new(a, json_object());
	json_array_append_new(a, json_array());
	json_object_set_new(o, "values", a);
	same_text(o);
	same_text(a);
	json_decref(o);
	/* and real records: a summary with its envelope */
	run_start(&r, 60, 10);
	summary_tick(r.sum, INT64_C(1800000000000), NULL, &r.sink);
	summary_tick(r.sum, INT64_C(1800000060000), NULL, &r.sink);
	assert_true(json_array_size(r.keep.recs) > 0);
	same_text(json_array_get(r.keep.recs, 0));
	run_free(&r);
}

/* record_time() against strftime's text of the same instant, over 1970 to 9999 and the edges. */
static void test_record_time_is_strftime_s_to_the_millisecond(void **state)
{
	static const int64_t edges[] = { -5, 0, 999, 951782400123, 1800000060000, 253402300799999 };
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		int64_t ms = i < 6 ? edges[i] : (int64_t)((x ^= x << 13, x ^= x >> 7, x ^= x << 17) % 253402300800000ull);
		time_t t = (time_t)((ms < 0 ? 0 : ms) / 1000);
		char got[32], want[32];
		struct tm tm;
		size_t n;

		gmtime_r(&t, &tm);
		n = strftime(want, 24, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want + n, sizeof(want) - n, ".%03dZ", (int)((ms < 0 ? 0 : ms) % 1000));
		record_time(ms, got);
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_shared_capture_adds_up_like_the_naive_reference),
		cmocka_unit_test(test_top_n_ties_go_by_address_and_the_rest_is_other_with_its_count),
		cmocka_unit_test(test_at_the_default_level_no_internal_address_is_written),
		cmocka_unit_test(test_a_flow_across_intervals_counts_in_each_and_never_twice),
		cmocka_unit_test(test_thousands_of_carried_flows_end_in_any_order_and_count_once),
		cmocka_unit_test(test_blocks_are_counted_per_rule_and_serial_and_an_empty_interval_still_reports),
		cmocka_unit_test(test_health_says_the_devices_known_and_new_in_each_interval),
		cmocka_unit_test(test_the_envelope_names_the_gateway_the_region_the_tlp_and_the_interval),
		cmocka_unit_test(test_the_record_text_is_jansson_s_byte_for_byte),
		cmocka_unit_test(test_record_time_is_strftime_s_to_the_millisecond),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Re-judging on a bundle swap (docs/benchmarks.md): the time to judge every
 * open flow again against a new bundle, as gw_use_bundle() does on SIGHUP,
 * `bundle install` or over the air, with the firmware's own code
 * (flow_walk() + policy_rejudge()), sliced as the gateway slices it on its
 * event loop: the longest slice is the longest any frame waits for it.
 *
 *   rejudge-bench BUNDLE HUB-PUB REGION Q-DOMAINS Q-IPV4 [FLOWS] [PASSES] [NEXT]
 *
 * FLOWS (default 100000) TCP flows are opened in a flow table of the
 * default capacity, one per lookup name and address of the query files
 * (half of each listed, tests/bench/gen_blocklist.py): LAN host
 * 10.x.y.z:port -> the address, port 443, decided by DPI as TLS with the
 * name as SNI, so each is judged at stages ip, dns_binding, sni, protocol,
 * category and JA3. They are judged under no bundle, then the bundle is
 * swapped in and every flow judged again (the "swap" figure: many are cut;
 * from no list, nothing can be passed over), then NEXT if given, the list
 * the hub sends next (the "next" figure: a few hundred entries added, as a
 * delta brings them; only the flows they reach are looked up again), then
 * the list in force swapped in again PASSES times (default 5; the "again"
 * figure: nothing changed, every flow is passed over). Each figure includes
 * policy_set_bundle(), which works out what changed. The anchor, from the same run: the bundle lookups alone
 * that any re-judging must make for those flows (the name, both addresses,
 * each against the allow list and the block list), without the flow table.
 *
 * Output, one "key=value ..." record per line, for tests/bench/run:
 *   rejudge flows= swap_ms= cut= slices= longest_slice_ms= again_ms= lookups_ms= rss_kb=
 *     [next_ms= next_cut= next_lifted= next_judged=]
 * swap_ms is the whole walk, longest_slice_ms the longest slice of all the
 * walks; again_ms and lookups_ms are medians of PASSES. Exit 1 on any failure.
 */
#include <arpa/inet.h>
#include <stdint.h>

#include "bench_util.h"
#include "packet/dpi.h"
#include "packet/flow.h"
#include "policy/bundle.h"
#include "policy/policy.h"

#define P_TLS 91

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *out = malloc(65536);

	if (!f || !out) {
		fprintf(stderr, "cannot read %s\n", path);
		if (f)
			fclose(f);
		free(out);
		return NULL;
	}
	*len = fread(out, 1, 65536, f);
	fclose(f);
	return out;
}

struct walk {
	struct policy *p;
	uint64_t wall_s;
	uint32_t cut, lifted;
	struct policy_ahead ahead;
};

static void judge_one(struct walk *w, struct flow *f)
{
	switch (policy_rejudge(w->p, f, w->wall_s, 0)) {
	case POLICY_REJUDGE_BLOCKED:
		w->cut++;
		break;
	case POLICY_REJUDGE_LIFTED:
		w->lifted++;
		break;
	default:
		break;
	}
}

/* The gateway's callback (gateway_rejudge.c): through the look-ahead queue. */
static void rejudge_one(struct flow *f, void *c)
{
	struct walk *w = c;

	f = policy_ahead_push(w->p, &w->ahead, f);
	if (f)
		judge_one(w, f);
}

/*
 * The walk as the gateway slices it (firmware/app/gateway_rejudge.c:
 * GW_REJUDGE_CHUNK records at a time, a slice ends after
 * GW_REJUDGE_SLICE_US): returns the whole walk's time in ms and sets
 * *longest_ms to the longest slice, the longest a frame waits.
 */
#define CHUNK 1024
#define SLICE_S 0.005

/* This thread's CPU time in ms: what the walk costs without the other tenants' time slices. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The walk's CPU time, set by walk_ms() (which returns the wall time). */
static double walk_cpu;

static double walk_ms(struct flow_table *t, struct walk *w, const struct bundle *b,
		      double *longest_ms, uint32_t *slices)
{
	uint32_t cursor = 0;
	double t0 = bench_now(), c0 = cpu_ms(), s0, took;
	bool done = false;

	/* the swap itself, in the first slice: what changed is worked out here, on the loop too */
	policy_set_bundle(w->p, b);
	*longest_ms = 0;
	*slices = 0;
	while (!done) {
		s0 = *slices ? bench_now() : t0;
		do {
			struct flow *f;

			done = flow_walk(t, &cursor, CHUNK, rejudge_one, w);
			while ((f = policy_ahead_pop(&w->ahead)))
				judge_one(w, f);
		} while (!done && bench_now() - s0 < SLICE_S);
		took = (bench_now() - s0) * 1000.0;
		if (took > *longest_ms)
			*longest_ms = took;
		(*slices)++;
	}
	policy_rejudge_done(w->p);
	walk_cpu = cpu_ms() - c0;
	return (bench_now() - t0) * 1000.0;
}

int main(int argc, char **argv)
{
	struct flow_table *t;
	struct bench_lines names, addrs;
	struct bundle *b, *next = NULL;
	struct policy *p;
	struct dpi *dpi;
	struct walk w = { 0 };
	uint8_t *pub, (*ip4)[4];
	size_t pub_len, n;
	uint32_t flows = argc > 6 ? (uint32_t)strtoul(argv[6], NULL, 10) : 100000;
	int passes = argc > 7 ? atoi(argv[7]) : 5;
	double swap_ms, swap_cpu, swap_slice_ms, slice_ms, *again, *look, *first, *first_cpu;
	uint32_t slices, slices_again = 0, slices_next = 0;
	double next_ms = 0, next_cpu = 0;
	struct walk wn = { 0 };
	struct policy_stats ps0, ps1;
	uint64_t now = (uint64_t)time(NULL);
	volatile uint32_t hits = 0;

	if (argc < 6 || passes < 1) {
		fprintf(stderr, "usage: %s BUNDLE HUB-PUB REGION Q-DOMAINS Q-IPV4 [FLOWS] [PASSES]\n", argv[0]);
		return 1;
	}
	pub = read_file(argv[2], &pub_len);
	if (!pub || bundle_open_file(argv[1], &b) != BUNDLE_OK ||
	    bundle_check(b, pub, pub_len, argv[3], 0, now, 300) != BUNDLE_OK) {
		fprintf(stderr, "bundle %s does not open or check\n", argv[1]);
		return 1;
	}
	if (argc > 8 && (bundle_open_file(argv[8], &next) != BUNDLE_OK ||
			 bundle_check(next, pub, pub_len, argv[3], 0, now, 300) != BUNDLE_OK)) {
		fprintf(stderr, "bundle %s does not open or check\n", argv[8]);
		return 1;
	}
	if (bench_read_lines(argv[4], &names) || bench_read_lines(argv[5], &addrs)) {
		fprintf(stderr, "cannot read the query files\n");
		return 1;
	}
	n = names.n < addrs.n ? names.n : addrs.n;
	if (n < flows) {
		fprintf(stderr, "%zu queries, fewer than %u flows\n", n, flows);
		return 1;
	}
	ip4 = calloc(flows, sizeof(*ip4));
	again = calloc((size_t)passes, sizeof(*again));
	look = calloc((size_t)passes, sizeof(*look));
	first = calloc((size_t)passes, sizeof(*first));
	first_cpu = calloc((size_t)passes, sizeof(*first_cpu));
	dpi = dpi_new(NULL, NULL);
	t = flow_table_new(NULL);
	p = dpi ? policy_new(dpi, NULL, NULL) : NULL;
	if (!ip4 || !again || !look || !first || !first_cpu || !t || !p) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}

	/* The open flows, judged under no list: the packet path's verdicts. */
	for (uint32_t i = 0; i < flows; i++) {
		struct pkt pk = { .ip_version = 4, .l4_proto = 6, .tcp_flags = 0x02, .wire_len = 60 };
		enum flow_dir dir;
		bool created;
		struct flow *f;

		if (inet_pton(AF_INET, addrs.line[i], ip4[i]) != 1) {
			fprintf(stderr, "%s: not an IPv4 address: %s\n", argv[5], addrs.line[i]);
			return 1;
		}
		pk.src.b[0] = 10;
		pk.src.b[1] = (uint8_t)(i >> 16);
		pk.src.b[2] = (uint8_t)(i >> 8);
		pk.src.b[3] = (uint8_t)i;
		memcpy(pk.dst.b, ip4[i], 4);
		pk.sport = (uint16_t)(1024 + i % 60000);
		pk.dport = 443;
		f = flow_lookup(t, &pk, 0, &dir, &created);
		if (!f || !created) {
			fprintf(stderr, "flow %u not created\n", i);
			return 1;
		}
		flow_account(t, f, &pk, dir, 0);
		f->flags |= FLOW_F_DECIDED;
		f->dpi_result.master = P_TLS;
		f->dpi_result.app = P_TLS;
		snprintf(f->dpi_result.host, sizeof(f->dpi_result.host), "%s", names.line[i]);
		policy_flow_start(p, f, now, 0);
		policy_flow_dpi(p, f, now);
	}

	/* The swap, the next list, then the list in force again. */
	w.p = p;
	w.wall_s = now;
	swap_ms = walk_ms(t, &w, b, &swap_slice_ms, &slices);
	swap_cpu = walk_cpu;
	if (!w.cut) {
		fprintf(stderr, "the swap cut no flow: the query files list nothing\n");
		return 1;
	}
	if (next) {
		wn = (struct walk){ .p = p, .wall_s = now };
		policy_get_stats(p, &ps0);
		next_ms = walk_ms(t, &wn, next, &slice_ms, &slices_next);
		next_cpu = walk_cpu;
		policy_get_stats(p, &ps1);
		if (slice_ms > swap_slice_ms)
			swap_slice_ms = slice_ms;
	}
	for (int i = 0; i < passes; i++) {
		struct walk w2 = { .p = p, .wall_s = now };

		again[i] = walk_ms(t, &w2, next ? next : b, &slice_ms, &slices_again);
		if (slice_ms > swap_slice_ms)
			swap_slice_ms = slice_ms;
		if (w2.cut || w2.lifted) {
			fprintf(stderr, "the same list again changed %u verdicts\n", w2.cut + w2.lifted);
			return 1;
		}
	}

	/*
	 * The first list again, PASSES times: no list (every block lifted),
	 * then the bundle, every flow looked up as in the swap above. Medians,
	 * so one time slice lost to another tenant does not make the figure.
	 */
	for (int i = 0; i < passes; i++) {
		struct walk w0 = { .p = p, .wall_s = now }, w1 = { .p = p, .wall_s = now };

		walk_ms(t, &w0, NULL, &slice_ms, &slices_again);
		first[i] = walk_ms(t, &w1, b, &slice_ms, &slices_again);
		first_cpu[i] = walk_cpu;
		if (slice_ms > swap_slice_ms)
			swap_slice_ms = slice_ms;
		/* the first time, the next list's cuts are lifted too */
		if (w0.lifted < w.cut || w1.cut != w.cut) {
			fprintf(stderr, "the first list again: %u lifted, %u cut, the swap cut %u\n", w0.lifted,
				w1.cut, w.cut);
			return 1;
		}
	}

	/* The anchor: the lookups alone, name and both addresses, allow then block. */
	for (int i = 0; i < passes; i++) {
		double t0 = bench_now();
		struct bundle_match m;

		for (uint32_t j = 0; j < flows; j++) {
			const uint8_t lan[4] = { 10, (uint8_t)(j >> 16), (uint8_t)(j >> 8), (uint8_t)j };

			hits += bundle_lookup_domain(b, names.line[j], names.len[j], now, true, &m);
			hits += bundle_lookup_domain(b, names.line[j], names.len[j], now, false, &m);
			hits += bundle_lookup_ipv4(b, ip4[j], now, true, &m);
			hits += bundle_lookup_ipv4(b, ip4[j], now, false, &m);
			hits += bundle_lookup_ipv4(b, lan, now, true, &m);
			hits += bundle_lookup_ipv4(b, lan, now, false, &m);
		}
		look[i] = (bench_now() - t0) * 1000.0;
	}
	printf("rejudge flows=%u swap_ms=%.3f swap_cpu_ms=%.3f first_ms=%.3f first_cpu_ms=%.3f cut=%u "
	       "slices=%u longest_slice_ms=%.3f again_ms=%.3f lookups_ms=%.3f rss_kb=%ld filter_kb=%zu",
	       flows, swap_ms, swap_cpu, bench_median(first, (size_t)passes),
	       bench_median(first_cpu, (size_t)passes), w.cut, slices, swap_slice_ms,
	       bench_median(again, (size_t)passes), bench_median(look, (size_t)passes),
	       bench_status_kb("VmHWM"), bundle_filter_bytes(b) / 1024);
	if (next)
		printf(" next_ms=%.3f next_cpu_ms=%.3f next_cut=%u next_lifted=%u next_judged=%llu", next_ms,
		       next_cpu, wn.cut, wn.lifted,
		       (unsigned long long)(flows - (ps1.rejudge_skipped - ps0.rejudge_skipped)));
	printf("\n");

	policy_free(p);
	flow_table_free(t);
	dpi_free(dpi);
	bundle_close(b);
	bundle_close(next);
	free(ip4);
	free(again);
	free(look);
	free(first);
	free(first_cpu);
	free(pub);
	return hits ? 0 : 1;
}

/*
 * The anchor of the blocklist benchmark (docs/benchmarks.md): nDPI's own
 * host-list loading and matching, through its custom-category API, on the
 * same domains and lookup names as bundle_bench.
 *
 *   ndpi-hosts-bench DOMAINS Q-DOMAINS [PASSES]
 *
 * Loads every line of DOMAINS with ndpi_load_hostname_category() into
 * NDPI_PROTOCOL_CATEGORY_CUSTOM_1 and builds the automaton with
 * ndpi_enable_loaded_categories(), the way ndpiReader loads a categories file
 * (-c); then looks up every line of Q-DOMAINS with
 * ndpi_match_custom_category(), PASSES times (default 3), on one thread. A hit
 * is a match that reports CUSTOM_1 (nDPI's few built-in category hosts also
 * sit in that automaton).
 *
 * Output, one "key=value ..." record per line, for tests/bench/run:
 *   ndpi init_s=  rss_init_kb=             ndpi_init_detection_module + finalize
 *   ndpi load n=  load_s= enable_s= rss_before_kb= rss_after_kb= hwm_kb=
 *   lookup domain n= passes= hits= per_s= per_s_best=
 * rss_before_kb is after the input files are in memory and nDPI is
 * initialised: rss_after_kb - rss_before_kb is the host list's share. hits is
 * per pass (every pass must find the same); per_s is the median pass.
 *
 * Only this bench file and firmware/packet/dpi.c include nDPI headers.
 */
#include <ndpi/ndpi_api.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
	struct ndpi_detection_module_struct *ndpi;
	struct bench_lines dom, q;
	unsigned passes = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	double t0, t1, t2, *rate;
	long rss_before, rss_init;
	size_t i, hits = 0, bad = 0;
	unsigned p;

	if (argc < 3 || passes < 1) {
		fprintf(stderr, "usage: ndpi-hosts-bench DOMAINS Q-DOMAINS [PASSES]\n");
		return 2;
	}
	if (bench_read_lines(argv[1], &dom) || bench_read_lines(argv[2], &q))
		return 1;

	t0 = bench_now();
	ndpi = ndpi_init_detection_module(ndpi_no_prefs);
	if (!ndpi) {
		fprintf(stderr, "ndpi_init_detection_module failed\n");
		return 1;
	}
	ndpi_finalize_initialization(ndpi);
	t1 = bench_now();
	rss_init = bench_status_kb("VmRSS");
	printf("ndpi init_s=%.6f rss_init_kb=%ld\n", t1 - t0, rss_init);
	rss_before = rss_init;

	t0 = bench_now();
	for (i = 0; i < dom.n; i++)
		if (ndpi_load_hostname_category(ndpi, dom.line[i], NDPI_PROTOCOL_CATEGORY_CUSTOM_1) != 0)
			bad++;
	t1 = bench_now();
	if (ndpi_enable_loaded_categories(ndpi) < 0) {
		fprintf(stderr, "ndpi_enable_loaded_categories failed\n");
		return 1;
	}
	t2 = bench_now();
	if (bad) {
		fprintf(stderr, "ndpi_load_hostname_category refused %zu of %zu names\n", bad, dom.n);
		return 1;
	}
	printf("ndpi load n=%zu load_s=%.6f enable_s=%.6f rss_before_kb=%ld rss_after_kb=%ld hwm_kb=%ld\n",
	       dom.n, t1 - t0, t2 - t1, rss_before, bench_status_kb("VmRSS"), bench_status_kb("VmHWM"));
	fflush(stdout);

	rate = calloc(passes, sizeof(*rate));
	if (!rate)
		return 1;
	for (p = 0; p < passes; p++) {
		size_t h = 0;

		t0 = bench_now();
		for (i = 0; i < q.n; i++) {
			ndpi_protocol_category_t cat = NDPI_PROTOCOL_CATEGORY_UNSPECIFIED;

			if (ndpi_match_custom_category(ndpi, q.line[i], (u_int)q.len[i], &cat) == 0 &&
			    cat == NDPI_PROTOCOL_CATEGORY_CUSTOM_1)
				h++;
		}
		t1 = bench_now();
		rate[p] = (double)q.n / (t1 - t0);
		if (p && h != hits) {
			fprintf(stderr, "pass %u found %zu hits, pass 1 %zu\n", p + 1, h, hits);
			return 1;
		}
		hits = h;
	}
	printf("lookup domain n=%zu passes=%u hits=%zu per_s=%.0f", q.n, passes, hits,
	       bench_median(rate, passes));
	printf(" per_s_best=%.0f\n", rate[passes - 1]);
	ndpi_exit_detection_module(ndpi);
	return 0;
}

/*
 * Spool recovery (docs/benchmarks.md): the time spool_open() takes to read
 * and check a full spool, every record's CRC-32C, before the gateway can
 * send again after a restart. Goal: under 1 s for 64 MiB.
 *
 *   spool-bench DIR [MIB] [PASSES]
 *
 * DIR/spool is filled with MIB (default 64) MiB of segments written with the
 * spool's own encoder (spool_encode: the bytes spool_put writes, without an
 * fdatasync per record, which would make the set-up take minutes): 1 MiB
 * segments of summary-sized records (about 1 KiB of JSON each), 1 in 10 an
 * alert, as the bound would leave them. Then it is opened PASSES times
 * (default 3; the page cache is warm after the first, as it is on a gateway
 * that restarts its process rather than the board; the first pass reads
 * what the fill left in the cache too) and the first record is taken.
 *
 * Output, one line for tests/bench/run:
 *   spool mib= records= segments= open_ms= (median) first_ms= (the first pass) rss_kb=
 * Exit 1 when the recovered count differs from what was written.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#define LOG_MODULE "bench"
#include "core/log.h"
#include "report/spool.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : NULL;
	unsigned mib = argc > 2 ? (unsigned)atoi(argv[2]) : 64, passes = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	uint64_t seq = 1, written = 0, segments = 0, total = 0, limit;
	double t[16], first = 0;
	char dir[4096], path[4200], json[1200];
	uint8_t *seg = malloc(1u << 20);
	struct spool_stats st;

	if (!base || !mib || !passes || passes > 16) {
		fprintf(stderr, "usage: spool-bench DIR [MIB] [PASSES<=16]\n");
		return 2;
	}
	log_set_level(LOG_LVL_WARN);
	limit = (uint64_t)mib << 20;
	snprintf(dir, sizeof(dir), "%s/spool", base);
	mkdir(base, 0700);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0 || mkdir(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	/* segments of 1 MiB (what spool_open chooses for this bound), filled to just under it */
	while (total + (1u << 20) <= limit) {
		size_t off = SPOOL_SEG_HDR;
		enum report_kind kind = segments % 10 == 9 ? REPORT_ALERT : REPORT_SUMMARY;
		int fd;

		memcpy(seg, SPOOL_SEG_MAGIC, SPOOL_SEG_HDR);
		for (;;) {
			int n = snprintf(json, sizeof(json),
					 "{\"@timestamp\":\"2026-12-03T08:%02" PRIu64 ":00Z\",\"event\":{\"kind\":\"metric\","
					 "\"dataset\":\"townguard.summary\"},\"observer\":{\"id\":\"gw-bench\"},"
					 "\"tg\":{\"seq\":%" PRIu64 "},\"pad\":\"%0900d\"}",
					 seq % 60, seq, 0);

			if (off + SPOOL_REC_HDR + (size_t)n > (1u << 20))
				break;
			spool_encode(seg + off, seq, kind, 0, json, (uint32_t)n);
			off += SPOOL_REC_HDR + (size_t)n;
			seq++;
			written++;
		}
		snprintf(path, sizeof(path), "%s/%s-%016" PRIx64 ".seg", dir, spool_kind_name(kind),
			 segments + 1);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, seg, off) != (ssize_t)off || close(fd) < 0) {
			perror(path);
			return 1;
		}
		total += off;
		segments++;
	}
	for (unsigned p = 0; p < passes; p++) {
		struct spool *sp;
		struct spool_rec r;
		double t0 = bench_now();

		if (spool_open(&sp, dir, limit + (1u << 20)) < 0)
			return 1;
		if (spool_next(sp, REPORT_SUMMARY, &r) != 1 || r.seq != 1) {
			fprintf(stderr, "the first record is not tg.seq 1\n");
			return 1;
		}
		spool_rec_free(&r);
		t[p] = (bench_now() - t0) * 1000;
		if (!p)
			first = t[p];
		spool_get_stats(sp, &st);
		spool_close(sp);
		if (st.records != written || st.corrupt || st.torn) {
			fprintf(stderr, "recovered %" PRIu64 " of %" PRIu64 " records (%" PRIu64
				" corrupt, %" PRIu64 " torn)\n", st.records, written, st.corrupt, st.torn);
			return 1;
		}
	}
	qsort(t, passes, sizeof(t[0]), cmp_double);
	printf("spool mib=%.1f records=%" PRIu64 " segments=%" PRIu64 " open_ms=%.1f first_ms=%.1f rss_kb=%ld\n",
	       (double)total / (1 << 20), written, segments, t[passes / 2], first, bench_status_kb("VmHWM"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	free(seg);
	return system(path) == 0 ? 0 : 1;
}

/*
 * libFuzzer target for the spool's reader (firmware/report/spool_format.c)
 * and its recovery (spool.c).
 *
 * The input is one segment file's bytes. The reader must give back only
 * records that lie inside the input, in increasing offsets, each with a
 * length within SPOOL_RECORD_MAX, and come to the end (never loop); a
 * record re-encoded from what it gave back must be byte for byte the one in
 * the input (the CRC covered everything). Then the bytes go to a spool
 * directory as its only segment: spool_open() must recover it, hand out as
 * many records as the reader found of that kind, and a second open must
 * count no new damage (the first rewrote the segment without it).
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#define LOG_MODULE "fuzz"
#include "core/log.h"
#include "report/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	char sdir[96], seg[160];
	uint8_t *buf = malloc(size ? size : 1), *re;
	struct spool_scan sc;
	struct spool_view v;
	struct spool_stats st, st2;
	struct spool_rec r;
	struct spool *sp;
	size_t last = 0, n = 0, nsum = 0, out = 0;
	uint64_t prev = 0;
	bool increasing = true;

	memcpy(buf, data, size);
	spool_scan_begin(buf, size, &sc);
	while (spool_scan_next(buf, size, &sc, &v) == 1) {
		if (v.off < last || v.off + SPOOL_REC_HDR + v.len > size || v.len > SPOOL_RECORD_MAX ||
		    v.kind >= SPOOL_KINDS || sc.off != v.off + SPOOL_REC_HDR + v.len)
			abort();
		re = malloc(SPOOL_REC_HDR + v.len);
		spool_encode(re, v.seq, v.kind, v.flags, v.data, v.len);
		if (memcmp(re, buf + v.off, SPOOL_REC_HDR + v.len))
			abort();
		free(re);
		last = sc.off;
		n++;
		if (v.kind == REPORT_SUMMARY) {
			increasing &= v.seq > prev;
			prev = v.seq;
			nsum++;
		}
		if (n > size)
			abort();
	}
	if (sc.off < size && size)
		abort(); /* the reader stopped before the end */

	log_set_level(LOG_LVL_ERR);
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/fuzz-spool.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	mkdir(sdir, 0700);
	snprintf(seg, sizeof(seg), "%s/summary-0000000000000001.seg", sdir);
	if (file_write_synced(seg, buf, size, 0600) < 0)
		abort();
	if (spool_open(&sp, sdir, 64u << 20) < 0)
		abort();
	while (spool_next(sp, REPORT_SUMMARY, &r) == 1) {
		if (r.json[r.len] != '\0')
			abort();
		out++;
		spool_rec_free(&r);
	}
	spool_get_stats(sp, &st);
	spool_close(sp);
	/*
	 * Nothing is acknowledged: every summary comes out (up to the in-flight
	 * limit) when their tg.seq increase as the spool writes them; a forged
	 * order may hide some, never add one.
	 */
	if (out > nsum || (increasing && out != (nsum < SPOOL_INFLIGHT ? nsum : SPOOL_INFLIGHT)))
		abort();
	if (spool_open(&sp, sdir, 64u << 20) < 0)
		abort();
	spool_get_stats(sp, &st2);
	if (st2.corrupt != st.corrupt || st2.torn != st.torn)
		abort(); /* damage counted twice */
	spool_close(sp);
	nftw(sdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(buf);
	return 0;
}

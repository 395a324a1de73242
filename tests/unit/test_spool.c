/*
 * The report spool (firmware/report/spool.c, spool_format.c): what it keeps
 * across a restart, a torn write and damage on flash, what the bound drops
 * first, and what the sender sees.
 *
 * Damage is made by hand on a segment the spool wrote: every truncation
 * length and every flipped byte (each of the 8 bits through the reader,
 * one flip per byte through a whole recovery) must give back exactly the
 * records that are intact, byte for byte, and count the rest.
 *
 * Recoveries run in /dev/shm when it exists: a few thousand of them, each
 * with its fsyncs, would take minutes on a loaded disk; the logic is the same.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crc32c.h"
#include "core/file.h"
#define LOG_MODULE "test"
#include "core/log.h"
#include "report/spool.h"

static char dir[64], sdir[96];

static int fresh_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/tg-spool.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	assert_non_null(mkdtemp(dir));
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* In-process (no rm -rf): the damage tests recover a few thousand spools. */
static int remove_dir(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static json_t *rec(int i, size_t pad)
{
	char *p = malloc(pad + 1);
	json_t *r;

	memset(p, 'a' + i % 26, pad);
	p[pad] = '\0';
	r = json_pack("{s:s, s:{s:s}, s:i, s:s}", "@timestamp", "2026-12-03T08:00:00Z", "event",
		      "dataset", "townguard.summary", "i", i, "pad", p);
	free(p);
	return r;
}

static uint64_t put(struct spool *sp, enum report_kind k, int i, size_t pad)
{
	json_t *r = rec(i, pad);
	uint64_t seq = 0;

	assert_int_equal(spool_put(sp, k, r, &seq), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "tg"), "seq")), seq);
	json_decref(r);
	return seq;
}

/* Take every sendable record of kind k: their "i" fields into got[], tg.seq into seqs[]. */
static size_t drain(struct spool *sp, enum report_kind k, int *got, uint64_t *seqs, size_t max)
{
	struct spool_rec r;
	size_t n = 0;

	while (n < max && spool_next(sp, k, &r) == 1) {
		json_t *j = json_loads(r.json, 0, NULL);

		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tg"), "seq")), r.seq);
		got[n] = (int)json_integer_value(json_object_get(j, "i"));
		if (seqs)
			seqs[n] = r.seq;
		n++;
		json_decref(j);
		spool_rec_free(&r);
	}
	return n;
}

static size_t count_files(const char *suffix)
{
	DIR *d = opendir(sdir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strlen(de->d_name) > strlen(suffix) &&
		    !strcmp(de->d_name + strlen(de->d_name) - strlen(suffix), suffix))
			n++;
	closedir(d);
	return n;
}

/* The newest segment file of the spool; how many there are. */
static int last_segment(char *path, size_t n)
{
	DIR *d = opendir(sdir);
	struct dirent *de;
	char best[256] = "";
	int found = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".seg")) {
			if (strcmp(de->d_name, best) > 0)
				snprintf(best, sizeof(best), "%s", de->d_name);
			found++;
		}
	closedir(d);
	assert_true(found > 0);
	snprintf(path, n, "%s/%s", sdir, best);
	return found;
}

static void crc32c_matches_the_check_value(void **state)
{
	static const char big[] = "the quick brown fox jumps over the lazy dog, 0123456789";
	uint32_t whole, parts;

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* in pieces at every split (the aligned and unaligned paths) equals in one go */
	whole = crc32c(0, big, sizeof(big) - 1);
	for (size_t i = 0; i < sizeof(big); i++) {
		parts = crc32c(crc32c(0, big, i), big + i, sizeof(big) - 1 - i);
		assert_int_equal(parts, whole);
	}
}

static void records_come_back_in_order_with_their_seq(void **state)
{
	struct spool *sp;
	int got[16];
	uint64_t seqs[16];
	struct spool_stats st;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(put(sp, REPORT_SUMMARY, i, 10), (uint64_t)i + 1);
	assert_int_equal(drain(sp, REPORT_SUMMARY, got, seqs, 16), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(got[i], i);
		assert_int_equal(seqs[i], i + 1);
	}
	/* sent is not acknowledged: nothing more to send, nothing deleted */
	assert_int_equal(drain(sp, REPORT_SUMMARY, got, NULL, 16), 0);
	spool_get_stats(sp, &st);
	assert_int_equal(st.records, 10);
	assert_int_equal(spool_ack(sp, REPORT_SUMMARY, 4), 0);
	spool_get_stats(sp, &st);
	assert_int_equal(st.records, 6);
	assert_int_equal(st.acked, 4);
	/* a lost connection: the unacknowledged ones again, from 5 */
	spool_rewind(sp);
	assert_int_equal(drain(sp, REPORT_SUMMARY, got, seqs, 16), 6);
	assert_int_equal(seqs[0], 5);
	spool_close(sp);
	/* and after a restart too, marked replayed */
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	{
		struct spool_rec r;

		assert_int_equal(spool_next(sp, REPORT_SUMMARY, &r), 1);
		assert_int_equal(r.seq, 5);
		assert_true(r.replayed);
		spool_rec_free(&r);
	}
	spool_rewind(sp);
	assert_int_equal(drain(sp, REPORT_SUMMARY, got, seqs, 16), 6);
	assert_int_equal(spool_ack(sp, REPORT_SUMMARY, 10), 0);
	spool_get_stats(sp, &st);
	assert_int_equal(st.records, 0);
	/* a new record: past the block reserved before the restart (1025), not replayed */
	assert_int_equal(put(sp, REPORT_SUMMARY, 11, 10), 1 + SPOOL_SEQ_BLOCK);
	{
		struct spool_rec r;

		assert_int_equal(spool_next(sp, REPORT_SUMMARY, &r), 1);
		assert_int_equal(r.seq, 1 + SPOOL_SEQ_BLOCK);
		assert_false(r.replayed);
		spool_rec_free(&r);
	}
	spool_close(sp);
}

static void acknowledged_segments_are_deleted(void **state)
{
	struct spool *sp;
	int got[512];
	struct spool_stats st;
	uint64_t last = 0;

	(void)state;
	/* 256 KiB bound: 16 KiB segments; 300 records of ~300 bytes fill several */
	assert_int_equal(spool_open(&sp, sdir, 256 * 1024), 0);
	for (int i = 0; i < 300; i++)
		last = put(sp, REPORT_ALERT, i, 200);
	assert_true(count_files(".seg") > 3);
	assert_int_equal(drain(sp, REPORT_ALERT, got, NULL, 512), SPOOL_INFLIGHT);
	assert_int_equal(spool_ack(sp, REPORT_ALERT, SPOOL_INFLIGHT), 0);
	assert_int_equal(drain(sp, REPORT_ALERT, got, NULL, 512), 300 - SPOOL_INFLIGHT);
	assert_int_equal(got[0], SPOOL_INFLIGHT);
	assert_int_equal(spool_ack(sp, REPORT_ALERT, last), 0);
	/* only the open segment is left, empty of anything unacknowledged */
	assert_int_equal(count_files(".seg"), 1);
	spool_get_stats(sp, &st);
	assert_int_equal(st.records, 0);
	spool_close(sp);
	assert_int_equal(spool_open(&sp, sdir, 256 * 1024), 0);
	assert_int_equal(count_files(".seg"), 0);
	assert_int_equal(drain(sp, REPORT_ALERT, got, NULL, 512), 0);
	spool_close(sp);
}

static void seq_never_goes_back(void **state)
{
	char path[512], seg[512];
	struct spool *sp;
	uint64_t a, b;
	uint8_t *m;
	size_t mlen;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	for (int i = 0; i < 5; i++)
		a = put(sp, REPORT_SUMMARY, i, 10);
	spool_close(sp); /* as a kill -9 leaves it: nothing more written */
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	b = put(sp, REPORT_SUMMARY, 5, 10);
	assert_true(b > a);
	/* everything acknowledged and deleted: meta alone keeps the number */
	{
		int got[8];

		drain(sp, REPORT_SUMMARY, got, NULL, 8);
		assert_int_equal(spool_ack(sp, REPORT_SUMMARY, b), 0);
	}
	spool_close(sp);
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	a = put(sp, REPORT_SUMMARY, 6, 10);
	assert_true(a > b);
	spool_close(sp);
	/* meta lost or damaged: the segments on flash still bound it from below */
	snprintf(path, sizeof(path), "%s/meta", sdir);
	assert_int_equal(file_read(path, 0, &m, &mlen), 0);
	m[20] ^= 0x40;
	assert_int_equal(file_write_synced(path, m, mlen, 0600), 0);
	free(m);
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	b = put(sp, REPORT_SUMMARY, 7, 10);
	assert_true(b > a);
	spool_close(sp);
	/* a torn write at the end (a power cut in the middle of write()) */
	last_segment(seg, sizeof(seg));
	{
		FILE *f = fopen(seg, "ab");

		assert_non_null(f);
		fwrite("\xf5TGR\x40\x00\x00\x00\x09", 1, 9, f);
		fclose(f);
	}
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	a = put(sp, REPORT_SUMMARY, 8, 10);
	assert_true(a > b);
	{
		struct spool_stats st;

		spool_get_stats(sp, &st);
		assert_int_equal(st.torn, 1);
		assert_int_equal(st.records, 3); /* 6, 7 and 8: 5 was acknowledged */
	}
	spool_close(sp);
	/* counted once: the segment was rewritten without the torn bytes */
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	{
		struct spool_stats st;

		spool_get_stats(sp, &st);
		assert_int_equal(st.torn, 1);
	}
	spool_close(sp);
}

/* ---------------------------------------------------------------- damage */

#define NREC 5

struct sample {
	uint8_t *seg;
	size_t len;
	size_t start[NREC + 1];           /* record i is [start[i], start[i+1]) */
	char *json[NREC];
};

/* A segment the spool wrote: NREC records of different sizes, and where each one is. */
static void sample(struct sample *s)
{
	char path[512];
	struct spool *sp;
	struct spool_scan sc;
	struct spool_view v;
	int i = 0;

	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	for (int k = 0; k < NREC; k++)
		put(sp, REPORT_SUMMARY, k, (size_t)(3 + 17 * k));
	spool_close(sp);
	assert_int_equal(last_segment(path, sizeof(path)), 1);
	assert_int_equal(file_read(path, 0, &s->seg, &s->len), 0);
	spool_scan_begin(s->seg, s->len, &sc);
	assert_int_equal(sc.off, SPOOL_SEG_HDR);
	while (spool_scan_next(s->seg, s->len, &sc, &v) == 1) {
		s->start[i] = v.off;
		s->json[i] = strndup((const char *)v.data, v.len);
		i++;
	}
	assert_int_equal(i, NREC);
	assert_int_equal(sc.corrupt + sc.torn, 0);
	s->start[NREC] = s->len;
	assert_int_equal(remove_dir(NULL), 0);
	assert_int_equal(fresh_dir(NULL), 0);
}

static void sample_free(struct sample *s)
{
	free(s->seg);
	for (int i = 0; i < NREC; i++)
		free(s->json[i]);
}

/* The reader alone over buf: which records come back (a bit per record), and the counts. */
static unsigned scan_all(const struct sample *s, const uint8_t *buf, size_t len, uint64_t *corrupt,
			 uint64_t *torn)
{
	struct spool_scan sc;
	struct spool_view v;
	unsigned mask = 0;

	spool_scan_begin(buf, len, &sc);
	while (spool_scan_next(buf, len, &sc, &v) == 1) {
		int i;

		for (i = 0; i < NREC; i++)
			if (strlen(s->json[i]) == v.len && !memcmp(s->json[i], v.data, v.len))
				break;
		assert_true(i < NREC); /* nothing that was not written */
		assert_false(mask & (1u << i));
		mask |= 1u << i;
	}
	*corrupt = sc.corrupt;
	*torn = sc.torn;
	return mask;
}

/* The whole recovery of buf as the spool's only segment: the same answer as the reader's. */
static unsigned recover_all(const struct sample *s, const uint8_t *buf, size_t len, uint64_t *corrupt,
			    uint64_t *torn)
{
	char path[512];
	struct spool *sp;
	struct spool_rec r;
	struct spool_stats st;
	unsigned mask = 0;

	mkdir(sdir, 0700);
	snprintf(path, sizeof(path), "%s/summary-0000000000000001.seg", sdir);
	assert_int_equal(file_write_synced(path, buf, len, 0600), 0);
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	while (spool_next(sp, REPORT_SUMMARY, &r) == 1) {
		int i;

		for (i = 0; i < NREC; i++)
			if (!strcmp(s->json[i], r.json))
				break;
		assert_true(i < NREC);
		mask |= 1u << i;
		spool_rec_free(&r);
	}
	spool_get_stats(sp, &st);
	*corrupt = st.corrupt;
	*torn = st.torn;
	assert_int_equal(st.records, (uint64_t)__builtin_popcount(mask));
	spool_close(sp);
	assert_int_equal(remove_dir(NULL), 0);
	assert_int_equal(fresh_dir(NULL), 0);
	return mask;
}

static void every_truncation_keeps_the_whole_records(void **state)
{
	struct sample s;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	sample(&s);
	for (size_t len = 0; len <= s.len; len++) {
		unsigned want = 0;
		uint64_t torn_want = 0, corrupt, torn;
		bool boundary = len == 0 || len == SPOOL_SEG_HDR;

		for (int i = 0; i < NREC; i++) {
			if (s.start[i + 1] <= len)
				want |= 1u << i;
			if (s.start[i + 1] == len)
				boundary = true;
		}
		if (!boundary)
			torn_want = 1;
		assert_int_equal(scan_all(&s, s.seg, len, &corrupt, &torn), want);
		if (corrupt != 0 || torn != torn_want)
			fail_msg("cut at %zu: corrupt %" PRIu64 " torn %" PRIu64, len, corrupt, torn);
		assert_int_equal(recover_all(&s, s.seg, len, &corrupt, &torn), want);
		if (corrupt != 0 || torn != torn_want)
			fail_msg("recovery, cut at %zu: corrupt %" PRIu64 " torn %" PRIu64, len, corrupt, torn);
	}
	sample_free(&s);
	log_set_level(LOG_LVL_INFO);
}

static void every_flipped_byte_costs_one_record_at_most(void **state)
{
	struct sample s;
	uint8_t *buf;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	sample(&s);
	buf = malloc(s.len);
	for (size_t p = 0; p < s.len; p++) {
		unsigned want = (1u << NREC) - 1;
		uint64_t corrupt, torn;

		for (int i = 0; i < NREC; i++)
			if (p >= s.start[i] && p < s.start[i + 1])
				want &= ~(1u << i);
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, s.seg, s.len);
			buf[p] ^= (uint8_t)(1u << bit);
			assert_int_equal(scan_all(&s, buf, s.len, &corrupt, &torn), want);
			if (corrupt + torn != 1)
				fail_msg("bit %d of byte %zu: corrupt %" PRIu64 " torn %" PRIu64, bit, p,
					 corrupt, torn);
		}
		memcpy(buf, s.seg, s.len);
		buf[p] ^= 0xff;
		assert_int_equal(recover_all(&s, buf, s.len, &corrupt, &torn), want);
		if (corrupt + torn != 1)
			fail_msg("recovery, byte %zu inverted: corrupt %" PRIu64 " torn %" PRIu64, p, corrupt, torn);
	}
	free(buf);
	sample_free(&s);
	log_set_level(LOG_LVL_INFO);
}

/* ---------------------------------------------------------------- the bound */

static void a_full_spool_drops_summaries_first_and_alerts_last(void **state)
{
	struct spool *sp;
	struct spool_stats st;
	int got[4096];
	uint64_t seqs[4096];
	size_t n_alert, n_asset, n_sum;
	const uint64_t limit = 64 * 1024;
	int i;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_int_equal(spool_open(&sp, sdir, limit), 0);
	/* 40 alerts, 20 asset records, then summaries well past the bound */
	for (i = 0; i < 40; i++)
		put(sp, REPORT_ALERT, i, 200);
	for (i = 0; i < 20; i++)
		put(sp, REPORT_ASSET, i, 200);
	for (i = 0; i < 600; i++)
		put(sp, REPORT_SUMMARY, i, 200);
	spool_get_stats(sp, &st);
	assert_true(st.bytes <= limit);
	assert_true(st.dropped[REPORT_SUMMARY] > 0);
	assert_int_equal(st.dropped[REPORT_ALERT], 0);
	assert_int_equal(st.dropped[REPORT_ASSET], 0);
	/* every alert and asset record is there; the summaries left are the newest */
	assert_int_equal(drain(sp, REPORT_ALERT, got, NULL, 4096), 40);
	assert_int_equal(drain(sp, REPORT_ASSET, got, NULL, 4096), 20);
	n_sum = drain(sp, REPORT_SUMMARY, got, seqs, 4096);
	assert_int_equal(n_sum + st.dropped[REPORT_SUMMARY], 600);
	assert_int_equal(got[n_sum - 1], 599);
	for (size_t k = 1; k < n_sum; k++)
		assert_int_equal(got[k], got[k - 1] + 1);
	assert_int_equal(st.records, 60 + n_sum);
	spool_rewind(sp);
	/* alerts alone past the bound: the summaries all go, then the assets, then the oldest alerts */
	for (i = 40; i < 700; i++)
		put(sp, REPORT_ALERT, i, 200);
	spool_get_stats(sp, &st);
	assert_true(st.bytes <= limit);
	assert_int_equal(st.dropped[REPORT_SUMMARY], 600);
	assert_int_equal(st.dropped[REPORT_ASSET], 20);
	assert_true(st.dropped[REPORT_ALERT] > 0);
	n_alert = drain(sp, REPORT_ALERT, got, NULL, 4096);
	n_asset = drain(sp, REPORT_ASSET, got + n_alert, NULL, 4096);
	assert_int_equal(n_asset, 0);
	assert_int_equal(n_alert + st.dropped[REPORT_ALERT], 700);
	assert_int_equal(drain(sp, REPORT_SUMMARY, got, NULL, 4096), 0);
	spool_close(sp);
	/* the counters are all-time: a restart keeps them */
	assert_int_equal(spool_open(&sp, sdir, limit), 0);
	{
		struct spool_stats again;

		spool_get_stats(sp, &again);
		assert_int_equal(again.dropped[REPORT_SUMMARY], 600);
		assert_int_equal(again.dropped[REPORT_ALERT], st.dropped[REPORT_ALERT]);
	}
	spool_close(sp);
	log_set_level(LOG_LVL_INFO);
}

static void a_record_larger_than_the_bound_allows_is_refused(void **state)
{
	struct spool *sp;
	struct spool_stats st;
	json_t *r = rec(1, 20000);

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_int_equal(spool_open(&sp, sdir, 64 * 1024), 0);
	assert_int_equal(spool_put(sp, REPORT_SUMMARY, r, NULL), -EMSGSIZE);
	spool_get_stats(sp, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.records, 0);
	json_decref(r);
	spool_close(sp);
	log_set_level(LOG_LVL_INFO);
}

static void the_oldest_record_of_any_kind_goes_first(void **state)
{
	struct spool *sp;
	struct spool_rec r;
	enum report_kind k, order[] = { REPORT_ALERT, REPORT_SUMMARY, REPORT_ASSET, REPORT_ALERT,
					REPORT_ASSET, REPORT_SUMMARY };
	struct report_sink sink;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	assert_int_equal(spool_sink(sp, &sink), 0);
	for (size_t i = 0; i < (sizeof(order) / sizeof(order[0])); i++) {
		json_t *j = rec((int)i, 5);

		if (i == 3)
			spool_set_online(sp, false);
		/* the sink owns what it is given (report_sink.h) */
		assert_int_equal(sink.put(sink.ctx, order[i], j), 0);
	}
	/* a mask leaves kinds out: without alerts, the summary of tg.seq 2 is the oldest */
	assert_int_equal(spool_next_kind(sp, SPOOL_ALL_KINDS & ~(1u << REPORT_ALERT), &k), 0);
	assert_int_equal(k, REPORT_SUMMARY);
	assert_int_equal(spool_peek_seq(sp, REPORT_SUMMARY), 2);
	assert_int_equal(spool_next_kind(sp, 0, &k), -ENOENT);
	for (size_t i = 0; i < (sizeof(order) / sizeof(order[0])); i++) {
		assert_int_equal(spool_next_kind(sp, SPOOL_ALL_KINDS, &k), 0);
		assert_int_equal(k, order[i]);
		assert_int_equal(spool_next(sp, k, &r), 1);
		assert_int_equal(r.seq, i + 1);
		/* put while the uplink was down: replayed */
		assert_int_equal(r.replayed, i >= 3);
		spool_rec_free(&r);
	}
	assert_int_equal(spool_next_kind(sp, SPOOL_ALL_KINDS, &k), -ENOENT);
	spool_close(sp);
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * meta's bytes are docs/reports.md's version 1 (108 bytes, four slots of
 * watermarks and drops, the fourth zero since the "state" kind is gone): one
 * written by a build with four kinds reads, its tg.seq ceiling and counters
 * kept, and what this build writes back is the same layout.
 */
static void meta_keeps_the_version_1_layout(void **state)
{
	uint8_t m[108] = "TGSPMETA\x01", *back;
	char path[512];
	struct spool *sp;
	struct spool_stats st;
	size_t len;
	uint32_t crc;
	uint64_t seq;

	(void)state;
	le64(m + 16, 7000);                   /* the tg.seq ceiling */
	le64(m + 24, 6500);                   /* summaries acknowledged up to */
	le64(m + 32, 6400);                   /* alerts */
	le64(m + 40, 6300);                   /* assets */
	le64(m + 48, 0);                      /* the fourth slot */
	le64(m + 56, 11);                     /* summaries dropped */
	le64(m + 64, 0);
	le64(m + 72, 3);                      /* assets dropped */
	le64(m + 80, 0);
	le64(m + 88, 2);                      /* corrupt */
	le64(m + 96, 1);                      /* torn */
	crc = crc32c(0, m, 104);
	for (int i = 0; i < 4; i++)
		m[104 + i] = (uint8_t)(crc >> (8 * i));
	snprintf(path, sizeof(path), "%s/meta", sdir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(file_write_synced(path, m, sizeof(m), 0600), 0);

	assert_int_equal(spool_open(&sp, sdir, 1 << 20), 0);
	spool_get_stats(sp, &st);
	assert_int_equal(st.dropped[REPORT_SUMMARY], 11);
	assert_int_equal(st.dropped[REPORT_ASSET], 3);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.torn, 1);
	seq = put(sp, REPORT_ALERT, 0, 10);
	assert_true(seq >= 7000);
	spool_close(sp);

	assert_int_equal(file_read(path, 0, &back, &len), 0);
	assert_int_equal(len, 108);
	assert_memory_equal(back, "TGSPMETA\x01\0\0\0\0\0\0\0", 16);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(back[48 + i], 0); /* the fourth watermark */
		assert_int_equal(back[80 + i], 0); /* the fourth drop count */
	}
	assert_memory_equal(back + 24, m + 24, 24); /* the three watermarks */
	assert_memory_equal(back + 56, m + 56, 24); /* the three drop counts */
	free(back);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, fresh_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_matches_the_check_value),
		CASE(records_come_back_in_order_with_their_seq),
		CASE(acknowledged_segments_are_deleted),
		CASE(seq_never_goes_back),
		CASE(meta_keeps_the_version_1_layout),
		CASE(every_truncation_keeps_the_whole_records),
		CASE(every_flipped_byte_costs_one_record_at_most),
		CASE(a_full_spool_drops_summaries_first_and_alerts_last),
		CASE(a_record_larger_than_the_bound_allows_is_refused),
		CASE(the_oldest_record_of_any_kind_goes_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

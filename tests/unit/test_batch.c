/*
 * From the spool to the wire (firmware/report/batch.c, journal.c), against a
 * fake broker that acknowledges, fails and loses its connection when the
 * test says: every record arrives, none is lost to an outage, the backlog
 * goes oldest first and no faster than the drain rate (on the test's own
 * clock), a record too large is cut to its top entries, and the journal
 * holds exactly what was acknowledged.
 */
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
#include <zstd.h>

#include "core/file.h"
#define LOG_MODULE "test"
#include "core/log.h"
#include "report/batch.h"
#include "report/journal.h"
#include "report/spool.h"

static char dir[64], sdir[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int fresh_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/tg-batch.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	assert_non_null(mkdtemp(dir));
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	log_set_level(LOG_LVL_ERR);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_INFO);
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- the fake broker */

#define MAX_SEQ 8192

struct pending {
	uint32_t token;
	enum report_kind kind;
	char *lines;
};

struct broker {
	bool up;
	bool refuse;                      /* publish returns -EAGAIN */
	struct pending q[16];
	size_t nq;
	size_t messages;
	uint64_t wire_bytes;
	unsigned seen[MAX_SEQ];           /* times each tg.seq arrived */
	uint64_t order[MAX_SEQ];          /* tg.seq in order of arrival (first arrivals) */
	size_t norder;
	bool replayed[MAX_SEQ];
	long cut[MAX_SEQ];
	enum report_kind kind_of[MAX_SEQ];
};

static int fake_publish(void *ctx, enum report_kind kind, const void *msg, size_t len, uint32_t token)
{
	struct broker *br = ctx;
	size_t n;
	char *lines;

	if (!br->up || br->refuse || br->nq == 16)
		return -EAGAIN;
	lines = batch_decode(msg, len, &n);
	assert_non_null(lines);
	assert_int_equal(strlen(lines), n);
	assert_int_equal(lines[n - 1], '\n');
	br->q[br->nq++] = (struct pending){ .token = token, .kind = kind, .lines = lines };
	br->messages++;
	br->wire_bytes += len;
	return 0;
}

/* The broker takes message i: its records arrive (counted by tg.seq), then the PUBACK. */
static void deliver(struct broker *br, size_t i)
{
	char *save = NULL, *line;

	for (line = strtok_r(br->q[i].lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL), *tg;
		uint64_t seq;

		assert_non_null(j);
		tg = json_object_get(j, "tg");
		seq = (uint64_t)json_integer_value(json_object_get(tg, "seq"));
		assert_true(seq > 0 && seq < MAX_SEQ);
		if (!br->seen[seq]++)
			br->order[br->norder++] = seq;
		br->replayed[seq] = json_is_true(json_object_get(tg, "replayed"));
		br->cut[seq] = (long)json_integer_value(json_object_get(tg, "cut"));
		br->kind_of[seq] = br->q[i].kind;
		json_decref(j);
	}
}

static void take(struct broker *br, size_t i)
{
	free(br->q[i].lines);
	memmove(br->q + i, br->q + i + 1, (br->nq - i - 1) * sizeof(br->q[0]));
	br->nq--;
}

/* Acknowledge (after delivering) or fail the oldest pending message. */
static void answer(struct broker *br, struct batch *b, bool ok)
{
	uint32_t token = br->q[0].token;

	if (ok)
		deliver(br, 0);
	take(br, 0);
	batch_done(b, token, ok);
}

/* The connection goes: what was pending may or may not have reached the broker. */
static void cut_link(struct broker *br, struct batch *b, bool reached)
{
	while (br->nq) {
		uint32_t token = br->q[0].token;

		if (reached)
			deliver(br, 0);
		take(br, 0);
		batch_done(b, token, false);
	}
	br->up = false;
}

static json_t *rec(int i, int ntop)
{
	json_t *top = json_array(), *r;

	for (int k = 0; k < ntop; k++)
		json_array_append_new(top, json_pack("{s:s, s:i}", "host", "h", "bytes", 100000 - k));
	r = json_pack("{s:s, s:{s:s, s:s}, s:{s:s}, s:i, s:o}", "@timestamp", "2026-12-03T08:00:00Z",
		      "event", "kind", "metric", "dataset", "townguard.summary", "observer", "id", "gw-1",
		      "i", i, "top", top);
	return r;
}

static uint64_t put(struct spool *sp, enum report_kind k, int i, int ntop)
{
	json_t *r = rec(i, ntop);
	uint64_t seq;

	assert_int_equal(spool_put(sp, k, r, &seq), 0);
	json_decref(r);
	return seq;
}

/* ---------------------------------------------------------------- tests */

static void a_message_is_json_lines_in_one_zstd_frame(void **state)
{
	json_t *r[3] = { rec(1, 2), rec(2, 0), rec(3, 5) };
	uint8_t out[4096];
	size_t n;
	long len;
	char *lines, *want = NULL;

	(void)state;
	len = batch_encode(r, 3, out, sizeof(out));
	assert_true(len > 0);
	/* a zstd frame: its magic number */
	assert_memory_equal(out, "\x28\xb5\x2f\xfd", 4);
	lines = batch_decode(out, (size_t)len, &n);
	assert_non_null(lines);
	for (int i = 0; i < 3; i++) {
		char *js = json_dumps(r[i], JSON_COMPACT), *w;

		assert_true(asprintf(&w, "%s%s\n", want ? want : "", js) > 0);
		free(want);
		free(js);
		want = w;
	}
	assert_string_equal(lines, want);
	/* too small a buffer is said, not truncated */
	assert_int_equal(batch_encode(r, 3, out, 16), -EMSGSIZE);
	free(lines);
	free(want);
	for (int i = 0; i < 3; i++)
		json_decref(r[i]);
}

/*
 * Messages name the records' dictionary (REPORT_DICT_ID) and are smaller for
 * it; batch_decode() reads them and the frames of a firmware before it (no
 * dictionary), and refuses a dictionary it does not have.
 */
static void frames_with_and_without_the_dictionary_decode(void **state)
{
	json_t *r[3] = { rec(1, 2), rec(2, 0), rec(3, 5) };
	uint8_t with[4096], without[4096], other[4096], *dict2;
	char *lines, *back;
	size_t n, dlen = 0, llen;
	long len;
	size_t plain, len2;
	ZSTD_CCtx *cctx;
	const void *dict = batch_dict(REPORT_DICT_ID, &dlen);

	(void)state;
	assert_non_null(dict);
	assert_true(dlen > 1024);
	assert_null(batch_dict(REPORT_DICT_ID + 1, &n));
	assert_null(batch_dict(REPORT_DICT_ID_V1 - 1, &n));
	len = batch_encode(r, 3, with, sizeof(with));
	assert_true(len > 0);
	assert_int_equal(ZSTD_getDictID_fromFrame(with, (size_t)len), REPORT_DICT_ID);
	lines = batch_decode(with, (size_t)len, &llen);
	assert_non_null(lines);
	/* the same lines as one frame without a dictionary, as the firmware before it sent */
	plain = ZSTD_compress(without, sizeof(without), lines, llen, BATCH_ZSTD_LEVEL);
	assert_false(ZSTD_isError(plain));
	assert_int_equal(ZSTD_getDictID_fromFrame(without, plain), 0);
	back = batch_decode(without, plain, &n);
	assert_non_null(back);
	assert_int_equal(n, llen);
	assert_memory_equal(back, lines, llen);
	free(back);
	if ((size_t)len >= plain)
		fail_msg("with the dictionary %ld bytes, without %zu: it does not help", len, plain);
	/* a frame of version 1's dictionary, as firmware before version 2 sent: still read */
	{
		size_t v1len = 0;
		const void *v1 = batch_dict(REPORT_DICT_ID_V1, &v1len);
		ZSTD_CCtx *c1 = ZSTD_createCCtx();
		size_t l1;

		assert_non_null(v1);
		assert_non_null(c1);
		assert_int_not_equal(v1len, dlen);
		l1 = ZSTD_compress_usingDict(c1, other, sizeof(other), lines, llen, v1, v1len, BATCH_ZSTD_LEVEL);
		ZSTD_freeCCtx(c1);
		assert_false(ZSTD_isError(l1));
		assert_int_equal(ZSTD_getDictID_fromFrame(other, l1), REPORT_DICT_ID_V1);
		back = batch_decode(other, l1, &n);
		assert_non_null(back);
		assert_int_equal(n, llen);
		assert_memory_equal(back, lines, llen);
		free(back);
	}
	/* a dictionary of another ID (the same one, renumbered): refused, not misread */
	dict2 = malloc(dlen);
	assert_non_null(dict2);
	memcpy(dict2, dict, dlen);
	dict2[4] ^= 0x55;
	cctx = ZSTD_createCCtx();
	assert_non_null(cctx);
	len2 = ZSTD_compress_usingDict(cctx, other, sizeof(other), lines, llen, dict2, dlen, BATCH_ZSTD_LEVEL);
	ZSTD_freeCCtx(cctx);
	assert_false(ZSTD_isError(len2));
	assert_int_not_equal(ZSTD_getDictID_fromFrame(other, len2), REPORT_DICT_ID);
	assert_null(batch_decode(other, len2, &n));
	/* and a frame cut short */
	assert_null(batch_decode(with, (size_t)len - 1, &n));
	free(dict2);
	free(lines);
	for (int i = 0; i < 3; i++)
		json_decref(r[i]);
}

static void a_record_too_large_is_cut_to_its_top_entries(void **state)
{
	json_t *r = rec(7, 400);
	uint8_t out[600];
	long removed, len;
	json_t *top;

	(void)state;
	/* different hosts so it does not compress to nothing */
	for (size_t k = 0; k < 400; k++) {
		char h[32];

		snprintf(h, sizeof(h), "10.%zu.%zu.%zu", k * 7 % 251, k * 13 % 253, k);
		json_object_set_new(json_array_get(json_object_get(r, "top"), k), "host", json_string(h));
	}
	assert_int_equal(batch_encode(&r, 1, out, sizeof(out)), -EMSGSIZE);
	removed = batch_cut(r, sizeof(out));
	assert_true(removed > 0);
	len = batch_encode(&r, 1, out, sizeof(out));
	assert_true(len > 0 && len <= (long)sizeof(out));
	top = json_object_get(r, "top");
	assert_int_equal(json_array_size(top) + (size_t)removed, 400);
	/* the head of the list stays: the largest entries */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "bytes")), 100000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "tg"), "cut")), removed);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "observer"), "id")), "gw-1");
	json_decref(r);
}

static void every_record_arrives_across_outages(void **state)
{
	struct broker *br = calloc(1, sizeof(*br));
	const struct batch_ops ops = { .publish = fake_publish, .ctx = br };
	const struct batch_config cfg = { .drain_bps = 1u << 20, .max_msg = 1200 };
	struct journal j;
	struct spool *sp;
	struct batch *b;
	struct spool_stats st;
	struct batch_stats bs;
	uint64_t now = 1000, last = 0;
	unsigned rnd = 12345;
	int nput = 0;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 4 << 20), 0);
	assert_int_equal(journal_open(&j, dir, 1 << 20), 0);
	assert_int_equal(batch_new(&b, sp, &ops, &cfg, &j), 0);
	br->up = true;
	/* 3000 steps of 100 ms: records, acks, failures, outages, all by a fixed pseudo-random draw */
	for (int step = 0; step < 3000; step++, now += 100) {
		rnd = rnd * 1103515245u + 12345u;
		unsigned r = (rnd >> 8) % 1000;

		if (r < 300 && nput < 4000) {
			last = put(sp, r < 30 ? REPORT_ALERT : r < 40 ? REPORT_ASSET : REPORT_SUMMARY,
				   nput, (int)(r % 6));
			nput++;
		}
		if (br->up && r >= 990)
			cut_link(br, b, r & 1); /* an outage, the pending PUBACKs lost */
		else if (!br->up && r >= 950)
			br->up = true;
		batch_tick(b, now, br->up);
		if (br->nq && r % 7 < 5)
			answer(br, b, r % 97 != 0);
	}
	/* the end: the link comes back and stays */
	br->up = true;
	for (int step = 0; step < 2000 && (br->nq || spool_peek_seq(sp, REPORT_SUMMARY) ||
					   spool_peek_seq(sp, REPORT_ALERT) || spool_peek_seq(sp, REPORT_ASSET));
	     step++, now += 100) {
		batch_tick(b, now, true);
		while (br->nq)
			answer(br, b, true);
	}
	spool_get_stats(sp, &st);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.put, nput);
	assert_int_equal(st.dropped[REPORT_SUMMARY] + st.dropped[REPORT_ALERT] + st.dropped[REPORT_ASSET], 0);
	/* every tg.seq that was put arrived, none unknown */
	{
		size_t distinct = 0;

		for (uint64_t s = 1; s <= last; s++)
			distinct += br->seen[s] > 0;
		assert_int_equal(distinct, nput);
		assert_int_equal(br->norder, nput);
	}
	batch_get_stats(b, &bs);
	assert_true(bs.records >= (uint64_t)nput);
	assert_true(bs.failures > 0); /* the draw did make outages and failures */
	/* the journal holds what was acknowledged: at least every record once */
	journal_close(&j);
	{
		char path[128];
		uint8_t *data;
		size_t len, lines = 0;

		snprintf(path, sizeof(path), "%s/journal", dir);
		assert_int_equal(file_read(path, 0, &data, &len), 0);
		for (size_t i = 0; i < len; i++)
			lines += data[i] == '\n';
		assert_int_equal(lines, bs.records);
		free(data);
	}
	batch_free(b);
	spool_close(sp);
	free(br);
}

static void a_backlog_drains_oldest_first_at_the_rate(void **state)
{
	struct broker *br = calloc(1, sizeof(*br));
	const struct batch_ops ops = { .publish = fake_publish, .ctx = br };
	const struct batch_config cfg = { .drain_bps = 300, .max_msg = 1000 };
	struct spool *sp;
	struct batch *b;
	uint64_t now = 5000, t0;
	size_t i;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 4 << 20), 0);
	assert_int_equal(batch_new(&b, sp, &ops, &cfg, NULL), 0);
	/* an outage: 600 records of three kinds pile up */
	batch_tick(b, now, false);
	for (int k = 0; k < 600; k++)
		put(sp, k % 10 == 3 ? REPORT_ALERT : k % 10 == 7 ? REPORT_ASSET : REPORT_SUMMARY, k, 3);
	br->up = true;
	t0 = now;
	while (br->norder < 600 && now < t0 + 3600 * 1000) {
		now += 50;
		batch_tick(b, now, true);
		while (br->nq)
			answer(br, b, true);
	}
	assert_int_equal(br->norder, 600);
	/* on this clock: no more than the rate allows, plus the bucket's start (max_msg: a burst is at least one message) and one message of debt */
	assert_true((double)br->wire_bytes <=
		    300.0 * (double)(now - t0) / 1000.0 + 1000.0 + (double)cfg.max_msg);
	/* and it did take time: the rate held it back */
	assert_true(br->wire_bytes > 3 * 1000);
	assert_true(now - t0 >= (br->wire_bytes - 1000 - cfg.max_msg) * 1000 / 300);
	/* oldest first: within a kind strictly; across kinds each message starts at the oldest left */
	for (i = 1; i < br->norder; i++)
		if (br->kind_of[br->order[i]] == br->kind_of[br->order[i - 1]])
			assert_true(br->order[i] > br->order[i - 1]);
	for (i = 0; i < br->norder; i++)
		assert_true(br->replayed[br->order[i]]); /* put while the uplink was down */
	batch_free(b);
	spool_close(sp);
	free(br);
}

static void a_late_puback_acknowledges_in_publish_order(void **state)
{
	struct broker *br = calloc(1, sizeof(*br));
	const struct batch_ops ops = { .publish = fake_publish, .ctx = br };
	/* one record per message: 400 characters of noise each, 500 bytes a message */
	const struct batch_config cfg = { .drain_bps = 1 << 20, .max_msg = 500 };
	struct spool *sp;
	struct batch *b;
	struct spool_stats st;
	uint32_t t1, t2;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 4 << 20), 0);
	assert_int_equal(batch_new(&b, sp, &ops, &cfg, NULL), 0);
	for (int k = 0; k < 3; k++) {
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char noise[401];
		json_t *r = rec(k, 1);

		for (int c = 0; c < 400; c++)
			noise[c] = b64[(unsigned)rand() % 64];
		noise[400] = '\0';
		json_object_set_new(r, "noise", json_string(noise));
		assert_int_equal(spool_put(sp, REPORT_SUMMARY, r, NULL), 0);
		json_decref(r);
	}
	br->up = true;
	batch_tick(b, 1, true);
	assert_int_equal(br->nq, BATCH_INFLIGHT);
	t1 = br->q[0].token;
	t2 = br->q[1].token;
	/* the second's PUBACK first: nothing is acknowledged until the first's */
	batch_done(b, t2, true);
	spool_get_stats(sp, &st);
	assert_int_equal(st.acked, 0);
	batch_done(b, t1, true);
	spool_get_stats(sp, &st);
	assert_true(st.acked >= 2);
	/* a stale token (from before a rewind) changes nothing */
	batch_done(b, t1, false);
	spool_get_stats(sp, &st);
	assert_true(st.acked >= 2);
	while (br->nq)
		take(br, 0);
	batch_free(b);
	spool_close(sp);
	free(br);
}

/* The messages sent so far, per kind. */
static size_t sent_of(const struct broker *br, enum report_kind k, size_t *records)
{
	size_t n = 0;

	*records = 0;
	for (size_t i = 0; i < br->nq; i++)
		if (br->q[i].kind == k) {
			n++;
			for (const char *c = br->q[i].lines; *c; c++)
				*records += *c == '\n';
		}
	return n;
}

static void summaries_wait_for_the_next_ones_and_alerts_never(void **state)
{
	struct broker *br = calloc(1, sizeof(*br));
	const struct batch_ops ops = { .publish = fake_publish, .ctx = br };
	/* five 60 s intervals: the oldest waits 4.5 of them */
	const struct batch_config cfg = { .drain_bps = 1 << 20, .max_msg = 16384, .hold_ms = 270000 };
	struct spool *sp;
	struct batch *b;
	uint64_t now = 1000;
	size_t recs;

	(void)state;
	assert_int_equal(spool_open(&sp, sdir, 4 << 20), 0);
	/* a summary and an asset on flash from an earlier run: they go at the first tick */
	put(sp, REPORT_SUMMARY, 0, 3);
	put(sp, REPORT_ASSET, 0, 1);
	assert_int_equal(batch_new(&b, sp, &ops, &cfg, NULL), 0);
	br->up = true;
	batch_tick(b, now, true);
	assert_int_equal(sent_of(br, REPORT_SUMMARY, &recs), 1);
	assert_int_equal(sent_of(br, REPORT_ASSET, &recs), 1);
	while (br->nq)
		answer(br, b, true);
	/* a summary a minute, an asset in the second minute, an alert in the third */
	for (int m = 1; m <= 5; m++) {
		now += 60000;
		put(sp, REPORT_SUMMARY, m, 3);
		if (m == 2)
			put(sp, REPORT_ASSET, m, 1);
		if (m == 3)
			put(sp, REPORT_ALERT, m, 0);
		batch_tick(b, now, true);
		/* the alert goes at once, the rest waits */
		assert_int_equal(sent_of(br, REPORT_SUMMARY, &recs), 0);
		assert_int_equal(sent_of(br, REPORT_ASSET, &recs), 0);
		assert_int_equal(sent_of(br, REPORT_ALERT, &recs), m == 3);
		while (br->nq)
			answer(br, b, true);
	}
	/* 4.5 minutes after the first of them: the five summaries in one message, the asset in another */
	now += 30000;
	batch_tick(b, now, true);
	assert_int_equal(sent_of(br, REPORT_SUMMARY, &recs), 1);
	assert_int_equal(recs, 5);
	assert_int_equal(sent_of(br, REPORT_ASSET, &recs), 1);
	assert_int_equal(recs, 1);
	while (br->nq)
		answer(br, b, true);
	/* the next one waits again, unless the hub asks */
	now += 30000;
	put(sp, REPORT_SUMMARY, 6, 3);
	batch_tick(b, now, true);
	assert_int_equal(br->nq, 0);
	batch_flush(b);
	batch_tick(b, now + 1, true);
	assert_int_equal(sent_of(br, REPORT_SUMMARY, &recs), 1);
	while (br->nq)
		answer(br, b, true);
	/* an outage: what waited through it goes as the link comes back */
	put(sp, REPORT_SUMMARY, 7, 3);
	batch_tick(b, now += 1000, true);
	assert_int_equal(br->nq, 0);
	br->up = false;
	batch_tick(b, now += 20000, false);
	br->up = true;
	batch_tick(b, now += 1000, true);
	assert_int_equal(sent_of(br, REPORT_SUMMARY, &recs), 1);
	while (br->nq)
		answer(br, b, true);
	for (uint64_t q = 1; q <= 11; q++)
		assert_int_equal(br->seen[q], 1);
	batch_free(b);
	spool_close(sp);
	free(br);
}

static void the_journal_rotates_at_its_bound(void **state)
{
	struct journal j;
	char line[101];
	long n;
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(line, 'x', 99);
	line[99] = '\n';
	line[100] = '\0';
	assert_int_equal(journal_open(&j, dir, 1000), 0);
	for (int i = 0; i < 25; i++)
		assert_int_equal(journal_append(&j, line, 100), 0);
	journal_close(&j);
	/* at most two bounds' worth on flash, the newest whole */
	n = journal_print(dir, devnull);
	assert_true(n >= 10 && n <= 20);
	fclose(devnull);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, fresh_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_message_is_json_lines_in_one_zstd_frame),
		cmocka_unit_test(frames_with_and_without_the_dictionary_decode),
		cmocka_unit_test(a_record_too_large_is_cut_to_its_top_entries),
		CASE(every_record_arrives_across_outages),
		CASE(a_backlog_drains_oldest_first_at_the_rate),
		CASE(a_late_puback_acknowledges_in_publish_order),
		CASE(summaries_wait_for_the_next_ones_and_alerts_never),
		CASE(the_journal_rotates_at_its_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

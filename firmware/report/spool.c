/*
 * The report spool; see spool.h for what it promises and spool_format.c for
 * the bytes. Here: the queues of segments, the meta file, recovery, the
 * bound and the send cursors.
 *
 * Why segments per kind: the bound drops whole files (no rewriting on the
 * hot path) and drops by kind (summaries first, alerts last), and a queue's
 * records are in tg.seq order, so one watermark per kind says what the
 * broker has acknowledged. A segment is at most 1/16 of the bound (16 KiB to
 * 1 MiB): a drop frees a sixteenth at most, and a 64 MiB spool is 64 files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "spool"
#include "core/common.h"
#include "core/crc32c.h"
#include "core/file.h"
#include "core/log.h"
#include "report/record.h"
#include "report/spool.h"

#define SEG_MIN ((uint64_t)16 * 1024)
#define SEG_MAX ((uint64_t)1024 * 1024)
#define META_MAGIC "TGSPMETA" /* 8 bytes, no NUL on flash */
#define META_VERSION 1u
#define META_LEN 108
/*
 * meta keeps four u64 slots for the watermarks and four for the drop counts:
 * the fourth kind ("state" records) was never made and is gone, and the
 * fourth slots stay, written as zero, so a version-1 meta from before still
 * reads (its tg.seq ceiling with it: a spool rebuilt from its segments could
 * start the numbers again at 1 when they are all acknowledged).
 */
#define META_KIND_SLOTS 4
_Static_assert(SPOOL_KINDS <= META_KIND_SLOTS, "meta has a slot for each kind");

struct seg {
	uint64_t id;
	uint64_t first_seq, last_seq;
	uint32_t nrec;                    /* intact records in the file */
	uint32_t nacked;                  /* of which acknowledged (seq <= the watermark) */
	uint64_t bytes;
};

struct inflight {
	uint64_t seq, seg_id;
	size_t off;                       /* where its header starts */
};

struct queue {
	struct seg *segs;                 /* oldest first; the last one may be open for writing */
	size_t n, cap;
	int fd;                           /* the open (last) segment, or -1 */
	uint64_t acked;                   /* watermark: every record up to it is acknowledged */
	/* sending: the next record to look at, and a copy of its segment's bytes */
	uint64_t cur_id;
	size_t cur_off;
	uint8_t *buf;
	size_t buf_len, buf_cap;
	uint64_t buf_id;
	struct inflight fl[SPOOL_INFLIGHT];
	size_t nfl;
	uint64_t resent_upto;             /* handed out before a rewind: replayed when sent again */
};

struct spool {
	char dir[4096];
	uint64_t limit, seg_max, bytes;
	uint64_t next_seq, ceiling, run_first_seq, next_id;
	bool online;
	struct queue q[SPOOL_KINDS];
	struct spool_stats st;
};

static const char *const kind_names[SPOOL_KINDS] = { "summary", "alert", "asset" };
/* The order the bound drops in: the cheapest to lose first. */
static const enum report_kind drop_order[SPOOL_KINDS] = { REPORT_SUMMARY, REPORT_ASSET,
							  REPORT_ALERT };

const char *spool_kind_name(enum report_kind kind)
{
	return (unsigned)kind < SPOOL_KINDS ? kind_names[kind] : "?";
}

static void seg_path(const struct spool *sp, enum report_kind k, uint64_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/%s-%016" PRIx64 ".seg", sp->dir, kind_names[k], id);
}

/* ------------------------------------------------------------ meta */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int meta_write(struct spool *sp)
{
	uint8_t m[META_LEN] = { 0 }, *p = m + 16;
	char path[sizeof(sp->dir) + 8];
	uint32_t crc;
	int ret;

	memcpy(m, META_MAGIC, sizeof(META_MAGIC) - 1);
	m[8] = META_VERSION;
	put64(p, sp->ceiling), p += 8;
	for (int k = 0; k < META_KIND_SLOTS; k++)
		put64(p, k < SPOOL_KINDS ? sp->q[k].acked : 0), p += 8;
	for (int k = 0; k < META_KIND_SLOTS; k++)
		put64(p, k < SPOOL_KINDS ? sp->st.dropped[k] : 0), p += 8;
	put64(p, sp->st.corrupt), p += 8;
	put64(p, sp->st.torn), p += 8;
	crc = crc32c(0, m, (size_t)(p - m));
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(crc >> (8 * i));
	snprintf(path, sizeof(path), "%s/meta", sp->dir);
	ret = file_write_atomic(path, m, sizeof(m), 0600);
	if (ret < 0)
		log_err("%s: cannot write: %s", path, strerror(-ret));
	return ret;
}

/* Returns 0 when meta was read, -ENOENT or -EINVAL (logged) when it must be rebuilt. */
static int meta_read(struct spool *sp)
{
	char path[sizeof(sp->dir) + 8];
	uint8_t *m = NULL, *p;
	size_t len = 0;
	uint32_t crc;
	int ret;

	snprintf(path, sizeof(path), "%s/meta", sp->dir);
	ret = file_read(path, 4096, &m, &len);
	if (ret < 0) {
		if (ret != -ENOENT)
			log_warn("%s: cannot read (%s): starting from the segments", path, strerror(-ret));
		return ret;
	}
	crc = len == META_LEN ? crc32c(0, m, META_LEN - 4) : 0;
	if (len != META_LEN || memcmp(m, META_MAGIC, 8) != 0 || m[8] != META_VERSION ||
	    crc != ((uint32_t)m[104] | (uint32_t)m[105] << 8 | (uint32_t)m[106] << 16 |
		    (uint32_t)m[107] << 24)) {
		log_warn("%s: %zu bytes that are not a version-%u spool meta file (want %d bytes, "
			 "magic %s, a matching CRC): starting from the segments, unacknowledged records "
			 "are sent again", path, len, META_VERSION, META_LEN, META_MAGIC);
		free(m);
		return -EINVAL;
	}
	p = m + 16;
	sp->ceiling = get64(p), p += 8;
	for (int k = 0; k < META_KIND_SLOTS; k++, p += 8)
		if (k < SPOOL_KINDS)
			sp->q[k].acked = get64(p);
	for (int k = 0; k < META_KIND_SLOTS; k++, p += 8)
		if (k < SPOOL_KINDS)
			sp->st.dropped[k] = get64(p);
	sp->st.corrupt = get64(p), p += 8;
	sp->st.torn = get64(p);
	free(m);
	return 0;
}

/* ------------------------------------------------------------ segments */

static struct seg *queue_add(struct queue *q, uint64_t id)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		struct seg *s = realloc(q->segs, cap * sizeof(*s));

		if (!s)
			return NULL;
		q->segs = s;
		q->cap = cap;
	}
	memset(&q->segs[q->n], 0, sizeof(q->segs[0]));
	q->segs[q->n].id = id;
	return &q->segs[q->n++];
}

static ssize_t queue_find(const struct queue *q, uint64_t id)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->segs[i].id == id)
			return (ssize_t)i;
	return -1;
}

/* Remove the oldest segment of kind k from flash and the queue. */
static void queue_pop(struct spool *sp, enum report_kind k)
{
	struct queue *q = &sp->q[k];
	char path[sizeof(sp->dir) + 64];

	if (!q->n)
		return;
	if (q->n == 1 && q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
	seg_path(sp, k, q->segs[0].id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s: cannot delete: %s", path, strerror(errno));
	sp->bytes -= q->segs[0].bytes;
	sp->st.records -= q->segs[0].nrec - q->segs[0].nacked;
	if (q->buf_id == q->segs[0].id)
		q->buf_id = 0, q->buf_len = 0;
	memmove(q->segs, q->segs + 1, (q->n - 1) * sizeof(q->segs[0]));
	q->n--;
}

/*
 * Recover one segment file: count its intact and damaged records, and when
 * any was damaged rewrite it with the intact ones only (atomically), so the
 * same damage is counted once, not at every start.
 */
static int recover_seg(struct spool *sp, enum report_kind k, uint64_t id)
{
	char path[sizeof(sp->dir) + 64];
	struct queue *q = &sp->q[k];
	struct spool_scan sc;
	struct spool_view v;
	uint8_t *buf = NULL, *clean = NULL;
	size_t len = 0, clen = SPOOL_SEG_HDR;
	struct seg s = { .id = id };
	int ret;

	seg_path(sp, k, id, path, sizeof(path));
	ret = file_read(path, 0, &buf, &len);
	if (ret < 0) {
		log_err("%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	spool_scan_begin(buf, len, &sc);
	while (spool_scan_next(buf, len, &sc, &v) == 1) {
		if (v.kind != k) {
			sc.corrupt++;
			continue;
		}
		if (v.seq > s.last_seq || !s.nrec) {
			if (!s.nrec)
				s.first_seq = v.seq;
			s.last_seq = v.seq;
		}
		s.nrec++;
		if (v.seq <= q->acked)
			s.nacked++;
		if (v.seq >= sp->next_seq)
			sp->next_seq = v.seq + 1;
	}
	if (sc.corrupt || sc.torn) {
		log_warn("%s: %" PRIu64 " damaged and %" PRIu64 " torn record(s) skipped, %u intact kept",
			 path, sc.corrupt, sc.torn, s.nrec);
		sp->st.corrupt += sc.corrupt;
		sp->st.torn += sc.torn;
		/* a second pass copies the intact records: the common, undamaged case copies nothing */
		if (s.nrec && s.nacked < s.nrec) {
			clean = malloc(len + SPOOL_SEG_HDR);
			ret = clean ? 0 : -ENOMEM;
			if (clean) {
				memcpy(clean, SPOOL_SEG_MAGIC, SPOOL_SEG_HDR);
				spool_scan_begin(buf, len, &sc);
				while (spool_scan_next(buf, len, &sc, &v) == 1)
					if (v.kind == k) {
						memcpy(clean + clen, buf + v.off, SPOOL_REC_HDR + v.len);
						clen += SPOOL_REC_HDR + v.len;
					}
				ret = file_write_atomic(path, clean, clen, 0600);
			}
		}
		if (ret < 0)
			/* not fatal: the reader skips the damage again (and counts it again) */
			log_warn("%s: cannot rewrite without the damage: %s", path, strerror(-ret));
		else
			len = clen;
	}
	free(buf);
	free(clean);
	if (!s.nrec || s.nacked == s.nrec) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("%s: cannot delete: %s", path, strerror(errno));
		return 0;
	}
	s.bytes = len;
	if (!queue_add(q, id))
		return -ENOMEM;
	q->segs[q->n - 1] = s;
	sp->bytes += len;
	sp->st.records += s.nrec - s.nacked;
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every segment of the directory, oldest first (ids grow across kinds). */
static int recover(struct spool *sp)
{
	uint64_t (*found)[2] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(sp->dir);
	if (!d) {
		log_err("%s: cannot open: %s", sp->dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char name[16] = "", ext[8] = "";
		uint64_t id;
		int k = -1;

		if (sscanf(de->d_name, "%15[a-z]-%16" SCNx64 ".%7s", name, &id, ext) != 3 ||
		    strcmp(ext, "seg") != 0)
			continue;
		for (int i = 0; i < SPOOL_KINDS; i++)
			if (!strcmp(name, kind_names[i]))
				k = i;
		if (k < 0)
			continue;
		if (n == cap) {
			void *f = realloc(found, (cap = cap ? 2 * cap : 64) * sizeof(*found));

			if (!f) {
				ret = -ENOMEM;
				break;
			}
			found = f;
		}
		found[n][0] = id;
		found[n][1] = (uint64_t)k;
		n++;
	}
	closedir(d);
	if (!ret && n)
		qsort(found, n, sizeof(*found), id_cmp);
	for (size_t i = 0; !ret && i < n; i++) {
		ret = recover_seg(sp, (enum report_kind)found[i][1], found[i][0]);
		if (found[i][0] >= sp->next_id)
			sp->next_id = found[i][0] + 1;
	}
	free(found);
	return ret;
}

int spool_open(struct spool **out, const char *dir, uint64_t limit)
{
	uint64_t damage[2];
	struct spool *sp;
	int ret;

	*out = NULL;
	if (strlen(dir) >= sizeof(sp->dir) - 64)
		return -ENAMETOOLONG;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->limit = limit;
	sp->seg_max = limit / 16 < SEG_MIN ? SEG_MIN : limit / 16 > SEG_MAX ? SEG_MAX : limit / 16;
	sp->next_seq = 1;
	sp->next_id = 1;
	sp->online = true;
	for (int k = 0; k < SPOOL_KINDS; k++)
		sp->q[k].fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		log_err("%s: cannot create: %s", dir, strerror(errno));
		goto err;
	}
	if (meta_read(sp) == 0 && sp->ceiling > sp->next_seq)
		sp->next_seq = sp->ceiling;
	damage[0] = sp->st.corrupt;
	damage[1] = sp->st.torn;
	ret = recover(sp);
	if (ret < 0)
		goto err;
	/* Whatever meta said, never below a number found on flash. */
	for (int k = 0; k < SPOOL_KINDS; k++)
		if (sp->q[k].acked >= sp->next_seq)
			sp->next_seq = sp->q[k].acked + 1;
	/* the first put reserves the next block: no fsync here unless recovery counted damage */
	sp->ceiling = sp->next_seq;
	sp->run_first_seq = sp->next_seq;
	if (sp->st.corrupt != damage[0] || sp->st.torn != damage[1]) {
		ret = meta_write(sp);
		if (ret < 0)
			goto err;
	}
	log_info("%s: %" PRIu64 " record(s) waiting in %" PRIu64 " bytes (bound %" PRIu64
		 "), next tg.seq %" PRIu64, dir, sp->st.records, sp->bytes, limit, sp->next_seq);
	*out = sp;
	return 0;
err:
	spool_close(sp);
	return ret;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	for (int k = 0; k < SPOOL_KINDS; k++) {
		if (sp->q[k].fd >= 0)
			close(sp->q[k].fd);
		free(sp->q[k].segs);
		free(sp->q[k].buf);
	}
	free(sp);
}

/* ------------------------------------------------------------ writing */

/* Drop the oldest segment of the cheapest kind that has one; false when nothing is left. */
static bool drop_one(struct spool *sp)
{
	for (size_t i = 0; i < SPOOL_KINDS; i++) {
		enum report_kind k = drop_order[i];
		struct queue *q = &sp->q[k];
		struct seg *s;
		uint64_t lost;

		if (!q->n)
			continue;
		s = &q->segs[0];
		lost = s->nrec - s->nacked;
		sp->st.dropped[k] += lost;
		log_warn("spool full (%" PRIu64 " of %" PRIu64 " bytes): dropping %" PRIu64
			 " %s record(s), tg.seq %" PRIu64 "..%" PRIu64, sp->bytes, sp->limit, lost,
			 kind_names[k], s->first_seq, s->last_seq);
		/* what is in flight from it is forgotten: its PUBACK must not ack a later segment's */
		while (q->nfl && q->fl[0].seg_id == s->id) {
			memmove(q->fl, q->fl + 1, (q->nfl - 1) * sizeof(q->fl[0]));
			q->nfl--;
		}
		if (q->cur_id == s->id)
			q->cur_id = 0, q->cur_off = 0;
		if (s->last_seq > q->acked)
			q->acked = s->last_seq; /* never to be sent: as good as acknowledged */
		queue_pop(sp, k);
		return true;
	}
	return false;
}

static int seg_create(struct spool *sp, enum report_kind k)
{
	struct queue *q = &sp->q[k];
	char path[sizeof(sp->dir) + 64];
	uint64_t id = sp->next_id;
	int fd;

	seg_path(sp, k, id, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("%s: cannot create: %s", path, strerror(errno));
		return -errno;
	}
	if (write(fd, SPOOL_SEG_MAGIC, SPOOL_SEG_HDR) != SPOOL_SEG_HDR || fdatasync(fd) < 0 ||
	    file_sync_dir(path) < 0) {
		int e = errno ? errno : EIO;

		log_err("%s: cannot start the segment: %s", path, strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	if (!queue_add(q, id)) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	q->segs[q->n - 1].bytes = SPOOL_SEG_HDR;
	sp->bytes += SPOOL_SEG_HDR;
	sp->next_id++;
	q->fd = fd;
	return 0;
}

int spool_put(struct spool *sp, enum report_kind kind, json_t *rec, uint64_t *seq_out)
{
	struct queue *q;
	uint8_t *buf = NULL;
	char *js = NULL;
	size_t len, need;
	uint64_t seq;
	bool dropped = false;
	struct seg *s;
	int ret;

	if ((unsigned)kind >= SPOOL_KINDS || !json_is_object(rec))
		return -EINVAL;
	q = &sp->q[kind];
	seq = sp->next_seq;
	if (seq >= sp->ceiling) {
		/* the block's end is on flash before the first number of it is used */
		sp->ceiling = seq + SPOOL_SEQ_BLOCK;
		ret = meta_write(sp);
		if (ret < 0) {
			sp->ceiling = seq;
			goto refused;
		}
	}
	ret = record_set_seq(rec, seq);
	if (ret < 0)
		goto refused;
	js = record_dumps(rec, &len);
	if (!js) {
		ret = -ENOMEM;
		goto refused;
	}
	need = SPOOL_REC_HDR + len;
	if (len > SPOOL_RECORD_MAX || need > sp->limit / 4) {
		log_err("%s record of %zu bytes refused: the spool takes at most %zu (the smaller of "
			"%u and a quarter of the bound %" PRIu64 ")", kind_names[kind], len,
			(size_t)(sp->limit / 4 < SPOOL_RECORD_MAX ? sp->limit / 4 - SPOOL_REC_HDR :
								    SPOOL_RECORD_MAX),
			SPOOL_RECORD_MAX, sp->limit);
		ret = -EMSGSIZE;
		goto refused;
	}
	if (q->fd >= 0 && q->segs[q->n - 1].bytes + need > sp->seg_max) {
		close(q->fd);
		q->fd = -1;
	}
	while (sp->bytes + need + (q->fd < 0 ? SPOOL_SEG_HDR : 0) > sp->limit && drop_one(sp))
		dropped = true;
	if (dropped)
		meta_write(sp); /* the drop counters and watermarks are all-time */
	if (q->fd < 0) {
		ret = seg_create(sp, kind);
		if (ret < 0)
			goto refused;
	}
	buf = malloc(need);
	if (!buf) {
		ret = -ENOMEM;
		goto refused;
	}
	spool_encode(buf, seq, kind, sp->online ? 0 : SPOOL_F_LATE, js, (uint32_t)len);
	s = &q->segs[q->n - 1];
	if (write(q->fd, buf, need) != (ssize_t)need || fdatasync(q->fd) < 0) {
		ret = errno ? -errno : -EIO;
		log_err("%s segment %016" PRIx64 ": cannot write a record: %s", kind_names[kind],
			s->id, strerror(-ret));
		/* a partial write is cut off again; what cannot be is torn, and the reader skips it */
		if (ftruncate(q->fd, (off_t)s->bytes) < 0)
			log_warn("cannot cut the partial record: %s", strerror(errno));
		goto refused;
	}
	if (!s->nrec)
		s->first_seq = seq;
	s->last_seq = seq;
	s->nrec++;
	s->bytes += need;
	sp->bytes += need;
	sp->next_seq = seq + 1;
	sp->st.records++;
	sp->st.put++;
	if (seq_out)
		*seq_out = seq;
	free(buf);
	free(js);
	return 0;
refused:
	sp->st.refused++;
	free(buf);
	free(js);
	return ret;
}

/* report_sink.h: the sink owns the record once it is put. */
static int spool_sink_put(void *ctx, enum report_kind kind, json_t *rec)
{
	int ret = spool_put(ctx, kind, rec, NULL);

	json_decref(rec);
	return ret;
}

int spool_sink(struct spool *sp, struct report_sink *out)
{
	out->put = spool_sink_put;
	out->ctx = sp;
	return 0;
}

void spool_set_online(struct spool *sp, bool online)
{
	sp->online = online;
}

/* ------------------------------------------------------------ sending */

/* Bring q->buf up to date with segment i's bytes on flash (the open one grows). */
static int queue_load(struct spool *sp, enum report_kind k, size_t i)
{
	struct queue *q = &sp->q[k];
	struct seg *s = &q->segs[i];
	char path[sizeof(sp->dir) + 64];
	ssize_t got;
	int fd;

	if (q->buf_id != s->id)
		q->buf_len = 0;
	q->buf_id = s->id;
	if (q->buf_len >= s->bytes)
		return 0;
	if (s->bytes > q->buf_cap) {
		uint8_t *b = realloc(q->buf, s->bytes);

		if (!b)
			return -ENOMEM;
		q->buf = b;
		q->buf_cap = s->bytes;
	}
	seg_path(sp, k, s->id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	got = pread(fd, q->buf + q->buf_len, s->bytes - q->buf_len, (off_t)q->buf_len);
	close(fd);
	if (got < 0 || (size_t)got != s->bytes - q->buf_len) {
		log_err("%s: read %zd of %" PRIu64 " bytes", path, got, s->bytes - q->buf_len);
		q->buf_id = 0;
		q->buf_len = 0;
		return -EIO;
	}
	q->buf_len = s->bytes;
	return 0;
}

/* The next unsent record of kind k, without taking it: 1, 0 or -errno. */
static int queue_peek(struct spool *sp, enum report_kind k, struct spool_view *v, size_t *seg_i,
		      size_t *next_off)
{
	struct queue *q = &sp->q[k];
	ssize_t i = q->cur_id ? queue_find(q, q->cur_id) : -1;
	size_t off = q->cur_off;

	if (i < 0)
		i = 0, off = 0;
	for (; (size_t)i < q->n; i++, off = 0) {
		struct spool_scan sc;
		int ret = queue_load(sp, k, (size_t)i);

		if (ret < 0)
			return ret;
		spool_scan_begin(q->buf, q->buf_len, &sc);
		if (off > sc.off)
			sc.off = off;
		/* damage was counted at recovery or is a write that failed: skipped here silently */
		while (spool_scan_next(q->buf, q->buf_len, &sc, v) == 1) {
			if (v->seq <= q->acked || v->kind != k ||
			    (q->nfl && v->seq <= q->fl[q->nfl - 1].seq))
				continue;
			*seg_i = (size_t)i;
			*next_off = sc.off;
			return 1;
		}
	}
	return 0;
}

uint64_t spool_peek_seq(struct spool *sp, enum report_kind kind)
{
	struct spool_view v;
	size_t i, off;

	if ((unsigned)kind >= SPOOL_KINDS || sp->q[kind].nfl >= SPOOL_INFLIGHT)
		return 0;
	return queue_peek(sp, kind, &v, &i, &off) == 1 ? v.seq : 0;
}

int spool_next_kind(struct spool *sp, unsigned int mask, enum report_kind *kind)
{
	uint64_t best = 0;

	for (int k = 0; k < SPOOL_KINDS; k++) {
		uint64_t s = mask & 1u << k ? spool_peek_seq(sp, (enum report_kind)k) : 0;

		if (s && (!best || s < best)) {
			best = s;
			*kind = (enum report_kind)k;
		}
	}
	return best ? 0 : -ENOENT;
}

int spool_next(struct spool *sp, enum report_kind kind, struct spool_rec *r)
{
	struct queue *q;
	struct spool_view v;
	size_t i, off;
	int ret;

	memset(r, 0, sizeof(*r));
	if ((unsigned)kind >= SPOOL_KINDS)
		return -EINVAL;
	q = &sp->q[kind];
	if (q->nfl >= SPOOL_INFLIGHT)
		return 0;
	ret = queue_peek(sp, kind, &v, &i, &off);
	if (ret <= 0)
		return ret;
	r->json = malloc(v.len + 1);
	if (!r->json)
		return -ENOMEM;
	memcpy(r->json, v.data, v.len);
	r->json[v.len] = '\0';
	r->len = v.len;
	r->kind = kind;
	r->seq = v.seq;
	r->replayed = v.seq < sp->run_first_seq || v.seq <= q->resent_upto || (v.flags & SPOOL_F_LATE);
	q->fl[q->nfl].seq = v.seq;
	q->fl[q->nfl].seg_id = q->segs[i].id;
	q->fl[q->nfl].off = v.off;
	q->nfl++;
	q->cur_id = q->segs[i].id;
	q->cur_off = off;
	return 1;
}

void spool_unnext(struct spool *sp, enum report_kind kind)
{
	struct queue *q;

	if ((unsigned)kind >= SPOOL_KINDS || !sp->q[kind].nfl)
		return;
	q = &sp->q[kind];
	q->nfl--;
	q->cur_id = q->fl[q->nfl].seg_id;
	q->cur_off = q->fl[q->nfl].off;
}

void spool_rec_free(struct spool_rec *r)
{
	free(r->json);
	r->json = NULL;
}

int spool_ack(struct spool *sp, enum report_kind kind, uint64_t upto)
{
	struct queue *q;
	size_t n = 0;

	if ((unsigned)kind >= SPOOL_KINDS)
		return -EINVAL;
	q = &sp->q[kind];
	while (n < q->nfl && q->fl[n].seq <= upto) {
		ssize_t i = queue_find(q, q->fl[n].seg_id);

		if (i >= 0)
			q->segs[i].nacked++;
		n++;
	}
	if (!n)
		return 0; /* a late PUBACK for what a rewind or a drop already forgot */
	memmove(q->fl, q->fl + n, (q->nfl - n) * sizeof(q->fl[0]));
	q->nfl -= n;
	sp->st.records -= n;
	sp->st.acked += n;
	if (upto > q->acked)
		q->acked = upto;
	/* emptied segments go; the open one stays open until it is full */
	while (q->n && q->segs[0].nacked >= q->segs[0].nrec && !(q->n == 1 && q->fd >= 0))
		queue_pop(sp, kind);
	return meta_write(sp);
}

void spool_rewind(struct spool *sp)
{
	for (int k = 0; k < SPOOL_KINDS; k++) {
		struct queue *q = &sp->q[k];

		/*
		 * Sent and unacknowledged, or waiting behind those: every record on
		 * flash now waited on a connection that was dead (a black hole is
		 * only noticed after the keepalive), so it goes out late.
		 */
		q->resent_upto = sp->next_seq - 1;
		q->nfl = 0;
		q->cur_id = 0;
		q->cur_off = 0;
	}
}

void spool_get_stats(const struct spool *sp, struct spool_stats *st)
{
	*st = sp->st;
	st->bytes = sp->bytes;
	st->limit = sp->limit;
	st->next_seq = sp->next_seq;
	st->segments = 0;
	for (int k = 0; k < SPOOL_KINDS; k++)
		st->segments += sp->q[k].n;
}

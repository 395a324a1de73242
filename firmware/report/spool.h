/*
 * The report spool (docs/reports.md "Spool format"): every record goes to
 * flash before it is sent, and leaves flash only when the broker has
 * acknowledged it (QoS 1 PUBACK), so no outage, kill -9 or power cut within
 * the spool's bound loses one.
 *
 * <data>/spool/ holds one queue of append-only segment files per record kind
 * (`summary-<id>.seg`, `alert-<id>.seg`, ...) and `meta` (the tg.seq ceiling,
 * the acknowledged watermark of each kind, the drop and damage counters),
 * replaced atomically. Each record is length-prefixed and carries its tg.seq
 * and a CRC-32C; the reader resynchronises on the next record's magic, so a
 * torn or corrupt record is skipped and counted, never a reason to stall or
 * to lose the records after it.
 *
 * tg.seq never goes back: numbers are reserved in blocks (SPOOL_SEQ_BLOCK)
 * whose end is on flash before the first of them is used; a restart resumes
 * at the end of the last reserved block, so at most a block of numbers is
 * skipped, none reused.
 *
 * Bounded by size: when a record would pass the bound, whole segments go,
 * oldest first, kind by kind in the order summary, asset, alert (the
 * summaries are the cheapest to lose: the next one says most of the same;
 * an alert is the one thing the SOC must see), every dropped record counted.
 *
 * Sending: spool_next_kind() names the kind whose next unsent record is the
 * oldest, spool_next() hands out that record (at most SPOOL_INFLIGHT of a
 * kind unacknowledged), spool_ack() is the PUBACK, spool_rewind() the lost
 * connection (everything unacknowledged is sent again; the collector
 * deduplicates by observer.id and tg.seq).
 *
 * One thread (the loop); nothing here is thread-safe.
 */
#ifndef TG_SPOOL_H
#define TG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "report/report_sink.h"

#define SPOOL_KINDS 3
/* Records sent and not yet acknowledged, per kind: a few messages of a batch's worth. */
#define SPOOL_INFLIGHT 256
/*
 * tg.seq numbers reserved per write of meta: a restart skips at most this
 * many, and meta is rewritten once per this many records (two fsyncs).
 */
#define SPOOL_SEQ_BLOCK 1024
/* tg.seq runs from 1 to this (2^62: a record a millisecond for 146 million years). */
#define SPOOL_SEQ_LIMIT (1ull << 62)
/* The largest record (its JSON) the spool takes; a summary is about 1 KiB. */
#define SPOOL_RECORD_MAX 262144u

/* On flash: one record's header, little-endian (docs/reports.md). */
#define SPOOL_REC_MAGIC 0x524754f5u /* bytes f5 54 47 52: 0xf5 never occurs in UTF-8 */
#define SPOOL_REC_HDR 24
#define SPOOL_SEG_MAGIC "TGSPOOL\x01"
#define SPOOL_SEG_HDR 8

/* Record flags. */
#define SPOOL_F_LATE 0x01 /* written while the uplink was down: tg.replayed when sent */

struct spool;

struct spool_stats {
	uint64_t records;                 /* on flash, not yet acknowledged */
	uint64_t bytes;                   /* the segment files' size */
	uint64_t limit;                   /* the bound, bytes */
	uint64_t segments;
	uint64_t next_seq;                /* the tg.seq of the next record */
	uint64_t put;                     /* records written since open */
	uint64_t acked;                   /* records acknowledged since open */
	uint64_t dropped[SPOOL_KINDS];    /* pushed out by the bound (persisted: all time) */
	uint64_t refused;                 /* larger than the bound allows, or a write failed */
	uint64_t corrupt;                 /* damaged records skipped (persisted: all time) */
	uint64_t torn;                    /* a segment's last record cut short (persisted) */
};

/* A record handed out for sending. */
struct spool_rec {
	enum report_kind kind;
	uint64_t seq;
	bool replayed;                    /* sent late: written before this run or while the uplink
					   was down, or on flash when a connection was lost */
	char *json;                       /* malloc'ed, NUL-terminated, len bytes */
	size_t len;
};

/*
 * Open (creating it, mode 0700) the spool in dir, bounded by limit bytes,
 * and recover it: every segment is read and checked, damaged records are
 * counted and the segment is rewritten without them, acknowledged ones are
 * deleted. Returns 0 or -errno (logged).
 */
int spool_open(struct spool **out, const char *dir, uint64_t limit);
void spool_close(struct spool *sp);

/*
 * Give rec (kept by the caller) tg.seq (record_set_seq), write it and fdatasync. Makes room
 * first by dropping whole segments (see above). *seq (may be NULL): the
 * number given. Returns 0, -EMSGSIZE (larger than SPOOL_RECORD_MAX or than a
 * quarter of the bound), or -errno of the write; each logged and counted.
 */
int spool_put(struct spool *sp, enum report_kind kind, json_t *rec, uint64_t *seq);

/* A report_sink whose put() is spool_put(); it owns (and frees) each record it is given. */
int spool_sink(struct spool *sp, struct report_sink *out);

/* The uplink's state: records put while it is down are marked late (tg.replayed). */
void spool_set_online(struct spool *sp, bool online);

/*
 * The kind whose next unsent record is the oldest (lowest tg.seq) among the
 * kinds of mask (bit 1 << kind) that may send more now: 0, or -ENOENT when
 * there is none.
 */
#define SPOOL_ALL_KINDS ((1u << SPOOL_KINDS) - 1)
int spool_next_kind(struct spool *sp, unsigned int mask, enum report_kind *kind);
/*
 * Hand out kind's next unsent record: 1 (fill r; spool_rec_free it), 0 when
 * none is left or SPOOL_INFLIGHT are waiting for their PUBACK, -errno when
 * the segment cannot be read.
 */
int spool_next(struct spool *sp, enum report_kind kind, struct spool_rec *r);
void spool_rec_free(struct spool_rec *r);
/* Give back the last record spool_next() handed out of kind (it is next again). */
void spool_unnext(struct spool *sp, enum report_kind kind);
/* Sent records can be peeked without taking them: tg.seq of the next one, or 0. */
uint64_t spool_peek_seq(struct spool *sp, enum report_kind kind);

/*
 * The broker acknowledged every sent record of kind up to tg.seq upto:
 * persist the watermark, delete the segments it empties. Returns 0 or -errno.
 */
int spool_ack(struct spool *sp, enum report_kind kind, uint64_t upto);
/* The connection is gone: every unacknowledged record is unsent again, and replayed when sent. */
void spool_rewind(struct spool *sp);

void spool_get_stats(const struct spool *sp, struct spool_stats *st);
const char *spool_kind_name(enum report_kind kind);

/* ------------------------------------------------------------ the reader */

/* One record found in a segment's bytes. */
struct spool_view {
	uint64_t seq;
	uint8_t kind, flags;
	const uint8_t *data;              /* the JSON, len bytes, not NUL-terminated */
	uint32_t len;
	size_t off;                       /* where its header starts */
};

/* Where a scan of one segment is, and what it skipped. */
struct spool_scan {
	size_t off;
	uint64_t corrupt, torn;
};

/* Start scanning a segment's bytes: checks (and counts) the segment header. */
void spool_scan_begin(const uint8_t *buf, size_t len, struct spool_scan *sc);
/*
 * The next intact record at or after sc->off: 1 (v filled, sc->off past it),
 * 0 at the end. Bytes that are not an intact record are skipped up to the
 * next one; each such run counts once, as torn when it is a record cut short
 * by the end of the buffer, else as corrupt.
 */
int spool_scan_next(const uint8_t *buf, size_t len, struct spool_scan *sc, struct spool_view *v);
/* Write a record (header + json) into out (SPOOL_REC_HDR + len bytes). */
void spool_encode(uint8_t *out, uint64_t seq, enum report_kind kind, uint8_t flags,
		  const void *json, uint32_t len);

#endif

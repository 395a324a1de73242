/*
 * From the spool to the wire (issue 12, items 6 and 7; docs/reports.md
 * "On the wire"): the records waiting in the spool go out oldest first, as
 * many of one kind as fit in one MQTT message, as one zstd frame of JSON
 * lines, on tg/v1/<region>/gw/<id>/summary|alert|asset (QoS 1). A message's
 * PUBACK acknowledges its records in the spool (which deletes them) and
 * writes them to the journal; a failed publish or a lost connection sends
 * them again (the collector deduplicates by observer.id and tg.seq).
 *
 * A record too large for a message alone is cut, never dropped whole: its
 * longest array (the top-N lists, sorted largest first) loses its tail half
 * until it fits, and tg.cut counts the entries that went; a record with no
 * array left to cut goes as its envelope with tg.cut.
 *
 * Summaries and asset records are not urgent, and consecutive summaries
 * share most of their text: they wait in the spool until the oldest of
 * them has waited hold_ms ([report] batch_intervals of summaries), then go
 * together, a few intervals in one frame (a third fewer bytes each on the
 * bench's office). Alerts never wait. Records on flash from before this
 * start go at once, as does whatever waits when the uplink comes back, and
 * everything after batch_flush() (the hub's `report` command).
 *
 * The drain is rate-limited (a byte bucket filled at [report] drain_bps,
 * which may run into debt by one message), so a day's backlog after an
 * outage does not saturate a rural uplink.
 *
 * The publishing is an op (batch_ops): the gateway's is the uplink
 * (batch_uplink_ops in wire.c), the unit tests' a fake broker.
 */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "report/spool.h"

/* Messages waiting for their PUBACK at once (lwIP allows 4; state and the will need room). */
#define BATCH_INFLIGHT 2
/* Records in one message at most. */
#define BATCH_RECORDS_MAX 64
/*
 * zstd's level. With the dictionary, on the bench's office (docs/benchmarks.md):
 * 9 makes summaries 10% smaller than 3 at the same CPU; 15 another 9% for
 * four times the CPU (a quarter of a millisecond for a 4.5 KB summary on
 * the bench's VM); 19 gains nothing more at four times that again.
 */
#define BATCH_ZSTD_LEVEL 15

/*
 * The dictionary every message is compressed with (records_dict.c, made by
 * tools/mk-report-dict): its ID is in each frame's header. Version 2 (32
 * KiB, trained on the records of 48-bit pseudonyms) took over from version
 * 1 (16 KiB), whose frames stay decodable.
 */
#define REPORT_DICT_ID UINT32_C(0x54570002)     /* "TW", version 2 */
#define REPORT_DICT_ID_V1 UINT32_C(0x54570001)  /* version 1 */
/* The dictionary of ID id (*len set), NULL when the firmware has none of that ID. */
const void *batch_dict(uint32_t id, size_t *len);

struct batch;

struct batch_ops {
	/*
	 * Publish msg (len bytes) on kind's topic at QoS 1. Return 0 when it is
	 * queued: the owner then calls batch_done(b, token, ok) exactly once,
	 * ok when the PUBACK came, !ok when the publish failed or the
	 * connection went. -EAGAIN: not now (not connected, queue full).
	 */
	int (*publish)(void *ctx, enum report_kind kind, const void *msg, size_t len, uint32_t token);
	void *ctx;
};

struct batch_config {
	uint32_t drain_bps;   /* compressed bytes a second */
	size_t max_msg;       /* the largest payload the publisher takes */
	uint64_t hold_ms;     /* how long summaries and assets wait for more (0: never) */
};

struct batch_stats {
	uint64_t messages, records;       /* acknowledged */
	uint64_t bytes_json, bytes_wire;  /* of those: JSON lines, compressed */
	uint64_t cut;                     /* records cut to fit */
	uint64_t failures;                /* publishes refused or unacknowledged */
	uint64_t throttled;               /* ticks the rate limit held a message back */
};

/* journal: where acknowledged records are written (NULL: nowhere). */
struct journal;
int batch_new(struct batch **out, struct spool *sp, const struct batch_ops *ops,
	      const struct batch_config *cfg, struct journal *journal);
void batch_free(struct batch *b);

/* Send what the rate and the in-flight limit allow. connected: the uplink's state now. */
void batch_tick(struct batch *b, uint64_t now_ms, bool connected);
/* Send what waits (held summaries and assets) at the next tick. */
void batch_flush(struct batch *b);
/* The outcome of a publish (see batch_ops). */
void batch_done(struct batch *b, uint32_t token, bool ok);
void batch_get_stats(const struct batch *b, struct batch_stats *st);

/*
 * One message: recs[0..n) as JSON lines in one zstd frame, into out (cap
 * bytes). Returns its length, -EMSGSIZE when it does not fit, -EIO.
 */
long batch_encode(json_t *const *recs, size_t n, uint8_t *out, size_t cap);
/*
 * Cut rec until batch_encode of it alone fits in cap bytes (see above).
 * Returns the number of entries removed (0: it fitted), -errno.
 */
long batch_cut(json_t *rec, size_t cap);
/*
 * The JSON lines of a message (a subscriber's side; tests): malloc'ed, *len
 * bytes. A frame made with a dictionary the firmware has (REPORT_DICT_ID)
 * or with none (firmware before it); NULL for anything else.
 */
char *batch_decode(const void *msg, size_t len, size_t *out_len);

#endif

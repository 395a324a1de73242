/*
 * The envelope every record to the SOC carries (docs/reports.md), in Elastic
 * Common Schema names so Elastic, OpenSearch or Wazuh take it as it is:
 *
 *   @timestamp         when the record's content ends (ISO 8601, UTC, ms)
 *   ecs.version        RECORD_ECS_VERSION
 *   event.kind         metric | alert | asset
 *   event.dataset      townguard.summary | alert | asset
 *   event.id           32 hex digits: 16 the gateway's (a hash of region and
 *                      id), 16 tg.seq's (set with it by the sink)
 *   observer.id/name/version   the gateway's id, its name, the firmware version
 *   organization.id    the region
 *   labels.tlp         TLP 2.0 (clear, green, amber, amber+strict, red)
 *   tg.seq             per gateway, never going back: set by the sink (record_set_seq)
 *   tg.replayed        true when sent late, from the spool
 *
 * The producer adds what its kind says and hands the object to a report_sink.
 */
#ifndef TG_REPORT_RECORD_H
#define TG_REPORT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/config.h"
#include "report/report_sink.h"

#define RECORD_ECS_VERSION "8.11.0"

struct record_observer {
	char id[CONFIG_NAME_MAX];      /* [gateway] id */
	char name[CONFIG_NAME_MAX];    /* a name for people: the id unless the board names it */
	char region[CONFIG_NAME_MAX];  /* organization.id */
	const char *version;           /* firmware version */
	const char *tlp;               /* TLP 2.0 label */
	char id_prefix[17];            /* event.id's first 16 hex digits: the region's and id's hash */
};

/* The observer of a gateway configured by cfg. */
void record_observer_init(struct record_observer *o, const struct tg_config *cfg);

/* "metric", "alert", "asset". */
const char *record_kind_name(enum report_kind kind);
/* "townguard.summary", ... */
const char *record_dataset(enum report_kind kind);

/* ms since the epoch as "2026-12-03T08:20:42.123Z" into out (25 bytes). */
void record_time(int64_t ms, char out[32]);

/*
 * A new record of kind with the whole envelope (tg.seq left out, tg.replayed
 * false), @timestamp at ms since the epoch. NULL when out of memory.
 */
json_t *record_new(struct record_observer *o, enum report_kind kind, int64_t ms);

/*
 * Set tg.seq (the sink's number; 1 is the first) and the last 16 digits of
 * event.id with it. Returns 0 or -EINVAL (not a record).
 */
int record_set_seq(json_t *rec, uint64_t seq);
/* Set tg.replayed. Returns 0 or -EINVAL. */
int record_set_replayed(json_t *rec, bool replayed);
/* tg.seq of rec, 0 if none. */
uint64_t record_seq(const json_t *rec);
/*
 * rec as one line of compact JSON, byte for byte what json_dumps(rec,
 * JSON_COMPACT) gives, at a fraction of its cost; *len set. The caller
 * frees it. NULL when out of memory.
 */
char *record_dumps(const json_t *rec, size_t *len);

/*
 * A sink that writes each record as one JSON line to a FILE, numbering them
 * from 1 (replay --reports). ctx: struct record_print_sink.
 */
struct record_print_sink {
	void *out;        /* FILE * */
	uint64_t seq;     /* the last number given */
	int error;        /* -EIO once a write failed */
};
void record_print_sink_init(struct report_sink *sink, struct record_print_sink *ps, void *file);

#endif

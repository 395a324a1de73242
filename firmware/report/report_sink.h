/*
 * The seam between the code that makes reports (record, summary, alerts:
 * what a record says) and the code that keeps and sends them (spool, batch:
 * that it arrives once). A producer hands each finished record to a sink;
 * the sink owns it from then on.
 */
#ifndef TG_REPORT_SINK_H
#define TG_REPORT_SINK_H

#include <jansson.h>

/* A finished record: one JSON object, UTF-8, no newline. kind: REPORT_SUMMARY, REPORT_ALERT,
 * REPORT_ASSET. The sink assigns tg.seq: the producer leaves "tg":{"seq":0}
 * out and the sink adds it (record_set_seq in record.h, R1's, rewrites it).
 * The gateway's state (mode, bundle in force, online) is no record: it is the
 * uplink's retained state message (docs/protocol.md "state"). */
enum report_kind { REPORT_SUMMARY, REPORT_ALERT, REPORT_ASSET };
struct report_sink { int (*put)(void *ctx, enum report_kind kind, json_t *rec); void *ctx; };

#endif

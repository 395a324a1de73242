/*
 * Where finished records go (issue 12): the producers (summaries, alerts,
 * inventory) hand each record to a sink; the spool is the gateway's sink,
 * tests and `replay --reports` use others.
 */
#ifndef TG_REPORT_SINK_H
#define TG_REPORT_SINK_H

#include <jansson.h>

/* A finished record: one JSON object, UTF-8, no newline. kind: REPORT_SUMMARY, REPORT_ALERT,
 * REPORT_ASSET, REPORT_STATE. The sink assigns tg.seq: the producer leaves "tg":{"seq":0}
 * out and the sink adds it (record_set_seq in record.h, R1's, rewrites it) */
enum report_kind { REPORT_SUMMARY, REPORT_ALERT, REPORT_ASSET, REPORT_STATE };
struct report_sink { int (*put)(void *ctx, enum report_kind kind, json_t *rec); void *ctx; };

#endif

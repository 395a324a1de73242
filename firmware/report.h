/*
 * What the gateway says about traffic: one JSON object per ended flow, and
 * totals per protocol. JSON is written with jansson.
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <stdio.h>

#include "dpi.h"
#include "flow.h"
#include "pipeline.h"

/* Per-protocol totals (keyed like ndpiReader: the app protocol, else the master). */
struct report_proto {
	uint16_t id; /* nDPI protocol id */
	uint64_t packets, bytes, flows;
};

/*
 * Enough slots for every protocol nDPI 4.2 knows (about 300) plus custom
 * ones from a protocols file; flows of protocols beyond that are counted
 * under "other".
 */
#define REPORT_MAX_PROTOS 1024

struct report {
	struct report_proto protos[REPORT_MAX_PROTOS];
	uint64_t overflow_flows;
	uint64_t flows;
	uint64_t ended[3];
};

/* Write flow f as one JSON line to out. Returns 0 or -EIO. */
int report_flow_json(FILE *out, struct dpi *dpi, const struct flow *f, enum flow_end_reason why);

/* Add an ended flow to the per-protocol totals. */
void report_count_flow(struct report *r, const struct flow *f, enum flow_end_reason why);

/* Human-readable totals (frames, discards by reason, flows, DPI, protocols). */
void report_totals(FILE *out, struct report *r, struct pipeline *pl, double seconds);

#endif

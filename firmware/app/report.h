/*
 * What the gateway says about traffic: one JSON object per ended flow, and
 * totals per protocol. JSON is written with jansson.
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/port.h"
#include "packet/dpi.h"
#include "packet/flow.h"
#include "packet/pipeline.h"
#include "policy/policy.h"

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

/* Hits of one rule (replay and capture totals). */
struct report_rule {
	uint32_t rule;
	uint8_t action;
	uint64_t hits;
	struct report_rule *next;
};

/* The indicator a flow's verdict was taken on, until the flow is reported. */
struct report_indicator {
	uint32_t flow_id;
	struct report_indicator *next;
	char text[POLICY_INDICATOR_MAX];
};

#define REPORT_HASH 1024

struct report {
	struct report_proto protos[REPORT_MAX_PROTOS];
	uint64_t overflow_flows;
	uint64_t flows;
	uint64_t ended[3];
	struct port_stats port; /* live capture: the port's counters at the end */
	bool port_valid;
	struct report_rule *rules[REPORT_HASH];
	struct report_indicator *indicators[REPORT_HASH];
};

/* Count a policy hit for its rule and remember the indicator of the flow's verdict. */
void report_hit(struct report *r, const struct policy_hit *hit);
/* The indicator of f's verdict (NULL if none); forget it with report_forget(). */
const char *report_indicator(const struct report *r, const struct flow *f);
void report_forget(struct report *r, const struct flow *f);
/* Free what report_hit() allocated. */
void report_free(struct report *r);

/*
 * Write flow f as one JSON line to out; epoch_offset_ms turns the flow clock
 * into wall-clock ms; indicator is what its verdict matched (NULL if it has
 * none). Returns 0, or -EIO/-ENOMEM with errno set.
 */
int report_flow_json(FILE *out, struct dpi *dpi, const struct flow *f, enum flow_end_reason why,
		     int64_t epoch_offset_ms, const char *indicator);

/* Add an ended flow to the per-protocol totals. */
void report_count_flow(struct report *r, const struct flow *f, enum flow_end_reason why);

/* Human-readable totals (frames, discards by reason, flows, DPI, protocols). */
void report_totals(FILE *out, const struct report *r, struct pipeline *pl, double seconds);

#endif

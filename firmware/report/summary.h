/*
 * Interval summaries (event.kind metric, docs/reports.md): what the office's
 * traffic did in one interval, small enough for a slow uplink.
 *
 *   totals         bytes, packets, flows, active internal hosts
 *   applications   bytes, packets, flows per nDPI application (app, else master)
 *   categories     the same per nDPI category
 *   hosts          the top-N internal hosts by bytes, then one `other` bucket
 *   destinations   the top-N external destinations (the name the flow was for
 *                  where known, else the address), then `other`
 *   blocks         policy hits per rule and bundle serial
 *   risks          flows per nDPI risk
 *   health         ports, frames not tracked by reason, evictions, DPI
 *                  give-ups, spool depth and drops, bundle serial (since start);
 *                  the inventory's devices and how many are new this interval
 *
 * Every part adds up to the totals: each flow's bytes go to exactly one
 * application, one category, one host and one destination, named or other.
 *
 * Traffic is counted in the interval it is accounted in: open flows at every
 * interval's end (summary_tick walks the flow table and takes what each flow
 * did since its last accounting; one still in DPI waits for the next, so its
 * bytes all go to the application it is decided to be), ended flows when
 * they end. A flow counts
 * once in every interval it carried traffic in. Intervals are aligned on
 * multiples of their length since the epoch, and run on the pipeline's clock
 * (capture time in a replay).
 *
 * The host of a flow is its initiator if that is an internal address, else
 * its responder if that is, else its initiator (a capture with no private
 * side: the office's own public address). Internal addresses go through the
 * privacy levels (privacy.h); external destinations are written raw.
 */
#ifndef TG_REPORT_SUMMARY_H
#define TG_REPORT_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/port.h"
#include "packet/flow.h"
#include "packet/pipeline.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/report_sink.h"

struct summary_config {
	uint32_t interval_ms;
	uint32_t top_n;
	const struct privacy *privacy;
	struct record_observer *observer;
};

/* Gateway health the summary's owner knows (the rest comes from the pipeline). */
#define SUMMARY_MAX_PORTS 3
struct summary_health {
	uint64_t bundle_serial;          /* 0: no list in force */
	int n_ports;
	struct {
		const char *name;
		bool up;
		struct port_stats st;
	} ports[SUMMARY_MAX_PORTS];
	bool spool_valid;                /* the spool's figures below are known */
	uint64_t spool_records, spool_bytes, spool_dropped;
	bool inventory_valid;            /* the inventory's figures below are known */
	uint32_t inventory_devices;      /* devices it holds now */
	uint64_t inventory_added;        /* devices first seen since start (the record says per interval) */
};

struct summary;

/* Returns NULL (errno ENOMEM). */
struct summary *summary_new(const struct summary_config *cfg, struct pipeline *pl);
void summary_free(struct summary *s);

/* f ended: what it did since it was last accounted. Call before the flow's record is reused. */
void summary_flow_end(struct summary *s, const struct flow *f);

/* A policy hit on rule (bundle action) under the bundle of serial. */
void summary_hit(struct summary *s, uint32_t rule, uint8_t action, uint64_t serial);

/*
 * The clock is at now_ms (pipeline clock): every interval that ended by then
 * is accounted and put to sink, one record each. The first call starts the
 * first interval. Returns the records put, or -errno of the first put that failed.
 */
int summary_tick(struct summary *s, uint64_t now_ms, const struct summary_health *h,
		 struct report_sink *sink);

/*
 * The interval under way, up to now_ms, as a last record (at shutdown, after
 * the flows were ended), if it counted anything. Returns 1, 0 or -errno.
 */
int summary_flush(struct summary *s, uint64_t now_ms, const struct summary_health *h,
		  struct report_sink *sink);

/* An address that is the office's own: RFC 1918, CGNAT, link-local, loopback, ULA. */
bool summary_is_internal(const union ip_addr *a, int ip_version);

#endif

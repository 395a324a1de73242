/*
 * The reports' way out, assembled (what the gateway starts beside its
 * uplink): the spool in <data>/spool, the journal in <data>/journal, and the
 * batches published over the uplink (hub/uplink.h: uplink_publish_report).
 * Producers put records through report_wire_sink(); the loop calls
 * report_wire_tick() after uplink_tick(). Without an uplink (none
 * configured) records wait in the spool, within its bound.
 */
#ifndef TG_WIRE_H
#define TG_WIRE_H

#include <stdint.h>

#include "core/config.h"
#include "report/batch.h"
#include "report/journal.h"
#include "report/report_sink.h"
#include "report/spool.h"

struct uplink;

struct report_wire {
	struct uplink *uplink;            /* may be NULL */
	struct spool *spool;
	struct batch *batch;
	struct journal journal;
};

/* [report] spool_kb, drain_bps, journal_kb and [gateway] data_dir from cfg. 0 or -errno (logged). */
int report_wire_start(struct report_wire **out, struct uplink *u, const struct tg_config *cfg);
void report_wire_tick(struct report_wire *w, uint64_t now_ms);
void report_wire_sink(struct report_wire *w, struct report_sink *out);
void report_wire_stop(struct report_wire *w);

#endif

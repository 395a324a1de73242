/*
 * The reports' way out, assembled; see wire.h. The batch's publish op is the
 * uplink's report publish, and its PUBACKs come back through batch_done().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define LOG_MODULE "report"
#include "core/log.h"
#include "hub/uplink.h"
#include "report/wire.h"

/* Topic leaves per kind (docs/protocol.md "Topics"). */
static const char *const wire_leaf[SPOOL_KINDS] = {
	[REPORT_SUMMARY] = "summary", [REPORT_ALERT] = "alert", [REPORT_ASSET] = "asset",
};

static void wire_done(void *ctx, uint32_t token, bool ok)
{
	struct report_wire *w = ctx;

	batch_done(w->batch, token, ok);
}

static int wire_publish(void *ctx, enum report_kind kind, const void *msg, size_t len,
			uint32_t token)
{
	struct report_wire *w = ctx;

	return uplink_publish_report(w->uplink, wire_leaf[kind], msg, len, token, wire_done, w);
}

int report_wire_start(struct report_wire **out, struct uplink *u, const struct tg_config *cfg)
{
	const struct batch_ops ops = { .publish = wire_publish };
	uint64_t iv_ms = (uint64_t)cfg->report.interval * 1000, n = cfg->report.batch_intervals;
	/* the oldest waits for n - 1 more, and half an interval for the last one's making */
	const struct batch_config bc = {
		.drain_bps = cfg->report.drain_bps,
		.max_msg = uplink_report_max(),
		.hold_ms = n > 1 ? (n - 1) * iv_ms + iv_ms / 2 : 0,
	};
	char dir[CONFIG_PATH_MAX + 16];
	struct report_wire *w;
	struct batch_ops o = ops;
	int ret;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->uplink = u;
	w->journal.fd = -1;
	snprintf(dir, sizeof(dir), "%s/spool", cfg->gateway.data_dir);
	ret = spool_open(&w->spool, dir, (uint64_t)cfg->report.spool_kb * 1024);
	if (ret < 0)
		goto err;
	ret = journal_open(&w->journal, cfg->gateway.data_dir, (uint64_t)cfg->report.journal_kb * 1024);
	if (ret < 0)
		goto err;
	o.ctx = w;
	ret = batch_new(&w->batch, w->spool, &o, &bc, &w->journal);
	if (ret < 0)
		goto err;
	*out = w;
	return 0;
err:
	report_wire_stop(w);
	return ret;
}

void report_wire_tick(struct report_wire *w, uint64_t now_ms)
{
	if (w)
		batch_tick(w->batch, now_ms, uplink_connected(w->uplink));
}

void report_wire_sink(struct report_wire *w, struct report_sink *out)
{
	spool_sink(w->spool, out);
}

void report_wire_stop(struct report_wire *w)
{
	if (!w)
		return;
	batch_free(w->batch);
	journal_close(&w->journal);
	spool_close(w->spool);
	free(w);
}

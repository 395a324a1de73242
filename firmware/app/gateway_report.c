/*
 * The gateway's reports to the SOC (firmware/report/): the summary fed by
 * the flows and the policy's hits, first-hit alerts, on the pipeline's clock, its records put
 * to a sink. In a replay with --reports the sink prints JSON lines (tg.seq
 * from 1); the live modes' sink is the spool's once it is wired in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/log.h"
#include "policy/policy.h"
#include "report/alert.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/summary.h"

struct gw_report {
	struct record_observer obs;
	struct privacy priv;
	struct summary *sum;
	struct alerts *alerts;
	struct report_sink sink;
	struct record_print_sink print;
};

int gw_report_start(struct gateway *g)
{
	struct gw_report *r;
	uint8_t key[PRIVACY_KEY_LEN];
	struct summary_config sc;
	struct alert_config ac;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = privacy_load_key(g->cfg->gateway.data_dir, key);
	if (err < 0)
		goto err_free;
	err = privacy_init(&r->priv, g->cfg, key);
	memset(key, 0, sizeof(key));
	if (err < 0)
		goto err_free;
	record_observer_init(&r->obs, g->cfg);
	sc = (struct summary_config){
		.interval_ms = g->cfg->report.interval * 1000u,
		.top_n = g->cfg->report.top_n,
		.privacy = &r->priv,
		.observer = &r->obs,
	};
	r->sum = summary_new(&sc, &g->pl);
	if (!r->sum) {
		err = -ENOMEM;
		goto err_priv;
	}
	record_print_sink_init(&r->sink, &r->print, stdout);
	ac = (struct alert_config){
		.interval_ms = sc.interval_ms,
		.limit = g->cfg->report.alert_limit,
		.privacy = &r->priv,
		.observer = &r->obs,
		.sink = &r->sink,
	};
	r->alerts = alerts_new(&ac);
	if (!r->alerts) {
		err = -ENOMEM;
		goto err_sum;
	}
	g->report = r;
	return 0;

err_sum:
	summary_free(r->sum);
err_priv:
	privacy_uninit(&r->priv);
err_free:
	free(r);
	return err;
}

static void gw_report_health(struct gateway *g, struct summary_health *h)
{
	memset(h, 0, sizeof(*h));
	h->bundle_serial = g->bundle ? bundle_get_info(g->bundle)->serial : 0;
	if (g->rep.port_valid) {
		h->n_ports = 1;
		h->ports[0].name = "capture";
		h->ports[0].up = true;
		h->ports[0].st = g->rep.port;
	}
}

void gw_report_flow_end(struct gateway *g, const struct flow *f)
{
	if (g->report)
		summary_flow_end(g->report->sum, f);
}

static void gw_report_error(struct gateway *g, int err)
{
	if (err >= 0 || g->io_error)
		return;
	log_err("cannot write report records (no more will be written): %s", strerror(-err));
	g->io_error = 1;
}

void gw_report_hit(struct gateway *g, const struct policy_hit *hit)
{
	uint64_t serial = g->bundle ? bundle_get_info(g->bundle)->serial : 0;

	if (!g->report)
		return;
	summary_hit(g->report->sum, hit->rule, hit->action, serial);
	gw_report_error(g, alert_hit(g->report->alerts, hit->flow, hit->rule, hit->action, serial,
				     policy_stage_name((enum policy_stage)hit->stage), hit->indicator));
}

void gw_report_clock(struct gateway *g, uint64_t now_ms)
{
	struct summary_health h;

	if (!g->report)
		return;
	alerts_clock(g->report->alerts, now_ms, g->pl.epoch_offset_ms);
	gw_report_health(g, &h);
	gw_report_error(g, summary_tick(g->report->sum, now_ms, &h, &g->report->sink));
}

void gw_report_stop(struct gateway *g, uint64_t now_ms)
{
	struct gw_report *r = g->report;
	struct summary_health h;

	if (!r)
		return;
	gw_report_health(g, &h);
	gw_report_error(g, summary_flush(r->sum, now_ms, &h, &r->sink));
	summary_free(r->sum);
	alerts_free(r->alerts);
	privacy_uninit(&r->priv);
	free(r);
	g->report = NULL;
}

/*
 * The gateway's reports to the SOC (firmware/report/): the summary fed by
 * the flows and the policy's hits, and the alerts, on the pipeline's clock,
 * their records put to a sink.
 *
 * In a replay with --reports the sink prints JSON lines (tg.seq from 1). In
 * the live modes it is the spool's (report_wire_sink(): <data>/spool, sent
 * over the uplink in batches), started once the uplink is (or without one:
 * the records wait in the spool, within its bound). The live gateway also
 * owns three alerts of its own: a port that lost its link, a bundle refused
 * (by the store or over the air), and the spool dropping records; and the
 * hub's `report` command sends the summary of the interval so far.
 *
 * The inventory and the risk alerts see the packet path through a judge
 * that wraps the policy's (gw_report_judge): every call goes to the policy
 * first, then DHCP messages go to the inventory, a new flow from an
 * internal address refreshes its device, and a flow decided with a risk
 * score of at least [report] risk_score alerts (at the interval's end,
 * folded per responder and risks). The live gateway keeps the
 * inventory in <data>/inventory; a replay starts from an empty one and
 * writes nothing, so one capture always gives the same records, unless it
 * is given one (--inventory FILE: a gateway's, to see what that gateway
 * would have sent; kept there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/log.h"
#include "core/loop.h"
#include "packet/dhcp.h"
#include "policy/policy.h"
#include "report/alert.h"
#include "report/inventory.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/summary.h"
#include "report/wire.h"

struct gw_report {
	struct record_observer obs;
	struct privacy priv;
	struct summary *sum;
	struct alerts *alerts;
	struct inventory *inv;
	struct report_sink sink;
	struct record_print_sink print;
	struct report_wire *wire;         /* live modes: spool, batches, journal */
	uint64_t dropped[SPOOL_KINDS];    /* the spool's drops already alerted (all time) */
	bool link_down[GW_PORTS];         /* ports whose link is known to be gone */
	uint64_t interval_ms;             /* the summaries' (the configuration's at start) */
	uint64_t due_ms;                  /* the end of the interval under way: health is read then */
	/* Alerts go through alert_tee (gw_report_alert_put) on to sink, a line of each kept for the console. */
	struct report_sink alert_tee;
#define GW_ALERTS_KEPT 16
	char alerts_kept[GW_ALERTS_KEPT][200];
	uint64_t alerts_total;
	/* The last risks scored and their score: flows of one kind carry the same risks. */
	uint64_t scored_risks;
	uint32_t score;
};

static const struct pipeline_judge gw_report_judge;

/*
 * An alert on its way to the sink: "HH:MM:SS type key=value ..." from its
 * tg.alert fields (the rule, indicator, port, reason...), for `alerts`.
 */
static int gw_report_alert_put(void *ctx, enum report_kind kind, json_t *rec)
{
	struct gw_report *r = ctx;
	char *line = r->alerts_kept[r->alerts_total % GW_ALERTS_KEPT];
	size_t size = sizeof(r->alerts_kept[0]), n;
	json_t *al = json_object_get(json_object_get(rec, "tg"), "alert");
	const char *ts = json_string_value(json_object_get(rec, "@timestamp"));
	const char *key;
	json_t *v;

	n = (size_t)snprintf(line, size, "%.8s %s", ts && strlen(ts) >= 19 ? ts + 11 : "--:--:--",
			     json_string_value(json_object_get(al, "type")) ?: "?");
	json_object_foreach(al, key, v) {
		if (n >= size || !strcmp(key, "type") || (!strcmp(key, "suppressed") && !json_integer_value(v)))
			continue;
		if (json_is_string(v))
			n += (size_t)snprintf(line + n, size - n, " %s=%s", key, json_string_value(v));
		else if (json_is_integer(v))
			n += (size_t)snprintf(line + n, size - n, " %s=%lld", key, (long long)json_integer_value(v));
	}
	r->alerts_total++;
	return r->sink.put(r->sink.ctx, kind, rec);
}

unsigned int gw_report_recent_alerts(const struct gateway *g, unsigned int n,
				     void (*fn)(const char *line, void *ctx), void *ctx)
{
	const struct gw_report *r = g->report;
	uint64_t have;

	if (!r)
		return 0;
	have = r->alerts_total < GW_ALERTS_KEPT ? r->alerts_total : GW_ALERTS_KEPT;
	if (n > have)
		n = (unsigned int)have;
	for (uint64_t i = r->alerts_total - n; i < r->alerts_total; i++)
		fn(r->alerts_kept[i % GW_ALERTS_KEPT], ctx);
	return n;
}

/* The live clock: the loop's, and the wall clock the uplink keeps (gw_tick). */
static uint64_t gw_report_now(const struct gateway *g)
{
	return g->live ? loop_now_ms() : g->pl.now_ms;
}

static int gw_report_wire(struct gateway *g, struct gw_report *r)
{
	struct spool_stats st;
	int err;

	err = report_wire_start(&r->wire, g->uplink, g->cfg);
	if (err < 0) {
		log_err("reports: cannot open the spool in %s/spool: %s (running without reports)",
			g->cfg->gateway.data_dir, strerror(-err));
		return err;
	}
	report_wire_sink(r->wire, &r->sink);
	spool_get_stats(r->wire->spool, &st);
	memcpy(r->dropped, st.dropped, sizeof(r->dropped));
	log_info("reports: a summary every %u s to %s, spool %s/spool (%llu records waiting)",
		 g->cfg->report.interval, g->uplink ? "the uplink" : "no uplink (they wait)",
		 g->cfg->gateway.data_dir, (unsigned long long)st.records);
	return 0;
}

static int gw_report_inventory_start(struct gateway *g, struct gw_report *r)
{
	char path[CONFIG_PATH_MAX + 16];
	struct inventory_config ic = {
		.capacity = g->cfg->report.inventory_size,
		.oui_path = g->cfg->report.oui_file,
		.privacy = &r->priv,
		.observer = &r->obs,
		.sink = &r->sink,
		.alerts = r->alerts,
	};

	if (g->live) {
		snprintf(path, sizeof(path), "%s/inventory", g->cfg->gateway.data_dir);
		ic.path = path;
	} else {
		ic.path = g->o->inventory; /* replay --inventory FILE; NULL: none */
	}
	r->inv = inventory_new(&ic);
	return r->inv ? 0 : -ENOMEM;
}

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
	r->interval_ms = sc.interval_ms;
	r->sum = summary_new(&sc, &g->pl);
	if (!r->sum) {
		err = -ENOMEM;
		goto err_priv;
	}
	if (g->live) {
		err = gw_report_wire(g, r);
		if (err < 0)
			goto err_sum;
	} else {
		record_print_sink_init(&r->sink, &r->print, stdout);
	}
	ac = (struct alert_config){
		.interval_ms = sc.interval_ms,
		.limit = g->cfg->report.alert_limit,
		.privacy = &r->priv,
		.observer = &r->obs,
		.sink = &r->alert_tee,
	};
	r->alert_tee = (struct report_sink){ .put = gw_report_alert_put, .ctx = r };
	r->alerts = alerts_new(&ac);
	if (!r->alerts) {
		err = -ENOMEM;
		goto err_wire;
	}
	err = gw_report_inventory_start(g, r);
	if (err < 0)
		goto err_alerts;
	g->report = r;
	/* The policy's judge stays the judge, with the reports' hooks after each call. */
	pipeline_set_judge(&g->pl, &gw_report_judge, g);
	if (g->live) {
		alerts_clock(r->alerts, gw_report_now(g), g->pl.epoch_offset_ms);
		/* A list on flash refused before the reports were up (gw_flash_bundle). */
		if (g->refused_at_start)
			gw_report_refused(g, g->refused_at_start, 0);
		g->refused_at_start = NULL;
	}
	return 0;

err_alerts:
	alerts_free(r->alerts);
err_wire:
	report_wire_stop(r->wire);
err_sum:
	summary_free(r->sum);
err_priv:
	privacy_uninit(&r->priv);
err_free:
	free(r);
	return err;
}

/* The live ports: the mode's, then the management port when it has its own. */
static void gw_report_ports(struct gateway *g, struct summary_health *h)
{
	for (int i = 0; i < GW_PORTS && h->n_ports < SUMMARY_MAX_PORTS; i++) {
		struct gw_port *gp = &g->ports[i];
		int n = h->n_ports;

		if (i >= g->n_ports && (i != GW_MGMT || !gp->is_open))
			continue;
		h->ports[n].name = gp->name;
		h->ports[n].up = gp->is_open && !g->report->link_down[i];
		if (gp->is_open && port_stats(&gp->port, &h->ports[n].st) < 0)
			memset(&h->ports[n].st, 0, sizeof(h->ports[n].st));
		h->n_ports++;
	}
}

static void gw_report_health(struct gateway *g, struct summary_health *h)
{
	memset(h, 0, sizeof(*h));
	h->bundle_serial = g->bundle ? bundle_get_info(g->bundle)->serial : 0;
	if (g->live && g->report) {
		gw_report_ports(g, h);
	} else if (g->rep.port_valid) {
		h->n_ports = 1;
		h->ports[0].name = "capture";
		h->ports[0].up = true;
		h->ports[0].st = g->rep.port;
	}
	if (g->report && g->report->inv) {
		struct inventory_stats is;

		inventory_get_stats(g->report->inv, &is);
		h->inventory_valid = true;
		h->inventory_devices = is.devices;
		h->inventory_added = is.added;
	}
	if (g->report && g->report->wire) {
		struct spool_stats st;

		spool_get_stats(g->report->wire->spool, &st);
		h->spool_valid = true;
		h->spool_records = st.records;
		h->spool_bytes = st.bytes;
		for (int k = 0; k < SPOOL_KINDS; k++)
			h->spool_dropped += st.dropped[k];
	}
}

void gw_report_flow_end(struct gateway *g, const struct flow *f)
{
	if (g->report)
		summary_flow_end(g->report->sum, f);
}

static void gw_report_error(struct gateway *g, int err)
{
	/* Live: the spool logged and counted it; the next record may fit. */
	if (err >= 0 || g->io_error || g->live)
		return;
	log_err("cannot write report records (no more will be written): %s", strerror(-err));
	g->io_error = 1;
}

void gw_report_hit(struct gateway *g, const struct policy_hit *hit)
{
	uint64_t serial = g->bundle ? bundle_get_info(g->bundle)->serial : 0;

	if (!g->report)
		return;
	if (g->live)
		alerts_clock(g->report->alerts, loop_now_ms(), g->pl.epoch_offset_ms);
	summary_hit(g->report->sum, hit->rule, hit->action, serial);
	gw_report_error(g, alert_hit(g->report->alerts, hit->flow, hit->rule, hit->action, serial,
				     policy_stage_name((enum policy_stage)hit->stage), hit->indicator));
}

/* ms since the epoch of the pipeline's clock at now_ms. */
static int64_t gw_report_wall_ms(const struct gateway *g, uint64_t now_ms)
{
	return (int64_t)now_ms + g->pl.epoch_offset_ms;
}

/* The devices that changed, as asset records; the file when it is due. */
static void gw_report_assets(struct gateway *g, int64_t ms, bool stop)
{
	gw_report_error(g, inventory_report_changes(g->report->inv, ms));
	inventory_save(g->report->inv, ms, stop);
}

/* Records the spool dropped to stay within its bound since the last look: one alert per kind. */
static void gw_report_spool_drops(struct gw_report *r)
{
	struct spool_stats st;

	spool_get_stats(r->wire->spool, &st);
	for (int k = 0; k < SPOOL_KINDS; k++) {
		uint64_t n = st.dropped[k] - r->dropped[k];

		if (st.dropped[k] <= r->dropped[k])
			continue;
		r->dropped[k] = st.dropped[k];
		alert_spool_drop(r->alerts, spool_kind_name((enum report_kind)k), n);
	}
}

void gw_report_clock(struct gateway *g, uint64_t now_ms)
{
	struct gw_report *r = g->report;
	struct summary_health h;

	if (!r)
		return;
	alerts_clock(r->alerts, now_ms, g->pl.epoch_offset_ms);
	/* The ports' and the spool's figures only when a summary is due (summary.h: aligned). */
	if (now_ms >= r->due_ms) {
		gw_report_health(g, &h);
		gw_report_error(g, summary_tick(r->sum, now_ms, &h, &r->sink));
		/* Asset records go with the interval's end, one per changed device, however often it changed. */
		gw_report_assets(g, gw_report_wall_ms(g, now_ms / r->interval_ms * r->interval_ms), false);
		r->due_ms = (now_ms / r->interval_ms + 1) * r->interval_ms;
	}
	if (r->wire) {
		gw_report_spool_drops(r);
		report_wire_tick(r->wire, now_ms);
	}
}

void gw_report_wire_tick(struct gateway *g)
{
	if (g->report && g->report->wire)
		report_wire_tick(g->report->wire, loop_now_ms());
}

void gw_report_link(struct gateway *g, const char *name, bool up)
{
	struct gw_report *r = g->report;

	if (!r)
		return;
	for (int i = 0; i < GW_PORTS; i++) {
		if (strcmp(g->ports[i].name, name) != 0 || r->link_down[i] == !up)
			continue;
		r->link_down[i] = !up;
		alerts_clock(r->alerts, loop_now_ms(), g->pl.epoch_offset_ms);
		alert_link(r->alerts, name, up);
	}
}

void gw_report_refused(struct gateway *g, const char *reason, uint64_t serial)
{
	if (!g->report) {
		g->refused_at_start = reason;
		return;
	}
	alerts_clock(g->report->alerts, gw_report_now(g), g->pl.epoch_offset_ms);
	alert_bundle_refused(g->report->alerts, reason, serial);
}

void gw_report_console(struct gateway *g, const char *what, const char *detail)
{
	if (!g->report)
		return;
	alerts_clock(g->report->alerts, gw_report_now(g), g->pl.epoch_offset_ms);
	alert_console(g->report->alerts, what, detail);
}

/*
 * The hub asked for the reports now (its signed `report` command): the
 * summary of the interval so far, if it counted anything (the interval's own
 * summary then carries the rest, so the two add up), and every device of the
 * inventory as an asset record.
 */
void gw_report_on_request(struct gateway *g)
{
	struct gw_report *r = g->report;
	struct summary_health h;
	int n;

	if (!r)
		return;
	gw_report_clock(g, gw_report_now(g)); /* an interval that ended first has its own summary */
	gw_report_health(g, &h);
	n = summary_flush(r->sum, gw_report_now(g), &h, &r->sink);
	log_info("reports: the hub asked: %s; %d devices of the inventory sent",
		 n > 0 ? "a summary of the interval so far sent" : "nothing counted yet in this interval",
		 inventory_report_all(r->inv, gw_report_wall_ms(g, gw_report_now(g))));
	if (r->wire)
		batch_flush(r->wire->batch); /* and the summaries held for the next message */
}

/* ------------------------------------------------------------ the judge's hooks */

static void gw_report_dhcp(struct gateway *g, const struct pkt *p, uint64_t now_ms)
{
	struct dhcp_problem why;
	struct dhcp_msg m;
	char text[192];

	if (dhcp_parse(p->payload, p->payload_len, &m, &why) != DHCP_OK) {
		log_debug_rl("DHCP message of %u bytes refused: %s", p->payload_len,
			     dhcp_problem_text(&why, text, sizeof(text)));
		return;
	}
	if (m.n_warn)
		log_debug_rl("DHCP message from %02x:%02x:%02x:%02x:%02x:%02x: %u field(s) left out, "
			     "the first: %s", m.chaddr[0], m.chaddr[1], m.chaddr[2], m.chaddr[3],
			     m.chaddr[4], m.chaddr[5], m.n_warn,
			     dhcp_problem_text(&m.warn, text, sizeof(text)));
	gw_report_error(g, inventory_dhcp(g->report->inv, &m, gw_report_wall_ms(g, now_ms)));
}

static void gw_report_judge_start(void *ctx, struct flow *f, uint64_t wall_s, uint64_t now_ms)
{
	struct gateway *g = ctx;
	const union ip_addr *src = flow_src(f);

	policy_judge.flow_start(g->policy, f, wall_s, now_ms);
	if (g->report && f->key.ip_version == 4 && summary_is_internal(src, 4))
		inventory_addr_seen(g->report->inv, src->b, gw_report_wall_ms(g, now_ms));
}

/*
 * The policy marks a flow FLOW_F_CLASS_CHECKED at its first call once DPI
 * decided it (and the pipeline calls no more): the flow's risks are final
 * then, and judged here once.
 */
static void gw_report_judge_dpi(void *ctx, struct flow *f, uint64_t wall_s)
{
	struct gateway *g = ctx;
	bool checked = f->flags & FLOW_F_CLASS_CHECKED;
	uint32_t score;
	char app[64];

	policy_judge.flow_dpi(g->policy, f, wall_s);
	if (!g->report || checked || !(f->flags & FLOW_F_DECIDED) || !f->dpi_result.risks ||
	    !g->cfg->report.risk_score)
		return;
	if (f->dpi_result.risks != g->report->scored_risks) {
		g->report->scored_risks = f->dpi_result.risks;
		g->report->score = dpi_risk_score(f->dpi_result.risks);
	}
	score = g->report->score;
	if (score < g->cfg->report.risk_score)
		return;
	gw_report_error(g, alert_risk(g->report->alerts, f, score,
				      dpi_proto_name(g->pl.dpi, &f->dpi_result, app, sizeof(app))));
}

/* Bridge mode: a MAC the inventory does not hold is the office's when the FDB has it behind the LAN port. */
static bool gw_report_on_lan(void *ctx, const uint8_t mac[6])
{
	struct gateway *g = ctx;

	return fdb_lookup(&g->fdb, mac, (uint32_t)(loop_now_ms() / 1000)) == GW_LAN;
}

/*
 * A flow's first frames' source MAC and internal IPv4 source: the inventory learns
 * devices with static addresses (inventory_frame_seen). In bridge mode only
 * from the LAN port; nfqueue's MACs are the kernel's (NFQA_HWADDR), monitor
 * mode's and a replay's the capture's, taken by the address being internal.
 */
static void gw_report_mac_seen(struct gateway *g, const uint8_t mac[6], const uint8_t ip[4], uint64_t now_ms)
{
	bool bridge = g->live && g->cfg->gateway.mode == TG_MODE_BRIDGE;

	gw_report_error(g, inventory_frame_seen(g->report->inv, mac, ip, gw_report_wall_ms(g, now_ms),
						bridge ? gw_report_on_lan : NULL, g));
}

static void gw_report_judge_packet(void *ctx, struct flow *f, const struct pkt *p, uint64_t wall_s,
				   uint64_t now_ms)
{
	struct gateway *g = ctx;

	policy_judge.packet(g->policy, f, p, wall_s, now_ms);
	if (!g->report)
		return;
	if (p->l4_proto == PROTO_UDP &&
	    ((p->sport == DHCP_CLIENT_PORT && p->dport == DHCP_SERVER_PORT) ||
	     (p->sport == DHCP_SERVER_PORT && p->dport == DHCP_CLIENT_PORT)))
		gw_report_dhcp(g, p, now_ms);
	/* A flow's first two packets (its initiator's and, mostly, its responder's): once a flow, not a frame. */
	if (p->src_mac && f->packets[FLOW_DIR_FWD] + f->packets[FLOW_DIR_REV] <= 2 && p->ip_version == 4 &&
	    summary_is_internal(&p->src, 4))
		gw_report_mac_seen(g, p->src_mac, p->src.b, now_ms);
}

/* ARP (RFC 826) for IPv4 over Ethernet: the sender's address, unless a probe's 0.0.0.0. */
static void gw_report_judge_arp(void *ctx, const struct pkt *p, uint64_t now_ms)
{
	struct gateway *g = ctx;
	union ip_addr spa = { 0 };
	const uint8_t *a = p->l3;

	if (!g->report || !p->src_mac || p->l3_len < 28 || a[0] != 0 || a[1] != 1 || a[2] != 0x08 ||
	    a[3] != 0x00 || a[4] != 6 || a[5] != 4)
		return;
	memcpy(spa.b, a + 14, 4);
	/* the sender's hardware address is the frame's (a proxy answering for another is not the other) */
	if (memcmp(a + 8, p->src_mac, 6) != 0 || !summary_is_internal(&spa, 4))
		return;
	gw_report_mac_seen(g, p->src_mac, spa.b, now_ms);
}

static const struct pipeline_judge gw_report_judge = {
	.flow_start = gw_report_judge_start,
	.flow_dpi = gw_report_judge_dpi,
	.packet = gw_report_judge_packet,
	.arp = gw_report_judge_arp,
};

void gw_report_stop(struct gateway *g, uint64_t now_ms)
{
	struct gw_report *r = g->report;
	struct summary_health h;

	if (!r)
		return;
	if (g->live)
		now_ms = loop_now_ms(); /* not the last frame's time: the office may be quiet */
	/* the interval under way: its risk alerts, its devices, then its summary */
	gw_report_error(g, alerts_flush(r->alerts));
	gw_report_assets(g, gw_report_wall_ms(g, now_ms), true);
	if (g->live) {
		struct inventory_stats is;

		inventory_get_stats(r->inv, &is);
		log_info("reports: inventory: %u devices (%llu new since start, %llu evicted by the bound of "
			 "%u); %llu DHCP messages taken; %llu frames added a device or address, %llu of new "
			 "MACs left out past %u new devices a minute", is.devices, (unsigned long long)is.added,
			 (unsigned long long)is.evicted, g->cfg->report.inventory_size,
			 (unsigned long long)is.dhcp, (unsigned long long)is.frames_learnt,
			 (unsigned long long)is.frames_refused, INVENTORY_FRAME_NEW_PER_MIN);
	}
	gw_report_health(g, &h);
	gw_report_error(g, summary_flush(r->sum, now_ms, &h, &r->sink));
	/* The flows end after this: their last calls reach the policy alone. */
	pipeline_set_judge(&g->pl, &policy_judge, g->policy);
	inventory_free(r->inv);
	summary_free(r->sum);
	alerts_free(r->alerts);
	if (r->wire) {
		struct spool_stats st;

		spool_get_stats(r->wire->spool, &st);
		log_info("reports: stopped: %llu records put, %llu acknowledged by the broker; %llu wait "
			 "on flash for the next start (next tg.seq %llu)", (unsigned long long)st.put,
			 (unsigned long long)st.acked, (unsigned long long)st.records,
			 (unsigned long long)st.next_seq);
	}
	/* the uplink is stopped first (its unacknowledged batches went back to the spool) */
	report_wire_stop(r->wire);
	privacy_uninit(&r->priv);
	free(r);
	g->report = NULL;
}

int gw_report_spool_stats(const struct gateway *g, struct spool_stats *st)
{
	if (!g->report || !g->report->wire)
		return -ENOENT;
	spool_get_stats(g->report->wire->spool, st);
	return 0;
}

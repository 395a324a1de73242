/*
 * The running gateway (see gateway.h): replay, and the live modes monitor,
 * bridge and nfqueue on one event loop. This file owns the gateway's life:
 * the pipeline and the blocklist in force, the signals and timers, the
 * SIGHUP reload, and the start and stop of a mode; the data path, the
 * management stack and the nfqueue glue are files of their own
 * (gateway_priv.h).
 *
 * Every frame takes the same path whatever the mode: pipeline_frame() judges
 * it, enforce_frame() says forward or drop and builds the answers, and the
 * mode only decides where frames go. The loop never blocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "app/report.h"
#include "core/board.h"
#include "core/common.h"
#include "core/i18n.h"
#include "core/power.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "hub/uplink.h"
#include "mgmt.h"
#include "packet/pipeline.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "policy/store.h"
#include "policy/trust.h"

/* ------------------------------------------------------------ reporting */

static void gw_flow_end(struct pipeline *pl, struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct gateway *g = ctx;

	report_count_flow(&g->rep, f, why);
	gw_report_flow_end(g, f);
	if (g->o->flows && !g->io_error &&
	    report_flow_json(stdout, pl->dpi, f, why, pl->epoch_offset_ms,
			     report_indicator(&g->rep, f)) < 0) {
		log_err("cannot write flow records (no more will be written): %s", strerror(errno));
		g->io_error = 1;
	}
	if (g->live && g->o->flows)
		fflush(stdout);
	report_forget(&g->rep, f);
}

static void gw_addr(char *buf, size_t len, const union ip_addr *a, int version)
{
	inet_ntop(version == 4 ? AF_INET : AF_INET6, a->b, buf, (socklen_t)len);
}

static const char *gw_proto_name(const struct flow *f)
{
	return f->key.l4_proto == 6 ? "tcp" : f->key.l4_proto == 17 ? "udp" : "ip";
}

void gw_log_verdict(struct gateway *g, const char *what, const struct flow *f,
		    const struct policy_hit *hit)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], line[512];
	uint8_t action = hit ? hit->action : f->verdict_action;

	if (!g->live)
		return;
	gw_addr(src, sizeof(src), flow_src(f), f->key.ip_version);
	gw_addr(dst, sizeof(dst), flow_dst(f), f->key.ip_version);
	if (!what)
		what = bundle_action_name((enum bundle_action)action);
	if (hit && hit->indicator[0])
		snprintf(line, sizeof(line), "%s %s:%u -> %s:%u (%s) at %s \"%s\" (rule %u)", what, src,
			 flow_sport(f), dst, flow_dport(f), gw_proto_name(f),
			 policy_stage_name((enum policy_stage)hit->stage), hit->indicator, hit->rule);
	else
		snprintf(line, sizeof(line), "%s %s:%u -> %s:%u (%s) at %s (rule %u)", what, src,
			 flow_sport(f), dst, flow_dport(f), gw_proto_name(f),
			 policy_stage_name((enum policy_stage)(hit ? hit->stage : f->verdict_stage)),
			 hit ? hit->rule : f->verdict_rule);
	log_info("%s", line);
	/* The console's `blocks`: what was stopped (blocked, or cut by a new list). */
	if (action == BUNDLE_ACT_BLOCK && strncmp(what, "lifted", 6) != 0)
		gw_blocklog_keep(g, line);
}

static void gw_hit(const struct policy_hit *hit, void *ctx)
{
	struct gateway *g = ctx;

	/* A record made to judge a kernel connection is no flow of the report's. */
	if (!g->rejudge_sweeping) {
		report_hit(&g->rep, hit);
		gw_report_hit(g, hit);
	}
	/* Re-judging logs the flow once it knows what changed (gateway_rejudge.c). */
	if (g->rejudging) {
		g->rejudge_hit = *hit;
		g->rejudge_hit_set = true;
		return;
	}
	if (g->live && hit->action == BUNDLE_ACT_BLOCK)
		gw_blocklog_count(g, (uint64_t)((int64_t)loop_now_ms() + g->pl.epoch_offset_ms) / 1000);
	/* One line per judged flow: what a technician or the SOC reads first; once per blocked flow. */
	if (g->live && gw_blocklog_repeat(g, hit, loop_now_ms()))
		return;
	gw_log_verdict(g, NULL, hit->flow, hit);
}

/* ------------------------------------------------------------ the blocklist */

static uint64_t gw_wall_s(void)
{
	return (uint64_t)time(NULL);
}

void gw_use_bundle(struct gateway *g, struct bundle *b)
{
	policy_set_bundle(g->policy, b);
	bundle_close(g->bundle);
	/* the old list's pages are gone: only now the new one's come in (bundle.h) */
	bundle_populate(b);
	g->bundle = b;
	gw_rejudge(g);
}

/*
 * --bundle FILE: checked like a gateway checks one (signature with the hub
 * key, region, expiry) when the hub key is there; a forensic replay without
 * the key still runs, and says the list was not verified.
 */
static int gw_bundle_file(struct gateway *g, const char *path)
{
	const struct bundle_info *in;
	char keypath[CONFIG_PATH_MAX + 16];
	struct store_trust t;
	struct bundle *b;
	enum bundle_err e;
	int ret;

	e = bundle_open_file(path, &b);
	if (e != BUNDLE_OK) {
		log_err("bundle %s refused: %s", path, bundle_err_text(e));
		return -EINVAL;
	}
	in = bundle_get_info(b);
	ret = trust_load(g->cfg, &t, keypath, sizeof(keypath));
	if (ret == 0) {
		e = bundle_check(b, t.pubkey, t.pubkey_len, t.region, 0, gw_wall_s(),
				 t.clock_skew_s);
		if (e != BUNDLE_OK) {
			log_err("bundle %s refused: %s", path, bundle_err_text(e));
			store_explain(path, b, &t, 0, gw_wall_s(), e);
		}
		free((void *)t.pubkey);
		if (e != BUNDLE_OK) {
			bundle_close(b);
			return -EINVAL;
		}
	} else if (ret == -ENOENT) {
		log_warn("bundle %s: signature NOT checked (no hub key at %s)", path, keypath);
		if (strcmp(in->region, g->cfg->gateway.region) != 0)
			log_warn("bundle %s: for region \"%s\", not this gateway's \"%s\" "
				 "([gateway] region): judged with it anyway", path, in->region,
				 g->cfg->gateway.region);
	} else {
		bundle_close(b);
		return ret;
	}
	log_info("bundle %s: region %s, serial %llu, %zu domains, %zu IPv4 and %zu IPv6 prefixes, "
		 "%zu protocols, %zu categories, %zu JA3 hashes",
		 path, in->region, (unsigned long long)in->serial,
		 bundle_count(b, BUNDLE_DOMAIN, false), bundle_count(b, BUNDLE_IPV4, false),
		 bundle_count(b, BUNDLE_IPV6, false), bundle_count(b, BUNDLE_PROTO, false),
		 bundle_count(b, BUNDLE_CATEGORY, false), bundle_count(b, BUNDLE_JA3, false));
	gw_use_bundle(g, b);
	return 0;
}

/*
 * The list on flash (current, else previous), checked against the hub key.
 * Without a key there is nothing to trust and the gateway runs without a
 * blocklist, saying so. On a reload, a list that fails leaves the one in
 * force in force.
 */
static void gw_flash_bundle(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	struct store_trust trust;
	char keypath[CONFIG_PATH_MAX + 16];
	const char *which;
	struct bundle *b;
	enum bundle_err e;
	int ret;

	ret = trust_load(cfg, &trust, keypath, sizeof(keypath));
	if (ret == -ENOENT)
		log_info("no hub key at %s: running without a blocklist", keypath);
	if (ret < 0)
		return;
	e = store_load(cfg->gateway.data_dir, &trust, gw_wall_s(), &b, &which);
	free((void *)trust.pubkey);
	if (e != BUNDLE_OK) {
		if (e != BUNDLE_ERR_IO)
			gw_report_refused(g, bundle_err_name(e), 0);
		if (g->bundle)
			log_warn("no list on flash passes the checks (%s): serial %llu stays in force",
				 bundle_err_text(e),
				 (unsigned long long)bundle_get_info(g->bundle)->serial);
		else if (e == BUNDLE_ERR_IO)
			log_info("no list in force until the hub sends one");
		return;
	}
	if (g->bundle && bundle_get_info(g->bundle)->serial == bundle_get_info(b)->serial) {
		log_info("blocklist unchanged: serial %llu",
			 (unsigned long long)bundle_get_info(b)->serial);
		bundle_close(b);
		return;
	}
	log_info("blocklist in force: %s/bundle/%s, serial %llu", cfg->gateway.data_dir, which,
		 (unsigned long long)bundle_get_info(b)->serial);
	gw_use_bundle(g, b);
}

static void gw_enforce_config(const struct tg_config *cfg, struct enforce_config *ec)
{
	memset(ec, 0, sizeof(*ec));
	ec->blocked_address = cfg->enforce.blocked_address;
	ec->dns_ttl = cfg->enforce.dns_ttl;
	/* The configuration checked both addresses already. */
	ec->sink4_set = cfg->enforce.dns_sink_ipv4[0] &&
			inet_pton(AF_INET, cfg->enforce.dns_sink_ipv4, ec->sink4) == 1;
	ec->sink6_set = cfg->enforce.dns_sink_ipv6[0] &&
			inet_pton(AF_INET6, cfg->enforce.dns_sink_ipv6, ec->sink6) == 1;
}

static int gw_init(struct gateway *g, struct gateway_opts *o, bool live)
{
	struct enforce_config ec;

	/* g comes zeroed from calloc(); the loop may already be set. */
	g->o = o;
	g->cfg = &o->cfg;
	g->live = live;
	gw_enforce_config(g->cfg, &ec);
	enforce_init(&g->enf, &ec);
	if (pipeline_init(&g->pl, g->cfg, 0, gw_flow_end, g) < 0)
		return -1;
	g->policy = policy_new(g->pl.dpi, gw_hit, g);
	if (!g->policy)
		return -1;
	if (live && neigh_init(&g->neigh) < 0)
		return -1;
	pipeline_set_judge(&g->pl, &policy_judge, g->policy);
	if (o->reports && gw_report_start(g) < 0)
		return -1;
	if (o->bundle)
		return gw_bundle_file(g, o->bundle);
	if (live)
		gw_flash_bundle(g);
	return 0;
}

static void gw_write_totals(struct gateway *g, double seconds)
{
	flow_end_all(g->pl.flows);
	gw_report_stop(g, g->pl.now_ms);
	report_totals(g->o->flows || g->o->reports ? stderr : stdout, &g->rep, &g->pl, seconds);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (!g->io_error)
			log_err("cannot write to standard output: %s", strerror(errno));
		g->io_error = 1;
	}
}

static void gw_uninit(struct gateway *g)
{
	gw_report_stop(g, g->pl.now_ms); /* left by a start that failed */
	pipeline_uninit(&g->pl); /* flows ending here are still judged */
	policy_free(g->policy);
	g->policy = NULL;
	bundle_close(g->bundle);
	g->bundle = NULL;
	report_free(&g->rep);
	neigh_free(&g->neigh);
}

static double gw_mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ replay */

static void gw_replay_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gateway *g = ctx;

	/* A capture is judged on its own timestamps, and summarised by them. */
	gw_report_clock(g, fr->ts_us / 1000);
	pipeline_frame(&g->pl, port->link, fr->data, fr->caplen, fr->wirelen, fr->ts_us / 1000,
		       NULL);
}

int gateway_replay(struct gateway_opts *o, const char *file)
{
	struct port_config pc = { .name = file, .filter = o->cfg.capture.filter };
	struct gateway *g = calloc(1, sizeof(*g));
	struct port port;
	double t0;
	int n, ret;

	if (!g)
		return 1;
	if (port_open(&port, "pcap-file", &pc) < 0) {
		free(g);
		return 1;
	}
	if (gw_init(g, o, false) < 0) {
		/* nothing was read: totals here would read as an empty capture */
		gw_uninit(g);
		port_close(&port);
		free(g);
		return 1;
	}
	t0 = gw_mono_seconds();
	while ((n = port_rx_burst(&port, gw_replay_rx, g, 256)) > 0)
		;
	gw_write_totals(g, gw_mono_seconds() - t0);
	ret = g->io_error || n != -ENODATA ? 1 : 0;
	port_close(&port);
	gw_uninit(g);
	free(g);
	return ret;
}


/* ------------------------------------------------------------ signals, timers */

/* SIGHUP's and the console's commit: next in force, but for what waits for a restart. */
int gateway_apply(struct gateway *g, const struct tg_config *next_in, char *restart, size_t size)
{
	struct tg_config *cur = g->cfg, next = *next_in;
	struct enforce_config ec;
	static const struct {
		const char *what;
		size_t off, len;
	} later[] = {
#define GW_FIELD(f) { #f, offsetof(struct tg_config, f), sizeof(((struct tg_config *)0)->f) }
		GW_FIELD(gateway.mode), GW_FIELD(ports), GW_FIELD(bridge), GW_FIELD(nfqueue),
		GW_FIELD(capture), GW_FIELD(flow), GW_FIELD(dpi), GW_FIELD(mgmt), GW_FIELD(uplink),
		/* the summaries, alerts, privacy levels and spool are set up when the reports start */
		GW_FIELD(report),
		/* the uplink's identity, topics and flash directory are set when it starts */
		GW_FIELD(gateway.id), GW_FIELD(gateway.region), GW_FIELD(gateway.data_dir),
		/* the console's tty is opened at start, and so is the log's target */
		GW_FIELD(console.device), GW_FIELD(console.speed), GW_FIELD(log.target),
#undef GW_FIELD
	};

	if (size)
		restart[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(later); i++)
		if (memcmp((char *)cur + later[i].off, (char *)&next + later[i].off,
			   later[i].len) != 0) {
			size_t len = size ? strlen(restart) : 0;

			log_warn("reload: [%s] changed: takes effect at the next start",
				 later[i].what);
			if (size)
				snprintf(restart + len, size - len, "%s%s", len ? ", " : "", later[i].what);
			memcpy((char *)&next + later[i].off, (char *)cur + later[i].off,
			       later[i].len);
		}
	*cur = next;
	log_set_level((enum log_level)cur->log.level);
	i18n_set_lang(cur->console.lang);
	gw_enforce_config(cur, &ec);
	g->enf.cfg = ec;
	log_info("reload: configuration in force");
	return 0;
}

/*
 * SIGHUP: the configuration again, then the bundle on flash. What can change
 * live changes now (log, enforcement answers, the hub key and clock skew);
 * what needs ports reopened, tables rebuilt or the uplink restarted is
 * reported.
 */
static void gw_reload(struct gateway *g)
{
	struct tg_config next;

	g->st.reloads++;
	if (!g->o->reload) {
		gw_flash_bundle(g);
		return;
	}
	next = *g->cfg;
	if (g->o->reload(&next, g->o->reload_ctx) < 0) {
		g->st.reload_errors++;
		log_err("reload: the configuration has errors (above); nothing changed");
		return;
	}
	gateway_apply(g, &next, NULL, 0);
	gw_flash_bundle(g);
	uplink_state_changed(g->uplink);
}

static void gw_signal(struct loop_signal *s, int signo)
{
	struct gateway *g = container_of(s, struct gateway, sig);

	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading the configuration and the bundle");
		gw_reload(g);
		return;
	}
	log_info("%s: stopping", strsignal(signo));
	loop_stop(g->loop);
}

static uint64_t gw_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Once a second: end idle flows even when no frame arrives, and follow the
 * wall clock (SNTP may step it) for the times written in reports.
 */
static void gw_tick(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, tick);
	uint64_t unix_ms;

	/* SNTP's time once the management stack has it (a board may have no RTC). */
	if (!g->mgmt || mgmt_time_ms(g->mgmt, &unix_ms) < 0)
		unix_ms = gw_realtime_ms();
	g->pl.epoch_offset_ms = (int64_t)unix_ms - (int64_t)loop_now_ms();
	pipeline_tick(&g->pl, loop_now_ms());
	gw_report_clock(g, loop_now_ms());
	loop_timer_set(g->loop, &g->tick, 1000);
}

static void gw_stop_timer(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, stop);

	loop_stop(g->loop);
}

/* ------------------------------------------------------------ run */

static void gw_port_name(char *dst, const char *configured, const char *board_default)
{
	/* The configuration allows at most 15 characters (IFNAMSIZ). */
	snprintf(dst, 16, "%.15s", configured[0] ? configured : board_default);
}

static int gw_start_mode(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	const struct board *b = board_info();
	const char *names[GW_PORTS];
	int ret, n_names = 0;

	for (int i = 0; i < GW_PORTS; i++) {
		g->ports[i].gw = g;
		g->ports[i].idx = i;
	}
	gw_port_name(g->ports[GW_MGMT].name, cfg->mgmt.port, "");
	switch (cfg->gateway.mode) {
	case TG_MODE_MONITOR:
		gw_port_name(g->ports[GW_MIRROR].name, cfg->capture.interface, b->mirror_port);
		g->ports[GW_MIRROR].rx = true;
		g->n_ports = 1;
		if (cfg->ports.inject[0]) {
			gw_port_name(g->ports[GW_INJECT].name, cfg->ports.inject, "");
			g->n_ports = 2;
		}
		break;
	case TG_MODE_BRIDGE:
	case TG_MODE_NFQUEUE:
		gw_port_name(g->ports[GW_LAN].name, cfg->ports.lan, b->lan_port);
		gw_port_name(g->ports[GW_WAN].name, cfg->ports.wan, b->wan_port);
		if (!strcmp(g->ports[GW_LAN].name, g->ports[GW_WAN].name)) {
			log_err("[ports] lan and wan are both %s: an inline mode needs two ports",
				g->ports[GW_LAN].name);
			return -EINVAL;
		}
		g->ports[GW_LAN].rx = g->ports[GW_WAN].rx = true;
		g->n_ports = 2;
		break;
	default:
		return -EINVAL;
	}
	for (int i = 0; i < g->n_ports; i++)
		names[n_names++] = g->ports[i].name;
	if (cfg->mgmt.mode != TG_MGMT_OFF && cfg->gateway.mode != TG_MODE_BRIDGE && g->ports[GW_MGMT].name[0])
		names[n_names++] = g->ports[GW_MGMT].name;
	gw_watch_links(g, names, n_names);

	ret = gw_hold_start(g);
	if (ret < 0)
		return ret;
	if (cfg->gateway.mode == TG_MODE_NFQUEUE) {
		ret = gw_nfq_start(g);
		return ret < 0 ? ret : gw_mgmt_start(g);
	}
	if (cfg->gateway.mode == TG_MODE_BRIDGE) {
		ret = fdb_init(&g->fdb, cfg->bridge.fdb_size, cfg->bridge.fdb_ageing);
		if (ret < 0) {
			log_err("cannot allocate a MAC table of %u addresses", cfg->bridge.fdb_size);
			return ret;
		}
	}
	for (int i = 0; i < g->n_ports; i++) {
		ret = gw_port_open(g, &g->ports[i]);
		/* At start a missing port is a configuration error, not an outage. */
		if (ret < 0)
			return ret;
	}
	return gw_mgmt_start(g);
}

static void gw_stop_mode(struct gateway *g)
{
	loop_timer_cancel(g->loop, &g->reopen);
	gw_capture_stop(g, N_("townguard stopped"));
	gw_hold_flush(g); /* while the ports are open: held frames go out */
	gw_mgmt_stop(g);
	gw_port_close(&g->ports[GW_MGMT]);
	for (int i = 0; i < g->n_ports; i++)
		gw_port_close(&g->ports[i]);
	gw_nfq_stop(g);
	gw_unwatch_links(g);
	fdb_free(&g->fdb);
}

static void gw_log_totals(struct gateway *g)
{
	const struct enforce_stats *e = &g->enf.st;

	log_info("stopped: %llu frames; forwarded %llu, dropped %llu (%llu malformed), "
		 "%llu resets and %llu DNS answers sent, %llu send errors",
		 (unsigned long long)g->pl.st.frames,
		 (unsigned long long)(g->st.forwarded ? g->st.forwarded : e->forwarded),
		 (unsigned long long)(e->dropped + g->st.malformed),
		 (unsigned long long)g->st.malformed, (unsigned long long)e->rst_sent,
		 (unsigned long long)e->dns_answered, (unsigned long long)g->st.tx_errors);
	gw_hold_log_totals(g);
	gw_blocklog_log_totals(g);
}

/*
 * The console's reboot, once everything stopped: reboot(2) with
 * CONFIG_CONSOLE_REBOOT, else the exit status (an init may start us again).
 */
static int gw_reboot_board(int ret)
{
	if (!IS_ENABLED(CONFIG_CONSOLE_REBOOT)) {
		log_info("reboot: the firmware stopped (CONFIG_CONSOLE_REBOOT is off: the board keeps running)");
		return ret;
	}
	log_info("reboot: restarting the board");
	log_err("reboot: %s", strerror(-power_reboot()));
	return 1;
}

int gateway_run(struct gateway_opts *o)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct gateway *g = calloc(1, sizeof(*g));
	double t0;
	int ret = 1;

	if (!g)
		return 1;
	g->loop = loop_new();
	if (!g->loop) {
		log_err("cannot create the event loop: %s", strerror(errno));
		free(g);
		return 1;
	}
	g->console_fd = -1;
	if (gw_init(g, o, true) < 0)
		goto out_uninit;
	/* The console's language ([console] lang): its catalogue, English without one. */
	i18n_init(NULL);
	i18n_set_lang(o->cfg.console.lang);
	g->tick.cb = gw_tick;
	g->stop.cb = gw_stop_timer;
	g->reopen.cb = gw_reopen;
	g->sig.cb = gw_signal;
	if (loop_signal_add(g->loop, &g->sig, signals, (int)ARRAY_SIZE(signals)) < 0) {
		log_err("cannot watch signals: %s", strerror(errno));
		goto out_uninit;
	}
	gw_wdog_start(g);
	if (gw_start_mode(g) < 0)
		goto out_mode;

	g->pl.epoch_offset_ms = (int64_t)gw_realtime_ms() - (int64_t)loop_now_ms();
	/* After the uplink (gw_start_mode): the spool's records go out on it. Without reports
	 * (the spool cannot be opened: logged) the gateway still protects the office. */
	gw_report_start(g);
	/* Last: the technician's console (a console that fails leaves the office protected). */
	gw_console_start(g);
	g->started_ms = loop_now_ms();
	loop_timer_set(g->loop, &g->tick, 1000);
	if (o->duration_s)
		loop_timer_set(g->loop, &g->stop, (uint64_t)o->duration_s * 1000u);
	log_info("running: mode %s on %s%s%s", config_mode_name(g->cfg->gateway.mode),
		 g->ports[0].name, g->n_ports > 1 ? " and " : "", g->n_ports > 1 ? g->ports[1].name : "");
	t0 = gw_mono_seconds();
	ret = loop_run(g->loop) < 0 ? 1 : 0;
	gw_console_stop(g);
	gw_wdog_stop(g, ret == 0);
	if (g->ports[0].is_open) {
		g->rep.port_valid = port_stats(&g->ports[0].port, &g->rep.port) == 0;
	}
	gw_stop_mode(g);
	gw_log_totals(g);
	gw_rejudge_stop(g);
	gw_write_totals(g, gw_mono_seconds() - t0);
	if (g->io_error)
		ret = 1;
	loop_signal_del(g->loop, &g->sig);
	hold_free(g->hold);
	gw_uninit(g);
	loop_free(g->loop);
	if (g->reboot)
		ret = gw_reboot_board(ret);
	free(g);
	return ret;

out_mode:
	gw_wdog_stop(g, false);
	gw_stop_mode(g);
	hold_free(g->hold);
	loop_signal_del(g->loop, &g->sig);
out_uninit:
	gw_uninit(g);
	loop_free(g->loop);
	free(g);
	return ret;
}


/*
 * The running gateway (see gateway.h): replay, and the live modes monitor,
 * bridge and nfqueue on one event loop.
 *
 * Every frame takes the same path whatever the mode: pipeline_frame() judges
 * it, enforce_frame() says forward or drop and builds the answers, and the
 * mode only decides where frames go. The loop never blocks: ports are
 * nonblocking, a port that fails is closed and reopened by a timer while the
 * rest keeps running.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "gateway"
#include "app/fdb.h"
#include "app/gateway.h"
#include "app/report.h"
#include "core/board.h"
#include "core/common.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "core/siphash.h"
#include "hub/uplink.h"
#include "link.h"
#include "mgmt.h"
#include "packet/pipeline.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "policy/store.h"
#include "policy/trust.h"
#ifdef CONFIG_DRIVER_NFQUEUE
#include "nfq.h"
#endif

/* A port that failed (interface gone) is tried again this often. */
#define GW_REOPEN_MS 2000
#define GW_RX_BURST CONFIG_PCAP_RX_BURST

enum { GW_LAN = 0, GW_WAN = 1, GW_MIRROR = 0, GW_INJECT = 1, GW_MGMT = 2, GW_PORTS = 3 };

struct gateway;

struct gw_port {
	struct gateway *gw;
	int idx;
	char name[16];
	bool rx;              /* frames are read from it (not the monitor's inject port) */
	bool is_open;
	struct port port;
	struct loop_fd lfd;
};

struct gw_stats {
	uint64_t forwarded;   /* frames sent on by the bridge */
	uint64_t filtered;    /* bridge: destination on the port the frame came from */
	uint64_t malformed;   /* bridge/nfqueue: IP frames the decoder refused, dropped */
	uint64_t not_ip;      /* bridge/nfqueue: non-IP frames, passed */
	uint64_t tx_errors;
	uint64_t reloads, reload_errors;
};

struct gateway {
	struct gateway_opts *o;
	struct tg_config *cfg;   /* == &o->cfg, the configuration in force */
	struct bundle *bundle;
	struct pipeline pl;
	struct policy *policy;         /* the pipeline's judge */
	struct report rep;
	struct enforce enf;
	struct loop *loop;
	struct loop_signal sig;
	struct loop_timer tick, stop, reopen;
	struct gw_port ports[GW_PORTS];
	int n_ports;
	struct mgmt *mgmt;             /* the gateway's own IP identity, NULL when [mgmt] mode = off */
	uint8_t mgmt_mac[6];
	struct loop_timer mgmt_timer;
	struct uplink *uplink;         /* MQTT to the hub, NULL without [uplink] broker */
	uint64_t started_ms;
	struct fdb fdb;
	struct link_monitor *links;
	struct loop_fd links_fd;
#ifdef CONFIG_DRIVER_NFQUEUE
	struct nfq *nfq;
	struct loop_fd nfq_fd;
#endif
	struct gw_stats st;
	bool live;
	int io_error;
};

/* ------------------------------------------------------------ reporting */

static void gw_flow_end(struct pipeline *pl, struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct gateway *g = ctx;

	report_count_flow(&g->rep, f, why);
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

static void gw_hit(const struct policy_hit *hit, void *ctx)
{
	struct gateway *g = ctx;
	const struct flow *f = hit->flow;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	report_hit(&g->rep, hit);
	if (!g->live)
		return;
	/* One line per judged flow: what a technician or the SOC reads first. */
	gw_addr(src, sizeof(src), flow_src(f), f->key.ip_version);
	gw_addr(dst, sizeof(dst), flow_dst(f), f->key.ip_version);
	log_info("%s %s:%u -> %s:%u (%s) at %s \"%s\" (rule %u)",
		 bundle_action_name((enum bundle_action)hit->action), src, flow_sport(f), dst,
		 flow_dport(f), f->key.l4_proto == 6 ? "tcp" : f->key.l4_proto == 17 ? "udp" : "ip",
		 policy_stage_name((enum policy_stage)hit->stage), hit->indicator, hit->rule);
}

/* ------------------------------------------------------------ the blocklist */

static uint64_t gw_wall_s(void)
{
	return (uint64_t)time(NULL);
}

static void gw_use_bundle(struct gateway *g, struct bundle *b)
{
	policy_set_bundle(g->policy, b);
	bundle_close(g->bundle);
	g->bundle = b;
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
	ret = trust_load(g->cfg, &t, keypath, sizeof(keypath));
	if (ret == 0) {
		e = bundle_check(b, t.pubkey, t.pubkey_len, t.region, 0, gw_wall_s(),
				 t.clock_skew_s);
		free((void *)t.pubkey);
		if (e != BUNDLE_OK) {
			log_err("bundle %s refused: %s", path, bundle_err_text(e));
			bundle_close(b);
			return -EINVAL;
		}
	} else if (ret == -ENOENT) {
		log_warn("bundle %s: signature NOT checked (no hub key at %s)", path, keypath);
	} else {
		bundle_close(b);
		return ret;
	}
	in = bundle_get_info(b);
	log_info("bundle %s: region %s, serial %llu, %zu domains, %zu IPv4 and %zu IPv6 prefixes",
		 path, in->region, (unsigned long long)in->serial,
		 bundle_count(b, BUNDLE_DOMAIN, false), bundle_count(b, BUNDLE_IPV4, false),
		 bundle_count(b, BUNDLE_IPV6, false));
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
		if (g->bundle)
			log_warn("no list on flash passes the checks (%s): serial %llu stays in force",
				 bundle_err_text(e),
				 (unsigned long long)bundle_get_info(g->bundle)->serial);
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
	pipeline_set_judge(&g->pl, &policy_judge, g->policy);
	if (o->bundle)
		return gw_bundle_file(g, o->bundle);
	if (live)
		gw_flash_bundle(g);
	return 0;
}

static void gw_write_totals(struct gateway *g, double seconds)
{
	flow_end_all(g->pl.flows);
	report_totals(g->o->flows ? stderr : stdout, &g->rep, &g->pl, seconds);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (!g->io_error)
			log_err("cannot write to standard output: %s", strerror(errno));
		g->io_error = 1;
	}
}

static void gw_uninit(struct gateway *g)
{
	pipeline_uninit(&g->pl); /* flows ending here are still judged */
	policy_free(g->policy);
	g->policy = NULL;
	bundle_close(g->bundle);
	g->bundle = NULL;
	report_free(&g->rep);
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

	/* A capture is judged on its own timestamps. */
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
		if (g->pl.flows)
			gw_write_totals(g, 0);
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

/* ------------------------------------------------------------ frames */

static void gw_mgmt_poll_soon(struct gateway *g);
static void gw_mgmt_rx(struct port *port, const struct port_frame *fr, void *ctx);

/* Bridge and nfqueue: what to do with a frame the pipeline did not track. */
static bool gw_pass_untracked(struct gateway *g, enum decode_err err)
{
	switch (err) {
	case DECODE_ERR_NOT_IP:   /* ARP, LLDP, ...: a bridge passes them */
		g->st.not_ip++;
		return true;
	case DECODE_ERR_FRAGMENT: /* its flow was judged on the first fragment */
		return true;
	default:
		/*
		 * Malformed IP (bad lengths, truncated headers, tunnels too deep):
		 * a host would drop it anyway, and it could hide what the
		 * decoder cannot see. Dropped and counted by reason.
		 */
		g->st.malformed++;
		return false;
	}
}

static void gw_port_tx(struct gateway *g, int idx, const uint8_t *data, uint32_t len)
{
	struct gw_port *gp = &g->ports[idx];

	if (!gp->is_open || port_tx(&gp->port, data, len) < 0)
		g->st.tx_errors++;
}

static void gw_judge(struct gateway *g, enum link_type link, const uint8_t *data,
		     uint32_t caplen, uint32_t wirelen, struct pipeline_result *res,
		     struct enforce_action *act)
{
	pipeline_frame(&g->pl, link, data, caplen, wirelen, loop_now_ms(), res);
	act->verdict = ENFORCE_FORWARD;
	act->final = false;
	act->n_frames = 0;
	if (res->flow)
		enforce_frame(&g->enf, res->flow, &res->pkt, res->dir, link, data, caplen, act);
	else if (res->err != DECODE_OK && !gw_pass_untracked(g, res->err))
		act->verdict = ENFORCE_DROP;
}

static void gw_bridge_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gw_port *gp = container_of(port, struct gw_port, port);
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;
	int in = gp->idx, out = in ^ 1, known;
	uint32_t now_s = (uint32_t)(loop_now_ms() / 1000);

	/* A frame cut short by the capture cannot be forwarded whole. */
	if (fr->caplen < 14 || fr->caplen != fr->wirelen) {
		g->st.malformed++;
		return;
	}
	fdb_learn(&g->fdb, fr->data + 6, (uint8_t)in, now_s);
	if (g->mgmt) {
		/* Frames for the gateway itself leave the data path: never judged, never forwarded. */
		if (!memcmp(fr->data, g->mgmt_mac, 6)) {
			mgmt_input(g->mgmt, fr->data, fr->caplen);
			gw_mgmt_poll_soon(g);
			return;
		}
		/* Broadcast and multicast: a copy for the gateway, and on across the bridge. */
		if (fr->data[0] & 1) {
			mgmt_input(g->mgmt, fr->data, fr->caplen);
			gw_mgmt_poll_soon(g);
		}
	}
	known = fdb_lookup(&g->fdb, fr->data, now_s);
	if (known == in) {
		g->st.filtered++;
		return;
	}
	gw_judge(g, port->link, fr->data, fr->caplen, fr->wirelen, &res, &act);
	for (int i = 0; i < act.n_frames; i++)
		gw_port_tx(g, act.frames[i].to == ENFORCE_TO_SENDER ? in : out, act.frames[i].data,
			   act.frames[i].len);
	if (act.verdict == ENFORCE_FORWARD) {
		gw_port_tx(g, out, fr->data, fr->caplen);
		g->st.forwarded++;
	}
}

static void gw_monitor_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;

	gw_judge(g, port->link, fr->data, fr->caplen, fr->wirelen, &res, &act);
	/* A mirror shows both directions: every answer leaves through the inject port. */
	for (int i = 0; i < act.n_frames; i++)
		if (g->ports[GW_INJECT].is_open)
			gw_port_tx(g, GW_INJECT, act.frames[i].data, act.frames[i].len);
}

/* ------------------------------------------------------------ ports */

static void gw_port_close(struct gw_port *gp)
{
	if (!gp->is_open)
		return;
	if (gp->lfd.registered)
		loop_fd_del(gp->gw->loop, &gp->lfd);
	port_close(&gp->port);
	gp->is_open = false;
}

static void gw_port_readable(struct loop_fd *lfd, unsigned int events)
{
	struct gw_port *gp = container_of(lfd, struct gw_port, lfd);
	struct gateway *g = gp->gw;
	port_rx_fn fn = gp->idx == GW_MGMT ? gw_mgmt_rx
			: g->cfg->gateway.mode == TG_MODE_BRIDGE ? gw_bridge_rx : gw_monitor_rx;
	int n;

	(void)events;
	n = port_rx_burst(&gp->port, fn, g, GW_RX_BURST);
	if (n < 0) {
		log_err("%s: port failed (%s): closed, trying again every %d s", gp->name,
			strerror(-n), GW_REOPEN_MS / 1000);
		gw_port_close(gp);
		loop_timer_set(g->loop, &g->reopen, GW_REOPEN_MS);
	}
}

static int gw_port_open(struct gateway *g, struct gw_port *gp)
{
	const struct tg_config *cfg = g->cfg;
	/* The bridge's ports and the management port carry whole frames both ways. */
	bool inline_port = cfg->gateway.mode == TG_MODE_BRIDGE || gp->idx == GW_MGMT;
	struct port_config pc = {
		.name = gp->name,
		/* An inline port forwards every frame: no filter, whole frames. */
		.filter = inline_port || !gp->rx ? NULL : cfg->capture.filter,
		.snaplen = inline_port ? 0 : cfg->capture.snaplen,
		.buffer_kb = cfg->capture.buffer_kb,
		.promiscuous = inline_port || cfg->capture.promiscuous,
		.immediate = inline_port || cfg->capture.immediate,
		.inbound_only = inline_port,
	};
	int ret;

	if (inline_port) {
		/* Coalesced super-frames could not be sent on whole. */
		link_disable_offloads(gp->name);
		link_set_up(gp->name, true);
	}
	ret = port_open(&gp->port, "pcap", &pc);
	if (ret < 0)
		return ret;
	if (inline_port && gp->port.link != LINK_ETHERNET) {
		log_err("%s: bridge and management ports must be Ethernet", gp->name);
		port_close(&gp->port);
		return -EPROTONOSUPPORT;
	}
	gp->is_open = true;
	if (!gp->rx)
		return 0;
	gp->lfd.fd = port_fd(&gp->port);
	gp->lfd.cb = gw_port_readable;
	ret = loop_fd_add(g->loop, &gp->lfd, LOOP_READ);
	if (ret < 0) {
		log_err("%s: cannot watch the port: %s", gp->name, strerror(-ret));
		gw_port_close(gp);
	}
	return ret;
}

static void gw_reopen(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, reopen);
	bool missing = false;

	for (int i = 0; i < GW_PORTS; i++) {
		struct gw_port *gp = &g->ports[i];

		/* The mode's ports, and the management port when it has one. */
		if (gp->is_open || (i >= g->n_ports && !gp->rx))
			continue;
		if (gw_port_open(g, gp) == 0)
			log_info("%s: port back in service", gp->name);
		else
			missing = true;
	}
	if (missing)
		loop_timer_set(g->loop, &g->reopen, GW_REOPEN_MS);
}

static void gw_link_change(const struct link_state *st, void *ctx)
{
	struct gateway *g = ctx;

	/* Hosts may come back on the other side: learn again from scratch. */
	if (g->cfg->gateway.mode == TG_MODE_BRIDGE && (!st->exists || !st->carrier))
		fdb_flush(&g->fdb);
	/* The uplink should not wait out a long backoff once the wire is back. */
	if (st->exists && st->admin_up && st->carrier)
		uplink_link_up(g->uplink);
}

static void gw_links_readable(struct loop_fd *lfd, unsigned int events)
{
	struct gateway *g = container_of(lfd, struct gateway, links_fd);

	(void)events;
	link_monitor_read(g->links);
}

static void gw_watch_links(struct gateway *g, const char *const *names, int n)
{
	if (link_monitor_open(&g->links, names, n, gw_link_change, g) < 0)
		return; /* logged; the gateway runs without link messages */
	g->links_fd.fd = link_monitor_fd(g->links);
	g->links_fd.cb = gw_links_readable;
	if (loop_fd_add(g->loop, &g->links_fd, LOOP_READ) < 0) {
		link_monitor_close(g->links);
		g->links = NULL;
	}
}

/* ------------------------------------------------------------ management (lwIP) */

static void gw_mgmt_timer(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, mgmt_timer);
	uint32_t next;

	mgmt_poll(g->mgmt);
	uplink_tick(g->uplink, loop_now_ms());
	next = mgmt_next_timeout_ms(g->mgmt);
	loop_timer_set(g->loop, &g->mgmt_timer, next < 100 ? next : 100);
}

/* lwIP may have answers to send or timers to rearm after input: run it soon. */
static void gw_mgmt_poll_soon(struct gateway *g)
{
	loop_timer_set(g->loop, &g->mgmt_timer, 0);
}

/*
 * lwIP's frames. Bridge mode: out of the port the destination was learned
 * on, or both when unknown or a group address. Other modes: the management
 * port. Never judged by the policy.
 */
static int gw_mgmt_tx(const uint8_t *frame, uint32_t len, void *ctx)
{
	struct gateway *g = ctx;
	int port, ret = 0;

	if (g->cfg->gateway.mode != TG_MODE_BRIDGE)
		return g->ports[GW_MGMT].is_open ? port_tx(&g->ports[GW_MGMT].port, frame, len) : -ENETDOWN;
	port = fdb_lookup(&g->fdb, frame, (uint32_t)(loop_now_ms() / 1000));
	for (int i = GW_LAN; i <= GW_WAN; i++)
		if ((port == FDB_PORT_NONE || port == i) && g->ports[i].is_open &&
		    port_tx(&g->ports[i].port, frame, len) < 0)
			ret = -EIO;
	return ret;
}

static void gw_mgmt_address(const char *addr, void *ctx)
{
	struct gateway *g = ctx;

	if (addr)
		log_info("management address %s (%s)", addr,
			 g->cfg->mgmt.mode == TG_MGMT_DHCP ? "DHCP" : "static");
	else
		log_warn("management address lost (DHCP lease ended)");
}

static void gw_mgmt_time(uint64_t unix_s, void *ctx)
{
	(void)ctx;
	log_info("time set by SNTP: %llu", (unsigned long long)unix_s);
}

/* The management port's frames (monitor and nfqueue modes). */
static void gw_mgmt_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gateway *g = ctx;

	(void)port;
	if (fr->caplen >= 14 && (!memcmp(fr->data, g->mgmt_mac, 6) || (fr->data[0] & 1))) {
		mgmt_input(g->mgmt, fr->data, fr->caplen);
		gw_mgmt_poll_soon(g);
	}
}

static const struct bundle *gw_uplink_in_force(void *ctx)
{
	const struct gateway *g = ctx;

	return g->bundle;
}

static void gw_uplink_swap(struct bundle *b, void *ctx)
{
	gw_use_bundle(ctx, b);
}

static void gw_uplink_describe(struct state_in *in, void *ctx)
{
	const struct gateway *g = ctx;

	in->gateway = g->cfg->gateway.id;
	in->region = g->cfg->gateway.region;
	in->firmware = CONFIG_VERSION;
	in->mode = config_mode_name(g->cfg->gateway.mode);
	in->uptime_s = (loop_now_ms() - g->started_ms) / 1000;
}

static int gw_uplink_start(struct gateway *g)
{
	const struct uplink_ops ops = { .in_force = gw_uplink_in_force, .swap = gw_uplink_swap,
					.describe = gw_uplink_describe, .ctx = g };

	return uplink_start(&g->uplink, g->mgmt, g->cfg, &ops);
}

/* [mgmt] mac, else 02:xx:xx:xx:xx:xx from a hash of the gateway id (stable across boots). */
static void gw_mgmt_mac(const struct tg_config *cfg, uint8_t mac[6])
{
	static const uint8_t key[16] = "townguard-mgmt!";
	uint64_t h;

	if (cfg->mgmt.mac[0] && config_parse_mac(cfg->mgmt.mac, mac) == 0)
		return;
	h = siphash24(key, cfg->gateway.id, strlen(cfg->gateway.id));
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static int gw_mgmt_start(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	struct mgmt_config mc = { .dhcp = cfg->mgmt.mode == TG_MGMT_DHCP, .hostname = cfg->gateway.id };
	const struct mgmt_events ev = { .address = gw_mgmt_address, .time_set = gw_mgmt_time, .ctx = g };
	int ret;

	if (cfg->mgmt.mode == TG_MGMT_OFF)
		return 0;
	gw_mgmt_mac(cfg, g->mgmt_mac);
	memcpy(mc.mac, g->mgmt_mac, 6);
	snprintf(mc.addr, sizeof(mc.addr), "%s", cfg->mgmt.address);
	snprintf(mc.netmask, sizeof(mc.netmask), "%s", cfg->mgmt.netmask);
	snprintf(mc.gateway, sizeof(mc.gateway), "%s", cfg->mgmt.router);
	snprintf(mc.dns[0], sizeof(mc.dns[0]), "%s", cfg->mgmt.dns);
	snprintf(mc.ntp[0], sizeof(mc.ntp[0]), "%s", cfg->mgmt.ntp);
	if (cfg->gateway.mode != TG_MODE_BRIDGE) {
		struct gw_port *gp = &g->ports[GW_MGMT];

		if (!gp->name[0]) {
			log_err("[mgmt] port: needed in %s mode", config_mode_name(cfg->gateway.mode));
			return -EINVAL;
		}
		gp->rx = true;
		ret = gw_port_open(g, gp);
		if (ret < 0)
			return ret;
	}
	ret = mgmt_open(&g->mgmt, &mc, gw_mgmt_tx, g, &ev);
	if (ret < 0)
		return ret;
	g->mgmt_timer.cb = gw_mgmt_timer;
	loop_timer_set(g->loop, &g->mgmt_timer, 0);
	return gw_uplink_start(g);
}

static void gw_mgmt_stop(struct gateway *g)
{
	uplink_stop(g->uplink);
	g->uplink = NULL;
	if (!g->mgmt)
		return;
	loop_timer_cancel(g->loop, &g->mgmt_timer);
	mgmt_close(g->mgmt);
	g->mgmt = NULL;
}

/* ------------------------------------------------------------ nfqueue */

#ifdef CONFIG_DRIVER_NFQUEUE
static void gw_nfq_rx(struct nfq *q, const struct nfq_packet *pk, void *ctx)
{
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;
	enum nfq_verdict v;

	gw_judge(g, LINK_ETHERNET, pk->frame, pk->len, pk->len, &res, &act);
	for (int i = 0; i < act.n_frames; i++) {
		uint32_t ifindex = act.frames[i].to == ENFORCE_TO_SENDER ? pk->in_ifindex
									 : pk->out_ifindex;

		if (!ifindex || nfq_inject(q, ifindex, act.frames[i].data, act.frames[i].len) < 0)
			g->st.tx_errors++;
	}
	if (act.verdict == ENFORCE_FORWARD)
		v = act.final ? NFQ_OFFLOAD_ACCEPT : NFQ_ACCEPT;
	else
		v = act.final ? NFQ_OFFLOAD_DROP : NFQ_DROP;
	nfq_verdict(q, pk->id, v);
}

static void gw_nfq_readable(struct loop_fd *lfd, unsigned int events)
{
	struct gateway *g = container_of(lfd, struct gateway, nfq_fd);
	int n;

	(void)events;
	n = nfq_rx_burst(g->nfq, gw_nfq_rx, g, GW_RX_BURST);
	if (n < 0)
		log_debug_rl("queue read: %s", strerror(-n));
}

static int gw_nfq_start(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	const struct nfq_config qc = {
		.bridge = cfg->nfqueue.bridge,
		.ports = { g->ports[GW_LAN].name, g->ports[GW_WAN].name },
		.queue = (uint16_t)cfg->nfqueue.queue,
		.queue_len = cfg->nfqueue.queue_len,
		.fail_open = cfg->nfqueue.fail_open,
		.install_rules = true,
	};
	int ret = nfq_open(&g->nfq, &qc);

	if (ret < 0)
		return ret;
	g->nfq_fd.fd = nfq_fd(g->nfq);
	g->nfq_fd.cb = gw_nfq_readable;
	ret = loop_fd_add(g->loop, &g->nfq_fd, LOOP_READ);
	if (ret < 0) {
		nfq_close(g->nfq);
		g->nfq = NULL;
	}
	return ret;
}

static void gw_nfq_stop(struct gateway *g)
{
	if (!g->nfq)
		return;
	loop_fd_del(g->loop, &g->nfq_fd);
	nfq_close(g->nfq);
	g->nfq = NULL;
}
#endif

/* ------------------------------------------------------------ signals, timers */

/*
 * SIGHUP: the configuration again, then the bundle on flash. What can change
 * live changes now (log, enforcement answers, the hub key and clock skew);
 * what needs ports reopened, tables rebuilt or the uplink restarted is
 * reported.
 */
static void gw_reload(struct gateway *g)
{
	struct tg_config *cur = g->cfg, next;
	struct enforce_config ec;
	static const struct {
		const char *what;
		size_t off, len;
	} restart[] = {
#define GW_FIELD(f) { #f, offsetof(struct tg_config, f), sizeof(((struct tg_config *)0)->f) }
		GW_FIELD(gateway.mode), GW_FIELD(ports), GW_FIELD(bridge), GW_FIELD(nfqueue),
		GW_FIELD(capture), GW_FIELD(flow), GW_FIELD(dpi), GW_FIELD(mgmt), GW_FIELD(uplink),
		/* the uplink's identity, topics and flash directory are set when it starts */
		GW_FIELD(gateway.id), GW_FIELD(gateway.region), GW_FIELD(gateway.data_dir),
#undef GW_FIELD
	};

	g->st.reloads++;
	if (!g->o->reload) {
		gw_flash_bundle(g);
		return;
	}
	next = *cur;
	if (g->o->reload(&next, g->o->reload_ctx) < 0) {
		g->st.reload_errors++;
		log_err("reload: the configuration has errors (above); nothing changed");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(restart); i++)
		if (memcmp((char *)cur + restart[i].off, (char *)&next + restart[i].off,
			   restart[i].len) != 0) {
			log_warn("reload: [%s] changed: takes effect at the next start",
				 restart[i].what);
			memcpy((char *)&next + restart[i].off, (char *)cur + restart[i].off,
			       restart[i].len);
		}
	*cur = next;
	log_set_level((enum log_level)cur->log.level);
	gw_enforce_config(cur, &ec);
	g->enf.cfg = ec;
	log_info("reload: configuration in force");
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

	if (cfg->gateway.mode == TG_MODE_NFQUEUE) {
#ifdef CONFIG_DRIVER_NFQUEUE
		ret = gw_nfq_start(g);
		return ret < 0 ? ret : gw_mgmt_start(g);
#else
		log_err("nfqueue mode is not in this build (CONFIG_DRIVER_NFQUEUE)");
		return -EOPNOTSUPP;
#endif
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
	gw_mgmt_stop(g);
	gw_port_close(&g->ports[GW_MGMT]);
	for (int i = 0; i < g->n_ports; i++)
		gw_port_close(&g->ports[i]);
#ifdef CONFIG_DRIVER_NFQUEUE
	gw_nfq_stop(g);
#endif
	if (g->links) {
		loop_fd_del(g->loop, &g->links_fd);
		link_monitor_close(g->links);
		g->links = NULL;
	}
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
	if (gw_init(g, o, true) < 0)
		goto out_uninit;
	g->tick.cb = gw_tick;
	g->stop.cb = gw_stop_timer;
	g->reopen.cb = gw_reopen;
	g->sig.cb = gw_signal;
	if (loop_signal_add(g->loop, &g->sig, signals, (int)ARRAY_SIZE(signals)) < 0) {
		log_err("cannot watch signals: %s", strerror(errno));
		goto out_uninit;
	}
	if (gw_start_mode(g) < 0)
		goto out_mode;

	g->pl.epoch_offset_ms = (int64_t)gw_realtime_ms() - (int64_t)loop_now_ms();
	g->started_ms = loop_now_ms();
	loop_timer_set(g->loop, &g->tick, 1000);
	if (o->duration_s)
		loop_timer_set(g->loop, &g->stop, (uint64_t)o->duration_s * 1000u);
	log_info("running: mode %s on %s%s%s", config_mode_name(g->cfg->gateway.mode),
		 g->ports[0].name, g->n_ports > 1 ? " and " : "", g->n_ports > 1 ? g->ports[1].name : "");
	t0 = gw_mono_seconds();
	ret = loop_run(g->loop) < 0 ? 1 : 0;
	if (g->ports[0].is_open) {
		g->rep.port_valid = port_stats(&g->ports[0].port, &g->rep.port) == 0;
	}
	gw_stop_mode(g);
	gw_log_totals(g);
	gw_write_totals(g, gw_mono_seconds() - t0);
	if (g->io_error)
		ret = 1;
	loop_signal_del(g->loop, &g->sig);
	gw_uninit(g);
	loop_free(g->loop);
	free(g);
	return ret;

out_mode:
	gw_stop_mode(g);
	loop_signal_del(g->loop, &g->sig);
out_uninit:
	gw_uninit(g);
	loop_free(g->loop);
	free(g);
	return ret;
}

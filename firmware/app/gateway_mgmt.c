/*
 * The gateway's own IP identity (gateway_priv.h): the lwIP netif that sends
 * and receives through the mode's ports, its timers, and the callbacks the
 * uplink to the hub reads the gateway through. Frames for the management
 * MAC leave the data path: they are never judged by the policy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/common.h"
#include "core/log.h"
#include "core/siphash.h"
#include "hub/uplink.h"
#include "mgmt.h"

static void gw_mgmt_timer(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, mgmt_timer);
	uint32_t next;

	mgmt_poll(g->mgmt);
	uplink_tick(g->uplink, loop_now_ms());
	gw_report_wire_tick(g);
	next = mgmt_next_timeout_ms(g->mgmt);
	loop_timer_set(g->loop, &g->mgmt_timer, next < 100 ? next : 100);
}

/* lwIP may have answers to send or timers to rearm after input: run it soon. */
void gw_mgmt_poll_soon(struct gateway *g)
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
void gw_mgmt_rx(struct port *port, const struct port_frame *fr, void *ctx)
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

static void gw_uplink_refused(enum bundle_err reason, uint64_t serial, void *ctx)
{
	gw_report_refused(ctx, bundle_err_name(reason), serial);
}

static void gw_uplink_report_now(void *ctx)
{
	gw_report_on_request(ctx);
}

static int gw_uplink_start(struct gateway *g)
{
	const struct uplink_ops ops = { .in_force = gw_uplink_in_force, .swap = gw_uplink_swap,
					.describe = gw_uplink_describe, .refused = gw_uplink_refused,
					.report_now = gw_uplink_report_now, .ctx = g };

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

int gw_mgmt_start(struct gateway *g)
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

void gw_mgmt_stop(struct gateway *g)
{
	uplink_stop(g->uplink);
	g->uplink = NULL;
	if (!g->mgmt)
		return;
	loop_timer_cancel(g->loop, &g->mgmt_timer);
	mgmt_close(g->mgmt);
	g->mgmt = NULL;
}

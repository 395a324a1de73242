/*
 * The gateway's data path (gateway_priv.h): every frame of the bridge and
 * monitor modes is judged here (pipeline_frame(), then enforce_frame()) and
 * sent on or answered; the mode only decides where frames go. Ports are
 * nonblocking; a port that fails is closed and reopened by a timer while
 * the rest keeps running, and link messages flush the bridge's MAC table.
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/common.h"
#include "core/log.h"
#include "hub/uplink.h"
#include "link.h"
#include "mgmt.h"
#include "packet/segment.h"

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

/*
 * A forwarded frame joins the port's send queue; gw_port_readable() flushes
 * every port at the end of the burst (one system call per port and burst).
 * Frames sent with gw_port_tx() leave after what is queued, so the order
 * on each port is the order of the calls.
 */
static void gw_port_txq(struct gateway *g, int idx, const uint8_t *data, uint32_t len,
			uint16_t seg_size)
{
	struct gw_port *gp = &g->ports[idx];
	int r = gp->is_open ? port_tx_queue_seg(&gp->port, data, len, seg_size) : -ENETDOWN;

	g->st.tx_errors += r < 0 ? 1u : (uint64_t)r;
}

static void gw_ports_flush(struct gateway *g)
{
	for (int i = 0; i < GW_PORTS; i++)
		if (g->ports[i].is_open)
			g->st.tx_errors += (uint64_t)port_tx_flush(&g->ports[i].port);
}

void gw_judge(struct gateway *g, enum link_type link, const uint8_t *data, uint32_t caplen,
	      uint32_t wirelen, uint16_t seg_size, struct pipeline_result *res,
	      struct enforce_action *act)
{
	pipeline_frame_seg(&g->pl, link, data, caplen, wirelen, seg_size, loop_now_ms(), res);
	act->verdict = ENFORCE_FORWARD;
	act->final = false;
	act->n_frames = 0;
	if (res->flow)
		enforce_frame(&g->enf, res->flow, &res->pkt, res->dir, link, data, caplen, act);
	else if (res->err != DECODE_OK && !gw_pass_untracked(g, res->err))
		act->verdict = ENFORCE_DROP;
}

/* aux[1]: the frame's seg_size (a coalesced frame leaves cut again). */
static void gw_bridge_hold_pass(struct gateway *g, const struct hold_frame *fr)
{
	int out = (int)fr->aux[0] ^ 1;

	gw_port_txq(g, out, fr->data, fr->len, (uint16_t)fr->aux[1]);
	if (g->ports[out].is_open)
		g->st.tx_errors += (uint64_t)port_tx_flush(&g->ports[out].port);
	g->st.forwarded++;
}

static void gw_bridge_hold_drop(struct gateway *g, const struct hold_frame *fr)
{
	(void)g;
	(void)fr;
}

static void gw_bridge_hold_answer(struct gateway *g, const struct enforce_action *act,
				  const struct hold_frame *fr)
{
	int in = (int)fr->aux[0];

	for (int i = 0; i < act->n_frames; i++)
		gw_port_tx(g, act->frames[i].to == ENFORCE_TO_SENDER ? in : in ^ 1,
			   act->frames[i].data, act->frames[i].len);
}

/* Held frames are copies, sent on out of the other port (aux[0]: the port they came in on). */
static const struct gw_hold_ops gw_bridge_hold_ops = {
	.pass = gw_bridge_hold_pass,
	.drop = gw_bridge_hold_drop,
	.answer = gw_bridge_hold_answer,
};

static void gw_mgmt_segment(const uint8_t *frame, uint32_t len, void *ctx)
{
	mgmt_input(ctx, frame, len);
}

/* A frame for the gateway itself; the management netif takes wire-sized frames only. */
static void gw_bridge_mgmt_input(struct gateway *g, const struct port_frame *fr)
{
	int n;

	if (!fr->seg_size) {
		mgmt_input(g->mgmt, fr->data, fr->caplen);
		return;
	}
	n = segment_tcp(fr->data, fr->caplen, fr->seg_size, gw_mgmt_segment, g->mgmt);
	if (n < 0)
		log_debug_rl("coalesced %u-byte frame for the gateway (segments of %u) not cut: %s",
			     fr->caplen, fr->seg_size, strerror(-n));
}

static void gw_bridge_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gw_port *gp = container_of(port, struct gw_port, port);
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;
	int in = gp->idx, out = in ^ 1, known;
	uint32_t now_s = (uint32_t)(loop_now_ms() / 1000);

	gw_capture_rx(g, in, fr);
	/* A frame cut short by the capture cannot be forwarded whole. */
	if (fr->caplen < 14 || fr->caplen != fr->wirelen) {
		g->st.malformed++;
		return;
	}
	fdb_learn(&g->fdb, fr->data + 6, (uint8_t)in, now_s);
	if (g->mgmt) {
		/* Frames for the gateway itself leave the data path: never judged, never forwarded. */
		if (!memcmp(fr->data, g->mgmt_mac, 6)) {
			gw_bridge_mgmt_input(g, fr);
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
	gw_judge(g, port->link, fr->data, fr->caplen, fr->wirelen, fr->seg_size, &res, &act);
	if (res.flow)
		neigh_learn(&g->neigh, &res.pkt, fr->data, (uint32_t)in);
	if (gw_hold(g, &gw_bridge_hold_ops, &res, &act, fr->data, fr->caplen, 0,
		    (const uint32_t[2]){ (uint32_t)in, fr->seg_size }) != GW_HOLD_NO)
		return;
	for (int i = 0; i < act.n_frames; i++)
		gw_port_tx(g, act.frames[i].to == ENFORCE_TO_SENDER ? in : out, act.frames[i].data,
			   act.frames[i].len);
	if (act.verdict == ENFORCE_FORWARD) {
		gw_port_txq(g, out, fr->data, fr->caplen, fr->seg_size);
		g->st.forwarded++;
	}
}

static void gw_monitor_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;

	gw_capture_rx(g, GW_MIRROR, fr);
	gw_judge(g, port->link, fr->data, fr->caplen, fr->wirelen, fr->seg_size, &res, &act);
	/* A mirror shows both directions: every answer leaves through the inject port. */
	for (int i = 0; i < act.n_frames; i++)
		if (g->ports[GW_INJECT].is_open)
			gw_port_tx(g, GW_INJECT, act.frames[i].data, act.frames[i].len);
}

/* ------------------------------------------------------------ ports */

void gw_port_close(struct gw_port *gp)
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
	gw_ports_flush(g);
	if (n < 0) {
		log_err("%s: port failed (%s): closed, trying again every %d s", gp->name,
			strerror(-n), GW_REOPEN_MS / 1000);
		gw_port_close(gp);
		loop_timer_set(g->loop, &g->reopen, GW_REOPEN_MS);
	}
}

int gw_port_open(struct gateway *g, struct gw_port *gp)
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
	/*
	 * The bridge's own ports take coalesced TCP frames when the afpacket
	 * driver is in the build (CONFIG_DRIVER_AFPACKET: it has them cut again
	 * on send); the pcap driver, and every other port, get one wire frame
	 * at a time.
	 */
	bool coalesce = cfg->gateway.mode == TG_MODE_BRIDGE && gp->idx != GW_MGMT &&
			port_driver_find("afpacket");
	int ret;

	if (inline_port) {
		/* No offload the driver does not ask for (it turns GRO back on when it coalesces). */
		link_set_offloads(gp->name, false);
		link_set_up(gp->name, true);
	}
	pc.coalesce = coalesce;
	ret = port_open(&gp->port, coalesce ? "afpacket" : "pcap", &pc);
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

void gw_reopen(struct loop_timer *t)
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
	gw_report_link(g, st->name, st->exists && st->admin_up && st->carrier);
}

static void gw_links_readable(struct loop_fd *lfd, unsigned int events)
{
	struct gateway *g = container_of(lfd, struct gateway, links_fd);

	(void)events;
	link_monitor_read(g->links);
}

void gw_watch_links(struct gateway *g, const char *const *names, int n)
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


void gw_unwatch_links(struct gateway *g)
{
	if (!g->links)
		return;
	loop_fd_del(g->loop, &g->links_fd);
	link_monitor_close(g->links);
	g->links = NULL;
}

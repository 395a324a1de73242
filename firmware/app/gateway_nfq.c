/*
 * nfqueue mode (gateway_priv.h): the kernel bridges lan and wan and hands
 * the packets of undecided flows to the firmware through the "nfqueue"
 * inline driver (core/inline.h); each is judged like a bridge frame,
 * answered by injection out of the right bridge port, and given a verdict
 * that offloads the flow to the kernel once the policy is final. A build
 * without the driver (CONFIG_DRIVER_NFQUEUE=n) refuses the mode at start.
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/common.h"
#include "core/log.h"

#define GW_INLINE_DRIVER "nfqueue"
#define GW_NFQ_DNS_PORT 53

static void gw_nfq_hold_pass(struct gateway *g, const struct hold_frame *fr)
{
	inline_verdict(&g->nfq, fr->tag, INLINE_ACCEPT);
}

static void gw_nfq_hold_drop(struct gateway *g, const struct hold_frame *fr)
{
	inline_verdict(&g->nfq, fr->tag, INLINE_DROP);
}

static void gw_nfq_answer(struct gateway *g, const struct enforce_action *act, uint32_t in_ifindex,
			  uint32_t out_ifindex)
{
	for (int i = 0; i < act->n_frames; i++) {
		uint32_t ifindex = act->frames[i].to == ENFORCE_TO_SENDER ? in_ifindex : out_ifindex;

		if (!ifindex ||
		    inline_inject(&g->nfq, ifindex, act->frames[i].data, act->frames[i].len) < 0)
			g->st.tx_errors++;
	}
}

static void gw_nfq_hold_answer(struct gateway *g, const struct enforce_action *act,
			       const struct hold_frame *fr)
{
	gw_nfq_answer(g, act, fr->aux[0], fr->aux[1]);
}

/* Held packets wait in the kernel's queue: their verdicts come when the hold ends (tag: id). */
static const struct gw_hold_ops gw_nfq_hold_ops = {
	.pass = gw_nfq_hold_pass,
	.drop = gw_nfq_hold_drop,
	.answer = gw_nfq_hold_answer,
};

/*
 * Whether the rest of the flow may go to the kernel. With a list in force
 * that is the enforcement's word (enforce.h: DPI done, protocol, category
 * and JA3 judged). With none, nothing can block the flow now, and the
 * policy never judges its class (so that word never comes): what a later
 * list needs of it is what DPI records (names, protocol, category, JA3),
 * and the swap judges the open flows again by that record and takes back
 * the kernel's accepts through conntrack (gateway_rejudge.c). So the
 * verdict is final once DPI is done. Port 53 flows stay queued even then:
 * a later list judges each of their queries on its own (enforce.h).
 */
static bool gw_nfq_final(const struct gateway *g, const struct flow *f,
			 const struct enforce_action *act)
{
	if (act->final || !f || act->verdict != ENFORCE_FORWARD || policy_bundle(g->policy))
		return act->final;
	if ((f->key.l4_proto == PROTO_UDP || f->key.l4_proto == PROTO_TCP) &&
	    (f->key.port_a == GW_NFQ_DNS_PORT || f->key.port_b == GW_NFQ_DNS_PORT))
		return false;
	return f->flags & FLOW_F_DECIDED;
}

static void gw_nfq_rx(struct inline_dev *dev, const struct inline_packet *pk, void *ctx)
{
	struct gateway *g = ctx;
	struct pipeline_result res;
	struct enforce_action act;
	enum inline_verdict v;
	bool final;

	gw_judge(g, LINK_ETHERNET, pk->frame, pk->len, pk->len, 0, &res, &act);
	if (res.flow)
		neigh_learn(&g->neigh, &res.pkt, pk->frame, pk->in_ifindex);
	switch (gw_hold(g, &gw_nfq_hold_ops, &res, &act, pk->frame, pk->len, pk->id,
			(const uint32_t[2]){ pk->in_ifindex, pk->out_ifindex })) {
	case GW_HOLD_TAKEN:
		return;
	case GW_HOLD_DROP:
		inline_verdict(dev, pk->id, INLINE_DROP);
		return;
	default:
		break;
	}
	gw_nfq_answer(g, &act, pk->in_ifindex, pk->out_ifindex);
	final = gw_nfq_final(g, res.flow, &act);
	if (act.verdict == ENFORCE_FORWARD)
		v = final ? INLINE_OFFLOAD_ACCEPT : INLINE_ACCEPT;
	else
		v = final ? INLINE_OFFLOAD_DROP : INLINE_DROP;
	/*
	 * From here the kernel decides the flow's packets by its connmark and
	 * the flow table sees no more of them, not even the FINs: a SYN the
	 * chain queues again on this key is a new connection (packet/flow.c),
	 * never one more packet of this decided flow.
	 */
	if (final && res.flow)
		res.flow->offloaded = 1;
	inline_verdict(dev, pk->id, v);
}

static void gw_nfq_readable(struct loop_fd *lfd, unsigned int events)
{
	struct gateway *g = container_of(lfd, struct gateway, nfq_fd);
	int n;

	(void)events;
	n = inline_rx_burst(&g->nfq, gw_nfq_rx, g, 0); /* 0: CONFIG_NFQUEUE_RX_BURST */
	if (n < 0)
		log_debug_rl("queue read: %s", strerror(-n));
}

int gw_nfq_start(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	const struct inline_config qc = {
		.bridge = cfg->nfqueue.bridge,
		.ports = { g->ports[GW_LAN].name, g->ports[GW_WAN].name },
		.queue = (uint16_t)cfg->nfqueue.queue,
		.queue_len = cfg->nfqueue.queue_len,
		.fail_open = cfg->nfqueue.fail_open,
		.install_rules = true,
	};
	int ret;

	if (!inline_driver_find(GW_INLINE_DRIVER)) {
		log_err("nfqueue mode: the \"%s\" inline driver is not built in (CONFIG_DRIVER_NFQUEUE=n)",
			GW_INLINE_DRIVER);
		return -EOPNOTSUPP;
	}
	ret = inline_open(&g->nfq, GW_INLINE_DRIVER, &qc);
	if (ret < 0)
		return ret;
	g->nfq_fd.fd = inline_fd(&g->nfq);
	g->nfq_fd.cb = gw_nfq_readable;
	ret = loop_fd_add(g->loop, &g->nfq_fd, LOOP_READ);
	if (ret < 0)
		inline_close(&g->nfq);
	return ret;
}

void gw_nfq_stop(struct gateway *g)
{
	if (!g->nfq.ops)
		return;
	gw_hold_flush(g);
	loop_fd_del(g->loop, &g->nfq_fd);
	inline_close(&g->nfq);
}

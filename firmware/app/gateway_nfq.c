/*
 * nfqueue mode (gateway_priv.h): the kernel bridges lan and wan and hands
 * the packets of undecided flows to the firmware; each is judged like a
 * bridge frame, answered through the queue's injection, and given a verdict
 * that offloads the flow to the kernel once the policy is final.
 */
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/common.h"
#include "core/log.h"

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

int gw_nfq_start(struct gateway *g)
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

void gw_nfq_stop(struct gateway *g)
{
	if (!g->nfq)
		return;
	loop_fd_del(g->loop, &g->nfq_fd);
	nfq_close(g->nfq);
	g->nfq = NULL;
}
#endif

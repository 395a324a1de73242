/*
 * A new blocklist applies to the flows already open (gateway_priv.h): when
 * a bundle is swapped in (start, SIGHUP, `bundle install`, over the air),
 * every live flow is judged again against it (policy_rejudge()) and what
 * changed is acted on:
 *
 *   now blocked   logged once ("cut", with the rule and indicator). A TCP
 *                 flow's initiator gets a RST at once, built from the flow
 *                 record (the responder's next sequence number) and the
 *                 neighbour table (its MAC and port). The flow's next
 *                 frame, in either direction, is dropped and answered as
 *                 any blocked frame is (enforce.h: RSTs to both ends at the
 *                 numbers that frame carries; nothing for UDP and the
 *                 rest), which resets the responder. In nfqueue mode the
 *                 connection's offload mark is cleared first (inline
 *                 forget), so a connection the kernel was passing on its
 *                 own is queued again: its next packet is reset, and the
 *                 drop verdict is saved in conntrack, where it sticks.
 *   no longer     logged ("lifted"); in nfqueue mode the drop mark is
 *   blocked       cleared too, so the next packet is judged and passes.
 *   unchanged     nothing: an allowed flow is not touched.
 *
 * In nfqueue mode the kernel's accepted connections without a flow record
 * (idle in the table past its timeout while the kernel passed them) are
 * judged too, by address and DNS binding (gw_rejudge_sweep()).
 *
 * Why only the initiator is reset from the record: a RST each way needs
 * both directions' next sequence numbers, and the flow record's budget
 * (flow.c: 248 bytes) had room for one (4 bytes). The initiator is the
 * office's host, whose application must learn at once that the connection
 * is gone; the responder is on the far side and always sends again, and
 * that frame, dropped, carries the exact numbers for its own RST. The
 * MACs come from a table by address (neigh.h) rather than the record, for
 * the same reason. In nfqueue mode an offloaded flow's record is stale
 * (the kernel forwarded its segments): the RST is then out of the
 * initiator's window and ignored, so an ACK probe follows it, which the
 * initiator answers at once with its exact numbers; that answer is queued
 * again (the mark was cleared) and cut like any blocked packet. Until a
 * frame comes, nothing of a newly blocked flow crosses the gateway.
 *
 * The walk is sliced: judging a flow costs a few bundle lookups (its name,
 * both addresses, each against the allow and the block list), about 0.4
 * us on this VM with a 1M + 1M bundle, mostly cache misses (the domain
 * filter spares most, the look-ahead queue overlaps the addresses'), so
 * 100k flows take 35-50 ms here and more on a small board
 * (docs/benchmarks.md): in one go, every frame arriving meanwhile would
 * wait that long. A slice ends after GW_REJUDGE_SLICE_US, the loop serves
 * the frames that came, and a 0 ms timer goes on where it stopped
 * (flow_walk()'s cursor is a record index, stable while packets move flows
 * in the LRU lists). A flow not reached yet keeps its verdict for at most
 * the walk's length; a flow created meanwhile was judged by the new list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/log.h"
#include "policy/policy.h"

/*
 * At most this long on the loop per slice, so no frame waits longer for a
 * swap; checked every GW_REJUDGE_CHUNK records (about 1.5 ms of work).
 */
#define GW_REJUDGE_SLICE_US 5000
#define GW_REJUDGE_CHUNK 1024

struct gw_rejudge {
	struct gateway *g;
	uint64_t wall_s, now_ms;
	uint32_t flows, cut, lifted;
	struct policy_ahead ahead; /* flows handed over, judged a few records later */
};

static void gw_rejudge_forget(struct gateway *g, const struct flow *f)
{
	struct inline_tuple t = {
		.ip_version = f->key.ip_version,
		.l4_proto = f->key.l4_proto,
		.sport = flow_sport(f),
		.dport = flow_dport(f),
	};
	int ret;

	if (!g->nfq.ops || (f->key.l4_proto != IPPROTO_TCP && f->key.l4_proto != IPPROTO_UDP))
		return;
	memcpy(t.src, flow_src(f)->b, sizeof(t.src));
	memcpy(t.dst, flow_dst(f)->b, sizeof(t.dst));
	ret = inline_forget(&g->nfq, &t);
	if (ret == 0)
		g->st.ct_forgotten++;
	else if (ret != -ENOENT)
		g->st.ct_errors++;
}

static int gw_rejudge_send(struct gateway *g, uint32_t port, const uint8_t *frame, uint32_t len)
{
	int ret = -ENODEV;

	if (g->nfq.ops)
		ret = inline_inject(&g->nfq, port, frame, len);
	else if (port < GW_PORTS && g->ports[port].is_open)
		ret = port_tx(&g->ports[port].port, frame, len);
	if (ret < 0)
		g->st.tx_errors++;
	return ret;
}

/*
 * A newly blocked TCP flow: a RST to its initiator at once, from the
 * responder, at the number the initiator expects (enforce_build_cut()),
 * out of the port the initiator was heard on. The responder is reset by
 * the flow's next frame, which it is bound to send (data, a retransmission
 * or a window probe) and which the gateway drops. Without both ends in
 * the neighbour table the whole cut waits for that frame. [enforce]
 * blocked_address = drop keeps flows blocked by address silent, as the
 * packet path does.
 */
static void gw_rejudge_cut(struct gateway *g, const struct flow *f)
{
	const struct neigh_entry *to, *from;
	uint8_t frame[ENFORCE_FRAME_MAX];
	uint32_t len = 0;

	if (f->key.l4_proto != IPPROTO_TCP)
		return;
	if (g->enf.cfg.blocked_address == ENFORCE_ADDR_DROP &&
	    (f->verdict_stage == POLICY_STAGE_IP || f->verdict_stage == POLICY_STAGE_DNS_BINDING))
		return;
	to = neigh_lookup(&g->neigh, f->key.ip_version, flow_src(f), f->key.vlan);
	from = neigh_lookup(&g->neigh, f->key.ip_version, flow_dst(f), f->key.vlan);
	if (to && from && to->port != from->port)
		len = enforce_build_cut(f, to->mac, from->mac, false, frame);
	if (!len || gw_rejudge_send(g, to->port, frame, len) < 0) {
		g->st.cut_later++;
		return;
	}
	g->enf.st.rst_sent++;
	g->st.cut_rst++;
	/* nfqueue: the record may be stale; the probe's answer is queued (mark cleared) and cut. */
	if (g->nfq.ops && (len = enforce_build_cut(f, to->mac, from->mac, true, frame)))
		gw_rejudge_send(g, to->port, frame, len);
}

static void gw_rejudge_one(struct gw_rejudge *rj, struct flow *f)
{
	struct gateway *g = rj->g;
	/* What the flow was blocked by, for the "lifted" line. */
	uint32_t was_rule = f->verdict_rule;
	uint8_t was_stage = f->verdict_stage;
	enum policy_rejudge_result r;

	rj->flows++;
	g->rejudge_hit_set = false;
	r = policy_rejudge(g->policy, f, rj->wall_s, rj->now_ms);
	switch (r) {
	case POLICY_REJUDGE_BLOCKED:
		rj->cut++;
		gw_log_verdict(g, "cut", f, g->rejudge_hit_set ? &g->rejudge_hit : NULL);
		gw_rejudge_forget(g, f);
		gw_hold_cut(g, f);
		gw_rejudge_cut(g, f);
		break;
	case POLICY_REJUDGE_LIFTED:
		rj->lifted++;
		g->rejudge_hit = (struct policy_hit){ .flow = f, .rule = was_rule,
						      .action = BUNDLE_ACT_BLOCK, .stage = was_stage };
		gw_log_verdict(g, "lifted", f, &g->rejudge_hit);
		gw_rejudge_forget(g, f);
		break;
	case POLICY_REJUDGE_SAME:
		/* A new alert, or a block by another rule: reported as the packet path would. */
		if (g->rejudge_hit_set)
			gw_log_verdict(g, NULL, f, &g->rejudge_hit);
		break;
	}
}

/*
 * The walk's callback: each record goes through policy's look-ahead queue
 * (policy_ahead_push()), which asks for the list's lines its lookups will
 * read and hands back the record 2 * POLICY_AHEAD before it to judge, so
 * the cache misses of a few flows overlap (docs/benchmarks.md).
 */
static void gw_rejudge_flow(struct flow *f, void *c)
{
	struct gw_rejudge *rj = c;

	f = policy_ahead_push(rj->g->policy, &rj->ahead, f);
	if (f)
		gw_rejudge_one(rj, f);
}

/* One chunk of records, the queue drained before the loop can run anything else. */
static bool gw_rejudge_chunk(struct gateway *g, struct gw_rejudge *rj)
{
	bool done = flow_walk(g->pl.flows, &g->rejudge_cursor, GW_REJUDGE_CHUNK, gw_rejudge_flow, rj);
	struct flow *f;

	while ((f = policy_ahead_pop(&rj->ahead)))
		gw_rejudge_one(rj, f);
	return done;
}

static uint64_t gw_rejudge_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * One slice: records in chunks of GW_REJUDGE_CHUNK until the walk ends or
 * GW_REJUDGE_SLICE_US have gone; then the loop serves the frames that came
 * meanwhile and a 0 ms timer goes on. Returns true when the walk is done.
 */
static bool gw_rejudge_slice(struct gateway *g, bool whole)
{
	struct gw_rejudge_walk *w = &g->rejudge_walk;
	struct gw_rejudge rj = { .g = g };
	uint64_t t0 = gw_rejudge_mono_us(), took;
	bool done;

	rj.now_ms = g->live ? loop_now_ms() : g->pl.now_ms;
	rj.wall_s = (uint64_t)((int64_t)rj.now_ms + g->pl.epoch_offset_ms) / 1000u;
	g->rejudging = true;
	do
		done = gw_rejudge_chunk(g, &rj);
	while (!done && (whole || gw_rejudge_mono_us() - t0 < GW_REJUDGE_SLICE_US));
	g->rejudging = false;
	took = gw_rejudge_mono_us() - t0;
	w->flows += rj.flows;
	w->cut += rj.cut;
	w->lifted += rj.lifted;
	w->slices++;
	if (took > w->longest_us)
		w->longest_us = (uint32_t)took;
	return done;
}

static void gw_rejudge_done(struct gateway *g)
{
	const struct gw_rejudge_walk *w = &g->rejudge_walk;
	struct policy_stats ps;

	g->rejudge_active = false;
	g->st.rejudged += w->flows;
	g->st.cut += w->cut;
	g->st.lifted += w->lifted;
	/* Every flow was judged under this list: the next swap may pass over what it cannot reach. */
	policy_rejudge_done(g->policy);
	policy_get_stats(g->policy, &ps);
	if (w->flows)
		log_info("new blocklist: %u open flows judged again in %.1f ms (%u slices, the longest "
			 "%.1f ms): %u cut, %u lifted, %llu passed over (nothing the list changed "
			 "reaches them)",
			 w->flows, (double)(gw_rejudge_mono_us() - w->start_us) / 1000.0, w->slices,
			 (double)w->longest_us / 1000.0, w->cut, w->lifted,
			 (unsigned long long)(ps.rejudge_skipped - w->skipped_at));
}

static void gw_rejudge_more(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, rejudge_timer);

	if (!g->rejudge_active)
		return;
	if (gw_rejudge_slice(g, false))
		gw_rejudge_done(g);
	else
		loop_timer_set(g->loop, &g->rejudge_timer, 0);
}

/*
 * nfqueue: a connection the kernel has passed on its own for longer than
 * the flow table's idle timeout has no flow record left (the firmware saw
 * none of its packets), so the walk cannot reach it. Each such connection
 * is judged by what its tuple shows, its addresses and the DNS bindings,
 * on a record made for the purpose; a blocked one has its mark cleared, so
 * its next packet is queued, judged again as a new flow and reset.
 */
struct gw_rejudge_sweep {
	struct gateway *g;
	uint64_t wall_s, now_ms;
	uint32_t seen, cut;
};

static bool gw_rejudge_sweep_one(const struct inline_tuple *t, void *c)
{
	struct gw_rejudge_sweep *sw = c;
	struct gateway *g = sw->g;
	struct pkt p = { .ip_version = t->ip_version, .l4_proto = t->l4_proto,
			 .sport = t->sport, .dport = t->dport };
	struct flow f;

	/* A connection with a flow record is the walk's. */
	memcpy(p.src.b, t->src, sizeof(p.src.b));
	memcpy(p.dst.b, t->dst, sizeof(p.dst.b));
	if (flow_find(g->pl.flows, &p))
		return false;
	sw->seen++;
	memset(&f, 0, sizeof(f));
	f.key.ip_version = t->ip_version;
	f.key.l4_proto = t->l4_proto;
	memcpy(f.key.a.b, t->src, sizeof(f.key.a.b));
	memcpy(f.key.b.b, t->dst, sizeof(f.key.b.b));
	f.key.port_a = t->sport;
	f.key.port_b = t->dport;
	f.init_is_a = 1;
	g->rejudge_hit_set = false;
	if (policy_rejudge(g->policy, &f, sw->wall_s, sw->now_ms) != POLICY_REJUDGE_BLOCKED)
		return false;
	sw->cut++;
	gw_log_verdict(g, "cut (kernel connection)", &f, g->rejudge_hit_set ? &g->rejudge_hit : NULL);
	return true;
}

static void gw_rejudge_sweep(struct gateway *g)
{
	struct gw_rejudge_sweep sw = { .g = g };
	uint64_t t0 = gw_rejudge_mono_us();
	int ret;

	sw.now_ms = loop_now_ms();
	sw.wall_s = (uint64_t)((int64_t)sw.now_ms + g->pl.epoch_offset_ms) / 1000u;
	g->rejudging = g->rejudge_sweeping = true;
	ret = inline_sweep(&g->nfq, gw_rejudge_sweep_one, &sw);
	g->rejudging = g->rejudge_sweeping = false;
	if (ret < 0) {
		if (ret != -EOPNOTSUPP)
			g->st.ct_errors++;
		return;
	}
	g->st.ct_forgotten += (uint64_t)ret;
	g->st.cut += sw.cut;
	if (sw.seen)
		log_info("new blocklist: %u connections the kernel passes without a flow record judged "
			 "by address in %.1f ms: %u cut",
			 sw.seen, (double)(gw_rejudge_mono_us() - t0) / 1000.0, sw.cut);
}

void gw_rejudge(struct gateway *g)
{
	bool sliced = g->live && g->loop;
	struct policy_stats ps;

	if (!g->pl.flows)
		return;
	if (g->nfq.ops)
		gw_rejudge_sweep(g);
	if (g->rejudge_active)
		log_info("new blocklist during a walk: judging the open flows again from the first");
	policy_get_stats(g->policy, &ps);
	g->rejudge_walk = (struct gw_rejudge_walk){ .start_us = gw_rejudge_mono_us(),
						    .skipped_at = ps.rejudge_skipped };
	g->rejudge_cursor = 0;
	g->rejudge_active = true;
	if (gw_rejudge_slice(g, !sliced)) {
		gw_rejudge_done(g);
		return;
	}
	g->rejudge_timer.cb = gw_rejudge_more;
	loop_timer_set(g->loop, &g->rejudge_timer, 0);
}

void gw_rejudge_stop(struct gateway *g)
{
	const struct gw_stats *st = &g->st;

	if (g->rejudge_active && g->loop)
		loop_timer_cancel(g->loop, &g->rejudge_timer);
	g->rejudge_active = false;
	if (!st->rejudged)
		return;
	log_info("stopped: %llu open flows judged again on swaps: %llu cut (%llu TCP reset at once, "
		 "%llu at their next frame), %llu lifted; %llu conntrack marks cleared, %llu errors",
		 (unsigned long long)st->rejudged, (unsigned long long)st->cut,
		 (unsigned long long)st->cut_rst, (unsigned long long)st->cut_later,
		 (unsigned long long)st->lifted, (unsigned long long)st->ct_forgotten,
		 (unsigned long long)st->ct_errors);
}

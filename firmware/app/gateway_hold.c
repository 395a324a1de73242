/*
 * The hold in the inline modes (gateway_priv.h, packet/hold.h): a client's
 * first segments on a TLS or HTTP flow are kept back until the name they
 * carry is judged, then dropped with the usual reset (blocked) or let go in
 * arrival order (allowed, no name, a limit reached).
 *
 * The name is the first of: nDPI's (the pipeline judged it on this frame:
 * FLOW_F_HOST_CHECKED), or the hold's own parsers over the reassembled
 * bytes (a Host split across segments, which nDPI 4.2 does not join, or
 * segments out of order), judged here with policy_flow_name(). The mode
 * says how a frame leaves (struct gw_hold_ops): bridge mode sends copies
 * out of a port, nfqueue mode gives the deferred verdicts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/common.h"
#include "core/log.h"
#include "policy/bundle.h"
#include "policy/policy.h"

struct gw_hold_ctx {
	struct gateway *g;
	bool pass;
};

static void gw_hold_out(const struct hold_frame *fr, void *c)
{
	struct gw_hold_ctx *hc = c;

	if (hc->pass && !fr->drop)
		hc->g->hold_ops->pass(hc->g, fr);
	else
		hc->g->hold_ops->drop(hc->g, fr);
}

/* End f's hold: let the frames go, or drop them. */
static void gw_hold_end(struct gateway *g, const struct flow *f, bool pass)
{
	struct gw_hold_ctx hc = { .g = g, .pass = pass };

	hold_end(g->hold, f, pass, gw_hold_out, &hc);
}

/*
 * f was found blocked by the name the hold read: reset both ends as
 * enforce does for any blocked segment, built from the first held frame
 * (the server never saw a byte, so its sequence number is the one the
 * server expects), and drop everything held.
 */
static void gw_hold_block(struct gateway *g, struct flow *f)
{
	struct hold_frame first;
	struct enforce_action act;
	struct pkt p;

	if (hold_first(g->hold, f, &first) &&
	    decode_packet(LINK_ETHERNET, first.data, first.len, first.len, &p) == DECODE_OK) {
		enforce_frame(&g->enf, f, &p, FLOW_DIR_FWD, LINK_ETHERNET, first.data, first.len, &act);
		g->hold_ops->answer(g, &act, &first);
	}
	gw_hold_end(g, f, false);
}

void gw_hold_cut(struct gateway *g, const struct flow *f)
{
	if (g->hold)
		gw_hold_end(g, f, false);
}

static void gw_hold_arm(struct gateway *g)
{
	int64_t left = hold_next_expiry(g->hold, loop_now_ms());

	if (left >= 0 && g->loop)
		loop_timer_set(g->loop, &g->hold_timer, (uint64_t)left + 1);
}

void gw_hold_expire(struct loop_timer *t)
{
	struct gateway *g = container_of(t, struct gateway, hold_timer);
	struct gw_hold_ctx hc = { .g = g, .pass = true };

	if (!g->hold || !g->hold_ops)
		return;
	hold_expire(g->hold, loop_now_ms(), gw_hold_out, &hc);
	gw_hold_arm(g);
}

void gw_hold_flush(struct gateway *g)
{
	struct gw_hold_ctx hc = { .g = g, .pass = true };

	if (!g->hold || !g->hold_ops)
		return;
	/* Everything held goes: the mode is stopping and nothing will judge it. */
	hold_expire(g->hold, UINT64_MAX / 2, gw_hold_out, &hc);
	if (g->loop)
		loop_timer_cancel(g->loop, &g->hold_timer);
}

int gw_hold_start(struct gateway *g)
{
	struct hold_stats hs;

	g->hold = hold_new(NULL);
	if (!g->hold) {
		log_err("cannot allocate the hold pool of %u KiB", CONFIG_HOLD_POOL_KB);
		return -ENOMEM;
	}
	g->hold_timer.cb = gw_hold_expire;
	hold_get_stats(g->hold, &hs);
	log_info("hold: up to %u flows at once, %u bytes and %u ms each", hs.slots,
		 CONFIG_HOLD_FLOW_BYTES, CONFIG_HOLD_TIME_MS);
	return 0;
}

void gw_hold_log_totals(struct gateway *g)
{
	struct hold_stats hs;

	if (!g->hold)
		return;
	hold_get_stats(g->hold, &hs);
	log_info("hold: %llu flows held (%llu frames, %llu retransmissions dropped), "
		 "%llu released, %llu dropped; %llu names read, %llu without a name; "
		 "given up: %llu on time, %llu on size; %llu let go mid-request with the rest held; "
		 "%llu conflicts, %llu without their start (dropped), %llu not held (pool full)",
		 (unsigned long long)hs.holds, (unsigned long long)hs.frames,
		 (unsigned long long)hs.dups, (unsigned long long)hs.released,
		 (unsigned long long)hs.dropped, (unsigned long long)hs.names,
		 (unsigned long long)hs.noname, (unsigned long long)hs.giveup_time,
		 (unsigned long long)hs.giveup_size, (unsigned long long)hs.waits,
		 (unsigned long long)hs.conflicts,
		 (unsigned long long)hs.gaps, (unsigned long long)hs.pool_full);
}

enum gw_hold_step gw_hold(struct gateway *g, const struct gw_hold_ops *ops,
			  const struct pipeline_result *res, const struct enforce_action *act,
			  const uint8_t *frame, uint32_t len, uint32_t tag, const uint32_t aux[2])
{
	struct flow *f = res->flow;
	enum hold_result r;
	enum hold_name_kind kind;
	const char *name;

	if (!g->hold || !f)
		return GW_HOLD_NO;
	g->hold_ops = ops;
	hold_note_syn(g->hold, f, &res->pkt, res->dir);
	if (hold_active(g->hold, f)) {
		if (act->verdict != ENFORCE_FORWARD) {
			/* Blocked on this frame (nDPI's name, a rule): nothing held may leave. */
			gw_hold_end(g, f, false);
			return GW_HOLD_NO;
		}
		if (f->flags & FLOW_F_HOST_CHECKED) {
			/* nDPI had the name and it is allowed: the held frames first, then this one. */
			gw_hold_end(g, f, true);
			return GW_HOLD_NO;
		}
		if (f->key.l4_proto != IPPROTO_TCP && (f->flags & FLOW_F_DECIDED)) {
			gw_hold_end(g, f, true); /* QUIC decided without a name */
			return GW_HOLD_NO;
		}
	} else if (act->verdict != ENFORCE_FORWARD || !hold_candidate(g->hold, f, &res->pkt, res->dir)) {
		return GW_HOLD_NO;
	}
	r = hold_frame(g->hold, f, &res->pkt, res->dir, frame, len, tag, aux, loop_now_ms());
	switch (r) {
	case HOLD_PASS:
		return GW_HOLD_NO;
	case HOLD_HELD:
		gw_hold_arm(g);
		return GW_HOLD_TAKEN;
	case HOLD_DUP:
		return GW_HOLD_DROP;
	case HOLD_NAME:
		name = hold_name(g->hold, f, &kind);
		policy_flow_name(g->policy, f, kind == HOLD_NAME_HOST ? DPI_HOST_HTTP : DPI_HOST_SNI,
				 name, (uint64_t)((int64_t)loop_now_ms() + g->pl.epoch_offset_ms) / 1000u);
		if (f->verdict_action == BUNDLE_ACT_BLOCK)
			gw_hold_block(g, f);
		else
			gw_hold_end(g, f, true);
		return GW_HOLD_TAKEN;
	case HOLD_CONFLICT:
		/* Two versions of one request: the server's cannot be known, so neither passes. */
		log_debug_rl("flow %u: overlapping segments disagree: dropped", f->id);
		gw_hold_end(g, f, false);
		return GW_HOLD_DROP;
	case HOLD_GIVEUP:
		gw_hold_end(g, f, true);
		return GW_HOLD_NO;
	case HOLD_NONAME:
	default:
		gw_hold_end(g, f, true);
		return GW_HOLD_TAKEN;
	}
}

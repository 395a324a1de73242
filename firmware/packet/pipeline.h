/*
 * The packet path shared by every mode: frame -> decode -> flow table ->
 * DPI (first packets only) -> the judge. The judge (the policy, one layer up,
 * firmware/policy/policy.c's policy_judge) is set by the owner of the path
 * through struct pipeline_judge, so the packet layer never calls up into the
 * policy and a test can run the path with no judge at all.
 *
 * Time is whatever clock the caller passes with each frame, in milliseconds,
 * made non-decreasing as nDPI's reader does (a frame stamped earlier than the
 * previous one counts as arriving at the previous frame's time). Replay passes
 * the capture timestamps, so a capture is judged as it happened; live modes
 * pass the monotonic clock, so a wall-clock step (SNTP at boot) neither
 * freezes nor mass-expires flows. pipeline.epoch_offset_ms turns flow times
 * into wall-clock times for reports.
 */
#ifndef TG_PIPELINE_H
#define TG_PIPELINE_H

#include <stdint.h>

#include "core/config.h"
#include "packet/decode.h"
#include "packet/dpi.h"
#include "packet/flow.h"

struct pipeline;

/* Called once per flow when it ends, after DPI has been given up if needed. */
typedef void (*pipeline_flow_end_fn)(struct pipeline *pl, struct flow *f,
				     enum flow_end_reason why, void *ctx);

/*
 * What judges the flows on the path, called in the packet's order: a new
 * flow's first packet, after DPI saw a packet of an undecided flow (and once
 * more when a flow given up at its end has nDPI's guess), and every packet.
 * wall_s is seconds since the epoch (entry expiry), now_ms the path's clock.
 */
struct pipeline_judge {
	void (*flow_start)(void *judge, struct flow *f, uint64_t wall_s, uint64_t now_ms);
	void (*flow_dpi)(void *judge, struct flow *f, uint64_t wall_s);
	void (*packet)(void *judge, struct flow *f, const struct pkt *p, uint64_t wall_s,
		       uint64_t now_ms);
	/* An ARP frame (p->flags PKT_F_ARP), not tracked; NULL: not wanted. */
	void (*arp)(void *judge, const struct pkt *p, uint64_t now_ms);
};

struct pipeline_stats {
	uint64_t frames;
	uint64_t frame_bytes;              /* wire bytes of every frame */
	uint64_t tracked;                  /* frames that reached the flow table */
	uint64_t discarded[DECODE_ERR_MAX];/* by enum decode_err; [0] unused */
	uint64_t first_ms, last_ms;        /* flow-clock time of the first and last frame */
};

struct pipeline {
	struct flow_table *flows;
	struct dpi *dpi;
	const struct pipeline_judge *judge; /* NULL: flows are not judged */
	void *judge_ctx;
	pipeline_flow_end_fn on_flow_end;
	void *ctx;
	uint64_t now_ms;                   /* latest (clamped) frame time */
	uint64_t next_expiry_ms;
	int64_t epoch_offset_ms;           /* flow clock + this = ms since the epoch */
	struct pipeline_stats st;
};

/*
 * Start the flow table and nDPI from the configuration. capacity 0 =
 * CONFIG_FLOW_TABLE_SIZE. Returns 0 or -errno (logged).
 */
int pipeline_init(struct pipeline *pl, const struct tg_config *cfg, uint32_t capacity,
		  pipeline_flow_end_fn on_flow_end, void *ctx);

/* Judge flows with j (NULL: none) from now on; judge_ctx is its first argument. */
void pipeline_set_judge(struct pipeline *pl, const struct pipeline_judge *j, void *judge_ctx);
/*
 * End every flow (reported through on_flow_end, and judged once more by the
 * judge, which must outlive this call) and free everything.
 */
void pipeline_uninit(struct pipeline *pl);

/* What the path made of one frame, for the mode that has to act on it. */
struct pipeline_result {
	enum decode_err err;   /* DECODE_OK, or why the frame was not tracked */
	struct flow *flow;     /* its flow (verdict taken), NULL if not tracked */
	enum flow_dir dir;     /* direction of the frame within flow */
	struct pkt pkt;        /* the decoded packet (valid while the frame is) */
};

/*
 * One frame through the path, arriving at now_ms on the caller's clock.
 * res (may be NULL) receives the flow and the decoded packet.
 */
void pipeline_frame(struct pipeline *pl, enum link_type link, const uint8_t *data,
		    uint32_t caplen, uint32_t wirelen, uint64_t now_ms,
		    struct pipeline_result *res);

/*
 * The same for a coalesced TCP frame (core/port.h: port_frame.seg_size, 0 for
 * a wire frame): counted as the segments it was on the wire, each with the
 * frame's headers, so flows and summaries see the wire's packets and bytes.
 */
void pipeline_frame_seg(struct pipeline *pl, enum link_type link, const uint8_t *data,
			uint32_t caplen, uint32_t wirelen, uint16_t seg_size, uint64_t now_ms,
			struct pipeline_result *res);

/* Expire idle flows as of now_ms (called by the frame path and by timers). */
void pipeline_tick(struct pipeline *pl, uint64_t now_ms);

#endif

/*
 * The packet path: decode, track, classify. No allocation per packet once a
 * flow exists (nDPI allocates its per-flow state once, when a flow starts).
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "pipeline"
#include "core/log.h"
#include "packet/pipeline.h"

/*
 * Idle flows are looked for once a second of capture time: expiry is O(1)
 * per ended flow, so the period only bounds how late a flow is reported.
 */
#define PIPELINE_EXPIRY_PERIOD_MS 1000

/* Wall-clock seconds, for entry expiry in the bundle. */
static uint64_t pipeline_wall_s(const struct pipeline *pl, uint64_t now_ms)
{
	return (uint64_t)((int64_t)now_ms + pl->epoch_offset_ms) / 1000u;
}

static void pipeline_flow_end(struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct pipeline *pl = ctx;

	dpi_giveup(pl->dpi, f);
	/* A flow given up at its end is still judged by what nDPI guessed. */
	if (pl->judge)
		pl->judge->flow_dpi(pl->judge_ctx, f, pipeline_wall_s(pl, pl->now_ms));
	if (pl->on_flow_end)
		pl->on_flow_end(pl, f, why, pl->ctx);
}

int pipeline_init(struct pipeline *pl, const struct tg_config *cfg, uint32_t capacity,
		  pipeline_flow_end_fn on_flow_end, void *ctx)
{
	const struct dpi_files files = {
		.protos = cfg->dpi.protos_file,
		.categories = cfg->dpi.categories_file,
		.risky_domains = cfg->dpi.risky_domains_file,
		.ja3 = cfg->dpi.ja3_file,
		.sha1 = cfg->dpi.sha1_file,
	};
	const struct dpi_limits limits = {
		.max_packets_tcp = cfg->dpi.max_packets_tcp,
		.max_packets_udp = cfg->dpi.max_packets_udp,
		.max_packets_other = cfg->dpi.max_packets_other,
	};
	struct flow_table_config fc = {
		.capacity = capacity,
		.on_end = pipeline_flow_end,
		.ctx = pl,
	};

	memset(pl, 0, sizeof(*pl));
	pl->on_flow_end = on_flow_end;
	pl->ctx = ctx;
	fc.timeout_ms[FLOW_CLASS_TCP] = cfg->flow.tcp_timeout * 1000u;
	fc.timeout_ms[FLOW_CLASS_TCP_CLOSED] = cfg->flow.tcp_closed_timeout * 1000u;
	fc.timeout_ms[FLOW_CLASS_UDP] = cfg->flow.udp_timeout * 1000u;
	fc.timeout_ms[FLOW_CLASS_OTHER] = cfg->flow.other_timeout * 1000u;

	pl->dpi = dpi_new(&files, &limits);
	if (!pl->dpi)
		return -EINVAL;
	pl->flows = flow_table_new(&fc);
	if (!pl->flows) {
		log_err("cannot allocate a flow table of %u flows: %s",
			capacity ? capacity : CONFIG_FLOW_TABLE_SIZE, strerror(errno));
		goto err_dpi;
	}
	return 0;

err_dpi:
	dpi_free(pl->dpi);
	pl->dpi = NULL;
	return -ENOMEM;
}

void pipeline_set_judge(struct pipeline *pl, const struct pipeline_judge *j, void *judge_ctx)
{
	pl->judge = j;
	pl->judge_ctx = judge_ctx;
}

void pipeline_uninit(struct pipeline *pl)
{
	if (pl->flows)
		flow_table_free(pl->flows);
	pl->flows = NULL;
	pl->judge = NULL;
	dpi_free(pl->dpi);
	pl->dpi = NULL;
}

void pipeline_tick(struct pipeline *pl, uint64_t now_ms)
{
	if (now_ms < pl->next_expiry_ms)
		return;
	flow_expire(pl->flows, now_ms);
	pl->next_expiry_ms = now_ms + PIPELINE_EXPIRY_PERIOD_MS;
}

/* A coalesced frame's segments: each carried seg_size payload bytes and the frame's headers. */
static void pipeline_count_segs(struct pipeline *pl, const uint8_t *data, uint16_t seg_size,
				struct pkt *p)
{
	uint32_t hdr, segs;

	if (!seg_size || p->l4_proto != PROTO_TCP || p->payload_len <= seg_size || !p->payload)
		return;
	segs = (p->payload_len + seg_size - 1u) / seg_size;
	hdr = (uint32_t)(p->payload - data);
	p->more_segs = segs - 1u;
	p->wire_len += (segs - 1u) * hdr;
	pl->st.frame_bytes += (uint64_t)(segs - 1u) * hdr;
}

void pipeline_frame(struct pipeline *pl, enum link_type link, const uint8_t *data,
		    uint32_t caplen, uint32_t wirelen, uint64_t now_ms,
		    struct pipeline_result *res)
{
	pipeline_frame_seg(pl, link, data, caplen, wirelen, 0, now_ms, res);
}

void pipeline_frame_seg(struct pipeline *pl, enum link_type link, const uint8_t *data,
			uint32_t caplen, uint32_t wirelen, uint16_t seg_size, uint64_t now_ms,
			struct pipeline_result *res)
{
	struct pipeline_result local;
	struct pkt *p;
	struct flow *f;
	bool created;
	uint64_t wall_s;

	if (!res)
		res = &local;
	p = &res->pkt;
	res->flow = NULL;
	res->dir = FLOW_DIR_FWD;
	if (now_ms < pl->now_ms)
		now_ms = pl->now_ms;
	pl->now_ms = now_ms;
	if (!pl->st.frames)
		pl->st.first_ms = now_ms;
	pl->st.last_ms = now_ms;
	pl->st.frames++;
	pl->st.frame_bytes += wirelen;
	pipeline_tick(pl, now_ms);

	res->err = decode_packet(link, data, caplen, wirelen, p);
	if (res->err != DECODE_OK) {
		pl->st.discarded[res->err]++;
		if ((p->flags & PKT_F_ARP) && pl->judge && pl->judge->arp) {
			pl->judge->arp(pl->judge_ctx, p, now_ms);
			return;
		}
		log_debug_rl("frame %llu not tracked: %s (%u bytes)",
			     (unsigned long long)pl->st.frames, decode_err_name(res->err), caplen);
		return;
	}
	pl->st.tracked++;
	pipeline_count_segs(pl, data, seg_size, p);
	f = flow_lookup(pl->flows, p, now_ms, &res->dir, &created);
	if (unlikely(!f))
		return;
	res->flow = f;
	flow_account(pl->flows, f, p, res->dir, now_ms);
	wall_s = pipeline_wall_s(pl, now_ms);
	if (created && pl->judge)
		pl->judge->flow_start(pl->judge_ctx, f, wall_s, now_ms);
	if (!(f->flags & FLOW_F_DECIDED))
		dpi_process(pl->dpi, f, p, now_ms);
	if (!pl->judge)
		return;
	if (!(f->flags & FLOW_F_CLASS_CHECKED))
		pl->judge->flow_dpi(pl->judge_ctx, f, wall_s);
	pl->judge->packet(pl->judge_ctx, f, p, wall_s, now_ms);
}

/*
 * libFuzzer target for enforce_frame() and the answer builders.
 *
 * Input: one byte of choices, then the frame, which is copied to a buffer
 * of exactly its size so ASan sees any read past the capture. The choice
 * byte: bit 0 the link type (1 Ethernet, 0 raw IP, so fuzz_decode's corpus,
 * whose byte 1 means LINK_ETHERNET, seeds this target too), bits 1-4 the
 * verdict stage, bit 5 FLOW_F_REPLY, bit 6 FLOW_F_ENFORCED, bit 7
 * blocked_address = drop.
 *
 * A frame that decodes is judged as a blocked flow with both DNS sinks set,
 * once from each direction. Each must be dropped with at most two answers,
 * the first toward the sender, and every answer must fit
 * ENFORCE_FRAME_MAX, decode again with decode_packet() on the same link
 * type, and go back to (or on toward) the right endpoints.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/bundle.h"
#include "policy/enforce.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct enforce_config cfg_template = {
	.sink4_set = true,
	.sink6_set = true,
	.sink4 = { 198, 51, 100, 10 },
	.sink6 = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 },
	.dns_ttl = 60,
};

static void check_answer(const struct enforce_frame *fr, enum link_type link,
			 const struct pkt *p)
{
	bool back = fr->to == ENFORCE_TO_SENDER;
	struct pkt q;
	uint8_t *copy;

	if (fr->len == 0 || fr->len > ENFORCE_FRAME_MAX)
		abort();
	if (fr->to != ENFORCE_TO_SENDER && fr->to != ENFORCE_TO_RECEIVER)
		abort();
	if (fr->kind < ENFORCE_RST || fr->kind > ENFORCE_DNS_SINK)
		abort();
	copy = malloc(fr->len);
	if (!copy)
		abort();
	memcpy(copy, fr->data, fr->len);
	if (decode_packet(link, copy, fr->len, fr->len, &q) != DECODE_OK)
		abort();
	if (q.ip_version != p->ip_version || q.l4_proto != p->l4_proto ||
	    q.tunnel != TUNNEL_NONE || q.vlan != p->vlan)
		abort();
	if (memcmp(&q.src, back ? &p->dst : &p->src, sizeof(q.src)) != 0 ||
	    memcmp(&q.dst, back ? &p->src : &p->dst, sizeof(q.dst)) != 0 ||
	    q.sport != (back ? p->dport : p->sport) || q.dport != (back ? p->sport : p->dport))
		abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enforce_action act;
	enum link_type link;
	struct enforce e;
	struct flow f;
	struct pkt p;
	uint8_t *frame;
	uint32_t caplen;
	int dir;
	unsigned int forwarded = 0;

	if (size < 1 || size - 1 > (size_t)ENFORCE_FRAME_MAX * 4)
		return 0;
	link = data[0] & 1 ? LINK_ETHERNET : LINK_RAW;
	caplen = (uint32_t)(size - 1);
	frame = malloc(caplen ? caplen : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, caplen);
	if (decode_packet(link, frame, caplen, caplen, &p) != DECODE_OK)
		goto out;

	enforce_init(&e, &cfg_template);
	e.cfg.blocked_address = data[0] & 0x80 ? ENFORCE_ADDR_DROP : ENFORCE_ADDR_RESET;
	for (dir = FLOW_DIR_FWD; dir <= FLOW_DIR_REV; dir++) {
		f = (struct flow){
			.verdict_action = BUNDLE_ACT_BLOCK,
			.verdict_stage = (uint8_t)((data[0] >> 1 & 0xf) % POLICY_STAGE_MAX),
			.flags = (uint8_t)((data[0] & 0x20 ? FLOW_F_REPLY : 0) |
					   (data[0] & 0x40 ? FLOW_F_ENFORCED : 0)),
			.key = { .l4_proto = p.l4_proto, .port_a = p.sport, .port_b = p.dport },
		};
		enforce_frame(&e, &f, &p, (enum flow_dir)dir, link, frame, caplen, &act);
		if (act.verdict == ENFORCE_FORWARD) {
			/*
			 * A DNS verdict judges its query only (policy.h): on a port-53
			 * flow every other frame passes, untouched.
			 */
			if (f.verdict_stage != POLICY_STAGE_DNS || (p.sport != 53 && p.dport != 53) ||
			    (p.l4_proto != 6 && p.l4_proto != 17) || (p.dport == 53 && p.payload_len) ||
			    act.n_frames)
				abort();
			forwarded++;
			continue;
		}
		if (act.verdict != ENFORCE_DROP || act.n_frames > 3)
			abort();
		for (unsigned int i = 0; i < act.n_frames; i++)
			check_answer(&act.frames[i], link, &p);
		if (act.n_frames && act.frames[0].to != ENFORCE_TO_SENDER)
			abort();
		if (act.n_frames == 3 && (act.frames[1].to != ENFORCE_TO_RECEIVER ||
					  act.frames[2].to != ENFORCE_TO_RECEIVER))
			abort();
	}
	/* At most three answers a frame: RST to the sender, one or two to the receiver. */
	if (e.st.dropped != 2 - forwarded ||
	    e.st.rst_sent + e.st.dns_answered + e.st.no_answer > 6)
		abort();
out:
	free(frame);
	return 0;
}

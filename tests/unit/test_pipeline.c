/*
 * The packet path (firmware/packet/pipeline.c): frames go through decode,
 * the flow table and nDPI to the judge, in the packet's order, on a clock
 * that never runs back; frames that do not decode are counted by reason and
 * judged never; every flow ends exactly once through on_flow_end, after one
 * last word to the judge; idle flows are looked for once a second.
 *
 * The judge here records every call (and on_flow_end writes into the same
 * log), so each test reads the sequence the path produced. Frames are real
 * Ethernet/IPv4 frames (fixtures.h) through the real decoder, flow table and
 * nDPI, with UDP flows idle after 1 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "core/config.h"
#include "core/log.h"
#include "packet/pipeline.h"

#include "fixtures.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_SYN 0x02
#define UDP_TIMEOUT_S 1
#define EPOCH_MS INT64_C(1800000000000) /* what the flow clock's 0 is on the wall */

static const uint8_t CLIENT[4] = { 10, 0, 0, 1 };
static const uint8_t SERVER[4] = { 192, 0, 2, 7 };

/* ---------------------------------------------------------------- the recording judge */

enum call_kind { CALL_START, CALL_DPI, CALL_PACKET, CALL_END };

struct call {
	enum call_kind kind;
	struct flow *f;
	uint32_t flow_id;
	const struct pkt *p;     /* CALL_PACKET */
	uint64_t wall_s;         /* CALL_START, CALL_DPI, CALL_PACKET */
	uint64_t now_ms;         /* CALL_START, CALL_PACKET */
	enum flow_end_reason why; /* CALL_END */
	bool decided;            /* CALL_END: DPI was finished or given up before */
};

struct rec {
	struct call calls[64];
	unsigned int n;
	bool check_class;        /* flow_dpi marks the class judged, as the policy does */
};

static struct call *rec_add(struct rec *r, enum call_kind kind, struct flow *f)
{
	struct call *c;

	assert_true(r->n < sizeof(r->calls) / sizeof(r->calls[0]));
	c = &r->calls[r->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->f = f;
	c->flow_id = f->id;
	return c;
}

static void rec_flow_start(void *judge, struct flow *f, uint64_t wall_s, uint64_t now_ms)
{
	struct call *c = rec_add(judge, CALL_START, f);

	c->wall_s = wall_s;
	c->now_ms = now_ms;
}

static void rec_flow_dpi(void *judge, struct flow *f, uint64_t wall_s)
{
	struct rec *r = judge;

	rec_add(r, CALL_DPI, f)->wall_s = wall_s;
	if (r->check_class)
		f->flags |= FLOW_F_CLASS_CHECKED;
}

static void rec_packet(void *judge, struct flow *f, const struct pkt *p, uint64_t wall_s,
		       uint64_t now_ms)
{
	struct call *c = rec_add(judge, CALL_PACKET, f);

	c->p = p;
	c->wall_s = wall_s;
	c->now_ms = now_ms;
}

static void rec_flow_end(struct pipeline *pl, struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct call *c = rec_add(ctx, CALL_END, f);

	(void)pl;
	c->why = why;
	c->decided = f->flags & FLOW_F_DECIDED;
}

static const struct pipeline_judge rec_judge = {
	.flow_start = rec_flow_start,
	.flow_dpi = rec_flow_dpi,
	.packet = rec_packet,
};

static void assert_kinds(const struct rec *r, const enum call_kind *want, unsigned int n)
{
	assert_int_equal(r->n, n);
	for (unsigned int i = 0; i < n; i++)
		if (r->calls[i].kind != want[i])
			fail_msg("call %u is kind %d, expected %d", i, r->calls[i].kind, want[i]);
}

/* ---------------------------------------------------------------- the path */

static void path_init(struct pipeline *pl, struct rec *r, bool judged)
{
	struct tg_config cfg;

	log_set_level(LOG_LVL_ERR);
	config_defaults(&cfg);
	cfg.flow.udp_timeout = UDP_TIMEOUT_S;
	memset(r, 0, sizeof(*r));
	assert_int_equal(pipeline_init(pl, &cfg, 64, rec_flow_end, r), 0);
	pl->epoch_offset_ms = EPOCH_MS;
	if (judged)
		pipeline_set_judge(pl, &rec_judge, r);
}

/* An Ethernet/IPv4 UDP frame client:sport -> server:53 with n payload bytes. */
static void udp_frame(struct fx_buf *f, uint16_t sport, uint32_t n)
{
	uint32_t ip;

	f->len = 0;
	fx_eth(f, ETHERTYPE_IPV4);
	ip = fx_ip4(f, PROTO_UDP, CLIENT, SERVER);
	fx_set16(f, fx_udp(f, sport, 53) + 4, 8 + n);
	fx_data(f, n);
	fx_end_ip4(f, ip);
}

static void send_udp(struct pipeline *pl, uint16_t sport, uint64_t now_ms,
		     struct pipeline_result *res)
{
	struct fx_buf f;

	udp_frame(&f, sport, 20);
	pipeline_frame(pl, LINK_ETHERNET, f.b, f.len, f.len, now_ms, res);
}

/* ---------------------------------------------------------------- order and arguments */

static void test_a_new_flow_is_started_then_classified_then_its_packet_judged(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct rec r;
	const enum call_kind want[] = { CALL_START, CALL_DPI, CALL_PACKET };

	(void)state;
	path_init(&pl, &r, true);
	send_udp(&pl, 40000, 5500, &res);

	assert_int_equal(res.err, DECODE_OK);
	assert_non_null(res.flow);
	assert_int_equal(res.dir, FLOW_DIR_FWD);
	assert_kinds(&r, want, 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_ptr_equal(r.calls[i].f, res.flow);
		/* wall seconds are the flow clock moved by epoch_offset_ms */
		assert_int_equal(r.calls[i].wall_s, (EPOCH_MS + 5500) / 1000);
	}
	assert_int_equal(r.calls[0].now_ms, 5500);
	assert_int_equal(r.calls[2].now_ms, 5500);
	/* the judge sees the decoded packet the caller gets back */
	assert_ptr_equal(r.calls[2].p, &res.pkt);
	assert_int_equal(res.pkt.sport, 40000);
	assert_int_equal(res.pkt.dport, 53);
	pipeline_uninit(&pl);
}

static void test_a_known_flow_is_not_started_again_and_dpi_is_asked_until_the_class_is_judged(
	void **state)
{
	struct pipeline_result first, res;
	struct pipeline pl;
	struct rec r;
	const enum call_kind want[] = { CALL_START, CALL_DPI, CALL_PACKET, /* first packet */
					CALL_DPI, CALL_PACKET,		   /* class not judged yet */
					CALL_DPI, CALL_PACKET,		   /* judged now */
					CALL_PACKET };

	(void)state;
	path_init(&pl, &r, true);
	send_udp(&pl, 40000, 0, &first);
	send_udp(&pl, 40000, 10, &res);
	r.check_class = true;
	send_udp(&pl, 40000, 20, &res);
	send_udp(&pl, 40000, 30, &res);

	assert_ptr_equal(res.flow, first.flow);
	assert_kinds(&r, want, 8);
	assert_int_equal(r.calls[7].now_ms, 30);
	assert_int_equal(res.flow->packets[FLOW_DIR_FWD], 4);
	pipeline_uninit(&pl);
}

static void test_without_a_judge_flows_are_tracked_and_still_end(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct rec r;
	const enum call_kind want[] = { CALL_END };

	(void)state;
	path_init(&pl, &r, false);
	send_udp(&pl, 40000, 0, &res);
	assert_non_null(res.flow);
	assert_int_equal(r.n, 0);
	assert_int_equal(pl.st.tracked, 1);
	pipeline_uninit(&pl);
	assert_kinds(&r, want, 1);
	assert_int_equal(r.calls[0].why, FLOW_END_SHUTDOWN);
}

/* ---------------------------------------------------------------- the clock */

static void test_a_frame_stamped_earlier_counts_at_the_previous_frames_time(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct rec r;

	(void)state;
	path_init(&pl, &r, true);
	send_udp(&pl, 40000, 7000, &res);
	r.n = 0;
	send_udp(&pl, 40000, 3000, &res);

	assert_int_equal(pl.now_ms, 7000);
	assert_int_equal(res.flow->last_ms, 7000);
	assert_int_equal(pl.st.first_ms, 7000);
	assert_int_equal(pl.st.last_ms, 7000);
	assert_int_equal(r.calls[r.n - 1].kind, CALL_PACKET);
	assert_int_equal(r.calls[r.n - 1].now_ms, 7000);
	assert_int_equal(r.calls[r.n - 1].wall_s, (EPOCH_MS + 7000) / 1000);
	/* and the clock goes on from there */
	send_udp(&pl, 40000, 7001, &res);
	assert_int_equal(res.flow->last_ms, 7001);
	assert_int_equal(pl.st.last_ms, 7001);
	pipeline_uninit(&pl);
}

/* ---------------------------------------------------------------- coalesced frames */

/* A coalesced TCP frame counts as the segments it was on the wire, each with its headers. */
static void test_a_coalesced_frame_counts_as_its_wire_segments(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct fx_buf f = { .len = 0 };
	uint32_t ip, hdr = 14 + 20 + 20;
	struct rec r;

	(void)state;
	path_init(&pl, &r, true);
	fx_eth(&f, ETHERTYPE_IPV4);
	ip = fx_ip4(&f, PROTO_TCP, CLIENT, SERVER);
	fx_tcp(&f, 40000, 443, 0x18, 0);
	fx_data(&f, 2500);
	fx_end_ip4(&f, ip);
	/* 1000 + 1000 + 500 payload bytes: three segments, two more headers */
	pipeline_frame_seg(&pl, LINK_ETHERNET, f.b, f.len, f.len, 1000, 1, &res);
	assert_int_equal(res.err, DECODE_OK);
	assert_int_equal(res.pkt.more_segs, 2);
	assert_int_equal(res.flow->packets[FLOW_DIR_FWD], 3);
	assert_int_equal(res.flow->bytes[FLOW_DIR_FWD], f.len + 2 * hdr);
	assert_int_equal(pl.st.frame_bytes, f.len + 2 * hdr);
	/* exactly a multiple of the segment size: no segment more */
	pipeline_frame_seg(&pl, LINK_ETHERNET, f.b, f.len, f.len, 1250, 2, &res);
	assert_int_equal(res.pkt.more_segs, 1);
	assert_int_equal(res.flow->packets[FLOW_DIR_FWD], 5);
	/* the same frame as a wire frame (seg_size 0), or one segment long: one packet */
	pipeline_frame(&pl, LINK_ETHERNET, f.b, f.len, f.len, 3, &res);
	assert_int_equal(res.pkt.more_segs, 0);
	pipeline_frame_seg(&pl, LINK_ETHERNET, f.b, f.len, f.len, 2500, 4, &res);
	assert_int_equal(res.pkt.more_segs, 0);
	assert_int_equal(res.flow->packets[FLOW_DIR_FWD], 7);
	assert_int_equal(res.flow->bytes[FLOW_DIR_FWD], 4 * f.len + 3 * hdr);
	pipeline_uninit(&pl);
}

/* ---------------------------------------------------------------- discards */

static void test_frames_that_do_not_decode_are_counted_by_reason_and_never_judged(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct fx_buf f = { .len = 0 };
	struct rec r;

	(void)state;
	path_init(&pl, &r, true);
	/* shorter than an Ethernet header, twice */
	fx_put(&f, NULL, 10);
	pipeline_frame(&pl, LINK_ETHERNET, f.b, f.len, f.len, 0, &res);
	assert_int_equal(res.err, DECODE_ERR_SHORT_L2);
	assert_null(res.flow);
	pipeline_frame(&pl, LINK_ETHERNET, f.b, f.len, 60, 1, &res);
	/* ARP */
	f.len = 0;
	fx_eth(&f, 0x0806);
	fx_put(&f, NULL, 28);
	pipeline_frame(&pl, LINK_ETHERNET, f.b, f.len, f.len, 2, &res);
	assert_int_equal(res.err, DECODE_ERR_NOT_IP);
	assert_null(res.flow);
	/* one that decodes */
	send_udp(&pl, 40000, 3, &res);

	assert_int_equal(pl.st.discarded[DECODE_ERR_SHORT_L2], 2);
	assert_int_equal(pl.st.discarded[DECODE_ERR_NOT_IP], 1);
	for (int e = 0; e < DECODE_ERR_MAX; e++)
		if (e != DECODE_ERR_SHORT_L2 && e != DECODE_ERR_NOT_IP)
			assert_int_equal(pl.st.discarded[e], 0);
	assert_int_equal(pl.st.frames, 4);
	assert_int_equal(pl.st.tracked, 1);
	/* every frame's wire length counts, tracked or not */
	assert_int_equal(pl.st.frame_bytes, 10 + 60 + (14 + 28) + res.pkt.wire_len);
	/* only the decoded frame reached the judge: start, dpi, packet */
	assert_int_equal(r.n, 3);
	assert_int_equal(r.calls[0].kind, CALL_START);
	pipeline_uninit(&pl);
}

/* ---------------------------------------------------------------- the end of flows */

static void test_an_idle_flow_ends_once_after_dpi_gave_up_and_the_judge_had_a_last_look(
	void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct flow *f;
	struct rec r;
	uint32_t id;
	const enum call_kind want[] = { CALL_DPI, CALL_END };

	(void)state;
	path_init(&pl, &r, true);
	send_udp(&pl, 40000, 0, &res);
	f = res.flow;
	id = f->id;
	r.n = 0;
	/* idle for exactly the timeout: not yet */
	pipeline_tick(&pl, UDP_TIMEOUT_S * 1000);
	assert_int_equal(r.n, 0);
	/* a millisecond more, at the next pass */
	pipeline_tick(&pl, 2 * UDP_TIMEOUT_S * 1000 + 1);
	assert_kinds(&r, want, 2);
	assert_int_equal(r.calls[0].flow_id, id);
	/* the last look is on the path's clock, the latest frame's time, not the pass's */
	assert_int_equal(r.calls[0].wall_s, EPOCH_MS / 1000);
	assert_int_equal(r.calls[1].flow_id, id);
	assert_int_equal(r.calls[1].why, FLOW_END_IDLE);
	assert_true(r.calls[1].decided);
	/* never again, neither by later passes nor at the end */
	pipeline_tick(&pl, 60000);
	pipeline_uninit(&pl);
	assert_int_equal(r.n, 2);
}

static void test_every_flow_left_at_uninit_ends_once_as_shutdown(void **state)
{
	struct pipeline_result res;
	struct pipeline pl;
	struct rec r;
	uint32_t ids[3];
	unsigned int ends = 0;

	(void)state;
	path_init(&pl, &r, true);
	for (uint16_t i = 0; i < 3; i++) {
		send_udp(&pl, (uint16_t)(40000 + i), 10 * i, &res);
		ids[i] = res.flow->id;
	}
	r.n = 0;
	pipeline_uninit(&pl);

	assert_null(pl.flows);
	assert_null(pl.dpi);
	for (unsigned int i = 0; i < r.n; i++) {
		if (r.calls[i].kind != CALL_END)
			continue;
		/* each end follows the judge's last look at the same flow */
		assert_true(i > 0);
		assert_int_equal(r.calls[i - 1].kind, CALL_DPI);
		assert_int_equal(r.calls[i - 1].flow_id, r.calls[i].flow_id);
		assert_int_equal(r.calls[i].why, FLOW_END_SHUTDOWN);
		assert_true(r.calls[i].decided);
		/* least recently active first */
		assert_int_equal(r.calls[i].flow_id, ids[ends]);
		ends++;
	}
	assert_int_equal(ends, 3);
	assert_int_equal(r.n, 6);
}

static void test_idle_flows_are_looked_for_once_a_second_of_frame_time(void **state)
{
	struct pipeline_result a, b;
	struct pipeline pl;
	struct rec r;
	uint32_t b_id;

	(void)state;
	path_init(&pl, &r, false);
	send_udp(&pl, 40000, 0, &a);   /* the first frame's pass: the next is due at 1000 */
	send_udp(&pl, 40001, 100, &b);
	b_id = b.flow->id;          /* b's record is reused once it ends */
	pipeline_tick(&pl, 1050);      /* a is 1050 ms idle: ended; the next pass at 2050 */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.calls[0].flow_id, a.flow->id);
	pipeline_tick(&pl, 1200);      /* b is 1100 ms idle, but no pass before 2050 */
	send_udp(&pl, 40002, 2049, &a); /* nor through the frame path */
	assert_int_equal(r.n, 1);
	send_udp(&pl, 40003, 2050, &a); /* a frame's time runs the pass as a tick does */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.calls[1].flow_id, b_id);
	assert_int_equal(r.calls[1].why, FLOW_END_IDLE);
	pipeline_uninit(&pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_new_flow_is_started_then_classified_then_its_packet_judged),
		cmocka_unit_test(
			test_a_known_flow_is_not_started_again_and_dpi_is_asked_until_the_class_is_judged),
		cmocka_unit_test(test_without_a_judge_flows_are_tracked_and_still_end),
		cmocka_unit_test(test_a_frame_stamped_earlier_counts_at_the_previous_frames_time),
		cmocka_unit_test(test_frames_that_do_not_decode_are_counted_by_reason_and_never_judged),
		cmocka_unit_test(
			test_an_idle_flow_ends_once_after_dpi_gave_up_and_the_judge_had_a_last_look),
		cmocka_unit_test(test_every_flow_left_at_uninit_ends_once_as_shutdown),
		cmocka_unit_test(test_a_coalesced_frame_counts_as_its_wire_segments),
		cmocka_unit_test(test_idle_flows_are_looked_for_once_a_second_of_frame_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

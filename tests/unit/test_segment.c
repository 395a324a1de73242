/*
 * Segment specification (firmware/packet/segment.c): a coalesced TCP frame
 * cut back into the wire segments it was merged from, each a frame the
 * decoder takes and whose IP and TCP checksums hold, with the payload in
 * order and the flags where one segment of the original stream had them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/csum.h"
#include "packet/decode.h"
#include "packet/segment.h"

#include "fixtures.h"

#define TCP 6
#define UDP 17
#define FIN 0x01
#define PSH 0x08
#define ACK 0x10
#define CWR 0x80
#define SEQ 0xfffff000u /* wraps inside the frame */

struct got {
	int n;
	uint8_t frame[8][2048];
	uint32_t len[8];
};

static void collect(const uint8_t *frame, uint32_t len, void *ctx)
{
	struct got *g = ctx;

	assert_true(g->n < 8 && len <= sizeof(g->frame[0]));
	memcpy(g->frame[g->n], frame, len);
	g->len[g->n++] = len;
}

static const uint8_t cli4[4] = { 10, 0, 0, 1 }, srv4[4] = { 10, 0, 0, 2 };
static const uint8_t cli6[16] = { 0xfd, 0x99, [15] = 0x10 }, srv6[16] = { 0xfd, 0x99, [15] = 1 };

/* The coalesced frame: payload bytes i % 251, TCP with 3 option words (as timestamps take). */
static void coalesced(struct fx_buf *f, bool v6, bool vlan, uint32_t payload, uint8_t flags)
{
	uint32_t ip, tcp;

	memset(f, 0, sizeof(*f));
	fx_eth(f, vlan ? 0x8100 : v6 ? 0x86dd : 0x0800);
	if (vlan)
		fx_tag(f, 7, v6 ? 0x86dd : 0x0800);
	ip = v6 ? fx_ip6(f, TCP, cli6, srv6) : fx_ip4(f, TCP, cli4, srv4);
	if (!v6)
		fx_wr16(f->b + ip + 4, 0xfffe); /* identification wraps too */
	tcp = fx_tcp(f, 40000, 5201, flags, 3);
	fx_wr32(f->b + tcp + 4, SEQ);
	for (uint32_t i = 0; i < payload; i++)
		f->b[fx_put(f, NULL, 1)] = (uint8_t)(i % 251);
	if (v6)
		fx_end_ip6(f, ip);
	else
		fx_end_ip4(f, ip);
}

/* Every segment decodes, checksums hold, sequence and payload continue the stream. */
static void check_segments(const struct got *g, uint32_t payload, uint32_t seg, uint8_t flags)
{
	uint32_t at = 0;

	for (int i = 0; i < g->n; i++) {
		struct pkt p;
		const uint8_t *f = g->frame[i];
		uint32_t want = payload - at < seg ? payload - at : seg, sum, l3, l4;
		uint8_t tf;

		assert_int_equal(decode_packet(LINK_ETHERNET, f, g->len[i], g->len[i], &p), DECODE_OK);
		assert_int_equal(p.payload_len, want);
		l3 = (uint32_t)(p.l3 - f);
		l4 = (uint32_t)(p.l4 - f);
		assert_int_equal(fx_rd32(f + l4 + 4), SEQ + at);
		for (uint32_t k = 0; k < want; k++)
			assert_int_equal(f[l4 + 32 + k], (at + k) % 251);
		if (p.ip_version == 4) {
			assert_int_equal(csum_fold(csum_add(0, f + l3, 20)), 0);
			assert_int_equal(fx_rd16(f + l3 + 4), (0xfffe + i) & 0xffff);
			sum = csum_add(0, f + l3 + 12, 8);
		} else {
			sum = csum_add(0, f + l3 + 8, 32);
		}
		sum += TCP + (g->len[i] - l4);
		assert_int_equal(csum_fold(csum_add(sum, f + l4, g->len[i] - l4)), 0);
		tf = f[l4 + 13];
		assert_int_equal(tf & CWR, i == 0 ? flags & CWR : 0);
		assert_int_equal(tf & (FIN | PSH), i == g->n - 1 ? flags & (FIN | PSH) : 0);
		assert_int_equal(tf & ACK, flags & ACK);
		at += want;
	}
	assert_int_equal(at, payload);
}

static void test_ipv4_cut_at_the_segment_size_the_last_one_the_rest(void **state)
{
	static struct fx_buf f;
	static struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	coalesced(&f, false, false, 3500, ACK | PSH | CWR);
	assert_int_equal(segment_tcp(f.b, f.len, 1000, collect, &g), 4);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.len[0], 14 + 20 + 32 + 1000);
	assert_int_equal(g.len[3], 14 + 20 + 32 + 500);
	check_segments(&g, 3500, 1000, ACK | PSH | CWR);
}

static void test_ipv6_behind_a_vlan_tag_fin_on_the_last(void **state)
{
	static struct fx_buf f;
	static struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	coalesced(&f, true, true, 2896, ACK | FIN);
	assert_int_equal(segment_tcp(f.b, f.len, 1448, collect, &g), 2);
	assert_int_equal(fx_rd16(g.frame[0] + 18 + 4), 32 + 1448);
	check_segments(&g, 2896, 1448, ACK | FIN);
}

static void test_a_frame_within_one_segment_comes_back_alone(void **state)
{
	static struct fx_buf f;
	static struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	coalesced(&f, false, false, 700, ACK);
	assert_int_equal(segment_tcp(f.b, f.len, 1448, collect, &g), 1);
	assert_int_equal(g.len[0], f.len);
	check_segments(&g, 700, 1448, ACK);
}

static void test_what_is_not_whole_tcp_is_refused_and_nothing_handed_out(void **state)
{
	static struct fx_buf f;
	static struct got g;
	uint32_t ip;

	(void)state;
	memset(&g, 0, sizeof(g));
	coalesced(&f, false, false, 3000, ACK);
	assert_int_equal(segment_tcp(f.b, 14 + 20 + 10, 1000, collect, &g), -EINVAL); /* TCP cut */
	assert_int_equal(segment_tcp(f.b, f.len, 0, collect, &g), -EINVAL);
	assert_int_equal(segment_tcp(f.b, f.len, SEGMENT_FRAME_MAX, collect, &g), -EINVAL);
	f.b[14 + 20 + 12] = 0x40; /* data offset 4 words: shorter than a TCP header */
	assert_int_equal(segment_tcp(f.b, f.len, 1000, collect, &g), -EINVAL);

	memset(&f, 0, sizeof(f));
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, UDP, cli4, srv4);
	fx_udp(&f, 4000, 443);
	fx_put(&f, NULL, 2000);
	fx_end_ip4(&f, ip);
	assert_int_equal(segment_tcp(f.b, f.len, 1000, collect, &g), -EPROTONOSUPPORT);

	memset(&f, 0, sizeof(f));
	fx_eth(&f, 0x86dd);
	ip = fx_ip6(&f, 0 /* hop-by-hop options first */, cli6, srv6);
	fx_put(&f, NULL, 2000);
	fx_end_ip6(&f, ip);
	assert_int_equal(segment_tcp(f.b, f.len, 1000, collect, &g), -EPROTONOSUPPORT);

	memset(&f, 0, sizeof(f));
	fx_eth(&f, 0x0806);
	fx_put(&f, NULL, 28);
	assert_int_equal(segment_tcp(f.b, f.len, 1000, collect, &g), -EPROTONOSUPPORT);
	assert_int_equal(g.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_cut_at_the_segment_size_the_last_one_the_rest),
		cmocka_unit_test(test_ipv6_behind_a_vlan_tag_fin_on_the_last),
		cmocka_unit_test(test_a_frame_within_one_segment_comes_back_alone),
		cmocka_unit_test(test_what_is_not_whole_tcp_is_refused_and_nothing_handed_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

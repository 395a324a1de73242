/*
 * The inspection cap (firmware/packet/dpi.c, docs/policy.md "A flood cannot
 * buy a pass"): when CONFIG_DPI_MAX_INSPECTED flows hold nDPI state, a flood
 * of new flows makes room, but no flow is given up before nDPI has read its
 * first payload. A flow on a TLS, HTTP or DNS port, or one that has sent
 * payload, is still judged by the name in its first request however many
 * payload-less (SYN) or payload-carrying (UDP) flows arrived meanwhile.
 *
 * Real frames (fixtures.h) through the real decoder, flow table and nDPI
 * (the pipeline without a judge); the names come out of nDPI's own TLS,
 * HTTP and DNS dissectors through dpi_host(), which is what the policy reads.
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
#include "packet/dpi.h"
#include "packet/pipeline.h"

#include "fixtures.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* Twice the cap: every flow under inspection before the flood makes room at least once. */
#define FLOOD (2 * CONFIG_DPI_MAX_INSPECTED)

static const uint8_t CLIENT[4] = { 10, 0, 0, 1 };
static const uint8_t SERVER[4] = { 192, 0, 2, 7 };

struct t {
	struct pipeline pl;
	uint64_t now_ms;
	uint32_t flood_seq; /* the next flood source */
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct tg_config cfg;

	if (!t)
		return -1;
	log_set_level(LOG_LVL_ERR);
	config_defaults(&cfg);
	/* room for the flood and the flows under test, so the table never evicts */
	if (pipeline_init(&t->pl, &cfg, 4 * FLOOD, NULL, NULL) < 0) {
		free(t);
		return -1;
	}
	t->now_ms = 1000;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	pipeline_uninit(&t->pl);
	free(t);
	return 0;
}

static struct flow *frame(struct t *t, struct fx_buf *f)
{
	struct pipeline_result res;

	pipeline_frame(&t->pl, LINK_ETHERNET, f->b, f->len, f->len, t->now_ms, &res);
	assert_int_equal(res.err, DECODE_OK);
	assert_non_null(res.flow);
	return res.flow;
}

/* A TCP segment src:sport -> dst:dport with seq/ack and n payload bytes from data. */
static struct flow *tcp(struct t *t, const uint8_t *src, uint16_t sport, const uint8_t *dst,
			uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
			const void *data, uint32_t n)
{
	struct fx_buf f = { .len = 0 };
	uint32_t ip, th;

	fx_eth(&f, ETHERTYPE_IPV4);
	ip = fx_ip4(&f, PROTO_TCP, src, dst);
	th = fx_tcp(&f, sport, dport, flags, 0);
	fx_wr32(f.b + th + 4, seq);
	fx_wr32(f.b + th + 8, ack);
	fx_wr16(f.b + th + 14, 64240);
	if (n)
		fx_put(&f, data, n);
	fx_end_ip4(&f, ip);
	return frame(t, &f);
}

static struct flow *udp(struct t *t, const uint8_t *src, uint16_t sport, const uint8_t *dst,
			uint16_t dport, const void *data, uint32_t n)
{
	struct fx_buf f = { .len = 0 };
	uint32_t ip, uh;

	fx_eth(&f, ETHERTYPE_IPV4);
	ip = fx_ip4(&f, PROTO_UDP, src, dst);
	uh = fx_udp(&f, sport, dport);
	fx_set16(&f, uh + 4, 8 + n);
	fx_put(&f, data, n);
	fx_end_ip4(&f, ip);
	return frame(t, &f);
}

/* The client's side of a handshake to SERVER:dport (nothing after it). */
static struct flow *handshake(struct t *t, uint16_t sport, uint16_t dport)
{
	struct flow *f;

	f = tcp(t, CLIENT, sport, SERVER, dport, TCP_SYN, 1000, 0, NULL, 0);
	tcp(t, SERVER, dport, CLIENT, sport, TCP_SYN | TCP_ACK, 5000, 1001, NULL, 0);
	tcp(t, CLIENT, sport, SERVER, dport, TCP_ACK, 1001, 5001, NULL, 0);
	return f;
}

/* A TLS 1.2 ClientHello naming sni, as one record. Returns its length. */
static uint32_t client_hello(uint8_t *b, const char *sni)
{
	static const uint8_t suites[] = { 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9c, 0x00, 0x2f };
	uint32_t nl = (uint32_t)strlen(sni), n = 0, body, ext;

	b[n++] = 0x16, b[n++] = 0x03, b[n++] = 0x01, n += 2; /* record */
	b[n++] = 0x01, n += 3;                               /* handshake: ClientHello */
	body = n;
	b[n++] = 0x03, b[n++] = 0x03;                        /* TLS 1.2 */
	for (int i = 0; i < 32; i++)
		b[n++] = (uint8_t)(i * 7 + 1);               /* random */
	b[n++] = 0;                                          /* no session id */
	fx_wr16(b + n, sizeof(suites)), n += 2;
	memcpy(b + n, suites, sizeof(suites)), n += sizeof(suites);
	b[n++] = 1, b[n++] = 0;                              /* null compression */
	ext = n, n += 2;
	fx_wr16(b + n, 0), n += 2;                           /* server_name */
	fx_wr16(b + n, 5 + nl), n += 2;
	fx_wr16(b + n, 3 + nl), n += 2;
	b[n++] = 0;                                          /* host_name */
	fx_wr16(b + n, nl), n += 2;
	memcpy(b + n, sni, nl), n += nl;
	fx_wr16(b + ext, n - ext - 2);
	fx_wr32(b + body - 4, 0x01000000 | (n - body));
	fx_wr16(b + 3, n - 5);
	return n;
}

static struct flow *send_client_hello(struct t *t, uint16_t sport, const char *sni)
{
	uint8_t ch[512];
	uint32_t n = client_hello(ch, sni);

	return tcp(t, CLIENT, sport, SERVER, 443, TCP_PSH | TCP_ACK, 1001, 5001, ch, n);
}

/* n new flows from the flood's own sources, each one frame; kind: 'S' SYN, 'U' UDP datagram. */
static void flood(struct t *t, char kind, uint16_t dport, uint32_t n)
{
	static const uint8_t junk[32] = { 0x8f, 0x13, 0x5a, 0xc2, 0x77, 0x01, 0xe4, 0x3b, 0x99, 0x20, 0x6d,
					  0xf1, 0x0c, 0xb8, 0x42, 0x5e, 0xa7, 0x3d, 0x61, 0x9a, 0xd3, 0x0f,
					  0x84, 0x2c, 0x7b, 0xee, 0x15, 0x50, 0xc9, 0x36, 0x68, 0xb4 };

	for (uint32_t i = 0; i < n; i++, t->flood_seq++) {
		uint8_t src[4] = { 10, 1, (uint8_t)(t->flood_seq >> 8), (uint8_t)t->flood_seq };
		uint16_t sport = (uint16_t)(1024 + (t->flood_seq >> 16));

		if (kind == 'S')
			tcp(t, src, sport, SERVER, dport, TCP_SYN, t->flood_seq, 0, NULL, 0);
		else
			udp(t, src, sport, SERVER, dport, junk, sizeof(junk));
	}
	t->now_ms++;
}

static struct dpi_stats stats(struct t *t)
{
	struct dpi_stats st;

	dpi_get_stats(t->pl.dpi, &st);
	return st;
}

static void assert_host(const struct flow *f, enum dpi_host_kind kind, const char *want)
{
	const char *host = NULL;

	assert_int_equal(dpi_host(f, &host), kind);
	assert_string_equal(host, want);
}

/* ---------------------------------------------------------------- payload-less floods */

static void test_syn_flood_keeps_a_tls_flow_in_inspection_until_its_client_hello(void **state)
{
	struct t *t = *state;
	struct flow *f = handshake(t, 40001, 443);

	flood(t, 'S', 22, FLOOD);
	assert_false(f->flags & FLOW_F_DECIDED);
	assert_non_null(f->dpi); /* a name port outranks the flood's SSH SYNs */
	assert_true(stats(t).flows_pushed_out >= FLOOD - CONFIG_DPI_MAX_INSPECTED);
	assert_int_equal(stats(t).flows_pushed_out, stats(t).flows_pushed_waiting);

	assert_ptr_equal(send_client_hello(t, 40001, "blocked.example"), f);
	assert_host(f, DPI_HOST_SNI, "blocked.example");
}

static void test_syn_flood_on_port_443_sheds_a_tls_flow_but_never_gives_it_up(void **state)
{
	struct t *t = *state;
	struct flow *f = handshake(t, 40002, 443);

	flood(t, 'S', 443, FLOOD);
	/* the flood's SYNs rank as high: f lost its state, not its judgement */
	assert_null(f->dpi);
	assert_false(f->flags & FLOW_F_DECIDED);
	assert_int_equal(stats(t).flows_pushed_out, stats(t).flows_pushed_waiting);

	/* its first payload gets fresh state: nDPI reads the ClientHello mid-connection */
	send_client_hello(t, 40002, "blocked.example");
	assert_host(f, DPI_HOST_SNI, "blocked.example");
}

static void test_syn_flood_does_not_give_up_a_flow_that_sent_payload(void **state)
{
	struct t *t = *state;
	static const char hello[] = "HELO an unknown protocol on an unknown port\r\n";
	struct flow *f = handshake(t, 40003, 40404);

	tcp(t, CLIENT, 40003, SERVER, 40404, TCP_PSH | TCP_ACK, 1001, 5001, hello, sizeof(hello) - 1);
	assert_false(f->flags & FLOW_F_DECIDED);
	flood(t, 'S', 443, FLOOD);
	assert_non_null(f->dpi);
	assert_false(f->flags & FLOW_F_DECIDED);
	/* the SYNs made room among themselves: nothing was given up */
	assert_true(stats(t).flows_pushed_out >= FLOOD - CONFIG_DPI_MAX_INSPECTED);
	assert_int_equal(stats(t).flows_pushed_out, stats(t).flows_pushed_waiting);
}

static void test_syn_flood_on_port_80_leaves_an_http_request_judged_by_its_host(void **state)
{
	struct t *t = *state;
	static const char get[] = "GET / HTTP/1.1\r\nHost: blocked.example\r\n"
				  "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
	struct flow *f = handshake(t, 40004, 80);

	flood(t, 'S', 80, FLOOD);
	assert_false(f->flags & FLOW_F_DECIDED);
	tcp(t, CLIENT, 40004, SERVER, 80, TCP_PSH | TCP_ACK, 1001, 5001, get, sizeof(get) - 1);
	assert_host(f, DPI_HOST_HTTP, "blocked.example");
}

/* ---------------------------------------------------------------- payload floods */

static void test_udp_flood_cannot_stop_a_client_hello_being_read(void **state)
{
	struct t *t = *state;
	struct flow *f;

	flood(t, 'U', 40404, FLOOD); /* the cap is full of flows that showed their payload */
	f = handshake(t, 40005, 443);
	assert_false(f->flags & FLOW_F_DECIDED);
	assert_true(stats(t).packets_deferred >= 3); /* the handshake waited unread */
	flood(t, 'U', 53, FLOOD);
	assert_false(f->flags & FLOW_F_DECIDED);

	send_client_hello(t, 40005, "blocked.example");
	assert_host(f, DPI_HOST_SNI, "blocked.example");
	/* the flood's own flows made the room: given up after their first datagram */
	assert_true(stats(t).flows_pushed_out > stats(t).flows_pushed_waiting);
}

static void test_a_dns_query_under_a_udp_flood_is_read_with_its_name(void **state)
{
	struct t *t = *state;
	struct fx_buf q = { .len = 0 };
	struct flow *f;

	flood(t, 'U', 53, FLOOD);
	fx_put16(&q, 0x1234);
	fx_put16(&q, 0x0100);
	fx_put16(&q, 1), fx_put16(&q, 0), fx_put16(&q, 0), fx_put16(&q, 0);
	fx_dns_name(&q, "blocked.example");
	fx_put16(&q, 1), fx_put16(&q, 1);
	f = udp(t, CLIENT, 53001, SERVER, 53, q.b, q.len);
	assert_host(f, DPI_HOST_DNS, "blocked.example");
}

/* ---------------------------------------------------------------- the end of a shed flow */

static void test_a_flow_shed_before_payload_ends_decided_with_the_guess_of_its_ports(void **state)
{
	struct t *t = *state;
	struct flow *f = handshake(t, 40006, 443);
	struct flow_dpi_result r;

	flood(t, 'S', 443, FLOOD);
	assert_null(f->dpi);
	dpi_giveup(t->pl.dpi, f);
	assert_true(f->flags & FLOW_F_DECIDED);
	r = f->dpi_result;
	assert_true(r.guessed);
	assert_int_not_equal(r.app, 0); /* TLS, by port 443 */
}

static void test_the_cap_is_never_exceeded(void **state)
{
	struct t *t = *state;

	flood(t, 'S', 443, FLOOD);
	flood(t, 'U', 53, FLOOD);
	flood(t, 'S', 22, FLOOD);
	flood(t, 'U', 40404, FLOOD);
	assert_int_equal(stats(t).classifying_peak, CONFIG_DPI_MAX_INSPECTED);
	assert_true(stats(t).classifying <= CONFIG_DPI_MAX_INSPECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_syn_flood_keeps_a_tls_flow_in_inspection_until_its_client_hello),
		T(test_syn_flood_on_port_443_sheds_a_tls_flow_but_never_gives_it_up),
		T(test_syn_flood_does_not_give_up_a_flow_that_sent_payload),
		T(test_syn_flood_on_port_80_leaves_an_http_request_judged_by_its_host),
		T(test_udp_flood_cannot_stop_a_client_hello_being_read),
		T(test_a_dns_query_under_a_udp_flood_is_read_with_its_name),
		T(test_a_flow_shed_before_payload_ends_decided_with_the_guess_of_its_ports),
		T(test_the_cap_is_never_exceeded),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

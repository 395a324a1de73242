/*
 * Flow table specification (firmware/packet/flow.c).
 *
 * Packets are built by hand (struct pkt as decode would fill it), so these
 * tests need nothing but the flow module. Times are milliseconds. Unless a
 * test says otherwise the timeouts are:
 *
 *     TCP open 10 s, TCP closed 1 s, UDP 2 s, other 3 s
 *
 * and "idle for exactly the timeout" is still alive: a flow ends once it has
 * been idle for timeout + 1 ms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/siphash.h"
#include "packet/flow.h"

#include "fixtures.h"

#define TCP 6
#define UDP 17
#define ICMP 1

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

#define T_TCP 10000
#define T_CLOSED 1000
#define T_UDP 2000
#define T_OTHER 3000

static const uint8_t test_hash_key[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

/* ---------------------------------------------------------------- helpers */

/* Records every on_end call. */
struct recorder {
	uint32_t n;
	uint64_t id[64];
	enum flow_end_reason why[64];
	uint64_t by_reason[3];
	uint8_t *per_id;      /* optional: calls per flow id */
	size_t per_id_len;
	int free_dpi;         /* free(f->dpi) like the dpi module does */
};

static void record_end(struct flow *f, enum flow_end_reason why, void *ctx)
{
	struct recorder *r = ctx;

	assert_true(f->id != 0);
	assert_true(f->last_ms >= f->first_ms);
	if (r->n < ARRAY_SIZE(r->id)) {
		r->id[r->n] = f->id;
		r->why[r->n] = why;
	}
	r->n++;
	r->by_reason[why]++;
	if (r->per_id) {
		assert_true(f->id < r->per_id_len);
		r->per_id[f->id]++;
	}
	if (r->free_dpi) {
		free(f->dpi);
		f->dpi = NULL;
	}
}

static struct flow_table *table_new(uint32_t capacity, struct recorder *r)
{
	struct flow_table_config cfg = {
		.capacity = capacity,
		.timeout_ms = {
			[FLOW_CLASS_TCP] = T_TCP,
			[FLOW_CLASS_TCP_CLOSED] = T_CLOSED,
			[FLOW_CLASS_UDP] = T_UDP,
			[FLOW_CLASS_OTHER] = T_OTHER,
		},
		.on_end = r ? record_end : NULL,
		.ctx = r,
		.hash_key = test_hash_key,
	};
	struct flow_table *t = flow_table_new(&cfg);

	assert_non_null(t);
	return t;
}

static struct pkt mkpkt(uint8_t ver, uint8_t proto, union ip_addr src, uint16_t sport,
			union ip_addr dst, uint16_t dport)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ip_version = ver;
	p.l4_proto = proto;
	p.src = src;
	p.dst = dst;
	p.sport = sport;
	p.dport = dport;
	p.wire_len = 100;
	return p;
}

static struct pkt pkt4(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	return mkpkt(4, proto, fx_v4(src), sport, fx_v4(dst), dport);
}

static struct pkt tcp4(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags)
{
	struct pkt p = pkt4(TCP, src, sport, dst, dport);

	p.tcp_flags = flags;
	return p;
}

/* The reply of p: addresses and ports swapped. */
static struct pkt reply_of(const struct pkt *p)
{
	struct pkt r = *p;

	r.src = p->dst;
	r.dst = p->src;
	r.sport = p->dport;
	r.dport = p->sport;
	return r;
}

/* Look p up and count it, as the packet path does. */
static struct flow *see(struct flow_table *t, const struct pkt *p, uint64_t now,
			enum flow_dir *dir_out, bool *created_out)
{
	enum flow_dir dir = FLOW_DIR_REV;
	bool created = false;
	struct flow *f = flow_lookup(t, p, now, &dir, &created);

	assert_non_null(f);
	flow_account(t, f, p, dir, now);
	if (dir_out)
		*dir_out = dir;
	if (created_out)
		*created_out = created;
	return f;
}

static struct flow_table_stats stats(const struct flow_table *t)
{
	struct flow_table_stats st;

	flow_table_get_stats(t, &st);
	return st;
}

/* ---------------------------------------------------------------- direction */

/* client:cport opens a conversation with server:sport; the reply must find it. */
static void check_conversation(uint32_t client, uint16_t cport, uint32_t server, uint16_t sport)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt q = pkt4(UDP, client, cport, server, sport);
	struct pkt a = reply_of(&q);
	union ip_addr c = fx_v4(client), s = fx_v4(server);
	enum flow_dir dir;
	bool created;
	struct flow *f, *g;

	f = see(t, &q, 1000, &dir, &created);
	assert_true(created);
	assert_int_equal(dir, FLOW_DIR_FWD);

	g = see(t, &a, 1001, &dir, &created);
	assert_ptr_equal(g, f);
	assert_false(created);
	assert_int_equal(dir, FLOW_DIR_REV);

	g = see(t, &q, 1002, &dir, &created);
	assert_ptr_equal(g, f);
	assert_int_equal(dir, FLOW_DIR_FWD);

	/* The initiator view does not depend on which endpoint sorts first. */
	assert_memory_equal(flow_src(f), &c, sizeof(c));
	assert_memory_equal(flow_dst(f), &s, sizeof(s));
	assert_int_equal(flow_sport(f), cport);
	assert_int_equal(flow_dport(f), sport);

	assert_int_equal(f->packets[FLOW_DIR_FWD], 2);
	assert_int_equal(f->packets[FLOW_DIR_REV], 1);
	assert_int_equal(f->bytes[FLOW_DIR_FWD], 200);
	assert_int_equal(f->bytes[FLOW_DIR_REV], 100);
	assert_true(f->flags & FLOW_F_REPLY);
	assert_int_equal(stats(t).active, 1);
	flow_table_free(t);
}

static void test_reply_finds_flow_when_initiator_sorts_first(void **state)
{
	(void)state;
	check_conversation(0x0a000001, 40000, 0x0a000002, 80);
}

static void test_reply_finds_flow_when_initiator_sorts_last(void **state)
{
	(void)state;
	check_conversation(0xc0a80164, 40000, 0x08080808, 53);
}

static void test_same_address_ordered_by_port(void **state)
{
	(void)state;
	check_conversation(0x7f000001, 5000, 0x7f000001, 4000);
	check_conversation(0x7f000001, 4000, 0x7f000001, 5000);
}

static void test_identical_endpoints_are_always_forward(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p = pkt4(UDP, 0x7f000001, 53, 0x7f000001, 53);
	enum flow_dir dir;
	bool created;
	struct flow *f, *g;

	(void)state;
	f = see(t, &p, 1, &dir, &created);
	assert_true(created);
	assert_int_equal(dir, FLOW_DIR_FWD);
	g = see(t, &p, 2, &dir, &created);
	assert_ptr_equal(g, f);
	assert_false(created);
	assert_int_equal(dir, FLOW_DIR_FWD);
	assert_int_equal(f->packets[FLOW_DIR_FWD], 2);
	assert_false(f->flags & FLOW_F_REPLY);
	flow_table_free(t);
}

static void test_forward_only_flow_has_no_reply_flag(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 2000);
	struct flow *f;

	(void)state;
	f = see(t, &p, 1, NULL, NULL);
	see(t, &p, 2, NULL, NULL);
	assert_false(f->flags & FLOW_F_REPLY);
	assert_int_equal(f->packets[FLOW_DIR_REV], 0);
	flow_table_free(t);
}

/* ---------------------------------------------------------------- the key */

static void test_vlan_is_part_of_the_key(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 2000);
	struct pkt q = p;
	struct flow *f, *g;
	bool created;

	(void)state;
	q.vlan = 10;
	f = see(t, &p, 1, NULL, &created);
	assert_true(created);
	g = see(t, &q, 2, NULL, &created);
	assert_true(created);
	assert_ptr_not_equal(f, g);
	assert_int_equal(g->key.vlan, 10);
	q = reply_of(&q);
	assert_ptr_equal(see(t, &q, 3, NULL, NULL), g);
	assert_int_equal(stats(t).active, 2);
	flow_table_free(t);
}

static void test_protocol_is_part_of_the_key(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt u = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 2000);
	struct pkt c = tcp4(0x0a000001, 1000, 0x0a000002, 2000, SYN);
	struct flow *f, *g;

	(void)state;
	f = see(t, &u, 1, NULL, NULL);
	g = see(t, &c, 2, NULL, NULL);
	assert_ptr_not_equal(f, g);
	assert_int_equal(f->lru_class, FLOW_CLASS_UDP);
	assert_int_equal(g->lru_class, FLOW_CLASS_TCP);
	assert_int_equal(stats(t).active, 2);
	flow_table_free(t);
}

/* 10.0.0.1 and 0a00:0001:: have the same 16 address bytes. */
static void test_ip_version_is_part_of_the_key(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p4 = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 2000);
	struct pkt p6 = mkpkt(6, UDP, fx_v4(0x0a000001), 1000, fx_v4(0x0a000002), 2000);
	struct flow *f, *g;

	(void)state;
	f = see(t, &p4, 1, NULL, NULL);
	g = see(t, &p6, 2, NULL, NULL);
	assert_ptr_not_equal(f, g);
	assert_int_equal(f->key.ip_version, 4);
	assert_int_equal(g->key.ip_version, 6);
	flow_table_free(t);
}

static void test_ipv6_conversation(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	union ip_addr c = fx_v6(0x99), s = fx_v6(0x01);
	struct pkt q = mkpkt(6, TCP, c, 50000, s, 443);
	struct pkt a = reply_of(&q);
	struct pkt other = mkpkt(6, TCP, fx_v6(0x98), 50000, s, 443);
	enum flow_dir dir;
	struct flow *f;

	(void)state;
	q.tcp_flags = SYN;
	a.tcp_flags = SYN | ACK;
	f = see(t, &q, 1, &dir, NULL);
	assert_int_equal(dir, FLOW_DIR_FWD);
	assert_ptr_equal(see(t, &a, 2, &dir, NULL), f);
	assert_int_equal(dir, FLOW_DIR_REV);
	assert_memory_equal(flow_src(f), &c, sizeof(c));
	assert_memory_equal(flow_dst(f), &s, sizeof(s));
	assert_int_equal(flow_sport(f), 50000);
	assert_int_equal(flow_dport(f), 443);
	/* Only the last address byte differs: another flow. */
	assert_ptr_not_equal(see(t, &other, 3, NULL, NULL), f);
	assert_int_equal(stats(t).active, 2);
	flow_table_free(t);
}

/* An IPv4 address is its first 4 bytes; whatever follows is not key. */
static void test_ipv4_key_is_only_the_four_address_bytes(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 2000);
	struct pkt dirty = p;
	union ip_addr clean = fx_v4(0x0a000001);
	struct flow *f;

	(void)state;
	memset(dirty.src.b + 4, 0xee, 12);
	memset(dirty.dst.b + 4, 0x11, 12);
	f = see(t, &dirty, 1, NULL, NULL);
	assert_ptr_equal(see(t, &p, 2, NULL, NULL), f);
	assert_memory_equal(flow_src(f), &clean, sizeof(clean));
	flow_table_free(t);
}

/* ---------------------------------------------------------------- timeouts */

static void test_each_class_has_its_own_idle_timeout(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt tcp = tcp4(0x0a000001, 1000, 0x0a000002, 80, SYN);
	struct pkt udp = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt icmp = pkt4(ICMP, 0x0a000001, 0, 0x0a000002, 0);
	uint64_t tcp_id, udp_id, icmp_id;

	(void)state;
	tcp_id = see(t, &tcp, 0, NULL, NULL)->id;
	udp_id = see(t, &udp, 0, NULL, NULL)->id;
	icmp_id = see(t, &icmp, 0, NULL, NULL)->id;

	assert_int_equal(flow_expire(t, T_UDP + 1), 1);
	assert_int_equal(r.id[0], udp_id);
	assert_int_equal(r.why[0], FLOW_END_IDLE);

	assert_int_equal(flow_expire(t, T_OTHER + 1), 1);
	assert_int_equal(r.id[1], icmp_id);

	assert_int_equal(flow_expire(t, T_TCP), 0);
	assert_int_equal(flow_expire(t, T_TCP + 1), 1);
	assert_int_equal(r.id[2], tcp_id);

	assert_int_equal(stats(t).active, 0);
	assert_int_equal(stats(t).ended[FLOW_END_IDLE], 3);
	flow_table_free(t);
}

/* Idle == timeout survives; idle == timeout + 1 ms ends. */
static void test_idle_exactly_at_timeout_survives_one_ms_more_ends(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt udp = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);

	(void)state;
	see(t, &udp, 1000, NULL, NULL);
	assert_int_equal(flow_expire(t, 1000 + T_UDP), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(flow_expire(t, 1000 + T_UDP + 1), 1);
	assert_int_equal(r.n, 1);
	flow_table_free(t);
}

/* A packet restarts the idle clock. */
static void test_activity_postpones_expiry(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt udp = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt other = pkt4(UDP, 0x0a000003, 1000, 0x0a000002, 53);
	struct flow *f;

	(void)state;
	f = see(t, &udp, 0, NULL, NULL);
	see(t, &other, 0, NULL, NULL);
	see(t, &udp, 1500, NULL, NULL);
	/* other (head of the UDP list) ends; udp, now behind it, stays. */
	assert_int_equal(flow_expire(t, T_UDP + 1), 1);
	assert_int_equal(stats(t).active, 1);
	assert_int_equal(f->last_ms, 1500);
	assert_int_equal(flow_expire(t, 1500 + T_UDP + 1), 1);
	flow_table_free(t);
}

static void test_zero_timeouts_take_the_kconfig_defaults(void **state)
{
	static const uint64_t default_ms[FLOW_CLASS_MAX] = {
		[FLOW_CLASS_TCP] = CONFIG_FLOW_TCP_TIMEOUT * 1000ull,
		[FLOW_CLASS_TCP_CLOSED] = CONFIG_FLOW_TCP_CLOSED_TIMEOUT * 1000ull,
		[FLOW_CLASS_UDP] = CONFIG_FLOW_UDP_TIMEOUT * 1000ull,
		[FLOW_CLASS_OTHER] = CONFIG_FLOW_OTHER_TIMEOUT * 1000ull,
	};
	struct pkt by_class[FLOW_CLASS_MAX] = {
		[FLOW_CLASS_TCP] = tcp4(0x0a000001, 1000, 0x0a000002, 80, SYN),
		[FLOW_CLASS_TCP_CLOSED] = tcp4(0x0a000001, 1000, 0x0a000002, 80, RST),
		[FLOW_CLASS_UDP] = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53),
		[FLOW_CLASS_OTHER] = pkt4(47, 0x0a000001, 0, 0x0a000002, 0),
	};
	struct flow_table_config cfg = { .capacity = 64 };
	unsigned int c;

	(void)state;
	for (c = 0; c < FLOW_CLASS_MAX; c++) {
		struct flow_table *t = flow_table_new(&cfg);

		assert_non_null(t);
		assert_int_equal(see(t, &by_class[c], 0, NULL, NULL)->lru_class, c);
		assert_int_equal(flow_expire(t, default_ms[c]), 0);
		assert_int_equal(flow_expire(t, default_ms[c] + 1), 1);
		flow_table_free(t);
	}
}

/* ---------------------------------------------------------------- TCP state */

static void test_fin_in_one_direction_keeps_tcp_open(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 80, SYN);
	struct pkt fin = syn;
	struct flow *f;

	(void)state;
	fin.tcp_flags = FIN | ACK;
	f = see(t, &syn, 0, NULL, NULL);
	see(t, &fin, 100, NULL, NULL);
	assert_true(f->flags & FLOW_F_FIN_FWD);
	assert_false(f->flags & FLOW_F_FIN_REV);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP);
	/* A half-closed connection keeps the open timeout. */
	assert_int_equal(flow_expire(t, 100 + T_CLOSED + 1), 0);
	flow_table_free(t);
}

static void test_fin_in_both_directions_closes_with_shorter_timeout(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 80, SYN);
	struct pkt fin = syn, fin_reply;
	struct flow *f;

	(void)state;
	fin.tcp_flags = FIN | ACK;
	fin_reply = reply_of(&fin);
	f = see(t, &syn, 0, NULL, NULL);
	see(t, &fin_reply, 100, NULL, NULL);
	assert_true(f->flags & FLOW_F_FIN_REV);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP);
	see(t, &fin, 200, NULL, NULL);
	assert_true(f->flags & FLOW_F_FIN_FWD);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP_CLOSED);

	assert_int_equal(flow_expire(t, 200 + T_CLOSED), 0);
	assert_int_equal(flow_expire(t, 200 + T_CLOSED + 1), 1);
	assert_int_equal(r.why[0], FLOW_END_IDLE);
	flow_table_free(t);
}

static void test_rst_in_either_direction_closes(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 80, SYN);
	struct pkt rst = reply_of(&syn);
	struct flow *f;

	(void)state;
	rst.tcp_flags = RST | ACK;
	f = see(t, &syn, 0, NULL, NULL);
	see(t, &rst, 10, NULL, NULL);
	assert_true(f->flags & FLOW_F_RST);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP_CLOSED);
	assert_int_equal(flow_expire(t, 10 + T_CLOSED + 1), 1);
	flow_table_free(t);
}

/* TCP flag bits mean nothing on other protocols. */
static void test_tcp_flags_ignored_for_udp(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt p = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct flow *f;

	(void)state;
	p.tcp_flags = FIN | RST;
	f = see(t, &p, 0, NULL, NULL);
	assert_int_equal(f->flags & (FLOW_F_FIN_FWD | FLOW_F_RST), 0);
	assert_int_equal(f->lru_class, FLOW_CLASS_UDP);
	flow_table_free(t);
}

/*
 * Port reuse: a SYN (without ACK) on a closed flow is a new connection. The
 * old flow ends (FLOW_END_IDLE) and a fresh flow with a new id starts, its
 * initiator being the SYN's sender.
 */
static void test_syn_on_closed_flow_starts_a_new_flow(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 80, SYN);
	struct pkt rst = reply_of(&syn);
	struct pkt syn_back = reply_of(&syn);
	union ip_addr server = fx_v4(0x0a000002);
	uint64_t old_id;
	enum flow_dir dir;
	bool created;
	struct flow *f;

	(void)state;
	rst.tcp_flags = RST;
	f = see(t, &syn, 0, NULL, NULL);
	old_id = f->id;
	see(t, &rst, 10, NULL, NULL);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP_CLOSED);

	/* This time the former server opens the connection. */
	f = see(t, &syn_back, 20, &dir, &created);
	assert_true(created);
	assert_int_equal(dir, FLOW_DIR_FWD);
	assert_int_equal(f->id, old_id + 1);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP);
	assert_int_equal(f->flags, 0);
	assert_int_equal(f->packets[FLOW_DIR_FWD], 1);
	assert_int_equal(f->packets[FLOW_DIR_REV], 0);
	assert_int_equal(f->first_ms, 20);
	assert_memory_equal(flow_src(f), &server, sizeof(server));
	assert_int_equal(flow_sport(f), 80);

	assert_int_equal(r.n, 1);
	assert_int_equal(r.id[0], old_id);
	assert_int_equal(r.why[0], FLOW_END_IDLE);
	assert_int_equal(stats(t).active, 1);
	assert_int_equal(stats(t).created, 2);
	flow_table_free(t);
}

/* A retransmitted SYN on an open flow, or a SYN-ACK on a closed one, is not a new connection. */
static void test_syn_on_open_flow_or_synack_on_closed_flow_keeps_flow(void **state)
{
	struct flow_table *t = table_new(64, NULL);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 80, SYN);
	struct pkt rst = syn;
	struct pkt synack = reply_of(&syn);
	bool created;
	struct flow *f;

	(void)state;
	rst.tcp_flags = RST;
	synack.tcp_flags = SYN | ACK;
	f = see(t, &syn, 0, NULL, NULL);
	assert_ptr_equal(see(t, &syn, 1, NULL, &created), f);
	assert_false(created);
	see(t, &rst, 2, NULL, NULL);
	assert_ptr_equal(see(t, &synack, 3, NULL, &created), f);
	assert_false(created);
	assert_int_equal(f->packets[FLOW_DIR_FWD] + f->packets[FLOW_DIR_REV], 4);
	assert_int_equal(stats(t).created, 1);
	flow_table_free(t);
}

/*
 * The gateway's own reset (enforce sets FLOW_F_RST without a packet of the
 * flow passing the table) and a block acted on (FLOW_F_ENFORCED) end the
 * connection: the client's next SYN from the same port starts a new flow,
 * judged from scratch. A segment that is not a SYN stays in the old flow.
 */
static void test_syn_after_the_gateways_reset_or_a_block_starts_a_new_flow(void **state)
{
	static const uint8_t cut[] = { FLOW_F_RST, FLOW_F_ENFORCED };
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 443, SYN);
	struct pkt ack = syn;

	(void)state;
	ack.tcp_flags = ACK;
	for (size_t i = 0; i < ARRAY_SIZE(cut); i++) {
		struct recorder r = { 0 };
		struct flow_table *t = table_new(64, &r);
		struct flow *f = see(t, &syn, 0, NULL, NULL);
		uint32_t old_id = f->id;
		bool created;

		see(t, &ack, 5, NULL, NULL);
		f->flags |= cut[i];
		f->verdict_stage = 4;
		f->verdict_action = 1;
		assert_ptr_equal(see(t, &ack, 6, NULL, &created), f);
		assert_false(created);
		f = see(t, &syn, 7, NULL, &created);
		assert_true(created);
		assert_int_equal(f->id, old_id + 1);
		assert_int_equal(f->verdict_stage, 0);
		assert_int_equal(f->verdict_action, 0);
		assert_int_equal(f->flags, 0);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.id[0], old_id);
		flow_table_free(t);
	}
}

/*
 * An offloaded flow (nfqueue: the kernel passes the rest, FINs included, so
 * the table never learns that it closed) is open as far as the flags go,
 * yet a SYN on its key is a new connection: otherwise the new connection
 * would inherit the old one's final verdict, an accept for whatever name it
 * carries. Other segments stay in the offloaded flow (a list swap may hand
 * it back to the firmware mid-stream).
 */
static void test_syn_on_an_offloaded_open_flow_starts_a_new_flow(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt syn = tcp4(0x0a000001, 40000, 0x0a000002, 443, SYN);
	struct pkt ack = syn;
	struct flow *f;
	uint32_t old_id;
	bool created;

	(void)state;
	ack.tcp_flags = ACK;
	f = see(t, &syn, 0, NULL, NULL);
	see(t, &ack, 1, NULL, NULL);
	/* Without the offload a SYN here is a retransmission, kept in the flow. */
	assert_ptr_equal(see(t, &syn, 2, NULL, &created), f);
	assert_false(created);
	old_id = f->id;
	f->verdict_stage = 4;
	f->offloaded = 1;
	assert_ptr_equal(see(t, &ack, 3, NULL, &created), f);
	assert_false(created);
	assert_int_equal(f->lru_class, FLOW_CLASS_TCP);

	f = see(t, &syn, 4, NULL, &created);
	assert_true(created);
	assert_int_equal(f->id, old_id + 1);
	assert_int_equal(f->offloaded, 0);
	assert_int_equal(f->verdict_stage, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.id[0], old_id);
	assert_int_equal(r.why[0], FLOW_END_IDLE);
	flow_table_free(t);
}

/* A datagram after the idle gap starts a new flow even before flow_expire() ran. */
static void test_udp_after_the_idle_gap_is_a_new_flow(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt q = pkt4(UDP, 0x0a000001, 5000, 0x0a000002, 9999);
	struct flow *f = see(t, &q, 0, NULL, NULL);
	uint32_t id = f->id;
	bool created;

	(void)state;
	assert_ptr_equal(see(t, &q, T_UDP, NULL, &created), f); /* idle == timeout: alive */
	assert_false(created);
	f = see(t, &q, 2 * T_UDP + 1, NULL, &created);
	assert_true(created);
	assert_int_equal(f->id, id + 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.why[0], FLOW_END_IDLE);
	flow_table_free(t);
}

/* A QUIC v1 long-header packet of type t with the given connection ids, padded to len. */
static struct pkt quic(uint8_t *buf, size_t len, uint8_t type, const char *dcid, const char *scid,
		       bool from_server)
{
	struct pkt p = pkt4(UDP, 0x0a000001, 50000, 0x0a000002, 443);
	size_t dl = strlen(dcid), sl = strlen(scid), o = 0;

	if (from_server)
		p = reply_of(&p);
	memset(buf, 0, len);
	buf[o++] = (uint8_t)(0xc0 | type << 4);
	buf[o++] = 0, buf[o++] = 0, buf[o++] = 0, buf[o++] = 1;
	buf[o++] = (uint8_t)dl;
	memcpy(buf + o, dcid, dl);
	o += dl;
	buf[o++] = (uint8_t)sl;
	memcpy(buf + o, scid, sl);
	p.payload = buf;
	p.payload_len = (uint32_t)len;
	return p;
}

/*
 * QUIC: the client's Initials carry its first DCID, then the server's SCID;
 * an Initial with another DCID is a new connection on the same ports. A
 * small datagram (not padded to 1200 bytes) opens nothing.
 */
static void test_quic_initial_with_a_new_connection_id_starts_a_new_flow(void **state)
{
	static uint8_t b1[1200], b2[1200], b3[1200], b4[1200], b5[100], b6[1200];
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt first = quic(b1, sizeof(b1), 0, "client-dcid-1", "cscid", false);
	struct pkt server = quic(b2, sizeof(b2), 0, "cscid", "server-cid", true);
	struct pkt second = quic(b3, sizeof(b3), 0, "server-cid", "cscid", false);
	struct pkt other = quic(b4, sizeof(b4), 0, "client-dcid-2", "cscid2", false);
	struct pkt small = quic(b5, sizeof(b5), 0, "client-dcid-3", "x", false);
	struct pkt handshake = quic(b6, sizeof(b6), 2, "client-dcid-4", "x", false);
	struct flow *f;
	uint32_t id;
	bool created;

	(void)state;
	f = see(t, &first, 0, NULL, NULL);
	id = f->id;
	assert_int_not_equal(f->quic_cid, 0);
	assert_ptr_equal(see(t, &first, 1, NULL, &created), f); /* retransmitted */
	assert_false(created);
	assert_ptr_equal(see(t, &server, 2, NULL, &created), f);
	assert_ptr_equal(see(t, &second, 3, NULL, &created), f); /* DCID = the server's SCID */
	assert_false(created);
	assert_ptr_equal(see(t, &small, 4, NULL, &created), f);
	assert_ptr_equal(see(t, &handshake, 5, NULL, &created), f);
	assert_false(created);
	assert_int_equal(r.n, 0);

	f = see(t, &other, 6, NULL, &created);
	assert_true(created);
	assert_int_equal(f->id, id + 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.id[0], id);
	flow_table_free(t);
}

/* ---------------------------------------------------------------- eviction */

static void test_full_table_evicts_least_recently_used_not_oldest(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(4, &r);
	struct pkt p[5];
	struct flow *f[5];
	bool created;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		p[i] = pkt4(UDP, 0x0a000001, (uint16_t)(1000 + i), 0x0a000002, 53);
	for (i = 0; i < 4; i++)
		f[i] = see(t, &p[i], (uint64_t)i + 1, NULL, NULL);
	/* The first flow is the oldest but was just used; the second is the idlest. */
	see(t, &p[0], 5, NULL, NULL);
	assert_int_equal(r.n, 0);

	f[4] = see(t, &p[4], 6, NULL, &created);
	assert_true(created);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.id[0], 2);
	assert_int_equal(r.why[0], FLOW_END_EVICTED);
	assert_int_equal(stats(t).ended[FLOW_END_EVICTED], 1);
	assert_int_equal(stats(t).active, 4);
	/* The evicted record was reused. */
	assert_ptr_equal(f[4], f[1]);
	assert_int_equal(f[4]->id, 5);

	assert_ptr_equal(see(t, &p[0], 7, NULL, &created), f[0]);
	assert_false(created);
	flow_table_free(t);
}

/* The idlest flow of all four class lists is evicted, not the head of one. */
static void test_eviction_compares_all_classes(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(4, &r);
	struct pkt tcp1 = tcp4(0x0a000001, 1000, 0x0a000002, 80, SYN);
	struct pkt udp = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt icmp = pkt4(ICMP, 0x0a000001, 0, 0x0a000002, 0);
	struct pkt tcp2 = tcp4(0x0a000001, 1001, 0x0a000002, 80, SYN);
	struct pkt tcp3 = tcp4(0x0a000001, 1002, 0x0a000002, 80, SYN);
	uint64_t udp_id;

	(void)state;
	see(t, &tcp1, 1, NULL, NULL);
	udp_id = see(t, &udp, 2, NULL, NULL)->id;
	see(t, &icmp, 3, NULL, NULL);
	see(t, &tcp2, 4, NULL, NULL);
	see(t, &tcp1, 5, NULL, NULL);
	see(t, &tcp3, 6, NULL, NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.id[0], udp_id);
	assert_int_equal(r.why[0], FLOW_END_EVICTED);
	flow_table_free(t);
}

/* ---------------------------------------------------------------- on_end */

static void test_on_end_once_per_flow_for_every_reason(void **state)
{
	uint8_t per_id[16] = { 0 };
	struct recorder r = { .per_id = per_id, .per_id_len = sizeof(per_id) };
	struct flow_table *t = table_new(2, &r);
	struct pkt a = pkt4(UDP, 0x0a000001, 1, 0x0a000002, 53);
	struct pkt b = pkt4(UDP, 0x0a000001, 2, 0x0a000002, 53);
	struct pkt c = pkt4(UDP, 0x0a000001, 3, 0x0a000002, 53);
	struct pkt syn = tcp4(0x0a000001, 4, 0x0a000002, 80, SYN);
	struct pkt fin = syn, fin_reply;
	uint64_t i;

	(void)state;
	fin.tcp_flags = FIN;
	fin_reply = reply_of(&fin);
	see(t, &a, 0, NULL, NULL);                   /* id 1 */
	see(t, &b, 1, NULL, NULL);                   /* id 2 */
	see(t, &c, 2, NULL, NULL);                   /* id 3, evicts 1 */
	assert_int_equal(flow_expire(t, 1 + T_UDP + 1), 1); /* ends 2 */
	see(t, &syn, 3000, NULL, NULL);              /* id 4 */
	see(t, &fin, 3001, NULL, NULL);
	see(t, &fin_reply, 3002, NULL, NULL);
	see(t, &syn, 3003, NULL, NULL);              /* id 5 ends 4 (port reuse) */
	flow_end_all(t);                             /* ends 3 and 5 */
	flow_end_all(t);                             /* nothing left to end */
	flow_table_free(t);                          /* nor here */

	assert_int_equal(r.n, 5);
	for (i = 1; i <= 5; i++)
		assert_int_equal(per_id[i], 1);
	assert_int_equal(r.by_reason[FLOW_END_EVICTED], 1);
	assert_int_equal(r.by_reason[FLOW_END_IDLE], 2);
	assert_int_equal(r.by_reason[FLOW_END_SHUTDOWN], 2);
}

static void test_end_all_is_least_recently_used_first_and_table_stays_usable(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(8, &r);
	struct pkt udp = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt tcp = tcp4(0x0a000001, 1000, 0x0a000002, 80, SYN);
	struct pkt icmp = pkt4(ICMP, 0x0a000001, 0, 0x0a000002, 0);
	uint64_t udp_id, tcp_id, icmp_id;
	bool created;

	(void)state;
	udp_id = see(t, &udp, 0, NULL, NULL)->id;
	tcp_id = see(t, &tcp, 1, NULL, NULL)->id;
	icmp_id = see(t, &icmp, 2, NULL, NULL)->id;
	see(t, &udp, 3, NULL, NULL);

	flow_end_all(t);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.id[0], tcp_id);
	assert_int_equal(r.id[1], icmp_id);
	assert_int_equal(r.id[2], udp_id);
	assert_int_equal(r.why[2], FLOW_END_SHUTDOWN);
	assert_int_equal(stats(t).active, 0);
	assert_int_equal(stats(t).ended[FLOW_END_SHUTDOWN], 3);

	assert_int_equal(see(t, &udp, 4, NULL, &created)->id, 4);
	assert_true(created);
	assert_int_equal(stats(t).active, 1);
	assert_int_equal(flow_expire(t, 4 + T_UDP + 1), 1);
	flow_table_free(t);
	assert_int_equal(r.n, 4);
}

/* The owner frees its DPI state in on_end (ASan reports a leak otherwise). */
static void test_on_end_may_free_dpi_state(void **state)
{
	struct recorder r = { .free_dpi = 1 };
	struct flow_table *t = table_new(2, &r);
	struct pkt p;
	struct flow *f;
	uint16_t port;

	(void)state;
	for (port = 1; port <= 10; port++) {
		p = pkt4(UDP, 0x0a000001, port, 0x0a000002, 53);
		f = see(t, &p, port, NULL, NULL);
		assert_null(f->dpi);
		f->dpi = malloc(64);
		assert_non_null(f->dpi);
	}
	flow_table_free(t);
	assert_int_equal(r.n, 10);
}

static void test_no_on_end_callback_is_fine(void **state)
{
	struct flow_table *t = table_new(2, NULL);
	struct pkt p;
	uint16_t port;

	(void)state;
	for (port = 1; port <= 10; port++) {
		p = pkt4(UDP, 0x0a000001, port, 0x0a000002, 53);
		see(t, &p, port, NULL, NULL);
	}
	assert_int_equal(flow_expire(t, 100000), 2);
	see(t, &p, 100001, NULL, NULL);
	flow_table_free(t);
	flow_table_free(NULL);
}

/* ---------------------------------------------------------------- time */

/* Captures can step back in time: no idle time, no underflow, no crash. */
static void test_time_going_backwards(void **state)
{
	struct recorder r = { 0 };
	struct flow_table *t = table_new(64, &r);
	struct pkt a = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt b = pkt4(UDP, 0x0a000003, 1000, 0x0a000002, 53);
	struct flow *f, *g;

	(void)state;
	f = see(t, &a, 10000, NULL, NULL);
	see(t, &a, 5000, NULL, NULL);
	assert_int_equal(f->first_ms, 10000);
	assert_int_equal(f->last_ms, 10000);
	assert_int_equal(f->packets[FLOW_DIR_FWD], 2);

	/* A flow created "earlier" behind it in the same list. */
	g = see(t, &b, 1, NULL, NULL);
	assert_int_equal(g->first_ms, 1);

	assert_int_equal(flow_expire(t, 0), 0);
	assert_int_equal(flow_expire(t, 5000), 0);
	assert_int_equal(flow_expire(t, 10000), 0);
	/* Later, both are idle: nothing was lost or double-ended. */
	assert_int_equal(flow_expire(t, 10000 + T_UDP + 1), 2);
	assert_int_equal(r.n, 2);
	flow_table_free(t);
}

/* ---------------------------------------------------------------- stats, config */

static void test_stats(void **state)
{
	struct flow_table *t = table_new(8, NULL);
	struct pkt a = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt b = pkt4(UDP, 0x0a000001, 1001, 0x0a000002, 53);
	struct flow_table_stats st;
	enum flow_dir dir;
	bool created;

	(void)state;
	see(t, &a, 1, NULL, NULL);
	see(t, &b, 2, NULL, NULL);
	see(t, &a, 3, NULL, NULL);
	assert_non_null(flow_lookup(t, &b, 4, &dir, &created));
	st = stats(t);
	assert_int_equal(st.lookups, 4);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.active, 2);
	assert_int_equal(st.capacity, 8);
	assert_in_range(st.max_chain, 1, 2);
	assert_int_equal(st.ended[FLOW_END_IDLE] + st.ended[FLOW_END_EVICTED] +
			 st.ended[FLOW_END_SHUTDOWN], 0);
	flow_table_free(t);
}

static void test_capacity_zero_means_kconfig_size_and_random_key(void **state)
{
	struct flow_table_config cfg = { 0 };
	struct flow_table *t = flow_table_new(&cfg);
	struct pkt a = pkt4(UDP, 0x0a000001, 1000, 0x0a000002, 53);
	struct pkt b = reply_of(&a);
	struct flow *f;

	(void)state;
	assert_non_null(t);
	assert_int_equal(stats(t).capacity, CONFIG_FLOW_TABLE_SIZE);
	f = see(t, &a, 1, NULL, NULL);
	assert_ptr_equal(see(t, &b, 2, NULL, NULL), f);
	flow_table_free(t);
}

static void test_rejects_capacity_beyond_32_bit_links(void **state)
{
	struct flow_table_config cfg = { .capacity = 0x80000001u };

	(void)state;
	errno = 0;
	assert_null(flow_table_new(&cfg));
	assert_int_equal(errno, EINVAL);
}

static void test_end_reason_names(void **state)
{
	(void)state;
	assert_string_equal(flow_end_reason_name(FLOW_END_IDLE), "idle");
	assert_string_equal(flow_end_reason_name(FLOW_END_EVICTED), "evicted");
	assert_string_equal(flow_end_reason_name(FLOW_END_SHUTDOWN), "shutdown");
}

/* ---------------------------------------------------------------- SipHash */

/*
 * The reference vectors of SipHash-2-4 (Aumasson and Bernstein, "SipHash: a
 * fast short-input PRF", appendix A and the reference code's vectors.h):
 * key 00..0f, message 00, 00 01, ..., so every tail length and both the
 * zero- and one-block paths are covered. Length 15 is the paper's example.
 */
static void test_siphash_reference_vectors(void **state)
{
	static const uint64_t expect[16] = {
		0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull,
		0x85676696d7fb7e2dull, 0xcf2794e0277187b7ull, 0x18765564cd99a68dull,
		0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull, 0x93f5f5799a932462ull,
		0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
		0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull,
		0xa129ca6149be45e5ull,
	};
	uint8_t msg[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < ARRAY_SIZE(expect); i++)
		assert_int_equal(siphash24(test_hash_key, msg, i), expect[i]);
}

/* ---------------------------------------------------------------- randomized */

/* xorshift64* state (fx_rnd): each randomized test seeds it, so a failure replays. */
static uint64_t rng_state;

/* A random packet among few endpoints, so replies and reuse are common. */
static struct pkt random_pkt(uint32_t addrs, uint32_t ports)
{
	static const uint8_t protos[] = { TCP, TCP, UDP, ICMP };
	static const uint8_t tcp_flags[] = { 0, ACK, ACK, SYN, SYN | ACK, FIN | ACK, RST };
	uint8_t ver = fx_rnd_below(&rng_state, 4) == 0 ? 6 : 4;
	uint8_t proto = protos[fx_rnd_below(&rng_state, ARRAY_SIZE(protos))];
	bool ports_used = proto != ICMP;
	union ip_addr s, d;
	struct pkt p;

	if (ver == 4) {
		s = fx_v4(0x0a000000 + fx_rnd_below(&rng_state, addrs));
		d = fx_v4(0x0a000000 + fx_rnd_below(&rng_state, addrs));
	} else {
		s = fx_v6((uint8_t)fx_rnd_below(&rng_state, addrs));
		d = fx_v6((uint8_t)fx_rnd_below(&rng_state, addrs));
	}
	p = mkpkt(ver, proto, s, ports_used ? (uint16_t)(1 + fx_rnd_below(&rng_state, ports)) : 0,
		  d, ports_used ? (uint16_t)(1 + fx_rnd_below(&rng_state, ports)) : 0);
	p.vlan = fx_rnd_below(&rng_state, 3) == 0 ? 7 : 0;
	if (proto == TCP)
		p.tcp_flags = tcp_flags[fx_rnd_below(&rng_state, ARRAY_SIZE(tcp_flags))];
	p.wire_len = 60 + fx_rnd_below(&rng_state, 1400);
	return p;
}

/* 100k random packets through a 16-flow table: capacity holds, counts add up. */
static void test_capacity_never_exceeded_and_every_flow_ends_once(void **state)
{
	enum { CAP = 16, PACKETS = 100000 };
	uint8_t *per_id = calloc(PACKETS + 2, 1);
	struct recorder r = { .per_id = per_id, .per_id_len = PACKETS + 2 };
	struct flow_table *t = table_new(CAP, &r);
	struct flow_table_stats st;
	uint64_t now = 1000000, i, ended;
	struct pkt p;
	struct flow *f;

	(void)state;
	assert_non_null(per_id);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < PACKETS; i++) {
		/* Mostly forward, sometimes the capture steps back. */
		if (fx_rnd_below(&rng_state, 50) == 0)
			now -= fx_rnd_below(&rng_state, 5000);
		else
			now += fx_rnd_below(&rng_state, 200);
		p = random_pkt(40, 8);
		f = see(t, &p, now, NULL, NULL);
		assert_true(f->packets[0] + f->packets[1] >= 1);
		if (fx_rnd_below(&rng_state, 100) == 0)
			flow_expire(t, now);

		st = stats(t);
		ended = st.ended[0] + st.ended[1] + st.ended[2];
		assert_true(st.active <= CAP);
		assert_true(st.active >= 1);
		assert_int_equal(st.active, st.created - ended);
		assert_int_equal(r.n, ended);
	}
	st = stats(t);
	assert_true(st.ended[FLOW_END_EVICTED] > 0);
	assert_true(st.ended[FLOW_END_IDLE] > 0);
	assert_int_equal(st.lookups, PACKETS);
	flow_table_free(t);

	assert_int_equal(r.n, st.created);
	for (i = 1; i <= st.created; i++)
		assert_int_equal(per_id[i], 1);
	assert_int_equal(per_id[st.created + 1], 0);
	free(per_id);
}

/*
 * The table against a naive model: a plain array of flows searched linearly
 * by initiator and responder, with the same rules written the obvious way.
 * The table is big enough never to evict, and time never goes back (a
 * capture stepping back may legitimately make the table expire a flow later
 * than the model; test_time_going_backwards covers that).
 */
struct model_flow {
	bool live;
	uint8_t ver, proto;
	uint16_t vlan;
	union ip_addr src, dst; /* initiator, responder */
	uint16_t sport, dport;
	uint64_t id, first, last;
	uint32_t packets[2];
	uint64_t bytes[2];
	uint8_t flags;
};

static bool model_same_endpoint(const union ip_addr *a, uint16_t pa, const union ip_addr *b,
				uint16_t pb)
{
	return pa == pb && memcmp(a, b, sizeof(*a)) == 0;
}

static struct model_flow *model_find(struct model_flow *m, size_t n, const struct pkt *p,
				     enum flow_dir *dir)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!m[i].live || m[i].ver != p->ip_version || m[i].proto != p->l4_proto ||
		    m[i].vlan != p->vlan)
			continue;
		if (model_same_endpoint(&m[i].src, m[i].sport, &p->src, p->sport) &&
		    model_same_endpoint(&m[i].dst, m[i].dport, &p->dst, p->dport)) {
			*dir = FLOW_DIR_FWD;
			return &m[i];
		}
		if (model_same_endpoint(&m[i].src, m[i].sport, &p->dst, p->dport) &&
		    model_same_endpoint(&m[i].dst, m[i].dport, &p->src, p->sport)) {
			*dir = FLOW_DIR_REV;
			return &m[i];
		}
	}
	return NULL;
}

static enum flow_class_id model_class(const struct model_flow *m)
{
	if (m->proto == UDP)
		return FLOW_CLASS_UDP;
	if (m->proto != TCP)
		return FLOW_CLASS_OTHER;
	if ((m->flags & FLOW_F_RST) || ((m->flags & FLOW_F_FIN_FWD) && (m->flags & FLOW_F_FIN_REV)))
		return FLOW_CLASS_TCP_CLOSED;
	return FLOW_CLASS_TCP;
}

static void test_matches_naive_reference_model(void **state)
{
	enum { PACKETS = 5000, CAP = 8192 };
	static const uint64_t timeout[FLOW_CLASS_MAX] = { T_TCP, T_CLOSED, T_UDP, T_OTHER };
	struct model_flow *model = calloc(PACKETS, sizeof(*model));
	uint8_t *per_id = calloc(PACKETS + 1, 1);
	struct recorder r = { .per_id = per_id, .per_id_len = PACKETS + 1 };
	struct flow_table *t = table_new(CAP, &r);
	size_t n = 0, i, j, live;
	uint64_t now = 0, ids = 0;
	uint32_t expired;
	enum flow_dir dir, mdir;
	bool created;
	struct model_flow *m;
	struct flow *f;
	struct pkt p;

	(void)state;
	assert_non_null(model);
	assert_non_null(per_id);
	rng_state = 0x0123456789abcdefull;
	for (i = 0; i < PACKETS; i++) {
		now += fx_rnd_below(&rng_state, 4) == 0 ? 0 : fx_rnd_below(&rng_state, 300);
		p = random_pkt(6, 3);

		m = model_find(model, n, &p, &mdir);
		if (m && ((model_class(m) == FLOW_CLASS_TCP_CLOSED &&
			   (p.tcp_flags & (SYN | ACK)) == SYN) ||
			  now - m->last > timeout[model_class(m)])) {
			m->live = false;  /* port reuse, or a packet after the idle gap: the old flow ends */
			m = NULL;
		}
		if (!m) {
			m = &model[n++];
			m->live = true;
			m->ver = p.ip_version;
			m->proto = p.l4_proto;
			m->vlan = p.vlan;
			m->src = p.src;
			m->dst = p.dst;
			m->sport = p.sport;
			m->dport = p.dport;
			m->id = ++ids;
			m->first = now;
			mdir = FLOW_DIR_FWD;
		}
		m->packets[mdir]++;
		m->bytes[mdir] += p.wire_len;
		m->last = now;
		if (mdir == FLOW_DIR_REV)
			m->flags |= FLOW_F_REPLY;
		if (p.l4_proto == TCP && (p.tcp_flags & FIN))
			m->flags |= mdir == FLOW_DIR_FWD ? FLOW_F_FIN_FWD : FLOW_F_FIN_REV;
		if (p.l4_proto == TCP && (p.tcp_flags & RST))
			m->flags |= FLOW_F_RST;

		f = see(t, &p, now, &dir, &created);
		assert_int_equal(f->id, m->id);
		assert_int_equal(created, m->id == ids && m->packets[0] + m->packets[1] == 1);
		assert_int_equal(dir, mdir);
		assert_int_equal(f->packets[0], m->packets[0]);
		assert_int_equal(f->packets[1], m->packets[1]);
		assert_int_equal(f->bytes[0], m->bytes[0]);
		assert_int_equal(f->bytes[1], m->bytes[1]);
		assert_int_equal(f->first_ms, m->first);
		assert_int_equal(f->last_ms, m->last);
		assert_int_equal(f->flags, m->flags);
		assert_int_equal(f->lru_class, model_class(m));
		assert_memory_equal(flow_src(f), &m->src, sizeof(m->src));
		assert_memory_equal(flow_dst(f), &m->dst, sizeof(m->dst));
		assert_int_equal(flow_sport(f), m->sport);
		assert_int_equal(flow_dport(f), m->dport);

		if (fx_rnd_below(&rng_state, 40) == 0) {
			uint32_t model_expired = 0;

			expired = flow_expire(t, now);
			for (j = 0; j < n; j++) {
				if (model[j].live && now - model[j].last > timeout[model_class(&model[j])]) {
					model[j].live = false;
					model_expired++;
				}
			}
			assert_int_equal(expired, model_expired);
		}
		/* Every flow the model ended, and only those, was reported once. */
		for (j = 0, live = 0; j < n; j++) {
			assert_int_equal(per_id[model[j].id], model[j].live ? 0 : 1);
			live += model[j].live;
		}
		assert_int_equal(stats(t).active, live);
	}
	assert_int_equal(stats(t).ended[FLOW_END_EVICTED], 0);
	assert_true(stats(t).ended[FLOW_END_IDLE] > 100);
	assert_true(stats(t).max_chain >= 2);
	flow_table_free(t);
	free(per_id);
	free(model);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_finds_flow_when_initiator_sorts_first),
		cmocka_unit_test(test_reply_finds_flow_when_initiator_sorts_last),
		cmocka_unit_test(test_same_address_ordered_by_port),
		cmocka_unit_test(test_identical_endpoints_are_always_forward),
		cmocka_unit_test(test_forward_only_flow_has_no_reply_flag),
		cmocka_unit_test(test_vlan_is_part_of_the_key),
		cmocka_unit_test(test_protocol_is_part_of_the_key),
		cmocka_unit_test(test_ip_version_is_part_of_the_key),
		cmocka_unit_test(test_ipv6_conversation),
		cmocka_unit_test(test_ipv4_key_is_only_the_four_address_bytes),
		cmocka_unit_test(test_each_class_has_its_own_idle_timeout),
		cmocka_unit_test(test_idle_exactly_at_timeout_survives_one_ms_more_ends),
		cmocka_unit_test(test_activity_postpones_expiry),
		cmocka_unit_test(test_zero_timeouts_take_the_kconfig_defaults),
		cmocka_unit_test(test_fin_in_one_direction_keeps_tcp_open),
		cmocka_unit_test(test_fin_in_both_directions_closes_with_shorter_timeout),
		cmocka_unit_test(test_rst_in_either_direction_closes),
		cmocka_unit_test(test_tcp_flags_ignored_for_udp),
		cmocka_unit_test(test_syn_on_closed_flow_starts_a_new_flow),
		cmocka_unit_test(test_syn_on_open_flow_or_synack_on_closed_flow_keeps_flow),
		cmocka_unit_test(test_syn_after_the_gateways_reset_or_a_block_starts_a_new_flow),
		cmocka_unit_test(test_syn_on_an_offloaded_open_flow_starts_a_new_flow),
		cmocka_unit_test(test_udp_after_the_idle_gap_is_a_new_flow),
		cmocka_unit_test(test_quic_initial_with_a_new_connection_id_starts_a_new_flow),
		cmocka_unit_test(test_full_table_evicts_least_recently_used_not_oldest),
		cmocka_unit_test(test_eviction_compares_all_classes),
		cmocka_unit_test(test_on_end_once_per_flow_for_every_reason),
		cmocka_unit_test(test_end_all_is_least_recently_used_first_and_table_stays_usable),
		cmocka_unit_test(test_on_end_may_free_dpi_state),
		cmocka_unit_test(test_no_on_end_callback_is_fine),
		cmocka_unit_test(test_time_going_backwards),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_capacity_zero_means_kconfig_size_and_random_key),
		cmocka_unit_test(test_rejects_capacity_beyond_32_bit_links),
		cmocka_unit_test(test_end_reason_names),
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_capacity_never_exceeded_and_every_flow_ends_once),
		cmocka_unit_test(test_matches_naive_reference_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

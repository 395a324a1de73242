/*
 * Hold specification (firmware/packet/hold.c): a request's first segments
 * kept until its name is read, and the two name parsers.
 *
 * Frames are built with the fixtures and decoded, so each segment is what
 * the pipeline would hand the hold. Unless a test says otherwise a flow
 * goes from 10.0.0.1:40000 to 10.0.0.2:443, its client has sent SYN and
 * ACK (packets[FWD] = 3 with the first segment), and the limits are 1024
 * bytes per flow, a pool of two slots and 500 ms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/decode.h"
#include "packet/hold.h"

#include "fixtures.h"

#define TCP 6
#define UDP 17
#define ACK 0x10
#define PSH 0x08
#define ISN 0xfffffff0u /* wraps within the first bytes */
#define FLOW_BYTES 1024
#define TIME_MS 500

struct seg {
	struct fx_buf fb;
	struct pkt p;
};

static const uint8_t cli[4] = { 10, 0, 0, 1 }, srv[4] = { 10, 0, 0, 2 };

/* A client segment carrying data[0..n) at sequence number seq, decoded. */
static void seg_make(struct seg *s, uint16_t dport, uint32_t seq, const uint8_t *data, uint32_t n)
{
	uint32_t ip, tcp;

	memset(&s->fb, 0, sizeof(s->fb));
	fx_eth(&s->fb, 0x0800);
	ip = fx_ip4(&s->fb, TCP, cli, srv);
	tcp = fx_tcp(&s->fb, 40000, dport, ACK | PSH, 0);
	fx_wr32(s->fb.b + tcp + 4, seq);
	fx_put(&s->fb, data, n);
	fx_end_ip4(&s->fb, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, s->fb.b, s->fb.len, s->fb.len, &s->p), DECODE_OK);
	assert_int_equal(s->p.payload_len, n);
}

static struct hold *new_hold(uint32_t slots)
{
	/* A slot is its struct plus four buffers; this many fit and no more. */
	struct hold_config c = { .flow_bytes = FLOW_BYTES, .time_ms = TIME_MS,
				 .pool_bytes = slots * (4 * FLOW_BYTES + 2048) };
	struct hold *h = hold_new(&c);
	struct hold_stats st;

	assert_non_null(h);
	hold_get_stats(h, &st);
	assert_int_equal(st.slots, slots);
	return h;
}

static void new_flow(struct flow *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->key.l4_proto = TCP;
	f->packets[FLOW_DIR_FWD] = 3;
}

/* The client's SYN at ISN, shown to the hold: its request starts at ISN + 1. */
static void syn_seen(struct hold *h, const struct flow *f)
{
	struct fx_buf fb = { .len = 0 };
	struct pkt p;
	uint32_t ip, tcp;

	fx_eth(&fb, 0x0800);
	ip = fx_ip4(&fb, TCP, cli, srv);
	tcp = fx_tcp(&fb, 40000, 443, 0x02, 0);
	fx_wr32(fb.b + tcp + 4, ISN);
	fx_end_ip4(&fb, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, fb.b, fb.len, fb.len, &p), DECODE_OK);
	hold_note_syn(h, f, &p, FLOW_DIR_REV); /* the responder's: ignored */
	hold_note_syn(h, f, &p, FLOW_DIR_FWD);
}

/* A ClientHello for name, in one record (or split into two records at split, if nonzero). */
static uint32_t client_hello(uint8_t *out, const char *name, bool sni, uint32_t split)
{
	struct fx_buf m = { .len = 0 }, r = { .len = 0 };
	uint32_t hs, ext, n = (uint32_t)strlen(name);

	hs = fx_put8(&m, 1);
	fx_put(&m, NULL, 3);
	fx_put16(&m, 0x0303);
	fx_data(&m, 32);           /* random */
	fx_put8(&m, 0);            /* session id */
	fx_put16(&m, 4);
	fx_put16(&m, 0x1301);
	fx_put16(&m, 0x1302);
	fx_put8(&m, 1);
	fx_put8(&m, 0);
	ext = fx_put16(&m, 0);
	fx_put16(&m, 0x000b);      /* ec_point_formats first: the parser must skip it */
	fx_put16(&m, 2);
	fx_put8(&m, 1);
	fx_put8(&m, 0);
	if (sni) {
		fx_put16(&m, 0);
		fx_put16(&m, n + 5);
		fx_put16(&m, n + 3);
		fx_put8(&m, 0);
		fx_put16(&m, n);
		fx_put(&m, name, n);
	}
	fx_put16(&m, 0x002b);      /* supported_versions after it */
	fx_put16(&m, 3);
	fx_put8(&m, 2);
	fx_put16(&m, 0x0304);
	fx_set16(&m, ext, m.len - ext - 2);
	m.b[hs + 1] = (uint8_t)((m.len - 4) >> 16);
	fx_set16(&m, hs + 2, m.len - 4);
	if (!split)
		split = m.len;
	fx_put8(&r, 22);
	fx_put16(&r, 0x0301);
	fx_put16(&r, split);
	fx_put(&r, m.b, split);
	if (split < m.len) {
		fx_put8(&r, 22);
		fx_put16(&r, 0x0303);
		fx_put16(&r, m.len - split);
		fx_put(&r, m.b + split, m.len - split);
	}
	memcpy(out, r.b, r.len);
	return r.len;
}

static const char http_req[] = "GET /index.html HTTP/1.1\r\nUser-Agent: test\r\n"
			       "host:  Blocked.Test:8080 \r\nAccept: */*\r\n\r\n";

/* ---------------------------------------------------------------- parsers */

static void tls_parser_reads_sni_and_asks_for_more_until_it(void **state)
{
	uint8_t hello[512], scratch[FLOW_BYTES];
	char name[HOLD_NAME_MAX + 1];
	uint32_t len = client_hello(hello, "blocked.test", true, 0);
	const uint8_t *at = memmem(hello, len, "blocked.test", 12);
	size_t name_end = (size_t)(at - hello) + 12;

	(void)state;
	assert_int_equal(hold_parse_tls(hello, len, scratch, sizeof(scratch), name), HOLD_PARSE_FOUND);
	assert_string_equal(name, "blocked.test");
	/* Every prefix that ends before the name does: more, never a verdict. */
	for (size_t n = 0; n < name_end; n++)
		assert_int_equal(hold_parse_tls(hello, n, scratch, sizeof(scratch), name), HOLD_PARSE_MORE);
	assert_int_equal(hold_parse_tls(hello, name_end, scratch, sizeof(scratch), name), HOLD_PARSE_FOUND);
}

static void tls_parser_joins_a_hello_split_across_records(void **state)
{
	uint8_t hello[512], scratch[FLOW_BYTES];
	char name[HOLD_NAME_MAX + 1];
	/* split 60 bytes into the handshake: inside the extensions */
	uint32_t len = client_hello(hello, "www.blocked.test", true, 60);

	(void)state;
	assert_int_equal(hold_parse_tls(hello, len, scratch, sizeof(scratch), name), HOLD_PARSE_FOUND);
	assert_string_equal(name, "www.blocked.test");
	assert_int_equal(hold_parse_tls(hello, 70, scratch, sizeof(scratch), name), HOLD_PARSE_MORE);
}

static void tls_parser_says_none_without_sni_and_not_mine_for_other_bytes(void **state)
{
	uint8_t hello[512], scratch[FLOW_BYTES];
	char name[HOLD_NAME_MAX + 1];
	uint32_t len = client_hello(hello, "x", false, 0);

	(void)state;
	assert_int_equal(hold_parse_tls(hello, len, scratch, sizeof(scratch), name), HOLD_PARSE_NONE);
	assert_int_equal(hold_parse_tls((const uint8_t *)"SSH-2.0-x", 9, scratch, sizeof(scratch), name),
			 HOLD_PARSE_NOT_MINE);
	hello[5] = 2; /* a ServerHello is no request */
	assert_int_equal(hold_parse_tls(hello, len, scratch, sizeof(scratch), name), HOLD_PARSE_NONE);
}

static void http_parser_reads_host_without_port_case_blind(void **state)
{
	char name[HOLD_NAME_MAX + 1];
	const uint8_t *r = (const uint8_t *)http_req;
	size_t len = strlen(http_req), host_end = (size_t)(strstr(http_req, "8080 \r\n") - http_req) + 7;

	(void)state;
	assert_int_equal(hold_parse_http(r, len, name), HOLD_PARSE_FOUND);
	assert_string_equal(name, "Blocked.Test");
	for (size_t n = 0; n < host_end - 1; n++)
		assert_int_equal(hold_parse_http(r, n, name), HOLD_PARSE_MORE);
	assert_int_equal(hold_parse_http((const uint8_t *)"GET / HTTP/1.0\r\nA: b\r\n\r\n", 24, name),
			 HOLD_PARSE_NONE);
	assert_int_equal(hold_parse_http((const uint8_t *)"GETX", 4, name), HOLD_PARSE_NOT_MINE);
	assert_int_equal(hold_parse_http((const uint8_t *)"POST / HTTP/1.1\nHost: [fd99::2]:80\n", 35, name),
			 HOLD_PARSE_FOUND);
	assert_string_equal(name, "fd99::2");
}

/* ---------------------------------------------------------------- the hold */

struct got {
	uint32_t n;
	uint32_t tag[HOLD_MAX_FRAMES + 1];
};

static void record(const struct hold_frame *fr, void *ctx)
{
	struct got *g = ctx;

	g->tag[g->n++] = fr->tag;
}

/* http_req in pieces cut at the offsets given (ascending, ending with its length). */
static enum hold_result send_piece(struct hold *h, struct flow *f, const char *req, uint32_t from,
				   uint32_t to, uint32_t tag, uint64_t now)
{
	struct seg s;

	seg_make(&s, 80, ISN + 1 + from, (const uint8_t *)req + from, to - from);
	f->packets[FLOW_DIR_FWD]++;
	return hold_frame(h, f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, tag, NULL, now);
}

static void a_split_host_is_held_until_read_then_released_in_order(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct got g = { 0 };
	uint32_t cut = (uint32_t)(strstr(http_req, "Test") - http_req), len = (uint32_t)strlen(http_req);
	enum hold_name_kind kind;
	struct hold_stats st;

	(void)state;
	new_flow(&f, 1);
	f.packets[FLOW_DIR_FWD] = 2;
	assert_int_equal(send_piece(h, &f, http_req, 0, cut, 1, 0), HOLD_HELD);
	assert_true(hold_active(h, &f));
	assert_null(hold_name(h, &f, &kind));
	assert_int_equal(send_piece(h, &f, http_req, cut, len, 2, 10), HOLD_NAME);
	assert_string_equal(hold_name(h, &f, &kind), "Blocked.Test");
	assert_int_equal(kind, HOLD_NAME_HOST);
	hold_end(h, &f, true, record, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.tag[0], 1);
	assert_int_equal(g.tag[1], 2);
	assert_false(hold_active(h, &f));
	hold_get_stats(h, &st);
	assert_int_equal(st.holds, 1);
	assert_int_equal(st.released, 1);
	assert_int_equal(st.active, 0);
	hold_free(h);
}

static void segments_out_of_order_are_joined_by_sequence_number(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct got g = { 0 };
	uint32_t len = (uint32_t)strlen(http_req), a = 20, b = 50;

	(void)state;
	new_flow(&f, 1);
	/* last, middle, first: the start moves back twice */
	assert_int_equal(send_piece(h, &f, http_req, b, len, 1, 0), HOLD_HELD);
	assert_int_equal(send_piece(h, &f, http_req, a, b, 2, 1), HOLD_HELD);
	assert_int_equal(send_piece(h, &f, http_req, 0, a, 3, 2), HOLD_NAME);
	assert_string_equal(hold_name(h, &f, NULL), "Blocked.Test");
	hold_end(h, &f, false, record, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.tag[0], 1); /* arrival order */
	assert_int_equal(g.tag[2], 3);
	hold_free(h);
}

static void a_retransmission_is_a_dup_and_a_rewriting_overlap_a_conflict(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct seg s;
	uint32_t len = (uint32_t)strlen(http_req);
	char other[sizeof(http_req)];
	struct hold_stats st;

	(void)state;
	new_flow(&f, 1);
	assert_int_equal(send_piece(h, &f, http_req, 0, 40, 1, 0), HOLD_HELD);
	assert_int_equal(send_piece(h, &f, http_req, 0, 40, 2, 1), HOLD_DUP);
	assert_int_equal(send_piece(h, &f, http_req, 10, 30, 3, 1), HOLD_DUP);
	/* an overlap that adds bytes is kept */
	assert_int_equal(send_piece(h, &f, http_req, 30, 60, 4, 2), HOLD_HELD);
	/* one that says something else about bytes held is not */
	memcpy(other, http_req, sizeof(other));
	memcpy(other + 50, "host: evil.test\r\n", 17);
	seg_make(&s, 80, ISN + 1 + 50, (const uint8_t *)other + 50, len - 50);
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 5, NULL, 3),
			 HOLD_CONFLICT);
	hold_get_stats(h, &st);
	assert_int_equal(st.dups, 2);
	assert_int_equal(st.conflicts, 1);
	assert_int_equal(st.frames, 2);
	hold_end(h, &f, false, NULL, NULL);
	hold_free(h);
}

static void a_tls_hello_split_inside_sni_is_read(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct seg s;
	uint8_t hello[512];
	uint32_t len = client_hello(hello, "blocked.test", true, 0);
	uint32_t cut = (uint32_t)((const uint8_t *)memmem(hello, len, "blocked", 7) - hello) + 3;
	enum hold_name_kind kind;

	(void)state;
	new_flow(&f, 7);
	seg_make(&s, 443, ISN + 1, hello, cut);
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 1, NULL, 0), HOLD_HELD);
	seg_make(&s, 443, ISN + 1 + cut, hello + cut, len - cut);
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 2, NULL, 0), HOLD_NAME);
	assert_string_equal(hold_name(h, &f, &kind), "blocked.test");
	assert_int_equal(kind, HOLD_NAME_SNI);
	hold_free(h);
}

static void beyond_the_byte_or_frame_limit_the_hold_gives_up(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f, f2;
	struct seg s;
	uint8_t junk[64];
	struct hold_stats st;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	new_flow(&f, 1);
	assert_int_equal(send_piece(h, &f, http_req, 0, 10, 1, 0), HOLD_HELD);
	/* a segment ending past FLOW_BYTES from the start */
	seg_make(&s, 80, ISN + 1 + FLOW_BYTES - 10, junk, 20);
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 2, NULL, 0), HOLD_GIVEUP);
	hold_end(h, &f, true, NULL, NULL);

	/* HOLD_MAX_FRAMES one-byte segments with a gap before them: the next one is too many */
	new_flow(&f2, 2);
	f2.packets[FLOW_DIR_FWD] = 4;
	for (uint32_t i = 0; i < HOLD_MAX_FRAMES; i++) {
		seg_make(&s, 443, ISN + 100 + 2 * i, junk, 1);
		assert_int_equal(hold_frame(h, &f2, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, i, NULL, 0),
				 HOLD_HELD);
	}
	seg_make(&s, 443, ISN + 100 + 2 * HOLD_MAX_FRAMES, junk, 1);
	assert_int_equal(hold_frame(h, &f2, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 99, NULL, 0),
			 HOLD_GIVEUP);
	hold_get_stats(h, &st);
	assert_int_equal(st.giveup_size, 2);
	hold_free(h);
}

/*
 * A request begun whose name has not come by the time limit: what is held
 * goes (the client may wait for its acknowledgement before sending more),
 * the rest is held and read with the bytes already seen, for twenty limits;
 * then the hold ends and the flow is never held again.
 */
static void after_the_time_limit_held_frames_go_and_the_rest_is_held_for_twenty_limits(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct got g = { 0 };
	struct hold_stats st;
	uint32_t len = (uint32_t)strlen(http_req), cut = (uint32_t)(strstr(http_req, "Test") - http_req);

	(void)state;
	new_flow(&f, 5);
	syn_seen(h, &f);
	assert_int_equal(send_piece(h, &f, http_req, 0, 10, 1, 1000), HOLD_HELD);
	assert_int_equal(send_piece(h, &f, http_req, 10, 20, 2, 1100), HOLD_HELD);
	assert_int_equal(hold_next_expiry(h, 1100), TIME_MS - 100);
	assert_int_equal(hold_expire(h, 1000 + TIME_MS - 1, record, &g), 0);
	assert_int_equal(hold_expire(h, 1000 + TIME_MS, record, &g), 0);
	assert_int_equal(g.n, 2);
	assert_true(hold_active(h, &f));
	/* a resend of what went passes; the rest is held and the name read across both */
	assert_int_equal(send_piece(h, &f, http_req, 10, 20, 3, 1600), HOLD_PASS);
	assert_int_equal(send_piece(h, &f, http_req, 20, cut, 4, 1700), HOLD_HELD);
	assert_int_equal(hold_expire(h, 1000 + 2 * TIME_MS, record, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(hold_expire(h, 1000 + 3 * TIME_MS, record, &g), 0);
	assert_int_equal(send_piece(h, &f, http_req, cut, len, 5, 2550), HOLD_NAME);
	assert_string_equal(hold_name(h, &f, NULL), "Blocked.Test");
	hold_end(h, &f, false, record, &g);
	assert_int_equal(g.n, 4);

	/* the 21st limit ends it, and it is not held a second time */
	new_flow(&f, 6);
	syn_seen(h, &f);
	assert_int_equal(send_piece(h, &f, http_req, 0, 10, 1, 0), HOLD_HELD);
	for (int i = 1; i <= 20; i++)
		assert_int_equal(hold_expire(h, (uint64_t)i * TIME_MS, NULL, NULL), 0);
	assert_int_equal(hold_expire(h, 21 * TIME_MS, NULL, NULL), 1);
	assert_false(hold_active(h, &f));
	assert_int_equal(hold_next_expiry(h, 21 * TIME_MS), -1);
	assert_int_equal(send_piece(h, &f, http_req, 10, 20, 2, 21 * TIME_MS), HOLD_PASS);
	hold_get_stats(h, &st);
	assert_int_equal(st.waits, 23);
	assert_int_equal(st.giveup_time, 1);
	hold_free(h);
}

static void a_full_pool_holds_no_new_flow_and_keeps_the_held_ones(void **state)
{
	struct hold *h = new_hold(1);
	struct flow a, b, c;
	struct hold_stats st;

	(void)state;
	new_flow(&a, 1);
	new_flow(&b, 2);
	new_flow(&c, 3);
	assert_int_equal(send_piece(h, &a, http_req, 0, 10, 1, 0), HOLD_HELD);
	assert_int_equal(send_piece(h, &b, http_req, 0, 10, 2, 0), HOLD_PASS);
	assert_true(hold_active(h, &a));
	/* b lost its first bytes to the wire: its later ones are not held either */
	assert_int_equal(send_piece(h, &b, http_req, 10, 20, 3, 0), HOLD_PASS);
	hold_end(h, &a, true, NULL, NULL);
	assert_int_equal(send_piece(h, &c, http_req, 0, 10, 4, 0), HOLD_HELD);
	hold_get_stats(h, &st);
	assert_int_equal(st.pool_full, 1);
	assert_int_equal(st.holds, 2);
	hold_free(h);
}

static void only_early_client_requests_on_web_ports_or_with_a_web_start_are_held(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct seg s;
	uint8_t hello[512];
	uint32_t len = client_hello(hello, "a.test", true, 0);

	(void)state;
	new_flow(&f, 1);
	seg_make(&s, 22, ISN + 1, (const uint8_t *)"SSH-2.0-OpenSSH\r\n", 17);
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	seg_make(&s, 22, ISN + 1, hello, len);
	assert_true(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	seg_make(&s, 8443, ISN + 1, (const uint8_t *)"x", 1);
	assert_true(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_REV));
	f.packets[FLOW_DIR_FWD] = HOLD_START_PACKETS + 1;
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	f.packets[FLOW_DIR_FWD] = 3;
	f.flags |= FLOW_F_HOST_CHECKED;
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	hold_free(h);
}

static void a_first_segment_that_is_no_request_ends_the_hold_at_once(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	struct seg s;
	struct hold_stats st;

	(void)state;
	new_flow(&f, 1);
	syn_seen(h, &f);
	seg_make(&s, 443, ISN + 1, (const uint8_t *)"\x00\x01not tls", 9);
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 1, NULL, 0),
			 HOLD_NONAME);
	hold_end(h, &f, true, NULL, NULL);
	/* and a request without a Host */
	new_flow(&f, 2);
	syn_seen(h, &f);
	assert_int_equal(send_piece(h, &f, "GET / HTTP/1.0\r\n\r\n", 0, 18, 1, 0), HOLD_NONAME);
	hold_get_stats(h, &st);
	assert_int_equal(st.noname, 2);
	hold_free(h);
}

/*
 * The second half of a request sent before the first (the client's third
 * packet, as the handshake ends) is no request that is not TLS or HTTP: it is
 * held until the first half comes, and the name is read from both.
 */
static void a_segment_before_the_start_is_held_until_the_start_comes(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f;
	uint32_t len = (uint32_t)strlen(http_req), cut = (uint32_t)(strstr(http_req, "Test") - http_req);

	(void)state;
	new_flow(&f, 1);
	syn_seen(h, &f);
	f.packets[FLOW_DIR_FWD] = 2;
	assert_int_equal(send_piece(h, &f, http_req, cut, len, 1, 0), HOLD_HELD);
	assert_int_equal(send_piece(h, &f, http_req, 0, cut, 2, 400), HOLD_NAME);
	assert_string_equal(hold_name(h, &f, NULL), "Blocked.Test");
	hold_free(h);
}

/*
 * When the time limit passes and the request's start never came, the held
 * later part is dropped (the client resends it, as TCP does for what was not
 * acknowledged) and the resent request is held again from its start: waiting
 * out the limit gets no part of a name past the hold. A flow whose start is
 * not known (its SYN was not seen, or its entry was taken by another's) is
 * let go at the limit, as before.
 */
static void at_the_time_limit_a_request_without_its_start_is_dropped_and_held_again(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f, u;
	struct got g = { 0 };
	uint32_t len = (uint32_t)strlen(http_req), cut = 20;
	struct hold_stats st;
	struct seg s;

	(void)state;
	new_flow(&f, 1);
	syn_seen(h, &f);
	assert_int_equal(send_piece(h, &f, http_req, cut, len, 1, 0), HOLD_HELD);
	new_flow(&u, 2); /* no SYN seen */
	assert_int_equal(send_piece(h, &u, http_req, cut, len, 2, 0), HOLD_HELD);
	assert_int_equal(hold_expire(h, TIME_MS - 1, record, &g), 0);
	assert_int_equal(hold_expire(h, TIME_MS, record, &g), 2);
	assert_int_equal(g.n, 2);
	hold_get_stats(h, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.giveup_time, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.released, 1);
	/* f's resent request is held again from its start; u's is not (its hold ended) */
	assert_int_equal(send_piece(h, &f, http_req, 0, len, 3, TIME_MS + 10), HOLD_NAME);
	hold_end(h, &f, false, NULL, NULL);
	seg_make(&s, 80, ISN + 1, (const uint8_t *)http_req, len);
	assert_false(hold_candidate(h, &u, &s.p, FLOW_DIR_FWD));
	hold_free(h);
}

static void drop_flag(const struct hold_frame *fr, void *ctx)
{
	bool *d = ctx;

	d[fr->tag] = fr->drop;
}

static void the_frames_dropped_at_the_limit_say_so_and_those_let_go_do_not(void **state)
{
	struct hold *h = new_hold(2);
	struct flow f, u;
	bool drop[3] = { false, false, false };

	(void)state;
	new_flow(&f, 1);
	syn_seen(h, &f);
	new_flow(&u, 2);
	assert_int_equal(send_piece(h, &f, http_req, 20, 40, 1, 0), HOLD_HELD);
	assert_int_equal(send_piece(h, &u, http_req, 20, 40, 2, 0), HOLD_HELD);
	drop[2] = true;
	assert_int_equal(hold_expire(h, TIME_MS, drop_flag, drop), 2);
	assert_true(drop[1]);
	assert_false(drop[2]);
	hold_free(h);
}

/* A UDP datagram of n bytes to port 443 starting with head[0..hn). */
static void udp_make(struct seg *s, const uint8_t *head, uint32_t hn, uint32_t n)
{
	uint32_t ip, udp;

	memset(&s->fb, 0, sizeof(s->fb));
	fx_eth(&s->fb, 0x0800);
	ip = fx_ip4(&s->fb, UDP, cli, srv);
	udp = fx_udp(&s->fb, 40000, 443);
	fx_put(&s->fb, NULL, n);
	memcpy(s->fb.b + udp + 8, head, hn);
	fx_set16(&s->fb, udp + 4, 8 + n);
	fx_end_ip4(&s->fb, ip);
	assert_int_equal(decode_packet(LINK_ETHERNET, s->fb.b, s->fb.len, s->fb.len, &s->p), DECODE_OK);
}

static void quic_initials_are_held_until_the_mode_ends_it_and_other_udp_never(void **state)
{
	static const uint8_t v1[5] = { 0xc3, 0, 0, 0, 1 }, v1_handshake[5] = { 0xe3, 0, 0, 0, 1 };
	struct hold *h = new_hold(2);
	struct flow f;
	struct seg s;
	struct got g = { 0 };

	(void)state;
	new_flow(&f, 1);
	f.key.l4_proto = UDP;
	f.packets[FLOW_DIR_FWD] = 1;
	udp_make(&s, v1, sizeof(v1), 1100); /* not padded: no client Initial */
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	udp_make(&s, v1_handshake, sizeof(v1_handshake), 1200);
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	udp_make(&s, v1, sizeof(v1), 1200);
	assert_true(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 1, NULL, 0), HOLD_HELD);
	assert_null(hold_name(h, &f, NULL)); /* nDPI reads QUIC's name, not the hold */
	/* frames of 2 x FLOW_BYTES at most: the second Initial of this size is one too many */
	assert_int_equal(hold_frame(h, &f, &s.p, FLOW_DIR_FWD, s.fb.b, s.fb.len, 2, NULL, 0), HOLD_GIVEUP);
	hold_end(h, &f, true, record, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.tag[0], 1);
	f.flags |= FLOW_F_DECIDED;
	new_flow(&f, 2);
	f.key.l4_proto = UDP;
	f.flags |= FLOW_F_DECIDED;
	assert_false(hold_candidate(h, &f, &s.p, FLOW_DIR_FWD));
	hold_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tls_parser_reads_sni_and_asks_for_more_until_it),
		cmocka_unit_test(tls_parser_joins_a_hello_split_across_records),
		cmocka_unit_test(tls_parser_says_none_without_sni_and_not_mine_for_other_bytes),
		cmocka_unit_test(http_parser_reads_host_without_port_case_blind),
		cmocka_unit_test(a_split_host_is_held_until_read_then_released_in_order),
		cmocka_unit_test(segments_out_of_order_are_joined_by_sequence_number),
		cmocka_unit_test(a_retransmission_is_a_dup_and_a_rewriting_overlap_a_conflict),
		cmocka_unit_test(a_tls_hello_split_inside_sni_is_read),
		cmocka_unit_test(beyond_the_byte_or_frame_limit_the_hold_gives_up),
		cmocka_unit_test(after_the_time_limit_held_frames_go_and_the_rest_is_held_for_twenty_limits),
		cmocka_unit_test(a_full_pool_holds_no_new_flow_and_keeps_the_held_ones),
		cmocka_unit_test(only_early_client_requests_on_web_ports_or_with_a_web_start_are_held),
		cmocka_unit_test(a_first_segment_that_is_no_request_ends_the_hold_at_once),
		cmocka_unit_test(quic_initials_are_held_until_the_mode_ends_it_and_other_udp_never),
		cmocka_unit_test(a_segment_before_the_start_is_held_until_the_start_comes),
		cmocka_unit_test(at_the_time_limit_a_request_without_its_start_is_dropped_and_held_again),
		cmocka_unit_test(the_frames_dropped_at_the_limit_say_so_and_those_let_go_do_not),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

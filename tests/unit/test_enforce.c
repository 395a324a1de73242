/*
 * Enforcement specification (firmware/policy/enforce.c): what a frame of a judged
 * flow becomes, and the bytes of every answer.
 *
 * Frames are built by hand below (Ethernet, Ethernet with an 802.1Q tag,
 * PPPoE, LLC/SNAP, raw IP; IPv4 and IPv6), decoded with decode_packet() as
 * the pipeline would, and handed to enforce_frame() with a flow set up by
 * hand. Every answer is decoded again with decode_packet() and checked
 * field by field; IP, TCP and UDP checksums are verified with a checksum
 * written here, apart from the module's.
 *
 * The cast: a client 10.0.0.1 (MAC 02:00:00:00:00:01) port 40000 talks to a
 * server 192.0.2.7 (MAC 02:00:00:00:00:02) port 443 or 53; in IPv6
 * 2001:db8::1 and 2001:db8::2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/dns.h"
#include "policy/bundle.h"
#include "policy/enforce.h"
#include "policy/policy.h"

#include "fixtures.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_IPV6 41
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define DNS_QR 0x8000
#define DNS_RD 0x0100
#define DNS_TYPE_TXT 16
#define DNS_TYPE_OPT 41

static const uint8_t MAC_CLIENT[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_SERVER[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t V4_CLIENT[4] = { 10, 0, 0, 1 };
static const uint8_t V4_SERVER[4] = { 192, 0, 2, 7 };
static const uint8_t V6_CLIENT[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t V6_SERVER[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t SINK4[4] = { 198, 51, 100, 10 };
static const uint8_t SINK6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 0x10 };

#define CLIENT_PORT 40000
#define HTTPS 443
#define DNS 53

/* ---------------------------------------------------------------- frames */

enum encap {
	ENCAP_PLAIN = 0, /* EtherType IPv4 / IPv6 */
	ENCAP_PPPOE,     /* PPPoE session, PPP protocol IPv4 / IPv6 */
	ENCAP_LLC,       /* 802.3 length, LLC/SNAP with the EtherType */
};

/* One packet to build: the fields a test cares about, the rest defaults. */
struct seg {
	enum link_type link;   /* LINK_ETHERNET unless set */
	enum encap encap;
	uint16_t vlan;         /* 802.1Q id; 0 = untagged */
	uint8_t version;       /* 4 unless 6 */
	uint8_t proto;         /* PROTO_TCP unless set */
	bool from_server;      /* server -> client instead of client -> server */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *payload;
	uint32_t payload_len;
	uint16_t frag;         /* IPv4 flags/fragment offset word */
	bool in_6in4;          /* wrapped in an IPv4 header, protocol 41 */
	uint32_t mpls_labels;  /* an MPLS label stack of this many labels instead of an EtherType */
};

/* Build s into f and decode it into p; the decode must succeed. */
static void build(const struct seg *s, struct fx_buf *f, struct pkt *p)
{
	bool v6 = s->version == 6;
	const uint8_t *src = v6 ? (s->from_server ? V6_SERVER : V6_CLIENT)
				: (s->from_server ? V4_SERVER : V4_CLIENT);
	const uint8_t *dst = v6 ? (s->from_server ? V6_CLIENT : V6_SERVER)
				: (s->from_server ? V4_CLIENT : V4_SERVER);
	uint8_t proto = s->proto ? s->proto : PROTO_TCP;
	uint32_t l4_len = (proto == PROTO_TCP ? 20 : 8) + s->payload_len;
	enum link_type link = s->link ? s->link : LINK_ETHERNET;
	uint32_t len_at = 0, pppoe = 0;
	uint8_t *h;

	f->len = 0;
	if (link == LINK_ETHERNET) {
		h = fx_grow(f, 14);
		memcpy(h, s->from_server ? MAC_CLIENT : MAC_SERVER, 6);
		memcpy(h + 6, s->from_server ? MAC_SERVER : MAC_CLIENT, 6);
		fx_wr16(h + 12, v6 && !s->in_6in4 ? 0x86dd : 0x0800);
		if (s->encap == ENCAP_LLC) {
			len_at = 12;
			h = fx_grow(f, 8);
			h[0] = h[1] = 0xaa;
			h[2] = 0x03;
			fx_wr16(h + 6, v6 ? 0x86dd : 0x0800);
		}
		if (s->vlan) {
			h = fx_grow(f, 4);
			memcpy(h + 2, f->b + f->len - 6, 2); /* the EtherType moves inward */
			fx_wr16(f->b + f->len - 6, 0x8100);
			fx_wr16(h, s->vlan);
		}
		if (s->encap == ENCAP_PPPOE) {
			fx_wr16(f->b + f->len - 2, 0x8864);
			pppoe = f->len;
			h = fx_grow(f, 8);
			h[0] = 0x11;
			fx_wr16(h + 6, v6 ? 0x0057 : 0x0021);
		}
		if (s->mpls_labels) {
			fx_wr16(f->b + f->len - 2, 0x8847);
			for (uint32_t i = 0; i < s->mpls_labels; i++) {
				h = fx_grow(f, 4);
				h[2] = i + 1 == s->mpls_labels ? 0x01 : 0;
				h[3] = 64;
			}
		}
	}
	if (s->in_6in4) {
		h = fx_grow(f, 20);
		h[0] = 0x45;
		h[8] = 64;
		h[9] = PROTO_IPV6;
		memcpy(h + 12, V4_CLIENT, 4);
		memcpy(h + 16, V4_SERVER, 4);
		fx_wr16(h + 2, 20 + 40 + l4_len);
	}
	if (v6) {
		h = fx_grow(f, 40);
		h[0] = 0x60;
		fx_wr16(h + 4, l4_len);
		h[6] = proto;
		h[7] = 64;
		memcpy(h + 8, src, 16);
		memcpy(h + 24, dst, 16);
	} else {
		h = fx_grow(f, 20);
		h[0] = 0x45;
		fx_wr16(h + 2, 20 + l4_len);
		fx_wr16(h + 6, s->frag);
		h[8] = 64;
		h[9] = proto;
		memcpy(h + 12, src, 4);
		memcpy(h + 16, dst, 4);
	}
	h = fx_grow(f, l4_len - s->payload_len);
	fx_wr16(h, s->sport ? s->sport : (s->from_server ? HTTPS : CLIENT_PORT));
	fx_wr16(h + 2, s->dport ? s->dport : (s->from_server ? CLIENT_PORT : HTTPS));
	if (proto == PROTO_TCP) {
		fx_wr32(h + 4, s->seq);
		fx_wr32(h + 8, s->ack);
		h[12] = 5 << 4;
		h[13] = s->flags;
		fx_wr16(h + 14, 64240);
	} else {
		fx_wr16(h + 4, l4_len);
	}
	if (s->payload_len)
		memcpy(fx_grow(f, s->payload_len), s->payload, s->payload_len);
	if (len_at)
		fx_wr16(f->b + len_at, f->len - 14);
	if (pppoe)
		fx_wr16(f->b + pppoe + 4, f->len - pppoe - 6);
	assert_int_equal(decode_packet(link, f->b, f->len, f->len, p), DECODE_OK);
}

/* A flow of p with a verdict, as the pipeline leaves it. */
static void mkflow(struct flow *f, const struct pkt *p, uint8_t action, uint8_t stage,
		   uint8_t flags)
{
	*f = (struct flow){ 0 };
	f->key.l4_proto = p->l4_proto;
	f->key.ip_version = p->ip_version;
	f->key.port_a = p->sport;
	f->key.port_b = p->dport;
	f->verdict_action = action;
	f->verdict_stage = stage;
	f->flags = flags;
}

/* ---------------------------------------------------------------- checks */

/*
 * Internet checksum check (RFC 1071), written apart from the module's: the
 * bytes taken as big-endian 16-bit words, checksum field included, sum to
 * 0xffff in one's-complement arithmetic.
 */
static bool csum_ok(const uint8_t *pseudo, size_t plen, const uint8_t *data, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < plen; i++)
		sum += i & 1 ? pseudo[i] : (uint64_t)pseudo[i] << 8;
	for (i = 0; i < len; i++)
		sum += (plen + i) & 1 ? data[i] : (uint64_t)data[i] << 8;
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static bool l4_csum_ok(const struct pkt *q)
{
	uint8_t pseudo[40] = { 0 };
	size_t plen;

	if (q->ip_version == 4) {
		memcpy(pseudo, q->l3 + 12, 8);
		pseudo[9] = q->l4_proto;
		fx_wr16(pseudo + 10, q->l4_len);
		plen = 12;
	} else {
		memcpy(pseudo, q->l3 + 8, 32);
		fx_wr32(pseudo + 32, q->l4_len);
		pseudo[39] = q->l4_proto;
		plen = 40;
	}
	return csum_ok(pseudo, plen, q->l4, q->l4_len);
}

/*
 * Decode an answer and check what every answer must be: the same link
 * type, link-layer length and VLAN as the original, MACs swapped toward the
 * sender and kept toward the receiver, a fresh IP header of the same version
 * whose length counts no padding, addresses and ports swapped toward the
 * sender and kept toward the receiver, correct checksums.
 */
static void check_answer(const uint8_t *out, uint32_t len, enum link_type link,
			 const struct pkt *p, const uint8_t *frame, enum enforce_to to,
			 struct pkt *q)
{
	bool back = to == ENFORCE_TO_SENDER;
	uint32_t hlen = (uint32_t)(p->l3 - frame), ip_len, i;

	assert_true(len <= ENFORCE_FRAME_MAX);
	assert_int_equal(decode_packet(link, out, len, len, q), DECODE_OK);
	assert_int_equal(q->l3 - out, hlen);
	assert_int_equal(q->vlan, p->vlan);
	assert_int_equal(q->vlan_tags, p->vlan_tags);
	assert_int_equal(q->tunnel, TUNNEL_NONE);
	assert_int_equal(q->flags, 0);
	if (link == LINK_ETHERNET) {
		assert_true(len >= 60);
		assert_memory_equal(out, frame + (back ? 6 : 0), 6);
		assert_memory_equal(out + 6, frame + (back ? 0 : 6), 6);
	}

	assert_int_equal(q->ip_version, p->ip_version);
	assert_int_equal(q->l4_proto, p->l4_proto);
	assert_memory_equal(&q->src, back ? &p->dst : &p->src, sizeof(q->src));
	assert_memory_equal(&q->dst, back ? &p->src : &p->dst, sizeof(q->dst));
	assert_int_equal(q->sport, back ? p->dport : p->sport);
	assert_int_equal(q->dport, back ? p->sport : p->dport);
	if (q->ip_version == 4) {
		assert_int_equal(q->l3[0], 0x45);
		assert_int_equal(q->l3[1], 0);          /* TOS */
		assert_int_equal(fx_rd16(q->l3 + 4), 0);  /* ID */
		assert_int_equal(fx_rd16(q->l3 + 6), 0x4000); /* DF */
		assert_int_equal(q->l3[8], 64);
		assert_true(csum_ok(NULL, 0, q->l3, 20));
		ip_len = fx_rd16(q->l3 + 2);
		assert_int_equal(ip_len, 20 + q->l4_len);
	} else {
		assert_int_equal(fx_rd32(q->l3), 0x60000000);
		assert_int_equal(q->l3[6], q->l4_proto); /* no extension headers */
		assert_int_equal(q->l3[7], 64);
		ip_len = 40 + fx_rd16(q->l3 + 4);
		assert_int_equal(ip_len, 40 + q->l4_len);
	}
	/* Whatever follows the IP packet is zero padding, and only up to 60. */
	assert_true(hlen + ip_len <= len);
	for (i = hlen + ip_len; i < len; i++)
		assert_int_equal(out[i], 0);
	if (hlen + ip_len < len)
		assert_int_equal(len, 60);
	assert_true(l4_csum_ok(q));
	if (q->l4_proto == PROTO_UDP)
		assert_int_not_equal(fx_rd16(q->l4 + 6), 0);
}

static uint32_t tcp_seq(const struct pkt *q)
{
	return fx_rd32(q->l4 + 4);
}

static uint32_t tcp_ack(const struct pkt *q)
{
	return fx_rd32(q->l4 + 8);
}

static const struct enforce_config no_sink = { .dns_ttl = 60 };

static const struct enforce_config sinks = {
	.sink4_set = true,
	.sink6_set = true,
	.sink4 = { 198, 51, 100, 10 },
	.sink6 = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 0x10 },
	.dns_ttl = 300,
};

/* ---------------------------------------------------------------- forward */

static void test_unblocked_flows_are_forwarded(void **state)
{
	static const struct {
		uint8_t action, flags;
		uint16_t dport;
		uint8_t proto;
		bool final;
	} cases[] = {
		{ 0, 0, HTTPS, PROTO_TCP, false },
		{ 0, FLOW_F_DECIDED, HTTPS, PROTO_TCP, false },
		{ 0, FLOW_F_CLASS_CHECKED, HTTPS, PROTO_TCP, false },
		{ 0, FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED, HTTPS, PROTO_TCP, true },
		{ BUNDLE_ACT_ALERT, FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED, HTTPS, PROTO_TCP, true },
		{ BUNDLE_ACT_ALERT, FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED, 443, PROTO_UDP, true },
		/* DNS flows stay with the pipeline for the bindings */
		{ 0, FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED, DNS, PROTO_UDP, false },
		{ 0, FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED, DNS, PROTO_TCP, false },
	};
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;
	size_t i;

	(void)state;
	enforce_init(&e, &no_sink);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build(&(struct seg){ .proto = cases[i].proto, .dport = cases[i].dport,
				     .flags = TCP_SYN }, &fr, &p);
		mkflow(&f, &p, cases[i].action, cases[i].action ? POLICY_STAGE_SNI : 0,
		       cases[i].flags);
		act.n_frames = 7;
		enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
		assert_int_equal(act.verdict, ENFORCE_FORWARD);
		assert_int_equal(act.n_frames, 0);
		assert_int_equal(act.final, cases[i].final);
		assert_int_equal(f.flags, cases[i].flags);
	}
	assert_int_equal(e.st.forwarded, i);
	assert_int_equal(e.st.dropped, 0);
	assert_int_equal(e.st.rst_sent + e.st.dns_answered + e.st.no_answer, 0);
}

static void test_blocked_flows_are_final_except_dns(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;

	(void)state;
	enforce_init(&e, &no_sink);
	/* Undecided DPI does not matter once blocked. */
	build(&(struct seg){ .flags = TCP_SYN }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_true(act.final);

	build(&(struct seg){ .proto = PROTO_UDP, .dport = 443 }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI, FLOW_F_DECIDED);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_true(act.final);

	build(&(struct seg){ .flags = TCP_SYN, .dport = DNS }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP,
	       FLOW_F_DECIDED | FLOW_F_CLASS_CHECKED);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_false(act.final);

	build(&(struct seg){ .proto = PROTO_UDP, .sport = DNS, .dport = CLIENT_PORT,
			     .from_server = true }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_REV, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_false(act.final);
	/* a response from a blocked server is dropped, not answered */
	assert_int_equal(act.n_frames, 0);
	assert_int_equal(e.st.dropped, 4);
}

/*
 * Stage dns on port 53 is the verdict of the query just judged: the answer
 * to another query on the flow passes, and so does a bare TCP segment.
 */
static void test_query_verdict_holds_only_the_query(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;

	(void)state;
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .proto = PROTO_UDP, .sport = DNS, .dport = CLIENT_PORT,
			     .from_server = true }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_DNS, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_REV, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_FORWARD);
	assert_false(act.final);
	assert_int_equal(act.n_frames, 0);

	build(&(struct seg){ .flags = TCP_ACK, .dport = DNS }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_DNS, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_FORWARD);
	assert_int_equal(e.st.dropped, 0);
	assert_int_equal(e.st.forwarded, 2);
}

/* The gateway's own reset ends the connection it cut (a SYN on its ports is a new flow). */
static void test_reset_closes_the_flow(void **state)
{
	static const uint8_t hello[10] = { 0x16, 0x03, 0x01 };
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;

	(void)state;
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .flags = TCP_ACK | TCP_PSH, .payload = hello, .payload_len = 10 }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI, FLOW_F_REPLY);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.n_frames, 2);
	assert_true(f.flags & FLOW_F_RST);
	assert_true(f.flags & FLOW_F_ENFORCED);
}

/* ---------------------------------------------------------------- TCP */

static void test_syn_gets_rst_ack_back(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p, q;

	(void)state;
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .flags = TCP_SYN, .seq = 1000 }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);

	assert_int_equal(act.verdict, ENFORCE_DROP);
	/* the server never saw anything: nobody to reset there */
	assert_int_equal(act.n_frames, 1);
	assert_int_equal(act.frames[0].to, ENFORCE_TO_SENDER);
	assert_int_equal(act.frames[0].kind, ENFORCE_RST);
	check_answer(act.frames[0].data, act.frames[0].len, LINK_ETHERNET, &p, fr.b,
		     ENFORCE_TO_SENDER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(tcp_seq(&q), 0);
	assert_int_equal(tcp_ack(&q), 1001);
	assert_int_equal(fx_rd16(q.l4 + 14), 0); /* window */
	assert_int_equal(q.l4[12] >> 4, 5);
	/* 14 + 20 + 20 = 54 bytes, padded to 60; IP length unpadded */
	assert_int_equal(act.frames[0].len, 60);
	assert_int_equal(fx_rd16(q.l3 + 2), 40);
	assert_memory_equal(act.frames[0].data + 12, fr.b + 12, 2);

	assert_true(f.flags & FLOW_F_ENFORCED);
	assert_int_equal(e.st.dropped, 1);
	assert_int_equal(e.st.rst_sent, 1);
	assert_int_equal(e.st.no_answer, 0);
}

static void test_client_hello_resets_both_ends_once(void **state)
{
	uint8_t hello[517];
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p, q;

	(void)state;
	memset(hello, 0x16, sizeof(hello));
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .vlan = 42, .flags = TCP_ACK | TCP_PSH, .seq = 5001, .ack = 9001,
			     .payload = hello, .payload_len = sizeof(hello) }, &fr, &p);
	assert_int_equal(p.vlan_tags, 1);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI,
	       FLOW_F_REPLY | FLOW_F_HOST_CHECKED);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);

	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 2);

	/* to the client: at its acknowledgment number, RST alone */
	assert_int_equal(act.frames[0].to, ENFORCE_TO_SENDER);
	check_answer(act.frames[0].data, act.frames[0].len, LINK_ETHERNET, &p, fr.b,
		     ENFORCE_TO_SENDER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST);
	assert_int_equal(tcp_seq(&q), 9001);
	assert_int_equal(tcp_ack(&q), 0);
	assert_int_equal(q.vlan, 42);
	assert_memory_equal(act.frames[0].data + 12, fr.b + 12, 6); /* tag and EtherType */
	assert_int_equal(act.frames[0].len, 60); /* 18 + 20 + 20 = 58, padded */

	/* to the server, as from the client: where the dropped segment began */
	assert_int_equal(act.frames[1].to, ENFORCE_TO_RECEIVER);
	assert_int_equal(act.frames[1].kind, ENFORCE_RST);
	check_answer(act.frames[1].data, act.frames[1].len, LINK_ETHERNET, &p, fr.b,
		     ENFORCE_TO_RECEIVER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(tcp_seq(&q), 5001);
	assert_int_equal(tcp_ack(&q), 9001);
	assert_int_equal(q.vlan, 42);
	assert_memory_equal(act.frames[1].data, fr.b, 18);
	assert_true(f.flags & FLOW_F_ENFORCED);
	assert_int_equal(e.st.rst_sent, 2);

	/* the retransmission: the server is reset already */
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 1);
	assert_int_equal(act.frames[0].to, ENFORCE_TO_SENDER);
	assert_int_equal(e.st.rst_sent, 3);
	assert_int_equal(e.st.dropped, 2);
}

static void test_segment_from_the_responder_resets_both_ends(void **state)
{
	static const uint8_t data[100] = { 1 };
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p, q;

	(void)state;
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .link = LINK_RAW, .version = 6, .from_server = true,
			     .flags = TCP_ACK, .seq = 0xfffffff0, .ack = 7,
			     .payload = data, .payload_len = sizeof(data) }, &fr, &p);
	/* FLOW_F_REPLY is not needed: the receiver is the initiator */
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_CATEGORY, FLOW_F_DECIDED);
	enforce_frame(&e, &f, &p, FLOW_DIR_REV, LINK_RAW, fr.b, fr.len, &act);
	assert_int_equal(act.n_frames, 2);

	check_answer(act.frames[0].data, act.frames[0].len, LINK_RAW, &p, fr.b,
		     ENFORCE_TO_SENDER, &q);
	assert_int_equal(act.frames[0].len, 60); /* 40 + 20, no padding on raw IP */
	assert_int_equal(q.tcp_flags, TCP_RST);
	assert_int_equal(tcp_seq(&q), 7);
	assert_memory_equal(q.src.b, V6_CLIENT, 16);

	check_answer(act.frames[1].data, act.frames[1].len, LINK_RAW, &p, fr.b,
		     ENFORCE_TO_RECEIVER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(tcp_seq(&q), 0xfffffff0);
	assert_int_equal(tcp_ack(&q), 7);
	assert_memory_equal(q.src.b, V6_SERVER, 16);
}

static void test_rst_numbers_without_ack(void **state)
{
	static const uint8_t data[10] = { 0 };
	uint8_t out[ENFORCE_FRAME_MAX];
	struct fx_buf fr;
	struct pkt p, q;
	uint32_t len;

	(void)state;
	/* payload and FIN occupy sequence space; wraps around 2^32 */
	build(&(struct seg){ .version = 6, .flags = TCP_FIN | TCP_PSH, .seq = 0xfffffffa,
			     .payload = data, .payload_len = sizeof(data) }, &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
	assert_int_not_equal(len, 0);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(tcp_seq(&q), 0);
	assert_int_equal(tcp_ack(&q), 0xfffffffau + 11);
	assert_int_equal(len, 14 + 40 + 20);

	/* toward the receiver without ACK: RST alone at the segment's seq */
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_RECEIVER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_RECEIVER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST);
	assert_int_equal(tcp_seq(&q), 0xfffffffa);
	assert_int_equal(tcp_ack(&q), 0);

	/* a capture cut short: the sequence space is the IP length's, not the capture's */
	{
		static const uint8_t big[100] = { 0 };

		build(&(struct seg){ .flags = TCP_PSH, .seq = 1000, .payload = big,
				     .payload_len = sizeof(big) }, &fr, &p);
		assert_int_equal(decode_packet(LINK_ETHERNET, fr.b, fr.len - 60, fr.len, &p),
				 DECODE_OK);
		assert_int_equal(p.payload_len, 40);
		len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
		check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
		assert_int_equal(tcp_ack(&q), 1100);
	}

	/* a SYN-ACK: the receiver (in SYN-SENT) checks the ACK; a SYN counts one */
	build(&(struct seg){ .from_server = true, .flags = TCP_SYN | TCP_ACK, .seq = 300,
			     .ack = 1001 }, &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_RECEIVER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_RECEIVER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST | TCP_ACK);
	assert_int_equal(tcp_seq(&q), 301);
	assert_int_equal(tcp_ack(&q), 1001);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
	assert_int_equal(q.tcp_flags, TCP_RST);
	assert_int_equal(tcp_seq(&q), 1001);
}

static void test_rst_is_dropped_without_answer(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;
	uint8_t out[ENFORCE_FRAME_MAX];

	(void)state;
	enforce_init(&e, &no_sink);
	build(&(struct seg){ .flags = TCP_RST | TCP_ACK, .seq = 5, .ack = 6 }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI, FLOW_F_REPLY);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 0);
	assert_false(f.flags & FLOW_F_ENFORCED);
	assert_int_equal(e.st.no_answer, 0);
	assert_int_equal(enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out), 0);
}

static void test_blocked_address_drop_is_silent_for_address_stages(void **state)
{
	static const uint8_t stages[] = { POLICY_STAGE_IP, POLICY_STAGE_DNS_BINDING };
	struct enforce_config cfg = { .blocked_address = ENFORCE_ADDR_DROP };
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;
	size_t i;

	(void)state;
	enforce_init(&e, &cfg);
	build(&(struct seg){ .flags = TCP_SYN, .seq = 1 }, &fr, &p);
	for (i = 0; i < sizeof(stages); i++) {
		mkflow(&f, &p, BUNDLE_ACT_BLOCK, stages[i], 0);
		enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
		assert_int_equal(act.verdict, ENFORCE_DROP);
		assert_int_equal(act.n_frames, 0);
		assert_true(f.flags & FLOW_F_ENFORCED);
	}
	assert_int_equal(e.st.rst_sent + e.st.no_answer, 0);

	/* a name-based verdict is still reset: the client should fail fast */
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.n_frames, 1);
	assert_int_equal(e.st.rst_sent, 1);
}

static void test_tunnels_and_fragments_get_no_answer(void **state)
{
	static const struct seg segs[] = {
		{ .version = 6, .in_6in4 = true, .flags = TCP_SYN },
		{ .link = LINK_RAW, .version = 6, .in_6in4 = true, .flags = TCP_SYN },
		{ .frag = 0x2000, .flags = TCP_SYN },  /* first fragment (MF) */
	};
	uint8_t out[ENFORCE_FRAME_MAX], kind;
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;
	size_t i;

	(void)state;
	enforce_init(&e, &no_sink);
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		enum link_type link = segs[i].link ? segs[i].link : LINK_ETHERNET;

		build(&segs[i], &fr, &p);
		mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, FLOW_F_REPLY);
		enforce_frame(&e, &f, &p, FLOW_DIR_FWD, link, fr.b, fr.len, &act);
		assert_int_equal(act.verdict, ENFORCE_DROP);
		assert_int_equal(act.n_frames, 0);
		assert_int_equal(enforce_build_rst(&p, link, fr.b, ENFORCE_TO_SENDER, out), 0);
	}
	assert_int_equal(e.st.no_answer, i);
	assert_int_equal(e.st.rst_sent, 0);

	/* a DNS query inside a tunnel is not answered either */
	{
		static const uint8_t q53[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
						 1, 'a', 0, 0, 1, 0, 1 };

		build(&(struct seg){ .version = 6, .in_6in4 = true, .proto = PROTO_UDP,
				     .dport = DNS, .payload = q53, .payload_len = sizeof(q53) },
		      &fr, &p);
		assert_int_equal(enforce_build_dns(&sinks, &p, LINK_ETHERNET, fr.b, out, &kind), 0);
	}
}

static void test_other_blocked_traffic_is_dropped_silently(void **state)
{
	static const uint8_t quic[1200] = { 0xc3 };
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;

	(void)state;
	enforce_init(&e, &sinks);
	build(&(struct seg){ .proto = PROTO_UDP, .dport = 443, .payload = quic,
			     .payload_len = sizeof(quic) }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_SNI, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 0);
	assert_int_equal(e.st.no_answer, 0);
	assert_int_equal(e.st.dropped, 1);
}

static void test_link_headers_with_length_fields_are_mended(void **state)
{
	uint8_t out[ENFORCE_FRAME_MAX];
	struct fx_buf fr;
	struct pkt p, q;
	uint32_t len;

	(void)state;
	/* PPPoE: the session length is the PPP packet's, protocol word included */
	build(&(struct seg){ .encap = ENCAP_PPPOE, .flags = TCP_ACK, .seq = 1, .ack = 2,
			     .payload = (const uint8_t *)"GET / HTTP/1.1\r\n", .payload_len = 16 },
	      &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
	assert_int_equal(len, 14 + 8 + 40);
	assert_int_equal(fx_rd16(out + 12), 0x8864);
	assert_int_equal(fx_rd16(out + 14 + 4), 2 + 40);
	assert_int_equal(fx_rd16(out + 14 + 6), 0x0021);

	/* 802.3: the length field counts LLC/SNAP and the packet, not the padding */
	build(&(struct seg){ .encap = ENCAP_LLC, .version = 6, .flags = TCP_SYN }, &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_RECEIVER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_RECEIVER, &q);
	assert_int_equal(len, 14 + 8 + 40 + 20);
	assert_int_equal(fx_rd16(out + 12), 8 + 40 + 20);
	assert_memory_equal(out + 14, fr.b + 14, 8);

	build(&(struct seg){ .encap = ENCAP_LLC, .flags = TCP_ACK, .ack = 1,
			     .payload = (const uint8_t *)"GET / HTTP/1.1\r\n", .payload_len = 16 },
	      &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
	assert_int_equal(len, 14 + 8 + 20 + 20);
	assert_int_equal(fx_rd16(out + 12), 8 + 20 + 20);

	/* MPLS: the labels are kept as they were */
	build(&(struct seg){ .mpls_labels = 2, .flags = TCP_SYN }, &fr, &p);
	len = enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out);
	check_answer(out, len, LINK_ETHERNET, &p, fr.b, ENFORCE_TO_SENDER, &q);
	assert_memory_equal(out + 12, fr.b + 12, 2 + 8);
}

static void test_unsupported_links_and_oversized_answers_are_not_built(void **state)
{
	uint8_t out[ENFORCE_FRAME_MAX];
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct pkt p;

	(void)state;
	enforce_init(&e, &no_sink);
	/* Linux cooked capture: decodable, but no header to send with */
	fr.len = 16;
	memset(fr.b, 0, 16);
	fr.b[14] = 0x08;
	{
		struct fx_buf ip;
		struct pkt tmp;

		build(&(struct seg){ .link = LINK_RAW, .flags = TCP_SYN }, &ip, &tmp);
		memcpy(fr.b + 16, ip.b, ip.len);
		fr.len += ip.len;
	}
	assert_int_equal(decode_packet(LINK_LINUX_SLL, fr.b, fr.len, fr.len, &p), DECODE_OK);
	assert_int_equal(enforce_build_rst(&p, LINK_LINUX_SLL, fr.b, ENFORCE_TO_SENDER, out), 0);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_LINUX_SLL, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 0);
	assert_int_equal(e.st.no_answer, 1);

	/* 400 MPLS labels: the answer would not fit in ENFORCE_FRAME_MAX */
	build(&(struct seg){ .mpls_labels = 400, .flags = TCP_SYN }, &fr, &p);
	assert_int_equal(enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out), 0);
	build(&(struct seg){ .mpls_labels = 200, .flags = TCP_SYN }, &fr, &p);
	assert_int_not_equal(enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out),
			     0);
}

static void test_packet_not_matching_its_link_header_is_not_answered(void **state)
{
	uint8_t out[ENFORCE_FRAME_MAX];
	struct fx_buf fr;
	struct pkt p;

	(void)state;
	/* the builders keep the link header, so its protocol must fit the IP version */
	build(&(struct seg){ .flags = TCP_SYN }, &fr, &p);
	p.ip_version = 6;
	assert_int_equal(enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out), 0);
	build(&(struct seg){ .encap = ENCAP_PPPOE, .flags = TCP_SYN }, &fr, &p);
	p.ip_version = 6;
	assert_int_equal(enforce_build_rst(&p, LINK_ETHERNET, fr.b, ENFORCE_TO_SENDER, out), 0);
	/* raw IP has no link header to skip */
	build(&(struct seg){ .flags = TCP_SYN }, &fr, &p);
	assert_int_equal(enforce_build_rst(&p, LINK_RAW, fr.b, ENFORCE_TO_SENDER, out), 0);
}

/* ---------------------------------------------------------------- DNS */

/* Header, then one question; the caller may append records. */
static void query(struct fx_buf *m, uint16_t id, uint16_t flags, uint16_t qdcount,
		  uint16_t arcount, const char *name, uint16_t qtype)
{
	m->len = 0;
	fx_put16(m, id);
	fx_put16(m, flags);
	fx_put16(m, qdcount);
	fx_put16(m, 0);
	fx_put16(m, 0);
	fx_put16(m, arcount);
	fx_dns_name(m, name);
	fx_put16(m, qtype);
	fx_put16(m, DNS_CLASS_IN);
}

/*
 * Run the query m, blocked at stage dns, through enforce_frame in a frame
 * like s, and check the answer's framing. Returns the DNS message of the
 * answer (its packet in *q), or NULL if there is none.
 */
static const uint8_t *dns_round(struct enforce *e, const struct seg *s, const struct fx_buf *m,
				struct enforce_action *act, struct pkt *q, struct fx_buf *fr)
{
	struct seg s2 = *s;
	enum link_type link = s->link ? s->link : LINK_ETHERNET;
	struct flow f;
	struct pkt p;

	*q = (struct pkt){ 0 };
	s2.proto = PROTO_UDP;
	s2.dport = DNS;
	s2.payload = m->b;
	s2.payload_len = m->len;
	build(&s2, fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_DNS, 0);
	enforce_frame(e, &f, &p, FLOW_DIR_FWD, link, fr->b, fr->len, act);
	assert_int_equal(act->verdict, ENFORCE_DROP);
	assert_false(act->final);
	if (!act->n_frames)
		return NULL;
	assert_int_equal(act->n_frames, 1);
	assert_int_equal(act->frames[0].to, ENFORCE_TO_SENDER);
	check_answer(act->frames[0].data, act->frames[0].len, link, &p, fr->b,
		     ENFORCE_TO_SENDER, q);
	assert_int_equal(q->sport, DNS);
	assert_int_equal(q->dport, CLIENT_PORT);
	assert_int_equal(fx_rd16(q->l4 + 4), q->l4_len);
	return q->payload;
}

static void test_blocked_query_gets_nxdomain(void **state)
{
	struct enforce_action act;
	const uint8_t *a;
	struct dns_msg d;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;
	uint32_t qlen;

	(void)state;
	enforce_init(&e, &no_sink);
	query(&m, 0xbeef, DNS_RD, 1, 0, "Ads.Example.COM", DNS_TYPE_A);
	qlen = m.len - 12;
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_NXDOMAIN);
	assert_int_equal(q.payload_len, 12 + qlen);
	assert_int_equal(fx_rd16(a), 0xbeef);
	assert_int_equal(fx_rd16(a + 2), 0x8183);
	assert_int_equal(fx_rd16(a + 4), 1);
	assert_int_equal(fx_rd16(a + 6), 0);
	assert_int_equal(fx_rd16(a + 8), 0);
	assert_int_equal(fx_rd16(a + 10), 0);
	assert_memory_equal(a + 12, m.b + 12, qlen); /* question byte for byte, case kept */
	assert_int_equal(dns_parse(a, q.payload_len, &d), DNS_OK);
	assert_true(d.response);
	assert_int_equal(d.rcode, 3);
	assert_string_equal(d.qname, "ads.example.com");
	assert_int_equal(e.st.dns_answered, 1);
	assert_int_equal(e.st.rst_sent + e.st.no_answer, 0);

	/* RD clear stays clear; over IPv6 and 802.1Q the same */
	query(&m, 7, 0, 1, 0, "ads.example.com", DNS_TYPE_AAAA);
	a = dns_round(&e, &(struct seg){ .version = 6, .vlan = 3 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(fx_rd16(a + 2), 0x8083);
	assert_int_equal(q.vlan, 3);

	/* raw IP */
	a = dns_round(&e, &(struct seg){ .link = LINK_RAW }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].len, 20 + 8 + m.len);
}

static void test_blocked_query_gets_the_sink(void **state)
{
	struct enforce_action act;
	const uint8_t *a;
	struct dns_msg d;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;

	(void)state;
	enforce_init(&e, &sinks);
	query(&m, 0x0102, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_SINK);
	assert_int_equal(fx_rd16(a + 2), 0x8180);
	assert_int_equal(fx_rd16(a + 6), 1);
	assert_int_equal(fx_rd16(a + 10), 0);
	assert_int_equal(fx_rd16(a + m.len), 0xc00c); /* the answer names the question */
	assert_int_equal(q.payload_len, m.len + 12 + 4);
	assert_int_equal(dns_parse(a, q.payload_len, &d), DNS_OK);
	assert_int_equal(d.id, 0x0102);
	assert_int_equal(d.rcode, 0);
	assert_int_equal(d.qtype, DNS_TYPE_A);
	assert_int_equal(d.n_answers, 1);
	assert_int_equal(d.answers[0].family, 4);
	assert_memory_equal(d.answers[0].addr.b, SINK4, 4);
	assert_int_equal(d.answers[0].ttl, 300);

	query(&m, 0x0103, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_AAAA);
	a = dns_round(&e, &(struct seg){ .version = 6 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_SINK);
	assert_int_equal(dns_parse(a, q.payload_len, &d), DNS_OK);
	assert_int_equal(d.n_answers, 1);
	assert_int_equal(d.answers[0].family, 6);
	assert_memory_equal(d.answers[0].addr.b, SINK6, 16);
	assert_int_equal(d.answers[0].ttl, 300);

	/* a type with no sink: NOERROR and no records (NODATA) */
	query(&m, 0x0104, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_TXT);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_SINK);
	assert_int_equal(fx_rd16(a + 2), 0x8180);
	assert_int_equal(fx_rd16(a + 6), 0);
	assert_int_equal(q.payload_len, m.len);
	assert_int_equal(dns_parse(a, q.payload_len, &d), DNS_OK);
	assert_int_equal(d.n_answers, 0);
	assert_int_equal(e.st.dns_answered, 3);
}

static void test_only_the_configured_sink_answers(void **state)
{
	struct enforce_config cfg = { .sink4_set = true, .sink4 = { 192, 0, 2, 99 }, .dns_ttl = 5 };
	struct enforce_action act;
	const uint8_t *a;
	struct dns_msg d;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;

	(void)state;
	enforce_init(&e, &cfg);
	/* AAAA with only an IPv4 sink: NODATA, so the client falls back to A */
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_AAAA);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_SINK);
	assert_int_equal(fx_rd16(a + 2) & 0xf, 0);
	assert_int_equal(fx_rd16(a + 6), 0);

	/* the sink is an Internet address: another class gets none */
	query(&m, 3, DNS_RD, 1, 0, "version.bind", DNS_TYPE_A);
	m.b[m.len - 1] = 3; /* CH */
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(act.frames[0].kind, ENFORCE_DNS_SINK);
	assert_int_equal(fx_rd16(a + 6), 0);

	query(&m, 2, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(dns_parse(a, q.payload_len, &d), DNS_OK);
	assert_int_equal(d.n_answers, 1);
	assert_int_equal(d.answers[0].ttl, 5);
	assert_memory_equal(d.answers[0].addr.b, cfg.sink4, 4);
}

static void test_edns_opt_is_not_echoed(void **state)
{
	struct enforce_action act;
	const uint8_t *a;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;
	uint32_t qend;

	(void)state;
	enforce_init(&e, &no_sink);
	query(&m, 9, DNS_RD, 1, 1, "ads.example.com", DNS_TYPE_A);
	qend = m.len;
	/* OPT: root owner, type 41, UDP size 1232, no options */
	fx_put8(&m, 0);
	fx_put16(&m, DNS_TYPE_OPT);
	fx_put16(&m, 1232);
	fx_put16(&m, 0);
	fx_put16(&m, 0);
	fx_put16(&m, 0);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(fx_rd16(a + 10), 0);
	assert_int_equal(q.payload_len, qend);
	assert_memory_equal(a + 12, m.b + 12, qend - 12);
}

static void test_malformed_queries_get_no_answer(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;
	unsigned int n = 0;
	uint8_t big[600];

	(void)state;
	enforce_init(&e, &sinks);

	/* a label longer than what is left */
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	m.b[12 + 4] = 40;
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* a compression pointer in the question */
	m.len = 0;
	fx_put16(&m, 1);
	fx_put16(&m, DNS_RD);
	fx_put16(&m, 1);
	fx_put16(&m, 0);
	fx_put16(&m, 0);
	fx_put16(&m, 0);
	fx_put8(&m, 3);
	fx_put8(&m, 'a');
	fx_put8(&m, 'd');
	fx_put8(&m, 's');
	fx_put16(&m, 0xc00c);
	fx_put16(&m, DNS_TYPE_A);
	fx_put16(&m, DNS_CLASS_IN);
	fx_put(&m, NULL, 250); /* read as a 192-byte label, the pointer would "parse" */
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* a reserved label type (0x40) */
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	m.b[12] = 0x43;
	fx_put(&m, NULL, 100);
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* two questions */
	query(&m, 1, DNS_RD, 2, 0, "ads.example.com", DNS_TYPE_A);
	fx_dns_name(&m, "b.example.com");
	fx_put16(&m, DNS_TYPE_A);
	fx_put16(&m, DNS_CLASS_IN);
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* a response (QR set), and a query with another opcode (NOTIFY) */
	query(&m, 1, DNS_QR | DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;
	query(&m, 1, 4 << 11, 1, 0, "ads.example.com", DNS_TYPE_A);
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* QTYPE/QCLASS cut off, and a bare header */
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	m.len -= 3;
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;
	m.len = 12;
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* a name over 255 bytes on the wire: 5 labels of 63 */
	query(&m, 1, DNS_RD, 1, 0, "", DNS_TYPE_A);
	m.len = 12;
	for (int i = 0; i < 5; i++) {
		fx_put8(&m, 63);
		for (int j = 0; j < 63; j++)
			fx_put8(&m, 'x');
	}
	fx_put8(&m, 0);
	fx_put16(&m, DNS_TYPE_A);
	fx_put16(&m, DNS_CLASS_IN);
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;

	/* longer than ENFORCE_DNS_QUERY_MAX */
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
	memset(big, 0, sizeof(big));
	memcpy(big, m.b, m.len);
	memcpy(m.b, big, sizeof(big));
	m.len = ENFORCE_DNS_QUERY_MAX + 1;
	assert_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));
	n++;
	/* ... while one of exactly that size is answered */
	m.len = ENFORCE_DNS_QUERY_MAX;
	assert_non_null(dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr));

	assert_int_equal(e.st.no_answer, n);
	assert_int_equal(e.st.dropped, n + 1);
	assert_int_equal(e.st.dns_answered, 1);
}

static void test_root_and_longest_names_are_answered(void **state)
{
	struct enforce_action act;
	const uint8_t *a;
	struct enforce e;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt q;

	(void)state;
	enforce_init(&e, &no_sink);
	query(&m, 1, 0, 1, 0, "", 2 /* NS */);
	a = dns_round(&e, &(struct seg){ 0 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_int_equal(q.payload_len, 12 + 1 + 4);

	/* 255 bytes on the wire: 3 labels of 63, one of 61, the root */
	m.len = 0;
	query(&m, 1, 0, 1, 0, "", DNS_TYPE_A);
	m.len = 12;
	for (int i = 0; i < 4; i++) {
		fx_put8(&m, i < 3 ? 63 : 61);
		for (int j = 0; j < (i < 3 ? 63 : 61); j++)
			fx_put8(&m, 'x');
	}
	fx_put8(&m, 0);
	fx_put16(&m, DNS_TYPE_A);
	fx_put16(&m, DNS_CLASS_IN);
	assert_int_equal(m.len, 12 + 255 + 4);
	a = dns_round(&e, &(struct seg){ .version = 6 }, &m, &act, &q, &fr);
	assert_non_null(a);
	assert_memory_equal(a + 12, m.b + 12, 255 + 4);
}

static void test_udp_checksum_zero_is_sent_as_ones(void **state)
{
	uint8_t out[ENFORCE_FRAME_MAX], kind;
	struct fx_buf fr;
	struct fx_buf m;
	struct pkt p, q;
	uint32_t id, len;
	bool seen = false;

	(void)state;
	/*
	 * The answer's ID is the query's, so exactly one ID makes the
	 * one's-complement sum come out as zero; that one must go out as
	 * 0xffff, since 0 says "no checksum" (RFC 768).
	 */
	for (id = 0; id <= 0xffff && !seen; id++) {
		query(&m, (uint16_t)id, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);
		build(&(struct seg){ .link = LINK_RAW, .proto = PROTO_UDP, .dport = DNS,
				     .payload = m.b, .payload_len = m.len }, &fr, &p);
		len = enforce_build_dns(&no_sink, &p, LINK_RAW, fr.b, out, &kind);
		assert_int_not_equal(len, 0);
		assert_int_equal(decode_packet(LINK_RAW, out, len, len, &q), DECODE_OK);
		assert_int_not_equal(fx_rd16(q.l4 + 6), 0);
		seen = fx_rd16(q.l4 + 6) == 0xffff;
	}
	assert_true(seen);
	assert_true(l4_csum_ok(&q));
}

static void test_dns_answers_only_for_stage_dns_over_udp(void **state)
{
	struct enforce_action act;
	struct enforce e;
	struct fx_buf fr;
	struct flow f;
	struct fx_buf m;
	struct pkt p, q;

	(void)state;
	enforce_init(&e, &sinks);
	query(&m, 1, DNS_RD, 1, 0, "ads.example.com", DNS_TYPE_A);

	/* the resolver's address is blocked: the query is just dropped */
	build(&(struct seg){ .proto = PROTO_UDP, .dport = DNS, .payload = m.b,
			     .payload_len = m.len }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_IP, 0);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.verdict, ENFORCE_DROP);
	assert_int_equal(act.n_frames, 0);
	assert_int_equal(e.st.no_answer, 0);

	/* DNS over TCP is reset like any TCP */
	build(&(struct seg){ .dport = DNS, .flags = TCP_ACK | TCP_PSH, .seq = 10, .ack = 20,
			     .payload = m.b, .payload_len = m.len }, &fr, &p);
	mkflow(&f, &p, BUNDLE_ACT_BLOCK, POLICY_STAGE_DNS, FLOW_F_REPLY);
	enforce_frame(&e, &f, &p, FLOW_DIR_FWD, LINK_ETHERNET, fr.b, fr.len, &act);
	assert_int_equal(act.n_frames, 2);
	assert_int_equal(act.frames[0].kind, ENFORCE_RST);
	check_answer(act.frames[0].data, act.frames[0].len, LINK_ETHERNET, &p, fr.b,
		     ENFORCE_TO_SENDER, &q);
	assert_int_equal(tcp_seq(&q), 20);
	assert_false(act.final);
	assert_int_equal(e.st.dns_answered, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unblocked_flows_are_forwarded),
		cmocka_unit_test(test_blocked_flows_are_final_except_dns),
		cmocka_unit_test(test_query_verdict_holds_only_the_query),
		cmocka_unit_test(test_reset_closes_the_flow),
		cmocka_unit_test(test_syn_gets_rst_ack_back),
		cmocka_unit_test(test_client_hello_resets_both_ends_once),
		cmocka_unit_test(test_segment_from_the_responder_resets_both_ends),
		cmocka_unit_test(test_rst_numbers_without_ack),
		cmocka_unit_test(test_rst_is_dropped_without_answer),
		cmocka_unit_test(test_blocked_address_drop_is_silent_for_address_stages),
		cmocka_unit_test(test_tunnels_and_fragments_get_no_answer),
		cmocka_unit_test(test_other_blocked_traffic_is_dropped_silently),
		cmocka_unit_test(test_link_headers_with_length_fields_are_mended),
		cmocka_unit_test(test_unsupported_links_and_oversized_answers_are_not_built),
		cmocka_unit_test(test_packet_not_matching_its_link_header_is_not_answered),
		cmocka_unit_test(test_blocked_query_gets_nxdomain),
		cmocka_unit_test(test_blocked_query_gets_the_sink),
		cmocka_unit_test(test_only_the_configured_sink_answers),
		cmocka_unit_test(test_edns_opt_is_not_echoed),
		cmocka_unit_test(test_malformed_queries_get_no_answer),
		cmocka_unit_test(test_root_and_longest_names_are_answered),
		cmocka_unit_test(test_udp_checksum_zero_is_sent_as_ones),
		cmocka_unit_test(test_dns_answers_only_for_stage_dns_over_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

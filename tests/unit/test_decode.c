/*
 * decode_packet(): what is tracked from each kind of frame, and how each
 * malformed frame is refused. Frames are built by hand, layer by layer, so
 * each test shows exactly which bytes it feeds the decoder.
 *
 * Truncated and malformed frames are decoded from a heap copy of exactly
 * caplen bytes, so AddressSanitizer catches any read past the capture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "packet/decode.h"

#include "fixtures.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_ACK 0x10

static const uint8_t V4_A[4] = { 10, 0, 0, 1 };
static const uint8_t V4_B[4] = { 192, 0, 2, 7 };
static const uint8_t V4_C[4] = { 172, 16, 5, 9 };
static const uint8_t V4_D[4] = { 198, 51, 100, 3 };
static const uint8_t V6_A[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t V6_B[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t V6_C[16] = { 0xfd, 0x00, [14] = 0xab, [15] = 0xcd };
static const uint8_t V6_D[16] = { 0xfd, 0x00, [14] = 0xef, [15] = 0x01 };

/* ------------------------------------------------------------ frame builder */

static void ip4_frag(struct fx_buf *f, uint32_t off, uint16_t frag_word)
{
	fx_set16(f, off + 6, frag_word);
}

/* Generic IPv6 extension header of 8 * (len8 + 1) bytes. */
static uint32_t ext6(struct fx_buf *f, uint8_t nh, uint8_t len8)
{
	uint32_t off = fx_put(f, NULL, 8 * ((uint32_t)len8 + 1));

	f->b[off] = nh;
	f->b[off + 1] = len8;
	return off;
}

static uint32_t frag6(struct fx_buf *f, uint8_t nh, uint16_t offset8, int more)
{
	uint32_t off = fx_put(f, NULL, 8);

	f->b[off] = nh;
	fx_set16(f, off + 2, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	f->b[off + 7] = 0x2a; /* identification */
	return off;
}

static uint32_t icmp(struct fx_buf *f, uint8_t type)
{
	uint32_t off = fx_put(f, NULL, 8);

	f->b[off] = type;
	return off;
}

/* ------------------------------------------------------------ helpers */

static enum decode_err dec(enum link_type link, const struct fx_buf *f, struct pkt *p)
{
	return decode_packet(link, f->b, f->len, f->len, p);
}

/* Decodes the first caplen bytes from an exact-size heap copy. */
static enum decode_err dec_cut(enum link_type link, const struct fx_buf *f, uint32_t caplen,
			       uint32_t wirelen, struct pkt *p, uint8_t **copy)
{
	*copy = malloc(caplen ? caplen : 1);
	assert_non_null(*copy);
	memcpy(*copy, f->b, caplen);
	return decode_packet(link, *copy, caplen, wirelen, p);
}

static int range_inside(const uint8_t *ptr, uint32_t len, const uint8_t *buf, uint32_t buflen)
{
	if (!ptr)
		return len == 0;
	return ptr >= buf && ptr <= buf + buflen && len <= (uint32_t)(buf + buflen - ptr);
}

static void assert_ranges_inside(const struct pkt *p, const uint8_t *buf, uint32_t len)
{
	assert_true(range_inside(p->l3, p->l3_len, buf, len));
	assert_true(range_inside(p->l4, p->l4_len, buf, len));
	assert_true(range_inside(p->payload, p->payload_len, buf, len));
	/* Teredo's inner IPv6 header is reported only when all 40 bytes of it
	 * lie in the UDP payload, in a short capture as in a whole one. */
	if (p->inner) {
		assert_true(p->flags & PKT_F_TEREDO);
		assert_true(range_inside(p->inner, 40, p->payload, p->payload_len));
	} else {
		assert_false(p->flags & PKT_F_TEREDO);
	}
}

static void assert_v4(const union ip_addr *a, const uint8_t *want)
{
	static const uint8_t zero[12];

	assert_memory_equal(a->b, want, 4);
	assert_memory_equal(a->b + 4, zero, sizeof(zero));
}

static void assert_decodes(enum link_type link, const struct fx_buf *f, struct pkt *p)
{
	assert_int_equal(dec(link, f, p), DECODE_OK);
	assert_ranges_inside(p, f->b, f->len);
}

/* ------------------------------------------------------------ Ethernet, IPv4, L4 */

static void test_ipv4_tcp_with_options_gives_ports_flags_and_payload_after_options(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, t;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4_ihl(&f, 6, 6, V4_A, V4_B); /* one word of IP options */
	t = fx_tcp(&f, 40000, 443, TCP_SYN | TCP_ACK, 3);
	fx_data(&f, 10);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.ip_version, 4);
	assert_int_equal(p.l4_proto, 6);
	assert_ptr_equal(p.l3, f.b + 14);
	assert_int_equal(p.l3_len, f.len - 14);
	assert_v4(&p.src, V4_A);
	assert_v4(&p.dst, V4_B);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_flags, TCP_SYN | TCP_ACK);
	assert_ptr_equal(p.l4, f.b + t);
	assert_int_equal(p.l4_len, 32 + 10);
	assert_ptr_equal(p.payload, f.b + t + 32);
	assert_int_equal(p.payload_len, 10);
	assert_memory_equal(p.payload, "abcdefghij", 10);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.tunnel, TUNNEL_NONE);
	assert_int_equal(p.vlan, 0);
	assert_int_equal(p.vlan_tags, 0);
	assert_null(p.inner);
	assert_int_equal(p.wire_len, f.len);
	assert_int_equal(p.cap_len, f.len);
}

static void test_ipv4_udp_gives_ports_and_payload_after_8_bytes(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, u;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	u = fx_udp(&f, 5353, 53);
	fx_data(&f, 7);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 17);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.tcp_flags, 0);
	assert_ptr_equal(p.l4, f.b + u);
	assert_int_equal(p.l4_len, 15);
	assert_ptr_equal(p.payload, f.b + u + 8);
	assert_int_equal(p.payload_len, 7);
	assert_int_equal(p.flags & PKT_F_TEREDO, 0);
}

static void test_icmp_has_no_ports_and_payload_after_8_bytes(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, ic;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 1, V4_A, V4_B);
	ic = icmp(&f, 8);
	f.b[ic + 4] = 0x12; /* identifier: must not become a port */
	f.b[ic + 5] = 0x34;
	fx_data(&f, 20);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 1);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_ptr_equal(p.l4, f.b + ic);
	assert_int_equal(p.l4_len, 28);
	assert_ptr_equal(p.payload, f.b + ic + 8);
	assert_int_equal(p.payload_len, 20);
}

static void test_icmp_of_4_to_7_bytes_is_tracked_with_empty_payload(void **state)
{
	(void)state;
	for (uint32_t n = 4; n < 8; n++) {
		struct fx_buf f = { 0 };
		struct pkt p;
		uint32_t ip, ic;

		fx_eth(&f, 0x0800);
		ip = fx_ip4(&f, 1, V4_A, V4_B);
		ic = fx_put(&f, NULL, n);
		fx_end_ip4(&f, ip);
		assert_decodes(LINK_ETHERNET, &f, &p);
		assert_int_equal(p.l4_len, n);
		assert_ptr_equal(p.payload, f.b + ic + n);
		assert_int_equal(p.payload_len, 0);
	}
}

static void test_icmp_and_icmpv6_shorter_than_4_bytes_are_short_l4(void **state)
{
	(void)state;
	for (uint32_t n = 0; n < 4; n++) {
		struct fx_buf f = { 0 };
		struct pkt p;
		uint32_t ip;

		fx_eth(&f, 0x0800);
		ip = fx_ip4(&f, 1, V4_A, V4_B);
		fx_put(&f, NULL, n);
		fx_end_ip4(&f, ip);
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L4);

		memset(&f, 0, sizeof(f));
		fx_eth(&f, 0x86dd);
		ip = fx_ip6(&f, 58, V6_A, V6_B);
		fx_put(&f, NULL, n);
		fx_end_ip6(&f, ip);
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L4);
	}
}

static void test_ipv6_icmpv6_has_no_ports_and_full_addresses(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, ic;

	(void)state;
	fx_eth(&f, 0x86dd);
	ip = fx_ip6(&f, 58, V6_A, V6_B);
	ic = icmp(&f, 128);
	fx_data(&f, 4);
	fx_end_ip6(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.ip_version, 6);
	assert_int_equal(p.l4_proto, 58);
	assert_memory_equal(p.src.b, V6_A, 16);
	assert_memory_equal(p.dst.b, V6_B, 16);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_ptr_equal(p.payload, f.b + ic + 8);
	assert_int_equal(p.payload_len, 4);
}

static void test_other_ip_protocol_is_tracked_without_ports(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, g;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 47, V4_A, V4_B); /* GRE */
	g = fx_data(&f, 12);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 47);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_ptr_equal(p.l4, f.b + g);
	assert_int_equal(p.l4_len, 12);
	assert_ptr_equal(p.payload, f.b + g);
	assert_int_equal(p.payload_len, 12);
}

static void test_ethernet_padding_is_not_part_of_l4(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1000, 2000);
	fx_data(&f, 4);
	fx_end_ip4(&f, ip);
	fx_put(&f, NULL, 14); /* pad to the 60-byte Ethernet minimum */
	assert_int_equal(f.len, 60);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_len, 12);
	assert_int_equal(p.payload_len, 4);
	assert_int_equal(p.l3_len, 60 - 14); /* nDPI gets everything from l3 on */
	assert_int_equal(p.flags, 0);
}

static void test_capture_shorter_than_the_wire_is_flagged_even_if_only_padding_is_cut(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1000, 2000);
	fx_end_ip4(&f, ip);
	fx_put(&f, NULL, 18);

	assert_int_equal(decode_packet(LINK_ETHERNET, f.b, f.len - 10, f.len, &p), DECODE_OK);
	assert_int_equal(p.flags, PKT_F_TRUNCATED);
	assert_int_equal(p.l4_len, 8);
	assert_int_equal(p.cap_len, f.len - 10);
	assert_int_equal(p.wire_len, f.len);
}

static void test_short_capture_is_flagged_truncated_and_bounded_by_capture(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint8_t *copy;
	uint32_t ip, t;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 6, V4_A, V4_B);
	t = fx_tcp(&f, 1234, 80, TCP_ACK, 0);
	fx_data(&f, 100);
	fx_end_ip4(&f, ip);

	assert_int_equal(dec_cut(LINK_ETHERNET, &f, f.len - 60, f.len, &p, &copy), DECODE_OK);
	assert_true(p.flags & PKT_F_TRUNCATED);
	assert_int_equal(p.cap_len, f.len - 60);
	assert_int_equal(p.wire_len, f.len);
	assert_ptr_equal(p.l4, copy + t);
	assert_int_equal(p.l4_len, 20 + 40);
	assert_int_equal(p.payload_len, 40);
	assert_ranges_inside(&p, copy, f.len - 60);
	free(copy);
}

static void test_ip_length_beyond_capture_is_flagged_truncated_even_if_wirelen_agrees(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1000, 2000);
	fx_data(&f, 4);
	fx_set16(&f, ip + 2, 200);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_true(p.flags & PKT_F_TRUNCATED);
	assert_int_equal(p.l4_len, 12);
}

/* ------------------------------------------------------------ VLAN */

static void test_single_vlan_tag_gives_its_12_bit_id(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x8100);
	fx_tag(&f, 0xe000 | 123, 0x0800); /* priority bits are not part of the id */
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.vlan, 123);
	assert_int_equal(p.vlan_tags, 1);
	assert_ptr_equal(p.l3, f.b + 18);
}

static void test_qinq_innermost_vlan_id_wins(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x8100);
	fx_tag(&f, 100, 0x8100);
	fx_tag(&f, 200, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.vlan, 200);
	assert_int_equal(p.vlan_tags, 2);
	assert_ptr_equal(p.l3, f.b + 22);
}

static void test_8021ad_service_tag_then_customer_tag(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x88a8);
	fx_tag(&f, 300, 0x8100);
	fx_tag(&f, 42, 0x86dd);
	ip = fx_ip6(&f, 17, V6_A, V6_B);
	fx_udp(&f, 1, 2);
	fx_end_ip6(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.vlan, 42);
	assert_int_equal(p.vlan_tags, 2);
	assert_int_equal(p.ip_version, 6);
}

static void test_8021ad_single_tag(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x88a8);
	fx_tag(&f, 4095, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.vlan, 4095);
	assert_int_equal(p.vlan_tags, 1);
}

static void build_tagged(struct fx_buf *f, unsigned int tags)
{
	uint32_t ip;

	fx_eth(f, 0x8100);
	for (unsigned int i = 0; i < tags; i++)
		fx_tag(f, (uint16_t)(10 + i), i + 1 < tags ? 0x8100 : 0x0800);
	ip = fx_ip4(f, 17, V4_A, V4_B);
	fx_udp(f, 1, 2);
	fx_end_ip4(f, ip);
}

static void test_vlan_tags_up_to_the_configured_maximum_are_accepted(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_tagged(&f, CONFIG_DECODE_MAX_VLAN_TAGS);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.vlan_tags, CONFIG_DECODE_MAX_VLAN_TAGS);
	assert_int_equal(p.vlan, 10 + CONFIG_DECODE_MAX_VLAN_TAGS - 1);
}

static void test_more_vlan_tags_than_configured_is_vlan_depth(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_tagged(&f, CONFIG_DECODE_MAX_VLAN_TAGS + 1);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_VLAN_DEPTH);
}

/* ------------------------------------------------------------ other link layers */

static void test_linux_sll_protocol_at_bytes_14_15(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_put(&f, NULL, 14); /* packet type, ARPHRD, address length, address */
	f.b[3] = 1;
	f.b[5] = 6;
	fx_put16(&f, 0x0800);
	ip = fx_ip4(&f, 6, V4_A, V4_B);
	fx_tcp(&f, 22, 50000, TCP_ACK, 0);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_LINUX_SLL, &f, &p);
	assert_ptr_equal(p.l3, f.b + 16);
	assert_int_equal(p.sport, 22);

	fx_set16(&f, 14, 0x0806); /* ARP */
	assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), DECODE_ERR_NOT_IP);
	f.len = 15;
	assert_int_equal(dec(LINK_LINUX_SLL, &f, &p), DECODE_ERR_SHORT_L2);
}

static void null_frame(struct fx_buf *f, const uint8_t family[4], int v6)
{
	uint32_t ip;

	fx_put(f, family, 4);
	if (v6) {
		ip = fx_ip6(f, 17, V6_A, V6_B);
		fx_udp(f, 1, 2);
		fx_end_ip6(f, ip);
	} else {
		ip = fx_ip4(f, 17, V4_A, V4_B);
		fx_udp(f, 1, 2);
		fx_end_ip4(f, ip);
	}
}

static void test_dlt_null_accepts_address_family_in_either_byte_order(void **state)
{
	static const struct {
		uint8_t family[4];
		int v6;
	} cases[] = {
		{ { 2, 0, 0, 0 }, 0 },  { { 0, 0, 0, 2 }, 0 },  { { 24, 0, 0, 0 }, 1 },
		{ { 0, 0, 0, 24 }, 1 }, { { 28, 0, 0, 0 }, 1 }, { { 0, 0, 0, 28 }, 1 },
		{ { 30, 0, 0, 0 }, 1 }, { { 0, 0, 0, 30 }, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx_buf f = { 0 };
		struct pkt p;

		null_frame(&f, cases[i].family, cases[i].v6);
		assert_decodes(LINK_NULL, &f, &p);
		assert_int_equal(p.ip_version, cases[i].v6 ? 6 : 4);
		assert_ptr_equal(p.l3, f.b + 4);
	}
}

static void test_dlt_null_other_family_is_not_ip_and_short_header_is_short_l2(void **state)
{
	static const uint8_t family[4] = { 7, 0, 0, 0 };
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	null_frame(&f, family, 0);
	assert_int_equal(dec(LINK_NULL, &f, &p), DECODE_ERR_NOT_IP);
	f.len = 3;
	assert_int_equal(dec(LINK_NULL, &f, &p), DECODE_ERR_SHORT_L2);
}

static void test_raw_link_takes_the_version_from_the_first_nibble(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);
	assert_decodes(LINK_RAW, &f, &p);
	assert_int_equal(p.ip_version, 4);
	assert_ptr_equal(p.l3, f.b);
	assert_int_equal(p.l3_len, f.len);

	memset(&f, 0, sizeof(f));
	ip = fx_ip6(&f, 17, V6_A, V6_B);
	fx_udp(&f, 1, 2);
	fx_end_ip6(&f, ip);
	assert_decodes(LINK_RAW, &f, &p);
	assert_int_equal(p.ip_version, 6);

	f.b[0] = 0x50;
	assert_int_equal(dec(LINK_RAW, &f, &p), DECODE_ERR_IP_VERSION);
	f.len = 0;
	assert_int_equal(dec(LINK_RAW, &f, &p), DECODE_ERR_SHORT_IP);
}

static void test_8023_llc_snap_carries_the_ethertype(void **state)
{
	static const uint8_t snap[8] = { 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00 };
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0);
	fx_put(&f, snap, sizeof(snap));
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);
	fx_set16(&f, 12, (uint16_t)(f.len - 14)); /* 802.3 length */

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_ptr_equal(p.l3, f.b + 22);

	for (uint32_t i = 14; i < 17; i++) { /* DSAP, SSAP, control must all say SNAP */
		f.b[i] ^= 0x40;
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
		f.b[i] ^= 0x40;
	}
	f.len = 14 + 7;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L2);
}

static void test_8023_without_snap_is_not_ip(void **state)
{
	static const uint8_t stp[3] = { 0x42, 0x42, 0x03 };
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	fx_eth(&f, 38);
	fx_put(&f, stp, sizeof(stp));
	fx_put(&f, NULL, 35);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);

	fx_set16(&f, 12, 1536 - 1); /* neither a length nor an EtherType */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
}

static void test_non_ip_ethertype_is_not_ip(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	fx_eth(&f, 0x0806); /* ARP */
	fx_put(&f, NULL, 28);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
}

static void test_unknown_link_type_is_link_type(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	fx_put(&f, NULL, 64);
	assert_int_equal(dec((enum link_type)99, &f, &p), DECODE_ERR_LINK_TYPE);
	assert_int_equal(dec((enum link_type)0, &f, &p), DECODE_ERR_LINK_TYPE);
}

static void test_pppoe_session_ipv4_and_ipv6_are_decoded(void **state)
{
	static const uint8_t pppoe[6] = { 0x11, 0x00, 0x12, 0x34, 0, 0 };

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		struct fx_buf f = { 0 };
		struct pkt p;
		uint32_t ip;

		fx_eth(&f, 0x8864);
		fx_put(&f, pppoe, sizeof(pppoe));
		fx_put16(&f, v6 ? 0x0057 : 0x0021);
		if (v6) {
			ip = fx_ip6(&f, 6, V6_A, V6_B);
			fx_tcp(&f, 1, 2, TCP_SYN, 0);
			fx_end_ip6(&f, ip);
		} else {
			ip = fx_ip4(&f, 6, V4_A, V4_B);
			fx_tcp(&f, 1, 2, TCP_SYN, 0);
			fx_end_ip4(&f, ip);
		}
		assert_decodes(LINK_ETHERNET, &f, &p);
		assert_ptr_equal(p.l3, f.b + 22);
		assert_int_equal(p.ip_version, v6 ? 6 : 4);

		fx_set16(&f, 20, 0xc021); /* LCP */
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
		fx_set16(&f, 20, v6 ? 0x0057 : 0x0021);
		f.b[15] = 0x09; /* discovery stage code (PADI), not a session */
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
		f.b[15] = 0x00;
		f.b[14] = 0x21; /* unknown version */
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
	}
}

static void test_mpls_label_stack_is_walked_to_the_bottom(void **state)
{
	static const uint8_t labels[8] = { 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40 };
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x8847);
	fx_put(&f, labels, sizeof(labels));
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_ptr_equal(p.l3, f.b + 22);

	f.b[22] = 0x00; /* pseudowire control word, not IP */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_NOT_IP);
	f.len = 20; /* stack cut before its bottom */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L2);
}

/* ------------------------------------------------------------ fragments */

static void test_ipv4_first_fragment_is_decoded_and_flagged(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_udp(&f, 1000, 2000);
	fx_data(&f, 32);
	fx_end_ip4(&f, ip);
	ip4_frag(&f, ip, 0x2000); /* MF, offset 0 */

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_int_equal(p.dport, 2000);

	ip4_frag(&f, ip, 0x4000); /* DF only: not a fragment */
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags, 0);
}

static void test_ipv4_later_fragment_is_fragment(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 17, V4_A, V4_B);
	fx_data(&f, 40);
	fx_end_ip4(&f, ip);

	ip4_frag(&f, ip, 0x2000 | 185); /* MF, offset 1480 */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_FRAGMENT);
	ip4_frag(&f, ip, 1); /* last fragment, offset 8 */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_FRAGMENT);
}

static uint32_t build_ipv6_ext_chain(struct fx_buf *f, uint16_t frag_offset8, int more)
{
	uint32_t ip, u;

	fx_eth(f, 0x86dd);
	ip = fx_ip6(f, 0, V6_A, V6_B);
	ext6(f, 60, 0);                     /* hop-by-hop, 8 bytes */
	ext6(f, 44, 1);                     /* destination options, 16 bytes */
	frag6(f, 17, frag_offset8, more);   /* fragment, 8 bytes */
	u = fx_udp(f, 546, 547);
	fx_data(f, 5);
	fx_end_ip6(f, ip);
	return u;
}

static void test_ipv6_extension_headers_are_walked_to_udp_and_first_fragment_flagged(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t u;

	(void)state;
	u = build_ipv6_ext_chain(&f, 0, 1);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 17);
	assert_ptr_equal(p.l4, f.b + u);
	assert_int_equal(p.l4_len, 13);
	assert_int_equal(p.sport, 546);
	assert_int_equal(p.dport, 547);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_ptr_equal(p.l3, f.b + 14);
}

static void test_ipv6_atomic_fragment_is_not_flagged(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_ipv6_ext_chain(&f, 0, 0);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags, 0);
}

static void test_ipv6_later_fragment_is_fragment(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_ipv6_ext_chain(&f, 181, 1);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_FRAGMENT);
	memset(&f, 0, sizeof(f));
	build_ipv6_ext_chain(&f, 1, 0);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_FRAGMENT);
}

static void test_ipv6_routing_and_ah_lengths(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, ah, t;

	(void)state;
	fx_eth(&f, 0x86dd);
	ip = fx_ip6(&f, 43, V6_A, V6_B);
	ext6(&f, 51, 2); /* routing, 24 bytes */
	ah = fx_put(&f, NULL, 24);
	f.b[ah] = 6;
	f.b[ah + 1] = 4; /* AH: (4 + 2) * 4 = 24 bytes */
	t = fx_tcp(&f, 443, 50000, TCP_FIN | TCP_ACK, 0);
	fx_end_ip6(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 6);
	assert_ptr_equal(p.l4, f.b + t);
	assert_int_equal(p.tcp_flags, TCP_FIN | TCP_ACK);
}

static void test_ipv6_no_next_header_has_no_l4(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x86dd);
	ip = fx_ip6(&f, 60, V6_A, V6_B);
	ext6(&f, 59, 0);
	fx_end_ip6(&f, ip);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 59);
	assert_null(p.l4);
	assert_int_equal(p.l4_len, 0);
	assert_int_equal(p.payload_len, 0);
}

static void test_ipv6_payload_length_zero_is_bounded_by_the_capture(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	fx_eth(&f, 0x86dd);
	fx_ip6(&f, 17, V6_A, V6_B); /* payload length left 0 */
	fx_udp(&f, 1, 2);
	fx_data(&f, 4);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_len, 12);
	assert_int_equal(p.flags, 0);
}

static void build_ext_headers(struct fx_buf *f, unsigned int n)
{
	uint32_t ip;

	fx_eth(f, 0x86dd);
	ip = fx_ip6(f, 60, V6_A, V6_B);
	for (unsigned int i = 0; i < n; i++)
		ext6(f, i + 1 < n ? 60 : 17, 0);
	fx_udp(f, 1, 2);
	fx_end_ip6(f, ip);
}

static void test_ipv6_extension_headers_up_to_the_configured_maximum_are_walked(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_ext_headers(&f, CONFIG_DECODE_MAX_IPV6_EXT_HEADERS);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 17);
}

static void test_ipv6_extension_chain_longer_than_configured_is_ipv6_ext(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_ext_headers(&f, CONFIG_DECODE_MAX_IPV6_EXT_HEADERS + 1);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IPV6_EXT);
}

static void test_ipv6_extension_header_beyond_the_packet_is_ipv6_ext(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x86dd);
	ip = fx_ip6(&f, 0, V6_A, V6_B);
	ext6(&f, 17, 0);
	f.b[f.len - 7] = 5; /* claims 48 bytes, 8 are there */
	fx_end_ip6(&f, ip);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IPV6_EXT);

	f.len -= 4; /* header cut below its minimum 8 bytes */
	fx_end_ip6(&f, ip);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IPV6_EXT);
}

/* ------------------------------------------------------------ tunnels */

static void test_6in4_tracks_the_inner_ipv6_packet(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t outer, inner, t;

	(void)state;
	fx_eth(&f, 0x0800);
	outer = fx_ip4(&f, 41, V4_A, V4_B);
	inner = fx_ip6(&f, 6, V6_A, V6_B);
	t = fx_tcp(&f, 51000, 80, TCP_SYN, 0);
	fx_data(&f, 3);
	fx_end_ip6(&f, inner);
	fx_end_ip4(&f, outer);
	fx_put(&f, NULL, 6); /* padding */

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.tunnel, TUNNEL_6IN4);
	assert_int_equal(p.ip_version, 6);
	assert_ptr_equal(p.l3, f.b + inner);
	assert_int_equal(p.l3_len, f.len - inner);
	assert_memory_equal(p.src.b, V6_A, 16);
	assert_memory_equal(p.dst.b, V6_B, 16);
	assert_int_equal(p.sport, 51000);
	assert_int_equal(p.dport, 80);
	assert_ptr_equal(p.l4, f.b + t);
	assert_int_equal(p.l4_len, 23);
}

static void test_4in6_tracks_the_inner_ipv4_packet_with_zeroed_address_tail(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t outer, inner;

	(void)state;
	fx_eth(&f, 0x86dd);
	outer = fx_ip6(&f, 4, V6_A, V6_B);
	inner = fx_ip4(&f, 17, V4_C, V4_D);
	fx_udp(&f, 53, 33000);
	fx_end_ip4(&f, inner);
	fx_end_ip6(&f, outer);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.tunnel, TUNNEL_4IN6);
	assert_int_equal(p.ip_version, 4);
	assert_ptr_equal(p.l3, f.b + inner);
	assert_v4(&p.src, V4_C);
	assert_v4(&p.dst, V4_D);
	assert_int_equal(p.sport, 53);
}

static void test_ipip_and_6in6_are_unwrapped(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t outer, inner;

	(void)state;
	fx_eth(&f, 0x0800);
	outer = fx_ip4(&f, 4, V4_A, V4_B);
	inner = fx_ip4(&f, 17, V4_C, V4_D);
	fx_udp(&f, 7, 8);
	fx_end_ip4(&f, inner);
	fx_end_ip4(&f, outer);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.tunnel, TUNNEL_IPIP);
	assert_v4(&p.src, V4_C);

	memset(&f, 0, sizeof(f));
	fx_eth(&f, 0x86dd);
	outer = fx_ip6(&f, 41, V6_A, V6_B);
	inner = fx_ip6(&f, 17, V6_C, V6_D);
	fx_udp(&f, 7, 8);
	fx_end_ip6(&f, inner);
	fx_end_ip6(&f, outer);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.tunnel, TUNNEL_6IN6);
	assert_memory_equal(p.src.b, V6_C, 16);
}

static void test_tunnel_kind_is_the_outermost(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t a, b, c;

	(void)state;
	if (CONFIG_DECODE_MAX_TUNNEL_DEPTH < 2)
		skip();
	fx_eth(&f, 0x0800);
	a = fx_ip4(&f, 41, V4_A, V4_B);
	b = fx_ip6(&f, 4, V6_A, V6_B);
	c = fx_ip4(&f, 17, V4_C, V4_D);
	fx_udp(&f, 7, 8);
	fx_end_ip4(&f, c);
	fx_end_ip6(&f, b);
	fx_end_ip4(&f, a);

	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.tunnel, TUNNEL_6IN4);
	assert_ptr_equal(p.l3, f.b + c);
	assert_v4(&p.src, V4_C);
}

static void build_nested_ipip(struct fx_buf *f, unsigned int tunnels)
{
	uint32_t hdr[8];

	assert_true(tunnels < 8);
	fx_eth(f, 0x0800);
	for (unsigned int i = 0; i <= tunnels; i++)
		hdr[i] = fx_ip4(f, i < tunnels ? 4 : 17, V4_A, V4_B);
	fx_udp(f, 1, 2);
	for (unsigned int i = tunnels + 1; i > 0; i--)
		fx_end_ip4(f, hdr[i - 1]);
}

static void test_tunnels_up_to_the_configured_depth_are_unwrapped(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_nested_ipip(&f, CONFIG_DECODE_MAX_TUNNEL_DEPTH);
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.l4_proto, 17);
	assert_ptr_equal(p.l3, f.b + 14 + 20 * CONFIG_DECODE_MAX_TUNNEL_DEPTH);
}

static void test_tunnels_deeper_than_configured_are_tunnel_depth(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_nested_ipip(&f, CONFIG_DECODE_MAX_TUNNEL_DEPTH + 1);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_TUNNEL_DEPTH);
}

static void test_ipv4_later_fragment_is_fragment_before_tunnel_unwrap(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t outer;

	(void)state;
	fx_eth(&f, 0x0800);
	outer = fx_ip4(&f, 41, V4_A, V4_B);
	fx_data(&f, 64); /* continuation bytes of the inner packet */
	fx_end_ip4(&f, outer);
	ip4_frag(&f, outer, 0x2000 | 10);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_FRAGMENT);
}

static void test_tunnel_announcing_the_wrong_inner_version_is_ip_version(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t outer, inner;

	(void)state;
	fx_eth(&f, 0x0800);
	outer = fx_ip4(&f, 41, V4_A, V4_B); /* says IPv6 inside */
	inner = fx_ip4(&f, 17, V4_C, V4_D);
	fx_udp(&f, 1, 2);
	fx_end_ip4(&f, inner);
	fx_end_ip4(&f, outer);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_VERSION);
}

/* ------------------------------------------------------------ Teredo */

struct teredo_layout {
	uint32_t udp;
	uint32_t inner;
};

static struct teredo_layout build_teredo(struct fx_buf *f, int auth, int origin)
{
	struct teredo_layout l;
	uint32_t outer, a, o;

	fx_eth(f, 0x0800);
	outer = fx_ip4(f, 17, V4_A, V4_B);
	l.udp = fx_udp(f, 50000, 3544);
	if (auth) {
		a = fx_put(f, NULL, 4 + 3 + 2 + 8 + 1); /* id 3 bytes, auth 2 bytes */
		f->b[a + 1] = 0x01;
		f->b[a + 2] = 3;
		f->b[a + 3] = 2;
	}
	if (origin) {
		o = fx_put(f, NULL, 8);
		f->b[o + 2] = 0xff; /* obfuscated port and address */
		f->b[o + 4] = 0x3f;
	}
	l.inner = fx_ip6(f, 58, V6_A, V6_B);
	icmp(f, 128);
	fx_end_ip6(f, l.inner);
	fx_set16(f, l.udp + 4, (uint16_t)(f->len - l.udp));
	fx_end_ip4(f, outer);
	return l;
}

static void test_teredo_keeps_the_outer_udp_flow_and_points_at_the_inner_ipv6(void **state)
{
	(void)state;
	for (int variant = 0; variant < 4; variant++) {
		struct fx_buf f = { 0 };
		struct pkt p;
		struct teredo_layout l = build_teredo(&f, variant & 1, variant & 2);

		assert_decodes(LINK_ETHERNET, &f, &p);
		assert_int_equal(p.ip_version, 4);
		assert_int_equal(p.l4_proto, 17);
		assert_ptr_equal(p.l3, f.b + 14);
		assert_v4(&p.src, V4_A);
		assert_int_equal(p.sport, 50000);
		assert_int_equal(p.dport, 3544);
		assert_ptr_equal(p.l4, f.b + l.udp);
		assert_ptr_equal(p.payload, f.b + l.udp + 8);
		assert_int_equal(p.flags, PKT_F_TEREDO);
		assert_int_equal(p.tunnel, TUNNEL_NONE);
		assert_ptr_equal(p.inner, f.b + l.inner);
	}
}

static void test_port_3544_without_a_consistent_ipv6_packet_is_plain_udp(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	struct teredo_layout l;

	(void)state;
	l = build_teredo(&f, 0, 0);
	fx_set16(&f, l.inner + 4, 9); /* payload length disagrees with the UDP payload */
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags & PKT_F_TEREDO, 0);
	assert_null(p.inner);

	l = build_teredo(memset(&f, 0, sizeof(f)), 0, 0);
	f.b[l.inner] = 0x45; /* not IPv6 */
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags & PKT_F_TEREDO, 0);
	assert_null(p.inner);

	l = build_teredo(memset(&f, 0, sizeof(f)), 1, 0);
	f.b[l.udp + 8 + 2] = 200; /* authentication header longer than the payload */
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.flags & PKT_F_TEREDO, 0);
}

/* ------------------------------------------------------------ malformed */

static uint32_t build_udp4(struct fx_buf *f)
{
	uint32_t ip;

	fx_eth(f, 0x0800);
	ip = fx_ip4(f, 17, V4_A, V4_B);
	fx_udp(f, 1, 2);
	fx_data(f, 12);
	fx_end_ip4(f, ip);
	return ip;
}

static void test_ipv4_ihl_below_5_is_ip_hdr_len(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip = build_udp4(&f);

	(void)state;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		f.b[ip] = (uint8_t)(0x40 | ihl);
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_HDR_LEN);
	}
}

static void test_ipv4_ihl_beyond_the_capture_is_ip_hdr_len(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip = build_udp4(&f); /* 40 bytes of IP */

	(void)state;
	f.b[ip] = 0x4f; /* 60-byte header */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_HDR_LEN);
}

static void test_ipv4_total_length_below_the_header_is_ip_total_len(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip = build_udp4(&f);

	(void)state;
	fx_set16(&f, ip + 2, 19);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_TOTAL_LEN);
	f.b[ip] = 0x46; /* 24-byte header ... */
	fx_set16(&f, ip + 2, 20); /* ... in a 20-byte packet */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_TOTAL_LEN);
	fx_set16(&f, ip + 2, 0);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_TOTAL_LEN);
}

static void test_ipv4_total_length_of_just_the_header_is_short_l4_for_udp(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip = build_udp4(&f);

	(void)state;
	fx_set16(&f, ip + 2, 20);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L4);
}

static void test_version_nibble_disagreeing_with_ethertype_is_ip_version(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip = build_udp4(&f);

	(void)state;
	f.b[ip] = 0x65;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_VERSION);
	f.b[ip] = 0x05;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_VERSION);
	fx_set16(&f, 12, 0x86dd);
	f.b[ip] = 0x45;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_IP_VERSION);
}

static void test_ip_header_shorter_than_minimum_is_short_ip(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_udp4(&f);
	f.len = 14 + 19;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_IP);
	f.len = 14;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_IP);

	memset(&f, 0, sizeof(f));
	fx_eth(&f, 0x86dd);
	fx_ip6(&f, 17, V6_A, V6_B);
	f.len = 14 + 39;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_IP);
}

static void test_ethernet_shorter_than_14_bytes_is_short_l2(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;

	(void)state;
	build_udp4(&f);
	f.len = 13;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L2);
	f.len = 0;
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L2);
	assert_int_equal(decode_packet(LINK_ETHERNET, NULL, 0, 0, &p), DECODE_ERR_SHORT_L2);
}

static void test_tcp_data_offset_below_5_is_tcp_hdr_len(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, t;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 6, V4_A, V4_B);
	t = fx_tcp(&f, 1, 2, TCP_SYN, 0);
	fx_data(&f, 8);
	fx_end_ip4(&f, ip);
	for (uint8_t doff = 0; doff < 5; doff++) {
		f.b[t + 12] = (uint8_t)(doff << 4);
		assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_TCP_HDR_LEN);
	}
}

static void test_tcp_data_offset_beyond_the_segment_is_tcp_hdr_len(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip, t;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 6, V4_A, V4_B);
	t = fx_tcp(&f, 1, 2, TCP_SYN, 0);
	fx_data(&f, 8);
	fx_end_ip4(&f, ip);
	f.b[t + 12] = 0x80; /* 32 bytes: more than the 28-byte segment */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_TCP_HDR_LEN);
	f.b[t + 12] = 0x70; /* 28 bytes: exactly the segment, no payload */
	assert_decodes(LINK_ETHERNET, &f, &p);
	assert_int_equal(p.payload_len, 0);
}

static void test_tcp_and_udp_headers_cut_by_the_ip_length_are_short_l4(void **state)
{
	struct fx_buf f = { 0 };
	struct pkt p;
	uint32_t ip;

	(void)state;
	fx_eth(&f, 0x0800);
	ip = fx_ip4(&f, 6, V4_A, V4_B);
	fx_tcp(&f, 1, 2, TCP_SYN, 0);
	fx_end_ip4(&f, ip);
	fx_set16(&f, ip + 2, 20 + 19); /* the rest of the header is padding */
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L4);

	memset(&f, 0, sizeof(f));
	ip = build_udp4(&f);
	fx_set16(&f, ip + 2, 20 + 7);
	assert_int_equal(dec(LINK_ETHERNET, &f, &p), DECODE_ERR_SHORT_L4);
}

/* ------------------------------------------------------------ truncation sweep */

struct sample {
	const char *name;
	enum link_type link;
	struct fx_buf f;
	uint32_t l4_end; /* first caplen at which the tracked L4 header is whole */
};

static void sample_tcp4_vlan(struct sample *s)
{
	uint32_t ip, t;

	s->name = "vlan tcp4 with options";
	s->link = LINK_ETHERNET;
	fx_eth(&s->f, 0x8100);
	fx_tag(&s->f, 5, 0x0800);
	ip = fx_ip4_ihl(&s->f, 6, 7, V4_A, V4_B);
	t = fx_tcp(&s->f, 1, 2, TCP_ACK, 2);
	fx_data(&s->f, 9);
	fx_end_ip4(&s->f, ip);
	s->l4_end = t + 28;
}

static void sample_ipv6_ext(struct sample *s)
{
	s->name = "ipv6 ext headers udp";
	s->link = LINK_ETHERNET;
	s->l4_end = build_ipv6_ext_chain(&s->f, 0, 1) + 8;
}

static void sample_6in4(struct sample *s)
{
	uint32_t outer, inner, t;

	s->name = "6in4 tcp";
	s->link = LINK_ETHERNET;
	fx_eth(&s->f, 0x0800);
	outer = fx_ip4(&s->f, 41, V4_A, V4_B);
	inner = fx_ip6(&s->f, 6, V6_A, V6_B);
	t = fx_tcp(&s->f, 1, 2, TCP_SYN, 1);
	fx_data(&s->f, 4);
	fx_end_ip6(&s->f, inner);
	fx_end_ip4(&s->f, outer);
	s->l4_end = t + 24;
}

static void sample_teredo(struct sample *s)
{
	s->name = "teredo";
	s->link = LINK_ETHERNET;
	s->l4_end = build_teredo(&s->f, 1, 1).udp + 8;
}

static void sample_icmp_sll(struct sample *s)
{
	uint32_t ip, ic;

	s->name = "sll icmp";
	s->link = LINK_LINUX_SLL;
	fx_put(&s->f, NULL, 14);
	fx_put16(&s->f, 0x0800);
	ip = fx_ip4(&s->f, 1, V4_A, V4_B);
	ic = icmp(&s->f, 0);
	fx_data(&s->f, 6);
	fx_end_ip4(&s->f, ip);
	s->l4_end = ic + 4;
}

static void sample_null_v6_no_next(struct sample *s)
{
	static const uint8_t family[4] = { 0, 0, 0, 30 };
	uint32_t ip;

	s->name = "null ipv6 no next header";
	s->link = LINK_NULL;
	fx_put(&s->f, family, 4);
	ip = fx_ip6(&s->f, 0, V6_A, V6_B);
	ext6(&s->f, 59, 0);
	fx_end_ip6(&s->f, ip);
	s->l4_end = s->f.len;
}

static void sample_raw_udp(struct sample *s)
{
	uint32_t ip, u;

	s->name = "raw udp";
	s->link = LINK_RAW;
	ip = fx_ip4(&s->f, 17, V4_A, V4_B);
	u = fx_udp(&s->f, 1, 2);
	fx_data(&s->f, 3);
	fx_end_ip4(&s->f, ip);
	s->l4_end = u + 8;
}

static void sample_mpls_pppoe(struct sample *s)
{
	static const uint8_t pppoe[8] = { 0x11, 0x00, 0x00, 0x01, 0, 0, 0x00, 0x57 };
	uint32_t ip, u;

	s->name = "qinq pppoe ipv6 udp";
	s->link = LINK_ETHERNET;
	fx_eth(&s->f, 0x88a8);
	fx_tag(&s->f, 1, 0x8100);
	fx_tag(&s->f, 2, 0x8864);
	fx_put(&s->f, pppoe, sizeof(pppoe));
	ip = fx_ip6(&s->f, 17, V6_A, V6_B);
	u = fx_udp(&s->f, 1, 2);
	fx_end_ip6(&s->f, ip);
	s->l4_end = u + 8;
}

static void test_every_truncation_of_valid_frames_is_refused_until_l4_is_whole(void **state)
{
	void (*const builders[])(struct sample *) = {
		sample_tcp4_vlan, sample_ipv6_ext, sample_6in4,	   sample_teredo,
		sample_icmp_sll,  sample_null_v6_no_next, sample_raw_udp, sample_mpls_pppoe,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
		struct sample s;
		struct pkt p;
		uint8_t *copy;

		memset(&s, 0, sizeof(s));
		builders[i](&s);
		assert_int_equal(dec(s.link, &s.f, &p), DECODE_OK);

		for (uint32_t cut = 0; cut < s.f.len; cut++) {
			enum decode_err err = dec_cut(s.link, &s.f, cut, s.f.len, &p, &copy);

			assert_in_range(err, DECODE_OK, DECODE_ERR_MAX - 1);
			assert_string_not_equal(decode_err_name(err), "unknown");
			if (cut < s.l4_end) {
				if (err == DECODE_OK)
					fail_msg("%s cut at %u of %u decoded", s.name, cut, s.f.len);
				/* Cut headers are never mistaken for a malformed packet. */
				assert_int_not_equal(err, DECODE_ERR_IP_TOTAL_LEN);
				assert_int_not_equal(err, DECODE_ERR_TCP_HDR_LEN);
			} else {
				if (err != DECODE_OK)
					fail_msg("%s cut at %u of %u: %s", s.name, cut, s.f.len,
						 decode_err_name(err));
				assert_true(p.flags & PKT_F_TRUNCATED);
				assert_ranges_inside(&p, copy, cut);
			}
			free(copy);
		}
	}
}

/* ------------------------------------------------------------ names */

static void test_every_decode_err_has_a_distinct_snake_case_name(void **state)
{
	(void)state;
	for (int e = 0; e < DECODE_ERR_MAX; e++) {
		const char *name = decode_err_name((enum decode_err)e);

		assert_non_null(name);
		assert_true(name[0] != '\0');
		assert_string_not_equal(name, "unknown");
		for (const char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
		for (int other = 0; other < e; other++)
			assert_string_not_equal(name, decode_err_name((enum decode_err)other));
	}
	assert_string_equal(decode_err_name(DECODE_ERR_SHORT_L2), "short_l2");
	assert_string_equal(decode_err_name(DECODE_ERR_FRAGMENT), "fragment");
	assert_string_equal(decode_err_name(DECODE_ERR_MAX), "unknown");
	assert_string_equal(decode_err_name((enum decode_err)-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp_with_options_gives_ports_flags_and_payload_after_options),
		cmocka_unit_test(test_ipv4_udp_gives_ports_and_payload_after_8_bytes),
		cmocka_unit_test(test_icmp_has_no_ports_and_payload_after_8_bytes),
		cmocka_unit_test(test_icmp_of_4_to_7_bytes_is_tracked_with_empty_payload),
		cmocka_unit_test(test_icmp_and_icmpv6_shorter_than_4_bytes_are_short_l4),
		cmocka_unit_test(test_ipv6_icmpv6_has_no_ports_and_full_addresses),
		cmocka_unit_test(test_other_ip_protocol_is_tracked_without_ports),
		cmocka_unit_test(test_ethernet_padding_is_not_part_of_l4),
		cmocka_unit_test(test_capture_shorter_than_the_wire_is_flagged_even_if_only_padding_is_cut),
		cmocka_unit_test(test_short_capture_is_flagged_truncated_and_bounded_by_capture),
		cmocka_unit_test(test_ip_length_beyond_capture_is_flagged_truncated_even_if_wirelen_agrees),
		cmocka_unit_test(test_single_vlan_tag_gives_its_12_bit_id),
		cmocka_unit_test(test_qinq_innermost_vlan_id_wins),
		cmocka_unit_test(test_8021ad_service_tag_then_customer_tag),
		cmocka_unit_test(test_8021ad_single_tag),
		cmocka_unit_test(test_vlan_tags_up_to_the_configured_maximum_are_accepted),
		cmocka_unit_test(test_more_vlan_tags_than_configured_is_vlan_depth),
		cmocka_unit_test(test_linux_sll_protocol_at_bytes_14_15),
		cmocka_unit_test(test_dlt_null_accepts_address_family_in_either_byte_order),
		cmocka_unit_test(test_dlt_null_other_family_is_not_ip_and_short_header_is_short_l2),
		cmocka_unit_test(test_raw_link_takes_the_version_from_the_first_nibble),
		cmocka_unit_test(test_8023_llc_snap_carries_the_ethertype),
		cmocka_unit_test(test_8023_without_snap_is_not_ip),
		cmocka_unit_test(test_non_ip_ethertype_is_not_ip),
		cmocka_unit_test(test_unknown_link_type_is_link_type),
		cmocka_unit_test(test_pppoe_session_ipv4_and_ipv6_are_decoded),
		cmocka_unit_test(test_mpls_label_stack_is_walked_to_the_bottom),
		cmocka_unit_test(test_ipv4_first_fragment_is_decoded_and_flagged),
		cmocka_unit_test(test_ipv4_later_fragment_is_fragment),
		cmocka_unit_test(test_ipv6_extension_headers_are_walked_to_udp_and_first_fragment_flagged),
		cmocka_unit_test(test_ipv6_atomic_fragment_is_not_flagged),
		cmocka_unit_test(test_ipv6_later_fragment_is_fragment),
		cmocka_unit_test(test_ipv6_routing_and_ah_lengths),
		cmocka_unit_test(test_ipv6_no_next_header_has_no_l4),
		cmocka_unit_test(test_ipv6_payload_length_zero_is_bounded_by_the_capture),
		cmocka_unit_test(test_ipv6_extension_headers_up_to_the_configured_maximum_are_walked),
		cmocka_unit_test(test_ipv6_extension_chain_longer_than_configured_is_ipv6_ext),
		cmocka_unit_test(test_ipv6_extension_header_beyond_the_packet_is_ipv6_ext),
		cmocka_unit_test(test_6in4_tracks_the_inner_ipv6_packet),
		cmocka_unit_test(test_4in6_tracks_the_inner_ipv4_packet_with_zeroed_address_tail),
		cmocka_unit_test(test_ipip_and_6in6_are_unwrapped),
		cmocka_unit_test(test_tunnel_kind_is_the_outermost),
		cmocka_unit_test(test_tunnels_up_to_the_configured_depth_are_unwrapped),
		cmocka_unit_test(test_tunnels_deeper_than_configured_are_tunnel_depth),
		cmocka_unit_test(test_ipv4_later_fragment_is_fragment_before_tunnel_unwrap),
		cmocka_unit_test(test_tunnel_announcing_the_wrong_inner_version_is_ip_version),
		cmocka_unit_test(test_teredo_keeps_the_outer_udp_flow_and_points_at_the_inner_ipv6),
		cmocka_unit_test(test_port_3544_without_a_consistent_ipv6_packet_is_plain_udp),
		cmocka_unit_test(test_ipv4_ihl_below_5_is_ip_hdr_len),
		cmocka_unit_test(test_ipv4_ihl_beyond_the_capture_is_ip_hdr_len),
		cmocka_unit_test(test_ipv4_total_length_below_the_header_is_ip_total_len),
		cmocka_unit_test(test_ipv4_total_length_of_just_the_header_is_short_l4_for_udp),
		cmocka_unit_test(test_version_nibble_disagreeing_with_ethertype_is_ip_version),
		cmocka_unit_test(test_ip_header_shorter_than_minimum_is_short_ip),
		cmocka_unit_test(test_ethernet_shorter_than_14_bytes_is_short_l2),
		cmocka_unit_test(test_tcp_data_offset_below_5_is_tcp_hdr_len),
		cmocka_unit_test(test_tcp_data_offset_beyond_the_segment_is_tcp_hdr_len),
		cmocka_unit_test(test_tcp_and_udp_headers_cut_by_the_ip_length_are_short_l4),
		cmocka_unit_test(test_every_truncation_of_valid_frames_is_refused_until_l4_is_whole),
		cmocka_unit_test(test_every_decode_err_has_a_distinct_snake_case_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

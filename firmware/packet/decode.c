/*
 * Packet decoder: from a captured frame to the addresses, ports and header
 * pointers the flow table and nDPI need.
 *
 * Why it looks the way it does:
 *
 * - Frames come straight off the wire (or out of a capture someone mailed to
 *   the hub), so every length in them is hostile. Each step checks the bytes
 *   it is about to read against what is left, and every multi-byte field is
 *   read with byte shifts: frames are not aligned and casting them to header
 *   structs is undefined behaviour that UBSan (and some boards) punish.
 * - Everything is walked in loops with a fixed bound (VLAN tags, tunnels,
 *   IPv6 extension headers: Kconfig; MPLS labels: the capture), never by
 *   recursion, so a crafted frame cannot make the decoder work hard.
 * - What is tracked matches ndpiReader, so the conformance tests can compare
 *   flow for flow: the innermost IP packet of an IP-in-IP tunnel is tracked,
 *   a Teredo packet stays its outer UDP flow, the innermost VLAN id keys the
 *   flow, ICMP has no ports.
 * - Two byte bounds are kept apart. The capture bound (caplen) limits what
 *   may be read; the IP bound (total length / payload length, narrowed at
 *   each tunnel level) limits what belongs to the packet, so Ethernet
 *   padding never reaches the transport layer. A length that claims more
 *   than is there marks the packet PKT_F_TRUNCATED instead of failing: the
 *   first packets of a flow are still worth classifying from a short capture.
 *
 * No logging and no allocation here: the caller counts the enum decode_err.
 */
#include <stdbool.h>

#include "packet/decode.h"

/* struct pkt stores the tag count in a uint8_t. */
_Static_assert(CONFIG_DECODE_MAX_VLAN_TAGS <= UINT8_MAX, "vlan_tags is 8 bits");

#define ETH_HLEN 14
#define SLL_HLEN 16
#define NULL_HLEN 4
#define VLAN_HLEN 4
#define IPV4_MIN_HLEN 20
#define IPV6_HLEN 40
#define TCP_MIN_HLEN 20
#define UDP_HLEN 8

/*
 * ICMP and ICMPv6 share a 4-byte type/code/checksum header; the next 4 bytes
 * depend on the type. ndpiReader tracks any ICMP packet that has the 4 bytes
 * and hands nDPI the data after an 8-byte icmphdr, so do the same.
 */
#define ICMP_MIN_HLEN 4
#define ICMP_DATA_OFF 8


/*
 * An Ethernet type/length field up to 1500 is an IEEE 802.3 length and an
 * 802.2 LLC header follows; from 1536 (0x600) on it is an EtherType. Values
 * in between are undefined.
 */
#define ETH_8023_MAX_LEN 1500
#define ETH_TYPE_MIN 0x0600

/* LLC DSAP/SSAP 0xAA with control 0x03 (UI) announces a 5-byte SNAP header:
 * 3-byte OUI then the 2-byte EtherType, 8 bytes in all. */
#define LLC_SAP_SNAP 0xaa
#define LLC_CTRL_UI 0x03
#define LLC_SNAP_LEN 8

/* PPPoE session stage (RFC 2516): ver=1/type=1, code 0, session id, length,
 * then the 2-byte PPP protocol. */
#define PPPOE_HLEN 6
#define PPPOE_VER_TYPE 0x11
#define PPP_PROTO_LEN 2
#define PPP_PROTO_IPV4 0x0021
#define PPP_PROTO_IPV6 0x0057

#define MPLS_LABEL_LEN 4
#define MPLS_BOS 0x01 /* bottom-of-stack bit, in the third label byte */

/*
 * DLT_NULL address family, written in the capturing host's byte order:
 * AF_INET is 2 everywhere, AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD),
 * 30 (macOS) -- the same values libpcap accepts for LINKTYPE_NULL.
 */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24
#define BSD_AF_INET6_FREEBSD 28
#define BSD_AF_INET6_DARWIN 30

#define IPPROTO_NUM_HOPOPTS 0
#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_IPIP 4
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17
#define IPPROTO_NUM_IPV6 41
#define IPPROTO_NUM_ROUTING 43
#define IPPROTO_NUM_FRAGMENT 44
#define IPPROTO_NUM_AH 51
#define IPPROTO_NUM_ICMPV6 58
#define IPPROTO_NUM_NONE 59
#define IPPROTO_NUM_DSTOPTS 60
#define IPPROTO_NUM_MOBILITY 135

/* IPv4 flags/fragment offset word: MF flag and the 13-bit offset. */
#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff

/* IPv6 fragment header: offset in the top 13 bits, M flag in the lowest. */
#define IPV6_FRAG_HLEN 8
#define IPV6_FRAG_OFFSET_MASK 0xfff8
#define IPV6_FRAG_M 0x0001

/* Every IPv6 extension header is a multiple of 8 bytes, at least 8. */
#define IPV6_EXT_MIN_LEN 8

/*
 * Teredo (RFC 4380) runs on UDP port 3544. Before the IPv6 packet there may
 * be an authentication indicator (0x0001, id-len, auth-len, client id,
 * authentication value, 8-byte nonce, 1-byte confirmation) and then an
 * origin indication (0x0000, 2-byte port, 4-byte address).
 */
#define TEREDO_PORT 3544
#define TEREDO_AUTH_TYPE 0x0001
#define TEREDO_AUTH_FIXED_LEN 13 /* indicator 2 + lengths 2 + nonce 8 + confirmation 1 */
#define TEREDO_ORIGIN_TYPE 0x0000
#define TEREDO_ORIGIN_LEN 8

/* State of one decode: the frame, and the bound of the current IP packet. */
struct dec {
	const uint8_t *frame;
	uint32_t caplen;
	uint32_t end; /* bytes [0, end) may belong to the current packet */
	bool cut;     /* end is where the capture stopped, not where the packet does */
	struct pkt *p;
};

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)((unsigned int)b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t rd32_le(const uint8_t *b)
{
	return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* Copies an n-byte address; an IPv4 address leaves the other 12 bytes 0. */
static void read_addr(union ip_addr *a, const uint8_t *b, unsigned int n)
{
	*a = (union ip_addr){ .b = { 0 } };
	for (unsigned int i = 0; i < n; i++)
		a->b[i] = b[i];
}

/* Narrows the packet bound to [off, off + len) when that lies inside it;
 * otherwise the packet is not all there and the old bound stays. */
static void bound_ip(struct dec *d, uint32_t off, uint32_t len)
{
	if (len > d->end - off) {
		d->p->flags |= PKT_F_TRUNCATED;
		d->cut = true;
	} else {
		d->end = off + len;
		d->cut = false;
	}
}

static bool is_teredo_ipv6(const struct dec *d, const uint8_t *b, uint32_t n)
{
	uint32_t need;

	if (n < IPV6_HLEN || b[0] >> 4 != 6)
		return false;
	need = IPV6_HLEN + (uint32_t)rd16(b + 4);
	/* A short capture may cut the inner packet; anything else must match. */
	return need == n || (need > n && (d->p->flags & PKT_F_TRUNCATED));
}

/* Recognises Teredo in a UDP payload and points pkt->inner at its IPv6. */
static void decode_teredo(struct dec *d)
{
	struct pkt *p = d->p;
	const uint8_t *b = p->payload;
	uint32_t n = p->payload_len;

	if (n >= 4 && rd16(b) == TEREDO_AUTH_TYPE) {
		uint32_t len = TEREDO_AUTH_FIXED_LEN + b[2] + b[3];

		if (len > n)
			return;
		b += len;
		n -= len;
	}
	if (n >= 2 && rd16(b) == TEREDO_ORIGIN_TYPE) {
		if (n < TEREDO_ORIGIN_LEN)
			return;
		b += TEREDO_ORIGIN_LEN;
		n -= TEREDO_ORIGIN_LEN;
	}
	if (is_teredo_ipv6(d, b, n)) {
		p->flags |= PKT_F_TEREDO;
		p->inner = b;
	}
}

/* Transport header at off, bounded by d->end. */
static enum decode_err decode_l4(struct dec *d, uint32_t off, uint8_t proto)
{
	struct pkt *p = d->p;
	const uint8_t *l4 = d->frame + off;
	uint32_t len = d->end - off;
	uint32_t hlen;

	p->l4_proto = proto;
	p->l4 = l4;
	p->l4_len = len;
	p->payload = l4;
	p->payload_len = len;

	switch (proto) {
	case IPPROTO_NUM_TCP:
		if (len < TCP_MIN_HLEN)
			return DECODE_ERR_SHORT_L4;
		hlen = (uint32_t)(l4[12] >> 4) * 4;
		if (hlen < TCP_MIN_HLEN)
			return DECODE_ERR_TCP_HDR_LEN;
		/* Options cut by the capture are a short header, not a bad one. */
		if (hlen > len)
			return d->cut ? DECODE_ERR_SHORT_L4 : DECODE_ERR_TCP_HDR_LEN;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->tcp_flags = l4[13];
		p->payload = l4 + hlen;
		p->payload_len = len - hlen;
		break;
	case IPPROTO_NUM_UDP:
		if (len < UDP_HLEN)
			return DECODE_ERR_SHORT_L4;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->payload = l4 + UDP_HLEN;
		p->payload_len = len - UDP_HLEN;
		if (p->sport == TEREDO_PORT || p->dport == TEREDO_PORT)
			decode_teredo(d);
		break;
	case IPPROTO_NUM_ICMP:
	case IPPROTO_NUM_ICMPV6:
		if (len < ICMP_MIN_HLEN)
			return DECODE_ERR_SHORT_L4;
		hlen = len < ICMP_DATA_OFF ? len : ICMP_DATA_OFF;
		p->payload = l4 + hlen;
		p->payload_len = len - hlen;
		break;
	case IPPROTO_NUM_NONE:
		p->l4 = NULL;
		p->l4_len = 0;
		p->payload = NULL;
		p->payload_len = 0;
		break;
	default:
		/* GRE, ESP, SCTP, ...: tracked by protocol alone. */
		break;
	}
	return DECODE_OK;
}

/*
 * Walks the IPv6 extension headers from *off. On return *off and *nh are
 * the upper-layer header and its protocol number.
 */
static enum decode_err walk_ipv6_ext(struct dec *d, uint32_t *off, uint8_t *nh)
{
	unsigned int count = 0;

	for (;;) {
		const uint8_t *h = d->frame + *off;
		uint32_t avail = d->end - *off;
		uint32_t len;

		switch (*nh) {
		case IPPROTO_NUM_HOPOPTS:
		case IPPROTO_NUM_ROUTING:
		case IPPROTO_NUM_DSTOPTS:
		case IPPROTO_NUM_MOBILITY:
		case IPPROTO_NUM_FRAGMENT:
		case IPPROTO_NUM_AH:
			break;
		default:
			return DECODE_OK;
		}
		if (++count > CONFIG_DECODE_MAX_IPV6_EXT_HEADERS || avail < IPV6_EXT_MIN_LEN)
			return DECODE_ERR_IPV6_EXT;

		if (*nh == IPPROTO_NUM_FRAGMENT) {
			uint16_t frag = rd16(h + 2);

			if (frag & IPV6_FRAG_OFFSET_MASK)
				return DECODE_ERR_FRAGMENT;
			if (frag & IPV6_FRAG_M)
				d->p->flags |= PKT_F_FRAGMENT;
			len = IPV6_FRAG_HLEN;
		} else if (*nh == IPPROTO_NUM_AH) {
			/* AH counts its length in 4-byte words, minus 2 (RFC 4302). */
			len = ((uint32_t)h[1] + 2) * 4;
		} else {
			/* The others count 8-byte units, not counting the first. */
			len = ((uint32_t)h[1] + 1) * 8;
		}
		if (len > avail)
			return DECODE_ERR_IPV6_EXT;
		*nh = h[0];
		*off += len;
	}
}

/* Records the tunnel being entered; fails past the configured depth. */
static enum decode_err enter_tunnel(struct pkt *p, unsigned int *depth, enum pkt_tunnel kind)
{
	if (++*depth > CONFIG_DECODE_MAX_TUNNEL_DEPTH)
		return DECODE_ERR_TUNNEL_DEPTH;
	if (p->tunnel == TUNNEL_NONE)
		p->tunnel = (uint8_t)kind;
	return DECODE_OK;
}

/*
 * IPv4 header at *off. On success *off is past the header, *proto is the
 * protocol and d->end bounds the payload.
 */
static enum decode_err decode_ipv4(struct dec *d, uint32_t *off, uint8_t *proto)
{
	struct pkt *p = d->p;
	const uint8_t *h = d->frame + *off;
	uint32_t avail = d->end - *off;
	uint32_t hlen, total;
	uint16_t frag;

	if (avail < IPV4_MIN_HLEN)
		return DECODE_ERR_SHORT_IP;
	hlen = (uint32_t)(h[0] & 0x0f) * 4;
	if (hlen < IPV4_MIN_HLEN || hlen > avail)
		return DECODE_ERR_IP_HDR_LEN;
	total = rd16(h + 2);
	if (total < hlen)
		return DECODE_ERR_IP_TOTAL_LEN;
	frag = rd16(h + 6);
	if (frag & IPV4_OFFSET_MASK)
		return DECODE_ERR_FRAGMENT;
	if (frag & IPV4_MF)
		p->flags |= PKT_F_FRAGMENT;

	bound_ip(d, *off, total);
	p->l3 = h;
	p->l3_len = d->caplen - *off;
	p->ip_version = 4;
	read_addr(&p->src, h + 12, 4);
	read_addr(&p->dst, h + 16, 4);
	*proto = h[9];
	*off += hlen;
	return DECODE_OK;
}

/* IPv6 header and extension headers at *off; as decode_ipv4(). */
static enum decode_err decode_ipv6(struct dec *d, uint32_t *off, uint8_t *proto)
{
	struct pkt *p = d->p;
	const uint8_t *h = d->frame + *off;
	uint16_t plen;

	if (d->end - *off < IPV6_HLEN)
		return DECODE_ERR_SHORT_IP;
	plen = rd16(h + 4);
	/* 0 is a jumbogram (RFC 2675) or a bare header: bound by what is there. */
	if (plen)
		bound_ip(d, *off, IPV6_HLEN + (uint32_t)plen);
	p->l3 = h;
	p->l3_len = d->caplen - *off;
	p->ip_version = 6;
	read_addr(&p->src, h + 8, 16);
	read_addr(&p->dst, h + 24, 16);
	*proto = h[6];
	*off += IPV6_HLEN;
	return walk_ipv6_ext(d, off, proto);
}

/*
 * IP packet at off, unwrapping IP-in-IP tunnels down to the innermost
 * packet. version is what the outer layer announced (0: from the nibble).
 */
static enum decode_err decode_ip(struct dec *d, uint32_t off, unsigned int version)
{
	unsigned int depth = 0;

	for (;;) {
		enum decode_err err;
		unsigned int nibble;
		uint8_t proto;

		if (off >= d->end)
			return DECODE_ERR_SHORT_IP;
		nibble = d->frame[off] >> 4;
		if ((nibble != 4 && nibble != 6) || (version && nibble != version))
			return DECODE_ERR_IP_VERSION;
		if (nibble == 4)
			err = decode_ipv4(d, &off, &proto);
		else
			err = decode_ipv6(d, &off, &proto);
		if (err)
			return err;

		switch (proto) {
		case IPPROTO_NUM_IPV6:
			version = 6;
			err = enter_tunnel(d->p, &depth, nibble == 4 ? TUNNEL_6IN4 : TUNNEL_6IN6);
			break;
		case IPPROTO_NUM_IPIP:
			version = 4;
			err = enter_tunnel(d->p, &depth, nibble == 4 ? TUNNEL_IPIP : TUNNEL_4IN6);
			break;
		default:
			return decode_l4(d, off, proto);
		}
		if (err)
			return err;
	}
}

/* PPPoE session header and PPP protocol at off. */
static enum decode_err decode_pppoe(struct dec *d, uint32_t off)
{
	const uint8_t *h = d->frame + off;

	if (d->caplen - off < PPPOE_HLEN + PPP_PROTO_LEN)
		return DECODE_ERR_SHORT_L2;
	if (h[0] != PPPOE_VER_TYPE || h[1] != 0)
		return DECODE_ERR_NOT_IP;
	switch (rd16(h + PPPOE_HLEN)) {
	case PPP_PROTO_IPV4:
		return decode_ip(d, off + PPPOE_HLEN + PPP_PROTO_LEN, 4);
	case PPP_PROTO_IPV6:
		return decode_ip(d, off + PPPOE_HLEN + PPP_PROTO_LEN, 6);
	default:
		return DECODE_ERR_NOT_IP;
	}
}

/* MPLS label stack at off: skip to the bottom of the stack, then IP. */
static enum decode_err decode_mpls(struct dec *d, uint32_t off)
{
	unsigned int nibble;

	for (;;) {
		if (d->caplen - off < MPLS_LABEL_LEN)
			return DECODE_ERR_SHORT_L2;
		off += MPLS_LABEL_LEN;
		if (d->frame[off - 2] & MPLS_BOS)
			break;
	}
	if (off >= d->caplen)
		return DECODE_ERR_SHORT_IP;
	/* No protocol field: anything but IP (pseudowires, ...) is not ours. */
	nibble = d->frame[off] >> 4;
	if (nibble != 4 && nibble != 6)
		return DECODE_ERR_NOT_IP;
	return decode_ip(d, off, nibble);
}

/* EtherType at off - 2 announcing what starts at off (VLAN tags first). */
static enum decode_err decode_ethertype(struct dec *d, uint16_t type, uint32_t off)
{
	struct pkt *p = d->p;

	for (;;) {
		switch (type) {
		case ETHERTYPE_IPV4:
			return decode_ip(d, off, 4);
		case ETHERTYPE_IPV6:
			return decode_ip(d, off, 6);
		case ETHERTYPE_8021Q:
		case ETHERTYPE_8021AD:
			if (p->vlan_tags >= CONFIG_DECODE_MAX_VLAN_TAGS)
				return DECODE_ERR_VLAN_DEPTH;
			if (d->caplen - off < VLAN_HLEN)
				return DECODE_ERR_SHORT_L2;
			/* Overwritten tag by tag: the innermost id wins, as in ndpiReader. */
			p->vlan = rd16(d->frame + off) & 0x0fff;
			p->vlan_tags++;
			type = rd16(d->frame + off + 2);
			off += VLAN_HLEN;
			break;
		case ETHERTYPE_PPPOE_SESSION:
			return decode_pppoe(d, off);
		case ETHERTYPE_MPLS_UNICAST:
			return decode_mpls(d, off);
		case ETHERTYPE_ARP:
			/* not tracked, but its body says who holds which address (the inventory) */
			p->flags |= PKT_F_ARP;
			p->l3 = d->frame + off;
			p->l3_len = d->caplen - off;
			return DECODE_ERR_NOT_IP;
		default:
			return DECODE_ERR_NOT_IP;
		}
	}
}

static enum decode_err decode_ethernet(struct dec *d)
{
	const uint8_t *llc;
	uint16_t type;

	if (d->caplen < ETH_HLEN)
		return DECODE_ERR_SHORT_L2;
	d->p->src_mac = d->frame + 6;
	type = rd16(d->frame + 12);
	if (type >= ETH_TYPE_MIN)
		return decode_ethertype(d, type, ETH_HLEN);
	if (type > ETH_8023_MAX_LEN)
		return DECODE_ERR_NOT_IP;

	/* IEEE 802.3: only LLC/SNAP carries an EtherType (STP, CDP, ... do not). */
	if (d->caplen - ETH_HLEN < 3)
		return DECODE_ERR_SHORT_L2;
	llc = d->frame + ETH_HLEN;
	if (llc[0] != LLC_SAP_SNAP || llc[1] != LLC_SAP_SNAP || llc[2] != LLC_CTRL_UI)
		return DECODE_ERR_NOT_IP;
	if (d->caplen - ETH_HLEN < LLC_SNAP_LEN)
		return DECODE_ERR_SHORT_L2;
	return decode_ethertype(d, rd16(llc + 6), ETH_HLEN + LLC_SNAP_LEN);
}

static enum decode_err decode_null(struct dec *d)
{
	uint32_t be, le;

	if (d->caplen < NULL_HLEN)
		return DECODE_ERR_SHORT_L2;
	/* Host order of the capturing machine, which may not be ours. */
	be = rd32(d->frame);
	le = rd32_le(d->frame);
	if (be == BSD_AF_INET || le == BSD_AF_INET)
		return decode_ip(d, NULL_HLEN, 4);
	if (be == BSD_AF_INET6_BSD || le == BSD_AF_INET6_BSD || be == BSD_AF_INET6_FREEBSD ||
	    le == BSD_AF_INET6_FREEBSD || be == BSD_AF_INET6_DARWIN || le == BSD_AF_INET6_DARWIN)
		return decode_ip(d, NULL_HLEN, 6);
	return DECODE_ERR_NOT_IP;
}

enum decode_err decode_packet(enum link_type link, const uint8_t *frame, uint32_t caplen,
			      uint32_t wirelen, struct pkt *p)
{
	struct dec d = {
		.frame = frame,
		.caplen = frame ? caplen : 0,
		.cut = caplen < wirelen,
		.p = p,
	};

	*p = (struct pkt){ .wire_len = wirelen, .cap_len = caplen };
	if (caplen < wirelen)
		p->flags |= PKT_F_TRUNCATED;
	d.end = d.caplen;

	switch (link) {
	case LINK_ETHERNET:
		return decode_ethernet(&d);
	case LINK_LINUX_SLL:
		if (d.caplen < SLL_HLEN)
			return DECODE_ERR_SHORT_L2;
		return decode_ethertype(&d, rd16(frame + 14), SLL_HLEN);
	case LINK_NULL:
		return decode_null(&d);
	case LINK_RAW:
		return decode_ip(&d, 0, 0);
	default:
		return DECODE_ERR_LINK_TYPE;
	}
}

static const char *const decode_err_names[] = {
	[DECODE_OK] = "ok",
	[DECODE_ERR_SHORT_L2] = "short_l2",
	[DECODE_ERR_LINK_TYPE] = "link_type",
	[DECODE_ERR_NOT_IP] = "not_ip",
	[DECODE_ERR_VLAN_DEPTH] = "vlan_depth",
	[DECODE_ERR_SHORT_IP] = "short_ip",
	[DECODE_ERR_IP_VERSION] = "ip_version",
	[DECODE_ERR_IP_HDR_LEN] = "ip_hdr_len",
	[DECODE_ERR_IP_TOTAL_LEN] = "ip_total_len",
	[DECODE_ERR_IPV6_EXT] = "ipv6_ext",
	[DECODE_ERR_FRAGMENT] = "fragment",
	[DECODE_ERR_TUNNEL_DEPTH] = "tunnel_depth",
	[DECODE_ERR_SHORT_L4] = "short_l4",
	[DECODE_ERR_TCP_HDR_LEN] = "tcp_hdr_len",
};

_Static_assert(ARRAY_SIZE(decode_err_names) == DECODE_ERR_MAX, "decode_err_names out of step");

const char *decode_err_name(enum decode_err e)
{
	if ((unsigned int)e >= ARRAY_SIZE(decode_err_names) || !decode_err_names[e])
		return "unknown";
	return decode_err_names[e];
}

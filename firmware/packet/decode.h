/*
 * Packet decoder: link layer (Ethernet, Linux SLL, BSD loopback/DLT_NULL, raw
 * IP), 802.1Q/802.1ad tags, IPv4 (options, fragments), IPv6 (extension
 * headers, fragments), IP-in-IP tunnels (6in4, 4in6, IPIP, IPv6-in-IPv6),
 * TCP, UDP, ICMP, ICMPv6, and Teredo recognition.
 *
 * decode_packet() never reads outside [frame, frame + caplen), never
 * allocates and never writes to the frame. A frame it cannot use is
 * classified by one `enum decode_err` reason, which the caller counts.
 *
 * What is tracked matches nDPI's own reader (ndpiReader) so classification
 * agrees with it: the innermost IP packet of an IP-in-IP tunnel is the one
 * tracked; a Teredo packet (UDP port 3544 carrying IPv6) is tracked as its
 * outer UDP flow and the inner IPv6 header is reported in pkt->inner;
 * an IPv4 or IPv6 fragment with a non-zero offset has no transport header and
 * is reported as DECODE_ERR_FRAGMENT (the first fragment is decoded normally
 * and flagged PKT_F_FRAGMENT).
 */
#ifndef TG_DECODE_H
#define TG_DECODE_H

#include <stdint.h>

#include "core/common.h"
#include "core/port.h" /* enum link_type */

/* Ethernet types the decoder walks (and enforcement writes back). */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define ETHERTYPE_MPLS_UNICAST 0x8847

/* Why a frame was not tracked. Keep decode_err_name() in step. */
enum decode_err {
	DECODE_OK = 0,
	DECODE_ERR_SHORT_L2,        /* shorter than its link-layer header */
	DECODE_ERR_LINK_TYPE,       /* link type not supported */
	DECODE_ERR_NOT_IP,          /* ARP, LLDP, STP, ... (not an error, just not tracked) */
	DECODE_ERR_VLAN_DEPTH,      /* more than CONFIG_DECODE_MAX_VLAN_TAGS tags */
	DECODE_ERR_SHORT_IP,        /* shorter than the IP header */
	DECODE_ERR_IP_VERSION,      /* version nibble is neither 4 nor 6 */
	DECODE_ERR_IP_HDR_LEN,      /* IPv4 IHL < 5 or beyond the captured data */
	DECODE_ERR_IP_TOTAL_LEN,    /* IP total/payload length shorter than the header (beyond the capture: PKT_F_TRUNCATED) */
	DECODE_ERR_IPV6_EXT,        /* malformed or over-long IPv6 extension header chain */
	DECODE_ERR_FRAGMENT,        /* non-first IP fragment (no transport header) */
	DECODE_ERR_TUNNEL_DEPTH,    /* more than CONFIG_DECODE_MAX_TUNNEL_DEPTH nested tunnels */
	DECODE_ERR_SHORT_L4,        /* TCP/UDP/ICMP header truncated */
	DECODE_ERR_TCP_HDR_LEN,     /* TCP data offset < 5 or beyond the segment */
	DECODE_ERR_MAX
};

const char *decode_err_name(enum decode_err e);

/* pkt.flags */
#define PKT_F_FRAGMENT 0x01 /* first fragment of a fragmented IP packet */
#define PKT_F_TRUNCATED 0x02 /* caplen < wire length */
#define PKT_F_TEREDO 0x04    /* UDP carries Teredo: pkt->inner is set */
#define PKT_F_ARP 0x08       /* an ARP frame (DECODE_ERR_NOT_IP): l3, l3_len are its ARP body */

/* pkt.l4_proto: IANA protocol numbers, named here so the portable core needs no <netinet/in.h>. */
#define PROTO_TCP 6
#define PROTO_UDP 17

/* pkt.tcp_flags */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* pkt.tunnel: outermost encapsulation that was unwrapped */
enum pkt_tunnel {
	TUNNEL_NONE = 0,
	TUNNEL_6IN4, /* IPv6 in IPv4 (protocol 41) */
	TUNNEL_4IN6, /* IPv4 in IPv6 (next header 4) */
	TUNNEL_IPIP, /* IPv4 in IPv4 */
	TUNNEL_6IN6, /* IPv6 in IPv6 */
};

/* An IP address, IPv4 in the first 4 bytes (rest zero). */
union ip_addr {
	uint8_t b[16];
	uint32_t w[4];
};

struct pkt {
	/* Innermost IP header (what is tracked and given to nDPI). */
	const uint8_t *l3;
	uint32_t l3_len;          /* captured bytes from l3 to the end of the frame */
	uint8_t ip_version;       /* 4 or 6 */
	uint8_t l4_proto;         /* IPPROTO_* after extension headers */
	uint8_t tunnel;           /* enum pkt_tunnel */
	uint8_t flags;            /* PKT_F_* */
	uint16_t vlan;            /* innermost 802.1Q id, 0 if untagged */
	uint8_t vlan_tags;        /* number of tags */
	uint8_t tcp_flags;        /* TCP flags byte, 0 for other protocols */
	union ip_addr src, dst;
	uint16_t sport, dport;    /* host order; 0 for protocols without ports */
	const uint8_t *l4;        /* transport header */
	uint32_t l4_len;          /* transport header + payload, bounded by IP length and capture */
	const uint8_t *payload;
	uint32_t payload_len;
	const uint8_t *inner;     /* Teredo: the inner IPv6 header, else NULL */
	uint32_t wire_len;        /* frame length on the wire (of all its segments) */
	uint32_t more_segs;       /* wire frames it stands for beyond one (a coalesced TCP frame) */
	uint32_t cap_len;         /* captured length */
	const uint8_t *src_mac;   /* Ethernet: the frame's source address (in the frame); else NULL */
};

/*
 * Decode one frame. Returns DECODE_OK and fills *p, or an enum decode_err
 * reason (p is then partly filled and must not be used).
 */
enum decode_err decode_packet(enum link_type link, const uint8_t *frame, uint32_t caplen,
			      uint32_t wirelen, struct pkt *p);

#endif

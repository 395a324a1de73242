/* Frames of a conversation between two ends (frame.c). */
#ifndef TG_PCAPGEN_FRAME_H
#define TG_PCAPGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "out.h"

/* Ethernet + one VLAN tag + IPv6 leaves this much for the transport layer. */
#define PG_L4_MAX (PG_SNAPLEN - 14 - 4 - 40)

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100

#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

/* The two ends of a conversation, and the direction a frame goes: from dir. */
enum { PG_CLI, PG_SRV };

struct pg_end {
	uint8_t mac[6];
	uint8_t addr[16]; /* IPv4 uses the first 4 bytes */
	uint16_t port;    /* ICMP: the echo identifier */
	uint8_t ttl;
	uint16_t ip_id;
	uint16_t window;
	uint16_t mss;
	uint32_t seq; /* TCP: next sequence number to send */
};

struct pg_conv {
	struct pg_end end[2]; /* [PG_CLI], [PG_SRV] */
	int family;           /* AF_INET or AF_INET6 */
	uint8_t proto;
	uint16_t vlan; /* 0: untagged */
};

/* Every server is off-link, so its frames come from the gateway's MAC. */
extern const uint8_t frame_gw_mac[6];

/*
 * Wraps a transport segment (checksum field zero) in IP and Ethernet into b
 * and fills in the transport checksum. *ip_at gets where the IP header
 * starts (garbage frames rewrite it); the segment follows it.
 */
void frame_build(struct buf *b, struct pg_conv *c, int dir, const uint8_t *l4, size_t l4len,
		 size_t *ip_at);
/* frame_build, then write the frame. */
void frame_send(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *l4, size_t l4len);

/* A UDP datagram from dir to the other end. */
void frame_udp(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data, size_t len);
/* One TCP segment from dir; a SYN carries MSS and SACK-permitted options. */
void frame_tcp(struct pg_out *out, struct pg_conv *c, int dir, uint8_t flags,
	       const uint8_t *data, size_t len);
/* The three-way handshake, client first. */
void frame_tcp_open(struct pg_out *out, struct pg_conv *c);
/* Sends data in MSS-sized segments, PSH on the last one. */
void frame_tcp_data(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data,
		    size_t len);
void frame_tcp_ack(struct pg_out *out, struct pg_conv *c, int dir);
/* dir closes first, the peer answers with its own FIN, dir acks it. */
void frame_tcp_close(struct pg_out *out, struct pg_conv *c, int dir);

#endif

/*
 * Ethernet, VLAN, IPv4/IPv6 and the TCP/UDP segments of a conversation.
 * Every length and checksum (IPv4 header, TCP, UDP, ICMP) is computed, so
 * tshark shows no errors and nDPI sees the traffic as it would a real
 * capture. A conversation (struct pg_conv) keeps each end's addresses, IP id
 * and TCP sequence number, so the helpers can be called in any order.
 */
#include <stdint.h>
#include <sys/socket.h>

#include "core/csum.h"
#include "frame.h"

const uint8_t frame_gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

void frame_build(struct buf *b, struct pg_conv *c, int dir, const uint8_t *l4,
		 size_t l4len, size_t *ip_at)
{
	struct pg_end *me = &c->end[dir];
	const struct pg_end *peer = &c->end[!dir];
	size_t alen = c->family == AF_INET ? 4 : 16;
	size_t l4_at, csum_at;
	uint32_t sum = 0;

	buf_putmem(b, peer->mac, 6);
	buf_putmem(b, me->mac, 6);
	if (c->vlan) {
		buf_put16(b, ETH_P_8021Q);
		buf_put16(b, c->vlan & 0x0fff);
	}
	if (c->family == AF_INET) {
		buf_put16(b, ETH_P_IPV4);
		*ip_at = b->len;
		buf_put8(b, 0x45);
		buf_put8(b, 0);
		buf_put16(b, (uint16_t)(20 + l4len));
		buf_put16(b, me->ip_id++);
		buf_put16(b, 0x4000); /* DF, as Linux sends */
		buf_put8(b, me->ttl);
		buf_put8(b, c->proto);
		buf_put16(b, 0);
		buf_putmem(b, me->addr, 4);
		buf_putmem(b, peer->addr, 4);
		buf_set16(b->p + *ip_at + 10, csum_fold(csum_add(0, b->p + *ip_at, 20)));
	} else {
		buf_put16(b, ETH_P_IPV6);
		*ip_at = b->len;
		buf_put32(b, 0x60000000);
		buf_put16(b, (uint16_t)l4len);
		buf_put8(b, c->proto);
		buf_put8(b, me->ttl);
		buf_putmem(b, me->addr, 16);
		buf_putmem(b, peer->addr, 16);
	}

	l4_at = b->len;
	buf_putmem(b, l4, l4len);

	/*
	 * The pseudo-header (RFC 768/793 for IPv4, RFC 8200 8.1 for IPv6).
	 * Written as IPv6's 32-bit length + 24 zero bits + next header, it sums
	 * the same as IPv4's zero + protocol + 16-bit length. ICMPv4 has none
	 * (ICMPv6 would, but nothing here sends it).
	 */
	if (c->proto != IPPROTO_ICMP_) {
		uint8_t ph[8] = { 0 };

		sum = csum_add(sum, me->addr, alen);
		sum = csum_add(sum, peer->addr, alen);
		ph[2] = (uint8_t)(l4len >> 8);
		ph[3] = (uint8_t)l4len;
		ph[7] = c->proto;
		sum = csum_add(sum, ph, sizeof(ph));
	}
	sum = csum_add(sum, b->p + l4_at, l4len);
	csum_at = l4_at + (c->proto == IPPROTO_TCP_ ? 16 : c->proto == IPPROTO_UDP_ ? 6 : 2);
	sum = csum_fold(sum);
	if (c->proto == IPPROTO_UDP_ && sum == 0)
		sum = 0xffff; /* RFC 768: zero means "no checksum" */
	buf_set16(b->p + csum_at, sum);
}

void frame_send(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *l4, size_t l4len)
{
	static uint8_t frame[PG_SNAPLEN];
	struct buf b = BUF_ON(frame);
	size_t ip_at;

	frame_build(&b, c, dir, l4, l4len, &ip_at);
	pg_out_frame(out, b.p, b.len);
}

static uint8_t l4buf[PG_L4_MAX];

void frame_udp(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data, size_t len)
{
	struct buf b = BUF_ON(l4buf);

	buf_put16(&b, c->end[dir].port);
	buf_put16(&b, c->end[!dir].port);
	buf_put16(&b, (uint16_t)(8 + len));
	buf_put16(&b, 0);
	buf_putmem(&b, data, len);
	frame_send(out, c, dir, b.p, b.len);
}

void frame_tcp(struct pg_out *out, struct pg_conv *c, int dir, uint8_t flags,
	       const uint8_t *data, size_t len)
{
	struct pg_end *me = &c->end[dir];
	const struct pg_end *peer = &c->end[!dir];
	struct buf b = BUF_ON(l4buf);
	size_t optlen = 0;

	buf_put16(&b, me->port);
	buf_put16(&b, peer->port);
	buf_put32(&b, me->seq);
	buf_put32(&b, (flags & TH_ACK) ? peer->seq : 0);
	if (flags & TH_SYN)
		optlen = 8;
	buf_put8(&b, (uint8_t)(((20 + optlen) / 4) << 4));
	buf_put8(&b, flags);
	buf_put16(&b, me->window);
	buf_put16(&b, 0); /* checksum */
	buf_put16(&b, 0); /* urgent pointer */
	if (flags & TH_SYN) {
		/* MSS, NOP, NOP, SACK permitted */
		buf_put8(&b, 2);
		buf_put8(&b, 4);
		buf_put16(&b, me->mss);
		buf_put32(&b, 0x01010402);
	}
	buf_putmem(&b, data, len);

	me->seq += (uint32_t)len + !!(flags & TH_SYN) + !!(flags & TH_FIN);
	frame_send(out, c, dir, b.p, b.len);
}

void frame_tcp_open(struct pg_out *out, struct pg_conv *c)
{
	frame_tcp(out, c, PG_CLI, TH_SYN, NULL, 0);
	frame_tcp(out, c, PG_SRV, TH_SYN | TH_ACK, NULL, 0);
	frame_tcp(out, c, PG_CLI, TH_ACK, NULL, 0);
}

void frame_tcp_data(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data, size_t len)
{
	size_t mss = c->end[!dir].mss;

	while (len) {
		size_t n = len < mss ? len : mss;

		frame_tcp(out, c, dir, (uint8_t)(TH_ACK | (n == len ? TH_PSH : 0)), data, n);
		data += n;
		len -= n;
	}
}

void frame_tcp_ack(struct pg_out *out, struct pg_conv *c, int dir)
{
	frame_tcp(out, c, dir, TH_ACK, NULL, 0);
}

void frame_tcp_close(struct pg_out *out, struct pg_conv *c, int dir)
{
	frame_tcp(out, c, dir, TH_FIN | TH_ACK, NULL, 0);
	frame_tcp(out, c, !dir, TH_FIN | TH_ACK, NULL, 0);
	frame_tcp(out, c, dir, TH_ACK, NULL, 0);
}

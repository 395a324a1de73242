/*
 * garbage N (flows --kind garbage): frames a decoder must survive, not
 * understand. Each frame is one of the classes below, drawn from the --seed
 * stream, so a crash or a sanitizer report reproduces from (N, seed) alone.
 * The structured ones start as a well-formed frame (frame_build, checksums
 * right) and then get exactly the damage their class names, with the IPv4
 * header checksum recomputed most of the time: a decoder that stops at a bad
 * checksum must still meet the bad length behind a good one.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "core/common.h"
#include "core/csum.h"
#include "frame.h"
#include "garbage.h"

enum garbage_class {
	G_RANDOM,     /* random bytes, length 1..GARBAGE_RAND_MAX */
	G_RANDOM_L3,  /* an Ethernet header with a real ethertype, then noise */
	G_TRUNCATED,  /* a valid frame cut anywhere */
	G_BAD_LENGTH, /* IPv4 total / IPv6 payload / UDP length absurd */
	G_BAD_IHL,    /* IPv4 IHL below 5, or beyond the packet */
	G_TCP_DOFF,   /* TCP data offset below 5, or beyond the segment */
	G_VLAN_STACK, /* 2..GARBAGE_VLAN_MAX stacked tags */
	G_IPV6_EXT,   /* IPv6 extension-header chains, lengths past the end */
	G_FRAGMENT,   /* IPv4 and IPv6 fragments: tiny, last-only, past 64 KiB */
	G_CLASSES,
};

/*
 * Random-bytes frames go a little past a 1514-byte Ethernet frame. None is
 * empty: tcpreplay refuses a zero-length record and stops there. Replayed
 * on a live link, frames under 14 or over 1514 bytes are refused by the
 * kernel; tcpreplay counts them as failed and goes on.
 */
#define GARBAGE_RAND_MAX 1600
/* The structured ones stay within one, so a live link carries them all. */
#define GARBAGE_FRAME_MAX 1514
/* Payload behind a valid transport header: small, so headers dominate. */
#define GARBAGE_PAYLOAD_MAX 200
/* QinQ needs 2; 40 is far past anything real and still well under a frame. */
#define GARBAGE_VLAN_MAX 40
/* RFC 8200 recommends each extension at most once; this chains many. */
#define GARBAGE_EXT_MAX 24

#define ETH_P_ARP 0x0806
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ_OLD 0x9100

/* The transport segment of a frame being built. */
static uint8_t l4buf[PG_L4_MAX];

static uint32_t rnd(struct pg_rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

/*
 * Destination: broadcast, an IPv4 or IPv6 multicast group, or a unicast
 * address. Source: anything, including the multicast (group bit) and
 * all-zero addresses that no real NIC sends from: a bridge that learns
 * source MACs must not learn these.
 */
static void garbage_macs(struct pg_rng *r, uint8_t dst[6], uint8_t src[6])
{
	static const uint8_t mcast4[3] = { 0x01, 0x00, 0x5e }, mcast6[2] = { 0x33, 0x33 };

	rng_bytes(r, dst, 6);
	switch (rnd(r, 4)) {
	case 0:
		memset(dst, 0xff, 6);
		break;
	case 1:
		memcpy(dst, mcast4, 3);
		dst[3] &= 0x7f;
		break;
	case 2:
		memcpy(dst, mcast6, 2);
		break;
	default:
		dst[0] &= 0xfe;
	}
	rng_bytes(r, src, 6);
	switch (rnd(r, 8)) {
	case 0:
	case 1:
		src[0] |= 0x01; /* multicast source */
		break;
	case 2:
		memset(src, 0xff, 6);
		break;
	case 3:
		memset(src, 0, 6);
		break;
	default:
		src[0] &= 0xfe;
	}
}

/*
 * A conversation with random endpoints (any address, broadcast and
 * multicast included), its own MACs, and a transport protocol.
 */
static void garbage_conv(struct pg_rng *r, struct pg_conv *c, int family, uint8_t proto)
{
	memset(c, 0, sizeof(*c));
	c->family = family;
	c->proto = proto;
	garbage_macs(r, c->end[PG_SRV].mac, c->end[PG_CLI].mac);
	for (int d = 0; d < 2; d++) {
		struct pg_end *e = &c->end[d];

		rng_bytes(r, e->addr, sizeof(e->addr));
		e->port = (uint16_t)rng_next(r);
		e->ttl = (uint8_t)rng_next(r);
		e->ip_id = (uint16_t)rng_next(r);
	}
	if (family == AF_INET6 && rnd(r, 2)) { /* link-local source */
		c->end[PG_CLI].addr[0] = 0xfe;
		c->end[PG_CLI].addr[1] = 0x80;
	}
	if (family == AF_INET && rnd(r, 8) == 0) /* limited broadcast */
		memset(c->end[PG_SRV].addr, 0xff, 4);
	if (rnd(r, 4) == 0)
		c->vlan = (uint16_t)rng_next(r);
}

/*
 * A TCP header (options: none, or MSS + SACK-permitted) with random flags,
 * a data offset of doff words (0: the right one), then len random bytes.
 */
static void garbage_tcp(struct buf *b, struct pg_rng *r, struct pg_conv *c, unsigned doff,
			size_t len)
{
	size_t optlen = rnd(r, 2) ? 8 : 0;

	buf_put16(b, c->end[PG_CLI].port);
	buf_put16(b, c->end[PG_SRV].port);
	buf_put32(b, (uint32_t)rng_next(r));
	buf_put32(b, (uint32_t)rng_next(r));
	buf_put8(b, (uint8_t)((doff ? doff : (20 + optlen) / 4) << 4));
	buf_put8(b, (uint8_t)rng_next(r));
	buf_put16(b, (uint16_t)rng_next(r));
	buf_put16(b, 0);
	buf_put16(b, 0);
	if (optlen) {
		buf_put8(b, 2);
		buf_put8(b, 4);
		buf_put16(b, 1460);
		buf_put32(b, 0x01010402);
	}
	buf_putrand(b, r, len);
}

/* A UDP header with length field ulen (0: the right one), then len bytes. */
static void garbage_udp(struct buf *b, struct pg_rng *r, struct pg_conv *c, uint32_t ulen,
			size_t len)
{
	buf_put16(b, c->end[PG_CLI].port);
	buf_put16(b, c->end[PG_SRV].port);
	buf_put16(b, (uint16_t)(ulen ? ulen : 8 + len));
	buf_put16(b, 0);
	buf_putrand(b, r, len);
}

/*
 * A well-formed frame: IPv4 or IPv6, TCP, UDP or (IPv4) ICMP, maybe tagged.
 * *ip_at gets the IP header's offset, *proto the transport protocol.
 */
static void garbage_valid(struct buf *b, struct pg_rng *r, size_t *ip_at, uint8_t *proto)
{
	static const uint8_t protos[] = { IPPROTO_TCP_, IPPROTO_UDP_, IPPROTO_ICMP_ };
	int family = rnd(r, 2) ? AF_INET : AF_INET6;
	struct pg_conv c;
	struct buf l4 = BUF_ON(l4buf);
	size_t len = rnd(r, GARBAGE_PAYLOAD_MAX + 1);

	*proto = protos[rnd(r, family == AF_INET ? 3 : 2)];
	garbage_conv(r, &c, family, *proto);
	if (*proto == IPPROTO_TCP_) {
		garbage_tcp(&l4, r, &c, 0, len);
	} else if (*proto == IPPROTO_UDP_) {
		garbage_udp(&l4, r, &c, 0, len);
	} else {
		buf_put8(&l4, (uint8_t)rnd(r, 20)); /* type */
		buf_put8(&l4, (uint8_t)rng_next(r));
		buf_put16(&l4, 0);
		buf_putrand(&l4, r, 4 + len);
	}
	frame_build(b, &c, PG_CLI, l4.p, l4.len, ip_at);
}

/* Most of the time a damaged IPv4 header still carries a valid checksum. */
static void garbage_ipv4_csum(struct buf *b, struct pg_rng *r, size_t ip_at)
{
	if (b->p[ip_at] >> 4 != 4 || rnd(r, 4) == 0)
		return;
	buf_set16(b->p + ip_at + 10, 0);
	buf_set16(b->p + ip_at + 10, csum_fold(csum_add(0, b->p + ip_at, 20)));
}

/* A length field value from the edges: 0, tiny, just over, the maximum. */
static uint32_t garbage_len(struct pg_rng *r, size_t real)
{
	switch (rnd(r, 6)) {
	case 0:
		return 0;
	case 1:
		return rnd(r, 8);
	case 2:
		return (uint32_t)real + 1 + rnd(r, 16);
	case 3:
		return real > 1 ? (uint32_t)real - 1 : 0;
	case 4:
		return 0xffff;
	default:
		return rnd(r, 0x10000);
	}
}

static void garbage_bad_length(struct buf *b, struct pg_rng *r)
{
	size_t ip_at, l4_at;
	uint8_t proto;

	garbage_valid(b, r, &ip_at, &proto);
	if (b->p[ip_at] >> 4 == 4) {
		l4_at = ip_at + 20;
		if (proto == IPPROTO_UDP_ && rnd(r, 2)) {
			buf_set16(b->p + l4_at + 4, garbage_len(r, b->len - l4_at));
			return;
		}
		buf_set16(b->p + ip_at + 2, garbage_len(r, b->len - ip_at));
		garbage_ipv4_csum(b, r, ip_at);
	} else {
		l4_at = ip_at + 40;
		if (proto == IPPROTO_UDP_ && rnd(r, 2)) {
			buf_set16(b->p + l4_at + 4, garbage_len(r, b->len - l4_at));
			return;
		}
		buf_set16(b->p + ip_at + 4, garbage_len(r, b->len - l4_at));
	}
}

static void garbage_bad_ihl(struct buf *b, struct pg_rng *r)
{
	size_t ip_at;
	uint8_t proto;

	do {
		b->len = 0;
		garbage_valid(b, r, &ip_at, &proto);
	} while (b->p[ip_at] >> 4 != 4);
	/* 0..4, or 6..15: options that run into (or past) the transport header. */
	b->p[ip_at] = (uint8_t)(0x40 | (rnd(r, 2) ? rnd(r, 5) : 6 + rnd(r, 10)));
	garbage_ipv4_csum(b, r, ip_at);
}

/* The TCP checksum is computed over the damaged header, so it is valid. */
static void garbage_tcp_doff(struct buf *b, struct pg_rng *r)
{
	int family = rnd(r, 2) ? AF_INET : AF_INET6;
	struct buf l4 = BUF_ON(l4buf);
	size_t len = rnd(r, 40);
	struct pg_conv c;
	size_t ip_at;
	/* 0..4, or more words than the segment has (at most 15 = 60 bytes). */
	unsigned doff = rnd(r, 2) ? rnd(r, 5) : 6 + rnd(r, 10);

	garbage_conv(r, &c, family, IPPROTO_TCP_);
	garbage_tcp(&l4, r, &c, doff, len);
	frame_build(b, &c, PG_CLI, l4.p, l4.len, &ip_at);
}

static void garbage_vlan_stack(struct buf *b, struct pg_rng *r)
{
	static const uint16_t tpids[] = { ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ_OLD };
	static uint8_t inner[GARBAGE_FRAME_MAX];
	struct buf in = BUF_ON(inner);
	unsigned tags = 2 + rnd(r, GARBAGE_VLAN_MAX - 1);
	size_t ip_at, body;
	uint8_t proto;

	garbage_valid(&in, r, &ip_at, &proto);
	/* Keep the MACs; tags replace any single tag the valid frame had. */
	buf_putmem(b, in.p, 12);
	for (unsigned i = 0; i < tags; i++) {
		buf_put16(b, tpids[rnd(r, ARRAY_SIZE(tpids))]);
		buf_put16(b, (uint16_t)rng_next(r));
	}
	switch (rnd(r, 3)) {
	case 0: /* the stack is all there is */
		break;
	case 1: /* noise behind the last tag */
		buf_put16(b, (uint16_t)rng_next(r));
		buf_putrand(b, r, rnd(r, 64));
		break;
	default: /* a real packet behind it */
		body = in.len - (ip_at - 2);
		if (body > GARBAGE_FRAME_MAX - b->len)
			body = GARBAGE_FRAME_MAX - b->len;
		buf_putmem(b, in.p + ip_at - 2, body);
	}
}

static void garbage_ipv6_ext(struct buf *b, struct pg_rng *r)
{
	/* hop-by-hop, routing, fragment, ESP, AH, destination, mobility, HIP */
	static const uint8_t exts[] = { 0, 43, 44, 50, 51, 60, 135, 139 };
	static const uint8_t lasts[] = { IPPROTO_TCP_, IPPROTO_UDP_, 58, 59, 0, 255 };
	unsigned n = 1 + rnd(r, GARBAGE_EXT_MAX);
	uint8_t dst[6], src[6], first;
	size_t ip_at, nh_at, plen_at;
	struct pg_conv c;

	garbage_macs(r, dst, src);
	buf_putmem(b, dst, 6);
	buf_putmem(b, src, 6);
	buf_put16(b, ETH_P_IPV6);
	ip_at = b->len;
	garbage_conv(r, &c, AF_INET6, 0);
	buf_put32(b, 0x60000000 | (uint32_t)(rng_next(r) & 0x0fffffff));
	plen_at = b->len;
	buf_put16(b, 0);
	nh_at = b->len;
	first = exts[rnd(r, ARRAY_SIZE(exts))];
	buf_put8(b, first);
	buf_put8(b, 64);
	buf_putmem(b, c.end[PG_CLI].addr, 16);
	buf_putmem(b, c.end[PG_SRV].addr, 16);

	for (unsigned i = 0; i < n && b->len + 8 <= GARBAGE_FRAME_MAX; i++) {
		uint8_t type = b->p[nh_at];
		uint8_t next = i + 1 < n ? exts[rnd(r, ARRAY_SIZE(exts))] : lasts[rnd(r, ARRAY_SIZE(lasts))];
		/* Usually short; sometimes up to 2 KiB, which the frame cannot hold. */
		unsigned hlen = rnd(r, 4) ? rnd(r, 4) : rnd(r, 256);
		size_t size = type == 44 ? 8 : type == 51 ? (hlen + 2) * 4u : (hlen + 1) * 8u;
		size_t room = GARBAGE_FRAME_MAX - b->len;

		nh_at = b->len;
		buf_put8(b, next);
		buf_put8(b, (uint8_t)(type == 44 ? rng_next(r) : hlen));
		buf_putrand(b, r, (size < room ? size : room) - 2);
	}
	if (b->len + 8 <= GARBAGE_FRAME_MAX && rnd(r, 2)) {
		garbage_conv(r, &c, AF_INET6, IPPROTO_UDP_);
		garbage_udp(b, r, &c, 0, rnd(r, 32));
	}
	buf_set16(b->p + plen_at, rnd(r, 3) ? b->len - ip_at - 40 : garbage_len(r, b->len - ip_at - 40));
}

static void garbage_fragment(struct buf *b, struct pg_rng *r)
{
	size_t ip_at;
	uint8_t proto;
	uint16_t off;

	garbage_valid(b, r, &ip_at, &proto);
	switch (rnd(r, 4)) {
	case 0: /* a first fragment that cuts the transport header */
		off = 0x2000;
		break;
	case 1: /* a last fragment with nothing before it */
		off = (uint16_t)(1 + rnd(r, 0x1fff));
		break;
	case 2: /* offset 65528: any payload ends past 64 KiB */
		off = (uint16_t)(0x1fff | (rnd(r, 2) << 13));
		break;
	default:
		off = (uint16_t)rng_next(r);
	}
	if (b->p[ip_at] >> 4 == 4) {
		size_t keep = 8 * (size_t)(1 + rnd(r, 4));

		if ((off & 0x1fff) == 0 && b->len > ip_at + 20 + keep) {
			b->len = ip_at + 20 + keep;
			buf_set16(b->p + ip_at + 2, 20 + keep);
		}
		buf_set16(b->p + ip_at + 6, off);
		garbage_ipv4_csum(b, r, ip_at);
		return;
	}
	/* IPv6: slip a fragment header between the fixed header and the rest. */
	{
		static uint8_t rest[GARBAGE_FRAME_MAX];
		size_t l4_at = ip_at + 40, n = b->len - l4_at;
		uint8_t next = b->p[ip_at + 6];

		if (n > GARBAGE_FRAME_MAX - 8 - l4_at)
			n = GARBAGE_FRAME_MAX - 8 - l4_at;
		if ((off & 0x1fff) == 0 && n > 8)
			n = 8 * (size_t)(1 + rnd(r, (uint32_t)(n / 8)));
		memcpy(rest, b->p + l4_at, n);
		b->len = l4_at;
		buf_put8(b, next);
		buf_put8(b, 0);
		buf_put16(b, (uint16_t)((off & 0x1fff) << 3 | (off >> 13 & 1))); /* offset, M */
		buf_put32(b, (uint32_t)rng_next(r));
		buf_putmem(b, rest, n);
		b->p[ip_at + 6] = 44;
		buf_set16(b->p + ip_at + 4, b->len - l4_at);
	}
}

void garbage_frame(struct pg_out *out, struct pg_rng *r)
{
	static const uint16_t types[] = { ETH_P_IPV4, ETH_P_IPV6, ETH_P_ARP, ETH_P_8021Q,
					  ETH_P_8021AD, 0x8847, 0x8864, 0x88cc, 0x0042 };
	static uint8_t frame[GARBAGE_RAND_MAX];
	struct buf b = BUF_ON(frame);
	size_t ip_at, n;
	uint8_t proto, dst[6], src[6];

	switch ((enum garbage_class)rnd(r, G_CLASSES)) {
	case G_RANDOM:
		buf_putrand(&b, r, 1 + rnd(r, GARBAGE_RAND_MAX));
		break;
	case G_RANDOM_L3:
		garbage_macs(r, dst, src);
		buf_putmem(&b, dst, 6);
		buf_putmem(&b, src, 6);
		buf_put16(&b, types[rnd(r, ARRAY_SIZE(types))]);
		n = rnd(r, 128);
		buf_putrand(&b, r, n);
		/* Let an IP decoder get past the version check. */
		if (n && b.p[12] == 0x08 && b.p[13] == 0x00)
			b.p[14] = (uint8_t)(0x40 | (b.p[14] & 0x0f));
		if (n && b.p[12] == 0x86 && b.p[13] == 0xdd)
			b.p[14] = (uint8_t)(0x60 | (b.p[14] & 0x0f));
		break;
	case G_TRUNCATED:
		garbage_valid(&b, r, &ip_at, &proto);
		b.len = 1 + rnd(r, (uint32_t)b.len - 1);
		break;
	case G_BAD_LENGTH:
		garbage_bad_length(&b, r);
		break;
	case G_BAD_IHL:
		garbage_bad_ihl(&b, r);
		break;
	case G_TCP_DOFF:
		garbage_tcp_doff(&b, r);
		break;
	case G_VLAN_STACK:
		garbage_vlan_stack(&b, r);
		break;
	case G_IPV6_EXT:
		garbage_ipv6_ext(&b, r);
		break;
	case G_FRAGMENT:
		garbage_fragment(&b, r);
		break;
	case G_CLASSES:
		break;
	}
	pg_out_frame(out, b.p, b.len);
}

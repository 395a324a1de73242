/*
 * tg-pcapgen: writes townguard's own test captures.
 *
 * The project ships no third-party captures, so every pcap the tests and
 * benchmarks read is generated here.
 *
 * Why it looks the way it does:
 *
 * - Output is a pure function of the arguments: same arguments, byte-identical
 *   file. Timestamps start at 2026-01-01T00:00:00Z and advance by fixed steps;
 *   the only "randomness" (TCP ISNs, IP ids, TLS randoms, ciphertext, DNS ids,
 *   benchmark source ports and UDP payloads) is a splitmix64 stream from a
 *   fixed seed (demo) or --seed (flows).
 * - Frames are assembled byte by byte with big-endian put helpers, never by
 *   casting header structs over a buffer, and every length and checksum
 *   (IPv4 header, TCP, UDP, ICMP) is computed, so tshark shows no errors and
 *   nDPI sees the traffic exactly as it would a real capture.
 * - The TLS handshakes are hand-assembled records, not produced by a TLS
 *   library: a library draws fresh randoms and keys on every run, and nothing
 *   here encrypts or verifies anything. The one certificate is a real,
 *   self-signed DER blob generated once (see tls_cert) so that nDPI's
 *   certificate parser finds a well-formed subject, issuer and validity.
 * - libpcap is used only for the file format (pcap_open_dead + pcap_dump), in
 *   the pg_out_* functions; "flows" streams packets so that millions of flows
 *   need no more memory than one frame.
 * - "flows --kind" chooses what each benchmark flow is: a DNS exchange, which
 *   nDPI decides on its first packet (dns, the default), or traffic it never
 *   decides: a SYN that gets no answer (syn, as in a port scan) or a datagram
 *   of random bytes to an unknown port (udp). The last two measure what the
 *   flows still under inspection cost. "garbage" (also its own command) is
 *   for the fuzz and robustness tests: frames that are malformed in every
 *   way a decoder or a learning bridge must survive, each class described
 *   above garbage_frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/csum.h"

#define PROG "tg-pcapgen"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-01-01T00:00:00Z: the first timestamp of every capture. */
#define PG_EPOCH 1767225600u
/* NTP counts seconds from 1900-01-01, 70 years (17 of them leap) before Unix. */
#define NTP_UNIX_OFFSET 2208988800u

#define PG_SNAPLEN 65535

/* Ethernet + one VLAN tag + IPv6 leaves this much for the transport layer. */
#define PG_L4_MAX (PG_SNAPLEN - 14 - 4 - 40)
/* Application payloads here are at most a TLS server flight (~1 KiB). */
#define PG_PAYLOAD_MAX 4096

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

#define DNS_A 1
#define DNS_AAAA 28

enum { PG_CLI, PG_SRV };

static __attribute__((format(printf, 1, 2))) void pg_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- PRNG */

/* splitmix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough here. */
struct pg_rng {
	uint64_t s;
};

static uint64_t rng_next(struct pg_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_bytes(struct pg_rng *r, uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = rng_next(r);

		for (int i = 0; i < 8 && n; i++, n--, v >>= 8)
			*p++ = (uint8_t)v;
	}
}

/* ---------------------------------------------------------------- bytes */

/*
 * A fixed-capacity byte builder. Everything written is a constant shape
 * bounded by PG_PAYLOAD_MAX or PG_L4_MAX, so running out is a bug in this
 * file, not an input error: abort.
 */
struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

#define BUF_ON(arr) ((struct buf){ .p = (arr), .len = 0, .cap = sizeof(arr) })

static uint8_t *buf_room(struct buf *b, size_t n)
{
	uint8_t *at;

	if (n > b->cap - b->len) {
		pg_err("internal: %zu-byte buffer overflow", b->cap);
		abort();
	}
	at = b->p + b->len;
	b->len += n;
	return at;
}

static void put8(struct buf *b, uint8_t v)
{
	*buf_room(b, 1) = v;
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t *p = buf_room(b, 2);

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put24(struct buf *b, uint32_t v)
{
	uint8_t *p = buf_room(b, 3);

	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b, (uint16_t)v);
}

static void putmem(struct buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(buf_room(b, n), p, n);
}

static void putstr(struct buf *b, const char *s)
{
	putmem(b, s, strlen(s));
}

static void putrand(struct buf *b, struct pg_rng *r, size_t n)
{
	rng_bytes(r, buf_room(b, n), n);
}

static void set16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Length-prefixed blocks (TLS vectors, DNS rdata): open_lenN reserves the
 * prefix and returns where the block starts, close_lenN writes its length.
 */
static size_t open_len8(struct buf *b)
{
	put8(b, 0);
	return b->len;
}

static void close_len8(struct buf *b, size_t at)
{
	b->p[at - 1] = (uint8_t)(b->len - at);
}

static size_t open_len16(struct buf *b)
{
	put16(b, 0);
	return b->len;
}

static void close_len16(struct buf *b, size_t at)
{
	set16(b->p + at - 2, b->len - at);
}

static size_t open_len24(struct buf *b)
{
	put24(b, 0);
	return b->len;
}

static void close_len24(struct buf *b, size_t at)
{
	size_t n = b->len - at;

	b->p[at - 3] = (uint8_t)(n >> 16);
	set16(b->p + at - 2, n);
}

/* ---------------------------------------------------------------- output */

struct pg_out {
	const char *path;
	FILE *fp;
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	uint64_t usec;      /* timestamp of the next packet, from PG_EPOCH */
	uint32_t step_usec; /* gap after each packet */
	bool regular;       /* a regular file: remove it if writing fails */
};

/* stdio's default buffer makes a million small fwrites slow; 1 MiB does not. */
#define PG_OUT_BUFSZ (1u << 20)

static int pg_out_open(struct pg_out *out, const char *path, uint32_t step_usec)
{
	struct stat st;
	int err;

	memset(out, 0, sizeof(*out));
	out->path = path;
	out->step_usec = step_usec;

	out->fp = fopen(path, "wb");
	if (!out->fp) {
		err = -errno;
		pg_err("cannot write `%s': %s", path, strerror(errno));
		return err;
	}
	/* OUT may be /dev/stdout or a pipe, which must never be unlinked. */
	out->regular = !fstat(fileno(out->fp), &st) && S_ISREG(st.st_mode);
	if (setvbuf(out->fp, NULL, _IOFBF, PG_OUT_BUFSZ)) {
		err = -ENOMEM;
		pg_err("cannot buffer `%s'", path);
		goto err_close;
	}
	out->pcap = pcap_open_dead(DLT_EN10MB, PG_SNAPLEN);
	if (!out->pcap) {
		err = -ENOMEM;
		pg_err("pcap_open_dead failed");
		goto err_close;
	}
	out->dumper = pcap_dump_fopen(out->pcap, out->fp);
	if (!out->dumper) {
		err = -EIO;
		pg_err("cannot write `%s': %s", path, pcap_geterr(out->pcap));
		goto err_pcap;
	}
	return 0;

err_pcap:
	pcap_close(out->pcap);
err_close:
	fclose(out->fp);
	if (out->regular)
		unlink(path);
	return err;
}

/* Flushes and closes; on a write error a partial regular file is removed. */
static int pg_out_close(struct pg_out *out)
{
	int err = 0;

	if (pcap_dump_flush(out->dumper) || ferror(out->fp)) {
		err = -EIO;
		pg_err("cannot write `%s': %s", out->path, strerror(errno));
	}
	pcap_dump_close(out->dumper); /* also fcloses out->fp */
	pcap_close(out->pcap);
	if (err && out->regular)
		unlink(out->path);
	return err;
}

static void pg_out_frame(struct pg_out *out, const uint8_t *frame, size_t len)
{
	struct pcap_pkthdr h = {
		.ts.tv_sec = (time_t)(PG_EPOCH + out->usec / 1000000),
		.ts.tv_usec = (suseconds_t)(out->usec % 1000000),
		.caplen = (bpf_u_int32)len,
		.len = (bpf_u_int32)len,
	};

	pcap_dump((u_char *)out->dumper, &h, frame);
	out->usec += out->step_usec;
}

/* ---------------------------------------------------------------- frames */

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
static const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/*
 * Wraps a transport segment (checksum field zero) in IP and Ethernet into b
 * and fills in the transport checksum. *ip_at gets where the IP header
 * starts (garbage frames rewrite it); the segment follows it.
 */
static void frame_build(struct buf *b, struct pg_conv *c, int dir, const uint8_t *l4,
			size_t l4len, size_t *ip_at)
{
	struct pg_end *me = &c->end[dir];
	const struct pg_end *peer = &c->end[!dir];
	size_t alen = c->family == AF_INET ? 4 : 16;
	size_t l4_at, csum_at;
	uint32_t sum = 0;

	putmem(b, peer->mac, 6);
	putmem(b, me->mac, 6);
	if (c->vlan) {
		put16(b, ETH_P_8021Q);
		put16(b, c->vlan & 0x0fff);
	}
	if (c->family == AF_INET) {
		put16(b, ETH_P_IPV4);
		*ip_at = b->len;
		put8(b, 0x45);
		put8(b, 0);
		put16(b, (uint16_t)(20 + l4len));
		put16(b, me->ip_id++);
		put16(b, 0x4000); /* DF, as Linux sends */
		put8(b, me->ttl);
		put8(b, c->proto);
		put16(b, 0);
		putmem(b, me->addr, 4);
		putmem(b, peer->addr, 4);
		set16(b->p + *ip_at + 10, csum_fold(csum_add(0, b->p + *ip_at, 20)));
	} else {
		put16(b, ETH_P_IPV6);
		*ip_at = b->len;
		put32(b, 0x60000000);
		put16(b, (uint16_t)l4len);
		put8(b, c->proto);
		put8(b, me->ttl);
		putmem(b, me->addr, 16);
		putmem(b, peer->addr, 16);
	}

	l4_at = b->len;
	putmem(b, l4, l4len);

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
	set16(b->p + csum_at, sum);
}

/* frame_build, then write the frame. */
static void pg_frame(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *l4,
		     size_t l4len)
{
	static uint8_t frame[PG_SNAPLEN];
	struct buf b = BUF_ON(frame);
	size_t ip_at;

	frame_build(&b, c, dir, l4, l4len, &ip_at);
	pg_out_frame(out, b.p, b.len);
}

static uint8_t l4buf[PG_L4_MAX];

static void udp_send(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data, size_t len)
{
	struct buf b = BUF_ON(l4buf);

	put16(&b, c->end[dir].port);
	put16(&b, c->end[!dir].port);
	put16(&b, (uint16_t)(8 + len));
	put16(&b, 0);
	putmem(&b, data, len);
	pg_frame(out, c, dir, b.p, b.len);
}

static void tcp_segment(struct pg_out *out, struct pg_conv *c, int dir, uint8_t flags,
			const uint8_t *data, size_t len)
{
	struct pg_end *me = &c->end[dir];
	const struct pg_end *peer = &c->end[!dir];
	struct buf b = BUF_ON(l4buf);
	size_t optlen = 0;

	put16(&b, me->port);
	put16(&b, peer->port);
	put32(&b, me->seq);
	put32(&b, (flags & TH_ACK) ? peer->seq : 0);
	if (flags & TH_SYN)
		optlen = 8;
	put8(&b, (uint8_t)(((20 + optlen) / 4) << 4));
	put8(&b, flags);
	put16(&b, me->window);
	put16(&b, 0); /* checksum */
	put16(&b, 0); /* urgent pointer */
	if (flags & TH_SYN) {
		/* MSS, NOP, NOP, SACK permitted */
		put8(&b, 2);
		put8(&b, 4);
		put16(&b, me->mss);
		put32(&b, 0x01010402);
	}
	putmem(&b, data, len);

	me->seq += (uint32_t)len + !!(flags & TH_SYN) + !!(flags & TH_FIN);
	pg_frame(out, c, dir, b.p, b.len);
}

static void tcp_open(struct pg_out *out, struct pg_conv *c)
{
	tcp_segment(out, c, PG_CLI, TH_SYN, NULL, 0);
	tcp_segment(out, c, PG_SRV, TH_SYN | TH_ACK, NULL, 0);
	tcp_segment(out, c, PG_CLI, TH_ACK, NULL, 0);
}

/* Sends data in MSS-sized segments, PSH on the last one. */
static void tcp_data(struct pg_out *out, struct pg_conv *c, int dir, const uint8_t *data, size_t len)
{
	size_t mss = c->end[!dir].mss;

	while (len) {
		size_t n = len < mss ? len : mss;

		tcp_segment(out, c, dir, (uint8_t)(TH_ACK | (n == len ? TH_PSH : 0)), data, n);
		data += n;
		len -= n;
	}
}

static void tcp_ack(struct pg_out *out, struct pg_conv *c, int dir)
{
	tcp_segment(out, c, dir, TH_ACK, NULL, 0);
}

/* dir closes first, the peer answers with its own FIN, dir acks it. */
static void tcp_close(struct pg_out *out, struct pg_conv *c, int dir)
{
	tcp_segment(out, c, dir, TH_FIN | TH_ACK, NULL, 0);
	tcp_segment(out, c, !dir, TH_FIN | TH_ACK, NULL, 0);
	tcp_segment(out, c, dir, TH_ACK, NULL, 0);
}

/* ---------------------------------------------------------------- DNS */

static void dns_name(struct buf *b, const char *name)
{
	while (*name) {
		size_t n = strcspn(name, ".");

		put8(b, (uint8_t)n);
		putmem(b, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	put8(b, 0);
}

static void dns_header(struct buf *b, uint16_t id, uint16_t flags, uint16_t ancount)
{
	put16(b, id);
	put16(b, flags);
	put16(b, 1); /* qdcount */
	put16(b, ancount);
	put16(b, 0); /* nscount */
	put16(b, 0); /* arcount */
}

/* A recursive query (RD) for one name. */
static void dns_query(struct buf *b, uint16_t id, const char *name, uint16_t qtype)
{
	dns_header(b, id, 0x0100, 0);
	dns_name(b, name);
	put16(b, qtype);
	put16(b, 1); /* IN */
}

/* Its answer (QR, RD, RA): the question again and one record pointing at it. */
static void dns_reply(struct buf *b, uint16_t id, const char *name, uint16_t qtype,
		      const uint8_t *rdata, size_t rdlen, uint32_t ttl)
{
	dns_header(b, id, 0x8180, 1);
	dns_name(b, name);
	put16(b, qtype);
	put16(b, 1);
	put16(b, 0xc00c); /* compression pointer to the question name */
	put16(b, qtype);
	put16(b, 1);
	put32(b, ttl);
	put16(b, (uint16_t)rdlen);
	putmem(b, rdata, rdlen);
}

/* ---------------------------------------------------------------- TLS */

/*
 * A self-signed ECDSA P-256 certificate for CN=tracker.example.net (SAN the
 * same), valid 2026-01-01 to 2027-01-01 so the capture's own clock finds it
 * current. Generated once with python3-cryptography from a fixed key; it
 * verifies against itself with `openssl verify`.
 */
static const uint8_t tls_cert[] = {
	0x30, 0x82, 0x01, 0x4c, 0x30, 0x81, 0xf4, 0xa0, 0x03, 0x02, 0x01, 0x02,
	0x02, 0x02, 0x10, 0x01, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x04, 0x03, 0x02, 0x30, 0x1e, 0x31, 0x1c, 0x30, 0x1a, 0x06, 0x03,
	0x55, 0x04, 0x03, 0x0c, 0x13, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x72,
	0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
	0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x30, 0x31, 0x30, 0x31, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x30, 0x5a, 0x17, 0x0d, 0x32, 0x37, 0x30, 0x31, 0x30,
	0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x5a, 0x30, 0x1e, 0x31, 0x1c,
	0x30, 0x1a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x13, 0x74, 0x72, 0x61,
	0x63, 0x6b, 0x65, 0x72, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x2e, 0x6e, 0x65, 0x74, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
	0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xe7, 0xac, 0x8e, 0x9f, 0x45,
	0xf9, 0xa8, 0x71, 0x08, 0x0c, 0xaf, 0xbe, 0x90, 0x90, 0xbb, 0x55, 0xf5,
	0xb0, 0x3e, 0xe1, 0x70, 0x3f, 0xea, 0x35, 0x63, 0x0a, 0x82, 0x6d, 0xc1,
	0xa2, 0x6b, 0x20, 0x5e, 0x88, 0x37, 0xc3, 0xb5, 0x6f, 0x88, 0x47, 0x5d,
	0x7c, 0x5d, 0xee, 0xd6, 0x04, 0xc9, 0xd6, 0xc1, 0x33, 0xe8, 0x9a, 0x38,
	0x9f, 0x68, 0x6e, 0x5e, 0xc6, 0x79, 0xcf, 0x14, 0xb3, 0x9c, 0xb2, 0xa3,
	0x22, 0x30, 0x20, 0x30, 0x1e, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x17,
	0x30, 0x15, 0x82, 0x13, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x72, 0x2e,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03,
	0x47, 0x00, 0x30, 0x44, 0x02, 0x20, 0x3d, 0x08, 0xbc, 0x70, 0xae, 0x59,
	0x9b, 0x89, 0xb1, 0xde, 0x5a, 0x94, 0xac, 0x03, 0x4e, 0x05, 0x14, 0x3b,
	0x50, 0x3b, 0xff, 0xfb, 0x5b, 0x52, 0x6c, 0xd2, 0x96, 0x8c, 0x7d, 0xca,
	0xde, 0x98, 0x02, 0x20, 0x42, 0x29, 0x63, 0x10, 0x90, 0x1a, 0x3d, 0x69,
	0xe6, 0x78, 0x5d, 0x98, 0x36, 0xbe, 0x6f, 0x59, 0x13, 0xf8, 0x6e, 0x4d,
	0xb9, 0xd0, 0xa0, 0x72, 0x12, 0x52, 0x05, 0x22, 0xa3, 0x99, 0xb5, 0x06,
};

/*
 * What a TLS 1.2 browser offered before TLS 1.3 (Firefox ~60 order): AEAD
 * ECDHE suites first, CBC and RSA key exchange last for old servers.
 */
static const uint16_t tls_ciphers[] = {
	0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
	0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a,
};

/* x25519, secp256r1, secp384r1, secp521r1 */
static const uint16_t tls_groups[] = { 0x001d, 0x0017, 0x0018, 0x0019 };

/* ecdsa/rsa_pss/rsa_pkcs1 with sha256, 384, 512; then the sha1 fallbacks. */
static const uint16_t tls_sigalgs[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0203, 0x0201,
};

/* ECDHE-ECDSA-AES128-GCM-SHA256: the first offer, and the cert is ECDSA. */
#define TLS_CHOSEN_CIPHER 0xc02b

#define TLS_CCS 20
#define TLS_ALERT 21
#define TLS_HANDSHAKE 22
#define TLS_APPDATA 23

#define TLS_EXT_SNI 0x0000
#define TLS_EXT_STATUS_REQUEST 0x0005
#define TLS_EXT_GROUPS 0x000a
#define TLS_EXT_POINT_FORMATS 0x000b
#define TLS_EXT_SIGALGS 0x000d
#define TLS_EXT_ALPN 0x0010
#define TLS_EXT_EMS 0x0017
#define TLS_EXT_TICKET 0x0023
#define TLS_EXT_RENEGO 0xff01

/* AES-GCM record overhead: 8-byte explicit nonce + 16-byte tag. */
#define TLS_GCM_OVERHEAD 24

static size_t tls_record_open(struct buf *b, uint8_t type, uint16_t version)
{
	put8(b, type);
	put16(b, version);
	return open_len16(b);
}

static size_t tls_hs_open(struct buf *b, uint8_t hs_type)
{
	put8(b, hs_type);
	return open_len24(b);
}

static size_t tls_ext_open(struct buf *b, uint16_t type)
{
	put16(b, type);
	return open_len16(b);
}

static void tls_ext_empty(struct buf *b, uint16_t type)
{
	put16(b, type);
	put16(b, 0);
}

static void tls_alpn(struct buf *b, const char *const *protos, size_t n)
{
	size_t ext = tls_ext_open(b, TLS_EXT_ALPN);
	size_t list = open_len16(b);

	for (size_t i = 0; i < n; i++) {
		size_t p = open_len8(b);

		putstr(b, protos[i]);
		close_len8(b, p);
	}
	close_len16(b, list);
	close_len16(b, ext);
}

static void tls_u16_list(struct buf *b, const uint16_t *v, size_t n)
{
	size_t l = open_len16(b);

	for (size_t i = 0; i < n; i++)
		put16(b, v[i]);
	close_len16(b, l);
}

static void tls_client_hello(struct buf *b, struct pg_rng *r, const char *sni,
			     const uint8_t session_id[32])
{
	static const char *const alpn[] = { "h2", "http/1.1" };
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0301);
	size_t hs = tls_hs_open(b, 1);
	size_t exts, e, l;

	put16(b, 0x0303);
	putrand(b, r, 32);
	put8(b, 32);
	putmem(b, session_id, 32);
	tls_u16_list(b, tls_ciphers, ARRAY_SIZE(tls_ciphers));
	put8(b, 1); /* compression methods: null only */
	put8(b, 0);

	exts = open_len16(b);

	e = tls_ext_open(b, TLS_EXT_SNI);
	l = open_len16(b);
	put8(b, 0); /* host_name */
	put16(b, (uint16_t)strlen(sni));
	putstr(b, sni);
	close_len16(b, l);
	close_len16(b, e);

	tls_ext_empty(b, TLS_EXT_EMS);

	e = tls_ext_open(b, TLS_EXT_RENEGO);
	put8(b, 0);
	close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_GROUPS);
	tls_u16_list(b, tls_groups, ARRAY_SIZE(tls_groups));
	close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_POINT_FORMATS);
	put8(b, 1);
	put8(b, 0); /* uncompressed */
	close_len16(b, e);

	tls_ext_empty(b, TLS_EXT_TICKET);
	tls_alpn(b, alpn, ARRAY_SIZE(alpn));

	e = tls_ext_open(b, TLS_EXT_STATUS_REQUEST);
	put8(b, 1);   /* ocsp */
	put16(b, 0);  /* no responder ids */
	put16(b, 0);  /* no request extensions */
	close_len16(b, e);

	e = tls_ext_open(b, TLS_EXT_SIGALGS);
	tls_u16_list(b, tls_sigalgs, ARRAY_SIZE(tls_sigalgs));
	close_len16(b, e);

	close_len16(b, exts);
	close_len24(b, hs);
	close_len16(b, rec);
}

static void tls_server_hello(struct buf *b, struct pg_rng *r, const uint8_t session_id[32],
			     const char *alpn)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 2);
	size_t exts, e;

	put16(b, 0x0303);
	putrand(b, r, 32);
	put8(b, 32);
	putmem(b, session_id, 32);
	put16(b, TLS_CHOSEN_CIPHER);
	put8(b, 0);

	exts = open_len16(b);
	e = tls_ext_open(b, TLS_EXT_RENEGO);
	put8(b, 0);
	close_len16(b, e);
	tls_ext_empty(b, TLS_EXT_EMS);
	e = tls_ext_open(b, TLS_EXT_POINT_FORMATS);
	put8(b, 1);
	put8(b, 0);
	close_len16(b, e);
	tls_alpn(b, &alpn, 1);
	close_len16(b, exts);

	close_len24(b, hs);
	close_len16(b, rec);
}

static void tls_certificate(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 11);
	size_t list = open_len24(b);
	size_t one = open_len24(b);

	putmem(b, tls_cert, sizeof(tls_cert));
	close_len24(b, one);
	close_len24(b, list);
	close_len24(b, hs);
	close_len16(b, rec);
}

/* A DER ECDSA-Sig-Value with 32-byte r and s that need no sign padding. */
static void tls_fake_ecdsa_sig(struct buf *b, struct pg_rng *r)
{
	size_t l = open_len16(b);

	put8(b, 0x30);
	put8(b, 68);
	for (int i = 0; i < 2; i++) {
		uint8_t v[32];

		rng_bytes(r, v, sizeof(v));
		v[0] = (uint8_t)((v[0] & 0x7f) | 0x01);
		put8(b, 0x02);
		put8(b, 32);
		putmem(b, v, sizeof(v));
	}
	close_len16(b, l);
}

/* ECDHE parameters: x25519 and a public key, signed with ecdsa_secp256r1_sha256. */
static void tls_server_key_exchange(struct buf *b, struct pg_rng *r)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 12);

	put8(b, 3); /* named_curve */
	put16(b, 0x001d);
	put8(b, 32);
	putrand(b, r, 32);
	put16(b, 0x0403);
	tls_fake_ecdsa_sig(b, r);
	close_len24(b, hs);
	close_len16(b, rec);
}

static void tls_server_hello_done(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 14);

	close_len24(b, hs);
	close_len16(b, rec);
}

static void tls_client_key_exchange(struct buf *b, struct pg_rng *r)
{
	size_t rec = tls_record_open(b, TLS_HANDSHAKE, 0x0303);
	size_t hs = tls_hs_open(b, 16);

	put8(b, 32);
	putrand(b, r, 32);
	close_len24(b, hs);
	close_len16(b, rec);
}

static void tls_change_cipher_spec(struct buf *b)
{
	size_t rec = tls_record_open(b, TLS_CCS, 0x0303);

	put8(b, 1);
	close_len16(b, rec);
}

/* An encrypted record: nonce, ciphertext and tag all look like noise. */
static void tls_sealed(struct buf *b, struct pg_rng *r, uint8_t type, size_t plain_len)
{
	size_t rec = tls_record_open(b, type, 0x0303);

	putrand(b, r, TLS_GCM_OVERHEAD + plain_len);
	close_len16(b, rec);
}

/* Finished: 12 bytes of verify_data behind a 4-byte handshake header. */
#define TLS_FINISHED_PLAIN 16
/* close_notify: a 2-byte alert. */
#define TLS_ALERT_PLAIN 2

/* ---------------------------------------------------------------- demo */

struct demo_item;
typedef void demo_fn(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		     const struct demo_item *it);

/*
 * One conversation of the demo capture. cport is the ICMP identifier for
 * ping; name and answer mean what the conversation needs (DNS: question and
 * answer address; HTTP: Host; TLS: SNI).
 */
struct demo_item {
	demo_fn *run;
	const char *cli;
	const char *srv;
	const char *name;
	const char *answer;
	uint16_t cport;
	uint16_t sport;
	uint16_t vlan;
	uint16_t qtype;
	uint8_t proto;
};

static uint8_t payload[PG_PAYLOAD_MAX];

static void demo_dns(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		     const struct demo_item *it)
{
	uint16_t id = (uint16_t)rng_next(r);
	uint8_t rdata[16];
	struct buf b = BUF_ON(payload);

	inet_pton(it->qtype == DNS_AAAA ? AF_INET6 : AF_INET, it->answer, rdata);
	dns_query(&b, id, it->name, it->qtype);
	udp_send(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	dns_reply(&b, id, it->name, it->qtype, rdata, it->qtype == DNS_AAAA ? 16 : 4, 300);
	udp_send(out, c, PG_SRV, b.p, b.len);
}

static void demo_http(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		      const struct demo_item *it)
{
	static const char response[] = "HTTP/1.1 200 OK\r\n"
				       "Content-Type: text/html\r\n"
				       "Content-Length: 13\r\n"
				       "\r\n"
				       "<html></html>";
	struct buf b = BUF_ON(payload);

	(void)r;
	putstr(&b, "GET /index.html HTTP/1.1\r\nHost: ");
	putstr(&b, it->name);
	putstr(&b, "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n");

	tcp_open(out, c);
	tcp_data(out, c, PG_CLI, b.p, b.len);
	tcp_ack(out, c, PG_SRV);
	tcp_data(out, c, PG_SRV, (const uint8_t *)response, sizeof(response) - 1);
	tcp_ack(out, c, PG_CLI);
	tcp_close(out, c, PG_CLI);
}

/*
 * A full TLS 1.2 handshake: ClientHello; ServerHello, Certificate,
 * ServerKeyExchange, ServerHelloDone; ClientKeyExchange, ChangeCipherSpec,
 * Finished; ChangeCipherSpec, Finished; a request and a response; the
 * client's close_notify.
 */
static void demo_tls_full(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
			  const struct demo_item *it)
{
	uint8_t sid_cli[32], sid_srv[32];
	struct buf b = BUF_ON(payload);

	rng_bytes(r, sid_cli, sizeof(sid_cli));
	rng_bytes(r, sid_srv, sizeof(sid_srv));

	tcp_open(out, c);
	tls_client_hello(&b, r, it->name, sid_cli);
	tcp_data(out, c, PG_CLI, b.p, b.len);
	tcp_ack(out, c, PG_SRV);

	b.len = 0;
	tls_server_hello(&b, r, sid_srv, "http/1.1");
	tls_certificate(&b);
	tls_server_key_exchange(&b, r);
	tls_server_hello_done(&b);
	tcp_data(out, c, PG_SRV, b.p, b.len);
	tcp_ack(out, c, PG_CLI);

	b.len = 0;
	tls_client_key_exchange(&b, r);
	tls_change_cipher_spec(&b);
	tls_sealed(&b, r, TLS_HANDSHAKE, TLS_FINISHED_PLAIN);
	tcp_data(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	tls_change_cipher_spec(&b);
	tls_sealed(&b, r, TLS_HANDSHAKE, TLS_FINISHED_PLAIN);
	tcp_data(out, c, PG_SRV, b.p, b.len);

	b.len = 0;
	tls_sealed(&b, r, TLS_APPDATA, 120);
	tcp_data(out, c, PG_CLI, b.p, b.len);
	tcp_ack(out, c, PG_SRV);

	b.len = 0;
	tls_sealed(&b, r, TLS_APPDATA, 310);
	tls_sealed(&b, r, TLS_APPDATA, 64);
	tcp_data(out, c, PG_SRV, b.p, b.len);
	tcp_ack(out, c, PG_CLI);

	b.len = 0;
	tls_sealed(&b, r, TLS_ALERT, TLS_ALERT_PLAIN);
	tcp_data(out, c, PG_CLI, b.p, b.len);
	tcp_close(out, c, PG_CLI);
}

/*
 * An abbreviated (session-id resumption) TLS 1.2 handshake: the server
 * echoes the client's session id and goes straight to ChangeCipherSpec.
 */
static void demo_tls_resumed(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
			     const struct demo_item *it)
{
	uint8_t sid[32];
	struct buf b = BUF_ON(payload);

	rng_bytes(r, sid, sizeof(sid));

	tcp_open(out, c);
	tls_client_hello(&b, r, it->name, sid);
	tcp_data(out, c, PG_CLI, b.p, b.len);
	tcp_ack(out, c, PG_SRV);

	b.len = 0;
	tls_server_hello(&b, r, sid, "h2");
	tls_change_cipher_spec(&b);
	tls_sealed(&b, r, TLS_HANDSHAKE, TLS_FINISHED_PLAIN);
	tcp_data(out, c, PG_SRV, b.p, b.len);

	b.len = 0;
	tls_change_cipher_spec(&b);
	tls_sealed(&b, r, TLS_HANDSHAKE, TLS_FINISHED_PLAIN);
	tls_sealed(&b, r, TLS_APPDATA, 90);
	tcp_data(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	tls_sealed(&b, r, TLS_APPDATA, 200);
	tcp_data(out, c, PG_SRV, b.p, b.len);
	tcp_ack(out, c, PG_CLI);

	tcp_close(out, c, PG_CLI);
}

/* Linux ping: 56 data bytes, a struct timeval then 0x10, 0x11, ... */
#define PING_DATA 56

static void demo_ping(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		      const struct demo_item *it)
{
	uint64_t sec = PG_EPOCH + out->usec / 1000000, usec = out->usec % 1000000;
	struct buf b = BUF_ON(payload);

	(void)r;
	put8(&b, 8); /* echo request */
	put8(&b, 0);
	put16(&b, 0);
	put16(&b, it->cport);
	put16(&b, 1); /* sequence */
	for (int i = 0; i < 8; i++)
		put8(&b, (uint8_t)(sec >> (8 * i)));
	for (int i = 0; i < 8; i++)
		put8(&b, (uint8_t)(usec >> (8 * i)));
	for (uint8_t v = 0x10; b.len < 8 + PING_DATA; v++)
		put8(&b, v);
	pg_frame(out, c, PG_CLI, b.p, b.len);

	b.p[0] = 0; /* echo reply, same identifier, sequence and data */
	pg_frame(out, c, PG_SRV, b.p, b.len);
}

/*
 * An NTP timestamp for usec (may be negative) from PG_EPOCH: 32.32 fixed
 * point; the fraction is rounded up so that it reads back as the same usec.
 */
static void ntp_ts(struct buf *b, int64_t usec)
{
	int64_t sec = usec / 1000000, frac = usec % 1000000;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	put32(b, (uint32_t)(PG_EPOCH + NTP_UNIX_OFFSET + sec));
	put32(b, (uint32_t)((((uint64_t)frac << 32) + 999999) / 1000000));
}

static void demo_ntp(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		     const struct demo_item *it)
{
	int64_t t_req = (int64_t)out->usec, t_srv = t_req + 1500;
	struct buf b = BUF_ON(payload);

	(void)r;
	(void)it;
	put8(&b, 0x23); /* LI 0, version 4, mode 3 (client) */
	put8(&b, 0);    /* stratum */
	put8(&b, 6);    /* poll 64 s */
	put8(&b, 0xe9); /* precision 2^-23 s */
	put32(&b, 0);   /* root delay */
	put32(&b, 0);   /* root dispersion */
	put32(&b, 0);   /* reference id */
	put32(&b, 0);   /* reference timestamp */
	put32(&b, 0);
	put32(&b, 0);   /* origin timestamp */
	put32(&b, 0);
	put32(&b, 0);   /* receive timestamp */
	put32(&b, 0);
	ntp_ts(&b, t_req);
	udp_send(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	put8(&b, 0x24);       /* LI 0, version 4, mode 4 (server) */
	put8(&b, 2);          /* stratum */
	put8(&b, 6);
	put8(&b, 0xe8);
	put32(&b, 0x00000312); /* root delay, 16.16 s */
	put32(&b, 0x00000a4c); /* root dispersion */
	put32(&b, 0xc6336407); /* reference id: upstream 198.51.100.7 */
	ntp_ts(&b, t_req - 64000000);
	ntp_ts(&b, t_req);
	ntp_ts(&b, t_srv);
	ntp_ts(&b, t_srv + 40);
	udp_send(out, c, PG_SRV, b.p, b.len);
}

/*
 * The demo capture, one conversation after another. Addresses come from the
 * documentation ranges (RFC 5737, RFC 3849) and the office LAN 192.168.50/24.
 */
static const struct demo_item demo_items[] = {
	{ .run = demo_dns, .proto = IPPROTO_UDP_,
	  .cli = "192.168.50.10", .cport = 53000, .srv = "198.51.100.53", .sport = 53,
	  .name = "www.example.com", .qtype = DNS_A, .answer = "203.0.113.80" },
	{ .run = demo_dns, .proto = IPPROTO_UDP_,
	  .cli = "192.168.50.10", .cport = 53001, .srv = "198.51.100.53", .sport = 53,
	  .name = "tracker.example.net", .qtype = DNS_A, .answer = "203.0.113.99" },
	{ .run = demo_dns, .proto = IPPROTO_UDP_,
	  .cli = "2001:db8:50::10", .cport = 53002, .srv = "2001:db8:53::53", .sport = 53,
	  .name = "ipv6.example.org", .qtype = DNS_AAAA, .answer = "2001:db8:80::80" },
	{ .run = demo_http, .proto = IPPROTO_TCP_,
	  .cli = "192.168.50.10", .cport = 41000, .srv = "203.0.113.80", .sport = 80,
	  .name = "www.example.com" },
	{ .run = demo_tls_full, .proto = IPPROTO_TCP_,
	  .cli = "192.168.50.10", .cport = 41002, .srv = "203.0.113.99", .sport = 443,
	  .name = "tracker.example.net" },
	{ .run = demo_tls_resumed, .proto = IPPROTO_TCP_,
	  .cli = "192.168.50.10", .cport = 41004, .srv = "203.0.113.120", .sport = 443,
	  .name = "www.youtube.com" },
	{ .run = demo_ping, .proto = IPPROTO_ICMP_,
	  .cli = "192.168.50.11", .cport = 0x0a51, .srv = "198.51.100.1" },
	{ .run = demo_ntp, .proto = IPPROTO_UDP_,
	  .cli = "192.168.50.12", .cport = 123, .srv = "198.51.100.123", .sport = 123 },
	{ .run = demo_dns, .proto = IPPROTO_UDP_, .vlan = 20,
	  .cli = "192.168.20.5", .cport = 53010, .srv = "192.168.20.1", .sport = 53,
	  .name = "printer.example.com", .qtype = DNS_A, .answer = "192.168.20.9" },
	{ .run = demo_http, .proto = IPPROTO_TCP_,
	  .cli = "2001:db8:50::10", .cport = 41006, .srv = "2001:db8:80::80", .sport = 80,
	  .name = "ipv6.example.org" },
};

/* Demo packets are DEMO_STEP_USEC apart, conversations DEMO_GAP_USEC more. */
#define DEMO_STEP_USEC 3000
#define DEMO_GAP_USEC 100000
/* The demo is fixed: its PRNG seed is a constant, not an option. */
#define DEMO_SEED 0x7467706361706765ull

static void conv_init(struct pg_conv *c, struct pg_rng *r, const struct demo_item *it)
{
	struct pg_end *cli = &c->end[PG_CLI], *srv = &c->end[PG_SRV];

	memset(c, 0, sizeof(*c));
	c->family = strchr(it->cli, ':') ? AF_INET6 : AF_INET;
	c->proto = it->proto;
	c->vlan = it->vlan;
	inet_pton(c->family, it->cli, cli->addr);
	inet_pton(c->family, it->srv, srv->addr);

	/* Client MAC 02:00:00:00:xx:yy from the low bytes of its address. */
	cli->mac[0] = 0x02;
	cli->mac[4] = cli->addr[c->family == AF_INET ? 2 : 14];
	cli->mac[5] = cli->addr[c->family == AF_INET ? 3 : 15];
	memcpy(srv->mac, gw_mac, sizeof(gw_mac));

	cli->port = it->cport;
	srv->port = it->proto == IPPROTO_ICMP_ ? it->cport : it->sport;
	cli->ttl = 64;
	srv->ttl = 54; /* a server ten hops away */
	cli->ip_id = (uint16_t)rng_next(r);
	srv->ip_id = (uint16_t)rng_next(r);
	cli->window = 64240;
	srv->window = 65160;
	cli->mss = srv->mss = c->family == AF_INET ? 1460 : 1440;
	cli->seq = (uint32_t)rng_next(r);
	srv->seq = (uint32_t)rng_next(r);
}

static int cmd_demo(int argc, char **argv)
{
	struct pg_rng rng = { DEMO_SEED };
	struct pg_out out;
	int err;

	(void)argc;
	err = pg_out_open(&out, argv[0], DEMO_STEP_USEC);
	if (err)
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(demo_items); i++) {
		struct pg_conv c;

		conv_init(&c, &rng, &demo_items[i]);
		demo_items[i].run(&out, &rng, &c, &demo_items[i]);
		out.usec += DEMO_GAP_USEC;
	}
	return pg_out_close(&out);
}

/* ---------------------------------------------------------------- flows */

/*
 * Flow i comes from 10.a.b.z, with a.b = i mod FLOW_HOSTS and
 * z = 1 + i / FLOW_HOSTS: distinct for every i below FLOWS_MAX, so every
 * flow is a distinct 5-tuple whatever port the PRNG picks. FLOW_HOSTS is
 * prime so that consecutive flows walk all of 10.a.b before reusing one.
 */
#define FLOW_HOSTS 65521u
#define FLOWS_MAX ((uint64_t)FLOW_HOSTS * 254u)
#define FLOW_SERVERS 4
/*
 * Source ports from Linux's ephemeral range (ip_local_port_range): below it,
 * a port like 5355 would make nDPI guess LLMNR instead of looking at DNS.
 */
#define FLOW_PORT_LO 32768u
#define FLOW_PORTS (61000u - FLOW_PORT_LO)
#define FLOW_STEP_USEC 10
#define FLOW_PPF_MAX 1000

/*
 * --kind syn: the ports scanners try first; server 198.51.100.(53 + j)
 * listens on syn_ports[j], so the four servers stay four 3-tuples.
 */
static const uint16_t syn_ports[FLOW_SERVERS] = { 22, 80, 443, 3389 };
/*
 * --kind udp: a high port that no nDPI 4.2 dissector claims and that its
 * port-based guess does not know either. (About 1 flow in 10,000 still gets
 * a guessed name when nDPI gives up: its random source port happens to be a
 * default port, such as 51413 BitTorrent or 51820 WireGuard.)
 */
#define FLOW_UDP_PORT 40404
#define FLOW_UDP_PAYLOAD 32

enum flow_kind { FLOW_DNS, FLOW_SYN, FLOW_UDP, FLOW_GARBAGE };

static const char *const flow_kinds[] = {
	[FLOW_DNS] = "dns",
	[FLOW_SYN] = "syn",
	[FLOW_UDP] = "udp",
	[FLOW_GARBAGE] = "garbage",
};

static uint64_t opt_seed = 1;              /* --seed */
static uint64_t opt_ppf;                   /* --packets-per-flow; 0: the kind's */
static enum flow_kind opt_kind = FLOW_DNS; /* --kind */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || *v < min || *v > max)
		return -EINVAL;
	return 0;
}

/*
 * A connection attempt nobody answers: the SYN (MSS and SACK-permitted
 * options, as Linux sends it) and opt_ppf - 1 retransmissions of it, same
 * initial sequence number.
 */
static void flow_syn(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, uint16_t port)
{
	struct pg_end *cli = &c->end[PG_CLI];
	uint32_t isn = (uint32_t)rng_next(r);

	c->end[PG_SRV].port = port;
	cli->window = 64240;
	cli->mss = 1460;
	for (uint64_t k = 0; k < opt_ppf; k++) {
		cli->seq = isn;
		tcp_segment(out, c, PG_CLI, TH_SYN, NULL, 0);
	}
}

/*
 * opt_ppf datagrams of FLOW_UDP_PAYLOAD random bytes, all client to server.
 * Three bits are fixed so that no nDPI 4.2 heuristic takes the noise for a
 * protocol: with all 32 bytes random, about 0.5% of the flows were detected.
 * The first byte starts 11 (RTP and RTCP need version 2, 10xxxxxx; the
 * WireGuard and uTP message types are small numbers) and the third byte is
 * at least 0x80 (SkypeCall looks for 0x02 there, Viber for 0x03).
 */
static void flow_udp(struct pg_out *out, struct pg_rng *r, struct pg_conv *c)
{
	c->end[PG_SRV].port = FLOW_UDP_PORT;
	for (uint64_t k = 0; k < opt_ppf; k++) {
		struct buf b = BUF_ON(payload);

		putrand(&b, r, FLOW_UDP_PAYLOAD);
		b.p[0] |= 0xc0;
		b.p[2] |= 0x80;
		udp_send(out, c, PG_CLI, b.p, b.len);
	}
}

/* ---------------------------------------------------------------- garbage */

/*
 * --kind garbage: frames a decoder must survive, not understand. Each frame
 * is one of the classes below, drawn from the --seed stream, so a crash or
 * a sanitizer report reproduces from (N, seed) alone. The structured ones
 * start as a well-formed frame (frame_build, checksums right) and then get
 * exactly the damage their class names, with the IPv4 header checksum
 * recomputed most of the time: a decoder that stops at a bad checksum must
 * still meet the bad length behind a good one.
 */
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

	put16(b, c->end[PG_CLI].port);
	put16(b, c->end[PG_SRV].port);
	put32(b, (uint32_t)rng_next(r));
	put32(b, (uint32_t)rng_next(r));
	put8(b, (uint8_t)((doff ? doff : (20 + optlen) / 4) << 4));
	put8(b, (uint8_t)rng_next(r));
	put16(b, (uint16_t)rng_next(r));
	put16(b, 0);
	put16(b, 0);
	if (optlen) {
		put8(b, 2);
		put8(b, 4);
		put16(b, 1460);
		put32(b, 0x01010402);
	}
	putrand(b, r, len);
}

/* A UDP header with length field ulen (0: the right one), then len bytes. */
static void garbage_udp(struct buf *b, struct pg_rng *r, struct pg_conv *c, uint32_t ulen,
			size_t len)
{
	put16(b, c->end[PG_CLI].port);
	put16(b, c->end[PG_SRV].port);
	put16(b, (uint16_t)(ulen ? ulen : 8 + len));
	put16(b, 0);
	putrand(b, r, len);
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
		put8(&l4, (uint8_t)rnd(r, 20)); /* type */
		put8(&l4, (uint8_t)rng_next(r));
		put16(&l4, 0);
		putrand(&l4, r, 4 + len);
	}
	frame_build(b, &c, PG_CLI, l4.p, l4.len, ip_at);
}

/* Most of the time a damaged IPv4 header still carries a valid checksum. */
static void garbage_ipv4_csum(struct buf *b, struct pg_rng *r, size_t ip_at)
{
	if (b->p[ip_at] >> 4 != 4 || rnd(r, 4) == 0)
		return;
	set16(b->p + ip_at + 10, 0);
	set16(b->p + ip_at + 10, csum_fold(csum_add(0, b->p + ip_at, 20)));
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
			set16(b->p + l4_at + 4, garbage_len(r, b->len - l4_at));
			return;
		}
		set16(b->p + ip_at + 2, garbage_len(r, b->len - ip_at));
		garbage_ipv4_csum(b, r, ip_at);
	} else {
		l4_at = ip_at + 40;
		if (proto == IPPROTO_UDP_ && rnd(r, 2)) {
			set16(b->p + l4_at + 4, garbage_len(r, b->len - l4_at));
			return;
		}
		set16(b->p + ip_at + 4, garbage_len(r, b->len - l4_at));
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
	putmem(b, in.p, 12);
	for (unsigned i = 0; i < tags; i++) {
		put16(b, tpids[rnd(r, ARRAY_SIZE(tpids))]);
		put16(b, (uint16_t)rng_next(r));
	}
	switch (rnd(r, 3)) {
	case 0: /* the stack is all there is */
		break;
	case 1: /* noise behind the last tag */
		put16(b, (uint16_t)rng_next(r));
		putrand(b, r, rnd(r, 64));
		break;
	default: /* a real packet behind it */
		body = in.len - (ip_at - 2);
		if (body > GARBAGE_FRAME_MAX - b->len)
			body = GARBAGE_FRAME_MAX - b->len;
		putmem(b, in.p + ip_at - 2, body);
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
	putmem(b, dst, 6);
	putmem(b, src, 6);
	put16(b, ETH_P_IPV6);
	ip_at = b->len;
	garbage_conv(r, &c, AF_INET6, 0);
	put32(b, 0x60000000 | (uint32_t)(rng_next(r) & 0x0fffffff));
	plen_at = b->len;
	put16(b, 0);
	nh_at = b->len;
	first = exts[rnd(r, ARRAY_SIZE(exts))];
	put8(b, first);
	put8(b, 64);
	putmem(b, c.end[PG_CLI].addr, 16);
	putmem(b, c.end[PG_SRV].addr, 16);

	for (unsigned i = 0; i < n && b->len + 8 <= GARBAGE_FRAME_MAX; i++) {
		uint8_t type = b->p[nh_at];
		uint8_t next = i + 1 < n ? exts[rnd(r, ARRAY_SIZE(exts))] : lasts[rnd(r, ARRAY_SIZE(lasts))];
		/* Usually short; sometimes up to 2 KiB, which the frame cannot hold. */
		unsigned hlen = rnd(r, 4) ? rnd(r, 4) : rnd(r, 256);
		size_t size = type == 44 ? 8 : type == 51 ? (hlen + 2) * 4u : (hlen + 1) * 8u;
		size_t room = GARBAGE_FRAME_MAX - b->len;

		nh_at = b->len;
		put8(b, next);
		put8(b, (uint8_t)(type == 44 ? rng_next(r) : hlen));
		putrand(b, r, (size < room ? size : room) - 2);
	}
	if (b->len + 8 <= GARBAGE_FRAME_MAX && rnd(r, 2)) {
		garbage_conv(r, &c, AF_INET6, IPPROTO_UDP_);
		garbage_udp(b, r, &c, 0, rnd(r, 32));
	}
	set16(b->p + plen_at, rnd(r, 3) ? b->len - ip_at - 40 : garbage_len(r, b->len - ip_at - 40));
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
			set16(b->p + ip_at + 2, 20 + keep);
		}
		set16(b->p + ip_at + 6, off);
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
		put8(b, next);
		put8(b, 0);
		put16(b, (uint16_t)((off & 0x1fff) << 3 | (off >> 13 & 1))); /* offset, M */
		put32(b, (uint32_t)rng_next(r));
		putmem(b, rest, n);
		b->p[ip_at + 6] = 44;
		set16(b->p + ip_at + 4, b->len - l4_at);
	}
}

static void garbage_frame(struct pg_out *out, struct pg_rng *r)
{
	static const uint16_t types[] = { ETH_P_IPV4, ETH_P_IPV6, ETH_P_ARP, ETH_P_8021Q,
					  ETH_P_8021AD, 0x8847, 0x8864, 0x88cc, 0x0042 };
	static uint8_t frame[GARBAGE_RAND_MAX];
	struct buf b = BUF_ON(frame);
	size_t ip_at, n;
	uint8_t proto, dst[6], src[6];

	switch ((enum garbage_class)rnd(r, G_CLASSES)) {
	case G_RANDOM:
		putrand(&b, r, 1 + rnd(r, GARBAGE_RAND_MAX));
		break;
	case G_RANDOM_L3:
		garbage_macs(r, dst, src);
		putmem(&b, dst, 6);
		putmem(&b, src, 6);
		put16(&b, types[rnd(r, ARRAY_SIZE(types))]);
		n = rnd(r, 128);
		putrand(&b, r, n);
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

static int cmd_flows(int argc, char **argv);

/* `garbage N OUT` is `flows N OUT --kind garbage`. */
static int cmd_garbage(int argc, char **argv)
{
	opt_kind = FLOW_GARBAGE;
	return cmd_flows(argc, argv);
}

static int cmd_flows(int argc, char **argv)
{
	uint64_t n;
	struct pg_out out;
	struct pg_rng rng;
	int err;

	(void)argc;
	if (parse_u64(argv[0], 1, FLOWS_MAX, &n)) {
		pg_err("bad count `%s' (want 1..%" PRIu64 ")", argv[0], FLOWS_MAX);
		return -EINVAL;
	}

	err = pg_out_open(&out, argv[1], FLOW_STEP_USEC);
	if (err)
		return err;

	/* A DNS flow is a query and its answer; the others are one packet
	 * (a garbage "flow" is one malformed frame). */
	if (!opt_ppf)
		opt_ppf = opt_kind == FLOW_DNS ? 2 : 1;
	rng.s = opt_seed;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t host = (uint32_t)(i % FLOW_HOSTS);
		uint32_t z = 1 + (uint32_t)(i / FLOW_HOSTS);
		uint64_t rnd = rng_next(&rng);
		struct pg_conv c = {
			.family = AF_INET,
			.proto = opt_kind == FLOW_SYN ? IPPROTO_TCP_ : IPPROTO_UDP_,
			.end[PG_CLI] = {
				.mac = { 0x02, 0x0a, 0, (uint8_t)(host >> 8), (uint8_t)host, (uint8_t)z },
				.addr = { 10, (uint8_t)(host >> 8), (uint8_t)host, (uint8_t)z },
				.port = (uint16_t)(FLOW_PORT_LO + (rnd & 0xffff) % FLOW_PORTS),
				.ttl = 64,
				.ip_id = (uint16_t)(rnd >> 16),
			},
			.end[PG_SRV] = {
				.addr = { 198, 51, 100, (uint8_t)(53 + i % FLOW_SERVERS) },
				.port = 53,
				.ttl = 54,
				.ip_id = (uint16_t)(rnd >> 32),
			},
		};
		uint16_t id = (uint16_t)(rnd >> 48);
		char name[40]; /* "h" + 20 digits + ".bench.example" */
		uint8_t a[4] = { 203, 0, 113, (uint8_t)(1 + i % 254) };

		memcpy(c.end[PG_SRV].mac, gw_mac, sizeof(gw_mac));
		if (opt_kind == FLOW_GARBAGE) {
			for (uint64_t k = 0; k < opt_ppf; k++)
				garbage_frame(&out, &rng);
			continue;
		}
		if (opt_kind == FLOW_SYN) {
			flow_syn(&out, &rng, &c, syn_ports[i % FLOW_SERVERS]);
			continue;
		}
		if (opt_kind == FLOW_UDP) {
			flow_udp(&out, &rng, &c);
			continue;
		}
		snprintf(name, sizeof(name), "h%" PRIu64 ".bench.example", i);
		for (uint64_t k = 0; k < opt_ppf; k++) {
			struct buf b = BUF_ON(payload);
			uint16_t kid = (uint16_t)(id + k / 2);

			if (k % 2 == 0) {
				dns_query(&b, kid, name, DNS_A);
				udp_send(&out, &c, PG_CLI, b.p, b.len);
			} else {
				dns_reply(&b, kid, name, DNS_A, a, sizeof(a), 60);
				udp_send(&out, &c, PG_SRV, b.p, b.len);
			}
		}
	}
	return pg_out_close(&out);
}

/* ---------------------------------------------------------------- commands */

/*
 * Options, with the commands that take them. Parsed before dispatch so that
 * they may come anywhere on the line (GNU getopt permutes).
 */
#define OPT_SEED 's'
#define OPT_PPF 'k'
#define OPT_KIND 'K'

static const struct option pg_opts[] = {
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "packets-per-flow", required_argument, NULL, OPT_PPF },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct pg_cmd {
	const char *name;
	int nargs;        /* positional arguments after the name */
	const char *opts; /* option letters it accepts */
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

static const struct pg_cmd pg_cmds[] = {
	{ "demo", 1, "", cmd_demo, "OUT.pcap",
	  "a small office mix: DNS, HTTP, TLS, YouTube, ping, NTP, VLAN, IPv6" },
	{ "flows", 2, "skK", cmd_flows,
	  "N OUT.pcap [--kind dns|syn|udp|garbage] [--seed S] [--packets-per-flow K]",
	  "N distinct flows of K packets each (seed default 1), by kind:\n"
	  "        dns (default): DNS query, answer, ... over UDP; K default 2\n"
	  "        syn: a TCP SYN nobody answers, K-1 retransmissions; K default 1\n"
	  "        udp: K datagrams of 32 random bytes to an unknown port; K default 1\n"
	  "        garbage: N x K malformed frames (see garbage); K default 1\n"
	  "      nDPI decides a dns flow at once and never a syn or udp one\n"
	  "      (a port scan, a flood)" },
	{ "garbage", 2, "s", cmd_garbage, "N OUT.pcap [--seed S]",
	  "N frames a decoder must survive (same as flows --kind garbage):\n"
	  "      random bytes (1..1600 long), truncated Ethernet/IPv4/IPv6/TCP/UDP,\n"
	  "      absurd IPv4/IPv6/UDP lengths, IPv4 IHL < 5, bad TCP data offsets,\n"
	  "      deep VLAN stacks, IPv6 extension-header chains, fragments;\n"
	  "      random, multicast and zero source MACs, broadcast destinations" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(pg_cmds); i++)
		fprintf(f, "  " PROG " %s %s\n      %s\n", pg_cmds[i].name, pg_cmds[i].synopsis,
			pg_cmds[i].help);
	fprintf(f, "  " PROG " --help\n"
		   "Same arguments, byte-identical file. Errors exit 2.\n");
}

static const char *opt_name(int opt)
{
	for (const struct option *o = pg_opts; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static int parse_opt(int opt, const char *arg)
{
	switch (opt) {
	case OPT_SEED:
		if (parse_u64(arg, 0, UINT64_MAX, &opt_seed)) {
			pg_err("bad seed `%s' (want an unsigned integer)", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_PPF:
		if (parse_u64(arg, 1, FLOW_PPF_MAX, &opt_ppf)) {
			pg_err("bad packets per flow `%s' (want 1..%u)", arg, FLOW_PPF_MAX);
			return -EINVAL;
		}
		return 0;
	case OPT_KIND:
		for (size_t i = 0; i < ARRAY_SIZE(flow_kinds); i++) {
			if (!strcmp(arg, flow_kinds[i])) {
				opt_kind = (enum flow_kind)i;
				return 0;
			}
		}
		pg_err("bad flow kind `%s' (want dns, syn, udp or garbage)", arg);
		return -EINVAL;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	const struct pg_cmd *cmd = NULL;
	char seen[8] = "";
	int opt;

	while ((opt = getopt_long(argc, argv, "h", pg_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == '?' || parse_opt(opt, optarg))
			return 2;
		if (!strchr(seen, opt) && strlen(seen) < sizeof(seen) - 1)
			seen[strlen(seen)] = (char)opt;
	}
	argc -= optind;
	argv += optind;

	for (size_t i = 0; argc >= 1 && i < ARRAY_SIZE(pg_cmds); i++)
		if (!strcmp(argv[0], pg_cmds[i].name))
			cmd = &pg_cmds[i];
	if (!cmd) {
		if (argc >= 1)
			pg_err("unknown command `%s'", argv[0]);
		usage(stderr);
		return 2;
	}
	for (const char *o = seen; *o; o++) {
		if (!strchr(cmd->opts, *o)) {
			pg_err("%s: takes no option --%s (see --help)", cmd->name, opt_name(*o));
			return 2;
		}
	}
	if (argc - 1 != cmd->nargs) {
		pg_err("%s: want %s", cmd->name, cmd->synopsis);
		return 2;
	}
	return cmd->run(argc - 1, argv + 1) ? 2 : 0;
}

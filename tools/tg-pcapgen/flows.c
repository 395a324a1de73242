/*
 * flows N: the benchmarks' captures, N distinct flows streamed one after
 * another. --kind chooses what each flow is: a DNS exchange, which nDPI
 * decides on its first packet (dns, the default), or traffic it never
 * decides: a SYN that gets no answer (syn, as in a port scan) or a datagram
 * of random bytes to an unknown port (udp). The last two measure what the
 * flows still under inspection cost. garbage makes each "flow" malformed
 * frames instead (garbage.c) for the fuzz and robustness tests.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "flows.h"
#include "frame.h"
#include "garbage.h"

#define FLOW_SERVERS 4
/*
 * Source ports from Linux's ephemeral range (ip_local_port_range): below it,
 * a port like 5355 would make nDPI guess LLMNR instead of looking at DNS.
 */
#define FLOW_PORT_LO 32768u
#define FLOW_PORTS (61000u - FLOW_PORT_LO)
#define FLOW_STEP_USEC 10

static uint8_t payload[PG_PAYLOAD_MAX];

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

/*
 * A connection attempt nobody answers: the SYN (MSS and SACK-permitted
 * options, as Linux sends it) and ppf - 1 retransmissions of it, same
 * initial sequence number.
 */
static void flow_syn(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, uint16_t port,
		     uint64_t ppf)
{
	struct pg_end *cli = &c->end[PG_CLI];
	uint32_t isn = (uint32_t)rng_next(r);

	c->end[PG_SRV].port = port;
	cli->window = 64240;
	cli->mss = 1460;
	for (uint64_t k = 0; k < ppf; k++) {
		cli->seq = isn;
		frame_tcp(out, c, PG_CLI, TH_SYN, NULL, 0);
	}
}

/*
 * ppf datagrams of FLOW_UDP_PAYLOAD random bytes, all client to server.
 * Three bits are fixed so that no nDPI 4.2 heuristic takes the noise for a
 * protocol: with all 32 bytes random, about 0.5% of the flows were detected.
 * The first byte starts 11 (RTP and RTCP need version 2, 10xxxxxx; the
 * WireGuard and uTP message types are small numbers) and the third byte is
 * at least 0x80 (SkypeCall looks for 0x02 there, Viber for 0x03).
 */
static void flow_udp(struct pg_out *out, struct pg_rng *r, struct pg_conv *c, uint64_t ppf)
{
	c->end[PG_SRV].port = FLOW_UDP_PORT;
	for (uint64_t k = 0; k < ppf; k++) {
		struct buf b = BUF_ON(payload);

		buf_putrand(&b, r, FLOW_UDP_PAYLOAD);
		b.p[0] |= 0xc0;
		b.p[2] |= 0x80;
		frame_udp(out, c, PG_CLI, b.p, b.len);
	}
}

int flows_write(uint64_t n, const char *path, const struct flows_opts *o)
{
	enum flow_kind kind = o->kind;
	uint64_t ppf = o->ppf;
	struct pg_out out;
	struct pg_rng rng;
	int err;

	err = pg_out_open(&out, path, FLOW_STEP_USEC);
	if (err)
		return err;

	/* A DNS flow is a query and its answer; the others are one packet
	 * (a garbage "flow" is one malformed frame). */
	if (!ppf)
		ppf = kind == FLOW_DNS ? 2 : 1;
	rng.s = o->seed;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t host = (uint32_t)(i % FLOW_HOSTS);
		uint32_t z = 1 + (uint32_t)(i / FLOW_HOSTS);
		uint64_t rnd = rng_next(&rng);
		struct pg_conv c = {
			.family = AF_INET,
			.proto = kind == FLOW_SYN ? IPPROTO_TCP_ : IPPROTO_UDP_,
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

		memcpy(c.end[PG_SRV].mac, frame_gw_mac, sizeof(frame_gw_mac));
		if (kind == FLOW_GARBAGE) {
			for (uint64_t k = 0; k < ppf; k++)
				garbage_frame(&out, &rng);
			continue;
		}
		if (kind == FLOW_SYN) {
			flow_syn(&out, &rng, &c, syn_ports[i % FLOW_SERVERS], ppf);
			continue;
		}
		if (kind == FLOW_UDP) {
			flow_udp(&out, &rng, &c, ppf);
			continue;
		}
		snprintf(name, sizeof(name), "h%" PRIu64 ".bench.example", i);
		for (uint64_t k = 0; k < ppf; k++) {
			struct buf b = BUF_ON(payload);
			uint16_t kid = (uint16_t)(id + k / 2);

			if (k % 2 == 0) {
				dns_query(&b, kid, name, DNS_A);
				frame_udp(&out, &c, PG_CLI, b.p, b.len);
			} else {
				dns_reply(&b, kid, name, DNS_A, a, sizeof(a), 60);
				frame_udp(&out, &c, PG_SRV, b.p, b.len);
			}
		}
	}
	return pg_out_close(&out);
}

/*
 * The demo capture: a small office's mix, one conversation after another
 * (demo_items), each a real exchange nDPI recognises: DNS over IPv4 and
 * IPv6, HTTP, a full and a resumed TLS 1.2 handshake, ping, NTP, a tagged
 * VLAN. Its PRNG seed is fixed, so there is exactly one demo capture; the
 * golden test (tests/integration/demo_golden.sh) pins what the gateway
 * reports for it.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "core/common.h"
#include "demo.h"
#include "dns.h"
#include "frame.h"
#include "ntp.h"
#include "tls.h"
#include "tlsconv.h"

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
	frame_udp(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	dns_reply(&b, id, it->name, it->qtype, rdata, it->qtype == DNS_AAAA ? 16 : 4, 300);
	frame_udp(out, c, PG_SRV, b.p, b.len);
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
	buf_putstr(&b, "GET /index.html HTTP/1.1\r\nHost: ");
	buf_putstr(&b, it->name);
	buf_putstr(&b, "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n");

	frame_tcp_open(out, c);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);
	frame_tcp_ack(out, c, PG_SRV);
	frame_tcp_data(out, c, PG_SRV, (const uint8_t *)response, sizeof(response) - 1);
	frame_tcp_ack(out, c, PG_CLI);
	frame_tcp_close(out, c, PG_CLI);
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
	struct buf b = BUF_ON(payload);

	tlsconv_open_full(out, r, c, it->name, "http/1.1");

	tls_sealed(&b, r, TLS_APPDATA, 120);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);
	frame_tcp_ack(out, c, PG_SRV);

	b.len = 0;
	tls_sealed(&b, r, TLS_APPDATA, 310);
	tls_sealed(&b, r, TLS_APPDATA, 64);
	frame_tcp_data(out, c, PG_SRV, b.p, b.len);
	frame_tcp_ack(out, c, PG_CLI);

	b.len = 0;
	tls_sealed(&b, r, TLS_ALERT, TLS_ALERT_PLAIN);
	frame_tcp_data(out, c, PG_CLI, b.p, b.len);
	frame_tcp_close(out, c, PG_CLI);
}

/*
 * An abbreviated (session-id resumption) TLS 1.2 handshake: the server
 * echoes the client's session id and goes straight to ChangeCipherSpec.
 */
static void demo_tls_resumed(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
			     const struct demo_item *it)
{
	struct buf b = BUF_ON(payload);

	tlsconv_open_resumed(out, r, c, it->name, "h2", 90);

	tls_sealed(&b, r, TLS_APPDATA, 200);
	frame_tcp_data(out, c, PG_SRV, b.p, b.len);
	frame_tcp_ack(out, c, PG_CLI);

	frame_tcp_close(out, c, PG_CLI);
}

/* Linux ping: 56 data bytes, a struct timeval then 0x10, 0x11, ... */
#define PING_DATA 56

static void demo_ping(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		      const struct demo_item *it)
{
	uint64_t sec = PG_EPOCH + out->usec / 1000000, usec = out->usec % 1000000;
	struct buf b = BUF_ON(payload);

	(void)r;
	buf_put8(&b, 8); /* echo request */
	buf_put8(&b, 0);
	buf_put16(&b, 0);
	buf_put16(&b, it->cport);
	buf_put16(&b, 1); /* sequence */
	for (int i = 0; i < 8; i++)
		buf_put8(&b, (uint8_t)(sec >> (8 * i)));
	for (int i = 0; i < 8; i++)
		buf_put8(&b, (uint8_t)(usec >> (8 * i)));
	for (uint8_t v = 0x10; b.len < 8 + PING_DATA; v++)
		buf_put8(&b, v);
	frame_send(out, c, PG_CLI, b.p, b.len);

	b.p[0] = 0; /* echo reply, same identifier, sequence and data */
	frame_send(out, c, PG_SRV, b.p, b.len);
}

static void demo_ntp(struct pg_out *out, struct pg_rng *r, struct pg_conv *c,
		     const struct demo_item *it)
{
	(void)r;
	(void)it;
	ntp_exchange(out, c);
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
	memcpy(srv->mac, frame_gw_mac, sizeof(frame_gw_mac));

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

int demo_write(const char *path)
{
	struct pg_rng rng = { DEMO_SEED };
	struct pg_out out;
	int err;

	err = pg_out_open(&out, path, DEMO_STEP_USEC);
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

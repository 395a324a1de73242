/*
 * office: what a township office's uplink carries in 10 minutes, for the
 * report benchmarks (issue 12: bytes per minute on the wire for an office
 * of 200 hosts; docs/benchmarks.md). Every host, from a seed:
 *
 *   browsing   page views at its own pace (one every 15 to 60 s on
 *              average), each to a name drawn from OFF_NAMES by Zipf
 *              popularity (weight 1/rank: a few names take most views), its
 *              DNS lookup first unless the host looked it up in the last
 *              OFF_DNS_TTL_S, then one or two TLS 1.2 connections (full or
 *              resumed handshake; a request, a response of 1.5 to 120 KB,
 *              close_notify), or HTTP for the names that are plain HTTP
 *   DNS only   lookups that lead nowhere: telemetry, prefetching
 *   NTP        two time requests over the capture
 * and besides: OFF_VIDEO video streams (a TLS connection to a video CDN
 * name, a 48 KB burst every 2 s for 5 to 8 minutes), a few hosts looking up
 * and connecting to names of the blocklist (--blocked FILE: its first
 * names, as the bench bundle lists them), and OFF_NEW devices that appear
 * part way through with a DHCP exchange (host name, vendor class and
 * parameter request list as Windows, Android and a printer send them)
 * before they start browsing.
 *
 * Conversations overlap in time, so their frames are collected in memory
 * (out.h's collect) with their timestamps and written sorted by time (ties
 * in the order they were made): same seed and feed, byte-identical file.
 * The office is 192.168.10.0/24 behind its router 192.168.10.1; servers are
 * in the documentation ranges (RFC 5737), so no address means anything to
 * nDPI and names alone classify the traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/common.h"
#include "dns.h"
#include "frame.h"
#include "main.h"
#include "ntp.h"
#include "office.h"
#include "tls.h"
#include "tlsconv.h"

#define OFF_HOSTS 200
#define OFF_NEW 3
#define OFF_VIDEO 4
#define OFF_BLOCKED_MAX 4
#define OFF_USEC (600ull * 1000000)
/* Generated names behind the well-known ones: "a few hundred names" in all. */
#define OFF_TAIL 260
#define OFF_NAMES (ARRAY_SIZE(off_popular) + OFF_TAIL)
/* A host's resolver cache: a name looked up this recently is not looked up again. */
#define OFF_DNS_TTL_S 300
/* Frames of one conversation are this far apart (a video burst: OFF_BURST_STEP). */
#define OFF_STEP_USEC 1500
#define OFF_BURST_STEP 200
/* Plain bytes per TLS record sent: a record and its header fit PG_PAYLOAD_MAX. */
#define OFF_RECORD 4000

struct off_name {
	const char *name;
	bool http;
};

/* The head of the popularity list, most popular first (the tail is generated). */
static const struct off_name off_popular[] = {
	{ "www.google.com", false }, { "outlook.office365.com", false }, { "www.youtube.com", false },
	{ "login.microsoftonline.com", false }, { "www.facebook.com", false }, { "teams.microsoft.com", false },
	{ "mail.google.com", false }, { "www.wikipedia.org", false }, { "web.whatsapp.com", false },
	{ "docs.google.com", false }, { "www.bing.com", false }, { "www.amazon.com", false },
	{ "accounts.google.com", false }, { "drive.google.com", false }, { "www.linkedin.com", false },
	{ "www.instagram.com", false }, { "zoom.us", false }, { "github.com", false }, { "twitter.com", false },
	{ "www.dropbox.com", false }, { "ocsp.digicert.com", true }, { "www.netflix.com", false },
	{ "ctldl.windowsupdate.com", true }, { "www.reddit.com", false }, { "www.paypal.com", false },
	{ "www.ebay.com", false }, { "connectivitycheck.gstatic.com", true }, { "www.apple.com", false },
	{ "www.yahoo.com", false }, { "www.skype.com", false }, { "www.spotify.com", false },
	{ "www.tiktok.com", false }, { "www.twitch.tv", false }, { "www.office.com", false },
	{ "onedrive.live.com", false }, { "www.icloud.com", false }, { "www.adobe.com", false },
	{ "www.cloudflare.com", false }, { "www.telegram.org", false }, { "www.pinterest.com", false },
};

/* Looked up and never connected to: telemetry and prefetching. */
static const char *const off_dns_only[] = {
	"settings-win.data.microsoft.com", "v10.events.data.microsoft.com",
	"clients4.google.com", "time.windows.com", "wpad.office.lan",
	"safebrowsing.googleapis.com", "detectportal.firefox.com", "fonts.gstatic.com",
};

static const char *const off_video_names[OFF_VIDEO] = {
	"rr3---sn-4g5e6nsz.googlevideo.com", "ipv4-c012-fra001-ix.1.oca.nflxvideo.net",
	"rr5---sn-hju7en7r.googlevideo.com", "rr1---sn-aigzrn7e.googlevideo.com",
};

/* Without --blocked: names that stand for a list's. */
static const char *const off_blocked_default[] = {
	"malware-drop.example", "phish-login.example", "c2-beacon.example", "ad-tracker.example",
};

/* A device that joins with DHCP (option 12, 60, 55 as the kind of device sends them). */
struct off_dev {
	const char *hostname, *vendor;
	const uint8_t *prl;
	size_t prl_len;
};

static const uint8_t prl_windows[] = { 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252 };
static const uint8_t prl_android[] = { 1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108 };
static const uint8_t prl_printer[] = { 1, 3, 6, 12, 15, 28, 42, 44, 69, 81 };
static const struct off_dev off_new[OFF_NEW] = {
	{ "DESKTOP-7QK2M4L", "MSFT 5.0", prl_windows, sizeof(prl_windows) },
	{ "Galaxy-A52", "android-dhcp-13", prl_android, sizeof(prl_android) },
	{ "NPI8C1F2A", "Hewlett-Packard JetDirect", prl_printer, sizeof(prl_printer) },
};

struct off_host {
	uint8_t addr[4], mac[6];
	uint64_t start, mean_gap; /* usec: when it joins, its mean time between page views */
	uint16_t next_port;
	uint32_t *looked_up;      /* per name: second of the last lookup + 1, 0 never */
};

/* A collected frame: its bytes at off in the arena. */
struct off_frame {
	uint64_t usec;
	uint64_t off;
	uint32_t len, seq;
};

struct office {
	struct pg_rng r;
	struct pg_out col;              /* collects; never opened */
	struct off_frame *fr;
	size_t n_fr, cap_fr;
	uint8_t *arena;
	size_t n_arena, cap_arena;
	bool nomem;
	char tail[OFF_TAIL][40];
	const char *names[OFF_NAMES];
	bool http[OFF_NAMES];
	uint64_t zipf[OFF_NAMES];       /* cumulative weights */
	const char *blocked[OFF_BLOCKED_MAX];
	char blocked_buf[OFF_BLOCKED_MAX][256];
	size_t n_blocked;
	struct off_host host[OFF_HOSTS + OFF_NEW];
};

static uint8_t payload[PG_PAYLOAD_MAX];

/* ---------------------------------------------------------------- collecting */

static void off_collect(struct pg_out *out, const uint8_t *frame, size_t len)
{
	struct office *o = out->collect_ctx;

	if (o->nomem)
		return;
	if (o->n_fr == o->cap_fr) {
		size_t cap = o->cap_fr ? o->cap_fr * 2 : 65536;
		struct off_frame *v = realloc(o->fr, cap * sizeof(*v));

		if (!v) {
			o->nomem = true;
			return;
		}
		o->fr = v;
		o->cap_fr = cap;
	}
	if (o->n_arena + len > o->cap_arena) {
		size_t cap = o->cap_arena ? o->cap_arena * 2 : (size_t)16 << 20;
		uint8_t *a;

		while (cap < o->n_arena + len)
			cap *= 2;
		a = realloc(o->arena, cap);
		if (!a) {
			o->nomem = true;
			return;
		}
		o->arena = a;
		o->cap_arena = cap;
	}
	memcpy(o->arena + o->n_arena, frame, len);
	o->fr[o->n_fr] = (struct off_frame){ .usec = out->usec, .off = o->n_arena,
					     .len = (uint32_t)len, .seq = (uint32_t)o->n_fr };
	o->n_fr++;
	o->n_arena += len;
}

static int off_frame_cmp(const void *a, const void *b)
{
	const struct off_frame *x = a, *y = b;

	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---------------------------------------------------------------- names */

static uint32_t off_rand(struct office *o, uint32_t n)
{
	return (uint32_t)(rng_next(&o->r) % n);
}

/* A pronounceable label of 2-3 syllables. */
static void off_word(struct office *o, char *p, size_t cap)
{
	static const char *const on[] = { "b", "c", "d", "f", "g", "k", "l", "m", "n", "p",
					  "r", "s", "t", "v", "z", "br", "st", "tr" };
	static const char *const vo[] = { "a", "e", "i", "o", "u", "ai", "ou" };
	int n = 2 + (int)off_rand(o, 2);

	p[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(p);

		snprintf(p + l, cap - l, "%s%s", on[off_rand(o, ARRAY_SIZE(on))],
			 vo[off_rand(o, ARRAY_SIZE(vo))]);
	}
}

static void off_names(struct office *o)
{
	static const char *const tld[] = { "com", "com", "com", "net", "org", "gov", "io", "co.za" };
	static const char *const sub[] = { "www", "www", "cdn", "api", "static", "portal" };
	uint64_t sum = 0;
	size_t k = 0;

	for (size_t i = 0; i < ARRAY_SIZE(off_popular); i++, k++) {
		o->names[k] = off_popular[i].name;
		o->http[k] = off_popular[i].http;
	}
	for (size_t i = 0; i < OFF_TAIL; i++, k++) {
		char w[20];

		off_word(o, w, sizeof(w));
		snprintf(o->tail[i], sizeof(o->tail[i]), "%s.%s%zu.%s", sub[off_rand(o, ARRAY_SIZE(sub))],
			 w, i, tld[off_rand(o, ARRAY_SIZE(tld))]);
		o->names[k] = o->tail[i];
		o->http[k] = off_rand(o, 10) == 0;
	}
	/* Zipf, s = 1: rank k has weight 1/k (integers, so every platform draws the same). */
	for (size_t i = 0; i < OFF_NAMES; i++) {
		sum += 1000000000ull / (i + 1);
		o->zipf[i] = sum;
	}
}

static size_t off_pick_name(struct office *o)
{
	uint64_t x = rng_next(&o->r) % o->zipf[OFF_NAMES - 1];
	size_t lo = 0, hi = OFF_NAMES - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (o->zipf[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Server addresses: names in 203.0.113/24 then 198.51.100/24; the rest in 192.0.2/24. */
static void off_name_addr(size_t i, uint8_t a[4])
{
	static const uint8_t net[2][3] = { { 203, 0, 113 }, { 198, 51, 100 } };

	memcpy(a, net[i / 254], 3);
	a[3] = (uint8_t)(1 + i % 254);
}

static void off_addr(uint8_t a[4], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	a[0] = x, a[1] = y, a[2] = z, a[3] = w;
}

static int off_read_blocked(struct office *o, const char *path)
{
	char line[512];
	FILE *f;

	if (!path) {
		for (size_t i = 0; i < ARRAY_SIZE(off_blocked_default); i++)
			o->blocked[o->n_blocked++] = off_blocked_default[i];
		return 0;
	}
	f = fopen(path, "r");
	if (!f) {
		int err = -errno;

		pg_err("cannot read --blocked `%s': %s", path, strerror(errno));
		return err;
	}
	while (o->n_blocked < OFF_BLOCKED_MAX && fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");
		size_t n = strcspn(s, " \t\r\n#");

		if (!n || n >= sizeof(o->blocked_buf[0]))
			continue;
		memcpy(o->blocked_buf[o->n_blocked], s, n);
		o->blocked_buf[o->n_blocked][n] = '\0';
		o->blocked[o->n_blocked] = o->blocked_buf[o->n_blocked];
		o->n_blocked++;
	}
	fclose(f);
	if (!o->n_blocked) {
		pg_err("--blocked `%s': no name in it (want one domain a line)", path);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- conversations */

static void off_conv(struct office *o, struct pg_conv *c, const struct off_host *h,
		     const uint8_t srv[4], uint16_t cport, uint16_t sport, uint8_t proto)
{
	struct pg_end *cli = &c->end[PG_CLI], *s = &c->end[PG_SRV];

	memset(c, 0, sizeof(*c));
	c->family = AF_INET;
	c->proto = proto;
	memcpy(cli->addr, h->addr, 4);
	memcpy(cli->mac, h->mac, 6);
	memcpy(s->addr, srv, 4);
	memcpy(s->mac, frame_gw_mac, 6);
	cli->port = cport;
	s->port = sport;
	cli->ttl = 128;
	s->ttl = 54;
	cli->ip_id = (uint16_t)rng_next(&o->r);
	s->ip_id = (uint16_t)rng_next(&o->r);
	cli->window = 64240;
	s->window = 65160;
	cli->mss = s->mss = 1460;
	cli->seq = (uint32_t)rng_next(&o->r);
	s->seq = (uint32_t)rng_next(&o->r);
}

static uint16_t off_port(struct off_host *h)
{
	uint16_t p = h->next_port;

	h->next_port = p == 65535 ? 49152 : (uint16_t)(p + 1);
	return p;
}

static void off_dns(struct office *o, struct off_host *h, uint64_t t, const char *name,
		    const uint8_t answer[4])
{
	static const uint8_t resolver[4] = { 192, 0, 2, 53 };
	uint16_t id = (uint16_t)rng_next(&o->r);
	struct buf b = BUF_ON(payload);
	struct pg_conv c;

	off_conv(o, &c, h, resolver, (uint16_t)(32768 + off_rand(o, 28232)), 53, IPPROTO_UDP_);
	o->col.usec = t;
	o->col.step_usec = 8000 + off_rand(o, 30000); /* the resolver's answer time */
	dns_query(&b, id, name, DNS_A);
	frame_udp(&o->col, &c, PG_CLI, b.p, b.len);
	b.len = 0;
	dns_reply(&b, id, name, DNS_A, answer, 4, OFF_DNS_TTL_S);
	frame_udp(&o->col, &c, PG_SRV, b.p, b.len);
}

/* dir sends len bytes of TLS application data (or plain bytes: http), ACKed every other record. */
static void off_send(struct office *o, struct pg_conv *c, int dir, size_t len, bool http)
{
	for (int k = 0; len; k++) {
		size_t n = len < OFF_RECORD ? len : OFF_RECORD;
		struct buf b = BUF_ON(payload);

		if (http)
			buf_putrand(&b, &o->r, n);
		else
			tls_sealed(&b, &o->r, TLS_APPDATA, n);
		frame_tcp_data(&o->col, c, dir, b.p, b.len);
		if (k % 2 || n == len)
			frame_tcp_ack(&o->col, c, !dir);
		len -= n;
	}
}

static size_t off_response_size(struct office *o)
{
	static const uint32_t size[] = { 1500, 1500, 1500, 6000, 6000, 6000, 15000, 15000,
					 40000, 120000 };

	return size[off_rand(o, ARRAY_SIZE(size))] + off_rand(o, 1000);
}

static void off_tls(struct office *o, struct off_host *h, uint64_t t, const char *name,
		    const uint8_t srv[4], size_t resp)
{
	size_t req = 300 + off_rand(o, 900);
	struct buf b = BUF_ON(payload);
	struct pg_conv c;

	off_conv(o, &c, h, srv, off_port(h), 443, IPPROTO_TCP_);
	o->col.usec = t;
	o->col.step_usec = OFF_STEP_USEC;
	if (off_rand(o, 10) < 3) {
		tlsconv_open_full(&o->col, &o->r, &c, name, "h2");
		off_send(o, &c, PG_CLI, req, false);
	} else {
		tlsconv_open_resumed(&o->col, &o->r, &c, name, "h2", req);
		frame_tcp_ack(&o->col, &c, PG_SRV);
	}
	off_send(o, &c, PG_SRV, resp, false);
	tls_sealed(&b, &o->r, TLS_ALERT, TLS_ALERT_PLAIN);
	frame_tcp_data(&o->col, &c, PG_CLI, b.p, b.len);
	frame_tcp_close(&o->col, &c, PG_CLI);
}

static void off_http(struct office *o, struct off_host *h, uint64_t t, const char *name,
		     const uint8_t srv[4], size_t resp)
{
	struct buf b = BUF_ON(payload);
	struct pg_conv c;
	char hdr[160];
	int n;

	off_conv(o, &c, h, srv, off_port(h), 80, IPPROTO_TCP_);
	o->col.usec = t;
	o->col.step_usec = OFF_STEP_USEC;
	buf_putstr(&b, "GET / HTTP/1.1\r\nHost: ");
	buf_putstr(&b, name);
	buf_putstr(&b, "\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\nAccept: */*\r\n\r\n");
	frame_tcp_open(&o->col, &c);
	frame_tcp_data(&o->col, &c, PG_CLI, b.p, b.len);
	frame_tcp_ack(&o->col, &c, PG_SRV);
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		     "Content-Length: %zu\r\n\r\n", resp);
	frame_tcp_data(&o->col, &c, PG_SRV, (const uint8_t *)hdr, (size_t)n);
	off_send(o, &c, PG_SRV, resp, true);
	frame_tcp_close(&o->col, &c, PG_CLI);
}

/* A page view at t: DNS unless cached, then one or two connections. */
static void off_page(struct office *o, struct off_host *h, uint64_t t)
{
	size_t i = off_pick_name(o);
	uint32_t sec = (uint32_t)(t / 1000000);
	int conns = 1 + (off_rand(o, 3) == 0);
	uint8_t srv[4];

	off_name_addr(i, srv);
	if (!h->looked_up[i] || sec + 1 - h->looked_up[i] > OFF_DNS_TTL_S) {
		off_dns(o, h, t, o->names[i], srv);
		h->looked_up[i] = sec + 1;
		t += 40000;
	}
	for (int k = 0; k < conns; k++, t += 120000 + off_rand(o, 400000)) {
		if (o->http[i])
			off_http(o, h, t, o->names[i], srv, off_response_size(o));
		else
			off_tls(o, h, t, o->names[i], srv, off_response_size(o));
	}
}

static void off_ntp(struct office *o, struct off_host *h, uint64_t t)
{
	static const uint8_t ntp[4] = { 192, 0, 2, 123 };
	struct pg_conv c;

	off_conv(o, &c, h, ntp, 123, 123, IPPROTO_UDP_);
	o->col.usec = t;
	o->col.step_usec = 1500;
	ntp_exchange(&o->col, &c);
}

/* A video stream: a 48 KB burst every 2 s from start for dur, a request every 10 s. */
static void off_video(struct office *o, struct off_host *h, int v, uint64_t start, uint64_t dur)
{
	uint8_t srv[4];
	struct buf b = BUF_ON(payload);
	struct pg_conv c;

	off_addr(srv, 192, 0, 2, (uint8_t)(100 + v));
	off_dns(o, h, start, off_video_names[v], srv);
	off_conv(o, &c, h, srv, off_port(h), 443, IPPROTO_TCP_);
	o->col.usec = start + 40000;
	o->col.step_usec = OFF_STEP_USEC;
	tlsconv_open_full(&o->col, &o->r, &c, off_video_names[v], "h2");
	for (uint64_t t = start + 100000; t < start + dur; t += 2000000) {
		o->col.usec = t;
		o->col.step_usec = OFF_BURST_STEP;
		if ((t - start) % 10000000 < 2000000)
			off_send(o, &c, PG_CLI, 500, false);
		off_send(o, &c, PG_SRV, (size_t)12 * OFF_RECORD, false);
	}
	o->col.step_usec = OFF_STEP_USEC;
	tls_sealed(&b, &o->r, TLS_ALERT, TLS_ALERT_PLAIN);
	frame_tcp_data(&o->col, &c, PG_CLI, b.p, b.len);
	frame_tcp_close(&o->col, &c, PG_CLI);
}

/* ---------------------------------------------------------------- DHCP */

/* A BOOTP/DHCP message (RFC 2131, 2132): type, the options of its sender, end. */
static void off_dhcp_msg(struct buf *b, uint8_t type, uint32_t xid, const struct off_host *h,
			 const struct off_dev *d)
{
	static const uint8_t zero[10 + 64 + 128], server[4] = { 192, 168, 10, 1 };
	bool reply = type == 2 || type == 5;

	buf_put8(b, reply ? 2 : 1); /* op */
	buf_put8(b, 1);             /* htype Ethernet */
	buf_put8(b, 6);
	buf_put8(b, 0);
	buf_put32(b, xid);
	buf_put16(b, 0);
	buf_put16(b, 0x8000); /* broadcast: the client has no address yet */
	buf_putmem(b, zero, 4);                         /* ciaddr */
	buf_putmem(b, reply ? h->addr : zero, 4);       /* yiaddr */
	buf_putmem(b, zero, 8);                         /* siaddr, giaddr */
	buf_putmem(b, h->mac, 6);
	buf_putmem(b, zero, 10 + 64 + 128);             /* chaddr padding, sname, file */
	buf_put32(b, 0x63825363);
	buf_put8(b, 53), buf_put8(b, 1), buf_put8(b, type);
	if (reply) {
		buf_put8(b, 54), buf_put8(b, 4), buf_putmem(b, server, 4);
		buf_put8(b, 51), buf_put8(b, 4), buf_put32(b, 86400);
		buf_put8(b, 1), buf_put8(b, 4), buf_put32(b, 0xffffff00);
		buf_put8(b, 3), buf_put8(b, 4), buf_putmem(b, server, 4);
		buf_put8(b, 6), buf_put8(b, 4), buf_putmem(b, server, 4);
	} else {
		buf_put8(b, 61), buf_put8(b, 7), buf_put8(b, 1), buf_putmem(b, h->mac, 6);
		if (type == 3) {
			buf_put8(b, 50), buf_put8(b, 4), buf_putmem(b, h->addr, 4);
			buf_put8(b, 54), buf_put8(b, 4), buf_putmem(b, server, 4);
		}
		buf_put8(b, 12), buf_put8(b, (uint8_t)strlen(d->hostname)), buf_putstr(b, d->hostname);
		buf_put8(b, 60), buf_put8(b, (uint8_t)strlen(d->vendor)), buf_putstr(b, d->vendor);
		buf_put8(b, 55), buf_put8(b, (uint8_t)d->prl_len), buf_putmem(b, d->prl, d->prl_len);
	}
	buf_put8(b, 255);
}

/* DISCOVER, OFFER, REQUEST, ACK, all broadcast, the way a new device joins. */
static void off_dhcp(struct office *o, const struct off_host *h, const struct off_dev *d,
		     uint64_t t)
{
	static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t type[4] = { 1, 2, 3, 5 };
	uint32_t xid = (uint32_t)rng_next(&o->r);
	struct pg_conv cli, srv;
	struct off_host none = *h, router = *h;

	memset(none.addr, 0, 4);
	off_addr(router.addr, 192, 168, 10, 1);
	memcpy(router.mac, frame_gw_mac, 6);
	off_conv(o, &cli, &none, (const uint8_t[4]){ 255, 255, 255, 255 }, 68, 67, IPPROTO_UDP_);
	off_conv(o, &srv, &router, (const uint8_t[4]){ 255, 255, 255, 255 }, 67, 68, IPPROTO_UDP_);
	memcpy(cli.end[PG_SRV].mac, bcast_mac, 6);
	memcpy(srv.end[PG_SRV].mac, bcast_mac, 6);
	cli.end[PG_CLI].ttl = srv.end[PG_CLI].ttl = 64;
	o->col.usec = t;
	o->col.step_usec = 3000;
	for (size_t i = 0; i < ARRAY_SIZE(type); i++) {
		struct buf b = BUF_ON(payload);

		off_dhcp_msg(&b, type[i], xid, h, d);
		frame_udp(&o->col, i % 2 ? &srv : &cli, PG_CLI, b.p, b.len);
	}
}

/* ---------------------------------------------------------------- the office */

static int off_hosts(struct office *o)
{
	static const uint64_t gap_s[] = { 15, 20, 30, 45, 60 };

	for (size_t i = 0; i < OFF_HOSTS + OFF_NEW; i++) {
		struct off_host *h = &o->host[i];
		bool late = i >= OFF_HOSTS;

		off_addr(h->addr, 192, 168, 10, (uint8_t)(late ? 230 + i - OFF_HOSTS : 10 + i));
		h->mac[0] = 0x02;
		h->mac[3] = late ? 0x0b : 0x0a;
		h->mac[5] = h->addr[3];
		h->start = late ? (150 + 150 * (i - OFF_HOSTS)) * 1000000ull : 0;
		h->mean_gap = gap_s[off_rand(o, ARRAY_SIZE(gap_s))] * 1000000;
		h->next_port = (uint16_t)(49152 + off_rand(o, 8192));
		h->looked_up = calloc(OFF_NAMES, sizeof(*h->looked_up));
		if (!h->looked_up)
			return -ENOMEM;
	}
	return 0;
}

static void off_traffic(struct office *o)
{
	for (size_t i = 0; i < OFF_HOSTS + OFF_NEW; i++) {
		struct off_host *h = &o->host[i];
		uint64_t t = h->start;

		if (i >= OFF_HOSTS) {
			off_dhcp(o, h, &off_new[i - OFF_HOSTS], t);
			t += 2000000;
		}
		/* Uniform gaps around the host's mean: its pace, without a clock that repeats. */
		for (t += off_rand(o, (uint32_t)h->mean_gap); t < OFF_USEC - 5000000;
		     t += h->mean_gap / 2 + off_rand(o, (uint32_t)h->mean_gap))
			off_page(o, h, t);
		for (uint64_t d = h->start + off_rand(o, 90000000); d < OFF_USEC; d += 60000000 +
		     off_rand(o, 60000000)) {
			const char *name = off_dns_only[off_rand(o, ARRAY_SIZE(off_dns_only))];
			uint8_t a[4];

			off_addr(a, 198, 51, 100, (uint8_t)(200 + off_rand(o, 50)));
			off_dns(o, h, d, name, a);
		}
		/* Two time requests, the first within 5 min of joining, both inside the capture. */
		for (uint64_t d = h->start + 500000 + off_rand(o, 290000000); d < OFF_USEC - 1000000;
		     d += 300000000)
			off_ntp(o, h, d);
	}
	for (int v = 0; v < OFF_VIDEO; v++)
		off_video(o, &o->host[5 + 43 * v], v, (20 + 30 * (uint64_t)v) * 1000000,
			  (300 + 60 * (uint64_t)v) * 1000000);
	/* Each listed name, twice: looked up and connected to from one host, again 4 min later. */
	for (size_t k = 0; k < o->n_blocked; k++) {
		struct off_host *h = &o->host[17 + 41 * k];
		uint8_t a[4];

		off_addr(a, 192, 0, 2, (uint8_t)(200 + k));
		for (int again = 0; again < 2; again++) {
			uint64_t t = (90 + 60 * k + 240 * (uint64_t)again) * 1000000;

			off_dns(o, h, t, o->blocked[k], a);
			off_tls(o, h, t + 40000, o->blocked[k], a, 2000);
		}
	}
}

static void off_free(struct office *o)
{
	for (size_t i = 0; i < OFF_HOSTS + OFF_NEW; i++)
		free(o->host[i].looked_up);
	free(o->fr);
	free(o->arena);
	free(o);
}

int office_write(const char *path, uint64_t seed, const char *blocked)
{
	struct office *o = calloc(1, sizeof(*o));
	struct pg_out out;
	int err;

	if (!o) {
		pg_err("out of memory");
		return -ENOMEM;
	}
	o->r.s = seed;
	o->col.collect = off_collect;
	o->col.collect_ctx = o;
	err = off_read_blocked(o, blocked);
	if (err)
		goto out_free;
	off_names(o);
	err = off_hosts(o);
	if (!err) {
		off_traffic(o);
		err = o->nomem ? -ENOMEM : 0;
	}
	if (err) {
		pg_err("out of memory for the office's frames");
		goto out_free;
	}
	qsort(o->fr, o->n_fr, sizeof(*o->fr), off_frame_cmp);
	err = pg_out_open(&out, path, 0);
	if (err)
		goto out_free;
	for (size_t i = 0; i < o->n_fr; i++) {
		out.usec = o->fr[i].usec;
		pg_out_frame(&out, o->arena + o->fr[i].off, o->fr[i].len);
	}
	err = pg_out_close(&out);
out_free:
	off_free(o);
	return err;
}

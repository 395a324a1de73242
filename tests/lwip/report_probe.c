/*
 * report_probe: the reports' way out (firmware/report/wire.h: spool, batch,
 * journal) over the real uplink (hub/uplink.c: lwIP MQTT over mutual TLS) on
 * the management stack on a live interface, with a record source in place
 * of the summaries: what the gateway's report path does, with records whose
 * every number the test knows. Used by tests/integration/report_spool.sh.
 *
 *   report_probe -c GW.INI --iface IF [--every MS] [--count N] [--pad BYTES]
 *
 * Reads [gateway], [mgmt] (dhcp or static; the MAC as the gateway derives
 * it, or [mgmt] mac), [uplink] and [report] from GW.INI, opens IF with
 * libpcap, and every MS milliseconds (default 2000) puts a summary-shaped
 * record ({"i": n, ...}) into the spool, N in all (default: no end); with
 * --pad, each carries tg.pad, BYTES of base64 of random bytes (zstd leaves
 * it at 3/4 of its size: large batches on the wire). Prints
 * one line per record once spool_put() has returned (it is on flash):
 *   put SEQ
 * and on SIGTERM the spool's and the batches' counters:
 *   stats put N acked N records N dropped N corrupt N torn N messages N wire N
 * SIGKILL is what the test sends to crash it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "probe"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "core/siphash.h"
#include "hub/uplink.h"
#include "mgmt.h"
#include "report/wire.h"

struct probe {
	struct loop *loop;
	struct tg_config cfg;
	struct port port;
	struct mgmt *mgmt;
	struct uplink *uplink;
	struct report_wire *wire;
	struct report_sink sink;
	struct loop_fd port_fd;
	struct loop_timer poll, every;
	struct loop_signal sig;
	uint64_t every_ms, count, n;
	size_t pad;
};

/* n characters of base64 of random bytes: text zstd cannot shrink below 3/4. */
static char *probe_pad(size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = b64[(unsigned)random() % 64];
	s[n] = '\0';
	return s;
}

static void probe_rearm(struct probe *p)
{
	uint32_t next = mgmt_next_timeout_ms(p->mgmt);

	loop_timer_set(p->loop, &p->poll, next < 50 ? next : 50);
}

static int probe_tx(const uint8_t *frame, uint32_t len, void *ctx)
{
	struct probe *p = ctx;

	return port_tx(&p->port, frame, len);
}

static void probe_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct probe *p = ctx;

	(void)port;
	mgmt_input(p->mgmt, fr->data, fr->caplen);
}

static void probe_readable(struct loop_fd *lfd, unsigned int events)
{
	struct probe *p = container_of(lfd, struct probe, port_fd);

	(void)events;
	if (port_rx_burst(&p->port, probe_rx, p, 64) < 0) {
		loop_stop(p->loop);
		return;
	}
	probe_rearm(p);
}

static void probe_poll(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, poll);

	mgmt_poll(p->mgmt);
	uplink_tick(p->uplink, loop_now_ms());
	report_wire_tick(p->wire, loop_now_ms());
	probe_rearm(p);
}

static void probe_put(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, every);
	char ts[32];
	time_t now = time(NULL);
	json_t *r;
	uint64_t seq;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	r = json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s}, s:{s:s}, s:{}, s:I}", "@timestamp", ts,
		      "ecs", "version", "8.11.0", "event", "kind", "metric", "dataset", "townguard.summary",
		      "module", "townguard", "observer", "id", p->cfg.gateway.id, "organization", "id",
		      p->cfg.gateway.region, "tg", "i", (json_int_t)p->n);
	if (r && p->pad) {
		char *pad = probe_pad(p->pad);

		json_object_set_new(json_object_get(r, "tg"), "pad", json_string(pad ? pad : ""));
		free(pad);
	}
	if (r && spool_put(p->wire->spool, REPORT_SUMMARY, r, &seq) == 0)
		printf("put %" PRIu64 "\n", seq);
	json_decref(r);
	p->n++;
	if (!p->count || p->n < p->count)
		loop_timer_set(p->loop, &p->every, p->every_ms);
}

static void probe_signal(struct loop_signal *s, int signo)
{
	struct probe *p = container_of(s, struct probe, sig);

	(void)signo;
	loop_stop(p->loop);
}

static const struct bundle *probe_in_force(void *ctx)
{
	(void)ctx;
	return NULL;
}

static void probe_swap(struct bundle *b, void *ctx)
{
	(void)ctx;
	bundle_close(b);
}

static void probe_describe(struct state_in *in, void *ctx)
{
	struct probe *p = ctx;

	in->gateway = p->cfg.gateway.id;
	in->region = p->cfg.gateway.region;
	in->firmware = CONFIG_VERSION;
	in->mode = "probe";
}

/* As gateway_mgmt.c derives it: [mgmt] mac, else 02: and a SipHash of the id. */
static void probe_mac(const struct tg_config *cfg, uint8_t mac[6])
{
	static const uint8_t key[16] = "townguard-mgmt!";
	uint64_t h;

	if (cfg->mgmt.mac[0] && config_parse_mac(cfg->mgmt.mac, mac) == 0)
		return;
	h = siphash24(key, cfg->gateway.id, strlen(cfg->gateway.id));
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static void usage(void)
{
	fprintf(stderr, "usage: report_probe -c GW.INI --iface IF [--every MS] [--count N] [--pad BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "iface", required_argument, NULL, 'i' },
		{ "every", required_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'n' },
		{ "pad", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[] = { SIGTERM, SIGINT };
	static struct probe p;
	const struct uplink_ops ops = { .in_force = probe_in_force, .swap = probe_swap,
					.describe = probe_describe, .ctx = &p };
	struct port_config pc = { .promiscuous = true, .immediate = true, .inbound_only = true };
	struct mgmt_config mc = { 0 };
	const struct mgmt_events ev = { .ctx = &p };
	const char *conf = NULL, *iface = NULL;
	struct spool_stats st;
	struct batch_stats bs;
	char err[512], filter[96];
	int c, ret;

	p.every_ms = 2000;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			iface = optarg;
			break;
		case 'e':
			p.every_ms = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			p.count = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			p.pad = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!conf || !iface || optind != argc || !p.every_ms)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	config_defaults(&p.cfg);
	if (config_load(&p.cfg, conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	mc.dhcp = p.cfg.mgmt.mode == TG_MGMT_DHCP;
	mc.hostname = p.cfg.gateway.id;
	probe_mac(&p.cfg, mc.mac);
	snprintf(mc.addr, sizeof(mc.addr), "%s", p.cfg.mgmt.address);
	snprintf(mc.netmask, sizeof(mc.netmask), "%s", p.cfg.mgmt.netmask);
	snprintf(mc.gateway, sizeof(mc.gateway), "%s", p.cfg.mgmt.router);
	snprintf(mc.dns[0], sizeof(mc.dns[0]), "%s", p.cfg.mgmt.dns);
	snprintf(mc.ntp[0], sizeof(mc.ntp[0]), "%s", p.cfg.mgmt.ntp);
	snprintf(filter, sizeof(filter), "ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether multicast",
		 mc.mac[0], mc.mac[1], mc.mac[2], mc.mac[3], mc.mac[4], mc.mac[5]);
	pc.name = iface;
	pc.filter = filter;

	p.loop = loop_new();
	if (!p.loop)
		return 1;
	if (port_open(&p.port, "pcap", &pc) < 0 || mgmt_open(&p.mgmt, &mc, probe_tx, &p, &ev) < 0)
		return 1;
	ret = uplink_start(&p.uplink, p.mgmt, &p.cfg, &ops);
	if (ret < 0 || !p.uplink)
		return 1;
	ret = report_wire_start(&p.wire, p.uplink, &p.cfg);
	if (ret < 0)
		return 1;
	p.port_fd.fd = port_fd(&p.port);
	p.port_fd.cb = probe_readable;
	p.sig.cb = probe_signal;
	if (loop_fd_add(p.loop, &p.port_fd, LOOP_READ) < 0 || loop_signal_add(p.loop, &p.sig, sigs, 2) < 0)
		return 1;
	p.poll.cb = probe_poll;
	p.every.cb = probe_put;
	loop_timer_set(p.loop, &p.poll, 0);
	loop_timer_set(p.loop, &p.every, 0);
	loop_run(p.loop);

	spool_get_stats(p.wire->spool, &st);
	batch_get_stats(p.wire->batch, &bs);
	printf("stats put %" PRIu64 " acked %" PRIu64 " records %" PRIu64 " dropped %" PRIu64
	       " corrupt %" PRIu64 " torn %" PRIu64 " messages %" PRIu64 " wire %" PRIu64 "\n",
	       st.put, st.acked, st.records,
	       st.dropped[REPORT_SUMMARY] + st.dropped[REPORT_ALERT] + st.dropped[REPORT_ASSET],
	       st.corrupt, st.torn, bs.messages, bs.bytes_wire);
	uplink_stop(p.uplink);
	report_wire_stop(p.wire);
	loop_signal_del(p.loop, &p.sig);
	loop_fd_del(p.loop, &p.port_fd);
	mgmt_close(p.mgmt);
	port_close(&p.port);
	loop_free(p.loop);
	return 0;
}

/*
 * mgmt_probe: the management stack (drivers/lwip/mgmt.h) on a live
 * interface, the way the firmware runs it: frames from the pcap port driver
 * into mgmt_input(), lwIP's frames out through port_tx(), mgmt_poll() on a
 * timer of the firmware's event loop. Used by tests/integration/mgmt_lwip.sh.
 *
 *   mgmt_probe --iface IF --mac MAC [--static ADDR --netmask MASK [--gateway GW]]
 *              [--dns IP]... [--ntp SERVER]... [--hostname NAME]
 *              [--resolve NAME] [--timeout S] [--hold S]
 *
 * Prints one line per event on stdout:
 *   address 10.88.0.50          the interface got an address
 *   resolve probe.test 10.88.0.7   (or "resolve NAME failed")
 *   time 1767323045             SNTP set the time (seconds since the epoch)
 *   clock 1767323045            mgmt_time_ms() right after, in seconds
 *   done                        address, the lookup (if asked) and the time are in
 *   stats rx N tx N dropped N   on exit
 * then keeps the stack running for --hold seconds (so the test can ping it)
 * and exits 0. Exits 1 when --timeout passes first, naming what is missing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "probe"
#include "core/common.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "mgmt.h"

struct probe {
	struct loop *loop;
	struct port port;
	struct mgmt *mgmt;
	struct loop_fd port_fd;
	struct loop_timer poll;
	struct loop_timer deadline;
	struct loop_timer hold;
	const char *resolve;
	unsigned int hold_s;
	bool got_address, got_resolve, got_time, done;
	int status;
};

static void probe_rearm(struct probe *p)
{
	loop_timer_set(p->loop, &p->poll, mgmt_next_timeout_ms(p->mgmt));
}

static void probe_check_done(struct probe *p)
{
	if (p->done || !p->got_address || !p->got_time || (p->resolve && !p->got_resolve))
		return;
	p->done = true;
	printf("done\n");
	loop_timer_cancel(p->loop, &p->deadline);
	loop_timer_set(p->loop, &p->hold, (uint64_t)p->hold_s * 1000);
}

static void probe_resolved(const char *name, const char *addr, void *ctx)
{
	struct probe *p = ctx;

	printf("resolve %s %s\n", name, addr ? addr : "failed");
	p->got_resolve = true;
	probe_check_done(p);
}

static void probe_address(const char *addr, void *ctx)
{
	struct probe *p = ctx;
	int ret;

	if (!addr) {
		printf("address lost\n");
		return;
	}
	printf("address %s\n", addr);
	if (p->got_address)
		return;
	p->got_address = true;
	if (p->resolve) {
		ret = mgmt_resolve(p->mgmt, p->resolve, probe_resolved, p);
		if (ret < 0) {
			printf("resolve %s error %d\n", p->resolve, ret);
			p->got_resolve = true;
		}
	}
	probe_check_done(p);
}

static void probe_time_set(uint64_t unix_s, void *ctx)
{
	struct probe *p = ctx;
	uint64_t now_ms;

	printf("time %" PRIu64 "\n", unix_s);
	if (mgmt_time_ms(p->mgmt, &now_ms) == 0)
		printf("clock %" PRIu64 "\n", now_ms / 1000);
	p->got_time = true;
	probe_check_done(p);
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
		p->status = 1;
		loop_stop(p->loop);
		return;
	}
	probe_rearm(p);
}

static void probe_poll(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, poll);

	mgmt_poll(p->mgmt);
	probe_rearm(p);
}

static void probe_deadline(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, deadline);

	fprintf(stderr, "timeout: missing%s%s%s\n", p->got_address ? "" : " address",
		p->resolve && !p->got_resolve ? " resolve" : "", p->got_time ? "" : " time");
	p->status = 1;
	loop_stop(p->loop);
}

static void probe_hold_over(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, hold);

	loop_stop(p->loop);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* Copy s into a fixed field; fails when it does not fit. */
static int set_field(char *dst, size_t size, const char *s)
{
	if (strlen(s) >= size)
		return -EINVAL;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mgmt_probe --iface IF --mac MAC [--static ADDR --netmask MASK "
			"[--gateway GW]] [--dns IP]... [--ntp SERVER]... [--hostname NAME] "
			"[--resolve NAME] [--timeout S] [--hold S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "mac", required_argument, NULL, 'm' },
		{ "static", required_argument, NULL, 's' },
		{ "netmask", required_argument, NULL, 'M' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "dns", required_argument, NULL, 'd' },
		{ "ntp", required_argument, NULL, 'n' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct mgmt_config cfg = { .dhcp = true };
	struct probe p = { .status = 0 };
	struct mgmt_events ev = { .address = probe_address, .time_set = probe_time_set, .ctx = &p };
	struct port_config pc = { .promiscuous = true, .immediate = true, .inbound_only = true };
	struct mgmt_stats st;
	char filter[96];
	unsigned int timeout_s = 20, ndns = 0, nntp = 0;
	const char *iface = NULL;
	bool have_mac = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			iface = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, cfg.mac) < 0)
				usage();
			have_mac = true;
			break;
		case 's':
			cfg.dhcp = false;
			if (set_field(cfg.addr, sizeof(cfg.addr), optarg) < 0)
				usage();
			break;
		case 'M':
			if (set_field(cfg.netmask, sizeof(cfg.netmask), optarg) < 0)
				usage();
			break;
		case 'g':
			if (set_field(cfg.gateway, sizeof(cfg.gateway), optarg) < 0)
				usage();
			break;
		case 'd':
			if (ndns >= ARRAY_SIZE(cfg.dns) ||
			    set_field(cfg.dns[ndns++], sizeof(cfg.dns[0]), optarg) < 0)
				usage();
			break;
		case 'n':
			if (nntp >= ARRAY_SIZE(cfg.ntp) ||
			    set_field(cfg.ntp[nntp++], sizeof(cfg.ntp[0]), optarg) < 0)
				usage();
			break;
		case 'H':
			cfg.hostname = optarg;
			break;
		case 'r':
			p.resolve = optarg;
			break;
		case 't':
			timeout_s = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			p.hold_s = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!iface || !have_mac || optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* What a gateway hands the stack: frames for the management MAC and broadcast/multicast. */
	snprintf(filter, sizeof(filter), "ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether multicast",
		 cfg.mac[0], cfg.mac[1], cfg.mac[2], cfg.mac[3], cfg.mac[4], cfg.mac[5]);
	pc.name = iface;
	pc.filter = filter;

	p.loop = loop_new();
	if (!p.loop) {
		log_err("cannot create the loop: %m");
		return 1;
	}
	ret = port_open(&p.port, "pcap", &pc);
	if (ret < 0)
		goto err_loop;
	ret = mgmt_open(&p.mgmt, &cfg, probe_tx, &p, &ev);
	if (ret < 0)
		goto err_port;
	p.port_fd.fd = port_fd(&p.port);
	p.port_fd.cb = probe_readable;
	ret = loop_fd_add(p.loop, &p.port_fd, LOOP_READ);
	if (ret < 0) {
		log_err("cannot watch %s: %s", iface, strerror(-ret));
		goto err_mgmt;
	}
	p.poll.cb = probe_poll;
	p.deadline.cb = probe_deadline;
	p.hold.cb = probe_hold_over;
	loop_timer_set(p.loop, &p.poll, 0);
	loop_timer_set(p.loop, &p.deadline, (uint64_t)timeout_s * 1000);

	ret = loop_run(p.loop);
	if (ret < 0)
		p.status = 1;
	mgmt_get_stats(p.mgmt, &st);
	printf("stats rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64 " tx_errors %" PRIu64 "\n",
	       st.rx_frames, st.tx_frames, st.rx_dropped, st.tx_errors);
	loop_fd_del(p.loop, &p.port_fd);
	mgmt_close(p.mgmt);
	port_close(&p.port);
	loop_free(p.loop);
	return p.status;

err_mgmt:
	mgmt_close(p.mgmt);
err_port:
	port_close(&p.port);
err_loop:
	loop_free(p.loop);
	return 1;
}

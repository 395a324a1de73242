/*
 * Manual harness for drivers/nfq.c and drivers/link.c (not run by make test;
 * tests/manual/nfq_demo.sh drives it in network namespaces).
 *
 *   nfq_demo [options] LAN WAN
 *     -b NAME   bridge (default tgnfq0)        -q NUM  queue (default 7)
 *     -n LEN    queue length (default 4096)    -N      rules are pre-installed
 *     -m MODE   verdict for other packets: accept (INLINE_ACCEPT, default) or
 *               offload (INLINE_OFFLOAD_ACCEPT)
 *     -D PORT   TCP/UDP destination port blocked for good (INLINE_OFFLOAD_DROP)
 *     -d PORT   TCP/UDP destination port dropped packet by packet (INLINE_DROP)
 *     -K PORT   TCP connections to PORT: packets without payload accepted
 *               one by one (INLINE_ACCEPT), the first with payload from the
 *               client blocks the connection (INLINE_OFFLOAD_DROP), the way a
 *               TLS ClientHello naming a blocked site would
 *     -v        print the synthesized Ethernet header of the first 64 packets
 *     -s MS     print a stats line every MS milliseconds (default 1000)
 *
 * It opens the queue (bridge, ports, rules), watches LAN and WAN with the
 * link monitor, decides each packet by destination port, and prints
 * "stats ..." lines (also on SIGUSR1). SIGTERM/SIGINT close the queue (rules
 * and bridge removed) and exit 0; SIGKILL leaves them to the fail-open path.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "nfq_demo"
#include "core/log.h"
#include "core/inline.h"
#include "link.h"

struct demo {
	enum inline_verdict dflt;
	int block_port, drop_port, kill_port;
	int verbose_left;
	uint64_t last_packets;
	double last_t;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct l4 {
	int sport, dport;          /* -1 if not TCP/UDP */
	bool tcp;
	int payload;               /* TCP payload bytes */
};

/* Ports (and TCP payload size) of a packet in an Ethernet frame. */
static struct l4 parse_l4(const uint8_t *f, uint32_t len)
{
	struct l4 r = { .sport = -1, .dport = -1 };
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	uint32_t off, end;
	uint8_t proto;

	if (type == 0x0800 && len >= 14 + 20) {
		off = 14 + (uint32_t)(f[14] & 15) * 4;
		end = 14 + (uint32_t)(f[16] << 8 | f[17]);
		proto = f[14 + 9];
		if ((f[14 + 6] & 0x1f) || f[14 + 7]) /* not a first fragment */
			return r;
	} else if (type == 0x86dd && len >= 14 + 40) {
		off = 14 + 40;
		end = off + (uint32_t)(f[18] << 8 | f[19]);
		proto = f[14 + 6];
	} else {
		return r;
	}
	if ((proto != 6 && proto != 17) || len < off + 4)
		return r;
	r.sport = f[off] << 8 | f[off + 1];
	r.dport = f[off + 2] << 8 | f[off + 3];
	if (proto == 6 && len >= off + 20) {
		r.tcp = true;
		r.payload = (int)end - (int)(off + (uint32_t)(f[off + 12] >> 4) * 4);
	}
	return r;
}

static void on_packet(struct inline_dev *q, const struct inline_packet *pkt, void *ctx)
{
	struct demo *d = ctx;
	const uint8_t *f = pkt->frame;
	struct l4 l = parse_l4(f, pkt->len);
	int port = l.dport;
	enum inline_verdict v = d->dflt;

	if (port >= 0 && port == d->block_port)
		v = INLINE_OFFLOAD_DROP;
	else if (port >= 0 && port == d->drop_port)
		v = INLINE_DROP;
	else if (l.tcp && d->kill_port >= 0 && (l.dport == d->kill_port || l.sport == d->kill_port))
		v = l.dport == d->kill_port && l.payload > 0 ? INLINE_OFFLOAD_DROP : INLINE_ACCEPT;
	if (d->verbose_left > 0) {
		d->verbose_left--;
		printf("frame id=%u in=%u out=%u len=%u dst=%02x:%02x:%02x:%02x:%02x:%02x "
		       "src=%02x:%02x:%02x:%02x:%02x:%02x type=%02x%02x dport=%d verdict=%d\n",
		       pkt->id, pkt->in_ifindex, pkt->out_ifindex, pkt->len, f[0], f[1], f[2], f[3],
		       f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], port, (int)v);
	}
	inline_verdict(q, pkt->id, v);
}

static void on_link(const struct link_state *st, void *ctx)
{
	(void)ctx;
	printf("link %s exists=%d up=%d carrier=%d\n", st->name, st->exists, st->admin_up,
	       st->carrier);
	fflush(stdout);
}

static void print_stats(struct inline_dev *q, struct demo *d)
{
	struct inline_stats st;
	double t = now_s();

	inline_stats(q, &st);
	printf("stats packets=%llu accept=%llu drop=%llu offload_accept=%llu offload_drop=%llu "
	       "verdict_errors=%llu queue_dropped=%llu overruns=%llu pps=%.0f\n",
	       (unsigned long long)st.packets, (unsigned long long)st.verdicts[INLINE_ACCEPT],
	       (unsigned long long)st.verdicts[INLINE_DROP],
	       (unsigned long long)st.verdicts[INLINE_OFFLOAD_ACCEPT],
	       (unsigned long long)st.verdicts[INLINE_OFFLOAD_DROP],
	       (unsigned long long)st.verdict_errors, (unsigned long long)st.queue_dropped,
	       (unsigned long long)st.rx_overruns,
	       (double)(st.packets - d->last_packets) / (t - d->last_t));
	fflush(stdout);
	d->last_packets = st.packets;
	d->last_t = t;
}

int main(int argc, char **argv)
{
	struct inline_config cfg = { .bridge = "tgnfq0", .queue = 7, .queue_len = 4096,
				  .fail_open = true, .install_rules = true };
	struct demo d = { .dflt = INLINE_ACCEPT, .block_port = -1, .drop_port = -1, .kill_port = -1 };
	struct link_monitor *lm = NULL;
	struct pollfd pfd[3];
	int interval_ms = 1000, sfd, opt, ret;
	struct inline_dev dev, *q = &dev;
	sigset_t set;
	double next;

	while ((opt = getopt(argc, argv, "b:q:n:Nm:D:d:K:vs:")) != -1) {
		switch (opt) {
		case 'b': cfg.bridge = optarg; break;
		case 'q': cfg.queue = (uint16_t)atoi(optarg); break;
		case 'n': cfg.queue_len = (uint32_t)atoi(optarg); break;
		case 'N': cfg.install_rules = false; break;
		case 'm': d.dflt = strcmp(optarg, "offload") == 0 ? INLINE_OFFLOAD_ACCEPT : INLINE_ACCEPT; break;
		case 'D': d.block_port = atoi(optarg); break;
		case 'd': d.drop_port = atoi(optarg); break;
		case 'K': d.kill_port = atoi(optarg); break;
		case 'v': d.verbose_left = 64; break;
		case 's': interval_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-b br] [-q num] [-n len] [-N] [-m accept|offload] "
				"[-D port] [-d port] [-K port] [-v] [-s ms] LAN WAN\n", argv[0]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "need LAN and WAN port names\n");
		return 2;
	}
	cfg.ports[0] = argv[optind];
	cfg.ports[1] = argv[optind + 1];
	log_set_level(LOG_LVL_DEBUG);
	setvbuf(stdout, NULL, _IOLBF, 0);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);

	ret = inline_open(q, "nfqueue", &cfg);
	if (ret < 0) {
		fprintf(stderr, "inline_open: %s\n", strerror(-ret));
		return 1;
	}
	ret = link_monitor_open(&lm, (const char *const *)cfg.ports, 2, on_link, NULL);
	if (ret < 0)
		fprintf(stderr, "link_monitor_open: %s\n", strerror(-ret));
	printf("ready\n");
	fflush(stdout);

	d.last_t = now_s();
	next = d.last_t + interval_ms / 1000.0;
	for (;;) {
		int n = 0, timeout = (int)((next - now_s()) * 1000);

		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = inline_fd(q), .events = POLLIN };
		if (lm)
			pfd[n++] = (struct pollfd){ .fd = link_monitor_fd(lm), .events = POLLIN };
		if (poll(pfd, (nfds_t)n, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR)
			break;
		/* A few bursts per wake-up, so that signals and stats still get their turn. */
		for (int b = 0; b < 16 && pfd[1].revents & POLLIN; b++)
			if (inline_rx_burst(q, on_packet, &d, 64) < 64)
				break;
		if (lm && pfd[2].revents & POLLIN)
			link_monitor_read(lm);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					print_stats(q, &d);
				} else {
					print_stats(q, &d);
					break;
				}
			}
		}
		if (now_s() >= next) {
			print_stats(q, &d);
			next += interval_ms / 1000.0;
		}
	}
	link_monitor_close(lm);
	inline_close(q);
	printf("closed\n");
	return 0;
}

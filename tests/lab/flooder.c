/*
 * A second LAN host that floods: new TCP SYN and UDP flows, as fast as an
 * AF_PACKET socket takes them, for tests/integration/flood.sh.
 *
 *   flooder IFACE SRC_MAC DST_MAC SECONDS
 *
 * It stops after SECONDS or at SIGTERM / SIGINT, whichever comes first.
 * Every frame opens a new flow: the source address is drawn from
 * 10.99.0.100-10.99.0.199 (no lab host has one), the source port is random,
 * the destination is one of 198.51.100.1-254 (TEST-NET-2: nobody answers, so
 * the servers spend nothing on the flood and nothing is answered back). The
 * mix is the worst case for the gateway's inspection cap (docs/policy.md):
 * half TCP SYNs, to 443, 80, 53 and random ports (payload-less flows, some on
 * name ports), half UDP datagrams of 32 random bytes, to 53, 443 and random
 * ports (flows that carry payload at once). IPv4 and TCP/UDP checksums are
 * right, so nothing on the path discards a frame as malformed.
 *
 * Frames go out in batches through sendmmsg(). Prints "sent N frames in S s
 * (R frames/s)" at the end; exit 1 on any setup error, naming it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_MAX 128

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 0x2545f4914f6cdd1dull) >> 32);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)(b[n - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* One frame of a new flow into f; returns its length. */
static size_t build(uint8_t *f, const uint8_t src_mac[6], const uint8_t dst_mac[6])
{
	static const uint16_t tcp_ports[] = { 443, 443, 80, 53 };
	static const uint16_t udp_ports[] = { 53, 443 };
	uint8_t *ip = f + 14, *l4 = ip + 20;
	bool tcp = rnd() & 1;
	uint32_t r = rnd();
	uint16_t dport, l4len;
	uint32_t sum;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	put16(f + 12, ETH_P_IP);
	if (tcp) {
		dport = (r & 7) < 4 ? tcp_ports[r & 3] : (uint16_t)(1024 + rnd() % 60000);
		l4len = 20;
		memset(l4, 0, 20);
		put16(l4 + 2, dport);
		memcpy(l4 + 4, &r, 4);   /* sequence number */
		l4[12] = 5 << 4;         /* data offset */
		l4[13] = 0x02;           /* SYN */
		put16(l4 + 14, 64240);   /* window */
	} else {
		dport = (r & 3) < 2 ? udp_ports[r & 1] : (uint16_t)(1024 + rnd() % 60000);
		l4len = 8 + 32;
		put16(l4 + 2, dport);
		put16(l4 + 4, l4len);
		put16(l4 + 6, 0);
		for (int i = 0; i < 32; i += 4) {
			uint32_t v = rnd();

			memcpy(l4 + 8 + i, &v, 4);
		}
	}
	put16(l4, (uint16_t)(1024 + rnd() % 64000)); /* source port */

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, (uint16_t)rnd());
	ip[8] = 64;
	ip[9] = tcp ? 6 : 17;
	ip[12] = 10, ip[13] = 99, ip[14] = 0, ip[15] = (uint8_t)(100 + rnd() % 100);
	ip[16] = 198, ip[17] = 51, ip[18] = 100, ip[19] = (uint8_t)(1 + rnd() % 254);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	/* pseudo-header + segment */
	sum = csum_add(0, ip + 12, 8) + (uint32_t)ip[9] + l4len;
	sum = csum_add(sum, l4, l4len);
	put16(l4 + (tcp ? 16 : 6), csum_fold(sum) ? csum_fold(sum) : (tcp ? 0 : 0xffff));
	return 14 + 20 + l4len;
}

int main(int argc, char **argv)
{
	uint8_t frames[BATCH][FRAME_MAX], src_mac[6], dst_mac[6];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sll;
	double seconds, t0, t;
	uint64_t sent = 0;
	int fd;

	if (argc != 5 || parse_mac(argv[2], src_mac) || parse_mac(argv[3], dst_mac) ||
	    (seconds = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: flooder IFACE SRC_MAC DST_MAC SECONDS\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "flooder: AF_PACKET socket: %s\n", strerror(errno));
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst_mac, 6);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "flooder: no interface \"%s\"\n", argv[1]);
		return 1;
	}
	rnd_state ^= (uint64_t)getpid() << 17 ^ (uint64_t)time(NULL);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	t0 = t = now_s();
	while (!stop && t - t0 < seconds) {
		int n;

		for (int i = 0; i < BATCH; i++)
			iov[i].iov_len = build(frames[i], src_mac, dst_mac);
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "flooder: sendmmsg on %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		if (n > 0)
			sent += (uint64_t)n;
		t = now_s();
	}
	printf("sent %llu frames in %.1f s (%.0f frames/s)\n", (unsigned long long)sent, t - t0,
	       (double)sent / (t - t0));
	close(fd);
	return 0;
}

/*
 * ICMP echo through the management stack, for the console's `ping HOST`
 * (mgmt.h): one raw ICMP pcb, one echo outstanding at a time. The reply
 * (or the timeout) is recorded in lwIP's callback and delivered from
 * mgmt_deliver(), as every other management event is, never from inside
 * lwIP or from inside mgmt_ping() itself.
 *
 * Echoes leave by the management netif's route like any of its packets;
 * the data path never sees them (bridge and nfqueue modes alike).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "mgmt"
#include "core/log.h"
#include "lwip/icmp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/raw.h"
#include "lwip/sys.h"
#include "mgmt.h"
#include "mgmt_ping.h"

/* The echo's payload: what `ping` sends by default, so any host answers it. */
#define MGMT_PING_DATA 56
/* The identifier of our echoes: replies to anything else are left to lwIP. */
#define MGMT_PING_ID 0x7467 /* "tg" */

static struct {
	struct raw_pcb *pcb;
	enum { PING_IDLE = 0, PING_SENT, PING_DONE } state;
	mgmt_ping_fn done;
	void *ctx;
	char addr[16];
	uint16_t seq;
	uint32_t sent_ms, timeout_ms;
	int64_t rtt_us;          /* >= 0, or -ETIMEDOUT */
	uint64_t sent_us;
} ping;

static uint64_t ping_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* lwIP hands raw pcbs the IP packet, header included. 1 = ours, eaten. */
static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct icmp_echo_hdr echo;
	u16_t hlen;

	(void)arg;
	(void)pcb;
	(void)addr;
	if (ping.state != PING_SENT || p->tot_len < IP_HLEN + sizeof(echo))
		return 0;
	hlen = (u16_t)((*(const u8_t *)p->payload & 0x0f) * 4);
	if (pbuf_copy_partial(p, &echo, sizeof(echo), hlen) != sizeof(echo) ||
	    echo.type != ICMP_ER || echo.id != lwip_htons(MGMT_PING_ID) ||
	    echo.seqno != lwip_htons(ping.seq))
		return 0;
	ping.rtt_us = (int64_t)(ping_now_us() - ping.sent_us);
	ping.state = PING_DONE;
	pbuf_free(p);
	return 1;
}

int mgmt_ping(struct mgmt *m, const char *addr, uint16_t seq, uint32_t timeout_ms,
	      mgmt_ping_fn done, void *ctx)
{
	ip4_addr_t a;
	ip_addr_t to;
	struct pbuf *p;
	struct icmp_echo_hdr *echo;
	err_t err;

	if (!addr || !ip4addr_aton(addr, &a) || !done)
		return -EINVAL;
	if (!mgmt_is_up(m))
		return -ENOTCONN;
	if (ping.state != PING_IDLE)
		return -EBUSY;
	if (!ping.pcb) {
		ping.pcb = raw_new(IP_PROTO_ICMP);
		if (!ping.pcb)
			return -ENOMEM;
		raw_recv(ping.pcb, ping_recv, NULL);
	}
	p = pbuf_alloc(PBUF_IP, (u16_t)(sizeof(*echo) + MGMT_PING_DATA), PBUF_RAM);
	if (!p)
		return -ENOMEM;
	echo = p->payload;
	memset(echo, 0, p->len);
	ICMPH_TYPE_SET(echo, ICMP_ECHO);
	ICMPH_CODE_SET(echo, 0);
	echo->id = lwip_htons(MGMT_PING_ID);
	echo->seqno = lwip_htons(seq);
	for (int i = 0; i < MGMT_PING_DATA; i++)
		((u8_t *)(echo + 1))[i] = (u8_t)i;
	echo->chksum = inet_chksum(echo, p->len);
	ip_addr_copy_from_ip4(to, a);
	ping.sent_us = ping_now_us();
	err = raw_sendto(ping.pcb, p, &to);
	pbuf_free(p);
	if (err != ERR_OK) {
		log_warn("ping %s: lwIP could not send (error %d)", addr, err);
		return -EIO;
	}
	ping.state = PING_SENT;
	ping.done = done;
	ping.ctx = ctx;
	ping.seq = seq;
	ping.sent_ms = sys_now();
	ping.timeout_ms = timeout_ms;
	snprintf(ping.addr, sizeof(ping.addr), "%s", addr);
	return 0;
}

bool mgmt_ping_waiting(void)
{
	return ping.state == PING_DONE ||
	       (ping.state == PING_SENT && sys_now() - ping.sent_ms >= ping.timeout_ms);
}

void mgmt_ping_deliver(void)
{
	mgmt_ping_fn done = ping.done;
	char addr[16];

	if (ping.state == PING_SENT && sys_now() - ping.sent_ms >= ping.timeout_ms) {
		ping.rtt_us = -ETIMEDOUT;
		ping.state = PING_DONE;
	}
	if (ping.state != PING_DONE)
		return;
	/* Free the slot first: done() may send the next echo. */
	ping.state = PING_IDLE;
	memcpy(addr, ping.addr, sizeof(addr));
	done(addr, ping.seq, ping.rtt_us, ping.ctx);
}

void mgmt_ping_cancel(void)
{
	ping.state = PING_IDLE;
	ping.done = NULL;
}

void mgmt_ping_close(void)
{
	mgmt_ping_cancel();
	if (ping.pcb)
		raw_remove(ping.pcb);
	ping.pcb = NULL;
}

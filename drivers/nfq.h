/*
 * NFQUEUE driver (libnl-nf): the kernel forwards (bridges) and hands the
 * packets of flows that are not decided yet to one queue; the firmware
 * answers each with a verdict. Decided flows are offloaded to the kernel by
 * conntrack mark, so they never come to userspace again:
 *
 *   iptables and ip6tables, table mangle:
 *   FORWARD -i <bridge> -o <bridge> -m physdev --physdev-is-bridged -j TOWNGUARD
 *                                  (appended, once; br_netfilter hands bridged IP to it)
 *   chain TOWNGUARD
 *     mark  & 0x3 != 0        -> CONNMARK --save-mark (mask 0x3)   (verdict came back with a mark)
 *     connmark & 0x3 == 1     -> ACCEPT                            (offloaded: accepted)
 *     connmark & 0x3 == 2     -> DROP                              (offloaded: blocked)
 *     mark & 0x3 == 1         -> ACCEPT     (marked, but no connection to keep the mark on:
 *     mark & 0x3 == 2         -> DROP        decide the packet, never queue it twice)
 *     otherwise               -> NFQUEUE --queue-num N --queue-bypass
 *
 * NFQ_OFFLOAD_* verdicts are NF_REPEAT with the mark set (the packet's other
 * mark bits kept): the packet goes through the mangle FORWARD chain again,
 * its mark is saved on the connection and the connmark rule accepts or drops
 * it. NFQ_ACCEPT / NFQ_DROP decide this packet only (the next one of the flow
 * is queued again). The jump is appended so that the non-deciding rules
 * before it in mangle FORWARD (MSS clamping...) still see every packet.
 * Only bits 0x3 of the mark and connmark are used.
 *
 * The kernel keeps a conntrack entry only for a connection whose first
 * packet got through, so NFQ_OFFLOAD_DROP on the first packet (a SYN to a
 * blocked address) drops it in the kernel but cannot stick: the client's
 * retransmissions are queued again and need the same verdict again. From
 * the second packet of a connection on, both offloads stick.
 *
 * --queue-bypass and the queue's fail-open flag (NFQA_CFG_F_FAIL_OPEN, built
 * with libnl's message API since libnl has no setter) keep the office online
 * when the firmware is gone or too slow: the kernel accepts instead of
 * queueing. A crashed firmware leaves bridge and rules in place, which is
 * harmless for that reason; nfq_open() takes them over (the chain is
 * rebuilt, the jump is not added twice).
 *
 * Packets larger than the MTU (GSO) are segmented by the kernel before they
 * are queued (NFQA_CFG_F_GSO is not set), and offloads are turned off on the
 * ports, so every queued packet is one wire-sized IP packet.
 *
 * Packets are delivered as Ethernet frames: the driver prefixes the IP packet
 * with a header made of the source MAC the kernel reports (NFQA_HWADDR) and
 * the destination MAC it has learned for the destination address from
 * earlier queued packets (the group MAC for a multicast address,
 * the bridge's own MAC if none is known yet), so the pipeline and
 * the enforcement builders see the same frames as in bridge mode.
 * nfq_inject() sends a built frame out of a bridge port with an AF_PACKET
 * socket.
 */
#ifndef TG_NFQ_H
#define TG_NFQ_H

#include <stdbool.h>
#include <stdint.h>

struct nfq;

struct nfq_config {
	const char *bridge;        /* bridge device, created if missing, e.g. "tgbr0" */
	const char *ports[2];      /* its ports (LAN, WAN), enslaved and set up */
	uint16_t queue;            /* queue number */
	uint32_t queue_len;        /* kernel queue length (packets) */
	bool fail_open;            /* accept instead of drop when the queue is full */
	bool install_rules;        /* install/remove the iptables chain (tests may pre-install) */
};

enum nfq_verdict {
	NFQ_ACCEPT = 0,            /* this packet only */
	NFQ_DROP,                  /* this packet only */
	NFQ_OFFLOAD_ACCEPT,        /* this packet and the rest of its connection, in the kernel */
	NFQ_OFFLOAD_DROP,
};

struct nfq_packet {
	uint32_t id;               /* packet id for nfq_verdict() */
	const uint8_t *frame;      /* Ethernet frame (synthesized header + IP packet) */
	uint32_t len;
	uint32_t in_ifindex;       /* bridge port it arrived on (physindev), 0 if unknown */
	uint32_t out_ifindex;      /* bridge port it is going to (physoutdev), 0 if unknown */
};

struct nfq_stats {
	uint64_t packets;          /* queued packets received */
	uint64_t verdicts[4];      /* by enum nfq_verdict */
	uint64_t verdict_errors;
	uint64_t injected, inject_errors;
	/*
	 * Packets the kernel could not queue: its queue_dropped and
	 * user_dropped counters (/proc/net/netfilter/nfnetlink_queue; with
	 * fail_open those packets are accepted and not counted there) plus
	 * rx_overruns.
	 */
	uint64_t queue_dropped;
	uint64_t rx_overruns;      /* recv() ENOBUFS: the socket overflowed, messages were lost */
};

/* Frames valid only during the callback; nfq_verdict() must be called for each, in or after it. */
typedef void (*nfq_rx_fn)(struct nfq *q, const struct nfq_packet *pkt, void *ctx);

/*
 * Create and set up the bridge, load the rules, bind the queue. Returns 0 or
 * -errno, with the reason logged (no such port, queue taken, no br_netfilter...).
 * Needs CAP_NET_ADMIN and iptables-restore / ip6tables-restore (PATH,
 * /usr/sbin or /sbin) when cfg->install_rules. queue_len 0 keeps the
 * kernel's default (1024).
 */
int nfq_open(struct nfq **out, const struct nfq_config *cfg);
/* Unbind, remove the rules, remove the bridge if nfq_open() created it. */
void nfq_close(struct nfq *q);
int nfq_fd(struct nfq *q);
/*
 * Deliver up to max (<= 0: CONFIG_NFQUEUE_RX_BURST) queued packets to fn;
 * returns how many, 0 if none ready, or -errno. Never blocks.
 */
int nfq_rx_burst(struct nfq *q, nfq_rx_fn fn, void *ctx, int max);
/* Returns 0 or -errno (-EINVAL for an unknown verdict). */
int nfq_verdict(struct nfq *q, uint32_t id, enum nfq_verdict v);
/* Send a whole Ethernet frame out of bridge port ifindex. Returns 0 or -errno. */
int nfq_inject(struct nfq *q, uint32_t ifindex, const uint8_t *frame, uint32_t len);
void nfq_get_stats(const struct nfq *q, struct nfq_stats *st);

#endif

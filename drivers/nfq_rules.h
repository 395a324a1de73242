/*
 * The kernel's side of the NFQUEUE driver (nfq.c): the bridge over the two
 * ports, br_netfilter's sysctls that hand bridged IP to iptables, and the
 * chain that queues undecided flows and offloads decided ones:
 *
 *   iptables and ip6tables, table mangle, appended to FORWARD in this order:
 *   FORWARD -p tcp ! --tcp-flags SYN SYN -m mark --mark 0x0/0x3 -m connmark --mark 0x1/0x3 -j ACCEPT
 *   FORWARD -p udp -m length --length 0:1227 (IPv6 0:1247) -m mark --mark 0x0/0x3
 *           -m connmark --mark 0x1/0x3 -j ACCEPT
 *                                  (fast path: an accepted connection's packets from the
 *                                   wire meet one rule; SYNs and possible QUIC Initials
 *                                   go on to the chain)
 *   FORWARD -i <bridge> -o <bridge> -m physdev --physdev-is-bridged -j TOWNGUARD
 *                                  (br_netfilter hands bridged IP to it)
 *   chain TOWNGUARD
 *     UDP >= 1200 B payload, QUIC long header, mark 0 -> CONNMARK --set-xmark 0x0/0x3
 *     TCP SYN without ACK, mark 0                     -> CONNMARK --set-xmark 0x0/0x3
 *                                                        (a new connection on old ports)
 *     mark  & 0x3 != 0        -> CONNMARK --save-mark (mask 0x3)   (verdict came back with a mark)
 *     connmark & 0x3 == 1     -> ACCEPT                            (offloaded: accepted)
 *     tcp, mark & 0x3 == 0, connmark & 0x3 == 2 -> RETURN          (to filter's reset, below)
 *     connmark & 0x3 == 2     -> DROP                              (offloaded: blocked)
 *     mark & 0x3 == 1         -> ACCEPT     (marked, but no connection to keep the mark on:
 *     mark & 0x3 == 2         -> DROP        decide the packet, never queue it twice)
 *     otherwise               -> NFQUEUE --queue-num N --queue-bypass
 *
 *   table filter, first in FORWARD:
 *   FORWARD -i <bridge> -o <bridge> -m connmark --mark 0x2/0x3 -m physdev --physdev-is-bridged
 *           -j TOWNGUARD   (only a connection offloaded as dropped goes in: the packets
 *                           of accepted ones leave at the connmark test)
 *   chain TOWNGUARD
 *     tcp, connmark & 0x3 == 2 -> REJECT --reject-with tcp-reset  (a resent segment of a
 *     connmark & 0x3 == 2      -> DROP                             blocked flow: reset again)
 *   and a route "default dev <bridge>" in routing table "default" (REJECT needs a
 *   route to the sender; the namespace has none). Without the filter chain the
 *   mangle chain drops those segments itself (no RETURN rule).
 *
 * While the chain is in, net.netfilter.nf_conntrack_checksum and
 * net.bridge.bridge-nf-call-arptables are 0 (work nothing here needs); the
 * values before are put back when the chain goes.
 *
 * The three are appended so that the non-deciding rules before them in
 * mangle FORWARD (MSS clamping...) still see every packet. Only bits 0x3 of the
 * mark and connmark are used. The rules are loaded with iptables-restore /
 * ip6tables-restore --noflush (PATH, then /usr/sbin and /sbin). A crashed
 * firmware leaves bridge and rules in place, which is harmless (the queue
 * bypasses without a reader); the next open takes them over: the chain is
 * rebuilt, the FORWARD rules are taken out and put back once, in order.
 */
#ifndef TG_NFQ_RULES_H
#define TG_NFQ_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include <net/if.h>
#include <linux/if_ether.h>

#include "core/inline.h"

/* Mark bits the chain owns, and the two decisions they carry. */
#define NFQ_MARK_MASK 0x3u
#define NFQ_MARK_ACCEPT 0x1u
#define NFQ_MARK_DROP 0x2u

/* Sysctls set only to skip work, and put back at close (nfq_rules.c). */
#define NFQ_TUNES 2

struct nfq_rules {
	char bridge[IFNAMSIZ];
	char ports[2][IFNAMSIZ];
	uint16_t queue;
	uint8_t bridge_mac[ETH_ALEN];  /* read once the bridge is up; zero if unknown */
	bool bridge_created;           /* nfq_rules_bridge_setup() made it: removed again */
	bool installed;
	char tune_saved[NFQ_TUNES][8]; /* the value each had before, "" if not changed */
};

/*
 * Check cfg's bridge and port names (they go into iptables-restore input:
 * plain characters, three different interfaces) and copy them into r.
 * Returns 0 or -EINVAL, logged with the bad name.
 */
int nfq_rules_init(struct nfq_rules *r, const struct inline_config *cfg);
/*
 * Create the bridge if missing, enslave and set up the ports (offloads off),
 * set br_netfilter's bridge-nf-call-ip(6)tables. Returns 0 or -errno, logged
 * (no br_netfilter, no such port...); on failure nothing is left behind.
 */
int nfq_rules_bridge_setup(struct nfq_rules *r);
/* Free the ports and delete the bridge, if nfq_rules_bridge_setup() created it. */
void nfq_rules_bridge_remove(struct nfq_rules *r);
/* Load the chain and the jump for IPv4 and IPv6. Returns 0 or -errno, logged. */
int nfq_rules_install(struct nfq_rules *r);
/* Remove the jump (every copy) and the chain, if nfq_rules_install() loaded them. */
void nfq_rules_remove(struct nfq_rules *r);
/*
 * The kernel's drop counters of queue (queue full, and the socket could not
 * take a packet), from /proc/net/netfilter/nfnetlink_queue; false if not found.
 */
bool nfq_rules_queue_drops(uint16_t queue, uint64_t *dropped);

#endif

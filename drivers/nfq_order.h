/*
 * Accept offloads that wait for the queue to drain (nfq.c), so that a flow
 * offloaded as accepted keeps its packets in order.
 *
 * An accept offload sets the connection's mark (nfq_rules.h): from then on
 * the kernel passes the flow's packets from the wire after one rule. Set
 * with the verdict of the packet that decided the flow, the flow's packets
 * queued after that one, still waiting in the queue socket, would be
 * overtaken by the ones that came after them. So the driver gives that
 * packet a plain accept, in order with every other verdict (and batched
 * with them), and notes its connection here; once the socket is read to
 * empty (recv() found nothing, and a look right before each mark still
 * finds nothing), every packet of it that was queued before has had its
 * verdict too, and the marks are set through ctnetlink (nfq_ct.h). A
 * queue that never empties still offloads: after NFQ_ORDER_BURSTS bursts,
 * or when the table is full. What remains is a packet the kernel was
 * queueing on another CPU in the microseconds between that last look and
 * the mark (docs/modes.md).
 */
#ifndef TG_NFQ_ORDER_H
#define TG_NFQ_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/inline.h"

/*
 * Connections waiting for their mark: one per flow decided in a burst (64
 * packets by default) is enough; a full table is marked at once.
 */
#define NFQ_ORDER_MAX 64
/*
 * Bursts a connection waits for an empty socket before it is marked anyway
 * (counted from the oldest noted one): a backlog of a few hundred packets
 * (a gateway descheduled for a few ms) drains first, and a busy stream
 * still leaves the queue after at most 8 bursts of its packets (a queue
 * that stays busy may never empty because the flows are not offloaded).
 */
#define NFQ_ORDER_BURSTS 8

struct nfq_order {
	struct inline_tuple want[NFQ_ORDER_MAX];
	unsigned int n;
	unsigned int bursts;  /* bursts since the oldest noted one came */
	uint64_t deferred;    /* accept offloads given as a plain accept and noted here */
	uint64_t marked;      /* connections marked through ctnetlink */
	uint64_t forced;      /*   of them, before the socket was empty */
	uint64_t failed;      /* not marked (gone, untracked): their next packet is queued */
};

/*
 * The connection of the TCP or UDP packet ip[0..len) (IPv4 not a later
 * fragment, IPv6 without extension headers) as its tuple; false otherwise.
 */
bool nfq_order_tuple(const uint8_t *ip, uint32_t len, bool v6, struct inline_tuple *t);
/* Note t (once, whichever its direction). Returns false if the table is full. */
bool nfq_order_add(struct nfq_order *o, const struct inline_tuple *t);

#endif

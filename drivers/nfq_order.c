/*
 * The accept offloads of the nfqueue driver that wait for an empty socket
 * (nfq_order.h): a queued packet's connection, and the table of them.
 */
#include <netinet/in.h>
#include <string.h>

#include "nfq_order.h"

bool nfq_order_tuple(const uint8_t *ip, uint32_t len, bool v6, struct inline_tuple *t)
{
	uint32_t hl = v6 ? 40 : (ip[0] & 0x0fu) * 4u;
	const uint8_t *l4;
	uint8_t proto;

	if (len < 20 || hl < 20 || len < hl + 4)
		return false;
	proto = ip[v6 ? 6 : 9];
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	if (!v6 && ((ip[6] & 0x1fu) | ip[7]))
		return false; /* a later fragment: no ports */
	memset(t, 0, sizeof(*t));
	t->ip_version = v6 ? 6 : 4;
	t->l4_proto = proto;
	memcpy(t->src, ip + (v6 ? 8 : 12), v6 ? 16 : 4);
	memcpy(t->dst, ip + (v6 ? 24 : 16), v6 ? 16 : 4);
	l4 = ip + hl;
	t->sport = (uint16_t)(l4[0] << 8 | l4[1]);
	t->dport = (uint16_t)(l4[2] << 8 | l4[3]);
	return true;
}

/* Is a the connection of b, in either direction? */
static bool nfq_order_same(const struct inline_tuple *a, const struct inline_tuple *b)
{
	if (a->ip_version != b->ip_version || a->l4_proto != b->l4_proto)
		return false;
	if (a->sport == b->sport && a->dport == b->dport && !memcmp(a->src, b->src, 16) &&
	    !memcmp(a->dst, b->dst, 16))
		return true;
	return a->sport == b->dport && a->dport == b->sport && !memcmp(a->src, b->dst, 16) &&
	       !memcmp(a->dst, b->src, 16);
}

bool nfq_order_add(struct nfq_order *o, const struct inline_tuple *t)
{
	for (unsigned int i = 0; i < o->n; i++)
		if (nfq_order_same(&o->want[i], t))
			return true;
	if (o->n == NFQ_ORDER_MAX)
		return false;
	o->want[o->n++] = *t;
	return true;
}

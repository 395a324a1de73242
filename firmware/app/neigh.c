/*
 * IP address -> last MAC and port (neigh.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/neigh.h"
#include "core/siphash.h"

struct neigh_key {
	union ip_addr addr;
	uint16_t vlan;
	uint8_t ip_version;
	uint8_t pad;
};

static uint32_t neigh_slot(const struct neigh *n, uint8_t ip_version, const union ip_addr *addr,
			   uint16_t vlan)
{
	struct neigh_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr.b, addr->b, ip_version == 4 ? 4 : 16);
	k.vlan = vlan;
	k.ip_version = ip_version;
	return (uint32_t)siphash24(n->key, &k, sizeof(k)) & (NEIGH_SLOTS - 1);
}

int neigh_init(struct neigh *n)
{
	n->e = calloc(NEIGH_SLOTS, sizeof(*n->e));
	if (!n->e)
		return -ENOMEM;
	siphash_random_key(n->key, "townguard neighbours");
	return 0;
}

void neigh_free(struct neigh *n)
{
	free(n->e);
	n->e = NULL;
}

void neigh_learn(struct neigh *n, const struct pkt *p, const uint8_t *frame, uint32_t port)
{
	const uint8_t *mac = frame + 6;
	struct neigh_entry *e;

	if (!n->e || (p->ip_version != 4 && p->ip_version != 6) || p->tunnel != TUNNEL_NONE ||
	    p->inner || p->vlan_tags > 1 || p->l3 != frame + 14 + (size_t)4 * p->vlan_tags)
		return;
	/* A group or all-zero source says nothing about where a host is. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return;
	e = &n->e[neigh_slot(n, p->ip_version, &p->src, p->vlan)];
	memset(&e->addr, 0, sizeof(e->addr));
	memcpy(e->addr.b, p->src.b, p->ip_version == 4 ? 4 : 16);
	e->port = port;
	e->vlan = p->vlan;
	memcpy(e->mac, mac, 6);
	e->ip_version = p->ip_version;
}

const struct neigh_entry *neigh_lookup(const struct neigh *n, uint8_t ip_version,
				       const union ip_addr *addr, uint16_t vlan)
{
	const struct neigh_entry *e;
	size_t alen = ip_version == 4 ? 4 : 16;

	if (!n->e || (ip_version != 4 && ip_version != 6))
		return NULL;
	e = &n->e[neigh_slot(n, ip_version, addr, vlan)];
	if (e->ip_version != ip_version || e->vlan != vlan || memcmp(e->addr.b, addr->b, alen) != 0)
		return NULL;
	return e;
}

/*
 * Which MAC address, behind which port, each IP address was last seen
 * sending from: what the gateway needs to address a frame of its own to a
 * host it did not just hear from (the RST that cuts an open flow when a
 * new blocklist blocks it, gateway_rejudge.c).
 *
 * Fixed size, direct-mapped, allocated once: NEIGH_SLOTS entries hold
 * every host of an office and the router's many addresses several times
 * over; a collision overwrites (the newest sender wins) and a miss only
 * means that flow is cut at its next frame instead of at once. The slot is
 * SipHash of the address under a random key, so a host cannot aim
 * collisions at a known neighbour.
 */
#ifndef TG_NEIGH_H
#define TG_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include "packet/decode.h"

/*
 * 4096 slots of 32 bytes: 128 KiB. An office's LAN hosts (the addresses a
 * cut RST goes to) stay in it even while the WAN side's many addresses
 * churn through, because each LAN host sends often.
 */
#define NEIGH_SLOTS 4096u

struct neigh_entry {
	union ip_addr addr;
	uint32_t port;      /* the caller's port number (bridge port, ifindex) */
	uint16_t vlan;
	uint8_t mac[6];
	uint8_t ip_version; /* 0: empty */
};

struct neigh {
	struct neigh_entry *e;
	uint8_t key[16];
};

/* Returns 0 or -ENOMEM. */
int neigh_init(struct neigh *n);
void neigh_free(struct neigh *n);

/*
 * Frame (Ethernet, decoded into p) was heard on port: its source address
 * is behind its source MAC. Only frames whose IP header follows the
 * Ethernet header directly or after one 802.1Q tag are learned: those are
 * the frames the gateway can build (enforce_build_cut()).
 */
void neigh_learn(struct neigh *n, const struct pkt *p, const uint8_t *frame, uint32_t port);

/* The entry of (version, addr, vlan), or NULL. */
const struct neigh_entry *neigh_lookup(const struct neigh *n, uint8_t ip_version,
				       const union ip_addr *addr, uint16_t vlan);

#endif

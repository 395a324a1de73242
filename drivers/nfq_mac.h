/*
 * The nfqueue driver's table of source MACs by IP address: the kernel hands
 * over IP packets, and the firmware wants Ethernet frames whose destination
 * is the host the packet goes to.
 *
 * 1024 entries (24 KiB) hold every host of a small office
 * and the upstream router many times over; a collision overwrites, and a
 * miss only means the bridge's MAC as destination in the synthesized header. The
 * hash is SipHash under a key chosen per open, so that hosts cannot aim
 * collisions at a known slot.
 */
#ifndef TG_NFQ_MAC_H
#define TG_NFQ_MAC_H

#include <stdbool.h>
#include <stdint.h>

#define NFQ_MAC_ALEN 6
#define NFQ_MAC_BITS 10
#define NFQ_MAC_SLOTS (1u << NFQ_MAC_BITS)

struct nfq_mac_slot {
	uint32_t key[4];        /* IPv6 address, or IPv4 as ::ffff:a.b.c.d */
	uint8_t mac[NFQ_MAC_ALEN];
	bool used;
};

struct nfq_macs {
	uint8_t hash_key[16];   /* siphash_random_key() at open */
	struct nfq_mac_slot slots[NFQ_MAC_SLOTS];
};

/* The IP packet ip[0..len) came from mac: remember it for its source address. */
void nfq_mac_learn(struct nfq_macs *m, const uint8_t *ip, uint32_t len, bool v6, const uint8_t *mac);
/*
 * The destination MAC for the packet's destination address into mac: a
 * multicast group MAC, else the learned one, else fallback.
 */
void nfq_mac_lookup(const struct nfq_macs *m, const uint8_t *ip, uint32_t len, bool v6,
		    const uint8_t *fallback, uint8_t *mac);

#endif

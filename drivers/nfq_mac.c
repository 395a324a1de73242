/*
 * nfqueue's MAC table (nfq_mac.h): where each address was last heard from,
 * for the Ethernet header of the frames the driver hands the firmware.
 */
#include <arpa/inet.h>
#include <string.h>

#include "core/siphash.h"
#include "nfq_mac.h"

static uint32_t nfq_mac_hash(const struct nfq_macs *m, const uint32_t key[4])
{
	return (uint32_t)siphash24(m->hash_key, key, 4 * sizeof(key[0])) & (NFQ_MAC_SLOTS - 1);
}

/* The address at off in the IP packet as a table key; false if the packet is too short. */
static bool nfq_ip_key(const uint8_t *ip, uint32_t len, bool v6, uint32_t off, uint32_t key[4])
{
	if (v6) {
		if (len < off + 16)
			return false;
		memcpy(key, ip + off, 16);
		return true;
	}
	if (len < off + 4)
		return false;
	key[0] = 0;
	key[1] = 0;
	key[2] = htonl(0xffff);
	memcpy(&key[3], ip + off, 4);
	return true;
}

void nfq_mac_learn(struct nfq_macs *m, const uint8_t *ip, uint32_t len, bool v6,
			  const uint8_t *mac)
{
	struct nfq_mac_slot *s;
	uint32_t key[4];

	/* Only a unicast source MAC says where a host is. */
	if (mac[0] & 1 || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return;
	if (!nfq_ip_key(ip, len, v6, v6 ? 8 : 12, key))
		return;
	s = &m->slots[nfq_mac_hash(m, key)];
	memcpy(s->key, key, sizeof(key));
	memcpy(s->mac, mac, NFQ_MAC_ALEN);
	s->used = true;
}

/*
 * The destination MAC for the packet's destination address: the group MAC
 * of a multicast address (RFC 1112, RFC 2464), else the learned one, else
 * the bridge's own: an answer sent back to the sender then carries a valid
 * unicast source address (a broadcast source is refused by switches).
 */
void nfq_mac_lookup(const struct nfq_macs *m, const uint8_t *ip, uint32_t len, bool v6,
		    const uint8_t *fallback, uint8_t *mac)
{
	const struct nfq_mac_slot *s;
	const uint8_t *a;
	uint32_t key[4];

	if (nfq_ip_key(ip, len, v6, v6 ? 24 : 16, key)) {
		a = (const uint8_t *)key;
		if (v6 && a[0] == 0xff) {
			mac[0] = 0x33;
			mac[1] = 0x33;
			memcpy(mac + 2, a + 12, 4);
			return;
		}
		if (!v6 && (a[12] & 0xf0) == 0xe0) {
			mac[0] = 0x01;
			mac[1] = 0x00;
			mac[2] = 0x5e;
			mac[3] = a[13] & 0x7f;
			mac[4] = a[14];
			mac[5] = a[15];
			return;
		}
		s = &m->slots[nfq_mac_hash(m, key)];
		if (s->used && memcmp(s->key, key, sizeof(key)) == 0) {
			memcpy(mac, s->mac, NFQ_MAC_ALEN);
			return;
		}
	}
	memcpy(mac, fallback, NFQ_MAC_ALEN);
}

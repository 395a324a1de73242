/*
 * The bridge's forwarding database: on which port each MAC address was last
 * heard. Fixed size, allocated once: the table is hashed into sets of
 * FDB_WAYS entries (SipHash under a random key, so a flood of chosen source
 * addresses cannot be aimed at one set) and a new address replaces the
 * stalest entry of its set. Learning and lookup are O(1) and never allocate.
 */
#ifndef TG_FDB_H
#define TG_FDB_H

#include <stdbool.h>
#include <stdint.h>

#define FDB_WAYS 4
#define FDB_PORT_NONE (-1)

struct fdb_entry {
	uint8_t mac[6];
	uint8_t port;
	uint8_t used;
	uint32_t seen_s;   /* last heard, seconds on the caller's clock (ageing) */
	uint32_t stamp;    /* fdb.clock when last heard (which way is stalest) */
};

struct fdb_stats {
	uint64_t learned;  /* new addresses */
	uint64_t moved;    /* an address heard on another port than before */
	uint64_t replaced; /* a live entry pushed out by a new address */
};

struct fdb {
	struct fdb_entry *e;
	uint32_t sets;     /* power of two */
	uint32_t ageing_s;
	uint32_t clock;    /* counts learn calls: orders entries finer than seconds */
	uint8_t key[16];
	struct fdb_stats st;
};

/* At least `size` entries (rounded up), under a random key. Returns 0 or -ENOMEM. */
int fdb_init(struct fdb *t, uint32_t size, uint32_t ageing_s);
/* The same under the 16-byte hash_key; NULL = random. A fixed key is for
 * tests, so that a failure replays with the same sets. */
int fdb_init_keyed(struct fdb *t, uint32_t size, uint32_t ageing_s, const uint8_t *hash_key);
void fdb_free(struct fdb *t);

/* mac was heard on port at now_s. Group (multicast) source addresses are ignored. */
void fdb_learn(struct fdb *t, const uint8_t mac[6], uint8_t port, uint32_t now_s);

/* Port mac was last heard on, or FDB_PORT_NONE if unknown, aged out or a group address. */
int fdb_lookup(const struct fdb *t, const uint8_t mac[6], uint32_t now_s);

/* Forget every address (a port went down: hosts may come back elsewhere). */
void fdb_flush(struct fdb *t);

#endif

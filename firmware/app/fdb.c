/*
 * Set-associative MAC table; see fdb.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/fdb.h"
#include "core/siphash.h"
#include "packet/flow.h"

static inline bool fdb_is_group(const uint8_t mac[6])
{
	return mac[0] & 1;
}

static struct fdb_entry *fdb_set(const struct fdb *t, const uint8_t mac[6])
{
	uint64_t h = siphash24(t->key, mac, 6);

	return &t->e[(h & (t->sets - 1)) * FDB_WAYS];
}

int fdb_init(struct fdb *t, uint32_t size, uint32_t ageing_s)
{
	return fdb_init_keyed(t, size, ageing_s, NULL);
}

int fdb_init_keyed(struct fdb *t, uint32_t size, uint32_t ageing_s, const uint8_t *hash_key)
{
	uint32_t sets = 1;

	memset(t, 0, sizeof(*t));
	while ((uint64_t)sets * FDB_WAYS < size && sets < (1u << 28))
		sets <<= 1;
	t->e = calloc((size_t)sets * FDB_WAYS, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->sets = sets;
	t->ageing_s = ageing_s;
	if (hash_key)
		memcpy(t->key, hash_key, sizeof(t->key));
	else
		siphash_random_key(t->key, "bridge MAC table");
	return 0;
}

void fdb_free(struct fdb *t)
{
	free(t->e);
	t->e = NULL;
}

static bool fdb_live(const struct fdb *t, const struct fdb_entry *e, uint32_t now_s)
{
	return e->used && now_s - e->seen_s <= t->ageing_s;
}

void fdb_learn(struct fdb *t, const uint8_t mac[6], uint8_t port, uint32_t now_s)
{
	struct fdb_entry *set, *victim;

	if (fdb_is_group(mac))
		return;
	set = fdb_set(t, mac);
	victim = &set[0];
	t->clock++;
	for (int i = 0; i < FDB_WAYS; i++) {
		struct fdb_entry *e = &set[i];

		if (e->used && !memcmp(e->mac, mac, 6)) {
			if (e->port != port)
				t->st.moved++;
			e->port = port;
			e->seen_s = now_s;
			e->stamp = t->clock;
			return;
		}
		/* Prefer an empty way, then the one heard from longest ago. */
		if (!victim->used)
			continue;
		if (!e->used || t->clock - e->stamp > t->clock - victim->stamp)
			victim = e;
	}
	if (fdb_live(t, victim, now_s))
		t->st.replaced++;
	t->st.learned++;
	memcpy(victim->mac, mac, 6);
	victim->port = port;
	victim->used = 1;
	victim->seen_s = now_s;
	victim->stamp = t->clock;
}

int fdb_lookup(const struct fdb *t, const uint8_t mac[6], uint32_t now_s)
{
	const struct fdb_entry *set;

	if (fdb_is_group(mac))
		return FDB_PORT_NONE;
	set = fdb_set(t, mac);
	for (int i = 0; i < FDB_WAYS; i++)
		if (set[i].used && !memcmp(set[i].mac, mac, 6))
			return fdb_live(t, &set[i], now_s) ? set[i].port : FDB_PORT_NONE;
	return FDB_PORT_NONE;
}

void fdb_flush(struct fdb *t)
{
	memset(t->e, 0, (size_t)t->sets * FDB_WAYS * sizeof(*t->e));
}

/*
 * What inventory.c (the table, DHCP, records) and inventory_store.c (the
 * file on flash) share. Only those two include it.
 */
#ifndef TG_REPORT_INVENTORY_PRIV_H
#define TG_REPORT_INVENTORY_PRIV_H

#include "report/inventory.h"
#include "report/oui.h"

struct inventory {
	struct inventory_config cfg;
	struct inventory_device *dev;   /* cfg.capacity records */
	uint32_t *by_mac, *by_addr;     /* open addressing, index + 1, 0 free; mask + 1 slots */
	uint32_t mask;
	uint8_t hash_key[16];
	uint32_t free_head;             /* unused records, chained through lru_next */
	uint32_t lru_head, lru_tail;    /* idlest first */
	struct oui_table *oui;
	struct inventory_stats st;
	bool content_dirty;             /* a device changed since the file was written */
	bool seen_dirty;                /* only last-seen times did */
	int64_t saved_ms;
	char path[256];
	int64_t frame_new_minute;       /* inventory_frame_seen's bound: the minute counted, */
	uint32_t frame_new;             /* and the devices it added in it */
};

/*
 * A record for mac, new and linked idlest-last (the idlest device made room
 * if the table was full), seen at ms. NULL when mac is there already.
 */
struct inventory_device *inv_add(struct inventory *inv, const uint8_t mac[6], int64_t ms);
/*
 * The address index finds d by addrs[0]: take d out before addrs[0]
 * changes (inv_unindex_addr), put it in after (inv_index_addr).
 */
void inv_unindex_addr(struct inventory *inv, struct inventory_device *d);
void inv_index_addr(struct inventory *inv, struct inventory_device *d);

/* inventory_store.c: load cfg.path into inv (logged); write it (0 or -errno, logged). */
void inv_load(struct inventory *inv);
int inv_write(struct inventory *inv);

#endif

/*
 * The inventory (inventory.h). Devices live in one array allocated at
 * start; two open-addressed indexes (linear probing, deletion by backward
 * shift, so no tombstones pile up) find a device by its MAC and by its
 * current address, under a SipHash key chosen at start: the MACs come off
 * the wire and anyone on the LAN picks them. Each index has at least twice
 * the slots of devices, so a probe is short. An LRU list orders the
 * devices by their last sighting; its head is the one a newcomer replaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "inventory"
#include "core/common.h"
#include "core/log.h"
#include "core/siphash.h"
#include "report/inventory_priv.h"

static const uint8_t zero_ip[4];

static uint32_t idx_of(const struct inventory *inv, const struct inventory_device *d)
{
	return (uint32_t)(d - inv->dev);
}

static uint32_t slot_of(const struct inventory *inv, const void *key, size_t len)
{
	return (uint32_t)siphash24(inv->hash_key, key, len) & inv->mask;
}

/* The key a device is found by in index `by` (by_mac or by_addr). */
static const uint8_t *key_of(const struct inventory *inv, const uint32_t *by, uint32_t i, size_t *len)
{
	const struct inventory_device *d = &inv->dev[i];

	*len = by == inv->by_mac ? 6 : 4;
	return by == inv->by_mac ? d->mac : d->addrs[0].ip;
}

/* The slot holding key in `by`, or the free one where it would go. */
static uint32_t idx_find(const struct inventory *inv, const uint32_t *by, const uint8_t *key, size_t len)
{
	uint32_t s = slot_of(inv, key, len);

	for (;; s = (s + 1) & inv->mask) {
		size_t klen;

		if (!by[s] || memcmp(key_of(inv, by, by[s] - 1, &klen), key, len) == 0)
			return s;
	}
}

/* Remove slot s of `by`, shifting back the entries after it that would not be found otherwise. */
static void idx_remove(struct inventory *inv, uint32_t *by, uint32_t s)
{
	uint32_t j = s;

	by[s] = 0;
	for (;;) {
		const uint8_t *key;
		size_t len;
		uint32_t home;

		j = (j + 1) & inv->mask;
		if (!by[j])
			return;
		key = key_of(inv, by, by[j] - 1, &len);
		home = slot_of(inv, key, len);
		/* by[j] stays unless its home lies cyclically in (s, j] */
		if (((j - home) & inv->mask) >= ((j - s) & inv->mask)) {
			by[s] = by[j];
			by[j] = 0;
			s = j;
		}
	}
}

static void lru_unlink(struct inventory *inv, struct inventory_device *d)
{
	if (d->lru_prev)
		inv->dev[d->lru_prev - 1].lru_next = d->lru_next;
	else
		inv->lru_head = d->lru_next;
	if (d->lru_next)
		inv->dev[d->lru_next - 1].lru_prev = d->lru_prev;
	else
		inv->lru_tail = d->lru_prev;
	d->lru_prev = d->lru_next = 0;
}

static void lru_append(struct inventory *inv, struct inventory_device *d)
{
	uint32_t i = idx_of(inv, d) + 1;

	d->lru_next = 0;
	d->lru_prev = inv->lru_tail;
	if (inv->lru_tail)
		inv->dev[inv->lru_tail - 1].lru_next = i;
	else
		inv->lru_head = i;
	inv->lru_tail = i;
}

/* Seen at ms: last seen, and the end of the LRU list. */
static void touch(struct inventory *inv, struct inventory_device *d, int64_t ms)
{
	if (ms > d->last_ms) {
		d->last_ms = ms;
		inv->seen_dirty = true;
	}
	if (inv->lru_tail != idx_of(inv, d) + 1) {
		lru_unlink(inv, d);
		lru_append(inv, d);
	}
}

static bool has_addr(const struct inventory_device *d)
{
	return d->n_addrs && memcmp(d->addrs[0].ip, zero_ip, 4) != 0;
}

static void evict(struct inventory *inv, struct inventory_device *d)
{
	uint32_t s = idx_find(inv, inv->by_mac, d->mac, 6);

	if (inv->by_mac[s])
		idx_remove(inv, inv->by_mac, s);
	inv_unindex_addr(inv, d);
	lru_unlink(inv, d);
	memset(d, 0, sizeof(*d));
}

struct inventory_device *inv_add(struct inventory *inv, const uint8_t mac[6], int64_t ms)
{
	uint32_t s = idx_find(inv, inv->by_mac, mac, 6);
	struct inventory_device *d;

	if (inv->by_mac[s])
		return NULL;
	if (inv->free_head) {
		d = &inv->dev[inv->free_head - 1];
		inv->free_head = d->lru_next;
	} else {
		d = &inv->dev[inv->lru_head - 1];
		evict(inv, d);
		inv->st.evicted++;
		inv->st.devices--;
		s = idx_find(inv, inv->by_mac, mac, 6); /* the removal may have moved the free slot */
	}
	memset(d, 0, sizeof(*d));
	memcpy(d->mac, mac, 6);
	d->used = true;
	d->first_ms = d->last_ms = ms;
	inv->by_mac[s] = idx_of(inv, d) + 1;
	lru_append(inv, d);
	inv->st.devices++;
	return d;
}

void inv_unindex_addr(struct inventory *inv, struct inventory_device *d)
{
	uint32_t s;

	if (!has_addr(d))
		return;
	s = idx_find(inv, inv->by_addr, d->addrs[0].ip, 4);
	/* Another device may hold the slot: the address went to it after d. */
	if (inv->by_addr[s] == idx_of(inv, d) + 1)
		idx_remove(inv, inv->by_addr, s);
}

void inv_index_addr(struct inventory *inv, struct inventory_device *d)
{
	uint32_t i = idx_of(inv, d) + 1, s;

	if (!has_addr(d))
		return;
	s = idx_find(inv, inv->by_addr, d->addrs[0].ip, 4);
	/* An address another device held is this one's now (the lease moved). */
	inv->by_addr[s] = i;
}

struct inventory *inventory_new(const struct inventory_config *cfg)
{
	struct inventory *inv = calloc(1, sizeof(*inv));
	uint32_t slots = 4;

	if (!inv)
		return NULL;
	inv->cfg = *cfg;
	if (!inv->cfg.capacity)
		inv->cfg.capacity = CONFIG_REPORT_INVENTORY_SIZE;
	while (slots < inv->cfg.capacity * 2u)
		slots <<= 1;
	inv->mask = slots - 1;
	inv->dev = calloc(inv->cfg.capacity, sizeof(*inv->dev));
	inv->by_mac = calloc(slots, sizeof(uint32_t));
	inv->by_addr = calloc(slots, sizeof(uint32_t));
	if (!inv->dev || !inv->by_mac || !inv->by_addr) {
		inventory_free(inv);
		return NULL;
	}
	for (uint32_t i = inv->cfg.capacity; i > 0; i--) {
		inv->dev[i - 1].lru_next = inv->free_head;
		inv->free_head = i;
	}
	siphash_random_key(inv->hash_key, "inventory");
	if (cfg->path && cfg->path[0]) {
		snprintf(inv->path, sizeof(inv->path), "%s", cfg->path);
		inv->cfg.path = inv->path;
		inv_load(inv);
	} else {
		inv->cfg.path = NULL;
	}
	inv->oui = oui_open(cfg->oui_path);
	return inv;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	if (inv->dev && inv->by_mac)
		inventory_save(inv, 0, true);
	oui_close(inv->oui);
	free(inv->dev);
	free(inv->by_mac);
	free(inv->by_addr);
	free(inv);
}

const struct inventory_device *inventory_find(const struct inventory *inv, const uint8_t mac[6])
{
	uint32_t s = idx_find(inv, inv->by_mac, mac, 6);

	return inv->by_mac[s] ? &inv->dev[inv->by_mac[s] - 1] : NULL;
}

const char *inventory_vendor(const struct inventory *inv, const struct inventory_device *d)
{
	return oui_vendor(inv->oui, d->mac);
}

void inventory_get_stats(const struct inventory *inv, struct inventory_stats *st)
{
	*st = inv->st;
}

/* d holds ip at ms: newest first, an address it held before moves up, the oldest goes. */
static bool hold_addr(struct inventory *inv, struct inventory_device *d, const uint8_t ip[4], int64_t ms)
{
	struct inventory_addr a = { .first_ms = ms, .last_ms = ms };
	unsigned int i;

	if (d->n_addrs && memcmp(d->addrs[0].ip, ip, 4) == 0) {
		if (ms > d->addrs[0].last_ms)
			d->addrs[0].last_ms = ms;
		return false;
	}
	inv_unindex_addr(inv, d);
	memcpy(a.ip, ip, 4);
	for (i = 0; i < d->n_addrs; i++)
		if (memcmp(d->addrs[i].ip, ip, 4) == 0)
			break;
	if (i < d->n_addrs) {
		a.first_ms = d->addrs[i].first_ms;
	} else if (d->n_addrs < INVENTORY_ADDRS) {
		d->n_addrs++;
	}
	if (i >= d->n_addrs)
		i = d->n_addrs - 1u;
	memmove(&d->addrs[1], &d->addrs[0], i * sizeof(d->addrs[0]));
	d->addrs[0] = a;
	inv_index_addr(inv, d);
	return true;
}

static bool set_text(char *field, size_t size, const char *value)
{
	if (!strncmp(field, value, size))
		return false;
	snprintf(field, size, "%s", value);
	return true;
}

int inventory_dhcp(struct inventory *inv, const struct dhcp_msg *m, int64_t ms)
{
	const uint8_t *ip = NULL;
	struct inventory_device *d;
	bool added = false, changed = false;
	uint32_t s;
	int err = 0;

	/* A group address or zeros is no device (a relay's or a broken client's). */
	if ((m->chaddr[0] & 1) || memcmp(m->chaddr, "\0\0\0\0\0\0", 6) == 0) {
		inv->st.dhcp_ignored++;
		return 0;
	}
	/* What says the device holds an address: a server's ACK, a client's ciaddr. */
	if (m->op == 2) {
		if (m->type != DHCP_ACK)
			return 0;
		ip = memcmp(m->yiaddr, zero_ip, 4) != 0 ? m->yiaddr : m->ciaddr;
	} else if (m->type == DHCP_REQUEST || m->type == DHCP_INFORM) {
		ip = m->ciaddr;
	}
	if (ip && memcmp(ip, zero_ip, 4) == 0)
		ip = NULL;
	inv->st.dhcp++;
	s = idx_find(inv, inv->by_mac, m->chaddr, 6);
	if (inv->by_mac[s]) {
		d = &inv->dev[inv->by_mac[s] - 1];
	} else {
		d = inv_add(inv, m->chaddr, ms);
		d->is_new = added = true;
		inv->st.added++;
	}
	touch(inv, d, ms);
	if (ip)
		changed |= hold_addr(inv, d, ip, ms);
	if (m->op == 1) {
		if (m->has & DHCP_HAS_HOST_NAME)
			changed |= set_text(d->host_name, sizeof(d->host_name), m->host_name);
		if (m->has & DHCP_HAS_VENDOR_CLASS)
			changed |= set_text(d->vendor_class, sizeof(d->vendor_class), m->vendor_class);
		/* The fingerprint is a DISCOVER's or REQUEST's: an INFORM asks for other things. */
		if ((m->has & DHCP_HAS_PRL) && (m->type == DHCP_DISCOVER || m->type == DHCP_REQUEST) &&
		    (m->prl_len != d->prl_len || memcmp(m->prl, d->prl, m->prl_len) != 0)) {
			memcpy(d->prl, m->prl, m->prl_len);
			d->prl_len = m->prl_len;
			changed = true;
		}
	}
	if (added && inv->cfg.alerts)
		err = alert_new_device(inv->cfg.alerts, d->mac, has_addr(d) ? d->addrs[0].ip : NULL,
				       has_addr(d) ? 4 : 0, d->host_name[0] ? d->host_name : NULL);
	if (added || changed) {
		d->changed = true;
		inv->content_dirty = true;
	}
	if (err < 0)
		return err;
	return added || changed;
}

int inventory_frame_seen(struct inventory *inv, const uint8_t mac[6], const uint8_t ip[4], int64_t ms,
			 bool (*on_lan)(void *ctx, const uint8_t mac[6]), void *ctx)
{
	uint32_t s = idx_find(inv, inv->by_mac, mac, 6);
	struct inventory_device *d;
	bool added = false;
	unsigned int i;
	int err = 0;

	if (inv->by_mac[s]) {
		d = &inv->dev[inv->by_mac[s] - 1];
		/* the common case, once a packet: the device and its current address, seen again */
		if (d->n_addrs && memcmp(d->addrs[0].ip, ip, 4) == 0) {
			touch(inv, d, ms);
			if (ms > d->addrs[0].last_ms)
				d->addrs[0].last_ms = ms;
			return 0;
		}
		/* an address it holds beside its current one (a second address): seen, no change */
		for (i = 1; i < d->n_addrs; i++)
			if (memcmp(d->addrs[i].ip, ip, 4) == 0) {
				touch(inv, d, ms);
				if (ms > d->addrs[i].last_ms)
					d->addrs[i].last_ms = ms;
				return 0;
			}
	} else {
		/* A group address or zeros is no device; a MAC from beyond the LAN port is not the office's. */
		if ((mac[0] & 1) || memcmp(mac, "\0\0\0\0\0\0", 6) == 0 || (on_lan && !on_lan(ctx, mac)))
			return 0;
		if (ms / 60000 != inv->frame_new_minute) {
			inv->frame_new_minute = ms / 60000;
			inv->frame_new = 0;
		}
		if (inv->frame_new >= INVENTORY_FRAME_NEW_PER_MIN) {
			inv->st.frames_refused++;
			return 0;
		}
		inv->frame_new++;
		d = inv_add(inv, mac, ms);
		d->is_new = added = true;
		inv->st.added++;
	}
	inv->st.frames_learnt++;
	touch(inv, d, ms);
	hold_addr(inv, d, ip, ms);
	d->changed = true;
	inv->content_dirty = true;
	if (added && inv->cfg.alerts)
		err = alert_new_device(inv->cfg.alerts, d->mac, ip, 4, NULL);
	return err < 0 ? err : 1;
}

void inventory_addr_seen(struct inventory *inv, const uint8_t ip[4], int64_t ms)
{
	uint32_t s = idx_find(inv, inv->by_addr, ip, 4);
	struct inventory_device *d;

	if (!inv->by_addr[s])
		return;
	d = &inv->dev[inv->by_addr[s] - 1];
	touch(inv, d, ms);
	if (ms > d->addrs[0].last_ms)
		d->addrs[0].last_ms = ms;
}

/* ------------------------------------------------------------ asset records */

/*
 * A device's times to the second: enough for an inventory, and the
 * milliseconds were some 2 bytes a time on the wire that nothing predicts
 * (a tenth of an asset record).
 */
static void asset_time(int64_t ms, char out[32])
{
	record_time(ms / 1000 * 1000, out);
}

/* An address of the device; host: the record's host, which holds the current one's field already. */
static json_t *asset_addr(const struct inventory *inv, const struct inventory_addr *a, json_t *host)
{
	json_t *o = json_object(), *same = host ? json_object_get(host, "ip") : NULL;
	char t[32];

	if (host && !same)
		same = json_object_get(host, "id");
	if (same)
		json_object_set(o, json_object_get(host, "ip") ? "ip" : "id", same);
	else
		privacy_set_addr(inv->cfg.privacy, o, a->ip, 4);
	if (!json_object_size(o)) {
		json_decref(o);
		return NULL;
	}
	asset_time(a->first_ms, t);
	json_object_set_new(o, "first_seen", json_string(t));
	asset_time(a->last_ms, t);
	json_object_set_new(o, "last_seen", json_string(t));
	return o;
}

static json_t *asset_record(struct inventory *inv, const struct inventory_device *d, int64_t ms,
			    const char *action)
{
	const char *type = !strcmp(action, "request") ? "info" : d->is_new ? "creation" : "change";
	const char *vendor = oui_vendor(inv->oui, d->mac);
	json_t *rec = record_new(inv->cfg.observer, REPORT_ASSET, ms), *ev, *host, *tg, *asset, *addrs;
	char t[32], prl[DHCP_PRL_MAX * 4];

	if (!rec)
		return NULL;
	ev = json_object_get(rec, "event");
	json_object_set_new(ev, "action", json_string(action));
	json_object_set_new(ev, "category", json_pack("[s]", "host"));
	json_object_set_new(ev, "type", json_pack("[s]", type));
	host = json_object();
	privacy_set_mac(inv->cfg.privacy, host, d->mac);
	if (has_addr(d))
		privacy_set_addr(inv->cfg.privacy, host, d->addrs[0].ip, 4);
	if (d->host_name[0])
		privacy_set_name(inv->cfg.privacy, host, "hostname", PRIV_HOST, d->host_name);
	json_object_set_new(rec, "host", host);
	if (vendor)
		json_object_set_new(rec, "device", json_pack("{s:s}", "manufacturer", vendor));
	asset = json_object();
	asset_time(d->first_ms, t);
	json_object_set_new(asset, "first_seen", json_string(t));
	asset_time(d->last_ms, t);
	json_object_set_new(asset, "last_seen", json_string(t));
	/* A locally administered MAC: a phone's random one, or a VM's; no maker to name. */
	json_object_set_new(asset, "local_mac", json_boolean(d->mac[0] & 0x02));
	/*
	 * The vendor class names a kind of device ("MSFT 5.0", "udhcp 1.35.0") and
	 * goes as it is, unless it holds the host name (a switch that sends
	 * its name in both): then it is as private as the name.
	 */
	if (d->vendor_class[0] && d->host_name[0] && strstr(d->vendor_class, d->host_name))
		privacy_set_name(inv->cfg.privacy, asset, "vendor_class", PRIV_HOST, d->vendor_class);
	else if (d->vendor_class[0])
		json_object_set_new(asset, "vendor_class", json_string(d->vendor_class));
	if (d->prl_len) {
		dhcp_prl_text(d->prl, d->prl_len, prl, sizeof(prl));
		json_object_set_new(asset, "fingerprint", json_string(prl));
	}
	addrs = json_array();
	for (unsigned int i = 0; i < d->n_addrs; i++) {
		json_t *a = asset_addr(inv, &d->addrs[i], i == 0 && has_addr(d) ? host : NULL);

		if (a)
			json_array_append_new(addrs, a);
	}
	json_object_set_new(asset, "addresses", addrs);
	tg = json_object_get(rec, "tg");
	json_object_set_new(tg, "asset", asset);
	return rec;
}

static int asset_put(struct inventory *inv, struct inventory_device *d, int64_t ms, const char *action)
{
	json_t *rec = asset_record(inv, d, ms, action);
	int err;

	if (!rec)
		return -ENOMEM;
	err = inv->cfg.sink->put(inv->cfg.sink->ctx, REPORT_ASSET, rec);
	if (err < 0)
		return err;
	d->changed = d->is_new = false;
	return 1;
}

/* Devices in the order they were last seen, idlest first: one order for every run. */
static int report_walk(struct inventory *inv, int64_t ms, bool all)
{
	int n = 0, err;

	if (!inv->cfg.sink)
		return 0;
	for (uint32_t i = inv->lru_head; i; i = inv->dev[i - 1].lru_next) {
		struct inventory_device *d = &inv->dev[i - 1];

		if (!all && !d->changed)
			continue;
		err = asset_put(inv, d, ms, all ? "request" : "change");
		if (err < 0)
			return err;
		n++;
	}
	return n;
}

int inventory_report_changes(struct inventory *inv, int64_t ms)
{
	return report_walk(inv, ms, false);
}

int inventory_report_all(struct inventory *inv, int64_t ms)
{
	return report_walk(inv, ms, true);
}

int inventory_save(struct inventory *inv, int64_t ms, bool force)
{
	int err;

	if (!inv->cfg.path)
		return 0;
	if (!inv->content_dirty && !(inv->seen_dirty && (force || ms - inv->saved_ms >= INVENTORY_SEEN_SAVE_MS)))
		return 0;
	err = inv_write(inv);
	if (err < 0) {
		inv->st.save_errors++;
		return err;
	}
	inv->st.saves++;
	inv->content_dirty = inv->seen_dirty = false;
	inv->saved_ms = ms;
	return 0;
}

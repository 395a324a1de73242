/*
 * The inventory on flash (<data>/inventory): one JSON document, replaced
 * atomically (core/file.h) so a power cut leaves the old or the new one.
 *
 *   {"version": 1, "devices": [
 *     {"mac": "3c:22:fb:12:34:56", "first_seen": ms, "last_seen": ms,
 *      "host_name": "reception-pc", "vendor_class": "udhcp 1.35.0",
 *      "prl": [1, 3, 6, 12, 15, 28, 42],
 *      "addresses": [{"ip": "10.99.0.128", "first_seen": ms, "last_seen": ms}]}]}
 *
 * Raw values: the file stays on the box, beside the key that makes the
 * pseudonyms. Devices are written idlest first, so loading them in order
 * rebuilds the LRU list; past the capacity the idlest are left out.
 *
 * Loading never fails the gateway: a file that is no JSON or not this
 * document is logged (jansson's line and column, or what was wrong),
 * renamed to inventory.corrupt for the technician, and the inventory starts
 * empty; a device entry that breaks a rule is logged with its index, the
 * value and what was allowed, and skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "inventory"
#include "core/config.h"
#include "core/file.h"
#include "core/log.h"
#include "report/inventory_priv.h"

#define INV_FILE_VERSION 1
/* A device entry is at most some 700 bytes of JSON: room for the largest inventory. */
#define INV_FILE_MAX (64u << 20)

static json_t *dev_json(const struct inventory_device *d)
{
	char mac[18], ip[INET_ADDRSTRLEN];
	json_t *o, *prl = json_array(), *addrs = json_array();

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", d->mac[0], d->mac[1], d->mac[2],
		 d->mac[3], d->mac[4], d->mac[5]);
	for (unsigned int i = 0; i < d->prl_len; i++)
		json_array_append_new(prl, json_integer(d->prl[i]));
	for (unsigned int i = 0; i < d->n_addrs; i++) {
		inet_ntop(AF_INET, d->addrs[i].ip, ip, sizeof(ip));
		json_array_append_new(addrs, json_pack("{s:s, s:I, s:I}", "ip", ip, "first_seen",
						       (json_int_t)d->addrs[i].first_ms, "last_seen",
						       (json_int_t)d->addrs[i].last_ms));
	}
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:o, s:o}", "mac", mac, "first_seen",
		      (json_int_t)d->first_ms, "last_seen", (json_int_t)d->last_ms, "host_name",
		      d->host_name, "vendor_class", d->vendor_class, "prl", prl, "addresses", addrs);
	return o;
}

int inv_write(struct inventory *inv)
{
	json_t *doc, *devs = json_array();
	char *text;
	int err;

	for (uint32_t i = inv->lru_head; i; i = inv->dev[i - 1].lru_next)
		json_array_append_new(devs, dev_json(&inv->dev[i - 1]));
	doc = json_pack("{s:i, s:o}", "version", INV_FILE_VERSION, "devices", devs);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		log_err("cannot write %s: out of memory", inv->cfg.path);
		return -ENOMEM;
	}
	err = file_write_atomic(inv->cfg.path, text, strlen(text), 0600);
	free(text);
	if (err < 0)
		log_err("cannot write %s: %s", inv->cfg.path, strerror(-err));
	return err;
}

/* A text field of entry i: absent is empty; else printable ASCII of at most max bytes. */
static int dev_text(const char *path, size_t i, json_t *e, const char *key, char *out, size_t max)
{
	json_t *v = json_object_get(e, key);
	const char *s;

	out[0] = '\0';
	if (!v)
		return 0;
	s = json_string_value(v);
	if (!s || strlen(s) > max) {
		log_warn("%s: device %zu: %s is %s (allowed: a string of at most %zu bytes); entry skipped",
			 path, i, key, s ? "too long" : "not a string", max);
		return -EINVAL;
	}
	for (const char *c = s; *c; c++) {
		if (*c < 0x20 || *c > 0x7e) {
			log_warn("%s: device %zu: %s has byte 0x%02x (allowed: printable ASCII); entry skipped",
				 path, i, key, (unsigned char)*c);
			return -EINVAL;
		}
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int dev_time(const char *path, size_t i, json_t *e, const char *key, int64_t *out)
{
	json_t *v = json_object_get(e, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		if (json_is_integer(v))
			log_warn("%s: device %zu: %s %lld (allowed: ms since the epoch, >= 0); entry skipped",
				 path, i, key, (long long)json_integer_value(v));
		else
			log_warn("%s: device %zu: %s is %s (allowed: ms since the epoch, an integer >= 0); "
				 "entry skipped", path, i, key, v ? "not an integer" : "missing");
		return -EINVAL;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* Entry i of the file into d (not yet in the table). 0 or -EINVAL (logged). */
static int dev_parse(const char *path, size_t i, json_t *e, struct inventory_device *d)
{
	const char *mac = json_string_value(json_object_get(e, "mac"));
	json_t *prl = json_object_get(e, "prl"), *addrs = json_object_get(e, "addresses"), *v;
	size_t k;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(e)) {
		log_warn("%s: device %zu is not an object; entry skipped", path, i);
		return -EINVAL;
	}
	if (!mac || config_parse_mac(mac, d->mac) < 0) {
		log_warn("%s: device %zu: mac \"%s\" (allowed: aa:bb:cc:dd:ee:ff, unicast, not zero); "
			 "entry skipped", path, i, mac ? mac : "(none)");
		return -EINVAL;
	}
	if (dev_time(path, i, e, "first_seen", &d->first_ms) < 0 ||
	    dev_time(path, i, e, "last_seen", &d->last_ms) < 0 ||
	    dev_text(path, i, e, "host_name", d->host_name, DHCP_HOST_NAME_MAX) < 0 ||
	    dev_text(path, i, e, "vendor_class", d->vendor_class, DHCP_VENDOR_CLASS_MAX) < 0)
		return -EINVAL;
	if (prl && (!json_is_array(prl) || json_array_size(prl) > DHCP_PRL_MAX)) {
		log_warn("%s: device %zu: prl is not a list of at most %u codes; entry skipped", path, i,
			 DHCP_PRL_MAX);
		return -EINVAL;
	}
	json_array_foreach(prl, k, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255) {
			log_warn("%s: device %zu: prl code %zu is not 0..255; entry skipped", path, i, k);
			return -EINVAL;
		}
		d->prl[d->prl_len++] = (uint8_t)json_integer_value(v);
	}
	if (addrs && !json_is_array(addrs)) {
		log_warn("%s: device %zu: addresses is not a list; entry skipped", path, i);
		return -EINVAL;
	}
	json_array_foreach(addrs, k, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));
		struct inventory_addr *a = &d->addrs[d->n_addrs];

		/* A file from a build that kept more addresses: the newest are kept. */
		if (d->n_addrs >= INVENTORY_ADDRS)
			break;
		if (!ip || inet_pton(AF_INET, ip, a->ip) != 1) {
			log_warn("%s: device %zu: address %zu \"%s\" is not an IPv4 address; entry skipped",
				 path, i, k, ip ? ip : "(none)");
			return -EINVAL;
		}
		if (dev_time(path, i, v, "first_seen", &a->first_ms) < 0 ||
		    dev_time(path, i, v, "last_seen", &a->last_ms) < 0)
			return -EINVAL;
		d->n_addrs++;
	}
	return 0;
}

/* The file could not be taken at all: keep it for the technician, start empty. */
static void load_refused(struct inventory *inv, const char *why)
{
	char aside[300];

	snprintf(aside, sizeof(aside), "%s.corrupt", inv->cfg.path);
	if (file_rename_synced(inv->cfg.path, aside) < 0)
		aside[0] = '\0';
	log_warn("%s: %s; the inventory starts empty%s%s", inv->cfg.path, why,
		 aside[0] ? ", the file kept as " : "", aside);
}

void inv_load(struct inventory *inv)
{
	json_error_t jerr;
	json_t *doc, *devs, *e;
	uint8_t *text;
	size_t len, i, first;
	char why[256];
	int err;

	err = file_read(inv->cfg.path, INV_FILE_MAX, &text, &len);
	if (err == -ENOENT)
		return;
	if (err < 0) {
		snprintf(why, sizeof(why), "cannot read it: %s", strerror(-err));
		load_refused(inv, why);
		return;
	}
	doc = json_loadb((const char *)text, len, 0, &jerr);
	free(text);
	if (!doc) {
		snprintf(why, sizeof(why), "line %d, column %d: %s (allowed: the JSON the gateway writes)",
			 jerr.line, jerr.column, jerr.text);
		load_refused(inv, why);
		return;
	}
	devs = json_object_get(doc, "devices");
	if (json_integer_value(json_object_get(doc, "version")) != INV_FILE_VERSION ||
	    !json_is_array(devs)) {
		snprintf(why, sizeof(why), "version %lld, %s (allowed: version %d with a devices list)",
			 (long long)json_integer_value(json_object_get(doc, "version")),
			 json_is_array(devs) ? "a devices list" : "no devices list", INV_FILE_VERSION);
		load_refused(inv, why);
		json_decref(doc);
		return;
	}
	/* Idlest first: past the capacity, the first ones are the ones left out. */
	first = json_array_size(devs) > inv->cfg.capacity ? json_array_size(devs) - inv->cfg.capacity : 0;
	inv->st.evicted += first;
	json_array_foreach(devs, i, e) {
		struct inventory_device d, *n;

		if (i < first)
			continue;
		if (dev_parse(inv->cfg.path, i, e, &d) < 0) {
			inv->st.load_skipped++;
			continue;
		}
		n = inv_add(inv, d.mac, d.first_ms);
		if (!n) {
			log_warn("%s: device %zu: mac %s is there twice; entry skipped", inv->cfg.path, i,
				 json_string_value(json_object_get(e, "mac")));
			inv->st.load_skipped++;
			continue;
		}
		d.lru_prev = n->lru_prev;
		d.lru_next = n->lru_next;
		d.used = true;
		*n = d;
		inv_index_addr(inv, n);
		inv->st.loaded++;
	}
	json_decref(doc);
	log_info("%s: %llu devices%s", inv->cfg.path, (unsigned long long)inv->st.loaded,
		 inv->st.load_skipped ? " (entries skipped: above)" : "");
}

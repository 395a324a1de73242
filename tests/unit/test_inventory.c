/*
 * The inventory (firmware/report/inventory.c, inventory_store.c): devices
 * learnt from DHCP, the idlest evicted first, a bounded address history,
 * the file on flash kept across a restart and a corrupt one set aside, the
 * makers from an OUI table, asset records once per change through the
 * privacy levels, and the new-device alert only for a MAC the inventory
 * did not hold. With TG_RECORDS_OUT=FILE every record is also written there
 * as a JSON line, for tests/integration/report_replay.sh to check against
 * docs/reports.md.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixtures.h"
#define LOG_MODULE "test"
#include "core/config.h"
#include "core/log.h"
#include "packet/decode.h"
#include "report/inventory.h"
#include "report/oui.h"

static const uint8_t key[PRIVACY_KEY_LEN] = { 7 };
#define T0 INT64_C(1800000000000)

struct t {
	struct privacy priv;
	struct record_observer obs;
	struct report_sink sink;
	struct alerts *alerts;
	struct inventory *inv;
	json_t *assets, *alerted;
	uint64_t seq;
};

static int keep_put(void *ctx, enum report_kind kind, json_t *rec)
{
	struct t *t = ctx;

	record_set_seq(rec, ++t->seq);
	fx_records_out(rec);
	json_array_append_new(kind == REPORT_ASSET ? t->assets : t->alerted, rec);
	return 0;
}

static void start(struct t *t, uint32_t capacity, const char *path, const char *oui)
{
	struct tg_config cfg;
	struct alert_config ac;
	struct inventory_config ic;

	memset(t, 0, sizeof(*t));
	config_defaults(&cfg);
	assert_int_equal(privacy_init(&t->priv, &cfg, key), 0);
	record_observer_init(&t->obs, &cfg);
	t->sink = (struct report_sink){ .put = keep_put, .ctx = t };
	t->assets = json_array();
	t->alerted = json_array();
	ac = (struct alert_config){ .interval_ms = 60000, .limit = 1000, .privacy = &t->priv,
				    .observer = &t->obs, .sink = &t->sink };
	t->alerts = alerts_new(&ac);
	assert_non_null(t->alerts);
	alerts_clock(t->alerts, (uint64_t)T0, 0);
	ic = (struct inventory_config){ .capacity = capacity, .path = path, .oui_path = oui,
					.privacy = &t->priv, .observer = &t->obs, .sink = &t->sink,
					.alerts = t->alerts };
	t->inv = inventory_new(&ic);
	assert_non_null(t->inv);
}

static void stop(struct t *t)
{
	inventory_free(t->inv);
	alerts_free(t->alerts);
	privacy_uninit(&t->priv);
	json_decref(t->assets);
	json_decref(t->alerted);
}

static void mac_of(uint8_t mac[6], unsigned int n)
{
	static const uint8_t base[6] = { 0x3c, 0x22, 0xfb, 0x00, 0x00, 0x00 };

	memcpy(mac, base, 6);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

/* A client's DISCOVER from device n with a host name (NULL: none). */
static int discover(struct t *t, unsigned int n, const char *name, int64_t ms)
{
	static const uint8_t prl[5] = { 1, 3, 6, 15, 119 };
	struct dhcp_msg m;

	memset(&m, 0, sizeof(m));
	m.op = 1;
	m.type = DHCP_DISCOVER;
	mac_of(m.chaddr, n);
	if (name) {
		snprintf(m.host_name, sizeof(m.host_name), "%s", name);
		m.has |= DHCP_HAS_HOST_NAME;
	}
	memcpy(m.prl, prl, sizeof(prl));
	m.prl_len = sizeof(prl);
	m.has |= DHCP_HAS_PRL;
	snprintf(m.vendor_class, sizeof(m.vendor_class), "MSFT 5.0");
	m.has |= DHCP_HAS_VENDOR_CLASS;
	return inventory_dhcp(t->inv, &m, ms);
}

/* A server's ACK leasing 192.168.1.<host> to device n. */
static int ack(struct t *t, unsigned int n, unsigned int host, int64_t ms)
{
	struct dhcp_msg m;

	memset(&m, 0, sizeof(m));
	m.op = 2;
	m.type = DHCP_ACK;
	mac_of(m.chaddr, n);
	m.yiaddr[0] = 192;
	m.yiaddr[1] = 168;
	m.yiaddr[2] = 1;
	m.yiaddr[3] = (uint8_t)host;
	return inventory_dhcp(t->inv, &m, ms);
}

static const struct inventory_device *dev(struct t *t, unsigned int n)
{
	uint8_t mac[6];

	mac_of(mac, n);
	return inventory_find(t->inv, mac);
}

static void test_a_new_device_past_the_bound_replaces_the_idlest(void **state)
{
	struct inventory_stats st;
	uint8_t ip[4] = { 192, 168, 1, 11 };
	struct t t;

	(void)state;
	start(&t, 3, NULL, NULL);
	assert_int_equal(discover(&t, 1, "a", T0 + 1), 1);
	assert_int_equal(discover(&t, 2, "b", T0 + 2), 1);
	assert_int_equal(discover(&t, 3, "c", T0 + 3), 1);
	assert_int_equal(ack(&t, 1, 11, T0 + 4), 1);
	/* 2 is the idlest now; traffic from 1's address keeps 1 fresh too */
	inventory_addr_seen(t.inv, ip, T0 + 5);
	assert_int_equal(dev(&t, 1)->last_ms, T0 + 5);
	assert_int_equal(discover(&t, 4, "d", T0 + 6), 1);
	assert_null(dev(&t, 2));
	assert_non_null(dev(&t, 1));
	assert_non_null(dev(&t, 3));
	assert_non_null(dev(&t, 4));
	/* then 3, then 1 */
	assert_int_equal(discover(&t, 5, "e", T0 + 7), 1);
	assert_null(dev(&t, 3));
	assert_int_equal(discover(&t, 6, "f", T0 + 8), 1);
	assert_null(dev(&t, 1));
	/* an evicted device's address leads nowhere */
	inventory_addr_seen(t.inv, ip, T0 + 9);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 3);
	assert_int_equal(st.evicted, 3);
	assert_int_equal(st.added, 6);
	/* every first sighting alerted */
	assert_int_equal(json_array_size(t.alerted), 6);
	/* the same device again: no alert, no change */
	assert_int_equal(discover(&t, 6, "f", T0 + 10), 0);
	assert_int_equal(json_array_size(t.alerted), 6);
	stop(&t);
}

/* Many devices through a small table: the indexes stay consistent with what is kept. */
static void test_the_indexes_follow_every_eviction(void **state)
{
	struct inventory_stats st;
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	for (unsigned int n = 1; n <= 500; n++) {
		assert_true(discover(&t, n, NULL, T0 + n) >= 0);
		assert_true(ack(&t, n, n % 200 + 1, T0 + n) >= 0);
	}
	for (unsigned int n = 1; n <= 500; n++) {
		if (n > 484)
			assert_non_null(dev(&t, n));
		else
			assert_null(dev(&t, n));
	}
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 16);
	assert_int_equal(st.evicted, 484);
	stop(&t);
}

static void test_the_address_history_is_bounded_newest_first(void **state)
{
	const struct inventory_device *d;
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	for (unsigned int i = 0; i < INVENTORY_ADDRS + 2; i++)
		assert_int_equal(ack(&t, 1, 10 + i, T0 + 1000 * i), 1);
	d = dev(&t, 1);
	assert_int_equal(d->n_addrs, INVENTORY_ADDRS);
	for (unsigned int i = 0; i < INVENTORY_ADDRS; i++)
		assert_int_equal(d->addrs[i].ip[3], 10 + INVENTORY_ADDRS + 1 - i);
	/* the same lease again: no change, only its last-seen time */
	assert_int_equal(ack(&t, 1, 10 + INVENTORY_ADDRS + 1, T0 + 99000), 0);
	assert_int_equal(d->addrs[0].last_ms, T0 + 99000);
	/* back to an older one: it moves up and keeps when it was first held */
	assert_int_equal(ack(&t, 1, 10 + INVENTORY_ADDRS - 1, T0 + 100000), 1);
	assert_int_equal(d->n_addrs, INVENTORY_ADDRS);
	assert_int_equal(d->addrs[0].ip[3], 10 + INVENTORY_ADDRS - 1);
	assert_int_equal(d->addrs[0].first_ms, T0 + 1000 * (INVENTORY_ADDRS - 1));
	assert_int_equal(d->addrs[1].ip[3], 10 + INVENTORY_ADDRS + 1);
	stop(&t);
}

static void test_an_address_that_moved_refreshes_its_new_holder(void **state)
{
	uint8_t ip[4] = { 192, 168, 1, 50 };
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	ack(&t, 1, 50, T0);
	ack(&t, 2, 51, T0);
	ack(&t, 2, 50, T0 + 10); /* the lease of .50 went to 2 */
	inventory_addr_seen(t.inv, ip, T0 + 20);
	assert_int_equal(dev(&t, 2)->last_ms, T0 + 20);
	assert_int_equal(dev(&t, 1)->last_ms, T0);
	ack(&t, 1, 52, T0 + 30); /* 1 moves on: .50 still finds 2 */
	inventory_addr_seen(t.inv, ip, T0 + 40);
	assert_int_equal(dev(&t, 2)->last_ms, T0 + 40);
	stop(&t);
}

static void test_the_inventory_survives_a_restart_and_knows_its_devices(void **state)
{
	struct fx_scratch sc;
	struct inventory_stats st;
	const struct inventory_device *d;
	struct t t;

	(void)state;
	assert_int_equal(fx_scratch_enter(&sc, "inventory"), 0);
	start(&t, 16, "inventory", NULL);
	discover(&t, 1, "reception-pc", T0 + 1);
	ack(&t, 1, 20, T0 + 2);
	ack(&t, 1, 21, T0 + 3);
	discover(&t, 2, NULL, T0 + 4);
	discover(&t, 3, "printer", T0 + 5);
	assert_int_equal(inventory_save(t.inv, T0 + 6, false), 0);
	stop(&t);

	start(&t, 16, "inventory", NULL);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.loaded, 3);
	assert_int_equal(st.load_skipped, 0);
	d = dev(&t, 1);
	assert_non_null(d);
	assert_string_equal(d->host_name, "reception-pc");
	assert_string_equal(d->vendor_class, "MSFT 5.0");
	assert_int_equal(d->prl_len, 5);
	assert_int_equal(d->prl[4], 119);
	assert_int_equal(d->n_addrs, 2);
	assert_int_equal(d->addrs[0].ip[3], 21);
	assert_int_equal(d->addrs[1].ip[3], 20);
	assert_int_equal(d->first_ms, T0 + 1);
	assert_int_equal(d->last_ms, T0 + 3);
	assert_string_equal(dev(&t, 3)->host_name, "printer");
	/* a device the file held is no new device; the address index came back too */
	assert_int_equal(discover(&t, 1, "reception-pc", T0 + 100), 0);
	assert_int_equal(json_array_size(t.alerted), 0);
	assert_int_equal(discover(&t, 9, "visitor", T0 + 101), 1);
	assert_int_equal(json_array_size(t.alerted), 1);
	/* the order came back: 2 is the idlest (1 was seen again just now) */
	inventory_addr_seen(t.inv, (const uint8_t[4]){ 192, 168, 1, 21 }, T0 + 102);
	assert_int_equal(dev(&t, 1)->last_ms, T0 + 102);
	stop(&t);
	assert_int_equal(fx_scratch_leave(&sc), 0);
}

static void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static size_t get_file(const char *path, uint8_t *buf, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, max, f);
	assert_int_equal(fclose(f), 0);
	return n;
}

static void test_a_corrupt_file_is_set_aside_and_the_inventory_starts_empty(void **state)
{
	static const char garbage[] = "{\"version\":1,\"devices\":[{\"mac\":";
	static const char one_bad[] =
		"{\"version\":1,\"devices\":["
		"{\"mac\":\"zz:22:fb:00:00:01\",\"first_seen\":1,\"last_seen\":2},"
		"{\"mac\":\"3c:22:fb:00:00:02\",\"first_seen\":1,\"last_seen\":2,\"host_name\":\"bad\\u0007\"},"
		"{\"mac\":\"3c:22:fb:00:00:03\",\"first_seen\":1,\"last_seen\":-2},"
		"{\"mac\":\"3c:22:fb:00:00:04\",\"first_seen\":1,\"last_seen\":2,\"host_name\":\"ok\"}]}";
	struct fx_scratch sc;
	struct inventory_stats st;
	struct stat sb;
	struct t t;

	(void)state;
	assert_int_equal(fx_scratch_enter(&sc, "inventory"), 0);
	put_file("inventory", garbage, strlen(garbage));
	start(&t, 16, "inventory", NULL);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 0);
	assert_int_equal(stat("inventory.corrupt", &sb), 0);
	assert_int_equal(stat("inventory", &sb), -1);
	/* it works on: a device, saved over */
	assert_int_equal(discover(&t, 1, "pc", T0), 1);
	stop(&t);
	assert_int_equal(stat("inventory", &sb), 0);

	/* entries that break a rule are skipped, the rest taken */
	put_file("inventory", one_bad, strlen(one_bad));
	start(&t, 16, "inventory", NULL);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.load_skipped, 3);
	assert_string_equal(dev(&t, 4)->host_name, "ok");
	stop(&t);

	/* a file of another version is no inventory of ours */
	put_file("inventory", "{\"version\":2,\"devices\":[]}", 26);
	start(&t, 16, "inventory", NULL);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 0);
	stop(&t);
	assert_int_equal(fx_scratch_leave(&sc), 0);
}

/* A table of two makers, as tools/mk-oui writes it. */
static void write_oui(const char *path)
{
	static const uint8_t table[] = {
		'T', 'G', 'O', 'U', 'I', 0, 0, 1, 2, 0, 0, 0, 20, 0, 0, 0,
		0x00, 0x80, 0x8f, 0, 0, 0,
		0x3c, 0x22, 0xfb, 8, 0, 0,
		'C', '.', ' ', 'I', 'T', 'O', 'H', 0,
		'A', 'p', 'p', 'l', 'e', ',', ' ', 'I', 'n', 'c', '.', 0,
	};

	_Static_assert(sizeof(table) == 16 + 12 + 20, "header, entries, names");
	put_file(path, table, sizeof(table));
}

static void test_makers_come_from_the_oui_table_and_a_bad_one_is_refused(void **state)
{
	static const uint8_t random_mac[6] = { 0x3e, 0x22, 0xfb, 1, 2, 3 };
	struct fx_scratch sc;
	struct oui_table *o;
	struct t t;
	uint8_t bytes[64];
	size_t n;

	(void)state;
	assert_int_equal(fx_scratch_enter(&sc, "oui"), 0);
	write_oui("oui.bin");
	o = oui_open("oui.bin");
	assert_non_null(o);
	assert_int_equal(oui_count(o), 2);
	assert_string_equal(oui_vendor(o, (const uint8_t[6]){ 0x3c, 0x22, 0xfb, 9, 9, 9 }), "Apple, Inc.");
	assert_string_equal(oui_vendor(o, (const uint8_t[6]){ 0x00, 0x80, 0x8f, 9, 9, 9 }), "C. ITOH");
	assert_null(oui_vendor(o, (const uint8_t[6]){ 0x00, 0x80, 0x90, 9, 9, 9 }));
	/* a locally administered (random) MAC has no maker */
	assert_null(oui_vendor(o, random_mac));
	oui_close(o);
	assert_null(oui_open("missing.bin"));
	assert_null(oui_open(""));

	/* out of order; a name offset past the names; cut short */
	n = get_file("oui.bin", bytes, sizeof(bytes));
	memset(bytes + 16 + 6, 0, 3); /* the second OUI 000000: before the first */
	put_file("bad.bin", bytes, n);
	assert_null(oui_open("bad.bin"));
	n = get_file("oui.bin", bytes, sizeof(bytes));
	bytes[16 + 6 + 3] = 40;
	put_file("bad.bin", bytes, n);
	assert_null(oui_open("bad.bin"));
	put_file("bad.bin", bytes, n - 1);
	assert_null(oui_open("bad.bin"));

	/* the maker in the asset record; without a table none */
	start(&t, 16, NULL, "oui.bin");
	discover(&t, 1, "mac-mini", T0);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(t.assets, 0), "device"), "manufacturer")),
			    "Apple, Inc.");
	stop(&t);
	start(&t, 16, NULL, "missing.bin");
	discover(&t, 1, "mac-mini", T0);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 1);
	assert_null(json_object_get(json_array_get(t.assets, 0), "device"));
	stop(&t);
	assert_int_equal(fx_scratch_leave(&sc), 0);
}

static json_t *asset_of(json_t *rec)
{
	return json_object_get(json_object_get(rec, "tg"), "asset");
}

static void test_asset_records_once_per_change_through_the_privacy_levels(void **state)
{
	json_t *rec, *host, *addrs;
	char *text;
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	discover(&t, 1, "reception-pc", T0);
	ack(&t, 1, 30, T0 + 10);
	discover(&t, 2, NULL, T0 + 20);
	/* two devices changed, one record each, however often they changed */
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 2);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 120000), 0);
	rec = json_array_get(t.assets, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "event"), "kind")), "asset");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "event"), "action")), "change");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"), "type"), 0)),
			    "creation");
	host = json_object_get(rec, "host");
	/* the defaults: pseudonyms, never the MAC, the address or the name */
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "mac"))), PRIV_MAC);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "id"))), PRIV_ADDR);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(host, "hostname"))), PRIV_HOST);
	text = json_dumps(rec, JSON_COMPACT);
	assert_null(strstr(text, "3C-22-FB"));
	assert_null(strstr(text, "192.168.1.30"));
	assert_null(strstr(text, "reception-pc"));
	free(text);
	assert_string_equal(json_string_value(json_object_get(asset_of(rec), "fingerprint")), "1,3,6,15,119");
	assert_string_equal(json_string_value(json_object_get(asset_of(rec), "vendor_class")), "MSFT 5.0");
	assert_string_equal(json_string_value(json_object_get(asset_of(rec), "first_seen")), "2027-01-15T08:00:00.000Z");
	/* at 08:00:00.010: asset times go to the second */
	assert_string_equal(json_string_value(json_object_get(asset_of(rec), "last_seen")), "2027-01-15T08:00:00.000Z");
	addrs = json_object_get(asset_of(rec), "addresses");
	assert_int_equal(json_array_size(addrs), 1);

	/* a vendor class that holds the host name is as private as the name */
	discover(&t, 3, "MSFT", T0 + 30);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 1);
	rec = json_array_get(t.assets, 2);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(asset_of(rec), "vendor_class"))),
			 PRIV_HOST);
	json_array_remove(t.assets, 2);

	/* a change later: "change" */
	ack(&t, 2, 31, T0 + 130000);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 180000), 1);
	rec = json_array_get(t.assets, 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"), "type"), 0)),
			    "change");
	/* on request: every device, "info" */
	assert_int_equal(inventory_report_all(t.inv, T0 + 190000), 3);
	rec = json_array_get(t.assets, 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "event"), "action")), "request");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(rec, "event"), "type"), 0)),
			    "info");
	stop(&t);

	/* raw, as the office may choose; the new-device alert names the device */
	start(&t, 16, NULL, NULL);
	t.priv.level[PRIV_ADDR] = TG_PRIV_RAW;
	t.priv.level[PRIV_MAC] = TG_PRIV_RAW;
	t.priv.level[PRIV_HOST] = TG_PRIV_RAW;
	discover(&t, 1, "reception-pc", T0);
	ack(&t, 1, 30, T0 + 10);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 1);
	host = json_object_get(json_array_get(t.assets, 0), "host");
	assert_string_equal(json_string_value(json_object_get(host, "mac")), "3C-22-FB-00-00-01");
	assert_string_equal(json_string_value(json_object_get(host, "ip")), "192.168.1.30");
	assert_string_equal(json_string_value(json_object_get(host, "hostname")), "reception-pc");
	host = json_object_get(json_array_get(t.alerted, 0), "host");
	assert_string_equal(json_string_value(json_object_get(host, "hostname")), "reception-pc");
	/* dropped addresses leave no history entries */
	t.priv.level[PRIV_ADDR] = TG_PRIV_DROP;
	assert_int_equal(inventory_report_all(t.inv, T0 + 70000), 1);
	rec = json_array_get(t.assets, 1);
	assert_int_equal(json_array_size(json_object_get(asset_of(rec), "addresses")), 0);
	assert_null(json_object_get(json_object_get(rec, "host"), "ip"));
	stop(&t);
}

static void test_a_group_or_zero_chaddr_is_no_device(void **state)
{
	struct inventory_stats st;
	struct dhcp_msg m;
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	memset(&m, 0, sizeof(m));
	m.op = 1;
	m.type = DHCP_DISCOVER;
	assert_int_equal(inventory_dhcp(t.inv, &m, T0), 0);
	m.chaddr[0] = 0x01;
	assert_int_equal(inventory_dhcp(t.inv, &m, T0), 0);
	/* an OFFER is no lease */
	m.op = 2;
	m.type = DHCP_OFFER;
	m.chaddr[0] = 0x3c;
	m.yiaddr[0] = 10;
	assert_int_equal(inventory_dhcp(t.inv, &m, T0), 0);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 0);
	assert_int_equal(st.dhcp_ignored, 2);
	stop(&t);
}

static bool never_on_lan(void *ctx, const uint8_t mac[6])
{
	(void)mac;
	++*(int *)ctx;
	return false;
}

/* Devices with static addresses: from their frames' source MAC and address (inventory_frame_seen). */
static void test_a_static_device_enters_from_its_frames_like_a_dhcp_one(void **state)
{
	const uint8_t ip50[4] = { 192, 168, 1, 50 }, ip51[4] = { 192, 168, 1, 51 }, ip7[4] = { 192, 168, 1, 7 };
	uint8_t mac[6], group[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	const struct inventory_device *d;
	struct inventory_stats st;
	int asked = 0;
	json_t *a;
	struct t t;

	(void)state;
	start(&t, 16, NULL, NULL);
	mac_of(mac, 1);
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip50, T0, NULL, NULL), 1);
	d = dev(&t, 1);
	assert_non_null(d);
	assert_int_equal(d->n_addrs, 1);
	assert_memory_equal(d->addrs[0].ip, ip50, 4);
	/* one new_device alert, with its address (a pseudonym at the default level) */
	assert_int_equal(json_array_size(t.alerted), 1);
	a = json_array_get(t.alerted, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "event"), "action")), "new_device");
	assert_non_null(json_object_get(json_object_get(a, "host"), "id"));
	/* seen again at its address: nothing changes but the times, and no hash beyond the MAC's */
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip50, T0 + 5000, NULL, NULL), 0);
	assert_int_equal(d->last_ms, T0 + 5000);
	assert_int_equal(d->addrs[0].last_ms, T0 + 5000);
	/* its asset record at the interval's end: a creation */
	assert_int_equal(inventory_report_changes(t.inv, T0 + 60000), 1);
	a = asset_of(json_array_get(t.assets, 0));
	assert_non_null(a);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 120000), 0);
	/* another address: a change, newest first; the older one seen again is no change */
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip51, T0 + 130000, NULL, NULL), 1);
	assert_memory_equal(d->addrs[0].ip, ip51, 4);
	assert_memory_equal(d->addrs[1].ip, ip50, 4);
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip50, T0 + 131000, NULL, NULL), 0);
	assert_memory_equal(d->addrs[0].ip, ip51, 4);
	assert_int_equal(d->addrs[1].last_ms, T0 + 131000);
	assert_int_equal(inventory_report_changes(t.inv, T0 + 180000), 1);
	/* a group MAC is no device; a MAC the LAN side does not have is not asked about twice, nor taken */
	assert_int_equal(inventory_frame_seen(t.inv, group, ip7, T0, NULL, NULL), 0);
	mac_of(mac, 2);
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip7, T0, never_on_lan, &asked), 0);
	assert_int_equal(asked, 1);
	assert_null(dev(&t, 2));
	/* a device DHCP made: its frames from the leased address add nothing, and no second alert */
	assert_int_equal(discover(&t, 3, "printer", T0), 1);
	assert_int_equal(ack(&t, 3, 7, T0), 1);
	mac_of(mac, 3);
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip7, T0 + 1000, never_on_lan, &asked), 0);
	assert_int_equal(asked, 1);
	assert_int_equal(json_array_size(t.alerted), 2);
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, 2);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.frames_learnt, 2);
	stop(&t);
}

/* A flood of forged MACs: at most INVENTORY_FRAME_NEW_PER_MIN new devices a minute from frames. */
static void test_frames_add_a_bounded_number_of_devices_a_minute(void **state)
{
	uint8_t mac[6], ip[4] = { 10, 0, 0, 0 };
	struct inventory_stats st;
	struct t t;

	(void)state;
	start(&t, 1024, NULL, NULL);
	for (unsigned int i = 0; i < INVENTORY_FRAME_NEW_PER_MIN + 44; i++) {
		mac_of(mac, i);
		ip[2] = (uint8_t)(i >> 8), ip[3] = (uint8_t)i;
		inventory_frame_seen(t.inv, mac, ip, T0 + i, NULL, NULL);
	}
	inventory_get_stats(t.inv, &st);
	assert_int_equal(st.devices, INVENTORY_FRAME_NEW_PER_MIN);
	assert_int_equal(st.frames_refused, 44);
	/* a device it holds is still seen; the next minute takes new ones again */
	mac_of(mac, 0);
	ip[2] = 0, ip[3] = 0;
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip, T0 + 1000, NULL, NULL), 0);
	assert_int_equal(dev(&t, 0)->last_ms, T0 + 1000);
	mac_of(mac, 1000);
	assert_int_equal(inventory_frame_seen(t.inv, mac, ip, T0 + 60000, NULL, NULL), 1);
	stop(&t);
}

/* The decoder gives the source MAC of an Ethernet frame, and an ARP frame's body (not tracked). */
static void test_the_decoder_gives_the_source_mac_and_arp_bodies(void **state)
{
	uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3c, 0x22, 0xfb, 0, 0, 9, 0x08, 0x06,
		0, 1, 0x08, 0, 6, 4, 0, 1, 0x3c, 0x22, 0xfb, 0, 0, 9, 192, 168, 1, 9,
		0, 0, 0, 0, 0, 0, 192, 168, 1, 1,
	};
	uint8_t ip[34] = { 0 };
	struct pkt p;

	(void)state;
	assert_int_equal(decode_packet(LINK_ETHERNET, arp, sizeof(arp), sizeof(arp), &p), DECODE_ERR_NOT_IP);
	assert_true(p.flags & PKT_F_ARP);
	assert_ptr_equal(p.src_mac, arp + 6);
	assert_ptr_equal(p.l3, arp + 14);
	assert_int_equal(p.l3_len, 28);
	memcpy(ip, arp, 12);
	ip[12] = 0x08;
	assert_int_not_equal(decode_packet(LINK_ETHERNET, ip, sizeof(ip), sizeof(ip), &p), DECODE_OK);
	assert_false(p.flags & PKT_F_ARP);
	assert_ptr_equal(p.src_mac, ip + 6);
	assert_int_equal(decode_packet(LINK_RAW, ip + 14, 20, 20, &p) == DECODE_OK, false);
	assert_null(p.src_mac);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_new_device_past_the_bound_replaces_the_idlest),
		cmocka_unit_test(test_the_indexes_follow_every_eviction),
		cmocka_unit_test(test_the_address_history_is_bounded_newest_first),
		cmocka_unit_test(test_an_address_that_moved_refreshes_its_new_holder),
		cmocka_unit_test(test_the_inventory_survives_a_restart_and_knows_its_devices),
		cmocka_unit_test(test_a_corrupt_file_is_set_aside_and_the_inventory_starts_empty),
		cmocka_unit_test(test_makers_come_from_the_oui_table_and_a_bad_one_is_refused),
		cmocka_unit_test(test_asset_records_once_per_change_through_the_privacy_levels),
		cmocka_unit_test(test_a_group_or_zero_chaddr_is_no_device),
		cmocka_unit_test(test_a_static_device_enters_from_its_frames_like_a_dhcp_one),
		cmocka_unit_test(test_frames_add_a_bounded_number_of_devices_a_minute),
		cmocka_unit_test(test_the_decoder_gives_the_source_mac_and_arp_bodies),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

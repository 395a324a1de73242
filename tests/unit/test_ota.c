/*
 * Bundles over the air (firmware/hub/ota.c): fragments written to flash, then the
 * blocklist's acceptance rules, the refusal the hub hears about, the wait
 * for a full bundle after a delta on the wrong base, and the retained copy of
 * the list in force counted as unchanged without being written.
 *
 * Every case starts from an empty data directory; the bundles (serials 1-3
 * of region north, the deltas 1->2 and 2->3, one signed by another key, one
 * of region south) are built once.
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
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "hub/ota.h"
#include "hub/state.h"
#include "policy/bundle.h"
#include "policy/store.h"

#define NOW 1795491234u

static char *priv, *pub, *other_priv, *other_pub;
static char dir[64];

struct blob {
	uint8_t *p;
	size_t n;
};

/* A full bundle of region `region`, serial `serial`, blocking n domains. */
static struct blob full(const char *key, const char *region, uint64_t serial, int n)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_meta m = { .rule = 7, .action = BUNDLE_ACT_BLOCK };
	struct bundle_info in = { .serial = serial, .created = NOW - 60, .expires = NOW + 86400 };
	struct blob b = { 0 };
	char name[64];

	snprintf(in.region, sizeof(in.region), "%s", region);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bad%d.example", i);
		assert_int_equal(bundle_builder_add_domain(bb, name, false, &m), 0);
	}
	assert_int_equal(bundle_build(bb, &in, (const uint8_t *)key, strlen(key) + 1, &b.p, &b.n), 0);
	bundle_builder_free(bb);
	return b;
}

static struct blob delta(const struct blob *from, const struct blob *to)
{
	struct bundle *a, *b;
	struct blob d = { 0 };

	assert_int_equal(bundle_open_mem(from->p, from->n, &a), BUNDLE_OK);
	assert_int_equal(bundle_open_mem(to->p, to->n, &b), BUNDLE_OK);
	assert_int_equal(bundle_diff(a, b, (const uint8_t *)priv, strlen(priv) + 1, &d.p, &d.n), 0);
	bundle_close(a);
	bundle_close(b);
	return d;
}

static const struct store_trust *trust(void)
{
	static struct store_trust t;

	t = (struct store_trust){ .pubkey = (const uint8_t *)pub, .pubkey_len = strlen(pub) + 1,
				  .region = "north", .clock_skew_s = 300 };
	return &t;
}

/* Send b in fragments of `frag` bytes (announcing `announce` bytes). */
static enum ota_result send(struct ota *o, enum ota_kind kind, const struct blob *b, size_t frag,
			    size_t announce, struct bundle **in_force)
{
	struct bundle *fresh = NULL;
	enum ota_result r;

	if (ota_begin(o, kind, announce, *in_force) == 0)
		for (size_t off = 0; off < b->n; off += frag)
			ota_data(o, b->p + off, b->n - off < frag ? b->n - off : frag);
	r = ota_end(o, trust(), *in_force, NOW, &fresh);
	if (r == OTA_ACCEPTED) {
		assert_non_null(fresh);
		bundle_close(*in_force);
		*in_force = fresh;
	} else {
		assert_null(fresh);
	}
	/* The temporary file never stays behind. */
	{
		char tmp[128];

		snprintf(tmp, sizeof(tmp), "%s/bundle/.ota", dir);
		assert_int_equal(access(tmp, F_OK), -1);
	}
	return r;
}

static struct blob s1, s2, s3, d12, d23, foreign, south;
static struct ota rx;
static struct bundle *enforced;

/* The inode of <dir>/bundle/<name>, 0 if there is none. */
static ino_t inode(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/bundle/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Serial 1 in force, received as the hub sends it. */
static void serial_1_in_force(void)
{
	assert_int_equal(send(&rx, OTA_FULL, &s1, 777, s1.n, &enforced), OTA_ACCEPTED);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static int setup(void **state)
{
	(void)state;
	if (bundle_keygen(&priv, &pub) || bundle_keygen(&other_priv, &other_pub))
		return -1;
	s1 = full(priv, "north", 1, 50);
	s2 = full(priv, "north", 2, 60);
	s3 = full(priv, "north", 3, 70);
	d12 = delta(&s1, &s2);
	d23 = delta(&s2, &s3);
	foreign = full(other_priv, "north", 9, 5);
	south = full(priv, "south", 9, 5);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(s1.p); free(s2.p); free(s3.p); free(d12.p); free(d23.p); free(foreign.p); free(south.p);
	free(priv);
	free(pub);
	free(other_priv);
	free(other_pub);
	return 0;
}

/* Each case: an empty data directory, nothing in force. */
static int fresh_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_ota_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	ota_init(&rx, dir);
	enforced = NULL;
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	ota_abort(&rx);
	bundle_close(enforced);
	enforced = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_a_full_bundle_in_fragments_is_accepted_and_kept_as_current(void **state)
{
	struct bundle *flash;
	const char *which;

	(void)state;
	serial_1_in_force();
	assert_int_equal(rx.st.accepted, 1);
	assert_false(rx.last_refusal.set);
	assert_int_equal(store_load(dir, trust(), NOW, &flash, &which), BUNDLE_OK);
	assert_int_equal(bundle_get_info(flash)->serial, 1);
	assert_string_equal(which, "current");
	bundle_close(flash);
}

static void test_the_received_file_is_renamed_to_current_not_copied(void **state)
{
	struct bundle *fresh = NULL;
	ino_t received;

	(void)state;
	assert_int_equal(ota_begin(&rx, OTA_FULL, s1.n, NULL), 0);
	assert_int_equal(ota_data(&rx, s1.p, s1.n), 0);
	received = inode(".ota");
	assert_int_not_equal(received, 0);
	assert_int_equal(ota_end(&rx, trust(), NULL, NOW, &fresh), OTA_ACCEPTED);
	assert_int_equal(inode("current"), received);
	bundle_close(fresh);
}

static void test_the_retained_copy_of_the_list_in_force_is_unchanged_and_never_written(void **state)
{
	uint64_t written;
	ino_t cur;

	(void)state;
	serial_1_in_force();
	written = rx.st.bytes;
	cur = inode("current");
	assert_int_equal(send(&rx, OTA_FULL, &s1, 4096, s1.n, &enforced), OTA_UNCHANGED);
	assert_int_equal(rx.st.unchanged, 1);
	assert_false(rx.last_refusal.set);
	assert_int_equal(rx.st.bytes, written);
	assert_int_equal(inode("current"), cur);
	assert_int_equal(inode("previous"), 0);
}

static void test_the_header_decides_even_when_it_comes_in_pieces(void **state)
{
	uint64_t written;

	(void)state;
	serial_1_in_force();
	written = rx.st.bytes;
	assert_int_equal(send(&rx, OTA_FULL, &s1, 7, s1.n, &enforced), OTA_UNCHANGED);
	assert_int_equal(rx.st.bytes, written);
}

static void test_an_older_serial_is_refused_as_stale_before_it_is_written(void **state)
{
	uint64_t written;

	(void)state;
	assert_int_equal(send(&rx, OTA_FULL, &s2, 1000, s2.n, &enforced), OTA_ACCEPTED);
	written = rx.st.bytes;
	assert_int_equal(send(&rx, OTA_FULL, &s1, 4096, s1.n, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_STALE);
	assert_int_equal(rx.last_refusal.serial, 1);
	assert_int_equal(rx.st.bytes, written);
	assert_int_equal(bundle_get_info(enforced)->serial, 2);
}

static void test_a_bundle_signed_by_another_key_is_refused_for_its_signature(void **state)
{
	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_FULL, &foreign, 1000, foreign.n, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_SIGNATURE);
	assert_int_equal(rx.last_refusal.serial, 9);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static void test_a_bundle_of_another_region_is_refused_for_its_region(void **state)
{
	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_FULL, &south, 1000, south.n, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_REGION);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static void test_fewer_bytes_than_announced_are_refused_as_truncated(void **state)
{
	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_FULL, &s2, 1000, s2.n + 10, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_TRUNCATED);
	assert_int_equal(rx.last_refusal.serial, 0);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static void test_more_bytes_than_announced_are_refused_as_a_write_error(void **state)
{
	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_FULL, &s2, 1000, s2.n - 10, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_IO);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static void test_a_delta_on_another_base_is_refused_and_waits_for_a_full_bundle(void **state)
{
	uint64_t written;

	(void)state;
	serial_1_in_force();
	written = rx.st.bytes;
	assert_int_equal(send(&rx, OTA_DELTA, &d23, 500, d23.n, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_BASE);
	assert_true(rx.waiting_for_full);
	assert_int_equal(rx.st.bytes, written);
	assert_int_equal(bundle_get_info(enforced)->serial, 1);
}

static void test_a_delta_with_nothing_in_force_waits_for_a_full_bundle(void **state)
{
	(void)state;
	assert_int_equal(send(&rx, OTA_DELTA, &d12, 500, d12.n, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_BASE);
	assert_true(rx.waiting_for_full);
	assert_null(enforced);
}

static void test_the_delta_on_the_serial_in_force_applies_and_the_wait_goes_on(void **state)
{
	struct bundle *flash;
	const char *which;

	(void)state;
	serial_1_in_force();
	rx.waiting_for_full = true;
	assert_int_equal(send(&rx, OTA_DELTA, &d12, 500, d12.n, &enforced), OTA_ACCEPTED);
	assert_int_equal(bundle_get_info(enforced)->serial, 2);
	assert_true(rx.waiting_for_full);
	assert_int_equal(store_load(dir, trust(), NOW, &flash, &which), BUNDLE_OK);
	assert_int_equal(bundle_get_info(flash)->serial, 2);
	bundle_close(flash);
}

static void test_the_next_full_bundle_ends_the_wait(void **state)
{
	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_DELTA, &d23, 500, d23.n, &enforced), OTA_REFUSED);
	assert_true(rx.waiting_for_full);
	assert_int_equal(send(&rx, OTA_FULL, &s3, 100000, s3.n, &enforced), OTA_ACCEPTED);
	assert_false(rx.waiting_for_full);
	assert_int_equal(bundle_get_info(enforced)->serial, 3);
}

static void test_the_list_in_force_becomes_previous(void **state)
{
	struct bundle *b;
	char prev[128];

	(void)state;
	serial_1_in_force();
	assert_int_equal(send(&rx, OTA_FULL, &s3, 4096, s3.n, &enforced), OTA_ACCEPTED);
	snprintf(prev, sizeof(prev), "%s/bundle/previous", dir);
	assert_int_equal(bundle_open_file(prev, &b), BUNDLE_OK);
	assert_int_equal(bundle_get_info(b)->serial, 1);
	bundle_close(b);
}

static void test_a_message_over_the_size_limit_is_refused_at_once(void **state)
{
	(void)state;
	assert_int_equal(ota_begin(&rx, OTA_FULL, (size_t)OTA_MAX_BYTES + 1, NULL), -EFBIG);
	assert_int_equal(inode(".ota"), 0);
	assert_int_equal(ota_end(&rx, trust(), NULL, NOW, &enforced), OTA_REFUSED);
	assert_int_equal(rx.last_refusal.reason, BUNDLE_ERR_IO);
}

/* The state message says what is enforced and why the last bundle was refused. */
static void state_message(void **state)
{
	struct blob s5 = full(priv, "north", 5, 3), forged = full(other_priv, "north", 6, 3);
	struct bundle *in_force = NULL;
	struct ota o;
	uint8_t sha[32];
	char hex[65], *js;
	json_t *j;

	(void)state;
	ota_init(&o, dir);
	assert_int_equal(send(&o, OTA_FULL, &s5, 4096, s5.n, &in_force), OTA_ACCEPTED);
	assert_int_equal(send(&o, OTA_FULL, &forged, 4096, forged.n, &in_force), OTA_REFUSED);
	const struct state_in in = { .gateway = "gw-7", .region = "north", .firmware = "0.4.0",
				     .mode = "bridge", .bundle = in_force, .ota = &o, .uptime_s = 42,
				     .now_s = NOW };
	assert_true(state_json(&in, &js) > 0);
	j = json_loads(js, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "online")));
	assert_string_equal(json_string_value(json_object_get(j, "gateway")), "gw-7");
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "bridge");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "bundle"), "serial")), 5);
	bundle_sha256(in_force, sha);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "bundle"), "sha256")), hex);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "last_refusal"), "reason")),
			    "signature");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "last_refusal"), "serial")), 6);
	assert_true(json_is_false(json_object_get(j, "waiting_for_full")));
	assert_int_equal(json_integer_value(json_object_get(j, "time")), NOW);
	json_decref(j);
	free(js);
	/* No list, no refusal yet: nulls, not missing keys. */
	const struct state_in none = { .gateway = "gw-7", .region = "north", .firmware = "0.4.0",
				       .mode = "monitor" };
	assert_true(state_json(&none, &js) > 0);
	j = json_loads(js, 0, NULL);
	assert_true(json_is_null(json_object_get(j, "bundle")));
	assert_true(json_is_null(json_object_get(j, "last_refusal")));
	json_decref(j);
	free(js);
	assert_true(state_will_json("gw-7", "north", &js) > 0);
	assert_string_equal(js, "{\"gateway\":\"gw-7\",\"online\":false,\"region\":\"north\"}");
	free(js);
	bundle_close(in_force);
	free(s5.p);
	free(forged.p);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, fresh_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_a_full_bundle_in_fragments_is_accepted_and_kept_as_current),
		CASE(test_the_received_file_is_renamed_to_current_not_copied),
		CASE(test_the_retained_copy_of_the_list_in_force_is_unchanged_and_never_written),
		CASE(test_the_header_decides_even_when_it_comes_in_pieces),
		CASE(test_an_older_serial_is_refused_as_stale_before_it_is_written),
		CASE(test_a_bundle_signed_by_another_key_is_refused_for_its_signature),
		CASE(test_a_bundle_of_another_region_is_refused_for_its_region),
		CASE(test_fewer_bytes_than_announced_are_refused_as_truncated),
		CASE(test_more_bytes_than_announced_are_refused_as_a_write_error),
		CASE(test_a_delta_on_another_base_is_refused_and_waits_for_a_full_bundle),
		CASE(test_a_delta_with_nothing_in_force_waits_for_a_full_bundle),
		CASE(test_the_delta_on_the_serial_in_force_applies_and_the_wait_goes_on),
		CASE(test_the_next_full_bundle_ends_the_wait),
		CASE(test_the_list_in_force_becomes_previous),
		CASE(test_a_message_over_the_size_limit_is_refused_at_once),
		CASE(state_message),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Bundles over the air (firmware/hub/ota.c): fragments written to flash, then the
 * blocklist's acceptance rules, the refusal the hub hears about, the wait
 * for a full bundle after a delta on the wrong base, and the retained copy of
 * the list in force counted as unchanged.
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

	if (ota_begin(o, kind, announce) == 0)
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

static int setup(void **state)
{
	(void)state;
	if (bundle_keygen(&priv, &pub) || bundle_keygen(&other_priv, &other_pub))
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/test_ota_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	free(priv);
	free(pub);
	free(other_priv);
	free(other_pub);
	return 0;
}

static void the_loop(void **state)
{
	struct blob s1 = full(priv, "north", 1, 50), s2 = full(priv, "north", 2, 60);
	struct blob s3 = full(priv, "north", 3, 70), d12 = delta(&s1, &s2), d23 = delta(&s2, &s3);
	struct blob forged = full(other_priv, "north", 9, 5), south = full(priv, "south", 9, 5);
	struct bundle *in_force = NULL, *flash;
	struct ota o;
	const char *which;

	(void)state;
	ota_init(&o, dir);
	/* First list, in odd-sized fragments. */
	assert_int_equal(send(&o, OTA_FULL, &s1, 777, s1.n, &in_force), OTA_ACCEPTED);
	assert_int_equal(bundle_get_info(in_force)->serial, 1);
	/* The retained copy again: unchanged, not a refusal. */
	assert_int_equal(send(&o, OTA_FULL, &s1, 4096, s1.n, &in_force), OTA_UNCHANGED);
	assert_false(o.last_refusal.set);
	/* Refusals, each with its reason; serial 1 stays. */
	assert_int_equal(send(&o, OTA_FULL, &forged, 1000, forged.n, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_SIGNATURE);
	assert_int_equal(o.last_refusal.serial, 9);
	assert_int_equal(send(&o, OTA_FULL, &south, 1000, south.n, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_REGION);
	assert_int_equal(send(&o, OTA_FULL, &s2, 1000, s2.n + 10, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_TRUNCATED); /* fewer bytes than announced */
	assert_int_equal(send(&o, OTA_FULL, &s2, 1000, s2.n - 10, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_IO);        /* more than announced */
	assert_int_equal(bundle_get_info(in_force)->serial, 1);
	/* A delta on the wrong base: wait for a full bundle. */
	assert_int_equal(send(&o, OTA_DELTA, &d23, 500, d23.n, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_BASE);
	assert_true(o.waiting_for_full);
	/* The right delta applies (and leaves the wait to the next full bundle). */
	assert_int_equal(send(&o, OTA_DELTA, &d12, 500, d12.n, &in_force), OTA_ACCEPTED);
	assert_int_equal(bundle_get_info(in_force)->serial, 2);
	/* An older full bundle is stale. */
	assert_int_equal(send(&o, OTA_FULL, &s1, 4096, s1.n, &in_force), OTA_REFUSED);
	assert_int_equal(o.last_refusal.reason, BUNDLE_ERR_STALE);
	/* The next full bundle ends the wait. */
	assert_int_equal(send(&o, OTA_FULL, &s3, 100000, s3.n, &in_force), OTA_ACCEPTED);
	assert_false(o.waiting_for_full);
	assert_int_equal(o.st.accepted, 3);
	/* And it is what the flash holds. */
	assert_int_equal(store_load(dir, trust(), NOW, &flash, &which), BUNDLE_OK);
	assert_int_equal(bundle_get_info(flash)->serial, 3);
	assert_string_equal(which, "current");
	bundle_close(flash);
	/* Too big to take at all. */
	assert_int_equal(ota_begin(&o, OTA_FULL, (size_t)OTA_MAX_BYTES + 1), -EFBIG);
	ota_abort(&o);
	bundle_close(in_force);
	free(s1.p); free(s2.p); free(s3.p); free(d12.p); free(d23.p); free(forged.p); free(south.p);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_loop),
		cmocka_unit_test(state_message),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

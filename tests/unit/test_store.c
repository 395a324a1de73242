/*
 * The bundle on flash (firmware/policy/store.c, with core/file.c): which file
 * loads, how a new one is put in place, and that a power cut or a full disk
 * at any step leaves current the old bundle or the new one, never a torn one.
 *
 * A power cut is simulated by the state it leaves: a temporary file half
 * written or never renamed, previous already linked to current. A full disk
 * by RLIMIT_FSIZE, which makes the write fail part way as ENOSPC would.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/file.h"
#include "policy/bundle.h"
#include "policy/store.h"

#define NOW 1795491234u

static char *priv, *pub;
static char dir[64];
static struct bundle *out;

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob s1, s2, s3; /* serials 1-3 of region north */

static struct blob full(uint64_t serial, int n)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_meta m = { .rule = 3, .action = BUNDLE_ACT_BLOCK };
	struct bundle_info in = { .region = "north", .serial = serial, .created = NOW - 60,
				  .expires = NOW + 86400 };
	struct blob b = { 0 };
	char name[64];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bad%d.example", i);
		assert_int_equal(bundle_builder_add_domain(bb, name, false, &m), 0);
	}
	assert_int_equal(bundle_build(bb, &in, (const uint8_t *)priv, strlen(priv) + 1, &b.p, &b.n), 0);
	bundle_builder_free(bb);
	return b;
}

static const struct store_trust *trust(void)
{
	static struct store_trust t;

	t = (struct store_trust){ .pubkey = (const uint8_t *)pub, .pubkey_len = strlen(pub) + 1,
				  .region = "north", .clock_skew_s = 300 };
	return &t;
}

static const char *path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/bundle/%s", dir, name);
	return p[i];
}

static void put(const char *name, const struct blob *b)
{
	assert_int_equal(file_write_synced(path(name), b->p, b->n, 0644), 0);
}

static ino_t inode(const char *name)
{
	struct stat st;

	return stat(path(name), &st) == 0 ? st.st_ino : 0;
}

/* The serial store_load() puts in force, and from which file. */
static uint64_t loaded(const char **which)
{
	struct bundle *b;
	uint64_t serial;

	if (store_load(dir, trust(), NOW, &b, which) != BUNDLE_OK)
		return 0;
	serial = bundle_get_info(b)->serial;
	bundle_close(b);
	return serial;
}

static uint64_t serial_of(const char *name)
{
	struct bundle *b;
	uint64_t serial;

	if (bundle_open_file(path(name), &b) != BUNDLE_OK)
		return 0;
	serial = bundle_get_info(b)->serial;
	bundle_close(b);
	return serial;
}

static int setup(void **state)
{
	(void)state;
	if (bundle_keygen(&priv, &pub))
		return -1;
	s1 = full(1, 20);
	s2 = full(2, 30);
	s3 = full(3, 40);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(s1.p);
	free(s2.p);
	free(s3.p);
	free(priv);
	free(pub);
	return 0;
}

static int fresh_dir(void **state)
{
	char sub[80];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_store_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sub, sizeof(sub), "%s/bundle", dir);
	out = NULL;
	return mkdir(sub, 0755);
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	bundle_close(out);
	out = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ loading */

static void test_current_is_the_list_in_force(void **state)
{
	const char *which = NULL;

	(void)state;
	put("current", &s2);
	put("previous", &s1);
	assert_int_equal(loaded(&which), 2);
	assert_string_equal(which, "current");
}

static void test_without_current_previous_is_in_force(void **state)
{
	const char *which = NULL;

	(void)state;
	put("previous", &s1);
	assert_int_equal(loaded(&which), 1);
	assert_string_equal(which, "previous");
}

static void test_a_corrupt_current_falls_back_to_previous(void **state)
{
	struct blob torn = { malloc(s2.n), s2.n };
	const char *which = NULL;

	(void)state;
	memcpy(torn.p, s2.p, s2.n);
	torn.p[s2.n / 2] ^= 0x40;
	put("current", &torn);
	put("previous", &s1);
	assert_int_equal(loaded(&which), 1);
	assert_string_equal(which, "previous");
	free(torn.p);
}

static void test_a_truncated_current_falls_back_to_previous(void **state)
{
	struct blob half = { s2.p, s2.n / 2 };
	const char *which = NULL;

	(void)state;
	put("current", &half);
	put("previous", &s1);
	assert_int_equal(loaded(&which), 1);
	assert_string_equal(which, "previous");
}

static void test_nothing_on_flash_is_no_list_at_all(void **state)
{
	struct bundle *b = NULL;
	const char *which = NULL;

	(void)state;
	assert_int_equal(store_load(dir, trust(), NOW, &b, &which), BUNDLE_ERR_IO);
	assert_null(b);
}

static void test_when_both_are_refused_the_reason_is_current_s(void **state)
{
	struct blob half = { s2.p, 100 };
	struct bundle *b = NULL;
	const char *which = NULL;

	(void)state;
	put("current", &half);
	put("previous", &half);
	assert_int_equal(store_load(dir, trust(), NOW, &b, &which), BUNDLE_ERR_TRUNCATED);
	assert_null(b);
}

/* ------------------------------------------------------------ accepting */

static void test_an_accepted_file_is_renamed_to_current(void **state)
{
	ino_t cand;

	(void)state;
	put(".ota", &s1);
	cand = inode(".ota");
	assert_int_equal(store_accept_file(dir, trust(), NULL, path(".ota"), NULL, NOW, &out), BUNDLE_OK);
	assert_int_equal(bundle_get_info(out)->serial, 1);
	assert_int_equal(inode("current"), cand);
	assert_int_equal(inode(".ota"), 0);
}

static void test_the_old_current_becomes_previous(void **state)
{
	struct bundle *in_force;
	ino_t old;

	(void)state;
	put("current", &s1);
	old = inode("current");
	assert_int_equal(bundle_open_file(path("current"), &in_force), BUNDLE_OK);
	put(".ota", &s2);
	assert_int_equal(store_accept_file(dir, trust(), in_force, path(".ota"), NULL, NOW, &out), BUNDLE_OK);
	assert_int_equal(serial_of("current"), 2);
	assert_int_equal(inode("previous"), old);
	assert_int_equal(inode(".previous"), 0);
	bundle_close(in_force);
}

static void test_an_accepted_buffer_is_written_then_renamed(void **state)
{
	(void)state;
	assert_int_equal(store_accept(dir, trust(), NULL, s3.p, s3.n, NOW, &out), BUNDLE_OK);
	assert_int_equal(bundle_get_info(out)->serial, 3);
	assert_int_equal(serial_of("current"), 3);
	assert_int_equal(inode(".incoming"), 0);
}

static void test_a_refused_candidate_changes_nothing_on_flash(void **state)
{
	struct bundle *in_force;
	ino_t cur;

	(void)state;
	put("current", &s2);
	cur = inode("current");
	assert_int_equal(bundle_open_file(path("current"), &in_force), BUNDLE_OK);
	put(".ota", &s1);
	assert_int_equal(store_accept_file(dir, trust(), in_force, path(".ota"), NULL, NOW, &out),
			 BUNDLE_ERR_STALE);
	assert_null(out);
	assert_int_equal(inode("current"), cur);
	assert_int_equal(inode("previous"), 0);
	assert_int_not_equal(inode(".ota"), 0); /* the caller's to remove */
	bundle_close(in_force);
}

/* ------------------------------------------------------------ power cuts, full disk */

static void test_a_cut_while_the_new_file_was_written_leaves_the_old_current(void **state)
{
	struct blob half = { s2.p, s2.n / 2 };
	const char *which = NULL;

	(void)state;
	put("current", &s1);
	put(".incoming", &half);
	put(".ota", &half);
	assert_int_equal(loaded(&which), 1);
	assert_string_equal(which, "current");
	/* and the next bundle goes in over what was left */
	assert_int_equal(store_accept(dir, trust(), NULL, s2.p, s2.n, NOW, &out), BUNDLE_OK);
	assert_int_equal(serial_of("current"), 2);
	assert_int_equal(inode(".incoming"), 0);
}

static void test_a_cut_after_previous_was_linked_leaves_the_old_current(void **state)
{
	struct bundle *in_force = NULL;
	const char *which = NULL;

	(void)state;
	put("current", &s1);
	assert_int_equal(link(path("current"), path(".previous")), 0);
	put(".incoming", &s2);
	/* the gateway starts again: current is in force, and the next bundle comes */
	assert_int_equal(store_load(dir, trust(), NOW, &in_force, &which), BUNDLE_OK);
	assert_string_equal(which, "current");
	assert_int_equal(store_accept(dir, trust(), in_force, s2.p, s2.n, NOW, &out), BUNDLE_OK);
	assert_int_equal(serial_of("current"), 2);
	assert_int_equal(serial_of("previous"), 1);
	bundle_close(in_force);
}

/*
 * Issue 11, defect 1: current corrupt (serial 3), previous good (serial 2,
 * in force). A good serial 3 replaces current; previous stays serial 2, so a
 * second corruption of current still leaves a list.
 */
static void test_a_refused_current_never_becomes_previous(void **state)
{
	struct blob torn = { malloc(s3.n), s3.n };
	struct bundle *in_force = NULL;
	const char *which = NULL;
	ino_t prev;

	(void)state;
	memcpy(torn.p, s3.p, s3.n);
	torn.p[s3.n / 2] ^= 0x40;
	put("current", &torn);
	put("previous", &s2);
	prev = inode("previous");
	assert_int_equal(store_load(dir, trust(), NOW, &in_force, &which), BUNDLE_OK);
	assert_string_equal(which, "previous");
	assert_int_equal(store_accept(dir, trust(), in_force, s3.p, s3.n, NOW, &out), BUNDLE_OK);
	assert_int_equal(serial_of("current"), 3);
	assert_int_equal(serial_of("previous"), 2);
	assert_int_equal(inode("previous"), prev);
	bundle_close(in_force);
	/* current corrupt again: previous still loads */
	put("current", &torn);
	assert_int_equal(loaded(&which), 2);
	assert_string_equal(which, "previous");
	free(torn.p);
}

/* Nothing in force (both refused): the refused current is replaced, not kept as previous. */
static void test_with_nothing_in_force_current_is_only_replaced(void **state)
{
	struct blob half = { s1.p, s1.n / 2 };

	(void)state;
	put("current", &half);
	assert_int_equal(store_accept(dir, trust(), NULL, s2.p, s2.n, NOW, &out), BUNDLE_OK);
	assert_int_equal(serial_of("current"), 2);
	assert_int_equal(inode("previous"), 0);
}

static void test_a_cut_after_the_rename_leaves_the_new_current(void **state)
{
	const char *which = NULL;

	(void)state;
	put("previous", &s1);
	put("current", &s2); /* the rename is atomic: the new file, whole */
	assert_int_equal(loaded(&which), 2);
	assert_string_equal(which, "current");
}

static void test_a_full_disk_refuses_the_bundle_and_keeps_the_old_one(void **state)
{
	struct rlimit old, small = { .rlim_cur = s2.n / 2 };
	struct bundle *in_force;
	void (*was)(int);
	ino_t cur;

	(void)state;
	put("current", &s1);
	cur = inode("current");
	assert_int_equal(bundle_open_file(path("current"), &in_force), BUNDLE_OK);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(store_accept(dir, trust(), in_force, s2.p, s2.n, NOW, &out), BUNDLE_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_null(out);
	assert_int_equal(inode("current"), cur);
	assert_int_equal(inode(".incoming"), 0);
	assert_int_equal(inode("previous"), 0);
	bundle_close(in_force);
}

/* ------------------------------------------------------------ files and keys */

static void test_an_atomic_write_replaces_the_file_and_leaves_no_temporary(void **state)
{
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(file_write_atomic(path("f"), "old", 3, 0644), 0);
	assert_int_equal(file_write_atomic(path("f"), "new!", 4, 0644), 0);
	assert_int_equal(file_read(path("f"), 0, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "new!", 5); /* with the NUL after it */
	free(data);
	assert_int_equal(inode(".f.tmp"), 0);
}

static void test_a_file_over_the_limit_is_not_read(void **state)
{
	uint8_t *data = NULL;
	size_t len;

	(void)state;
	put("big", &s1);
	assert_int_equal(file_read(path("big"), s1.n - 1, &data, &len), -EFBIG);
	assert_null(data);
	assert_int_equal(file_read(path("big"), s1.n, &data, &len), 0);
	assert_int_equal(len, s1.n);
	assert_memory_equal(data, s1.p, s1.n);
	free(data);
	assert_int_equal(file_read(path("none"), 0, &data, &len), -ENOENT);
}

static void test_a_hub_key_is_read_with_its_nul_and_an_empty_one_refused(void **state)
{
	struct blob empty = { (uint8_t *)"", 0 };
	struct blob key = { (uint8_t *)pub, strlen(pub) };
	uint8_t *k = NULL;
	size_t len = 0;

	(void)state;
	put("key", &key);
	assert_int_equal(store_read_key(path("key"), &k, &len), 0);
	assert_int_equal(len, strlen(pub) + 1);
	assert_string_equal((char *)k, pub);
	free(k);
	put("empty", &empty);
	assert_int_equal(store_read_key(path("empty"), &k, &len), -EINVAL);
}

static void test_a_hub_key_of_64_kib_is_refused(void **state)
{
	struct blob big = { calloc(1, (size_t)64 * 1024), (size_t)64 * 1024 };
	uint8_t *k = NULL;
	size_t len = 0;

	(void)state;
	put("big", &big);
	assert_int_equal(store_read_key(path("big"), &k, &len), -EINVAL);
	big.n--;
	put("big", &big);
	assert_int_equal(store_read_key(path("big"), &k, &len), 0);
	assert_int_equal(len, 64 * 1024);
	free(k);
	free(big.p);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, fresh_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_current_is_the_list_in_force),
		CASE(test_without_current_previous_is_in_force),
		CASE(test_a_corrupt_current_falls_back_to_previous),
		CASE(test_a_truncated_current_falls_back_to_previous),
		CASE(test_nothing_on_flash_is_no_list_at_all),
		CASE(test_when_both_are_refused_the_reason_is_current_s),
		CASE(test_an_accepted_file_is_renamed_to_current),
		CASE(test_the_old_current_becomes_previous),
		CASE(test_an_accepted_buffer_is_written_then_renamed),
		CASE(test_a_refused_candidate_changes_nothing_on_flash),
		CASE(test_a_cut_while_the_new_file_was_written_leaves_the_old_current),
		CASE(test_a_cut_after_previous_was_linked_leaves_the_old_current),
		CASE(test_a_refused_current_never_becomes_previous),
		CASE(test_with_nothing_in_force_current_is_only_replaced),
		CASE(test_a_cut_after_the_rename_leaves_the_new_current),
		CASE(test_a_full_disk_refuses_the_bundle_and_keeps_the_old_one),
		CASE(test_an_atomic_write_replaces_the_file_and_leaves_no_temporary),
		CASE(test_a_file_over_the_limit_is_not_read),
		CASE(test_a_hub_key_is_read_with_its_nul_and_an_empty_one_refused),
		CASE(test_a_hub_key_of_64_kib_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

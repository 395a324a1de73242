/*
 * Bundle digests taken as the bytes go by (firmware/policy/bundle_digest.c)
 * and opening with them (bundle_open_file_digests): the same digests as
 * opening computes, in any fragmentation; digests that do not fit the file
 * are not used; a body that does not match the header is still refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/file.h"
#include "policy/bundle.h"
#include "policy/bundle_digest.h"

#define NOW 1795491234u

static char *priv, *pub;
static uint8_t *blob;
static size_t blob_len;
static char path[64];

static int setup(void **state)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_meta m = { .rule = 9, .action = BUNDLE_ACT_BLOCK };
	struct bundle_info in = { .region = "north", .serial = 4, .created = NOW - 60,
				  .expires = NOW + 86400 };
	char name[64];
	int fd;

	(void)state;
	if (!bb || bundle_keygen(&priv, &pub))
		return -1;
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		if (bundle_builder_add_domain(bb, name, false, &m))
			return -1;
	}
	if (bundle_build(bb, &in, (const uint8_t *)priv, strlen(priv) + 1, &blob, &blob_len))
		return -1;
	bundle_builder_free(bb);
	snprintf(path, sizeof(path), "/tmp/test_bundle_digest_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return file_write_synced(path, blob, blob_len, 0644);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	free(blob);
	free(priv);
	free(pub);
	return 0;
}

/* The digests of blob fed in fragments of `frag` bytes. */
static void digest(size_t frag, struct bundle_digests *d)
{
	struct bundle_digester *dg = bundle_digester_new();

	assert_non_null(dg);
	for (size_t off = 0; off < blob_len; off += frag)
		bundle_digester_update(dg, blob + off, blob_len - off < frag ? blob_len - off : frag);
	assert_int_equal(bundle_digester_finish(dg, d), 0);
	bundle_digester_free(dg);
}

static void test_digests_in_any_fragmentation_are_those_opening_computes(void **state)
{
	static const size_t frags[] = { 1, 7, 88, 128, 1000, 65536 };
	uint8_t want[32], got[32];
	struct bundle_digests d;
	struct bundle *b;

	(void)state;
	assert_int_equal(bundle_open_mem(blob, blob_len, &b), BUNDLE_OK);
	bundle_sha256(b, want);
	bundle_close(b);
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		digest(frags[i], &d);
		assert_int_equal(d.len, blob_len);
		assert_memory_equal(d.file, want, 32);
		assert_int_equal(bundle_open_file_digests(path, &d, &b), BUNDLE_OK);
		bundle_sha256(b, got);
		assert_memory_equal(got, want, 32);
		/* the signed digest is right: the signature verifies with it */
		assert_int_equal(bundle_verify(b, (const uint8_t *)pub, strlen(pub) + 1), BUNDLE_OK);
		bundle_close(b);
	}
}

static void test_a_wrong_signed_digest_fails_the_signature(void **state)
{
	struct bundle_digests d;
	struct bundle *b;

	(void)state;
	digest(4096, &d);
	d.signed_[0] ^= 1;
	assert_int_equal(bundle_open_file_digests(path, &d, &b), BUNDLE_OK);
	assert_int_equal(bundle_verify(b, (const uint8_t *)pub, strlen(pub) + 1), BUNDLE_ERR_SIGNATURE);
	bundle_close(b);
}

static void test_a_body_digest_unlike_the_header_is_refused_as_hash(void **state)
{
	struct bundle_digests d;
	struct bundle *b = NULL;

	(void)state;
	digest(4096, &d);
	d.body[31] ^= 0x80;
	assert_int_equal(bundle_open_file_digests(path, &d, &b), BUNDLE_ERR_HASH);
	assert_null(b);
}

static void test_digests_of_another_length_are_not_used(void **state)
{
	struct bundle_digests d;
	struct bundle *b;

	(void)state;
	digest(4096, &d);
	memset(d.body, 0, sizeof(d.body)); /* would be refused as hash if used */
	memset(d.signed_, 0, sizeof(d.signed_));
	d.len--;
	assert_int_equal(bundle_open_file_digests(path, &d, &b), BUNDLE_OK);
	assert_int_equal(bundle_verify(b, (const uint8_t *)pub, strlen(pub) + 1), BUNDLE_OK);
	bundle_close(b);
}

static void test_bytes_shorter_than_their_signed_part_give_no_digests(void **state)
{
	struct bundle_digester *dg = bundle_digester_new();
	struct bundle_digests d;

	(void)state;
	assert_non_null(dg);
	bundle_digester_update(dg, blob, blob_len / 2);
	assert_int_equal(bundle_digester_finish(dg, &d), -EINVAL);
	bundle_digester_free(dg);
}

static void test_a_header_with_a_signed_length_inside_it_gives_no_digests(void **state)
{
	struct bundle_digester *dg = bundle_digester_new();
	uint8_t bad[256] = { 0 };
	struct bundle_digests d;

	(void)state;
	assert_non_null(dg);
	memcpy(bad, blob, 128);
	memset(bad + 80, 0, 8); /* signed_len 0 */
	bad[80] = 64;
	bundle_digester_update(dg, bad, sizeof(bad));
	assert_int_equal(bundle_digester_finish(dg, &d), -EINVAL);
	bundle_digester_free(dg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digests_in_any_fragmentation_are_those_opening_computes),
		cmocka_unit_test(test_a_wrong_signed_digest_fails_the_signature),
		cmocka_unit_test(test_a_body_digest_unlike_the_header_is_refused_as_hash),
		cmocka_unit_test(test_digests_of_another_length_are_not_used),
		cmocka_unit_test(test_bytes_shorter_than_their_signed_part_give_no_digests),
		cmocka_unit_test(test_a_header_with_a_signed_length_inside_it_gives_no_digests),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Deltas applied by merging sorted sections (firmware/policy/bundle_merge.c):
 * for every shape of change the result is byte for byte the full bundle the
 * hub's encoder builds from the same entries (and so verifies with the
 * signature the delta carries), in memory and in a file; additions and
 * removals at both ends of a section, sections that appear and disappear,
 * metas no entry uses any more, and index tables with buckets; a removal of
 * a key that is not in force is refused as the format says (`signature`),
 * and the file is gone after any refusal.
 */
#include <arpa/inet.h>
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

#include "core/file.h"
#include "policy/bundle.h"
#include "policy/bundle_digest.h"

#include "fixtures.h"

#define NOW 1795491234u
#define REGION "north"

static struct fx_keys keys;
static struct fx_scratch scratch;

static int setup(void **state)
{
	(void)state;
	return fx_keys_make(&keys) || fx_scratch_enter(&scratch, "merge") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_keys_free(&keys);
	return fx_scratch_leave(&scratch);
}

static const uint8_t *kb(const char *pem)
{
	return (const uint8_t *)pem;
}

static size_t kl(const char *pem)
{
	return strlen(pem) + 1;
}

/* One universe of entries, numbered; a list is a choice of them and their rules. */
enum what { W_DOMAIN, W_ALLOW_DOMAIN, W_V4, W_V6S, W_V6L, W_PROTO, W_JA3, W_MAX };

static void add(struct bundle_builder *bb, enum what w, unsigned i, uint32_t rule)
{
	struct bundle_meta m = { .rule = rule, .action = BUNDLE_ACT_BLOCK };
	struct bundle_meta al = { .rule = rule, .action = BUNDLE_ACT_ALLOW };
	uint8_t a[16] = { 0 }, md5[16] = { 0 };
	char name[64];

	switch (w) {
	case W_DOMAIN:
		snprintf(name, sizeof(name), "d%u.example", i);
		assert_int_equal(bundle_builder_add_domain(bb, name, false, &m), 0);
		break;
	case W_ALLOW_DOMAIN:
		snprintf(name, sizeof(name), "ok%u.example", i);
		assert_int_equal(bundle_builder_add_domain(bb, name, true, &al), 0);
		break;
	case W_V4:
		a[0] = 10;
		a[1] = (uint8_t)(i >> 8);
		a[2] = (uint8_t)i;
		/* nested: every 7th is the /16 that encloses the /24s around it */
		if (i % 7 == 0)
			a[2] = 0;
		assert_int_equal(bundle_builder_add_ip(bb, AF_INET, a, i % 7 ? 24 : 16, false, &m), 0);
		break;
	case W_V6S:
		a[0] = 0x20;
		a[1] = 0x01;
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		assert_int_equal(bundle_builder_add_ip(bb, AF_INET6, a, 48, false, &m), 0);
		break;
	case W_V6L:
		a[0] = 0x20;
		a[1] = 0x01;
		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
		assert_int_equal(bundle_builder_add_ip(bb, AF_INET6, a, 128, false, &m), 0);
		break;
	case W_PROTO:
		snprintf(name, sizeof(name), "Proto%u", i);
		assert_int_equal(bundle_builder_add_name(bb, BUNDLE_PROTO, name, false, &m), 0);
		break;
	default:
		md5[0] = (uint8_t)(i >> 8);
		md5[15] = (uint8_t)i;
		assert_int_equal(bundle_builder_add_ja3(bb, md5, false, &m), 0);
		break;
	}
}

struct buf {
	uint8_t *p;
	size_t len;
};

static struct buf build(struct bundle_builder *bb, uint64_t serial)
{
	struct bundle_info in = { .region = REGION, .serial = serial, .created = NOW - 60 + serial,
				  .expires = NOW + 86400 };
	struct buf b;

	assert_int_equal(bundle_build(bb, &in, kb(keys.priv), kl(keys.priv), &b.p, &b.len), 0);
	bundle_builder_free(bb);
	return b;
}

static struct bundle *open_buf(const struct buf *b)
{
	struct bundle *o = NULL;

	assert_int_equal(bundle_open_mem(b->p, b->len, &o), BUNDLE_OK);
	return o;
}

/*
 * old -> new through a delta made by the hub, applied in memory and to a
 * file: both must be new's bytes, the file's digests those opening computes.
 */
static void check_apply(const struct buf *old, const struct buf *new_b)
{
	struct bundle *bo = open_buf(old), *bn = open_buf(new_b), *bd, *bf;
	struct bundle_digests d, want;
	struct bundle_digester *dg;
	struct buf delta, out;
	uint8_t *file;
	size_t flen;

	assert_int_equal(bundle_diff(bo, bn, kb(keys.priv), kl(keys.priv), &delta.p, &delta.len), 0);
	bd = open_buf(&delta);
	assert_int_equal(bundle_apply_delta(bo, bd, kb(keys.pub), kl(keys.pub), &out.p, &out.len), BUNDLE_OK);
	assert_int_equal(out.len, new_b->len);
	assert_memory_equal(out.p, new_b->p, new_b->len);
	free(out.p);

	assert_int_equal(bundle_apply_delta_file(bo, bd, kb(keys.pub), kl(keys.pub), "merged", &d), BUNDLE_OK);
	assert_int_equal(file_read("merged", 1 << 26, &file, &flen), 0);
	assert_int_equal(flen, new_b->len);
	assert_memory_equal(file, new_b->p, flen);
	dg = bundle_digester_new();
	bundle_digester_update(dg, file, flen);
	assert_int_equal(bundle_digester_finish(dg, &want), 0);
	bundle_digester_free(dg);
	assert_memory_equal(d.body, want.body, 32);
	assert_memory_equal(d.signed_, want.signed_, 32);
	assert_memory_equal(d.file, want.file, 32);
	assert_int_equal(d.len, flen);
	assert_int_equal(d.signed_len, want.signed_len);
	assert_int_equal(bundle_open_file_digests("merged", &d, &bf), BUNDLE_OK);
	assert_int_equal(bundle_check(bf, kb(keys.pub), kl(keys.pub), REGION, 0, NOW, 60), BUNDLE_OK);
	bundle_close(bf);
	free(file);
	unlink("merged");
	bundle_close(bd);
	bundle_close(bo);
	bundle_close(bn);
	free(delta.p);
}

/* Entries lo..hi-1 of kind w with rule r, into a fresh or given builder. */
static struct bundle_builder *range(struct bundle_builder *bb, enum what w, unsigned lo, unsigned hi,
				    uint32_t r)
{
	if (!bb)
		bb = bundle_builder_new();
	for (unsigned i = lo; i < hi; i++)
		add(bb, w, i, r);
	return bb;
}

static void test_additions_and_removals_at_both_ends_of_each_kind(void **state)
{
	(void)state;
	for (enum what w = 0; w < W_MAX; w++) {
		/* the keys' order is not their numbers' (hashes, text): whole ranges
		 * move each end of the sorted section */
		struct buf mid = build(range(NULL, w, 10, 60, 1), 1);
		struct buf wide = build(range(NULL, w, 0, 70, 1), 2);
		struct buf narrow = build(range(NULL, w, 20, 50, 1), 3);
		struct buf shifted = build(range(range(NULL, w, 30, 80, 1), w, 0, 5, 1), 4);
		struct buf wide5 = build(range(NULL, w, 0, 70, 1), 5);

		check_apply(&mid, &wide);     /* additions only */
		check_apply(&wide, &narrow);  /* removals only */
		check_apply(&mid, &shifted);  /* both */
		check_apply(&narrow, &wide5);
		free(mid.p);
		free(wide.p);
		free(wide5.p);
		free(narrow.p);
		free(shifted.p);
	}
}

static void test_sections_appear_and_disappear(void **state)
{
	struct buf empty, some, other, none2;

	(void)state;
	empty = build(bundle_builder_new(), 1);
	some = build(range(range(NULL, W_DOMAIN, 0, 40, 1), W_V4, 0, 30, 2), 2);
	other = build(range(range(NULL, W_V6L, 0, 20, 3), W_JA3, 0, 9, 3), 3);
	none2 = build(bundle_builder_new(), 4);
	check_apply(&empty, &some);  /* every section new, and the meta table */
	check_apply(&some, &other);  /* every section replaced by others */
	check_apply(&other, &none2); /* down to no section at all */
	check_apply(&empty, &none2); /* nothing to nothing */
	free(empty.p);
	free(some.p);
	free(other.p);
	free(none2.p);
}

static void test_changed_metas_and_those_no_longer_used(void **state)
{
	struct buf a, b, c;

	(void)state;
	/* rule 1 and 2 in force; afterwards rule 1 is gone, 2 stays, 3 is new and
	 * some entries keep their key with another rule */
	a = build(range(range(NULL, W_DOMAIN, 0, 50, 1), W_V6S, 0, 50, 2), 1);
	b = build(range(range(range(NULL, W_DOMAIN, 0, 25, 3), W_DOMAIN, 25, 50, 2), W_V6S, 0, 50, 2), 2);
	c = build(range(NULL, W_V6S, 0, 50, 2), 3);
	check_apply(&a, &b);
	check_apply(&b, &c); /* the domains' section and rules 2 and 3 gone */
	free(a.p);
	free(b.p);
	free(c.p);
}

static void test_index_buckets_and_short_hashes(void **state)
{
	struct buf a, b, c;

	(void)state;
	/* 3000 domains: an 8-bit index, hashes stored in 7 bytes; 20000: 11 bits, 6 bytes */
	a = build(range(range(NULL, W_DOMAIN, 0, 3000, 1), W_V4, 0, 3000, 1), 1);
	b = build(range(range(range(NULL, W_DOMAIN, 500, 20000, 1), W_V4, 100, 2900, 1), W_ALLOW_DOMAIN, 0, 40, 5), 2);
	c = build(range(NULL, W_DOMAIN, 0, 3000, 2), 3);
	check_apply(&a, &b);
	check_apply(&b, &c);
	free(a.p);
	free(b.p);
	free(c.p);
}

/*
 * A delta whose removals name keys the list in force does not hold (it was
 * made from another list with the same serial): refused as `signature`
 * whether the stray key sorts before, inside or after the section, and no
 * file is left.
 */
static void test_removal_of_an_absent_entry_refused(void **state)
{
	/* before the first entry, between two, after the last */
	static const uint8_t stray[][5] = { { 9, 9, 9, 0, 24 }, { 10, 0, 35, 128, 25 }, { 11, 0, 0, 0, 8 } };
	static const struct bundle_meta m = { .rule = 1, .action = BUNDLE_ACT_BLOCK };

	(void)state;
	for (size_t s = 0; s < sizeof(stray) / sizeof(stray[0]); s++) {
		struct buf in_force = build(range(NULL, W_V4, 10, 60, 1), 1);
		struct bundle_builder *x = range(NULL, W_V4, 10, 60, 1);
		struct buf other, target, delta, out;
		struct bundle *bf, *bo, *bt, *bd;
		struct bundle_digests d;
		struct stat st;

		assert_int_equal(bundle_builder_add_ip(x, AF_INET, stray[s], stray[s][4], false, &m), 0);
		other = build(x, 1);
		target = build(range(NULL, W_V4, 10, 40, 1), 2);
		bf = open_buf(&in_force);
		bo = open_buf(&other);
		bt = open_buf(&target);
		assert_int_equal(bundle_diff(bo, bt, kb(keys.priv), kl(keys.priv), &delta.p, &delta.len), 0);
		bd = open_buf(&delta);
		assert_int_equal(bundle_apply_delta(bf, bd, kb(keys.pub), kl(keys.pub), &out.p, &out.len),
				 BUNDLE_ERR_SIGNATURE);
		assert_null(out.p);
		assert_int_equal(bundle_apply_delta_file(bf, bd, kb(keys.pub), kl(keys.pub), "merged", &d),
				 BUNDLE_ERR_SIGNATURE);
		assert_int_equal(stat("merged", &st), -1);
		/* where it belongs it applies */
		assert_int_equal(bundle_apply_delta(bo, bd, kb(keys.pub), kl(keys.pub), &out.p, &out.len), BUNDLE_OK);
		assert_memory_equal(out.p, target.p, target.len);
		free(out.p);
		bundle_close(bf);
		bundle_close(bo);
		bundle_close(bt);
		bundle_close(bd);
		free(in_force.p);
		free(other.p);
		free(target.p);
		free(delta.p);
	}
}

/* The wrong hub key, a wrong base, a full bundle given as delta: refused, nothing written. */
static void test_refusals_leave_no_file(void **state)
{
	struct buf a = build(range(NULL, W_DOMAIN, 0, 10, 1), 1), b = build(range(NULL, W_DOMAIN, 0, 12, 1), 2);
	struct buf c = build(range(NULL, W_DOMAIN, 0, 12, 1), 3), delta;
	struct bundle *ba = open_buf(&a), *bb = open_buf(&b), *bc = open_buf(&c), *bd;
	struct bundle_digests d;
	struct stat st;

	(void)state;
	assert_int_equal(bundle_diff(ba, bb, kb(keys.priv), kl(keys.priv), &delta.p, &delta.len), 0);
	bd = open_buf(&delta);
	assert_int_equal(bundle_apply_delta_file(ba, bd, kb(keys.other_pub), kl(keys.other_pub), "merged", &d),
			 BUNDLE_ERR_SIGNATURE);
	assert_int_equal(stat("merged", &st), -1);
	assert_int_equal(bundle_apply_delta_file(bc, bd, kb(keys.pub), kl(keys.pub), "merged", &d), BUNDLE_ERR_BASE);
	assert_int_equal(bundle_apply_delta_file(ba, bb, kb(keys.pub), kl(keys.pub), "merged", &d), BUNDLE_ERR_KIND);
	assert_int_equal(bundle_apply_delta_file(ba, bd, kb(keys.pub), kl(keys.pub), "no/such/dir/merged", &d),
			 BUNDLE_ERR_IO);
	assert_int_equal(stat("merged", &st), -1);
	bundle_close(ba);
	bundle_close(bb);
	bundle_close(bc);
	bundle_close(bd);
	free(a.p);
	free(b.p);
	free(c.p);
	free(delta.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_additions_and_removals_at_both_ends_of_each_kind),
		cmocka_unit_test(test_sections_appear_and_disappear),
		cmocka_unit_test(test_changed_metas_and_those_no_longer_used),
		cmocka_unit_test(test_index_buckets_and_short_hashes),
		cmocka_unit_test(test_removal_of_an_absent_entry_refused),
		cmocka_unit_test(test_refusals_leave_no_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

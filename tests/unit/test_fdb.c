/*
 * Bridge MAC table (firmware/app/fdb.c): learning, moves, ageing, group
 * addresses, and a flood of random source addresses that must neither grow
 * the table nor push out the addresses in use more than its sets allow.
 * Every table here hashes under one fixed key, so a failure replays with the
 * same sets; only fdb_init() itself draws a random one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/fdb.h"

static const uint8_t test_key[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static void mac_of(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x02; /* locally administered unicast */
	mac[1] = 0x00;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static void learn_and_move(void **state)
{
	struct fdb t;
	uint8_t a[6], b[6];

	(void)state;
	assert_int_equal(fdb_init_keyed(&t, 64, 300, test_key), 0);
	mac_of(a, 1);
	mac_of(b, 2);
	assert_int_equal(fdb_lookup(&t, a, 0), FDB_PORT_NONE);
	fdb_learn(&t, a, 0, 10);
	fdb_learn(&t, b, 1, 10);
	assert_int_equal(fdb_lookup(&t, a, 10), 0);
	assert_int_equal(fdb_lookup(&t, b, 10), 1);
	fdb_learn(&t, a, 1, 20); /* the host moved */
	assert_int_equal(fdb_lookup(&t, a, 20), 1);
	assert_int_equal(t.st.learned, 2);
	assert_int_equal(t.st.moved, 1);
	fdb_free(&t);
}

static void ageing(void **state)
{
	struct fdb t;
	uint8_t a[6];

	(void)state;
	assert_int_equal(fdb_init_keyed(&t, 16, 300, test_key), 0);
	mac_of(a, 7);
	fdb_learn(&t, a, 1, 1000);
	assert_int_equal(fdb_lookup(&t, a, 1300), 1);
	assert_int_equal(fdb_lookup(&t, a, 1301), FDB_PORT_NONE);
	fdb_learn(&t, a, 0, 1400);
	assert_int_equal(fdb_lookup(&t, a, 1400), 0);
	fdb_flush(&t);
	assert_int_equal(fdb_lookup(&t, a, 1400), FDB_PORT_NONE);
	fdb_free(&t);
}

static void group_addresses(void **state)
{
	struct fdb t;
	uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

	(void)state;
	assert_int_equal(fdb_init_keyed(&t, 16, 300, test_key), 0);
	fdb_learn(&t, bcast, 1, 1);
	fdb_learn(&t, mcast, 1, 1);
	assert_int_equal(t.st.learned, 0);
	assert_int_equal(fdb_lookup(&t, bcast, 1), FDB_PORT_NONE);
	assert_int_equal(fdb_lookup(&t, mcast, 1), FDB_PORT_NONE);
	fdb_free(&t);
}

/* A table of n entries holds n addresses learned at once when they spread evenly. */
static void flood_is_bounded(void **state)
{
	struct fdb t;
	uint8_t m[6];
	uint32_t found = 0;

	(void)state;
	assert_int_equal(fdb_init_keyed(&t, 4096, 300, test_key), 0);
	assert_int_equal(t.sets * FDB_WAYS, 4096);
	/* 64 hosts in use, then a million random sources, the hosts heard now and then. */
	for (uint32_t i = 0; i < 64; i++) {
		mac_of(m, i);
		fdb_learn(&t, m, i & 1, 0);
	}
	srandom(1);
	for (uint32_t i = 0; i < 1000000; i++) {
		mac_of(m, 0x100000u + (uint32_t)random());
		fdb_learn(&t, m, 0, 1 + i / 100000);
		if (i % 1000 == 0)
			for (uint32_t h = 0; h < 64; h++) {
				uint8_t hm[6];

				mac_of(hm, h);
				fdb_learn(&t, hm, h & 1, 1 + i / 100000);
			}
	}
	for (uint32_t i = 0; i < 64; i++) {
		mac_of(m, i);
		found += fdb_lookup(&t, m, 11) == (int)(i & 1);
	}
	/* Hosts refreshed more recently than the flood's stalest way survive. */
	assert_true(found >= 60);
	assert_true(t.st.replaced > 900000);
	fdb_free(&t);
}

static void a_given_key_is_the_table_key_and_none_draws_a_random_one(void **state)
{
	static const uint8_t zero[16];
	struct fdb t, u;

	(void)state;
	assert_int_equal(fdb_init_keyed(&t, 16, 300, test_key), 0);
	assert_memory_equal(t.key, test_key, sizeof(test_key));
	fdb_free(&t);
	assert_int_equal(fdb_init(&t, 16, 300), 0);
	assert_int_equal(fdb_init_keyed(&u, 16, 300, NULL), 0);
	assert_memory_not_equal(t.key, zero, sizeof(zero));
	assert_memory_not_equal(t.key, u.key, sizeof(t.key));
	fdb_free(&u);
	fdb_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(learn_and_move),
		cmocka_unit_test(ageing),
		cmocka_unit_test(group_addresses),
		cmocka_unit_test(flood_is_bounded),
		cmocka_unit_test(a_given_key_is_the_table_key_and_none_draws_a_random_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

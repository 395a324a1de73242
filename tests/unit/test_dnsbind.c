/*
 * DNS binding table specification (firmware/packet/dnsbind.c).
 *
 * Times are milliseconds. TTLs are clamped to CONFIG_DNS_BINDING_TTL_MIN..MAX
 * seconds (MIN and MAX below); tests that need an unclamped TTL pick one
 * between them. A binding made at t with TTL s is found up to and including
 * t + 1000 s and is gone at t + 1000 s + 1.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/common.h"
#include "packet/dnsbind.h"

#include "fixtures.h"

#define MIN ((uint32_t)CONFIG_DNS_BINDING_TTL_MIN)
#define MAX ((uint32_t)CONFIG_DNS_BINDING_TTL_MAX)
#define SEC 1000u

/* A TTL inside the clamp range, k = 0, 1, 2 ... */
#define TTL(k) (MIN + (uint32_t)(k))

_Static_assert(CONFIG_DNS_BINDING_TTL_MAX - CONFIG_DNS_BINDING_TTL_MIN >= 100,
	       "these tests need room between the TTL bounds");

/* ---------------------------------------------------------------- helpers */

static struct dnsbind *table(uint32_t capacity)
{
	struct dnsbind *t = dnsbind_new(capacity);

	assert_non_null(t);
	return t;
}

static struct dnsbind_stats stats(const struct dnsbind *t)
{
	struct dnsbind_stats st;

	dnsbind_get_stats(t, &st);
	return st;
}

static void add4(struct dnsbind *t, uint32_t a, const char *name, uint32_t ttl, uint64_t now)
{
	union ip_addr ip = fx_v4(a);

	dnsbind_add(t, 4, &ip, name, ttl, now);
}

static const char *get4(struct dnsbind *t, uint32_t a, uint64_t now)
{
	union ip_addr ip = fx_v4(a);

	return dnsbind_lookup(t, 4, &ip, now);
}

/* get4() must return name. */
static void want4(struct dnsbind *t, uint32_t a, uint64_t now, const char *name)
{
	const char *got = get4(t, a, now);

	if (!name) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, name);
}

/* ---------------------------------------------------------------- basics */

static void test_bind_and_lookup_v4_v6(void **state)
{
	struct dnsbind *t = table(64);
	union ip_addr a6 = fx_v6(1), other6 = fx_v6(2), a4 = fx_v4(0xc0000201), junk4 = a4;
	const char *got;

	(void)state;
	dnsbind_add(t, 4, &a4, "www.example.com", TTL(0), 1000);
	dnsbind_add(t, 6, &a6, "v6.example.net", TTL(0), 1000);

	want4(t, 0xc0000201, 1000, "www.example.com");
	want4(t, 0xc0000202, 1000, NULL);
	got = dnsbind_lookup(t, 6, &a6, 2000);
	assert_non_null(got);
	assert_string_equal(got, "v6.example.net");
	assert_null(dnsbind_lookup(t, 6, &other6, 2000));

	/* IPv4 is its first 4 bytes: what follows them does not matter. */
	memset(junk4.b + 4, 0xee, 12);
	got = dnsbind_lookup(t, 4, &junk4, 2000);
	assert_non_null(got);
	assert_string_equal(got, "www.example.com");

	/* The family is part of the key: the same bytes as IPv6 are another address. */
	assert_null(dnsbind_lookup(t, 6, &a4, 2000));
	assert_null(dnsbind_lookup(t, 4, &a6, 2000));
	assert_null(dnsbind_lookup(t, 5, &a6, 2000));

	assert_int_equal(stats(t).added, 2);
	assert_int_equal(stats(t).active, 2);
	assert_int_equal(stats(t).hits, 3);
	assert_int_equal(stats(t).misses, 5);
	assert_int_equal(stats(t).capacity, 64);
	dnsbind_free(t);
}

static void test_bad_input_refused(void **state)
{
	struct dnsbind *t = table(64);
	union ip_addr a = fx_v4(0x0a000001);
	char name[DNS_NAME_MAX + 2];

	(void)state;
	dnsbind_add(t, 5, &a, "x.example", TTL(0), 0);
	dnsbind_add(t, 0, &a, "x.example", TTL(0), 0);
	dnsbind_add(t, 4, &a, NULL, TTL(0), 0);
	memset(name, 'a', DNS_NAME_MAX + 1);
	name[DNS_NAME_MAX + 1] = '\0';
	dnsbind_add(t, 4, &a, name, TTL(0), 0);
	assert_int_equal(stats(t).refused, 4);
	assert_int_equal(stats(t).active, 0);
	want4(t, 0x0a000001, 0, NULL);

	/* The longest name is kept whole. */
	name[DNS_NAME_MAX] = '\0';
	dnsbind_add(t, 4, &a, name, TTL(0), 0);
	want4(t, 0x0a000001, 0, name);
	assert_int_equal(strlen(get4(t, 0x0a000001, 0)), DNS_NAME_MAX);
	dnsbind_free(t);
}

static void test_capacity(void **state)
{
	struct dnsbind *t = table(0);

	(void)state;
	assert_int_equal(stats(t).capacity, CONFIG_DNS_BINDINGS);
	dnsbind_free(t);

	errno = 0;
	assert_null(dnsbind_new(DNSBIND_MAX_CAPACITY + 1));
	assert_int_equal(errno, EINVAL);
	dnsbind_free(NULL);
}

/* ---------------------------------------------------------------- expiry */

static void test_ttl_exact_edges(void **state)
{
	struct dnsbind *t = table(64);
	uint64_t t0 = 5000, end = t0 + (uint64_t)TTL(40) * SEC;

	(void)state;
	add4(t, 0x0a000001, "edge.example", TTL(40), t0);
	want4(t, 0x0a000001, t0, "edge.example");
	want4(t, 0x0a000001, end - 1, "edge.example");
	want4(t, 0x0a000001, end, "edge.example");
	assert_int_equal(stats(t).expired, 0);
	want4(t, 0x0a000001, end + 1, NULL);
	assert_int_equal(stats(t).expired, 1);
	assert_int_equal(stats(t).active, 0);
	/* Dropped, not hidden: going back in time does not bring it back. */
	want4(t, 0x0a000001, end, NULL);
	dnsbind_free(t);
}

static void test_ttl_clamped(void **state)
{
	struct dnsbind *t = table(64);

	(void)state;
	add4(t, 0x0a000001, "zero.example", 0, 0);
	add4(t, 0x0a000002, "short.example", MIN ? MIN - 1 : 0, 0);
	add4(t, 0x0a000003, "huge.example", UINT32_MAX, 0);
	add4(t, 0x0a000004, "long.example", MAX + 1, 0);

	want4(t, 0x0a000001, (uint64_t)MIN * SEC, "zero.example");
	want4(t, 0x0a000002, (uint64_t)MIN * SEC, "short.example");
	want4(t, 0x0a000001, (uint64_t)MIN * SEC + 1, NULL);
	want4(t, 0x0a000002, (uint64_t)MIN * SEC + 1, NULL);

	want4(t, 0x0a000003, (uint64_t)MAX * SEC, "huge.example");
	want4(t, 0x0a000004, (uint64_t)MAX * SEC, "long.example");
	want4(t, 0x0a000003, (uint64_t)MAX * SEC + 1, NULL);
	want4(t, 0x0a000004, (uint64_t)MAX * SEC + 1, NULL);
	dnsbind_free(t);
}

/* An expiry past the end of time saturates instead of wrapping into the past. */
static void test_expiry_saturates(void **state)
{
	struct dnsbind *t = table(64);

	(void)state;
	add4(t, 0x0a000001, "late.example", MAX, UINT64_MAX - 5);
	want4(t, 0x0a000001, UINT64_MAX, "late.example");
	dnsbind_free(t);
}

/* Expired bindings are reclaimed before an add, so they never force out a live one. */
static void test_expired_reclaimed_on_add(void **state)
{
	struct dnsbind *t = table(4);
	uint64_t later = (uint64_t)TTL(10) * SEC + 1;

	(void)state;
	add4(t, 1, "a.example", TTL(10), 0);
	add4(t, 2, "b.example", TTL(10), 0);
	add4(t, 3, "c.example", TTL(50), 0);
	add4(t, 4, "d.example", TTL(50), 0);
	add4(t, 5, "e.example", TTL(0), later); /* a and b have expired */
	assert_int_equal(stats(t).expired, 2);
	assert_int_equal(stats(t).replaced_full, 0);
	assert_int_equal(stats(t).active, 3);
	want4(t, 3, later, "c.example");
	want4(t, 4, later, "d.example");
	want4(t, 5, later, "e.example");
	dnsbind_free(t);
}

/* ---------------------------------------------------------------- rebind, full */

static void test_rebind_replaces_name_and_expiry(void **state)
{
	struct dnsbind *t = table(64);

	(void)state;
	add4(t, 0x0a000001, "first.example", TTL(90), 0);
	add4(t, 0x0a000001, "second.example", TTL(5), 1000);
	want4(t, 0x0a000001, 1000, "second.example");
	assert_int_equal(stats(t).added, 1);
	assert_int_equal(stats(t).updated, 1);
	assert_int_equal(stats(t).active, 1);
	/* The new, shorter expiry is the one that counts. */
	want4(t, 0x0a000001, 1000 + (uint64_t)TTL(5) * SEC, "second.example");
	want4(t, 0x0a000001, 1000 + (uint64_t)TTL(5) * SEC + 1, NULL);

	/* Rebinding a binding that has expired makes a new one. */
	add4(t, 0x0a000002, "old.example", TTL(0), 0);
	add4(t, 0x0a000002, "new.example", TTL(0), (uint64_t)TTL(0) * SEC + 1);
	assert_int_equal(stats(t).added, 3);
	assert_int_equal(stats(t).updated, 1);
	want4(t, 0x0a000002, (uint64_t)TTL(0) * SEC + 1, "new.example");
	dnsbind_free(t);
}

static void test_full_replaces_closest_to_expiry(void **state)
{
	struct dnsbind *t = table(4);

	(void)state;
	add4(t, 1, "a.example", TTL(40), 0);
	add4(t, 2, "b.example", TTL(10), 0); /* expires first */
	add4(t, 3, "c.example", TTL(30), 0);
	add4(t, 4, "d.example", TTL(20), 0);
	add4(t, 5, "e.example", TTL(0), 1000);
	assert_int_equal(stats(t).replaced_full, 1);
	assert_int_equal(stats(t).active, 4);
	want4(t, 2, 1000, NULL);
	want4(t, 1, 1000, "a.example");
	want4(t, 3, 1000, "c.example");
	want4(t, 4, 1000, "d.example");
	want4(t, 5, 1000, "e.example");

	/* e now expires first (1 s + TTL(0)); after it, d. */
	add4(t, 6, "f.example", TTL(60), 2000);
	want4(t, 5, 2000, NULL);
	add4(t, 7, "g.example", TTL(60), 2000);
	want4(t, 4, 2000, NULL);
	assert_int_equal(stats(t).replaced_full, 3);

	/* A rebind that moves an expiry later changes which goes next: a, then c. */
	add4(t, 3, "c2.example", TTL(80), 2000);
	add4(t, 8, "h.example", TTL(60), 2000);
	want4(t, 1, 2000, NULL);
	want4(t, 3, 2000, "c2.example");
	dnsbind_free(t);
}

/* Equal expiries: the binding made (or renewed) first goes first. */
static void test_full_ties_go_to_oldest(void **state)
{
	struct dnsbind *t = table(3);

	(void)state;
	add4(t, 1, "a.example", TTL(10), 0);
	add4(t, 2, "b.example", TTL(10), 0);
	add4(t, 3, "c.example", TTL(10), 0);
	add4(t, 1, "a.example", TTL(10), 0); /* renewed: now the newest */
	add4(t, 4, "d.example", TTL(10), 0);
	want4(t, 2, 0, NULL);
	add4(t, 5, "e.example", TTL(10), 0);
	want4(t, 3, 0, NULL);
	want4(t, 1, 0, "a.example");
	dnsbind_free(t);
}

static void test_clear(void **state)
{
	struct dnsbind *t = table(16);
	uint32_t i;

	(void)state;
	for (i = 0; i < 16; i++)
		add4(t, i, "x.example", TTL(0), 0);
	dnsbind_clear(t);
	assert_int_equal(stats(t).active, 0);
	assert_int_equal(stats(t).added, 16);
	for (i = 0; i < 16; i++)
		want4(t, i, 0, NULL);
	/* Usable again, to full capacity, without replacing anything. */
	for (i = 0; i < 16; i++)
		add4(t, i + 100, "y.example", TTL(0), 0);
	assert_int_equal(stats(t).replaced_full, 0);
	for (i = 0; i < 16; i++)
		want4(t, i + 100, 0, "y.example");
	dnsbind_free(t);
}

/* Many addresses in a big table: every one found, none confused with another. */
static void test_many_addresses(void **state)
{
	struct dnsbind *t = table(4096);
	char name[32];
	union ip_addr a;
	const char *got;
	uint32_t i;

	(void)state;
	for (i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		if (i & 1) {
			a = fx_v6((uint16_t)i);
			dnsbind_add(t, 6, &a, name, TTL(0), 0);
		} else {
			add4(t, 0x0a000000 + i, name, TTL(0), 0);
		}
	}
	assert_int_equal(stats(t).active, 4096);
	for (i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		if (i & 1) {
			a = fx_v6((uint16_t)i);
			got = dnsbind_lookup(t, 6, &a, 0);
			assert_non_null(got);
			assert_string_equal(got, name);
		} else {
			want4(t, 0x0a000000 + i, 0, name);
		}
	}
	dnsbind_free(t);
}

/* ---------------------------------------------------------------- reference model */

/*
 * The contract written as plainly as possible: an array scanned from start
 * to end on every operation. Random adds, lookups and clears against it and
 * the table must agree on every answer and every counter.
 */
struct ref_entry {
	bool used;
	uint8_t family;
	union ip_addr addr;
	char name[16];
	uint64_t expires, seq;
};

struct ref {
	struct ref_entry e[16];
	uint32_t cap;
	uint64_t seq;
	struct dnsbind_stats st;
};

static uint64_t ref_expiry(uint32_t ttl, uint64_t now)
{
	if (ttl < MIN)
		ttl = MIN;
	if (ttl > MAX)
		ttl = MAX;
	return now + (uint64_t)ttl * SEC;
}

static struct ref_entry *ref_find(struct ref *r, uint8_t family, const union ip_addr *a)
{
	uint32_t i;

	for (i = 0; i < r->cap; i++)
		if (r->e[i].used && r->e[i].family == family && memcmp(&r->e[i].addr, a, 16) == 0)
			return &r->e[i];
	return NULL;
}

static void ref_add(struct ref *r, uint8_t family, const union ip_addr *a, const char *name,
		    uint32_t ttl, uint64_t now)
{
	struct ref_entry *e, *victim = &r->e[0], *slot = NULL;
	uint32_t i;

	for (i = 0; i < r->cap; i++) {
		if (r->e[i].used && r->e[i].expires < now) {
			r->e[i].used = false;
			r->st.expired++;
			r->st.active--;
		}
	}
	e = ref_find(r, family, a);
	if (e) {
		r->st.updated++;
	} else {
		for (i = 0; i < r->cap; i++) {
			if (!r->e[i].used) {
				slot = &r->e[i];
				break;
			}
			if (r->e[i].expires < victim->expires ||
			    (r->e[i].expires == victim->expires && r->e[i].seq < victim->seq))
				victim = &r->e[i];
		}
		if (!slot) {
			slot = victim;
			r->st.replaced_full++;
			r->st.active--;
		}
		e = slot;
		e->used = true;
		e->family = family;
		e->addr = *a;
		r->st.added++;
		r->st.active++;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->expires = ref_expiry(ttl, now);
	e->seq = ++r->seq;
}

static const char *ref_lookup(struct ref *r, uint8_t family, const union ip_addr *a, uint64_t now)
{
	struct ref_entry *e = ref_find(r, family, a);

	if (e && e->expires < now) {
		e->used = false;
		r->st.expired++;
		r->st.active--;
		e = NULL;
	}
	if (!e) {
		r->st.misses++;
		return NULL;
	}
	r->st.hits++;
	return e->name;
}

static void assert_same_stats(const struct dnsbind *t, const struct ref *r)
{
	struct dnsbind_stats st = stats(t);

	assert_int_equal(st.added, r->st.added);
	assert_int_equal(st.updated, r->st.updated);
	assert_int_equal(st.replaced_full, r->st.replaced_full);
	assert_int_equal(st.expired, r->st.expired);
	assert_int_equal(st.hits, r->st.hits);
	assert_int_equal(st.misses, r->st.misses);
	assert_int_equal(st.active, r->st.active);
}

static void run_model(uint64_t seed, uint32_t cap, uint32_t n_addrs, unsigned int steps)
{
	struct dnsbind *t = table(cap);
	struct ref r;
	union ip_addr a;
	uint8_t family;
	uint64_t now = 1000000, x = seed;
	const char *want, *got;
	char name[16];
	uint32_t ttl, k;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.cap = cap;
	assert_true(cap <= ARRAY_SIZE(r.e));
	for (i = 0; i < steps; i++) {
		/* Time mostly moves forward, by up to about 2 TTL ranges, sometimes not at all. */
		switch (fx_rnd(&x) % 4) {
		case 0:
			break;
		case 1:
			now += fx_rnd(&x) % 2000;
			break;
		default:
			now += fx_rnd(&x) % ((uint64_t)(MIN + 64) * SEC / 8);
			break;
		}
		k = (uint32_t)(fx_rnd(&x) % n_addrs);
		family = (k & 1) ? 6 : 4;
		a = family == 4 ? fx_v4(0x0a000000 + k) : fx_v6((uint16_t)k);

		switch (fx_rnd(&x) % 16) {
		case 0: /* a clamped TTL, or a tie on purpose */
			ttl = (uint32_t[]){ 0, MIN, MAX + 7, TTL(3) }[fx_rnd(&x) % 4];
			snprintf(name, sizeof(name), "t%u.example", (unsigned int)(fx_rnd(&x) % 100));
			ref_add(&r, family, &a, name, ttl, now);
			dnsbind_add(t, family, &a, name, ttl, now);
			break;
		case 1:
			if (fx_rnd(&x) % 64 == 0) {
				memset(r.e, 0, sizeof(r.e));
				r.st.active = 0;
				dnsbind_clear(t);
			}
			break;
		case 2: case 3: case 4: case 5: case 6: case 7:
			ttl = TTL(fx_rnd(&x) % 64);
			snprintf(name, sizeof(name), "n%u.example", (unsigned int)(fx_rnd(&x) % 100));
			ref_add(&r, family, &a, name, ttl, now);
			dnsbind_add(t, family, &a, name, ttl, now);
			break;
		default:
			want = ref_lookup(&r, family, &a, now);
			got = dnsbind_lookup(t, family, &a, now);
			if (!want) {
				assert_null(got);
			} else {
				assert_non_null(got);
				assert_string_equal(got, want);
			}
			break;
		}
		assert_same_stats(t, &r);
	}
	dnsbind_free(t);
}

static void test_matches_naive_reference_model(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 40; seed++) {
		run_model(seed * UINT64_C(0x9e3779b97f4a7c15), 16, 40, 4000);
		run_model(seed * UINT64_C(0xbf58476d1ce4e5b9), 8, 64, 4000);
		run_model(seed * UINT64_C(0x94d049bb133111eb), 1, 3, 1000);
	}
}

/*
 * Aliases: a name bound to the listed name its CNAME chain led to, for the
 * TTL, in the same table as the addresses and apart from them.
 */
static void test_alias_bound_to_its_listed_name_until_ttl(void **state)
{
	struct dnsbind *t = table(8);
	char long_name[DNS_NAME_MAX + 2];

	(void)state;
	dnsbind_alias_add(t, "alias.example", "tracker.example", TTL(0), 0);
	add4(t, 0x0a000001, "other.example", TTL(5), 0);
	assert_string_equal(dnsbind_alias_lookup(t, "alias.example", TTL(0) * SEC),
			    "tracker.example");
	assert_null(dnsbind_alias_lookup(t, "alias.example.", 0)); /* normalised names only */
	assert_null(dnsbind_alias_lookup(t, "other.example", 0));
	want4(t, 0x0a000001, 0, "other.example");
	assert_int_equal(stats(t).active, 2);
	assert_int_equal(stats(t).aliases, 1);
	/* Bound again: the new target and expiry. */
	dnsbind_alias_add(t, "alias.example", "ads.example", TTL(3), SEC);
	assert_string_equal(dnsbind_alias_lookup(t, "alias.example", SEC), "ads.example");
	assert_non_null(dnsbind_alias_lookup(t, "alias.example", (TTL(3) + 1) * SEC));
	assert_null(dnsbind_alias_lookup(t, "alias.example", (TTL(3) + 1) * SEC + 1));
	assert_int_equal(stats(t).active, 1);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	dnsbind_alias_add(t, long_name, "x.example", TTL(0), 0);
	assert_int_equal(stats(t).refused, 1);
	dnsbind_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_and_lookup_v4_v6),
		cmocka_unit_test(test_bad_input_refused),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_ttl_exact_edges),
		cmocka_unit_test(test_ttl_clamped),
		cmocka_unit_test(test_expiry_saturates),
		cmocka_unit_test(test_expired_reclaimed_on_add),
		cmocka_unit_test(test_rebind_replaces_name_and_expiry),
		cmocka_unit_test(test_full_replaces_closest_to_expiry),
		cmocka_unit_test(test_full_ties_go_to_oldest),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_matches_naive_reference_model),
		cmocka_unit_test(test_alias_bound_to_its_listed_name_until_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

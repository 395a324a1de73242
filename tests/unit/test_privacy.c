/*
 * What leaves the box (firmware/report/privacy.c): pseudonyms are stable
 * for one key, differ between keys and between classes; Crypto-PAn matches
 * the reference implementation's sample trace, keeps prefixes exactly, and
 * is undone by its reverse; each level writes what it says and nothing else;
 * the key is made once, kept, and a damaged one refused.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/config.h"
#define LOG_MODULE "test"
#include "core/log.h"
#include "report/privacy.h"
#include "fixtures.h"

static const uint8_t key_a[PRIVACY_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t key_b[PRIVACY_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 9 };

static void priv_with(struct privacy *p, const uint8_t *key, int addr_level)
{
	struct tg_config cfg;

	config_defaults(&cfg);
	cfg.report.internal_addresses = addr_level;
	assert_int_equal(privacy_init(p, &cfg, key), 0);
}

static void v4(const char *s, uint8_t out[4])
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void test_a_pseudonym_is_stable_for_one_key_and_differs_for_two(void **state)
{
	struct privacy a, a2, b;
	char pa[PRIVACY_PSEUDONYM_MAX], pa2[PRIVACY_PSEUDONYM_MAX], pb[PRIVACY_PSEUDONYM_MAX];
	uint8_t ip[4];

	(void)state;
	priv_with(&a, key_a, TG_PRIV_PSEUDONYM);
	priv_with(&a2, key_a, TG_PRIV_PSEUDONYM);
	priv_with(&b, key_b, TG_PRIV_PSEUDONYM);
	v4("192.168.1.20", ip);
	privacy_pseudonym(&a, PRIV_ADDR, ip, 4, pa);
	privacy_pseudonym(&a2, PRIV_ADDR, ip, 4, pa2);
	privacy_pseudonym(&b, PRIV_ADDR, ip, 4, pb);
	assert_string_equal(pa, pa2);
	assert_string_not_equal(pa, pb);
	assert_int_equal(strlen(pa), 3 + 2 * PRIVACY_PSEUDONYM_BYTES);
	assert_int_equal(privacy_pseudonym_class(pa), PRIV_ADDR);
	/* Another address, another pseudonym. */
	v4("192.168.1.21", ip);
	privacy_pseudonym(&a, PRIV_ADDR, ip, 4, pa2);
	assert_string_not_equal(pa, pa2);
	privacy_uninit(&a);
	privacy_uninit(&a2);
	privacy_uninit(&b);
}

static void test_one_value_has_a_different_pseudonym_in_each_class(void **state)
{
	struct privacy p;
	char host[PRIVACY_PSEUDONYM_MAX], query[PRIVACY_PSEUDONYM_MAX];

	(void)state;
	priv_with(&p, key_a, TG_PRIV_PSEUDONYM);
	privacy_pseudonym(&p, PRIV_HOST, "laptop", 6, host);
	privacy_pseudonym(&p, PRIV_QUERY, "laptop", 6, query);
	assert_memory_equal(host, "host-", 5);
	assert_memory_equal(query, "name-", 5);
	assert_string_not_equal(host + 5, query + 5);
	assert_int_equal(privacy_pseudonym_class(host), PRIV_HOST);
	assert_int_equal(privacy_pseudonym_class(query), PRIV_QUERY);
	assert_int_equal(privacy_pseudonym_class("ip-123"), -1);
	assert_int_equal(privacy_pseudonym_class("ip-0123456789aX"), -1);
	/* the 80-bit pseudonyms of firmware before 48 bits are not this one's */
	assert_int_equal(privacy_pseudonym_class("ip-0123456789abcdef0123"), -1);
	privacy_uninit(&p);
}

/* The sample key and trace of the Crypto-PAn reference distribution (sample_trace_raw / _sanitized). */
static const uint8_t pan_ref_key[32] = { 21,  34,  23,  141, 51,  164, 207, 128, 19,  10, 91,
					 22,  73,  144, 125, 16,  216, 152, 143, 131, 121, 121,
					 101, 39,  98,  87,  76,  45,  42,  132, 34,  2 };
static const char *const pan_ref[][2] = {
	{ "128.11.68.132", "135.242.180.132" }, { "129.118.74.4", "134.136.186.123" },
	{ "130.132.252.244", "133.68.164.234" }, { "141.223.7.43", "141.167.8.160" },
	{ "141.233.145.108", "141.129.237.235" }, { "152.163.225.39", "151.140.114.167" },
	{ "156.29.3.236", "147.225.12.42" },     { "165.247.96.84", "162.9.99.234" },
	{ "166.107.77.190", "160.132.178.185" }, { "192.102.249.13", "252.138.62.131" },
	{ "192.215.32.125", "252.43.47.189" },   { "192.233.80.103", "252.25.108.8" },
	{ "192.41.57.43", "252.222.221.184" },   { "193.150.244.223", "253.169.52.216" },
	{ "195.205.63.100", "255.186.223.5" },
};

static void test_cryptopan_gives_the_reference_implementations_sample_trace(void **state)
{
	struct privacy p;
	uint8_t in[4], want[4], got[4], back[4];

	(void)state;
	priv_with(&p, key_a, TG_PRIV_CRYPTOPAN);
	assert_int_equal(privacy_set_cryptopan_key(&p, pan_ref_key), 0);
	for (size_t i = 0; i < sizeof(pan_ref) / sizeof(pan_ref[0]); i++) {
		v4(pan_ref[i][0], in);
		v4(pan_ref[i][1], want);
		privacy_cryptopan(&p, in, 4, got);
		if (memcmp(got, want, 4) != 0)
			fail_msg("%s: got %u.%u.%u.%u, the reference says %s", pan_ref[i][0], got[0],
				 got[1], got[2], got[3], pan_ref[i][1]);
		privacy_cryptopan_reverse(&p, got, 4, back);
		assert_memory_equal(back, in, 4);
	}
	privacy_uninit(&p);
}

static unsigned int common_prefix(const uint8_t *a, const uint8_t *b, size_t len)
{
	unsigned int n = 0;

	while (n < len * 8 && ((a[n / 8] ^ b[n / 8]) & (0x80 >> (n % 8))) == 0)
		n++;
	return n;
}

static void test_cryptopan_keeps_exactly_the_common_prefix_for_ipv4_and_ipv6(void **state)
{
	struct privacy p;
	uint64_t r = 12;
	uint8_t a[16], b[16], ma[16], mb[16], back[16];

	(void)state;
	priv_with(&p, key_b, TG_PRIV_CRYPTOPAN);
	for (int round = 0; round < 400; round++) {
		size_t len = round % 2 ? 16 : 4;
		unsigned int keep = (unsigned int)(fx_rnd(&r) % (len * 8 + 1));

		for (size_t i = 0; i < len; i++)
			a[i] = (uint8_t)fx_rnd(&r);
		memcpy(b, a, len);
		/* b shares exactly `keep` leading bits with a. */
		if (keep < len * 8) {
			b[keep / 8] ^= (uint8_t)(0x80 >> (keep % 8));
			for (unsigned int i = keep + 1; i < len * 8; i++)
				if (fx_rnd(&r) & 1)
					b[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		}
		assert_int_equal(common_prefix(a, b, len), keep);
		privacy_cryptopan(&p, a, len, ma);
		privacy_cryptopan(&p, b, len, mb);
		assert_int_equal(common_prefix(ma, mb, len), keep);
		privacy_cryptopan_reverse(&p, ma, len, back);
		assert_memory_equal(back, a, len);
	}
	privacy_uninit(&p);
}

static void test_each_level_writes_what_it_says_and_nothing_else(void **state)
{
	struct privacy p;
	uint8_t ip[4], mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
	json_t *o;

	(void)state;
	v4("10.1.2.3", ip);

	priv_with(&p, key_a, TG_PRIV_RAW);
	o = json_object();
	assert_int_equal(privacy_set_addr(&p, o, ip, 4), 0);
	assert_string_equal(json_string_value(json_object_get(o, "ip")), "10.1.2.3");
	assert_null(json_object_get(o, "id"));
	json_decref(o);
	privacy_uninit(&p);

	priv_with(&p, key_a, TG_PRIV_PSEUDONYM);
	o = json_object();
	assert_int_equal(privacy_set_addr(&p, o, ip, 4), 0);
	assert_null(json_object_get(o, "ip"));
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(o, "id"))), PRIV_ADDR);
	assert_int_equal(privacy_set_mac(&p, o, mac), 0);
	assert_int_equal(privacy_pseudonym_class(json_string_value(json_object_get(o, "mac"))), PRIV_MAC);
	json_decref(o);
	privacy_uninit(&p);

	priv_with(&p, key_a, TG_PRIV_DROP);
	p.level[PRIV_MAC] = TG_PRIV_DROP;
	p.level[PRIV_HOST] = TG_PRIV_DROP;
	o = json_object();
	assert_int_equal(privacy_set_addr(&p, o, ip, 4), 0);
	assert_int_equal(privacy_set_mac(&p, o, mac), 0);
	assert_int_equal(privacy_set_name(&p, o, "name", PRIV_HOST, "laptop"), 0);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	privacy_uninit(&p);

	priv_with(&p, key_a, TG_PRIV_CRYPTOPAN);
	p.level[PRIV_MAC] = TG_PRIV_RAW;
	o = json_object();
	assert_int_equal(privacy_set_addr(&p, o, ip, 4), 0);
	assert_int_equal(privacy_set_mac(&p, o, mac), 0);
	/* A Crypto-PAn address is an address (an ECS ip field), not the original. */
	assert_int_equal(inet_pton(AF_INET, json_string_value(json_object_get(o, "ip")), ip), 1);
	assert_string_not_equal(json_string_value(json_object_get(o, "ip")), "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(o, "mac")), "02-00-5E-10-00-01");
	json_decref(o);
	privacy_uninit(&p);
}

static void test_the_key_is_made_once_kept_and_a_damaged_one_refused(void **state)
{
	struct fx_scratch s;
	uint8_t k1[PRIVACY_KEY_LEN], k2[PRIVACY_KEY_LEN];
	struct stat st;
	FILE *f;

	(void)state;
	assert_int_equal(fx_scratch_enter(&s, "privacy"), 0);
	assert_int_equal(privacy_load_key("data", k1), 0);
	assert_int_equal(stat("data/report.key", &st), 0);
	assert_int_equal(st.st_size, PRIVACY_KEY_LEN);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(privacy_load_key("data", k2), 0);
	assert_memory_equal(k1, k2, PRIVACY_KEY_LEN);
	f = fopen("data/report.key", "w");
	assert_non_null(f);
	fputs("short", f);
	fclose(f);
	assert_int_equal(privacy_load_key("data", k2), -EINVAL);
	fx_scratch_leave(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_pseudonym_is_stable_for_one_key_and_differs_for_two),
		cmocka_unit_test(test_one_value_has_a_different_pseudonym_in_each_class),
		cmocka_unit_test(test_cryptopan_gives_the_reference_implementations_sample_trace),
		cmocka_unit_test(test_cryptopan_keeps_exactly_the_common_prefix_for_ipv4_and_ipv6),
		cmocka_unit_test(test_each_level_writes_what_it_says_and_nothing_else),
		cmocka_unit_test(test_the_key_is_made_once_kept_and_a_damaged_one_refused),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Signed hub commands (firmware/hub/cmd.c): a command signed with the hub key
 * and naming this gateway is carried out once; every other one is refused
 * with its own reason, the signature first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub/cmd.h"
#include "policy/bundle.h"

#include "fixtures.h"

static struct fx_keys keys;

#define NOW 1795491234u

static int keys_setup(void **state)
{
	(void)state;
	return fx_keys_make(&keys);
}

static int keys_teardown(void **state)
{
	(void)state;
	fx_keys_free(&keys);
	return 0;
}

static const struct cmd_check *check(void)
{
	static struct cmd_check c;

	c = (struct cmd_check){ .pubkey = (const uint8_t *)keys.pub,
				.pubkey_len = strlen(keys.pub) + 1, .gateway = "gw-7", .region = "north", .clock_skew_s = 300,
				.now_s = NOW };
	return &c;
}

/* A signed payload for these fields. */
static int make(char *out, const char *key, const char *cmd, const char *gw, const char *region,
		uint64_t issued, const char *nonce)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"cmd\":\"%s\",\"gateway\":\"%s\",\"region\":\"%s\",\"issued\":%llu,\"nonce\":\"%s\"}",
		 cmd, gw, region, (unsigned long long)issued, nonce);
	return cmd_sign(json, (const uint8_t *)key, strlen(key) + 1, out);
}

static enum cmd_err run(const char *payload, int len, struct cmd_guard *g, struct cmd *c)
{
	return cmd_parse((const uint8_t *)payload, (size_t)len, check(), g, c);
}

static void accepted_once(void **state)
{
	struct cmd_guard g = { 0 };
	struct cmd c;
	char p[CMD_PAYLOAD_MAX];
	int n;

	(void)state;
	n = make(p, keys.priv, "report", "gw-7", "north", NOW - 10, "00112233445566778899aabbccddeeff");
	assert_true(n > 0);
	assert_non_null(memchr(p, '\n', (size_t)n));
	assert_int_equal(run(p, n, &g, &c), CMD_OK);
	assert_int_equal(c.kind, CMD_REPORT);
	assert_int_equal(c.issued, NOW - 10);
	assert_string_equal(c.nonce, "00112233445566778899aabbccddeeff");
	/* The same message again is a replay. */
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_REPLAY);
	n = make(p, keys.priv, "resync", "gw-7", "north", NOW + 200, "ffeeddccbbaa99887766554433221100");
	assert_int_equal(run(p, n, &g, &c), CMD_OK);
	assert_int_equal(c.kind, CMD_RESYNC);
	/* A trailing newline after the signature is tolerated. */
	n = make(p, keys.priv, "report", "gw-7", "north", NOW, "0123456789abcdef0123");
	p[n] = '\n';
	assert_int_equal(run(p, n + 1, &g, &c), CMD_OK);
}

static void refusals(void **state)
{
	struct cmd_guard g = { 0 };
	struct cmd c;
	char p[CMD_PAYLOAD_MAX];
	const char *nonce = "a1a2a3a4a5a6a7a8a9";
	int n;

	(void)state;
	n = make(p, keys.other_priv, "report", "gw-7", "north", NOW, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_SIGNATURE);
	n = make(p, keys.priv, "report", "gw-8", "north", NOW, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_GATEWAY);
	n = make(p, keys.priv, "report", "gw-7", "south", NOW, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_REGION);
	n = make(p, keys.priv, "report", "gw-7", "north", NOW - 301, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_STALE);
	n = make(p, keys.priv, "report", "gw-7", "north", NOW + 301, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_STALE);
	n = make(p, keys.priv, "reboot", "gw-7", "north", NOW, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_UNKNOWN);
	n = make(p, keys.priv, "report", "gw-7", "north", NOW, "shortnonce");
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_FORMAT);
	n = make(p, keys.priv, "report", "gw-7", "north", NOW, "A1A2A3A4A5A6A7A8A9"); /* lower-case hex only */
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_FORMAT);
	/* None of the refusals used up the nonce. */
	n = make(p, keys.priv, "report", "gw-7", "north", NOW, nonce);
	assert_int_equal(run(p, n, &g, &c), CMD_OK);
}

static void tampering(void **state)
{
	struct cmd_guard g = { 0 };
	struct cmd c;
	char p[CMD_PAYLOAD_MAX], q[CMD_PAYLOAD_MAX];
	int n;

	(void)state;
	n = make(p, keys.priv, "report", "gw-7", "north", NOW, "0f0f0f0f0f0f0f0f0f0f");
	/* Every single flipped byte is refused (the JSON by the signature). */
	for (int i = 0; i < n; i++) {
		memcpy(q, p, (size_t)n);
		q[i] ^= 0x01;
		assert_int_not_equal(run(q, n, &g, &c), CMD_OK);
	}
	/* Every truncation too. */
	for (int i = 0; i < n; i++)
		assert_int_not_equal(run(p, i, &g, &c), CMD_OK);
	/* Too long. */
	assert_int_equal(cmd_parse((const uint8_t *)p, CMD_PAYLOAD_MAX + 1, check(), &g, &c),
			 CMD_ERR_FORMAT);
	/* Duplicate keys: a signed JSON whose second "gateway" would win elsewhere. */
	n = cmd_sign("{\"cmd\":\"report\",\"gateway\":\"gw-8\",\"gateway\":\"gw-7\",\"region\":\"north\","
		     "\"issued\":1795491234,\"nonce\":\"0123456789abcdef\"}",
		     (const uint8_t *)keys.priv, strlen(keys.priv) + 1, p);
	assert_int_equal(run(p, n, &g, &c), CMD_ERR_FORMAT);
	/* The signer refuses JSON with a newline in it. */
	assert_true(cmd_sign("{\n}", (const uint8_t *)keys.priv, strlen(keys.priv) + 1, p) < 0);
	assert_string_equal(cmd_err_name(CMD_ERR_REPLAY), "replay");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepted_once),
		cmocka_unit_test(refusals),
		cmocka_unit_test(tampering),
	};

	return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}

/*
 * Command nonces on flash (firmware/hub/cmd_store.c): a command carried out
 * before a restart is refused after it, with the time it was carried out;
 * the file is bounded, pruned beyond the clock skew, replaced atomically (a
 * torn temporary file is never read), and a line that does not read is
 * skipped with file:line and its text in the log.
 */
#include <fcntl.h>
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
#include "hub/cmd.h"
#include "policy/bundle.h"

#include "fixtures.h"

#define NOW 1795491234u
#define SKEW 300u

static struct fx_keys keys;
static struct fx_scratch scratch;

static int setup(void **state)
{
	(void)state;
	return fx_keys_make(&keys) || fx_scratch_enter(&scratch, "cmdstore") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_keys_free(&keys);
	return fx_scratch_leave(&scratch);
}

static enum cmd_err run_at(uint64_t now, const char *p, int n, struct cmd_guard *g, struct cmd *c)
{
	const struct cmd_check chk = { .pubkey = (const uint8_t *)keys.pub, .pubkey_len = strlen(keys.pub) + 1,
				       .gateway = "gw-7", .region = "north", .clock_skew_s = SKEW, .now_s = now };

	memset(c, 0, sizeof(*c));
	return cmd_parse((const uint8_t *)p, (size_t)n, &chk, g, c);
}

static int make(char *out, uint64_t issued, unsigned nonce)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "{\"cmd\":\"report\",\"gateway\":\"gw-7\",\"region\":\"north\",\"issued\":%llu,"
		 "\"nonce\":\"%032x\"}",
		 (unsigned long long)issued, nonce);
	return cmd_sign(json, (const uint8_t *)keys.priv, strlen(keys.priv) + 1, out);
}

/* Lines of the file that are not comments. */
static int entries(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += line[0] != '#';
	fclose(f);
	return n;
}

static void test_a_command_carried_out_is_refused_after_a_restart(void **state)
{
	struct cmd_guard g = { 0 }, after;
	char p[CMD_PAYLOAD_MAX];
	struct cmd c;
	int n;

	(void)state;
	n = make(p, NOW - 10, 1);
	assert_int_equal(run_at(NOW, p, n, &g, &c), CMD_OK);
	assert_int_equal(cmd_guard_save(&g, "cmd-nonces", NOW, SKEW), 0);
	/* the restart: a fresh guard from the file, 100 s later, the command still fresh */
	assert_int_equal(cmd_guard_load(&after, "cmd-nonces"), 1);
	assert_int_equal(run_at(NOW + 100, p, n, &after, &c), CMD_ERR_REPLAY);
	assert_int_equal(c.seen_s, NOW);
	assert_int_equal(c.issued, NOW - 10);
	assert_string_equal(c.nonce, "00000000000000000000000000000001");
	/* without the file it would have been carried out again (what the file is for) */
	memset(&after, 0, sizeof(after));
	assert_int_equal(run_at(NOW + 100, p, n, &after, &c), CMD_OK);
}

static void test_nonces_beyond_the_skew_are_pruned_and_the_file_is_bounded(void **state)
{
	struct cmd_guard g = { 0 }, after;
	char p[CMD_PAYLOAD_MAX];
	struct cmd c;
	int n;

	(void)state;
	for (unsigned i = 0; i < 3 * CMD_NONCES; i++) {
		n = make(p, NOW, 100 + i);
		assert_int_equal(run_at(NOW, p, n, &g, &c), CMD_OK);
	}
	assert_int_equal(cmd_guard_save(&g, "cmd-nonces", NOW, SKEW), 0);
	assert_int_equal(entries("cmd-nonces"), CMD_NONCES);
	assert_int_equal(cmd_guard_load(&after, "cmd-nonces"), CMD_NONCES);
	/* the newest are the ones kept */
	n = make(p, NOW, 100 + 3 * CMD_NONCES - 1);
	assert_int_equal(run_at(NOW + 1, p, n, &after, &c), CMD_ERR_REPLAY);
	/* saved SKEW + 1 s after they were issued: all of them could only be stale now */
	assert_int_equal(cmd_guard_save(&g, "cmd-nonces", NOW + SKEW + 1, SKEW), 0);
	assert_int_equal(entries("cmd-nonces"), 0);
	assert_int_equal(cmd_guard_load(&after, "cmd-nonces"), 0);
	assert_int_equal(run_at(NOW + SKEW + 1, p, n, &after, &c), CMD_ERR_STALE);
}

/* A clock that went back across the restart: seen "in the future" is seen, not long ago. */
static void test_a_clock_gone_back_still_refuses_the_replay(void **state)
{
	struct cmd_guard g = { 0 }, after;
	char p[CMD_PAYLOAD_MAX];
	struct cmd c;
	int n;

	(void)state;
	n = make(p, NOW, 7);
	assert_int_equal(run_at(NOW + 200, p, n, &g, &c), CMD_OK);
	assert_int_equal(cmd_guard_save(&g, "cmd-nonces", NOW + 200, SKEW), 0);
	assert_int_equal(cmd_guard_load(&after, "cmd-nonces"), 1);
	assert_int_equal(run_at(NOW - 50, p, n, &after, &c), CMD_ERR_REPLAY);
}

/* stderr into a file while fn runs; the text comes back in buf. */
static void capture_stderr(char *buf, size_t len, int (*fn)(void))
{
	int saved = dup(2), fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	assert_int_equal(fn(), 2);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

static int load_bad(void)
{
	struct cmd_guard g;

	return cmd_guard_load(&g, "bad-nonces");
}

static void test_bad_lines_are_skipped_with_where_and_why(void **state)
{
	static const char text[] = "# townguard command nonces: NONCE ISSUED SEEN\n"
				   "0123456789abcdef0123 1795491234 1795491240\n"
				   "XYZ 1 2\n"
				   "0123456789abcdef 12x 5\n"
				   "\n"
				   "fedcba9876543210fedc 1795491234 1795491241\n"
				   "0123456789abcdef0123 1795";
	char log[4096];

	(void)state;
	assert_int_equal(file_write_atomic("bad-nonces", text, sizeof(text) - 1, 0600), 0);
	capture_stderr(log, sizeof(log), load_bad);
	assert_non_null(strstr(log, "bad-nonces:3: \"XYZ 1 2\" skipped: expected NONCE ISSUED SEEN"));
	assert_non_null(strstr(log, "bad-nonces:4: \"0123456789abcdef 12x 5\" skipped"));
	assert_non_null(strstr(log, "bad-nonces:7: \"0123456789abcdef0123 1795\" skipped: no end of line"));
	/* a missing file is no nonce, and no error */
	assert_int_equal(cmd_guard_load(&(struct cmd_guard){ 0 }, "no-such-file"), 0);
}

/* The atomic write's temporary file, torn by a power cut, is never what is read. */
static void test_a_torn_temporary_file_is_not_read(void **state)
{
	struct cmd_guard g = { 0 }, after;
	char p[CMD_PAYLOAD_MAX];
	struct cmd c;
	int n;

	(void)state;
	n = make(p, NOW, 9);
	assert_int_equal(run_at(NOW, p, n, &g, &c), CMD_OK);
	assert_int_equal(cmd_guard_save(&g, "torn", NOW, SKEW), 0);
	assert_int_equal(file_write_synced(".torn.tmp", "garbage 1 2\nff", 14, 0600), 0);
	assert_int_equal(cmd_guard_load(&after, "torn"), 1);
	assert_int_equal(run_at(NOW, p, n, &after, &c), CMD_ERR_REPLAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_command_carried_out_is_refused_after_a_restart),
		cmocka_unit_test(test_nonces_beyond_the_skew_are_pruned_and_the_file_is_bounded),
		cmocka_unit_test(test_a_clock_gone_back_still_refuses_the_replay),
		cmocka_unit_test(test_bad_lines_are_skipped_with_where_and_why),
		cmocka_unit_test(test_a_torn_temporary_file_is_not_read),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * log: the exact line format on stderr, level filtering, level names, and
 * the per-call-site rate limit with its "... N similar messages suppressed"
 * line, the file target (each line after its UTC time, rotated past
 * CONFIG_LOG_FILE_KB). stderr is redirected into a temporary file for each
 * capture.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "core/common.h"
#include "core/log.h"

#include "fixtures.h"

static char captured[8192];
static FILE *capture_file;
static int saved_stderr = -1;

static void capture_begin(void)
{
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fileno(capture_file), STDERR_FILENO), STDERR_FILENO);
}

/* Restore stderr and return what was written to it. */
static const char *capture_end(void)
{
	size_t n;

	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(capture_file);
	n = fread(captured, 1, sizeof(captured) - 1, capture_file);
	captured[n] = '\0';
	fclose(capture_file);
	capture_file = NULL;
	return captured;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_default_level_is_kconfig(void **state)
{
	(void)state;
	assert_int_equal(log_get_level(), CONFIG_LOG_LEVEL);
}

static void test_line_format(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_DEBUG);
	capture_begin();
	log_err("cannot open %s", "eth9");
	log_warn("disk %d%% full", 93);
	log_info("started\n"); /* a trailing newline is not doubled */
	log_debug("frame %u", 7u);
	log_msg(LOG_LVL_WARN, "decode", "bad VLAN tag %#x", 0x8100);
	assert_string_equal(capture_end(), "townguard[test] error: cannot open eth9\n"
					   "townguard[test] warn: disk 93% full\n"
					   "townguard[test] info: started\n"
					   "townguard[test] debug: frame 7\n"
					   "townguard[decode] warn: bad VLAN tag 0x8100\n");
}

static void test_level_filtering(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_WARN);
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
	assert_true(log_enabled(LOG_LVL_ERR));
	assert_false(log_enabled(LOG_LVL_INFO));
	capture_begin();
	log_debug("hidden");
	log_info("hidden");
	log_warn("shown");
	log_err("shown too");
	assert_string_equal(capture_end(), "townguard[test] warn: shown\n"
					   "townguard[test] error: shown too\n");

	log_set_level(LOG_LVL_ERR);
	capture_begin();
	log_warn("hidden");
	log_err("only errors");
	assert_string_equal(capture_end(), "townguard[test] error: only errors\n");

	/* out-of-range levels are clamped */
	log_set_level((enum log_level)7);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	log_set_level((enum log_level)-1);
	assert_int_equal(log_get_level(), LOG_LVL_ERR);
}

static void test_level_parse(void **state)
{
	static const struct {
		const char *s;
		int level;
	} cases[] = {
		{ "error", LOG_LVL_ERR }, { "err", LOG_LVL_ERR },	  { "0", LOG_LVL_ERR },
		{ "warn", LOG_LVL_WARN }, { "warning", LOG_LVL_WARN }, { "1", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "2", LOG_LVL_INFO },	  { "debug", LOG_LVL_DEBUG },
		{ "3", LOG_LVL_DEBUG },   { "DEBUG", LOG_LVL_DEBUG },  { "Warn", LOG_LVL_WARN },
		{ "", -EINVAL },	  { "loud", -EINVAL },	  { "4", -EINVAL },
		{ "-1", -EINVAL },	  { "2x", -EINVAL },	  { " info", -EINVAL },
		{ "errors", -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		print_message("\"%s\"\n", cases[i].s);
		assert_int_equal(log_level_parse(cases[i].s), cases[i].level);
	}
	assert_int_equal(log_level_parse(NULL), -EINVAL);
}

static void test_errno_kept_and_percent_m(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	errno = ENOENT;
	log_err("open: %m");
	assert_int_equal(errno, ENOENT);
	log_debug("filtered");
	assert_int_equal(errno, ENOENT);
	assert_string_equal(capture_end(), "townguard[test] error: open: No such file or directory\n");
}

static void test_long_message_is_cut(void **state)
{
	char big[3000];
	const char *out;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	log_info("%s", big);
	out = capture_end();
	len = strlen(out);
	assert_int_equal(count_lines(out), 1);
	assert_true(len <= 1024);
	assert_int_equal(strncmp(out, "townguard[test] info: xxx", 25), 0);
	assert_string_equal(out + len - 4, "...\n");
}

static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = { 0 }, other = { 0 };
	char expect[256];
	const char *out;

	(void)state;
	log_set_level(LOG_LVL_DEBUG);
	capture_begin();
	for (int i = 0; i < CONFIG_LOG_RATELIMIT_PER_SEC + 15; i++)
		log_msg_rl(&rl, LOG_LVL_DEBUG, "decode", "bad frame %d", i);
	/* another call site is not affected */
	log_msg_rl(&other, LOG_LVL_DEBUG, "flow", "table full");
	out = capture_end();
	assert_int_equal(count_lines(out), CONFIG_LOG_RATELIMIT_PER_SEC + 1);
	assert_non_null(strstr(out, "townguard[decode] debug: bad frame 0\n"));
	snprintf(expect, sizeof(expect), "townguard[decode] debug: bad frame %d\n",
		 CONFIG_LOG_RATELIMIT_PER_SEC - 1);
	assert_non_null(strstr(out, expect));
	snprintf(expect, sizeof(expect), "bad frame %d\n", CONFIG_LOG_RATELIMIT_PER_SEC);
	assert_null(strstr(out, expect));
	assert_non_null(strstr(out, "townguard[flow] debug: table full\n"));
	assert_null(strstr(out, "suppressed"));
	assert_int_equal(rl.suppressed, 15);

	/* a new window: the count comes first, then the line */
	rl.window_start_ms -= 1000;
	capture_begin();
	log_msg_rl(&rl, LOG_LVL_DEBUG, "decode", "bad frame %d", 99);
	log_msg_rl(&rl, LOG_LVL_DEBUG, "decode", "bad frame %d", 100);
	assert_string_equal(capture_end(),
			    "townguard[decode] debug: ... 15 similar messages suppressed\n"
			    "townguard[decode] debug: bad frame 99\n"
			    "townguard[decode] debug: bad frame 100\n");
	assert_int_equal(rl.suppressed, 0);

	/* a new window with nothing suppressed adds no count line */
	rl.window_start_ms -= 1000;
	capture_begin();
	log_msg_rl(&rl, LOG_LVL_DEBUG, "decode", "quiet");
	assert_string_equal(capture_end(), "townguard[decode] debug: quiet\n");
}

static void test_ratelimit_ignores_filtered(void **state)
{
	struct log_ratelimit rl = { 0 };

	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	for (int i = 0; i < 100; i++)
		log_msg_rl(&rl, LOG_LVL_DEBUG, "decode", "hidden");
	assert_string_equal(capture_end(), "");
	assert_int_equal(rl.printed, 0);
	assert_int_equal(rl.suppressed, 0);
}

/* The macro keeps one state per call site. */
static void test_debug_rl_macro(void **state)
{
	const char *out;

	(void)state;
	log_set_level(LOG_LVL_DEBUG);
	capture_begin();
	for (int i = 0; i < 3 * CONFIG_LOG_RATELIMIT_PER_SEC; i++) {
		log_debug_rl("site one %d", i);
		log_debug_rl("site two %d", i);
	}
	out = capture_end();
	assert_int_equal(count_lines(out), 2 * CONFIG_LOG_RATELIMIT_PER_SEC);
	assert_non_null(strstr(out, "townguard[test] debug: site two 0\n"));
}

static void test_syslog_target(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	assert_int_equal(log_set_target(LOG_TO_SYSLOG, "townguard-test"), 0);
	log_info("to syslog, not stderr");
	assert_int_equal(log_set_target(LOG_TO_STDERR, NULL), 0);
	log_info("back on stderr");
	assert_string_equal(capture_end(), "townguard[test] info: back on stderr\n");
}

static size_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/*
 * [log] target = file: the lines go to the file (its directory made), none
 * to stderr, each "YYYY-mm-ddTHH:MM:SSZ townguard[module] level: text";
 * past CONFIG_LOG_FILE_KB the file becomes PATH.1 and a new one begins, so
 * the two together never hold more than twice that.
 */
static void test_file_target(void **state)
{
	struct fx_scratch s;
	char text[256], line[512];
	FILE *f;
	size_t limit = (size_t)CONFIG_LOG_FILE_KB * 1024;
	int i;

	(void)state;
	assert_int_equal(fx_scratch_enter(&s, "log"), 0);
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	assert_int_equal(log_set_target(LOG_TO_FILE, "log/townguard.log"), 0);
	log_info("to the file, not stderr");
	log_debug("below the level");
	f = fopen("log/townguard.log", "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_null(fgets(text, sizeof(text), f));
	fclose(f);
	/* 2026-12-04T20:01:02Z townguard[test] info: ... */
	assert_int_equal(strlen(line), 21 + strlen("townguard[test] info: to the file, not stderr\n"));
	assert_true(line[4] == '-' && line[7] == '-' && line[10] == 'T' && line[19] == 'Z' && line[20] == ' ');
	assert_string_equal(line + 21, "townguard[test] info: to the file, not stderr\n");

	memset(text, 'x', 200);
	text[200] = '\0';
	for (i = 0; (size_t)i * 240 < 2 * limit + 4096; i++) {
		log_info("%s %d", text, i);
		assert_true(file_size("log/townguard.log") <= limit);
	}
	assert_true(file_size("log/townguard.log.1") > limit - 512);
	assert_true(file_size("log/townguard.log.1") <= limit);
	assert_true(file_size("log/townguard.log") > 0);
	/* the newest line is the last one in the file */
	f = fopen("log/townguard.log", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);
	snprintf(text + 200, sizeof(text) - 200, " %d\n", i - 1);
	assert_non_null(strstr(line, text));
	assert_int_equal(log_set_target(LOG_TO_STDERR, NULL), 0);
	assert_string_equal(capture_end(), "");

	/* a file that cannot be opened: said on stderr, which stays the target */
	capture_begin();
	assert_int_equal(log_set_target(LOG_TO_FILE, "/proc/no-such-dir/townguard.log"), -ENOENT);
	log_info("still on stderr");
	assert_string_equal(capture_end(), "townguard[log] error: [log] target = file: "
					   "/proc/no-such-dir/townguard.log: No such file or "
					   "directory: logging to stderr\n"
					   "townguard[test] info: still on stderr\n");
	assert_int_equal(fx_scratch_leave(&s), 0);
}

static unsigned int ring_seen;
static char ring_first[256], ring_last[256];

static void ring_line(const char *line, void *ctx)
{
	(void)ctx;
	if (!ring_seen++)
		snprintf(ring_first, sizeof(ring_first), "%s", line);
	snprintf(ring_last, sizeof(ring_last), "%s", line);
}

/* The console's `log [N]`: the last lines, oldest first, bounded at 128. */
static void test_recent_lines_are_kept_bounded(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_INFO);
	capture_begin();
	for (int i = 0; i < 300; i++)
		log_warn("line %d", i);
	capture_end();
	ring_seen = 0;
	assert_int_equal(log_recent(3, ring_line, NULL), 3);
	assert_non_null(strstr(ring_first, "[test] warn: line 297"));
	assert_non_null(strstr(ring_last, "[test] warn: line 299"));
	ring_seen = 0;
	assert_int_equal(log_recent(1000, ring_line, NULL), 128);
	assert_non_null(strstr(ring_first, "line 172"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recent_lines_are_kept_bounded),
		cmocka_unit_test(test_default_level_is_kconfig), /* must run first */
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_level_filtering),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_errno_kept_and_percent_m),
		cmocka_unit_test(test_long_message_is_cut),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_ignores_filtered),
		cmocka_unit_test(test_debug_rl_macro),
		cmocka_unit_test(test_syslog_target),
		cmocka_unit_test(test_file_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The console without a tty (firmware/app/console*.c): what a technician's
 * keys do to the line, what the command table accepts and refuses, and how
 * the password and the lockout are kept. The pty and a real terminal are
 * tests/integration/console_golden.sh and console_picocom.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "app/console_priv.h"
#include "core/common.h"
#include "core/tty.h"

static struct tg_config cfg;
static struct tg_config applied;
static int applies;

static int t_apply(void *ctx, const struct tg_config *next, char *restart, size_t n)
{
	(void)ctx;
	applied = *next;
	applies++;
	if (n)
		restart[0] = '\0';
	return 0;
}

/* A logged-in console; its output so far is dropped. */
static struct console *shell(void)
{
	struct con_opts o = { .fd = -1, .cfg = &cfg, .host = { .apply = t_apply } };
	struct console *c;
	char junk[CON_OUT_MAX];

	config_defaults(&cfg);
	snprintf(cfg.gateway.id, sizeof(cfg.gateway.id), "gw-t");
	snprintf(cfg.gateway.data_dir, sizeof(cfg.gateway.data_dir), ".");
	c = console_new(&o);
	assert_non_null(c);
	c->state = CON_SHELL;
	con_edit_start(&c->ed, "gw-t> ", true);
	while (console_take_output(c, junk, sizeof(junk)))
		;
	return c;
}

/* Type s; the output it caused, NUL-terminated, in a static buffer. */
static const char *type(struct console *c, const char *s)
{
	static char out[CON_OUT_MAX + 1];
	size_t n;

	console_input(c, (const uint8_t *)s, strlen(s));
	n = console_take_output(c, out, sizeof(out) - 1);
	out[n] = '\0';
	return out;
}

static void test_a_line_ends_at_cr_lf_or_cr_lf_together_once(void **state)
{
	struct console *c = shell();

	(void)state;
	assert_non_null(strstr(type(c, "frob\r\n"), "Unknown command \"frob\""));
	/* the LF of that CR LF was no second, empty line: only the one prompt follows */
	assert_string_equal(type(c, "frob\n"), "frob\r\nUnknown command \"frob\": type help for the list.\r\ngw-t> ");
	console_free(c);
}

static void test_escape_sequences_and_non_ascii_never_reach_the_line(void **state)
{
	struct console *c = shell();

	(void)state;
	assert_string_equal(type(c, "he\x1b[1;5D\x1b[200~\x1bOP\xc3\xa9\x80" "lp"), "help");
	assert_string_equal(c->ed.line, "help");
	console_free(c);
}

static void test_backspace_del_ctrl_u_and_ctrl_w_erase(void **state)
{
	struct console *c = shell();

	(void)state;
	type(c, "helpx\x7f");
	assert_string_equal(c->ed.line, "help");
	type(c, "\x08\x08");
	assert_string_equal(c->ed.line, "he");
	type(c, " one two  \x17");
	assert_string_equal(c->ed.line, "he one ");
	type(c, "\x15");
	assert_string_equal(c->ed.line, "");
	assert_non_null(strstr(type(c, "half\x03"), "^C\r\n"));
	assert_string_equal(c->ed.line, "");
	console_free(c);
}

static void test_up_and_down_walk_the_history_and_back_to_the_line_typed(void **state)
{
	struct console *c = shell();

	(void)state;
	type(c, "help\r");
	type(c, "help logout\r");
	type(c, "help logout\r"); /* the newest again: kept once */
	type(c, "conf");
	type(c, "\x1b[A");
	assert_string_equal(c->ed.line, "help logout");
	type(c, "\x1b[A");
	assert_string_equal(c->ed.line, "help");
	type(c, "\x1b[A"); /* no older line: stays */
	assert_string_equal(c->ed.line, "help");
	type(c, "\x0e\x0e");
	assert_string_equal(c->ed.line, "conf");
	console_free(c);
}

static void test_tab_completes_one_match_and_lists_several(void **state)
{
	struct console *c = shell();

	(void)state;
	type(c, "con\t");
	assert_string_equal(c->ed.line, "config ");
	type(c, "c\t"); /* commit, confirm: extended to what they share */
	assert_string_equal(c->ed.line, "config co");
	assert_non_null(strstr(type(c, "\t"), "commit  confirm\r\ngw-t> config co")); /* then listed */
	type(c, "\x15" "config set flow.udp_t\t");
	assert_string_equal(c->ed.line, "config set flow.udp_timeout ");
	console_free(c);
}

static void test_a_prefix_runs_the_one_command_it_names_and_ambiguity_is_refused(void **state)
{
	struct console *c = shell();

	(void)state;
	assert_non_null(strstr(type(c, "he logo\r"), "logout\r\n  end the session"));
	assert_non_null(strstr(type(c, "config co\r"), "Ambiguous: \"co\" could be commit, confirm."));
	assert_non_null(strstr(type(c, "logout now\r"), "Usage: logout"));
	assert_non_null(strstr(type(c, "a b c d e f g h i j k l m n o p q\r"), "more than 16 words"));
	console_free(c);
}

static void test_config_set_checks_as_the_file_does_and_commit_applies_it(void **state)
{
	struct console *c = shell();

	(void)state;
	applies = 0;
	assert_non_null(strstr(type(c, "config set flow.udp_timeout 0\r"),
			       "Refused: [flow] udp_timeout = \"0\": out of range (allowed: 1..86400 seconds)"));
	type(c, "config set capture.filter \"tcp port 80\"\r");
	assert_non_null(strstr(type(c, "config diff\r"), "capture.filter: (empty) -> tcp port 80"));
	assert_int_equal(applies, 0);
	type(c, "config commit\r");
	assert_int_equal(applies, 1);
	assert_string_equal(applied.capture.filter, "tcp port 80");
	/* no loop here: the window's timer is the integration test's; revert puts it back */
	cfg = applied;
	type(c, "config revert\r");
	assert_int_equal(applies, 2);
	assert_string_equal(applied.capture.filter, "");
	console_free(c);
}

static void test_the_lockout_starts_after_three_and_doubles_up_to_15_minutes(void **state)
{
	(void)state;
	assert_int_equal(con_lock_delay_s(0), 0);
	assert_int_equal(con_lock_delay_s(2), 0);
	assert_int_equal(con_lock_delay_s(3), 5);
	assert_int_equal(con_lock_delay_s(4), 10);
	assert_int_equal(con_lock_delay_s(5), 20);
	assert_int_equal(con_lock_delay_s(11), 900);
	assert_int_equal(con_lock_delay_s(4000000000u), 900);
}

static void test_the_password_is_a_yescrypt_hash_and_the_count_survives(void **state)
{
	struct fx_scratch s;
	char err[256];
	FILE *f;
	char line[256];

	(void)state;
	assert_int_equal(fx_scratch_enter(&s, "console"), 0);
	assert_false(con_pass_is_set("."));
	assert_int_equal(con_pass_check(".", "anything"), -ENOENT);
	assert_int_equal(con_pass_set(".", "correct-horse", err, sizeof(err)), 0);
	f = fopen("console.passwd", "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_memory_equal(line, "$y$", 3);
	assert_null(strstr(line, "correct-horse"));
	assert_int_equal(con_pass_check(".", "correct-horse"), 1);
	assert_int_equal(con_pass_check(".", "correct-horsf"), 0);
	assert_int_equal(con_pass_check(".", ""), 0);
	assert_int_equal(con_lock_failures("."), 0);
	assert_int_equal(con_lock_record(".", 4), 0);
	assert_int_equal(con_lock_failures("."), 4);
	assert_int_equal(fx_scratch_leave(&s), 0);
}

/* Linux's termios constants, restated: what each [console] speed must set on the line. */
static const struct {
	unsigned int baud;
	speed_t speed;
} linux_rates[] = {
	{ 50, B50 },           { 75, B75 },           { 110, B110 },         { 134, B134 },
	{ 150, B150 },         { 200, B200 },         { 300, B300 },         { 600, B600 },
	{ 1200, B1200 },       { 1800, B1800 },       { 2400, B2400 },       { 4800, B4800 },
	{ 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },
	{ 115200, B115200 },   { 230400, B230400 },   { 460800, B460800 },   { 500000, B500000 },
	{ 576000, B576000 },   { 921600, B921600 },   { 1000000, B1000000 }, { 1152000, B1152000 },
	{ 1500000, B1500000 }, { 2000000, B2000000 }, { 2500000, B2500000 }, { 3000000, B3000000 },
	{ 3500000, B3500000 }, { 4000000, B4000000 },
};

/*
 * Every value [console] speed allows (read from the configuration's table)
 * opens a pty at that rate, and the line reads back Linux's constant for it:
 * the configuration and the tty driver agree, 1500000 (the R4S) included.
 * A rate termios has no constant for is refused with the value.
 */
static void test_every_console_speed_opens_the_tty_at_its_rate(void **state)
{
	struct tg_config c;
	const char *sec, *key;
	char value[64], allowed[512], err[256], *save = NULL, *name;
	size_t i, rates = 0;
	int m, fd;

	(void)state;
	config_defaults(&c);
	for (i = 0; config_key_at(&c, i, &sec, &key, value, sizeof(value)) == 0; i++)
		if (!strcmp(sec, "console") && !strcmp(key, "speed"))
			break;
	assert_string_equal(value, "board");
	assert_int_equal(config_key_allowed(i, allowed, sizeof(allowed)), 0);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	for (name = strtok_r(allowed, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
		unsigned int baud;
		struct termios t;
		size_t r;

		if (!strcmp(name, "board"))
			continue;
		assert_int_equal(config_set(&c, "console", "speed", name, err, sizeof(err)), 0);
		baud = config_console_baud(c.console.speed, 115200);
		assert_int_equal(baud, strtoul(name, NULL, 10));
		for (r = 0; r < ARRAY_SIZE(linux_rates) && linux_rates[r].baud != baud; r++)
			;
		assert_true(r < ARRAY_SIZE(linux_rates));
		fd = tty_open(ptsname(m), baud, err, sizeof(err));
		if (fd < 0)
			print_message("%u: %s\n", baud, err);
		assert_true(fd >= 0);
		assert_int_equal(tcgetattr(fd, &t), 0);
		assert_int_equal(cfgetospeed(&t), linux_rates[r].speed);
		assert_int_equal(cfgetispeed(&t), linux_rates[r].speed);
		tty_close(fd);
		rates++;
	}
	assert_int_equal(rates, ARRAY_SIZE(linux_rates));
	fd = tty_open(ptsname(m), 1234, err, sizeof(err));
	assert_int_equal(fd, -EINVAL);
	assert_non_null(strstr(err, ": 1234 bit/s: not a termios rate (allowed: 50 .. 4000000"));
	close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_line_ends_at_cr_lf_or_cr_lf_together_once),
		cmocka_unit_test(test_escape_sequences_and_non_ascii_never_reach_the_line),
		cmocka_unit_test(test_backspace_del_ctrl_u_and_ctrl_w_erase),
		cmocka_unit_test(test_up_and_down_walk_the_history_and_back_to_the_line_typed),
		cmocka_unit_test(test_tab_completes_one_match_and_lists_several),
		cmocka_unit_test(test_a_prefix_runs_the_one_command_it_names_and_ambiguity_is_refused),
		cmocka_unit_test(test_config_set_checks_as_the_file_does_and_commit_applies_it),
		cmocka_unit_test(test_the_lockout_starts_after_three_and_doubles_up_to_15_minutes),
		cmocka_unit_test(test_the_password_is_a_yescrypt_hash_and_the_count_survives),
		cmocka_unit_test(test_every_console_speed_opens_the_tty_at_its_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The console without a tty (firmware/app/console*.c): what a technician's
 * keys do to the line, what the command table accepts and refuses, and how
 * the password and the lockout are kept. The pty and a real terminal are
 * tests/integration/console_golden.sh and console_picocom.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

#include "app/console_priv.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

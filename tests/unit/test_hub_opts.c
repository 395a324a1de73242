/*
 * tg-hub's option parser (tools/tg-hub/opts.c): what a command line becomes
 * in a command's options struct, the exit status and message of each kind
 * of mistake, and the usage synopsis the same table prints.
 *
 * The tables here have the shapes of the real commands (required options,
 * an either-or pair, two options that go together, a repeatable option,
 * operands between options); the synopses are the ones tg-hub printed
 * before it had a table, byte for byte.
 */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/opts.h"

struct args {
	const char *key, *out;
	uint64_t serial, days, epoch;
	bool strict;
	struct opt_list lookups;
};

/* build's shape */
static const struct opt build_like[] = {
	OPT_STR("key", struct args, key, "KEY", OPT_REQ, "the key"),
	OPT_NUM("serial", struct args, serial, 1, 1000, "N", OPT_REQ, "the serial"),
	OPT_NUM("expires-in", struct args, days, 1, 36500, "DAYS", 0, "days"),
	OPT_NUM("expires", struct args, epoch, 1, UINT64_MAX, "EPOCH", OPT_ALT, "epoch"),
	OPT_BOOL("strict", struct args, strict, "strict"),
	OPT_STR("out", struct args, out, "FILE", OPT_REQ, "the output"),
	OPT_ARGS("SOURCE..."),
	{ 0 },
};

/* show's shape: operand first, a repeatable option */
static const struct opt show_like[] = {
	OPT_ARGS("FILE"),
	OPT_MANY("lookup", struct args, lookups, "INDICATOR", "a lookup"),
	OPT_NUM("now", struct args, epoch, 0, UINT64_MAX, "EPOCH", 0, "the time"),
	{ 0 },
};

/* diff's and publish's shapes: operands between options, two that go together */
static const struct opt diff_like[] = {
	OPT_STR("key", struct args, key, "KEY", OPT_REQ, "the key"),
	OPT_ARGS("OLD NEW"),
	OPT_STR("out", struct args, out, "DELTA", OPT_REQ, "the delta"),
	{ 0 },
};

static const struct opt publish_like[] = {
	OPT_STR("key", struct args, key, "KEY", OPT_REQ, "the key"),
	OPT_STR("out", struct args, out, "OLD", 0, "the previous"),
	OPT_NUM("serial", struct args, serial, 1, 3600, "HUBKEY", OPT_WITH, "its key"),
	OPT_NUM("expires", struct args, epoch, 1, 3600, "S", 0, "the timeout"),
	OPT_ARGS("BUNDLE"),
	{ 0 },
};

static const struct hub_cmd build_cmd = { .name = "build", .opts = build_like };
static const struct hub_cmd show_cmd = { .name = "show", .opts = show_like };
static const struct hub_cmd diff_cmd = { .name = "diff", .opts = diff_like };
static const struct hub_cmd publish_cmd = { .name = "publish", .opts = publish_like };

/* What one opts_parse() call did: its status, first operand and stderr. */
struct result {
	int status, first;
	char err[512];
};

/* argv as a NULL-terminated list of words, argv[0] the name getopt shows. */
static struct result parse(const struct hub_cmd *cmd, struct args *a, ...)
{
	char *argv[32];
	struct result r = { .first = -1 };
	int argc = 0, saved = dup(STDERR_FILENO);
	FILE *tmp = tmpfile();
	va_list ap;
	size_t n;

	assert_non_null(tmp);
	va_start(ap, a);
	argv[argc++] = (char *)"tg-hub test";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	optind = 0; /* a fresh getopt for each command line */
	r.status = opts_parse(cmd, a, argc, argv, &r.first);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(r.err, 1, sizeof(r.err) - 1, tmp);
	r.err[n] = '\0';
	fclose(tmp);
	return r;
}

static void synopsis_is(const struct hub_cmd *cmd, const char *want)
{
	char buf[512];

	opts_synopsis(cmd, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_synopsis_brackets_optional_and_joins_alternatives(void **state)
{
	(void)state;
	synopsis_is(&build_cmd, "--key KEY --serial N [--expires-in DAYS | --expires EPOCH] "
				"[--strict] --out FILE SOURCE...");
}

static void test_synopsis_puts_operands_where_the_table_does(void **state)
{
	(void)state;
	synopsis_is(&show_cmd, "FILE [--lookup INDICATOR]... [--now EPOCH]");
	synopsis_is(&diff_cmd, "--key KEY OLD NEW --out DELTA");
}

static void test_synopsis_keeps_options_that_go_together_in_one_bracket(void **state)
{
	(void)state;
	synopsis_is(&publish_cmd, "--key KEY [--out OLD --serial HUBKEY] [--expires S] BUNDLE");
}

static void test_values_land_in_their_fields_operands_after_options(void **state)
{
	struct args a = { .epoch = 7 };
	struct result r;

	(void)state;
	r = parse(&build_cmd, &a, "--key", "k", "src1", "--serial=42", "--strict", "--out", "o",
		  "src2", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(a.key, "k");
	assert_int_equal(a.serial, 42);
	assert_true(a.strict);
	assert_string_equal(a.out, "o");
	assert_int_equal(a.epoch, 7); /* not given: kept */
	/* getopt moved the operands behind the options */
	assert_int_equal(r.first, 7);
	assert_string_equal(r.err, "");
}

static void test_unambiguous_abbreviation_is_accepted(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&build_cmd, &a, "--ser", "3", "--expires-in", "9", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(a.serial, 3);
	assert_int_equal(a.days, 9);
	assert_int_equal(a.epoch, 0); /* --expires-in is not --expires */
}

static void test_ambiguous_abbreviation_is_a_usage_error(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&build_cmd, &a, "--exp", "3", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	assert_non_null(strstr(r.err, "tg-hub test: option '--exp' is ambiguous; possibilities: "
				      "'--expires-in' '--expires'"));
	assert_non_null(strstr(r.err, "usage: tg-hub build --key KEY"));
}

static void test_number_out_of_range_names_option_and_value(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&build_cmd, &a, "--serial", "0", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	assert_string_equal(r.err, "tg-hub: --serial \"0\": not a whole number in 1..1000\n");
	r = parse(&build_cmd, &a, "--serial", "-1", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	r = parse(&build_cmd, &a, "--serial", "1001", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	r = parse(&build_cmd, &a, "--serial", "1000", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(a.serial, 1000);
}

static void test_unknown_option_and_missing_argument_print_usage(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&diff_cmd, &a, "--frob", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	assert_string_equal(r.err, "tg-hub test: unrecognized option '--frob'\n"
				   "usage: tg-hub diff --key KEY OLD NEW --out DELTA\n");
	r = parse(&diff_cmd, &a, "--key", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	assert_string_equal(r.err, "tg-hub test: option '--key' requires an argument\n"
				   "usage: tg-hub diff --key KEY OLD NEW --out DELTA\n");
	r = parse(&diff_cmd, &a, "-k", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
}

static void test_flag_takes_no_argument(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&build_cmd, &a, "--strict=yes", NULL);
	assert_int_equal(r.status, EXIT_USAGE);
	assert_non_null(strstr(r.err, "option '--strict' doesn't allow an argument"));
}

static void test_repeatable_option_keeps_every_value_in_order(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&show_cmd, &a, "f.tgb", "--lookup", "a.example", "--now", "5", "--lookup",
		  "10.0.0.1", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(a.lookups.n, 2);
	assert_string_equal(a.lookups.v[0], "a.example");
	assert_string_equal(a.lookups.v[1], "10.0.0.1");
	assert_int_equal(a.epoch, 5);
	opts_free(&show_cmd, &a);
	assert_null(a.lookups.v);
}

static void test_everything_after_double_dash_is_an_operand(void **state)
{
	struct args a = { 0 };
	struct result r;

	(void)state;
	r = parse(&diff_cmd, &a, "--key", "k", "--", "--out", "x", NULL);
	assert_int_equal(r.status, 0);
	assert_null(a.out);
	assert_int_equal(r.first, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synopsis_brackets_optional_and_joins_alternatives),
		cmocka_unit_test(test_synopsis_puts_operands_where_the_table_does),
		cmocka_unit_test(test_synopsis_keeps_options_that_go_together_in_one_bracket),
		cmocka_unit_test(test_values_land_in_their_fields_operands_after_options),
		cmocka_unit_test(test_unambiguous_abbreviation_is_accepted),
		cmocka_unit_test(test_ambiguous_abbreviation_is_a_usage_error),
		cmocka_unit_test(test_number_out_of_range_names_option_and_value),
		cmocka_unit_test(test_unknown_option_and_missing_argument_print_usage),
		cmocka_unit_test(test_flag_takes_no_argument),
		cmocka_unit_test(test_repeatable_option_keeps_every_value_in_order),
		cmocka_unit_test(test_everything_after_double_dash_is_an_operand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

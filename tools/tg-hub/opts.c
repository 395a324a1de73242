/*
 * The option parser every tg-hub command uses (opts.h). The getopt_long()
 * table is made from the command's struct opt table at each call: entry i is
 * returned as 256 + i, above every character getopt returns for an error, and
 * --help comes last, after the command's own options, so getopt's list of an
 * ambiguous abbreviation names them in the order the synopsis does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/opts.h"

/* getopt_long() returns entry i of the table as OPT_VAL0 + i. */
#define OPT_VAL0 256
/* The synopsis of the longest command (publish) is 150 characters. */
#define SYNOPSIS_MAX 512

static size_t opts_count(const struct opt *t)
{
	size_t n = 0;

	while (t && t[n].kind != OPT_END)
		n++;
	return n;
}

static void *opts_dst(void *dst, const struct opt *e)
{
	return (char *)dst + e->offset;
}

void opts_free(const struct hub_cmd *cmd, void *dst)
{
	size_t n = opts_count(cmd->opts);

	for (size_t i = 0; i < n; i++) {
		if (cmd->opts[i].kind == OPT_LIST) {
			struct opt_list *l = opts_dst(dst, &cmd->opts[i]);

			free(l->v);
			*l = (struct opt_list){ 0 };
		}
	}
}

/* One option's argument into dst: 0, or EXIT_USAGE after a message. */
static int opts_store(const struct opt *e, void *dst, const char *arg)
{
	void *p = opts_dst(dst, e);
	char name[64];

	switch (e->kind) {
	case OPT_STRING:
		*(const char **)p = arg;
		break;
	case OPT_U64:
		snprintf(name, sizeof(name), "--%s", e->name);
		if (hub_parse_u64(name, arg, e->min, e->max, p) < 0)
			return EXIT_USAGE;
		break;
	case OPT_FLAG:
		*(bool *)p = true;
		break;
	case OPT_LIST: {
		struct opt_list *l = p;

		l->v[l->n++] = arg;
		break;
	}
	default:
		break;
	}
	return 0;
}

int opts_parse(const struct hub_cmd *cmd, void *dst, int argc, char **argv, int *first)
{
	const struct opt *t = cmd->opts;
	size_t n = opts_count(t), k = 0;
	struct option *lo = calloc(n + 2, sizeof(*lo));
	int c, status = EXIT_FAIL;

	if (!lo)
		goto err_nomem;
	for (size_t i = 0; i < n; i++) {
		if (t[i].kind == OPT_OPERANDS)
			continue;
		if (t[i].kind == OPT_LIST) {
			struct opt_list *l = opts_dst(dst, &t[i]);

			/* every argument could be this option's */
			l->v = calloc((size_t)argc, sizeof(*l->v));
			l->n = 0;
			if (!l->v)
				goto err_nomem;
		}
		lo[k++] = (struct option){ .name = t[i].name,
					   .has_arg = t[i].kind == OPT_FLAG ? no_argument
									    : required_argument,
					   .val = OPT_VAL0 + (int)i };
	}
	lo[k] = (struct option){ .name = "help", .has_arg = no_argument, .val = OPT_VAL0 + (int)n };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		/* '?': getopt said what was wrong; --help reaches here only abbreviated */
		if (c < OPT_VAL0 || c >= OPT_VAL0 + (int)n) {
			status = opts_usage(cmd);
			goto err;
		}
		status = opts_store(&t[c - OPT_VAL0], dst, optarg);
		if (status)
			goto err;
	}
	free(lo);
	*first = optind;
	return 0;

err_nomem:
	hub_errf("out of memory");
err:
	free(lo);
	opts_free(cmd, dst);
	return status;
}

__attribute__((format(printf, 3, 4))) static void add(char *buf, size_t size, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o >= size - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, size - o, fmt, ap);
	va_end(ap);
}

/*
 * Options in the table's order, operands where the table puts them: a
 * required option bare, an optional one in brackets, with "..." after a
 * repeatable one; OPT_ALT and OPT_WITH share the brackets of the option
 * before them ("[--expires-in DAYS | --expires EPOCH]").
 */
void opts_synopsis(const struct hub_cmd *cmd, char *buf, size_t size)
{
	const struct opt *t = cmd->opts;
	size_t n = opts_count(t);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct opt *e = &t[i];
		unsigned int joined = OPT_ALT | OPT_WITH;
		bool with_prev = e->flags & joined;
		bool with_next = i + 1 < n && (t[i + 1].flags & joined);
		bool bare = e->kind == OPT_OPERANDS || (e->flags & OPT_REQ);

		if (buf[0])
			add(buf, size, "%s", with_prev && (e->flags & OPT_ALT) ? " | " : " ");
		if (e->kind == OPT_OPERANDS) {
			add(buf, size, "%s", e->metavar);
			continue;
		}
		add(buf, size, "%s--%s%s%s%s", !bare && !with_prev ? "[" : "", e->name,
		    e->metavar ? " " : "", e->metavar ? e->metavar : "",
		    !bare && !with_next ? (e->kind == OPT_LIST ? "]..." : "]") : "");
	}
}

int opts_usage(const struct hub_cmd *cmd)
{
	char syn[SYNOPSIS_MAX];

	opts_synopsis(cmd, syn, sizeof(syn));
	fprintf(stderr, "usage: %s %s %s\n", hub_prog, cmd->name, syn);
	return EXIT_USAGE;
}

/* "--name METAVAR", the left column of the option list. */
static int opt_left(const struct opt *e, char *buf, size_t size)
{
	snprintf(buf, size, "--%s%s%s", e->name, e->metavar ? " " : "",
		 e->metavar ? e->metavar : "");
	return (int)strlen(buf);
}

void opts_print_help(const struct hub_cmd *cmd)
{
	const struct opt *t = cmd->opts;
	size_t n = opts_count(t);
	char left[80];
	int width = (int)strlen("--help");
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (t[i].kind == OPT_OPERANDS)
			continue;
		if (opt_left(&t[i], left, sizeof(left)) > width)
			width = (int)strlen(left);
		any = true;
	}
	if (!any)
		return;
	printf("\noptions:\n");
	for (size_t i = 0; i < n; i++) {
		if (t[i].kind == OPT_OPERANDS)
			continue;
		opt_left(&t[i], left, sizeof(left));
		printf("  %-*s  %s\n", width, left, t[i].help ? t[i].help : "");
	}
	printf("  %-*s  %s\n", width, "--help", "this text");
}

/* ---------------------------------------------------------------- the command table */

static const struct hub_cmd *cmd_table;

const struct opt opts_help_opts[] = {
	OPT_ARGS("[COMMAND]"),
	{ 0 },
};

/* The command called name, by its whole name only (names may share a prefix). */
static const struct hub_cmd *cmd_find(const char *name)
{
	for (const struct hub_cmd *c = cmd_table; c && c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* help [COMMAND]: the table, or one command's synopsis and options. */
int opts_help_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	const struct hub_cmd *c;
	char syn[SYNOPSIS_MAX];
	int width = 0;

	if (argc > 2)
		return opts_usage(cmd);
	if (argc == 2) {
		c = cmd_find(argv[1]);
		if (!c) {
			hub_errf("unknown command \"%s\"", argv[1]);
			return EXIT_USAGE;
		}
		opts_synopsis(c, syn, sizeof(syn));
		printf("usage: %s %s %s\n  %s\n", hub_prog, c->name, syn, c->help);
		opts_print_help(c);
		if (c->more_help)
			c->more_help();
		return EXIT_OK;
	}
	for (c = cmd_table; c->name; c++)
		if ((int)strlen(c->name) > width)
			width = (int)strlen(c->name);
	printf("usage: %s COMMAND [ARGS]\n\ncommands:\n", hub_prog);
	for (c = cmd_table; c->name; c++)
		printf("  %-*s %s\n", width, c->name, c->help);
	printf("\n%s help COMMAND shows a command's arguments.\n", hub_prog);
	return EXIT_OK;
}

int opts_main(const struct hub_cmd *table, int argc, char **argv)
{
	static char prog[64];
	const struct hub_cmd *cmd, *help;

	cmd_table = table;
	help = cmd_find("help");
	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMAND [ARGS] (%s help lists them)\n", hub_prog, hub_prog);
		return EXIT_USAGE;
	}
	if (help && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return help->run(help, 1, argv + 1);
	cmd = cmd_find(argv[1]);
	if (!cmd) {
		hub_errf("unknown command \"%s\" (%s help lists them)", argv[1], hub_prog);
		return EXIT_USAGE;
	}
	/* getopt's own messages then read "tg-hub build: unrecognized option ..." */
	snprintf(prog, sizeof(prog), "%s %s", hub_prog, cmd->name);
	argv[1] = prog;
	for (int i = 2; help && i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			char *sub[] = { (char *)"help", (char *)cmd->name, NULL };

			return help->run(help, 2, sub);
		}
		if (!strcmp(argv[i], "--"))
			break;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}

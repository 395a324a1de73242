/*
 * tg-hub's one option parser: a command declares its command line as a
 * static const table of struct opt (its options, and where its operands go
 * in the synopsis); opts_parse() fills the command's own options struct from
 * argv, and opts_usage()/opts_help() print the synopsis and the option list
 * from the same table, so the help cannot drift from what is accepted.
 *
 * Underneath it is getopt_long() over a table built from the entries, with
 * long options only: abbreviations, --opt=VALUE, operands mixed with
 * options, and getopt's own messages ("tg-hub build: unrecognized option
 * '--frob'") are those of every getopt tool.
 */
#ifndef TG_HUB_OPTS_H
#define TG_HUB_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opt_kind {
	OPT_END = 0,  /* the table's terminator */
	OPT_STRING,   /* const char *: the argument as given */
	OPT_U64,      /* uint64_t: a whole number in [min, max] */
	OPT_FLAG,     /* bool: set when given; takes no argument */
	OPT_LIST,     /* struct opt_list: every argument of a repeatable option */
	OPT_OPERANDS, /* not an option: the operands' words, for the synopsis only */
};

/* How the synopsis shows an option (the parser checks none of it). */
enum {
	OPT_REQ = 1 << 0,  /* written bare: the command refuses to run without it */
	OPT_ALT = 1 << 1,  /* in the previous option's brackets, after a '|' */
	OPT_WITH = 1 << 2, /* in the previous option's brackets: they go together */
};

struct opt {
	const char *name;    /* long name without "--"; NULL for OPT_OPERANDS */
	enum opt_kind kind;
	size_t offset;       /* of the destination in the command's options struct */
	uint64_t min, max;   /* OPT_U64 */
	const char *metavar; /* "KEY" in "--key KEY"; the words of OPT_OPERANDS */
	unsigned int flags;  /* OPT_REQ, OPT_ALT, OPT_WITH */
	const char *help;    /* one line for `tg-hub help COMMAND` */
};

/* The arguments of a repeatable option, in order; v is malloc'ed (opts_free()). */
struct opt_list {
	const char **v;
	size_t n;
};

#define OPT_STR(n, type, field, mv, fl, h)                                                        \
	{ .name = (n), .kind = OPT_STRING, .offset = offsetof(type, field), .metavar = (mv),    \
	  .flags = (fl), .help = (h) }
#define OPT_NUM(n, type, field, lo, hi, mv, fl, h)                                                \
	{ .name = (n), .kind = OPT_U64, .offset = offsetof(type, field), .min = (lo),           \
	  .max = (hi), .metavar = (mv), .flags = (fl), .help = (h) }
#define OPT_BOOL(n, type, field, h)                                                               \
	{ .name = (n), .kind = OPT_FLAG, .offset = offsetof(type, field), .help = (h) }
#define OPT_MANY(n, type, field, mv, h)                                                           \
	{ .name = (n), .kind = OPT_LIST, .offset = offsetof(type, field), .metavar = (mv),      \
	  .help = (h) }
#define OPT_ARGS(words) { .kind = OPT_OPERANDS, .metavar = (words) }

struct hub_cmd;

/*
 * Parse argv (argv[0] is the command's name as getopt's messages show it)
 * into dst against cmd->opts; every option also accepts --help (main() acts
 * on it first). 0 and *first = the index of the first operand (operands are
 * argv[*first..argc-1]), or the exit status after a message: 2 (usage) for
 * an unknown option, a missing argument or a bad number, 1 out of memory.
 * Values not given keep what dst held.
 */
int opts_parse(const struct hub_cmd *cmd, void *dst, int argc, char **argv, int *first);

/* Frees what opts_parse() allocated in dst (the OPT_LIST arrays). */
void opts_free(const struct hub_cmd *cmd, void *dst);

/* "usage: tg-hub NAME SYNOPSIS" on stderr; returns 2, the usage exit status. */
int opts_usage(const struct hub_cmd *cmd);

/* The synopsis of cmd (without "usage: tg-hub NAME") into buf. */
void opts_synopsis(const struct hub_cmd *cmd, char *buf, size_t size);

/* One line per option, "  --name METAVAR  help", on stdout. */
void opts_print_help(const struct hub_cmd *cmd);

/*
 * A tool's main(): argv[1] names a command of table (ended by a { 0 }
 * entry, by whole names only), which runs with argv[1..]; "help [COMMAND]"
 * (a table entry with opts_help_opts and opts_help_run) lists the table or
 * shows one command's synopsis and options, as does --help anywhere before
 * "--". Messages name hub_prog. Returns the exit status.
 */
int opts_main(const struct hub_cmd *table, int argc, char **argv);
extern const struct opt opts_help_opts[];
int opts_help_run(const struct hub_cmd *cmd, int argc, char **argv);

#endif

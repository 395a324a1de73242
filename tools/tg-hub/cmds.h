/*
 * tg-hub's commands: the entry in main.c's table, and what each command
 * file (keys.c, build.c, inspect.c, provision.c, broker.c) gives it, its
 * handler and the option table opts_parse() reads its command line with.
 */
#ifndef TG_HUB_CMDS_H
#define TG_HUB_CMDS_H

#include "tg-hub/opts.h"

struct hub_cmd {
	const char *name;
	const struct opt *opts; /* options and operands; the synopsis is made from it */
	int (*run)(const struct hub_cmd *cmd, int argc, char **argv);
	const char *help;           /* one line */
	void (*more_help)(void);    /* what `tg-hub help NAME` adds after the options */
};

/* argv[0] is the command's name, argv[1..] its arguments; returns the exit status. */
extern const struct opt keys_keygen_opts[];
int keys_keygen(const struct hub_cmd *cmd, int argc, char **argv);

extern const struct opt build_opts[];
int build_run(const struct hub_cmd *cmd, int argc, char **argv);
void build_print_source_help(void);

extern const struct opt inspect_diff_opts[], inspect_verify_opts[], inspect_show_opts[];
int inspect_diff(const struct hub_cmd *cmd, int argc, char **argv);
int inspect_verify(const struct hub_cmd *cmd, int argc, char **argv);
int inspect_show(const struct hub_cmd *cmd, int argc, char **argv);

extern const struct opt provision_opts[];
int provision_run(const struct hub_cmd *cmd, int argc, char **argv);

extern const struct opt broker_publish_opts[], broker_fleet_opts[], broker_cmd_opts[];
int broker_publish(const struct hub_cmd *cmd, int argc, char **argv);
int broker_fleet(const struct hub_cmd *cmd, int argc, char **argv);
int broker_cmd(const struct hub_cmd *cmd, int argc, char **argv);

#endif

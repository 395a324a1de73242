/*
 * tg-hub: the regional hub operator's tool for blocklist bundles and the
 * region's broker.
 *
 *   keygen    the hub's ECDSA P-256 signing key pair                (keys.c)
 *   build     feeds -> one signed full bundle                      (build.c)
 *   diff      two full bundles -> the signed delta between them    (inspect.c)
 *   verify    a bundle checked the way a gateway checks it         (inspect.c)
 *   show      header, counts, and the lookup of single indicators  (inspect.c)
 *   provision the region's CA, broker, hub and gateway certificates, and the
 *             broker's mosquitto.conf and acl                      (provision.c)
 *   publish   a full bundle (and the delta from the previous one) to the broker
 *   fleet     the gateways' retained states, as a table
 *   cmd       a signed command to one gateway                      (broker.c)
 *
 * Commands live in one table (hub_cmds[] below): name, option table, handler
 * and one-line help, and every command reads its command line with the one
 * parser of opts.c from its option table, so `tg-hub help` and the usage
 * lines cannot drift from what the tool accepts.
 *
 * Exit status: 0 done, 1 refused or failed (bad bundle, unreadable feed,
 * --strict with bad lines), 2 usage. Every message names the bad value.
 */
#include <stdio.h>
#include <string.h>

#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/opts.h"

static int help_run(const struct hub_cmd *cmd, int argc, char **argv);

static const struct opt help_opts[] = {
	OPT_ARGS("[COMMAND]"),
	{ 0 },
};

static const struct hub_cmd hub_cmds[] = {
	{ .name = "keygen",
	  .opts = keys_keygen_opts,
	  .run = keys_keygen,
	  .help = "create the hub's signing key pair DIR/hub.key and DIR/hub.pub" },
	{ .name = "build",
	  .opts = build_opts,
	  .run = build_run,
	  .help = "compile feeds into a signed full bundle",
	  .more_help = build_print_source_help },
	{ .name = "diff",
	  .opts = inspect_diff_opts,
	  .run = inspect_diff,
	  .help = "make the signed delta that turns full bundle OLD into NEW" },
	{ .name = "verify",
	  .opts = inspect_verify_opts,
	  .run = inspect_verify,
	  .help = "check a bundle as a gateway would (signature, region, expiry, serial)" },
	{ .name = "show",
	  .opts = inspect_show_opts,
	  .run = inspect_show,
	  .help = "print a bundle's header and counts; look up domains, addresses, JA3, "
		  "proto:NAME, category:NAME" },
	{ .name = "provision",
	  .opts = provision_opts,
	  .run = provision_run,
	  .help = "create or extend the region's CA, certificates, mosquitto.conf and acl" },
	{ .name = "publish",
	  .opts = broker_publish_opts,
	  .run = broker_publish,
	  .help = "publish a full bundle (retained), after the delta from --previous" },
	{ .name = "fleet",
	  .opts = broker_fleet_opts,
	  .run = broker_fleet,
	  .help = "list the gateways' states: online, serial, bundle, age, last refusal" },
	{ .name = "cmd",
	  .opts = broker_cmd_opts,
	  .run = broker_cmd,
	  .help = "send a signed command to one gateway" },
	{ .name = "help", .opts = help_opts, .run = help_run, .help = "list the commands" },
	{ 0 },
};

/* The command called name, by its whole name only (names may share a prefix). */
static const struct hub_cmd *hub_find(const char *name)
{
	for (const struct hub_cmd *c = hub_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* tg-hub help [COMMAND]: the table, or one command's synopsis and options. */
static int help_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	const struct hub_cmd *c;
	char syn[512];

	if (argc > 2)
		return opts_usage(cmd);
	if (argc == 2) {
		c = hub_find(argv[1]);
		if (!c) {
			hub_errf("unknown command \"%s\"", argv[1]);
			return EXIT_USAGE;
		}
		opts_synopsis(c, syn, sizeof(syn));
		printf("usage: " PROG " %s %s\n  %s\n", c->name, syn, c->help);
		opts_print_help(c);
		if (c->more_help)
			c->more_help();
		return EXIT_OK;
	}
	printf("usage: " PROG " COMMAND [ARGS]\n\ncommands:\n");
	for (c = hub_cmds; c->name; c++)
		printf("  %-9s %s\n", c->name, c->help);
	printf("\n" PROG " help COMMAND shows a command's arguments.\n");
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static char prog[64];
	const struct hub_cmd *cmd;

	if (argc < 2) {
		fprintf(stderr, "usage: " PROG " COMMAND [ARGS] (" PROG " help lists them)\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help_run(hub_find("help"), 1, argv + 1);
	cmd = hub_find(argv[1]);
	if (!cmd) {
		hub_errf("unknown command \"%s\" (" PROG " help lists them)", argv[1]);
		return EXIT_USAGE;
	}
	/* getopt's own messages then read "tg-hub build: unrecognized option ..." */
	snprintf(prog, sizeof(prog), PROG " %s", cmd->name);
	argv[1] = prog;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			char *sub[] = { (char *)"help", (char *)cmd->name, NULL };

			return help_run(hub_find("help"), 2, sub);
		}
		if (!strcmp(argv[i], "--"))
			break;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}

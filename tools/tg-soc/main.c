/*
 * tg-soc: the regional SOC's collector and its questions (docs/tg-soc.md).
 *
 *   collect   the region's records from its broker into the store  (collect_cmd.c, collect.c)
 *   members   each member: online, serial in force, last summary, alerts, spool (query.c)
 *   alerts    alerts by time, member, rule, kind                     (query.c)
 *   top       applications, destinations, blocked rules              (query.c)
 *   assets    the inventory, new devices first                      (query.c)
 *   show      one record as stored                                   (query.c)
 *   export    records as ECS NDJSON, Suricata EVE or syslog          (export*.c)
 *   report    one self-contained HTML page of the members           (html.c)
 *   indicators what several members flagged, as STIX 2.1 for tg-hub (indicators.c)
 *
 * Commands live in one table (soc_cmds[] below), read their command lines
 * with tg-hub's option parser (tools/tg-hub/opts.c), and exit 0 done, 1
 * failed, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "tg-hub/common.h"
#include "tg-soc/cmds.h"
#include "tg-soc/out.h"
#include "tg-soc/util.h"

static int help_run(const struct hub_cmd *cmd, int argc, char **argv);

static const struct opt help_opts[] = {
	OPT_ARGS("[COMMAND]"),
	{ 0 },
};

static const struct hub_cmd soc_cmds[] = {
	{ .name = "collect",
	  .opts = soc_collect_opts,
	  .run = soc_collect,
	  .help = "subscribe to the region's broker and store what its gateways send" },
	{ .name = "members",
	  .opts = soc_members_opts,
	  .run = soc_members,
	  .help = "the members: online since, serial in force, last summary, alerts, spool" },
	{ .name = "alerts",
	  .opts = soc_alerts_opts,
	  .run = soc_alerts,
	  .help = "alerts, newest first, by time, member, rule and kind" },
	{ .name = "top",
	  .opts = soc_top_opts,
	  .run = soc_top,
	  .help = "top applications, destinations or blocked rules, per member or region" },
	{ .name = "assets",
	  .opts = soc_assets_opts,
	  .run = soc_assets,
	  .help = "the members' devices, new ones first" },
	{ .name = "show",
	  .opts = soc_show_opts,
	  .run = soc_show,
	  .help = "one record as the gateway sent it" },
	{ .name = "export",
	  .opts = export_opts,
	  .run = export_run,
	  .help = "records as ECS NDJSON, Suricata EVE alerts, or RFC 5424 syslog over TCP" },
	{ .name = "report",
	  .opts = report_opts,
	  .run = report_run,
	  .help = "one self-contained HTML page: traffic, alerts, serials, indicators, devices" },
	{ .name = "indicators",
	  .opts = indicators_opts,
	  .run = indicators_run,
	  .help = "destinations flagged at several members, as a STIX 2.1 bundle for tg-hub build" },
	{ .name = "help", .opts = help_opts, .run = help_run, .help = "list the commands" },
	{ 0 },
};

static const struct hub_cmd *soc_find(const char *name)
{
	for (const struct hub_cmd *c = soc_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int help_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	const struct hub_cmd *c;
	char syn[512];

	if (argc > 2)
		return opts_usage(cmd);
	if (argc == 2) {
		c = soc_find(argv[1]);
		if (!c) {
			soc_errf("unknown command \"%s\"", argv[1]);
			return EXIT_USAGE;
		}
		opts_synopsis(c, syn, sizeof(syn));
		printf("usage: " SOC_PROG " %s %s\n  %s\n", c->name, syn, c->help);
		opts_print_help(c);
		if (c->more_help)
			c->more_help();
		return EXIT_OK;
	}
	printf("usage: " SOC_PROG " COMMAND [ARGS]\n\ncommands:\n");
	for (c = soc_cmds; c->name; c++)
		printf("  %-11s %s\n", c->name, c->help);
	printf("\n" SOC_PROG " help COMMAND shows a command's arguments.\n");
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static char prog[64];
	const struct hub_cmd *cmd;

	hub_prog = SOC_PROG;
	if (argc < 2) {
		fprintf(stderr, "usage: " SOC_PROG " COMMAND [ARGS] (" SOC_PROG " help lists them)\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help_run(soc_find("help"), 1, argv + 1);
	cmd = soc_find(argv[1]);
	if (!cmd) {
		soc_errf("unknown command \"%s\" (" SOC_PROG " help lists them)", argv[1]);
		return EXIT_USAGE;
	}
	snprintf(prog, sizeof(prog), SOC_PROG " %s", cmd->name);
	argv[1] = prog;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			char *sub[] = { (char *)"help", (char *)cmd->name, NULL };

			return help_run(soc_find("help"), 2, sub);
		}
		if (!strcmp(argv[i], "--"))
			break;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}

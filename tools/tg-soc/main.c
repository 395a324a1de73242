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
	{ .name = "help", .opts = opts_help_opts, .run = opts_help_run, .help = "list the commands" },
	{ 0 },
};

int main(int argc, char **argv)
{
	hub_prog = SOC_PROG;
	return opts_main(soc_cmds, argc, argv);
}

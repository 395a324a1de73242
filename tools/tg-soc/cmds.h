/*
 * tg-soc's commands: main.c's table, and the handler and option table each
 * command file gives it (collect_cmd.c: collect; query.c: members, alerts,
 * top, assets, show). The entry is tg-hub's struct hub_cmd: tg-soc reads its
 * command lines with tg-hub's one option parser (tools/tg-hub/opts.c).
 */
#ifndef TG_SOC_CMDS_H
#define TG_SOC_CMDS_H

#include "tg-hub/cmds.h"
#include "tg-hub/opts.h"

extern const struct opt soc_collect_opts[];
int soc_collect(const struct hub_cmd *cmd, int argc, char **argv);

extern const struct opt soc_members_opts[], soc_alerts_opts[], soc_top_opts[], soc_assets_opts[],
	soc_show_opts[];
int soc_members(const struct hub_cmd *cmd, int argc, char **argv);
int soc_alerts(const struct hub_cmd *cmd, int argc, char **argv);
int soc_top(const struct hub_cmd *cmd, int argc, char **argv);
int soc_assets(const struct hub_cmd *cmd, int argc, char **argv);
int soc_show(const struct hub_cmd *cmd, int argc, char **argv);

#endif

/*
 * The console's information commands (docs/console.md, "What the box
 * says"): their handlers, with the con_handler signature of
 * app/console.h, listed in the console's one command table
 * (console_cmds.c). Each prints in the console's language and returns 0,
 * or non-zero after printing why it refused.
 *
 *   status            one screen: mode, ports, address, time, uplink,
 *                     bundle, flows, blocks, spool; OK or PROBLEM
 *   diag              the checks in order, causes and remedies
 *   ports             each port's link and counters
 *   flows [top N]     open flows; the N largest by bytes (default 10)
 *   bundle            the blocklist in force
 *   log [N]           the last N log lines (default 20, at most 128)
 *   report            the summary so far and the inventory sent now
 *   dns NAME          NAME looked up through the management stack
 *   ping HOST         three ICMP echoes through the management stack
 *   lang [en|zh_TW]   the messages' language from now on (until a restart;
 *                     [console] lang keeps it)
 */
#ifndef TG_APP_CONSOLE_INFO_H
#define TG_APP_CONSOLE_INFO_H

struct console;

int con_cmd_status(struct console *c, int argc, char **argv);
int con_cmd_diag(struct console *c, int argc, char **argv);
int con_cmd_ports(struct console *c, int argc, char **argv);
int con_cmd_flows(struct console *c, int argc, char **argv);
int con_cmd_bundle(struct console *c, int argc, char **argv);
int con_cmd_log(struct console *c, int argc, char **argv);
int con_cmd_report(struct console *c, int argc, char **argv);
int con_cmd_dns(struct console *c, int argc, char **argv);
int con_cmd_ping(struct console *c, int argc, char **argv);
int con_cmd_lang(struct console *c, int argc, char **argv);

#endif

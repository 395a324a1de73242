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
	{ .name = "help", .opts = opts_help_opts, .run = opts_help_run, .help = "list the commands" },
	{ 0 },
};

int main(int argc, char **argv)
{
	return opts_main(hub_cmds, argc, argv);
}

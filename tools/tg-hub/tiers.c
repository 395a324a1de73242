/*
 * The national tier's Mosquitto configuration (tiers.h): the text of the
 * regional broker's bridge section and of the national broker's acl
 * entries. tg-hub provision issues the bridge identities and writes the files.
 *
 * The bridge is the regional broker's own client to the national broker:
 * mutual TLS with the bridge identity (CN bridge:<region>, the national acl's
 * user name), the national CA checked and the national broker's name against
 * its certificate, a persistent session (cleansession false) at QoS 1, so
 * what the national broker has not acknowledged waits in the regional
 * broker's session across either broker's restart. Only the report and state
 * topics go up ("out"); bundles and commands never go down a bridge: each
 * region's hub signs its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tg-hub/common.h"
#include "tg-hub/tiers.h"

const char *const tiers_kinds[4] = { "summary", "alert", "asset", "state" };

void tiers_bridge_conf(FILE *f, const char *region, const char *bdir, const char *national)
{
	fprintf(f,
		"\n"
		"# The national tier (docs/protocol.md \"Tiers\"): this broker's bridge to the\n"
		"# national broker, with the bridge identity bridge:%s from the national CA.\n"
		"# The gateways' reports and states go up to the same topics; nothing comes down.\n"
		"connection tg-national-%s\n"
		"address %s\n"
		"remote_clientid bridge:%s\n"
		"bridge_protocol_version mqttv311\n"
		"cleansession false\n"
		"notifications false\n"
		"try_private false\n"
		"bridge_cafile %s/national/ca.crt\n"
		"bridge_certfile %s/national/bridge.crt\n"
		"bridge_keyfile %s/national/bridge.key\n"
		"bridge_tls_version tlsv1.2\n",
		region, region, national, region, bdir, bdir, bdir);
	for (size_t i = 0; i < ARRAY_SIZE(tiers_kinds); i++)
		fprintf(f, "topic gw/+/%s out 1 tg/v1/%s/ tg/v1/%s/\n", tiers_kinds[i], region, region);
}

void tiers_acl(FILE *f, const char *region, char **regions, size_t n)
{
	if (!n)
		return;
	fprintf(f,
		"\n"
		"# The national tier: the SOC of %s reads every region's reports and states,\n"
		"# each region's bridge writes its own region's only.\n"
		"user soc:%s\n",
		region, region);
	for (size_t k = 0; k < ARRAY_SIZE(tiers_kinds); k++)
		fprintf(f, "topic read tg/v1/+/gw/+/%s\n", tiers_kinds[k]);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "\nuser bridge:%s\n", regions[i]);
		for (size_t k = 0; k < ARRAY_SIZE(tiers_kinds); k++)
			fprintf(f, "topic write tg/v1/%s/gw/+/%s\n", regions[i], tiers_kinds[k]);
	}
}

int tiers_national_valid(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (!colon || colon == arg || strpbrk(arg, " \t\n#")) {
		hub_errf("--national \"%s\": not HOST:PORT (the national broker's TLS listener)", arg);
		return -EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		hub_errf("--national \"%s\": port \"%s\" is not 1..65535", arg, colon + 1);
		return -EINVAL;
	}
	return 0;
}

/* tg-soc collect's command line (collect.h runs it). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-hub/common.h"
#include "tg-soc/cmds.h"
#include "tg-soc/collect.h"
#include "tg-soc/export.h"
#include "tg-soc/util.h"

struct collect_args {
	const char *broker, *cert, *key, *ca, *region, *db, *retain, *client_id;
	const char *export, *export_to; /* the live export (export.h) */
	uint64_t keepalive;
};

const struct opt soc_collect_opts[] = {
	OPT_STR("broker", struct collect_args, broker, "HOST:PORT", OPT_REQ,
		"the region's broker (its certificate's name or IP SAN; port 8883 if left out)"),
	OPT_STR("cert", struct collect_args, cert, "FILE", OPT_REQ,
		"the SOC's certificate (tg-hub provision: DIR/soc/soc.crt)"),
	OPT_STR("key", struct collect_args, key, "FILE", OPT_REQ, "its key (DIR/soc/soc.key)"),
	OPT_STR("ca", struct collect_args, ca, "FILE", OPT_REQ, "the region's CA (DIR/soc/ca.crt)"),
	OPT_STR("region", struct collect_args, region, "REGION", OPT_REQ, "the region"),
	OPT_STR("db", struct collect_args, db, "URL", OPT_REQ,
		"sqlite:PATH, a PATH, or postgresql://... (docs/tg-soc.md)"),
	OPT_STR("retain", struct collect_args, retain, "AGE", 0,
		"delete records older than AGE (30d, 12h), at start and hourly; default: keep all"),
	OPT_STR("client-id", struct collect_args, client_id, "ID", 0,
		"the MQTT client id of the persistent session (default soc:REGION:collect)"),
	OPT_NUM("keepalive", struct collect_args, keepalive, 5, 3600, "S", 0,
		"MQTT keepalive in seconds (default 30)"),
	OPT_STR("export", struct collect_args, export, "ecs|eve|syslog", 0,
		"also export each record stored, as it is stored (docs/tg-soc.md)"),
	OPT_STR("export-to", struct collect_args, export_to, "FILE|HOST:PORT", 0,
		"the export's file (ecs, eve; default stdout) or syslog collector"),
	{ 0 },
};

int soc_collect(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct collect_args a = { .keepalive = 30 };
	struct collect_config cfg = { 0 };
	char host[256], client_id[160];
	const char *colon;
	int first, status;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	if (first != argc || !a.broker || !a.cert || !a.key || !a.ca || !a.region || !a.db)
		return opts_usage(cmd);
	/* "+": every region, for a national tg-soc on the national broker (docs/tg-soc.md "Tiers") */
	if (strcmp(a.region, "+") != 0 && !hub_region_valid(a.region)) {
		soc_errf("--region \"%s\": not a region name (a-z, 0-9, '-') or + (every region)",
			 a.region);
		return EXIT_USAGE;
	}
	colon = strrchr(a.broker, ':');
	cfg.port = 8883;
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);

		if (*end || p < 1 || p > 65535 || (size_t)(colon - a.broker) >= sizeof(host)) {
			soc_errf("--broker \"%s\": the port is not 1..65535", a.broker);
			return EXIT_USAGE;
		}
		cfg.port = (int)p;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - a.broker), a.broker);
	} else {
		snprintf(host, sizeof(host), "%s", a.broker);
	}
	if (a.retain && (soc_parse_duration(a.retain, &cfg.retain_ms) < 0 || !cfg.retain_ms)) {
		soc_errf("--retain \"%s\": not an age (30d, 12h, 90m)", a.retain);
		return EXIT_USAGE;
	}
	snprintf(client_id, sizeof(client_id), "soc:%s:collect", a.region);
	cfg.host = host;
	cfg.ca = a.ca;
	cfg.cert = a.cert;
	cfg.key = a.key;
	cfg.region = a.region;
	cfg.db = a.db;
	cfg.client_id = a.client_id ? a.client_id : client_id;
	cfg.keepalive_s = (unsigned int)a.keepalive;
	if (a.export_to && !a.export) {
		soc_errf("--export-to needs --export FORMAT");
		return EXIT_USAGE;
	}
	if (a.export) {
		struct export_config ec = { 0 };

		if (export_format_parse(a.export, &ec.format) < 0) {
			soc_errf("--export \"%s\": not a format (allowed: ecs, eve, syslog)", a.export);
			return EXIT_USAGE;
		}
		if (ec.format == EXPORT_SYSLOG && !a.export_to) {
			soc_errf("--export syslog needs --export-to HOST:PORT");
			return EXIT_USAGE;
		}
		if (ec.format == EXPORT_SYSLOG)
			ec.syslog = a.export_to;
		else
			ec.out = a.export_to;
		if (export_open(&cfg.exporter, &ec) < 0)
			return EXIT_USAGE;
		cfg.export_record = export_record;
		cfg.export_pump = export_pump;
	}
	status = collect_run(&cfg) ? EXIT_FAIL : EXIT_OK;
	if (cfg.exporter) {
		export_flush(cfg.exporter, 5000);
		export_close(cfg.exporter, NULL);
	}
	return status;
}

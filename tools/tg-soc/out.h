/*
 * tg-soc's way out to the SOC's people and tools (docs/tg-soc.md, "Exports",
 * "The report page", "Indicators"): the commands main.c's table names, and
 * the record source they share.
 *
 *   export      the store's records as ECS NDJSON, Suricata EVE or syslog (export_cmd.c)
 *   report      one self-contained HTML page of the members (html.c)
 *   indicators  a STIX 2.1 bundle of what several members flagged (indicators.c)
 */
#ifndef TG_SOC_OUT_H
#define TG_SOC_OUT_H

#include <jansson.h>
#include <stdint.h>

#include "tg-hub/cmds.h"
#include "tg-soc/store.h"

extern const struct opt export_opts[], report_opts[], indicators_opts[];
int export_run(const struct hub_cmd *cmd, int argc, char **argv);
int report_run(const struct hub_cmd *cmd, int argc, char **argv);
int indicators_run(const struct hub_cmd *cmd, int argc, char **argv);

/*
 * Where records come from: the store (--db URL), or JSON lines (--from FILE,
 * "-" for stdin, read as they come: a gateway's journal, `townguard replay
 * --reports`, another tg-soc's export). A line that is no JSON object is
 * logged with its file and line and skipped. f filters both alike (kind,
 * member, since/until by @timestamp). Returns fn's first non-zero return, 0,
 * or -errno after a message.
 */
struct soc_source {
	const char *db;
	const char *from;
};
int soc_source_each(const struct soc_source *src, const struct store_filter *f,
		    store_record_fn fn, void *ctx);

/* --since / --until: "24h" (that long before now_ms) or an ISO 8601 time; ms, or -EINVAL after a message. */
int soc_time_arg(const char *opt, const char *s, int64_t now_ms, int64_t *ms);

#endif

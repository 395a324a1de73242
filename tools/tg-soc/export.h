/*
 * tg-soc's exports to what the SOC already runs (docs/tg-soc.md, "Exports"):
 *
 *   ecs     the records as they are (they are ECS documents), one JSON line
 *           each, to stdout or a size-rotated file that Filebeat, Wazuh's
 *           agent or Logstash tail;
 *   eve     alerts in Suricata's EVE shape (event_type "alert"), one JSON line
 *           each, so an existing Suricata pipeline ingests them;
 *   syslog  RFC 5424 messages (the ECS line as MSG) over TCP with octet
 *           counting (RFC 6587) to a collector, reconnecting, with what the
 *           collector's TCP has not acknowledged kept in a bounded buffer and
 *           sent again after a reconnection.
 *
 * The formatters (export_ecs_line, export_eve, export_syslog_msg) are pure
 * functions of one record; the sinks (export_sink.c) put their output out.
 * An exporter is also the sink collect calls for each record it stored
 * (`collect --export ...`): export_record().
 */
#ifndef TG_SOC_EXPORT_H
#define TG_SOC_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum export_format { EXPORT_ECS, EXPORT_EVE, EXPORT_SYSLOG };

/* Which kinds of record an exporter passes on (event.kind). */
enum {
	EXPORT_KIND_SUMMARY = 1 << 0, /* metric */
	EXPORT_KIND_ALERT = 1 << 1,
	EXPORT_KIND_ASSET = 1 << 2,
	EXPORT_KIND_ALL = 0x7,
};

struct export_config {
	enum export_format format;
	unsigned int kinds;       /* EXPORT_KIND_*; 0: the format's default */
	const char *out;          /* a file (ecs, eve); NULL: stdout */
	uint64_t rotate_bytes;    /* rotate the file before it would pass this; 0: never */
	unsigned int keep;        /* rotated files kept: FILE.1 .. FILE.keep */
	const char *syslog;       /* HOST:PORT of the collector (syslog) */
	size_t buffer_bytes;      /* bound of what waits for the collector (syslog) */
	const char *hostname;     /* syslog HOSTNAME when a record has no observer.id */
};

struct exporter;

/* 0 and *ex, or -errno after a message naming the bad value. */
int export_open(struct exporter **ex, const struct export_config *cfg);

/*
 * Put one record out (a record of a kind not selected is skipped). Never
 * fails: a record that cannot be formatted is logged and counted, a sink
 * that is down keeps it (syslog, within its bound) or counts it lost.
 */
void export_record(struct exporter *ex, const json_t *rec);

/*
 * The sink's turn without a record: the syslog sink connects when its backoff
 * is due, sends what waits, takes off what the collector acknowledged and
 * notices a collector that closed. collect's loop calls it every second, so a
 * record stored while the collector was down reaches it once it is back with
 * no later record to push it. Files need none (each line is written at once).
 */
void export_pump(struct exporter *ex);

/* Wait (at most timeout_ms) until everything is out: written, or acknowledged by the collector. 0 or -ETIMEDOUT. */
int export_flush(struct exporter *ex, int timeout_ms);

/* Counts for the closing line: records out, skipped by kind, refused (unformattable), lost. */
struct export_stats {
	uint64_t out, skipped, refused, lost, reconnects;
};
void export_get_stats(const struct exporter *ex, struct export_stats *st);

/* Closes ex; the final counts in *st (may be NULL): what never got out counts as lost. */
void export_close(struct exporter *ex, struct export_stats *st);

/* "ecs", "eve", "syslog" -> the format, or -EINVAL. */
int export_format_parse(const char *s, enum export_format *f);

/* "alert,summary,..." -> EXPORT_KIND_* bits, or -EINVAL after a message. */
int export_kinds_parse(const char *s, unsigned int *kinds);

/* The record's kind bit (event.kind), 0 for none known. */
unsigned int export_record_kind(const json_t *rec);

/* ---- the formatters: pure, malloc'ed results (free()) or NULL with *why set */

/* The record as one compact JSON line, without the newline. */
char *export_ecs_line(const json_t *rec, const char **why);

/* The alert in Suricata's EVE shape (a new reference), NULL for a record that is no alert. */
json_t *export_eve(const json_t *rec, const char **why);

/*
 * An RFC 5424 message (without the octet count): PRI VERSION TIMESTAMP
 * HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG, MSG the ECS line.
 */
char *export_syslog_msg(const json_t *rec, const char *hostname, const char **why);

#endif

/*
 * tg-soc export: the store's records (or JSON lines) through one exporter
 * (export.h), and the record source the report and the indicators share.
 *
 *   tg-soc export --db north.db --format ecs --since 24h --out /var/log/tg/north.ndjson
 *   tg-soc export --db north.db --format eve --since 1h >>/var/log/suricata/tg-eve.json
 *   tg-soc export --db north.db --format syslog --syslog siem.example:6514 --since 24h
 *   townguard report journal | tg-soc export --from - --format syslog --syslog 127.0.0.1:514
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-hub/common.h"
#include "tg-hub/opts.h"
#include "tg-soc/export.h"
#include "tg-soc/out.h"
#include "tg-soc/util.h"

int soc_time_arg(const char *opt, const char *s, int64_t now_ms, int64_t *ms)
{
	int64_t d;

	if (soc_parse_duration(s, &d) == 0) {
		*ms = now_ms - d;
		return 0;
	}
	if (soc_parse_time(s, ms) == 0)
		return 0;
	soc_errf("%s \"%s\": neither a duration (30d, 24h, 90m, 45s) nor a time "
		 "(2026-12-03T14:00:00Z)",
		 opt, s);
	return -EINVAL;
}

/* The filter of store_foreach(), applied to a record read from lines. */
static bool filter_takes(const struct store_filter *f, const json_t *rec)
{
	const char *kind = soc_json_str(rec, "event.kind"), *gw = soc_json_str(rec, "observer.id");
	int64_t ts;

	if (f->kind && (!kind || strcmp(kind, f->kind) != 0))
		return false;
	if (f->member && (!gw || strcmp(gw, f->member) != 0))
		return false;
	if (f->since_ms || f->until_ms) {
		if (soc_parse_time(soc_json_str(rec, "@timestamp"), &ts) < 0)
			return false;
		if ((f->since_ms && ts < f->since_ms) || (f->until_ms && ts >= f->until_ms))
			return false;
	}
	return true;
}

static int lines_each(const char *from, const struct store_filter *f, store_record_fn fn, void *ctx)
{
	FILE *in = strcmp(from, "-") ? fopen(from, "r") : stdin;
	const char *name = strcmp(from, "-") ? from : "stdin";
	unsigned long line = 0, bad = 0;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	if (!in) {
		soc_errf("%s: cannot open: %s", from, strerror(errno));
		return -errno;
	}
	while (!ret && (n = getline(&buf, &cap, in)) >= 0) {
		json_error_t jerr;
		json_t *rec;

		line++;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		if (!n)
			continue;
		rec = json_loadb(buf, (size_t)n, 0, &jerr);
		if (!json_is_object(rec)) {
			soc_errf("%s:%lu: not a JSON object%s%s (column %d): skipped", name, line,
				 rec ? "" : ": ", rec ? "" : jerr.text, rec ? 1 : jerr.column);
			json_decref(rec);
			bad++;
			continue;
		}
		if (filter_takes(f, rec))
			ret = fn(ctx, rec);
		json_decref(rec);
	}
	free(buf);
	if (in != stdin)
		fclose(in);
	if (bad)
		soc_errf("%s: %lu line%s skipped (not JSON objects)", name, bad, bad == 1 ? "" : "s");
	return ret;
}

int soc_source_each(const struct soc_source *src, const struct store_filter *f,
		    store_record_fn fn, void *ctx)
{
	struct store *s;
	int ret;

	if (src->from)
		return lines_each(src->from, f, fn, ctx);
	if (!src->db) {
		soc_errf("no records: give --db URL (the store) or --from FILE (JSON lines)");
		return -EINVAL;
	}
	ret = store_open(&s, src->db);
	if (ret < 0) {
		soc_errf("%s: cannot open the store: %s", src->db, strerror(-ret));
		return ret;
	}
	ret = store_foreach(s, f, fn, ctx);
	store_close(s);
	return ret;
}

struct export_args {
	const char *db, *from, *format, *kind, *since, *until, *member, *out, *syslog;
	uint64_t rotate_mb, keep, buffer_kb, wait_s;
};

const struct opt export_opts[] = {
	OPT_STR("db", struct export_args, db, "URL", 0, "the store (sqlite:PATH, PATH, postgresql://...)"),
	OPT_STR("from", struct export_args, from, "FILE", OPT_ALT,
		"records as JSON lines instead (- for stdin, read as they come)"),
	OPT_STR("format", struct export_args, format, "ecs|eve|syslog", OPT_REQ,
		"ECS NDJSON, Suricata EVE alerts, or RFC 5424 syslog over TCP"),
	OPT_STR("kind", struct export_args, kind, "K,...", 0,
		"summary, alert, asset, all (default: all for ecs, alert otherwise)"),
	OPT_STR("since", struct export_args, since, "T", 0, "records from T: 24h ago, or 2026-12-03T00:00:00Z"),
	OPT_STR("until", struct export_args, until, "T", 0, "records before T"),
	OPT_STR("member", struct export_args, member, "ID", 0, "one gateway's records only"),
	OPT_STR("out", struct export_args, out, "FILE", 0, "append to FILE (ecs, eve; default stdout)"),
	OPT_NUM("rotate-mb", struct export_args, rotate_mb, 1, 1u << 20, "N", 0,
		"rotate FILE before it passes N MiB (FILE.1 ... FILE.KEEP)"),
	OPT_NUM("keep", struct export_args, keep, 0, 1000, "N", 0, "rotated files kept (default 5)"),
	OPT_STR("syslog", struct export_args, syslog, "HOST:PORT", 0,
		"the collector (syslog: TCP, octet counting)"),
	OPT_NUM("buffer-kb", struct export_args, buffer_kb, 16, 1u << 22, "N", 0,
		"what waits for the collector, at most (default 4096)"),
	OPT_NUM("wait", struct export_args, wait_s, 0, 86400, "S", 0,
		"at the end, wait up to S seconds for the collector (default 30)"),
	{ 0 },
};

static int export_one(void *ctx, const json_t *rec)
{
	export_record(ctx, rec);
	return 0;
}

int export_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct export_args o = { .keep = 5, .buffer_kb = 4096, .wait_s = 30 };
	struct export_config cfg = { 0 };
	struct store_filter f = { 0 };
	struct soc_source src;
	struct exporter *ex;
	struct export_stats st;
	int64_t now = soc_now_ms();
	int first, status, ret;

	status = opts_parse(cmd, &o, argc, argv, &first);
	if (status)
		return status;
	if (first != argc || !o.format)
		return opts_usage(cmd);
	if (export_format_parse(o.format, &cfg.format) < 0) {
		soc_errf("--format \"%s\": not a format (allowed: ecs, eve, syslog)", o.format);
		return EXIT_USAGE;
	}
	if ((cfg.format == EXPORT_SYSLOG) != !!o.syslog) {
		soc_errf(o.syslog ? "--syslog is for --format syslog"
				  : "--format syslog needs --syslog HOST:PORT");
		return EXIT_USAGE;
	}
	if (o.out && cfg.format == EXPORT_SYSLOG) {
		soc_errf("--out is for --format ecs and eve");
		return EXIT_USAGE;
	}
	if (o.rotate_mb && !o.out) {
		soc_errf("--rotate-mb rotates a file: give --out FILE");
		return EXIT_USAGE;
	}
	if (o.db && o.from) {
		soc_errf("--db and --from: one source at a time");
		return EXIT_USAGE;
	}
	if ((o.kind && export_kinds_parse(o.kind, &cfg.kinds) < 0) ||
	    (o.since && soc_time_arg("--since", o.since, now, &f.since_ms) < 0) ||
	    (o.until && soc_time_arg("--until", o.until, now, &f.until_ms) < 0))
		return EXIT_USAGE;
	f.member = o.member;
	/* one kind selected: the store filters it itself */
	if (cfg.kinds == EXPORT_KIND_ALERT || (!cfg.kinds && cfg.format != EXPORT_ECS))
		f.kind = "alert";
	cfg.out = o.out;
	cfg.rotate_bytes = o.rotate_mb << 20;
	cfg.keep = (unsigned int)o.keep;
	cfg.syslog = o.syslog;
	cfg.buffer_bytes = (size_t)o.buffer_kb << 10;
	if (export_open(&ex, &cfg) < 0)
		return EXIT_USAGE;
	src = (struct soc_source){ .db = o.db, .from = o.from };
	ret = soc_source_each(&src, &f, export_one, ex);
	if (export_flush(ex, (int)o.wait_s * 1000) < 0)
		soc_errf("export: the collector did not take everything within %" PRIu64 " s",
			 o.wait_s);
	export_close(ex, &st);
	/* the closing line: stdout may be the export itself */
	fprintf(stderr,
		"tg-soc: export: %" PRIu64 " record%s out, %" PRIu64 " of other kinds skipped, %" PRIu64
		" refused, %" PRIu64 " lost, %" PRIu64 " reconnection%s\n",
		st.out, st.out == 1 ? "" : "s", st.skipped, st.refused, st.lost, st.reconnects,
		st.reconnects == 1 ? "" : "s");
	return ret < 0 || st.lost || st.refused ? EXIT_FAIL : EXIT_OK;
}

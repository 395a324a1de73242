/*
 * tg-soc's export formats (export.h): a record in, a line or a message out,
 * nothing else. The records are ECS documents already (docs/reports.md), so
 * the ECS export is the record itself, compact; the EVE and syslog forms are
 * made from the same fields, each field where its format documents it:
 *
 *   EVE (Suricata's eve.json "alert" event): timestamp, event_type, src_ip,
 *   src_port, dest_ip, dest_port, proto, app_proto, host (the sensor), and
 *   alert.{action, gid, signature_id, rev, signature, category, severity}.
 *   A first hit is the bundle rule's signature (gid 1, sid = rule id, rev =
 *   bundle serial); townguard's own alert types are gid 9 with a fixed sid
 *   each (table below), so a Suricata rule set's sids never collide with them.
 *
 *   syslog (RFC 5424): PRI from facility 4 (security/authorization) and a
 *   severity per alert type, the record's @timestamp, the gateway id as
 *   HOSTNAME, APP-NAME townguard, MSGID the alert type or the record kind,
 *   one SD-ELEMENT tg@32473 (RFC 5612's documentation enterprise number:
 *   townguard has no number of its own) with seq, region, dataset and id,
 *   and the ECS line as MSG.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-soc/export.h"
#include "tg-soc/util.h"

/* Syslog facility 4: "security/authorization messages" (RFC 5424, 6.2.1). */
#define SYSLOG_FACILITY 4
/* The SD-ID of townguard's structured data: name@<enterprise number>. */
#define SYSLOG_SD_ID "tg@32473"

/* Suricata's gid for townguard's own alert types (first hits use gid 1). */
#define EVE_GID_OWN 9

struct alert_type {
	const char *name;
	unsigned int sid;      /* EVE signature_id, gid EVE_GID_OWN */
	unsigned int eve_sev;  /* EVE severity: 1 high .. 3 low */
	unsigned int syslog_sev; /* RFC 5424: 2 critical, 3 error, 4 warning, 5 notice, 6 info */
	const char *category;  /* EVE alert.category */
};

static const struct alert_type alert_types[] = {
	{ "first_hit", 0, 2, 4, "Blocklist indicator hit" },
	{ "new_device", 1, 3, 5, "New device on the office LAN" },
	{ "risk", 2, 2, 4, "Potentially Bad Traffic" },
	{ "link_down", 3, 3, 3, "Gateway port link down" },
	{ "link_up", 4, 3, 5, "Gateway port link up" },
	{ "bundle_refused", 5, 2, 3, "Blocklist bundle refused" },
	{ "spool_drop", 6, 3, 4, "Gateway report spool dropped records" },
};

static const struct alert_type *alert_type_of(const char *name)
{
	for (size_t i = 0; name && i < sizeof(alert_types) / sizeof(alert_types[0]); i++)
		if (!strcmp(alert_types[i].name, name))
			return &alert_types[i];
	return NULL;
}

unsigned int export_record_kind(const json_t *rec)
{
	const char *k = soc_json_str(rec, "event.kind");

	if (!k)
		return 0;
	if (!strcmp(k, "metric"))
		return EXPORT_KIND_SUMMARY;
	if (!strcmp(k, "alert"))
		return EXPORT_KIND_ALERT;
	if (!strcmp(k, "asset"))
		return EXPORT_KIND_ASSET;
	return 0;
}

int export_format_parse(const char *s, enum export_format *f)
{
	if (!strcmp(s, "ecs"))
		*f = EXPORT_ECS;
	else if (!strcmp(s, "eve"))
		*f = EXPORT_EVE;
	else if (!strcmp(s, "syslog"))
		*f = EXPORT_SYSLOG;
	else
		return -EINVAL;
	return 0;
}

int export_kinds_parse(const char *s, unsigned int *kinds)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} names[] = {
		{ "summary", EXPORT_KIND_SUMMARY }, { "alert", EXPORT_KIND_ALERT },
		{ "asset", EXPORT_KIND_ASSET },     { "all", EXPORT_KIND_ALL },
	};
	const char *p = s;

	*kinds = 0;
	while (*p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(names[i].name, p, n))
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			soc_errf("--kind \"%s\": \"%.*s\" is not a kind (allowed: summary, "
				"alert, asset, all)",
				s, (int)n, p);
			return -EINVAL;
		}
		*kinds |= names[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!*kinds) {
		soc_errf("--kind \"%s\": no kind named", s);
		return -EINVAL;
	}
	return 0;
}

char *export_ecs_line(const json_t *rec, const char **why)
{
	char *s;

	if (!json_is_object(rec) || !export_record_kind(rec)) {
		*why = "not a townguard record (no known event.kind)";
		return NULL;
	}
	/* compact: one line, always (jansson escapes control characters in strings) */
	s = json_dumps(rec, JSON_COMPACT);
	if (!s)
		*why = "out of memory";
	return s;
}

/* "2026-12-03T14:21:18.123Z", exactly the records' form (docs/reports.md $defs.time). */
static bool record_time_ok(const char *t)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (!t || strlen(t) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != form[i])
			return false;
	return true;
}

/* A source/destination endpoint into EVE's PREFIX_ip / PREFIX_port, when it is an address. */
static void eve_endpoint(json_t *eve, const json_t *ep, const char *ipkey, const char *portkey)
{
	json_t *ip = json_object_get(ep, "ip"), *port = json_object_get(ep, "port");

	if (json_is_string(ip))
		json_object_set_new(eve, ipkey, json_string(json_string_value(ip)));
	if (json_is_integer(port))
		json_object_set_new(eve, portkey, json_integer(json_integer_value(port)));
}

json_t *export_eve(const json_t *rec, const char **why)
{
	const char *ts = soc_json_str(rec, "@timestamp"), *type = soc_json_str(rec, "tg.alert.type");
	const char *transport = soc_json_str(rec, "network.transport"), *app = soc_json_str(rec, "tg.alert.application");
	const struct alert_type *at;
	char tbuf[40], sig[512], proto[8];
	json_t *eve, *alert, *tg, *v;
	json_int_t sid, gid = EVE_GID_OWN, rev = 1;
	int sev;

	if (export_record_kind(rec) != EXPORT_KIND_ALERT) {
		*why = "not an alert (EVE carries alerts only)";
		return NULL;
	}
	at = alert_type_of(type);
	if (!at) {
		*why = "tg.alert.type missing or unknown";
		return NULL;
	}
	if (!record_time_ok(ts)) {
		*why = "@timestamp is not YYYY-MM-DDTHH:MM:SS.mmmZ";
		return NULL;
	}
	/* Suricata's own timestamp form: microseconds and a numeric zone */
	snprintf(tbuf, sizeof(tbuf), "%.23s000+0000", ts);
	sid = at->sid;
	sev = (int)at->eve_sev;
	if (!strcmp(type, "first_hit")) {
		const char *rule = soc_json_str(rec, "rule.id"), *act = soc_json_str(rec, "tg.alert.action");
		const char *ind = soc_json_str(rec, "tg.alert.indicator"), *stage = soc_json_str(rec, "tg.alert.stage");

		if (!rule) {
			*why = "first_hit without rule.id";
			return NULL;
		}
		gid = 1;
		sid = strtoll(rule, NULL, 10);
		v = soc_json_path(rec, "tg.alert.bundle.serial");
		rev = json_is_integer(v) ? json_integer_value(v) : 1;
		snprintf(sig, sizeof(sig), "townguard %s %s (rule %s, %s at %s)",
			 act && !strcmp(act, "alert") ? "alert on" : "block of", ind ? ind : "-", rule,
			 act ? act : "block", stage ? stage : "-");
		if (act && !strcmp(act, "block"))
			sev = 1;
	} else if (!strcmp(type, "risk")) {
		json_t *risks = soc_json_path(rec, "tg.alert.risks"), *score = soc_json_path(rec, "tg.alert.score");
		size_t n = 0, i;

		n = (size_t)snprintf(sig, sizeof(sig), "townguard risk score %lld:",
				     json_is_integer(score) ? (long long)json_integer_value(score) : 0LL);
		for (i = 0; i < json_array_size(risks) && n < sizeof(sig); i++) {
			v = json_array_get(risks, i);
			n += (size_t)snprintf(sig + n, sizeof(sig) - n, "%s %s", i ? "," : "",
					      json_is_string(v) ? json_string_value(v) : "?");
		}
		if (json_is_integer(score) && json_integer_value(score) >= 250)
			sev = 1;
	} else {
		const char *detail = soc_json_str(rec, "tg.alert.port");

		if (!detail)
			detail = soc_json_str(rec, "tg.alert.reason");
		if (!detail)
			detail = soc_json_str(rec, "tg.alert.records");
		if (!detail)
			detail = soc_json_str(rec, "host.hostname");
		snprintf(sig, sizeof(sig), "townguard %s%s%s", type, detail ? " " : "",
			 detail ? detail : "");
	}

	eve = json_object();
	alert = json_object();
	tg = json_object();
	if (!eve || !alert || !tg) {
		json_decref(eve);
		json_decref(alert);
		json_decref(tg);
		*why = "out of memory";
		return NULL;
	}
	json_object_set_new(eve, "timestamp", json_string(tbuf));
	json_object_set_new(eve, "event_type", json_string("alert"));
	eve_endpoint(eve, soc_json_path(rec, "source"), "src_ip", "src_port");
	eve_endpoint(eve, soc_json_path(rec, "destination"), "dest_ip", "dest_port");
	if (!json_object_get(eve, "src_ip") && soc_json_str(rec, "host.ip"))
		json_object_set_new(eve, "src_ip", json_string(soc_json_str(rec, "host.ip")));
	if (transport && strcmp(transport, "other") != 0 && strlen(transport) < sizeof(proto)) {
		for (size_t i = 0; i <= strlen(transport); i++)
			proto[i] = (char)toupper((unsigned char)transport[i]);
		json_object_set_new(eve, "proto", json_string(proto));
	}
	if (app) {
		char lower[64];
		size_t i;

		for (i = 0; i < sizeof(lower) - 1 && app[i]; i++)
			lower[i] = (char)tolower((unsigned char)app[i]);
		lower[i] = '\0';
		json_object_set_new(eve, "app_proto", json_string(lower));
	}
	if (soc_json_str(rec, "observer.id"))
		json_object_set_new(eve, "host", json_string(soc_json_str(rec, "observer.id")));
	json_object_set_new(alert, "action",
			    json_string(soc_json_str(rec, "tg.alert.action") &&
						!strcmp(soc_json_str(rec, "tg.alert.action"), "block")
					? "blocked"
					: "allowed"));
	json_object_set_new(alert, "gid", json_integer(gid));
	json_object_set_new(alert, "signature_id", json_integer(sid));
	json_object_set_new(alert, "rev", json_integer(rev));
	json_object_set_new(alert, "signature", json_string(sig));
	json_object_set_new(alert, "category", json_string(at->category));
	json_object_set_new(alert, "severity", json_integer(sev));
	json_object_set_new(eve, "alert", alert);
	/* what ties the EVE event back to the record: its id, the gateway's tg.seq */
	if (soc_json_str(rec, "event.id"))
		json_object_set_new(tg, "event_id", json_string(soc_json_str(rec, "event.id")));
	if ((v = soc_json_path(rec, "tg.seq")) && json_is_integer(v))
		json_object_set_new(tg, "seq", json_integer(json_integer_value(v)));
	if (soc_json_str(rec, "organization.id"))
		json_object_set_new(tg, "region", json_string(soc_json_str(rec, "organization.id")));
	if (soc_json_str(rec, "source.address"))
		json_object_set_new(tg, "src_id", json_string(soc_json_str(rec, "source.address")));
	if (soc_json_str(rec, "tg.alert.indicator"))
		json_object_set_new(tg, "indicator", json_string(soc_json_str(rec, "tg.alert.indicator")));
	json_object_set_new(eve, "tg", tg);
	return eve;
}

/* RFC 5424 PRINTUSASCII (33..126), 1..max characters. */
static bool printusascii(const char *s, size_t max)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (s[n] < 33 || s[n] > 126)
			return false;
	return s && n >= 1 && n <= max;
}

/* An SD-PARAM value with '"', '\' and ']' escaped (RFC 5424, 6.3.3). */
static void sd_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			fputc('\\', f);
		fputc(*v, f);
	}
}

char *export_syslog_msg(const json_t *rec, const char *hostname, const char **why)
{
	const char *ts = soc_json_str(rec, "@timestamp"), *host = soc_json_str(rec, "observer.id");
	const char *type = soc_json_str(rec, "tg.alert.type"), *msgid, *v;
	const struct alert_type *at = alert_type_of(type);
	unsigned int kind = export_record_kind(rec), sev = 6;
	char *line, *buf = NULL;
	size_t len = 0;
	json_t *seq;
	FILE *f;

	line = export_ecs_line(rec, why);
	if (!line)
		return NULL;
	if (kind == EXPORT_KIND_ALERT && at) {
		sev = at->syslog_sev;
		msgid = at->name;
	} else {
		msgid = kind == EXPORT_KIND_SUMMARY ? "summary"
			: kind == EXPORT_KIND_ASSET ? "asset"
						    : "alert";
	}
	if (!printusascii(host, 255))
		host = printusascii(hostname, 255) ? hostname : "-";
	f = open_memstream(&buf, &len);
	if (!f) {
		free(line);
		*why = "out of memory";
		return NULL;
	}
	fprintf(f, "<%u>1 %s %s townguard - %s [" SYSLOG_SD_ID, SYSLOG_FACILITY * 8 + sev,
		record_time_ok(ts) ? ts : "-", host, msgid);
	seq = soc_json_path(rec, "tg.seq");
	if (json_is_integer(seq))
		fprintf(f, " seq=\"%lld\"", (long long)json_integer_value(seq));
	if ((v = soc_json_str(rec, "organization.id"))) {
		fputs(" region=\"", f);
		sd_value(f, v);
		fputc('"', f);
	}
	if ((v = soc_json_str(rec, "event.dataset"))) {
		fputs(" dataset=\"", f);
		sd_value(f, v);
		fputc('"', f);
	}
	if ((v = soc_json_str(rec, "event.id"))) {
		fputs(" id=\"", f);
		sd_value(f, v);
		fputc('"', f);
	}
	fprintf(f, "] %s", line);
	free(line);
	if (fclose(f) != 0) {
		free(buf);
		*why = "out of memory";
		return NULL;
	}
	return buf;
}

/*
 * Alerts (alert.h). First hits are remembered per interval in a small
 * open-addressed set of rule ids (ALERT_RULES_SEEN; a rule beyond it alerts
 * again, which costs a record, never a miss). The rate limit is a count per
 * type per interval: simple, and on a 60 s interval it bounds what a flood
 * can put on the uplink to limit x types records a minute.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "alert"
#include "core/common.h"
#include "core/log.h"
#include "core/siphash.h"
#include "packet/dpi.h"
#include "policy/bundle.h"
#include "report/alert.h"
#include "report/summary.h"

/* Distinct rules that can hit in one interval before first hits repeat. */
#define ALERT_RULES_SEEN 1024
/*
 * Distinct (initiator, responder, risks) of risk alerts remembered per
 * interval, by a keyed 64-bit hash (the addresses come off the wire: no
 * one may aim two at one slot). Past 3/4 full they alert again: more
 * records, never a risk unsaid; the type's limit still bounds them.
 */
#define ALERT_RISKS_SEEN 1024

static const char *const type_names[ALERT_TYPE_MAX] = {
	[ALERT_FIRST_HIT] = "first_hit",
	[ALERT_NEW_DEVICE] = "new_device",
	[ALERT_LINK_DOWN] = "link_down",
	[ALERT_LINK_UP] = "link_up",
	[ALERT_BUNDLE_REFUSED] = "bundle_refused",
	[ALERT_SPOOL_DROP] = "spool_drop",
	[ALERT_RISK] = "risk",
	[ALERT_CONSOLE] = "console",
};

/* ECS event.category and event.type of each alert type. */
static const char *const type_category[ALERT_TYPE_MAX] = {
	[ALERT_FIRST_HIT] = "network",      [ALERT_NEW_DEVICE] = "host",
	[ALERT_LINK_DOWN] = "network",      [ALERT_LINK_UP] = "network",
	[ALERT_BUNDLE_REFUSED] = "configuration", [ALERT_SPOOL_DROP] = "process",
	[ALERT_RISK] = "network",
	[ALERT_CONSOLE] = "authentication",
};

struct alerts {
	struct alert_config cfg;
	uint64_t now_ms;
	int64_t epoch_offset_ms;
	uint64_t interval;                   /* now_ms / interval_ms of the interval under way */
	uint32_t sent[ALERT_TYPE_MAX];       /* this interval */
	uint64_t held[ALERT_TYPE_MAX];       /* held back since the type's last alert */
	uint64_t held_total[ALERT_TYPE_MAX];
	uint32_t seen[ALERT_RULES_SEEN];     /* rule id + 1, 0 = free */
	uint32_t n_seen;
	uint64_t risk_seen[ALERT_RISKS_SEEN];/* hash | 1, 0 = free */
	uint32_t n_risk_seen;
	uint8_t risk_key[16];
};

const char *alert_type_name(enum alert_type t)
{
	return (size_t)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

struct alerts *alerts_new(const struct alert_config *cfg)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	a->cfg = *cfg;
	if (!a->cfg.limit)
		a->cfg.limit = 1;
	siphash_random_key(a->risk_key, "risk alerts");
	return a;
}

void alerts_free(struct alerts *a)
{
	free(a);
}

void alerts_clock(struct alerts *a, uint64_t now_ms, int64_t epoch_offset_ms)
{
	uint64_t iv = now_ms / a->cfg.interval_ms;

	if (now_ms < a->now_ms)
		return;
	a->now_ms = now_ms;
	a->epoch_offset_ms = epoch_offset_ms;
	if (iv == a->interval)
		return;
	a->interval = iv;
	memset(a->sent, 0, sizeof(a->sent));
	memset(a->seen, 0, sizeof(a->seen));
	a->n_seen = 0;
	memset(a->risk_seen, 0, sizeof(a->risk_seen));
	a->n_risk_seen = 0;
}

uint64_t alerts_suppressed(const struct alerts *a, enum alert_type t)
{
	return a->held_total[t];
}

/* A new alert record of type t, or NULL when the type's limit is reached (counted). */
static json_t *alert_begin(struct alerts *a, enum alert_type t)
{
	json_t *rec, *ev;

	if (a->sent[t] >= a->cfg.limit) {
		a->held[t]++;
		a->held_total[t]++;
		return NULL;
	}
	rec = record_new(a->cfg.observer, REPORT_ALERT, (int64_t)a->now_ms + a->epoch_offset_ms);
	if (!rec)
		return NULL;
	ev = json_object_get(rec, "event");
	json_object_set_new(ev, "action", json_string(type_names[t]));
	json_object_set_new(ev, "category", json_pack("[s]", type_category[t]));
	json_object_set_new(json_object_get(rec, "tg"), "alert",
			    json_pack("{s:s, s:I}", "type", type_names[t], "suppressed",
				      (json_int_t)a->held[t]));
	return rec;
}

static int alert_send(struct alerts *a, enum alert_type t, json_t *rec)
{
	int err;

	a->sent[t]++;
	a->held[t] = 0;
	err = a->cfg.sink->put(a->cfg.sink->ctx, REPORT_ALERT, rec);
	return err < 0 ? err : 1;
}

/* An endpoint as ECS source or destination: raw when external, as privacy says when internal. */
static json_t *alert_endpoint(const struct alerts *a, const union ip_addr *ip, int v, uint16_t port)
{
	json_t *o = json_object(), *id;

	if (summary_is_internal(ip, v)) {
		privacy_set_addr(a->cfg.privacy, o, ip->b, v);
		/* ECS: a pseudonym is no ip; source.address takes any identifier. */
		id = json_object_get(o, "id");
		if (id) {
			json_object_set(o, "address", id);
			json_object_del(o, "id");
		}
	} else {
		char text[INET6_ADDRSTRLEN];

		inet_ntop(v == 4 ? AF_INET : AF_INET6, ip->b, text, sizeof(text));
		json_object_set_new(o, "ip", json_string(text));
	}
	if (port)
		json_object_set_new(o, "port", json_integer(port));
	return o;
}

static bool alert_first(struct alerts *a, uint32_t rule)
{
	uint32_t i = rule * 2654435761u % ALERT_RULES_SEEN;

	for (uint32_t n = 0; n < ALERT_RULES_SEEN; n++, i = (i + 1) % ALERT_RULES_SEEN) {
		if (a->seen[i] == rule + 1)
			return false;
		if (!a->seen[i]) {
			if (a->n_seen >= ALERT_RULES_SEEN * 3 / 4)
				return true;
			a->seen[i] = rule + 1;
			a->n_seen++;
			return true;
		}
	}
	return true;
}

int alert_hit(struct alerts *a, const struct flow *f, uint32_t rule, uint8_t action,
	      uint64_t serial, const char *stage, const char *indicator)
{
	const union ip_addr *src = flow_src(f), *dst = flow_dst(f);
	int v = f->key.ip_version;
	char id[16];
	json_t *rec;

	if (!alert_first(a, rule))
		return 0;
	rec = alert_begin(a, ALERT_FIRST_HIT);
	if (!rec)
		return 0;
	snprintf(id, sizeof(id), "%u", rule);
	json_object_set_new(json_object_get(rec, "event"), "type",
			    json_pack("[s]", action == BUNDLE_ACT_BLOCK ? "denied" : "indicator"));
	json_object_set_new(rec, "rule", json_pack("{s:s}", "id", id));
	json_object_set_new(rec, "source", alert_endpoint(a, src, v, flow_sport(f)));
	json_object_set_new(rec, "destination", alert_endpoint(a, dst, v, flow_dport(f)));
	json_object_set_new(rec, "network",
			    json_pack("{s:s}", "transport",
				      f->key.l4_proto == 6 ? "tcp" : f->key.l4_proto == 17 ? "udp" : "other"));
	json_t *al = json_object_get(json_object_get(rec, "tg"), "alert");

	json_object_set_new(al, "action", json_string(bundle_action_name(action)));
	json_object_set_new(al, "stage", json_string(stage ? stage : ""));
	json_object_set_new(al, "bundle", json_pack("{s:I}", "serial", (json_int_t)serial));
	/* The bundle's indicator is the region's own data; a name off the wire may not be UTF-8. */
	if (indicator && indicator[0]) {
		json_t *s = json_string(indicator);

		json_object_set_new(al, "indicator", s ? s : json_string("(not UTF-8)"));
	}
	return alert_send(a, ALERT_FIRST_HIT, rec);
}

int alert_new_device(struct alerts *a, const uint8_t mac[6], const uint8_t *addr, int ip_version,
		     const char *host_name)
{
	json_t *rec = alert_begin(a, ALERT_NEW_DEVICE), *host;

	if (!rec)
		return 0;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", "creation"));
	host = json_object();
	privacy_set_mac(a->cfg.privacy, host, mac);
	if (ip_version) {
		union ip_addr ip;

		memset(&ip, 0, sizeof(ip));
		memcpy(ip.b, addr, ip_version == 4 ? 4 : 16);
		json_t *ep = alert_endpoint(a, &ip, ip_version, 0);
		json_t *v = json_object_get(ep, "ip");

		if (v)
			json_object_set(host, "ip", v);
		v = json_object_get(ep, "address");
		if (v)
			json_object_set(host, "id", v);
		json_decref(ep);
	}
	if (host_name && host_name[0]) {
		json_t *probe = json_string(host_name);

		if (probe) {
			privacy_set_name(a->cfg.privacy, host, "hostname", PRIV_HOST, host_name);
			json_decref(probe);
		}
	}
	json_object_set_new(rec, "host", host);
	return alert_send(a, ALERT_NEW_DEVICE, rec);
}

int alert_link(struct alerts *a, const char *port, bool up)
{
	enum alert_type t = up ? ALERT_LINK_UP : ALERT_LINK_DOWN;
	json_t *rec = alert_begin(a, t);

	if (!rec)
		return 0;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", up ? "start" : "end"));
	json_object_set_new(json_object_get(json_object_get(rec, "tg"), "alert"), "port", json_string(port));
	return alert_send(a, t, rec);
}

int alert_bundle_refused(struct alerts *a, const char *reason, uint64_t serial)
{
	json_t *rec = alert_begin(a, ALERT_BUNDLE_REFUSED), *al;

	if (!rec)
		return 0;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", "denied"));
	al = json_object_get(json_object_get(rec, "tg"), "alert");
	json_object_set_new(al, "reason", json_string(reason));
	json_object_set_new(al, "bundle", json_pack("{s:I}", "serial", (json_int_t)serial));
	return alert_send(a, ALERT_BUNDLE_REFUSED, rec);
}

int alert_console(struct alerts *a, const char *what, const char *detail)
{
	static const struct {
		const char *what, *category, *type;
	} kinds[] = {
		{ "login", "authentication", "start" },
		{ "logout", "authentication", "end" },
		{ "login_failed", "authentication", "denied" },
		{ "lockout", "authentication", "denied" },
		{ "passwd", "authentication", "change" },
		{ "config_commit", "configuration", "change" },
		{ "config_confirm", "configuration", "change" },
		{ "config_revert", "configuration", "change" },
		{ "factory_reset", "configuration", "deletion" },
	};
	json_t *rec, *ev, *al;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds) && strcmp(kinds[i].what, what) != 0; i++)
		;
	if (i == ARRAY_SIZE(kinds))
		return -EINVAL;
	rec = alert_begin(a, ALERT_CONSOLE);
	if (!rec)
		return 0;
	ev = json_object_get(rec, "event");
	json_object_set_new(ev, "category", json_pack("[s]", kinds[i].category));
	json_object_set_new(ev, "type", json_pack("[s]", kinds[i].type));
	al = json_object_get(json_object_get(rec, "tg"), "alert");
	json_object_set_new(al, "console", json_pack("{s:s, s:s}", "event", what, "detail", detail));
	return alert_send(a, ALERT_CONSOLE, rec);
}

int alert_spool_drop(struct alerts *a, const char *what, uint64_t dropped)
{
	json_t *rec = alert_begin(a, ALERT_SPOOL_DROP), *al;

	if (!rec)
		return 0;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", "deletion"));
	al = json_object_get(json_object_get(rec, "tg"), "alert");
	json_object_set_new(al, "records", json_string(what));
	json_object_set_new(al, "dropped", json_integer((json_int_t)dropped));
	return alert_send(a, ALERT_SPOOL_DROP, rec);
}

/* True the first time in the interval that f's endpoints show these risks. */
static bool alert_risk_first(struct alerts *a, const struct flow *f)
{
	struct {
		union ip_addr src, dst;
		uint64_t risks;
	} key;
	uint64_t h;
	uint32_t i;

	memset(&key, 0, sizeof(key));
	key.src = *flow_src(f);
	key.dst = *flow_dst(f);
	key.risks = f->dpi_result.risks;
	h = siphash24(a->risk_key, &key, sizeof(key)) | 1;
	i = (uint32_t)(h >> 32) % ALERT_RISKS_SEEN;
	for (uint32_t n = 0; n < ALERT_RISKS_SEEN; n++, i = (i + 1) % ALERT_RISKS_SEEN) {
		if (a->risk_seen[i] == h)
			return false;
		if (!a->risk_seen[i]) {
			if (a->n_risk_seen >= ALERT_RISKS_SEEN * 3 / 4)
				return true;
			a->risk_seen[i] = h;
			a->n_risk_seen++;
			return true;
		}
	}
	return true;
}

int alert_risk(struct alerts *a, const struct flow *f, uint32_t score, const char *app)
{
	int v = f->key.ip_version;
	json_t *rec, *al, *names;

	if (!alert_risk_first(a, f))
		return 0;
	rec = alert_begin(a, ALERT_RISK);
	if (!rec)
		return 0;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", "indicator"));
	json_object_set_new(json_object_get(rec, "event"), "risk_score", json_integer(score));
	json_object_set_new(rec, "source", alert_endpoint(a, flow_src(f), v, flow_sport(f)));
	json_object_set_new(rec, "destination", alert_endpoint(a, flow_dst(f), v, flow_dport(f)));
	json_object_set_new(rec, "network",
			    json_pack("{s:s}", "transport",
				      f->key.l4_proto == 6 ? "tcp" : f->key.l4_proto == 17 ? "udp" : "other"));
	al = json_object_get(json_object_get(rec, "tg"), "alert");
	json_object_set_new(al, "score", json_integer(score));
	names = json_array();
	for (unsigned int i = 0; i < 64; i++) {
		const char *name = f->dpi_result.risks & (1ull << i) ? dpi_risk_name(i) : NULL;

		if (name)
			json_array_append_new(names, json_string(name));
	}
	json_object_set_new(al, "risks", names);
	if (app && app[0])
		json_object_set_new(al, "application", json_string(app));
	return alert_send(a, ALERT_RISK, rec);
}

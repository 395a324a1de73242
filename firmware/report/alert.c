/*
 * Alerts (alert.h). First hits are remembered per interval in a small
 * open-addressed set of rule ids (ALERT_RULES_SEEN; a rule beyond it alerts
 * again, which costs a record, never a miss). Risk alerts wait for the
 * interval's end in a table of at most the type's limit, each folding the
 * flows of its (responder, risks), which is then not told again for an
 * hour. The rate limit is a count per type per
 * interval: simple, and on a 60 s interval it bounds what a flood can put
 * on the uplink to limit x types records a minute.
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
 * Risk alerts: a (responder, risks) is told once per ALERT_RISK_MEMORY_MS,
 * remembered by a keyed 64-bit hash (the addresses come off the wire: no
 * one may aim two at one slot) in ALERT_RISKS_TOLD slots. Past 3/4 full the
 * expired ones go; if that is not enough a key is not remembered, and its
 * next flow is a record of its own: more records, never a risk unsaid (the
 * type's limit still bounds them).
 */
#define ALERT_RISKS_TOLD 4096
#define ALERT_RISK_MEMORY_MS UINT64_C(3600000)

/* A risk alert of the interval under way, sent at its end with the flows it folded. */
struct risk_pending {
	union ip_addr src, dst;   /* the first flow's initiator and responder */
	uint16_t sport, dport;
	uint8_t ip_version, l4_proto;
	uint64_t risks;
	uint32_t score;
	uint64_t flows;
	uint64_t at_ms;           /* the first flow's time (pipeline clock) */
	char app[48];
};

struct risk_slot {
	uint64_t h;               /* hash | 1, 0 = free */
	uint64_t until_ms;        /* told until then (a key held back by the limit: the interval's end) */
	uint32_t pending;         /* its index in risk_pending + 1; 0: told, or held back (counted) */
};

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
	uint64_t interval_end_ms;            /* ... and its end (0 before the first clock) */
	uint32_t sent[ALERT_TYPE_MAX];       /* this interval */
	uint64_t held[ALERT_TYPE_MAX];       /* held back since the type's last alert */
	uint64_t held_total[ALERT_TYPE_MAX];
	uint32_t seen[ALERT_RULES_SEEN];     /* rule id + 1, 0 = free */
	uint32_t n_seen;
	struct risk_slot risk_told[ALERT_RISKS_TOLD];
	uint32_t n_risk_told;
	uint8_t risk_key[16];
	struct risk_pending *pending;        /* min(limit, ALERT_RISKS_TOLD / 4) of them */
	uint32_t n_pending, max_pending;
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
	a->max_pending = a->cfg.limit < ALERT_RISKS_TOLD / 4 ? a->cfg.limit : ALERT_RISKS_TOLD / 4;
	a->pending = calloc(a->max_pending, sizeof(*a->pending));
	if (!a->pending) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	siphash_random_key(a->risk_key, "risk alerts");
	return a;
}

void alerts_free(struct alerts *a)
{
	if (a)
		free(a->pending);
	free(a);
}

/* Called per packet: the interval is worked out (a division) only once its end is passed. */
void alerts_clock(struct alerts *a, uint64_t now_ms, int64_t epoch_offset_ms)
{
	if (now_ms < a->now_ms)
		return;
	if (now_ms >= a->interval_end_ms) {
		uint64_t iv = now_ms / a->cfg.interval_ms;

		if (iv != a->interval) {
			/* the risk alerts of the interval that ended, on its clock, before its counts go */
			alerts_flush(a);
			a->interval = iv;
			memset(a->sent, 0, sizeof(a->sent));
			memset(a->seen, 0, sizeof(a->seen));
			a->n_seen = 0;
		}
		a->interval_end_ms = (iv + 1) * a->cfg.interval_ms;
	}
	a->now_ms = now_ms;
	a->epoch_offset_ms = epoch_offset_ms;
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

static struct risk_slot *risk_probe(struct alerts *a, uint64_t h)
{
	uint32_t i = (uint32_t)(h >> 32) % ALERT_RISKS_TOLD;

	while (a->risk_told[i].h && a->risk_told[i].h != h)
		i = (i + 1) % ALERT_RISKS_TOLD;
	return &a->risk_told[i];
}

/* Past 3/4 full: keep only the keys still told (and those waiting to be). */
static void risk_purge(struct alerts *a)
{
	struct risk_slot *old = malloc(sizeof(a->risk_told));

	if (!old)
		return;
	memcpy(old, a->risk_told, sizeof(a->risk_told));
	memset(a->risk_told, 0, sizeof(a->risk_told));
	a->n_risk_told = 0;
	for (uint32_t i = 0; i < ALERT_RISKS_TOLD; i++)
		if (old[i].h && (old[i].pending || a->now_ms < old[i].until_ms)) {
			*risk_probe(a, old[i].h) = old[i];
			a->n_risk_told++;
		}
	free(old);
}

/*
 * The slot of f's (responder, risks): *slot set, true when it is told (or
 * waiting to be) now; false with a slot to fill, or with *slot NULL when
 * the table is too full to take it.
 */
static bool risk_lookup(struct alerts *a, const struct flow *f, struct risk_slot **slot)
{
	struct {
		union ip_addr dst;
		uint64_t risks;
	} key;
	struct risk_slot *s;
	uint64_t h;

	memset(&key, 0, sizeof(key));
	key.dst = *flow_dst(f);
	key.risks = f->dpi_result.risks;
	h = siphash24(a->risk_key, &key, sizeof(key)) | 1;
	s = risk_probe(a, h);
	*slot = s;
	if (s->h)
		return s->pending || a->now_ms < s->until_ms;
	if (a->n_risk_told >= ALERT_RISKS_TOLD * 3 / 4) {
		risk_purge(a);
		if (a->n_risk_told >= ALERT_RISKS_TOLD * 3 / 4) {
			*slot = NULL;
			return false;
		}
		s = *slot = risk_probe(a, h);
	}
	s->h = h;
	a->n_risk_told++;
	return false;
}

int alert_risk(struct alerts *a, const struct flow *f, uint32_t score, const char *app)
{
	struct risk_slot *slot;
	struct risk_pending *p;

	if (risk_lookup(a, f, &slot)) {
		if (slot->pending)
			a->pending[slot->pending - 1].flows++;
		return 0; /* folded into its alert, told already, or held back and counted */
	}
	if (a->n_pending >= a->max_pending || a->sent[ALERT_RISK] + a->n_pending >= a->cfg.limit) {
		a->held[ALERT_RISK]++;
		a->held_total[ALERT_RISK]++;
		if (slot) {
			/* counted once: it may alert in the next interval */
			slot->until_ms = (a->interval + 1) * a->cfg.interval_ms;
			slot->pending = 0;
		}
		return 0;
	}
	p = &a->pending[a->n_pending++];
	memset(p, 0, sizeof(*p));
	p->src = *flow_src(f);
	p->dst = *flow_dst(f);
	p->sport = flow_sport(f);
	p->dport = flow_dport(f);
	p->ip_version = f->key.ip_version;
	p->l4_proto = f->key.l4_proto;
	p->risks = f->dpi_result.risks;
	p->score = score;
	p->flows = 1;
	p->at_ms = a->now_ms;
	snprintf(p->app, sizeof(p->app), "%s", app ? app : "");
	if (slot) {
		slot->until_ms = a->now_ms + ALERT_RISK_MEMORY_MS;
		slot->pending = a->n_pending;
	}
	return 1;
}

/* The risk alert p as a record: when its first flow was seen, with the flows it folded. */
static int risk_send(struct alerts *a, const struct risk_pending *p)
{
	int v = p->ip_version;
	json_t *rec, *al, *names;
	uint64_t now = a->now_ms;

	a->now_ms = p->at_ms; /* alert_begin's @timestamp */
	rec = alert_begin(a, ALERT_RISK);
	a->now_ms = now;
	if (!rec)
		return -ENOMEM;
	json_object_set_new(json_object_get(rec, "event"), "type", json_pack("[s]", "indicator"));
	json_object_set_new(json_object_get(rec, "event"), "risk_score", json_integer(p->score));
	json_object_set_new(rec, "source", alert_endpoint(a, &p->src, v, p->sport));
	json_object_set_new(rec, "destination", alert_endpoint(a, &p->dst, v, p->dport));
	json_object_set_new(rec, "network",
			    json_pack("{s:s}", "transport",
				      p->l4_proto == 6 ? "tcp" : p->l4_proto == 17 ? "udp" : "other"));
	al = json_object_get(json_object_get(rec, "tg"), "alert");
	json_object_set_new(al, "score", json_integer(p->score));
	names = json_array();
	for (unsigned int i = 0; i < 64; i++) {
		const char *name = p->risks & (1ull << i) ? dpi_risk_name(i) : NULL;

		if (name)
			json_array_append_new(names, json_string(name));
	}
	json_object_set_new(al, "risks", names);
	if (p->app[0])
		json_object_set_new(al, "application", json_string(p->app));
	json_object_set_new(al, "count", json_integer((json_int_t)p->flows));
	return alert_send(a, ALERT_RISK, rec);
}

int alerts_flush(struct alerts *a)
{
	int err = 0, n = 0;

	for (uint32_t i = 0; i < a->n_pending; i++) {
		int r = risk_send(a, &a->pending[i]);

		if (r < 0 && !err)
			err = r;
		n += r > 0;
	}
	a->n_pending = 0;
	for (uint32_t i = 0; i < ALERT_RISKS_TOLD; i++)
		a->risk_told[i].pending = 0;
	return err < 0 ? err : n;
}

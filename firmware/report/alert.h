/*
 * Alerts (event.kind alert, docs/reports.md): what the SOC should see at
 * once rather than in the next summary.
 *
 *   first_hit     the first policy hit of a rule in an interval (later hits
 *                 of that rule in the interval are the summary's blocks)
 *   new_device    a MAC address the gateway had not seen
 *   link_down     a port lost its link (link_up when it comes back)
 *   bundle_refused  a bundle failed the gateway's checks
 *   spool_drop    the spool dropped records to stay within its bound
 *   risk          flows whose nDPI risk score reached [report] risk_score:
 *                 one record per responder and set of risks (then none for an hour),
 *                 sent at the interval's end with the flows it folds
 *                 (tg.alert.count); nDPI's judgement, not an indicator,
 *                 so it waits (a first hit never does)
 *   console       the technician console: a login, a wrong password, a
 *                 lockout, a logout, a password or configuration change
 *
 * Each type may send at most [report] alert_limit alerts per interval; the
 * rest are counted and the next alert of that type says how many were held
 * back (tg.alert.suppressed), so a flood costs the uplink nothing and the SOC
 * still knows it happened. Intervals are the summaries' (the same clock).
 */
#ifndef TG_REPORT_ALERT_H
#define TG_REPORT_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include "packet/flow.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/report_sink.h"

enum alert_type {
	ALERT_FIRST_HIT = 0,
	ALERT_NEW_DEVICE,
	ALERT_LINK_DOWN,
	ALERT_LINK_UP,
	ALERT_BUNDLE_REFUSED,
	ALERT_SPOOL_DROP,
	ALERT_RISK,
	ALERT_CONSOLE,
	ALERT_TYPE_MAX
};

const char *alert_type_name(enum alert_type t); /* "first_hit", ... */

struct alert_config {
	uint32_t interval_ms;          /* the summaries' interval */
	uint32_t limit;                /* alerts per type per interval */
	const struct privacy *privacy;
	struct record_observer *observer;
	struct report_sink *sink;
};

struct alerts;

/* Returns NULL (errno ENOMEM). */
struct alerts *alerts_new(const struct alert_config *cfg);
void alerts_free(struct alerts *a);

/* The clock (pipeline's, ms) is at now_ms; epoch_offset_ms turns it into wall time. */
void alerts_clock(struct alerts *a, uint64_t now_ms, int64_t epoch_offset_ms);

/*
 * A policy hit on f: rule (bundle action, serial, the stage and indicator
 * it matched). Alerts when it is the rule's first hit of the interval.
 * Returns 1 (sent), 0 (not the first, or held back) or -errno of the sink.
 */
int alert_hit(struct alerts *a, const struct flow *f, uint32_t rule, uint8_t action,
	      uint64_t serial, const char *stage, const char *indicator);

/* A new device on the LAN: its MAC, its address (ip_version 0: none yet), its DHCP host name (NULL: none). */
int alert_new_device(struct alerts *a, const uint8_t mac[6], const uint8_t *addr, int ip_version,
		     const char *host_name);

/* A port's link went down (up false) or came back. */
int alert_link(struct alerts *a, const char *port, bool up);

/* A bundle was refused: why (bundle_err_name), and its serial if it could be read (0: not). */
int alert_bundle_refused(struct alerts *a, const char *reason, uint64_t serial);

/*
 * The console's event what (login, login_failed, lockout, logout, passwd,
 * config_commit, config_confirm, config_revert, factory_reset) with its
 * detail (e.g. "3 in a row", "log.level=debug").
 */
int alert_console(struct alerts *a, const char *what, const char *detail);

/* The spool dropped `dropped` records of kind `what` ("summary", "alert", ...). */
int alert_spool_drop(struct alerts *a, const char *what, uint64_t dropped);

/*
 * f was decided with nDPI risks whose score (dpi_risk_score) is `score`;
 * app: its application as the summaries name it. The first flow of the
 * interval to f's responder with this set of risks makes an alert, sent at
 * the interval's end (alerts_clock, alerts_flush) with the count of flows
 * like it; later ones add to that count. Returns 1 (a new alert, waiting)
 * or 0 (folded into one, or held back by the type's limit and counted).
 */
int alert_risk(struct alerts *a, const struct flow *f, uint32_t score, const char *app);

/*
 * Send the risk alerts waiting (the next interval's start does it; a stop
 * calls it before the last summary). Returns the records put or the sink's -errno.
 */
int alerts_flush(struct alerts *a);

/* Alerts held back so far, per type (tests, health). */
uint64_t alerts_suppressed(const struct alerts *a, enum alert_type t);

#endif

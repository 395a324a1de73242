/*
 * The uplink to the region's broker (docs/protocol.md): lwIP's MQTT client
 * over TLS (altcp_tls_mbedtls) on the management stack, with this gateway's
 * certificate, the region's CA, and the broker's name checked against its
 * certificate. It connects once the management stack has an address and
 * SNTP time, keeps the session alive, and after any loss reconnects with
 * exponential backoff (1 s doubling to 60 s) and +-25% jitter, so a region's
 * gateways do not all come back in the same second after a broker restart.
 *
 * On every connection it registers the retained last will (offline),
 * subscribes to its region's bundle/full and bundle/delta and its own cmd,
 * and publishes its retained state. Bundles go through ota (flash, then the
 * blocklist's acceptance rules); accepted ones are handed to the gateway to
 * swap in, and state is published again with the serial in force or the
 * reason for the refusal. Signed commands go through cmd_parse().
 *
 * This file and drivers/lwip are the only ones that see lwIP.
 */
#ifndef TG_UPLINK_H
#define TG_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "hub/state.h"
#include "policy/bundle.h"

struct mgmt;
struct uplink;

struct uplink_ops {
	/* The list in force (NULL if none). */
	const struct bundle *(*in_force)(void *ctx);
	/* A bundle from the hub was accepted and persisted: swap it in (the callee owns it). */
	void (*swap)(struct bundle *b, void *ctx);
	/* Fill what the state message says besides the bundle and the uplink's own fields. */
	void (*describe)(struct state_in *in, void *ctx);
	/* A bundle from the hub was refused: why, and its serial (0: unreadable). May be NULL. */
	void (*refused)(enum bundle_err reason, uint64_t serial, void *ctx);
	/* The hub's signed `report` command, after the state went out: report now. May be NULL. */
	void (*report_now)(void *ctx);
	void *ctx;
};

enum uplink_phase {
	UP_WAIT_NET = 0,   /* no management address or no SNTP time yet */
	UP_RESOLVING,
	UP_CONNECTING,
	UP_CONNECTED,
	UP_BACKOFF,
};

/* Where the uplink is, for the console's status and diag. */
struct uplink_status {
	enum uplink_phase phase;
	bool resolve_failed;      /* the last lookup of the broker's name failed */
	char last_error[160];     /* why the last attempt failed, "" = none yet */
	uint64_t retry_in_ms;     /* UP_BACKOFF: until the next attempt */
};
void uplink_get_status(const struct uplink *u, struct uplink_status *st);

struct uplink_stats {
	uint64_t connects, disconnects, publishes, publish_errors, commands, commands_refused;
};

/*
 * Start the uplink described by cfg ([uplink], [gateway], [bundle]) on the
 * management stack m. Returns 0 (also when [uplink] broker is empty: no
 * uplink, *out NULL) or -errno with the reason logged (unreadable
 * certificate or key, ...).
 */
int uplink_start(struct uplink **out, struct mgmt *m, const struct tg_config *cfg,
		 const struct uplink_ops *ops);
/* Drive the state machine; call after every mgmt_poll(). now_ms: monotonic. */
void uplink_tick(struct uplink *u, uint64_t now_ms);
/* A port came back up: if waiting out a backoff, try again now. */
void uplink_link_up(struct uplink *u);
/* Publish the state again (after a SIGHUP reload, ...). */
void uplink_state_changed(struct uplink *u);
bool uplink_connected(const struct uplink *u);
void uplink_get_stats(const struct uplink *u, struct uplink_stats *st);
/*
 * Reports to the SOC (firmware/report/wire.c): publish msg on
 * tg/v1/<region>/gw/<id>/<leaf> (leaf: summary, alert, asset) at QoS 1. On 0
 * the message is queued and done(ctx, token, ok) is called exactly once: ok
 * when the broker's PUBACK came, !ok when it timed out or the connection went
 * first. -ENOTCONN (not connected), -EAGAIN (UPLINK_REPORT_INFLIGHT waiting,
 * or lwIP's output buffer full), -EMSGSIZE (over uplink_report_max()).
 */
#define UPLINK_REPORT_INFLIGHT 2
typedef void (*uplink_report_done)(void *ctx, uint32_t token, bool ok);
int uplink_publish_report(struct uplink *u, const char *leaf, const void *msg, size_t len,
			  uint32_t token, uplink_report_done done, void *ctx);
/*
 * The largest report payload: what lwIP's output buffer (CONFIG_MGMT_MQTT_OUTBUF)
 * holds for each report in flight once the state document (1 KiB) has its room.
 */
size_t uplink_report_max(void);

/* Disconnect cleanly (the broker does not publish the will) and free everything. */
void uplink_stop(struct uplink *u);

#endif

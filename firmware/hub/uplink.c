/*
 * The uplink to the region's broker; see uplink.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <lwip/altcp_tls.h>
#include <lwip/apps/mqtt.h>
#include <lwip/apps/mqtt_priv.h>
#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <mbedtls/ssl.h>

#define LOG_MODULE "uplink"
#include "core/common.h"
#include "core/log.h"
#include "hub/certtime.h"
#include "hub/cmd.h"
#include "hub/ota.h"
#include "hub/uplink.h"
#include "mgmt.h"
#include "policy/store.h"
#include "policy/trust.h"

#define UPLINK_BACKOFF_MIN_MS 1000u
#define UPLINK_BACKOFF_MAX_MS 60000u
#define UPLINK_TOPIC_MAX 192

enum uplink_rx {
	RX_NONE = 0,
	RX_IGNORE,         /* a topic we did not ask for, or an empty retained message */
	RX_BUNDLE,
	RX_CMD,
};

/* A report publish waiting for its PUBACK (lwIP frees its own request silently on a close). */
struct uplink_report_pub {
	struct uplink *u;
	bool busy;
	uint32_t token;
	uplink_report_done done;
	void *ctx;
};

struct uplink {
	const struct tg_config *cfg;
	struct uplink_ops ops;
	struct mgmt *mgmt;
	mqtt_client_t *client;
	struct altcp_tls_config *tls;
	struct store_trust trust;   /* hub key, region, skew (pubkey malloc'ed) */
	enum uplink_phase phase;
	uint64_t retry_at_ms;
	uint32_t backoff_ms;
	ip_addr_t broker_ip;
	bool resolved;
	bool resolve_failed;        /* the last lookup of the broker's name failed */
	char last_error[160];       /* why the last attempt failed ("" = none yet) */
	bool state_dirty;
	char client_id[160];
	char will[256];
	char t_full[UPLINK_TOPIC_MAX], t_delta[UPLINK_TOPIC_MAX], t_cmd[UPLINK_TOPIC_MAX];
	char t_state[UPLINK_TOPIC_MAX];
	/* the incoming message */
	enum uplink_rx rx;
	size_t rx_len;
	uint8_t cmd_buf[CMD_PAYLOAD_MAX];
	size_t cmd_got;
	struct cmd_guard guard;
	char nonces[CONFIG_PATH_MAX + 16]; /* <data_dir>/cmd-nonces: the guard across restarts */
	struct ota ota;
	struct certtime certtime;  /* the broker's certificate dates, by SNTP's time */
	char time_source[96];
	uint64_t started_ms;
	struct uplink_stats st;
	struct uplink_report_pub rpub[UPLINK_REPORT_INFLIGHT];
};

static uint64_t uplink_now_ms;

/* Wall-clock seconds: SNTP's once known, else the system's. */
static uint64_t uplink_wall_s(const struct uplink *u)
{
	uint64_t ms;

	if (mgmt_time_ms(u->mgmt, &ms) == 0)
		return ms / 1000;
	return (uint64_t)time(NULL);
}

/* The time certificates are judged by (certtime.h): SNTP's, never the system clock's. */
static int uplink_cert_now(void *ctx, uint64_t *unix_s, const char **source)
{
	const struct uplink *u = ctx;
	uint64_t ms;

	if (mgmt_time_ms(u->mgmt, &ms) < 0)
		return -EAGAIN;
	*unix_s = ms / 1000;
	*source = u->time_source;
	return 0;
}

static void uplink_backoff(struct uplink *u, const char *why)
{
	uint32_t r = 0, jitter;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)uplink_now_ms;
	u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : UPLINK_BACKOFF_MIN_MS;
	if (u->backoff_ms > UPLINK_BACKOFF_MAX_MS)
		u->backoff_ms = UPLINK_BACKOFF_MAX_MS;
	/* +-25% */
	jitter = u->backoff_ms / 2 ? r % (u->backoff_ms / 2) : 0;
	u->retry_at_ms = uplink_now_ms + u->backoff_ms - u->backoff_ms / 4 + jitter;
	u->phase = UP_BACKOFF;
	snprintf(u->last_error, sizeof(u->last_error), "%s", why);
	log_warn("%s: trying again in %llu ms", why,
		 (unsigned long long)(u->retry_at_ms - uplink_now_ms));
}

/* ------------------------------------------------------------ state */

static void uplink_pub_done(void *arg, err_t err)
{
	struct uplink *u = arg;

	if (err != ERR_OK) {
		u->st.publish_errors++;
		u->state_dirty = true;
	}
}

static void uplink_publish_state(struct uplink *u)
{
	struct state_in in = { 0 };
	char *js;
	err_t err;
	int n;

	u->state_dirty = true;
	if (u->phase != UP_CONNECTED)
		return;
	u->ops.describe(&in, u->ops.ctx);
	in.bundle = u->ops.in_force(u->ops.ctx);
	in.ota = &u->ota;
	in.now_s = uplink_wall_s(u);
	n = state_json(&in, &js);
	if (n < 0)
		return;
	err = mqtt_publish(u->client, u->t_state, js, (u16_t)n, 1, 1, uplink_pub_done, u);
	free(js);
	if (err == ERR_OK) {
		u->state_dirty = false;
		u->st.publishes++;
	} else {
		log_debug("state publish deferred (lwIP error %d)", err);
	}
}

void uplink_state_changed(struct uplink *u)
{
	if (u)
		uplink_publish_state(u);
}

/* ------------------------------------------------------------ reports */

/* The state document's room in lwIP's output buffer, and a topic's and MQTT's headers. */
#define UPLINK_STATE_ROOM 1024
#define UPLINK_PUB_OVERHEAD (UPLINK_TOPIC_MAX + 8)
_Static_assert(CONFIG_MGMT_MQTT_OUTBUF - UPLINK_STATE_ROOM >
		       UPLINK_REPORT_INFLIGHT * (UPLINK_PUB_OVERHEAD + 256),
	       "CONFIG_MGMT_MQTT_OUTBUF leaves no room for reports");

size_t uplink_report_max(void)
{
	return (CONFIG_MGMT_MQTT_OUTBUF - UPLINK_STATE_ROOM) / UPLINK_REPORT_INFLIGHT -
	       UPLINK_PUB_OVERHEAD;
}

static void uplink_report_sent(void *arg, err_t err)
{
	struct uplink_report_pub *p = arg;

	if (!p->busy)
		return;
	p->busy = false;
	if (err != ERR_OK)
		p->u->st.publish_errors++;
	p->done(p->ctx, p->token, err == ERR_OK);
}

/* The connection went: lwIP dropped the requests without a word; say so to their owners. */
static void uplink_report_fail_all(struct uplink *u)
{
	for (size_t i = 0; i < UPLINK_REPORT_INFLIGHT; i++)
		if (u->rpub[i].busy)
			uplink_report_sent(&u->rpub[i], ERR_CONN);
}

int uplink_publish_report(struct uplink *u, const char *leaf, const void *msg, size_t len,
			  uint32_t token, uplink_report_done done, void *ctx)
{
	struct uplink_report_pub *p = NULL;
	char topic[UPLINK_TOPIC_MAX];
	err_t err;

	if (!u || u->phase != UP_CONNECTED)
		return -ENOTCONN;
	if (len > uplink_report_max())
		return -EMSGSIZE;
	for (size_t i = 0; i < UPLINK_REPORT_INFLIGHT; i++)
		if (!u->rpub[i].busy) {
			p = &u->rpub[i];
			break;
		}
	if (!p)
		return -EAGAIN;
	snprintf(topic, sizeof(topic), "tg/v1/%s/gw/%s/%s", u->cfg->gateway.region, u->cfg->gateway.id,
		 leaf);
	*p = (struct uplink_report_pub){ .u = u, .busy = true, .token = token, .done = done, .ctx = ctx };
	err = mqtt_publish(u->client, topic, msg, (u16_t)len, 1, 0, uplink_report_sent, p);
	if (err != ERR_OK) {
		p->busy = false;
		log_debug("report publish on %s deferred (lwIP error %d)", topic, err);
		return -EAGAIN;
	}
	u->st.publishes++;
	return 0;
}

/* ------------------------------------------------------------ incoming */

static void uplink_bundle_done(struct uplink *u)
{
	struct bundle *fresh = NULL;
	enum ota_result r;

	r = ota_end(&u->ota, &u->trust, u->ops.in_force(u->ops.ctx), uplink_wall_s(u), &fresh);
	if (r == OTA_ACCEPTED) {
		log_info("blocklist from the hub in force: serial %llu (%s bundle)",
			 (unsigned long long)bundle_get_info(fresh)->serial, ota_kind_name(u->ota.kind));
		u->ops.swap(fresh, u->ops.ctx);
	} else if (r == OTA_UNCHANGED) {
		log_debug("retained bundle equals the list in force");
		return; /* nothing to tell the hub */
	} else if (u->ops.refused) {
		u->ops.refused(u->ota.last_refusal.reason, u->ota.last_refusal.serial, u->ops.ctx);
	}
	uplink_publish_state(u);
}

static void uplink_cmd_done(struct uplink *u)
{
	const struct cmd_check chk = {
		.pubkey = u->trust.pubkey, .pubkey_len = u->trust.pubkey_len,
		.gateway = u->cfg->gateway.id, .region = u->cfg->gateway.region,
		.clock_skew_s = u->cfg->bundle.clock_skew, .now_s = uplink_wall_s(u),
	};
	struct cmd c;
	enum cmd_err e;

	u->st.commands++;
	memset(&c, 0, sizeof(c));
	e = cmd_parse(u->cmd_buf, u->cmd_got, &chk, &u->guard, &c);
	if (e == CMD_ERR_REPLAY) {
		u->st.commands_refused++;
		log_warn("command refused: replay: nonce %s was carried out %llu s ago (issued %llu s ago; %s)",
			 c.nonce, (unsigned long long)(chk.now_s > c.seen_s ? chk.now_s - c.seen_s : 0),
			 (unsigned long long)(chk.now_s > c.issued ? chk.now_s - c.issued : 0), u->nonces);
		return;
	}
	if (e != CMD_OK) {
		u->st.commands_refused++;
		log_warn("command refused: %s", cmd_err_name(e));
		return;
	}
	cmd_guard_save(&u->guard, u->nonces, chk.now_s, chk.clock_skew_s);
	log_info("command from the hub: %s", c.kind == CMD_REPORT ? "report" : "resync");
	if (c.kind == CMD_RESYNC) {
		u->ota.waiting_for_full = false;
		/* Subscribing again makes the broker send the retained full bundle. */
		mqtt_subscribe(u->client, u->t_full, 1, NULL, NULL);
	}
	uplink_publish_state(u);
	if (c.kind == CMD_REPORT && u->ops.report_now)
		u->ops.report_now(u->ops.ctx);
}

static void uplink_incoming_publish(void *arg, const char *topic, u32_t tot_len)
{
	struct uplink *u = arg;

	u->rx = RX_IGNORE;
	u->rx_len = tot_len;
	if (tot_len == 0)
		return; /* a retained message being cleared */
	if (!strcmp(topic, u->t_full) || !strcmp(topic, u->t_delta)) {
		u->rx = RX_BUNDLE;
		ota_begin(&u->ota, !strcmp(topic, u->t_full) ? OTA_FULL : OTA_DELTA, tot_len,
			  u->ops.in_force(u->ops.ctx));
	} else if (!strcmp(topic, u->t_cmd)) {
		u->rx = RX_CMD;
		u->cmd_got = 0;
	} else {
		log_debug("message on %s ignored", topic);
	}
}

static void uplink_incoming_data(void *arg, const u8_t *data, u16_t len, u8_t flags)
{
	struct uplink *u = arg;

	switch (u->rx) {
	case RX_BUNDLE:
		if (len)
			ota_data(&u->ota, data, len);
		if (flags & MQTT_DATA_FLAG_LAST)
			uplink_bundle_done(u);
		break;
	case RX_CMD:
		if (len <= sizeof(u->cmd_buf) - u->cmd_got) {
			memcpy(u->cmd_buf + u->cmd_got, data, len);
			u->cmd_got += len;
		} else {
			u->cmd_got = sizeof(u->cmd_buf) + 1; /* too long: refused as a format error */
		}
		if (flags & MQTT_DATA_FLAG_LAST) {
			if (u->cmd_got > sizeof(u->cmd_buf)) {
				u->st.commands_refused++;
				log_warn("command refused: longer than %d bytes", CMD_PAYLOAD_MAX);
			} else {
				uplink_cmd_done(u);
			}
		}
		break;
	default:
		break;
	}
	if (flags & MQTT_DATA_FLAG_LAST)
		u->rx = RX_NONE;
}

/* ------------------------------------------------------------ connection */

static void uplink_connection(mqtt_client_t *client, void *arg, mqtt_connection_status_t status)
{
	struct uplink *u = arg;

	(void)client;
	if (status == MQTT_CONNECT_ACCEPTED) {
		mbedtls_ssl_context *ssl = u->client->conn ? altcp_tls_context(u->client->conn) : NULL;

		log_info("connected to %s:%u as %s (%s, %s)", u->cfg->uplink.broker, u->cfg->uplink.port,
			 u->client_id, ssl ? mbedtls_ssl_get_version(ssl) : "?",
			 ssl ? mbedtls_ssl_get_ciphersuite(ssl) : "?");
		u->st.connects++;
		u->phase = UP_CONNECTED;
		u->backoff_ms = 0;
		mqtt_subscribe(u->client, u->t_full, 1, NULL, NULL);
		mqtt_subscribe(u->client, u->t_delta, 1, NULL, NULL);
		mqtt_subscribe(u->client, u->t_cmd, 1, NULL, NULL);
		uplink_publish_state(u);
		return;
	}
	if (u->rx == RX_BUNDLE)
		ota_abort(&u->ota);
	u->rx = RX_NONE;
	uplink_report_fail_all(u);
	if (u->phase == UP_CONNECTED)
		u->st.disconnects++;
	/* MQTT_CONNECT_REFUSED_* come from the broker; the others from TCP/TLS. */
	{
		char why[192];

		snprintf(why, sizeof(why), "connection to %s:%u %s (status %d)", u->cfg->uplink.broker,
			 u->cfg->uplink.port,
			 status == MQTT_CONNECT_DISCONNECTED ? "lost" :
			 status == MQTT_CONNECT_TIMEOUT ? "timed out" : "refused",
			 (int)status);
		uplink_backoff(u, why);
	}
}

static void uplink_connect(struct uplink *u)
{
	const char *name = u->cfg->uplink.server_name[0] ? u->cfg->uplink.server_name
							 : u->cfg->uplink.broker;
	struct mqtt_connect_client_info_t ci = {
		.client_id = u->client_id,
		.keep_alive = (u16_t)u->cfg->uplink.keepalive,
		.will_topic = u->t_state,
		.will_msg = u->will,
		.will_qos = 1,
		.will_retain = 1,
		.tls_config = u->tls,
	};
	void *ssl;
	err_t err;

	err = mqtt_client_connect(u->client, &u->broker_ip, (u16_t)u->cfg->uplink.port,
				  uplink_connection, u, &ci);
	if (err != ERR_OK) {
		uplink_backoff(u, "cannot start a connection");
		return;
	}
	/* mqtt_client_connect() wipes the client: the callbacks go in after it. */
	mqtt_set_inpub_callback(u->client, uplink_incoming_publish, uplink_incoming_data, u);
	/*
	 * The handshake starts when TCP connects, later: name the server now so
	 * mbedTLS checks the certificate's name, not only its CA.
	 */
	ssl = u->client->conn ? altcp_tls_context(u->client->conn) : NULL;
	if (!ssl || mbedtls_ssl_set_hostname(ssl, name) != 0) {
		log_err("cannot set the TLS server name %s: not connecting", name);
		mqtt_disconnect(u->client);
		uplink_backoff(u, "TLS setup failed");
		return;
	}
	u->phase = UP_CONNECTING;
}

static void uplink_resolved(const char *name, const char *addr, void *ctx)
{
	struct uplink *u = ctx;

	if (u->phase != UP_RESOLVING)
		return;
	if (!addr || !ipaddr_aton(addr, &u->broker_ip)) {
		char why[160];

		snprintf(why, sizeof(why), "cannot resolve the broker %s", name);
		u->resolve_failed = true;
		uplink_backoff(u, why);
		return;
	}
	log_info("broker %s is %s", name, addr);
	u->resolved = true;
	u->resolve_failed = false;
	uplink_connect(u);
}

void uplink_tick(struct uplink *u, uint64_t now_ms)
{
	if (!u)
		return;
	uplink_now_ms = now_ms;
	switch (u->phase) {
	case UP_WAIT_NET:
		/* No TLS before the clock is right: certificates would be judged on a wrong date. */
		if (!mgmt_is_up(u->mgmt) || !mgmt_time_valid(u->mgmt))
			return;
		u->phase = UP_RESOLVING;
		if (mgmt_resolve(u->mgmt, u->cfg->uplink.broker, uplink_resolved, u) < 0)
			uplink_backoff(u, "cannot look up the broker");
		return;
	case UP_BACKOFF:
		if (now_ms < u->retry_at_ms)
			return;
		u->phase = UP_WAIT_NET;
		return;
	case UP_CONNECTED:
		if (u->state_dirty)
			uplink_publish_state(u);
		return;
	default:
		return;
	}
}

void uplink_link_up(struct uplink *u)
{
	if (!u || u->phase != UP_BACKOFF)
		return;
	log_info("link up: connecting now instead of waiting out the backoff");
	u->retry_at_ms = 0;
	u->backoff_ms = 0;
}

bool uplink_connected(const struct uplink *u)
{
	return u && u->phase == UP_CONNECTED;
}

void uplink_get_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->st;
}

void uplink_get_status(const struct uplink *u, struct uplink_status *st)
{
	st->phase = u->phase;
	st->resolve_failed = u->resolve_failed;
	snprintf(st->last_error, sizeof(st->last_error), "%s", u->last_error);
	st->retry_in_ms = u->phase == UP_BACKOFF && u->retry_at_ms > uplink_now_ms
				  ? u->retry_at_ms - uplink_now_ms : 0;
}

/* ------------------------------------------------------------ start, stop */

static int uplink_read(const char *configured, const char *data_dir, const char *file,
		       uint8_t **buf, size_t *len)
{
	char path[CONFIG_PATH_MAX + 32];

	if (configured[0])
		snprintf(path, sizeof(path), "%s", configured);
	else
		snprintf(path, sizeof(path), "%s/keys/%s", data_dir, file);
	return store_read_key(path, buf, len);
}

int uplink_start(struct uplink **out, struct mgmt *m, const struct tg_config *cfg,
		 const struct uplink_ops *ops)
{
	const char *region = cfg->gateway.region, *id = cfg->gateway.id;
	uint8_t *ca = NULL, *cert = NULL, *key = NULL;
	size_t ca_len = 0, cert_len = 0, key_len = 0;
	char keypath[CONFIG_PATH_MAX + 16], *will;
	struct uplink *u;
	int ret;

	*out = NULL;
	if (!cfg->uplink.broker[0])
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->ops = *ops;
	u->mgmt = m;
	ota_init(&u->ota, cfg->gateway.data_dir);
	snprintf(u->nonces, sizeof(u->nonces), "%s/cmd-nonces", cfg->gateway.data_dir);
	ret = cmd_guard_load(&u->guard, u->nonces);
	if (ret > 0)
		log_info("%d command nonces from %s: those commands are not carried out again", ret,
			 u->nonces);
	ret = trust_load(cfg, &u->trust, keypath, sizeof(keypath));
	if (ret < 0) {
		log_err("no hub key at %s: the uplink could accept no bundle or command", keypath);
		goto err;
	}
	ret = uplink_read(cfg->uplink.ca, cfg->gateway.data_dir, "ca.crt", &ca, &ca_len);
	if (!ret)
		ret = uplink_read(cfg->uplink.cert, cfg->gateway.data_dir, "gw.crt", &cert, &cert_len);
	if (!ret)
		ret = uplink_read(cfg->uplink.key, cfg->gateway.data_dir, "gw.key", &key, &key_len);
	if (ret)
		goto err;
	u->tls = altcp_tls_create_config_client_2wayauth(ca, ca_len, key, key_len, NULL, 0, cert,
							 cert_len);
	if (!u->tls) {
		log_err("the CA, certificate or key does not parse (or the key does not match the certificate)");
		ret = -EINVAL;
		goto err;
	}
	/*
	 * lwIP 2.1.3 configures its TLS clients with MBEDTLS_SSL_VERIFY_OPTIONAL:
	 * the handshake would go on with a certificate from any CA, for any
	 * name, and nothing in altcp_tls looks at the result. Make verification
	 * required. struct altcp_tls_config is private to altcp_tls_mbedtls.c;
	 * its first member is the mbedtls_ssl_config (checked for the pinned
	 * version only).
	 */
	_Static_assert(LWIP_VERSION_MAJOR == 2 && LWIP_VERSION_MINOR == 1 && LWIP_VERSION_REVISION == 3,
		       "re-check struct altcp_tls_config's layout");
	mbedtls_ssl_conf_authmode((mbedtls_ssl_config *)(void *)u->tls, MBEDTLS_SSL_VERIFY_REQUIRED);
	/*
	 * mbedTLS judges not-before and not-after by time(): on a board without
	 * a clock that is 1970 until something sets it. The dates are judged
	 * again by SNTP's time, the one the uplink waited for (certtime.h).
	 */
	snprintf(u->time_source, sizeof(u->time_source), "SNTP from %s",
		 cfg->mgmt.ntp[0] ? cfg->mgmt.ntp : "the DHCP lease's server");
	u->certtime = (struct certtime){ .now = uplink_cert_now, .ctx = u, .what = "broker certificate" };
	mbedtls_ssl_conf_verify((mbedtls_ssl_config *)(void *)u->tls, certtime_verify, &u->certtime);
	u->client = mqtt_client_new();
	if (!u->client) {
		ret = -ENOMEM;
		goto err;
	}
	snprintf(u->client_id, sizeof(u->client_id), "gw:%s:%s", region, id);
	snprintf(u->t_full, sizeof(u->t_full), "tg/v1/%s/bundle/full", region);
	snprintf(u->t_delta, sizeof(u->t_delta), "tg/v1/%s/bundle/delta", region);
	snprintf(u->t_cmd, sizeof(u->t_cmd), "tg/v1/%s/gw/%s/cmd", region, id);
	snprintf(u->t_state, sizeof(u->t_state), "tg/v1/%s/gw/%s/state", region, id);
	if (state_will_json(id, region, &will) < 0) {
		ret = -ENOMEM;
		goto err;
	}
	snprintf(u->will, sizeof(u->will), "%s", will);
	free(will);
	free(ca);
	free(cert);
	free(key);
	log_info("uplink to %s:%u (TLS, server name %s) once the management stack has an address and the time",
		 cfg->uplink.broker, cfg->uplink.port,
		 cfg->uplink.server_name[0] ? cfg->uplink.server_name : cfg->uplink.broker);
	*out = u;
	return 0;
err:
	free(ca);
	free(cert);
	free(key);
	uplink_stop(u);
	return ret;
}

void uplink_stop(struct uplink *u)
{
	if (!u)
		return;
	if (u->client) {
		if (mqtt_client_is_connected(u->client))
			mqtt_disconnect(u->client);
		mqtt_client_free(u->client);
	}
	uplink_report_fail_all(u);
	if (u->tls) {
		/*
		 * lwIP 2.1.3's altcp_tls_free_config() never calls
		 * mbedtls_ssl_config_free(), which frees the own-certificate list
		 * (LeakSanitizer in hub_trust.sh): free the first member, the
		 * mbedtls_ssl_config (the layout is pinned above), then the rest.
		 */
		mbedtls_ssl_config_free((mbedtls_ssl_config *)(void *)u->tls);
		altcp_tls_free_config(u->tls);
	}
	ota_abort(&u->ota);
	free((void *)u->trust.pubkey);
	free(u);
}

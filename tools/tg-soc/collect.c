/*
 * tg-soc collect: the region's records from its broker into the store
 * (docs/tg-soc.md "collect"). libmosquitto over mutual TLS (TLS 1.2, the
 * broker checked against the region's CA, the SOC's certificate presented),
 * MQTT 3.1.1, QoS 1, a persistent session (clean session off, a fixed
 * client id), so what arrives while tg-soc is down or restarting waits on
 * the broker.
 *
 * Commit before acknowledge: libmosquitto 2.0 has no manual PUBACK (2.1's
 * mosquitto_manual_ack() is not in Debian 12). Its PUBACK for a QoS 1
 * message is queued while the message is handled, and a client marked
 * threaded (mosquitto_threaded_set(), here in one thread of our own) writes
 * its queue only from the loop's write step, after on_message has returned.
 * on_message stores the message's records and commits (intake_message()),
 * so the PUBACK leaves after the commit. A store that fails exits at once
 * with the PUBACK unsent: the broker sends the message again to the next
 * session, and the (gateway, tg.seq) key drops what was already stored.
 *
 * The loop is libmosquitto's, a turn at least every COLLECT_TICK_MS; each
 * turn (and each second of a reconnection's backoff) also gives the live
 * export its turn (export_pump()), so what it holds goes out when its
 * collector comes back, not only when the next record arrives.
 *
 * The only tg-soc file that includes <mosquitto.h>.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "tg-soc/collect.h"
#include "tg-soc/intake.h"
#include "tg-soc/schema.h"
#include "tg-soc/store.h"
#include "tg-soc/util.h"

#define RETAIN_EVERY_MS 3600000LL
#define BACKOFF_MAX_S 30
/* The longest wait in mosquitto_loop(): how late the live export's turn can be. */
#define COLLECT_TICK_MS 1000

static volatile sig_atomic_t collect_stop;

static void on_signal(int sig)
{
	(void)sig;
	collect_stop = 1;
}

struct collect {
	const struct collect_config *cfg;
	struct intake in;
	struct mosquitto *m;
	bool connected;
	int failed; /* the store failed: exit without acknowledging */
	char log[256];
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct collect *c = obj;
	char topic[160];
	static const char *const kinds[] = { "summary", "alert", "asset", "state" };

	if (rc) {
		soc_logf("error", "%s:%d: connection refused: %s", c->cfg->host, c->cfg->port,
			 mosquitto_connack_string(rc));
		return;
	}
	c->connected = true;
	soc_logf("info", "%s:%d: connected as %s (persistent session)", c->cfg->host, c->cfg->port,
		 c->cfg->client_id);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(topic, sizeof(topic), "tg/v1/%s/gw/+/%s", c->cfg->region, kinds[i]);
		rc = mosquitto_subscribe(m, NULL, topic, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			soc_logf("error", "subscribe %s: %s", topic, mosquitto_strerror(rc));
	}
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct collect *c = obj;

	(void)m;
	if (c->connected)
		soc_logf(rc ? "warning" : "info", "%s:%d: disconnected%s%s", c->cfg->host,
			 c->cfg->port, rc ? ": " : "", rc ? mosquitto_strerror(rc) : "");
	c->connected = false;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	struct collect *c = obj;

	(void)m;
	(void)mid;
	for (int i = 0; i < n; i++)
		if (granted[i] > 1)
			soc_logf("error", "%s:%d: a subscription refused (the acl: tg-hub provision's soc "
				 "identity reads gw/+/summary|alert|asset|state)",
				 c->cfg->host, c->cfg->port);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct collect *c = obj;

	(void)m;
	if (c->failed || !msg->topic)
		return;
	if (intake_message(&c->in, msg->topic, msg->payload,
			   msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, soc_now_ms()) < 0) {
		/* not acknowledged: leave before the loop writes the PUBACK */
		soc_logf("error", "%s: not stored (the database failed): exiting unacknowledged; "
			 "the broker sends it again", msg->topic);
		c->failed = 1;
		fflush(stderr);
		_exit(1);
	}
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct collect *c = obj;

	(void)m;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		snprintf(c->log, sizeof(c->log), "%s", str);
}

static void export_turn(struct collect *c)
{
	if (c->cfg->export_pump)
		c->cfg->export_pump(c->cfg->exporter);
}

/* Sleep s seconds, or until a signal; the export has its turn every tick. */
static void nap(struct collect *c, unsigned int s)
{
	for (long ms = 0; ms < (long)s * 1000 && !collect_stop; ms += COLLECT_TICK_MS) {
		struct timespec t = { .tv_sec = COLLECT_TICK_MS / 1000,
				      .tv_nsec = COLLECT_TICK_MS % 1000 * 1000000L };

		while (!collect_stop && nanosleep(&t, &t) < 0 && errno == EINTR)
			;
		export_turn(c);
	}
}

static void retain(struct collect *c, int64_t now)
{
	long n;

	if (!c->cfg->retain_ms)
		return;
	n = store_retain(c->in.store, now - c->cfg->retain_ms);
	if (n < 0)
		soc_logf("error", "retention: the database refused the deletion");
	else
		soc_logf("info", "retention %" PRId64 "d: %ld records older than that deleted",
			 c->cfg->retain_ms / 86400000, n);
}

static int tls_setup(struct collect *c)
{
	const struct collect_config *cfg = c->cfg;
	int rc;

	rc = mosquitto_tls_set(c->m, cfg->ca, NULL, cfg->cert, cfg->key, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(c->m, 1, "tlsv1.2", NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		soc_errf("TLS with --ca %s --cert %s --key %s: %s", cfg->ca, cfg->cert, cfg->key,
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

int collect_run(const struct collect_config *cfg)
{
	struct collect c = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned int backoff = 1;
	int64_t last_retain;
	int status = 1, rc;

	c.in.region = cfg->region;
	c.in.exporter = cfg->exporter;
	c.in.export_record = cfg->export_record;
	if (schema_load(&c.in.schemas, schema_srcs) < 0)
		return 1;
	if (store_open(&c.in.store, cfg->db) < 0) {
		soc_errf("--db %s: cannot open the store", cfg->db);
		goto out_schemas;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	mosquitto_lib_init();
	c.m = mosquitto_new(cfg->client_id, false, &c);
	if (!c.m) {
		soc_errf("mosquitto_new: %s", strerror(errno));
		goto out_lib;
	}
	/* the PUBACK after on_message's commit (see the top of this file) */
	mosquitto_threaded_set(c.m, true);
	mosquitto_int_option(c.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_connect_callback_set(c.m, on_connect);
	mosquitto_disconnect_callback_set(c.m, on_disconnect);
	mosquitto_subscribe_callback_set(c.m, on_subscribe);
	mosquitto_message_callback_set(c.m, on_message);
	mosquitto_log_callback_set(c.m, on_log);
	if (tls_setup(&c) < 0)
		goto out_mosq;

	soc_logf("info", "collect: region %s, broker %s:%d, store %s (%s)", cfg->region, cfg->host,
		 cfg->port, cfg->db, store_backend(c.in.store));
	last_retain = soc_now_ms();
	retain(&c, last_retain);

	rc = mosquitto_connect(c.m, cfg->host, cfg->port, (int)cfg->keepalive_s);
	while (!collect_stop) {
		int64_t now;

		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_loop(c.m, COLLECT_TICK_MS, 1);
		export_turn(&c);
		now = soc_now_ms();
		if (now - last_retain >= RETAIN_EVERY_MS) {
			last_retain = now;
			retain(&c, now);
		}
		if (rc == MOSQ_ERR_SUCCESS) {
			if (c.connected)
				backoff = 1;
			continue;
		}
		if (collect_stop)
			break;
		soc_logf("warning", "%s:%d: %s%s%s: reconnecting in %us", cfg->host, cfg->port,
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
			 c.log[0] ? ": " : "", c.log, backoff);
		c.log[0] = '\0';
		nap(&c, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
		if (!collect_stop)
			rc = mosquitto_reconnect(c.m);
	}
	soc_logf("info", "collect: stopping: %" PRIu64 " messages, %" PRIu64 " records: %" PRIu64
		 " stored, %" PRIu64 " duplicates, %" PRIu64 " refused; %" PRIu64 " states",
		 c.in.st.messages, c.in.st.records, c.in.st.inserted, c.in.st.duplicates,
		 c.in.st.refused, c.in.st.states);
	if (c.connected) {
		mosquitto_disconnect(c.m);
		for (int i = 0; i < 10 && c.connected; i++)
			mosquitto_loop(c.m, 100, 1);
	}
	status = 0;
out_mosq:
	mosquitto_destroy(c.m);
out_lib:
	mosquitto_lib_cleanup();
	store_close(c.in.store);
out_schemas:
	schema_free(c.in.schemas);
	return status;
}

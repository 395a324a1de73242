/*
 * The hub's MQTT session over TLS with libmosquitto; see hub_mqtt.h.
 *
 * libmosquitto is driven with mosquitto_loop() in the calling thread: each
 * wait runs the loop in slices of at most MQ_SLICE_MS until the callback it
 * waits for has fired, the connection is lost, or the deadline passes.
 * mosquitto_connect() itself blocks in connect(2), which a black-holed
 * address would stretch to minutes; an interval timer interrupts it (and
 * every further address getaddrinfo() gave) once the deadline has passed.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "hub_mqtt.h"

/* The longest mosquitto_loop() call: how late a deadline can be noticed. */
#define MQ_SLICE_MS 100
#define MQ_KEEPALIVE_S 60
/* How long a clean disconnect may take after the work is done. */
#define MQ_DISCONNECT_MS 1000
/* mosquitto_tls_opts_set() cert_reqs: OpenSSL's SSL_VERIFY_PEER, without OpenSSL's headers. */
#define MQ_SSL_VERIFY_PEER 1

static long mq_ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void mq_in_ms(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/* h->err: what failed, libmosquitto's word for it, and OpenSSL's reason if it logged one. */
static int mq_fail(struct hub_mqtt *h, int ret, int rc, const char *what)
{
	const char *reason = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);

	if (h->log[0])
		snprintf(h->err, sizeof(h->err), "%s: %s: %s (%s)", h->where, what, reason, h->log);
	else
		snprintf(h->err, sizeof(h->err), "%s: %s: %s", h->where, what, reason);
	return ret;
}

static void mq_on_connect(struct mosquitto *m, void *obj, int rc, int flags,
			  const mosquitto_property *props)
{
	struct hub_mqtt *h = obj;

	(void)m;
	(void)flags;
	(void)props;
	h->connack = rc;
}

static void mq_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct hub_mqtt *h = obj;

	(void)m;
	h->lost = true;
	h->lost_rc = rc;
}

static void mq_on_publish(struct mosquitto *m, void *obj, int mid, int reason,
			  const mosquitto_property *props)
{
	struct hub_mqtt *h = obj;

	(void)m;
	(void)props;
	h->puback_reason = reason;
	h->acked_mid = mid;
}

static void mq_on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
			    const int *granted_qos)
{
	struct hub_mqtt *h = obj;

	(void)m;
	h->granted_qos = qos_count > 0 ? granted_qos[0] : 0x80;
	h->subscribed_mid = mid;
}

static void mq_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct hub_mqtt *h = obj;

	(void)m;
	if (h->on_msg && msg->topic)
		h->on_msg(msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
			  msg->retain, h->ctx);
}

/* Keep libmosquitto's last error or warning: for TLS it is OpenSSL's reason. */
static void mq_on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct hub_mqtt *h = obj;

	(void)m;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		snprintf(h->log, sizeof(h->log), "%s", str);
}

enum mq_until { MQ_CONNACK, MQ_PUBACK, MQ_SUBACK };

static bool mq_done(const struct hub_mqtt *h, enum mq_until u, int mid)
{
	switch (u) {
	case MQ_CONNACK:
		return h->connack >= 0;
	case MQ_PUBACK:
		return h->acked_mid == mid;
	case MQ_SUBACK:
		return h->subscribed_mid == mid;
	}
	return false;
}

/*
 * With TLS 1.3 the client's handshake is done before the broker has looked
 * at the client certificate; a refusal then shows up as a lost connection
 * while waiting for the CONNACK, sometimes without OpenSSL's alert.
 */
static int mq_fail_connect(struct hub_mqtt *h, int rc)
{
	if (h->log[0])
		return mq_fail(h, -ECONNREFUSED, rc, "connect");
	return mq_fail(h, -ECONNREFUSED, rc,
		       "connect: the broker closed the session before its CONNACK (it refuses "
		       "client certificates not issued by its CA: check --cert and --key; its "
		       "log says why)");
}

static int mq_wait(struct hub_mqtt *h, enum mq_until u, int mid, const char *what)
{
	long ms;
	int rc;

	while (!mq_done(h, u, mid)) {
		if (h->lost && u == MQ_CONNACK)
			return mq_fail_connect(h, h->lost_rc ? h->lost_rc : MOSQ_ERR_CONN_LOST);
		if (h->lost)
			return mq_fail(h, -ECONNRESET, h->lost_rc ? h->lost_rc : MOSQ_ERR_CONN_LOST,
				       what);
		ms = mq_ms_until(&h->deadline);
		if (ms <= 0) {
			snprintf(h->err, sizeof(h->err), "%s: %s: no answer within %u s (--timeout)",
				 h->where, what, h->timeout_s);
			return -ETIMEDOUT;
		}
		rc = mosquitto_loop(h->mosq, ms < MQ_SLICE_MS ? (int)ms : MQ_SLICE_MS, 1);
		if (rc != MOSQ_ERR_SUCCESS && !mq_done(h, u, mid))
			return u == MQ_CONNACK ? mq_fail_connect(h, rc) : mq_fail(h, -ECONNRESET, rc, what);
	}
	return 0;
}

static void mq_on_alarm(int sig)
{
	(void)sig; /* only there to interrupt connect(2) */
}

/* mosquitto_connect(), interrupted (every 100 ms) once the deadline has passed. */
static int mq_connect(struct hub_mqtt *h, const struct hub_mqtt_opts *o)
{
	struct sigaction sa = { .sa_handler = mq_on_alarm }, old_sa;
	struct itimerval it = { 0 }, off = { 0 };
	long ms = mq_ms_until(&h->deadline);
	int rc, e;

	sigemptyset(&sa.sa_mask);
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000 + 1;
	it.it_interval.tv_usec = 100000;
	sigaction(SIGALRM, &sa, &old_sa); /* no SA_RESTART: connect(2) returns EINTR */
	setitimer(ITIMER_REAL, &it, NULL);
	rc = mosquitto_connect(h->mosq, o->host, o->port, MQ_KEEPALIVE_S);
	e = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	if (mq_ms_until(&h->deadline) <= 0) {
		snprintf(h->err, sizeof(h->err), "%s: connect: no answer within %u s (--timeout)",
			 h->where, h->timeout_s);
		return -ETIMEDOUT;
	}
	errno = e;
	/* libmosquitto reports a TLS failure as errno EPROTO */
	if (rc == MOSQ_ERR_EAI || (rc == MOSQ_ERR_ERRNO && e != EPROTO))
		return mq_fail(h, -ECONNREFUSED, rc, "connect");
	return mq_fail_connect(h, rc);
}

int hub_mqtt_init(struct hub_mqtt *h, const struct hub_mqtt_opts *o)
{
	const char *files[3][2] = { { "--cafile", o->cafile }, { "--cert", o->cert }, { "--key", o->key } };
	int rc;

	memset(h, 0, sizeof(*h));
	h->connack = -1;
	h->acked_mid = -1;
	h->subscribed_mid = -1;
	h->timeout_s = o->timeout_s;
	snprintf(h->where, sizeof(h->where), "%s:%d", o->host, o->port);
	mq_in_ms(&h->deadline, (long)o->timeout_s * 1000);
	mosquitto_lib_init();
	h->lib = true;
	/* libmosquitto only says "invalid arguments": name the file it could not read */
	for (int i = 0; i < 3; i++) {
		if (access(files[i][1], R_OK) < 0) {
			snprintf(h->err, sizeof(h->err), "%s %s: cannot read: %s", files[i][0],
				 files[i][1], strerror(errno));
			return -EINVAL;
		}
	}
	h->mosq = mosquitto_new(o->client_id, true, h);
	if (!h->mosq) {
		snprintf(h->err, sizeof(h->err), "cannot create an MQTT client: %s", strerror(errno));
		return -ENOMEM;
	}
	mosquitto_connect_v5_callback_set(h->mosq, mq_on_connect);
	mosquitto_disconnect_callback_set(h->mosq, mq_on_disconnect);
	mosquitto_publish_v5_callback_set(h->mosq, mq_on_publish);
	mosquitto_subscribe_callback_set(h->mosq, mq_on_subscribe);
	mosquitto_message_callback_set(h->mosq, mq_on_message);
	mosquitto_log_callback_set(h->mosq, mq_on_log);
	rc = mosquitto_int_option(h->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_set(h->mosq, o->cafile, NULL, o->cert, o->key, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(h->mosq, MQ_SSL_VERIFY_PEER, "tlsv1.2", NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(h->mosq, false);
	if (rc != MOSQ_ERR_SUCCESS)
		return mq_fail(h, -EINVAL, rc, "TLS settings");
	rc = mq_connect(h, o);
	if (rc < 0)
		return rc;
	rc = mq_wait(h, MQ_CONNACK, 0, "connect");
	if (rc < 0)
		return rc;
	if (h->connack != 0) {
		snprintf(h->err, sizeof(h->err), "%s: the broker refused the connection: %s", h->where,
			 mosquitto_reason_string(h->connack));
		return -ECONNREFUSED;
	}
	return 0;
}

void hub_mqtt_uninit(struct hub_mqtt *h)
{
	struct timespec until;

	if (h->mosq) {
		if (h->connack == 0 && !h->lost &&
		    mosquitto_disconnect(h->mosq) == MOSQ_ERR_SUCCESS) {
			mq_in_ms(&until, MQ_DISCONNECT_MS);
			while (!h->lost && mq_ms_until(&until) > 0 &&
			       mosquitto_loop(h->mosq, MQ_SLICE_MS, 1) == MOSQ_ERR_SUCCESS)
				;
		}
		mosquitto_destroy(h->mosq);
		h->mosq = NULL;
	}
	if (h->lib)
		mosquitto_lib_cleanup();
	h->lib = false;
}

int hub_mqtt_publish(struct hub_mqtt *h, const char *topic, const void *payload, size_t len,
		     bool retain)
{
	char what[300];
	int mid = 0, rc;

	snprintf(what, sizeof(what), "publish to %s", topic);
	if (len > INT_MAX)
		return mq_fail(h, -EMSGSIZE, MOSQ_ERR_PAYLOAD_SIZE, what);
	rc = mosquitto_publish(h->mosq, &mid, topic, (int)len, payload, 1, retain);
	if (rc != MOSQ_ERR_SUCCESS)
		return mq_fail(h, rc == MOSQ_ERR_PAYLOAD_SIZE ? -EMSGSIZE : -EIO, rc, what);
	snprintf(what, sizeof(what), "PUBACK for %s", topic);
	rc = mq_wait(h, MQ_PUBACK, mid, what);
	if (rc < 0)
		return rc;
	/* MQTT 5 says why a publish was dropped (3.1.1 acknowledges it all the same) */
	if (h->puback_reason >= 0x80) {
		snprintf(h->err, sizeof(h->err), "%s: publish to %s: refused by the broker: %s",
			 h->where, topic, mosquitto_reason_string(h->puback_reason));
		return -EACCES;
	}
	return 0;
}

int hub_mqtt_subscribe(struct hub_mqtt *h, const char *topic, hub_mqtt_msg_fn fn, void *ctx)
{
	char what[300];
	int mid = 0, rc;

	h->on_msg = fn;
	h->ctx = ctx;
	snprintf(what, sizeof(what), "subscribe to %s", topic);
	rc = mosquitto_subscribe(h->mosq, &mid, topic, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		return mq_fail(h, -EIO, rc, what);
	rc = mq_wait(h, MQ_SUBACK, mid, what);
	if (rc < 0)
		return rc;
	if (h->granted_qos >= 0x80) {
		snprintf(h->err, sizeof(h->err), "%s: %s: refused by the broker: %s", h->where, what,
			 mosquitto_reason_string(h->granted_qos));
		return -EACCES;
	}
	return 0;
}

int hub_mqtt_run(struct hub_mqtt *h, unsigned int ms)
{
	struct timespec until;
	long left;
	int rc;

	mq_in_ms(&until, (long)ms);
	while ((left = mq_ms_until(&until)) > 0) {
		if (h->lost)
			return mq_fail(h, -ECONNRESET, h->lost_rc ? h->lost_rc : MOSQ_ERR_CONN_LOST,
				       "receive");
		rc = mosquitto_loop(h->mosq, left < MQ_SLICE_MS ? (int)left : MQ_SLICE_MS, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			return mq_fail(h, -ECONNRESET, rc, "receive");
	}
	return 0;
}

int hub_mqtt_parse_broker(const char *arg, char *host, size_t size, int *port)
{
	const char *colon = NULL, *end;
	long p = HUB_MQTT_PORT;
	char *pend;
	size_t n;

	if (arg[0] == '[') {
		/* [v6 address] or [v6 address]:port */
		end = strchr(arg, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		arg++;
		n = (size_t)(end - arg);
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(arg, ':');
		/* more than one colon: a bare IPv6 address, no port */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		n = colon ? (size_t)(colon - arg) : strlen(arg);
	}
	if (!n || n >= size)
		return -EINVAL;
	if (colon) {
		errno = 0;
		p = strtol(colon + 1, &pend, 10);
		if (!colon[1] || *pend || errno || p < 1 || p > 65535)
			return -EINVAL;
	}
	memcpy(host, arg, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

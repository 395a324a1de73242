/*
 * The hub's MQTT session (tg-hub publish, fleet, cmd): libmosquitto over
 * mutually authenticated TLS, driven synchronously. Every step (connect,
 * publish, subscribe) waits for the broker's answer (CONNACK, PUBACK,
 * SUBACK) before it returns, under one deadline for the whole session, so a
 * command either did what it says or says why not.
 *
 * TLS as docs/protocol.md wants it: TLS 1.2, the broker's certificate checked
 * against the region's CA and its name against the host name given
 * (subjectAltName; an IP address matches an IP SAN), and the hub's client
 * certificate presented. QoS 1, clean session, and MQTT 5 (where gateways
 * speak 3.1.1): a 5 broker's PUBACK says when the acl dropped a publish,
 * which 3.1.1 acknowledges like any other, and a hub must not believe it
 * published a bundle that nobody will get.
 *
 * The only file that includes <mosquitto.h>.
 */
#ifndef TG_HUB_MQTT_H
#define TG_HUB_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HUB_MQTT_PORT 8883
#define HUB_MQTT_ERR_MAX 1024

struct hub_mqtt_opts {
	const char *host;      /* broker name as in its certificate, or an address in its IP SAN */
	int port;
	const char *cafile;    /* the region's CA certificate */
	const char *cert;      /* the hub's client certificate and key */
	const char *key;
	const char *client_id;
	unsigned int timeout_s; /* for the whole session, from hub_mqtt_init() */
};

/* A message on a subscription (hub_mqtt_subscribe()). */
typedef void (*hub_mqtt_msg_fn)(const char *topic, const void *payload, size_t len, bool retained,
				void *ctx);

struct mosquitto;

struct hub_mqtt {
	struct mosquitto *mosq;
	bool lib;                   /* mosquitto_lib_init() done */
	char where[272];            /* "host:port", for messages */
	struct timespec deadline;   /* CLOCK_MONOTONIC */
	unsigned int timeout_s;
	char err[HUB_MQTT_ERR_MAX]; /* why the last call failed */
	char log[256];              /* libmosquitto's last error or warning (OpenSSL's reason) */
	/* what the callbacks saw */
	int connack;                /* -1 until CONNACK */
	int acked_mid, puback_reason, subscribed_mid, granted_qos;
	bool lost;
	int lost_rc;
	hub_mqtt_msg_fn on_msg;
	void *ctx;
};

/*
 * Connect and wait for the CONNACK. Returns 0, or -errno with h->err set:
 * -ECONNREFUSED (TCP, TLS or the broker's CONNACK refused us), -ETIMEDOUT,
 * -EINVAL (options libmosquitto refuses, such as an unreadable key).
 * hub_mqtt_uninit() must follow either way.
 */
int hub_mqtt_init(struct hub_mqtt *h, const struct hub_mqtt_opts *o);
/* Disconnect cleanly (if connected) and free everything. */
void hub_mqtt_uninit(struct hub_mqtt *h);

/* Publish with QoS 1 and wait for the PUBACK: 0, -EACCES (the broker's acl dropped it), -errno; h->err says why. */
int hub_mqtt_publish(struct hub_mqtt *h, const char *topic, const void *payload, size_t len,
		     bool retain);

/* Subscribe with QoS 1 and wait for the SUBACK (a refusal is -EACCES); messages go to fn. */
int hub_mqtt_subscribe(struct hub_mqtt *h, const char *topic, hub_mqtt_msg_fn fn, void *ctx);

/* Receive for ms milliseconds (not bounded by the deadline). 0 or -errno with h->err set. */
int hub_mqtt_run(struct hub_mqtt *h, unsigned int ms);

/* "HOST", "HOST:PORT", "[V6ADDR]:PORT" into host (a buffer of size) and *port. 0 or -EINVAL. */
int hub_mqtt_parse_broker(const char *arg, char *host, size_t size, int *port);

#endif

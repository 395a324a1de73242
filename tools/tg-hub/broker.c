/*
 * tg-hub publish, fleet and cmd: the commands that speak to the region's
 * broker, MQTT over mutual TLS (tools/hub_mqtt.c), with the topics and
 * payloads of docs/protocol.md. They share the session options (--broker,
 * --cafile, --cert, --key, --region, --timeout: BROKER_OPTS below) and the
 * connect; each adds its own options after them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/common.h"
#include "hub/cmd.h"
#include "hub_mqtt.h"
#include "policy/bundle.h"
#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/inspect.h"

/* tg-hub's side of the broker session: the options publish, fleet and cmd share. */
struct broker_args {
	const char *broker, *cafile, *cert, *key, *region;
	uint64_t timeout_s;
};

#define DEFAULT_TIMEOUT_S 10

/* The shared options of a command whose args struct type has a struct broker_args b. */
#define BROKER_OPTS(type)                                                                          \
	OPT_STR("broker", type, b.broker, "HOST[:PORT]", OPT_REQ,                                  \
		"the region's broker (port 8883 unless given)"),                                   \
		OPT_STR("cafile", type, b.cafile, "CA", OPT_REQ,                                   \
			"the region's CA certificate (ca.crt)"),                                   \
		OPT_STR("cert", type, b.cert, "CRT", OPT_REQ, "the hub's client certificate"),     \
		OPT_STR("key", type, b.key, "KEY", OPT_REQ, "the hub's client key"),               \
		OPT_STR("region", type, b.region, "R", OPT_REQ, "the region (a-z, 0-9, '-')")
/* ... and the last of them, after the command's own */
#define BROKER_TIMEOUT(type)                                                                       \
	OPT_NUM("timeout", type, b.timeout_s, 1, 3600, "S", 0,                                     \
		"give up after S seconds without an answer (default 10)")

static int broker_opts_check(const char *name, const struct broker_args *b)
{
	if (!b->broker || !b->cafile || !b->cert || !b->key || !b->region) {
		hub_errf("%s: --broker, --cafile, --cert, --key and --region are required", name);
		return -EINVAL;
	}
	if (!hub_region_valid(b->region)) {
		hub_errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", b->region,
			 BUNDLE_REGION_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * Connect as the hub. The client id is hub:<region>:<command>:<pid>, not just
 * the user name: two tg-hub runs at once (a publish while fleet watches)
 * would otherwise take each other's session over.
 */
static int broker_connect(const char *name, const struct broker_args *b, struct hub_mqtt *h)
{
	struct hub_mqtt_opts mo = { .cafile = b->cafile,
				    .cert = b->cert,
				    .key = b->key,
				    .timeout_s = (unsigned int)b->timeout_s };
	char host[256], id[128];
	int ret;

	memset(h, 0, sizeof(*h));
	if (hub_mqtt_parse_broker(b->broker, host, sizeof(host), &mo.port) < 0) {
		hub_errf("--broker \"%s\": not HOST, HOST:PORT or [ADDRESS]:PORT", b->broker);
		return -EINVAL;
	}
	mo.host = host;
	snprintf(id, sizeof(id), "hub:%s:%s:%ld", b->region, name, (long)getpid());
	mo.client_id = id;
	ret = hub_mqtt_init(h, &mo);
	if (ret < 0)
		hub_errf("%s", h->err);
	return ret;
}

struct publish_args {
	struct broker_args b;
	const char *previous, *sign_key;
};

const struct opt broker_publish_opts[] = {
	BROKER_OPTS(struct publish_args),
	OPT_STR("previous", struct publish_args, previous, "OLD", 0,
		"the bundle published before: the delta from it goes first"),
	OPT_STR("sign-key", struct publish_args, sign_key, "HUBKEY", OPT_WITH,
		"the hub's bundle key (hub.key), to sign that delta"),
	BROKER_TIMEOUT(struct publish_args),
	OPT_ARGS("BUNDLE"),
	{ 0 },
};

int broker_publish(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct publish_args a = { .b.timeout_s = DEFAULT_TIMEOUT_S };
	struct broker_args b;
	const char *previous, *sign_key, *path;
	struct bundle *new_b = NULL, *old_b = NULL;
	const struct bundle_info *ni, *oi = NULL;
	uint8_t *delta = NULL;
	const uint8_t *full;
	size_t delta_len = 0, full_len = 0;
	char topic[128], t[32];
	struct hub_mqtt h;
	int first, status;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	b = a.b;
	previous = a.previous;
	sign_key = a.sign_key;
	status = EXIT_USAGE;
	if (argc - first != 1 || broker_opts_check("publish", &b) < 0) {
		status = opts_usage(cmd);
		goto out;
	}
	if (previous && !sign_key) {
		hub_errf("publish: --previous needs --sign-key, the hub key that signs the delta");
		goto out;
	}
	status = EXIT_FAIL;
	path = argv[first];
	if (hub_open_bundle(path, &new_b) < 0)
		goto out;
	ni = bundle_get_info(new_b);
	if (bundle_is_delta(new_b)) {
		hub_errf("%s: a delta; publish a full bundle (--previous makes the delta)", path);
		goto out;
	}
	if (strcmp(ni->region, b.region) != 0) {
		hub_errf("%s: a bundle for region %s, not %s", path, ni->region, b.region);
		goto out;
	}
	if (ni->expires <= (uint64_t)time(NULL)) {
		hub_errf("%s: expired at %s; every gateway would refuse it", path,
			 hub_iso8601(ni->expires, t, sizeof(t)));
		goto out;
	}
	if (previous) {
		if (hub_open_bundle(previous, &old_b) < 0 ||
		    inspect_make_delta(previous, old_b, path, new_b, sign_key, &delta,
				       &delta_len) < 0)
			goto out;
		oi = bundle_get_info(old_b);
	}
	full = bundle_data(new_b, &full_len);

	if (broker_connect("publish", &b, &h) < 0)
		goto out_mqtt;
	/*
	 * The delta first, acknowledged before the full bundle goes out: a
	 * gateway on the base serial applies the small delta, and the full
	 * bundle that follows is then "unchanged" for it; every other gateway
	 * refuses the delta (base) and takes the full bundle.
	 */
	if (delta) {
		snprintf(topic, sizeof(topic), "tg/v1/%s/bundle/delta", b.region);
		if (hub_mqtt_publish(&h, topic, delta, delta_len, false) < 0) {
			hub_errf("%s", h.err);
			goto out_mqtt;
		}
		printf("published delta %" PRIu64 " -> %" PRIu64 " (%zu bytes) to %s\n", oi->serial,
		       ni->serial, delta_len, topic);
	}
	snprintf(topic, sizeof(topic), "tg/v1/%s/bundle/full", b.region);
	if (hub_mqtt_publish(&h, topic, full, full_len, true) < 0) {
		hub_errf("%s", h.err);
		goto out_mqtt;
	}
	printf("published %s: serial %" PRIu64 " (%zu bytes) to %s, retained\n", path, ni->serial,
	       full_len, topic);
	status = EXIT_OK;
out_mqtt:
	hub_mqtt_uninit(&h);
out:
	bundle_close(old_b);
	bundle_close(new_b);
	free(delta);
	return status;
}

/* fleet: the retained states of a region's gateways, as one table. */
struct fleet_gw {
	char id[GW_ID_MAX + 1];
	json_t *state; /* NULL: the payload was not a JSON object */
	char error[160];
};

struct fleet {
	char prefix[64]; /* tg/v1/<region>/gw/ */
	struct fleet_gw *gw;
	size_t n, cap;
	bool nomem;
};

static void fleet_msg(const char *topic, const void *payload, size_t len, bool retained, void *ctx)
{
	struct fleet *f = ctx;
	size_t plen = strlen(f->prefix), idlen, i;
	const char *id = topic + plen, *end;
	struct fleet_gw *g, *ng;
	json_error_t jerr;

	(void)retained;
	if (strncmp(topic, f->prefix, plen) != 0 || !(end = strchr(id, '/')) ||
	    strcmp(end, "/state") != 0)
		return;
	idlen = (size_t)(end - id);
	if (!idlen || idlen > GW_ID_MAX)
		return;
	for (i = 0; i < f->n; i++)
		if (strlen(f->gw[i].id) == idlen && !memcmp(f->gw[i].id, id, idlen))
			break;
	if (i == f->n) {
		if (!len)
			return;
		if (f->n == f->cap) {
			f->cap = f->cap ? 2 * f->cap : 32;
			ng = realloc(f->gw, f->cap * sizeof(*ng));
			if (!ng) {
				f->nomem = true;
				return;
			}
			f->gw = ng;
		}
		f->gw[f->n++] = (struct fleet_gw){ 0 };
		memcpy(f->gw[i].id, id, idlen);
	}
	g = &f->gw[i];
	json_decref(g->state);
	g->state = NULL;
	g->error[0] = '\0';
	if (!len) {
		/* the retained state was cleared: the gateway is gone */
		memmove(g, g + 1, (f->n - i - 1) * sizeof(*g));
		f->n--;
		return;
	}
	g->state = json_loadb(payload, len, 0, &jerr);
	if (!json_is_object(g->state)) {
		snprintf(g->error, sizeof(g->error), "%s",
			 g->state ? "not a JSON object" : jerr.text);
		json_decref(g->state);
		g->state = NULL;
	}
}

static int fleet_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fleet_gw *)a)->id, ((const struct fleet_gw *)b)->id);
}

/* "42s", "5m", "3h", "2d": how long ago the gateway wrote its state; "-" without a time. */
static void fleet_age(const json_t *t, int64_t now, char *buf, size_t size)
{
	int64_t d;

	if (!json_is_integer(t)) {
		snprintf(buf, size, "-");
		return;
	}
	d = now - (int64_t)json_integer_value(t);
	if (d < 120)
		snprintf(buf, size, "%" PRId64 "s", d);
	else if (d < INT64_C(2) * 3600)
		snprintf(buf, size, "%" PRId64 "m", d / 60);
	else if (d < INT64_C(2) * 86400)
		snprintf(buf, size, "%" PRId64 "h", d / 3600);
	else
		snprintf(buf, size, "%" PRId64 "d", d / 86400);
}

static void fleet_print(const struct fleet_gw *g, int64_t now, bool as_json, int width)
{
	const json_t *st = g->state, *bundle, *serial, *sha, *t, *refusal, *reason;
	char serial_s[24], age[24], *line;
	json_t *o;
	bool online;

	bundle = json_object_get(st, "bundle");
	serial = json_object_get(bundle, "serial");
	sha = json_object_get(bundle, "sha256");
	t = json_object_get(st, "time");
	refusal = json_object_get(st, "last_refusal");
	reason = json_object_get(refusal, "reason");
	online = json_is_true(json_object_get(st, "online"));
	if (as_json) {
		o = json_object();
		json_object_set_new(o, "gateway", json_string(g->id));
		json_object_set_new(o, "online", json_boolean(online));
		json_object_set_new(o, "serial",
				    json_is_integer(serial) ? json_copy((json_t *)serial)
							    : json_null());
		json_object_set_new(o, "sha256",
				    json_is_string(sha) ? json_copy((json_t *)sha) : json_null());
		json_object_set_new(o, "age_s",
				    json_is_integer(t) ? json_integer(now - json_integer_value(t))
						       : json_null());
		json_object_set_new(o, "last_refusal",
				    json_is_string(reason) ? json_copy((json_t *)reason)
							   : json_null());
		json_object_set_new(o, "state", st ? json_deep_copy(st) : json_null());
		if (g->error[0])
			json_object_set_new(o, "error", json_string(g->error));
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(o);
		return;
	}
	if (json_is_integer(serial))
		snprintf(serial_s, sizeof(serial_s), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(serial));
	else
		snprintf(serial_s, sizeof(serial_s), "-");
	fleet_age(t, now, age, sizeof(age));
	printf("%-*s  %-7s  %6s  %-12.12s  %5s  %s\n", width, g->id,
	       g->error[0] ? "invalid"
	       : online	   ? "online"
			   : "offline",
	       serial_s, json_is_string(sha) ? json_string_value(sha) : "-", age,
	       json_is_string(reason) ? json_string_value(reason) : "-");
}

struct fleet_args {
	struct broker_args b;
	uint64_t wait_s;
	bool json;
};

const struct opt broker_fleet_opts[] = {
	BROKER_OPTS(struct fleet_args),
	OPT_NUM("wait", struct fleet_args, wait_s, 1, 3600, "S", 0,
		"collect the retained states for S seconds (default 1)"),
	OPT_BOOL("json", struct fleet_args, json,
		 "one JSON object per gateway instead of the table"),
	BROKER_TIMEOUT(struct fleet_args),
	{ 0 },
};

int broker_fleet(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct fleet_args a = { .b.timeout_s = DEFAULT_TIMEOUT_S, .wait_s = 1 };
	struct broker_args b;
	struct fleet f = { 0 };
	char topic[128];
	struct hub_mqtt h;
	int first, width = 7, status;
	int64_t now;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	b = a.b;
	if (argc != first || broker_opts_check("fleet", &b) < 0)
		return opts_usage(cmd);
	status = EXIT_FAIL;
	snprintf(f.prefix, sizeof(f.prefix), "tg/v1/%s/gw/", b.region);
	snprintf(topic, sizeof(topic), "tg/v1/%s/gw/+/state", b.region);
	if (broker_connect("fleet", &b, &h) < 0)
		goto out_mqtt;
	if (hub_mqtt_subscribe(&h, topic, fleet_msg, &f) < 0 ||
	    hub_mqtt_run(&h, (unsigned int)a.wait_s * 1000) < 0) {
		hub_errf("%s", h.err);
		goto out_mqtt;
	}
	if (f.nomem) {
		hub_errf("out of memory");
		goto out_mqtt;
	}
	if (f.n)
		qsort(f.gw, f.n, sizeof(*f.gw), fleet_cmp);
	for (size_t i = 0; i < f.n; i++) {
		if (f.gw[i].error[0])
			hub_errf("warning: %s%s/state: %s", f.prefix, f.gw[i].id, f.gw[i].error);
		if ((int)strlen(f.gw[i].id) > width)
			width = (int)strlen(f.gw[i].id);
	}
	now = (int64_t)time(NULL);
	if (!a.json)
		printf("%-*s  %-7s  %6s  %-12s  %5s  %s\n", width, "gateway", "status", "serial",
		       "bundle", "age", "last refusal");
	for (size_t i = 0; i < f.n; i++)
		fleet_print(&f.gw[i], now, a.json, width);
	if (!f.n)
		hub_errf("no gateway of region %s has published a state (%s)", b.region, topic);
	status = EXIT_OK;
out_mqtt:
	hub_mqtt_uninit(&h);
	for (size_t i = 0; i < f.n; i++)
		json_decref(f.gw[i].state);
	free(f.gw);
	return status;
}

/* cmd: one signed command (docs/protocol.md, "cmd"), signed by firmware/hub/cmd.c's cmd_sign(). */
struct command_args {
	struct broker_args b;
	const char *sign_key, *gateway;
};

const struct opt broker_cmd_opts[] = {
	BROKER_OPTS(struct command_args),
	OPT_STR("sign-key", struct command_args, sign_key, "HUBKEY", OPT_REQ,
		"the hub's bundle key (hub.key), that signs the command"),
	OPT_STR("gateway", struct command_args, gateway, "ID", OPT_REQ,
		"the gateway to send it to"),
	BROKER_TIMEOUT(struct command_args),
	OPT_ARGS("report|resync"),
	{ 0 },
};

int broker_cmd(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct command_args a = { .b.timeout_s = DEFAULT_TIMEOUT_S };
	struct broker_args b;
	const char *sign_key, *gateway, *word;
	char topic[160], nonce[2 * 16 + 1], *json = NULL, *payload = NULL;
	uint8_t raw[16], *key = NULL;
	size_t keylen = 0;
	struct hub_mqtt h;
	json_t *o = NULL;
	int first, n, status;
	int64_t now = (int64_t)time(NULL);

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	b = a.b;
	sign_key = a.sign_key;
	gateway = a.gateway;
	status = EXIT_USAGE;
	if (argc - first != 1 || broker_opts_check("cmd", &b) < 0 || !sign_key || !gateway) {
		if (!sign_key || !gateway)
			hub_errf("cmd: --sign-key and --gateway are required");
		status = opts_usage(cmd);
		goto out;
	}
	word = argv[first];
	if (strcmp(word, "report") != 0 && strcmp(word, "resync") != 0) {
		hub_errf("command \"%s\": not report or resync", word);
		goto out;
	}
	if (!hub_gw_id_valid(gateway)) {
		hub_errf("--gateway \"%s\": not a gateway id (1..%d of a-z, 0-9, '-')", gateway,
			 GW_ID_MAX);
		goto out;
	}
	status = EXIT_FAIL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		hub_errf("cannot get random bytes for the nonce: %s", strerror(errno));
		goto out;
	}
	hex_encode(raw, sizeof(raw), nonce);
	o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "cmd", word, "gateway", gateway, "region",
		      b.region, "issued", (json_int_t)now, "nonce", nonce);
	json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	payload = malloc(CMD_PAYLOAD_MAX);
	if (!json || !payload) {
		hub_errf("out of memory");
		goto out;
	}
	if (hub_read_key(sign_key, &key, &keylen) < 0)
		goto out;
	n = cmd_sign(json, key, keylen, payload);
	if (n < 0) {
		hub_errf("%s: cannot sign the command with it: %s", sign_key, strerror(-n));
		goto out;
	}
	snprintf(topic, sizeof(topic), "tg/v1/%s/gw/%s/cmd", b.region, gateway);
	if (broker_connect("cmd", &b, &h) < 0) {
		hub_mqtt_uninit(&h);
		goto out;
	}
	if (hub_mqtt_publish(&h, topic, payload, (size_t)n, false) < 0) {
		hub_errf("%s", h.err);
		hub_mqtt_uninit(&h);
		goto out;
	}
	hub_mqtt_uninit(&h);
	printf("sent %s to %s: %s\n", word, topic, json);
	status = EXIT_OK;
out:
	json_decref(o);
	free(json);
	free(payload);
	hub_free_key(key, keylen);
	return status;
}

/*
 * tg-hub provision: the region's PKI and broker configuration in one directory:
 *
 *   DIR/ca.key ca.crt                 the region's CA (the key never leaves the hub)
 *   DIR/broker/                       copy to the broker: broker.key broker.crt ca.crt
 *                                     mosquitto.conf acl
 *   DIR/hub/hub-client.key .crt       the hub's MQTT identity (publish, fleet, cmd)
 *   DIR/soc/soc.key .crt ca.crt       the SOC's MQTT identity (tg-soc collect: reads only)
 *   DIR/gateways/<id>/                copy to gateway <id>: gw.key gw.crt ca.crt [hub.pub]
 *   DIR/bridges/<region>/             national tier only (--bridges): copy to region's hub:
 *                                     bridge.key bridge.crt ca.crt (tiers.h)
 *
 * Re-running it keeps every key and certificate already there (after checking
 * it against the CA), adds what is missing, and rewrites mosquitto.conf and
 * acl from the gateways present, so adding a gateway is one more run. The
 * certificates themselves are made by tools/hub_pki.c.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "hub_mqtt.h"
#include "policy/bundle.h"
#include "hub_pki.h"
#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/tiers.h"

#define CA_YEARS 10
#define LEAF_YEARS 2
/* ub-common-name: "gw:<region>:<id>" must fit a certificate's CN */
#define CN_MAX 64

/* A broker's host name follows the rule the bundle has for domains (one copy of it). */
static bool host_name_valid(const char *h)
{
	char norm[BUNDLE_NAME_MAX + 1];
	struct bundle_name_fault fault;
	size_t n;

	return h[0] != '-' && bundle_domain_normalise(h, strlen(h), norm, &n, &fault) == 0;
}

__attribute__((format(printf, 3, 4))) static int path_fmt(char *buf, size_t size, const char *fmt,
							  ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		hub_errf("%s...: path too long", buf);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* One identity: its key (kept or new) and its certificate (kept if it checks, or issued). */
struct pki_entity {
	char key_path[PATH_MAX], crt_path[PATH_MAX];
	char cn[CN_MAX + 1];
	struct hub_pki_cert cert;
	struct hub_pki_key *key;
	char *crt_pem;
	bool new_key, new_crt;
};

static int pki_key(struct pki_entity *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *pem = NULL;
	int ret;

	if (hub_exists(e->key_path)) {
		ret = hub_read_file(e->key_path, &buf, &len);
		if (ret < 0)
			return ret;
		ret = hub_pki_key_parse((const char *)buf, len, &e->key);
		hub_free_key(buf, len);
		if (ret < 0)
			hub_errf("%s: not an EC P-256 private key in PEM", e->key_path);
		return ret;
	}
	ret = hub_pki_key_new(&e->key, &pem);
	if (ret < 0) {
		hub_errf("%s: cannot generate a key: %s", e->key_path, strerror(-ret));
		return ret;
	}
	ret = hub_write_new(e->key_path, pem, 0600);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	e->new_key = !ret;
	return ret;
}

/*
 * The entity's key and certificate. ca NULL: e is the CA itself (self-signed,
 * checked against itself).
 */
static int pki_entity(struct pki_entity *e, const struct pki_entity *ca)
{
	char why[300];
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	e->cert.cn = e->cn;
	ret = pki_key(e);
	if (ret < 0)
		return ret;
	if (hub_exists(e->crt_path)) {
		ret = hub_read_file(e->crt_path, &buf, &len);
		if (ret < 0)
			return ret;
		e->crt_pem = (char *)buf;
		ret = hub_pki_check(e->crt_pem, len, ca ? ca->crt_pem : e->crt_pem,
				    ca ? strlen(ca->crt_pem) : len, e->cn, e->key, why,
				    sizeof(why));
		if (ret < 0 && !ca)
			hub_errf(
				"%s: %s (key %s); a CA is kept, never replaced: give another --out "
				"to start another one",
				e->crt_path, why, e->key_path);
		else if (ret < 0)
			hub_errf("%s: %s (key %s); move it away to issue a new one", e->crt_path,
				 why, e->key_path);
		return ret;
	}
	ret = hub_pki_issue(&e->cert, e->key, ca ? ca->key : e->key, ca ? ca->cn : e->cn,
			    &e->crt_pem);
	if (ret < 0) {
		hub_errf("%s: cannot issue a certificate for CN \"%s\": %s", e->crt_path, e->cn,
			 strerror(-ret));
		return ret;
	}
	ret = hub_write_atomic(e->crt_path, e->crt_pem, strlen(e->crt_pem), 0644);
	e->new_crt = !ret;
	return ret;
}

static void pki_entity_free(struct pki_entity *e)
{
	hub_pki_key_free(e->key);
	free(e->crt_pem);
	e->key = NULL;
	e->crt_pem = NULL;
}

static const char *pki_status(const struct pki_entity *e)
{
	if (e->new_key)
		return "new";
	return e->new_crt ? "new certificate, key kept" : "kept";
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The gateways provisioned in DIR/gateways (a directory with a gw.crt), or the bridges in DIR/bridges (bridge.crt), sorted. */
static int list_gateways(const char *dir, const char *crt, char ***out, size_t *n)
{
	char path[PATH_MAX], **ids = NULL, **nids;
	const struct dirent *de;
	size_t cap = 0;
	DIR *d = opendir(dir);

	*n = 0;
	*out = NULL;
	if (!d) {
		int e = errno;

		hub_errf("%s: cannot open: %s", dir, strerror(e));
		return -e;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name, crt) >=
			    sizeof(path) ||
		    !hub_exists(path))
			continue;
		if (!hub_gw_id_valid(de->d_name)) {
			hub_errf(
				"warning: %s/%s: not a gateway id (a-z, 0-9, '-'); left out of the acl",
				dir, de->d_name);
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			nids = realloc(ids, cap * sizeof(*ids));
			if (!nids)
				goto nomem;
			ids = nids;
		}
		ids[*n] = strdup(de->d_name);
		if (!ids[*n])
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(ids, *n, sizeof(*ids), str_cmp);
	*out = ids;
	return 0;
nomem:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		free(ids[i]);
	free(ids);
	*n = 0;
	hub_errf("out of memory");
	return -ENOMEM;
}

/* A text file made with fprintf() in memory, then written atomically. */
struct text {
	FILE *f;
	char *buf;
	size_t len;
};

static int text_open(struct text *t)
{
	*t = (struct text){ 0 };
	t->f = open_memstream(&t->buf, &t->len);
	if (!t->f) {
		hub_errf("out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int text_write(struct text *t, const char *path)
{
	int ret;

	if (fclose(t->f) != 0) {
		free(t->buf);
		hub_errf("out of memory");
		return -ENOMEM;
	}
	ret = hub_write_atomic(path, t->buf, t->len, 0644);
	free(t->buf);
	return ret;
}

/*
 * mosquitto.conf for the region's broker. Paths are where the files will be
 * on the broker (--broker-dir). One listener, TLS only, every client with a
 * certificate from the region's CA, its CN as its user name for the acl.
 */
static int write_broker_conf(const char *path, const char *region, const char *bdir,
			     unsigned int port, const char *national)
{
	struct text t;

	if (text_open(&t) < 0)
		return -ENOMEM;
	fprintf(t.f,
		"# townguard region %s: the Mosquitto broker (docs/protocol.md).\n"
		"# Written by tg-hub provision; re-run it rather than editing this file.\n"
		"# Everything the broker needs is in %s: broker.key broker.crt ca.crt acl.\n"
		"# The user mosquitto runs as must own that directory (it keeps its\n"
		"# database there, and broker.key is mode 0600).\n"
		"per_listener_settings false\n"
		"allow_anonymous false\n"
		"acl_file %s/acl\n"
		"\n"
		"# The retained full bundle and gateway states survive a broker restart.\n"
		"persistence true\n"
		"persistence_location %s/\n"
		"\n"
		"log_dest stderr\n"
		"log_type error\n"
		"log_type warning\n"
		"log_type notice\n"
		"log_type information\n"
		"connection_messages true\n"
		"log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n"
		"\n"
		"# Mutual TLS only: no plain listener. A client's certificate CN is its\n"
		"# user name: gw:%s:<id> for gateways, hub:%s for the hub.\n"
		"listener %u\n"
		"protocol mqtt\n"
		"cafile %s/ca.crt\n"
		"certfile %s/broker.crt\n"
		"keyfile %s/broker.key\n"
		"require_certificate true\n"
		"use_identity_as_username true\n"
		"tls_version tlsv1.2\n"
		"# ChaCha20-Poly1305 first (Mosquitto takes its own order): its TLS 1.2\n"
		"# records carry no explicit nonce, 8 bytes less than AES-GCM's in each,\n"
		"# two a report message (the PUBLISH and its PUBACK) on a rural uplink.\n"
		"ciphers ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\n",
		region, bdir, bdir, bdir, region, region, port, bdir, bdir, bdir);
	if (national)
		tiers_bridge_conf(t.f, region, bdir, national);
	return text_write(&t, path);
}

/* The acl of docs/protocol.md: per identity, and nothing else for anyone. */
static int write_acl(const char *path, const char *region, char **ids, size_t n, char **bridges,
		     size_t nbridges)
{
	struct text t;

	if (text_open(&t) < 0)
		return -ENOMEM;
	fprintf(t.f,
		"# townguard region %s: Mosquitto acl, written by tg-hub provision\n"
		"# (docs/protocol.md). The hub publishes bundles and commands and reads\n"
		"# the gateways' topics; the SOC (tg-soc) reads the gateways' reports and\n"
		"# states and writes nothing; a gateway reads its region's bundles and its\n"
		"# own commands, and writes only its own topics. Nothing else, for anyone.\n"
		"\n"
		"user hub:%s\n"
		"topic write tg/v1/%s/bundle/#\n"
		"topic write tg/v1/%s/gw/+/cmd\n"
		"topic read tg/v1/%s/gw/#\n"
		"\n"
		"user soc:%s\n"
		"topic read tg/v1/%s/gw/+/summary\n"
		"topic read tg/v1/%s/gw/+/alert\n"
		"topic read tg/v1/%s/gw/+/asset\n"
		"topic read tg/v1/%s/gw/+/state\n",
		region, region, region, region, region, region, region, region, region, region);
	for (size_t i = 0; i < n; i++)
		fprintf(t.f,
			"\n"
			"user gw:%s:%s\n"
			"topic read tg/v1/%s/bundle/#\n"
			"topic read tg/v1/%s/gw/%s/cmd\n"
			"topic write tg/v1/%s/gw/%s/#\n",
			region, ids[i], region, region, ids[i], region, ids[i]);
	tiers_acl(t.f, region, bridges, nbridges);
	return text_write(&t, path);
}

/* Copy a small text file (a certificate, hub.pub, a bridge key: mode) into place. */
static int copy_file_mode(const char *from, const char *to, mode_t mode)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = hub_read_file(from, &buf, &len);

	if (ret < 0)
		return ret;
	ret = hub_write_atomic(to, buf, len, mode);
	free(buf);
	return ret;
}

static int copy_file(const char *from, const char *to)
{
	return copy_file_mode(from, to, 0644);
}

struct provision_args {
	const char *out, *region, *broker_host, *broker_ip, *broker_dir, *hub_pub;
	const char *gateways_arg; /* --gateways as given */
	const char *bridges_arg, *national, *bridge_files; /* the national tier (tiers.h) */
	char national_kept[PATH_MAX];                     /* --national of an earlier run */
	char *gateways;		  /* a copy of --gateways, cut at the commas */
	char **ids;
	size_t nids;
	uint64_t port;
	uint8_t ip[16];
	size_t ip_len;
	bool host_is_ip;
};

static int provision_parse_ids(struct provision_args *o, const char *arg)
{
	char *tok, *save = NULL;

	o->nids = 0;
	o->gateways = strdup(arg);
	o->ids = calloc(strlen(arg) / 2 + 1, sizeof(*o->ids));
	if (!o->gateways || !o->ids) {
		hub_errf("out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(o->gateways, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!hub_gw_id_valid(tok)) {
			hub_errf("--gateways: \"%s\": not a gateway id (1..%d of a-z, 0-9, '-')",
				 tok, GW_ID_MAX);
			return -EINVAL;
		}
		if (strlen(o->region) + strlen(tok) + 4 > CN_MAX) {
			hub_errf(
				"--gateways: \"%s\": gw:%s:%s is longer than the %d characters of a "
				"certificate's CN",
				tok, o->region, tok, CN_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < o->nids; i++) {
			if (!strcmp(o->ids[i], tok)) {
				hub_errf("--gateways: \"%s\" is listed twice", tok);
				return -EINVAL;
			}
		}
		o->ids[o->nids++] = tok;
	}
	return 0;
}

const struct opt provision_opts[] = {
	OPT_STR("out", struct provision_args, out, "DIR", OPT_REQ,
		"the region's PKI directory (created, or extended)"),
	OPT_STR("region", struct provision_args, region, "R", OPT_REQ,
		"the region (a-z, 0-9, '-')"),
	OPT_STR("broker-host", struct provision_args, broker_host, "NAME", OPT_REQ,
		"the broker's host name or address, as gateways connect to it"),
	OPT_STR("broker-ip", struct provision_args, broker_ip, "ADDR", 0,
		"the broker's address too, in its certificate"),
	OPT_NUM("port", struct provision_args, port, 1, 65535, "N", 0,
		"the broker's TLS listener (default: as before, else 8883)"),
	OPT_STR("broker-dir", struct provision_args, broker_dir, "PATH", 0,
		"where DIR/broker/ will be on the broker (default: as before, else DIR/broker)"),
	OPT_STR("gateways", struct provision_args, gateways_arg, "ID,...", 0,
		"the gateways to add (earlier ones stay)"),
	OPT_STR("hub-pub", struct provision_args, hub_pub, "FILE", 0,
		"the bundle key's hub.pub, copied to each gateway named (kept as DIR/hub.pub)"),
	OPT_STR("bridges", struct provision_args, bridges_arg, "REGION,...", 0,
		"national broker: bridge identities for these regions (earlier ones stay)"),
	OPT_STR("national", struct provision_args, national, "HOST:PORT", 0,
		"regional broker: bridge the reports up to this national broker"),
	OPT_STR("bridge-files", struct provision_args, bridge_files, "DIR", OPT_WITH,
		"the national run's DIR/bridges/<region>/ (bridge.key, bridge.crt, its ca.crt)"),
	{ 0 },
};

/* The checks across options; EXIT_OK or the exit status. */
static int provision_check_args(const struct hub_cmd *cmd, int argc, int first,
				struct provision_args *o)
{
	if (!o->out || !o->region || !o->broker_host || first != argc) {
		hub_errf("provision: --out, --region and --broker-host are required");
		return opts_usage(cmd);
	}
	if (!hub_region_valid(o->region) || strlen(o->region) + 6 > CN_MAX) {
		hub_errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", o->region,
			 BUNDLE_REGION_MAX);
		return EXIT_USAGE;
	}
	/* a broker known by its address only: the address goes into the IP SAN */
	if (inet_pton(AF_INET, o->broker_host, o->ip) == 1 ||
	    inet_pton(AF_INET6, o->broker_host, o->ip) == 1) {
		if (o->broker_ip && strcmp(o->broker_ip, o->broker_host) != 0) {
			hub_errf("--broker-host \"%s\" is an address: --broker-ip \"%s\" is for a "
				 "broker with a host name",
				 o->broker_host, o->broker_ip);
			return EXIT_USAGE;
		}
		o->broker_ip = o->broker_host;
		o->host_is_ip = true;
	} else if (!host_name_valid(o->broker_host)) {
		hub_errf(
			"--broker-host \"%s\": not a host name (letters, digits, '-' and '.') or an "
			"IP address",
			o->broker_host);
		return EXIT_USAGE;
	}
	if (strlen(o->broker_host) > CN_MAX) {
		hub_errf(
			"--broker-host \"%s\": longer than the %d characters of a certificate's CN",
			o->broker_host, CN_MAX);
		return EXIT_USAGE;
	}
	if (o->broker_ip) {
		if (inet_pton(AF_INET, o->broker_ip, o->ip) == 1) {
			o->ip_len = 4;
		} else if (inet_pton(AF_INET6, o->broker_ip, o->ip) == 1) {
			o->ip_len = 16;
		} else {
			hub_errf("--broker-ip \"%s\": not an IPv4 or IPv6 address", o->broker_ip);
			return EXIT_USAGE;
		}
	}
	if (o->broker_dir && (o->broker_dir[0] != '/' || strpbrk(o->broker_dir, " \t\n#"))) {
		hub_errf("--broker-dir \"%s\": must be an absolute path without spaces or '#' "
			 "(mosquitto.conf names its files with it)",
			 o->broker_dir);
		return EXIT_USAGE;
	}
	if (o->gateways_arg && provision_parse_ids(o, o->gateways_arg) < 0)
		return EXIT_USAGE;
	if (o->national && (tiers_national_valid(o->national) < 0 || !o->bridge_files)) {
		if (!o->bridge_files)
			hub_errf("--national needs --bridge-files DIR (the national run's "
				 "bridges/%s/)",
				 o->region);
		return EXIT_USAGE;
	}
	if (o->bridge_files && !o->national) {
		hub_errf("--bridge-files goes with --national HOST:PORT");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/*
 * What an earlier run chose and this one does not repeat: the broker's
 * directory and port from the mosquitto.conf it wrote (a rerun to add a
 * gateway must not move the broker's files), the bundle key from the copy
 * it kept in DIR/hub.pub (every gateway's folder gets it). A --hub-pub that
 * differs from that copy is refused: gateways would refuse every bundle.
 */
static int provision_recall(struct provision_args *o, char *bdir, size_t bdir_size,
			    char *pubpath, size_t pub_size)
{
	char path[PATH_MAX], line[PATH_MAX + 32];
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	FILE *f;
	int ret = 0;

	if (path_fmt(path, sizeof(path), "%s/broker/mosquitto.conf", o->out) < 0)
		return -EINVAL;
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");
		unsigned long port;

		line[n] = '\0';
		if (!o->broker_dir && !strncmp(line, "acl_file ", 9) && n > 13 &&
		    !strcmp(line + n - 4, "/acl") && n - 13 < bdir_size) {
			snprintf(bdir, bdir_size, "%.*s", (int)(n - 13), line + 9);
			o->broker_dir = bdir;
			printf("--broker-dir %s, as %s says\n", bdir, path);
		} else if (!o->port && sscanf(line, "listener %lu", &port) == 1 && port &&
			   port < 65536) {
			o->port = port;
		} else if (!o->national && !strncmp(line, "address ", 8) &&
			   n - 8 < sizeof(o->national_kept)) {
			/* the bridge of an earlier --national stays (its files are in broker/national/) */
			memcpy(o->national_kept, line + 8, n - 8);
			o->national_kept[n - 8] = '\0';
			o->national = o->national_kept;
			printf("--national %s, as %s says\n", o->national, path);
		}
	}
	if (f)
		fclose(f);
	if (!o->port)
		o->port = HUB_MQTT_PORT;
	if (path_fmt(pubpath, pub_size, "%s/hub.pub", o->out) < 0)
		return -EINVAL;
	if (!hub_exists(pubpath)) {
		if (o->hub_pub && copy_file(o->hub_pub, pubpath) < 0)
			return -EIO;
		if (o->hub_pub)
			o->hub_pub = pubpath;
		return 0;
	}
	if (o->hub_pub) {
		if (hub_read_file(o->hub_pub, &a, &alen) < 0 || hub_read_file(pubpath, &b, &blen) < 0) {
			ret = -EIO;
		} else if (alen != blen || memcmp(a, b, alen) != 0) {
			hub_errf("--hub-pub %s differs from %s, the bundle key of the earlier runs: "
				 "the gateways would refuse every bundle signed with the other key",
				 o->hub_pub, pubpath);
			ret = -EINVAL;
		}
		free(a);
		free(b);
	}
	o->hub_pub = pubpath;
	return ret;
}

/*
 * A client identity of the region: OUT/WHO/BASE.key and .crt, CN WHO:REGION
 * (the acl's user name), kept when they exist.
 */
static int client_entity(struct pki_entity *e, const struct pki_entity *ca, const char *out,
			 const char *region, const char *who, const char *base, int64_t now)
{
	snprintf(e->cn, sizeof(e->cn), "%s:%s", who, region);
	e->cert = (struct hub_pki_cert){ .role = HUB_PKI_CLIENT, .years = LEAF_YEARS, .now = now };
	if (path_fmt(e->key_path, sizeof(e->key_path), "%s/%s", out, who) < 0 ||
	    hub_make_dir(e->key_path) < 0 ||
	    path_fmt(e->key_path, sizeof(e->key_path), "%s/%s/%s.key", out, who, base) < 0 ||
	    path_fmt(e->crt_path, sizeof(e->crt_path), "%s/%s/%s.crt", out, who, base) < 0)
		return -EINVAL;
	return pki_entity(e, ca);
}

/*
 * The national tier (tiers.h): on the national broker's run, the bridge
 * identities of --bridges from this CA, and every bridge provisioned so far
 * in *br for the acl; on a regional run with --bridge-files, the bridge's
 * files copied to DIR/broker/national/.
 */
static int provision_tiers(struct provision_args *o, const struct pki_entity *ca, int64_t now,
			   char ***br, size_t *nbr)
{
	char path[PATH_MAX], dir[PATH_MAX], to[PATH_MAX], *list, *tok, *save = NULL;
	struct pki_entity e;
	int ret = 0;

	if (o->bridge_files) {
		static const char *const files[] = { "bridge.key", "bridge.crt", "ca.crt" };

		if (path_fmt(dir, sizeof(dir), "%s/broker/national", o->out) < 0 || hub_make_dir(dir) < 0)
			return -EIO;
		for (size_t i = 0; i < ARRAY_SIZE(files); i++)
			if (path_fmt(path, sizeof(path), "%s/%s", o->bridge_files, files[i]) < 0 ||
			    path_fmt(to, sizeof(to), "%s/%s", dir, files[i]) < 0 || !hub_exists(path) ||
			    copy_file_mode(path, to, i ? 0644 : 0600) < 0) {
				hub_errf("--bridge-files %s: no %s (the national run's bridges/%s/)",
					 o->bridge_files, files[i], o->region);
				return -ENOENT;
			}
		printf("  bridge   %s/: bridge:%s to the national broker %s\n", dir, o->region,
		       o->national);
	}
	if (path_fmt(dir, sizeof(dir), "%s/bridges", o->out) < 0)
		return -EINVAL;
	if (!o->bridges_arg && !hub_exists(dir))
		return 0;
	if (hub_make_dir(dir) < 0 || !(list = strdup(o->bridges_arg ? o->bridges_arg : "")))
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		if (!hub_region_valid(tok)) {
			hub_errf("--bridges: \"%s\": not a region (a-z, 0-9, '-')", tok);
			ret = -EINVAL;
			break;
		}
		e = (struct pki_entity){ 0 };
		snprintf(e.cn, sizeof(e.cn), "bridge:%s", tok);
		e.cert = (struct hub_pki_cert){ .role = HUB_PKI_CLIENT, .years = LEAF_YEARS, .now = now };
		if (path_fmt(path, sizeof(path), "%s/%s", dir, tok) < 0 || hub_make_dir(path) < 0 ||
		    path_fmt(e.key_path, sizeof(e.key_path), "%s/bridge.key", path) < 0 ||
		    path_fmt(e.crt_path, sizeof(e.crt_path), "%s/bridge.crt", path) < 0 ||
		    pki_entity(&e, ca) < 0 || path_fmt(path, sizeof(path), "%s/%s/ca.crt", dir, tok) < 0 ||
		    hub_write_atomic(path, ca->crt_pem, strlen(ca->crt_pem), 0644) < 0)
			ret = -EIO;
		else
			printf("  bridge   %s: CN %s: %s\n", e.crt_path, e.cn, pki_status(&e));
		pki_entity_free(&e);
	}
	free(list);
	return ret < 0 ? ret : list_gateways(dir, "bridge.crt", br, nbr);
}

int provision_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct provision_args o = { .port = 0 };
	char pubpath[PATH_MAX], oldbdir[PATH_MAX];
	struct pki_entity ca = { 0 }, broker = { 0 }, hub = { 0 }, soc = { 0 }, gw;
	char path[PATH_MAX], bdir[PATH_MAX], gwdir[PATH_MAX], real[PATH_MAX];
	char **all = NULL, **br = NULL;
	size_t nall = 0, nbr = 0;
	int64_t now = (int64_t)time(NULL);
	int first, status;

	status = opts_parse(cmd, &o, argc, argv, &first);
	if (status)
		return status;
	status = provision_check_args(cmd, argc, first, &o);
	if (status != EXIT_OK)
		goto out_opts;
	status = EXIT_FAIL;
	if (hub_make_dir(o.out) < 0)
		goto out_opts;
	if (!realpath(o.out, real)) {
		hub_errf("%s: cannot resolve: %s", o.out, strerror(errno));
		goto out_opts;
	}
	if (path_fmt(bdir, sizeof(bdir), "%s/broker", real) < 0)
		goto out_opts;
	if (provision_recall(&o, oldbdir, sizeof(oldbdir), pubpath, sizeof(pubpath)) < 0)
		goto out_opts;
	if (!o.broker_dir)
		o.broker_dir = bdir;
	if (strpbrk(o.broker_dir, " \t\n#")) {
		hub_errf("%s: a path with spaces or '#' cannot go into mosquitto.conf; give "
			 "--broker-dir",
			 o.broker_dir);
		goto out_opts;
	}

	/* the CA: kept if ca.key exists, so every certificate ever issued stays valid */
	snprintf(ca.cn, sizeof(ca.cn), "tg-ca:%s", o.region);
	ca.cert = (struct hub_pki_cert){ .role = HUB_PKI_CA, .years = CA_YEARS, .now = now };
	if (path_fmt(ca.key_path, sizeof(ca.key_path), "%s/ca.key", o.out) < 0 ||
	    path_fmt(ca.crt_path, sizeof(ca.crt_path), "%s/ca.crt", o.out) < 0 ||
	    pki_entity(&ca, NULL) < 0)
		goto out;

	/* the broker */
	snprintf(broker.cn, sizeof(broker.cn), "%s", o.broker_host);
	broker.cert = (struct hub_pki_cert){ .role = HUB_PKI_SERVER,
					     .dns = o.host_is_ip ? NULL : o.broker_host,
					     .ip = o.ip_len ? o.ip : NULL,
					     .ip_len = o.ip_len,
					     .years = LEAF_YEARS,
					     .now = now };
	if (hub_make_dir(bdir) < 0 ||
	    path_fmt(broker.key_path, sizeof(broker.key_path), "%s/broker/broker.key", o.out) < 0 ||
	    path_fmt(broker.crt_path, sizeof(broker.crt_path), "%s/broker/broker.crt", o.out) < 0 ||
	    pki_entity(&broker, &ca) < 0)
		goto out;
	if (path_fmt(path, sizeof(path), "%s/broker/ca.crt", o.out) < 0 ||
	    hub_write_atomic(path, ca.crt_pem, strlen(ca.crt_pem), 0644) < 0)
		goto out;

	/* the hub; the SOC, read-only, in a folder of its own with the CA to copy to its host */
	if (client_entity(&hub, &ca, o.out, o.region, "hub", "hub-client", now) < 0 ||
	    client_entity(&soc, &ca, o.out, o.region, "soc", "soc", now) < 0)
		goto out;
	if (path_fmt(path, sizeof(path), "%s/soc/ca.crt", o.out) < 0 ||
	    hub_write_atomic(path, ca.crt_pem, strlen(ca.crt_pem), 0644) < 0)
		goto out;

	printf("region %s\n", o.region);
	printf("  CA       %s: %s\n", ca.crt_path, pki_status(&ca));
	printf("  broker   %s: CN %s: %s\n", broker.crt_path, broker.cn, pki_status(&broker));
	printf("  hub      %s: CN %s: %s\n", hub.crt_path, hub.cn, pki_status(&hub));
	printf("  soc      %s: CN %s: %s\n", soc.crt_path, soc.cn, pki_status(&soc));

	/* the gateways named now; those of earlier runs stay as they are */
	if (path_fmt(path, sizeof(path), "%s/gateways", o.out) < 0 || hub_make_dir(path) < 0)
		goto out;
	for (size_t i = 0; i < o.nids; i++) {
		gw = (struct pki_entity){ 0 };
		snprintf(gw.cn, sizeof(gw.cn), "gw:%s:%s", o.region, o.ids[i]);
		gw.cert = (struct hub_pki_cert){ .role = HUB_PKI_CLIENT,
						 .years = LEAF_YEARS,
						 .now = now };
		if (path_fmt(gwdir, sizeof(gwdir), "%s/gateways/%s", o.out, o.ids[i]) < 0 ||
		    hub_make_dir(gwdir) < 0 ||
		    path_fmt(gw.key_path, sizeof(gw.key_path), "%s/gw.key", gwdir) < 0 ||
		    path_fmt(gw.crt_path, sizeof(gw.crt_path), "%s/gw.crt", gwdir) < 0 ||
		    pki_entity(&gw, &ca) < 0) {
			pki_entity_free(&gw);
			goto out;
		}
		printf("  gateway  %s: CN %s: %s\n", gw.crt_path, gw.cn, pki_status(&gw));
		pki_entity_free(&gw);
		if (path_fmt(path, sizeof(path), "%s/ca.crt", gwdir) < 0 ||
		    hub_write_atomic(path, ca.crt_pem, strlen(ca.crt_pem), 0644) < 0)
			goto out;
		if (o.hub_pub && (path_fmt(path, sizeof(path), "%s/hub.pub", gwdir) < 0 ||
				  copy_file(o.hub_pub, path) < 0))
			goto out;
	}

	if (provision_tiers(&o, &ca, now, &br, &nbr) < 0)
		goto out;

	/* the broker's configuration, from every gateway provisioned so far */
	if (path_fmt(path, sizeof(path), "%s/gateways", o.out) < 0 ||
	    list_gateways(path, "gw.crt", &all, &nall) < 0)
		goto out;
	if (path_fmt(path, sizeof(path), "%s/broker/mosquitto.conf", o.out) < 0 ||
	    write_broker_conf(path, o.region, o.broker_dir, (unsigned int)o.port, o.national) < 0)
		goto out;
	printf("wrote %s: listener %u, files under %s\n", path, (unsigned int)o.port, o.broker_dir);
	if (path_fmt(path, sizeof(path), "%s/broker/acl", o.out) < 0 ||
	    write_acl(path, o.region, all, nall, br, nbr) < 0)
		goto out;
	printf("wrote %s: hub, soc and %zu gateway%s\n", path, nall, nall == 1 ? "" : "s");
	printf("keep %s on the hub; copy %s/broker/ to %s on the broker and\n"
	       "%s/gateways/<id>/ to each gateway (with the bundle key's hub.pub)\n",
	       ca.key_path, o.out, o.broker_dir, o.out);
	status = EXIT_OK;
out:
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	for (size_t i = 0; i < nbr; i++)
		free(br[i]);
	free(br);
	pki_entity_free(&soc);
	pki_entity_free(&hub);
	pki_entity_free(&broker);
	pki_entity_free(&ca);
out_opts:
	free(o.gateways);
	free(o.ids);
	return status;
}

/*
 * tg-hub: the regional hub operator's tool for blocklist bundles and the
 * region's broker.
 *
 *   keygen    the hub's ECDSA P-256 signing key pair
 *   build     feeds (domain lists, hosts files, CIDR lists, STIX bundles, nDPI
 *             protocol and category names, JA3 lists) -> one signed full bundle
 *   diff      two full bundles -> the signed delta between them
 *   verify    a bundle checked the way a gateway checks it
 *   show      header, counts, and the lookup of single indicators
 *   provision the region's CA, broker, hub and gateway certificates, and the
 *             broker's mosquitto.conf and acl (tools/hub_pki.c)
 *   publish   a full bundle (and the delta from the previous one) to the broker
 *   fleet     the gateways' retained states, as a table
 *   cmd       a signed command to one gateway
 *
 * publish, fleet and cmd speak MQTT over mutual TLS (tools/hub_mqtt.c) with
 * the topics and payloads of docs/protocol.md.
 *
 * Commands live in one table (hub_cmds[]): name, arguments, handler and
 * one-line help, so `tg-hub help` cannot drift from what the tool accepts.
 *
 * Everything about bundles (layout, signing, matching) is the firmware's own
 * code (firmware/policy/bundle.c), so what `show --lookup` answers is what a
 * gateway enforces. Feed parsing is tools/feeds.c; this file only chooses
 * per-source actions, rule ids and expiries and prints what happened.
 *
 * Exit status: 0 done, 1 refused or failed (bad bundle, unreadable feed,
 * --strict with bad lines), 2 usage. Every message names the bad value.
 * Output files are written to a temporary file in the same directory,
 * fsync'ed and renamed, so a reader (the publisher, a gateway on the same
 * disk) sees the old file or the new one, never a torn one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "feeds.h"
#include "hub/cmd.h"
#include "hub_mqtt.h"
#include "hub_pki.h"
#include "policy/bundle.h"

#define PROG "tg-hub"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DAY 86400u
/* A bundle lives 30 days unless told otherwise: long enough to ride out a
 * hub outage, short enough that an abandoned gateway stops enforcing. */
#define DEFAULT_EXPIRES_DAYS 30
/* Default rule ids are RULE_BASE + the source's position (1-based). */
#define RULE_BASE 1000
/* verify: tolerance for a bundle "created in the future" (clock skew). */
#define VERIFY_SKEW_S 300
#define KEY_FILE "hub.key"
#define PUB_FILE "hub.pub"

struct hub_cmd {
	const char *name;
	const char *args; /* synopsis */
	int (*run)(const struct hub_cmd *cmd, int argc, char **argv);
	const char *help;
};

static const struct hub_cmd *hub_find(const char *name);

/* ------------------------------------------------------------ small helpers */

__attribute__((format(printf, 1, 2))) static void errf(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	/* NOLINT: clang-tidy 14 valist false positive (see log_emit() in firmware/core/log.c) */
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fputc('\n', stderr);
}

static int usage(const struct hub_cmd *cmd)
{
	fprintf(stderr, "usage: " PROG " %s %s\n", cmd->name, cmd->args);
	return EXIT_USAGE;
}

/* A whole number in [min, max], or an error naming the option and the value. */
static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *s == '+' || v < min || v > max) {
		errf("%s \"%s\": not a whole number in %" PRIu64 "..%" PRIu64, opt, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static const char *iso8601(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t)
		return "never";
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "@%" PRIu64, t);
	return buf;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/*
 * The whole file in a malloc'ed buffer with a NUL after it (PEM keys are
 * text; mbedTLS wants the terminator counted in a PEM buffer's length).
 */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	if (!f) {
		int e = errno;

		errf("%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				errf("%s: out of memory", path);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		errf("%s: cannot read: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* A key file as bundle.h wants it: PEM with its terminating NUL counted, or DER as is. */
static int read_key(const char *path, uint8_t **key, size_t *len)
{
	int ret = read_file(path, key, len);

	if (ret < 0)
		return ret;
	if (*len >= 10 && !memcmp(*key, "-----BEGIN", 10))
		(*len)++;
	return 0;
}

static void free_key(uint8_t *key, size_t len)
{
	if (key)
		explicit_bzero(key, len);
	free(key);
}

/* fsync the directory holding path, so a rename in it survives a power cut. */
static int sync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, ret = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write path atomically: temporary file in the same directory, fsync, rename, fsync dir. */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		errf("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		errf("%s: cannot create a temporary file: %s", tmp, strerror(errno));
		return ret;
	}
	ret = fchmod(fd, mode) < 0 ? -errno : 0;
	if (!ret)
		ret = write_all(fd, data, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		errf("%s: cannot write: %s", path, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	ret = sync_dir_of(path);
	if (ret < 0)
		errf("%s: written, but the directory could not be synced: %s", path, strerror(-ret));
	return ret;
}

/* A new file that must not exist yet (keys are never overwritten). */
static int write_new(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int ret;

	if (fd < 0) {
		ret = -errno;
		errf("%s: cannot create: %s", path, strerror(errno));
		return ret;
	}
	ret = write_all(fd, text, strlen(text));
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret < 0) {
		errf("%s: cannot write: %s", path, strerror(-ret));
		unlink(path);
	}
	return ret;
}

static int open_bundle(const char *path, struct bundle **b)
{
	enum bundle_err e = bundle_open_file(path, b);

	if (e != BUNDLE_OK) {
		errf("%s: refused: %s: %s", path, bundle_err_name(e), bundle_err_text(e));
		return -EINVAL;
	}
	return 0;
}

/* Entries per kind and list; a delta counts what it adds (bundle.h has no count of removals). */
static void print_counts(const struct bundle *b)
{
	printf("%-10s %8s %8s\n", bundle_is_delta(b) ? "added" : "", "block", "allow");
	for (int k = 0; k < BUNDLE_KIND_MAX; k++)
		printf("%-10s %8zu %8zu\n", bundle_kind_name((enum bundle_kind)k), bundle_count(b, (enum bundle_kind)k, false),
		       bundle_count(b, (enum bundle_kind)k, true));
}

/* ------------------------------------------------------------ keygen */

static int cmd_keygen(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = { { "out", required_argument, NULL, 'o' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	char keypath[PATH_MAX], pubpath[PATH_MAX];
	char *priv = NULL, *pub = NULL;
	const char *dir = NULL;
	struct stat st;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'o')
			dir = optarg;
		else
			return usage(cmd);
	}
	if (!dir || optind != argc)
		return usage(cmd);
	if ((size_t)snprintf(keypath, sizeof(keypath), "%s/" KEY_FILE, dir) >= sizeof(keypath) ||
	    (size_t)snprintf(pubpath, sizeof(pubpath), "%s/" PUB_FILE, dir) >= sizeof(pubpath)) {
		errf("--out \"%s\": path too long", dir);
		return EXIT_USAGE;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		errf("%s: cannot create: %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	if (!stat(keypath, &st) || !stat(pubpath, &st)) {
		errf("%s: a hub key already exists there; refusing to overwrite it", dir);
		return EXIT_FAIL;
	}
	ret = bundle_keygen(&priv, &pub);
	if (ret < 0) {
		errf("cannot generate a key pair: %s", strerror(-ret));
		return EXIT_FAIL;
	}
	ret = write_new(keypath, priv, 0600);
	if (!ret) {
		ret = write_new(pubpath, pub, 0644);
		if (ret < 0)
			unlink(keypath);
	}
	if (!ret)
		ret = sync_dir_of(keypath);
	explicit_bzero(priv, strlen(priv));
	free(priv);
	free(pub);
	if (ret < 0)
		return EXIT_FAIL;
	printf("wrote %s (private: keep it on the hub, mode 0600)\n", keypath);
	printf("wrote %s (install it on every gateway of the region)\n", pubpath);
	return EXIT_OK;
}

/* ------------------------------------------------------------ build */

struct source {
	const char *spec; /* the argument, for messages */
	char *buf;        /* a copy of spec, cut into pieces */
	char *path;       /* in buf */
	enum feed_format fmt;
	uint8_t action;
	bool allow;
	bool exact;
	uint64_t ttl_days; /* 0: none */
	uint32_t rule;
	/* results */
	size_t entries, bad, warnings;
};

static const char source_options[] = "action=block|alert|allow, ttl=DAYS, rule=ID, exact";

static void source_list_formats(char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < FEED_FORMAT_MAX && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
				      feed_format_name((enum feed_format)i));
}

/* FORMAT:PATH[,action=block|alert|allow][,ttl=DAYS][,rule=ID][,exact] */
static int source_parse(const char *arg, unsigned int pos, struct source *s)
{
	char *copy = strdup(arg), *colon, *opt, *next;
	char formats[128];
	uint64_t v;
	int fmt;

	if (!copy)
		return -ENOMEM;
	*s = (struct source){
		.spec = arg, .buf = copy, .action = BUNDLE_ACT_BLOCK, .rule = RULE_BASE + pos
	};
	colon = strchr(copy, ':');
	source_list_formats(formats, sizeof(formats));
	if (!colon) {
		errf("source \"%s\": expected FORMAT:PATH (FORMAT: %s)", arg, formats);
		return -EINVAL;
	}
	*colon = '\0';
	fmt = feed_format_from_name(copy);
	if (fmt < 0) {
		errf("source \"%s\": unknown format \"%s\" (%s)", arg, copy, formats);
		return -EINVAL;
	}
	s->fmt = (enum feed_format)fmt;
	s->path = colon + 1;
	opt = strchr(s->path, ',');
	if (opt)
		*opt++ = '\0';
	if (!*s->path) {
		errf("source \"%s\": no path", arg);
		return -EINVAL;
	}
	for (; opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!strncmp(opt, "action=", 7)) {
			const char *a = opt + 7;

			if (!strcmp(a, "block")) {
				s->action = BUNDLE_ACT_BLOCK;
			} else if (!strcmp(a, "alert")) {
				s->action = BUNDLE_ACT_ALERT;
			} else if (!strcmp(a, "allow")) {
				s->action = BUNDLE_ACT_ALLOW;
				s->allow = true;
			} else {
				errf("source \"%s\": action \"%s\" is not block, alert or allow", arg,
				     a);
				return -EINVAL;
			}
		} else if (!strncmp(opt, "ttl=", 4)) {
			if (parse_u64("ttl", opt + 4, 1, 36500, &v) < 0)
				return -EINVAL;
			s->ttl_days = v;
		} else if (!strncmp(opt, "rule=", 5)) {
			if (parse_u64("rule", opt + 5, 1, UINT32_MAX, &v) < 0)
				return -EINVAL;
			s->rule = (uint32_t)v;
		} else if (!strcmp(opt, "exact")) {
			if (s->fmt != FEED_DOMAINS && s->fmt != FEED_HOSTS && s->fmt != FEED_STIX) {
				errf("source \"%s\": exact applies to domains, hosts and stix sources",
				     arg);
				return -EINVAL;
			}
			s->exact = true;
		} else {
			errf("source \"%s\": unknown option \"%s\" (%s)", arg, opt, source_options);
			return -EINVAL;
		}
	}
	return 0;
}

struct build_ctx {
	struct bundle_builder *bb;
	struct source *src;
	uint64_t created;
};

/* The indicator as text, for a message about it. */
static void indicator_text(const struct feed_indicator *ind, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	switch (ind->kind) {
	case BUNDLE_IPV4:
	case BUNDLE_IPV6:
		inet_ntop(ind->family, ind->addr, addr, sizeof(addr));
		snprintf(buf, size, "%s/%u", addr, ind->prefix_len);
		break;
	case BUNDLE_JA3:
		if (size > 2 * sizeof(ind->md5))
			hex(ind->md5, sizeof(ind->md5), buf);
		break;
	default:
		snprintf(buf, size, "%s", ind->name);
		break;
	}
}

static int build_indicator(const struct feed_indicator *ind, void *ctx)
{
	struct build_ctx *bc = ctx;
	struct source *s = bc->src;
	struct bundle_meta m = { .rule = s->rule, .action = s->action };
	uint64_t expires = ind->expires;
	char text[BUNDLE_NAME_MAX + 1];
	int ret;

	/* the earlier of the source's TTL and the indicator's own end */
	if (s->ttl_days) {
		uint64_t t = bc->created + s->ttl_days * DAY;

		if (!expires || t < expires)
			expires = t;
	}
	/* the format counts seconds in 32 bits: past 2106 is as good as never */
	m.expires = expires > UINT32_MAX ? 0 : (uint32_t)expires;
	switch (ind->kind) {
	case BUNDLE_IPV4:
	case BUNDLE_IPV6:
		ret = bundle_builder_add_ip(bc->bb, ind->family, ind->addr, ind->prefix_len, s->allow,
					    &m);
		break;
	case BUNDLE_DOMAIN:
		if (s->exact || ind->exact)
			m.flags |= BUNDLE_F_EXACT;
		ret = bundle_builder_add_domain(bc->bb, ind->name, s->allow, &m);
		break;
	case BUNDLE_PROTO:
	case BUNDLE_CATEGORY:
		ret = bundle_builder_add_name(bc->bb, ind->kind, ind->name, s->allow, &m);
		break;
	case BUNDLE_JA3:
		ret = bundle_builder_add_ja3(bc->bb, ind->md5, s->allow, &m);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret == -EINVAL) {
		/* the parser accepted it, the bundle did not: still a bad line */
		indicator_text(ind, text, sizeof(text));
		fprintf(stderr, "%s:%u: \"%s\": refused by the bundle builder\n", s->path, ind->line,
			text);
		s->bad++;
		return 0;
	}
	if (ret < 0)
		return ret;
	s->entries++;
	return 0;
}

static void build_report(enum feed_severity sev, const char *file, unsigned int line,
			 const char *msg, void *ctx)
{
	struct build_ctx *bc = ctx;

	if (line)
		fprintf(stderr, "%s:%u: %s%s\n", file, line, sev == FEED_WARNING ? "warning: " : "",
			msg);
	else
		fprintf(stderr, "%s: %s%s\n", file, sev == FEED_WARNING ? "warning: " : "", msg);
	if (sev == FEED_WARNING)
		bc->src->warnings++;
	else
		bc->src->bad++;
}

static bool region_valid(const char *r)
{
	size_t n = strlen(r);

	return n && n <= BUNDLE_REGION_MAX && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

struct build_opts {
	const char *key, *region, *out;
	uint64_t serial, created, expires, expires_in;
	bool has_expires, has_expires_in, strict;
};

enum {
	OPT_KEY = 256,
	OPT_REGION,
	OPT_SERIAL,
	OPT_EXPIRES_IN,
	OPT_EXPIRES,
	OPT_CREATED,
	OPT_STRICT,
	OPT_OUT,
	OPT_PUB,
	OPT_IN_FORCE,
	OPT_NOW,
	OPT_LOOKUP,
	OPT_HELP,
	/* provision */
	OPT_BROKER_HOST,
	OPT_BROKER_IP,
	OPT_BROKER_DIR,
	OPT_PORT,
	OPT_GATEWAYS,
	OPT_HUB_PUB,
	/* publish, fleet, cmd */
	OPT_BROKER,
	OPT_CAFILE,
	OPT_CERT,
	OPT_TIMEOUT,
	OPT_PREVIOUS,
	OPT_SIGN_KEY,
	OPT_WAIT,
	OPT_JSON,
	OPT_GATEWAY,
};

static int build_parse_opts(const struct hub_cmd *cmd, int argc, char **argv,
			    struct build_opts *o)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "serial", required_argument, NULL, OPT_SERIAL },
		{ "expires-in", required_argument, NULL, OPT_EXPIRES_IN },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "created", required_argument, NULL, OPT_CREATED },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	int c;

	*o = (struct build_opts){ .created = (uint64_t)time(NULL),
				  .expires_in = DEFAULT_EXPIRES_DAYS };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_REGION:
			o->region = optarg;
			break;
		case OPT_SERIAL:
			if (parse_u64("--serial", optarg, 1, UINT64_MAX, &o->serial) < 0)
				return EXIT_USAGE;
			break;
		case OPT_EXPIRES_IN:
			if (parse_u64("--expires-in", optarg, 1, 36500, &o->expires_in) < 0)
				return EXIT_USAGE;
			o->has_expires_in = true;
			break;
		case OPT_EXPIRES:
			if (parse_u64("--expires", optarg, 1, UINT64_MAX, &o->expires) < 0)
				return EXIT_USAGE;
			o->has_expires = true;
			break;
		case OPT_CREATED:
			if (parse_u64("--created", optarg, 1, UINT32_MAX, &o->created) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		default:
			return usage(cmd);
		}
	}
	if (!o->key || !o->region || !o->serial || !o->out) {
		errf("build: --key, --region, --serial and --out are required");
		return usage(cmd);
	}
	if (optind == argc) {
		errf("build: no SOURCE given");
		return usage(cmd);
	}
	if (o->has_expires && o->has_expires_in) {
		errf("build: --expires and --expires-in exclude each other");
		return usage(cmd);
	}
	if (!region_valid(o->region)) {
		errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", o->region,
		     BUNDLE_REGION_MAX);
		return EXIT_USAGE;
	}
	if (!o->has_expires)
		o->expires = o->created + o->expires_in * DAY;
	if (o->expires <= o->created) {
		errf("--expires %" PRIu64 ": not after the creation time %" PRIu64, o->expires,
		     o->created);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void build_summary(const struct build_opts *o, const struct source *src, size_t nsrc,
			  const struct bundle_builder *bb, const struct bundle *b, size_t len)
{
	size_t bad = 0, warnings = 0;
	char t1[32], t2[32], sha[65];
	uint8_t digest[32];

	printf("wrote %s: region %s, serial %" PRIu64 ", full bundle, %zu bytes\n", o->out,
	       o->region, o->serial, len);
	printf("created %s, expires %s\n", iso8601(o->created, t1, sizeof(t1)),
	       iso8601(o->expires, t2, sizeof(t2)));
	for (size_t i = 0; i < nsrc; i++) {
		printf("source %zu %s: rule %" PRIu32 ", %s%s, %zu entries, %zu bad lines", i + 1,
		       src[i].spec, src[i].rule, bundle_action_name(src[i].action),
		       src[i].exact ? ", exact" : "", src[i].entries, src[i].bad);
		if (src[i].warnings)
			printf(", %zu warnings", src[i].warnings);
		printf("\n");
		bad += src[i].bad;
		warnings += src[i].warnings;
	}
	print_counts(b);
	printf("bad lines %zu (skipped), warnings %zu, duplicates replaced %zu\n", bad, warnings,
	       bundle_builder_replaced(bb));
	bundle_sha256(b, digest);
	hex(digest, sizeof(digest), sha);
	printf("sha256 %s\n", sha);
}

static int cmd_build(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct build_opts o;
	struct source *src = NULL;
	struct bundle_builder *bb = NULL;
	struct bundle *b = NULL;
	struct bundle_info info = { 0 };
	uint8_t *key = NULL, *out = NULL;
	size_t keylen = 0, outlen = 0, nsrc = 0, bad = 0;
	int ret, status = EXIT_FAIL;
	enum bundle_err e;

	ret = build_parse_opts(cmd, argc, argv, &o);
	if (ret != EXIT_OK)
		return ret;
	src = calloc((size_t)(argc - optind), sizeof(*src));
	if (!src) {
		errf("out of memory");
		return EXIT_FAIL;
	}
	for (int i = optind; i < argc; i++, nsrc++) {
		if (source_parse(argv[i], (unsigned int)nsrc + 1, &src[nsrc]) < 0) {
			nsrc++;
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (read_key(o.key, &key, &keylen) < 0)
		goto out;
	bb = bundle_builder_new();
	if (!bb) {
		errf("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsrc; i++) {
		struct build_ctx bc = { .bb = bb, .src = &src[i], .created = o.created };
		struct feed_sink sink = { .indicator = build_indicator,
					  .report = build_report,
					  .ctx = &bc,
					  .now = o.created };
		FILE *f = fopen(src[i].path, "r");

		if (!f) {
			errf("%s: cannot open: %s", src[i].path, strerror(errno));
			goto out;
		}
		ret = feed_parse(src[i].fmt, f, src[i].path, &sink);
		fclose(f);
		if (ret == -EINVAL) {
			errf("%s: not usable as a %s feed; no bundle written", src[i].path,
			     feed_format_name(src[i].fmt));
			goto out;
		}
		if (ret < 0) {
			errf("%s: %s", src[i].path, strerror(-ret));
			goto out;
		}
		bad += src[i].bad;
	}
	if (o.strict && bad) {
		errf("%zu bad line%s and --strict: no bundle written", bad, bad == 1 ? "" : "s");
		goto out;
	}
	snprintf(info.region, sizeof(info.region), "%s", o.region);
	info.serial = o.serial;
	info.created = o.created;
	info.expires = o.expires;
	ret = bundle_build(bb, &info, key, keylen, &out, &outlen);
	if (ret < 0) {
		errf("cannot build the bundle: %s", strerror(-ret));
		goto out;
	}
	/* read back what was built: the counts printed are the file's own */
	e = bundle_open_mem(out, outlen, &b);
	if (e != BUNDLE_OK) {
		errf("the bundle just built does not open: %s: %s", bundle_err_name(e),
		     bundle_err_text(e));
		goto out;
	}
	if (write_atomic(o.out, out, outlen, 0644) < 0)
		goto out;
	build_summary(&o, src, nsrc, bb, b, outlen);
	status = EXIT_OK;
out:
	bundle_close(b);
	free(out);
	bundle_builder_free(bb);
	free_key(key, keylen);
	for (size_t i = 0; i < nsrc; i++)
		free(src[i].buf);
	free(src);
	return status;
}

/* ------------------------------------------------------------ diff */

/*
 * The signed delta from full bundle old_b (read from old_path) to new_b: the
 * one code path of `diff` and `publish --previous`. Checks that both are
 * full bundles of one region and that NEW is newer, then opens the delta it
 * made, as a gateway would, before handing it out. *out is malloc'ed.
 */
static int make_delta(const char *old_path, const struct bundle *old_b, const char *new_path,
		      const struct bundle *new_b, const char *keypath, uint8_t **out,
		      size_t *outlen)
{
	const struct bundle_info *oi = bundle_get_info(old_b), *ni = bundle_get_info(new_b);
	struct bundle *delta = NULL;
	uint8_t *key = NULL;
	size_t keylen = 0;
	enum bundle_err e;
	int ret;

	*out = NULL;
	if (bundle_is_delta(old_b) || bundle_is_delta(new_b)) {
		errf("%s: a delta; a delta is made from two full bundles",
		     bundle_is_delta(old_b) ? old_path : new_path);
		return -EINVAL;
	}
	if (strcmp(oi->region, ni->region) != 0) {
		errf("%s is for region %s, %s for region %s", old_path, oi->region, new_path,
		     ni->region);
		return -EINVAL;
	}
	if (ni->serial <= oi->serial) {
		errf("%s has serial %" PRIu64 ", not newer than %s (serial %" PRIu64 ")", new_path,
		     ni->serial, old_path, oi->serial);
		return -EINVAL;
	}
	ret = read_key(keypath, &key, &keylen);
	if (ret < 0)
		return ret;
	ret = bundle_diff(old_b, new_b, key, keylen, out, outlen);
	free_key(key, keylen);
	if (ret < 0) {
		errf("cannot make the delta from %s to %s: %s", old_path, new_path, strerror(-ret));
		return ret;
	}
	e = bundle_open_mem(*out, *outlen, &delta);
	bundle_close(delta);
	if (e != BUNDLE_OK) {
		errf("the delta just made does not open: %s: %s", bundle_err_name(e),
		     bundle_err_text(e));
		free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

static int cmd_diff(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, NULL, OPT_KEY },
					      { "out", required_argument, NULL, OPT_OUT },
					      { "help", no_argument, NULL, OPT_HELP },
					      { 0 } };
	const char *keypath = NULL, *outpath = NULL;
	struct bundle *old_b = NULL, *new_b = NULL;
	const struct bundle_info *oi, *ni;
	uint8_t *out = NULL;
	size_t outlen = 0, fulllen = 0;
	int c, status = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == OPT_KEY)
			keypath = optarg;
		else if (c == OPT_OUT)
			outpath = optarg;
		else
			return usage(cmd);
	}
	if (!keypath || !outpath || argc - optind != 2)
		return usage(cmd);
	if (open_bundle(argv[optind], &old_b) < 0 || open_bundle(argv[optind + 1], &new_b) < 0)
		goto out;
	if (make_delta(argv[optind], old_b, argv[optind + 1], new_b, keypath, &out, &outlen) < 0)
		goto out;
	if (write_atomic(outpath, out, outlen, 0644) < 0)
		goto out;
	oi = bundle_get_info(old_b);
	ni = bundle_get_info(new_b);
	bundle_data(new_b, &fulllen);
	printf("wrote %s: region %s, delta from serial %" PRIu64 " to %" PRIu64
	       ", %zu bytes (full bundle %zu bytes)\n",
	       outpath, ni->region, oi->serial, ni->serial, outlen, fulllen);
	status = EXIT_OK;
out:
	bundle_close(old_b);
	bundle_close(new_b);
	free(out);
	return status;
}

/* ------------------------------------------------------------ verify */

static int cmd_verify(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pub", required_argument, NULL, OPT_PUB },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "serial-in-force", required_argument, NULL, OPT_IN_FORCE },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	const char *pubpath = NULL, *region = NULL, *path;
	uint64_t in_force = 0, now = (uint64_t)time(NULL);
	const struct bundle_info *info;
	struct bundle *b = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	enum bundle_err e;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PUB:
			pubpath = optarg;
			break;
		case OPT_REGION:
			region = optarg;
			break;
		case OPT_IN_FORCE:
			if (parse_u64("--serial-in-force", optarg, 0, UINT64_MAX, &in_force) < 0)
				return EXIT_USAGE;
			break;
		case OPT_NOW:
			if (parse_u64("--now", optarg, 0, UINT64_MAX, &now) < 0)
				return EXIT_USAGE;
			break;
		default:
			return usage(cmd);
		}
	}
	if (!pubpath || argc - optind != 1)
		return usage(cmd);
	path = argv[optind];
	if (read_key(pubpath, &pub, &publen) < 0)
		return EXIT_FAIL;
	e = bundle_open_file(path, &b);
	if (e == BUNDLE_OK) {
		info = bundle_get_info(b);
		if (!bundle_is_delta(b)) {
			/* the gateway's own acceptance rules, in the gateway's order */
			e = bundle_check(b, pub, publen, region ? region : info->region, in_force,
					 now, VERIFY_SKEW_S);
		} else {
			/* a delta is applied, not installed: signature, region, base */
			e = bundle_verify(b, pub, publen);
			if (e == BUNDLE_OK && region && strcmp(region, info->region) != 0)
				e = BUNDLE_ERR_REGION;
			if (e == BUNDLE_OK && in_force && info->base_serial != in_force)
				e = BUNDLE_ERR_BASE;
		}
	}
	free(pub);
	if (e != BUNDLE_OK) {
		errf("%s: refused: %s: %s", path, bundle_err_name(e), bundle_err_text(e));
		bundle_close(b);
		return EXIT_FAIL;
	}
	if (bundle_is_delta(b))
		printf("ok %s: region %s, delta %" PRIu64 " -> %" PRIu64 ", signature good\n", path,
		       info->region, info->base_serial, info->serial);
	else
		printf("ok %s: region %s, serial %" PRIu64 ", full bundle, signature good\n", path,
		       info->region, info->serial);
	bundle_close(b);
	return EXIT_OK;
}

/* ------------------------------------------------------------ show */

struct name_lookup {
	const char *name;
	uint64_t now;
	bool found[2]; /* block, allow */
	struct bundle_meta meta[2];
};

static void name_lookup_fn(const char *name, const struct bundle_meta *meta, bool allow, void *ctx)
{
	struct name_lookup *nl = ctx;

	/* nDPI names are case-insensitive; expired entries no longer match */
	if (strcasecmp(name, nl->name) != 0 || (meta->expires && meta->expires <= nl->now))
		return;
	nl->found[allow] = true;
	nl->meta[allow] = *meta;
}

static void print_match(const char *list, bool found, const struct bundle_meta *meta,
			const char *what)
{
	char t[32];

	if (!found) {
		printf("  %s list: no match\n", list);
		return;
	}
	printf("  %s list: rule %" PRIu32 ", action %s, expires %s%s%s\n", list, meta->rule,
	       bundle_action_name(meta->action), iso8601(meta->expires, t, sizeof(t)), what[0] ? ", " : "",
	       what);
}

/* What a match covered: the suffix or prefix, for the operator to see why. */
static void match_what(enum bundle_kind kind, const char *name, const struct bundle_match *m,
		       char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	size_t n;

	buf[0] = '\0';
	switch (kind) {
	case BUNDLE_IPV4:
	case BUNDLE_IPV6:
		inet_ntop(kind == BUNDLE_IPV4 ? AF_INET : AF_INET6, m->addr, addr, sizeof(addr));
		snprintf(buf, size, "prefix %s/%u", addr, m->prefix_len);
		break;
	case BUNDLE_DOMAIN:
		name += m->name_off;
		n = strlen(name);
		if (n && name[n - 1] == '.')
			n--;
		snprintf(buf, size, "%s %.*s",
			 m->meta.flags & BUNDLE_F_EXACT ? "exact name" : "suffix", (int)n, name);
		break;
	default:
		break;
	}
}

static int parse_md5(const char *s, uint8_t md5[16])
{
	if (strlen(s) != 32 || strspn(s, "0123456789abcdefABCDEF") != 32)
		return -EINVAL;
	for (size_t i = 0; i < 16; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		md5[i] = (uint8_t)v;
	}
	return 0;
}

/*
 * One --lookup: an IPv4 or IPv6 address, a JA3 md5 (32 hex digits, or
 * ja3:HASH), proto:NAME, category:NAME, or else a domain name. Block list
 * then allow list; an allow match overrides a block or alert match of the
 * same kind, as on the gateway.
 */
static int show_lookup(const struct bundle *b, const char *q, uint64_t now)
{
	struct bundle_match m[2];
	struct name_lookup nl = { .now = now };
	enum bundle_kind kind;
	uint8_t addr[16], md5[16];
	char what[2][BUNDLE_NAME_MAX + 32];
	bool found[2];
	const char *verdict;

	memset(m, 0, sizeof(m));
	if (!strncmp(q, "proto:", 6) || !strncmp(q, "category:", 9)) {
		kind = q[0] == 'p' ? BUNDLE_PROTO : BUNDLE_CATEGORY;
		nl.name = strchr(q, ':') + 1;
		bundle_foreach_name(b, kind, name_lookup_fn, &nl);
		for (int a = 0; a < 2; a++) {
			found[a] = nl.found[a];
			m[a].meta = nl.meta[a];
		}
	} else if (inet_pton(AF_INET, q, addr) == 1) {
		kind = BUNDLE_IPV4;
		for (int a = 0; a < 2; a++)
			found[a] = bundle_lookup_ipv4(b, addr, now, a, &m[a]);
	} else if (inet_pton(AF_INET6, q, addr) == 1) {
		kind = BUNDLE_IPV6;
		for (int a = 0; a < 2; a++)
			found[a] = bundle_lookup_ipv6(b, addr, now, a, &m[a]);
	} else if (parse_md5(!strncmp(q, "ja3:", 4) ? q + 4 : q, md5) == 0) {
		kind = BUNDLE_JA3;
		for (int a = 0; a < 2; a++)
			found[a] = bundle_lookup_ja3(b, md5, now, a, &m[a]);
	} else if (strchr(q, '/') || strchr(q, ':')) {
		errf("--lookup \"%s\": not an address, a domain, a JA3 md5, proto:NAME or "
		     "category:NAME (one address, not a prefix)",
		     q);
		return -EINVAL;
	} else {
		size_t len = strlen(q);

		if (!len || len > BUNDLE_NAME_MAX + 1) {
			errf("--lookup \"%s\": not a domain name (1..%d characters)", q,
			     BUNDLE_NAME_MAX);
			return -EINVAL;
		}
		kind = BUNDLE_DOMAIN;
		for (int a = 0; a < 2; a++)
			found[a] = bundle_lookup_domain(b, q, len, now, a, &m[a]);
	}
	for (int a = 0; a < 2; a++)
		match_what(kind, q, &m[a], what[a], sizeof(what[a]));
	if (found[1])
		verdict = "allow";
	else if (found[0])
		verdict = bundle_action_name(m[0].meta.action);
	else
		verdict = "no match";
	printf("lookup %s (%s): %s\n", q, bundle_kind_name(kind), verdict);
	print_match("block", found[0], &m[0].meta, what[0]);
	print_match("allow", found[1], &m[1].meta, what[1]);
	return 0;
}

static int cmd_show(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = { { "lookup", required_argument, NULL, OPT_LOOKUP },
					      { "now", required_argument, NULL, OPT_NOW },
					      { "help", no_argument, NULL, OPT_HELP },
					      { 0 } };
	const char **lookups = NULL;
	size_t nlookups = 0, len;
	uint64_t now = (uint64_t)time(NULL);
	const struct bundle_info *info;
	struct bundle *b = NULL;
	char t1[32], t2[32], sha[65];
	uint8_t digest[32];
	int c, status = EXIT_OK;

	lookups = calloc((size_t)argc, sizeof(*lookups));
	if (!lookups)
		return EXIT_FAIL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == OPT_LOOKUP) {
			lookups[nlookups++] = optarg;
		} else if (c == OPT_NOW) {
			if (parse_u64("--now", optarg, 0, UINT64_MAX, &now) < 0) {
				free(lookups);
				return EXIT_USAGE;
			}
		} else {
			free(lookups);
			return usage(cmd);
		}
	}
	if (argc - optind != 1) {
		free(lookups);
		return usage(cmd);
	}
	if (open_bundle(argv[optind], &b) < 0) {
		free(lookups);
		return EXIT_FAIL;
	}
	info = bundle_get_info(b);
	bundle_data(b, &len);
	bundle_sha256(b, digest);
	hex(digest, sizeof(digest), sha);
	printf("file     %s\n", argv[optind]);
	printf("region   %s\n", info->region);
	printf("serial   %" PRIu64 "\n", info->serial);
	if (bundle_is_delta(b))
		printf("type     delta (base %" PRIu64 ")\n", info->base_serial);
	else
		printf("type     full\n");
	printf("created  %s\n", iso8601(info->created, t1, sizeof(t1)));
	printf("expires  %s\n", iso8601(info->expires, t2, sizeof(t2)));
	printf("size     %zu bytes\n", len);
	printf("sha256   %s\n", sha);
	print_counts(b);
	for (size_t i = 0; i < nlookups; i++) {
		if (bundle_is_delta(b)) {
			errf("--lookup \"%s\": %s is a delta; look up in a full bundle", lookups[i],
			     argv[optind]);
			status = EXIT_FAIL;
			break;
		}
		if (show_lookup(b, lookups[i], now) < 0)
			status = EXIT_USAGE;
	}
	bundle_close(b);
	free(lookups);
	return status;
}

/* ------------------------------------------------------------ provision */

/*
 * The region's PKI and broker configuration in one directory:
 *
 *   DIR/ca.key ca.crt                 the region's CA (the key never leaves the hub)
 *   DIR/broker/                       copy to the broker: broker.key broker.crt ca.crt
 *                                     mosquitto.conf acl
 *   DIR/hub/hub-client.key .crt       the hub's MQTT identity (publish, fleet, cmd)
 *   DIR/gateways/<id>/                copy to gateway <id>: gw.key gw.crt ca.crt [hub.pub]
 *
 * Re-running it keeps every key and certificate already there (after checking
 * it against the CA), adds what is missing, and rewrites mosquitto.conf and
 * acl from the gateways present, so adding a gateway is one more run.
 */
#define CA_YEARS 10
#define LEAF_YEARS 2
/* ub-common-name: "gw:<region>:<id>" must fit a certificate's CN */
#define CN_MAX 64
#define GW_ID_MAX 63

/* A gateway id as the firmware takes it ([gateway] id): 1..63 of a-z, 0-9, '-'. */
static bool gw_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n && n <= GW_ID_MAX && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool host_name_valid(const char *h)
{
	size_t n = strlen(h);

	return n && n <= 253 && h[0] != '-' && h[0] != '.' &&
	       strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int make_dir(const char *path)
{
	int e;

	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	e = errno;
	errf("%s: cannot create: %s", path, strerror(e));
	return -e;
}

__attribute__((format(printf, 3, 4))) static int path_fmt(char *buf, size_t size,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errf("%s...: path too long", buf);
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

	if (exists(e->key_path)) {
		ret = read_file(e->key_path, &buf, &len);
		if (ret < 0)
			return ret;
		ret = hub_pki_key_parse((const char *)buf, len, &e->key);
		free_key(buf, len);
		if (ret < 0)
			errf("%s: not an EC P-256 private key in PEM", e->key_path);
		return ret;
	}
	ret = hub_pki_key_new(&e->key, &pem);
	if (ret < 0) {
		errf("%s: cannot generate a key: %s", e->key_path, strerror(-ret));
		return ret;
	}
	ret = write_new(e->key_path, pem, 0600);
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
	if (exists(e->crt_path)) {
		ret = read_file(e->crt_path, &buf, &len);
		if (ret < 0)
			return ret;
		e->crt_pem = (char *)buf;
		ret = hub_pki_check(e->crt_pem, len, ca ? ca->crt_pem : e->crt_pem,
				    ca ? strlen(ca->crt_pem) : len, e->cn, e->key, why, sizeof(why));
		if (ret < 0 && !ca)
			errf("%s: %s (key %s); a CA is kept, never replaced: give another --out "
			     "to start another one",
			     e->crt_path, why, e->key_path);
		else if (ret < 0)
			errf("%s: %s (key %s); move it away to issue a new one", e->crt_path, why,
			     e->key_path);
		return ret;
	}
	ret = hub_pki_issue(&e->cert, e->key, ca ? ca->key : e->key, ca ? ca->cn : e->cn,
			    &e->crt_pem);
	if (ret < 0) {
		errf("%s: cannot issue a certificate for CN \"%s\": %s", e->crt_path, e->cn,
		     strerror(-ret));
		return ret;
	}
	ret = write_atomic(e->crt_path, e->crt_pem, strlen(e->crt_pem), 0644);
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

/* The gateways provisioned in DIR/gateways (a directory with a gw.crt), sorted. */
static int list_gateways(const char *dir, char ***out, size_t *n)
{
	char path[PATH_MAX], **ids = NULL, **nids;
	const struct dirent *de;
	size_t cap = 0;
	DIR *d = opendir(dir);

	*n = 0;
	*out = NULL;
	if (!d) {
		int e = errno;

		errf("%s: cannot open: %s", dir, strerror(e));
		return -e;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/gw.crt", dir, de->d_name) >=
			    sizeof(path) ||
		    !exists(path))
			continue;
		if (!gw_id_valid(de->d_name)) {
			errf("warning: %s/%s: not a gateway id (a-z, 0-9, '-'); left out of the acl",
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
	errf("out of memory");
	return -ENOMEM;
}

/*
 * mosquitto.conf for the region's broker. Paths are where the files will be
 * on the broker (--broker-dir). One listener, TLS only, every client with a
 * certificate from the region's CA, its CN as its user name for the acl.
 */
static int write_broker_conf(const char *path, const char *region, const char *bdir,
			     unsigned int port)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f) {
		errf("out of memory");
		return -ENOMEM;
	}
	fprintf(f,
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
		"tls_version tlsv1.2\n",
		region, bdir, bdir, bdir, region, region, port, bdir, bdir, bdir);
	if (fclose(f) != 0) {
		free(text);
		errf("out of memory");
		return -ENOMEM;
	}
	ret = write_atomic(path, text, len, 0644);
	free(text);
	return ret;
}

/* The acl of docs/protocol.md: per identity, and nothing else for anyone. */
static int write_acl(const char *path, const char *region, char **ids, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f) {
		errf("out of memory");
		return -ENOMEM;
	}
	fprintf(f,
		"# townguard region %s: Mosquitto acl, written by tg-hub provision\n"
		"# (docs/protocol.md). The hub publishes bundles and commands and reads\n"
		"# the gateways' topics; a gateway reads its region's bundles and its own\n"
		"# commands, and writes only its own topics. Nothing else, for anyone.\n"
		"\n"
		"user hub:%s\n"
		"topic write tg/v1/%s/bundle/#\n"
		"topic write tg/v1/%s/gw/+/cmd\n"
		"topic read tg/v1/%s/gw/#\n",
		region, region, region, region, region);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"\n"
			"user gw:%s:%s\n"
			"topic read tg/v1/%s/bundle/#\n"
			"topic read tg/v1/%s/gw/%s/cmd\n"
			"topic write tg/v1/%s/gw/%s/#\n",
			region, ids[i], region, region, ids[i], region, ids[i]);
	if (fclose(f) != 0) {
		free(text);
		errf("out of memory");
		return -ENOMEM;
	}
	ret = write_atomic(path, text, len, 0644);
	free(text);
	return ret;
}

/* Copy a small text file (a certificate, hub.pub) into place. */
static int copy_file(const char *from, const char *to)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = read_file(from, &buf, &len);

	if (ret < 0)
		return ret;
	ret = write_atomic(to, buf, len, 0644);
	free(buf);
	return ret;
}

struct provision_opts {
	const char *out, *region, *broker_host, *broker_ip, *broker_dir, *hub_pub;
	char *gateways; /* a copy of --gateways, cut at the commas */
	char **ids;
	size_t nids;
	uint64_t port;
	uint8_t ip[16];
	size_t ip_len;
	bool host_is_ip;
};

static int provision_parse_ids(struct provision_opts *o, const char *arg)
{
	char *tok, *save = NULL;

	o->nids = 0;
	o->gateways = strdup(arg);
	o->ids = calloc(strlen(arg) / 2 + 1, sizeof(*o->ids));
	if (!o->gateways || !o->ids) {
		errf("out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(o->gateways, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!gw_id_valid(tok)) {
			errf("--gateways: \"%s\": not a gateway id (1..%d of a-z, 0-9, '-')", tok,
			     GW_ID_MAX);
			return -EINVAL;
		}
		if (strlen(o->region) + strlen(tok) + 4 > CN_MAX) {
			errf("--gateways: \"%s\": gw:%s:%s is longer than the %d characters of a "
			     "certificate's CN",
			     tok, o->region, tok, CN_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < o->nids; i++) {
			if (!strcmp(o->ids[i], tok)) {
				errf("--gateways: \"%s\" is listed twice", tok);
				return -EINVAL;
			}
		}
		o->ids[o->nids++] = tok;
	}
	return 0;
}

static int provision_parse_opts(const struct hub_cmd *cmd, int argc, char **argv,
				struct provision_opts *o)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "broker-host", required_argument, NULL, OPT_BROKER_HOST },
		{ "broker-ip", required_argument, NULL, OPT_BROKER_IP },
		{ "broker-dir", required_argument, NULL, OPT_BROKER_DIR },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "gateways", required_argument, NULL, OPT_GATEWAYS },
		{ "hub-pub", required_argument, NULL, OPT_HUB_PUB },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	const char *gateways = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_REGION:
			o->region = optarg;
			break;
		case OPT_BROKER_HOST:
			o->broker_host = optarg;
			break;
		case OPT_BROKER_IP:
			o->broker_ip = optarg;
			break;
		case OPT_BROKER_DIR:
			o->broker_dir = optarg;
			break;
		case OPT_PORT:
			if (parse_u64("--port", optarg, 1, 65535, &o->port) < 0)
				return EXIT_USAGE;
			break;
		case OPT_GATEWAYS:
			gateways = optarg;
			break;
		case OPT_HUB_PUB:
			o->hub_pub = optarg;
			break;
		default:
			return usage(cmd);
		}
	}
	if (!o->out || !o->region || !o->broker_host || optind != argc) {
		errf("provision: --out, --region and --broker-host are required");
		return usage(cmd);
	}
	if (!region_valid(o->region) || strlen(o->region) + 6 > CN_MAX) {
		errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", o->region,
		     BUNDLE_REGION_MAX);
		return EXIT_USAGE;
	}
	/* a broker known by its address only: the address goes into the IP SAN */
	if (inet_pton(AF_INET, o->broker_host, o->ip) == 1 ||
	    inet_pton(AF_INET6, o->broker_host, o->ip) == 1) {
		if (o->broker_ip && strcmp(o->broker_ip, o->broker_host) != 0) {
			errf("--broker-host \"%s\" is an address: --broker-ip \"%s\" is for a "
			     "broker with a host name",
			     o->broker_host, o->broker_ip);
			return EXIT_USAGE;
		}
		o->broker_ip = o->broker_host;
		o->host_is_ip = true;
	} else if (!host_name_valid(o->broker_host)) {
		errf("--broker-host \"%s\": not a host name (letters, digits, '-' and '.') or an "
		     "IP address",
		     o->broker_host);
		return EXIT_USAGE;
	}
	if (strlen(o->broker_host) > CN_MAX) {
		errf("--broker-host \"%s\": longer than the %d characters of a certificate's CN",
		     o->broker_host, CN_MAX);
		return EXIT_USAGE;
	}
	if (o->broker_ip) {
		if (inet_pton(AF_INET, o->broker_ip, o->ip) == 1) {
			o->ip_len = 4;
		} else if (inet_pton(AF_INET6, o->broker_ip, o->ip) == 1) {
			o->ip_len = 16;
		} else {
			errf("--broker-ip \"%s\": not an IPv4 or IPv6 address", o->broker_ip);
			return EXIT_USAGE;
		}
	}
	if (o->broker_dir && (o->broker_dir[0] != '/' || strpbrk(o->broker_dir, " \t\n#"))) {
		errf("--broker-dir \"%s\": must be an absolute path without spaces or '#' "
		     "(mosquitto.conf names its files with it)",
		     o->broker_dir);
		return EXIT_USAGE;
	}
	if (gateways && provision_parse_ids(o, gateways) < 0)
		return EXIT_USAGE;
	return EXIT_OK;
}

static int cmd_provision(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct provision_opts o = { .port = HUB_MQTT_PORT };
	struct pki_entity ca = { 0 }, broker = { 0 }, hub = { 0 }, gw;
	char path[PATH_MAX], bdir[PATH_MAX], gwdir[PATH_MAX], real[PATH_MAX];
	char **all = NULL;
	size_t nall = 0;
	int64_t now = (int64_t)time(NULL);
	int status;

	status = provision_parse_opts(cmd, argc, argv, &o);
	if (status != EXIT_OK)
		goto out_opts;
	status = EXIT_FAIL;
	if (make_dir(o.out) < 0)
		goto out_opts;
	if (!realpath(o.out, real)) {
		errf("%s: cannot resolve: %s", o.out, strerror(errno));
		goto out_opts;
	}
	if (path_fmt(bdir, sizeof(bdir), "%s/broker", real) < 0)
		goto out_opts;
	if (!o.broker_dir)
		o.broker_dir = bdir;
	if (strpbrk(o.broker_dir, " \t\n#")) {
		errf("%s: a path with spaces or '#' cannot go into mosquitto.conf; give "
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
	if (make_dir(bdir) < 0 ||
	    path_fmt(broker.key_path, sizeof(broker.key_path), "%s/broker/broker.key", o.out) < 0 ||
	    path_fmt(broker.crt_path, sizeof(broker.crt_path), "%s/broker/broker.crt", o.out) < 0 ||
	    pki_entity(&broker, &ca) < 0)
		goto out;
	if (path_fmt(path, sizeof(path), "%s/broker/ca.crt", o.out) < 0 ||
	    write_atomic(path, ca.crt_pem, strlen(ca.crt_pem), 0644) < 0)
		goto out;

	/* the hub */
	snprintf(hub.cn, sizeof(hub.cn), "hub:%s", o.region);
	hub.cert = (struct hub_pki_cert){ .role = HUB_PKI_CLIENT, .years = LEAF_YEARS, .now = now };
	if (path_fmt(path, sizeof(path), "%s/hub", o.out) < 0 || make_dir(path) < 0 ||
	    path_fmt(hub.key_path, sizeof(hub.key_path), "%s/hub/hub-client.key", o.out) < 0 ||
	    path_fmt(hub.crt_path, sizeof(hub.crt_path), "%s/hub/hub-client.crt", o.out) < 0 ||
	    pki_entity(&hub, &ca) < 0)
		goto out;

	printf("region %s\n", o.region);
	printf("  CA       %s: %s\n", ca.crt_path, pki_status(&ca));
	printf("  broker   %s: CN %s: %s\n", broker.crt_path, broker.cn, pki_status(&broker));
	printf("  hub      %s: CN %s: %s\n", hub.crt_path, hub.cn, pki_status(&hub));

	/* the gateways named now; those of earlier runs stay as they are */
	if (path_fmt(path, sizeof(path), "%s/gateways", o.out) < 0 || make_dir(path) < 0)
		goto out;
	for (size_t i = 0; i < o.nids; i++) {
		gw = (struct pki_entity){ 0 };
		snprintf(gw.cn, sizeof(gw.cn), "gw:%s:%s", o.region, o.ids[i]);
		gw.cert = (struct hub_pki_cert){ .role = HUB_PKI_CLIENT,
						 .years = LEAF_YEARS,
						 .now = now };
		if (path_fmt(gwdir, sizeof(gwdir), "%s/gateways/%s", o.out, o.ids[i]) < 0 ||
		    make_dir(gwdir) < 0 ||
		    path_fmt(gw.key_path, sizeof(gw.key_path), "%s/gw.key", gwdir) < 0 ||
		    path_fmt(gw.crt_path, sizeof(gw.crt_path), "%s/gw.crt", gwdir) < 0 ||
		    pki_entity(&gw, &ca) < 0) {
			pki_entity_free(&gw);
			goto out;
		}
		printf("  gateway  %s: CN %s: %s\n", gw.crt_path, gw.cn, pki_status(&gw));
		pki_entity_free(&gw);
		if (path_fmt(path, sizeof(path), "%s/ca.crt", gwdir) < 0 ||
		    write_atomic(path, ca.crt_pem, strlen(ca.crt_pem), 0644) < 0)
			goto out;
		if (o.hub_pub && (path_fmt(path, sizeof(path), "%s/hub.pub", gwdir) < 0 ||
				  copy_file(o.hub_pub, path) < 0))
			goto out;
	}

	/* the broker's configuration, from every gateway provisioned so far */
	if (path_fmt(path, sizeof(path), "%s/gateways", o.out) < 0 ||
	    list_gateways(path, &all, &nall) < 0)
		goto out;
	if (path_fmt(path, sizeof(path), "%s/broker/mosquitto.conf", o.out) < 0 ||
	    write_broker_conf(path, o.region, o.broker_dir, (unsigned int)o.port) < 0)
		goto out;
	printf("wrote %s: listener %u, files under %s\n", path, (unsigned int)o.port,
	       o.broker_dir);
	if (path_fmt(path, sizeof(path), "%s/broker/acl", o.out) < 0 ||
	    write_acl(path, o.region, all, nall) < 0)
		goto out;
	printf("wrote %s: hub and %zu gateway%s\n", path, nall, nall == 1 ? "" : "s");
	printf("keep %s on the hub; copy %s/broker/ to %s on the broker and\n"
	       "%s/gateways/<id>/ to each gateway (with the bundle key's hub.pub)\n",
	       ca.key_path, o.out, o.broker_dir, o.out);
	status = EXIT_OK;
out:
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	pki_entity_free(&hub);
	pki_entity_free(&broker);
	pki_entity_free(&ca);
out_opts:
	free(o.gateways);
	free(o.ids);
	return status;
}

/* ------------------------------------------------------------ publish, fleet, cmd */

/* tg-hub's side of the broker session: the options publish, fleet and cmd share. */
struct broker_opts {
	const char *broker, *cafile, *cert, *key, *region;
	uint64_t timeout_s;
};

#define DEFAULT_TIMEOUT_S 10

static const struct option broker_options[] = {
	{ "broker", required_argument, NULL, OPT_BROKER },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
};

/* The command's own options after the shared ones, in one getopt table. */
static struct option *broker_opts_table(const struct option *own, size_t n_own)
{
	size_t n = ARRAY_SIZE(broker_options);
	struct option *t = calloc(n + n_own + 2, sizeof(*t));

	if (!t)
		return NULL;
	memcpy(t, broker_options, sizeof(broker_options));
	memcpy(t + n, own, n_own * sizeof(*own));
	t[n + n_own] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	return t;
}

/* 1 if c was one of the shared options, 0 if not, -1 on a bad value. */
static int broker_opt(struct broker_opts *b, int c, const char *arg)
{
	switch (c) {
	case OPT_BROKER:
		b->broker = arg;
		return 1;
	case OPT_CAFILE:
		b->cafile = arg;
		return 1;
	case OPT_CERT:
		b->cert = arg;
		return 1;
	case OPT_KEY:
		b->key = arg;
		return 1;
	case OPT_REGION:
		b->region = arg;
		return 1;
	case OPT_TIMEOUT:
		return parse_u64("--timeout", arg, 1, 3600, &b->timeout_s) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

static int broker_opts_check(const char *name, const struct broker_opts *b)
{
	if (!b->broker || !b->cafile || !b->cert || !b->key || !b->region) {
		errf("%s: --broker, --cafile, --cert, --key and --region are required", name);
		return -EINVAL;
	}
	if (!region_valid(b->region)) {
		errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", b->region,
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
static int broker_connect(const char *name, const struct broker_opts *b, struct hub_mqtt *h)
{
	struct hub_mqtt_opts mo = { .cafile = b->cafile,
				    .cert = b->cert,
				    .key = b->key,
				    .timeout_s = (unsigned int)b->timeout_s };
	char host[256], id[128];
	int ret;

	memset(h, 0, sizeof(*h));
	if (hub_mqtt_parse_broker(b->broker, host, sizeof(host), &mo.port) < 0) {
		errf("--broker \"%s\": not HOST, HOST:PORT or [ADDRESS]:PORT", b->broker);
		return -EINVAL;
	}
	mo.host = host;
	snprintf(id, sizeof(id), "hub:%s:%s:%ld", b->region, name, (long)getpid());
	mo.client_id = id;
	ret = hub_mqtt_init(h, &mo);
	if (ret < 0)
		errf("%s", h->err);
	return ret;
}

static int cmd_publish(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option own[] = {
		{ "previous", required_argument, NULL, OPT_PREVIOUS },
		{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
	};
	struct broker_opts b = { .timeout_s = DEFAULT_TIMEOUT_S };
	const char *previous = NULL, *sign_key = NULL, *path;
	struct bundle *new_b = NULL, *old_b = NULL;
	const struct bundle_info *ni, *oi = NULL;
	struct option *opts = broker_opts_table(own, ARRAY_SIZE(own));
	uint8_t *delta = NULL;
	const uint8_t *full;
	size_t delta_len = 0, full_len = 0;
	char topic[128], t[32];
	struct hub_mqtt h;
	int c, r, status = EXIT_USAGE;

	if (!opts) {
		errf("out of memory");
		return EXIT_FAIL;
	}
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		r = broker_opt(&b, c, optarg);
		if (r < 0)
			goto out;
		if (r)
			continue;
		if (c == OPT_PREVIOUS) {
			previous = optarg;
		} else if (c == OPT_SIGN_KEY) {
			sign_key = optarg;
		} else {
			status = usage(cmd);
			goto out;
		}
	}
	if (argc - optind != 1 || broker_opts_check("publish", &b) < 0) {
		status = usage(cmd);
		goto out;
	}
	if (previous && !sign_key) {
		errf("publish: --previous needs --sign-key, the hub key that signs the delta");
		goto out;
	}
	status = EXIT_FAIL;
	path = argv[optind];
	if (open_bundle(path, &new_b) < 0)
		goto out;
	ni = bundle_get_info(new_b);
	if (bundle_is_delta(new_b)) {
		errf("%s: a delta; publish a full bundle (--previous makes the delta)", path);
		goto out;
	}
	if (strcmp(ni->region, b.region) != 0) {
		errf("%s: a bundle for region %s, not %s", path, ni->region, b.region);
		goto out;
	}
	if (ni->expires <= (uint64_t)time(NULL)) {
		errf("%s: expired at %s; every gateway would refuse it", path,
		     iso8601(ni->expires, t, sizeof(t)));
		goto out;
	}
	if (previous) {
		if (open_bundle(previous, &old_b) < 0 ||
		    make_delta(previous, old_b, path, new_b, sign_key, &delta, &delta_len) < 0)
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
			errf("%s", h.err);
			goto out_mqtt;
		}
		printf("published delta %" PRIu64 " -> %" PRIu64 " (%zu bytes) to %s\n", oi->serial,
		       ni->serial, delta_len, topic);
	}
	snprintf(topic, sizeof(topic), "tg/v1/%s/bundle/full", b.region);
	if (hub_mqtt_publish(&h, topic, full, full_len, true) < 0) {
		errf("%s", h.err);
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
	free(opts);
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
		json_object_set_new(o, "serial", json_is_integer(serial) ? json_copy((json_t *)serial)
									 : json_null());
		json_object_set_new(o, "sha256",
				    json_is_string(sha) ? json_copy((json_t *)sha) : json_null());
		json_object_set_new(o, "age_s",
				    json_is_integer(t) ? json_integer(now - json_integer_value(t))
						       : json_null());
		json_object_set_new(o, "last_refusal", json_is_string(reason)
								? json_copy((json_t *)reason)
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
		snprintf(serial_s, sizeof(serial_s), "%" JSON_INTEGER_FORMAT, json_integer_value(serial));
	else
		snprintf(serial_s, sizeof(serial_s), "-");
	fleet_age(t, now, age, sizeof(age));
	printf("%-*s  %-7s  %6s  %-12.12s  %5s  %s\n", width, g->id,
	       g->error[0] ? "invalid" : online ? "online" : "offline", serial_s,
	       json_is_string(sha) ? json_string_value(sha) : "-", age,
	       json_is_string(reason) ? json_string_value(reason) : "-");
}

static int cmd_fleet(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option own[] = {
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "json", no_argument, NULL, OPT_JSON },
	};
	struct broker_opts b = { .timeout_s = DEFAULT_TIMEOUT_S };
	struct option *opts = broker_opts_table(own, ARRAY_SIZE(own));
	struct fleet f = { 0 };
	uint64_t wait_s = 1;
	char topic[128];
	struct hub_mqtt h;
	bool as_json = false;
	int c, r, width = 7, status = EXIT_USAGE;
	int64_t now;

	if (!opts) {
		errf("out of memory");
		return EXIT_FAIL;
	}
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		r = broker_opt(&b, c, optarg);
		if (r < 0)
			goto out;
		if (r)
			continue;
		if (c == OPT_WAIT) {
			if (parse_u64("--wait", optarg, 1, 3600, &wait_s) < 0)
				goto out;
		} else if (c == OPT_JSON) {
			as_json = true;
		} else {
			status = usage(cmd);
			goto out;
		}
	}
	if (argc != optind || broker_opts_check("fleet", &b) < 0) {
		status = usage(cmd);
		goto out;
	}
	status = EXIT_FAIL;
	snprintf(f.prefix, sizeof(f.prefix), "tg/v1/%s/gw/", b.region);
	snprintf(topic, sizeof(topic), "tg/v1/%s/gw/+/state", b.region);
	if (broker_connect("fleet", &b, &h) < 0)
		goto out_mqtt;
	if (hub_mqtt_subscribe(&h, topic, fleet_msg, &f) < 0 ||
	    hub_mqtt_run(&h, (unsigned int)wait_s * 1000) < 0) {
		errf("%s", h.err);
		goto out_mqtt;
	}
	if (f.nomem) {
		errf("out of memory");
		goto out_mqtt;
	}
	if (f.n)
		qsort(f.gw, f.n, sizeof(*f.gw), fleet_cmp);
	for (size_t i = 0; i < f.n; i++) {
		if (f.gw[i].error[0])
			errf("warning: %s%s/state: %s", f.prefix, f.gw[i].id, f.gw[i].error);
		if ((int)strlen(f.gw[i].id) > width)
			width = (int)strlen(f.gw[i].id);
	}
	now = (int64_t)time(NULL);
	if (!as_json)
		printf("%-*s  %-7s  %6s  %-12s  %5s  %s\n", width, "gateway", "status", "serial",
		       "bundle", "age", "last refusal");
	for (size_t i = 0; i < f.n; i++)
		fleet_print(&f.gw[i], now, as_json, width);
	if (!f.n)
		errf("no gateway of region %s has published a state (%s)", b.region, topic);
	status = EXIT_OK;
out_mqtt:
	hub_mqtt_uninit(&h);
	for (size_t i = 0; i < f.n; i++)
		json_decref(f.gw[i].state);
	free(f.gw);
out:
	free(opts);
	return status;
}

/* cmd: one signed command (docs/protocol.md, "cmd"), signed by firmware/hub/cmd.c's cmd_sign(). */
static int cmd_command(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option own[] = {
		{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
		{ "gateway", required_argument, NULL, OPT_GATEWAY },
	};
	struct broker_opts b = { .timeout_s = DEFAULT_TIMEOUT_S };
	struct option *opts = broker_opts_table(own, ARRAY_SIZE(own));
	const char *sign_key = NULL, *gateway = NULL, *word;
	char topic[160], nonce[2 * 16 + 1], *json = NULL, *payload = NULL;
	uint8_t raw[16], *key = NULL;
	size_t keylen = 0;
	struct hub_mqtt h;
	json_t *o = NULL;
	int c, r, n, status = EXIT_USAGE;
	int64_t now = (int64_t)time(NULL);

	if (!opts) {
		errf("out of memory");
		return EXIT_FAIL;
	}
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		r = broker_opt(&b, c, optarg);
		if (r < 0)
			goto out;
		if (r)
			continue;
		if (c == OPT_SIGN_KEY) {
			sign_key = optarg;
		} else if (c == OPT_GATEWAY) {
			gateway = optarg;
		} else {
			status = usage(cmd);
			goto out;
		}
	}
	if (argc - optind != 1 || broker_opts_check("cmd", &b) < 0 || !sign_key || !gateway) {
		if (!sign_key || !gateway)
			errf("cmd: --sign-key and --gateway are required");
		status = usage(cmd);
		goto out;
	}
	word = argv[optind];
	if (strcmp(word, "report") != 0 && strcmp(word, "resync") != 0) {
		errf("command \"%s\": not report or resync", word);
		goto out;
	}
	if (!gw_id_valid(gateway)) {
		errf("--gateway \"%s\": not a gateway id (1..%d of a-z, 0-9, '-')", gateway,
		     GW_ID_MAX);
		goto out;
	}
	status = EXIT_FAIL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		errf("cannot get random bytes for the nonce: %s", strerror(errno));
		goto out;
	}
	hex(raw, sizeof(raw), nonce);
	o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "cmd", word, "gateway", gateway, "region",
		      b.region, "issued", (json_int_t)now, "nonce", nonce);
	json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	payload = malloc(CMD_PAYLOAD_MAX);
	if (!json || !payload) {
		errf("out of memory");
		goto out;
	}
	if (read_key(sign_key, &key, &keylen) < 0)
		goto out;
	n = cmd_sign(json, key, keylen, payload);
	if (n < 0) {
		errf("%s: cannot sign the command with it: %s", sign_key, strerror(-n));
		goto out;
	}
	snprintf(topic, sizeof(topic), "tg/v1/%s/gw/%s/cmd", b.region, gateway);
	if (broker_connect("cmd", &b, &h) < 0) {
		hub_mqtt_uninit(&h);
		goto out;
	}
	if (hub_mqtt_publish(&h, topic, payload, (size_t)n, false) < 0) {
		errf("%s", h.err);
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
	free_key(key, keylen);
	free(opts);
	return status;
}

/* ------------------------------------------------------------ help, main */

static void print_source_help(void)
{
	char formats[128];

	source_list_formats(formats, sizeof(formats));
	printf("\nSOURCE is FORMAT:PATH[,action=block|alert|allow][,ttl=DAYS][,rule=ID][,exact]\n"
	       "  FORMAT: %s\n"
	       "  action: block (default), alert (report only) or allow (overrides)\n"
	       "  ttl:    entries expire DAYS after --created (a STIX valid_until wins if earlier)\n"
	       "  rule:   the rule id reported with every hit (default %d + position)\n"
	       "  exact:  domains match only themselves, not their subdomains\n",
	       formats, RULE_BASE);
}

static int cmd_help(const struct hub_cmd *cmd, int argc, char **argv)
{
	const struct hub_cmd *c;

	if (argc > 2)
		return usage(cmd);
	if (argc == 2) {
		c = hub_find(argv[1]);
		if (!c) {
			errf("unknown command \"%s\"", argv[1]);
			return EXIT_USAGE;
		}
		printf("usage: " PROG " %s %s\n  %s\n", c->name, c->args, c->help);
		if (!strcmp(c->name, "build"))
			print_source_help();
		return EXIT_OK;
	}
	printf("usage: " PROG " COMMAND [ARGS]\n\ncommands:\n");
	for (c = hub_find(NULL); c->name; c++)
		printf("  %-9s %s\n", c->name, c->help);
	printf("\n" PROG " help COMMAND shows a command's arguments.\n");
	return EXIT_OK;
}

static const struct hub_cmd hub_cmds[] = {
	{ .name = "keygen",
	  .args = "--out DIR",
	  .run = cmd_keygen,
	  .help = "create the hub's signing key pair DIR/hub.key and DIR/hub.pub" },
	{ .name = "build",
	  .args = "--key KEY --region R --serial N [--expires-in DAYS | --expires EPOCH] "
		  "[--created EPOCH] [--strict] --out FILE SOURCE...",
	  .run = cmd_build,
	  .help = "compile feeds into a signed full bundle" },
	{ .name = "diff",
	  .args = "--key KEY OLD NEW --out DELTA",
	  .run = cmd_diff,
	  .help = "make the signed delta that turns full bundle OLD into NEW" },
	{ .name = "verify",
	  .args = "--pub PUB [--region R] [--serial-in-force N] [--now EPOCH] FILE",
	  .run = cmd_verify,
	  .help = "check a bundle as a gateway would (signature, region, expiry, serial)" },
	{ .name = "show",
	  .args = "FILE [--lookup INDICATOR]... [--now EPOCH]",
	  .run = cmd_show,
	  .help = "print a bundle's header and counts; look up domains, addresses, JA3, "
		  "proto:NAME, category:NAME" },
	{ .name = "provision",
	  .args = "--out DIR --region R --broker-host NAME [--broker-ip ADDR] [--port N] "
		  "[--broker-dir PATH] [--gateways ID,...] [--hub-pub FILE]",
	  .run = cmd_provision,
	  .help = "create or extend the region's CA, certificates, mosquitto.conf and acl" },
	{ .name = "publish",
	  .args = "--broker HOST[:PORT] --cafile CA --cert CRT --key KEY --region R "
		  "[--previous OLD --sign-key HUBKEY] [--timeout S] BUNDLE",
	  .run = cmd_publish,
	  .help = "publish a full bundle (retained), after the delta from --previous" },
	{ .name = "fleet",
	  .args = "--broker HOST[:PORT] --cafile CA --cert CRT --key KEY --region R [--wait S] "
		  "[--json] [--timeout S]",
	  .run = cmd_fleet,
	  .help = "list the gateways' states: online, serial, bundle, age, last refusal" },
	{ .name = "cmd",
	  .args = "--broker HOST[:PORT] --cafile CA --cert CRT --key KEY --region R "
		  "--sign-key HUBKEY --gateway ID [--timeout S] report|resync",
	  .run = cmd_command,
	  .help = "send a signed command to one gateway" },
	{ .name = "help", .args = "[COMMAND]", .run = cmd_help, .help = "list the commands" },
	{ 0 },
};

/* The command called name; with NULL, the table itself. */
static const struct hub_cmd *hub_find(const char *name)
{
	if (!name)
		return hub_cmds;
	for (const struct hub_cmd *c = hub_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int main(int argc, char **argv)
{
	static char prog[64];
	const struct hub_cmd *cmd;

	if (argc < 2) {
		fprintf(stderr, "usage: " PROG " COMMAND [ARGS] (" PROG " help lists them)\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(hub_find("help"), 1, argv + 1);
	cmd = hub_find(argv[1]);
	if (!cmd) {
		errf("unknown command \"%s\" (" PROG " help lists them)", argv[1]);
		return EXIT_USAGE;
	}
	/* getopt's own messages then read "tg-hub build: unrecognized option ..." */
	snprintf(prog, sizeof(prog), PROG " %s", cmd->name);
	argv[1] = prog;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			char *sub[] = { (char *)"help", (char *)cmd->name, NULL };

			return cmd_help(hub_find("help"), 2, sub);
		}
		if (!strcmp(argv[i], "--"))
			break;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}

/*
 * tg-hub: the regional hub operator's tool for blocklist bundles.
 *
 *   keygen   the hub's ECDSA P-256 signing key pair
 *   build    feeds (domain lists, hosts files, CIDR lists, STIX bundles, nDPI
 *            protocol and category names, JA3 lists) -> one signed full bundle
 *   diff     two full bundles -> the signed delta between them
 *   verify   a bundle checked the way a gateway checks it
 *   show     header, counts, and the lookup of single indicators
 *
 * Commands live in one table (hub_cmds[]): name, arguments, handler and
 * one-line help, so `tg-hub help` cannot drift from what the tool accepts.
 *
 * Everything about bundles (layout, signing, matching) is the firmware's own
 * code (firmware/bundle.c), so what `show --lookup` answers is what a
 * gateway enforces. Feed parsing is tools/feeds.c; this file only chooses
 * per-source actions, rule ids and expiries and prints what happened.
 *
 * Exit status: 0 done, 1 refused or failed (bad bundle, unreadable feed,
 * --strict with bad lines), 2 usage. Every message names the bad value.
 * Output files are written to a temporary file in the same directory,
 * fsync'ed and renamed, so a reader (the publisher, a gateway on the same
 * disk) sees the old file or the new one, never a torn one.
 */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "bundle.h"
#include "feeds.h"

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
	/* NOLINT: clang-tidy 14 valist false positive (see log_emit() in firmware/log.c) */
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

static int cmd_diff(const struct hub_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, NULL, OPT_KEY },
					      { "out", required_argument, NULL, OPT_OUT },
					      { "help", no_argument, NULL, OPT_HELP },
					      { 0 } };
	const char *keypath = NULL, *outpath = NULL;
	struct bundle *old_b = NULL, *new_b = NULL, *delta = NULL;
	const struct bundle_info *oi, *ni;
	uint8_t *key = NULL, *out = NULL;
	size_t keylen = 0, outlen = 0, fulllen = 0;
	int c, ret, status = EXIT_FAIL;
	enum bundle_err e;

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
	oi = bundle_get_info(old_b);
	ni = bundle_get_info(new_b);
	if (bundle_is_delta(old_b) || bundle_is_delta(new_b)) {
		errf("%s: a delta; diff needs two full bundles",
		     argv[bundle_is_delta(old_b) ? optind : optind + 1]);
		goto out;
	}
	if (strcmp(oi->region, ni->region) != 0) {
		errf("%s is for region %s, %s for region %s", argv[optind], oi->region,
		     argv[optind + 1], ni->region);
		goto out;
	}
	if (ni->serial <= oi->serial) {
		errf("%s has serial %" PRIu64 ", not newer than %s (serial %" PRIu64 ")",
		     argv[optind + 1], ni->serial, argv[optind], oi->serial);
		goto out;
	}
	if (read_key(keypath, &key, &keylen) < 0)
		goto out;
	ret = bundle_diff(old_b, new_b, key, keylen, &out, &outlen);
	if (ret < 0) {
		errf("cannot make the delta: %s", strerror(-ret));
		goto out;
	}
	e = bundle_open_mem(out, outlen, &delta);
	if (e != BUNDLE_OK) {
		errf("the delta just made does not open: %s: %s", bundle_err_name(e),
		     bundle_err_text(e));
		goto out;
	}
	if (write_atomic(outpath, out, outlen, 0644) < 0)
		goto out;
	bundle_data(new_b, &fulllen);
	printf("wrote %s: region %s, delta from serial %" PRIu64 " to %" PRIu64
	       ", %zu bytes (full bundle %zu bytes)\n",
	       outpath, ni->region, oi->serial, ni->serial, outlen, fulllen);
	status = EXIT_OK;
out:
	bundle_close(delta);
	bundle_close(old_b);
	bundle_close(new_b);
	free(out);
	free_key(key, keylen);
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
		printf("  %-8s %s\n", c->name, c->help);
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

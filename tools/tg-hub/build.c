/*
 * tg-hub build: feeds (domain lists, hosts files, CIDR lists, STIX bundles,
 * nDPI protocol and category names, JA3 lists) -> one signed full bundle.
 *
 * Feed parsing is tools/feeds.c and everything about the bundle (layout,
 * signing) is the firmware's own code (firmware/policy/bundle*.c); this file
 * only chooses per-source actions, rule ids and expiries and prints what
 * happened, source by source, so an operator sees which feed went bad.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "core/common.h"
#include "feeds.h"
#include "policy/bundle.h"
#include "tg-hub/cmds.h"
#include "tg-hub/common.h"

/* A bundle lives 30 days unless told otherwise: long enough to ride out a
 * hub outage, short enough that an abandoned gateway stops enforcing. */
#define DEFAULT_EXPIRES_DAYS 30
/* Default rule ids are RULE_BASE + the source's position (1-based). */
#define RULE_BASE 1000
/*
 * A source with more bad lines than this share (of its bad and taken lines)
 * is refused: a feed that downloaded as an error page or in another format
 * would otherwise lift its blocks across the region (--allow-bad N%).
 */
#define DEFAULT_BAD_PCT 50

struct source {
	const char *spec; /* the argument, for messages */
	char *buf;	  /* a copy of spec, cut into pieces */
	char *path;	  /* in buf */
	enum feed_format fmt;
	uint8_t action;
	bool allow;
	bool exact;
	uint64_t ttl_days; /* 0: none */
	uint32_t rule;
	/* results */
	size_t entries, bad, warnings;
	size_t lines;         /* lines that gave at least one entry */
	unsigned int last;    /* the line of the last entry, to count lines */
	size_t skipped;       /* lines of local names only (hosts) */
	char skipped_ex[64];  /* the first of them, for the summary */
	size_t commented;     /* lines taken with a trailing comment cut (hosts) */
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
		hub_errf("source \"%s\": expected FORMAT:PATH (FORMAT: %s)", arg, formats);
		return -EINVAL;
	}
	*colon = '\0';
	fmt = feed_format_from_name(copy);
	if (fmt < 0) {
		hub_errf("source \"%s\": unknown format \"%s\" (%s)", arg, copy, formats);
		return -EINVAL;
	}
	s->fmt = (enum feed_format)fmt;
	s->path = colon + 1;
	opt = strchr(s->path, ',');
	if (opt)
		*opt++ = '\0';
	if (!*s->path) {
		hub_errf("source \"%s\": no path", arg);
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
				hub_errf(
					"source \"%s\": action \"%s\" is not block, alert or allow",
					arg, a);
				return -EINVAL;
			}
		} else if (!strncmp(opt, "ttl=", 4)) {
			if (hub_parse_u64("ttl", opt + 4, 1, 36500, &v) < 0)
				return -EINVAL;
			s->ttl_days = v;
		} else if (!strncmp(opt, "rule=", 5)) {
			if (hub_parse_u64("rule", opt + 5, 1, UINT32_MAX, &v) < 0)
				return -EINVAL;
			s->rule = (uint32_t)v;
		} else if (!strcmp(opt, "exact")) {
			if (s->fmt != FEED_DOMAINS && s->fmt != FEED_HOSTS && s->fmt != FEED_STIX) {
				hub_errf(
					"source \"%s\": exact applies to domains, hosts and stix sources",
					arg);
				return -EINVAL;
			}
			s->exact = true;
		} else {
			hub_errf("source \"%s\": unknown option \"%s\" (%s)", arg, opt,
				 source_options);
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
			hex_encode(ind->md5, sizeof(ind->md5), buf);
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
		ret = bundle_builder_add_ip(bc->bb, ind->family, ind->addr, ind->prefix_len,
					    s->allow, &m);
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
		fprintf(stderr, "%s:%u: \"%s\": refused by the bundle builder\n", s->path,
			ind->line, text);
		s->bad++;
		return 0;
	}
	if (ret < 0)
		return ret;
	s->entries++;
	if (!s->lines || ind->line != s->last)
		s->lines++;
	s->last = ind->line;
	return 0;
}

static void build_note(enum feed_note kind, const char *file, unsigned int line, const char *value,
		       void *ctx)
{
	struct build_ctx *bc = ctx;
	struct source *s = bc->src;

	if (kind == FEED_NOTE_SKIPPED) {
		if (!s->skipped++)
			snprintf(s->skipped_ex, sizeof(s->skipped_ex), "%s", value);
		return;
	}
	/* the first one, said where it is; the others are counted in the summary */
	if (!s->commented++)
		fprintf(stderr, "%s:%u: note: trailing comment \"#%s%s\" cut, the names before it taken"
			" (hosts lines are \"ADDRESS NAME... # comment\")\n",
			file, line, *value ? " " : "", value);
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

/* 0 in serial, expires and expires_in: not given (each is at least 1). */
struct build_args {
	const char *key, *region, *out;
	uint64_t serial, created, expires, expires_in;
	const char *allow_bad; /* "N%": the share of bad lines a source may have */
	unsigned int bad_pct;  /* worked out from allow_bad; default 50 */
	bool strict, allow_empty;
};

const struct opt build_opts[] = {
	OPT_STR("key", struct build_args, key, "KEY", OPT_REQ, "the hub's private key (hub.key)"),
	OPT_STR("region", struct build_args, region, "R", OPT_REQ,
		"the region the bundle is for (a-z, 0-9, '-')"),
	OPT_NUM("serial", struct build_args, serial, 1, UINT64_MAX, "N", OPT_REQ,
		"the bundle's serial, higher than every earlier one"),
	OPT_NUM("expires-in", struct build_args, expires_in, 1, 36500, "DAYS", 0,
		"the bundle expires DAYS after --created (default 30)"),
	OPT_NUM("expires", struct build_args, expires, 1, UINT64_MAX, "EPOCH", OPT_ALT,
		"the bundle expires at EPOCH"),
	OPT_NUM("created", struct build_args, created, 1, UINT32_MAX, "EPOCH", 0,
		"the creation time (default now)"),
	OPT_BOOL("strict", struct build_args, strict, "write nothing if any feed has a bad line"),
	OPT_BOOL("allow-empty", struct build_args, allow_empty,
		 "write the bundle even if a source gives no entry (else refused)"),
	OPT_STR("allow-bad", struct build_args, allow_bad, "N%", 0,
		"a source may have up to N% bad lines (default 50%; more: refused)"),
	OPT_STR("out", struct build_args, out, "FILE", OPT_REQ, "the bundle file to write"),
	OPT_ARGS("SOURCE..."),
	{ 0 },
};

/* The checks across options; 0 and the expiry worked out, or the exit status. */
static int build_check_args(const struct hub_cmd *cmd, int argc, int first, struct build_args *o)
{
	if (!o->key || !o->region || !o->serial || !o->out) {
		hub_errf("build: --key, --region, --serial and --out are required");
		return opts_usage(cmd);
	}
	if (first == argc) {
		hub_errf("build: no SOURCE given");
		return opts_usage(cmd);
	}
	if (o->expires && o->expires_in) {
		hub_errf("build: --expires and --expires-in exclude each other");
		return opts_usage(cmd);
	}
	if (!hub_region_valid(o->region)) {
		hub_errf("--region \"%s\": 1..%d characters of a-z, 0-9 and '-'", o->region,
			 BUNDLE_REGION_MAX);
		return EXIT_USAGE;
	}
	o->bad_pct = DEFAULT_BAD_PCT;
	if (o->allow_bad) {
		char *end;
		unsigned long v = strtoul(o->allow_bad, &end, 10);

		if (*o->allow_bad < '0' || *o->allow_bad > '9' || (*end && strcmp(end, "%") != 0) ||
		    v > 100) {
			hub_errf("--allow-bad \"%s\": expected a percentage 0..100, e.g. 80%%",
				 o->allow_bad);
			return EXIT_USAGE;
		}
		o->bad_pct = (unsigned int)v;
	}
	if (!o->expires_in)
		o->expires_in = DEFAULT_EXPIRES_DAYS;
	if (!o->expires)
		o->expires = o->created + o->expires_in * DAY;
	if (o->expires <= o->created) {
		hub_errf("--expires %" PRIu64 ": not after the creation time %" PRIu64, o->expires,
			 o->created);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void build_summary(const struct build_args *o, const struct source *src, size_t nsrc,
			  const struct bundle_builder *bb, const struct bundle *b, size_t len)
{
	size_t bad = 0, warnings = 0;
	char t1[32], t2[32], sha[65];
	uint8_t digest[32];

	printf("wrote %s: region %s, serial %" PRIu64 ", full bundle, %zu bytes\n", o->out,
	       o->region, o->serial, len);
	printf("created %s, expires %s\n", hub_iso8601(o->created, t1, sizeof(t1)),
	       hub_iso8601(o->expires, t2, sizeof(t2)));
	for (size_t i = 0; i < nsrc; i++) {
		printf("source %zu %s: rule %" PRIu32 ", %s%s, %zu entries from %zu lines, %zu bad lines",
		       i + 1, src[i].spec, src[i].rule, bundle_action_name(src[i].action),
		       src[i].exact ? ", exact" : "", src[i].entries, src[i].lines, src[i].bad);
		if (src[i].skipped)
			printf(", %zu lines skipped (local names such as \"%s\")", src[i].skipped,
			       src[i].skipped_ex);
		if (src[i].commented)
			printf(", %zu with a trailing comment", src[i].commented);
		if (src[i].warnings)
			printf(", %zu warnings", src[i].warnings);
		printf("\n");
		bad += src[i].bad;
		warnings += src[i].warnings;
	}
	hub_print_counts(b);
	printf("bad lines %zu (skipped), warnings %zu, duplicates replaced %zu\n", bad, warnings,
	       bundle_builder_replaced(bb));
	bundle_sha256(b, digest);
	hex_encode(digest, sizeof(digest), sha);
	printf("sha256 %s\n", sha);
}

/*
 * A source that gave nothing, or mostly bad lines, is most likely not the
 * feed it should be (an HTML error page, an empty download, another format):
 * building without it would lift its blocks. Refused unless the operator
 * says so. Returns 0 or -EINVAL after the messages.
 */
static int build_check_sources(const struct build_args *o, const struct source *src, size_t nsrc)
{
	int ret = 0;

	for (size_t i = 0; i < nsrc; i++) {
		const struct source *s = &src[i];
		size_t judged = s->bad + s->lines;

		if (!s->entries && !o->allow_empty) {
			hub_errf("%s: no entries (%zu bad lines, %zu skipped, %zu warnings): an empty "
				 "or error-page download would lift this feed's blocks; no bundle "
				 "written (--allow-empty to build without them)",
				 s->path, s->bad, s->skipped, s->warnings);
			ret = -EINVAL;
		} else if (judged && s->bad * 100 > (size_t)o->bad_pct * judged) {
			hub_errf("%s: %zu of %zu lines bad (%zu%%), more than the %u%% allowed (is it "
				 "the feed it should be?); no bundle written (--allow-bad N%% to accept)",
				 s->path, s->bad, judged, s->bad * 100 / judged, o->bad_pct);
			ret = -EINVAL;
		}
	}
	return ret;
}

int build_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct build_args o = { .created = (uint64_t)time(NULL) };
	struct source *src = NULL;
	struct bundle_builder *bb = NULL;
	struct bundle *b = NULL;
	struct bundle_info info = { 0 };
	uint8_t *key = NULL, *out = NULL;
	size_t keylen = 0, outlen = 0, nsrc = 0, bad = 0;
	int first, ret, status = EXIT_FAIL;
	enum bundle_err e;

	ret = opts_parse(cmd, &o, argc, argv, &first);
	if (ret)
		return ret;
	ret = build_check_args(cmd, argc, first, &o);
	if (ret != EXIT_OK)
		return ret;
	/* never 0 bytes: build_check_args() refused first == argc (the analyzer misses it) */
	// NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI)
	src = calloc((size_t)(argc - first), sizeof(*src));
	if (!src) {
		hub_errf("out of memory");
		return EXIT_FAIL;
	}
	for (int i = first; i < argc; i++, nsrc++) {
		if (source_parse(argv[i], (unsigned int)nsrc + 1, &src[nsrc]) < 0) {
			nsrc++;
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (hub_read_key(o.key, &key, &keylen) < 0)
		goto out;
	bb = bundle_builder_new();
	if (!bb) {
		hub_errf("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsrc; i++) {
		struct build_ctx bc = { .bb = bb, .src = &src[i], .created = o.created };
		struct feed_sink sink = { .indicator = build_indicator,
					  .report = build_report,
					  .note = build_note,
					  .ctx = &bc,
					  .now = o.created };
		FILE *f = fopen(src[i].path, "r");

		if (!f) {
			hub_errf("%s: cannot open: %s", src[i].path, strerror(errno));
			goto out;
		}
		ret = feed_parse(src[i].fmt, f, src[i].path, &sink);
		fclose(f);
		if (ret == -EINVAL) {
			hub_errf("%s: not usable as a %s feed; no bundle written", src[i].path,
				 feed_format_name(src[i].fmt));
			goto out;
		}
		if (ret < 0) {
			hub_errf("%s: %s", src[i].path, strerror(-ret));
			goto out;
		}
		bad += src[i].bad;
	}
	if (o.strict && bad) {
		hub_errf("%zu bad line%s and --strict: no bundle written", bad,
			 bad == 1 ? "" : "s");
		goto out;
	}
	if (build_check_sources(&o, src, nsrc) < 0)
		goto out;
	snprintf(info.region, sizeof(info.region), "%s", o.region);
	info.serial = o.serial;
	info.created = o.created;
	info.expires = o.expires;
	ret = bundle_build(bb, &info, key, keylen, &out, &outlen);
	if (ret < 0) {
		hub_errf("cannot build the bundle: %s", strerror(-ret));
		goto out;
	}
	/* read back what was built: the counts printed are the file's own */
	e = bundle_open_mem(out, outlen, &b);
	if (e != BUNDLE_OK) {
		hub_errf("the bundle just built does not open: %s: %s", bundle_err_name(e),
			 bundle_err_text(e));
		goto out;
	}
	if (hub_write_atomic(o.out, out, outlen, 0644) < 0)
		goto out;
	build_summary(&o, src, nsrc, bb, b, outlen);
	status = EXIT_OK;
out:
	bundle_close(b);
	free(out);
	bundle_builder_free(bb);
	hub_free_key(key, keylen);
	for (size_t i = 0; i < nsrc; i++)
		free(src[i].buf);
	free(src);
	return status;
}

void build_print_source_help(void)
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

/*
 * tg-hub diff, verify and show: the commands that read bundles rather than
 * make them. diff makes the signed delta between two full bundles (the one
 * code path `publish --previous` uses too), verify applies the gateway's own
 * acceptance rules in the gateway's order, and show prints a header and
 * answers lookups with the firmware's own matching code, so what
 * `show --lookup` answers is what a gateway enforces.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>

#include "core/common.h"
#include "policy/bundle.h"
#include "tg-hub/cmds.h"
#include "tg-hub/common.h"
#include "tg-hub/inspect.h"

/* verify: tolerance for a bundle "created in the future" (clock skew). */
#define VERIFY_SKEW_S 300

/* inspect.h: one code path for diff and publish --previous */
int inspect_make_delta(const char *old_path, const struct bundle *old_b, const char *new_path,
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
		hub_errf("%s: a delta; a delta is made from two full bundles",
			 bundle_is_delta(old_b) ? old_path : new_path);
		return -EINVAL;
	}
	if (strcmp(oi->region, ni->region) != 0) {
		hub_errf("%s is for region %s, %s for region %s", old_path, oi->region, new_path,
			 ni->region);
		return -EINVAL;
	}
	if (ni->serial <= oi->serial) {
		hub_errf("%s has serial %" PRIu64 ", not newer than %s (serial %" PRIu64 ")",
			 new_path, ni->serial, old_path, oi->serial);
		return -EINVAL;
	}
	ret = hub_read_key(keypath, &key, &keylen);
	if (ret < 0)
		return ret;
	ret = bundle_diff(old_b, new_b, key, keylen, out, outlen);
	hub_free_key(key, keylen);
	if (ret < 0) {
		hub_errf("cannot make the delta from %s to %s: %s", old_path, new_path,
			 strerror(-ret));
		return ret;
	}
	e = bundle_open_mem(*out, *outlen, &delta);
	bundle_close(delta);
	if (e != BUNDLE_OK) {
		hub_errf("the delta just made does not open: %s: %s", bundle_err_name(e),
			 bundle_err_text(e));
		free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

struct diff_args {
	const char *key, *out;
};

const struct opt inspect_diff_opts[] = {
	OPT_STR("key", struct diff_args, key, "KEY", OPT_REQ, "the hub's private key (hub.key)"),
	OPT_ARGS("OLD NEW"),
	OPT_STR("out", struct diff_args, out, "DELTA", OPT_REQ, "the delta file to write"),
	{ 0 },
};

int inspect_diff(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct diff_args a = { 0 };
	struct bundle *old_b = NULL, *new_b = NULL;
	const struct bundle_info *oi, *ni;
	uint8_t *out = NULL;
	size_t outlen = 0, fulllen = 0;
	int first, status;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	if (!a.key || !a.out || argc - first != 2)
		return opts_usage(cmd);
	status = EXIT_FAIL;
	if (hub_open_bundle(argv[first], &old_b) < 0 ||
	    hub_open_bundle(argv[first + 1], &new_b) < 0)
		goto out;
	if (inspect_make_delta(argv[first], old_b, argv[first + 1], new_b, a.key, &out,
			       &outlen) < 0)
		goto out;
	if (hub_write_atomic(a.out, out, outlen, 0644) < 0)
		goto out;
	oi = bundle_get_info(old_b);
	ni = bundle_get_info(new_b);
	bundle_data(new_b, &fulllen);
	printf("wrote %s: region %s, delta from serial %" PRIu64 " to %" PRIu64
	       ", %zu bytes (full bundle %zu bytes)\n",
	       a.out, ni->region, oi->serial, ni->serial, outlen, fulllen);
	status = EXIT_OK;
out:
	bundle_close(old_b);
	bundle_close(new_b);
	free(out);
	return status;
}

/* ------------------------------------------------------------ verify */

struct verify_args {
	const char *pub, *region;
	uint64_t in_force, now;
};

const struct opt inspect_verify_opts[] = {
	OPT_STR("pub", struct verify_args, pub, "PUB", OPT_REQ, "the hub's public key (hub.pub)"),
	OPT_STR("region", struct verify_args, region, "R", 0,
		"the gateway's region (default: the bundle's own)"),
	OPT_NUM("serial-in-force", struct verify_args, in_force, 0, UINT64_MAX, "N", 0,
		"the serial in force on the gateway (default 0: none)"),
	OPT_NUM("now", struct verify_args, now, 0, UINT64_MAX, "EPOCH", 0,
		"the gateway's clock (default now)"),
	OPT_ARGS("FILE"),
	{ 0 },
};

int inspect_verify(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct verify_args a = { .now = (uint64_t)time(NULL) };
	const char *path;
	const struct bundle_info *info;
	struct bundle *b = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	enum bundle_err e;
	int first, status;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	if (!a.pub || argc - first != 1)
		return opts_usage(cmd);
	path = argv[first];
	if (hub_read_key(a.pub, &pub, &publen) < 0)
		return EXIT_FAIL;
	e = bundle_open_file(path, &b);
	if (e == BUNDLE_OK) {
		info = bundle_get_info(b);
		if (!bundle_is_delta(b)) {
			/* the gateway's own acceptance rules, in the gateway's order */
			e = bundle_check(b, pub, publen, a.region ? a.region : info->region,
					 a.in_force, a.now, VERIFY_SKEW_S);
		} else {
			/* a delta is applied, not installed: signature, region, base */
			e = bundle_verify(b, pub, publen);
			if (e == BUNDLE_OK && a.region && strcmp(a.region, info->region) != 0)
				e = BUNDLE_ERR_REGION;
			if (e == BUNDLE_OK && a.in_force && info->base_serial != a.in_force)
				e = BUNDLE_ERR_BASE;
		}
	}
	free(pub);
	if (e != BUNDLE_OK) {
		hub_errf("%s: refused: %s: %s", path, bundle_err_name(e), bundle_err_text(e));
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
	       bundle_action_name(meta->action), hub_iso8601(meta->expires, t, sizeof(t)),
	       what[0] ? ", " : "", what);
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
		hub_errf("--lookup \"%s\": not an address, a domain, a JA3 md5, proto:NAME or "
			 "category:NAME (one address, not a prefix)",
			 q);
		return -EINVAL;
	} else {
		size_t len = strlen(q);

		if (!len || len > BUNDLE_NAME_MAX + 1) {
			hub_errf("--lookup \"%s\": not a domain name (1..%d characters)", q,
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

struct show_args {
	struct opt_list lookups;
	uint64_t now;
};

const struct opt inspect_show_opts[] = {
	OPT_ARGS("FILE"),
	OPT_MANY("lookup", struct show_args, lookups, "INDICATOR",
		 "a domain, an address, a JA3 md5, proto:NAME or category:NAME"),
	OPT_NUM("now", struct show_args, now, 0, UINT64_MAX, "EPOCH", 0,
		"the time expiries are judged at (default now)"),
	{ 0 },
};

int inspect_show(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct show_args a = { .now = (uint64_t)time(NULL) };
	size_t len;
	const struct bundle_info *info;
	struct bundle *b = NULL;
	char t1[32], t2[32], sha[65];
	uint8_t digest[32];
	int first, status;

	status = opts_parse(cmd, &a, argc, argv, &first);
	if (status)
		return status;
	if (argc - first != 1) {
		opts_free(cmd, &a);
		return opts_usage(cmd);
	}
	if (hub_open_bundle(argv[first], &b) < 0) {
		opts_free(cmd, &a);
		return EXIT_FAIL;
	}
	info = bundle_get_info(b);
	bundle_data(b, &len);
	bundle_sha256(b, digest);
	hex_encode(digest, sizeof(digest), sha);
	printf("file     %s\n", argv[first]);
	printf("region   %s\n", info->region);
	printf("serial   %" PRIu64 "\n", info->serial);
	if (bundle_is_delta(b))
		printf("type     delta (base %" PRIu64 ")\n", info->base_serial);
	else
		printf("type     full\n");
	printf("created  %s\n", hub_iso8601(info->created, t1, sizeof(t1)));
	printf("expires  %s\n", hub_iso8601(info->expires, t2, sizeof(t2)));
	printf("size     %zu bytes\n", len);
	printf("sha256   %s\n", sha);
	hub_print_counts(b);
	for (size_t i = 0; i < a.lookups.n; i++) {
		if (bundle_is_delta(b)) {
			hub_errf("--lookup \"%s\": %s is a delta; look up in a full bundle",
				 a.lookups.v[i], argv[first]);
			status = EXIT_FAIL;
			break;
		}
		if (show_lookup(b, a.lookups.v[i], a.now) < 0)
			status = EXIT_USAGE;
	}
	bundle_close(b);
	opts_free(cmd, &a);
	return status;
}

/*
 * tg-hub's shared helpers (common.h). The writes are the crash-safe kind the
 * whole tool relies on: an output file is written to a temporary file in the
 * same directory, fsync'ed and renamed, and the directory is fsync'ed, so a
 * reader (the publisher, a gateway on the same disk) sees the old file or
 * the new one, never a torn one, even across a power cut.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/region.h"
#include "tg-hub/common.h"

const char *hub_prog = PROG;

void hub_errf(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", hub_prog);
	va_start(ap, fmt);
	/* NOLINT: clang-tidy 14 valist false positive (see log_emit() in firmware/core/log.c) */
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fputc('\n', stderr);
}

int hub_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *s == '+' || v < min || v > max) {
		hub_errf("%s \"%s\": not a whole number in %" PRIu64 "..%" PRIu64, opt, s, min,
			 max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

const char *hub_iso8601(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t)
		return "never";
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "@%" PRIu64, t);
	return buf;
}

bool hub_region_valid(const char *r)
{
	return region_valid(r); /* core/region.h: the gateway's rule too */
}

bool hub_gw_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n && n <= GW_ID_MAX && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The NUL after the data (core/file.c): PEM keys are text, and mbedTLS wants it counted. */
int hub_read_file(const char *path, uint8_t **out, size_t *len)
{
	int ret = file_read(path, 0, out, len);

	if (ret == -ENOMEM)
		hub_errf("%s: out of memory", path);
	else if (ret == -ENOENT || ret == -EACCES)
		hub_errf("%s: cannot open: %s", path, strerror(-ret));
	else if (ret < 0)
		hub_errf("%s: cannot read: %s", path, strerror(-ret));
	return ret;
}

/* A key file as bundle.h wants it: PEM with its terminating NUL counted, or DER as is. */
int hub_read_key(const char *path, uint8_t **key, size_t *len)
{
	int ret = hub_read_file(path, key, len);

	if (ret < 0)
		return ret;
	if (*len >= 10 && !memcmp(*key, "-----BEGIN", 10))
		(*len)++;
	return 0;
}

void hub_free_key(uint8_t *key, size_t len)
{
	if (key)
		explicit_bzero(key, len);
	free(key);
}

/* Write path atomically (core/file.c: temporary file, fsync, rename, fsync dir). */
int hub_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	int ret = file_write_atomic(path, data, len, mode);

	if (ret < 0)
		hub_errf("%s: cannot write: %s", path, strerror(-ret));
	return ret;
}

/* A new file that must not exist yet (keys are never overwritten). */
int hub_write_new(const char *path, const char *text, mode_t mode)
{
	int ret = file_write_new(path, text, strlen(text), mode);

	if (ret == -EEXIST)
		hub_errf("%s: cannot create: %s", path, strerror(-ret));
	else if (ret < 0)
		hub_errf("%s: cannot write: %s", path, strerror(-ret));
	return ret;
}

int hub_open_bundle(const char *path, struct bundle **b)
{
	enum bundle_err e = bundle_open_file(path, b);

	if (e != BUNDLE_OK) {
		hub_errf("%s: refused: %s: %s", path, bundle_err_name(e), bundle_err_text(e));
		return -EINVAL;
	}
	return 0;
}

/* Entries per kind and list; a delta counts what it adds (bundle.h has no count of removals). */
void hub_print_counts(const struct bundle *b)
{
	printf("%-10s %8s %8s\n", bundle_is_delta(b) ? "added" : "", "block", "allow");
	for (int k = 0; k < BUNDLE_KIND_MAX; k++)
		printf("%-10s %8zu %8zu\n", bundle_kind_name((enum bundle_kind)k),
		       bundle_count(b, (enum bundle_kind)k, false),
		       bundle_count(b, (enum bundle_kind)k, true));
}

bool hub_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int hub_make_dir(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);
	int e;

	if (n >= sizeof(buf)) {
		hub_errf("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	/* the missing parents first (0755: /etc/townguard on a fresh hub), as mkdir -p */
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			e = errno;
			hub_errf("%s: cannot create %s: %s", path, buf, strerror(e));
			return -e;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) == 0)
		return 0;
	e = errno;
	if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	hub_errf("%s: cannot create: %s", path, e == EEXIST ? "exists and is not a directory" : strerror(e));
	return -e;
}

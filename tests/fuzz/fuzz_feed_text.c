/*
 * libFuzzer target for the line-based feed parsers of tools/feeds.c: the
 * first byte picks the format (domains, hosts, cidr, protocols, categories,
 * ja3), the rest is the file, read through fmemopen.
 *
 * Besides "does not crash", it checks what tg-hub relies on:
 *  - every indicator is well formed for its kind: a domain is lower case,
 *    253 bytes at most, of labels of 1..63 [a-z0-9_-]; a prefix has no host
 *    bits and a length in range; a protocol or category name is 1..31 bytes
 *    of [A-Za-z0-9_.-]; and it carries a line number that exists;
 *  - normalising is idempotent: a domain emitted, read back as a domain
 *    list, gives itself;
 *  - every report is one non-empty line with an existing line number, and
 *    names the file.
 *
 * fuzz_feed_stix.c includes this file for the same checks (FUZZ_FEED_CHECKS_ONLY).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "feeds.h"

struct fuzz_feed {
	enum feed_format fmt;
	unsigned int lines; /* lines in the input (a last line without '\n' counts) */
	uint64_t now;
	size_t indicators;
};

static unsigned int fuzz_count_lines(const uint8_t *data, size_t size)
{
	unsigned int n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void fuzz_check_domain(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (!len || len > BUNDLE_NAME_MAX)
		abort();
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? name[i] : '.';

		if (ch == '.') {
			if (!label || label > 63)
				abort();
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			   ch == '_') {
			label++;
		} else {
			abort();
		}
	}
}

static int fuzz_roundtrip_ind(const struct feed_indicator *ind, void *ctx)
{
	if (ind->kind != BUNDLE_DOMAIN || strcmp(ind->name, ctx) != 0)
		abort();
	*(char *)ctx = '\0'; /* seen */
	return 0;
}

static void fuzz_roundtrip_report(enum feed_severity sev, const char *file, unsigned int line,
				  const char *msg, void *ctx)
{
	(void)sev;
	(void)line;
	(void)ctx;
	fprintf(stderr, "%s: %s\n", file, msg);
	abort(); /* a name we emitted must read back */
}

/* A normalised domain read back as a one-line domain list gives itself. */
static void fuzz_roundtrip_domain(const char *name)
{
	char copy[BUNDLE_NAME_MAX + 2];
	struct feed_sink sink = {
		.indicator = fuzz_roundtrip_ind, .report = fuzz_roundtrip_report, .ctx = copy
	};
	size_t len = strlen(name);
	FILE *f = fmemopen((void *)name, len, "r");

	memcpy(copy, name, len + 1);
	if (!f || feed_parse_domains(f, "roundtrip", &sink) != 0 || copy[0])
		abort();
	fclose(f);
}

static int fuzz_on_indicator(const struct feed_indicator *ind, void *ctx)
{
	struct fuzz_feed *ff = ctx;
	uint8_t masked[16];
	unsigned int max;

	ff->indicators++;
	if (ff->fmt != FEED_STIX && (ind->line < 1 || ind->line > ff->lines))
		abort();
	if (ind->line > ff->lines || (ind->expires && ind->expires <= ff->now))
		abort();
	switch (ind->kind) {
	case BUNDLE_IPV4:
	case BUNDLE_IPV6:
		if (ff->fmt != FEED_CIDR && ff->fmt != FEED_STIX)
			abort();
		max = ind->kind == BUNDLE_IPV4 ? 32 : 128;
		if (ind->family != (ind->kind == BUNDLE_IPV4 ? AF_INET : AF_INET6) ||
		    ind->prefix_len > max)
			abort();
		memcpy(masked, ind->addr, sizeof(masked));
		for (unsigned int bit = ind->prefix_len; bit < 128; bit++)
			masked[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		if (memcmp(masked, ind->addr, sizeof(masked)) != 0)
			abort();
		break;
	case BUNDLE_DOMAIN:
		if (ff->fmt != FEED_DOMAINS && ff->fmt != FEED_HOSTS && ff->fmt != FEED_STIX)
			abort();
		fuzz_check_domain(ind->name);
		fuzz_roundtrip_domain(ind->name);
		break;
	case BUNDLE_PROTO:
	case BUNDLE_CATEGORY:
		if (ff->fmt != (ind->kind == BUNDLE_PROTO ? FEED_PROTOCOLS : FEED_CATEGORIES))
			abort();
		if (!ind->name[0] || strlen(ind->name) > BUNDLE_PROTO_NAME_MAX ||
		    strspn(ind->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_.-") != strlen(ind->name))
			abort();
		break;
	case BUNDLE_JA3:
		if (ff->fmt != FEED_JA3)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}

static void fuzz_on_report(enum feed_severity sev, const char *file, unsigned int line,
			   const char *msg, void *ctx)
{
	struct fuzz_feed *ff = ctx;

	if (strcmp(file, "feed") != 0 || !msg[0] || strchr(msg, '\n') || line > ff->lines)
		abort();
	if (ff->fmt != FEED_STIX && (line < 1 || sev != FEED_ERROR))
		abort();
}

/* Notes come from hosts files only, on a line of the input, one line of text each. */
static void fuzz_on_note(enum feed_note kind, const char *file, unsigned int line, const char *value,
			 void *ctx)
{
	struct fuzz_feed *ff = ctx;

	if (ff->fmt != FEED_HOSTS || strcmp(file, "feed") != 0 || line < 1 || line > ff->lines ||
	    strchr(value, '\n') || (kind != FEED_NOTE_SKIPPED && kind != FEED_NOTE_COMMENT) ||
	    (kind == FEED_NOTE_SKIPPED && !value[0]))
		abort();
}

/* Parse data as fmt and check everything above. */
static void fuzz_feed(enum feed_format fmt, const uint8_t *data, size_t size, uint64_t now)
{
	struct fuzz_feed ff = { .fmt = fmt, .lines = fuzz_count_lines(data, size), .now = now };
	struct feed_sink sink = {
		.indicator = fuzz_on_indicator, .report = fuzz_on_report, .note = fuzz_on_note,
		.ctx = &ff, .now = now
	};
	FILE *f;
	int ret;

	if (!size)
		return; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	ret = feed_parse(fmt, f, "feed", &sink);
	fclose(f);
	/* line formats never refuse a whole file; STIX refuses a bad document, with nothing emitted */
	if (ret != 0 && (fmt != FEED_STIX || ret != -EINVAL || ff.indicators))
		abort();
}

#ifndef FUZZ_FEED_CHECKS_ONLY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum feed_format formats[] = {
		FEED_DOMAINS, FEED_HOSTS, FEED_CIDR, FEED_PROTOCOLS, FEED_CATEGORIES, FEED_JA3,
	};

	if (!size)
		return 0;
	fuzz_feed(formats[data[0] % (sizeof(formats) / sizeof(formats[0]))], data + 1, size - 1,
		  0);
	return 0;
}
#endif

/*
 * Feed parsers for tg-hub: turn the blocklist formats a regional hub collects
 * (plain domain lists, hosts files, CIDR lists such as Spamhaus DROP, STIX 2.1
 * bundles, nDPI protocol and category names, JA3 lists) into indicators.
 *
 * Pure parsing: nothing here knows about bundles beyond enum bundle_kind.
 * Each parser reads a FILE* (line by line; STIX as one JSON document), hands
 * every good indicator to sink->indicator and every bad line to sink->report
 * with the file name, the line number and a message that quotes the bad value
 * (`"10.0.0.0/33": prefix length 33 out of range (0..32)`). Nothing is skipped
 * silently except comments, blank lines, non-indicator STIX objects and
 * revoked STIX indicators; a hosts file's lines of local names go to
 * sink->note, so the caller can count them.
 */
#ifndef TG_FEEDS_H
#define TG_FEEDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/bundle.h"

enum feed_format {
	FEED_DOMAINS = 0, /* one domain per line */
	FEED_HOSTS,       /* /etc/hosts style: ADDRESS NAME... */
	FEED_CIDR,        /* one address or prefix per line, ';' or '#' comments */
	FEED_STIX,        /* a STIX 2.1 bundle of indicators */
	FEED_PROTOCOLS,   /* one nDPI protocol name per line */
	FEED_CATEGORIES,  /* one nDPI category name per line */
	FEED_JA3,         /* one JA3 MD5 per line, optionally ",comment..." */
	FEED_FORMAT_MAX
};

struct feed_indicator {
	enum bundle_kind kind;
	int family;         /* BUNDLE_IPV4/6: AF_INET or AF_INET6 */
	uint8_t addr[16];   /* BUNDLE_IPV4/6: network order, host bits zero */
	uint8_t prefix_len; /* BUNDLE_IPV4/6: 0..32 or 0..128 */
	bool exact;         /* BUNDLE_DOMAIN: this host only (a STIX url's host) */
	/* BUNDLE_DOMAIN: normalised (lower case, no wildcard, no trailing dot);
	 * BUNDLE_PROTO, BUNDLE_CATEGORY: the name as written */
	char name[BUNDLE_NAME_MAX + 1];
	uint8_t md5[16];   /* BUNDLE_JA3 */
	uint64_t expires;  /* seconds since the epoch (STIX valid_until); 0 = none */
	unsigned int line; /* where it was read (STIX: the line of the indicator's id) */
};

enum feed_severity {
	FEED_ERROR,   /* a bad line or indicator: skipped */
	FEED_WARNING, /* a note (an already expired STIX indicator): skipped, not an error */
};

/* What a parser left out on purpose, or took with a remark (feed_sink.note). */
enum feed_note {
	FEED_NOTE_SKIPPED, /* hosts: a line of local names only ("127.0.0.1 localhost"); value: its first name */
	FEED_NOTE_COMMENT, /* hosts: a trailing comment cut from a line whose names were taken; value: the comment */
};

struct feed_sink {
	/* One good indicator. A non-zero return (a negative errno) stops the parse. */
	int (*indicator)(const struct feed_indicator *ind, void *ctx);
	/*
	 * One bad line or note. `line` is 1-based, 0 when the problem has no line
	 * (a STIX document without a bundle). `msg` is one line of text without
	 * the file and line, which the caller prints as it likes.
	 */
	void (*report)(enum feed_severity sev, const char *file, unsigned int line, const char *msg,
		       void *ctx);
	/* Optional (NULL: nothing). A line skipped or taken with a remark; value quoted by the caller. */
	void (*note)(enum feed_note kind, const char *file, unsigned int line, const char *value,
		     void *ctx);
	void *ctx;
	uint64_t now; /* STIX: an indicator whose valid_until is at or before this is expired */
};

/*
 * Parse one feed. `file` names it in reports. Return 0 when the whole input
 * was read (bad lines were reported and skipped), -EINVAL when the document
 * as a whole is unusable (STIX: not JSON, not a bundle; reported), -EIO on a
 * read error, or the first non-zero value returned by sink->indicator.
 */
int feed_parse(enum feed_format fmt, FILE *f, const char *file, const struct feed_sink *sink);

int feed_parse_domains(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_hosts(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_cidr(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_stix(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_protocols(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_categories(FILE *f, const char *file, const struct feed_sink *sink);
int feed_parse_ja3(FILE *f, const char *file, const struct feed_sink *sink);

/* "domains", "hosts", ... and back; feed_format_from_name() returns -EINVAL if unknown. */
const char *feed_format_name(enum feed_format fmt);
int feed_format_from_name(const char *name);

#endif

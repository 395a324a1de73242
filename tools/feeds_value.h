/*
 * What the feed parsers share (tools/feeds.c, the line formats, and
 * tools/feeds_stix.c): the parse context, the reports that quote the bad
 * value, and the checks of one domain, address or prefix. Private to the
 * feed parsers; feeds.h is the contract tg-hub uses.
 */
#ifndef TG_FEEDS_VALUE_H
#define TG_FEEDS_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "feeds.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest message handed to sink->report, quoted values included. */
#define FEED_MSG_MAX 1024
/*
 * Bytes of a bad value quoted in a message; a longer value is cut and marked
 * with "...". Each byte takes at most 4 characters once escaped (\xNN).
 */
#define FEED_QUOTE_MAX 96
#define FEED_QBUF (FEED_QUOTE_MAX * 4 + 8)
/* Room for "why" texts (the part after the quoted value). */
#define FEED_WHY_MAX 256

struct feed_ctx {
	const char *file;
	const struct feed_sink *sink;
	unsigned int line;
	enum bundle_kind kind; /* protocols / categories: which of the two */
};

/*
 * s with '"', '\\' and non-printable bytes escaped (\xNN), cut after
 * FEED_QUOTE_MAX bytes and then marked "...", in double quotes if `quotes`:
 * safe to print on one line. Returns buf.
 */
const char *feed_escape(char *buf, size_t size, const char *s, size_t len, bool quotes);
/* `"value"`, escaped as above: how every bad value appears in a message. */
const char *feed_quote(char *buf, size_t size, const char *s, size_t len);

/* A report at c's file and line. */
__attribute__((format(printf, 3, 4))) void feed_report(struct feed_ctx *c, enum feed_severity sev,
							const char *fmt, ...);
/* The usual report: `"value": why`. */
void feed_bad(struct feed_ctx *c, const char *value, size_t len, const char *why);
/* Hand one indicator to the sink (its line is c's unless set); the sink's return. */
int feed_emit(struct feed_ctx *c, struct feed_indicator *ind);

/* "invalid character 'x'" + allowed, with a word on punycode for non-ASCII bytes. */
void feed_why_char(char *why, size_t size, unsigned char ch, const char *allowed);
bool feed_is_space(char ch);
const char *feed_skip_space(const char *s);
bool feed_is_ip_literal(const char *s, size_t len);

/*
 * One domain into out: an optional leading "*." or "." (the domain and its
 * subdomains, which is what an entry means anyway), then the bundle's own
 * rule (bundle_domain_normalise()); an IP address is refused as such.
 * Returns 0 or -EINVAL with *why set.
 */
int feed_domain(const char *s, size_t len, char out[BUNDLE_NAME_MAX + 1], char *why, size_t whylen);

/*
 * An address or ADDRESS/LEN into ind (kind, family, addr, prefix_len). A bare
 * address is a /32 or /128. `family` 0 accepts both. Host bits set are an
 * error naming the network. Returns 0 or -EINVAL with *why set.
 */
int feed_ip_parse(const char *s, size_t len, int family, struct feed_indicator *ind, char *why,
		  size_t whylen);

#endif

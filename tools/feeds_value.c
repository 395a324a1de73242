/*
 * Feed values: the reports that quote a bad value, and the checks of one
 * domain, address or prefix (feeds_value.h), for every feed format.
 *
 * Every value is checked here, where the file and line are known, so that a
 * hub operator reads `drop.txt:17: "10.0.0.0/33": prefix length 33 out of
 * range (0..32)` and not a vague failure later in the bundle builder. Values
 * are never repaired silently: a prefix with host bits set (10.0.0.1/8) is
 * refused with the network it would have meant, not widened; a name with a
 * bad byte is refused, not cut.
 *
 * Domain names follow the bundle's own rule (bundle_domain_normalise(), the
 * one the builder applies), so a name this reports good is one the bundle
 * takes; this file only turns its fault into words and adds what a feed
 * line may carry besides a name (a leading "*.", an address by mistake).
 */
#include "feeds_value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ reporting */

/*
 * s with '"', '\\' and non-printable bytes escaped (\xNN), cut after
 * FEED_QUOTE_MAX bytes and then marked "...": safe to print on one line.
 */
const char *feed_escape(char *buf, size_t size, const char *s, size_t len, bool quotes)
{
	size_t o = 0, n = len < FEED_QUOTE_MAX ? len : FEED_QUOTE_MAX;

	if (quotes)
		buf[o++] = '"';
	for (size_t i = 0; i < n && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (quotes)
		buf[o++] = '"';
	if (n < len && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* `"value"`, escaped as above: how every bad value appears in a message. */
const char *feed_quote(char *buf, size_t size, const char *s, size_t len)
{
	return feed_escape(buf, size, s, len, true);
}

__attribute__((format(printf, 3, 4))) void feed_report(struct feed_ctx *c,
							      enum feed_severity sev,
							      const char *fmt, ...)
{
	char msg[FEED_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	/* NOLINT: clang-tidy 14 valist false positive (see log_emit() in firmware/core/log.c) */
	vsnprintf(msg, sizeof(msg), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	c->sink->report(sev, c->file, c->line, msg, c->sink->ctx);
}

/* The usual report: `"value": why`. */
void feed_bad(struct feed_ctx *c, const char *value, size_t len, const char *why)
{
	char q[FEED_QBUF];

	feed_report(c, FEED_ERROR, "%s: %s", feed_quote(q, sizeof(q), value, len), why);
}

int feed_emit(struct feed_ctx *c, struct feed_indicator *ind)
{
	if (!ind->line)
		ind->line = c->line;
	return c->sink->indicator(ind, c->sink->ctx);
}

/* ------------------------------------------------------------ values */

void feed_why_char(char *why, size_t size, unsigned char ch, const char *allowed)
{
	if (ch >= 0x20 && ch < 0x7f)
		snprintf(why, size, "invalid character '%c'%s", ch, allowed);
	else
		snprintf(why, size, "invalid character '\\x%02x'%s%s", ch, allowed,
			 ch >= 0x80 ? " (internationalised names must be in punycode, xn--...)" : "");
}

bool feed_is_space(char ch)
{
	return isspace((unsigned char)ch) != 0;
}

const char *feed_skip_space(const char *s)
{
	while (feed_is_space(*s))
		s++;
	return s;
}


bool feed_is_ip_literal(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t addr[16];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

int feed_domain(const char *s, size_t len, char out[BUNDLE_NAME_MAX + 1], char *why, size_t whylen)
{
	struct bundle_name_fault f;
	char q[FEED_QBUF];
	size_t n;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	} else if (len >= 1 && s[0] == '.') {
		s++;
		len--;
	}
	/* an address first, so that "::1" is not called a name with a bad ':' */
	n = len && s[len - 1] == '.' ? len - 1 : len;
	if (n && feed_is_ip_literal(s, n)) {
		snprintf(why, whylen, "an IP address, not a domain name");
		return -EINVAL;
	}
	if (!bundle_domain_normalise(s, len, out, NULL, &f))
		return 0;
	switch (f.kind) {
	case BUNDLE_NAME_EMPTY:
		snprintf(why, whylen, "empty name");
		break;
	case BUNDLE_NAME_EMPTY_LABEL:
		snprintf(why, whylen, "empty label");
		break;
	case BUNDLE_NAME_LONG_LABEL:
		snprintf(why, whylen, "label %s longer than %d characters (%zu)",
			 feed_quote(q, sizeof(q), s + f.at, f.len), BUNDLE_LABEL_MAX, f.len);
		break;
	case BUNDLE_NAME_BAD_CHAR:
		feed_why_char(why, whylen, (unsigned char)s[f.at], "");
		break;
	case BUNDLE_NAME_TOO_LONG:
		snprintf(why, whylen, "name longer than %d characters (%zu)", BUNDLE_NAME_MAX, f.len);
		break;
	}
	return -EINVAL;
}

static void mask_prefix(uint8_t *addr, size_t alen, unsigned int plen)
{
	for (size_t i = 0; i < alen; i++) {
		unsigned int bits = plen > i * 8 ? plen - (unsigned int)i * 8 : 0;

		if (bits < 8)
			addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

/*
 * An address or ADDRESS/LEN into ind (kind, family, addr, prefix_len). A bare
 * address is a /32 or /128. `family` 0 accepts both. Host bits set are an
 * error naming the network. Returns 0 or -EINVAL with *why set.
 */
int feed_ip_parse(const char *s, size_t len, int family, struct feed_indicator *ind, char *why,
		    size_t whylen)
{
	char buf[INET6_ADDRSTRLEN + 8], net[INET6_ADDRSTRLEN];
	const char *what = family == AF_INET ? "an IPv4 address"
			   : family == AF_INET6 ? "an IPv6 address"
						: "an IPv4 or IPv6 address";
	unsigned int max, plen;
	size_t alen;
	uint8_t masked[16];
	char *slash;

	if (len >= sizeof(buf) || memchr(s, '\0', len)) {
		snprintf(why, whylen, "not %s", what);
		return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(ind->addr, 0, sizeof(ind->addr));
	if (family != AF_INET6 && inet_pton(AF_INET, buf, ind->addr) == 1) {
		ind->family = AF_INET;
		ind->kind = BUNDLE_IPV4;
		max = 32;
	} else if (family != AF_INET && inet_pton(AF_INET6, buf, ind->addr) == 1) {
		ind->family = AF_INET6;
		ind->kind = BUNDLE_IPV6;
		max = 128;
	} else {
		snprintf(why, whylen, "not %s", what);
		return -EINVAL;
	}
	alen = max / 8;
	plen = max;
	if (slash) {
		const char *p = slash + 1;
		size_t n = strlen(p);
		char q[FEED_QBUF];

		if (!n || strspn(p, "0123456789") != n) {
			snprintf(why, whylen, "prefix length %s is not a number",
				 feed_quote(q, sizeof(q), p, n));
			return -EINVAL;
		}
		if (n > 3 || (plen = (unsigned int)strtoul(p, NULL, 10)) > max) {
			snprintf(why, whylen, "prefix length %s out of range (0..%u)", p, max);
			return -EINVAL;
		}
	}
	memcpy(masked, ind->addr, alen);
	mask_prefix(masked, alen, plen);
	if (memcmp(masked, ind->addr, alen) != 0) {
		inet_ntop(ind->family, masked, net, sizeof(net));
		snprintf(why, whylen, "host bits set; the network is %s/%u", net, plen);
		return -EINVAL;
	}
	ind->prefix_len = (uint8_t)plen;
	return 0;
}

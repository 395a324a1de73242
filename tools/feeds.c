/*
 * Feed parsers: domain lists, hosts files, CIDR lists, STIX 2.1 bundles, nDPI
 * protocol and category names, JA3 lists (see feeds.h).
 *
 * Every value is checked here, where the file and line are known, so that a
 * hub operator reads `drop.txt:17: "10.0.0.0/33": prefix length 33 out of
 * range (0..32)` and not a vague failure later in the bundle builder. Values
 * are never repaired silently: a prefix with host bits set (10.0.0.1/8) is
 * refused with the network it would have meant, not widened; a name with a
 * bad byte is refused, not cut.
 *
 * Domain names are checked the way resolvers see them, not the way RFC 1123
 * would like them: labels of letters, digits, '-' and '_' anywhere (malware
 * registers names like "x-.duckdns.org", and a blocklist that refuses to list
 * a name that resolves is a gap), 1..63 bytes per label, 253 in all. Only
 * ASCII is accepted: internationalised names are listed in punycode.
 *
 * STIX patterns are reduced to what a gateway can enforce: comparisons of
 * domain-name, ipv4-addr, ipv6-addr and url values with '=' or IN, joined by
 * OR (inside one observation or between observations). Anything that needs
 * more than one observation to match (AND, FOLLOWEDBY, qualifiers) or other
 * operators cannot be expressed as independent entries, so such a pattern
 * is refused as a whole; a comparison on another object path (file hashes,
 * e-mail addresses) is reported and the rest of the OR is kept. jansson
 * gives no positions for values, so the line of a STIX indicator is found by
 * looking for its `"id": "..."` member in the text, in document order.
 */
#include "feeds.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

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
#define DOMAIN_LABEL_MAX 63
/* Longest STIX string literal decoded (a URL can be long; a domain is <= 253). */
#define STIX_VALUE_MAX 4096

struct feed_ctx {
	const char *file;
	const struct feed_sink *sink;
	unsigned int line;
	enum bundle_kind kind; /* protocols / categories: which of the two */
};

/* ------------------------------------------------------------ reporting */

/*
 * s with '"', '\\' and non-printable bytes escaped (\xNN), cut after
 * FEED_QUOTE_MAX bytes and then marked "...": safe to print on one line.
 */
static const char *feed_escape(char *buf, size_t size, const char *s, size_t len, bool quotes)
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
static const char *feed_quote(char *buf, size_t size, const char *s, size_t len)
{
	return feed_escape(buf, size, s, len, true);
}

__attribute__((format(printf, 3, 4))) static void feed_report(struct feed_ctx *c,
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
static void feed_bad(struct feed_ctx *c, const char *value, size_t len, const char *why)
{
	char q[FEED_QBUF];

	feed_report(c, FEED_ERROR, "%s: %s", feed_quote(q, sizeof(q), value, len), why);
}

static int feed_emit(struct feed_ctx *c, struct feed_indicator *ind)
{
	if (!ind->line)
		ind->line = c->line;
	return c->sink->indicator(ind, c->sink->ctx);
}

/* ------------------------------------------------------------ values */

static void why_char(char *why, size_t size, unsigned char ch, const char *allowed)
{
	if (ch >= 0x20 && ch < 0x7f)
		snprintf(why, size, "invalid character '%c'%s", ch, allowed);
	else
		snprintf(why, size, "invalid character '\\x%02x'%s%s", ch, allowed,
			 ch >= 0x80 ? " (internationalised names must be in punycode, xn--...)" : "");
}

static bool is_ip_literal(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t addr[16];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/*
 * Check and normalise one domain: an optional leading "*." or "." (the
 * domain and its subdomains, which is what an entry means anyway), one
 * optional trailing dot, lower case. Returns 0 or -EINVAL with *why set.
 */
static int domain_normalise(const char *s, size_t len, char out[BUNDLE_NAME_MAX + 1], char *why,
			    size_t whylen)
{
	size_t label = 0;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	} else if (len >= 1 && s[0] == '.') {
		s++;
		len--;
	}
	if (len && s[len - 1] == '.')
		len--;
	if (!len) {
		snprintf(why, whylen, "empty name");
		return -EINVAL;
	}
	if (is_ip_literal(s, len)) {
		snprintf(why, whylen, "an IP address, not a domain name");
		return -EINVAL;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = i < len ? (unsigned char)s[i] : '.';

		if (ch == '.') {
			if (!label) {
				snprintf(why, whylen, "empty label");
				return -EINVAL;
			}
			if (label > DOMAIN_LABEL_MAX) {
				char q[FEED_QBUF];

				snprintf(why, whylen, "label %s longer than %d characters (%zu)",
					 feed_quote(q, sizeof(q), s + i - label, label),
					 DOMAIN_LABEL_MAX, label);
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!isalnum(ch) || ch >= 0x80) {
			if (ch != '-' && ch != '_') {
				why_char(why, whylen, ch, "");
				return -EINVAL;
			}
		}
		label++;
	}
	if (len > BUNDLE_NAME_MAX) {
		snprintf(why, whylen, "name longer than %d characters (%zu)", BUNDLE_NAME_MAX, len);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return 0;
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
static int ip_parse(const char *s, size_t len, int family, struct feed_indicator *ind, char *why,
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

/* ------------------------------------------------------------ lines */

static bool is_space(char ch)
{
	return isspace((unsigned char)ch) != 0;
}

/* Cut s at the first of `stop` (comment characters), then trim; returns the start. */
static char *strip(char *s, const char *stop)
{
	char *end;

	s[strcspn(s, stop)] = '\0';
	while (is_space(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_space(end[-1]))
		end--;
	*end = '\0';
	return s;
}

static size_t token_len(const char *s)
{
	size_t n = 0;

	while (s[n] && !is_space(s[n]))
		n++;
	return n;
}

static const char *skip_space(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

typedef int (*feed_line_fn)(struct feed_ctx *c, char *s);

/*
 * Read f line by line (any length), numbering lines, dropping the line end
 * (LF or CRLF) and a UTF-8 byte order mark; a line with a NUL byte is
 * reported, not cut. fn gets a NUL-terminated line.
 */
static int feed_lines(FILE *f, struct feed_ctx *c, feed_line_fn fn)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	c->line = 0;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		char *s = buf;

		c->line++;
		if (len && s[len - 1] == '\n')
			len--;
		if (len && s[len - 1] == '\r')
			len--;
		s[len] = '\0';
		if (c->line == 1 && len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			len -= 3;
		}
		if (memchr(s, '\0', len)) {
			feed_report(c, FEED_ERROR, "line contains a NUL byte");
			continue;
		}
		ret = fn(c, s);
		if (ret)
			break;
	}
	if (!ret && !feof(f))
		ret = errno == ENOMEM ? -ENOMEM : -EIO;
	free(buf);
	return ret;
}

static int emit_domain(struct feed_ctx *c, const char *s, size_t len)
{
	struct feed_indicator ind = { .kind = BUNDLE_DOMAIN };
	char why[FEED_WHY_MAX];

	if (domain_normalise(s, len, ind.name, why, sizeof(why)) < 0) {
		feed_bad(c, s, len, why);
		return 0;
	}
	return feed_emit(c, &ind);
}

static int domains_line(struct feed_ctx *c, char *s)
{
	size_t len;

	s = strip(s, "#");
	if (!*s)
		return 0;
	len = token_len(s);
	if (s[len]) {
		feed_bad(c, s, strlen(s), "more than one name (one domain per line)");
		return 0;
	}
	return emit_domain(c, s, len);
}

/*
 * Names every hosts file carries for the machine itself. Blocklists in hosts
 * format start with them; they are not indicators.
 */
static const char *const hosts_local_names[] = {
	"localhost",	  "localhost.localdomain", "local",	     "broadcasthost",
	"ip6-localhost",  "ip6-loopback",	   "ip6-localnet",   "ip6-mcastprefix",
	"ip6-allnodes",	  "ip6-allrouters",	   "ip6-allhosts",   "localhost4",
	"localhost6",	  "localhost4.localdomain4", "localhost6.localdomain6", "0.0.0.0",
};

static bool hosts_is_local(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(hosts_local_names); i++)
		if (strlen(hosts_local_names[i]) == len &&
		    !strncasecmp(hosts_local_names[i], s, len))
			return true;
	return false;
}

static int hosts_line(struct feed_ctx *c, char *s)
{
	const char *addr;
	size_t len;
	int ret;

	s = strip(s, "#");
	if (!*s)
		return 0;
	addr = s;
	len = token_len(s);
	if (!is_ip_literal(addr, len)) {
		feed_bad(c, addr, len, "not an IP address (hosts lines are \"ADDRESS NAME...\")");
		return 0;
	}
	s = (char *)skip_space(s + len);
	if (!*s) {
		feed_bad(c, addr, len, "no host name after the address");
		return 0;
	}
	for (; *s; s = (char *)skip_space(s + len)) {
		len = token_len(s);
		if (hosts_is_local(s, len))
			continue;
		ret = emit_domain(c, s, len);
		if (ret)
			return ret;
	}
	return 0;
}

static int cidr_line(struct feed_ctx *c, char *s)
{
	struct feed_indicator ind = { 0 };
	char why[FEED_WHY_MAX];
	size_t len;

	s = strip(s, ";#");
	if (!*s)
		return 0;
	len = token_len(s);
	if (ip_parse(s, len, 0, &ind, why, sizeof(why)) < 0) {
		feed_bad(c, s, len, why);
		return 0;
	}
	if (s[len]) {
		char q[FEED_QBUF];
		const char *rest = skip_space(s + len);

		snprintf(why, sizeof(why), "unexpected %s after the address",
			 feed_quote(q, sizeof(q), rest, strlen(rest)));
		feed_bad(c, s, strlen(s), why);
		return 0;
	}
	return feed_emit(c, &ind);
}

static int names_line(struct feed_ctx *c, char *s)
{
	struct feed_indicator ind = { .kind = c->kind };
	char why[FEED_WHY_MAX];
	size_t len;

	s = strip(s, "#");
	if (!*s)
		return 0;
	len = strlen(s);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(isalnum(ch) && ch < 0x80) && ch != '_' && ch != '.' && ch != '-') {
			why_char(why, sizeof(why), ch, " (allowed: letters, digits, '_', '.', '-')");
			feed_bad(c, s, len, why);
			return 0;
		}
	}
	if (len > BUNDLE_PROTO_NAME_MAX) {
		snprintf(why, sizeof(why), "longer than %d characters (%zu)", BUNDLE_PROTO_NAME_MAX,
			 len);
		feed_bad(c, s, len, why);
		return 0;
	}
	memcpy(ind.name, s, len + 1);
	return feed_emit(c, &ind);
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int ja3_line(struct feed_ctx *c, char *s)
{
	struct feed_indicator ind = { .kind = BUNDLE_JA3 };
	char why[FEED_WHY_MAX];
	size_t len;

	s = (char *)skip_space(s);
	if (!*s || *s == '#')
		return 0;
	s = strip(s, ",");
	len = strlen(s);
	if (len != 32) {
		snprintf(why, sizeof(why), "a JA3 hash is 32 hex digits (found %zu characters)", len);
		feed_bad(c, s, len, why);
		return 0;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)s[i]);

		if (hi < 0) {
			why_char(why, sizeof(why), (unsigned char)s[i],
				 " (a JA3 hash is 32 hex digits)");
			feed_bad(c, s, len, why);
			return 0;
		}
		if (i % 2)
			ind.md5[i / 2] |= (uint8_t)hi;
		else
			ind.md5[i / 2] = (uint8_t)(hi << 4);
	}
	return feed_emit(c, &ind);
}

static int feed_parse_lines(FILE *f, const char *file, const struct feed_sink *sink,
			    enum bundle_kind kind, feed_line_fn fn)
{
	struct feed_ctx c = { .file = file, .sink = sink, .kind = kind };

	return feed_lines(f, &c, fn);
}

int feed_parse_domains(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_DOMAIN, domains_line);
}

int feed_parse_hosts(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_DOMAIN, hosts_line);
}

int feed_parse_cidr(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_IPV4, cidr_line);
}

int feed_parse_protocols(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_PROTO, names_line);
}

int feed_parse_categories(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_CATEGORY, names_line);
}

int feed_parse_ja3(FILE *f, const char *file, const struct feed_sink *sink)
{
	return feed_parse_lines(f, file, sink, BUNDLE_JA3, ja3_line);
}

/* ------------------------------------------------------------ STIX */

/* Fixed-width decimal digits at *p, or -1. */
static int take_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

static bool take_char(const char **p, const char *set)
{
	if (!**p || !strchr(set, **p))
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); fractions dropped. */
static int rfc3339_parse(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	bool leap;

	y = take_digits(&p, 4);
	if (y < 0 || !take_char(&p, "-") || (mo = take_digits(&p, 2)) < 0 || !take_char(&p, "-") ||
	    (d = take_digits(&p, 2)) < 0 || !take_char(&p, "Tt ") || (h = take_digits(&p, 2)) < 0 ||
	    !take_char(&p, ":") || (mi = take_digits(&p, 2)) < 0 || !take_char(&p, ":") ||
	    (sec = take_digits(&p, 2)) < 0)
		return -EINVAL;
	if (take_char(&p, ".")) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (!take_char(&p, "Zz")) {
		if (*p == '+' || *p == '-')
			sign = *p++ == '+' ? 1 : -1;
		if (!sign || (oh = take_digits(&p, 2)) < 0 || !take_char(&p, ":") ||
		    (om = take_digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return -EINVAL;
	}
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	*out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec -
	       (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
	return 0;
}

enum stix_path { SP_DOMAIN, SP_IPV4, SP_IPV6, SP_URL, SP_OTHER };

static const char *const stix_paths[] = {
	[SP_DOMAIN] = "domain-name:value",
	[SP_IPV4] = "ipv4-addr:value",
	[SP_IPV6] = "ipv6-addr:value",
	[SP_URL] = "url:value",
};

/*
 * A recursive-descent reader of the STIX patterning subset described at the
 * top. It runs twice over a pattern: a dry run that only checks the syntax
 * (so that nothing of a refused pattern is emitted) and a run that hands each
 * comparison's value to stix_value().
 */
struct stix_pp {
	const char *s;     /* the whole pattern */
	const char *p;     /* position */
	bool emit;         /* second run */
	char why[FEED_WHY_MAX];
	int ret;           /* first error of sink->indicator */
	struct feed_ctx *c;
	const char *id;    /* indicator id for messages */
	uint64_t expires;
	char value[STIX_VALUE_MAX];
};

static void pp_space(struct stix_pp *pp)
{
	pp->p = skip_space(pp->p);
}

/* The keyword at p (letters), its length; 0 if none. */
static size_t pp_word(const struct stix_pp *pp)
{
	size_t n = 0;

	while (isalpha((unsigned char)pp->p[n]))
		n++;
	return n;
}

static bool pp_keyword(struct stix_pp *pp, const char *kw)
{
	size_t n;

	pp_space(pp);
	n = pp_word(pp);
	if (n != strlen(kw) || strncasecmp(pp->p, kw, n) != 0)
		return false;
	pp->p += n;
	return true;
}

static int pp_fail(struct stix_pp *pp, const char *fmt_why)
{
	snprintf(pp->why, sizeof(pp->why), "%s", fmt_why);
	return -EINVAL;
}

static int pp_syntax(struct stix_pp *pp)
{
	char q[FEED_QBUF];

	if (!*pp->p) {
		snprintf(pp->why, sizeof(pp->why), "syntax error at the end");
		return -EINVAL;
	}
	snprintf(pp->why, sizeof(pp->why), "syntax error at %s",
		 feed_quote(q, sizeof(q), pp->p, strlen(pp->p)));
	return -EINVAL;
}

/* A quoted string literal into pp->value ('\'' and '\\' escapes). */
static int pp_string(struct stix_pp *pp, size_t *len)
{
	size_t n = 0;

	pp_space(pp);
	if (*pp->p != '\'') {
		char q[FEED_QBUF];

		snprintf(pp->why, sizeof(pp->why), "expected a quoted string at %s",
			 feed_quote(q, sizeof(q), pp->p, strlen(pp->p)));
		return -EINVAL;
	}
	for (pp->p++; *pp->p != '\''; pp->p++) {
		if (!*pp->p)
			return pp_fail(pp, "unterminated string");
		if (*pp->p == '\\') {
			pp->p++;
			if (*pp->p != '\'' && *pp->p != '\\')
				return pp_fail(pp, "bad escape in string (only \\' and \\\\)");
		}
		if (n + 1 >= sizeof(pp->value)) {
			snprintf(pp->why, sizeof(pp->why), "string longer than %d bytes",
				 STIX_VALUE_MAX - 1);
			return -EINVAL;
		}
		pp->value[n++] = *pp->p;
	}
	pp->p++;
	pp->value[n] = '\0';
	*len = n;
	return 0;
}

/* url:value -> its host: a domain (exact: that host only) or an address. */
static int url_host(const char *u, struct feed_indicator *ind, char *why, size_t whylen)
{
	const char *sep = strstr(u, "://"), *host, *end, *at;
	size_t hlen;

	if (!sep || sep == u || strspn(u, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") != (size_t)(sep - u)) {
		snprintf(why, whylen, "no scheme (expected scheme://host/...)");
		return -EINVAL;
	}
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	at = memrchr(host, '@', (size_t)(end - host));
	if (at)
		host = at + 1;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (!close || ip_parse(host + 1, (size_t)(close - host - 1), AF_INET6, ind, why,
				       whylen) < 0 || ind->prefix_len != 128) {
			snprintf(why, whylen, "bad IPv6 address in brackets");
			return -EINVAL;
		}
		return 0;
	}
	hlen = strcspn(host, ":/?#");
	if (!hlen) {
		snprintf(why, whylen, "no host");
		return -EINVAL;
	}
	if (is_ip_literal(host, hlen))
		return ip_parse(host, hlen, AF_INET, ind, why, whylen);
	ind->kind = BUNDLE_DOMAIN;
	ind->exact = true;
	return domain_normalise(host, hlen, ind->name, why, whylen);
}

/* One comparison's value (second run only). */
static void pp_value(struct stix_pp *pp, enum stix_path path, const char *pathtext, size_t pathlen,
		     size_t len)
{
	struct feed_indicator ind = { .expires = pp->expires, .line = pp->c->line };
	char why[FEED_WHY_MAX], q[FEED_QBUF];
	int ret = -EINVAL;

	if (!pp->emit || pp->ret)
		return;
	switch (path) {
	case SP_DOMAIN:
		ind.kind = BUNDLE_DOMAIN;
		ret = domain_normalise(pp->value, len, ind.name, why, sizeof(why));
		break;
	case SP_IPV4:
		ret = ip_parse(pp->value, len, AF_INET, &ind, why, sizeof(why));
		break;
	case SP_IPV6:
		ret = ip_parse(pp->value, len, AF_INET6, &ind, why, sizeof(why));
		break;
	case SP_URL:
		ret = url_host(pp->value, &ind, why, sizeof(why));
		break;
	case SP_OTHER:
		feed_report(pp->c, FEED_ERROR,
			    "%s: unsupported object path %s (only domain-name, ipv4-addr, "
			    "ipv6-addr and url values)",
			    pp->id, feed_quote(q, sizeof(q), pathtext, pathlen));
		return;
	}
	if (ret < 0) {
		/* "domain-name" of "domain-name:value" names the value's type */
		feed_report(pp->c, FEED_ERROR, "%s: %.*s %s: %s", pp->id,
			    (int)strcspn(stix_paths[path], ":"), stix_paths[path],
			    feed_quote(q, sizeof(q), pp->value, len), why);
		return;
	}
	pp->ret = feed_emit(pp->c, &ind);
}

/* comparison := path ('=' string | IN '(' string {',' string} ')') */
static int pp_comparison(struct stix_pp *pp)
{
	enum stix_path path = SP_OTHER;
	const char *start;
	size_t plen, len, n;
	char q[FEED_QBUF];

	pp_space(pp);
	if (pp_keyword(pp, "NOT"))
		return pp_fail(pp, "NOT is not supported");
	pp_space(pp);
	start = pp->p;
	while (*pp->p && !is_space(*pp->p) && !strchr("=!<>()[]", *pp->p)) {
		if (*pp->p == '\'') {
			const char *close = strchr(pp->p + 1, '\'');

			if (!close)
				return pp_fail(pp, "unterminated string");
			pp->p = close;
		}
		pp->p++;
	}
	plen = (size_t)(pp->p - start);
	if (!plen || !memchr(start, ':', plen))
		return pp_syntax(pp);
	for (size_t i = 0; i < ARRAY_SIZE(stix_paths); i++)
		if (strlen(stix_paths[i]) == plen && !memcmp(stix_paths[i], start, plen))
			path = (enum stix_path)i;
	pp_space(pp);
	if (*pp->p == '=') {
		pp->p++;
		if (pp_string(pp, &len) < 0)
			return -EINVAL;
		pp_value(pp, path, start, plen, len);
		return 0;
	}
	if (pp_keyword(pp, "IN")) {
		pp_space(pp);
		if (*pp->p != '(')
			return pp_syntax(pp);
		do {
			pp->p++;
			if (pp_string(pp, &len) < 0)
				return -EINVAL;
			pp_value(pp, path, start, plen, len);
			pp_space(pp);
		} while (*pp->p == ',');
		if (*pp->p != ')')
			return pp_syntax(pp);
		pp->p++;
		return 0;
	}
	n = strspn(pp->p, "!<>=");
	if (!n)
		n = pp_word(pp);
	if (!n)
		return pp_syntax(pp);
	snprintf(pp->why, sizeof(pp->why), "operator %s not supported (only = and IN)",
		 feed_quote(q, sizeof(q), pp->p, n));
	return -EINVAL;
}

/* After a term: OR continues, AND / FOLLOWEDBY are refused, anything else ends. */
static int pp_join(struct stix_pp *pp, bool *more)
{
	*more = false;
	if (pp_keyword(pp, "OR")) {
		*more = true;
		return 0;
	}
	if (pp_keyword(pp, "AND"))
		return pp_fail(pp, "AND is not supported (only comparisons joined by OR)");
	if (pp_keyword(pp, "FOLLOWEDBY"))
		return pp_fail(pp, "FOLLOWEDBY is not supported (only comparisons joined by OR)");
	return 0;
}

/* cmp_expr := cmp_term { OR cmp_term }; cmp_term := '(' cmp_expr ')' | comparison */
static int pp_cmp_expr(struct stix_pp *pp)
{
	bool more;

	do {
		pp_space(pp);
		if (*pp->p == '(') {
			pp->p++;
			if (pp_cmp_expr(pp) < 0)
				return -EINVAL;
			pp_space(pp);
			if (*pp->p != ')')
				return pp_syntax(pp);
			pp->p++;
		} else if (pp_comparison(pp) < 0) {
			return -EINVAL;
		}
		if (pp_join(pp, &more) < 0)
			return -EINVAL;
	} while (more);
	return 0;
}

static const char *const stix_qualifiers[] = { "WITHIN", "REPEATS", "START", "STOP" };

/* obs_expr := obs_term { OR obs_term }; obs_term := '[' cmp_expr ']' | '(' obs_expr ')' */
static int pp_obs_expr(struct stix_pp *pp)
{
	bool more;

	do {
		pp_space(pp);
		if (*pp->p == '[' || *pp->p == '(') {
			char close = *pp->p == '[' ? ']' : ')';
			int ret;

			pp->p++;
			ret = close == ']' ? pp_cmp_expr(pp) : pp_obs_expr(pp);
			if (ret < 0)
				return ret;
			pp_space(pp);
			if (*pp->p != close)
				return pp_syntax(pp);
			pp->p++;
		} else {
			return pp_syntax(pp);
		}
		pp_space(pp);
		for (size_t i = 0; i < ARRAY_SIZE(stix_qualifiers); i++) {
			if (pp_keyword(pp, stix_qualifiers[i])) {
				snprintf(pp->why, sizeof(pp->why), "qualifier %s not supported",
					 stix_qualifiers[i]);
				return -EINVAL;
			}
		}
		if (pp_join(pp, &more) < 0)
			return -EINVAL;
	} while (more);
	return 0;
}

static int stix_pattern(struct stix_pp *pp, bool emit)
{
	pp->p = pp->s;
	pp->emit = emit;
	if (pp_obs_expr(pp) < 0)
		return -EINVAL;
	pp_space(pp);
	if (*pp->p)
		return pp_syntax(pp);
	return 0;
}

/*
 * The line of `"id": "<id>"` in the text, searching forward from *pos (objects
 * come in document order) and counting lines on the way; 0 if not found (an
 * id written with escapes).
 */
static unsigned int stix_id_line(const char *text, size_t len, const char *id, size_t *pos,
				 unsigned int *line)
{
	size_t idlen = strlen(id);
	const char *p = text + *pos, *end = text + len;

	while (idlen && (p = memmem(p, (size_t)(end - p), id, idlen)) != NULL) {
		const char *q = p - 1;

		if (q > text && *q == '"' && p + idlen < end && p[idlen] == '"') {
			q--;
			while (q > text && is_space(*q))
				q--;
			if (q > text && *q == ':') {
				q--;
				while (q > text && is_space(*q))
					q--;
				if (q - text >= 3 && !memcmp(q - 3, "\"id\"", 4)) {
					for (const char *r = text + *pos; r < p; r++)
						*line += *r == '\n';
					*pos = (size_t)(p - text);
					return *line;
				}
			}
		}
		p++;
	}
	return 0;
}

static int stix_indicator(struct feed_ctx *c, json_t *obj, const char *id,
			  struct stix_pp *pp)
{
	json_t *ptype = json_object_get(obj, "pattern_type");
	json_t *pattern = json_object_get(obj, "pattern");
	json_t *until = json_object_get(obj, "valid_until");
	char q[FEED_QBUF];
	int64_t t = 0;

	if (json_is_true(json_object_get(obj, "revoked")))
		return 0;
	if (ptype && (!json_is_string(ptype) || strcmp(json_string_value(ptype), "stix") != 0)) {
		const char *v = json_is_string(ptype) ? json_string_value(ptype) : "";

		feed_report(c, FEED_ERROR, "%s: pattern_type %s not supported (only \"stix\")", id,
			    feed_quote(q, sizeof(q), v, strlen(v)));
		return 0;
	}
	if (!json_is_string(pattern)) {
		feed_report(c, FEED_ERROR, "%s: no \"pattern\" string", id);
		return 0;
	}
	if (until) {
		const char *v = json_is_string(until) ? json_string_value(until) : "";

		if (!json_is_string(until) || rfc3339_parse(v, &t) < 0) {
			feed_report(c, FEED_ERROR, "%s: valid_until %s is not an RFC 3339 timestamp",
				    id, feed_quote(q, sizeof(q), v, strlen(v)));
			return 0;
		}
		if (t <= 0 || (uint64_t)t <= c->sink->now) {
			feed_report(c, FEED_WARNING, "%s: expired at %s (valid_until), skipped", id,
				    v);
			return 0;
		}
	}
	pp->s = json_string_value(pattern);
	pp->c = c;
	pp->id = id;
	pp->expires = (uint64_t)t;
	pp->ret = 0;
	if (stix_pattern(pp, false) < 0) {
		feed_report(c, FEED_ERROR, "%s: pattern %s: %s", id,
			    feed_quote(q, sizeof(q), pp->s, strlen(pp->s)), pp->why);
		return 0;
	}
	stix_pattern(pp, true);
	return pp->ret;
}

static int stix_read_all(FILE *f, char **out, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

int feed_parse_stix(FILE *f, const char *file, const struct feed_sink *sink)
{
	struct feed_ctx c = { .file = file, .sink = sink };
	struct stix_pp *pp = NULL;
	json_t *root = NULL, *type, *objects;
	json_error_t jerr;
	char *text = NULL;
	size_t len, pos = 0;
	unsigned int line = 1;
	int ret;

	ret = stix_read_all(f, &text, &len);
	if (ret < 0)
		return ret;
	root = json_loadb(text, len, 0, &jerr);
	if (!root) {
		char q[FEED_QBUF];
		/* jansson puts "end of file" on the line after a final newline */
		size_t lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		lines += len && text[len - 1] != '\n';
		c.line = jerr.line > 0 ? (unsigned int)jerr.line : 0;
		if (c.line > lines)
			c.line = (unsigned int)lines;
		feed_report(&c, FEED_ERROR, "invalid JSON: %s",
			    feed_escape(q, sizeof(q), jerr.text, strlen(jerr.text), false));
		ret = -EINVAL;
		goto out;
	}
	type = json_object_get(root, "type");
	if (!json_is_object(root) || !json_is_string(type) ||
	    strcmp(json_string_value(type), "bundle") != 0) {
		const char *v = json_is_string(type) ? json_string_value(type) : NULL;
		char q[FEED_QBUF];

		if (v)
			feed_report(&c, FEED_ERROR, "not a STIX bundle (\"type\" is %s, not \"bundle\")",
				    feed_quote(q, sizeof(q), v, strlen(v)));
		else
			feed_report(&c, FEED_ERROR, "not a STIX bundle (no \"type\": \"bundle\")");
		ret = -EINVAL;
		goto out;
	}
	objects = json_object_get(root, "objects");
	if (objects && !json_is_array(objects)) {
		feed_report(&c, FEED_ERROR, "not a STIX bundle (\"objects\" is not an array)");
		ret = -EINVAL;
		goto out;
	}
	pp = malloc(sizeof(*pp));
	if (!pp) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; !ret && i < json_array_size(objects); i++) {
		json_t *obj = json_array_get(objects, i), *jid;
		char idbuf[FEED_QBUF];
		const char *id;

		c.line = 0;
		if (!json_is_object(obj)) {
			feed_report(&c, FEED_ERROR, "objects[%zu]: not a JSON object", i);
			continue;
		}
		type = json_object_get(obj, "type");
		if (!json_is_string(type) || strcmp(json_string_value(type), "indicator") != 0)
			continue;
		jid = json_object_get(obj, "id");
		if (json_is_string(jid)) {
			c.line = stix_id_line(text, len, json_string_value(jid), &pos, &line);
			id = feed_escape(idbuf, sizeof(idbuf), json_string_value(jid),
					 strlen(json_string_value(jid)), false);
		} else {
			snprintf(idbuf, sizeof(idbuf), "objects[%zu]", i);
			id = idbuf;
		}
		ret = stix_indicator(&c, obj, id, pp);
	}
out:
	free(pp);
	json_decref(root);
	free(text);
	return ret;
}

/* ------------------------------------------------------------ formats */

static const struct feed_format_ops {
	const char *name;
	int (*parse)(FILE *f, const char *file, const struct feed_sink *sink);
} feed_formats[FEED_FORMAT_MAX] = {
	[FEED_DOMAINS] = { .name = "domains", .parse = feed_parse_domains },
	[FEED_HOSTS] = { .name = "hosts", .parse = feed_parse_hosts },
	[FEED_CIDR] = { .name = "cidr", .parse = feed_parse_cidr },
	[FEED_STIX] = { .name = "stix", .parse = feed_parse_stix },
	[FEED_PROTOCOLS] = { .name = "protocols", .parse = feed_parse_protocols },
	[FEED_CATEGORIES] = { .name = "categories", .parse = feed_parse_categories },
	[FEED_JA3] = { .name = "ja3", .parse = feed_parse_ja3 },
};

int feed_parse(enum feed_format fmt, FILE *f, const char *file, const struct feed_sink *sink)
{
	if ((unsigned int)fmt >= FEED_FORMAT_MAX)
		return -EINVAL;
	return feed_formats[fmt].parse(f, file, sink);
}

const char *feed_format_name(enum feed_format fmt)
{
	return (unsigned int)fmt < FEED_FORMAT_MAX ? feed_formats[fmt].name : "?";
}

int feed_format_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(feed_formats); i++)
		if (!strcmp(feed_formats[i].name, name))
			return (int)i;
	return -EINVAL;
}

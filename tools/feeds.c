/*
 * Feed parsers, the line formats: domain lists, hosts files, CIDR lists, nDPI
 * protocol and category names, JA3 lists, and the table of every format
 * (see feeds.h; STIX bundles are feeds_stix.c, the value checks and reports
 * feeds_value.c).
 *
 * Each format is one function of a line: feed_lines() reads the file (any
 * line length, LF or CRLF, a UTF-8 byte order mark, a NUL byte reported),
 * the format cuts comments and tokens and hands each value to its check.
 */
#include "feeds_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ lines */

/* Cut s at the first of `stop` (comment characters), then trim; returns the start. */
static char *strip(char *s, const char *stop)
{
	char *end;

	s[strcspn(s, stop)] = '\0';
	while (feed_is_space(*s))
		s++;
	end = s + strlen(s);
	while (end > s && feed_is_space(end[-1]))
		end--;
	*end = '\0';
	return s;
}

static size_t token_len(const char *s)
{
	size_t n = 0;

	while (s[n] && !feed_is_space(s[n]))
		n++;
	return n;
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

	if (feed_domain(s, len, ind.name, why, sizeof(why)) < 0) {
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

static void hosts_note(struct feed_ctx *c, enum feed_note kind, const char *value, size_t len)
{
	char buf[FEED_QBUF];

	if (!c->sink->note)
		return;
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) - 1 ? len : sizeof(buf) - 1), value);
	c->sink->note(kind, c->file, c->line, buf, c->sink->ctx);
}

static int hosts_line(struct feed_ctx *c, char *s)
{
	const char *addr, *comment = NULL, *first_local = NULL;
	size_t len, first_local_len = 0, taken = 0;
	char *hash;
	int ret;

	hash = strchr(s, '#');
	if (hash) {
		const char *b = feed_skip_space(s);

		if (b < hash)
			comment = feed_skip_space(hash + 1); /* strip() below cuts at the '#' */
	}
	s = strip(s, "#");
	if (!*s)
		return 0;
	addr = s;
	len = token_len(s);
	if (!feed_is_ip_literal(addr, len)) {
		feed_bad(c, addr, len, "not an IP address (hosts lines are \"ADDRESS NAME...\")");
		return 0;
	}
	s = (char *)feed_skip_space(s + len);
	if (!*s) {
		feed_bad(c, addr, len, "no host name after the address");
		return 0;
	}
	for (; *s; s = (char *)feed_skip_space(s + len)) {
		len = token_len(s);
		if (hosts_is_local(s, len)) {
			if (!first_local) {
				first_local = s;
				first_local_len = len;
			}
			continue;
		}
		taken++;
		ret = emit_domain(c, s, len);
		if (ret)
			return ret;
	}
	if (!taken && first_local)
		hosts_note(c, FEED_NOTE_SKIPPED, first_local, first_local_len);
	else if (comment)
		hosts_note(c, FEED_NOTE_COMMENT, comment, strlen(comment));
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
	if (feed_ip_parse(s, len, 0, &ind, why, sizeof(why)) < 0) {
		feed_bad(c, s, len, why);
		return 0;
	}
	if (s[len]) {
		char q[FEED_QBUF];
		const char *rest = feed_skip_space(s + len);

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
			feed_why_char(why, sizeof(why), ch, " (allowed: letters, digits, '_', '.', '-')");
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

	s = (char *)feed_skip_space(s);
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
			feed_why_char(why, sizeof(why), (unsigned char)s[i],
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

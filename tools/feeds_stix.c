/*
 * Feed parsers, STIX 2.1 bundles (see feeds.h): the indicators of a bundle,
 * their patterns reduced to what a gateway can enforce.
 *
 * STIX patterns are reduced to comparisons of domain-name, ipv4-addr,
 * ipv6-addr and url values with '=' or IN, joined by OR (inside one
 * observation or between observations). Anything that needs more than one
 * observation to match (AND, FOLLOWEDBY, qualifiers) or other operators
 * cannot be expressed as independent entries, so such a pattern is refused
 * as a whole; a comparison on another object path (file hashes, e-mail
 * addresses) is reported and the rest of the OR is kept. jansson gives no
 * positions for values, so the line of a STIX indicator is found by looking
 * for its `"id": "..."` member in the text, in document order.
 */
#include "feeds_value.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Longest STIX string literal decoded (a URL can be long; a domain is <= 253). */
#define STIX_VALUE_MAX 4096

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
	pp->p = feed_skip_space(pp->p);
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

		if (!close || feed_ip_parse(host + 1, (size_t)(close - host - 1), AF_INET6, ind, why,
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
	if (feed_is_ip_literal(host, hlen))
		return feed_ip_parse(host, hlen, AF_INET, ind, why, whylen);
	ind->kind = BUNDLE_DOMAIN;
	ind->exact = true;
	return feed_domain(host, hlen, ind->name, why, whylen);
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
		ret = feed_domain(pp->value, len, ind.name, why, sizeof(why));
		break;
	case SP_IPV4:
		ret = feed_ip_parse(pp->value, len, AF_INET, &ind, why, sizeof(why));
		break;
	case SP_IPV6:
		ret = feed_ip_parse(pp->value, len, AF_INET6, &ind, why, sizeof(why));
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
	while (*pp->p && !feed_is_space(*pp->p) && !strchr("=!<>()[]", *pp->p)) {
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
			while (q > text && feed_is_space(*q))
				q--;
			if (q > text && *q == ':') {
				q--;
				while (q > text && feed_is_space(*q))
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

/*
 * Feed parsers (tools/feeds*.c): for each format, what good lines become and
 * exactly what a hub operator reads for each kind of bad line.
 *
 * Each case feeds a small file through its parser and compares a transcript
 * with a golden one. The transcript has one line per event, in order:
 *
 *   7: domain example.com            an indicator, with the line it came from
 *   7: ipv4 10.0.0.0/8 expires 1893456000
 *   f:9: "a..b": empty label         a bad line, as tg-hub prints it
 *   f:9: warning: ...                a note (an expired STIX indicator)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "feeds.h"

/* 2026-01-01T00:00:00Z: "now" for STIX expiry. */
#define NOW 1767225600u

struct transcript {
	char *buf;
	size_t len;
	FILE *out;
	int stop_after; /* make the indicator callback fail after this many; 0 = never */
	int seen;
};

static int on_indicator(const struct feed_indicator *ind, void *ctx)
{
	static const char *const kinds[] = { "ipv4", "ipv6", "domain", "protocol", "category",
					     "ja3" };
	struct transcript *t = ctx;
	char addr[INET6_ADDRSTRLEN];

	fprintf(t->out, "%u: %s ", ind->line, kinds[ind->kind]);
	switch (ind->kind) {
	case BUNDLE_IPV4:
	case BUNDLE_IPV6:
		assert_int_equal(ind->family, ind->kind == BUNDLE_IPV4 ? AF_INET : AF_INET6);
		inet_ntop(ind->family, ind->addr, addr, sizeof(addr));
		fprintf(t->out, "%s/%u", addr, ind->prefix_len);
		break;
	case BUNDLE_JA3:
		for (size_t i = 0; i < sizeof(ind->md5); i++)
			fprintf(t->out, "%02x", ind->md5[i]);
		break;
	default:
		fprintf(t->out, "%s", ind->name);
		break;
	}
	if (ind->exact)
		fprintf(t->out, " exact");
	if (ind->expires)
		fprintf(t->out, " expires %llu", (unsigned long long)ind->expires);
	fprintf(t->out, "\n");
	if (t->stop_after && ++t->seen >= t->stop_after)
		return -ENOSPC;
	return 0;
}

static void on_report(enum feed_severity sev, const char *file, unsigned int line, const char *msg,
		      void *ctx)
{
	struct transcript *t = ctx;

	assert_null(strchr(msg, '\n'));
	fprintf(t->out, "%s:%u: %s%s\n", file, line, sev == FEED_WARNING ? "warning: " : "", msg);
}

static void on_note(enum feed_note kind, const char *file, unsigned int line, const char *value,
		    void *ctx)
{
	struct transcript *t = ctx;

	assert_null(strchr(value, '\n'));
	fprintf(t->out, "%s:%u: note: %s \"%s\"\n", file, line,
		kind == FEED_NOTE_SKIPPED ? "skipped, local names such as" : "trailing comment", value);
}

/* Parse `text` as `fmt` from a file named "f"; return the transcript (static). */
static const char *parse_ret(enum feed_format fmt, const char *text, int stop_after, int *ret)
{
	static char result[16384];
	struct transcript t = { .stop_after = stop_after };
	struct feed_sink sink = {
		.indicator = on_indicator, .report = on_report, .note = on_note, .ctx = &t, .now = NOW
	};
	FILE *in = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(in);
	t.out = open_memstream(&t.buf, &t.len);
	assert_non_null(t.out);
	*ret = feed_parse(fmt, in, "f", &sink);
	fclose(in);
	assert_int_equal(fclose(t.out), 0);
	assert_true(t.len < sizeof(result));
	memcpy(result, t.buf, t.len + 1);
	free(t.buf);
	return result;
}

static const char *parse(enum feed_format fmt, const char *text)
{
	int ret;
	const char *out = parse_ret(fmt, text, 0, &ret);

	assert_int_equal(ret, 0);
	return out;
}

/* ------------------------------------------------------------ domains */

static void test_domains_good(void **state)
{
	(void)state;
	assert_string_equal(parse(FEED_DOMAINS, "# a list\n"
						"\n"
						"Evil.Example\n"
						"  *.ads.example.net  \n"
						".tracker.example.org\n"
						"fqdn.example.com.\n"
						"under_score.example # note\n"
						"x-.duckdns.org\r\n"
						"zip\n"
						"\xef\xbb\xbfnot-a-bom.example\n"),
			    "3: domain evil.example\n"
			    "4: domain ads.example.net\n"
			    "5: domain tracker.example.org\n"
			    "6: domain fqdn.example.com\n"
			    "7: domain under_score.example\n"
			    "8: domain x-.duckdns.org\n"
			    "9: domain zip\n"
			    "f:10: \"\\xef\\xbb\\xbfnot-a-bom.example\": invalid character '\\xef' "
			    "(internationalised names must be in punycode, xn--...)\n");
}

static void test_domains_bom_and_no_final_newline(void **state)
{
	(void)state;
	assert_string_equal(parse(FEED_DOMAINS, "\xef\xbb\xbf"
						"a.example\nb.example"),
			    "1: domain a.example\n"
			    "2: domain b.example\n");
}

static void test_domains_bad(void **state)
{
	char text[1024], golden[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "a..b.example\n"
		 "*.\n"
		 "ex!ample.com\n"
		 "two.example three.example\n"
		 "10.0.0.1\n"
		 "2001:db8::1\n"
		 "%s.example\n"
		 "b\xc3\xbc"
		 "cher.example\n"
		 "trailing.dots..\n"
		 "a.*.example\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 64 */
	snprintf(golden, sizeof(golden),
		 "f:1: \"a..b.example\": empty label\n"
		 "f:2: \"*.\": empty name\n"
		 "f:3: \"ex!ample.com\": invalid character '!'\n"
		 "f:4: \"two.example three.example\": more than one name (one domain per line)\n"
		 "f:5: \"10.0.0.1\": an IP address, not a domain name\n"
		 "f:6: \"2001:db8::1\": an IP address, not a domain name\n"
		 "f:7: \"%s.example\": label \"%s\" longer than 63 characters (64)\n"
		 "f:8: \"b\\xc3\\xbccher.example\": invalid character '\\xc3' (internationalised "
		 "names must be in punycode, xn--...)\n"
		 "f:9: \"trailing.dots..\": empty label\n"
		 "f:10: \"a.*.example\": invalid character '*'\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_string_equal(parse(FEED_DOMAINS, text), golden);
}

static void test_domains_length(void **state)
{
	char name[300], text[700];
	const char *out;

	(void)state;
	/* 4 labels of 63 + 3 dots = 255 > 253; 63+1+63+1+63+1+61 = 253 is fine */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	snprintf(text, sizeof(text), "%s\n", name);
	out = parse(FEED_DOMAINS, text);
	assert_int_equal(strncmp(out, "1: domain aaaa", 14), 0);
	name[253] = 'a';
	name[254] = '\0';
	snprintf(text, sizeof(text), "%s\n", name);
	out = parse(FEED_DOMAINS, text);
	/* the value is quoted up to 96 bytes, then "..." */
	assert_non_null(strstr(out, "\"...: name longer than 253 characters (254)\n"));
	assert_int_equal(strncmp(out, "f:1: \"aaaa", 10), 0);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "a.example\nb\0c.example\nd.example\n";
	struct transcript t = { 0 };
	struct feed_sink sink = { .indicator = on_indicator, .report = on_report, .ctx = &t };
	FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");

	(void)state;
	t.out = open_memstream(&t.buf, &t.len);
	assert_int_equal(feed_parse_domains(in, "f", &sink), 0);
	fclose(in);
	fclose(t.out);
	assert_string_equal(t.buf, "1: domain a.example\n"
				   "f:2: line contains a NUL byte\n"
				   "3: domain d.example\n");
	free(t.buf);
}

/* ------------------------------------------------------------ hosts */

static void test_hosts(void **state)
{
	(void)state;
	assert_string_equal(
		parse(FEED_HOSTS, "# StevenBlack-style header\n"
				  "127.0.0.1 localhost\n"
				  "127.0.0.1 localhost.localdomain\n"
				  "255.255.255.255 broadcasthost\n"
				  "::1 localhost ip6-localhost ip6-loopback\n"
				  "0.0.0.0 0.0.0.0\n"
				  "0.0.0.0 ads.example.com\n"
				  "127.0.0.1\tx.example y.example\tZ.Example # three names\n"
				  "0.0.0.0 tracker.example #comment right after\n"
				  "   # indented comment\n"
				  "ads.example.net\n"
				  "0.0.0.0\n"
				  "0.0.0.0 good.example bad..example also-good.example\n"),
		"f:2: note: skipped, local names such as \"localhost\"\n"
		"f:3: note: skipped, local names such as \"localhost.localdomain\"\n"
		"f:4: note: skipped, local names such as \"broadcasthost\"\n"
		"f:5: note: skipped, local names such as \"localhost\"\n"
		"f:6: note: skipped, local names such as \"0.0.0.0\"\n"
		"7: domain ads.example.com\n"
		"8: domain x.example\n"
		"8: domain y.example\n"
		"8: domain z.example\n"
		"f:8: note: trailing comment \"three names\"\n"
		"9: domain tracker.example\n"
		"f:9: note: trailing comment \"comment right after\"\n"
		"f:11: \"ads.example.net\": not an IP address (hosts lines are \"ADDRESS NAME...\")\n"
		"f:12: \"0.0.0.0\": no host name after the address\n"
		"13: domain good.example\n"
		"f:13: \"bad..example\": empty label\n"
		"13: domain also-good.example\n");
}

/* ------------------------------------------------------------ cidr */

static void test_cidr_good(void **state)
{
	(void)state;
	assert_string_equal(parse(FEED_CIDR, "; Spamhaus DROP List 2026/01/01\n"
					     "; Last-Modified: Thu, 01 Jan 2026 00:00:00 GMT\n"
					     "1.10.16.0/20 ; SBL256894\n"
					     "192.0.2.7\n"
					     "198.51.100.0/24# no space\n"
					     "2001:db8::/32 ; v6\n"
					     "2001:db8::1\n"
					     "0.0.0.0/0\n"
					     "::ffff:192.0.2.0/120\n"),
			    "3: ipv4 1.10.16.0/20\n"
			    "4: ipv4 192.0.2.7/32\n"
			    "5: ipv4 198.51.100.0/24\n"
			    "6: ipv6 2001:db8::/32\n"
			    "7: ipv6 2001:db8::1/128\n"
			    "8: ipv4 0.0.0.0/0\n"
			    "9: ipv6 ::ffff:192.0.2.0/120\n");
}

static void test_cidr_bad(void **state)
{
	(void)state;
	assert_string_equal(parse(FEED_CIDR, "10.0.0.0/33\n"
					     "2001:db8::/129\n"
					     "10.0.0.1/8 ; host bits\n"
					     "2001:db8::1/32\n"
					     "10.0.0.0/x\n"
					     "10.0.0.0/\n"
					     "10.0.0.0/99999\n"
					     "10.0.0.300\n"
					     "010.0.0.1\n"
					     "1.2.3.4 5.6.7.8\n"
					     "evil.example\n"),
			    "f:1: \"10.0.0.0/33\": prefix length 33 out of range (0..32)\n"
			    "f:2: \"2001:db8::/129\": prefix length 129 out of range (0..128)\n"
			    "f:3: \"10.0.0.1/8\": host bits set; the network is 10.0.0.0/8\n"
			    "f:4: \"2001:db8::1/32\": host bits set; the network is 2001:db8::/32\n"
			    "f:5: \"10.0.0.0/x\": prefix length \"x\" is not a number\n"
			    "f:6: \"10.0.0.0/\": prefix length \"\" is not a number\n"
			    "f:7: \"10.0.0.0/99999\": prefix length 99999 out of range (0..32)\n"
			    "f:8: \"10.0.0.300\": not an IPv4 or IPv6 address\n"
			    "f:9: \"010.0.0.1\": not an IPv4 or IPv6 address\n"
			    "f:10: \"1.2.3.4 5.6.7.8\": unexpected \"5.6.7.8\" after the address\n"
			    "f:11: \"evil.example\": not an IPv4 or IPv6 address\n");
}

/* ------------------------------------------------------------ protocols, categories */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(parse(FEED_PROTOCOLS, "# peer to peer\n"
						  "BitTorrent\n"
						  "TikTok   # short video\n"
						  "Bit Torrent\n"
						  "AVeryLongProtocolNameThatIsTooLong\n"
						  "Tor!\n"),
			    "2: protocol BitTorrent\n"
			    "3: protocol TikTok\n"
			    "f:4: \"Bit Torrent\": invalid character ' ' (allowed: letters, digits, "
			    "'_', '.', '-')\n"
			    "f:5: \"AVeryLongProtocolNameThatIsTooLong\": longer than 31 characters "
			    "(34)\n"
			    "f:6: \"Tor!\": invalid character '!' (allowed: letters, digits, '_', '.', "
			    "'-')\n");
	assert_string_equal(parse(FEED_CATEGORIES, "Mining\nMalware\nSocial_Network\n"),
			    "1: category Mining\n"
			    "2: category Malware\n"
			    "3: category Social_Network\n");
}

/* ------------------------------------------------------------ ja3 */

static void test_ja3(void **state)
{
	(void)state;
	assert_string_equal(
		parse(FEED_JA3, "################################################################\n"
				"# abuse.ch SSLBL JA3 Fingerprint Blacklist (CSV)                #\n"
				"# ja3_md5,Firstseen,Lastseen,Listingreason\n"
				"b386946a5a44d1ddcc843bc75336dfce,2017-07-14 18:08:15,2019-07-27 "
				"20:42:54,Dridex\n"
				"8916410DB85077A5460817142DCBC8DE\n"
				"  51c64c77e60f3980eea90869b68c58a8 , Tofsee\n"
				"b386946a5a44d1dd,short\n"
				"g386946a5a44d1ddcc843bc75336dfce\n"
				",only a comment\n"),
		"4: ja3 b386946a5a44d1ddcc843bc75336dfce\n"
		"5: ja3 8916410db85077a5460817142dcbc8de\n"
		"6: ja3 51c64c77e60f3980eea90869b68c58a8\n"
		"f:7: \"b386946a5a44d1dd\": a JA3 hash is 32 hex digits (found 16 characters)\n"
		"f:8: \"g386946a5a44d1ddcc843bc75336dfce\": invalid character 'g' (a JA3 hash is 32 "
		"hex digits)\n"
		"f:9: \"\": a JA3 hash is 32 hex digits (found 0 characters)\n");
}

/* ------------------------------------------------------------ STIX */

static void test_stix(void **state)
{
	(void)state;
	assert_string_equal(
		parse(FEED_STIX,
		      "{\n"
		      "  \"type\": \"bundle\",\n"
		      "  \"id\": \"bundle--1\",\n"
		      "  \"objects\": [\n"
		      "    {\"type\": \"identity\", \"id\": \"identity--1\", \"name\": \"CERT\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--dom\",\n"
		      "     \"pattern\": \"[domain-name:value = 'Evil.Example']\",\n"
		      "     \"pattern_type\": \"stix\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--or\",\n"
		      "     \"pattern\": \"[ipv4-addr:value = '198.51.100.0/24' OR "
		      "ipv6-addr:value = '2001:db8::/32' OR domain-name:value = 'b.example']\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--url\",\n"
		      "     \"pattern\": \"[url:value = 'http://user@Bad.Example:8080/path?q=1'] OR "
		      "[url:value = 'https://192.0.2.1/x'] OR ([url:value = 'http://[2001:db8::5]/'])\",\n"
		      "     \"valid_until\": \"2030-01-01T00:00:00Z\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--in\",\n"
		      "     \"pattern\": \"[domain-name:value IN ('c.example', 'd.example')]\",\n"
		      "     \"valid_until\": \"2030-01-01T01:00:00.123+01:00\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--revoked\", \"revoked\": true,\n"
		      "     \"pattern\": \"[domain-name:value = 'revoked.example']\"},\n"
		      "    {\"type\": \"indicator\", \"id\": \"indicator--old\",\n"
		      "     \"pattern\": \"[domain-name:value = 'old.example']\",\n"
		      "     \"valid_until\": \"2025-06-01T00:00:00Z\"},\n"
		      "    {\"type\": \"relationship\", \"id\": \"relationship--1\",\n"
		      "     \"source_ref\": \"indicator--dom\", \"target_ref\": \"identity--1\"}\n"
		      "  ]\n"
		      "}\n"),
		"6: domain evil.example\n"
		"9: ipv4 198.51.100.0/24\n"
		"9: ipv6 2001:db8::/32\n"
		"9: domain b.example\n"
		"11: domain bad.example exact expires 1893456000\n"
		"11: ipv4 192.0.2.1/32 expires 1893456000\n"
		"11: ipv6 2001:db8::5/128 expires 1893456000\n"
		"14: domain c.example expires 1893456000\n"
		"14: domain d.example expires 1893456000\n"
		"f:19: warning: indicator--old: expired at 2025-06-01T00:00:00Z (valid_until), "
		"skipped\n");
}

static void test_stix_unsupported(void **state)
{
	(void)state;
	assert_string_equal(
		parse(FEED_STIX,
		      "{\"type\": \"bundle\", \"objects\": [\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--hash\", \"pattern\": "
		      "\"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--and\", \"pattern\": "
		      "\"[domain-name:value = 'a.example' AND ipv4-addr:value = '192.0.2.1']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--followed\", \"pattern\": "
		      "\"[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--within\", \"pattern\": "
		      "\"[domain-name:value = 'a.example'] WITHIN 300 SECONDS\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--like\", \"pattern\": "
		      "\"[domain-name:value LIKE '%.example']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--mixed\", \"pattern\": "
		      "\"[email-addr:value = 'x@example.com' OR domain-name:value = 'kept.example']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--yara\", \"pattern_type\": \"yara\", "
		      "\"pattern\": \"rule x {}\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--nopattern\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--badtime\", \"valid_until\": "
		      "\"2030-02-30T00:00:00Z\", \"pattern\": \"[domain-name:value = 'x.example']\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--syntax\", \"pattern\": "
		      "\"[domain-name:value = 'a.example'\"},\n"
		      "{\"type\": \"indicator\", \"id\": \"indicator--badvalues\", \"pattern\": "
		      "\"[domain-name:value = 'a..example' OR ipv4-addr:value = '10.0.0.1/8' OR "
		      "ipv6-addr:value = '10.0.0.1' OR url:value = 'bad.example/x' OR "
		      "url:value = 'http:///x']\"},\n"
		      "{\"type\": \"indicator\", \"pattern\": \"[domain-name:value = 'no-id.example']\"},\n"
		      "42\n"
		      "]}\n"),
		"f:2: indicator--hash: unsupported object path \"file:hashes.'SHA-256'\" (only "
		"domain-name, ipv4-addr, ipv6-addr and url values)\n"
		"f:3: indicator--and: pattern \"[domain-name:value = 'a.example' AND ipv4-addr:value "
		"= '192.0.2.1']\": AND is not supported (only comparisons joined by OR)\n"
		"f:4: indicator--followed: pattern \"[domain-name:value = 'a.example'] FOLLOWEDBY "
		"[domain-name:value = 'b.example']\": FOLLOWEDBY is not supported (only "
		"comparisons joined by OR)\n"
		"f:5: indicator--within: pattern \"[domain-name:value = 'a.example'] WITHIN 300 "
		"SECONDS\": qualifier WITHIN not supported\n"
		"f:6: indicator--like: pattern \"[domain-name:value LIKE '%.example']\": operator "
		"\"LIKE\" not supported (only = and IN)\n"
		"f:7: indicator--mixed: unsupported object path \"email-addr:value\" (only "
		"domain-name, ipv4-addr, ipv6-addr and url values)\n"
		"7: domain kept.example\n"
		"f:8: indicator--yara: pattern_type \"yara\" not supported (only \"stix\")\n"
		"f:9: indicator--nopattern: no \"pattern\" string\n"
		"f:10: indicator--badtime: valid_until \"2030-02-30T00:00:00Z\" is not an RFC 3339 "
		"timestamp\n"
		"f:11: indicator--syntax: pattern \"[domain-name:value = 'a.example'\": syntax error "
		"at the end\n"
		"f:12: indicator--badvalues: domain-name \"a..example\": empty label\n"
		"f:12: indicator--badvalues: ipv4-addr \"10.0.0.1/8\": host bits set; the network is "
		"10.0.0.0/8\n"
		"f:12: indicator--badvalues: ipv6-addr \"10.0.0.1\": not an IPv6 address\n"
		"f:12: indicator--badvalues: url \"bad.example/x\": no scheme (expected "
		"scheme://host/...)\n"
		"f:12: indicator--badvalues: url \"http:///x\": no host\n"
		"0: domain no-id.example\n"
		"f:0: objects[12]: not a JSON object\n");
}

static void test_stix_document(void **state)
{
	int ret;

	(void)state;
	assert_string_equal(parse_ret(FEED_STIX, "{\"type\": \"bundle\",\n \"objects\": [}", 0, &ret),
			    "f:2: invalid JSON: unexpected token near '}'\n");
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(parse_ret(FEED_STIX, "{\"type\": \"indicator\"}", 0, &ret),
			    "f:0: not a STIX bundle (\"type\" is \"indicator\", not \"bundle\")\n");
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(parse_ret(FEED_STIX, "[1, 2]", 0, &ret),
			    "f:0: not a STIX bundle (no \"type\": \"bundle\")\n");
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(parse_ret(FEED_STIX, "{\"type\": \"bundle\", \"objects\": {}}", 0, &ret),
			    "f:0: not a STIX bundle (\"objects\" is not an array)\n");
	assert_int_equal(ret, -EINVAL);
	/* an empty bundle is a valid bundle (objects is optional in STIX 2.1) */
	assert_string_equal(parse_ret(FEED_STIX, "{\"type\": \"bundle\", \"id\": \"bundle--e\"}", 0,
				      &ret),
			    "");
	assert_int_equal(ret, 0);
}

static void test_stix_timestamps(void **state)
{
	char text[512];

	(void)state;
	/* the leap day of 2028, an offset west of UTC, lower-case separators */
	snprintf(text, sizeof(text),
		 "{\"type\": \"bundle\", \"objects\": ["
		 "{\"type\": \"indicator\", \"id\": \"indicator--a\", \"valid_until\": "
		 "\"2028-02-29T23:00:00-01:00\", \"pattern\": \"[domain-name:value = 'a.example']\"},"
		 "{\"type\": \"indicator\", \"id\": \"indicator--b\", \"valid_until\": "
		 "\"2026-01-01t00:00:01z\", \"pattern\": \"[domain-name:value = 'b.example']\"},"
		 "{\"type\": \"indicator\", \"id\": \"indicator--c\", \"valid_until\": "
		 "\"2026-01-01T00:00:00Z\", \"pattern\": \"[domain-name:value = 'c.example']\"}]}");
	assert_string_equal(parse(FEED_STIX, text),
			    "1: domain a.example expires 1835481600\n"
			    "1: domain b.example expires 1767225601\n"
			    "f:1: warning: indicator--c: expired at 2026-01-01T00:00:00Z "
			    "(valid_until), skipped\n");
}

/* ------------------------------------------------------------ API */

static void test_callback_stops_parse(void **state)
{
	int ret;

	(void)state;
	assert_string_equal(parse_ret(FEED_DOMAINS, "a.example\nb.example\nc.example\n", 2, &ret),
			    "1: domain a.example\n"
			    "2: domain b.example\n");
	assert_int_equal(ret, -ENOSPC);
	assert_string_equal(
		parse_ret(FEED_STIX,
			  "{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"id\": "
			  "\"indicator--x\", \"pattern\": \"[domain-name:value IN ('a.example', "
			  "'b.example')]\"}, {\"type\": \"indicator\", \"id\": \"indicator--y\", "
			  "\"pattern\": \"[domain-name:value = 'c.example']\"}]}",
			  1, &ret),
		"1: domain a.example\n");
	assert_int_equal(ret, -ENOSPC);
}

static void test_format_names(void **state)
{
	(void)state;
	for (int i = 0; i < FEED_FORMAT_MAX; i++)
		assert_int_equal(feed_format_from_name(feed_format_name((enum feed_format)i)), i);
	assert_int_equal(feed_format_from_name("cidr"), FEED_CIDR);
	assert_int_equal(feed_format_from_name("CIDR"), -EINVAL);
	assert_int_equal(feed_format_from_name("csv"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains_good),
		cmocka_unit_test(test_domains_bom_and_no_final_newline),
		cmocka_unit_test(test_domains_bad),
		cmocka_unit_test(test_domains_length),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_cidr_good),
		cmocka_unit_test(test_cidr_bad),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ja3),
		cmocka_unit_test(test_stix),
		cmocka_unit_test(test_stix_unsupported),
		cmocka_unit_test(test_stix_document),
		cmocka_unit_test(test_stix_timestamps),
		cmocka_unit_test(test_callback_stops_parse),
		cmocka_unit_test(test_format_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

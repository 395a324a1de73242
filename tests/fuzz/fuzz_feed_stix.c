/*
 * libFuzzer target for the STIX 2.1 parser of tools/feeds_stix.c, with the checks
 * of fuzz_feed_text.c (well-formed indicators, existing line numbers, one-line
 * reports; here also: no indicator already expired).
 *
 * Random bytes rarely make a JSON bundle, so the first byte picks one of two
 * modes: even, the rest is the whole document; odd, the rest is
 * "PATTERN\nVALID_UNTIL" wrapped by jansson into a one-indicator bundle, which
 * puts the fuzzer straight onto the pattern reader and the timestamp parser.
 */
#include <jansson.h>

#define FUZZ_FEED_CHECKS_ONLY
#include "fuzz_feed_text.c"

/* 2026-01-01T00:00:00Z */
#define FUZZ_NOW 1767225600u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *rest, *nl;
	json_t *pattern, *until = NULL, *doc;
	char *text;

	if (!size)
		return 0;
	if (!(data[0] & 1)) {
		fuzz_feed(FEED_STIX, data + 1, size - 1, FUZZ_NOW);
		return 0;
	}
	rest = (const char *)data + 1;
	nl = memchr(rest, '\n', size - 1);
	pattern = json_stringn(rest, nl ? (size_t)(nl - rest) : size - 1);
	if (nl)
		until = json_stringn(nl + 1, size - 1 - (size_t)(nl + 1 - rest));
	if (!pattern || (nl && !until)) { /* not UTF-8: jansson refuses it, so would a feed */
		json_decref(pattern);
		json_decref(until);
		return 0;
	}
	doc = json_pack("{s:s, s:[{s:s, s:s, s:o, s:o*}]}", "type", "bundle", "objects", "type",
			"indicator", "id", "indicator--fuzz", "pattern", pattern, "valid_until",
			until);
	if (!doc)
		abort();
	text = json_dumps(doc, JSON_INDENT(1));
	if (!text)
		abort();
	fuzz_feed(FEED_STIX, (const uint8_t *)text, strlen(text), FUZZ_NOW);
	free(text);
	json_decref(doc);
	return 0;
}

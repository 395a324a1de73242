/*
 * Signed hub commands; see cmd.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "core/common.h"
#include "hub/cmd.h"
#include "policy/bundle.h"

static const char *const cmd_err_names[CMD_ERR_MAX] = {
	[CMD_OK] = "ok",
	[CMD_ERR_FORMAT] = "format",
	[CMD_ERR_SIGNATURE] = "signature",
	[CMD_ERR_GATEWAY] = "gateway",
	[CMD_ERR_REGION] = "region",
	[CMD_ERR_STALE] = "stale",
	[CMD_ERR_REPLAY] = "replay",
	[CMD_ERR_UNKNOWN] = "unknown",
};

const char *cmd_err_name(enum cmd_err e)
{
	return (unsigned int)e < CMD_ERR_MAX ? cmd_err_names[e] : "?";
}

static const struct {
	const char *word;
	enum cmd_kind kind;
} cmd_words[] = {
	{ "report", CMD_REPORT },
	{ "resync", CMD_RESYNC },
};

static int cmd_digest(const uint8_t *json, size_t len, uint8_t hash[32])
{
	return mbedtls_sha256_ret(json, len, hash, 0) ? -EIO : 0;
}

bool cmd_nonce_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < CMD_NONCE_MIN || n > CMD_NONCE_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/*
 * The nonce carried out in the last CMD_REPLAY_WINDOW_S seconds: its slot,
 * or -1. A time after now (the clock went back across a restart) counts as
 * just now, not as long ago.
 */
static int cmd_seen(const struct cmd_guard *g, const char *nonce, uint64_t now_s)
{
	for (int i = 0; i < CMD_NONCES; i++)
		if (g->nonce[i][0] &&
		    (g->seen_s[i] >= now_s || now_s - g->seen_s[i] < CMD_REPLAY_WINDOW_S) &&
		    !strcmp(g->nonce[i], nonce))
			return i;
	return -1;
}

/* The JSON's fields, checked for type; CMD_ERR_FORMAT if any is missing or wrong. */
static enum cmd_err cmd_fields(const uint8_t *json, size_t len, const char **word,
			       const char **gw, const char **region, const char **nonce,
			       json_int_t *issued, json_t **root)
{
	json_t *o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);

	*root = o;
	if (!json_is_object(o))
		return CMD_ERR_FORMAT;
	*word = json_string_value(json_object_get(o, "cmd"));
	*gw = json_string_value(json_object_get(o, "gateway"));
	*region = json_string_value(json_object_get(o, "region"));
	*nonce = json_string_value(json_object_get(o, "nonce"));
	if (!*word || !*gw || !*region || !*nonce || !json_is_integer(json_object_get(o, "issued")))
		return CMD_ERR_FORMAT;
	*issued = json_integer_value(json_object_get(o, "issued"));
	if (*issued < 0 || !cmd_nonce_valid(*nonce))
		return CMD_ERR_FORMAT;
	return CMD_OK;
}

enum cmd_err cmd_parse(const uint8_t *payload, size_t len, const struct cmd_check *chk,
		       struct cmd_guard *g, struct cmd *out)
{
	const uint8_t *nl, *b64;
	uint8_t hash[32], sig[128], canon[176];
	size_t b64_len, sig_len = 0, canon_len = 0;
	const char *word, *gw, *region, *nonce;
	json_int_t issued;
	json_t *root = NULL;
	enum cmd_err e;
	uint64_t skew;
	int seen;

	if (len > CMD_PAYLOAD_MAX || !(nl = memchr(payload, '\n', len)))
		return CMD_ERR_FORMAT;
	b64 = nl + 1;
	b64_len = len - (size_t)(b64 - payload);
	while (b64_len && (b64[b64_len - 1] == '\n' || b64[b64_len - 1] == '\r'))
		b64_len--;
	if (!b64_len || mbedtls_base64_decode(sig, sizeof(sig), &sig_len, b64, b64_len) || !sig_len)
		return CMD_ERR_FORMAT;
	/*
	 * Only the one encoding cmd_sign() writes: base64 leaves the low bits of
	 * its last character unused, so several texts decode to one signature, and
	 * a flipped byte there must not pass as the signed command.
	 */
	if (mbedtls_base64_encode(canon, sizeof(canon), &canon_len, sig, sig_len) ||
	    canon_len != b64_len || memcmp(canon, b64, b64_len) != 0)
		return CMD_ERR_FORMAT;
	/* Nothing in the JSON is believed before the signature checks. */
	if (cmd_digest(payload, (size_t)(nl - payload), hash) < 0 ||
	    bundle_verify_digest(chk->pubkey, chk->pubkey_len, hash, sig, sig_len) != BUNDLE_OK)
		return CMD_ERR_SIGNATURE;

	e = cmd_fields(payload, (size_t)(nl - payload), &word, &gw, &region, &nonce, &issued, &root);
	if (e != CMD_OK)
		goto out;
	out->issued = (uint64_t)issued;
	snprintf(out->nonce, sizeof(out->nonce), "%s", nonce);
	skew = (uint64_t)issued > chk->now_s ? (uint64_t)issued - chk->now_s
					     : chk->now_s - (uint64_t)issued;
	seen = cmd_seen(g, nonce, chk->now_s);
	if (strcmp(gw, chk->gateway) != 0)
		e = CMD_ERR_GATEWAY;
	else if (strcmp(region, chk->region) != 0)
		e = CMD_ERR_REGION;
	else if (skew > chk->clock_skew_s)
		e = CMD_ERR_STALE;
	else if (seen >= 0)
		e = CMD_ERR_REPLAY;
	if (e == CMD_ERR_REPLAY)
		out->seen_s = g->seen_s[seen];
	if (e != CMD_OK)
		goto out;
	e = CMD_ERR_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(cmd_words); i++)
		if (!strcmp(word, cmd_words[i].word)) {
			out->kind = cmd_words[i].kind;
			e = CMD_OK;
		}
	if (e != CMD_OK)
		goto out;
	snprintf(g->nonce[g->next], sizeof(g->nonce[0]), "%s", nonce);
	g->seen_s[g->next] = chk->now_s;
	g->issued_s[g->next] = (uint64_t)issued;
	g->next = (g->next + 1) % CMD_NONCES;
out:
	json_decref(root);
	return e;
}

int cmd_sign(const char *json, const uint8_t *privkey, size_t privkey_len, char *out)
{
	size_t jlen = strlen(json), sig_len = 0, b64_len = 0;
	uint8_t hash[32], sig[BUNDLE_SIG_MAX];
	int ret;

	if (memchr(json, '\n', jlen) || jlen + 2 >= CMD_PAYLOAD_MAX)
		return -EINVAL;
	ret = cmd_digest((const uint8_t *)json, jlen, hash);
	if (!ret)
		ret = bundle_sign_digest(privkey, privkey_len, hash, sig, &sig_len);
	if (ret)
		return ret;
	memcpy(out, json, jlen);
	out[jlen] = '\n';
	if (mbedtls_base64_encode((unsigned char *)out + jlen + 1, CMD_PAYLOAD_MAX - jlen - 2,
				  &b64_len, sig, sig_len))
		return -ENOSPC;
	out[jlen + 1 + b64_len] = '\0';
	return (int)(jlen + 1 + b64_len);
}

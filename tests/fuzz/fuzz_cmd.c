/*
 * libFuzzer target for cmd_parse(): hub command payloads from the broker.
 *
 * The input is copied to a buffer of exactly its size (ASan sees any read
 * past the end) and checked against a hub key made at start. The first byte
 * chooses a mode: odd inputs are checked as they are (what an attacker
 * without the key sends: must never be accepted); even ones have their text
 * up to the first newline signed with the real key first, so the JSON
 * parser and the field checks behind the signature are reached too. On
 * CMD_OK the parsed command must be one the firmware knows, and the same
 * payload must then be refused as a replay.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/cmd.h"
#include "policy/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *priv, *pub;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmd_guard g = { 0 };
	struct cmd c;
	struct cmd_check chk;
	char json[CMD_PAYLOAD_MAX], signed_p[CMD_PAYLOAD_MAX];
	uint8_t *buf;
	size_t len;
	int n;

	if (!priv && bundle_keygen(&priv, &pub))
		abort();
	if (size < 1)
		return 0;
	chk = (struct cmd_check){ .pubkey = (const uint8_t *)pub, .pubkey_len = strlen(pub) + 1,
				  .gateway = "gw-7", .region = "north", .clock_skew_s = 300,
				  .now_s = 1795491234 };
	if (data[0] & 1) {
		buf = malloc(size - 1 ? size - 1 : 1);
		if (!buf)
			return 0;
		memcpy(buf, data + 1, size - 1);
		if (cmd_parse(buf, size - 1, &chk, &g, &c) == CMD_OK)
			abort(); /* signed by nobody: must never pass */
		free(buf);
		return 0;
	}
	len = size - 1 < sizeof(json) - 1 ? size - 1 : sizeof(json) - 1;
	memcpy(json, data + 1, len);
	json[len] = '\0';
	len = strcspn(json, "\n");
	json[len] = '\0';
	n = cmd_sign(json, (const uint8_t *)priv, strlen(priv) + 1, signed_p);
	if (n <= 0)
		return 0;
	buf = malloc((size_t)n);
	if (!buf)
		return 0;
	memcpy(buf, signed_p, (size_t)n);
	if (cmd_parse(buf, (size_t)n, &chk, &g, &c) == CMD_OK) {
		if (c.kind != CMD_REPORT && c.kind != CMD_RESYNC)
			abort();
		if (cmd_parse(buf, (size_t)n, &chk, &g, &c) != CMD_ERR_REPLAY)
			abort();
	}
	free(buf);
	return 0;
}

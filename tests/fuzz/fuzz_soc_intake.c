/*
 * libFuzzer target for tg-soc's intake (tools/tg-soc/intake.c): what a
 * collector does with one MQTT message before it stores anything, the
 * decompression (batch_decode(), firmware/report/batch.c) and the check of
 * every record against the schemas of docs/reports.md (tools/tg-soc/schema.c).
 *
 * Byte 0 picks the topic (summary, alert, asset, state, or one of another
 * region); bit 7 of it says the rest is the message as it came (a zstd
 * frame, or a state's JSON); otherwise the rest is JSON lines, compressed
 * here into one frame, so the validator sees records and not only zstd's
 * refusals. No store: the intake must not crash, leak or loop, and what it
 * counts must add up (every record stored or refused, or the message refused).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "tg-soc/intake.h"
#include "tg-soc/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const topics[] = {
		"tg/v1/north/gw/gw-a/summary", "tg/v1/north/gw/gw-a/alert", "tg/v1/north/gw/gw-a/asset",
		"tg/v1/north/gw/gw-a/state",   "tg/v1/south/gw/gw-a/summary",
	};
	static struct schema_set *set;
	struct intake in = { .region = "north", .quiet = true };
	const char *topic;
	uint8_t *msg = NULL;
	size_t len;

	if (!set && schema_load(&set, schema_srcs) < 0)
		abort();
	if (size < 1)
		return 0;
	in.schemas = set;
	topic = topics[(data[0] & 0x7f) % 5];
	if (data[0] & 0x80 || !strcmp(topic, topics[3])) {
		intake_message(&in, topic, data + 1, size - 1, 1);
	} else {
		size_t cap = ZSTD_compressBound(size - 1);

		msg = malloc(cap);
		if (!msg)
			return 0;
		len = ZSTD_compress(msg, cap, data + 1, size - 1, 1);
		if (!ZSTD_isError(len))
			intake_message(&in, topic, msg, len, 1);
		free(msg);
	}
	if (in.st.inserted + in.st.refused - in.st.bad_messages != in.st.records)
		abort();
	return 0;
}

/*
 * libFuzzer target over the whole packet path: decoder, flow table and nDPI.
 *
 * Input: byte 0 picks the link type; then frames, each a 2-byte big-endian
 * length followed by that many bytes (a length past the end takes the rest).
 * Ended flows are written as JSON to /dev/null. Frames are 1 ms apart, and every 16th frame jumps 200 s ahead so flows
 * expire and records are reused. A 64-flow table forces eviction too.
 * The pipeline persists across inputs, like the firmware's does across
 * packets, so state carried from one input to the next is exercised.
 */
#include <stdint.h>
#include <stdlib.h>

#define LOG_MODULE "fuzz"
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "report.h"

static struct pipeline pl;
static struct report rep;
static FILE *devnull;

/* Ended flows go through the same reporting as in the firmware. */
static void fuzz_flow_end(struct pipeline *p, struct flow *f, enum flow_end_reason why, void *ctx)
{
	(void)ctx;
	report_count_flow(&rep, f, why);
	report_flow_json(devnull, p->dpi, f, why, 0);
}
static uint64_t now_ms = 1700000000000ull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tg_config cfg;

	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERR);
	config_defaults(&cfg);
	devnull = fopen("/dev/null", "w");
	if (!devnull || pipeline_init(&pl, &cfg, 64, fuzz_flow_end, NULL) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum link_type links[] = { LINK_ETHERNET, LINK_LINUX_SLL, LINK_NULL, LINK_RAW };
	enum link_type link;
	size_t off = 1;
	unsigned int n = 0;

	if (size < 1)
		return 0;
	link = links[data[0] % 4];
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint8_t *frame;

		off += 2;
		if (len > size - off)
			len = size - off;
		/* An exact-size copy so ASan sees any read past the frame. */
		frame = malloc(len ? len : 1);
		if (!frame)
			return 0;
		for (size_t i = 0; i < len; i++)
			frame[i] = data[off + i];
		now_ms += (++n % 16) ? 1 : 200000;
		pipeline_frame(&pl, link, frame, (uint32_t)len, (uint32_t)len, now_ms);
		free(frame);
		off += len;
	}
	return 0;
}

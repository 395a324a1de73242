/*
 * libFuzzer target over the whole packet path: decoder, flow table and nDPI.
 *
 * Input: byte 0 picks the link type; then frames, each a 2-byte big-endian
 * length followed by that many bytes (a length past the end takes the rest).
 * A small bundle makes the policy judge flows (DNS bindings included), and
 * ended flows are written as JSON to /dev/null. Frames are 1 ms apart, and every 16th frame jumps 200 s ahead so flows
 * expire and records are reused. A 64-flow table forces eviction too.
 * The pipeline persists across inputs, like the firmware's does across
 * packets, so state carried from one input to the next is exercised.
 */
#include <stdint.h>
#include <stdlib.h>

#define LOG_MODULE "fuzz"
#include "app/report.h"
#include "core/config.h"
#include "core/log.h"
#include "packet/pipeline.h"
#include "policy/policy.h"

static struct pipeline pl;
static struct policy *pol;
static struct report rep;
static FILE *devnull;

/* Ended flows go through the same reporting as in the firmware. */
static void fuzz_flow_end(struct pipeline *p, struct flow *f, enum flow_end_reason why, void *ctx)
{
	(void)ctx;
	report_count_flow(&rep, f, why);
	report_flow_json(devnull, p->dpi, f, why, 0, report_indicator(&rep, f));
	report_forget(&rep, f);
}

static void fuzz_hit(const struct policy_hit *hit, void *ctx)
{
	(void)ctx;
	report_hit(&rep, hit);
}

/*
 * A small unsigned bundle so the policy runs too: broad prefixes and short
 * names that fuzzed traffic reaches (every IPv4 address with the top bit
 * set, as in every demo seed; names under "com"; the DNS protocol).
 */
static struct bundle *fuzz_bundle(void)
{
	static uint8_t *bytes;
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_info info = { .region = "fuzz", .serial = 1, .expires = UINT32_MAX };
	struct bundle_meta block = { .rule = 1, .action = BUNDLE_ACT_BLOCK };
	struct bundle_meta alert = { .rule = 2, .action = BUNDLE_ACT_ALERT };
	const uint8_t net[4] = { 128, 0, 0, 0 };
	struct bundle *b;
	size_t len;

	if (!bb || bundle_builder_add_ip(bb, 2 /* AF_INET */, net, 1, false, &alert) ||
	    bundle_builder_add_domain(bb, "com", false, &block) ||
	    bundle_builder_add_name(bb, BUNDLE_PROTO, "DNS", false, &alert) ||
	    bundle_build(bb, &info, NULL, 0, &bytes, &len) || bundle_open_mem(bytes, len, &b))
		abort();
	bundle_builder_free(bb);
	return b;
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
	pol = policy_new(pl.dpi, fuzz_hit, NULL);
	if (!pol)
		abort();
	pipeline_set_judge(&pl, &policy_judge, pol);
	policy_set_bundle(pol, fuzz_bundle());
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
		pipeline_frame(&pl, link, frame, (uint32_t)len, (uint32_t)len, now_ms, NULL);
		free(frame);
		off += len;
	}
	return 0;
}

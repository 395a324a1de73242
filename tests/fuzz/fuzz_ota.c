/*
 * libFuzzer target for the over-the-air bundle path (ota_begin/ota_data/
 * ota_end): what a broker can send on bundle/full and bundle/delta.
 *
 * Input: byte 0 chooses full or delta and whether the announced length lies
 * (bits 0 and 1), byte 1 the fragment size; the rest is the message. A real
 * signed bundle (serial 1) is in force, so deltas reach bundle_apply_delta().
 * Nothing the fuzzer makes can carry the hub's signature over new content:
 * the result must be a refusal (or "unchanged" for the list in force
 * itself), the list in force stays, and no temporary file remains.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/ota.h"
#include "policy/bundle.h"
#include "policy/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *priv, *pub;
static char dir[64];
static struct bundle *in_force;
static uint8_t *s1;
static size_t s1_len;

static void setup(void)
{
	struct bundle_builder *bb = bundle_builder_new();
	struct bundle_meta m = { .rule = 1, .action = BUNDLE_ACT_BLOCK };
	struct bundle_info in = { .region = "north", .serial = 1, .created = 1795000000,
				  .expires = 1899999999 };

	if (bundle_keygen(&priv, &pub) || !bb)
		abort();
	bundle_builder_add_domain(bb, "bad.example", false, &m);
	if (bundle_build(bb, &in, (const uint8_t *)priv, strlen(priv) + 1, &s1, &s1_len))
		abort();
	bundle_builder_free(bb);
	if (bundle_open_mem(s1, s1_len, &in_force) != BUNDLE_OK)
		abort();
	snprintf(dir, sizeof(dir), "/tmp/fuzz_ota_XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_trust t;
	struct bundle *out = NULL;
	struct ota o;
	enum ota_result r;
	size_t frag, announce;
	char tmp[128];

	if (!priv)
		setup();
	if (size < 2)
		return 0;
	t = (struct store_trust){ .pubkey = (const uint8_t *)pub, .pubkey_len = strlen(pub) + 1,
				  .region = "north", .clock_skew_s = 300 };
	frag = (size_t)data[1] + 1;
	announce = size - 2;
	if (data[0] & 2)
		announce += data[0] >> 4;
	ota_init(&o, dir);
	if (ota_begin(&o, data[0] & 1 ? OTA_DELTA : OTA_FULL, announce, in_force) == 0)
		for (size_t off = 2; off < size; off += frag)
			ota_data(&o, data + off, size - off < frag ? size - off : frag);
	r = ota_end(&o, &t, in_force, 1795491234, &out);
	if (r == OTA_ACCEPTED || out)
		abort(); /* no new list without the hub's key */
	/*
	 * OTA_UNCHANGED needs no check here: the header alone decides it (same
	 * serial and region as the list in force), and it never yields a list.
	 */
	snprintf(tmp, sizeof(tmp), "%s/bundle/.ota", dir);
	if (access(tmp, F_OK) == 0)
		abort();
	return 0;
}

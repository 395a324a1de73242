/*
 * Incremental bundle digests; see bundle_digest.h. The same three SHA-256
 * as bundle.c's hash_file(), over the same ranges, with its trick: the
 * whole-file hash is the signed-bytes hash cloned at signed_len and carried
 * on over the trailer, so each byte is hashed twice, not three times.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "policy/bundle_digest.h"

/* docs/bundle-format.md, "Header": signed_len is the u64 at offset 80 of the 128-byte header. */
#define DG_HDR_SIZE 128
#define DG_SIGNED_OFF 80
#define DG_PREFIX (DG_SIGNED_OFF + 8)

struct bundle_digester {
	mbedtls_sha256_context body, all, file;
	uint8_t prefix[DG_PREFIX]; /* held until signed_len is known */
	size_t held;
	uint64_t signed_len, fed;
	bool known, split, bad;
	struct bundle_digests d;
};

struct bundle_digester *bundle_digester_new(void)
{
	struct bundle_digester *dg = calloc(1, sizeof(*dg));

	if (!dg)
		return NULL;
	mbedtls_sha256_init(&dg->body);
	mbedtls_sha256_init(&dg->all);
	mbedtls_sha256_init(&dg->file);
	if (mbedtls_sha256_starts_ret(&dg->body, 0) || mbedtls_sha256_starts_ret(&dg->all, 0))
		dg->bad = true;
	return dg;
}

void bundle_digester_free(struct bundle_digester *dg)
{
	if (!dg)
		return;
	mbedtls_sha256_free(&dg->body);
	mbedtls_sha256_free(&dg->all);
	mbedtls_sha256_free(&dg->file);
	free(dg);
}

/* Bytes at offset dg->fed, signed_len known. */
static void dg_feed(struct bundle_digester *dg, const uint8_t *p, size_t n)
{
	int ret = 0;

	if (dg->fed < dg->signed_len) {
		size_t k = dg->signed_len - dg->fed < n ? (size_t)(dg->signed_len - dg->fed) : n;
		size_t skip = dg->fed < DG_HDR_SIZE ? DG_HDR_SIZE - (size_t)dg->fed : 0;

		ret |= mbedtls_sha256_update_ret(&dg->all, p, k);
		if (k > skip)
			ret |= mbedtls_sha256_update_ret(&dg->body, p + skip, k - skip);
		dg->fed += k;
		p += k;
		n -= k;
		if (dg->fed == dg->signed_len) {
			mbedtls_sha256_clone(&dg->file, &dg->all);
			ret |= mbedtls_sha256_finish_ret(&dg->all, dg->d.signed_);
			ret |= mbedtls_sha256_finish_ret(&dg->body, dg->d.body);
			dg->split = true;
		}
	}
	if (n)
		ret |= mbedtls_sha256_update_ret(&dg->file, p, n);
	dg->fed += n;
	if (ret)
		dg->bad = true;
}

void bundle_digester_update(struct bundle_digester *dg, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (dg->bad)
		return;
	if (!dg->known) {
		size_t n = DG_PREFIX - dg->held < len ? DG_PREFIX - dg->held : len;
		uint64_t v = 0;

		memcpy(dg->prefix + dg->held, p, n);
		dg->held += n;
		p += n;
		len -= n;
		if (dg->held < DG_PREFIX)
			return;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | dg->prefix[DG_SIGNED_OFF + i];
		if (v < DG_HDR_SIZE) {
			dg->bad = true; /* opening refuses it as malformed anyway */
			return;
		}
		dg->signed_len = v;
		dg->known = true;
		dg_feed(dg, dg->prefix, DG_PREFIX);
	}
	if (len)
		dg_feed(dg, p, len);
}

int bundle_digester_finish(struct bundle_digester *dg, struct bundle_digests *out)
{
	if (dg->bad || !dg->split)
		return -EINVAL;
	if (mbedtls_sha256_finish_ret(&dg->file, dg->d.file)) {
		dg->bad = true;
		return -EINVAL;
	}
	dg->bad = true; /* finished: no more bytes */
	dg->d.signed_len = dg->signed_len;
	dg->d.len = dg->fed;
	*out = dg->d;
	return 0;
}

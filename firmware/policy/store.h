/*
 * The bundle on flash: <data_dir>/bundle/current is the list in force,
 * <data_dir>/bundle/previous the one before it. A new bundle is a synced
 * temporary file in <data_dir>/bundle (the one OTA received, or one written
 * here), renamed over current (the old current becomes previous through a
 * hard link first), then the directory is synced (core/file.c): a power cut
 * at any moment leaves current either the old or the new file, never a torn
 * one. A temporary file left behind by a power cut is never loaded.
 *
 * At start the gateway loads current; if it fails the acceptance checks it
 * falls back to previous, and says so. previous is always the last bundle
 * that passed every check: a new bundle moves current to previous only when
 * current is the list in force, never a current that was refused.
 */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/bundle.h"

/* What the gateway checks a bundle against. */
struct store_trust {
	const uint8_t *pubkey; /* hub public key (PEM with its NUL, or DER) */
	size_t pubkey_len;
	const char *region;
	uint64_t clock_skew_s;
};

/*
 * Read a key file (PEM or DER) into a malloc'ed buffer with a terminating NUL
 * counted in *len, as mbedTLS wants for PEM. Returns 0 or -errno (logged).
 */
int store_read_key(const char *path, uint8_t **key, size_t *len);

/*
 * Log why b was refused with the values involved (both regions, both
 * serials, the times), for the reasons that have them; `what` starts the
 * line (a path, "bundle"). Nothing for the other reasons: their
 * bundle_err_text() says it all.
 */
void store_explain(const char *what, const struct bundle *b, const struct store_trust *t,
		   uint64_t in_force_serial, uint64_t now_s, enum bundle_err e);

/* t as ISO 8601 UTC ("2026-01-31T00:00:00Z"), "never" for 0; returns buf (32 bytes do). */
const char *store_iso8601(uint64_t t, char *buf, size_t size);

/*
 * Load the bundle in force: current, or previous if current is missing or
 * refused. Returns BUNDLE_OK with *out open (and *which "current" or
 * "previous"), or the reason current was refused when neither loads.
 */
enum bundle_err store_load(const char *data_dir, const struct store_trust *trust, uint64_t now_s,
			   struct bundle **out, const char **which);

/*
 * Accept a candidate (full bundle or delta) against the bundle in force
 * (`in_force` may be NULL): deltas are applied to it first, merged into
 * <data_dir>/bundle/.merged (bundle_apply_delta_file(); the result is
 * opened lean like a received file, see store_accept_file()); then signature,
 * region, expiry and serial are checked; then the full bundle is persisted as
 * current. Returns BUNDLE_OK with *out the new bundle opened from flash, or
 * the reason for refusal (nothing on flash changed).
 */
enum bundle_err store_accept(const char *data_dir, const struct store_trust *trust,
			     const struct bundle *in_force, const uint8_t *data, size_t len,
			     uint64_t now_s, struct bundle **out);

/*
 * The same for a candidate already on flash: `path` is a synced file in
 * <data_dir>/bundle (what OTA received), with the digests its writer
 * computed (bundle_digest.h; NULL: it is hashed here). It is opened once,
 * lean (bundle_open_file_digests(): checked in windows, never whole in RAM
 * next to the list in force); a full bundle that passes is renamed to
 * current, not copied, and *out is that file, its pages not yet mapped:
 * call bundle_populate() once the list in force is closed. On refusal, or
 * for a delta (the full bundle it yields is written anew), path stays for
 * the caller to remove.
 */
enum bundle_err store_accept_file(const char *data_dir, const struct store_trust *trust,
				  const struct bundle *in_force, const char *path,
				  const struct bundle_digests *d, uint64_t now_s, struct bundle **out);

#endif

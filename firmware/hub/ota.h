/*
 * Bundles over the air: one MQTT message on bundle/full or bundle/delta,
 * arriving in fragments, written to flash as it comes (never held whole in
 * RAM next to the list in force), then checked and persisted with the rules
 * of the blocklist (store_accept_file(): signature, region, expiry, newer
 * serial, a delta only on its base serial) and handed back for the swap.
 *
 *   ota_begin(kind, total, in_force)  a message starts; total is its announced length
 *   ota_data(buf, len)      each fragment, in order
 *   ota_end(...)            the last fragment arrived: verdict
 *
 * The first bytes decide before anything reaches flash: the bundle header
 * (docs/bundle-format.md) names region, serial and base serial. A full
 * bundle with the serial and region of the list in force is the retained
 * copy that every reconnect delivers again: "unchanged", dropped as it comes
 * (25 MB for a 1M + 1M list were written, synced and hashed on every
 * reconnect before). An older serial of that region is refused as stale, and
 * a delta on another base as such, the same way. The header is only trusted
 * to refuse or to skip, never to accept: what is kept is checked in full,
 * once (one open, one hash, one signature check), and renamed into place,
 * not copied. The hash is taken fragment by fragment as they are written,
 * so the loop never hashes the whole file in one go.
 *
 * What the hub must hear back is kept here: the reason for the last refusal
 * and whether the gateway waits for a full bundle (after a delta whose base
 * is not the serial in force: deltas are not retained, so the gap cannot
 * close by itself; the next full bundle, retained on the broker, does).
 */
#ifndef TG_OTA_H
#define TG_OTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/bundle.h"
#include "policy/bundle_digest.h"
#include "policy/store.h"

/* Largest message taken (a 1M + 1M bundle is 25 MB). */
#define OTA_MAX_BYTES (256u << 20)

enum ota_kind {
	OTA_FULL = 0,
	OTA_DELTA,
};

const char *ota_kind_name(enum ota_kind k); /* "full", "delta" */

enum ota_result {
	OTA_ACCEPTED = 0,  /* *out is the new list in force */
	OTA_UNCHANGED,     /* the list in force again */
	OTA_REFUSED,       /* see last_refusal */
};

struct ota_refusal {
	bool set;
	enum bundle_err reason;
	enum ota_kind kind;
	uint64_t serial;   /* the refused bundle's serial, 0 if it could not be read */
	uint64_t at_s;     /* wall clock */
};

struct ota_stats {
	uint64_t messages, accepted, unchanged, refused;
	uint64_t bytes;
};

/* Header bytes read before deciding: magic, version, flags, size, region, serial, base serial. */
#define OTA_HEAD 64

struct ota {
	char data_dir[256];
	char dir[272];          /* <data_dir>/bundle */
	char tmp[280];          /* the message being received */
	int fd;                 /* -1 when no message is open */
	enum ota_kind kind;
	size_t expected, got;
	int write_err;          /* first write error (errno), 0 if none */
	size_t synced;          /* bytes handed to writeback so far */
	struct bundle_digester *dg; /* hashes what is written, as it is (NULL: open hashes) */
	uint8_t head[OTA_HEAD]; /* the first bytes, held until they decide */
	size_t head_got;
	bool head_read;         /* head holds a bundle header: the fields below are set */
	bool delta;             /* the header's delta flag */
	uint64_t serial, base_serial;
	bool dropped;           /* decided by the header: nothing written */
	enum bundle_err drop_reason; /* BUNDLE_OK: the list in force again */
	uint64_t in_serial;     /* the list in force when the message began (0: none) */
	char in_region[BUNDLE_REGION_MAX + 1];
	bool waiting_for_full;
	struct ota_refusal last_refusal;
	struct ota_stats st;
};

void ota_init(struct ota *o, const char *data_dir);

/*
 * A message of `total` bytes starts (any message still open is dropped);
 * in_force (may be NULL) is the list its header is compared with.
 * Returns 0, -EFBIG (over OTA_MAX_BYTES), -ENOSPC (not enough room on flash
 * for it), or -errno; the message is then ignored and ota_end() reports the
 * refusal.
 */
int ota_begin(struct ota *o, enum ota_kind kind, size_t total, const struct bundle *in_force);
/* The next fragment. Returns 0 or -errno (kept for ota_end()). */
int ota_data(struct ota *o, const void *buf, size_t len);
/*
 * The message is complete: check it against the list in force (may be NULL)
 * and persist it (renamed into place). On OTA_ACCEPTED, *out is the new
 * bundle (the caller swaps and closes the old one). The temporary file is
 * gone afterwards.
 */
enum ota_result ota_end(struct ota *o, const struct store_trust *t, const struct bundle *in_force,
			uint64_t now_s, struct bundle **out);
/* Drop an open message (the connection broke mid-transfer). */
void ota_abort(struct ota *o);

#endif

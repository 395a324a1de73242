/*
 * A bundle's digests computed as its bytes go by (policy/bundle_digest.c),
 * for bundle_open_file_digests(). OTA feeds every fragment as it writes it,
 * so the 25 MB of a 1M + 1M list are hashed a fragment at a time between
 * forwarded frames, instead of in one 0.2 s pass when the last one is in.
 *
 * The signed length comes from the header as it passes (offset 80); if the
 * header lies, the digests do not fit the file and opening hashes it itself.
 */
#ifndef TG_BUNDLE_DIGEST_H
#define TG_BUNDLE_DIGEST_H

#include <stddef.h>

#include "policy/bundle.h"

struct bundle_digester;

/* NULL when out of memory. */
struct bundle_digester *bundle_digester_new(void);
void bundle_digester_free(struct bundle_digester *dg);
/* The next bytes of the file, in order. */
void bundle_digester_update(struct bundle_digester *dg, const void *data, size_t len);
/*
 * The digests of everything fed. Returns 0, or -EINVAL when the bytes were
 * too short or their header unusable (open the file without digests then).
 */
int bundle_digester_finish(struct bundle_digester *dg, struct bundle_digests *out);

#endif

/*
 * The signed delta between two full bundles: the one code path of
 * `tg-hub diff` and `tg-hub publish --previous` (inspect.c).
 */
#ifndef TG_HUB_INSPECT_H
#define TG_HUB_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/bundle.h"

/*
 * The delta from full bundle old_b (read from old_path) to new_b, signed
 * with the key in keypath. Checks that both are full bundles of one region
 * and that NEW is newer, then opens the delta it made, as a gateway would,
 * before handing it out. 0 and *out malloc'ed, or -errno after a message.
 */
int inspect_make_delta(const char *old_path, const struct bundle *old_b, const char *new_path,
		       const struct bundle *new_b, const char *keypath, uint8_t **out,
		       size_t *outlen);

#endif

/*
 * What a gateway trusts a bundle or a signed command with: the hub's public
 * key provisioned at install time ([bundle] hub_key, else <data>/keys/hub.pub),
 * the gateway's region and the clock skew it allows. One place builds it from
 * the configuration for the run modes, the uplink and `townguard bundle`.
 */
#ifndef TG_TRUST_H
#define TG_TRUST_H

#include <stddef.h>

#include "core/config.h"
#include "policy/store.h"

/*
 * Read the hub key into t (t->pubkey is malloc'ed: the caller frees it) with
 * cfg's region and clock skew; the key's path is written to keypath in any
 * case, for the caller's log line. Returns 0, -ENOENT when there is no key
 * file (a gateway not provisioned yet), -EIO for a key file that cannot be
 * read, or another -errno.
 */
int trust_load(const struct tg_config *cfg, struct store_trust *t, char *keypath, size_t keypath_len);

#endif

/*
 * The trust a gateway checks bundles and commands against (see trust.h).
 * A missing key file is told apart from one that cannot be read: the first
 * is a box not provisioned yet (it runs without a blocklist and says so),
 * the second a fault on flash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "policy/store.h"
#include "policy/trust.h"

static void trust_key_path(const struct tg_config *cfg, char *buf, size_t len)
{
	if (cfg->bundle.hub_key[0])
		snprintf(buf, len, "%s", cfg->bundle.hub_key);
	else
		snprintf(buf, len, "%s/keys/hub.pub", cfg->gateway.data_dir);
}

int trust_load(const struct tg_config *cfg, struct store_trust *t, char *keypath, size_t keypath_len)
{
	uint8_t *key;
	size_t keylen;
	int ret;

	trust_key_path(cfg, keypath, keypath_len);
	if (access(keypath, R_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	ret = store_read_key(keypath, &key, &keylen);
	if (ret < 0)
		return ret == -ENOENT ? -EIO : ret;
	*t = (struct store_trust){ .pubkey = key, .pubkey_len = keylen,
				   .region = cfg->gateway.region,
				   .clock_skew_s = cfg->bundle.clock_skew };
	return 0;
}

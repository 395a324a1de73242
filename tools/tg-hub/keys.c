/*
 * tg-hub keygen: the hub's ECDSA P-256 bundle signing key pair, DIR/hub.key
 * (mode 0600, stays on the hub) and DIR/hub.pub (goes to every gateway of
 * the region). An existing pair is never overwritten: every gateway trusts
 * the public key it was installed with, so losing the private key silently
 * would cut the whole region off from its updates.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "policy/bundle.h"
#include "tg-hub/cmds.h"
#include "tg-hub/common.h"

#define KEY_FILE "hub.key"
#define PUB_FILE "hub.pub"

struct keygen_args {
	const char *dir;
};

const struct opt keys_keygen_opts[] = {
	OPT_STR("out", struct keygen_args, dir, "DIR", OPT_REQ,
		"the directory for hub.key and hub.pub (created if missing)"),
	{ 0 },
};

int keys_keygen(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct keygen_args a = { 0 };
	char keypath[PATH_MAX], pubpath[PATH_MAX];
	char *priv = NULL, *pub = NULL;
	const char *dir;
	struct stat st;
	int first, ret;

	ret = opts_parse(cmd, &a, argc, argv, &first);
	if (ret)
		return ret;
	dir = a.dir;
	if (!dir || first != argc)
		return opts_usage(cmd);
	if ((size_t)snprintf(keypath, sizeof(keypath), "%s/" KEY_FILE, dir) >= sizeof(keypath) ||
	    (size_t)snprintf(pubpath, sizeof(pubpath), "%s/" PUB_FILE, dir) >= sizeof(pubpath)) {
		hub_errf("--out \"%s\": path too long", dir);
		return EXIT_USAGE;
	}
	if (hub_make_dir(dir) < 0)
		return EXIT_FAIL;
	if (!stat(keypath, &st) || !stat(pubpath, &st)) {
		hub_errf("%s: a hub key already exists there; refusing to overwrite it", dir);
		return EXIT_FAIL;
	}
	ret = bundle_keygen(&priv, &pub);
	if (ret < 0) {
		hub_errf("cannot generate a key pair: %s", strerror(-ret));
		return EXIT_FAIL;
	}
	ret = hub_write_new(keypath, priv, 0600);
	if (!ret) {
		ret = hub_write_new(pubpath, pub, 0644);
		if (ret < 0)
			unlink(keypath);
	}
	if (!ret) {
		ret = file_sync_dir(keypath);
		if (ret < 0)
			hub_errf("%s: written, but the directory could not be synced: %s", dir,
				 strerror(-ret));
	}
	explicit_bzero(priv, strlen(priv));
	free(priv);
	free(pub);
	if (ret < 0)
		return EXIT_FAIL;
	printf("wrote %s (private: keep it on the hub, mode 0600)\n", keypath);
	printf("wrote %s (install it on every gateway of the region)\n", pubpath);
	return EXIT_OK;
}

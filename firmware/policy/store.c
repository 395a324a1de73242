/*
 * Bundle persistence and acceptance. See store.h for the on-flash layout and
 * the crash-safety argument.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "store"
#include "core/file.h"
#include "core/log.h"
#include "policy/store.h"

#define STORE_KEY_MAX ((size_t)64 * 1024)

int store_read_key(const char *path, uint8_t **key, size_t *len)
{
	size_t n;
	int ret;

	/* A file of STORE_KEY_MAX bytes or more is refused, as it always was. */
	ret = file_read(path, STORE_KEY_MAX - 1, key, &n);
	if (ret == -EFBIG) {
		log_err("hub key \"%s\": larger than 64 KiB", path);
		return -EINVAL;
	}
	if (ret < 0) {
		log_err("cannot read hub key \"%s\": %s", path, strerror(-ret));
		return ret;
	}
	if (n == 0) {
		log_err("hub key \"%s\": empty file", path);
		free(*key);
		*key = NULL;
		return -EINVAL;
	}
	*len = n + 1; /* the NUL file_read() put after the key: mbedTLS wants it for PEM */
	return 0;
}

static void store_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/bundle/%s", dir, name);
}

static enum bundle_err store_try(const char *path, const struct store_trust *t, uint64_t now_s,
				 struct bundle **out)
{
	struct bundle *b;
	enum bundle_err e = bundle_open_file(path, &b);

	if (e != BUNDLE_OK)
		return e;
	e = bundle_check(b, t->pubkey, t->pubkey_len, t->region, 0, now_s, t->clock_skew_s);
	if (e != BUNDLE_OK) {
		bundle_close(b);
		return e;
	}
	*out = b;
	return BUNDLE_OK;
}

enum bundle_err store_load(const char *data_dir, const struct store_trust *trust, uint64_t now_s,
			   struct bundle **out, const char **which)
{
	char cur[512], prev[512];
	enum bundle_err e, e2;

	store_path(cur, sizeof(cur), data_dir, "current");
	store_path(prev, sizeof(prev), data_dir, "previous");
	e = store_try(cur, trust, now_s, out);
	if (e == BUNDLE_OK) {
		*which = "current";
		return e;
	}
	e2 = store_try(prev, trust, now_s, out);
	if (e == BUNDLE_ERR_IO && e2 == BUNDLE_ERR_IO) {
		log_info("no bundle on flash (%s): no list in force until the hub sends one", cur);
		return e;
	}
	log_warn("%s refused: %s", cur, bundle_err_text(e));
	if (e2 == BUNDLE_OK) {
		const struct bundle_info *in = bundle_get_info(*out);

		log_warn("falling back to %s (serial %llu)", prev, (unsigned long long)in->serial);
		*which = "previous";
		return BUNDLE_OK;
	}
	log_err("%s refused too: %s; no list in force", prev, bundle_err_text(e2));
	return e;
}

/*
 * Put the synced file tmp (in <data_dir>/bundle) in place as current:
 * current -> previous by a hard link first (so current never disappears),
 * then tmp -> current, then the directory is synced. A power cut at any
 * step leaves current the old file or the new one.
 */
static int store_install(const char *data_dir, const char *tmp)
{
	char cur[512], prev[512], ptmp[512];

	store_path(cur, sizeof(cur), data_dir, "current");
	store_path(prev, sizeof(prev), data_dir, "previous");
	store_path(ptmp, sizeof(ptmp), data_dir, ".previous");
	unlink(ptmp);
	if (link(cur, ptmp) == 0) {
		if (rename(ptmp, prev) < 0)
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}
	return file_rename_synced(tmp, cur);
}

/* <data_dir> and <data_dir>/bundle. */
static int store_mkdirs(const char *data_dir)
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/bundle", data_dir);
	if (mkdir(data_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Write a full bundle held in memory (a file from the console) and install it. */
static int store_persist(const char *data_dir, const uint8_t *data, size_t len)
{
	char tmp[512];
	int ret;

	store_path(tmp, sizeof(tmp), data_dir, ".incoming");
	ret = store_mkdirs(data_dir);
	if (ret < 0)
		return ret;
	ret = file_write_synced(tmp, data, len, 0644);
	if (ret < 0)
		return ret;
	ret = store_install(data_dir, tmp);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/*
 * The rules, then persistence, for an opened candidate (consumed). `path` is
 * the synced file cand is mapped from, in <data_dir>/bundle: a full bundle
 * is renamed into place and cand itself becomes *out (same inode, no second
 * read); NULL writes cand's bytes first and opens current again.
 */
static enum bundle_err store_take(const char *data_dir, const struct store_trust *trust,
				  const struct bundle *in_force, struct bundle *cand, const char *path,
				  uint64_t now_s, struct bundle **out)
{
	uint64_t serial = in_force ? bundle_get_info(in_force)->serial : 0;
	char cur[512], merged[512];
	struct bundle_digests d;
	const uint8_t *data;
	bool ours = false;
	enum bundle_err e;
	size_t len;
	int ret;

	*out = NULL;
	if (bundle_is_delta(cand)) {
		/*
		 * Merged into <data_dir>/bundle/.merged (bundle_merge.c: written
		 * as it is made, never whole in RAM), then opened lean and taken
		 * like a received full bundle.
		 */
		store_path(merged, sizeof(merged), data_dir, ".merged");
		e = bundle_verify(cand, trust->pubkey, trust->pubkey_len);
		if (e == BUNDLE_OK && !in_force)
			e = BUNDLE_ERR_BASE;
		if (e == BUNDLE_OK && store_mkdirs(data_dir) < 0)
			e = BUNDLE_ERR_IO;
		if (e == BUNDLE_OK)
			e = bundle_apply_delta_file(in_force, cand, trust->pubkey, trust->pubkey_len,
						    merged, &d);
		bundle_close(cand);
		if (e != BUNDLE_OK)
			return e;
		e = bundle_open_file_digests(merged, &d, &cand);
		if (e != BUNDLE_OK) {
			unlink(merged);
			return e;
		}
		path = merged;
		ours = true;
	}
	e = bundle_check(cand, trust->pubkey, trust->pubkey_len, trust->region, serial, now_s,
			 trust->clock_skew_s);
	if (e != BUNDLE_OK)
		goto out;
	if (path) {
		ret = store_install(data_dir, path);
	} else {
		data = bundle_data(cand, &len);
		ret = store_persist(data_dir, data, len);
	}
	if (ret < 0) {
		log_err("cannot write the bundle under %s/bundle: %s", data_dir, strerror(-ret));
		e = BUNDLE_ERR_IO;
		goto out;
	}
	if (path) {
		*out = cand;
		return BUNDLE_OK;
	}
	store_path(cur, sizeof(cur), data_dir, "current");
	e = store_try(cur, trust, now_s, out);
	if (e != BUNDLE_OK)
		log_err("%s did not read back: %s", cur, bundle_err_text(e));
out:
	bundle_close(cand);
	if (ours)
		unlink(merged);
	return e;
}

enum bundle_err store_accept(const char *data_dir, const struct store_trust *trust,
			     const struct bundle *in_force, const uint8_t *data, size_t len,
			     uint64_t now_s, struct bundle **out)
{
	struct bundle *cand;
	enum bundle_err e;

	*out = NULL;
	e = bundle_open_mem(data, len, &cand);
	if (e != BUNDLE_OK)
		return e;
	return store_take(data_dir, trust, in_force, cand, NULL, now_s, out);
}

enum bundle_err store_accept_file(const char *data_dir, const struct store_trust *trust,
				  const struct bundle *in_force, const char *path,
				  const struct bundle_digests *d, uint64_t now_s, struct bundle **out)
{
	struct bundle *cand;
	enum bundle_err e;

	*out = NULL;
	e = bundle_open_file_digests(path, d, &cand);
	if (e != BUNDLE_OK)
		return e;
	return store_take(data_dir, trust, in_force, cand, path, now_s, out);
}

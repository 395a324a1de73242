/*
 * Bundle persistence and acceptance. See store.h for the on-flash layout and
 * the crash-safety argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "store"
#include "core/log.h"
#include "policy/store.h"

#define STORE_KEY_MAX ((size_t)64 * 1024)

int store_read_key(const char *path, uint8_t **key, size_t *len)
{
	uint8_t *buf;
	FILE *f;
	size_t n;

	f = fopen(path, "rb");
	if (!f) {
		log_err("cannot read hub key \"%s\": %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(STORE_KEY_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, STORE_KEY_MAX, f);
	if (ferror(f) || n == 0 || n == STORE_KEY_MAX) {
		log_err("hub key \"%s\": %s", path,
			ferror(f) ? strerror(errno) : n ? "larger than 64 KiB" : "empty file");
		fclose(f);
		free(buf);
		return -EINVAL;
	}
	fclose(f);
	buf[n] = '\0';
	*key = buf;
	*len = n + 1;
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

static int store_write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto err;
	return close(fd) < 0 ? -errno : 0;
err:
	{
		int ret = -errno;

		close(fd);
		unlink(path);
		return ret;
	}
}

/* current -> previous (by a hard link, so current never disappears), new -> current. */
static int store_persist(const char *data_dir, const uint8_t *data, size_t len)
{
	char dir[512], cur[512], prev[512], tmp[512], ptmp[512];
	int ret, dfd;

	snprintf(dir, sizeof(dir), "%s/bundle", data_dir);
	store_path(cur, sizeof(cur), data_dir, "current");
	store_path(prev, sizeof(prev), data_dir, "previous");
	store_path(tmp, sizeof(tmp), data_dir, ".incoming");
	store_path(ptmp, sizeof(ptmp), data_dir, ".previous");
	if (mkdir(data_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	ret = store_write_file(tmp, data, len);
	if (ret < 0)
		return ret;
	unlink(ptmp);
	if (link(cur, ptmp) == 0) {
		if (rename(ptmp, prev) < 0) {
			ret = -errno;
			goto err;
		}
	} else if (errno != ENOENT) {
		ret = -errno;
		goto err;
	}
	if (rename(tmp, cur) < 0) {
		ret = -errno;
		goto err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
err:
	unlink(tmp);
	return ret;
}

enum bundle_err store_accept(const char *data_dir, const struct store_trust *trust,
			     const struct bundle *in_force, const uint8_t *data, size_t len,
			     uint64_t now_s, struct bundle **out)
{
	const struct bundle_info *in_info = in_force ? bundle_get_info(in_force) : NULL;
	uint64_t serial = in_info ? in_info->serial : 0;
	uint8_t *full = NULL;
	size_t full_len = len;
	struct bundle *cand, *delta;
	char cur[512];
	enum bundle_err e;
	int ret;

	e = bundle_open_mem(data, len, &cand);
	if (e != BUNDLE_OK)
		return e;
	if (bundle_is_delta(cand)) {
		delta = cand;
		e = bundle_verify(delta, trust->pubkey, trust->pubkey_len);
		if (e == BUNDLE_OK && !in_force)
			e = BUNDLE_ERR_BASE;
		if (e == BUNDLE_OK)
			e = bundle_apply_delta(in_force, delta, trust->pubkey, trust->pubkey_len, &full,
					       &full_len);
		bundle_close(delta);
		if (e != BUNDLE_OK)
			return e;
		e = bundle_open_mem(full, full_len, &cand);
		if (e != BUNDLE_OK) {
			free(full);
			return e;
		}
		data = full;
	}
	e = bundle_check(cand, trust->pubkey, trust->pubkey_len, trust->region, serial, now_s,
			 trust->clock_skew_s);
	bundle_close(cand);
	if (e != BUNDLE_OK) {
		free(full);
		return e;
	}
	ret = store_persist(data_dir, data, full_len);
	free(full);
	if (ret < 0) {
		log_err("cannot write the bundle under %s/bundle: %s", data_dir, strerror(-ret));
		return BUNDLE_ERR_IO;
	}
	store_path(cur, sizeof(cur), data_dir, "current");
	e = store_try(cur, trust, now_s, out);
	if (e != BUNDLE_OK)
		log_err("%s did not read back: %s", cur, bundle_err_text(e));
	return e;
}

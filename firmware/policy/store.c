/*
 * Bundle persistence and acceptance. See store.h for the on-flash layout and
 * the crash-safety argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "store"
#include "core/file.h"
#include "core/log.h"
#include "policy/store.h"

#define STORE_KEY_MAX ((size_t)64 * 1024)
#define STORE_SAME_EDGE 4096

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

const char *store_iso8601(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t)
		return "never";
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "@%llu", (unsigned long long)t);
	return buf;
}

void store_explain(const char *what, const struct bundle *b, const struct store_trust *t,
		   uint64_t in_force_serial, uint64_t now_s, enum bundle_err e)
{
	const struct bundle_info *in = bundle_get_info(b);
	char t1[32], t2[32];

	switch (e) {
	case BUNDLE_ERR_REGION:
		log_err("%s: bundle for region \"%s\", this gateway is in region \"%s\" "
			"([gateway] region)", what, in->region, t->region ? t->region : "");
		break;
	case BUNDLE_ERR_STALE:
		log_err("%s: serial %llu is not newer than serial %llu in force", what,
			(unsigned long long)in->serial, (unsigned long long)in_force_serial);
		break;
	case BUNDLE_ERR_EXPIRED:
		log_err("%s: expired at %s; now is %s (clock skew allowed %llu s)", what,
			store_iso8601(in->expires, t1, sizeof(t1)), store_iso8601(now_s, t2, sizeof(t2)),
			(unsigned long long)t->clock_skew_s);
		break;
	case BUNDLE_ERR_NOT_YET:
		log_err("%s: created %s, in the future; now is %s (clock skew allowed %llu s)", what,
			store_iso8601(in->created, t1, sizeof(t1)), store_iso8601(now_s, t2, sizeof(t2)),
			(unsigned long long)t->clock_skew_s);
		break;
	case BUNDLE_ERR_BASE:
		log_err("%s: a delta from serial %llu, the serial in force is %llu", what,
			(unsigned long long)in->base_serial, (unsigned long long)in_force_serial);
		break;
	default:
		break;
	}
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
		store_explain(path, b, t, 0, now_s, e);
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
		log_info("no bundle on flash (%s)", cur);
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

/* Whether len bytes of fd at off are those of data. */
static bool store_same_at(int fd, off_t off, const uint8_t *data, size_t len)
{
	uint8_t buf[STORE_SAME_EDGE] = { 0 }; /* cppcheck: len 0 reads nothing */
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return memcmp(buf, data, len) == 0;
}

/*
 * Whether the file at path is the bundle in force (which passed every check
 * when it was loaded): the same size, and the same first and last
 * STORE_SAME_EDGE bytes: the header with its serial and body hash, the
 * section table, the signature. The store never holds two files of one
 * serial (a serial not newer is refused), so a refused current always
 * differs there from the list in force; and this reads 8 KiB, not the 25 MB
 * a whole comparison would read on the loop (15-25 ms measured).
 */
static bool store_is_in_force(const char *path, const struct bundle *in_force)
{
	const uint8_t *data;
	struct stat st;
	size_t len, edge;
	bool same;
	int fd;

	if (!in_force)
		return false;
	data = bundle_data(in_force, &len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != len || len == 0) {
		close(fd);
		return false;
	}
	edge = len < STORE_SAME_EDGE ? len : STORE_SAME_EDGE;
	same = store_same_at(fd, 0, data, edge) &&
	       store_same_at(fd, (off_t)(len - edge), data + len - edge, edge);
	close(fd);
	return same;
}

/*
 * Put the synced file tmp (in <data_dir>/bundle) in place as current. If
 * current is the bundle in force, it becomes previous by a hard link first
 * (so current never disappears); a current that is not (refused at load,
 * previous in force instead) is only replaced, so previous stays the last
 * bundle that passed every check. Then tmp -> current, then the directory
 * is synced. A power cut at any step leaves current the old file or the new
 * one.
 */
static int store_install(const char *data_dir, const char *tmp, const struct bundle *in_force)
{
	char cur[512], prev[512], ptmp[512];

	store_path(cur, sizeof(cur), data_dir, "current");
	store_path(prev, sizeof(prev), data_dir, "previous");
	store_path(ptmp, sizeof(ptmp), data_dir, ".previous");
	unlink(ptmp);
	if (!store_is_in_force(cur, in_force)) {
		if (access(cur, F_OK) == 0)
			log_warn("%s is not the list in force: replaced, %s kept", cur, prev);
	} else if (link(cur, ptmp) == 0) {
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
static int store_persist(const char *data_dir, const uint8_t *data, size_t len,
			 const struct bundle *in_force)
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
	ret = store_install(data_dir, tmp, in_force);
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
		if (e == BUNDLE_ERR_BASE)
			store_explain("delta", cand, trust, serial, now_s, e);
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
	if (e != BUNDLE_OK) {
		store_explain("bundle", cand, trust, serial, now_s, e);
		goto out;
	}
	if (path) {
		ret = store_install(data_dir, path, in_force);
	} else {
		data = bundle_data(cand, &len);
		ret = store_persist(data_dir, data, len, in_force);
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

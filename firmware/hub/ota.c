/*
 * Bundles over the air; see ota.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOG_MODULE "ota"
#include "core/log.h"
#include "hub/ota.h"

const char *ota_kind_name(enum ota_kind k)
{
	return k == OTA_DELTA ? "delta" : "full";
}

void ota_init(struct ota *o, const char *data_dir)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	snprintf(o->data_dir, sizeof(o->data_dir), "%s", data_dir);
	snprintf(o->dir, sizeof(o->dir), "%s/bundle", data_dir);
	snprintf(o->tmp, sizeof(o->tmp), "%s/.ota", o->dir);
}

void ota_abort(struct ota *o)
{
	if (o->fd < 0)
		return;
	close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
}

int ota_begin(struct ota *o, enum ota_kind kind, size_t total)
{
	struct statvfs vfs;
	uint64_t room;

	ota_abort(o);
	o->kind = kind;
	o->expected = total;
	o->got = 0;
	o->write_err = 0;
	o->st.messages++;
	if (total > OTA_MAX_BYTES) {
		o->write_err = EFBIG;
		log_err("%s bundle of %zu bytes: larger than the %u bytes taken", ota_kind_name(kind),
			total, OTA_MAX_BYTES);
		return -EFBIG;
	}
	if (mkdir(o->dir, 0755) < 0 && errno != EEXIST) {
		o->write_err = errno;
		log_err("cannot create %s: %s", o->dir, strerror(errno));
		return -o->write_err;
	}
	/* The message, then the copy store_accept() writes before the rename. */
	if (statvfs(o->dir, &vfs) == 0) {
		room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (room < 2 * (uint64_t)total + 65536) {
			o->write_err = ENOSPC;
			log_err("%s bundle of %zu bytes: only %llu bytes free under %s", ota_kind_name(kind),
				total, (unsigned long long)room, o->dir);
			return -ENOSPC;
		}
	}
	o->fd = open(o->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		o->write_err = errno;
		log_err("cannot create %s: %s", o->tmp, strerror(errno));
		return -o->write_err;
	}
	return 0;
}

int ota_data(struct ota *o, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (o->fd < 0 || o->write_err)
		return o->write_err ? -o->write_err : -EBADF;
	if (len > o->expected - o->got) {
		o->write_err = EMSGSIZE;
		return -EMSGSIZE;
	}
	while (len) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->write_err = n < 0 ? errno : EIO;
			log_err("writing %s: %s", o->tmp, strerror(o->write_err));
			return -o->write_err;
		}
		p += n;
		len -= (size_t)n;
		o->got += (size_t)n;
		o->st.bytes += (uint64_t)n;
	}
	return 0;
}

static enum ota_result ota_refuse(struct ota *o, enum bundle_err e, uint64_t serial, uint64_t now_s)
{
	o->last_refusal = (struct ota_refusal){ .set = true, .reason = e, .kind = o->kind,
						.serial = serial, .at_s = now_s };
	o->st.refused++;
	if (o->kind == OTA_DELTA && e == BUNDLE_ERR_BASE) {
		o->waiting_for_full = true;
		log_warn("delta refused: its base is not the serial in force; waiting for the next full bundle");
	} else {
		log_err("%s bundle%s refused: %s", ota_kind_name(o->kind), serial ? "" : " (unreadable)",
			bundle_err_text(e));
	}
	return OTA_REFUSED;
}

/* The serial of the received bytes, if they open as a bundle at all. */
static uint64_t ota_serial(const void *data, size_t len, const struct bundle *in_force,
			   bool *same)
{
	struct bundle *b;
	uint8_t a[32], c[32];
	uint64_t serial;

	*same = false;
	if (bundle_open_mem(data, len, &b) != BUNDLE_OK)
		return 0;
	serial = bundle_get_info(b)->serial;
	if (in_force && !bundle_is_delta(b) && serial == bundle_get_info(in_force)->serial) {
		bundle_sha256(b, a);
		bundle_sha256(in_force, c);
		*same = !memcmp(a, c, sizeof(a));
	}
	bundle_close(b);
	return serial;
}

enum ota_result ota_end(struct ota *o, const struct store_trust *t, const struct bundle *in_force,
			uint64_t now_s, struct bundle **out)
{
	enum bundle_err e;
	uint64_t serial;
	void *map;
	bool same;

	*out = NULL;
	if (o->write_err || o->fd < 0) {
		ota_abort(o);
		return ota_refuse(o, BUNDLE_ERR_IO, 0, now_s);
	}
	if (o->got != o->expected) {
		ota_abort(o);
		return ota_refuse(o, BUNDLE_ERR_TRUNCATED, 0, now_s);
	}
	if (fsync(o->fd) < 0 || o->got == 0) {
		ota_abort(o);
		return ota_refuse(o, o->got ? BUNDLE_ERR_IO : BUNDLE_ERR_TRUNCATED, 0, now_s);
	}
	map = mmap(NULL, o->got, PROT_READ, MAP_SHARED, o->fd, 0);
	if (map == MAP_FAILED) {
		log_err("cannot map %s: %s", o->tmp, strerror(errno));
		ota_abort(o);
		return ota_refuse(o, BUNDLE_ERR_IO, 0, now_s);
	}
	/*
	 * Straight to the blocklist's checks: the common case (a newer list)
	 * opens and hashes the bytes once. Only a refusal opens them again, for
	 * the serial the hub hears about and to tell the retained copy of the
	 * list in force (refused as stale) from a real replay.
	 */
	e = store_accept(o->data_dir, t, in_force, map, o->got, now_s, out);
	if (e != BUNDLE_OK) {
		serial = ota_serial(map, o->got, in_force, &same);
		munmap(map, o->got);
		ota_abort(o);
		if (e == BUNDLE_ERR_STALE && same) {
			o->st.unchanged++;
			o->waiting_for_full = false;
			return OTA_UNCHANGED;
		}
		return ota_refuse(o, e, serial, now_s);
	}
	munmap(map, o->got);
	ota_abort(o);
	o->st.accepted++;
	if (o->kind == OTA_FULL)
		o->waiting_for_full = false;
	return OTA_ACCEPTED;
}

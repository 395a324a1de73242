/*
 * Bundles over the air; see ota.h.
 *
 * The data path shares the loop with this code, so nothing here may hold
 * it for long: fragments are hashed and written as they come and handed to
 * writeback every OTA_SYNC_CHUNK bytes (the fsync at the end then has
 * little left to flush, and opening the file does not hash 25 MB in one
 * go), the header decides the retained copy of the list in force without a
 * write, and an accepted bundle is renamed into place, never copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOG_MODULE "ota"
#include "core/log.h"
#include "hub/ota.h"

/*
 * Writeback is started every 1 MiB received: enough to keep the page cache
 * from holding a whole 25 MB bundle for the final fsync (which would stall
 * the loop while the flash takes it), few enough calls not to matter.
 */
#define OTA_SYNC_CHUNK ((size_t)1 << 20)

/* Bundle header fields (docs/bundle-format.md, "Header"). */
#define OTA_H_VERSION 8
#define OTA_H_FLAGS 10
#define OTA_H_REGION 16
#define OTA_H_SERIAL 48
#define OTA_H_BASE 56
#define OTA_FLAG_DELTA 0x1

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
	o->dropped = false;
	bundle_digester_free(o->dg);
	o->dg = NULL;
	if (o->fd < 0)
		return;
	close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
}

int ota_begin(struct ota *o, enum ota_kind kind, size_t total, const struct bundle *in_force)
{
	struct statvfs vfs;
	uint64_t room;

	ota_abort(o);
	o->kind = kind;
	o->expected = total;
	o->got = 0;
	o->synced = 0;
	o->write_err = 0;
	o->head_got = 0;
	o->head_read = false;
	o->serial = 0;
	o->in_serial = in_force ? bundle_get_info(in_force)->serial : 0;
	snprintf(o->in_region, sizeof(o->in_region), "%s",
		 in_force ? bundle_get_info(in_force)->region : "");
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
	/* Only the message itself: an accepted one is renamed, not copied. */
	if (statvfs(o->dir, &vfs) == 0) {
		room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (room < (uint64_t)total + 65536) {
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
	o->dg = bundle_digester_new(); /* without it (no memory), opening hashes the file */
	return 0;
}

static uint64_t ota_ld64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * The header is complete: read it, and decide what needs no more bytes. Only
 * refusals and the "unchanged" skip are decided here, and only for the
 * region in force (another region is refused as such by the full checks).
 */
static void ota_read_head(struct ota *o)
{
	const uint8_t *h = o->head;
	char region[BUNDLE_REGION_MAX + 1];

	if (memcmp(h, "TGBUNDLE", 8) != 0 || (h[OTA_H_VERSION] | h[OTA_H_VERSION + 1] << 8) != 1)
		return; /* not a bundle this firmware reads: the full checks say why */
	o->head_read = true;
	o->delta = h[OTA_H_FLAGS] & OTA_FLAG_DELTA;
	o->serial = ota_ld64(h + OTA_H_SERIAL);
	o->base_serial = ota_ld64(h + OTA_H_BASE);
	memcpy(region, h + OTA_H_REGION, BUNDLE_REGION_MAX);
	region[BUNDLE_REGION_MAX] = '\0';
	if (!o->in_serial || strcmp(region, o->in_region) != 0)
		return;
	if (!o->delta && o->serial == o->in_serial) {
		o->dropped = true;
		o->drop_reason = BUNDLE_OK;
	} else if (!o->delta && o->serial < o->in_serial) {
		o->dropped = true;
		o->drop_reason = BUNDLE_ERR_STALE;
	} else if (o->delta && o->base_serial != o->in_serial) {
		o->dropped = true;
		o->drop_reason = BUNDLE_ERR_BASE;
	}
}

static int ota_write(struct ota *o, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->write_err = n < 0 ? errno : EIO;
			log_err("writing %s: %s", o->tmp, strerror(o->write_err));
			return -o->write_err;
		}
		if (o->dg)
			bundle_digester_update(o->dg, p, (size_t)n);
		p += n;
		len -= (size_t)n;
		o->st.bytes += (uint64_t)n;
	}
	return 0;
}

/* Write what the header held back (it was not enough to decide, or it said: keep). */
static int ota_flush_head(struct ota *o)
{
	int ret = ota_write(o, o->head, o->head_got);

	o->head_got = OTA_HEAD + 1; /* written: the rest goes straight to the file */
	return ret;
}

int ota_data(struct ota *o, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n;

	if ((o->fd < 0 && !o->dropped) || o->write_err)
		return o->write_err ? -o->write_err : -EBADF;
	if (len > o->expected - o->got) {
		o->write_err = EMSGSIZE;
		return -EMSGSIZE;
	}
	o->got += len;
	if (o->head_got < OTA_HEAD) {
		n = OTA_HEAD - o->head_got < len ? OTA_HEAD - o->head_got : len;
		memcpy(o->head + o->head_got, p, n);
		o->head_got += n;
		p += n;
		len -= n;
		if (o->head_got < OTA_HEAD)
			return 0;
		ota_read_head(o);
		if (o->dropped) {
			/* Nothing was written: the file goes, the rest of the message is counted only. */
			close(o->fd);
			o->fd = -1;
			unlink(o->tmp);
			return 0;
		}
		if (ota_flush_head(o) < 0)
			return -o->write_err;
	}
	if (o->dropped)
		return 0;
	if (ota_write(o, p, len) < 0)
		return -o->write_err;
	if (o->got - o->synced >= OTA_SYNC_CHUNK) {
		/* Start writeback, do not wait for it (fsync in ota_end() waits for the rest). */
		sync_file_range(o->fd, (off_t)o->synced, (off_t)(o->got - o->synced), SYNC_FILE_RANGE_WRITE);
		o->synced = o->got;
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

/* The serial the hub hears about: the header's, unless the bytes are not a bundle at all. */
static uint64_t ota_refused_serial(const struct ota *o, enum bundle_err e)
{
	switch (e) {
	case BUNDLE_ERR_IO:
	case BUNDLE_ERR_TRUNCATED:
	case BUNDLE_ERR_MAGIC:
	case BUNDLE_ERR_VERSION:
	case BUNDLE_ERR_MALFORMED:
	case BUNDLE_ERR_HASH:
	case BUNDLE_ERR_NOMEM:
		return 0;
	default:
		return o->head_read ? o->serial : 0;
	}
}

enum ota_result ota_end(struct ota *o, const struct store_trust *t, const struct bundle *in_force,
			uint64_t now_s, struct bundle **out)
{
	struct bundle_digests d;
	enum bundle_err e;
	bool have;

	*out = NULL;
	if (o->dropped) {
		ota_abort(o);
		if (o->drop_reason != BUNDLE_OK)
			return ota_refuse(o, o->drop_reason, o->serial, now_s);
		o->st.unchanged++;
		o->waiting_for_full = false;
		return OTA_UNCHANGED;
	}
	if (!o->write_err && o->fd >= 0 && o->head_got <= OTA_HEAD)
		ota_flush_head(o); /* a message shorter than a header */
	if (o->write_err || o->fd < 0) {
		ota_abort(o);
		return ota_refuse(o, BUNDLE_ERR_IO, 0, now_s);
	}
	if (o->got != o->expected) {
		ota_abort(o);
		return ota_refuse(o, BUNDLE_ERR_TRUNCATED, 0, now_s);
	}
	if (fsync(o->fd) < 0 || o->got == 0) {
		if (o->got)
			log_err("cannot sync %s: %s", o->tmp, strerror(errno));
		ota_abort(o);
		return ota_refuse(o, o->got ? BUNDLE_ERR_IO : BUNDLE_ERR_TRUNCATED, 0, now_s);
	}
	close(o->fd);
	o->fd = -1;
	/* Opened and checked once, with the digests taken as it came; renamed to current if it passes. */
	have = o->dg && bundle_digester_finish(o->dg, &d) == 0;
	bundle_digester_free(o->dg);
	o->dg = NULL;
	e = store_accept_file(o->data_dir, t, in_force, o->tmp, have ? &d : NULL, now_s, out);
	unlink(o->tmp); /* gone already when renamed; a refused or delta message goes here */
	if (e != BUNDLE_OK)
		return ota_refuse(o, e, ota_refused_serial(o, e), now_s);
	o->st.accepted++;
	if (o->kind == OTA_FULL)
		o->waiting_for_full = false;
	return OTA_ACCEPTED;
}

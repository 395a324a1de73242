/*
 * The OUI table (oui.h). Checked once at open so a lookup trusts it: every
 * entry's name offset inside the names, every name NUL-terminated within
 * 63 bytes and printable ASCII (records are JSON), entries strictly sorted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "oui"
#include "core/file.h"
#include "core/log.h"
#include "report/oui.h"

#define OUI_MAGIC "TGOUI\0\0\1"
#define OUI_HEADER 16
#define OUI_ENTRY 6
#define OUI_NAME_MAX 63
/* The IEEE's list is some 32 000 entries and 600 KB; a file 8 times that is no table of ours. */
#define OUI_FILE_MAX (8u << 20)

struct oui_table {
	uint8_t *data;
	size_t len;
	uint32_t count;
	const uint8_t *entries;
	const char *names;
	uint32_t names_len;
};

static uint32_t rd32le(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t entry_name(const uint8_t *e)
{
	return (uint32_t)e[3] | (uint32_t)e[4] << 8 | (uint32_t)e[5] << 16;
}

/* 0, or -EINVAL with what was wrong logged. */
static int oui_check(const struct oui_table *t, const char *path)
{
	for (uint32_t i = 0; i < t->count; i++) {
		const uint8_t *e = t->entries + (size_t)i * OUI_ENTRY;
		uint32_t off = entry_name(e), n;

		if (i && memcmp(e - OUI_ENTRY, e, 3) >= 0) {
			log_warn("%s: entry %u: OUI %02X%02X%02X not after the one before (allowed: sorted, "
				 "each once); vendors unknown", path, i, e[0], e[1], e[2]);
			return -EINVAL;
		}
		if (off >= t->names_len) {
			log_warn("%s: entry %u: name at %u, past the %u bytes of names; vendors unknown",
				 path, i, off, t->names_len);
			return -EINVAL;
		}
		n = (uint32_t)strnlen(t->names + off, t->names_len - off);
		if (n == t->names_len - off || n > OUI_NAME_MAX) {
			log_warn("%s: entry %u: name at %u not ended within %u bytes (allowed: 1..%u); "
				 "vendors unknown", path, i, off, OUI_NAME_MAX + 1, OUI_NAME_MAX);
			return -EINVAL;
		}
		for (uint32_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)t->names[off + k];

			if (c < 0x20 || c > 0x7e) {
				log_warn("%s: entry %u: byte 0x%02x in its name (allowed: printable ASCII); "
					 "vendors unknown", path, i, c);
				return -EINVAL;
			}
		}
	}
	return 0;
}

struct oui_table *oui_open(const char *path)
{
	struct oui_table *t;
	int err;

	if (!path || !path[0])
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	err = file_read(path, OUI_FILE_MAX, &t->data, &t->len);
	if (err == -ENOENT) {
		log_info("no OUI table at %s: device vendors unknown", path);
		goto err_free;
	}
	if (err < 0) {
		log_warn("cannot read the OUI table %s: %s; vendors unknown", path, strerror(-err));
		goto err_free;
	}
	if (t->len < OUI_HEADER || memcmp(t->data, OUI_MAGIC, 8) != 0) {
		log_warn("%s: not an OUI table (%zu bytes; allowed: magic TGOUI, version 1, from "
			 "tools/mk-oui); vendors unknown", path, t->len);
		goto err_data;
	}
	t->count = rd32le(t->data + 8);
	t->names_len = rd32le(t->data + 12);
	if ((uint64_t)OUI_HEADER + (uint64_t)t->count * OUI_ENTRY + t->names_len != t->len) {
		log_warn("%s: %u entries and %u bytes of names make %llu bytes, the file has %zu; "
			 "vendors unknown", path, t->count, t->names_len,
			 (unsigned long long)(OUI_HEADER + (uint64_t)t->count * OUI_ENTRY + t->names_len),
			 t->len);
		goto err_data;
	}
	t->entries = t->data + OUI_HEADER;
	t->names = (const char *)t->entries + (size_t)t->count * OUI_ENTRY;
	if (oui_check(t, path) < 0)
		goto err_data;
	log_debug("%s: %u OUIs", path, t->count);
	return t;

err_data:
	free(t->data);
err_free:
	free(t);
	return NULL;
}

void oui_close(struct oui_table *t)
{
	if (!t)
		return;
	free(t->data);
	free(t);
}

uint32_t oui_count(const struct oui_table *t)
{
	return t ? t->count : 0;
}

const char *oui_vendor(const struct oui_table *t, const uint8_t mac[6])
{
	uint32_t lo = 0, hi;

	/* A locally administered address (a phone's random one) has no maker to look up. */
	if (!t || (mac[0] & 0x02))
		return NULL;
	hi = t->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const uint8_t *e = t->entries + (size_t)mid * OUI_ENTRY;
		int c = memcmp(mac, e, 3);

		if (!c)
			return t->names + entry_name(e);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Finding a pseudonym's value (reveal.h). Each candidate costs what making
 * its pseudonym does (privacy_mac: two SHA-256 compressions), so a sweep of
 * the private IPv4 space takes some 18 million of them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "reveal"
#include "core/common.h"
#include "core/file.h"
#include "core/log.h"
#include "report/reveal.h"

struct hunt {
	const struct privacy *p;
	uint8_t tag;
	uint8_t want[PRIVACY_PSEUDONYM_BYTES];
};

static int hunt_start(struct hunt *h, const struct privacy *p, int cls, const char *hex)
{
	for (int i = 0; i < PRIVACY_PSEUDONYM_BYTES; i++) {
		unsigned int b;

		if (sscanf(hex + (ptrdiff_t)2 * i, "%2x", &b) != 1)
			return -EINVAL;
		h->want[i] = (uint8_t)b;
	}
	h->tag = (uint8_t)cls;
	h->p = p;
	return 0;
}

/* privacy_pseudonym()'s HMAC of value, compared with the one sought. */
static int hunt_is(struct hunt *h, const void *value, size_t len)
{
	uint8_t mac[32];

	privacy_mac(h->p, h->tag, value, len, mac);
	return memcmp(mac, h->want, sizeof(h->want)) == 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char sep = s[2], end;

	if (strlen(s) != 17 || (sep != ':' && sep != '-'))
		return -1;
	if (sscanf(s, sep == ':' ? "%2x:%2x:%2x:%2x:%2x:%2x%c" : "%2x-%2x-%2x-%2x-%2x-%2x%c", &b[0],
		   &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* One word of a candidate file: does it have the pseudonym sought? */
static int hunt_word(struct hunt *h, int cls, const char *w, char *out, size_t len)
{
	uint8_t a[16];

	switch (cls) {
	case PRIV_ADDR:
		if (inet_pton(AF_INET, w, a) == 1 ? hunt_is(h, a, 4)
		    : inet_pton(AF_INET6, w, a) == 1 && hunt_is(h, a, 16))
			break;
		return 0;
	case PRIV_MAC:
		if (parse_mac(w, a) == 0 && hunt_is(h, a, 6))
			break;
		return 0;
	default:
		if (hunt_is(h, w, strlen(w)))
			break;
		return 0;
	}
	snprintf(out, len, "%s", w);
	return 1;
}

/* Words: what lies between blanks, quotes and JSON or INI punctuation. */
static int hunt_file(struct hunt *h, int cls, const char *path, char *out, size_t len)
{
	static const char seps[] = " \t\r\n\"',;{}[]()<>=|";
	uint8_t *data;
	size_t n;
	char *save, *w;
	int err = file_read(path, 0, &data, &n);

	if (err < 0) {
		log_err("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	for (w = strtok_r((char *)data, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
		/* "ip":"10.0.0.5:443" and a trailing dot of a sentence are not part of the word. */
		size_t wl = strlen(w);

		if (hunt_word(h, cls, w, out, len))
			break;
		if (wl > 1 && (w[wl - 1] == '.' || w[wl - 1] == ':')) {
			w[wl - 1] = '\0';
			if (hunt_word(h, cls, w, out, len))
				break;
		}
	}
	err = w ? 1 : 0;
	free(data);
	return err;
}

/* Every private IPv4 address, the likeliest ranges first. */
static int hunt_private_v4(struct hunt *h, char *out, size_t len)
{
	static const struct {
		uint32_t base;
		unsigned int bits;
	} ranges[] = {
		{ 0xc0a80000u, 16 }, /* 192.168.0.0/16 */
		{ 0xac100000u, 12 }, /* 172.16.0.0/12 */
		{ 0x0a000000u, 8 },  /* 10.0.0.0/8 */
		{ 0x64400000u, 10 }, /* 100.64.0.0/10 */
		{ 0xa9fe0000u, 16 }, /* 169.254.0.0/16 */
	};

	for (size_t r = 0; r < ARRAY_SIZE(ranges); r++) {
		uint64_t count = 1ull << (32 - ranges[r].bits);

		for (uint64_t i = 0; i < count; i++) {
			uint32_t a = ranges[r].base + (uint32_t)i;
			uint8_t b[4] = { (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a };

			if (hunt_is(h, b, 4)) {
				inet_ntop(AF_INET, b, out, (socklen_t)len);
				return 1;
			}
		}
	}
	return 0;
}

int reveal(const struct privacy *p, const char *what, const char *const *files, unsigned int n_files,
	   char *out, size_t len)
{
	uint8_t a[16], orig[16];
	struct hunt h;
	int cls, found = 0, err;
	const char *dash;

	if (inet_pton(AF_INET, what, a) == 1 || inet_pton(AF_INET6, what, a) == 1) {
		size_t n = strchr(what, ':') ? 16 : 4;

		privacy_cryptopan_reverse(p, a, n, orig);
		inet_ntop(n == 4 ? AF_INET : AF_INET6, orig, out, (socklen_t)len);
		return 0;
	}
	cls = privacy_pseudonym_class(what);
	if (cls < 0)
		return -EINVAL;
	dash = strchr(what, '-');
	err = hunt_start(&h, p, cls, dash + 1);
	if (err < 0)
		return err;
	for (unsigned int i = 0; i < n_files && !found; i++) {
		err = hunt_file(&h, cls, files[i], out, len);
		if (err < 0)
			return err;
		found = err;
	}
	if (!found && cls == PRIV_ADDR)
		found = hunt_private_v4(&h, out, len);
	return found ? 0 : -ENOENT;
}

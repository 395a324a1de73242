/*
 * libFuzzer target for config_load(): any bytes as a configuration file.
 *
 * Besides "does not crash", it checks the loader's promises:
 *  - on error, the configuration is untouched and the message is one line
 *    that starts with the file name;
 *  - on success, what config_write() prints loads back without error and
 *    writes out identically (the round trip the hub relies on).
 *
 * The input lives in a memfd opened by path through /proc/self/fd, so no
 * file is left behind.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_path(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

static void memfd_fill(int fd, const void *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
}

/* config_write() output of c, in a malloc'd buffer. */
static char *written(const struct tg_config *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f || config_write(c, f) != 0 || fclose(f) != 0)
		abort();
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in_fd = -1, back_fd = -1;
	static char in_path[64], back_path[64];
	struct tg_config c, before, back;
	char err[512];
	char *text, *text2;
	size_t len, len2;
	int ret;

	if (in_fd < 0) {
		in_fd = memfd_path("fuzz-config", in_path, sizeof(in_path));
		back_fd = memfd_path("fuzz-config-back", back_path, sizeof(back_path));
	}
	memfd_fill(in_fd, data, size);

	config_defaults(&c);
	before = c;
	ret = config_load(&c, in_path, err, sizeof(err));
	text = written(&c, &len);
	if (ret < 0) {
		size_t blen;
		char *btext = written(&before, &blen);

		/* untouched, and one line naming the file */
		if (ret != -EINVAL || len != blen || memcmp(text, btext, len) != 0 ||
		    strncmp(err, in_path, strlen(in_path)) != 0 || strchr(err, '\n'))
			abort();
		free(btext);
		free(text);
		return 0;
	}

	memfd_fill(back_fd, text, len);
	config_defaults(&back);
	if (config_load(&back, back_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "written configuration does not load back: %s\n", err);
		abort();
	}
	text2 = written(&back, &len2);
	if (len != len2 || memcmp(text, text2, len) != 0) {
		fprintf(stderr, "round trip changed the configuration\n");
		abort();
	}
	free(text);
	free(text2);
	return 0;
}

/*
 * Whole-file reads and crash-safe replacement; see file.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"

/* First buffer when the size is unknown (a pipe, /proc): doubled as needed. */
#define FILE_CHUNK ((size_t)64 * 1024)

static int file_grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : FILE_CHUNK;
	uint8_t *nb;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return 0;
	nb = realloc(*buf, n);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = n;
	return 0;
}

int file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The size is a hint (one allocation for a regular file), never trusted. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < SIZE_MAX / 2) {
		if (max && (uint64_t)st.st_size > max) {
			ret = -EFBIG;
			goto err;
		}
		ret = file_grow(&buf, &cap, (size_t)st.st_size + 1);
		if (ret < 0)
			goto err;
	}
	for (;;) {
		ssize_t got;

		ret = file_grow(&buf, &cap, n + 2);
		if (ret < 0)
			goto err;
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			goto err;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (max && n > max) {
			ret = -EFBIG;
			goto err;
		}
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
err:
	free(buf);
	close(fd);
	return ret;
}

/* Write all of data to fd and fsync it; closes fd. Returns 0 or -errno. */
static int file_fd_write_synced(int fd, mode_t mode, const void *data, size_t len)
{
	const uint8_t *p = data;
	int ret = 0;

	/* A file left by a power cut keeps its old mode through O_CREAT: set it. */
	if (fchmod(fd, mode) < 0)
		ret = -errno;
	while (!ret && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

static int file_create_synced(const char *path, int flags, const void *data, size_t len,
			      mode_t mode)
{
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return -errno;
	ret = file_fd_write_synced(fd, mode, data, len);
	if (ret)
		unlink(path);
	return ret;
}

int file_write_synced(const char *path, const void *data, size_t len, mode_t mode)
{
	return file_create_synced(path, O_TRUNC, data, len, mode);
}

int file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	return file_create_synced(path, O_EXCL, data, len, mode);
}

int file_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int file_rename_synced(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return -errno;
	return file_sync_dir(to);
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	int n, ret;

	n = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp", (int)(name - path), path, name);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	ret = file_write_synced(tmp, data, len, mode);
	if (ret < 0)
		return ret;
	ret = file_rename_synced(tmp, path);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

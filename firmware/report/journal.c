/*
 * The journal of what left the box; see journal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "journal"
#include "core/log.h"
#include "report/journal.h"

int journal_open(struct journal *j, const char *data_dir, uint64_t max_bytes)
{
	struct stat st;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if (snprintf(j->path, sizeof(j->path), "%s/journal", data_dir) >= (int)sizeof(j->path) - 2)
		return -ENAMETOOLONG;
	j->max = max_bytes;
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		log_err("%s: cannot open: %s", j->path, strerror(errno));
		return -errno;
	}
	if (fstat(j->fd, &st) == 0)
		j->size = (uint64_t)st.st_size;
	return 0;
}

static int journal_rotate(struct journal *j)
{
	char old[sizeof(j->path) + 2];

	snprintf(old, sizeof(old), "%s.1", j->path);
	close(j->fd);
	j->fd = -1;
	if (rename(j->path, old) < 0)
		log_warn("%s: cannot rename to %s: %s", j->path, old, strerror(errno));
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		log_err("%s: cannot open: %s", j->path, strerror(errno));
		return -errno;
	}
	j->size = 0;
	return 0;
}

int journal_append(struct journal *j, const char *lines, size_t len)
{
	ssize_t n;

	if (j->fd < 0)
		return -EBADF;
	if (j->size && j->size + len > j->max && journal_rotate(j) < 0)
		return -EIO;
	n = write(j->fd, lines, len);
	if (n != (ssize_t)len) {
		log_warn("%s: wrote %zd of %zu bytes: %s", j->path, n, len,
			 n < 0 ? strerror(errno) : "short write");
		return n < 0 ? -errno : -EIO;
	}
	j->size += len;
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

static long journal_copy(const char *path, FILE *out)
{
	char buf[8192];
	long lines = 0;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		fwrite(buf, 1, n, out);
	}
	fclose(f);
	return lines;
}

long journal_print(const char *data_dir, FILE *out)
{
	char path[4096 + 16];
	long a, b;

	snprintf(path, sizeof(path), "%s/journal.1", data_dir);
	a = journal_copy(path, out);
	if (a < 0)
		return a;
	snprintf(path, sizeof(path), "%s/journal", data_dir);
	b = journal_copy(path, out);
	return b < 0 ? b : a + b;
}

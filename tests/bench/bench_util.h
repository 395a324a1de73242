/*
 * Helpers shared by the blocklist benchmark programs (bundle_bench.c,
 * ndpi_hosts_bench.c): a monotonic clock, the process's RSS, and reading a
 * file of one item per line into memory. Header-only, host only.
 */
#ifndef TG_BENCH_UTIL_H
#define TG_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if absent. */
static inline long bench_status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* The lines of a file: one buffer, NUL-terminated lines, their starts and lengths. */
struct bench_lines {
	char *buf;
	char **line;
	size_t *len;
	size_t n;
};

static inline int bench_read_lines(const char *path, struct bench_lines *out)
{
	FILE *f = fopen(path, "rb");
	size_t size, i, cap = 0;
	long end;
	char *p;

	memset(out, 0, sizeof(*out));
	if (!f || fseek(f, 0, SEEK_END) || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto fail;
	size = (size_t)end;
	out->buf = malloc(size + 1);
	if (!out->buf || fread(out->buf, 1, size, f) != size)
		goto fail;
	fclose(f);
	f = NULL;
	out->buf[size] = '\n';
	for (i = 0; i <= size; i++)
		cap += out->buf[i] == '\n';
	out->line = malloc(cap * sizeof(*out->line));
	out->len = malloc(cap * sizeof(*out->len));
	if (!out->line || !out->len)
		goto fail;
	for (p = out->buf; p < out->buf + size;) {
		char *nl = memchr(p, '\n', (size_t)(out->buf + size + 1 - p));

		*nl = '\0';
		if (nl > p) {
			out->line[out->n] = p;
			out->len[out->n++] = (size_t)(nl - p);
		}
		p = nl + 1;
	}
	return 0;
fail:
	if (f)
		fclose(f);
	fprintf(stderr, "cannot read %s\n", path);
	return -1;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of n values (the lower middle for an even n); sorts v. */
static inline double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[(n - 1) / 2];
}

#endif

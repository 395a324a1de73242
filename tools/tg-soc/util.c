/* tg-soc's shared helpers (util.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg-soc/util.h"

int soc_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p;
	int frac = 0, n = 0;
	time_t t;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (n < 3)
				frac = frac * 10 + (*p - '0');
			n++;
			p++;
		}
		if (!n)
			return -EINVAL;
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

const char *soc_time_str(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char day[24];

	if (!ms || !gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, size, "-");
		return buf;
	}
	snprintf(buf, size, "%s.%03dZ", day, (int)(ms % 1000));
	return buf;
}

int soc_parse_duration(const char *s, int64_t *ms)
{
	char *end;
	unsigned long long v;
	int64_t unit = 1000;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'd': unit = 86400000; end++; break;
	case 'h': unit = 3600000; end++; break;
	case 'm': unit = 60000; end++; break;
	case 's': end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end || v > (unsigned long long)INT64_MAX / (uint64_t)unit)
		return -EINVAL;
	*ms = (int64_t)v * unit;
	return 0;
}

const char *soc_age_str(int64_t ms, char *buf, size_t size)
{
	int64_t s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%" PRId64 "s", s);
	else if (s < 7200)
		snprintf(buf, size, "%" PRId64 "m", s / 60);
	else if (s < 172800)
		snprintf(buf, size, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, size, "%" PRId64 "d", s / 86400);
	return buf;
}

int64_t soc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void soc_errf(const char *fmt, ...)
{
	va_list ap;

	fputs(SOC_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fputc('\n', stderr);
}

void soc_logf(const char *level, const char *fmt, ...)
{
	char ts[32];
	va_list ap;

	soc_time_str(soc_now_ms(), ts, sizeof(ts));
	fprintf(stderr, "%s %s: ", ts, level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

json_t *soc_json_path(const json_t *o, const char *path)
{
	char key[64];
	const char *p = path, *dot;
	json_t *cur = (json_t *)o;

	while (cur && *p) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p = dot ? dot + 1 : p + n;
	}
	return cur;
}

const char *soc_json_str(const json_t *o, const char *path)
{
	return json_string_value(soc_json_path(o, path));
}

int64_t soc_json_int(const json_t *o, const char *path, int64_t dflt)
{
	json_t *v = soc_json_path(o, path);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

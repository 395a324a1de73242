/*
 * Logging: one line per message, "townguard[module] level: text", to
 * stderr, to syslog(3) as "[module] text" at the mapped priority, or to a
 * file, each line after its UTC time ("2026-12-04T20:01:02Z townguard[...").
 *
 * A stderr or file line is formatted into one buffer and handed to a single
 * write(2), so lines from one process never interleave mid-line (stderr's
 * stdio buffer is bypassed). Logging preserves errno, so a caller can log
 * and then return -errno, and "%m" in a format refers to the caller's errno.
 *
 * The file is what a board image logs to (board/common/init), so the serial
 * line carries the technician's console alone. It is bounded: past
 * CONFIG_LOG_FILE_KB it is renamed PATH.1 (replacing the one before) and a
 * new PATH begins, at most twice that on flash. A write that fails (flash
 * full) loses the line there; the ring below and `log N` still have it.
 *
 * log_msg_rl() limits one call site to CONFIG_LOG_RATELIMIT_PER_SEC lines in
 * each one-second window of CLOCK_MONOTONIC. Lines dropped in a window are
 * counted and reported, just before the next line that is printed, as
 * "... N similar messages suppressed" (with the same module and level prefix).
 * A flood that stops is therefore reported when the call site next fires.
 */
#define LOG_MODULE "log"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"

/*
 * One formatted line, prefix included. Longer messages are cut and end in
 * "..." so the reader can tell; 1 KiB holds any sane log line.
 */
#define LOG_LINE_MAX 1024
#define LOG_WINDOW_MS 1000

static enum log_level log_level = CONFIG_LOG_LEVEL;
static enum log_target log_target = LOG_TO_STDERR;
/* openlog() keeps the pointer it is given, so the identity lives here. */
static char log_ident[32] = "townguard";
/* LOG_TO_FILE: the file, its descriptor and its size so far. */
static struct {
	char path[PATH_MAX];
	int fd;
	size_t size;
} log_file = { .fd = -1 };

static const char *const log_level_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int log_syslog_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

_Static_assert(CONFIG_LOG_LEVEL >= LOG_LVL_ERR && CONFIG_LOG_LEVEL <= LOG_LVL_DEBUG,
	       "CONFIG_LOG_LEVEL out of range");
_Static_assert(CONFIG_LOG_RATELIMIT_PER_SEC >= 1, "CONFIG_LOG_RATELIMIT_PER_SEC must be >= 1");

void log_set_level(enum log_level level)
{
	if ((int)level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

static int log_file_open(void)
{
	struct stat st;
	int fd = open(log_file.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	log_file.size = fstat(fd, &st) == 0 ? (size_t)st.st_size : 0;
	log_file.fd = fd;
	return 0;
}

static void log_file_close(void)
{
	if (log_file.fd >= 0)
		close(log_file.fd);
	log_file.fd = -1;
}

/* Past the limit: PATH becomes PATH.1 and a new PATH begins. */
static void log_file_rotate(void)
{
	char old[PATH_MAX + 2];

	snprintf(old, sizeof(old), "%s.1", log_file.path);
	log_file_close();
	rename(log_file.path, old);
	log_file_open();
}

static int log_file_start(const char *path)
{
	char dir[PATH_MAX], *slash;

	if (!path || !*path || strlen(path) >= sizeof(log_file.path))
		return -EINVAL;
	snprintf(log_file.path, sizeof(log_file.path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -errno;
	}
	return log_file_open();
}

int log_set_target(enum log_target target, const char *arg)
{
	int ret;

	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_file_close();
	log_target = target == LOG_TO_SYSLOG || target == LOG_TO_FILE ? target : LOG_TO_STDERR;
	if (log_target == LOG_TO_SYSLOG) {
		snprintf(log_ident, sizeof(log_ident), "%s", arg && *arg ? arg : "townguard");
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else if (log_target == LOG_TO_FILE) {
		ret = log_file_start(arg);
		if (ret < 0) {
			log_target = LOG_TO_STDERR;
			log_err("[log] target = file: %s: %s: logging to stderr", arg ? arg : "(no path)",
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		enum log_level level;
	} words[] = {
		{ "error", LOG_LVL_ERR },  { "err", LOG_LVL_ERR },   { "warn", LOG_LVL_WARN },
		{ "warning", LOG_LVL_WARN }, { "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
		{ "0", LOG_LVL_ERR },      { "1", LOG_LVL_WARN },    { "2", LOG_LVL_INFO },
		{ "3", LOG_LVL_DEBUG },
	};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcasecmp(s, words[i].name))
			return words[i].level;
	return -EINVAL;
}

static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * Format "townguard[module] level: text\n" into buf (no NUL), cutting text
 * with "..." if it does not fit. Returns the number of bytes.
 */
static size_t log_format_line(char *buf, size_t size, enum log_level level, const char *module,
			      const char *text)
{
	int n = snprintf(buf, size, "townguard[%.32s] %s: %s", module, log_level_names[level], text);
	size_t len;

	if (n < 0)
		return 0;
	len = (size_t)n;
	if (len > size - 2) {
		len = size - 2;
		memset(buf + len - 3, '.', 3);
	}
	buf[len++] = '\n';
	return len;
}

/*
 * The last lines, whatever the target, for the console's `log [N]`: a
 * technician on site sees what happened without a syslog server. Fixed
 * size (LOG_RING_LINES x LOG_RING_WIDTH = 24 KiB), the oldest overwritten;
 * lines longer than the width are cut (the full line went to the target).
 */
#define LOG_RING_LINES 128
#define LOG_RING_WIDTH 192
static struct {
	char line[LOG_RING_LINES][LOG_RING_WIDTH];
	uint64_t total;  /* lines ever put; the newest is (total - 1) % LOG_RING_LINES */
} log_ring;

static void log_ring_put(enum log_level level, const char *module, const char *msg)
{
	char *slot = log_ring.line[log_ring.total % LOG_RING_LINES];
	struct timespec ts;
	struct tm tm;
	char when[16] = "";

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(slot, LOG_RING_WIDTH, "%s [%.16s] %s: %s", when, module, log_level_names[level], msg);
	log_ring.total++;
}

int log_recent(unsigned int n, void (*fn)(const char *line, void *ctx), void *ctx)
{
	uint64_t have = log_ring.total < LOG_RING_LINES ? log_ring.total : LOG_RING_LINES;

	if (n > have)
		n = (unsigned int)have;
	for (uint64_t i = log_ring.total - n; i < log_ring.total; i++)
		fn(log_ring.line[i % LOG_RING_LINES], ctx);
	return (int)n;
}

/* lines (one or two, each ending in a newline) into the file, each after its UTC time. */
static void log_file_write(const char *lines, size_t len)
{
	char buf[2 * LOG_LINE_MAX + 64], when[32] = "";
	struct timespec ts;
	struct tm tm;
	size_t pos = 0;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	for (const char *p = lines, *end = lines + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		int w = snprintf(buf + pos, sizeof(buf) - pos, "%s%.*s", when, (int)n, p);

		if (w < 0 || (size_t)w >= sizeof(buf) - pos)
			break;
		pos += (size_t)w;
		p += n;
	}
	if (log_file.size + pos > (size_t)CONFIG_LOG_FILE_KB * 1024)
		log_file_rotate();
	if (log_file.fd < 0)
		return;
	log_write_all(log_file.fd, buf, pos);
	log_file.size += pos;
}

/*
 * Emit one message, preceded by a "... N similar messages suppressed" line
 * when suppressed > 0. errno must still be the caller's (for %m).
 */
__attribute__((format(printf, 4, 0))) static void
log_emit(enum log_level level, const char *module, uint32_t suppressed, const char *fmt,
	 va_list ap)
{
	char msg[LOG_LINE_MAX];
	char note[64] = "";
	/*
	 * NOLINT: clang-tidy 14's valist checker reports any va_list as
	 * uninitialised in every file after the first of one invocation.
	 */
	int n = vsnprintf(msg, sizeof(msg), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	size_t len;

	if (n < 0)
		return;
	len = strlen(msg);
	if ((size_t)n >= sizeof(msg) && len >= 3)
		memset(msg + len - 3, '.', 3);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	if (suppressed)
		snprintf(note, sizeof(note), "... %u similar messages suppressed",
			 (unsigned int)suppressed);
	if (suppressed)
		log_ring_put(level, module, note);
	log_ring_put(level, module, msg);

	if (log_target == LOG_TO_SYSLOG) {
		if (suppressed)
			syslog(log_syslog_prio[level], "[%s] %s", module, note);
		syslog(log_syslog_prio[level], "[%s] %s", module, msg);
		return;
	}

	/* The suppressed count and the message go out in one write. */
	char line[2 * LOG_LINE_MAX];
	size_t pos = 0;

	if (suppressed)
		pos = log_format_line(line, LOG_LINE_MAX, level, module, note);
	pos += log_format_line(line + pos, LOG_LINE_MAX, level, module, msg);
	if (log_target == LOG_TO_FILE)
		log_file_write(line, pos);
	else
		log_write_all(STDERR_FILENO, line, pos);
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	if ((unsigned int)level > (unsigned int)log_level)
		return;
	va_start(ap, fmt);
	log_emit(level, module, 0, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

static uint64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void log_msg_rl(struct log_ratelimit *rl, enum log_level level, const char *module,
		const char *fmt, ...)
{
	int saved_errno = errno;
	uint32_t report = 0;
	uint64_t now;
	va_list ap;

	if ((unsigned int)level > (unsigned int)log_level)
		return;
	now = log_now_ms();
	if (now - rl->window_start_ms >= LOG_WINDOW_MS) {
		report = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= CONFIG_LOG_RATELIMIT_PER_SEC) {
		if (rl->suppressed < UINT32_MAX)
			rl->suppressed++;
		return;
	}
	rl->printed++;
	errno = saved_errno;
	va_start(ap, fmt);
	log_emit(level, module, report, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

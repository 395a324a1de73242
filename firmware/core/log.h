/*
 * Logging with a per-module prefix and a level, to stderr, syslog or a file.
 *
 * Each .c file defines LOG_MODULE before including this header:
 *     #define LOG_MODULE "decode"
 *     #include "core/log.h"
 * and writes log_err(), log_warn(), log_info(), log_debug(). Lines read
 * "townguard[decode] warn: ...". Packet-path code uses log_debug_rl(), which
 * prints a call site at most CONFIG_LOG_RATELIMIT_PER_SEC times a second and
 * reports how many lines it suppressed.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
	LOG_TO_FILE,
};

/* Rate-limit state of one call site; zero-initialised static. */
struct log_ratelimit {
	uint64_t window_start_ms;
	uint32_t printed;
	uint32_t suppressed;
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/*
 * Switch target. arg is the syslog identity (LOG_TO_SYSLOG) or the file's
 * path (LOG_TO_FILE: appended to, its directory made if missing, rotated to
 * PATH.1 past CONFIG_LOG_FILE_KB). Returns 0, or -errno when the file cannot
 * be opened: then the target is stderr and the reason has been logged there.
 */
int log_set_target(enum log_target target, const char *arg);
/* Parse "error", "warn", "info", "debug" (or 0..3). Returns level or -EINVAL. */
int log_level_parse(const char *s);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_msg_rl(struct log_ratelimit *rl, enum log_level level, const char *module,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The last n lines logged (at most 128, oldest first, "HH:MM:SS [module]
 * level: text", cut at 191 bytes), each passed to fn. Returns how many.
 */
int log_recent(unsigned int n, void (*fn)(const char *line, void *ctx), void *ctx);

#ifndef LOG_MODULE
#error "define LOG_MODULE before including log.h"
#endif

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define log_err(...) log_msg(LOG_LVL_ERR, LOG_MODULE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, LOG_MODULE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, LOG_MODULE, __VA_ARGS__)
#define log_debug(...)                                              \
	do {                                                        \
		if (log_enabled(LOG_LVL_DEBUG))                     \
			log_msg(LOG_LVL_DEBUG, LOG_MODULE, __VA_ARGS__); \
	} while (0)
#define log_debug_rl(...)                                                        \
	do {                                                                     \
		static struct log_ratelimit log_rl__;                            \
		if (log_enabled(LOG_LVL_DEBUG))                                  \
			log_msg_rl(&log_rl__, LOG_LVL_DEBUG, LOG_MODULE, __VA_ARGS__); \
	} while (0)

#endif

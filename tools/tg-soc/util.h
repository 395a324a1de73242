/*
 * What several tg-soc files share: times as the records write them
 * (ISO 8601 UTC with milliseconds), durations as the command line gives them
 * ("30d", "24h", "90m", "45s"), and the log line format of collect.
 */
#ifndef TG_SOC_UTIL_H
#define TG_SOC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SOC_PROG "tg-soc"

/* "2026-12-03T14:00:00.000Z" (the milliseconds and Z optional) -> ms since the epoch; -EINVAL. */
int soc_parse_time(const char *s, int64_t *ms);
/* ms as "2026-12-03T14:00:00.000Z" into buf (32 bytes do); "-" for 0. */
const char *soc_time_str(int64_t ms, char *buf, size_t size);
/* "30d" "24h" "90m" "45s" (a number alone: seconds) -> ms; -EINVAL. */
int soc_parse_duration(const char *s, int64_t *ms);
/* "3d", "5h", "12m", "40s": a short age for tables. */
const char *soc_age_str(int64_t ms, char *buf, size_t size);
int64_t soc_now_ms(void);

/* "tg-soc: " fmt on stderr; level "info", "warning", "error" after the time stamp in collect. */
__attribute__((format(printf, 1, 2))) void soc_errf(const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void soc_logf(const char *level, const char *fmt, ...);

/* The string at a dotted path ("tg.alert.indicator"), or NULL. */
const char *soc_json_str(const json_t *o, const char *path);
/* The member at a dotted path, or NULL. */
json_t *soc_json_path(const json_t *o, const char *path);
/* The integer at a dotted path, or dflt. */
int64_t soc_json_int(const json_t *o, const char *path, int64_t dflt);

#endif

/*
 * What several tg-hub commands share: messages, number and name checks,
 * times, whole-file reads and the crash-safe writes, and opening a bundle.
 * Every function that fails prints the message naming the bad value itself
 * (on stderr, "tg-hub: ..."), so a caller only decides the exit status.
 */
#ifndef TG_HUB_COMMON_H
#define TG_HUB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/bundle.h"

#define PROG "tg-hub"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 0 done, 1 refused or failed, 2 usage (docs/tg-hub.md, "Exit status"). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DAY 86400u
/* A gateway id as the firmware takes it ([gateway] id): 1..63 of a-z, 0-9, '-'. */
#define GW_ID_MAX 63

/* The program messages and usage lines name: PROG, or tg-soc's name (it shares opts.c). */
extern const char *hub_prog;

/* "tg-hub: " fmt "\n" on stderr. */
__attribute__((format(printf, 1, 2))) void hub_errf(const char *fmt, ...);

/* A whole number in [min, max], or -EINVAL after a message naming opt and s. */
int hub_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* t as 2026-01-01T00:00:00Z in buf (32 bytes do), "never" for 0. */
const char *hub_iso8601(uint64_t t, char *buf, size_t size);

bool hub_region_valid(const char *r);
bool hub_gw_id_valid(const char *id);

/*
 * The whole file in a malloc'ed buffer with a NUL after it (not counted in
 * *len). 0 or -errno.
 */
int hub_read_file(const char *path, uint8_t **out, size_t *len);

/* A key file as bundle.h wants it: PEM with its terminating NUL counted, or DER as is. */
int hub_read_key(const char *path, uint8_t **key, size_t *len);

/* Wipes and frees what hub_read_key() or hub_read_file() returned; NULL is fine. */
void hub_free_key(uint8_t *key, size_t len);


/* path atomically: a temporary file beside it, fsync, rename, fsync of the directory. */
int hub_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* A new file that must not exist yet (keys are never overwritten), fsync'ed. */
int hub_write_new(const char *path, const char *text, mode_t mode);

/* mkdir -p: missing parents 0755, path itself 0700; one that exists already is fine. */
int hub_make_dir(const char *path);

bool hub_exists(const char *path);

/* bundle_open_file(), or -EINVAL after "PATH: refused: REASON: TEXT". */
int hub_open_bundle(const char *path, struct bundle **b);

/* Entries per kind and list; a delta counts what it adds (bundle.h has no count of removals). */
void hub_print_counts(const struct bundle *b);

#endif

/*
 * Whole files (core/file.c): read one into memory, and replace one so that a
 * power cut leaves either the old or the new file, never a torn one.
 *
 * The replacement is the usual sequence, with every step's result checked:
 * write a temporary file in the same directory (a rename is atomic only
 * within one filesystem), fsync it (its bytes are on flash before its name
 * is), rename it over the target, fsync the directory (the new name is on
 * flash). A failed fsync of the directory is an error too: the rename may
 * not survive a power cut, and the caller must not report success.
 *
 * Nothing here logs: the caller knows what the file is and says so.
 */
#ifndef TG_FILE_H
#define TG_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Read the file at path into a malloc'ed buffer, with a NUL after the last
 * byte (not counted in *len). Files over `max` bytes are refused with
 * -EFBIG (max 0: no limit). Returns 0 or -errno.
 */
int file_read(const char *path, size_t max, uint8_t **data, size_t *len);

/*
 * Create (or truncate) path with permissions mode, write all of data and
 * fsync it. On failure the file is removed. Returns 0 or -errno.
 */
int file_write_synced(const char *path, const void *data, size_t len, mode_t mode);

/* The same for a file that must not exist yet (-EEXIST if it does): keys are never overwritten. */
int file_write_new(const char *path, const void *data, size_t len, mode_t mode);

/* fsync the directory that holds path ("a/b/c" syncs "a/b"). Returns 0 or -errno. */
int file_sync_dir(const char *path);

/*
 * rename(from, to), then fsync the directory of `to` (both must be in the
 * same directory). Returns 0 or -errno; from is left in place if the rename
 * fails (not if only the directory's fsync does: then the rename happened but
 * may not survive a power cut).
 */
int file_rename_synced(const char *from, const char *to);

/*
 * Replace path with data atomically: "<dir>/.<name>.tmp" is written and
 * synced with permissions mode, renamed over path, and the directory synced. A temporary file left
 * by a power cut is overwritten by the next call. Returns 0 or -errno.
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

#endif

/*
 * The journal of what left the box (issue 12, item 5): every record the
 * broker acknowledged, one JSON line each, exactly as it was sent (before
 * compression), in <data>/journal. Bounded: past the bound the file becomes
 * journal.1 (replacing the one before), so the office can always read the
 * last bound's worth and at most twice the bound is on flash.
 * `townguard report journal` prints journal.1, then journal.
 *
 * No fsync: the journal says what was sent; a power cut may lose its last
 * lines, never a record (the spool keeps those until the PUBACK).
 */
#ifndef TG_JOURNAL_H
#define TG_JOURNAL_H

#include <stdint.h>
#include <stdio.h>

struct journal {
	char path[4096 + 16];
	uint64_t max, size;
	int fd;
};

/* Open (create) <data_dir>/journal for appending. Returns 0 or -errno (logged). */
int journal_open(struct journal *j, const char *data_dir, uint64_t max_bytes);
/* Append len bytes of whole lines; rotates first when they would pass the bound. */
int journal_append(struct journal *j, const char *lines, size_t len);
void journal_close(struct journal *j);
/* Copy journal.1 then journal of data_dir to out. Returns lines printed or -errno. */
long journal_print(const char *data_dir, FILE *out);

#endif

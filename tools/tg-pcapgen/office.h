/* The office capture: 200 hosts over 10 minutes (office.c). */
#ifndef TG_PCAPGEN_OFFICE_H
#define TG_PCAPGEN_OFFICE_H

#include <stdint.h>

/*
 * Writes the office capture for seed to path. blocked: a domains feed (one
 * name a line, as `tg-hub build domains:` reads it) whose first names some
 * hosts look up and connect to; NULL: built-in names. 0 or a negative errno
 * (already reported).
 */
int office_write(const char *path, uint64_t seed, const char *blocked);

#endif

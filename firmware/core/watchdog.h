/*
 * The box's hardware watchdog, as a driver gives it (drivers/watchdog.c:
 * Linux's /dev/watchdog). Once opened it must be fed within timeout_s or the
 * hardware resets the box; closing it with disarm (the "magic close") stops
 * it, closing it without (or dying) leaves it counting.
 */
#ifndef TG_CORE_WATCHDOG_H
#define TG_CORE_WATCHDOG_H

#include <stdbool.h>

struct watchdog {
	int fd;                 /* -1: not open */
	unsigned int timeout_s; /* what the hardware took (it may round) */
	char dev[64];
};

/* Open and arm dev with timeout_s (logged with what the device accepted). 0 or -errno. */
int watchdog_open(struct watchdog *w, const char *dev, unsigned int timeout_s);
/* Push the deadline timeout_s ahead. 0 or -errno. */
int watchdog_feed(struct watchdog *w);
/* Close; disarm: magic close first, so the box is not reset. Safe on a closed one. */
void watchdog_close(struct watchdog *w, bool disarm);

#endif

/*
 * The little lwIP needs from the system when it runs without one (NO_SYS=1):
 * a millisecond clock for its timers, random numbers, and somewhere to put
 * its diagnostics and failed assertions.
 *
 * sys_now() is CLOCK_MONOTONIC, so the timers neither jump nor stall when
 * someone sets the wall clock; it wraps after 49 days as a u32_t, which
 * lwIP's timer code expects. Random numbers (DHCP transaction ids, DNS ids
 * and source ports, TCP initial sequence numbers and ports, SNTP start-up
 * delay) come from getrandom(2), read in blocks so a burst of queries costs
 * one system call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lwip/arch.h"
#include "lwip/sys.h"

#define LOG_MODULE "lwip"
#include "core/common.h"
#include "core/log.h"

/* 64 draws per getrandom() call. */
#define RAND_POOL_WORDS 64

u32_t sys_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

uint32_t mgmt_lwip_rand32(void)
{
	static uint32_t pool[RAND_POOL_WORDS];
	static unsigned int left;
	size_t got = 0;

	if (left == 0) {
		while (got < sizeof(pool)) {
			ssize_t n = getrandom((char *)pool + got, sizeof(pool) - got, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				/* No kernel randomness: predictable ids would be worse than stopping. */
				log_err("getrandom failed: %m");
				abort();
			}
			got += (size_t)n;
		}
		left = RAND_POOL_WORDS;
	}
	return pool[--left];
}

void mgmt_lwip_diag(const char *fmt, ...)
{
	char line[256];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* lwIP's messages end in a newline of their own. */
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("%s", line);
}

void mgmt_lwip_assert(const char *what, const char *file, int line)
{
	log_err("assertion \"%s\" failed at %s:%d", what, file, line);
	abort();
}

/*
 * The console's tty (core/tty.h): open, raw 8N1 at a rate, restore.
 *
 * Raw is cfmakeraw() plus what a serial console needs on top: CLOCAL (the
 * modem lines mean nothing on a three-wire cable), CREAD, no hardware or
 * software flow control (a terminal that sends ^S must not stall our
 * output in the kernel; junk may hold any byte), VMIN 1 / VTIME 0 (reads
 * return what is there; the descriptor is non-blocking anyway).
 *
 * The settings found at open are kept in one static slot for tty_close()
 * and for the crash handler: tcsetattr() is async-signal-safe, so the
 * handler restores them, puts back the handler that was there before ours
 * (the default, or the sanitizer's) and lets the signal continue: a fault
 * returns and faults again into that handler; a signal sent by kill() or
 * abort() is raised again.
 */
#define LOG_MODULE "tty"
#include "core/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"

/* Every rate Linux's termios has a constant for but B0 (hang up): [console] speed's numbers. */
static const struct {
	unsigned int baud;
	speed_t speed;
} tty_speeds[] = {
	{ 50, B50 },           { 75, B75 },           { 110, B110 },         { 134, B134 },
	{ 150, B150 },         { 200, B200 },         { 300, B300 },         { 600, B600 },
	{ 1200, B1200 },       { 1800, B1800 },       { 2400, B2400 },       { 4800, B4800 },
	{ 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },
	{ 115200, B115200 },   { 230400, B230400 },   { 460800, B460800 },   { 500000, B500000 },
	{ 576000, B576000 },   { 921600, B921600 },   { 1000000, B1000000 }, { 1152000, B1152000 },
	{ 1500000, B1500000 }, { 2000000, B2000000 }, { 2500000, B2500000 }, { 3000000, B3000000 },
	{ 3500000, B3500000 }, { 4000000, B4000000 },
};

static const int tty_crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static struct {
	int fd;
	bool saved;
	struct termios orig;
	struct sigaction old[ARRAY_SIZE(tty_crash_signals)];
} tty_slot = { .fd = -1 };

static void tty_crash(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (tty_slot.saved)
		tcsetattr(tty_slot.fd, TCSANOW, &tty_slot.orig);
	for (size_t i = 0; i < ARRAY_SIZE(tty_crash_signals); i++)
		if (tty_crash_signals[i] == sig)
			sigaction(sig, &tty_slot.old[i], NULL);
	/* A fault returns to the instruction and faults again; a sent signal is raised. */
	if (info->si_code <= 0 || sig == SIGABRT)
		raise(sig);
}

static void tty_catch_crashes(bool on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = tty_crash;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(tty_crash_signals); i++) {
		if (on)
			sigaction(tty_crash_signals[i], &sa, &tty_slot.old[i]);
		else
			sigaction(tty_crash_signals[i], &tty_slot.old[i], NULL);
	}
}

int tty_open(const char *path, unsigned int baud, char *err, size_t errlen)
{
	struct termios t;
	speed_t speed = 0;
	int fd, e;

	for (size_t i = 0; i < ARRAY_SIZE(tty_speeds); i++)
		if (tty_speeds[i].baud == baud)
			speed = tty_speeds[i].speed;
	if (!speed) {
		snprintf(err, errlen, "%s: %u bit/s: not a termios rate (allowed: 50 .. 4000000, as [console] speed)",
			 path, baud);
		return -EINVAL;
	}
	if (tty_slot.fd >= 0) {
		snprintf(err, errlen, "%s: a console tty is open already", path);
		return -EBUSY;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	if (tcgetattr(fd, &t) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: not a terminal: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	tty_slot.orig = t;
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
	t.c_cflag |= CLOCAL | CREAD | CS8;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	cfsetispeed(&t, speed);
	cfsetospeed(&t, speed);
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: cannot set raw mode at %u bit/s: %s", path, baud, strerror(e));
		close(fd);
		return -e;
	}
	tty_slot.fd = fd;
	tty_slot.saved = true;
	tty_catch_crashes(true);
	log_debug("%s: raw, %u bit/s 8N1", path, baud);
	return fd;
}

void tty_close(int fd)
{
	if (fd < 0)
		return;
	if (fd == tty_slot.fd) {
		tty_catch_crashes(false);
		/*
		 * Output queued in the kernel stays (the last words, e.g. before a
		 * reboot): with no flow control a UART drains it at the line rate.
		 */
		if (tty_slot.saved && tcsetattr(fd, TCSANOW, &tty_slot.orig) < 0)
			log_warn("console tty: cannot restore its settings: %s", strerror(errno));
		tty_slot.saved = false;
		tty_slot.fd = -1;
	}
	close(fd);
}

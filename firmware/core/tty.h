/*
 * The console's terminal line (drivers/tty.c implements it): any tty or pty
 * opened non-blocking for the one event loop, in raw mode (no echo, no line
 * discipline, no output processing) at a line rate, 8N1, no flow control,
 * modem lines ignored (CLOCAL: an unplugged cable is not a hangup).
 *
 * The line's settings before tty_open() are put back by tty_close() (the
 * normal stop, SIGTERM and SIGINT included, since those stop the loop) and by
 * the driver's crash handler (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT: the
 * settings are restored, then the signal takes its previous course), so a
 * crashed firmware does not leave the technician's terminal raw.
 *
 * One console tty at a time.
 */
#ifndef TG_CORE_TTY_H
#define TG_CORE_TTY_H

#include <stddef.h>

/*
 * Open path as the console at baud bits per second. Returns the descriptor
 * or -errno with the reason in err ("/dev/ttyS0: not a terminal").
 */
int tty_open(const char *path, unsigned int baud, char *err, size_t errlen);

/* Put the line's settings back and close it. */
void tty_close(int fd);

#endif

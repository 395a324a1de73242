/*
 * The technician's serial console (docs/console.md): one session on one tty,
 * inside the one event loop. A technician logs in, gets a status block, and
 * types commands from one declarative table (console_cmds.c): help and
 * completion come from the same table the commands run from.
 *
 *   console.c        the session: bytes in from the tty, bounded output out,
 *                    login, idle logout, dispatch of a finished line
 *   console_edit.c   the line editor (history, Backspace/DEL, ^C ^U ^W, Tab)
 *   console_login.c  the technician password (yescrypt) and the lockout
 *   console_cmds.c   the command table, its parser and completers, and the
 *                    framework's commands (help, config, passwd, logout, ...)
 *   gateway_console.c  the glue to the running gateway: the tty driver, the
 *                    loop, a configuration applied, a reboot
 *
 * Output never blocks the loop: con_write() appends to a bounded buffer that
 * the loop writes out as the tty takes it; when the terminal stops reading
 * and the buffer is full, what does not fit is dropped and counted, and the
 * next prompt says so.
 *
 * A command handler (con_handler) is called with the words of its line;
 * argv[0] is the command's full name (whatever prefix was typed). It prints
 * with con_printf() and returns 0, or non-zero after printing why it refused.
 */
#ifndef TG_APP_CONSOLE_H
#define TG_APP_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct console; /* one session on one tty */
struct gateway;

void con_printf(struct console *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void con_vprintf(struct console *c, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void con_write(struct console *c, const char *s, size_t n);

/*
 * Output that comes later, outside any handler (an answer from the
 * network: dns, ping): between con_async_begin() and con_async_end() it
 * goes on a line of its own below the prompt, and the prompt with what was
 * typed so far comes back after it.
 */
void con_async_begin(struct console *c);
void con_async_end(struct console *c);

/* 0 ok, else error (the handler printed why). */
typedef int (*con_handler)(struct console *c, int argc, char **argv);

/* The running gateway the console belongs to (NULL in unit tests and fuzzers). */
struct gateway *con_gateway(struct console *c);

#endif

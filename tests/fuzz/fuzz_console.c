/*
 * libFuzzer target for the console (app/console*.c): any bytes typed at a
 * logged-in console: the line editor (escape sequences, control keys,
 * history, Tab completion) and the command parser and table behind it
 * (prefixes, quotes, config set/show/diff/commit/revert with their checks).
 *
 * Besides "does not crash", it checks the console's promises:
 *  - the output buffer never holds more than CON_OUT_MAX bytes, and what
 *    comes out is plain ASCII (printable, CR, LF, backspace): no escape
 *    sequence is ever sent to a terminal;
 *  - the line being edited stays within CON_LINE_MAX and NUL-terminated.
 *
 * The session has no tty and no loop (no timers); its data directory does
 * not exist, so nothing is written, and a commit is applied to a copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/console_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_config fz_cfg;

static int fz_apply(void *ctx, const struct tg_config *next, char *restart, size_t n)
{
	(void)ctx;
	fz_cfg = *next;
	if (n)
		restart[0] = '\0';
	return 0;
}

static void fz_drain(struct console *c)
{
	char buf[4096];
	size_t n;

	if (c->out_len > CON_OUT_MAX)
		abort();
	while ((n = console_take_output(c, buf, sizeof(buf))) > 0)
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)buf[i];

			if (!(ch == '\r' || ch == '\n' || ch == '\b' || (ch >= 0x20 && ch < 0x7f)))
				abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct con_opts o = {
		.fd = -1,
		.cfg = &fz_cfg,
		.host = { .apply = fz_apply },
	};
	struct console *c;

	config_defaults(&fz_cfg);
	strcpy(fz_cfg.gateway.data_dir, "/nonexistent/townguard-fuzz");
	c = console_new(&o);
	if (!c)
		return 0;
	c->state = CON_SHELL;
	for (size_t i = 0; i < size; i += 64) {
		console_input(c, data + i, size - i < 64 ? size - i : 64);
		if (c->ed.len >= CON_LINE_MAX || c->ed.line[c->ed.len] != '\0')
			abort();
		/* passwd and factory-reset ask questions; a password is never hashed here */
		if (c->state != CON_SHELL && c->state != CON_ERASE)
			c->state = CON_SHELL;
		fz_drain(c);
	}
	console_free(c);
	return 0;
}

/*
 * The console session (console.h): the tty's bytes in, through the line
 * editor, to the login or the command table; output out through a bounded
 * buffer written as the tty takes it.
 *
 * Nothing here waits. Reads take what is there (at most CON_READ_BURST
 * bytes per readiness, so a flood of junk shares the loop with the packet
 * path); writes are non-blocking and what the tty does not take stays in the
 * buffer, watched for writability. A terminal that stops reading fills the
 * buffer and then loses output, counted and said at the next prompt; it
 * never holds the loop. Lines are ASCII, "\r\n" ended, at most 80 columns.
 *
 * States: the login (or the first password, when none is set), the shell,
 * and the questions of passwd and factory-reset. Idle logout is a timer
 * re-armed by every byte typed while logged in.
 */
#define LOG_MODULE "console"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/console_info.h"
#include "app/console_priv.h"
#include "core/common.h"
#include "core/log.h"

static void con_prompt(struct console *c);

/* Bytes read per readiness event: 1 MB of junk is 1024 turns of the loop, each short. */
#define CON_READ_BURST 1024


struct gateway *con_gateway(struct console *c)
{
	return c->o.gw;
}

const char *con_data_dir(const struct console *c)
{
	return c->o.cfg->gateway.data_dir;
}

static void con_flush(struct console *c)
{
	bool want_write;

	while (c->out_len && c->o.fd >= 0 && !c->hung_up) {
		size_t chunk = c->out_len;
		ssize_t n;

		if (c->out_head + chunk > sizeof(c->out))
			chunk = sizeof(c->out) - c->out_head;
		n = write(c->o.fd, c->out + c->out_head, chunk);
		if (n <= 0)
			break; /* EAGAIN: the loop says when it takes more; an error: read sees it */
		c->out_head = (c->out_head + (size_t)n) % sizeof(c->out);
		c->out_len -= (size_t)n;
	}
	if (!c->o.loop || !c->lfd.registered)
		return;
	want_write = c->out_len > 0;
	if (want_write != !!(c->lfd.events & LOOP_WRITE))
		loop_fd_add(c->o.loop, &c->lfd, LOOP_READ | (want_write ? LOOP_WRITE : 0));
}

/* Raw bytes into the buffer; what does not fit is dropped and counted. */
static void con_raw(struct console *c, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c->out_len == sizeof(c->out)) {
			c->out_dropped += n - i;
			break;
		}
		c->out[(c->out_head + c->out_len) % sizeof(c->out)] = s[i];
		c->out_len++;
	}
}

static void con_edit_out(void *ctx, const char *s, size_t n)
{
	con_raw(ctx, s, n);
}

void con_write(struct console *c, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n')
			continue;
		con_raw(c, s + start, i - start);
		con_raw(c, "\r\n", 2);
		start = i + 1;
	}
	con_raw(c, s + start, n - start);
}

void con_vprintf(struct console *c, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	con_write(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void con_printf(struct console *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	con_vprintf(c, fmt, ap);
	va_end(ap);
}

void con_async_begin(struct console *c)
{
	con_raw(c, "\r\n", 2);
}

void con_async_end(struct console *c)
{
	if (c->state == CON_SHELL)
		con_edit_redraw(&c->ed);
	con_flush(c);
}

size_t console_take_output(struct console *c, char *buf, size_t max)
{
	size_t n = 0;

	while (n < max && c->out_len) {
		buf[n++] = c->out[c->out_head];
		c->out_head = (c->out_head + 1) % sizeof(c->out);
		c->out_len--;
	}
	return n;
}

void con_event(struct console *c, const char *what, const char *detail)
{
	if (c->o.host.event)
		c->o.host.event(c->o.host.ctx, what, detail);
}

void con_notice(struct console *c, const char *msg)
{
	con_raw(c, "\r\n", 2);
	con_printf(c, "%s\n", msg);
	con_edit_redraw(&c->ed);
	con_flush(c);
}

/* ------------------------------------------------------------ login */

static void con_idle_arm(struct console *c)
{
	if (c->o.loop && c->state != CON_LOGIN && c->o.cfg->console.idle_logout)
		loop_timer_set(c->o.loop, &c->idle, (uint64_t)c->o.cfg->console.idle_logout * 1000u);
}

static void con_idle_fire(struct loop_timer *t)
{
	struct console *c = container_of(t, struct console, idle);
	char why[64];

	if (c->state == CON_LOGIN)
		return;
	snprintf(why, sizeof(why), _("Logged out after %u s without a key pressed."),
		 c->o.cfg->console.idle_logout);
	con_raw(c, "\r\n", 2);
	con_logout(c, why);
	con_prompt(c);
	con_flush(c);
}

static void con_shell(struct console *c, bool fresh)
{
	c->state = CON_SHELL;
	if (fresh) {
		con_printf(c, _("Logged in. Type help for the commands, logout when done.\n"));
		con_cmd_status(c, 1, (char *[]){ "status", NULL });
	}
	con_idle_arm(c);
}

void con_logout(struct console *c, const char *why)
{
	if (c->state != CON_LOGIN) {
		log_info("console: technician logged out (%s)", why);
		con_event(c, "logout", why);
	}
	if (c->o.loop)
		loop_timer_cancel(c->o.loop, &c->idle);
	c->state = con_pass_is_set(con_data_dir(c)) ? CON_LOGIN : CON_NEW1;
	con_printf(c, "%s\n\n", why);
}

static void con_login_line(struct console *c, const char *line)
{
	uint64_t now = loop_now_ms();
	unsigned int delay;
	char detail[64];
	int ok;

	if (!line[0])
		return;
	if (c->locked_until_ms > now) {
		con_printf(c, _("Locked after %u wrong passwords: try again in %llu s.\n"), c->failures,
			   (unsigned long long)((c->locked_until_ms - now + 999) / 1000));
		return;
	}
	ok = con_pass_check(con_data_dir(c), line);
	if (ok < 0) {
		log_err("console: %s/console.passwd: cannot check a password: %s", con_data_dir(c),
			strerror(-ok));
		con_printf(c, _("The password file cannot be read: see the log.\n"));
		return;
	}
	if (ok) {
		if (c->failures)
			con_lock_record(con_data_dir(c), 0);
		snprintf(detail, sizeof(detail), "after %u wrong passwords", c->failures);
		log_info("console: technician logged in (%s)", detail);
		con_event(c, "login", detail);
		c->failures = 0;
		c->locked_until_ms = 0;
		con_shell(c, true);
		return;
	}
	c->failures++;
	if (con_lock_record(con_data_dir(c), c->failures) < 0)
		log_err("console: %s/console.lockout: cannot record a wrong password", con_data_dir(c));
	delay = con_lock_delay_s(c->failures);
	snprintf(detail, sizeof(detail), "%u in a row", c->failures);
	log_warn("console: wrong password (%s)%s", detail, delay ? ": locked" : "");
	con_event(c, delay ? "lockout" : "login_failed", detail);
	if (delay) {
		c->locked_until_ms = now + (uint64_t)delay * 1000u;
		con_printf(c, _("Wrong password. Locked for %u s.\n"), delay);
	} else {
		con_printf(c, _("Wrong password.\n"));
	}
}

/* The new password's two lines (first one ever, or passwd). */
static void con_newpass_line(struct console *c, const char *line)
{
	bool first = !con_pass_is_set(con_data_dir(c));
	char err[256];

	if (c->state == CON_NEW1) {
		size_t n = strlen(line);

		if (n < CON_PASS_MIN || n > CON_PASS_MAX) {
			con_printf(c, _("Refused: a password has %d to %d characters (this one: %zu).\n"),
				   CON_PASS_MIN, CON_PASS_MAX, n);
			if (!first)
				con_shell(c, false);
			return;
		}
		snprintf(c->newpass, sizeof(c->newpass), "%s", line);
		c->state = CON_NEW2;
		return;
	}
	if (strcmp(line, c->newpass) != 0) {
		con_printf(c, _("The two passwords differ: nothing changed.\n"));
		explicit_bzero(c->newpass, sizeof(c->newpass));
		c->state = first ? CON_NEW1 : CON_SHELL;
		return;
	}
	if (con_pass_set(con_data_dir(c), c->newpass, err, sizeof(err)) < 0) {
		log_err("console: the technician password was not stored: %s", err);
		con_printf(c, _("The password was not stored: %s\n"), err);
		c->state = first ? CON_NEW1 : CON_SHELL;
		explicit_bzero(c->newpass, sizeof(c->newpass));
		return;
	}
	explicit_bzero(c->newpass, sizeof(c->newpass));
	log_info("console: technician password %s", first ? "set" : "changed");
	con_event(c, "passwd", first ? "set" : "changed");
	con_printf(c, _("Password %s.\n"), first ? _("set") : _("changed"));
	con_shell(c, first);
}

static void con_oldpass_line(struct console *c, const char *line)
{
	int ok = con_pass_check(con_data_dir(c), line);

	if (ok == 1) {
		c->state = CON_NEW1;
		return;
	}
	c->failures++;
	con_lock_record(con_data_dir(c), c->failures);
	log_warn("console: passwd: wrong current password (%u in a row)", c->failures);
	con_event(c, "login_failed", "passwd: wrong current password");
	con_printf(c, _("Wrong password: nothing changed.\n"));
	c->state = CON_SHELL;
}

/* ------------------------------------------------------------ input */

static void con_prompt(struct console *c)
{
	char prompt[CONFIG_NAME_MAX + 8];

	if (c->out_dropped) {
		con_printf(c, _("[%llu bytes of output dropped: the terminal was not reading]\n"),
			   (unsigned long long)c->out_dropped);
		c->out_dropped = 0;
	}
	switch (c->state) {
	case CON_LOGIN:
		con_edit_start(&c->ed, _("Password: "), false);
		break;
	case CON_NEW1:
		con_edit_start(&c->ed, _("New password: "), false);
		break;
	case CON_NEW2:
		con_edit_start(&c->ed, _("New password again: "), false);
		break;
	case CON_OLD:
		con_edit_start(&c->ed, _("Current password: "), false);
		break;
	case CON_ERASE:
		con_edit_start(&c->ed, _("Type ERASE to confirm: "), true);
		break;
	case CON_SHELL:
		snprintf(prompt, sizeof(prompt), "%.63s> ", c->o.cfg->gateway.id);
		con_edit_start(&c->ed, prompt, true);
		break;
	}
}

static void con_line(struct console *c, char *line)
{
	switch (c->state) {
	case CON_LOGIN:
		con_login_line(c, line);
		break;
	case CON_NEW1:
	case CON_NEW2:
		con_newpass_line(c, line);
		break;
	case CON_OLD:
		con_oldpass_line(c, line);
		break;
	case CON_ERASE:
		c->state = CON_SHELL;
		con_cmd_erase_answer(c, line);
		break;
	case CON_SHELL:
		con_edit_remember(&c->ed, line);
		con_cmd_line(c, line);
		break;
	}
	explicit_bzero(c->ed.line, sizeof(c->ed.line));
}

void console_input(struct console *c, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (con_edit_feed(&c->ed, buf[i])) {
		case ED_LINE:
			con_line(c, c->ed.line);
			con_prompt(c);
			break;
		case ED_CANCEL:
			if (c->state == CON_NEW1 || c->state == CON_NEW2 || c->state == CON_OLD ||
			    c->state == CON_ERASE)
				c->state = con_pass_is_set(con_data_dir(c)) ? CON_SHELL : CON_NEW1;
			if (c->state == CON_SHELL)
				con_shell(c, false);
			con_prompt(c);
			break;
		case ED_NONE:
			break;
		}
	}
	if (c->state != CON_LOGIN && n)
		con_idle_arm(c);
	con_flush(c);
}

static void con_fd_cb(struct loop_fd *lfd, unsigned int events)
{
	struct console *c = container_of(lfd, struct console, lfd);
	uint8_t buf[CON_READ_BURST];
	ssize_t n;

	if (events & LOOP_WRITE)
		con_flush(c);
	if (!(events & LOOP_READ))
		return;
	n = read(lfd->fd, buf, sizeof(buf));
	if (n > 0) {
		console_input(c, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* The other end went away (a pty's master closed): stop watching, say it once. */
	log_warn("console: the tty hung up (%s): console closed until the next start",
		 n == 0 ? "end of file" : strerror(errno));
	c->hung_up = true;
	loop_fd_del(c->o.loop, lfd);
}

struct console *console_new(const struct con_opts *o)
{
	static const struct con_edit_ops ed_ops = {
		.out = con_edit_out,
		.complete = con_cmd_complete,
	};
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->o = *o;
	con_edit_init(&c->ed, &ed_ops, c);
	c->idle.cb = con_idle_fire;
	c->lfd.fd = o->fd;
	c->lfd.cb = con_fd_cb;
	if (o->loop && o->fd >= 0 && loop_fd_add(o->loop, &c->lfd, LOOP_READ) < 0) {
		free(c);
		return NULL;
	}
	c->failures = con_lock_failures(con_data_dir(c));
	if (con_lock_delay_s(c->failures))
		c->locked_until_ms = loop_now_ms() + (uint64_t)con_lock_delay_s(c->failures) * 1000u;
	con_printf(c, "\ntownguard %s: %s\n", o->cfg->gateway.id, _("technician console"));
	if (con_pass_is_set(con_data_dir(c))) {
		c->state = CON_LOGIN;
	} else {
		c->state = CON_NEW1;
		con_printf(c, _("No technician password is set: choose one now (%d to %d characters).\n"),
			   CON_PASS_MIN, CON_PASS_MAX);
	}
	con_prompt(c);
	con_flush(c);
	return c;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	if (c->state != CON_LOGIN && c->state != CON_NEW1) {
		log_info("console: technician logged out (the firmware stopped)");
		con_event(c, "logout", "the firmware stopped");
	}
	if (c->o.loop) {
		loop_timer_cancel(c->o.loop, &c->idle);
		loop_timer_cancel(c->o.loop, &c->confirm);
		if (c->lfd.registered)
			loop_fd_del(c->o.loop, &c->lfd);
	}
	con_flush(c);
	free(c->edit);
	free(c->before);
	free(c->target);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

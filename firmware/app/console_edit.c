/*
 * The console's line editor: a small one of our own rather than libedit's
 * (docs/console.md says why: its read path turns a non-blocking descriptor
 * back to blocking on EAGAIN, and it asks terminfo about the terminal).
 *
 * It assumes nothing of the terminal but a backspace that moves the cursor
 * one column left: the cursor is always at the end of the line, a character
 * is erased with "\b \b", and a line replaced (history) is erased that way
 * and typed again. No escape sequence is ever sent, none is waited for;
 * those that arrive (arrow keys, function keys, a terminal's answers) are
 * parsed so that their bytes do not land in the line, and only Up and Down
 * mean something. Bytes outside printable ASCII are dropped, so random
 * input can only type, erase, or end lines.
 *
 *   Enter (CR, LF, or CR LF)  the line       Backspace, DEL   erase one
 *   ^C  drop the line                        ^U   erase the line
 *   ^W  erase the last word                  Tab  complete (console_cmds.c)
 *   Up, Down, ^P, ^N  history
 */
#include <stdio.h>
#include <string.h>

#include "app/console_priv.h"
#include "core/common.h"

enum { ESC_NONE = 0, ESC_START, ESC_CSI, ESC_SS3 };
/* A CSI sequence longer than this is junk, not a key: stop parsing it. */
#define ESC_CSI_MAX 16
#define ED_COLUMNS 80

static void ed_out(struct con_edit *e, const char *s, size_t n)
{
	e->ops->out(e->ctx, s, n);
}

static void ed_puts(struct con_edit *e, const char *s)
{
	ed_out(e, s, strlen(s));
}

void con_edit_init(struct con_edit *e, const struct con_edit_ops *ops, void *ctx)
{
	memset(e, 0, sizeof(*e));
	e->ops = ops;
	e->ctx = ctx;
	e->hpos = -1;
}

void con_edit_start(struct con_edit *e, const char *prompt, bool echo)
{
	snprintf(e->prompt, sizeof(e->prompt), "%s", prompt);
	e->echo = echo;
	e->len = 0;
	e->line[0] = '\0';
	e->hpos = -1;
	e->esc = ESC_NONE;
	ed_puts(e, e->prompt);
}

void con_edit_redraw(struct con_edit *e)
{
	ed_puts(e, e->prompt);
	if (e->echo)
		ed_out(e, e->line, e->len);
}

static void ed_erase(struct con_edit *e, size_t n)
{
	for (; n && e->len; n--) {
		e->len--;
		if (e->echo)
			ed_out(e, "\b \b", 3);
	}
	e->line[e->len] = '\0';
}

static void ed_insert(struct con_edit *e, const char *s, size_t n)
{
	if (n > sizeof(e->line) - 1 - e->len)
		n = sizeof(e->line) - 1 - e->len; /* a full line takes no more: the bell is a terminal assumption */
	memcpy(e->line + e->len, s, n);
	e->len += n;
	e->line[e->len] = '\0';
	if (e->echo)
		ed_out(e, s, n);
}

static void ed_replace(struct con_edit *e, const char *s)
{
	ed_erase(e, e->len);
	ed_insert(e, s, strlen(s));
}

void con_edit_remember(struct con_edit *e, const char *line)
{
	unsigned int newest = (e->hnext + CON_HISTORY - 1) % CON_HISTORY;

	if (!line[0] || (e->nhist && !strcmp(e->hist[newest], line)))
		return;
	snprintf(e->hist[e->hnext], sizeof(e->hist[0]), "%s", line);
	e->hnext = (e->hnext + 1) % CON_HISTORY;
	if (e->nhist < CON_HISTORY)
		e->nhist++;
}

/* Up (back true) or Down through the history. */
static void ed_history(struct con_edit *e, bool back)
{
	int to = e->hpos + (back ? 1 : -1);

	if (!e->echo || to < -1 || to >= (int)e->nhist)
		return;
	if (e->hpos == -1)
		snprintf(e->saved, sizeof(e->saved), "%s", e->line);
	e->hpos = to;
	if (to == -1)
		ed_replace(e, e->saved);
	else
		ed_replace(e, e->hist[(e->hnext + CON_HISTORY - 1 - (unsigned int)to) % CON_HISTORY]);
}

static void ed_kill_word(struct con_edit *e)
{
	size_t n = e->len;

	while (n && e->line[n - 1] == ' ')
		n--;
	while (n && e->line[n - 1] != ' ')
		n--;
	ed_erase(e, e->len - n);
}

/* The candidates on a line of their own, wrapped at 80 columns, then the line again. */
static void ed_list(struct con_edit *e, const char **cand, size_t n)
{
	size_t col = 0;

	ed_puts(e, "\r\n");
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(cand[i]);

		if (col && col + 2 + w > ED_COLUMNS - 1) {
			ed_puts(e, "\r\n");
			col = 0;
		}
		if (col) {
			ed_puts(e, "  ");
			col += 2;
		}
		ed_out(e, cand[i], w);
		col += w;
	}
	ed_puts(e, "\r\n");
	ed_puts(e, e->prompt);
	ed_out(e, e->line, e->len);
}

/*
 * Tab: one candidate is typed out with a space after it; several extend
 * the word to what they share, and when they share no more than was typed
 * they are listed.
 */
static void ed_complete(struct con_edit *e)
{
	const char *cand[CON_CAND_MAX];
	size_t word = e->len, n, common, typed;

	if (!e->echo || !e->ops->complete)
		return;
	n = e->ops->complete(e->ctx, e->line, e->len, &word, cand, ARRAY_SIZE(cand));
	if (!n || word > e->len)
		return;
	typed = e->len - word;
	common = strlen(cand[0]);
	for (size_t i = 1; i < n; i++) {
		size_t j = 0;

		while (j < common && cand[i][j] == cand[0][j])
			j++;
		common = j;
	}
	if (common > typed)
		ed_insert(e, cand[0] + typed, common - typed);
	if (n == 1)
		ed_insert(e, " ", 1);
	else if (common <= typed)
		ed_list(e, cand, n);
}

/* Inside an escape sequence: true while ch belongs to it. */
static bool ed_escape(struct con_edit *e, uint8_t ch)
{
	switch (e->esc) {
	case ESC_START:
		e->esc = ch == '[' ? ESC_CSI : ch == 'O' ? ESC_SS3 : ESC_NONE;
		e->esc_len = 0;
		return e->esc != ESC_NONE || ch >= 0x20; /* ESC then a control byte: the byte counts */
	case ESC_SS3:
		e->esc = ESC_NONE;
		if (ch == 'A' || ch == 'B')
			ed_history(e, ch == 'A');
		return ch >= 0x20;
	case ESC_CSI:
		if (ch >= 0x20 && ch <= 0x3f && ++e->esc_len < ESC_CSI_MAX)
			return true; /* parameters and intermediates */
		e->esc = ESC_NONE;
		if (ch == 'A' || ch == 'B')
			ed_history(e, ch == 'A');
		return ch >= 0x20;
	default:
		return false;
	}
}

static enum con_edit_event ed_enter(struct con_edit *e, uint8_t ch)
{
	if (e->last_eol && e->last_eol != ch && e->len == 0) {
		e->last_eol = 0; /* the LF of a CR LF (or the CR of LF CR) */
		return ED_NONE;
	}
	e->last_eol = ch;
	ed_puts(e, "\r\n");
	e->line[e->len] = '\0';
	return ED_LINE;
}

enum con_edit_event con_edit_feed(struct con_edit *e, uint8_t ch)
{
	if (e->esc && ed_escape(e, ch))
		return ED_NONE;
	if (ch == '\r' || ch == '\n')
		return ed_enter(e, ch);
	e->last_eol = 0;
	switch (ch) {
	case 0x1b:
		e->esc = ESC_START;
		return ED_NONE;
	case 0x03: /* ^C */
		ed_puts(e, "^C\r\n");
		e->len = 0;
		e->line[0] = '\0';
		return ED_CANCEL;
	case 0x08: /* ^H */
	case 0x7f: /* DEL: what most terminals send for Backspace */
		ed_erase(e, 1);
		return ED_NONE;
	case 0x15: /* ^U */
		ed_erase(e, e->len);
		return ED_NONE;
	case 0x17: /* ^W */
		ed_kill_word(e);
		return ED_NONE;
	case 0x09:
		ed_complete(e);
		return ED_NONE;
	case 0x10: /* ^P */
	case 0x0e: /* ^N */
		ed_history(e, ch == 0x10);
		return ED_NONE;
	default:
		break;
	}
	if (ch >= 0x20 && ch < 0x7f) {
		char c = (char)ch;

		ed_insert(e, &c, 1);
	}
	return ED_NONE;
}

/*
 * What the console's files share (console.h is the view of the command
 * handlers): the session, the line editor, the login files, the command
 * table. Only firmware/app/console*.c, gateway_console.c and the console's
 * tests and fuzzer include this header.
 */
#ifndef TG_APP_CONSOLE_PRIV_H
#define TG_APP_CONSOLE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/console.h"
#include "core/config.h"
#include "core/loop.h"

/*
 * Every message a technician reads goes through _() (gettext, engineer D's
 * core/i18n.h); until that header is in the tree the words stay English.
 */
#if __has_include("core/i18n.h")
#include "core/i18n.h"
#else
#define _(s) (s)
#define N_(s) (s)
#endif

/* ------------------------------------------------------------ line editor (console_edit.c) */

/*
 * A line holds a command and its arguments at 80 columns with room: a
 * config path value is at most CONFIG_PATH_MAX - 1 (255) bytes, plus the
 * key and "config set ".
 */
#define CON_LINE_MAX 320
/* Lines kept for Up/Down (^P/^N), oldest dropped first: 32 x 320 bytes. */
#define CON_HISTORY 32
/* Completion candidates considered at one Tab. */
#define CON_CAND_MAX 160

struct con_edit;

struct con_edit_ops {
	/* Bytes for the terminal (the session's bounded buffer). */
	void (*out)(void *ctx, const char *s, size_t n);
	/*
	 * Tab: the candidates for the word that ends line[len] (it starts at
	 * *word). Returns how many were put in cand (at most max).
	 */
	size_t (*complete)(void *ctx, const char *line, size_t len, size_t *word, const char **cand,
			   size_t max);
};

enum con_edit_event {
	ED_NONE = 0, /* keep feeding */
	ED_LINE,     /* Enter: e->line holds the line (NUL-terminated) */
	ED_CANCEL,   /* ^C: the line was dropped */
};

struct con_edit {
	const struct con_edit_ops *ops;
	void *ctx;
	char prompt[CONFIG_NAME_MAX + 8];
	bool echo;          /* false: a password (no echo, no history, no completion) */
	char line[CON_LINE_MAX];
	size_t len;
	uint8_t esc;        /* escape sequence state */
	uint8_t esc_len;
	uint8_t last_eol;   /* the CR or LF that ended the last line: its pair is skipped */
	char hist[CON_HISTORY][CON_LINE_MAX];
	unsigned int nhist, hnext; /* lines kept; the slot the next one goes to */
	int hpos;                  /* -1: the line being typed; else lines back from the newest */
	char saved[CON_LINE_MAX];  /* the line being typed while history is browsed */
};

void con_edit_init(struct con_edit *e, const struct con_edit_ops *ops, void *ctx);
/* Start a new line after prompt (echo false: a password). Prints the prompt. */
void con_edit_start(struct con_edit *e, const char *prompt, bool echo);
/* One byte from the terminal. */
enum con_edit_event con_edit_feed(struct con_edit *e, uint8_t ch);
/* The prompt and the line so far again, after a notice printed over them. */
void con_edit_redraw(struct con_edit *e);
/* Keep line in the history (not empty, not the newest again). */
void con_edit_remember(struct con_edit *e, const char *line);

/* ------------------------------------------------------------ login files (console_login.c) */

/* Technician password length accepted (yescrypt takes any; a short one is guessed). */
#define CON_PASS_MIN 8
#define CON_PASS_MAX 128
/* Wrong passwords in a row before the first lockout, and the lockout's growth. */
#define CON_LOCK_AFTER 3
#define CON_LOCK_FIRST_S 5
#define CON_LOCK_MAX_S 900

/* <dir>/console.passwd holds a hash: true. */
bool con_pass_is_set(const char *dir);
/* Check password against the stored hash: 1 right, 0 wrong, -errno (no file, unreadable). */
int con_pass_check(const char *dir, const char *password);
/* Hash (yescrypt) and store password atomically. Returns 0 or -errno with why in err. */
int con_pass_set(const char *dir, const char *password, char *err, size_t errlen);
/* The wrong passwords in a row on record (<dir>/console.lockout), 0 when none. */
unsigned int con_lock_failures(const char *dir);
/* Record n wrong passwords in a row (0: a good login clears them). Returns 0 or -errno. */
int con_lock_record(const char *dir, unsigned int n);
/* Seconds a login waits after n wrong passwords in a row (0 below CON_LOCK_AFTER). */
unsigned int con_lock_delay_s(unsigned int n);

/* ------------------------------------------------------------ the session (console.c) */

/* What the console asks of the gateway it runs in (gateway_console.c; NULL members: not offered). */
struct con_host {
	/*
	 * Put next in force as SIGHUP would. Sections that can only change at
	 * the next start are named in restart ("ports, mgmt"; "" when none).
	 * Returns 0 or -errno.
	 */
	int (*apply)(void *ctx, const struct tg_config *next, char *restart, size_t size);
	/* Stop the firmware cleanly and restart the board. */
	void (*reboot)(void *ctx);
	/* An event of the console's (login, login_failed, lockout, logout, config, passwd, ...). */
	void (*event)(void *ctx, const char *what, const char *detail);
	void *ctx;
};

struct con_opts {
	struct loop *loop;              /* NULL: no timers (tests, fuzzer) */
	int fd;                         /* the tty, non-blocking; -1: output stays in the buffer */
	const struct tg_config *cfg;    /* the configuration in force (the gateway's) */
	const char *config_path;        /* the file `config confirm` writes; NULL: none */
	struct gateway *gw;
	struct con_host host;
};

/* Output kept for a terminal that is slow or not reading; beyond it bytes are dropped and counted. */
#define CON_OUT_MAX 16384

enum con_state {
	CON_LOGIN = 0,  /* Password: */
	CON_NEW1,       /* no password yet, or passwd: the new one */
	CON_NEW2,       /* the new one again */
	CON_OLD,        /* passwd: the current one */
	CON_SHELL,      /* logged in: commands */
	CON_ERASE,      /* factory-reset: the word */
};

struct console {
	struct con_opts o;
	struct con_edit ed;
	enum con_state state;
	struct loop_fd lfd;
	struct loop_timer idle, confirm;
	char out[CON_OUT_MAX];
	size_t out_head, out_len;
	uint64_t out_dropped;           /* since the last prompt */
	bool hung_up;
	char newpass[CON_PASS_MAX + 1];
	unsigned int failures;          /* wrong passwords in a row (persisted) */
	uint64_t locked_until_ms;       /* loop time; 0 = not locked */
	struct tg_config *edit;         /* config set's changes, NULL = none */
	struct tg_config *before;       /* a commit waiting for confirm: what it replaced */
	struct tg_config *target;       /* ... and what it asked for (restart keys included) */
	const char *prompt_name;
};

/* A session on o->fd (already raw and non-blocking). Returns NULL (errno set). */
struct console *console_new(const struct con_opts *o);
void console_free(struct console *c);
/* Bytes typed (the loop's read, a test's or fuzzer's input). */
void console_input(struct console *c, const uint8_t *buf, size_t n);
/* Take up to max buffered output bytes (tests; the loop writes them to the fd itself). */
size_t console_take_output(struct console *c, char *buf, size_t max);
/* The data directory of the configuration in force. */
const char *con_data_dir(const struct console *c);
/* Back to the login prompt (logout, idle), saying why. */
void con_logout(struct console *c, const char *why);
/* A message that is no answer to a line (a timer's): on its own line, then the prompt again. */
void con_notice(struct console *c, const char *msg);
/* A commit waiting for confirm is undone now (timer: notice true; `config revert`: false). */
void con_config_revert_commit(struct console *c, const char *why, bool notice);
/* A console event to the log's reader on the host side (con_host.event). */
void con_event(struct console *c, const char *what, const char *detail);

/* ------------------------------------------------------------ commands (console_cmds.c) */

/* Run one line typed at the command prompt. */
void con_cmd_line(struct console *c, char *line);
/* The editor's completer. */
size_t con_cmd_complete(void *ctx, const char *line, size_t len, size_t *word, const char **cand,
			size_t max);
/* The word the factory-reset confirmation was typed: act on it. */
void con_cmd_erase_answer(struct console *c, const char *line);

#endif

/*
 * The runtime configuration's file: INI read with inih and written back,
 * key by key from the table in config_keys.c (which also validates each
 * value and holds the defaults).
 *
 * Files are parsed by inih through our own line reader. The reader numbers
 * the lines (the Debian build of inih does not pass line numbers to a
 * handler declared the default way), refuses over-long lines and NUL bytes
 * instead of letting them be split or cut silently, keeps the last line for
 * syntax-error messages, and checks each "[section]" header where it stands,
 * so an unknown empty section is reported too. inih is told to stop at the
 * first error; the first bad line is the one reported.
 *
 * A key given twice in one file is refused (naming the line of the first):
 * a file is written by config_write() with every key once, and in a hand-
 * edited file a second copy is almost always a mistake whose first copy
 * would otherwise be silently ignored. A section may appear more than once.
 *
 * Loading is all-or-nothing: the file is applied to a copy, which replaces
 * the caller's configuration only if every line was good. Nothing here logs;
 * errors go back to the caller as one line of text.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config_keys.h"

/*
 * Longest line accepted, including the NUL: a key, " = " and a path of
 * CONFIG_PATH_MAX - 1 bytes fit with room for indentation and a comment.
 * inih keeps its line buffer on the stack, sized by this value.
 */
#define CFG_LINE_MAX 1024

/* ------------------------------------------------------------------ loading */

struct cfg_load {
	FILE *f;
	const char *path;
	int lineno;
	struct tg_config cfg;			/* the copy being filled */
	int set_on_line[CFG_KEYS_MAX];		/* 0 = not in this file yet */
	char line[CFG_LINE_MAX];		/* last line read, for messages */
	int ret;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static void cfg_load_fail(struct cfg_load *ld, int ret,
								const char *fmt, ...)
{
	va_list ap;

	ld->ret = ret;
	snprintf(ld->err, ld->errlen, "%s:%d: ", ld->path, ld->lineno);
	va_start(ap, fmt);
	cfg_vappendf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
}

/*
 * If line is a "[section]" header as inih reads it (after a BOM on line 1
 * and blanks; the name ends at ']' unless an inline " ;" comes first),
 * refuse an unknown name. Returns false after recording an error.
 */
static bool cfg_check_header(struct cfg_load *ld, const char *line)
{
	const char *p = line, *q;
	char name[CFG_LINE_MAX];
	char msg[512];

	if (ld->lineno == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return true;
	for (q = p + 1; *q && *q != ']'; q++)
		if (*q == ';' && isspace((unsigned char)q[-1]))
			return true; /* inih reports the missing ']' */
	if (*q != ']')
		return true;
	snprintf(name, sizeof(name), "%.*s", (int)(q - p - 1), p + 1);
	if (cfg_section_known(name))
		return true;
	cfg_unknown_section(name, msg, sizeof(msg));
	cfg_load_fail(ld, -EINVAL, "%s", msg);
	return false;
}

/*
 * inih's reader: one whole line per call, so inih's line count is ours.
 * Returning NULL ends the parse; after an error of our own it does so at
 * once.
 */
static char *cfg_read_line(char *str, int num, void *stream)
{
	struct cfg_load *ld = stream;
	size_t len = 0, cap = num > 0 ? (size_t)num : 1;
	bool any = false, too_long = false, nul = false;
	int ch;

	if (ld->ret)
		return NULL;
	while ((ch = getc(ld->f)) != EOF) {
		any = true;
		if (ch == '\n')
			break;
		if (ch == '\0')
			nul = true;
		if (len + 1 < cap)
			str[len++] = (char)ch;
		else
			too_long = true;
	}
	str[len] = '\0';
	if (ferror(ld->f)) {
		ld->ret = -ENOENT;
		snprintf(ld->err, ld->errlen, "%s: cannot read: %s", ld->path, strerror(errno));
		return NULL;
	}
	if (!any)
		return NULL;
	ld->lineno++;
	snprintf(ld->line, sizeof(ld->line), "%s", str);
	if (nul) {
		cfg_load_fail(ld, -EINVAL, "NUL byte in line (not a text file?)");
		return NULL;
	}
	if (too_long) {
		cfg_load_fail(ld, -EINVAL, "line too long (allowed: up to %zu characters)",
			      cap - 1);
		return NULL;
	}
	if (!cfg_check_header(ld, str))
		return NULL;
	return str;
}

static int cfg_ini_handler(void *user, const char *section, const char *name,
			   const char *value)
{
	struct cfg_load *ld = user;
	const struct cfg_key *k;
	char msg[512];
	size_t idx;

	k = cfg_find(section, name, msg, sizeof(msg));
	if (!k) {
		cfg_load_fail(ld, -EINVAL, "%s", msg);
		return 0;
	}
	idx = (size_t)(k - cfg_keys);
	if (ld->set_on_line[idx]) {
		cfg_load_fail(ld, -EINVAL, "[%s] %s: set twice (first on line %d)", section, name,
			      ld->set_on_line[idx]);
		return 0;
	}
	if (cfg_set_key(&ld->cfg, k, value, msg, sizeof(msg)) < 0) {
		cfg_load_fail(ld, -EINVAL, "%s", msg);
		return 0;
	}
	ld->set_on_line[idx] = ld->lineno;
	return 1;
}

/*
 * The Debian build of inih takes its options at run time through these
 * globals (upstream fixes them at compile time). Set ours for the parse and
 * put the previous values back, in case anything else uses inih.
 */
struct cfg_ini_opts {
	bool multiline, bom, inline_comments, no_value, stop_on_first_error, use_stack;
	int max_line;
};

static struct cfg_ini_opts cfg_ini_setup(void)
{
	struct cfg_ini_opts old = {
		.multiline = ini_allow_multiline,
		.bom = ini_allow_bom,
		.inline_comments = ini_allow_inline_comments,
		.no_value = ini_allow_no_value,
		.stop_on_first_error = ini_stop_on_first_error,
		.use_stack = ini_use_stack,
		.max_line = ini_max_line,
	};

	/* An indented line is a syntax error, not a silent continuation. */
	ini_allow_multiline = false;
	ini_allow_bom = true;
	ini_allow_inline_comments = true;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ini_use_stack = true;
	ini_max_line = CFG_LINE_MAX;
	return old;
}

static void cfg_ini_restore(const struct cfg_ini_opts *old)
{
	ini_allow_multiline = old->multiline;
	ini_allow_bom = old->bom;
	ini_allow_inline_comments = old->inline_comments;
	ini_allow_no_value = old->no_value;
	ini_stop_on_first_error = old->stop_on_first_error;
	ini_use_stack = old->use_stack;
	ini_max_line = old->max_line;
}

int config_load(struct tg_config *c, const char *path, char *err, size_t errlen)
{
	struct cfg_load ld;
	char scratch[8];
	struct cfg_ini_opts old;
	int line;

	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.err = err;
	ld.errlen = errlen;
	ld.cfg = *c;
	err[0] = '\0';

	ld.f = fopen(path, "re");
	if (!ld.f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -ENOENT;
	}
	old = cfg_ini_setup();
	line = ini_parse_stream(cfg_read_line, &ld, cfg_ini_handler, &ld);
	cfg_ini_restore(&old);
	fclose(ld.f);

	if (ld.ret)
		return ld.ret;
	if (line == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (line) {
		/* inih stops at its first error and reads no further. */
		bool have_text = line == ld.lineno;

		ld.lineno = line;
		if (have_text)
			cfg_load_fail(&ld, -EINVAL,
				      "syntax error: \"%s\" (expected [section], key = value or ; comment)",
				      ld.line);
		else
			cfg_load_fail(&ld, -EINVAL, "syntax error");
		return -EINVAL;
	}
	*c = ld.cfg;
	return 0;
}

/* ------------------------------------------------------------------ writing */

int config_key_at(const struct tg_config *c, size_t i, const char **section, const char **key,
		  char *value, size_t size)
{
	const struct cfg_key *k;
	const char *field;

	if (i >= cfg_nkeys)
		return -ENOENT;
	k = &cfg_keys[i];
	field = (const char *)c + k->offset;
	*section = k->section;
	*key = k->key;
	switch (k->type) {
	case CT_UINT: {
		uint32_t v;

		memcpy(&v, field, sizeof(v));
		snprintf(value, size, "%u", v);
		break;
	}
	case CT_BOOL: {
		bool b;

		memcpy(&b, field, sizeof(b));
		snprintf(value, size, "%s", b ? "true" : "false");
		break;
	}
	case CT_ENUM: {
		int v;

		memcpy(&v, field, sizeof(v));
		if (v >= 0 && (size_t)v < k->nnames)
			snprintf(value, size, "%s", k->names[v]);
		else
			snprintf(value, size, "%d", v);
		break;
	}
	case CT_STRING:
	case CT_PATH:
		snprintf(value, size, "%.*s", (int)strnlen(field, k->size), field);
		break;
	}
	return 0;
}

int config_key_allowed(size_t i, char *buf, size_t size)
{
	if (i >= cfg_nkeys)
		return -ENOENT;
	cfg_describe(&cfg_keys[i], buf, size);
	return 0;
}

int config_write(const struct tg_config *c, FILE *out)
{
	const char *section = NULL, *sec, *key;
	char allowed[256], value[CONFIG_PATH_MAX + 16];

	fprintf(out, "; townguard runtime configuration: every key with its value.\n");
	for (size_t i = 0; config_key_at(c, i, &sec, &key, value, sizeof(value)) == 0; i++) {
		if (!section || strcmp(section, sec) != 0) {
			section = sec;
			fprintf(out, "\n[%s]\n", section);
		}
		cfg_describe(&cfg_keys[i], allowed, sizeof(allowed));
		fprintf(out, "; %s (%s)\n%s =%s%s\n", cfg_keys[i].help, allowed, key,
			value[0] ? " " : "", value);
	}
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}

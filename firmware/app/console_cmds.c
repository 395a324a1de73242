/*
 * The console's commands: one declarative table (name, arguments, handler,
 * one-line help, argument completer), from which the line is parsed, help
 * and ? are printed, and Tab completes. A command may be typed by any
 * prefix that names only it; `config` has a table of its own, read the same
 * way (so `conf s udp...` works and `config c` is refused as ambiguous).
 *
 * The configuration is changed as in the file: `config set` goes through
 * config_set() (core/config.c), the one validation of every key, on a copy;
 * `config commit` puts the copy in force as SIGHUP would and starts a timer:
 * unless `config confirm` comes within [console] confirm_timeout, the
 * previous configuration is put back by itself, so a wrong port or address
 * cannot lock the technician out. The file on flash changes only at
 * confirm: the previous one is kept as <file>.prev, the new one replaces
 * <file> atomically, so a power cut during the window boots the old one.
 */
#define LOG_MODULE "console"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/console_info.h"
#include "app/console_priv.h"
#include "core/common.h"
#include "core/file.h"
#include "core/log.h"

#define CON_ARGS_MAX 16

typedef size_t (*con_completer)(int argi, char **argv, const char *word, const char **cand, size_t max);

struct con_cmd {
	const char *name;
	const char *args;  /* for help and the usage line */
	int min, max;      /* arguments after the name */
	con_handler fn;
	const char *help;  /* one line, N_() */
	con_completer complete;
};

static int cmd_help(struct console *c, int argc, char **argv);
static int cmd_config(struct console *c, int argc, char **argv);
static int cmd_passwd(struct console *c, int argc, char **argv);
static int cmd_logout(struct console *c, int argc, char **argv);
static int cmd_reboot(struct console *c, int argc, char **argv);
static int cmd_factory_reset(struct console *c, int argc, char **argv);
static size_t complete_config(int argi, char **argv, const char *word, const char **cand, size_t max);
static size_t complete_help(int argi, char **argv, const char *word, const char **cand, size_t max);

/* The commands, in the order help lists them. */
static const struct con_cmd con_cmds[] = {
	{ "help", "[COMMAND]", 0, 1, cmd_help, N_("the commands, or what one does"), complete_help },
	{ "config", "show [KEY] | set KEY VALUE | diff | commit | confirm | revert", 1, 3, cmd_config,
	  N_("see and change the settings; a commit reverts unless confirmed"), complete_config },
	{ "status", "", 0, 0, con_cmd_status, N_("one screen: is the box well, and if not, what first"), NULL },
	{ "diag", "", 0, 0, con_cmd_diag, N_("run the checks: each problem with its cause and remedy"), NULL },
	{ "ports", "", 0, 0, con_cmd_ports, N_("each port's link and frame counters"), NULL },
	{ "flows", "[top N]", 0, 2, con_cmd_flows, N_("the open flows, the N largest by bytes"), NULL },
	{ "bundle", "", 0, 0, con_cmd_bundle, N_("the blocklist in force: serial, age, entries"), NULL },
	{ "log", "[N]", 0, 1, con_cmd_log, N_("the last N log lines (20)"), NULL },
	{ "report", "", 0, 0, con_cmd_report, N_("send the summary so far and the inventory now"), NULL },
	{ "dns", "NAME", 1, 1, con_cmd_dns, N_("look NAME up through the gateway's own DNS"), NULL },
	{ "ping", "HOST", 1, 1, con_cmd_ping, N_("three echoes to HOST from the gateway's own address"), NULL },
	{ "lang", "[en|zh_TW]", 0, 1, con_cmd_lang, N_("the messages' language (English, Traditional Chinese)"), NULL },
	{ "passwd", "", 0, 0, cmd_passwd, N_("change the technician password"), NULL },
	{ "logout", "", 0, 0, cmd_logout, N_("end the session"), NULL },
	{ "reboot", "", 0, 0, cmd_reboot, N_("stop the firmware cleanly and restart the box"), NULL },
	{ "factory-reset", "", 0, 0, cmd_factory_reset,
	  N_("erase the settings and password (keys and blocklist stay), then restart"), NULL },
};

static int cfg_show(struct console *c, int argc, char **argv);
static int cfg_set(struct console *c, int argc, char **argv);
static int cfg_diff(struct console *c, int argc, char **argv);
static int cfg_commit(struct console *c, int argc, char **argv);
static int cfg_confirm(struct console *c, int argc, char **argv);
static int cfg_revert(struct console *c, int argc, char **argv);
static void cfg_commit_done(struct console *c);

/* config's own table: argc/argv of a handler start at the subcommand. */
static const struct con_cmd con_cfg_cmds[] = {
	{ "show", "[KEY]", 0, 1, cfg_show, N_("the settings in force (KEY: those starting so)"), NULL },
	{ "set", "KEY VALUE", 2, 2, cfg_set, N_("change one setting (checked as in the file)"), NULL },
	{ "diff", "", 0, 0, cfg_diff, N_("the changes not yet committed"), NULL },
	{ "commit", "", 0, 0, cfg_commit, N_("put the changes in force; they revert unless confirmed"), NULL },
	{ "confirm", "", 0, 0, cfg_confirm, N_("keep the committed changes and save them"), NULL },
	{ "revert", "", 0, 0, cfg_revert, N_("drop the changes, or undo the commit"), NULL },
};

/* ------------------------------------------------------------ parsing */

/* Split line into words (in place); "double quotes" keep spaces. Returns the count or -E2BIG. */
static int con_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return argc;
		if (argc == max)
			return -E2BIG;
		if (*p == '"') {
			argv[argc++] = ++p;
			while (*p && *p != '"')
				p++;
		} else {
			argv[argc++] = p;
			while (*p && *p != ' ')
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
}

/*
 * The entry word names in t: itself, or the one entry it is a prefix of.
 * NULL with the refusal printed (unknown, or ambiguous naming each match).
 */
static const struct con_cmd *con_find(struct console *c, const struct con_cmd *t, size_t n,
				      const char *word, const char *what)
{
	const struct con_cmd *hit = NULL;
	size_t len = strlen(word), matches = 0;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(t[i].name, word))
			return &t[i];
		if (!strncmp(t[i].name, word, len)) {
			hit = &t[i];
			matches++;
		}
	}
	if (matches == 1)
		return hit;
	if (!matches) {
		con_printf(c, _("Unknown %s \"%s\": type help for the list.\n"), what, word);
		return NULL;
	}
	con_printf(c, _("Ambiguous: \"%s\" could be"), word);
	for (size_t i = 0, k = 0; i < n; i++)
		if (!strncmp(t[i].name, word, len))
			con_printf(c, "%s %s", k++ ? "," : "", t[i].name);
	con_printf(c, _(". Type more letters.\n"));
	return NULL;
}

static int con_run(struct console *c, const struct con_cmd *t, size_t n, int argc, char **argv,
		   const char *what, const char *prefix)
{
	const struct con_cmd *cmd = con_find(c, t, n, argv[0], what);

	if (!cmd)
		return -EINVAL;
	if (argc - 1 < cmd->min || argc - 1 > cmd->max) {
		con_printf(c, _("Usage: %s%s%s%s\n"), prefix, cmd->name, cmd->args[0] ? " " : "",
			   cmd->args);
		return -EINVAL;
	}
	argv[0] = (char *)cmd->name;
	return cmd->fn(c, argc, argv);
}

void con_cmd_line(struct console *c, char *line)
{
	char *argv[CON_ARGS_MAX + 1];
	int argc = con_split(line, argv, CON_ARGS_MAX);

	if (argc == -E2BIG) {
		con_printf(c, _("Refused: more than %d words on one line.\n"), CON_ARGS_MAX);
		return;
	}
	if (argc <= 0)
		return;
	argv[argc] = NULL;
	if (!strcmp(argv[0], "?"))
		argv[0] = (char *)"help";
	con_run(c, con_cmds, ARRAY_SIZE(con_cmds), argc, argv, _("command"), "");
}

/* ------------------------------------------------------------ completion */

static size_t cand_from(const struct con_cmd *t, size_t n, const char *word, const char **cand,
			size_t max)
{
	size_t k = 0, len = strlen(word);

	for (size_t i = 0; i < n && k < max; i++)
		if (!strncmp(t[i].name, word, len))
			cand[k++] = t[i].name;
	return k;
}

/* "section.key" of every configuration key, made once. */
#define CON_KEYS_MAX 192
static const char *const *con_key_names(void)
{
	static char names[CON_KEYS_MAX][2 * CONFIG_NAME_MAX];
	static const char *ptrs[CON_KEYS_MAX + 1];
	static struct tg_config scratch;
	const char *sec, *key;
	char value[CONFIG_PATH_MAX + 16];

	if (ptrs[0])
		return ptrs;
	for (size_t i = 0; i < CON_KEYS_MAX &&
			   config_key_at(&scratch, i, &sec, &key, value, sizeof(value)) == 0; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%s", sec, key);
		ptrs[i] = names[i];
	}
	return ptrs;
}

static size_t complete_config(int argi, char **argv, const char *word, const char **cand, size_t max)
{
	const struct con_cmd *sub = NULL;
	size_t k = 0, len = strlen(word), hits = 0;

	if (argi == 1)
		return cand_from(con_cfg_cmds, ARRAY_SIZE(con_cfg_cmds), word, cand, max);
	for (size_t i = 0; i < ARRAY_SIZE(con_cfg_cmds); i++)
		if (!strncmp(con_cfg_cmds[i].name, argv[1], strlen(argv[1]))) {
			sub = &con_cfg_cmds[i];
			hits++;
		}
	if (argi != 2 || hits != 1 || (sub->fn != cfg_set && sub->fn != cfg_show))
		return 0;
	for (const char *const *n = con_key_names(); *n && k < max; n++)
		if (!strncmp(*n, word, len))
			cand[k++] = *n;
	return k;
}

static size_t complete_help(int argi, char **argv, const char *word, const char **cand, size_t max)
{
	(void)argv;
	return argi == 1 ? cand_from(con_cmds, ARRAY_SIZE(con_cmds), word, cand, max) : 0;
}

size_t con_cmd_complete(void *ctx, const char *line, size_t len, size_t *word, const char **cand,
			size_t max)
{
	struct console *c = ctx;
	char copy[CON_LINE_MAX];
	char *argv[CON_ARGS_MAX + 2];
	const struct con_cmd *cmd = NULL;
	size_t hits = 0;
	int argc;

	if (c->state != CON_SHELL)
		return 0;
	*word = len;
	while (*word && line[*word - 1] != ' ')
		(*word)--;
	snprintf(copy, sizeof(copy), "%.*s", (int)*word, line);
	argc = con_split(copy, argv, CON_ARGS_MAX);
	if (argc < 0)
		return 0;
	argv[argc] = (char *)line + *word; /* the word being typed (a view, not split) */
	if (argc == 0)
		return cand_from(con_cmds, ARRAY_SIZE(con_cmds), argv[0], cand, max);
	for (size_t i = 0; i < ARRAY_SIZE(con_cmds); i++) {
		if (!strcmp(con_cmds[i].name, argv[0])) {
			cmd = &con_cmds[i];
			hits = 1;
			break;
		}
		if (!strncmp(con_cmds[i].name, argv[0], strlen(argv[0]))) {
			cmd = &con_cmds[i];
			hits++;
		}
	}
	if (hits != 1 || !cmd->complete)
		return 0;
	return cmd->complete(argc, argv, argv[argc], cand, max);
}

/* ------------------------------------------------------------ help, passwd, logout */

static int cmd_help(struct console *c, int argc, char **argv)
{
	if (argc == 2) {
		const struct con_cmd *cmd = con_find(c, con_cmds, ARRAY_SIZE(con_cmds), argv[1],
						     _("command"));

		if (!cmd)
			return -EINVAL;
		con_printf(c, "%s%s%s\n  %s\n", cmd->name, cmd->args[0] ? " " : "", cmd->args,
			   _(cmd->help));
		if (cmd->fn == cmd_config)
			for (size_t i = 0; i < ARRAY_SIZE(con_cfg_cmds); i++)
				con_printf(c, "  config %-22s %s\n", con_cfg_cmds[i].name, _(con_cfg_cmds[i].help));
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(con_cmds); i++)
		con_printf(c, "  %-14s %s\n", con_cmds[i].name, _(con_cmds[i].help));
	con_printf(c, _("Any unambiguous beginning of a command works; Tab completes; help COMMAND says more.\n"));
	return 0;
}

static int cmd_passwd(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	c->state = CON_OLD;
	return 0;
}

static int cmd_logout(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	con_logout(c, _("Logged out."));
	return 0;
}

static int cmd_reboot(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!c->o.host.reboot) {
		con_printf(c, _("Refused: this console cannot restart the box.\n"));
		return -EOPNOTSUPP;
	}
	log_info("console: reboot asked by the technician");
	con_printf(c, _("Stopping the firmware and restarting the box.\n"));
	c->o.host.reboot(c->o.host.ctx);
	return 0;
}

/* ------------------------------------------------------------ config */

static int cmd_config(struct console *c, int argc, char **argv)
{
	return con_run(c, con_cfg_cmds, ARRAY_SIZE(con_cfg_cmds), argc - 1, argv + 1,
		       _("config command"), "config ");
}

/* Key i's name and its value in a and in b: 1 when they differ, 0 when not, -1 past the last key. */
static int cfg_key_pair(const struct tg_config *a, const struct tg_config *b, size_t i, char *name,
			size_t nsize, char *va, char *vb, size_t vsize)
{
	const char *sec, *key;

	if (config_key_at(a, i, &sec, &key, va, vsize) < 0)
		return -1;
	config_key_at(b, i, &sec, &key, vb, vsize);
	snprintf(name, nsize, "%s.%s", sec, key);
	return strcmp(va, vb) != 0;
}

static int cfg_show(struct console *c, int argc, char **argv)
{
	char name[2 * CONFIG_NAME_MAX], va[CONFIG_PATH_MAX + 16], vb[CONFIG_PATH_MAX + 16];
	const struct tg_config *edit = c->edit ? c->edit : c->o.cfg;
	size_t shown = 0;

	int differs;

	for (size_t i = 0;
	     (differs = cfg_key_pair(c->o.cfg, edit, i, name, sizeof(name), va, vb, sizeof(vb))) >= 0;
	     i++) {
		if (argc == 2 && strncmp(name, argv[1], strlen(argv[1])) != 0)
			continue;
		con_printf(c, "%s = %s%s%s\n", name, va, differs ? _("  (set to ") : "",
			   differs ? vb : "");
		if (differs)
			con_printf(c, _("    ... not committed)\n"));
		shown++;
	}
	if (!shown) {
		con_printf(c, _("Unknown key \"%s\": Tab after config show lists them.\n"), argv[1]);
		return -ENOENT;
	}
	return 0;
}

static int cfg_set(struct console *c, int argc, char **argv)
{
	char section[CONFIG_NAME_MAX], err[512];
	const char *dot = strchr(argv[1], '.');
	struct tg_config next;

	(void)argc;
	if (!dot || (size_t)(dot - argv[1]) >= sizeof(section)) {
		con_printf(c, _("Refused: \"%s\" is not SECTION.KEY (e.g. flow.udp_timeout).\n"),
			   argv[1]);
		return -EINVAL;
	}
	snprintf(section, sizeof(section), "%.*s", (int)(dot - argv[1]), argv[1]);
	next = c->edit ? *c->edit : *c->o.cfg;
	if (config_set(&next, section, dot + 1, argv[2], err, sizeof(err)) < 0) {
		con_printf(c, _("Refused: %s\n"), err);
		return -EINVAL;
	}
	if (!c->edit) {
		c->edit = malloc(sizeof(*c->edit));
		if (!c->edit)
			return -ENOMEM;
	}
	*c->edit = next;
	con_printf(c, _("%s set to %s: not in force until config commit.\n"), argv[1], argv[2]);
	return 0;
}

/* The changes of edit against the configuration in force, one line each; how many. */
static size_t cfg_print_diff(struct console *c, const struct tg_config *from, const struct tg_config *to,
			     char *summary, size_t size)
{
	char name[2 * CONFIG_NAME_MAX], va[CONFIG_PATH_MAX + 16], vb[CONFIG_PATH_MAX + 16];
	size_t n = 0;
	int differs;

	if (summary)
		summary[0] = '\0';
	for (size_t i = 0; (differs = cfg_key_pair(from, to, i, name, sizeof(name), va, vb, sizeof(vb))) >= 0;
	     i++) {
		if (!differs)
			continue;
		if (c)
			con_printf(c, "  %s: %s -> %s\n", name, va[0] ? va : _("(empty)"),
				   vb[0] ? vb : _("(empty)"));
		if (summary) {
			size_t len = strlen(summary);

			snprintf(summary + len, size - len, "%s%s=%s", len ? ", " : "", name, vb);
		}
		n++;
	}
	return n;
}

static int cfg_diff(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!c->edit || !cfg_print_diff(c, c->o.cfg, c->edit, NULL, 0))
		con_printf(c, _("No changes: the settings are those in force.\n"));
	return 0;
}

static void con_confirm_fire(struct loop_timer *t)
{
	struct console *c = container_of(t, struct console, confirm);
	char why[96];

	snprintf(why, sizeof(why), _("not confirmed within %u s"), c->o.cfg->console.confirm_timeout);
	con_config_revert_commit(c, why, true);
}

static int cfg_commit(struct console *c, int argc, char **argv)
{
	char restart[256], summary[512];
	uint32_t window;
	int err;

	(void)argc;
	(void)argv;
	if (c->before) {
		con_printf(c, _("Refused: the last commit waits for config confirm or config revert.\n"));
		return -EBUSY;
	}
	if (!c->edit || !cfg_print_diff(NULL, c->o.cfg, c->edit, summary, sizeof(summary))) {
		con_printf(c, _("Nothing to commit: no setting was changed.\n"));
		return -ENOENT;
	}
	if (!c->o.host.apply) {
		con_printf(c, _("Refused: this console cannot change the gateway's settings.\n"));
		return -EOPNOTSUPP;
	}
	c->before = malloc(sizeof(*c->before));
	if (!c->before)
		return -ENOMEM;
	*c->before = *c->o.cfg;
	err = c->o.host.apply(c->o.host.ctx, c->edit, restart, sizeof(restart));
	if (err < 0) {
		free(c->before);
		c->before = NULL;
		con_printf(c, _("Refused: the settings could not be put in force (see the log).\n"));
		return err;
	}
	c->target = c->edit;
	c->edit = NULL;
	/* The window is the one in force before the commit: a commit cannot shorten its own. */
	window = c->before->console.confirm_timeout;
	c->confirm.cb = con_confirm_fire;
	if (c->o.loop)
		loop_timer_set(c->o.loop, &c->confirm, (uint64_t)window * 1000u);
	log_info("console: committed %s; reverts in %u s unless confirmed", summary, window);
	con_event(c, "config_commit", summary);
	con_printf(c, _("In force now. Type config confirm within %u s to keep it;\n"
			"otherwise the previous settings come back by themselves.\n"), window);
	if (restart[0])
		con_printf(c, _("Waits for a restart (not in force until then): %s.\n"), restart);
	return 0;
}

void con_config_revert_commit(struct console *c, const char *why, bool notice)
{
	char restart[256], msg[256];

	if (!c->before)
		return;
	if (c->o.loop)
		loop_timer_cancel(c->o.loop, &c->confirm);
	if (c->o.host.apply(c->o.host.ctx, c->before, restart, sizeof(restart)) < 0)
		log_err("console: the previous settings could not be put back: see above");
	cfg_commit_done(c);
	log_warn("console: commit reverted: %s", why);
	con_event(c, "config_revert", why);
	snprintf(msg, sizeof(msg), _("The committed settings were reverted (%s)."), why);
	if (notice)
		con_notice(c, msg);
	else
		con_printf(c, "%s\n", msg);
}

/* The configuration in force as the file holds it (config_write), into a malloc'ed buffer. */
static int cfg_render(const struct tg_config *cfg, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int err;

	if (!f)
		return -errno;
	err = config_write(cfg, f);
	fclose(f);
	if (err < 0)
		free(*buf);
	return err;
}

/*
 * The file as on flash with the committed keys set in it: the command
 * line's -o options and anything else in force but not in the file stay
 * out of it.
 */
static int cfg_save(struct console *c, const char *path, const char *prev)
{
	char name[2 * CONFIG_NAME_MAX], va[CONFIG_PATH_MAX + 16], vb[CONFIG_PATH_MAX + 16], err[512];
	struct tg_config *file = malloc(sizeof(*file));
	uint8_t *old = NULL;
	char *text = NULL;
	size_t old_len = 0, len = 0;
	int ret, differs;

	if (!file)
		return -ENOMEM;
	config_defaults(file);
	ret = file_read(path, 1 << 20, &old, &old_len);
	if (ret == 0) {
		ret = file_write_atomic(prev, old, old_len, 0600);
		free(old);
		if (ret == 0 && config_load(file, path, err, sizeof(err)) < 0) {
			log_err("console: %s", err);
			ret = -EINVAL;
		}
	} else if (ret == -ENOENT) {
		ret = 0;
	}
	for (size_t i = 0; ret == 0 && (differs = cfg_key_pair(c->before, c->target, i, name, sizeof(name),
								va, vb, sizeof(vb))) >= 0; i++) {
		char *dot = strchr(name, '.');

		if (!differs)
			continue;
		*dot = '\0';
		if (config_set(file, name, dot + 1, vb, err, sizeof(err)) < 0) {
			log_err("console: %s", err);
			ret = -EINVAL;
		}
	}
	if (ret == 0)
		ret = cfg_render(file, &text, &len);
	if (ret == 0) {
		ret = file_write_atomic(path, text, len, 0600);
		free(text);
	}
	free(file);
	return ret;
}

static void cfg_commit_done(struct console *c)
{
	if (c->o.loop)
		loop_timer_cancel(c->o.loop, &c->confirm);
	free(c->before);
	free(c->target);
	c->before = c->target = NULL;
}

static int cfg_confirm(struct console *c, int argc, char **argv)
{
	const char *path = c->o.config_path;
	char prev[CONFIG_PATH_MAX + 8];
	int err;

	(void)argc;
	(void)argv;
	if (!c->before) {
		con_printf(c, _("Nothing to confirm: no commit is waiting.\n"));
		return -ENOENT;
	}
	if (!path || !path[0]) {
		cfg_commit_done(c);
		log_warn("console: confirmed, but not saved: started without -c FILE");
		con_printf(c, _("Kept until the next start, but not saved: townguard was started without a\n"
				"configuration file (-c FILE).\n"));
		return 0;
	}
	snprintf(prev, sizeof(prev), "%s.prev", path);
	err = cfg_save(c, path, prev);
	cfg_commit_done(c);
	if (err < 0) {
		log_err("console: %s: the confirmed settings were not saved: %s", path, strerror(-err));
		con_printf(c, _("In force, but not saved: %s: %s.\n"), path, strerror(-err));
		return err;
	}
	log_info("console: confirmed and saved to %s (previous in %s)", path, prev);
	con_event(c, "config_confirm", path);
	con_printf(c, _("Confirmed and saved (the previous settings are kept in %s).\n"), prev);
	return 0;
}

static int cfg_revert(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (c->before) {
		con_config_revert_commit(c, _("by config revert"), false);
		return 0;
	}
	if (c->edit) {
		free(c->edit);
		c->edit = NULL;
		con_printf(c, _("Changes dropped: nothing was committed.\n"));
		return 0;
	}
	con_printf(c, _("Nothing to revert.\n"));
	return 0;
}

/* ------------------------------------------------------------ factory reset */

static int cmd_factory_reset(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	con_printf(c, _("This erases the settings (the gateway id, region and data directory stay),\n"
			"the technician password and the device inventory, then restarts the box.\n"
			"The keys and the blocklist in force stay.\n"));
	c->state = CON_ERASE;
	return 0;
}

void con_cmd_erase_answer(struct console *c, const char *line)
{
	static const char *const erase[] = { "console.passwd", "console.lockout", "inventory" };
	const char *path = c->o.config_path;
	struct tg_config fresh;
	char file[CONFIG_PATH_MAX + 32];
	char *text = NULL;
	size_t len = 0;
	int err = 0;

	if (strcmp(line, "ERASE") != 0) {
		con_printf(c, _("Not erased: the answer was not ERASE.\n"));
		return;
	}
	if (path && path[0]) {
		config_defaults(&fresh);
		memcpy(&fresh.gateway.id, c->o.cfg->gateway.id, sizeof(fresh.gateway.id));
		memcpy(&fresh.gateway.region, c->o.cfg->gateway.region, sizeof(fresh.gateway.region));
		memcpy(&fresh.gateway.data_dir, c->o.cfg->gateway.data_dir, sizeof(fresh.gateway.data_dir));
		err = cfg_render(&fresh, &text, &len);
		if (err == 0) {
			err = file_write_atomic(path, text, len, 0600);
			free(text);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(erase) && err == 0; i++) {
		snprintf(file, sizeof(file), "%s/%s", con_data_dir(c), erase[i]);
		if (unlink(file) < 0 && errno != ENOENT)
			err = -errno;
	}
	if (err < 0) {
		log_err("console: factory reset failed: %s", strerror(-err));
		con_printf(c, _("The factory reset failed: %s. Nothing restarts.\n"), strerror(-err));
		return;
	}
	log_warn("console: factory reset by the technician");
	con_event(c, "factory_reset", "");
	con_printf(c, _("Erased.\n"));
	if (c->o.host.reboot) {
		con_printf(c, _("Stopping the firmware and restarting the box.\n"));
		c->o.host.reboot(c->o.host.ctx);
	}
}

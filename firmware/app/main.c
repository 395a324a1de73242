/*
 * townguard: the gateway firmware's single process.
 *
 *   townguard replay FILE [--flows|--reports]  classify a capture, print totals (and flows or records)
 *   townguard report reveal PSEUDONYM    what a pseudonym in a record stands for
 *   townguard run [-c FILE]              the gateway in its configured mode until SIGTERM
 *   townguard capture IFACE [--flows]    monitor mode on one interface until stopped
 *   townguard config [-c FILE]           check a configuration and print it in full
 *   townguard passwd [-c FILE] < PASSWORD  the console's technician password, at provisioning
 *   townguard version
 *
 * Commands are one table (name, arguments, handler, help) so `help` cannot
 * drift from what exists.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "main"
#include "app/console_priv.h"
#include "app/gateway.h"
#include "app/report.h"
#include "report/journal.h"
#include "core/board.h"
#include "core/common.h"
#include "core/config.h"
#include "core/file.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "packet/pipeline.h"
#include "policy/store.h"
#include "policy/trust.h"
#include "report/privacy.h"
#include "report/reveal.h"

struct command {
	const char *name;
	const char *args;
	int (*fn)(int argc, char **argv);
	const char *help;
};


static const struct option run_long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "option", required_argument, NULL, 'o' },
	{ "ndpi-dir", required_argument, NULL, 'n' },
	{ "flows", no_argument, NULL, 'f' },
	{ "filter", required_argument, NULL, 'F' },
	{ "duration", required_argument, NULL, 'd' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "bundle", required_argument, NULL, 'b' },
	{ "reports", no_argument, NULL, 'R' },
	{ "from", required_argument, NULL, 'a' },
	{ "inventory", required_argument, NULL, 'I' },
	{ NULL, 0, NULL, 0 },
};

static int set_opt(struct tg_config *cfg, const char *arg)
{
	char section[CONFIG_NAME_MAX], key[CONFIG_NAME_MAX], err[512];
	const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');

	if (!dot || !eq || dot > eq || (size_t)(dot - arg) >= sizeof(section) ||
	    (size_t)(eq - dot - 1) >= sizeof(key)) {
		log_err("-o \"%s\": expected section.key=value, e.g. flow.udp_timeout=30", arg);
		return -EINVAL;
	}
	snprintf(section, sizeof(section), "%.*s", (int)(dot - arg), arg);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
	if (config_set(cfg, section, key, eq + 1, err, sizeof(err)) < 0) {
		log_err("-o %s", err);
		return -EINVAL;
	}
	return 0;
}

/* --ndpi-dir DIR: the five nDPI data files under their example/ names. */
static int set_ndpi_dir(struct tg_config *cfg, const char *dir)
{
	static const struct {
		const char *key, *file;
	} files[] = {
		{ "protos_file", "protos.txt" },
		{ "categories_file", "categories.txt" },
		{ "risky_domains_file", "risky_domains.txt" },
		{ "ja3_file", "ja3_fingerprints.csv" },
		{ "sha1_file", "sha1_fingerprints.csv" },
	};
	char path[CONFIG_PATH_MAX], err[512];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, files[i].file) >= (int)sizeof(path)) {
			log_err("--ndpi-dir \"%s\": path too long", dir);
			return -EINVAL;
		}
		if (config_set(cfg, "dpi", files[i].key, path, err, sizeof(err)) < 0) {
			log_err("--ndpi-dir: %s", err);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_run_opts(int argc, char **argv, struct gateway_opts *o, int *first_arg)
{
	char err[512];
	int c, verbose = 0, quiet = 0;

	memset(o, 0, sizeof(*o));
	config_defaults(&o->cfg);
	/* First pass: the configuration file, so options override it wherever they stand. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:o:n:fF:d:vqb:Ra:", run_long_opts, NULL)) != -1) {
		if (c != 'c')
			continue;
		o->config_path = optarg;
		if (config_load(&o->cfg, optarg, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -EINVAL;
		}
	}
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:o:n:fF:d:vqb:Ra:", run_long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 'o':
			if (set_opt(&o->cfg, optarg) < 0)
				return -EINVAL;
			break;
		case 'n':
			if (set_ndpi_dir(&o->cfg, optarg) < 0)
				return -EINVAL;
			break;
		case 'f':
			o->flows = true;
			break;
		case 'F':
			if (config_set(&o->cfg, "capture", "filter", optarg, err, sizeof(err)) < 0) {
				log_err("--filter: %s", err);
				return -EINVAL;
			}
			break;
		case 'd': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || v == 0 || v > 86400ul * 365) {
				log_err("--duration \"%s\": expected seconds, 1..31536000", optarg);
				return -EINVAL;
			}
			o->duration_s = (uint32_t)v;
			break;
		}
		case 'v':
			verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'b':
			o->bundle = optarg;
			break;
		case 'R':
			o->reports = true;
			break;
		case 'a':
			if (o->n_from >= ARRAY_SIZE(o->from)) {
				log_err("--from \"%s\": at most %zu files", optarg, ARRAY_SIZE(o->from));
				return -EINVAL;
			}
			o->from[o->n_from++] = optarg;
			break;
		case 'I':
			o->inventory = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	log_set_level(verbose ? LOG_LVL_DEBUG : quiet ? LOG_LVL_WARN : (enum log_level)o->cfg.log.level);
	if (o->cfg.log.target == LOG_TO_FILE) {
		char path[CONFIG_PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/log/townguard.log", o->cfg.gateway.data_dir);
		log_set_target(LOG_TO_FILE, path);
	} else {
		log_set_target((enum log_target)o->cfg.log.target, "townguard");
	}
	*first_arg = optind;
	return 0;
}

/* ------------------------------------------------------------ replay, run */

static int cmd_replay(int argc, char **argv)
{
	struct gateway_opts opts;
	int first;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc - 1) {
		log_err("replay needs exactly one capture file (try: townguard help)");
		return 2;
	}
	if (opts.flows && opts.reports) {
		log_err("replay: --flows and --reports both write JSON lines to stdout: choose one");
		return 2;
	}
	if (opts.inventory && !opts.reports) {
		log_err("replay: --inventory %s is the reports' inventory: it needs --reports", opts.inventory);
		return 2;
	}
	return gateway_replay(&opts, argv[first]);
}

/* The command line a live command started with, read again on SIGHUP. */
struct live_args {
	int argc;
	char **argv;
	bool capture; /* `capture [IFACE]`: monitor mode on that interface */
};

static int live_opts(const struct live_args *a, struct gateway_opts *o)
{
	int first;

	if (parse_run_opts(a->argc, a->argv, o, &first) < 0)
		return -EINVAL;
	if (!a->capture) {
		if (first != a->argc) {
			log_err("run takes no arguments besides options (the mode is [gateway] mode)");
			return -EINVAL;
		}
		return 0;
	}
	if (first < a->argc - 1) {
		log_err("capture takes at most one interface");
		return -EINVAL;
	}
	/* The argument, else [capture] interface, else the board's mirror port. */
	o->cfg.gateway.mode = TG_MODE_MONITOR;
	if (first == a->argc - 1 || !o->cfg.capture.interface[0])
		snprintf(o->cfg.capture.interface, sizeof(o->cfg.capture.interface), "%s",
			 first == a->argc - 1 ? a->argv[first] : board_info()->mirror_port);
	return 0;
}

static int live_reload(struct tg_config *cfg, void *ctx)
{
	struct gateway_opts o;

	if (live_opts(ctx, &o) < 0)
		return -EINVAL;
	*cfg = o.cfg;
	return 0;
}

static int live_command(int argc, char **argv, bool capture)
{
	struct live_args a = { .argc = argc, .argv = argv, .capture = capture };
	struct gateway_opts opts;

	if (live_opts(&a, &opts) < 0)
		return 2;
	opts.reload = live_reload;
	opts.reload_ctx = &a;
	return gateway_run(&opts);
}

static int cmd_capture(int argc, char **argv)
{
	return live_command(argc, argv, true);
}

static int cmd_run(int argc, char **argv)
{
	return live_command(argc, argv, false);
}

/* ------------------------------------------------------------------ others */

static int cmd_config(int argc, char **argv)
{
	struct gateway_opts opts;
	int first;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc) {
		log_err("config takes no arguments besides options");
		return 2;
	}
	return config_write(&opts.cfg, stdout) < 0 ? 1 : 0;
}

/* What a bundle is, with its times in ISO 8601 as tg-hub prints them. */
static void print_bundle(const char *what, const struct bundle *b)
{
	const struct bundle_info *in = bundle_get_info(b);
	char t1[32], t2[32];
	uint8_t sha[32];

	bundle_sha256(b, sha);
	printf("%s: region %s, serial %llu, created %s, expires %s, sha256 ", what, in->region,
	       (unsigned long long)in->serial, store_iso8601(in->created, t1, sizeof(t1)),
	       store_iso8601(in->expires, t2, sizeof(t2)));
	for (int i = 0; i < 32; i++)
		printf("%02x", sha[i]);
	printf("\n");
	for (int k = 0; k < BUNDLE_KIND_MAX; k++)
		printf("  %-9s %8zu blocked/alert  %8zu allowed\n", bundle_kind_name((enum bundle_kind)k),
		       bundle_count(b, (enum bundle_kind)k, false), bundle_count(b, (enum bundle_kind)k, true));
}

/*
 * townguard bundle status | install FILE: the list on flash. install applies
 * the gateway's acceptance rules (a delta is applied to the list in force)
 * and persists what passes; what fails leaves the list in force as it was.
 */
static int cmd_bundle(int argc, char **argv)
{
	struct gateway_opts opts;
	struct store_trust trust;
	struct bundle *in_force = NULL, *fresh = NULL;
	const char *which = NULL, *action;
	char keypath[CONFIG_PATH_MAX + 16];
	uint8_t *data = NULL;
	size_t len = 0;
	enum bundle_err e;
	int first, err, ret = 1;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	action = first < argc ? argv[first] : "";
	if (!((strcmp(action, "status") == 0 && first == argc - 1) ||
	      (strcmp(action, "install") == 0 && first == argc - 2))) {
		log_err("usage: townguard bundle status | install FILE  [-c CONFIG]");
		return 2;
	}
	if (trust_load(&opts.cfg, &trust, keypath, sizeof(keypath)) < 0) {
		log_err("no hub key at %s: cannot check bundles", keypath);
		return 1;
	}
	e = store_load(opts.cfg.gateway.data_dir, &trust, (uint64_t)time(NULL), &in_force, &which);
	if (strcmp(action, "status") == 0) {
		if (e == BUNDLE_OK) {
			printf("in force (%s/bundle/%s)\n", opts.cfg.gateway.data_dir, which);
			print_bundle("bundle", in_force);
			ret = 0;
		} else {
			printf("no list in force: %s\n", bundle_err_text(e));
		}
		goto out;
	}
	err = file_read(argv[first + 1], 0, &data, &len);
	if (err < 0) {
		log_err("cannot read %s: %s", argv[first + 1], strerror(-err));
		goto out;
	}
	e = store_accept(opts.cfg.gateway.data_dir, &trust, in_force, data, len, (uint64_t)time(NULL), &fresh);
	if (e != BUNDLE_OK) {
		log_err("bundle %s refused (%s): %s", argv[first + 1], bundle_err_name(e),
			bundle_err_text(e));
		if (in_force)
			log_info("the list in force stays: serial %llu",
				 (unsigned long long)bundle_get_info(in_force)->serial);
		printf("refused: %s\n", bundle_err_name(e));
		goto out;
	}
	print_bundle("accepted", fresh);
	ret = 0;
out:
	bundle_close(fresh);
	bundle_close(in_force);
	free(data);
	free((void *)trust.pubkey);
	return ret;
}

/*
 * townguard report reveal PSEUDONYM [--from FILE]...: what a pseudonym (or
 * a Crypto-PAn address) in a record stands for, with this box's key.
 */
static int cmd_report_reveal(int argc, char **argv)
{
	struct gateway_opts opts;
	struct privacy priv;
	uint8_t key[PRIVACY_KEY_LEN];
	char value[256];
	int first, err;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc - 2 || strcmp(argv[first], "reveal") != 0) {
		log_err("usage: townguard report reveal PSEUDONYM [--from FILE]...  [-c CONFIG]");
		return 2;
	}
	if (privacy_load_key(opts.cfg.gateway.data_dir, key) < 0 ||
	    privacy_init(&priv, &opts.cfg, key) < 0)
		return 1;
	memset(key, 0, sizeof(key));
	err = reveal(&priv, argv[first + 1], opts.from, opts.n_from, value, sizeof(value));
	privacy_uninit(&priv);
	switch (err) {
	case 0:
		printf("%s\n", value);
		return 0;
	case -EINVAL:
		log_err("\"%s\" is neither a pseudonym (ip-, mac-, host-, name- and 12 hex digits) "
			"nor an address", argv[first + 1]);
		return 2;
	case -ENOENT:
		log_err("%s: not found under the key in %s/report.key (searched %u file(s)%s)",
			argv[first + 1], opts.cfg.gateway.data_dir, opts.n_from,
			strncmp(argv[first + 1], "ip-", 3) == 0 ? " and every private IPv4 address" : "");
		return 1;
	default:
		return 1;
	}
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("townguard %s (board %s)\n", CONFIG_VERSION, board_info()->name);
	return 0;
}

/* townguard report journal: every record the broker acknowledged, as sent (docs/reports.md). */
static int cmd_report_journal(int argc, char **argv)
{
	struct gateway_opts opts;
	int first;
	long n;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc - 1 || strcmp(argv[first], "journal") != 0) {
		log_err("usage: townguard report journal  [-c CONFIG]");
		return 2;
	}
	n = journal_print(opts.cfg.gateway.data_dir, stdout);
	if (n < 0) {
		log_err("%s/journal: %s", opts.cfg.gateway.data_dir, strerror((int)-n));
		return 1;
	}
	return 0;
}

/* townguard report journal | reveal ...: the subcommand is the first word that is no option. */
static int cmd_report(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "reveal") == 0)
			return cmd_report_reveal(argc, argv);
		if (strcmp(argv[i], "journal") == 0)
			return cmd_report_journal(argc, argv);
	}
	log_err("usage: townguard report journal | reveal PSEUDONYM [--from FILE]...  [-c CONFIG]");
	return 2;
}

/*
 * townguard passwd: the console's technician password, set at provisioning
 * (read from standard input, one line: a provisioning script pipes it in),
 * stored as the console stores it (app/console_login.c).
 */
static int cmd_passwd(int argc, char **argv)
{
	struct gateway_opts opts;
	char line[CON_PASS_MAX + 2], err[512];
	size_t n;
	int first, ret;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc) {
		log_err("passwd takes no arguments besides options: the password comes on standard input");
		return 2;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		log_err("passwd: no password on standard input");
		return 1;
	}
	n = strcspn(line, "\r\n");
	if (line[n] == '\0' && n == sizeof(line) - 1) {
		log_err("passwd: longer than %d characters", CON_PASS_MAX);
		explicit_bzero(line, sizeof(line));
		return 1;
	}
	line[n] = '\0';
	if (n < CON_PASS_MIN) {
		log_err("passwd: %zu characters: a technician password has %d to %d", n, CON_PASS_MIN,
			CON_PASS_MAX);
		explicit_bzero(line, sizeof(line));
		return 1;
	}
	ret = con_pass_set(opts.cfg.gateway.data_dir, line, err, sizeof(err));
	explicit_bzero(line, sizeof(line));
	if (ret < 0) {
		log_err("passwd: %s", err);
		return 1;
	}
	/* A new password clears the lockout of the old one. */
	con_lock_record(opts.cfg.gateway.data_dir, 0);
	log_info("console: technician password set in %s/console.passwd", opts.cfg.gateway.data_dir);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "replay", "FILE [--flows | --reports]", cmd_replay,
	  "classify a pcap/pcapng capture; totals, and JSON lines per flow or report record" },
	{ "run", "[-c FILE]", cmd_run,
	  "run the gateway in [gateway] mode (monitor, bridge, nfqueue) until SIGTERM; SIGHUP reloads" },
	{ "capture", "[IFACE] [--flows] [--duration S]", cmd_capture,
	  "monitor mode on one interface until SIGINT/SIGTERM or --duration" },
	{ "config", "[-c FILE]", cmd_config, "check a configuration and print every key" },
	{ "bundle", "status | install FILE", cmd_bundle,
	  "the blocklist on flash; install checks and persists a bundle or delta" },
	{ "report", "journal | reveal PSEUDONYM [--from FILE]", cmd_report,
	  "what left for the SOC (the journal of acknowledged records, as sent), and what a pseudonym in one stands for (this box's key)" },
	{ "passwd", "[-c FILE] < PASSWORD", cmd_passwd,
	  "set the console's technician password (read from standard input) at provisioning" },
	{ "version", "", cmd_version, "print the firmware version and board" },
	{ "help", "", cmd_help, "this list" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: townguard COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-8s %-36s %s\n", commands[i].name, commands[i].args, commands[i].help);
	printf("\noptions:\n"
	       "  -c, --config FILE      runtime configuration (INI; see docs/configuration.md)\n"
	       "  -o, --option S.K=V     set one key, e.g. -o flow.udp_timeout=30\n"
	       "  -n, --ndpi-dir DIR     load nDPI's protos.txt, categories.txt, risky_domains.txt,\n"
	       "                         ja3_fingerprints.csv and sha1_fingerprints.csv from DIR\n"
	       "  -F, --filter EXPR      BPF capture filter\n"
	       "  -f, --flows            one JSON object per flow on stdout (totals go to stderr)\n"
	       "  -b, --bundle FILE      judge flows with this blocklist bundle (replay, capture)\n"
	       "  -R, --reports          replay: the records to the SOC, one JSON line each (docs/reports.md)\n"
	       "      --inventory FILE   replay --reports: start from the devices in FILE (a gateway's\n"
	       "                         <data>/inventory) and keep what the capture teaches there\n"
	       "      --from FILE        report reveal: look for the value among FILE's words\n"
	       "  -d, --duration S       run, capture: stop after S seconds\n"
	       "  -v, --verbose          debug logging    -q, --quiet  warnings and errors only\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	log_err("unknown command \"%s\" (try: townguard help)", argv[1]);
	return 2;
}

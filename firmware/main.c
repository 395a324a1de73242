/*
 * townguard: the gateway firmware's single process.
 *
 *   townguard replay FILE [--flows]      classify a capture, print totals (and flows)
 *   townguard capture IFACE [--flows]    the same on a live interface until stopped
 *   townguard config [-c FILE]           check a configuration and print it in full
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
#include "board.h"
#include "common.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "pipeline.h"
#include "port.h"
#include "report.h"
#include "store.h"

struct command {
	const char *name;
	const char *args;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* Options every command that runs the pipeline understands. */
struct run_opts {
	struct tg_config cfg;
	bool flows;
	uint32_t duration_s;
	const char *bundle; /* --bundle FILE */
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

static int parse_run_opts(int argc, char **argv, struct run_opts *o, int *first_arg)
{
	char err[512];
	int c, verbose = 0, quiet = 0;

	memset(o, 0, sizeof(*o));
	config_defaults(&o->cfg);
	/* First pass: the configuration file, so options override it wherever they stand. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:o:n:fF:d:vqb:", run_long_opts, NULL)) != -1) {
		if (c != 'c')
			continue;
		if (config_load(&o->cfg, optarg, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -EINVAL;
		}
	}
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:o:n:fF:d:vqb:", run_long_opts, NULL)) != -1) {
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
		default:
			return -EINVAL;
		}
	}
	log_set_level(verbose ? LOG_LVL_DEBUG : quiet ? LOG_LVL_WARN : (enum log_level)o->cfg.log.level);
	log_set_target((enum log_target)o->cfg.log.target, "townguard");
	*first_arg = optind;
	return 0;
}

/* ------------------------------------------------------------------ replay */

struct session {
	struct run_opts *opts;
	struct bundle *bundle;
	struct pipeline pl;
	struct report rep;
	struct port port;
	struct loop *loop;
	struct loop_fd port_fd;
	struct loop_timer tick;
	struct loop_timer stop;
	bool live;
	int io_error;
};

static void session_flow_end(struct pipeline *pl, struct flow *f, enum flow_end_reason why,
			     void *ctx)
{
	struct session *s = ctx;

	report_count_flow(&s->rep, f, why);
	if (s->opts->flows && !s->io_error &&
	    report_flow_json(stdout, pl->dpi, f, why, pl->epoch_offset_ms,
			     report_indicator(&s->rep, f)) < 0) {
		log_err("cannot write flow records (no more will be written): %s", strerror(errno));
		s->io_error = 1;
	}
	report_forget(&s->rep, f);
}

static void session_hit(const struct policy_hit *hit, void *ctx)
{
	struct session *s = ctx;

	report_hit(&s->rep, hit);
}

/* The hub key: [bundle] hub_key, else <data_dir>/keys/hub.pub. */
static void hub_key_path(const struct tg_config *cfg, char *buf, size_t len)
{
	if (cfg->bundle.hub_key[0])
		snprintf(buf, len, "%s", cfg->bundle.hub_key);
	else
		snprintf(buf, len, "%s/keys/hub.pub", cfg->gateway.data_dir);
}

static uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

/*
 * What bundles are checked against: the hub key and this gateway's region
 * and clock skew. Returns 0 (free t->pubkey after), -ENOENT with the key's
 * path in keypath when there is no key file, or another -errno (logged).
 */
static int load_trust(const struct tg_config *cfg, struct store_trust *t, char *keypath,
		      size_t keypath_len)
{
	uint8_t *key;
	size_t keylen;
	int ret;

	hub_key_path(cfg, keypath, keypath_len);
	if (access(keypath, R_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	ret = store_read_key(keypath, &key, &keylen);
	if (ret < 0)
		return ret == -ENOENT ? -EIO : ret;
	*t = (struct store_trust){ .pubkey = key, .pubkey_len = keylen,
				   .region = cfg->gateway.region,
				   .clock_skew_s = cfg->bundle.clock_skew };
	return 0;
}

/*
 * --bundle FILE for replay: checked like a gateway checks one (signature with
 * the hub key, region, expiry) when the hub key is there; a forensic replay
 * without the key still runs, and says the list was not verified.
 */
static int session_bundle(struct session *s, const char *path)
{
	const struct bundle_info *in;
	char keypath[CONFIG_PATH_MAX + 16];
	struct store_trust t;
	enum bundle_err e;
	int ret;

	e = bundle_open_file(path, &s->bundle);
	if (e != BUNDLE_OK) {
		log_err("bundle %s refused: %s", path, bundle_err_text(e));
		return -EINVAL;
	}
	ret = load_trust(&s->opts->cfg, &t, keypath, sizeof(keypath));
	if (ret == 0) {
		e = bundle_check(s->bundle, t.pubkey, t.pubkey_len, t.region, 0, wall_s(),
				 t.clock_skew_s);
		free((void *)t.pubkey);
		if (e != BUNDLE_OK) {
			log_err("bundle %s refused: %s", path, bundle_err_text(e));
			return -EINVAL;
		}
	} else if (ret == -ENOENT) {
		log_warn("bundle %s: signature NOT checked (no hub key at %s)", path, keypath);
	} else {
		return ret;
	}
	in = bundle_get_info(s->bundle);
	log_info("bundle %s: region %s, serial %llu, %zu domains, %zu IPv4 and %zu IPv6 prefixes",
		 path, in->region, (unsigned long long)in->serial,
		 bundle_count(s->bundle, BUNDLE_DOMAIN, false), bundle_count(s->bundle, BUNDLE_IPV4, false),
		 bundle_count(s->bundle, BUNDLE_IPV6, false));
	pipeline_set_bundle(&s->pl, s->bundle);
	return 0;
}

/*
 * A gateway's list in force: the bundle on flash (current, else previous),
 * checked against the hub key. Without a key there is nothing to trust, and
 * the gateway runs without a blocklist, saying so.
 */
static void session_flash_bundle(struct session *s)
{
	const struct tg_config *cfg = &s->opts->cfg;
	struct store_trust trust;
	char keypath[CONFIG_PATH_MAX + 16];
	const char *which;
	int ret;

	ret = load_trust(cfg, &trust, keypath, sizeof(keypath));
	if (ret == -ENOENT)
		log_info("no hub key at %s: running without a blocklist", keypath);
	if (ret < 0)
		return;
	if (store_load(cfg->gateway.data_dir, &trust, wall_s(), &s->bundle, &which) == BUNDLE_OK) {
		log_info("blocklist in force: %s/bundle/%s, serial %llu", cfg->gateway.data_dir, which,
			 (unsigned long long)bundle_get_info(s->bundle)->serial);
		pipeline_set_bundle(&s->pl, s->bundle);
	}
	free((void *)trust.pubkey);
}

static void session_rx(struct port *port, const struct port_frame *fr, void *ctx)
{
	struct session *s = ctx;

	/* Replay judges a capture on its own timestamps; live traffic on the monotonic clock. */
	pipeline_frame(&s->pl, port->link, fr->data, fr->caplen, fr->wirelen,
		       s->live ? loop_now_ms() : fr->ts_us / 1000);
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* End every flow, print totals where they belong, release everything. */
static int session_finish(struct session *s, double seconds)
{
	if (s->live)
		s->rep.port_valid = port_stats(&s->port, &s->rep.port) == 0;
	flow_end_all(s->pl.flows);
	report_totals(s->opts->flows ? stderr : stdout, &s->rep, &s->pl, seconds);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (!s->io_error)
			log_err("cannot write to standard output: %s", strerror(errno));
		s->io_error = 1;
	}
	port_close(&s->port);
	pipeline_uninit(&s->pl);
	bundle_close(s->bundle);
	s->bundle = NULL;
	report_free(&s->rep);
	return s->io_error ? 1 : 0;
}

static int cmd_replay(int argc, char **argv)
{
	struct run_opts opts;
	struct session *s;
	struct port_config pc = { 0 };
	double t0;
	int first, n, ret;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc - 1) {
		log_err("replay needs exactly one capture file (try: townguard help)");
		return 2;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->opts = &opts;
	pc.name = argv[first];
	pc.filter = opts.cfg.capture.filter;
	if (port_open(&s->port, "pcap-file", &pc) < 0) {
		free(s);
		return 1;
	}
	if (pipeline_init(&s->pl, &opts.cfg, 0, session_flow_end, session_hit, s) < 0) {
		port_close(&s->port);
		free(s);
		return 1;
	}
	if (opts.bundle && session_bundle(s, opts.bundle) < 0) {
		session_finish(s, 0);
		free(s);
		return 1;
	}
	t0 = mono_seconds();
	while ((n = port_rx_burst(&s->port, session_rx, s, 256)) > 0)
		;
	ret = session_finish(s, mono_seconds() - t0);
	if (n != -ENODATA)
		ret = 1;
	free(s);
	return ret;
}

/* ----------------------------------------------------------------- capture */

static struct loop *signal_loop;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_loop)
		loop_stop(signal_loop);
}

static void capture_readable(struct loop_fd *lfd, unsigned int events)
{
	struct session *s = container_of(lfd, struct session, port_fd);
	int n;

	(void)events;
	n = port_rx_burst(&s->port, session_rx, s, CONFIG_PCAP_RX_BURST);
	if (n < 0) {
		log_err("%s: capture stopped: %s", s->port.name, strerror(-n));
		s->io_error = 1;
		loop_stop(s->loop);
	}
}

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Once a second: end idle flows even when no frame arrives, and follow the
 * wall clock (SNTP may step it) for the times written in reports.
 */
static void capture_tick(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, tick);

	s->pl.epoch_offset_ms = (int64_t)realtime_ms() - (int64_t)loop_now_ms();
	pipeline_tick(&s->pl, loop_now_ms());
	loop_timer_set(s->loop, &s->tick, 1000);
}

static void capture_stop(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, stop);

	loop_stop(s->loop);
}

static int cmd_capture(int argc, char **argv)
{
	struct run_opts opts;
	struct port_config pc;
	struct sigaction sa;
	struct session *s;
	double t0;
	int first, ret = 1;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first < argc - 1) {
		log_err("capture takes at most one interface");
		return 2;
	}
	/* The argument, else [capture] interface, else the board's mirror port. */
	if (first == argc - 1 || !opts.cfg.capture.interface[0])
		snprintf(opts.cfg.capture.interface, sizeof(opts.cfg.capture.interface), "%s",
			 first == argc - 1 ? argv[first] : board_info()->mirror_port);
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->opts = &opts;
	s->live = true;
	pc = (struct port_config){
		.name = opts.cfg.capture.interface,
		.filter = opts.cfg.capture.filter,
		.snaplen = opts.cfg.capture.snaplen,
		.buffer_kb = opts.cfg.capture.buffer_kb,
		.promiscuous = opts.cfg.capture.promiscuous,
		.immediate = opts.cfg.capture.immediate,
	};
	s->loop = loop_new();
	if (!s->loop)
		goto err_free;
	if (port_open(&s->port, "pcap", &pc) < 0)
		goto err_loop;
	if (pipeline_init(&s->pl, &opts.cfg, 0, session_flow_end, session_hit, s) < 0)
		goto err_port;
	if (opts.bundle && session_bundle(s, opts.bundle) < 0) {
		session_finish(s, 0);
		goto err_loop;
	}
	if (!opts.bundle)
		session_flash_bundle(s);

	s->pl.epoch_offset_ms = (int64_t)realtime_ms() - (int64_t)loop_now_ms();
	s->port_fd.fd = port_fd(&s->port);
	s->port_fd.cb = capture_readable;
	if (loop_fd_add(s->loop, &s->port_fd, LOOP_READ) < 0) {
		log_err("cannot watch %s: %s", s->port.name, strerror(errno));
		pipeline_uninit(&s->pl);
		goto err_port;
	}
	s->tick.cb = capture_tick;
	loop_timer_set(s->loop, &s->tick, 1000);
	if (opts.duration_s) {
		s->stop.cb = capture_stop;
		loop_timer_set(s->loop, &s->stop, (uint64_t)opts.duration_s * 1000u);
	}
	signal_loop = s->loop;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* Restart interrupted writes: a signal must not cut a flow record in half. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	t0 = mono_seconds();
	if (loop_run(s->loop) < 0)
		s->io_error = 1;
	signal_loop = NULL;
	loop_fd_del(s->loop, &s->port_fd);
	ret = session_finish(s, mono_seconds() - t0);
	loop_free(s->loop);
	free(s);
	return ret;

err_port:
	port_close(&s->port);
err_loop:
	loop_free(s->loop);
err_free:
	free(s);
	return ret;
}

/* ------------------------------------------------------------------ others */

static int cmd_config(int argc, char **argv)
{
	struct run_opts opts;
	int first;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	if (first != argc) {
		log_err("config takes no arguments besides options");
		return 2;
	}
	return config_write(&opts.cfg, stdout) < 0 ? 1 : 0;
}

/* Read a whole file (a candidate bundle) into memory. */
static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		log_err("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	for (;;) {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
			cap = cap ? cap * 2 : 1 << 20;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		log_err("cannot read %s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

static void print_bundle(const char *what, const struct bundle *b)
{
	const struct bundle_info *in = bundle_get_info(b);
	uint8_t sha[32];

	bundle_sha256(b, sha);
	printf("%s: region %s, serial %llu, created %llu, expires %llu, sha256 ", what, in->region,
	       (unsigned long long)in->serial, (unsigned long long)in->created,
	       (unsigned long long)in->expires);
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
	struct run_opts opts;
	struct store_trust trust;
	struct bundle *in_force = NULL, *fresh = NULL;
	const char *which = NULL, *action;
	char keypath[CONFIG_PATH_MAX + 16];
	uint8_t *data = NULL;
	size_t len = 0;
	enum bundle_err e;
	int first, ret = 1;

	if (parse_run_opts(argc, argv, &opts, &first) < 0)
		return 2;
	action = first < argc ? argv[first] : "";
	if (!((strcmp(action, "status") == 0 && first == argc - 1) ||
	      (strcmp(action, "install") == 0 && first == argc - 2))) {
		log_err("usage: townguard bundle status | install FILE  [-c CONFIG]");
		return 2;
	}
	if (load_trust(&opts.cfg, &trust, keypath, sizeof(keypath)) < 0) {
		log_err("no hub key at %s: cannot check bundles", keypath);
		return 1;
	}
	e = store_load(opts.cfg.gateway.data_dir, &trust, wall_s(), &in_force, &which);
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
	if (read_file(argv[first + 1], &data, &len) < 0)
		goto out;
	e = store_accept(opts.cfg.gateway.data_dir, &trust, in_force, data, len, wall_s(), &fresh);
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

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("townguard %s (board %s)\n", CONFIG_VERSION, board_info()->name);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "replay", "FILE [--flows]", cmd_replay,
	  "classify a pcap/pcapng capture; totals, and one JSON line per flow with --flows" },
	{ "capture", "[IFACE] [--flows] [--duration S]", cmd_capture,
	  "classify live traffic on an interface until SIGINT/SIGTERM or --duration" },
	{ "config", "[-c FILE]", cmd_config, "check a configuration and print every key" },
	{ "bundle", "status | install FILE", cmd_bundle,
	  "the blocklist on flash; install checks and persists a bundle or delta" },
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
	       "  -d, --duration S       capture: stop after S seconds\n"
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

/*
 * tg-pcapgen: writes townguard's own test captures.
 *
 * The project ships no third-party captures, so every pcap the tests and
 * benchmarks read is generated here. Output is a pure function of the
 * arguments: same arguments, byte-identical file. Timestamps start at
 * 2026-01-01T00:00:00Z and advance by fixed steps; the only "randomness" is
 * a splitmix64 stream (rng.h) from a fixed seed (demo) or --seed.
 *
 * The tool in layers: buf (bytes), out (the pcap file, the only libpcap
 * user), frame (Ethernet, IP, TCP, UDP and their checksums), the payloads
 * (dns, tls, ntp; tlsconv: TLS handshakes as conversations), then one file
 * per capture kind (demo, flows, garbage, office). This
 * file is the command line: one table of commands and one option parser for
 * all of them (as wireguard-tools' wg.c), so an option means the same thing
 * wherever it is accepted and --help comes from the same table.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "demo.h"
#include "flows.h"
#include "main.h"
#include "office.h"

void pg_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- options */

/*
 * Options, with the commands that take them. Parsed before dispatch so that
 * they may come anywhere on the line (GNU getopt permutes).
 */
#define OPT_SEED 's'
#define OPT_PPF 'k'
#define OPT_KIND 'K'
#define OPT_BLOCKED 'b'

static const struct option pg_opts[] = {
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "packets-per-flow", required_argument, NULL, OPT_PPF },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "blocked", required_argument, NULL, OPT_BLOCKED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || *v < min || *v > max)
		return -EINVAL;
	return 0;
}

static const char *const flow_kinds[] = {
	[FLOW_DNS] = "dns",
	[FLOW_SYN] = "syn",
	[FLOW_UDP] = "udp",
	[FLOW_GARBAGE] = "garbage",
};

/* ---------------------------------------------------------------- commands */

static int cmd_demo(char **argv, const struct flows_opts *o)
{
	(void)o;
	return demo_write(argv[0]);
}

static int cmd_flows(char **argv, const struct flows_opts *o)
{
	uint64_t n;

	if (parse_u64(argv[0], 1, FLOWS_MAX, &n)) {
		pg_err("bad count `%s' (want 1..%" PRIu64 ")", argv[0], FLOWS_MAX);
		return -EINVAL;
	}
	return flows_write(n, argv[1], o);
}

/* `garbage N OUT` is `flows N OUT --kind garbage`. */
static int cmd_garbage(char **argv, const struct flows_opts *o)
{
	struct flows_opts g = *o;

	g.kind = FLOW_GARBAGE;
	return cmd_flows(argv, &g);
}

static int cmd_office(char **argv, const struct flows_opts *o)
{
	return office_write(argv[0], o->seed, o->blocked);
}

struct pg_cmd {
	const char *name;
	int nargs;        /* positional arguments after the name */
	const char *opts; /* option letters it accepts */
	/* argv: the positional arguments; o: the options parsed */
	int (*run)(char **argv, const struct flows_opts *o);
	const char *synopsis;
	const char *help;
};

static const struct pg_cmd pg_cmds[] = {
	{ "demo", 1, "", cmd_demo, "OUT.pcap",
	  "a small office mix: DNS, HTTP, TLS, YouTube, ping, NTP, VLAN, IPv6" },
	{ "flows", 2, "skK", cmd_flows,
	  "N OUT.pcap [--kind dns|syn|udp|garbage] [--seed S] [--packets-per-flow K]",
	  "N distinct flows of K packets each (seed default 1), by kind:\n"
	  "        dns (default): DNS query, answer, ... over UDP; K default 2\n"
	  "        syn: a TCP SYN nobody answers, K-1 retransmissions; K default 1\n"
	  "        udp: K datagrams of 32 random bytes to an unknown port; K default 1\n"
	  "        garbage: N x K malformed frames (see garbage); K default 1\n"
	  "      nDPI decides a dns flow at once and never a syn or udp one\n"
	  "      (a port scan, a flood)" },
	{ "office", 1, "sb", cmd_office, "OUT.pcap [--seed S] [--blocked FILE]",
	  "an office of 200 hosts over 10 minutes (seed default 1): browsing\n"
	  "      (DNS, then TLS or HTTP to a few hundred names by Zipf popularity),\n"
	  "      DNS-only lookups, NTP, 4 video streams, 3 devices joining with\n"
	  "      DHCP, and lookups and connections to the first 4 names of the\n"
	  "      domains feed FILE (default: 4 names under .example)" },
	{ "garbage", 2, "s", cmd_garbage, "N OUT.pcap [--seed S]",
	  "N frames a decoder must survive (same as flows --kind garbage):\n"
	  "      random bytes (1..1600 long), truncated Ethernet/IPv4/IPv6/TCP/UDP,\n"
	  "      absurd IPv4/IPv6/UDP lengths, IPv4 IHL < 5, bad TCP data offsets,\n"
	  "      deep VLAN stacks, IPv6 extension-header chains, fragments;\n"
	  "      random, multicast and zero source MACs, broadcast destinations" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(pg_cmds); i++)
		fprintf(f, "  " PROG " %s %s\n      %s\n", pg_cmds[i].name, pg_cmds[i].synopsis,
			pg_cmds[i].help);
	fprintf(f, "  " PROG " --help\n"
		   "Same arguments, byte-identical file. Errors exit 2.\n");
}

static const char *opt_name(int opt)
{
	for (const struct option *o = pg_opts; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static int parse_opt(int opt, const char *arg, struct flows_opts *fo)
{
	switch (opt) {
	case OPT_SEED:
		if (parse_u64(arg, 0, UINT64_MAX, &fo->seed)) {
			pg_err("bad seed `%s' (want an unsigned integer)", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_PPF:
		if (parse_u64(arg, 1, FLOW_PPF_MAX, &fo->ppf)) {
			pg_err("bad packets per flow `%s' (want 1..%u)", arg, FLOW_PPF_MAX);
			return -EINVAL;
		}
		return 0;
	case OPT_BLOCKED:
		fo->blocked = arg;
		return 0;
	case OPT_KIND:
		for (size_t i = 0; i < ARRAY_SIZE(flow_kinds); i++) {
			if (!strcmp(arg, flow_kinds[i])) {
				fo->kind = (enum flow_kind)i;
				return 0;
			}
		}
		pg_err("bad flow kind `%s' (want dns, syn, udp or garbage)", arg);
		return -EINVAL;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct flows_opts fo = { .seed = 1, .kind = FLOW_DNS };
	const struct pg_cmd *cmd = NULL;
	char seen[8] = "";
	int opt;

	while ((opt = getopt_long(argc, argv, "h", pg_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == '?' || parse_opt(opt, optarg, &fo))
			return 2;
		if (!strchr(seen, opt) && strlen(seen) < sizeof(seen) - 1)
			seen[strlen(seen)] = (char)opt;
	}
	argc -= optind;
	argv += optind;

	for (size_t i = 0; argc >= 1 && i < ARRAY_SIZE(pg_cmds); i++)
		if (!strcmp(argv[0], pg_cmds[i].name))
			cmd = &pg_cmds[i];
	if (!cmd) {
		if (argc >= 1)
			pg_err("unknown command `%s'", argv[0]);
		usage(stderr);
		return 2;
	}
	for (const char *o = seen; *o; o++) {
		if (!strchr(cmd->opts, *o)) {
			pg_err("%s: takes no option --%s (see --help)", cmd->name, opt_name(*o));
			return 2;
		}
	}
	if (argc - 1 != cmd->nargs) {
		pg_err("%s: want %s", cmd->name, cmd->synopsis);
		return 2;
	}
	return cmd->run(argv + 1, &fo) ? 2 : 0;
}

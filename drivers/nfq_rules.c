/*
 * The NFQUEUE driver's kernel plumbing (nfq_rules.h): bridge, br_netfilter
 * sysctls, and the iptables chain, loaded by running iptables-restore. The
 * programs run with posix_spawn() and a clean signal mask (the loop blocks
 * its signals for a signalfd), their output is kept for the log line that
 * says why they failed. This runs at open and close only, never on the
 * packet path, so blocking on a child here is acceptable.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_MODULE "nfq"
#include "core/common.h"
#include "core/log.h"
#include "link.h"
#include "nfq_rules.h"

#define NFQ_CHAIN "TOWNGUARD"

/* ------------------------------------------------------------ names, sysctls */

/* Interface names go into iptables-restore input: keep them to plain characters. */
static int nfq_ifname_ok(const char *what, const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= IFNAMSIZ)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			goto bad;
	}
	return 0;
bad:
	log_err("bad %s name \"%s\" (1 to %d of a-z A-Z 0-9 - _ . @)", what, name ? name : "",
		IFNAMSIZ - 1);
	return -EINVAL;
}

int nfq_rules_init(struct nfq_rules *r, const struct inline_config *cfg)
{
	int ret;

	ret = nfq_ifname_ok("bridge", cfg->bridge);
	for (int i = 0; i < 2 && ret == 0; i++)
		ret = nfq_ifname_ok("port", cfg->ports[i]);
	if (ret < 0)
		return ret;
	if (strcmp(cfg->ports[0], cfg->ports[1]) == 0 || strcmp(cfg->ports[0], cfg->bridge) == 0 ||
	    strcmp(cfg->ports[1], cfg->bridge) == 0) {
		log_err("bridge %s and its ports %s, %s must be three interfaces", cfg->bridge,
			cfg->ports[0], cfg->ports[1]);
		return -EINVAL;
	}
	memset(r, 0, sizeof(*r));
	r->queue = cfg->queue;
	snprintf(r->bridge, sizeof(r->bridge), "%s", cfg->bridge);
	for (int i = 0; i < 2; i++)
		snprintf(r->ports[i], sizeof(r->ports[i]), "%s", cfg->ports[i]);
	return 0;
}

static int nfq_write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	int ret = 0;

	if (fd < 0) {
		ret = -errno;
		if (errno == ENOENT)
			log_err("%s is missing: no br_netfilter in this kernel "
				"(CONFIG_BRIDGE_NETFILTER, or modprobe br_netfilter)", path);
		else
			log_err("cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (write(fd, value, len) != (ssize_t)len) {
		ret = errno ? -errno : -EIO;
		log_err("cannot write %s to %s: %s", value, path, strerror(-ret));
	}
	close(fd);
	return ret;
}

/*
 * Sysctls that only skip work, set once the chain is in (a modular kernel
 * has loaded conntrack for it by then) and put back when it goes (they
 * hold for the whole network namespace):
 * - conntrack's own TCP/UDP checksum test: on a port whose driver did not
 *   check the checksum (the lab's veths with offloads off, NICs without
 *   receive checksum offload) it sums every forwarded packet in software,
 *   a tenth of the chain's cost per packet (docs/benchmarks.md). A corrupt
 *   packet is now tracked instead of marked INVALID, and the receiver drops
 *   it as before; enforcement does not depend on it (an offloaded
 *   connection keeps its mark, a new conntrack entry goes to the queue).
 * - br_netfilter's ARP hook: no rule looks at ARP (only IP is judged).
 */
static const struct {
	const char *path, *value;
} nfq_tunes[NFQ_TUNES] = {
	{ "/proc/sys/net/netfilter/nf_conntrack_checksum", "0" },
	{ "/proc/sys/net/bridge/bridge-nf-call-arptables", "0" },
};

static void nfq_tune_set(struct nfq_rules *r)
{
	for (size_t i = 0; i < NFQ_TUNES; i++) {
		char *old = r->tune_saved[i];
		int fd = open(nfq_tunes[i].path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, old, sizeof(r->tune_saved[i]) - 1) : -1;

		if (fd >= 0)
			close(fd);
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
		if (!old[0] || strcmp(old, nfq_tunes[i].value) == 0) {
			old[0] = '\0'; /* missing (logged below) or already so: nothing to put back */
			if (n <= 0)
				log_warn("cannot read %s: %s; left as it is", nfq_tunes[i].path,
					 fd < 0 ? strerror(errno) : "empty");
			continue;
		}
		if (nfq_write_sysctl(nfq_tunes[i].path, nfq_tunes[i].value) < 0)
			old[0] = '\0';
	}
}

static void nfq_tune_restore(struct nfq_rules *r)
{
	for (size_t i = 0; i < NFQ_TUNES; i++) {
		if (r->tune_saved[i][0])
			nfq_write_sysctl(nfq_tunes[i].path, r->tune_saved[i]);
		r->tune_saved[i][0] = '\0';
	}
}

/* ------------------------------------------------------------ iptables */

/*
 * Run a program with input on its stdin; its stdout and stderr land in out
 * (NUL-terminated, cut to outlen). The program is looked up in PATH, then in
 * /usr/sbin and /sbin, where iptables lives when PATH lacks the sbin
 * directories. Returns its exit status (128 + signal if killed) or -errno.
 */
static int nfq_run(const char *const argv[], const char *input, char *out, size_t outlen)
{
	static const char *const dirs[] = { NULL, "/usr/sbin/", "/sbin/" };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
	size_t used = 0;
	int ret, status;
	pid_t pid = -1;

	out[0] = '\0';
	/* A socket for stdin so that a program that exits early cannot SIGPIPE us. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
		return -errno;
	if (pipe2(outp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out_in;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	/* The loop blocks signals for its signalfd; the child gets a clean slate. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	ret = ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && ret == ENOENT; i++) {
		char path[64];

		if (!dirs[i]) {
			ret = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
			continue;
		}
		snprintf(path, sizeof(path), "%s%s", dirs[i], argv[0]);
		ret = posix_spawn(&pid, path, &fa, &attr, (char *const *)argv, environ);
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(in[1]);
	close(outp[1]);
	if (ret) {
		log_err("cannot run %s: %s", argv[0], strerror(ret));
		ret = -ret;
		goto out_pipe;
	}

	for (size_t left = input ? strlen(input) : 0; left;) {
		ssize_t n = send(in[0], input, left, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the program stopped reading; its status says why */
		input += n;
		left -= (size_t)n;
	}
	shutdown(in[0], SHUT_WR);
	for (;;) {
		char tmp[256];
		ssize_t n = read(outp[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t k = 0; k < n && used + 1 < outlen; k++)
			out[used++] = tmp[k] == '\n' ? ' ' : tmp[k];
	}
	out[used] = '\0';
	while (used && out[used - 1] == ' ')
		out[--used] = '\0';

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			log_err("cannot wait for %s: %s", argv[0], strerror(errno));
			goto out_pipe;
		}
	}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out_pipe:
	close(outp[0]);
out_in:
	close(in[0]);
	return ret;
}

static const char *nfq_ipt(int v6, bool restore)
{
	if (restore)
		return v6 ? "ip6tables-restore" : "iptables-restore";
	return v6 ? "ip6tables" : "iptables";
}

/* Feed rules to (ip6)tables-restore --noflush. Returns 0 or -EIO (logged). */
static int nfq_restore(int v6, const char *rules, bool quiet)
{
	const char *argv[] = { nfq_ipt(v6, true), "--wait=10", "--noflush", NULL };
	char out[512];
	int ret = nfq_run(argv, rules, out, sizeof(out));

	if (ret == 0)
		return 0;
	if (ret > 0) {
		if (!quiet)
			log_err("%s failed (status %d): %s", argv[0], ret, out);
		ret = -EIO;
	}
	return ret;
}

/*
 * The rules townguard appends to mangle FORWARD, in this order (nfq_rules.h
 * draws them). The first two are the offloaded flows' fast path: a packet of
 * a connection already accepted (connmark 1) that came from the wire (no
 * verdict mark) leaves the table after one rule, without the jump and the
 * chain's tests (perf: the chain was a fifth of netfilter's time per
 * packet, docs/benchmarks.md). Each excludes what the chain must still see:
 * TCP SYNs (a new connection on old ports clears the mark) and UDP long
 * enough to be a QUIC client Initial. They need no interface test: only the
 * chain, on this bridge, sets bit 0x1 of a connmark. The last is the jump
 * for everything else. Returns the rule's iptables arguments in buf.
 */
enum { NFQ_FWD_TCP, NFQ_FWD_UDP, NFQ_FWD_JUMP, NFQ_FWD_RULES };

static const char *nfq_fwd_rule(const struct nfq_rules *r, int v6, int which, char *buf,
				size_t len)
{
	switch (which) {
	case NFQ_FWD_TCP:
		snprintf(buf, len,
			 "-p tcp ! --tcp-flags SYN SYN -m mark --mark 0x0/%#x -m connmark --mark %#x/%#x"
			 " -j ACCEPT", NFQ_MARK_MASK, NFQ_MARK_ACCEPT, NFQ_MARK_MASK);
		break;
	case NFQ_FWD_UDP:
		/* Below the QUIC Initial rule's floor (IP and UDP headers, 1200). */
		snprintf(buf, len,
			 "-p udp -m length --length 0:%s -m mark --mark 0x0/%#x -m connmark --mark %#x/%#x"
			 " -j ACCEPT", v6 ? "1247" : "1227", NFQ_MARK_MASK, NFQ_MARK_ACCEPT,
			 NFQ_MARK_MASK);
		break;
	default:
		snprintf(buf, len, "-i %s -o %s -m physdev --physdev-is-bridged -j " NFQ_CHAIN,
			 r->bridge, r->bridge);
		break;
	}
	return buf;
}

/* Is this FORWARD rule in table there? 1, 0, or -errno. */
static int nfq_rule_present(int v6, const char *table, const char *rule)
{
	const char *argv[32] = { nfq_ipt(v6, false), "-w", "10", "-t", table, "-C", "FORWARD" };
	size_t argc = 7;
	char words[256], *save = NULL, out[512];
	int ret;

	snprintf(words, sizeof(words), "%s", rule);
	for (char *w = strtok_r(words, " ", &save); w && argc + 1 < ARRAY_SIZE(argv);
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	ret = nfq_run(argv, NULL, out, sizeof(out));
	if (ret == 0)
		return 1;
	if (ret == 1)
		return 0;
	if (ret > 0) {
		log_err("%s -t %s -C FORWARD %s failed (status %d): %s", argv[0], table, rule, ret,
			out);
		ret = -EIO;
	}
	return ret;
}

/*
 * The jump to filter's reset chain. Only a connection offloaded as dropped
 * has anything to do there, and the connmark test comes before the physdev
 * match (an xtables match, run through nft_compat: the costliest test of
 * the jump), so that the packets of accepted connections leave the rule at
 * its first tests instead of running the match, the jump and the chain's
 * two rules (perf, docs/benchmarks.md). The old form (older firmware:
 * without the connmark test) is taken out when found.
 */
static const char *nfq_filter_jump(const struct nfq_rules *r, bool old, char *buf, size_t len)
{
	char ct[64] = "";

	if (!old)
		snprintf(ct, sizeof(ct), "-m connmark --mark %#x/%#x ", NFQ_MARK_DROP, NFQ_MARK_MASK);
	snprintf(buf, len, "-i %s -o %s %s-m physdev --physdev-is-bridged -j " NFQ_CHAIN, r->bridge,
		 r->bridge, ct);
	return buf;
}

/* Delete every copy of a filter FORWARD jump: the old form only, or both. */
static void nfq_filter_jump_remove(const struct nfq_rules *r, int v6, bool old_only)
{
	char rule[192], rules[256];

	for (int old = 1; old >= (old_only ? 1 : 0); old--) {
		nfq_filter_jump(r, old, rule, sizeof(rule));
		for (int tries = 0; tries < 8 && nfq_rule_present(v6, "filter", rule) == 1; tries++) {
			snprintf(rules, sizeof(rules), "*filter\n-D FORWARD %s\nCOMMIT\n", rule);
			if (nfq_restore(v6, rules, false) < 0)
				break;
		}
	}
}

/*
 * The kernel's reset for the later segments of a connection offloaded as
 * dropped: a client whose one reset from the gateway was lost resends its
 * segment, which never reaches the firmware again, and would wait for its
 * own timeout. REJECT is valid in table filter only, which comes after
 * mangle, so the mangle chain lets such a segment (TCP, drop connmark, not
 * a verdict coming back: mark 0) through to the filter chain, which resets
 * and drops it. Loaded first: without it the mangle chain keeps dropping.
 *
 * REJECT builds its reset for a bridged packet out of the port the packet
 * came in on, but first asks the routing table for a route to the sender
 * (ip_route_me_harder): the gateway's namespace has no address and no
 * route, so a device route over the bridge is added to table "default",
 * which is looked up only after "main" found nothing. Where IPv6 is
 * disabled there is no such route and the IPv6 segment is dropped unanswered.
 * Returns true when the filter chain is in place.
 */
static bool nfq_rules_install_reset(struct nfq_rules *r, int v6)
{
	const char *route[] = { "ip", v6 ? "-6" : "-4", "route", "replace", "default", "dev",
				r->bridge, "table", "default", NULL };
	char rules[512], out[256], jump[192];
	int ret;

	snprintf(rules, sizeof(rules),
		 "*filter\n"
		 ":" NFQ_CHAIN " - [0:0]\n"
		 "-F " NFQ_CHAIN "\n"
		 "-A " NFQ_CHAIN " -p tcp -m connmark --mark %#x/%#x -j REJECT --reject-with tcp-reset\n"
		 "-A " NFQ_CHAIN " -m connmark --mark %#x/%#x -j DROP\n"
		 "COMMIT\n",
		 NFQ_MARK_DROP, NFQ_MARK_MASK, NFQ_MARK_DROP, NFQ_MARK_MASK);
	ret = nfq_restore(v6, rules, true);
	if (ret == 0)
		nfq_filter_jump_remove(r, v6, true);
	nfq_filter_jump(r, false, jump, sizeof(jump));
	if (ret == 0 && nfq_rule_present(v6, "filter", jump) == 0) {
		/* First in filter FORWARD: a deciding rule, before any ACCEPT. */
		snprintf(rules, sizeof(rules), "*filter\n-I FORWARD 1 %s\nCOMMIT\n", jump);
		ret = nfq_restore(v6, rules, true);
	}
	if (ret < 0) {
		log_warn("%s: no REJECT chain in table filter: the resent segments of a blocked "
			 "TCP connection are dropped unanswered", nfq_ipt(v6, false));
		return false;
	}
	ret = nfq_run(route, NULL, out, sizeof(out));
	if (ret != 0)
		log_info("no IPv%d route over %s (%s): the kernel cannot reset the resent "
			 "segments of a blocked IPv%d connection, it drops them",
			 v6 ? 6 : 4, r->bridge, ret > 0 ? out : strerror(-ret), v6 ? 6 : 4);
	return true;
}

/* Delete every copy of townguard's FORWARD rules, should an older run have left some. */
static void nfq_fwd_remove(const struct nfq_rules *r, int v6)
{
	char rule[256], rules[320];

	for (int which = 0; which < NFQ_FWD_RULES; which++) {
		nfq_fwd_rule(r, v6, which, rule, sizeof(rule));
		for (int tries = 0; tries < 8 && nfq_rule_present(v6, "mangle", rule) == 1; tries++) {
			snprintf(rules, sizeof(rules), "*mangle\n-D FORWARD %s\nCOMMIT\n", rule);
			if (nfq_restore(v6, rules, false) < 0)
				break;
		}
	}
}

static int nfq_rules_install_one(struct nfq_rules *r, int v6)
{
	bool reset = nfq_rules_install_reset(r, v6);
	char rules[1536];
	int ret;

	snprintf(rules, sizeof(rules),
		 "*mangle\n"
		 ":" NFQ_CHAIN " - [0:0]\n"
		 "-F " NFQ_CHAIN "\n"
		 /*
		  * A SYN opens a new connection, and the verdict of the old one on
		  * the same ports must not stick to it: when the gateway reset a
		  * blocked connection, conntrack never saw the reset (it was
		  * injected), keeps the entry ESTABLISHED with its drop mark and
		  * treats a new SYN on it as a resync of the same entry. So a SYN
		  * (first pass, no verdict mark yet) clears the connection's mark
		  * and is queued: the firmware judges the new connection afresh.
		  */
		 "-A " NFQ_CHAIN " -p tcp --tcp-flags SYN,ACK SYN -m mark --mark 0x0/%#x"
		 " -j CONNMARK --set-xmark 0x0/%#x\n"
		 "-A " NFQ_CHAIN " -m mark ! --mark 0x0/%#x -j CONNMARK --save-mark --mask %#x\n"
		 "-A " NFQ_CHAIN " -m connmark --mark %#x/%#x -j ACCEPT\n"
		 "%s" /* nfq_rules_install_reset(): to filter's REJECT */
		 "-A " NFQ_CHAIN " -m connmark --mark %#x/%#x -j DROP\n"
		 "-A " NFQ_CHAIN " -m mark --mark %#x/%#x -j ACCEPT\n"
		 "-A " NFQ_CHAIN " -m mark --mark %#x/%#x -j DROP\n"
		 "-A " NFQ_CHAIN " -j NFQUEUE --queue-num %u --queue-bypass\n"
		 "COMMIT\n",
		 NFQ_MARK_MASK, NFQ_MARK_MASK, NFQ_MARK_MASK, NFQ_MARK_MASK, NFQ_MARK_ACCEPT,
		 NFQ_MARK_MASK,
		 reset ? "-A " NFQ_CHAIN " -p tcp -m mark --mark 0x0/0x3 -m connmark --mark 0x2/0x3"
			 " -j RETURN\n" : "",
		 NFQ_MARK_DROP,
		 NFQ_MARK_MASK, NFQ_MARK_ACCEPT, NFQ_MARK_MASK, NFQ_MARK_DROP, NFQ_MARK_MASK,
		 r->queue);
	ret = nfq_restore(v6, rules, false);
	if (ret < 0)
		return ret;
	/*
	 * The same for QUIC, which has no SYN: a datagram of at least 1200 bytes
	 * of payload whose first byte has the long-header and fixed bits (a
	 * client Initial is padded so, RFC 9000 14.1; IPv6: no extension
	 * headers). A drop mark on a blocked QUIC flow would otherwise hold
	 * every new connection from the same port until conntrack's UDP timeout;
	 * the firmware tells a new connection id from the old (packet/flow.c).
	 * Inserted on its own: a kernel without xt_u32 still gets the chain.
	 */
	snprintf(rules, sizeof(rules),
		 "*mangle\n"
		 "-I " NFQ_CHAIN " 1 -p udp -m length --length %s -m u32 --u32 \"%s\""
		 " -m mark --mark 0x0/%#x -j CONNMARK --set-xmark 0x0/%#x\n"
		 "COMMIT\n",
		 v6 ? "1248:65535" : "1228:65535", /* IP and UDP headers, 1200 */
		 v6 ? "48>>24&0xC0=0xC0" : "0>>22&0x3C@8>>24&0xC0=0xC0", /* first payload byte */
		 NFQ_MARK_MASK, NFQ_MARK_MASK);
	if (nfq_restore(v6, rules, true) < 0)
		log_warn("%s: no QUIC Initial rule (xt_u32 or xt_length missing?): a new QUIC "
			 "connection on the ports of a blocked one is dropped until conntrack forgets it",
			 nfq_ipt(v6, false));

	/*
	 * The FORWARD rules go in together and in order, after whatever other
	 * rules the table has (MSS clamping... still sees every packet): any
	 * left by an earlier run are taken out first, so that a fast-path rule
	 * never lands behind the jump.
	 */
	nfq_fwd_remove(r, v6);
	{
		char rule[256];
		size_t used = (size_t)snprintf(rules, sizeof(rules), "*mangle\n");

		for (int which = 0; which < NFQ_FWD_RULES && used < sizeof(rules); which++)
			used += (size_t)snprintf(rules + used, sizeof(rules) - used, "-A FORWARD %s\n",
						 nfq_fwd_rule(r, v6, which, rule, sizeof(rule)));
		if (used < sizeof(rules))
			snprintf(rules + used, sizeof(rules) - used, "COMMIT\n");
	}
	return nfq_restore(v6, rules, false);
}

static void nfq_rules_remove_one(struct nfq_rules *r, int v6)
{
	nfq_fwd_remove(r, v6);
	if (nfq_restore(v6, "*mangle\n-F " NFQ_CHAIN "\n-X " NFQ_CHAIN "\nCOMMIT\n", true) < 0)
		log_warn("%s: chain " NFQ_CHAIN " left in table mangle (still referenced?)",
			 nfq_ipt(v6, false));
	/* The reset chain of nfq_rules_install_reset(), after the mangle chain that feeds it. */
	nfq_filter_jump_remove(r, v6, false);
	nfq_restore(v6, "*filter\n-F " NFQ_CHAIN "\n-X " NFQ_CHAIN "\nCOMMIT\n", true);
	{
		const char *route[] = { "ip", v6 ? "-6" : "-4", "route", "del", "default", "dev",
					r->bridge, "table", "default", NULL };
		char out[256];

		nfq_run(route, NULL, out, sizeof(out));
	}
}

int nfq_rules_install(struct nfq_rules *r)
{
	int ret;

	for (int v6 = 0; v6 <= 1; v6++) {
		ret = nfq_rules_install_one(r, v6);
		if (ret < 0) {
			if (v6)
				nfq_rules_remove_one(r, 0);
			return ret;
		}
	}
	r->installed = true;
	nfq_tune_set(r);
	log_info("%s: bridged IPv4 and IPv6 go to queue %u (chain " NFQ_CHAIN " in mangle FORWARD)",
		 r->bridge, r->queue);
	return 0;
}

void nfq_rules_remove(struct nfq_rules *r)
{
	if (!r->installed)
		return;
	nfq_rules_remove_one(r, 0);
	nfq_rules_remove_one(r, 1);
	nfq_tune_restore(r);
	r->installed = false;
}

/* ------------------------------------------------------------ queue counters */

bool nfq_rules_queue_drops(uint16_t queue, uint64_t *dropped)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	unsigned int num, portid, total, mode, range, qdrop, udrop;
	bool found = false;
	char line[128];

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %u %u %u %u %u", &num, &portid, &total, &mode, &range, &qdrop,
			   &udrop) == 7 &&
		    num == queue) {
			*dropped = (uint64_t)qdrop + udrop;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* ------------------------------------------------------------ bridge */

void nfq_rules_bridge_remove(struct nfq_rules *r)
{
	if (!r->bridge_created)
		return;
	for (int i = 0; i < 2; i++)
		link_set_master(r->ports[i], NULL);
	if (link_delete(r->bridge) == 0)
		log_info("%s: bridge removed", r->bridge);
	r->bridge_created = false;
}

int nfq_rules_bridge_setup(struct nfq_rules *r)
{
	int ret;

	ret = link_bridge_add(r->bridge, &r->bridge_created);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 2; i++) {
		ret = link_set_master(r->ports[i], r->bridge);
		if (ret < 0)
			goto err;
		/*
		 * GRO on, segmentation off: an offloaded flow's burst crosses
		 * br_netfilter, conntrack and the rules once per coalesced frame,
		 * not once per segment, and leaves cut back to wire segments. A
		 * queued frame is segmented by the kernel before townguard sees it
		 * (no NFQA_CFG_F_GSO), so the queue still carries wire segments.
		 */
		if (link_set_offloads(r->ports[i], true) < 0)
			log_warn("%s: offloads stay as they were", r->ports[i]);
		ret = link_set_up(r->ports[i], false);
		if (ret < 0)
			goto err;
	}
	ret = link_set_up(r->bridge, false);
	if (ret < 0)
		goto err;
	{
		struct link_state st;

		/* Stands in for a destination MAC not learned yet (see nfq_mac_lookup() in nfq.c). */
		if (link_get(r->bridge, &st) == 0)
			memcpy(r->bridge_mac, st.mac, ETH_ALEN);
	}
	ret = nfq_write_sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
	if (ret < 0)
		goto err;
	ret = nfq_write_sysctl("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1");
	if (ret < 0)
		goto err;
	return 0;
err:
	nfq_rules_bridge_remove(r);
	return ret;
}

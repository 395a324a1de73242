/*
 * NFQUEUE driver: the kernel bridges, the firmware verdicts the packets of
 * undecided flows through libnl-nf (see nfq.h for the rules and verdicts).
 *
 * Setup goes bridge (link.c), br_netfilter sysctls, queue, rules, so that a
 * queue taken by another process stops us before the rules are touched. The
 * queue is bound, configured (copy mode, length) and given its fail-open
 * flag in one NFQNL_MSG_CONFIG message: the kernel applies it atomically, so
 * no packet is ever queued to us without fail-open. Packets that arrive
 * while setup still waits for an acknowledgement (rules left by a crashed
 * run) are accepted on the spot rather than lost.
 *
 * The packet path reads the socket with recv() into one buffer and parses
 * the attributes with libnl's nlmsg_parse(), without libnl objects: per
 * packet there is no allocation and no copy other than the one that puts
 * the Ethernet header in front of the IP packet. Verdicts go through one
 * reused nfnl_queue_msg per kind (with and without a mark).
 *
 * The driver learns which MAC address each IP address sits behind from the
 * queued packets themselves (source address + NFQA_HWADDR), in a small
 * table that forgets on collision; the learned MAC of the destination
 * address becomes the synthesized frame's destination.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/netfilter/queue.h>
#include <netlink/netfilter/queue_msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#define LOG_MODULE "nfq"
#include "core/common.h"
#include "core/log.h"
#include "core/siphash.h"
#include "link.h"
#include "nfq.h"

#define NFQ_CHAIN "TOWNGUARD"
/* Mark bits the chain owns, and the two decisions they carry. */
#define NFQ_MARK_MASK 0x3u
#define NFQ_MARK_ACCEPT 0x1u
#define NFQ_MARK_DROP 0x2u

/* Largest IP packet the kernel copies to us (NFQNL_MAX_COPY_RANGE). */
#define NFQ_COPY_RANGE 0xffffu
/* One queued packet's message: the packet, plus headers and attributes. */
#define NFQ_RXBUF_SIZE (NFQ_COPY_RANGE + 4096u)

/*
 * IP -> MAC table: 1024 entries (24 KiB) hold every host of a small office
 * and the upstream router many times over; a collision overwrites, and a
 * miss only means the bridge's MAC as destination in the synthesized header. The
 * hash is SipHash under a key chosen per open, so that hosts cannot aim
 * collisions at a known slot.
 */
#define NFQ_MAC_BITS 10
#define NFQ_MAC_SLOTS (1u << NFQ_MAC_BITS)

/*
 * The mark each recent packet arrived with, by packet id modulo the size,
 * so that an offload verdict keeps the mark bits other rules set. The
 * firmware decides within the burst, so a few hundred slots would do; a
 * verdict for an id no longer here sets the mark to 1 or 2 alone.
 */
#define NFQ_MARK_SLOTS 1024u

/* Setup messages answered within this time, or the kernel is considered stuck. */
#define NFQ_SETUP_TIMEOUT_S 5

struct nfq_mac_slot {
	uint32_t key[4];        /* IPv6 address, or IPv4 as ::ffff:a.b.c.d */
	uint8_t mac[ETH_ALEN];
	bool used;
};

struct nfq_mark_slot {
	uint32_t id;
	uint32_t mark;
};

struct nfq {
	struct nl_sock *sk;
	struct nfnl_queue *queue;
	struct nfnl_queue_msg *vmsg;       /* verdict without a mark */
	struct nfnl_queue_msg *vmsg_mark;  /* verdict with a mark (offload) */
	int pkt_fd;                        /* AF_PACKET socket for nfq_inject() */
	uint16_t queue_num;
	bool bridge_created;
	bool bound;
	bool rules_installed;
	char bridge[IFNAMSIZ];
	uint8_t bridge_mac[ETH_ALEN];
	char ports[2][IFNAMSIZ];
	uint8_t hash_key[16];
	uint32_t setup_accepted;           /* packets let through while setup waited */
	struct nfq_stats st;
	struct nfq_mark_slot marks[NFQ_MARK_SLOTS];
	struct nfq_mac_slot macs[NFQ_MAC_SLOTS];
	uint8_t *rxbuf;
	uint8_t frame[ETH_HLEN + NFQ_COPY_RANGE];
};

/* What nlmsg_parse() checks before the packet path reads an attribute. */
static const struct nla_policy nfq_policy[NFQA_MAX + 1] = {
	[NFQA_PACKET_HDR] = { .minlen = sizeof(struct nfqnl_msg_packet_hdr) },
	[NFQA_MARK] = { .type = NLA_U32 },
	[NFQA_IFINDEX_PHYSINDEV] = { .type = NLA_U32 },
	[NFQA_IFINDEX_PHYSOUTDEV] = { .type = NLA_U32 },
	[NFQA_HWADDR] = { .minlen = sizeof(struct nfqnl_msg_packet_hw) },
};

/* ------------------------------------------------------------ helpers */

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

/* Is the FORWARD -> TOWNGUARD jump of this bridge there? 1, 0, or -errno. */
static int nfq_jump_present(int v6, const char *bridge)
{
	const char *argv[] = { nfq_ipt(v6, false), "-w", "10", "-t", "mangle", "-C", "FORWARD",
			       "-i", bridge, "-o", bridge, "-m", "physdev",
			       "--physdev-is-bridged", "-j", NFQ_CHAIN, NULL };
	char out[512];
	int ret = nfq_run(argv, NULL, out, sizeof(out));

	if (ret == 0)
		return 1;
	if (ret == 1)
		return 0;
	if (ret > 0) {
		log_err("%s -C failed (status %d): %s", argv[0], ret, out);
		ret = -EIO;
	}
	return ret;
}

static int nfq_rules_install_one(struct nfq *q, int v6)
{
	char rules[1024];
	int ret;

	snprintf(rules, sizeof(rules),
		 "*mangle\n"
		 ":" NFQ_CHAIN " - [0:0]\n"
		 "-F " NFQ_CHAIN "\n"
		 "-A " NFQ_CHAIN " -m mark ! --mark 0x0/%#x -j CONNMARK --save-mark --mask %#x\n"
		 "-A " NFQ_CHAIN " -m connmark --mark %#x/%#x -j ACCEPT\n"
		 "-A " NFQ_CHAIN " -m connmark --mark %#x/%#x -j DROP\n"
		 "-A " NFQ_CHAIN " -m mark --mark %#x/%#x -j ACCEPT\n"
		 "-A " NFQ_CHAIN " -m mark --mark %#x/%#x -j DROP\n"
		 "-A " NFQ_CHAIN " -j NFQUEUE --queue-num %u --queue-bypass\n"
		 "COMMIT\n",
		 NFQ_MARK_MASK, NFQ_MARK_MASK, NFQ_MARK_ACCEPT, NFQ_MARK_MASK, NFQ_MARK_DROP,
		 NFQ_MARK_MASK, NFQ_MARK_ACCEPT, NFQ_MARK_MASK, NFQ_MARK_DROP, NFQ_MARK_MASK,
		 q->queue_num);
	ret = nfq_restore(v6, rules, false);
	if (ret < 0)
		return ret;

	ret = nfq_jump_present(v6, q->bridge);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	snprintf(rules, sizeof(rules),
		 "*mangle\n"
		 "-A FORWARD -i %s -o %s -m physdev --physdev-is-bridged -j " NFQ_CHAIN "\n"
		 "COMMIT\n",
		 q->bridge, q->bridge);
	return nfq_restore(v6, rules, false);
}

static void nfq_rules_remove_one(struct nfq *q, int v6)
{
	char rules[256];
	int tries = 0;

	/* Every copy, should an older run have left one. */
	while (tries++ < 8 && nfq_jump_present(v6, q->bridge) == 1) {
		snprintf(rules, sizeof(rules),
			 "*mangle\n"
			 "-D FORWARD -i %s -o %s -m physdev --physdev-is-bridged -j " NFQ_CHAIN "\n"
			 "COMMIT\n",
			 q->bridge, q->bridge);
		if (nfq_restore(v6, rules, false) < 0)
			break;
	}
	if (nfq_restore(v6, "*mangle\n-F " NFQ_CHAIN "\n-X " NFQ_CHAIN "\nCOMMIT\n", true) < 0)
		log_warn("%s: chain " NFQ_CHAIN " left in table mangle (still referenced?)",
			 nfq_ipt(v6, false));
}

static int nfq_rules_install(struct nfq *q)
{
	int ret;

	for (int v6 = 0; v6 <= 1; v6++) {
		ret = nfq_rules_install_one(q, v6);
		if (ret < 0) {
			if (v6)
				nfq_rules_remove_one(q, 0);
			return ret;
		}
	}
	q->rules_installed = true;
	log_info("%s: bridged IPv4 and IPv6 go to queue %u (chain " NFQ_CHAIN " in mangle FORWARD)",
		 q->bridge, q->queue_num);
	return 0;
}

static void nfq_rules_remove(struct nfq *q)
{
	if (!q->rules_installed)
		return;
	nfq_rules_remove_one(q, 0);
	nfq_rules_remove_one(q, 1);
	q->rules_installed = false;
}

/* ------------------------------------------------------------ bridge */

static void nfq_bridge_remove(struct nfq *q)
{
	if (!q->bridge_created)
		return;
	for (int i = 0; i < 2; i++)
		link_set_master(q->ports[i], NULL);
	if (link_delete(q->bridge) == 0)
		log_info("%s: bridge removed", q->bridge);
	q->bridge_created = false;
}

static int nfq_bridge_setup(struct nfq *q)
{
	int ret;

	ret = link_bridge_add(q->bridge, &q->bridge_created);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 2; i++) {
		ret = link_set_master(q->ports[i], q->bridge);
		if (ret < 0)
			goto err;
		/* The kernel segments before queueing anyway; this keeps injected and bridged frames wire-sized. */
		if (link_disable_offloads(q->ports[i]) < 0)
			log_warn("%s: offloads stay on", q->ports[i]);
		ret = link_set_up(q->ports[i], false);
		if (ret < 0)
			goto err;
	}
	ret = link_set_up(q->bridge, false);
	if (ret < 0)
		goto err;
	{
		struct link_state st;

		/* Stands in for a destination MAC not learned yet (see nfq_mac_lookup). */
		if (link_get(q->bridge, &st) == 0)
			memcpy(q->bridge_mac, st.mac, ETH_ALEN);
	}
	ret = nfq_write_sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
	if (ret < 0)
		goto err;
	ret = nfq_write_sysctl("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1");
	if (ret < 0)
		goto err;
	return 0;
err:
	nfq_bridge_remove(q);
	return ret;
}

/* ------------------------------------------------------------ queue socket */

static int nfq_send_verdict(struct nfq *q, struct nfnl_queue_msg *m, uint32_t id,
			    unsigned int verdict)
{
	int err;

	nfnl_queue_msg_set_packetid(m, id);
	nfnl_queue_msg_set_verdict(m, verdict);
	err = nfnl_queue_msg_send_verdict(q->sk, m);
	if (err < 0) {
		q->st.verdict_errors++;
		log_debug_rl("queue %u: verdict for packet %u not sent: %s", q->queue_num, id,
			     nl_geterror(err));
		return link_nl_errno(err);
	}
	return 0;
}

struct nfq_setup_wait {
	struct nfq *q;
	uint32_t seq;              /* of the request; answers to other messages are not ours */
	bool done;
	int error;
};

static int nfq_setup_ack(struct nl_msg *msg, void *arg)
{
	struct nfq_setup_wait *w = arg;

	if (nlmsg_hdr(msg)->nlmsg_seq != w->seq)
		return NL_OK;
	w->done = true;
	return NL_STOP;
}

static int nfq_setup_err(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nfq_setup_wait *w = arg;

	(void)nla;
	if (e->msg.nlmsg_seq != w->seq)
		return NL_SKIP; /* a refused verdict of nfq_setup_packet() */
	w->done = true;
	w->error = e->error;
	return NL_STOP;
}

/* A packet while setup waits (rules left by an earlier run): let it through. */
static int nfq_setup_packet(struct nl_msg *msg, void *arg)
{
	struct nfq_setup_wait *w = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[NFQA_MAX + 1];

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return NL_OK;
	if (nlmsg_parse(nlh, sizeof(struct nfgenmsg), tb, NFQA_MAX, nfq_policy) < 0 ||
	    !tb[NFQA_PACKET_HDR])
		return NL_OK;
	if (nfq_send_verdict(w->q, w->q->vmsg,
			     ntohl(((struct nfqnl_msg_packet_hdr *)nla_data(tb[NFQA_PACKET_HDR]))->packet_id),
			     NF_ACCEPT) == 0)
		w->q->setup_accepted++;
	return NL_OK;
}

/*
 * Send one setup request and wait for the kernel's answer. Returns 0 or the
 * kernel's -errno; consumes msg.
 */
static int nfq_request(struct nfq *q, struct nl_msg *msg)
{
	struct nfq_setup_wait w = { .q = q };
	struct nl_cb *cb, *sk_cb;
	int err;

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	err = nl_send_auto_complete(q->sk, msg);
	w.seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (err < 0)
		return link_nl_errno(err);
	sk_cb = nl_socket_get_cb(q->sk); /* a reference */
	cb = nl_cb_clone(sk_cb);
	nl_cb_put(sk_cb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nfq_setup_ack, &w);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nfq_setup_packet, &w);
	nl_cb_err(cb, NL_CB_CUSTOM, nfq_setup_err, &w);
	while (!w.done) {
		err = nl_recvmsgs_report(q->sk, cb);
		if (err == 0)
			err = -NLE_AGAIN; /* SO_RCVTIMEO ran out */
		if (err < 0 && !w.done)
			break;
	}
	nl_cb_put(cb);
	if (!w.done) {
		if (err == -NLE_AGAIN) {
			log_err("queue %u: no answer from the kernel in %d s", q->queue_num,
				NFQ_SETUP_TIMEOUT_S);
			return -ETIMEDOUT;
		}
		return link_nl_errno(err);
	}
	return w.error;
}

/* Bind the queue with its parameters and flags, all in one message. */
static int nfq_bind(struct nfq *q, uint32_t queue_len, bool fail_open)
{
	struct nl_msg *msg;
	int err;

	err = nfnl_queue_build_create_request(q->queue, &msg);
	if (err < 0)
		return link_nl_errno(err);
	if (nla_put_u32(msg, NFQA_CFG_FLAGS, htonl(fail_open ? NFQA_CFG_F_FAIL_OPEN : 0)) < 0 ||
	    nla_put_u32(msg, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN)) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	err = nfq_request(q, msg);
	if (err != -EOPNOTSUPP && err != -EINVAL)
		goto out;

	/* A kernel without the flag refuses the whole message, bind included. */
	log_warn("queue %u: the kernel refuses the fail-open flag (%s); packets are "
		 "dropped when the queue is full", q->queue_num, strerror(-err));
	err = nfnl_queue_build_create_request(q->queue, &msg);
	if (err < 0)
		return link_nl_errno(err);
	err = nfq_request(q, msg);
out:
	if (err == -EPERM || err == -EBUSY)
		log_err("queue %u is taken by another process", q->queue_num);
	else if (err < 0)
		log_err("cannot bind queue %u (length %u): %s", q->queue_num, queue_len,
			strerror(-err));
	return err;
}

static void nfq_socket_buffer(struct nfq *q)
{
	int fd = nl_socket_get_fd(q->sk);
	int want = CONFIG_NFQUEUE_RCVBUF_KB * 1024, got = 0;
	socklen_t len = sizeof(got);

	nl_socket_set_buffer_size(q->sk, want, 0);
	/* Above net.core.rmem_max only with CAP_NET_ADMIN, which setup needs anyway. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
		log_debug("queue %u: SO_RCVBUFFORCE: %s", q->queue_num, strerror(errno));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 && got / 2 < want)
		log_warn("queue %u: receive buffer %d KiB instead of %d KiB", q->queue_num,
			 got / 2048, CONFIG_NFQUEUE_RCVBUF_KB);
}

static int nfq_queue_open(struct nfq *q, const struct nfq_config *cfg)
{
	static const uint8_t pfs[] = { AF_INET, AF_INET6 };
	struct timeval tv = { .tv_sec = NFQ_SETUP_TIMEOUT_S };
	struct nl_msg *msg;
	int err;

	q->sk = nl_socket_alloc();
	q->queue = nfnl_queue_alloc();
	q->vmsg = nfnl_queue_msg_alloc();
	q->vmsg_mark = nfnl_queue_msg_alloc();
	if (!q->sk || !q->queue || !q->vmsg || !q->vmsg_mark)
		return -ENOMEM;
	/* Packets carry no sequence number of ours; verdicts want no acknowledgement. */
	nl_socket_disable_seq_check(q->sk);
	nl_socket_disable_auto_ack(q->sk);
	err = nfnl_connect(q->sk);
	if (err < 0) {
		log_err("cannot open a netfilter netlink socket: %s", nl_geterror(err));
		return link_nl_errno(err);
	}
	nfq_socket_buffer(q);
	setsockopt(nl_socket_get_fd(q->sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* Obsolete since Linux 3.8 (accepted and ignored); older kernels want them. */
	for (size_t i = 0; i < ARRAY_SIZE(pfs); i++) {
		if (nfnl_queue_build_pf_unbind(pfs[i], &msg) == 0)
			nfq_request(q, msg);
		if (nfnl_queue_build_pf_bind(pfs[i], &msg) == 0 && (err = nfq_request(q, msg)) < 0)
			log_debug("queue %u: pf bind %u: %s", cfg->queue, pfs[i], strerror(-err));
	}

	/* Verdicts may be needed as soon as the bind is through (see nfq_setup_packet()). */
	nfnl_queue_msg_set_group(q->vmsg, cfg->queue);
	nfnl_queue_msg_set_family(q->vmsg, AF_UNSPEC);
	nfnl_queue_msg_set_group(q->vmsg_mark, cfg->queue);
	nfnl_queue_msg_set_family(q->vmsg_mark, AF_UNSPEC);
	nfnl_queue_msg_set_mark(q->vmsg_mark, 0);

	nfnl_queue_set_group(q->queue, cfg->queue);
	nfnl_queue_set_copy_mode(q->queue, NFNL_QUEUE_COPY_PACKET);
	nfnl_queue_set_copy_range(q->queue, NFQ_COPY_RANGE);
	if (cfg->queue_len)
		nfnl_queue_set_maxlen(q->queue, cfg->queue_len);
	err = nfq_bind(q, cfg->queue_len, cfg->fail_open);
	q->bound = err == 0;
	return err;
}

static void nfq_queue_close(struct nfq *q)
{
	if (q->bound) {
		/* Closing the socket unbinds too; saying it keeps the kernel's log quiet. */
		int err = nfnl_queue_delete(q->sk, q->queue);

		if (err < 0)
			log_debug("queue %u: unbind: %s", q->queue_num, nl_geterror(err));
	}
	if (q->vmsg_mark)
		nfnl_queue_msg_put(q->vmsg_mark);
	if (q->vmsg)
		nfnl_queue_msg_put(q->vmsg);
	if (q->queue)
		nfnl_queue_put(q->queue);
	if (q->sk)
		nl_socket_free(q->sk);
	q->vmsg_mark = q->vmsg = NULL;
	q->queue = NULL;
	q->sk = NULL;
	q->bound = false;
}

/* ------------------------------------------------------------ open, close */

int nfq_open(struct nfq **out, const struct nfq_config *cfg)
{
	struct nfq *q;
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

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->pkt_fd = -1;
	q->queue_num = cfg->queue;
	snprintf(q->bridge, sizeof(q->bridge), "%s", cfg->bridge);
	for (int i = 0; i < 2; i++)
		snprintf(q->ports[i], sizeof(q->ports[i]), "%s", cfg->ports[i]);
	siphash_random_key(q->hash_key, "nfqueue MAC table");
	q->rxbuf = malloc(NFQ_RXBUF_SIZE);
	if (!q->rxbuf) {
		ret = -ENOMEM;
		goto err_free;
	}

	ret = nfq_bridge_setup(q);
	if (ret < 0)
		goto err_free;
	ret = nfq_queue_open(q, cfg);
	if (ret < 0)
		goto err_queue;
	if (cfg->install_rules) {
		ret = nfq_rules_install(q);
		if (ret < 0)
			goto err_queue;
	}
	q->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (q->pkt_fd < 0) {
		ret = -errno;
		log_err("cannot open a packet socket for injection: %s", strerror(errno));
		goto err_rules;
	}
	ret = nl_socket_set_nonblocking(q->sk);
	if (ret < 0) {
		log_err("cannot make the queue socket nonblocking: %s", nl_geterror(ret));
		ret = link_nl_errno(ret);
		goto err_pkt;
	}
	log_info("queue %u on bridge %s (%s, %s): length %u%s", q->queue_num, q->bridge,
		 q->ports[0], q->ports[1], cfg->queue_len,
		 cfg->fail_open ? ", fail-open" : "");
	if (q->setup_accepted)
		log_info("queue %u: %u packets that came during setup were accepted unseen",
			 q->queue_num, q->setup_accepted);
	*out = q;
	return 0;

err_pkt:
	close(q->pkt_fd);
err_rules:
	nfq_rules_remove(q);
err_queue:
	nfq_queue_close(q);
	nfq_bridge_remove(q);
err_free:
	free(q->rxbuf);
	free(q);
	return ret;
}

static void nfq_accept_all(struct nfq *q, const struct nfq_packet *pkt, void *ctx)
{
	(void)ctx;
	nfq_verdict(q, pkt->id, NFQ_ACCEPT);
}

void nfq_close(struct nfq *q)
{
	if (!q)
		return;
	/*
	 * Rules first: from then on the kernel forwards on its own. What is
	 * still queued is let through, where an unbind would drop it.
	 */
	nfq_rules_remove(q);
	nfq_rx_burst(q, nfq_accept_all, NULL, (int)NFQ_MARK_SLOTS);
	nfq_queue_close(q);
	if (q->pkt_fd >= 0)
		close(q->pkt_fd);
	nfq_bridge_remove(q);
	free(q->rxbuf);
	free(q);
}

int nfq_fd(struct nfq *q)
{
	return nl_socket_get_fd(q->sk);
}

/* ------------------------------------------------------------ packet path */

static uint32_t nfq_mac_hash(const struct nfq *q, const uint32_t key[4])
{
	return (uint32_t)siphash24(q->hash_key, key, 4 * sizeof(key[0])) & (NFQ_MAC_SLOTS - 1);
}

/* The address at off in the IP packet as a table key; false if the packet is too short. */
static bool nfq_ip_key(const uint8_t *ip, uint32_t len, bool v6, uint32_t off, uint32_t key[4])
{
	if (v6) {
		if (len < off + 16)
			return false;
		memcpy(key, ip + off, 16);
		return true;
	}
	if (len < off + 4)
		return false;
	key[0] = 0;
	key[1] = 0;
	key[2] = htonl(0xffff);
	memcpy(&key[3], ip + off, 4);
	return true;
}

static void nfq_mac_learn(struct nfq *q, const uint8_t *ip, uint32_t len, bool v6,
			  const uint8_t *mac)
{
	struct nfq_mac_slot *s;
	uint32_t key[4];

	/* Only a unicast source MAC says where a host is. */
	if (mac[0] & 1 || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return;
	if (!nfq_ip_key(ip, len, v6, v6 ? 8 : 12, key))
		return;
	s = &q->macs[nfq_mac_hash(q, key)];
	memcpy(s->key, key, sizeof(key));
	memcpy(s->mac, mac, ETH_ALEN);
	s->used = true;
}

/*
 * The destination MAC for the packet's destination address: the group MAC
 * of a multicast address (RFC 1112, RFC 2464), else the learned one, else
 * the bridge's own: an answer sent back to the sender then carries a valid
 * unicast source address (a broadcast source is refused by switches).
 */
static void nfq_mac_lookup(const struct nfq *q, const uint8_t *ip, uint32_t len, bool v6,
			   uint8_t *mac)
{
	const struct nfq_mac_slot *s;
	const uint8_t *a;
	uint32_t key[4];

	if (nfq_ip_key(ip, len, v6, v6 ? 24 : 16, key)) {
		a = (const uint8_t *)key;
		if (v6 && a[0] == 0xff) {
			mac[0] = 0x33;
			mac[1] = 0x33;
			memcpy(mac + 2, a + 12, 4);
			return;
		}
		if (!v6 && (a[12] & 0xf0) == 0xe0) {
			mac[0] = 0x01;
			mac[1] = 0x00;
			mac[2] = 0x5e;
			mac[3] = a[13] & 0x7f;
			mac[4] = a[14];
			mac[5] = a[15];
			return;
		}
		s = &q->macs[nfq_mac_hash(q, key)];
		if (s->used && memcmp(s->key, key, sizeof(key)) == 0) {
			memcpy(mac, s->mac, ETH_ALEN);
			return;
		}
	}
	memcpy(mac, q->bridge_mac, ETH_ALEN);
}

/* One NFQNL_MSG_PACKET: build the frame, hand it over. Returns 1 if delivered. */
static int nfq_handle_packet(struct nfq *q, struct nlmsghdr *nlh, nfq_rx_fn fn, void *ctx)
{
	static const uint8_t no_mac[ETH_ALEN];
	struct nlattr *tb[NFQA_MAX + 1];
	const struct nfqnl_msg_packet_hdr *ph;
	const uint8_t *src = no_mac, *ip;
	struct nfq_packet pkt = { 0 };
	uint32_t mark = 0, len;
	uint16_t ethertype;
	bool v6;

	if (nlmsg_parse(nlh, sizeof(struct nfgenmsg), tb, NFQA_MAX, nfq_policy) < 0 ||
	    !tb[NFQA_PACKET_HDR]) {
		log_debug_rl("queue %u: malformed packet message", q->queue_num);
		return 0;
	}
	ph = nla_data(tb[NFQA_PACKET_HDR]);
	pkt.id = ntohl(ph->packet_id);
	if (!tb[NFQA_PAYLOAD] || nla_len(tb[NFQA_PAYLOAD]) <= 0) {
		/* Nothing to look at (cannot happen in copy-packet mode): do not hold it. */
		nfq_send_verdict(q, q->vmsg, pkt.id, NF_ACCEPT);
		return 0;
	}
	ip = nla_data(tb[NFQA_PAYLOAD]);
	len = (uint32_t)nla_len(tb[NFQA_PAYLOAD]);
	if (len > NFQ_COPY_RANGE)
		len = NFQ_COPY_RANGE;
	if (tb[NFQA_MARK])
		mark = ntohl(nla_get_u32(tb[NFQA_MARK]));
	q->marks[pkt.id % NFQ_MARK_SLOTS] = (struct nfq_mark_slot){ .id = pkt.id, .mark = mark };
	if (tb[NFQA_IFINDEX_PHYSINDEV])
		pkt.in_ifindex = ntohl(nla_get_u32(tb[NFQA_IFINDEX_PHYSINDEV]));
	if (tb[NFQA_IFINDEX_PHYSOUTDEV])
		pkt.out_ifindex = ntohl(nla_get_u32(tb[NFQA_IFINDEX_PHYSOUTDEV]));
	if (tb[NFQA_HWADDR]) {
		const struct nfqnl_msg_packet_hw *hw = nla_data(tb[NFQA_HWADDR]);

		if (ntohs(hw->hw_addrlen) == ETH_ALEN)
			src = hw->hw_addr;
	}

	/* The IP version decides; the message's family only if there is no version nibble. */
	switch (ip[0] >> 4) {
	case 4:
		v6 = false;
		break;
	case 6:
		v6 = true;
		break;
	default:
		v6 = ((struct nfgenmsg *)nlmsg_data(nlh))->nfgen_family == AF_INET6;
		break;
	}
	ethertype = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);

	nfq_mac_learn(q, ip, len, v6, src);
	nfq_mac_lookup(q, ip, len, v6, q->frame);
	memcpy(q->frame + ETH_ALEN, src, ETH_ALEN);
	memcpy(q->frame + offsetof(struct ethhdr, h_proto), &ethertype, sizeof(ethertype));
	memcpy(q->frame + ETH_HLEN, ip, len);
	pkt.frame = q->frame;
	pkt.len = ETH_HLEN + len;

	q->st.packets++;
	fn(q, &pkt, ctx);
	return 1;
}

/* One datagram: packets, and errors the kernel returns for verdicts. */
static int nfq_handle_datagram(struct nfq *q, size_t len, nfq_rx_fn fn, void *ctx)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)q->rxbuf;
	int remaining = (int)len, n = 0;

	for (; nlmsg_ok(nlh, remaining); nlh = nlmsg_next(nlh, &remaining)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = nlmsg_data(nlh);

			if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error) {
				q->st.verdict_errors++;
				log_debug_rl("queue %u: the kernel refused a verdict: %s",
					     q->queue_num, strerror(-e->error));
			}
			continue;
		}
		if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
			n += nfq_handle_packet(q, nlh, fn, ctx);
	}
	return n;
}

int nfq_rx_burst(struct nfq *q, nfq_rx_fn fn, void *ctx, int max)
{
	static struct log_ratelimit overrun_rl;
	int fd = nl_socket_get_fd(q->sk);
	int n = 0;

	if (max <= 0)
		max = CONFIG_NFQUEUE_RX_BURST;
	/* At most 2 * max reads, so that a stream of verdict errors cannot hold the loop. */
	for (int reads = 0; n < max && reads < 2 * max; reads++) {
		ssize_t len = recv(fd, q->rxbuf, NFQ_RXBUF_SIZE, MSG_DONTWAIT | MSG_TRUNC);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* The socket overflowed: the kernel lost messages (accepted them, with fail-open). */
				q->st.rx_overruns++;
				log_msg_rl(&overrun_rl, LOG_LVL_WARN, LOG_MODULE,
					   "queue %u: socket overrun, packets passed the queue "
					   "(%llu overruns so far)",
					   q->queue_num, (unsigned long long)q->st.rx_overruns);
				continue;
			}
			log_err("queue %u: read failed: %s", q->queue_num, strerror(errno));
			return n ? n : -errno;
		}
		if ((size_t)len > NFQ_RXBUF_SIZE) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)q->rxbuf;

			/*
			 * Cannot happen with the copy range we ask for. Parse what
			 * fits: the payload (last) is then missing and the packet
			 * is accepted rather than left in the queue for good.
			 */
			log_debug_rl("queue %u: %zd-byte message cut to %u", q->queue_num, len,
				     NFQ_RXBUF_SIZE);
			len = NFQ_RXBUF_SIZE;
			if (nlh->nlmsg_len > NFQ_RXBUF_SIZE)
				nlh->nlmsg_len = NFQ_RXBUF_SIZE;
		}
		n += nfq_handle_datagram(q, (size_t)len, fn, ctx);
	}
	return n;
}

int nfq_verdict(struct nfq *q, uint32_t id, enum nfq_verdict v)
{
	const struct nfq_mark_slot *s = &q->marks[id % NFQ_MARK_SLOTS];
	uint32_t mark;
	int ret;

	switch (v) {
	case NFQ_ACCEPT:
		ret = nfq_send_verdict(q, q->vmsg, id, NF_ACCEPT);
		break;
	case NFQ_DROP:
		ret = nfq_send_verdict(q, q->vmsg, id, NF_DROP);
		break;
	case NFQ_OFFLOAD_ACCEPT:
	case NFQ_OFFLOAD_DROP:
		mark = s->id == id ? s->mark & ~NFQ_MARK_MASK : 0;
		mark |= v == NFQ_OFFLOAD_ACCEPT ? NFQ_MARK_ACCEPT : NFQ_MARK_DROP;
		nfnl_queue_msg_set_mark(q->vmsg_mark, mark);
		ret = nfq_send_verdict(q, q->vmsg_mark, id, NF_REPEAT);
		break;
	default:
		log_debug_rl("queue %u: unknown verdict %d for packet %u", q->queue_num, (int)v, id);
		return -EINVAL;
	}
	if (ret == 0)
		q->st.verdicts[v]++;
	return ret;
}

int nfq_inject(struct nfq *q, uint32_t ifindex, const uint8_t *frame, uint32_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)ifindex,
		.sll_halen = ETH_ALEN,
	};

	if (len < ETH_HLEN || len > ETH_HLEN + NFQ_COPY_RANGE || !ifindex) {
		q->st.inject_errors++;
		return -EINVAL;
	}
	memcpy(&sll.sll_protocol, frame + offsetof(struct ethhdr, h_proto), sizeof(sll.sll_protocol));
	memcpy(sll.sll_addr, frame, ETH_ALEN);
	if (sendto(q->pkt_fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int ret = -errno;

		q->st.inject_errors++;
		log_debug_rl("queue %u: cannot send %u bytes out of ifindex %u: %s", q->queue_num,
			     len, ifindex, strerror(errno));
		return ret;
	}
	q->st.injected++;
	return 0;
}

/* The kernel's drop counters of our queue, from its proc file; false if not found. */
static bool nfq_kernel_drops(uint16_t queue, uint64_t *dropped)
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

void nfq_get_stats(const struct nfq *q, struct nfq_stats *st)
{
	uint64_t kernel = 0;

	*st = q->st;
	nfq_kernel_drops(q->queue_num, &kernel);
	st->queue_dropped = kernel + q->st.rx_overruns;
}

/*
 * NFQUEUE inline driver ("nfqueue", core/inline.h): the kernel bridges, the
 * firmware verdicts the packets of undecided flows through libnl-nf. The
 * bridge, br_netfilter and the iptables chain are nfq_rules.c's; this file
 * is the queue: bind, receive, verdicts, injection.
 *
 * INLINE_OFFLOAD_* verdicts are NF_REPEAT with the mark set (the packet's
 * other mark bits kept): the packet goes through the mangle FORWARD chain
 * again, its mark is saved on the connection and the connmark rule accepts
 * or drops it (nfq_rules.h). INLINE_ACCEPT / INLINE_DROP decide this packet
 * only (the next one of the flow is queued again). The kernel keeps a
 * conntrack entry only for a connection whose first packet got through, so
 * INLINE_OFFLOAD_DROP on the first packet (a SYN to a blocked address) drops
 * it in the kernel but cannot stick: the client's retransmissions are queued
 * again and need the same verdict again. From the second packet of a
 * connection on, both offloads stick. An accept offload given while its
 * packet is delivered goes another way, so that the flow's packets still
 * queued behind it are not overtaken (nfq_order.h): the packet gets a plain
 * accept, and the connection's mark is set through ctnetlink (nfq_ct.c) once
 * the socket is read empty; without ctnetlink it is NF_REPEAT as above.
 *
 * --queue-bypass and the queue's fail-open flag (NFQA_CFG_F_FAIL_OPEN, built
 * with libnl's message API since libnl has no setter) keep the office online
 * when the firmware is gone or too slow: the kernel accepts instead of
 * queueing.
 *
 * Setup goes bridge, br_netfilter sysctls, queue, rules, so that a queue
 * taken by another process stops us before the rules are touched. The queue
 * is bound, configured (copy mode, length) and given its fail-open flag in
 * one NFQNL_MSG_CONFIG message: the kernel applies it atomically, so no
 * packet is ever queued to us without fail-open. Packets that arrive while
 * setup still waits for an acknowledgement (rules left by a crashed run) are
 * accepted on the spot rather than lost.
 *
 * Packets larger than the MTU (GSO) are segmented by the kernel before they
 * are queued (NFQA_CFG_F_GSO is not set), and offloads are turned off on the
 * ports, so every queued packet is one wire-sized IP packet.
 *
 * The packet path reads the socket with recv() into one buffer and parses
 * the attributes with libnl's nlmsg_parse(), without libnl objects: per
 * packet there is no allocation and no copy other than the one that puts
 * the Ethernet header in front of the IP packet. Verdicts go through one
 * reused nfnl_queue_msg per kind (with and without a mark).
 *
 * Plain verdicts (accept or drop this packet) given while the packet is
 * being delivered are batched: a run of consecutive ids with the same
 * verdict leaves as one NFQNL_MSG_VERDICT_BATCH (which covers every queued
 * id up to the last) at the end of the burst, before an injection, before
 * any other verdict, and whenever the run breaks. A batch is only formed
 * while every packet delivered before the run has its verdict: once one is
 * held (delivered without a verdict, answered later), verdicts go one by
 * one until it is answered, so a batch can never decide a packet it did
 * not judge. Offload verdicts carry a per-packet mark and go one by one.
 *
 * Packets are delivered as Ethernet frames: the header is made of the source
 * MAC the kernel reports (NFQA_HWADDR) and the destination MAC learned for
 * the destination address from earlier queued packets (source address +
 * NFQA_HWADDR, in a small table that forgets on collision; the group MAC
 * for a multicast address, the bridge's own MAC if none is known yet), so
 * the pipeline and the enforcement builders see the same frames as in
 * bridge mode. Built answers leave a bridge port by an AF_PACKET socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
#include "core/inline.h"
#include "core/siphash.h"
#include "link.h"
#include "nfq_ct.h"
#include "nfq_mac.h"
#include "nfq_order.h"
#include "nfq_rules.h"

/* Largest IP packet the kernel copies to us (NFQNL_MAX_COPY_RANGE). */
#define NFQ_COPY_RANGE 0xffffu
/* One queued packet's message: the packet, plus headers and attributes. */
#define NFQ_RXBUF_SIZE (NFQ_COPY_RANGE + 4096u)

/*
 * The mark each recent packet arrived with, by packet id modulo the size,
 * so that an offload verdict keeps the mark bits other rules set. The
 * firmware decides within the burst, so a few hundred slots would do; a
 * verdict for an id no longer here sets the mark to 1 or 2 alone.
 */
#define NFQ_MARK_SLOTS 1024u

/* Setup messages answered within this time, or the kernel is considered stuck. */
#define NFQ_SETUP_TIMEOUT_S 5

struct nfq_mark_slot {
	uint32_t id;
	uint32_t mark;
};

struct nfq {
	struct inline_dev *dev;            /* what the rx callback is handed */
	struct nfq_rules kr;               /* bridge, sysctls, chain (nfq_rules.c) */
	struct nl_sock *sk;
	struct nfnl_queue *queue;
	struct nfnl_queue_msg *vmsg;       /* verdict without a mark */
	struct nfnl_queue_msg *vmsg_mark;  /* verdict with a mark (offload) */
	int pkt_fd;                        /* AF_PACKET socket for nfq_inject() */
	uint16_t queue_num;
	bool bound;
	uint32_t setup_accepted;           /* packets let through while setup waited */
	/* Verdict batching (see the top of the file). */
	uint32_t cur_id;                   /* the packet being delivered */
	uint32_t cur_len;                  /* its IP length (in frame, after the header) */
	bool cur_v6;
	bool in_delivery, cur_decided;
	uint32_t held;                     /* delivered, no verdict yet */
	uint32_t run_first, run_last;      /* the deferred run of plain verdicts */
	uint32_t run_n;
	unsigned int run_verdict;
	struct nfnl_queue_msg *vmsg_batch;
	uint64_t batches, batched;         /* batch messages, and the verdicts they carried */
	struct inline_stats st;
	struct nfq_mark_slot marks[NFQ_MARK_SLOTS];
	struct nfq_macs macs;
	struct nfq_order order;            /* accept offloads waiting for an empty socket */
	uint8_t *rxbuf;
	uint8_t frame[ETH_HLEN + NFQ_COPY_RANGE];
	struct nfq_ct *ct;                 /* offload marks taken back (nfq_ct.c), NULL if none */
};

/* What nlmsg_parse() checks before the packet path reads an attribute. */
static const struct nla_policy nfq_policy[NFQA_MAX + 1] = {
	[NFQA_PACKET_HDR] = { .minlen = sizeof(struct nfqnl_msg_packet_hdr) },
	[NFQA_MARK] = { .type = NLA_U32 },
	[NFQA_IFINDEX_PHYSINDEV] = { .type = NLA_U32 },
	[NFQA_IFINDEX_PHYSOUTDEV] = { .type = NLA_U32 },
	[NFQA_HWADDR] = { .minlen = sizeof(struct nfqnl_msg_packet_hw) },
};

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

/* Send the deferred run: one batch verdict, or a plain one for a run of one. */
static void nfq_flush_verdicts(struct nfq *q)
{
	int err;

	if (!q->run_n)
		return;
	if (q->run_n == 1) {
		nfq_send_verdict(q, q->vmsg, q->run_last, q->run_verdict);
	} else {
		nfnl_queue_msg_set_packetid(q->vmsg_batch, q->run_last);
		nfnl_queue_msg_set_verdict(q->vmsg_batch, q->run_verdict);
		err = nfnl_queue_msg_send_verdict_batch(q->sk, q->vmsg_batch);
		if (err < 0) {
			q->st.verdict_errors++;
			log_debug_rl("queue %u: batch verdict for packets %u-%u not sent: %s",
				     q->queue_num, q->run_first, q->run_last, nl_geterror(err));
		} else {
			q->batches++;
			q->batched += q->run_n;
		}
	}
	q->run_n = 0;
}

/* An offload verdict: the mark set, the packet once more through the chain (top of the file). */
static int nfq_send_offload(struct nfq *q, uint32_t id, uint32_t mark)
{
	nfq_flush_verdicts(q);
	nfnl_queue_msg_set_mark(q->vmsg_mark, mark);
	return nfq_send_verdict(q, q->vmsg_mark, id, NF_REPEAT);
}

/* Is a message waiting in the queue socket? (An error counts: the next read says which.) */
static bool nfq_socket_busy(struct nfq *q)
{
	char c;

	return recv(nl_socket_get_fd(q->sk), &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
	       (errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * Set the accept mark of the connections noted in q->order (nfq_order.h),
 * after the verdicts of the packets before. Unless forced, each only while
 * the socket is empty right before it (flushing the verdicts forwards
 * packets, and meanwhile the kernel may have queued more): the first time
 * it is not, the rest wait for the next burst.
 */
static void nfq_order_mark(struct nfq *q, bool forced)
{
	unsigned int i;

	nfq_flush_verdicts(q);
	for (i = 0; i < q->order.n; i++) {
		if (!forced && nfq_socket_busy(q))
			break;
		if (nfq_ct_accept(q->ct, &q->order.want[i]) < 0) {
			q->order.failed++;
			continue;
		}
		q->order.marked++;
		if (forced)
			q->order.forced++;
	}
	memmove(q->order.want, q->order.want + i, (q->order.n - i) * sizeof(q->order.want[0]));
	q->order.n -= i;
	if (!q->order.n)
		q->order.bursts = 0;
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

static int nfq_queue_open(struct nfq *q, const struct inline_config *cfg)
{
	static const uint8_t pfs[] = { AF_INET, AF_INET6 };
	struct timeval tv = { .tv_sec = NFQ_SETUP_TIMEOUT_S };
	struct nl_msg *msg;
	int err;

	q->sk = nl_socket_alloc();
	q->queue = nfnl_queue_alloc();
	q->vmsg = nfnl_queue_msg_alloc();
	q->vmsg_mark = nfnl_queue_msg_alloc();
	q->vmsg_batch = nfnl_queue_msg_alloc();
	if (!q->sk || !q->queue || !q->vmsg || !q->vmsg_mark || !q->vmsg_batch)
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
	nfnl_queue_msg_set_group(q->vmsg_batch, cfg->queue);
	nfnl_queue_msg_set_family(q->vmsg_batch, AF_UNSPEC);

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
	nfq_flush_verdicts(q);
	if (q->vmsg_batch)
		nfnl_queue_msg_put(q->vmsg_batch);
	if (q->vmsg_mark)
		nfnl_queue_msg_put(q->vmsg_mark);
	if (q->vmsg)
		nfnl_queue_msg_put(q->vmsg);
	if (q->queue)
		nfnl_queue_put(q->queue);
	if (q->sk)
		nl_socket_free(q->sk);
	q->vmsg_batch = q->vmsg_mark = q->vmsg = NULL;
	q->queue = NULL;
	q->sk = NULL;
	q->bound = false;
}

/* ------------------------------------------------------------ open, close */

static int nfq_open(struct inline_dev *dev, const struct inline_config *cfg)
{
	struct nfq *q;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	ret = nfq_rules_init(&q->kr, cfg);
	if (ret < 0)
		goto err_free;
	q->dev = dev;
	q->pkt_fd = -1;
	q->queue_num = cfg->queue;
	siphash_random_key(q->macs.hash_key, "nfqueue MAC table");
	q->rxbuf = malloc(NFQ_RXBUF_SIZE);
	if (!q->rxbuf) {
		ret = -ENOMEM;
		goto err_free;
	}

	ret = nfq_rules_bridge_setup(&q->kr);
	if (ret < 0)
		goto err_free;
	ret = nfq_queue_open(q, cfg);
	if (ret < 0)
		goto err_queue;
	if (cfg->install_rules) {
		ret = nfq_rules_install(&q->kr);
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
	log_info("queue %u on bridge %s (%s, %s): length %u%s", q->queue_num, q->kr.bridge,
		 q->kr.ports[0], q->kr.ports[1], cfg->queue_len,
		 cfg->fail_open ? ", fail-open" : "");
	if (q->setup_accepted)
		log_info("queue %u: %u packets that came during setup were accepted unseen",
			 q->queue_num, q->setup_accepted);
	q->ct = nfq_ct_open();
	dev->priv = q;
	return 0;

err_pkt:
	close(q->pkt_fd);
err_rules:
	nfq_rules_remove(&q->kr);
err_queue:
	nfq_queue_close(q);
	nfq_rules_bridge_remove(&q->kr);
err_free:
	free(q->rxbuf);
	free(q);
	return ret;
}

/* ------------------------------------------------------------ packet path */

/* One NFQNL_MSG_PACKET: build the frame, hand it over. Returns 1 if delivered. */
static int nfq_handle_packet(struct nfq *q, struct nlmsghdr *nlh, inline_rx_fn fn, void *ctx)
{
	static const uint8_t no_mac[ETH_ALEN];
	struct nlattr *tb[NFQA_MAX + 1];
	const struct nfqnl_msg_packet_hdr *ph;
	const uint8_t *src = no_mac, *ip;
	struct inline_packet pkt = { 0 };
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
		nfq_flush_verdicts(q);
		nfq_send_verdict(q, q->vmsg, pkt.id, NF_ACCEPT);
		return 0;
	}
	ip = nla_data(tb[NFQA_PAYLOAD]);
	len = (uint32_t)nla_len(tb[NFQA_PAYLOAD]);
	if (len > NFQ_COPY_RANGE)
		len = NFQ_COPY_RANGE;
	if (tb[NFQA_MARK])
		mark = ntohl(nla_get_u32(tb[NFQA_MARK]));
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
	q->marks[pkt.id % NFQ_MARK_SLOTS] = (struct nfq_mark_slot){
		.id = pkt.id, .mark = mark
	};

	nfq_mac_learn(&q->macs, ip, len, v6, src);
	nfq_mac_lookup(&q->macs, ip, len, v6, q->kr.bridge_mac, q->frame);
	memcpy(q->frame + ETH_ALEN, src, ETH_ALEN);
	memcpy(q->frame + offsetof(struct ethhdr, h_proto), &ethertype, sizeof(ethertype));
	memcpy(q->frame + ETH_HLEN, ip, len);
	pkt.frame = q->frame;
	pkt.len = ETH_HLEN + len;

	q->st.packets++;
	q->cur_id = pkt.id;
	q->cur_len = len;
	q->cur_v6 = v6;
	q->cur_decided = false;
	q->in_delivery = true;
	fn(q->dev, &pkt, ctx);
	q->in_delivery = false;
	if (!q->cur_decided)
		q->held++; /* answered later: no batch until it is */
	return 1;
}

/* One datagram: packets, and errors the kernel returns for verdicts. */
static int nfq_handle_datagram(struct nfq *q, size_t len, inline_rx_fn fn, void *ctx)
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

static int nfq_rx_burst(struct inline_dev *dev, inline_rx_fn fn, void *ctx, int max)
{
	static struct log_ratelimit overrun_rl;
	struct nfq *q = dev->priv;
	int fd = nl_socket_get_fd(q->sk);
	bool drained = false;
	int n = 0;

	if (max <= 0)
		max = CONFIG_NFQUEUE_RX_BURST;
	/* At most 2 * max reads, so that a stream of verdict errors cannot hold the loop. */
	for (int reads = 0; n < max && reads < 2 * max; reads++) {
		ssize_t len = recv(fd, q->rxbuf, NFQ_RXBUF_SIZE, MSG_DONTWAIT | MSG_TRUNC);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				drained = true;
				break;
			}
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
	nfq_flush_verdicts(q);
	/* Drained: nothing queued before a noted connection's mark is left unread (nfq_order.h). */
	if (q->order.n && (++q->order.bursts >= NFQ_ORDER_BURSTS || drained))
		nfq_order_mark(q, q->order.bursts >= NFQ_ORDER_BURSTS);
	return n;
}

/*
 * Defer a plain verdict into the run if that is safe (see the top of the
 * file); false: the caller sends it now.
 */
static bool nfq_defer_verdict(struct nfq *q, uint32_t id, unsigned int verdict)
{
	if (q->in_delivery && id == q->cur_id) {
		q->cur_decided = true;
	} else {
		/* A held packet's verdict: send what is deferred first, this one alone. */
		if (q->held)
			q->held--;
		nfq_flush_verdicts(q);
		return false;
	}
	if (q->held) {
		nfq_flush_verdicts(q);
		return false;
	}
	if (q->run_n && (verdict != q->run_verdict || id != q->run_last + 1))
		nfq_flush_verdicts(q);
	if (!q->run_n) {
		q->run_first = id;
		q->run_verdict = verdict;
	}
	q->run_last = id;
	q->run_n++;
	return true;
}

static int nfq_verdict(struct inline_dev *dev, uint32_t id, enum inline_verdict v)
{
	struct nfq *q = dev->priv;
	const struct nfq_mark_slot *s = &q->marks[id % NFQ_MARK_SLOTS];
	struct inline_tuple t;
	uint32_t mark;
	int ret;

	/* An accept offload of the packet being delivered: a plain accept now, the mark later. */
	if (v == INLINE_OFFLOAD_ACCEPT && q->ct && q->in_delivery && id == q->cur_id &&
	    nfq_order_tuple(q->frame + ETH_HLEN, q->cur_len, q->cur_v6, &t)) {
		if (!nfq_order_add(&q->order, &t)) {
			nfq_order_mark(q, true);
			nfq_order_add(&q->order, &t);
		}
		q->order.deferred++;
		ret = nfq_defer_verdict(q, id, NF_ACCEPT) ? 0 : nfq_send_verdict(q, q->vmsg, id, NF_ACCEPT);
		if (ret == 0)
			q->st.verdicts[v]++;
		return ret;
	}
	switch (v) {
	case INLINE_ACCEPT:
	case INLINE_DROP: {
		unsigned int nv = v == INLINE_ACCEPT ? NF_ACCEPT : NF_DROP;

		ret = nfq_defer_verdict(q, id, nv) ? 0 : nfq_send_verdict(q, q->vmsg, id, nv);
		break;
	}
	case INLINE_OFFLOAD_ACCEPT:
	case INLINE_OFFLOAD_DROP:
		/* The mark differs per packet: this one leaves alone, after the run. */
		mark = s->id == id ? s->mark & ~NFQ_MARK_MASK : 0;
		mark |= v == INLINE_OFFLOAD_ACCEPT ? NFQ_MARK_ACCEPT : NFQ_MARK_DROP;
		if (q->in_delivery && id == q->cur_id)
			q->cur_decided = true;
		else if (q->held)
			q->held--;
		ret = nfq_send_offload(q, id, mark);
		break;
	default:
		log_debug_rl("queue %u: unknown verdict %d for packet %u", q->queue_num, (int)v, id);
		return -EINVAL;
	}
	if (ret == 0)
		q->st.verdicts[v]++;
	return ret;
}

static int nfq_inject(struct inline_dev *dev, uint32_t ifindex, const uint8_t *frame, uint32_t len)
{
	struct nfq *q = dev->priv;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)ifindex,
		.sll_halen = ETH_ALEN,
	};

	if (len < ETH_HLEN || len > ETH_HLEN + NFQ_COPY_RANGE || !ifindex) {
		q->st.inject_errors++;
		return -EINVAL;
	}
	/* Packets accepted before this frame was built leave before it. */
	nfq_flush_verdicts(q);
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

static void nfq_get_stats(struct inline_dev *dev, struct inline_stats *st)
{
	const struct nfq *q = dev->priv;
	uint64_t kernel = 0;

	*st = q->st;
	nfq_rules_queue_drops(q->queue_num, &kernel);
	st->queue_dropped = kernel + q->st.rx_overruns;
}

/* ------------------------------------------------------------ close */

static void nfq_accept_all(struct inline_dev *dev, const struct inline_packet *pkt, void *ctx)
{
	(void)ctx;
	nfq_verdict(dev, pkt->id, INLINE_ACCEPT);
}

static int nfq_fd(struct inline_dev *dev)
{
	const struct nfq *q = dev->priv;

	return nl_socket_get_fd(q->sk);
}

static void nfq_close(struct inline_dev *dev)
{
	struct nfq *q = dev->priv;

	if (!q)
		return;
	/*
	 * Rules first: from then on the kernel forwards on its own. What is
	 * still queued is let through, where an unbind would drop it.
	 */
	nfq_rules_remove(&q->kr);
	nfq_rx_burst(dev, nfq_accept_all, NULL, (int)NFQ_MARK_SLOTS);
	q->order.n = 0; /* the rules are gone: no mark to set */
	if (q->batches)
		log_info("queue %u: %llu verdicts went in %llu batch messages", q->queue_num,
			 (unsigned long long)q->batched, (unsigned long long)q->batches);
	if (q->order.deferred)
		log_info("queue %u: %llu accept offloads waited for an empty queue: %llu connections "
			 "marked (%llu before it was empty), %llu not found",
			 q->queue_num, (unsigned long long)q->order.deferred,
			 (unsigned long long)q->order.marked, (unsigned long long)q->order.forced,
			 (unsigned long long)q->order.failed);
	nfq_queue_close(q);
	if (q->pkt_fd >= 0)
		close(q->pkt_fd);
	nfq_rules_bridge_remove(&q->kr);
	nfq_ct_close(q->ct);
	free(q->rxbuf);
	free(q);
	dev->priv = NULL;
}

static int nfq_forget(struct inline_dev *dev, const struct inline_tuple *t)
{
	struct nfq *q = dev->priv;

	/* A noted connection must not get the mark this takes back: its next packet is judged. */
	q->order.n = 0;
	return nfq_ct_forget(q->ct, t);
}

static int nfq_sweep(struct inline_dev *dev, bool (*fn)(const struct inline_tuple *t, void *ctx),
		     void *ctx)
{
	struct nfq *q = dev->priv;

	q->order.n = 0;
	return nfq_ct_sweep(q->ct, fn, ctx);
}

static const struct inline_ops nfq_ops = {
	.name = "nfqueue",
	.open = nfq_open,
	.fd = nfq_fd,
	.rx_burst = nfq_rx_burst,
	.verdict = nfq_verdict,
	.inject = nfq_inject,
	.stats = nfq_get_stats,
	.close = nfq_close,
	.forget = nfq_forget,
	.sweep = nfq_sweep,
};
INLINE_DRIVER_REGISTER(nfq_ops);

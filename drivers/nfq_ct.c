/*
 * Connection marks through ctnetlink (nfq_ct.h), with libnl-nf's conntrack
 * objects (nfnl_ct_*) building the tuple.
 *
 * Why an update with a mask, not a delete: deleting the entry would also
 * drop its NAT bindings, helpers and the mark bits other rules own, and a
 * TCP connection picked up again mid-stream depends on
 * nf_conntrack_tcp_loose. An IPCTNL_MSG_CT_NEW without NLM_F_CREATE
 * changes an existing entry only; CTA_MARK_MASK (which libnl does not
 * set, so it is appended to libnl's message) makes the kernel keep every
 * mark bit outside NFQ_MARK_MASK: new = (old & ~mask) ^ mark.
 *
 * The socket is blocking and separate from the queue's: ctnetlink answers
 * within the sendmsg() that carries the request, so a forget costs one
 * system call pair on the loop and never waits on the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#define LOG_MODULE "nfq"
#include "core/log.h"
#include "link.h"
#include "nfq_ct.h"
#include "nfq_rules.h"

struct nfq_ct {
	struct nl_sock *sk;
};

struct nfq_ct *nfq_ct_open(void)
{
	struct nfq_ct *ct = calloc(1, sizeof(*ct));
	int ret;

	if (!ct)
		return NULL;
	ct->sk = nl_socket_alloc();
	if (!ct->sk)
		goto err_free;
	ret = nl_connect(ct->sk, NETLINK_NETFILTER);
	if (ret < 0) {
		log_warn("conntrack: cannot open ctnetlink (%s): a new blocklist will not reach "
			 "connections already offloaded",
			 nl_geterror(ret));
		goto err_sock;
	}
	return ct;

err_sock:
	nl_socket_free(ct->sk);
err_free:
	free(ct);
	return NULL;
}

void nfq_ct_close(struct nfq_ct *ct)
{
	if (!ct)
		return;
	nl_socket_free(ct->sk);
	free(ct);
}

/* Bits NFQ_MARK_MASK of t's mark to mark, t's one direction as the original: 0, or libnl's error. */
static int nfq_ct_set(struct nfq_ct *c, const struct inline_tuple *t, bool reverse, uint32_t mark)
{
	int family = t->ip_version == 4 ? AF_INET : AF_INET6;
	unsigned int alen = t->ip_version == 4 ? 4 : 16;
	struct nl_addr *src = nl_addr_build(family, reverse ? t->dst : t->src, alen);
	struct nl_addr *dst = nl_addr_build(family, reverse ? t->src : t->dst, alen);
	struct nfnl_ct *ct = nfnl_ct_alloc();
	struct nl_msg *msg = NULL;
	int ret = -NLE_NOMEM;

	if (!src || !dst || !ct)
		goto out;
	nfnl_ct_set_family(ct, (uint8_t)family);
	nfnl_ct_set_proto(ct, t->l4_proto);
	ret = nfnl_ct_set_src(ct, 0, src);
	if (ret == 0)
		ret = nfnl_ct_set_dst(ct, 0, dst);
	if (ret < 0)
		goto out;
	nfnl_ct_set_src_port(ct, 0, reverse ? t->dport : t->sport);
	nfnl_ct_set_dst_port(ct, 0, reverse ? t->sport : t->dport);
	nfnl_ct_set_mark(ct, mark);
	/* No NLM_F_CREATE: change the entry if there is one, never make one. */
	ret = nfnl_ct_build_add_request(ct, NLM_F_ACK, &msg);
	if (ret < 0)
		goto out;
	ret = nla_put_u32(msg, CTA_MARK_MASK, htonl(NFQ_MARK_MASK));
	if (ret < 0)
		goto out;
	ret = nl_send_auto_complete(c->sk, msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(c->sk);
out:
	nlmsg_free(msg);
	nfnl_ct_put(ct);
	nl_addr_put(src);
	nl_addr_put(dst);
	return ret < 0 ? ret : 0;
}

static int nfq_ct_mark(struct nfq_ct *c, const struct inline_tuple *t, uint32_t mark)
{
	int ret;

	if (!c)
		return -EOPNOTSUPP;
	if ((t->ip_version != 4 && t->ip_version != 6) || !t->l4_proto)
		return -EINVAL;
	ret = nfq_ct_set(c, t, false, mark);
	if (ret == -NLE_OBJ_NOTFOUND)
		ret = nfq_ct_set(c, t, true, mark);
	if (ret == -NLE_OBJ_NOTFOUND)
		return -ENOENT;
	if (ret < 0) {
		log_debug_rl("conntrack: cannot set a connection's mark to %#x: %s", mark,
			     nl_geterror(ret));
		return link_nl_errno(ret);
	}
	return 0;
}

int nfq_ct_forget(struct nfq_ct *c, const struct inline_tuple *t)
{
	return nfq_ct_mark(c, t, 0);
}

int nfq_ct_accept(struct nfq_ct *c, const struct inline_tuple *t)
{
	return nfq_ct_mark(c, t, NFQ_MARK_ACCEPT);
}

/* ------------------------------------------------------------ sweep */

struct nfq_ct_sweep {
	bool (*fn)(const struct inline_tuple *t, void *ctx);
	void *ctx;
	struct inline_tuple *hit;  /* tuples to clear after the dump */
	size_t n, cap;
	int err;
};

/* A conntrack address into 16 bytes; false if it is not one of the family's. */
static bool nfq_ct_addr(struct nl_addr *a, uint8_t out[16], unsigned int alen)
{
	if (!a || nl_addr_get_len(a) != alen)
		return false;
	memset(out, 0, 16);
	memcpy(out, nl_addr_get_binary_addr(a), alen);
	return true;
}

static int nfq_ct_sweep_one(struct nl_msg *msg, void *arg)
{
	struct nfq_ct_sweep *sw = arg;
	struct inline_tuple t = { 0 };
	struct nfnl_ct *ct;
	unsigned int alen;
	uint8_t proto;

	if (nfnlmsg_ct_parse(nlmsg_hdr(msg), &ct) < 0)
		return NL_SKIP;
	proto = nfnl_ct_get_proto(ct);
	alen = nfnl_ct_get_family(ct) == AF_INET ? 4 : 16;
	t.ip_version = alen == 4 ? 4 : 6;
	t.l4_proto = proto;
	/* A TCP connection that is closing or closed passes nothing more. */
	if ((nfnl_ct_get_mark(ct) & NFQ_MARK_MASK) == NFQ_MARK_ACCEPT &&
	    (proto == IPPROTO_UDP ||
	     (proto == IPPROTO_TCP && nfnl_ct_get_tcp_state(ct) == TCP_CONNTRACK_ESTABLISHED)) &&
	    nfq_ct_addr(nfnl_ct_get_src(ct, 0), t.src, alen) &&
	    nfq_ct_addr(nfnl_ct_get_dst(ct, 0), t.dst, alen)) {
		t.sport = nfnl_ct_get_src_port(ct, 0);
		t.dport = nfnl_ct_get_dst_port(ct, 0);
		if (sw->fn(&t, sw->ctx)) {
			if (sw->n == sw->cap) {
				size_t cap = sw->cap ? 2 * sw->cap : 64;
				struct inline_tuple *h = realloc(sw->hit, cap * sizeof(*h));

				if (!h) {
					sw->err = -ENOMEM;
					nfnl_ct_put(ct);
					return NL_STOP;
				}
				sw->hit = h;
				sw->cap = cap;
			}
			sw->hit[sw->n++] = t;
		}
	}
	nfnl_ct_put(ct);
	return NL_OK;
}

int nfq_ct_sweep(struct nfq_ct *c, bool (*fn)(const struct inline_tuple *t, void *ctx), void *ctx)
{
	struct nfq_ct_sweep sw = { .fn = fn, .ctx = ctx };
	struct nl_cb *cb;
	int ret, cleared = 0;

	if (!c)
		return -EOPNOTSUPP;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nfq_ct_sweep_one, &sw);
	ret = nfnl_ct_dump_request(c->sk);
	if (ret >= 0)
		ret = nl_recvmsgs(c->sk, cb);
	nl_cb_put(cb);
	if (ret < 0) {
		log_warn("conntrack: cannot list the connections: %s", nl_geterror(ret));
		free(sw.hit);
		return link_nl_errno(ret);
	}
	/* The dump is over: the socket is free for the changes. */
	for (size_t i = 0; i < sw.n; i++)
		if (nfq_ct_set(c, &sw.hit[i], false, 0) == 0)
			cleared++;
	free(sw.hit);
	return sw.err ? sw.err : cleared;
}

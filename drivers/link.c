/*
 * Network links through libnl-route (and one ioctl for offloads).
 *
 * Everything here is slow-path: the lookups and changes open a route netlink
 * socket for the call and close it again, so no state is shared between
 * callers. The monitor keeps one RTNLGRP_LINK socket and the last known
 * state of each watched name; a notification changes the state of at most
 * the port it names (or the port whose ifindex it carries, when a port is
 * renamed away) and is reported only when existence, admin state or carrier
 * differs from what was last reported. Bridge-family (AF_BRIDGE) messages,
 * which the kernel sends about bridge ports and which also use
 * RTM_NEWLINK/RTM_DELLINK, are not link changes and are skipped. If the
 * kernel drops notifications (socket overrun), the monitor reads every
 * watched port again instead of guessing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/socket.h>

#define LOG_MODULE "link"
#include "core/common.h"
#include "core/log.h"
#include "link.h"

int link_nl_errno(int nlerr)
{
	if (nlerr == 0)
		return 0;
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_INTR:
	case NLE_DUMP_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
	case NLE_AF_MISMATCH:
	case NLE_OBJ_MISMATCH:
		return -EINVAL;
	case NLE_RANGE:
	case NLE_ATTRSIZE:
		return -ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
	case NLE_SRCRT_NOSUPPORT:
	case NLE_MSGTYPE_NOSUPPORT:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
	case NLE_NOATTR:
	case NLE_NOCACHE:
	case NLE_PKTLOC_FILE:
		return -ENOENT;
	case NLE_MSG_OVERFLOW:
		return -EOVERFLOW;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_SEQ_MISMATCH:
	case NLE_MSG_TOOSHORT:
	case NLE_PROTO_MISMATCH:
	case NLE_PARSE_ERR:
		return -EPROTO;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
	case NLE_IMMUTABLE:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	default:
		return -EIO;
	}
}

static int link_name_ok(const char *name)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		log_err("bad interface name \"%s\"", name ? name : "(null)");
		return -EINVAL;
	}
	return 0;
}

static int link_sock_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		log_err("cannot open a route netlink socket: %s", nl_geterror(err));
		nl_socket_free(sk);
		err = link_nl_errno(err);
		return err < 0 ? err : -EIO;
	}
	*out = sk;
	return 0;
}

/* The kernel's link object for name; -ENODEV (not logged) if there is none. */
static int link_lookup(struct nl_sock *sk, const char *name, struct rtnl_link **out)
{
	struct rtnl_link *l = NULL;
	int err = rtnl_link_get_kernel(sk, 0, name, &l);

	if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND || (err == 0 && !l))
		return -ENODEV;
	if (err < 0) {
		log_err("%s: cannot read the interface: %s", name, nl_geterror(err));
		return link_nl_errno(err);
	}
	*out = l;
	return 0;
}

/*
 * The start of every call on one interface: its name checked, a route
 * socket opened, the kernel's link looked up. *sk is NULL when the name or
 * the socket failed (the error returned); otherwise the caller frees it and
 * the lookup's result is returned (0 with *l set, -ENODEV, or -errno).
 */
static int link_open(const char *name, struct nl_sock **sk, struct rtnl_link **l)
{
	int ret;

	*sk = NULL;
	ret = link_name_ok(name);
	if (ret < 0)
		return ret;
	ret = link_sock_open(sk);
	if (ret < 0) {
		*sk = NULL;
		return ret;
	}
	return link_lookup(*sk, name, l);
}

static void link_fill_state(struct rtnl_link *l, struct link_state *st)
{
	unsigned int flags = rtnl_link_get_flags(l);
	struct nl_addr *addr = rtnl_link_get_addr(l);
	const char *name = rtnl_link_get_name(l);

	if (name)
		snprintf(st->name, sizeof(st->name), "%s", name);
	st->ifindex = (uint32_t)rtnl_link_get_ifindex(l);
	st->exists = true;
	st->admin_up = flags & IFF_UP;
	st->carrier = flags & IFF_LOWER_UP;
	st->mtu = rtnl_link_get_mtu(l);
	memset(st->mac, 0, sizeof(st->mac));
	if (addr && nl_addr_get_len(addr) == sizeof(st->mac))
		memcpy(st->mac, nl_addr_get_binary_addr(addr), sizeof(st->mac));
}

int link_get(const char *name, struct link_state *st)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = link_open(name, &sk, &l);
	if (!sk)
		return ret;
	snprintf(st->name, sizeof(st->name), "%s", name);
	if (ret == 0) {
		link_fill_state(l, st);
		rtnl_link_put(l);
	}
	nl_socket_free(sk);
	return ret;
}

int link_set_up(const char *name, bool promisc)
{
	struct rtnl_link *l = NULL, *change;
	unsigned int flags = IFF_UP | (promisc ? IFF_PROMISC : 0);
	struct nl_sock *sk;
	int ret;

	ret = link_open(name, &sk, &l);
	if (!sk)
		return ret;
	if (ret == -ENODEV)
		log_err("%s: no such interface", name);
	if (ret < 0)
		goto out_sock;
	if ((rtnl_link_get_flags(l) & flags) == flags)
		goto out_link;
	change = rtnl_link_alloc();
	if (!change) {
		ret = -ENOMEM;
		goto out_link;
	}
	rtnl_link_set_flags(change, flags);
	ret = rtnl_link_change(sk, l, change, 0);
	rtnl_link_put(change);
	if (ret < 0) {
		log_err("%s: cannot set the interface up%s: %s", name,
			promisc ? " and promiscuous" : "", nl_geterror(ret));
		ret = link_nl_errno(ret);
	}
out_link:
	rtnl_link_put(l);
out_sock:
	nl_socket_free(sk);
	return ret;
}

int link_set_offloads(const char *name, bool gro)
{
	/* The legacy per-feature ethtool commands; each sets one feature. */
	static const struct {
		uint32_t cmd;
		const char *what;
	} features[] = {
		{ ETHTOOL_SGRO, "GRO" },
		{ ETHTOOL_SGSO, "GSO" },
		{ ETHTOOL_STSO, "TSO" },
	};
	struct ethtool_value ev;
	struct ifreq ifr;
	int fd, ret = 0;

	ret = link_name_ok(name);
	if (ret < 0)
		return ret;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		log_err("%s: cannot open a socket for ethtool: %s", name, strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;

	for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
		ev = (struct ethtool_value){ .cmd = features[i].cmd,
					     .data = features[i].cmd == ETHTOOL_SGRO && gro };
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			continue;
		if (errno == EOPNOTSUPP) {
			log_debug("%s: %s cannot be changed (not supported)", name, features[i].what);
			continue;
		}
		ret = -errno;
		log_err("%s: cannot turn %s %s: %s", name, features[i].what, ev.data ? "on" : "off",
			strerror(errno));
		goto out;
	}

	/* LRO is one bit of the flags word: read it, clear that bit only. */
	ev = (struct ethtool_value){ .cmd = ETHTOOL_GFLAGS };
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		if (errno != EOPNOTSUPP) {
			ret = -errno;
			log_err("%s: cannot read the offload flags: %s", name, strerror(errno));
		}
		goto out;
	}
	if (ev.data & ETH_FLAG_LRO) {
		ev.cmd = ETHTOOL_SFLAGS;
		ev.data &= ~(uint32_t)ETH_FLAG_LRO;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0 && errno != EOPNOTSUPP) {
			ret = -errno;
			log_err("%s: cannot turn LRO off: %s", name, strerror(errno));
			goto out;
		}
	}
	log_debug("%s: segmentation offloads off, GRO %s", name, gro ? "on" : "off");
out:
	close(fd);
	return ret;
}

int link_bridge_add(const char *name, bool *created)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	int ret;

	*created = false;
	ret = link_open(name, &sk, &l);
	if (!sk)
		return ret;
	if (ret == 0) {
		const char *type = rtnl_link_get_type(l);

		if (!type || strcmp(type, "bridge") != 0) {
			log_err("%s: exists and is not a bridge (type %s)", name,
				type ? type : "none");
			ret = -EEXIST;
		}
		rtnl_link_put(l);
		goto out;
	}
	if (ret != -ENODEV)
		goto out;

	l = rtnl_link_bridge_alloc();
	if (!l) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_link_set_name(l, name);
	ret = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(l);
	if (ret < 0) {
		log_err("%s: cannot create the bridge: %s", name, nl_geterror(ret));
		ret = link_nl_errno(ret);
		goto out;
	}
	*created = true;
	log_info("%s: bridge created", name);
out:
	nl_socket_free(sk);
	return ret;
}

int link_set_master(const char *port, const char *master)
{
	struct rtnl_link *pl = NULL, *ml = NULL;
	int cur, want = 0;
	struct nl_sock *sk;
	int ret;

	ret = link_open(port, &sk, &pl);
	if (!sk)
		return ret;
	if (ret == -ENODEV && !master) {
		ret = 0; /* no port, nothing to release */
		goto out;
	}
	if (ret == -ENODEV)
		log_err("%s: no such interface", port);
	if (ret < 0)
		goto out;
	if (master) {
		ret = link_lookup(sk, master, &ml);
		if (ret == -ENODEV)
			log_err("%s: no such bridge", master);
		if (ret < 0)
			goto out;
		want = rtnl_link_get_ifindex(ml);
	}
	cur = rtnl_link_get_master(pl);
	if (cur == want)
		goto out;
	if (master)
		ret = rtnl_link_enslave_ifindex(sk, want, rtnl_link_get_ifindex(pl));
	else
		ret = rtnl_link_release_ifindex(sk, rtnl_link_get_ifindex(pl));
	if (ret < 0) {
		if (master)
			log_err("%s: cannot add the port to bridge %s: %s", port, master,
				nl_geterror(ret));
		else
			log_err("%s: cannot release the port from its bridge: %s", port,
				nl_geterror(ret));
		ret = link_nl_errno(ret);
		goto out;
	}
	if (master && cur)
		log_info("%s: moved to bridge %s from ifindex %d", port, master, cur);
out:
	if (ml)
		rtnl_link_put(ml);
	if (pl)
		rtnl_link_put(pl);
	nl_socket_free(sk);
	return ret;
}

int link_delete(const char *name)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	int ret;

	ret = link_open(name, &sk, &l);
	if (!sk)
		return ret;
	if (ret == 0) {
		ret = rtnl_link_delete(sk, l);
		rtnl_link_put(l);
		if (ret < 0) {
			log_err("%s: cannot delete the interface: %s", name, nl_geterror(ret));
			ret = link_nl_errno(ret);
		}
	}
	nl_socket_free(sk);
	return ret;
}

/* ------------------------------------------------------------ monitor */

struct link_monitor {
	struct nl_sock *sk;
	link_change_fn fn;
	void *ctx;
	int n;
	struct link_state st[LINK_MONITOR_MAX];
};

static void link_report(const struct link_state *old, const struct link_state *st)
{
	const char *again = old->exists ? "" : "appeared, ";

	if (!st->exists)
		log_warn("%s: removed", st->name);
	else if (st->admin_up && st->carrier)
		log_info("%s: %slink up", st->name, again);
	else if (!st->admin_up)
		log_warn("%s: %slink down (administratively down)", st->name, again);
	else
		log_warn("%s: %slink down (%s)", st->name, again,
			 old->exists && old->carrier ? "carrier lost" : "no carrier");
}

/* Store the new state of port i; tell the owner if it changed in a way it cares about. */
static void link_monitor_update(struct link_monitor *m, int i, const struct link_state *st)
{
	struct link_state old = m->st[i];

	m->st[i] = *st;
	if (old.exists == st->exists && old.admin_up == st->admin_up &&
	    old.carrier == st->carrier)
		return;
	link_report(&old, st);
	m->fn(st, m->ctx);
}

static void link_monitor_gone(struct link_monitor *m, int i)
{
	struct link_state st;

	memset(&st, 0, sizeof(st));
	memcpy(st.name, m->st[i].name, sizeof(st.name));
	link_monitor_update(m, i, &st);
}

static void link_monitor_obj(struct nl_object *obj, void *arg)
{
	struct link_monitor *m = arg;
	struct rtnl_link *l = (struct rtnl_link *)obj;
	int type = nl_object_get_msgtype(obj);
	uint32_t ifindex = (uint32_t)rtnl_link_get_ifindex(l);
	const char *name = rtnl_link_get_name(l);

	if (rtnl_link_get_family(l) == AF_BRIDGE)
		return;
	for (int i = 0; i < m->n; i++) {
		struct link_state st;

		if (name && strcmp(name, m->st[i].name) == 0) {
			if (type == RTM_DELLINK) {
				link_monitor_gone(m, i);
				continue;
			}
			memset(&st, 0, sizeof(st));
			link_fill_state(l, &st);
			link_monitor_update(m, i, &st);
		} else if (m->st[i].exists && m->st[i].ifindex == ifindex) {
			/* Same interface, other name: the watched name is gone. */
			link_monitor_gone(m, i);
		}
	}
}

static int link_monitor_valid(struct nl_msg *msg, void *arg)
{
	int type = nlmsg_hdr(msg)->nlmsg_type;

	if (type == RTM_NEWLINK || type == RTM_DELLINK)
		nl_msg_parse(msg, link_monitor_obj, arg);
	return NL_OK;
}

/* Read every watched port again, after the kernel dropped notifications. */
static void link_monitor_resync(struct link_monitor *m)
{
	for (int i = 0; i < m->n; i++) {
		struct link_state st;
		int ret = link_get(m->st[i].name, &st);

		if (ret == 0 || ret == -ENODEV)
			link_monitor_update(m, i, &st);
	}
}

int link_monitor_open(struct link_monitor **out, const char *const *names, int n,
		      link_change_fn fn, void *ctx)
{
	struct link_monitor *m;
	int ret;

	if (n < 1 || n > LINK_MONITOR_MAX) {
		log_err("cannot watch %d ports (1 to %d)", n, LINK_MONITOR_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		ret = link_name_ok(names[i]);
		if (ret < 0)
			return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	m->n = n;
	m->sk = nl_socket_alloc();
	if (!m->sk) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* Notifications carry sequence number 0: nothing to match against. */
	nl_socket_disable_seq_check(m->sk);
	nl_socket_modify_cb(m->sk, NL_CB_VALID, NL_CB_CUSTOM, link_monitor_valid, m);
	ret = nl_connect(m->sk, NETLINK_ROUTE);
	if (ret < 0) {
		log_err("cannot open a route netlink socket: %s", nl_geterror(ret));
		goto err_nl;
	}
	ret = nl_socket_add_membership(m->sk, RTNLGRP_LINK);
	if (ret < 0) {
		log_err("cannot subscribe to link notifications: %s", nl_geterror(ret));
		goto err_nl;
	}
	ret = nl_socket_set_nonblocking(m->sk);
	if (ret < 0) {
		log_err("cannot make the link socket nonblocking: %s", nl_geterror(ret));
		goto err_nl;
	}

	/*
	 * Subscribed first, read second: a change in between shows up as a
	 * notification that agrees with what was read, and is not reported.
	 */
	for (int i = 0; i < n; i++) {
		ret = link_get(names[i], &m->st[i]);
		if (ret < 0 && ret != -ENODEV)
			goto err_sk;
		log_info("%s: %s", names[i],
			 !m->st[i].exists ? "missing" :
			 !m->st[i].admin_up ? "administratively down" :
			 m->st[i].carrier ? "link up" : "no carrier");
	}
	*out = m;
	return 0;

err_nl:
	ret = link_nl_errno(ret);
err_sk:
	nl_socket_free(m->sk);
err_free:
	free(m);
	return ret;
}

int link_monitor_fd(struct link_monitor *m)
{
	return nl_socket_get_fd(m->sk);
}

/*
 * Notifications handled per call at most: one datagram each, so a storm of
 * link changes cannot hold the loop for long; the rest wait for the next
 * readiness event.
 */
#define LINK_MONITOR_BURST 32

int link_monitor_read(struct link_monitor *m)
{
	for (int i = 0; i < LINK_MONITOR_BURST; i++) {
		int err = nl_recvmsgs_default(m->sk);

		if (err >= 0)
			continue;
		if (err == -NLE_AGAIN)
			return 0;
		if (err == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped notifications; read the ports again. */
			log_warn("link notifications lost; reading the ports again");
			link_monitor_resync(m);
			continue;
		}
		log_err("cannot read link notifications: %s", nl_geterror(err));
		return link_nl_errno(err);
	}
	return 0;
}

void link_monitor_close(struct link_monitor *m)
{
	if (!m)
		return;
	nl_socket_free(m->sk);
	free(m);
}

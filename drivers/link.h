/*
 * Network links through libnl-route: interface lookup and state, the few
 * changes the gateway makes to its ports (up, promiscuous, offloads off,
 * bridge membership), and a monitor of link changes (carrier up/down, admin
 * up/down, removed) on the gateway's ports, whatever the mode. The monitor is
 * an RTNLGRP_LINK socket read from the event loop; each change of a watched
 * port is reported once (no repeat while nothing changes).
 */
#ifndef TG_LINK_H
#define TG_LINK_H

#include <stdbool.h>
#include <stdint.h>

struct link_state {
	char name[16];
	uint32_t ifindex;
	bool exists;
	bool admin_up;             /* IFF_UP */
	bool carrier;              /* IFF_LOWER_UP */
	uint8_t mac[6];
	uint32_t mtu;
};

/* Read one interface's state. Returns 0, -ENODEV if it does not exist, or -errno. */
int link_get(const char *name, struct link_state *st);
/* Set an interface administratively up (and promiscuous if promisc). Returns 0 or -errno. */
int link_set_up(const char *name, bool promisc);
/*
 * Turn GSO, TSO and LRO off and GRO on or off (SIOCETHTOOL): every frame that
 * leaves the port is at most one MTU (the kernel segments in software), and
 * only GRO, when asked for, coalesces what arrives. A feature the device does
 * not have is skipped. Returns 0 or -errno (logged).
 */
int link_set_offloads(const char *name, bool gro);

/*
 * Bridge plumbing for the NFQUEUE driver. link_bridge_add() creates bridge
 * `name` unless it exists; *created tells which (-EEXIST if `name` exists and
 * is not a bridge). link_set_master() makes `port` a port of bridge `master`,
 * or releases it from its bridge when master is NULL (a port that does not
 * exist is not in any bridge: 0). link_delete() removes
 * an interface. All return 0 or -errno (logged).
 */
int link_bridge_add(const char *name, bool *created);
int link_set_master(const char *port, const char *master);
int link_delete(const char *name);

/* A libnl error code (-NLE_*) as the nearest -errno, for the libnl drivers. */
int link_nl_errno(int nlerr);

struct link_monitor;
typedef void (*link_change_fn)(const struct link_state *st, void *ctx);

/*
 * Watch the named ports (up to LINK_MONITOR_MAX); fn hears each change of
 * existence, admin state or carrier, not the initial state. Returns 0 or
 * -errno (logged).
 */
#define LINK_MONITOR_MAX 4
int link_monitor_open(struct link_monitor **out, const char *const *names, int n,
		      link_change_fn fn, void *ctx);
int link_monitor_fd(struct link_monitor *m);
/* Read pending notifications (call when the fd is readable). Returns 0 or -errno. */
int link_monitor_read(struct link_monitor *m);
void link_monitor_close(struct link_monitor *m);

#endif

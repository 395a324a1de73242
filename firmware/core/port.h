/*
 * Port driver interface: how the firmware receives and sends frames without
 * knowing whether they come from libpcap, a capture file, NFQUEUE or a board's
 * own MAC. A driver is a `static const struct port_ops` registered with
 * PORT_DRIVER_REGISTER(); port_open() finds it by name.
 *
 * Frames handed to the rx callback are valid only during the callback.
 */
#ifndef TG_PORT_H
#define TG_PORT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/common.h"

/* Link types (each port driver maps its own, e.g. pcap DLT_*, onto these). */
enum link_type {
	LINK_ETHERNET = 1,
	LINK_LINUX_SLL,
	LINK_NULL, /* BSD loopback: 4-byte host-order address family */
	LINK_RAW,  /* raw IPv4/IPv6, version from the first nibble */
};

struct port;

struct port_frame {
	const uint8_t *data;
	uint32_t caplen;
	uint32_t wirelen;
	uint64_t ts_us; /* capture time, microseconds since the epoch */
	/*
	 * 0: one frame as it was on the wire. Else a coalesced TCP frame (a
	 * port opened with coalesce: the kernel's receive offload merged
	 * consecutive segments of one flow, headers of the first, IP lengths
	 * and checksum of the whole) whose segments carried seg_size payload
	 * bytes each; port_tx_queue_seg() sends it on cut into such segments
	 * again, packet/segment.h cuts it for a consumer that wants wire frames.
	 */
	uint16_t seg_size;
};

typedef void (*port_rx_fn)(struct port *port, const struct port_frame *frame, void *ctx);

struct port_config {
	const char *name;      /* interface name, or file path for a file port */
	const char *filter;    /* BPF filter expression, NULL or "" = none */
	uint32_t snaplen;      /* 0 = CONFIG_PCAP_SNAPLEN */
	uint32_t buffer_kb;    /* 0 = CONFIG_PCAP_BUFFER_KB */
	bool promiscuous;
	bool immediate;        /* deliver frames as they arrive, no kernel batching delay */
	bool inbound_only;     /* live: only frames received, not those sent (inline ports) */
	bool coalesce;         /* live: coalesced TCP frames welcome (seg_size); a driver
				* that can cut them again on send turns receive offload on */
};

struct port_stats {
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t tx_frames;
	uint64_t tx_errors;
	uint64_t kernel_drops;  /* dropped by the kernel/driver before we saw them */
	uint64_t iface_drops;   /* dropped by the interface */
};

struct port_ops {
	/* Driver name used by port_open(), e.g. "pcap", "pcap-file". */
	const char *name;
	/*
	 * Open the port described by cfg; set port->link and port->priv.
	 * Returns 0 or -errno; logs the reason (bad interface, unsupported
	 * link type, bad filter, ...) naming the value.
	 */
	int (*open)(struct port *port, const struct port_config *cfg);
	/* Descriptor to wait on for readability, or -1 if always ready (files). */
	int (*fd)(struct port *port);
	/*
	 * Deliver at most max frames to fn. Returns the number delivered
	 * (0 = nothing ready now), -ENODATA at the end of a file, or -errno.
	 * Never blocks on a live port.
	 */
	int (*rx_burst)(struct port *port, port_rx_fn fn, void *ctx, int max);
	/*
	 * Send one frame. Returns 0 or -errno (-EOPNOTSUPP for files). Frames
	 * queued with tx_queue leave first, so the order on the wire is the
	 * order of the calls.
	 */
	int (*tx)(struct port *port, const uint8_t *data, uint32_t len);
	/*
	 * Optional (NULL: port_tx_queue() sends at once with tx). Copy one
	 * frame into the port's send queue; it leaves with the next tx_flush,
	 * or earlier when the queue is full. Returns -errno when the frame
	 * cannot be queued, else the number of frames queued before it that
	 * failed to leave when the queue had to make room (>= 0).
	 */
	int (*tx_queue)(struct port *port, const uint8_t *data, uint32_t len);
	/*
	 * Optional (NULL: a coalesced frame cannot leave this port, and
	 * port_tx_queue_seg() fails with -EMSGSIZE). As tx_queue, for a frame
	 * that is to leave cut into TCP segments of seg_size payload bytes
	 * (a received port_frame's seg_size; 0 = send it as it is).
	 */
	int (*tx_queue_seg)(struct port *port, const uint8_t *data, uint32_t len, uint16_t seg_size);
	/*
	 * Optional. Send every queued frame (one system call for a batch).
	 * Returns how many of them failed (>= 0); each is also in tx_errors.
	 */
	int (*tx_flush)(struct port *port);
	/* Fill counters. Returns 0 or -errno. */
	int (*stats)(struct port *port, struct port_stats *st);
	/* Release everything open() acquired. */
	void (*close)(struct port *port);
};

struct port {
	const struct port_ops *ops;
	enum link_type link;
	char name[64];
	void *priv;
	struct port_stats st; /* driver-maintained rx/tx counters */
};

#define PORT_DRIVER_REGISTER(ops_)                                          \
	static const struct port_ops *const port_driver_##ops_                 \
		__attribute__((used, section("tg_port_drivers"))) = &(ops_)

/* Open port with driver `driver`. Returns 0 or -errno (-ENOENT: no such driver). */
int port_open(struct port *port, const char *driver, const struct port_config *cfg);
void port_close(struct port *port);
const struct port_ops *port_driver_find(const char *name);

static inline int port_fd(struct port *p) { return p->ops->fd(p); }
static inline int port_rx_burst(struct port *p, port_rx_fn fn, void *ctx, int max)
{
	return p->ops->rx_burst(p, fn, ctx, max);
}
static inline int port_tx(struct port *p, const uint8_t *d, uint32_t len)
{
	return p->ops->tx(p, d, len);
}
/* Same results as the ops; a port without a queue sends at once. */
static inline int port_tx_queue(struct port *p, const uint8_t *d, uint32_t len)
{
	if (!p->ops->tx_queue)
		return p->ops->tx(p, d, len) < 0 ? -EIO : 0;
	return p->ops->tx_queue(p, d, len);
}
/* The same for a coalesced frame (seg_size from its port_frame; 0: port_tx_queue()). */
static inline int port_tx_queue_seg(struct port *p, const uint8_t *d, uint32_t len, uint16_t seg_size)
{
	if (!seg_size)
		return port_tx_queue(p, d, len);
	if (!p->ops->tx_queue_seg)
		return -EMSGSIZE;
	return p->ops->tx_queue_seg(p, d, len, seg_size);
}
static inline int port_tx_flush(struct port *p)
{
	return p->ops->tx_flush ? p->ops->tx_flush(p) : 0;
}
static inline int port_stats(struct port *p, struct port_stats *st) { return p->ops->stats(p, st); }

#endif

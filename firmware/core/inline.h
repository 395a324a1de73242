/*
 * Inline driver interface: a mode where the kernel forwards between the two
 * ports and hands the firmware only the packets it must decide (nfqueue
 * mode: drivers/nfq.c). The firmware judges each and answers with a verdict;
 * a verdict that offloads leaves the rest of the flow to the kernel. Like the
 * port drivers (core/port.h), a driver is a `static const struct inline_ops`
 * registered with INLINE_DRIVER_REGISTER(); inline_open() finds it by name,
 * so a build without the driver (Kconfig) says so instead of failing to link.
 *
 * Packets handed to the rx callback are valid only during the callback.
 */
#ifndef TG_INLINE_H
#define TG_INLINE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

struct inline_dev;

struct inline_config {
	const char *bridge;        /* kernel bridge device, created if missing, e.g. "tgbr0" */
	const char *ports[2];      /* its ports (LAN, WAN), enslaved and set up */
	uint16_t queue;            /* queue number */
	uint32_t queue_len;        /* packets the kernel holds for a verdict; 0 = the kernel's default */
	bool fail_open;            /* accept instead of drop when the queue is full */
	bool install_rules;        /* install/remove the kernel's rules (tests may pre-install) */
};

enum inline_verdict {
	INLINE_ACCEPT = 0,         /* this packet only */
	INLINE_DROP,               /* this packet only */
	INLINE_OFFLOAD_ACCEPT,     /* this packet and the rest of its connection, in the kernel */
	INLINE_OFFLOAD_DROP,
	INLINE_VERDICTS,
};

struct inline_packet {
	uint32_t id;               /* packet id for inline_verdict() */
	const uint8_t *frame;      /* Ethernet frame (the header may be synthesized) */
	uint32_t len;
	uint32_t in_ifindex;       /* bridge port it arrived on, 0 if unknown */
	uint32_t out_ifindex;      /* bridge port it is going to, 0 if unknown */
};

struct inline_stats {
	uint64_t packets;                     /* packets received for a verdict */
	uint64_t verdicts[INLINE_VERDICTS];   /* by enum inline_verdict */
	uint64_t verdict_errors;
	uint64_t injected, inject_errors;
	/* Packets the kernel could not hand over (with fail_open: passed unseen). */
	uint64_t queue_dropped;
	uint64_t rx_overruns;                 /* of them: the socket overflowed */
};

/* A connection as the kernel tracks it: the tuple of its first packet. */
struct inline_tuple {
	uint8_t ip_version;        /* 4 or 6 */
	uint8_t l4_proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;     /* host order */
	uint8_t src[16], dst[16];  /* IPv4 in the first 4 bytes */
};

/* inline_verdict() must be called for each packet, in or after the callback. */
typedef void (*inline_rx_fn)(struct inline_dev *dev, const struct inline_packet *pkt, void *ctx);

struct inline_ops {
	/* Driver name used by inline_open(), e.g. "nfqueue". */
	const char *name;
	/*
	 * Set up the kernel's forwarding and the queue described by cfg; set
	 * dev->priv. Returns 0 or -errno, with the reason logged naming the
	 * value (no such port, queue taken, kernel feature missing...).
	 */
	int (*open)(struct inline_dev *dev, const struct inline_config *cfg);
	/* Descriptor to wait on for readability. */
	int (*fd)(struct inline_dev *dev);
	/*
	 * Deliver at most max (<= 0: the driver's default) packets to fn.
	 * Returns how many, 0 if none is ready, or -errno. Never blocks.
	 */
	int (*rx_burst)(struct inline_dev *dev, inline_rx_fn fn, void *ctx, int max);
	/* Decide packet id. Returns 0 or -errno (-EINVAL for an unknown verdict). */
	int (*verdict)(struct inline_dev *dev, uint32_t id, enum inline_verdict v);
	/* Send a whole Ethernet frame out of bridge port ifindex. Returns 0 or -errno. */
	int (*inject)(struct inline_dev *dev, uint32_t ifindex, const uint8_t *frame, uint32_t len);
	/* Fill counters. */
	void (*stats)(struct inline_dev *dev, struct inline_stats *st);
	/*
	 * Optional (NULL: the driver cannot). Forget the offload verdict of
	 * connection t (either direction of the tuple), so that the kernel
	 * queues its next packet again instead of passing or dropping it on
	 * its own: what a new blocklist needs for the connections it judges
	 * differently. Returns 0, -ENOENT if the kernel tracks no such
	 * connection (its packets are queued anyway), or -errno.
	 */
	int (*forget)(struct inline_dev *dev, const struct inline_tuple *t);
	/*
	 * Optional (NULL: the driver cannot). Call fn for every connection the
	 * kernel passes on its own (offloaded as accepted), by its tuple, and
	 * forget the offload verdict of each one fn returns true for (as
	 * forget() does): what a new blocklist needs for the connections the
	 * firmware no longer has a flow record of. Returns how many were
	 * forgotten, or -errno.
	 */
	int (*sweep)(struct inline_dev *dev, bool (*fn)(const struct inline_tuple *t, void *ctx),
		     void *ctx);
	/*
	 * Release everything open() acquired, leaving the kernel forwarding on
	 * its own; what is still queued is let through.
	 */
	void (*close)(struct inline_dev *dev);
};

struct inline_dev {
	const struct inline_ops *ops;
	void *priv;
};

#define INLINE_DRIVER_REGISTER(ops_)                                        \
	static const struct inline_ops *const inline_driver_##ops_             \
		__attribute__((used, section("tg_inline_drivers"))) = &(ops_)

/*
 * Open dev with driver `driver`. Returns 0 or -errno (-ENOENT: no such
 * driver in this build, logged).
 */
int inline_open(struct inline_dev *dev, const char *driver, const struct inline_config *cfg);
void inline_close(struct inline_dev *dev);
const struct inline_ops *inline_driver_find(const char *name);

static inline int inline_fd(struct inline_dev *d) { return d->ops->fd(d); }
static inline int inline_rx_burst(struct inline_dev *d, inline_rx_fn fn, void *ctx, int max)
{
	return d->ops->rx_burst(d, fn, ctx, max);
}
static inline int inline_verdict(struct inline_dev *d, uint32_t id, enum inline_verdict v)
{
	return d->ops->verdict(d, id, v);
}
static inline int inline_inject(struct inline_dev *d, uint32_t ifindex, const uint8_t *frame,
				uint32_t len)
{
	return d->ops->inject(d, ifindex, frame, len);
}
static inline void inline_stats(struct inline_dev *d, struct inline_stats *st)
{
	d->ops->stats(d, st);
}
static inline int inline_forget(struct inline_dev *d, const struct inline_tuple *t)
{
	return d->ops->forget ? d->ops->forget(d, t) : -EOPNOTSUPP;
}
static inline int inline_sweep(struct inline_dev *d,
			       bool (*fn)(const struct inline_tuple *t, void *ctx), void *ctx)
{
	return d->ops->sweep ? d->ops->sweep(d, fn, ctx) : -EOPNOTSUPP;
}

#endif

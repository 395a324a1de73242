/*
 * The management network interface: the gateway's own IP identity (DHCP or
 * a static address, DNS resolver, SNTP time) on lwIP, on frames that come
 * from and go out through the firmware's port driver. The kernel needs no
 * IP address on the ports, and the same code runs on a bare-metal board.
 *
 * The firmware hands in every frame addressed to the management MAC (and
 * broadcast/multicast frames) with mgmt_input(), sends what lwIP produces
 * through the tx callback, and calls mgmt_poll() when
 * mgmt_next_timeout_ms() says. ARP, DHCP, DNS and SNTP run inside.
 *
 * This header includes no lwIP header: only drivers/lwip and
 * firmware/uplink may (ARCHITECTURE.md). The uplink reaches lwIP's MQTT and
 * TLS layers directly; it must not start TLS before mgmt_time_valid(),
 * since certificate validity needs the time.
 *
 * One instance per process: lwIP keeps its state in globals (NO_SYS=1), so
 * a second mgmt_open() before mgmt_close() fails with -EBUSY. lwIP itself is
 * initialised once and stays; close and open again is fine.
 *
 * Events (address, time, resolver answers) are never delivered from inside
 * lwIP or from inside the call that caused them: they are queued and
 * delivered at the end of mgmt_input() or mgmt_poll(), so a callback may
 * call any function here (except mgmt_close() on the instance delivering).
 */
#ifndef TG_MGMT_H
#define TG_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mgmt;

/* Longest host name sent to the DHCP server (option 12). */
#define MGMT_HOSTNAME_MAX 63

struct mgmt_config {
	uint8_t mac[6];        /* management MAC: unicast, not all zero */
	bool dhcp;             /* true: DHCP; false: addr/netmask/gateway below */
	char addr[16];         /* dotted quad, static only */
	char netmask[16];      /* dotted quad, static only */
	char gateway[16];      /* dotted quad or "" (no default route), static only */
	/*
	 * DNS servers (IPv4 dotted quads; "" = unused). Configured servers win
	 * over the ones a DHCP lease names; with none configured the lease's are used.
	 */
	char dns[2][46];
	/*
	 * NTP servers, names or addresses ("" = unused). With none configured
	 * and DHCP on, the lease's (option 42) are used; with neither, the
	 * time never becomes valid.
	 */
	char ntp[2][64];
	const char *hostname;  /* DHCP host name (letters, digits, '-'), or NULL */
};

/* Send one Ethernet frame (destination MAC first, no FCS). Returns 0 or -errno. */
typedef int (*mgmt_tx_fn)(const uint8_t *frame, uint32_t len, void *ctx);

struct mgmt_events {
	/* The address changed: dotted quad, or NULL when it was lost (lease gone). */
	void (*address)(const char *addr, void *ctx);
	/* SNTP set the time: seconds since the epoch (UTC) at that moment. */
	void (*time_set)(uint64_t unix_s, void *ctx);
	void *ctx;
};

/* Resolver answer: addr is the first IPv4 address as a dotted quad, or NULL (failed). */
typedef void (*mgmt_resolve_fn)(const char *name, const char *addr, void *ctx);

/*
 * Bring the interface up: validate cfg (each bad value is logged and gives
 * -EINVAL), initialise lwIP on first use, start DHCP or set the static
 * address, and start SNTP once there is an address. cfg is copied; tx and ev
 * (copied, may be NULL) must stay valid until mgmt_close(). Returns 0 and
 * sets *out, or -errno (-EBUSY: already open).
 */
int mgmt_open(struct mgmt **out, const struct mgmt_config *cfg, mgmt_tx_fn tx, void *tx_ctx,
	      const struct mgmt_events *ev);

/*
 * One received Ethernet frame. Unicast frames for another MAC and frames
 * that are not Ethernet-sized are dropped (counted); the frame is copied,
 * so it need only be valid during the call.
 */
void mgmt_input(struct mgmt *m, const uint8_t *frame, uint32_t len);

/* Run lwIP's due timers (DHCP, ARP, DNS, TCP, SNTP) and deliver queued events. */
void mgmt_poll(struct mgmt *m);

/*
 * Milliseconds until mgmt_poll() has work: 0 when events wait, at most
 * 1000. The loop arms a timer with it after every mgmt_input() and
 * mgmt_poll().
 */
uint32_t mgmt_next_timeout_ms(struct mgmt *m);

/* True when the interface has an IPv4 address. */
bool mgmt_is_up(const struct mgmt *m);

/* The address as a dotted quad into buf. Returns 0, -ENOTCONN (none yet) or -ENOSPC. */
int mgmt_address(const struct mgmt *m, char *buf, size_t len);

/* True once SNTP has set the time. */
bool mgmt_time_valid(const struct mgmt *m);

/* Current time in milliseconds since the epoch. Returns 0 or -EAGAIN (no time yet). */
int mgmt_time_ms(const struct mgmt *m, uint64_t *unix_ms);

/*
 * Look up name's IPv4 address (an address literal answers itself). done is
 * called exactly once, from a later mgmt_input() or mgmt_poll(), unless
 * mgmt_close() comes first. Returns 0, -EINVAL (bad name), -ENOTCONN (no
 * address yet) or -EBUSY (CONFIG_MGMT_DNS_TABLE_SIZE lookups outstanding).
 */
int mgmt_resolve(struct mgmt *m, const char *name, mgmt_resolve_fn done, void *ctx);

/*
 * One ICMP echo to addr (a dotted quad; resolve a name first), for the
 * console's `ping`. done(addr, seq, rtt_us, ctx) is called exactly once
 * from a later mgmt_input() or mgmt_poll(): rtt_us the round trip, or
 * -ETIMEDOUT after timeout_ms; unless mgmt_ping_cancel() or mgmt_close()
 * comes first. One echo at a time. Returns 0, -EINVAL, -ENOTCONN (no
 * address), -EBUSY (an echo outstanding), -ENOMEM or -EIO.
 */
typedef void (*mgmt_ping_fn)(const char *addr, uint16_t seq, int64_t rtt_us, void *ctx);
int mgmt_ping(struct mgmt *m, const char *addr, uint16_t seq, uint32_t timeout_ms,
	      mgmt_ping_fn done, void *ctx);
/* The outstanding echo's callback will not come (the console that asked went). */
void mgmt_ping_cancel(void);

/* Counters for the console and the state message. */
struct mgmt_stats {
	uint64_t rx_frames;     /* handed to lwIP */
	uint64_t rx_dropped;    /* not for us, bad size, or no receive buffer */
	uint64_t tx_frames;
	uint64_t tx_errors;     /* the tx callback failed or the frame was too big */
};
void mgmt_get_stats(const struct mgmt *m, struct mgmt_stats *st);

/*
 * Release the DHCP lease, stop SNTP, take the interface down and free m.
 * Outstanding lookups are dropped without their callback.
 */
void mgmt_close(struct mgmt *m);

#endif

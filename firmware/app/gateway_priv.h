/*
 * What the files of the running gateway share (gateway.h is the outside
 * view): struct gateway, its ports, and the functions one part of it calls
 * in another. Only firmware/app/gateway*.c include this header.
 *
 *   gateway.c        init, the blocklist in force, replay, the run loop:
 *                    signals, timers, SIGHUP reload, start and stop of a mode
 *   gateway_data.c   the data path: judge a frame, bridge and monitor rx,
 *                    ports opened and reopened, link messages
 *   gateway_mgmt.c   the management netif (lwIP) and the uplink's callbacks
 *   gateway_nfq.c    nfqueue mode: the inline driver's packets judged
 *   gateway_rejudge.c  a new blocklist applied to the open flows
 *   gateway_hold.c   bridge and nfqueue: requests held until their name is judged
 *   gateway_wdog.c   the board's hardware watchdog, fed while the loop runs
 */
#ifndef TG_GATEWAY_PRIV_H
#define TG_GATEWAY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "app/fdb.h"
#include "app/gateway.h"
#include "app/neigh.h"
#include "app/report.h"
#include "core/inline.h"
#include "core/loop.h"
#include "core/port.h"
#include "packet/hold.h"
#include "packet/pipeline.h"
#include "policy/enforce.h"
#include "policy/policy.h"

/* A port that failed (interface gone) is tried again this often. */
#define GW_REOPEN_MS 2000
#define GW_RX_BURST CONFIG_PCAP_RX_BURST

enum { GW_LAN = 0, GW_WAN = 1, GW_MIRROR = 0, GW_INJECT = 1, GW_MGMT = 2, GW_PORTS = 3 };

struct gateway;

/* How a held frame leaves, per inline mode (gateway_hold.c). */
struct gw_hold_ops {
	void (*pass)(struct gateway *g, const struct hold_frame *fr);
	void (*drop)(struct gateway *g, const struct hold_frame *fr);
	/* The answers (resets) of act, for the flow whose held frame fr is. */
	void (*answer)(struct gateway *g, const struct enforce_action *act,
		       const struct hold_frame *fr);
};

struct gw_port {
	struct gateway *gw;
	int idx;
	char name[16];
	bool rx;              /* frames are read from it (not the monitor's inject port) */
	bool is_open;
	struct port port;
	struct loop_fd lfd;
};

struct gw_stats {
	uint64_t forwarded;   /* frames sent on by the bridge */
	uint64_t filtered;    /* bridge: destination on the port the frame came from */
	uint64_t malformed;   /* bridge/nfqueue: IP frames the decoder refused, dropped */
	uint64_t not_ip;      /* bridge/nfqueue: non-IP frames, passed */
	uint64_t tx_errors;
	uint64_t reloads, reload_errors;
	uint64_t rejudged, cut, lifted;   /* open flows judged again on a swap; cut; unblocked */
	uint64_t ct_forgotten, ct_errors; /* nfqueue: offload marks cleared for them; failures */
	uint64_t cut_rst, cut_later;      /* cut TCP flows reset at once; left to their next frame */
};

struct gateway {
	struct gateway_opts *o;
	struct tg_config *cfg;   /* == &o->cfg, the configuration in force */
	struct bundle *bundle;
	struct pipeline pl;
	struct policy *policy;         /* the pipeline's judge */
	struct report rep;
	struct enforce enf;
	struct loop *loop;
	struct loop_signal sig;
	struct loop_timer tick, stop, reopen;
	struct gw_port ports[GW_PORTS];
	int n_ports;
	struct mgmt *mgmt;             /* the gateway's own IP identity, NULL when [mgmt] mode = off */
	uint8_t mgmt_mac[6];
	struct loop_timer mgmt_timer;
	struct uplink *uplink;         /* MQTT to the hub, NULL without [uplink] broker */
	uint64_t started_ms;
	struct fdb fdb;
	struct link_monitor *links;
	struct loop_fd links_fd;
	struct inline_dev nfq;         /* nfqueue mode's queue; nfq.ops NULL when closed */
	struct loop_fd nfq_fd;
	struct hold *hold;             /* requests held until their name is judged (inline modes) */
	const struct gw_hold_ops *hold_ops;
	struct loop_timer hold_timer;
	struct gw_stats st;
	/* Blocks already logged, by a hash of flow key, rule and stage (gateway_blocklog.c). */
	struct gw_blocklog {
#define GW_BLOCKLOG_SLOTS 256
		uint64_t hash[GW_BLOCKLOG_SLOTS];
		uint64_t at_ms[GW_BLOCKLOG_SLOTS];
		uint64_t repeated;
		uint8_t hash_key[16];
		bool keyed;
	} blocklog;
	bool live;
	int io_error;
	struct neigh neigh;            /* inline modes: where each address is, for a cut's RST */
	/* A new list applied to the open flows, in slices (gateway_rejudge.c). */
	struct loop_timer rejudge_timer;
	uint32_t rejudge_cursor;       /* the walk's next record */
	bool rejudge_active;           /* a walk is under way */
	struct gw_rejudge_walk {
		uint64_t start_us;
		uint32_t flows, cut, lifted, slices;
		uint32_t longest_us;   /* the longest slice: the longest a frame waited */
		uint64_t skipped_at;   /* policy's rejudge_skipped when the walk began */
	} rejudge_walk;
	bool rejudging;                /* inside a slice */
	bool rejudge_sweeping;         /* judging kernel connections on records made for it */
	bool rejudge_hit_set;
	struct policy_hit rejudge_hit; /* the hit of the flow being judged again */
	struct gw_report *report;      /* summaries to the SOC (gateway_report.c); NULL = none */
	const char *refused_at_start;  /* a list on flash refused before the reports started */
	struct gw_wdog *wdog;          /* the board's hardware watchdog (gateway_wdog.c); NULL = none */
	struct console *console;       /* the technician's console (gateway_console.c); NULL = none */
	int console_fd;
	bool reboot;                   /* the console asked for a restart: the loop stopped for it */
};

/* gateway.c */
/* Put b in force (g owns it from now on) and judge the open flows again. */
void gw_use_bundle(struct gateway *g, struct bundle *b);
/*
 * The one log line of a judged flow: "<what> src:port -> dst:port (proto) at
 * <stage> "<indicator>" (rule N)"; what NULL = the hit's action; hit NULL =
 * the flow's own verdict; no indicator part when there is none.
 */
void gw_log_verdict(struct gateway *g, const char *what, const struct flow *f,
		    const struct policy_hit *hit);

/* gateway_rejudge.c */
/*
 * Every open flow judged against the bundle in force, what changed acted on:
 * in slices of at most GW_REJUDGE_SLICE_US on the loop (live modes), all at
 * once otherwise. A swap during a walk starts it again from the first flow.
 */
void gw_rejudge(struct gateway *g);
/* At stop: an unfinished walk is dropped; the "stopped:" line of its counters. */
void gw_rejudge_stop(struct gateway *g);

/* gateway_data.c */
/*
 * One frame through the pipeline and enforcement: *act says forward or drop
 * and holds the answers to send. Untracked frames pass (not IP, later
 * fragments) or are dropped (malformed), counted in g->st. seg_size: the
 * port's for a coalesced frame (0: a wire frame), so it counts as its segments.
 */
void gw_judge(struct gateway *g, enum link_type link, const uint8_t *data, uint32_t caplen,
	      uint32_t wirelen, uint16_t seg_size, struct pipeline_result *res,
	      struct enforce_action *act);
/* Open a port of the mode (or the management port) and watch it. Returns 0 or -errno, logged. */
int gw_port_open(struct gateway *g, struct gw_port *gp);
void gw_port_close(struct gw_port *gp);
/* g->reopen's callback: ports that failed, tried again every GW_REOPEN_MS. */
void gw_reopen(struct loop_timer *t);
void gw_watch_links(struct gateway *g, const char *const *names, int n);
void gw_unwatch_links(struct gateway *g);

/* gateway_mgmt.c */
/* The management netif and the uplink, when [mgmt] mode is not off. Returns 0 or -errno. */
int gw_mgmt_start(struct gateway *g);
void gw_mgmt_stop(struct gateway *g);
/* The management port's frames (monitor and nfqueue modes). */
void gw_mgmt_rx(struct port *port, const struct port_frame *fr, void *ctx);
/* A frame went to the management netif: let lwIP answer soon. */
void gw_mgmt_poll_soon(struct gateway *g);

/* gateway_hold.c */
enum gw_hold_step {
	GW_HOLD_NO = 0,  /* go on with the frame as judged (held frames may have been let go first) */
	GW_HOLD_TAKEN,   /* the hold has the frame: it was kept, let go or dropped */
	GW_HOLD_DROP,    /* drop the frame, no answer (a retransmission of held bytes, a conflict) */
};
/*
 * After gw_judge(): hold frame (len bytes; tag and aux are the mode's, given
 * back to ops with the frame) when its flow's name is still to come, or end
 * the flow's hold now that it is known.
 */
enum gw_hold_step gw_hold(struct gateway *g, const struct gw_hold_ops *ops,
			  const struct pipeline_result *res, const struct enforce_action *act,
			  const uint8_t *frame, uint32_t len, uint32_t tag, const uint32_t aux[2]);
/* Both inline modes: the hold pool (Kconfig HOLD_*), logged. Returns 0 or -ENOMEM. */
int gw_hold_start(struct gateway *g);
/* f was cut by a new list (gateway_rejudge.c): what it holds is dropped, never released. */
void gw_hold_cut(struct gateway *g, const struct flow *f);
/* The hold's counters, one log line at stop. */
void gw_hold_log_totals(struct gateway *g);

/*
 * One log line per blocked flow (gateway_blocklog.c): true when hit is the
 * block of a flow key, rule and stage already logged recently (a client
 * sending its SYN or ClientHello again); it is counted instead.
 */
bool gw_blocklog_repeat(struct gateway *g, const struct policy_hit *hit, uint64_t now_ms);
void gw_blocklog_log_totals(const struct gateway *g);
/* g->hold_timer's callback: holds past their time are let go. */
void gw_hold_expire(struct loop_timer *t);
/* Let every held frame go (the mode stops). */
void gw_hold_flush(struct gateway *g);

/* gateway_report.c */
/*
 * The summary, the alerts and their sink: replay --reports, JSON lines on
 * stdout; live modes, the spool and the uplink (start after the uplink, stop
 * after it). Returns 0 or -errno, logged.
 */
int gw_report_start(struct gateway *g);
/* Feed the summary: an ended flow, a policy hit. No-ops without reports. */
void gw_report_flow_end(struct gateway *g, const struct flow *f);
void gw_report_hit(struct gateway *g, const struct policy_hit *hit);
/* The pipeline's clock is at now_ms: the intervals that ended are put to the sink. */
void gw_report_clock(struct gateway *g, uint64_t now_ms);
/* After the flows were ended: the last interval, then everything freed. */
void gw_report_stop(struct gateway *g, uint64_t now_ms);
/* Live: send what the spool holds as the uplink allows (after every uplink_tick()). */
void gw_report_wire_tick(struct gateway *g);
/* Live: port name's link went (up false) or came back: a link_down or link_up alert. */
void gw_report_link(struct gateway *g, const char *name, bool up);
/* A bundle was refused (the store's or OTA's reason, bundle_err_name): a bundle_refused alert. */
void gw_report_refused(struct gateway *g, const char *reason, uint64_t serial);
/*
 * The hub's `report` command: the summary of the interval so far, and
 * every device of the inventory as an asset record.
 */
void gw_report_on_request(struct gateway *g);
/* The spool's counters (the console's status). Returns 0, or -ENOENT without a spool. */
struct spool_stats;
int gw_report_spool_stats(const struct gateway *g, struct spool_stats *st);

/* gateway_console.c */
/* The console on [console] device or the board's, if any. Returns 0 or -errno, logged. */
int gw_console_start(struct gateway *g);
void gw_console_stop(struct gateway *g);

/* gateway_nfq.c */
/* The kernel bridge and its queue. Returns 0 or -errno (-EOPNOTSUPP: not built in), logged. */
int gw_nfq_start(struct gateway *g);
void gw_nfq_stop(struct gateway *g);

/* gateway_wdog.c */
/*
 * Live modes on a board with a watchdog (board.h) and CONFIG_WATCHDOG_TIMEOUT:
 * arm it and feed it from a loop timer, so a stalled loop stops the feeding
 * and the hardware resets the box. Without one, or when it cannot be opened
 * (logged), nothing.
 */
void gw_wdog_start(struct gateway *g);
/* clean: a stop asked for (signal, --duration): the magic close disarms it. */
void gw_wdog_stop(struct gateway *g, bool clean);

#endif

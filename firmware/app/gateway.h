/*
 * The running gateway: one pipeline, one blocklist in force, one event loop,
 * and the mode that moves frames ([gateway] mode):
 *
 *   monitor  one mirror port (libpcap); detect and report; with [ports] inject,
 *            TCP resets and DNS answers for blocked flows are sent from that port
 *   bridge   a userspace bridge over [ports] lan and wan (libpcap, MAC learning):
 *            frames of blocked flows are dropped before they leave, the client
 *            gets a RST or the gateway's DNS answer
 *   nfqueue  the kernel bridges lan and wan ([nfqueue] bridge); the packets of
 *            undecided flows come through NFQUEUE, decided flows are offloaded
 *            by conntrack mark; queue bypass and fail-open keep the office
 *            online without the firmware
 *
 * SIGTERM and SIGINT stop it cleanly (flows reported, rules removed); SIGHUP
 * reads the configuration and the bundle on flash again. Settings that need
 * ports reopened or tables resized are reported as waiting for a restart.
 */
#ifndef TG_GATEWAY_H
#define TG_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct gateway_opts {
	struct tg_config cfg;
	bool flows;             /* one JSON object per ended flow on stdout */
	bool reports;           /* replay: the records to the SOC as JSON lines on stdout */
	const char *inventory;  /* replay --reports: the inventory it starts from and keeps; NULL: none */
	const char *from[8];    /* report reveal --from: files whose words are candidates */
	unsigned int n_from;
	uint32_t duration_s;    /* live: stop after this long; 0 = until a signal */
	const char *bundle;     /* judge with this bundle file instead of the one on flash */
	const char *config_path; /* -c FILE: what the console's config confirm writes; NULL = none */
	/* SIGHUP: read the configuration again (file and command-line options) into cfg. */
	int (*reload)(struct tg_config *cfg, void *ctx);
	void *reload_ctx;
};

struct gateway;

/*
 * Put next in force as SIGHUP does with the file: what can change live
 * changes now; sections that need a restart keep their values in force and
 * are named, comma-separated, in restart ("" when none). Returns 0.
 */
int gateway_apply(struct gateway *g, const struct tg_config *next, char *restart, size_t size);

/* Classify a capture file; totals on stdout (stderr with flows). Returns the exit status. */
int gateway_replay(struct gateway_opts *o, const char *file);

/* Run o->cfg.gateway.mode until stopped. Returns the exit status. */
int gateway_run(struct gateway_opts *o);

#endif

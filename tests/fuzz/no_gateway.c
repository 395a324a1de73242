/*
 * The running gateway's side of the console's information commands
 * (firmware/app/console_info.c), for fuzzers, which link the firmware
 * without the gateway (gateway*.c, status.c, the uplink and the drivers):
 * a fuzzed console has no gateway (con_gateway() is NULL), so the commands
 * refuse before they reach any of these; each one aborts if it is reached.
 */
#include <stdlib.h>

#include "app/diag.h"
#include "app/gateway_priv.h"
#include "hub/uplink.h"
#include "mgmt.h"

void diag_collect(struct gateway *g, struct diag_facts *fx)
{
	(void)g, (void)fx;
	abort();
}

unsigned int gw_blocklog_recent(const struct gateway *g, unsigned int n,
				void (*fn)(const char *line, void *ctx), void *ctx)
{
	(void)g, (void)n, (void)fn, (void)ctx;
	abort();
}

unsigned int gw_report_recent_alerts(const struct gateway *g, unsigned int n,
				     void (*fn)(const char *line, void *ctx), void *ctx)
{
	(void)g, (void)n, (void)fn, (void)ctx;
	abort();
}

void gw_report_on_request(struct gateway *g)
{
	(void)g;
	abort();
}

void gw_mgmt_poll_soon(struct gateway *g)
{
	(void)g;
	abort();
}

int gw_capture_start(struct gateway *g, int port, uint32_t seconds, uint64_t max_bytes,
		     const char *path, gw_capture_done_fn done, void *ctx)
{
	(void)g, (void)port, (void)seconds, (void)max_bytes, (void)path, (void)done, (void)ctx;
	abort();
}

bool uplink_connected(const struct uplink *u)
{
	(void)u;
	abort();
}

int mgmt_resolve(struct mgmt *m, const char *name, mgmt_resolve_fn done, void *ctx)
{
	(void)m, (void)name, (void)done, (void)ctx;
	abort();
}

int mgmt_ping(struct mgmt *m, const char *addr, uint16_t seq, uint32_t timeout_ms,
	      mgmt_ping_fn done, void *ctx)
{
	(void)m, (void)addr, (void)seq, (void)timeout_ms, (void)done, (void)ctx;
	abort();
}

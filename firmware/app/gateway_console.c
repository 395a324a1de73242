/*
 * The console in the running gateway: the tty ([console] device, else the
 * board's; "none" or neither: no console) at [console] speed (else the
 * board's console_speed, else 115200) opened raw by the tty driver
 * (core/tty.h) and watched by the one loop, and what the console asks of
 * the gateway (console_priv.h, struct con_host): a configuration put in
 * force, a reboot, an event sent to the SOC as a console alert.
 *
 * A console that cannot be opened is logged and left out: the office stays
 * protected without it.
 */
#define LOG_MODULE "console"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/console_priv.h"
#include "app/gateway_priv.h"
#include "core/board.h"
#include "core/common.h"
#include "core/log.h"
#include "core/tty.h"

static int gw_con_apply(void *ctx, const struct tg_config *next, char *restart, size_t size)
{
	return gateway_apply(ctx, next, restart, size);
}

static void gw_con_reboot(void *ctx)
{
	struct gateway *g = ctx;

	g->reboot = true;
	loop_stop(g->loop);
}

/* Every console event is also an alert to the SOC (docs/reports.md, type console). */
static void gw_con_event(void *ctx, const char *what, const char *detail)
{
	gw_report_console(ctx, what, detail);
}

int gw_console_start(struct gateway *g)
{
	const struct tg_config *cfg = g->cfg;
	const char *dev = cfg->console.device[0] ? cfg->console.device : board_info()->console;
	struct con_opts o = {
		.loop = g->loop,
		.cfg = cfg,
		.config_path = g->o->config_path,
		.gw = g,
		.host = { .apply = gw_con_apply, .reboot = gw_con_reboot, .event = gw_con_event, .ctx = g },
	};
	char err[CONFIG_PATH_MAX + 96];
	unsigned int baud = config_console_baud(cfg->console.speed, board_info()->console_speed);
	int fd;

	if (!dev || !dev[0] || !strcmp(dev, "none"))
		return 0;
	fd = tty_open(dev, baud, err, sizeof(err));
	if (fd < 0) {
		log_err("[console] device: %s: no console", err);
		return fd;
	}
	o.fd = fd;
	g->console = console_new(&o);
	if (!g->console) {
		log_err("console on %s: %s", dev, strerror(errno));
		tty_close(fd);
		return -ENOMEM;
	}
	g->console_fd = fd;
	log_info("console on %s at %u bit/s", dev, baud);
	return 0;
}

void gw_console_stop(struct gateway *g)
{
	if (!g->console)
		return;
	console_free(g->console);
	g->console = NULL;
	tty_close(g->console_fd);
	g->console_fd = -1;
}

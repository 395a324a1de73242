/*
 * The facts of the running gateway for `status` and `diag` (diag.h):
 * read from the gateway's parts, the links from the kernel, the
 * certificates from their files and the flash from statvfs(), copied into
 * a struct diag_facts so the judgement needs no gateway. Nothing here
 * blocks or changes the gateway: it is called from a console command.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "app/diag.h"
#include "app/gateway_priv.h"
#include "core/board.h"
#include "core/i18n.h"
#include "hub/certtime.h"
#include "link.h"
#include "mgmt.h"
#include "packet/flow.h"
#include "report/spool.h"

static void diag_port(struct diag_facts *fx, struct gw_port *gp, int role, const char *label)
{
	struct diag_port *p;
	struct link_state ls;
	struct port_stats ps;

	if (!gp->name[0] || fx->n_ports == DIAG_PORTS)
		return;
	p = &fx->port[fx->n_ports++];
	snprintf(p->name, sizeof(p->name), "%s", gp->name);
	p->role = role;
	p->label = label;
	if (link_get(gp->name, &ls) == 0) {
		p->exists = ls.exists;
		p->admin_up = ls.admin_up;
		p->carrier = ls.carrier;
	}
	if (gp->is_open && port_stats(&gp->port, &ps) == 0) {
		p->rx_frames = ps.rx_frames;
		p->tx_frames = ps.tx_frames;
	}
}

static void diag_ports(struct gateway *g, struct diag_facts *fx)
{
	const struct board *b = board_info();

	switch (g->cfg->gateway.mode) {
	case TG_MODE_MONITOR:
		diag_port(fx, &g->ports[GW_MIRROR], DIAG_ROLE_MIRROR, b->mirror_label);
		if (g->n_ports > GW_INJECT)
			diag_port(fx, &g->ports[GW_INJECT], DIAG_ROLE_INJECT, NULL);
		break;
	default:
		diag_port(fx, &g->ports[GW_LAN], DIAG_ROLE_LAN, b->lan_label);
		diag_port(fx, &g->ports[GW_WAN], DIAG_ROLE_WAN, b->wan_label);
		break;
	}
	if (g->cfg->mgmt.mode != TG_MGMT_OFF && g->cfg->gateway.mode != TG_MODE_BRIDGE)
		diag_port(fx, &g->ports[GW_MGMT], DIAG_ROLE_MGMT, NULL);
}

static void diag_cert(struct diag_facts *fx, const char *what, const char *configured,
		      const char *file)
{
	struct diag_cert *c = &fx->cert[fx->n_certs++];
	struct certtime_dates d;

	c->what = what;
	if (configured[0])
		snprintf(c->path, sizeof(c->path), "%s", configured);
	else
		snprintf(c->path, sizeof(c->path), "%s/keys/%s", fx->data_dir, file);
	c->err = certtime_file(c->path, &d);
	c->not_before = d.not_before;
	c->not_after = d.not_after;
	snprintf(c->subject, sizeof(c->subject), "%s", d.subject);
}

static void diag_mgmt(struct gateway *g, struct diag_facts *fx)
{
	const struct tg_config *cfg = g->cfg;
	uint64_t ms;

	fx->mgmt = g->mgmt ? cfg->mgmt.mode : TG_MGMT_OFF;
	snprintf(fx->ntp, sizeof(fx->ntp), "%s", cfg->mgmt.ntp);
	snprintf(fx->broker, sizeof(fx->broker), "%s", cfg->uplink.broker);
	fx->broker_port = cfg->uplink.port;
	if (!g->mgmt)
		return;
	fx->mgmt_up = mgmt_is_up(g->mgmt) && mgmt_address(g->mgmt, fx->mgmt_addr,
							  sizeof(fx->mgmt_addr)) == 0;
	fx->time_valid = mgmt_time_valid(g->mgmt);
	if (mgmt_time_ms(g->mgmt, &ms) == 0)
		fx->now_s = ms / 1000;
	if (g->uplink) {
		fx->uplink = true;
		uplink_get_status(g->uplink, &fx->up);
	}
	if (cfg->uplink.broker[0]) {
		diag_cert(fx, N_("gateway certificate"), cfg->uplink.cert, "gw.crt");
		diag_cert(fx, N_("region CA certificate"), cfg->uplink.ca, "ca.crt");
	}
}

void diag_collect(struct gateway *g, struct diag_facts *fx)
{
	const struct tg_config *cfg = g->cfg;
	const struct board *b = board_info();
	struct flow_table_stats fs;
	struct policy_stats ps;
	struct spool_stats ss;
	struct statvfs vfs;

	memset(fx, 0, sizeof(*fx));
	snprintf(fx->id, sizeof(fx->id), "%s", cfg->gateway.id);
	snprintf(fx->region, sizeof(fx->region), "%s", cfg->gateway.region);
	snprintf(fx->data_dir, sizeof(fx->data_dir), "%s", cfg->gateway.data_dir);
	fx->version = CONFIG_VERSION;
	fx->mode = cfg->gateway.mode;
	fx->uptime_s = (loop_now_ms() - g->started_ms) / 1000;
	fx->now_s = (uint64_t)time(NULL);
	fx->cert_warn_days = CONFIG_DIAG_CERT_WARN_DAYS;
	fx->bundle_max_age = cfg->diag.bundle_max_age;
	fx->flash_min_kb = cfg->diag.flash_min_kb;
	diag_ports(g, fx);
	diag_mgmt(g, fx);
	if (g->bundle) {
		const struct bundle_info *bi = bundle_get_info(g->bundle);

		fx->bundle = true;
		fx->bundle_serial = bi->serial;
		fx->bundle_created = bi->created;
		fx->bundle_expires = bi->expires;
	}
	if (g->pl.flows) {
		flow_table_get_stats(g->pl.flows, &fs);
		fx->flows = fs.active;
	}
	if (g->policy) {
		policy_get_stats(g->policy, &ps);
		for (int i = 0; i < POLICY_STAGE_MAX; i++)
			fx->blocks += ps.hits[i];
	}
	if (gw_report_spool_stats(g, &ss) == 0) {
		fx->spool = true;
		fx->spool_records = ss.records;
		fx->spool_bytes = ss.bytes;
		fx->spool_limit = ss.limit;
	}
	if (statvfs(cfg->gateway.data_dir, &vfs) == 0) {
		fx->flash_free_kb = (uint64_t)vfs.f_bavail * vfs.f_frsize / 1024;
		fx->flash_total_kb = (uint64_t)vfs.f_blocks * vfs.f_frsize / 1024;
	} else {
		fx->flash_err = -errno;
	}
	fx->watchdog = b->watchdog;
	fx->watchdog_open = b->watchdog && access(b->watchdog, W_OK) == 0;
}

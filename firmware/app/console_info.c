/*
 * The console's information commands (console_info.h): the facts of
 * diag_collect() rendered by diag.c, and the few commands that read one
 * part of the gateway directly. Every handler runs inside the loop and
 * returns at once; `dns` prints its answer when the resolver calls back.
 *
 * Built once the console framework (app/console.h, engineer C's part) is
 * in the tree; until then this file compiles to nothing.
 */
#if __has_include("app/console.h")
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/console.h"
#include "app/console_info.h"
#include "app/diag.h"
#include "app/gateway_priv.h"
#include "core/i18n.h"
#define LOG_MODULE "console"
#include "core/log.h"
#include "mgmt.h"
#include "packet/flow.h"

/* A rendered screen (diag.c prints to a FILE) handed to the console in one write. */
static int con_screen(struct console *c, bool status)
{
	struct gateway *g = con_gateway(c);
	struct diag_facts fx;
	struct diag_report r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!g) {
		con_printf(c, "%s\n", _("no gateway running"));
		return 1;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		con_printf(c, "%s\n", _("out of memory"));
		return 1;
	}
	diag_collect(g, &fx);
	diag_judge(&fx, &r);
	if (status)
		diag_render_status(f, &fx, &r);
	else
		diag_render_diag(f, &r);
	fclose(f);
	con_write(c, buf, len);
	free(buf);
	return status || r.first_fail < 0 ? 0 : 1;
}

int con_cmd_lang(struct console *c, int argc, char **argv)
{
	int lang;

	if (argc < 2) {
		con_printf(c, "%s\n", i18n_lang_name(i18n_get_lang()));
		return 0;
	}
	lang = i18n_lang_parse(argv[1]);
	if (lang < 0) {
		con_printf(c, _("no messages in \"%s\": en or zh_TW\n"), argv[1]);
		return 1;
	}
	i18n_set_lang(lang);
	con_printf(c, "%s\n", _("Messages in English from now on."));
	return 0;
}

int con_cmd_status(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return con_screen(c, true);
}

int con_cmd_diag(struct console *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return con_screen(c, false);
}

int con_cmd_ports(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);
	struct diag_facts fx;

	(void)argc;
	(void)argv;
	if (!g)
		return 1;
	diag_collect(g, &fx);
	con_printf(c, "%-10s %-8s %-10s %12s %12s\n", _("port"), _("role"), _("link"), _("rx frames"),
		   _("tx frames"));
	for (int i = 0; i < fx.n_ports; i++) {
		const struct diag_port *p = &fx.port[i];

		con_printf(c, "%-10s %-8s %-10s %12" PRIu64 " %12" PRIu64 "\n", p->name,
			   p->role == DIAG_ROLE_LAN ? "LAN" : p->role == DIAG_ROLE_WAN ? "WAN" :
			   p->role == DIAG_ROLE_MIRROR ? _("mirror") : p->role == DIAG_ROLE_INJECT ? _("inject") :
			   _("management"),
			   !p->exists ? _("missing") : !p->admin_up ? _("off") : p->carrier ? _("up") : _("no link"),
			   p->rx_frames, p->tx_frames);
	}
	return 0;
}

/* The N largest open flows by bytes, kept sorted while the table is walked. */
#define CON_FLOWS_MAX 50
struct con_top {
	const struct flow *f[CON_FLOWS_MAX];
	uint64_t bytes[CON_FLOWS_MAX];
	unsigned int n, want;
};

static void con_top_add(struct flow *f, void *ctx)
{
	struct con_top *t = ctx;
	uint64_t b = f->bytes[0] + f->bytes[1];
	unsigned int i;

	if (t->n == t->want && b <= t->bytes[t->n - 1])
		return;
	if (t->n < t->want)
		t->n++;
	for (i = t->n - 1; i > 0 && t->bytes[i - 1] < b; i--) {
		t->f[i] = t->f[i - 1];
		t->bytes[i] = t->bytes[i - 1];
	}
	t->f[i] = f;
	t->bytes[i] = b;
}

int con_cmd_flows(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);
	struct con_top t = { .want = 10 };
	struct flow_table_stats st;
	uint32_t cursor = 0;

	if (!g || !g->pl.flows)
		return 1;
	if (argc >= 2) {
		unsigned long n = 0;
		char *end = NULL;

		if (argc == 3 && strcmp(argv[1], "top") == 0)
			n = strtoul(argv[2], &end, 10);
		if (!end || *end || n < 1 || n > CON_FLOWS_MAX) {
			con_printf(c, _("usage: flows [top N], N from 1 to %d\n"), CON_FLOWS_MAX);
			return 1;
		}
		t.want = (unsigned int)n;
	}
	flow_table_get_stats(g->pl.flows, &st);
	con_printf(c, _("%" PRIu32 " open flows of %" PRIu32 "\n"), st.active, st.capacity);
	flow_walk(g->pl.flows, &cursor, 0, con_top_add, &t);
	for (unsigned int i = 0; i < t.n; i++) {
		const struct flow *f = t.f[i];
		char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
		int af = f->key.ip_version == 4 ? AF_INET : AF_INET6;

		inet_ntop(af, flow_src(f)->b, src, sizeof(src));
		inet_ntop(af, flow_dst(f)->b, dst, sizeof(dst));
		con_printf(c, "%3u %s %s:%u -> %s:%u  %" PRIu64 " B\n", i + 1,
			   f->key.l4_proto == 6 ? "tcp" : f->key.l4_proto == 17 ? "udp" : "ip ", src,
			   flow_sport(f), dst, flow_dport(f), t.bytes[i]);
	}
	return 0;
}

int con_cmd_bundle(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);
	const struct bundle_info *bi;
	struct diag_facts fx;
	char age[32];

	(void)argc;
	(void)argv;
	if (!g)
		return 1;
	if (!g->bundle) {
		con_printf(c, "%s\n", _("no blocklist in force: nothing is blocked"));
		return 1;
	}
	diag_collect(g, &fx);
	bi = bundle_get_info(g->bundle);
	diag_fmt_age(age, sizeof(age), fx.now_s > bi->created ? fx.now_s - bi->created : 0);
	con_printf(c, _("serial %" PRIu64 ", %s old, region %s\n"), bi->serial, age, bi->region);
	for (int k = 0; k < BUNDLE_KIND_MAX; k++)
		con_printf(c, "  %-10s %zu\n", bundle_kind_name((enum bundle_kind)k),
			   bundle_count(g->bundle, (enum bundle_kind)k, false));
	return 0;
}

static void con_log_line(const char *line, void *ctx)
{
	con_printf(ctx, "%s\n", line);
}

int con_cmd_log(struct console *c, int argc, char **argv)
{
	unsigned long n = 20;
	char *end = NULL;

	if (argc >= 2) {
		n = strtoul(argv[1], &end, 10);
		if (argc > 2 || *end || n < 1 || n > 128) {
			con_printf(c, "%s\n", _("usage: log [N], N from 1 to 128"));
			return 1;
		}
	}
	log_recent((unsigned int)n, con_log_line, c);
	return 0;
}

int con_cmd_report(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);

	(void)argc;
	(void)argv;
	if (!g || !g->report) {
		con_printf(c, "%s\n", _("no reports in this mode"));
		return 1;
	}
	gw_report_on_request(g);
	con_printf(c, "%s\n", g->uplink && uplink_connected(g->uplink)
				      ? _("the summary so far and the inventory are on their way to the hub")
				      : _("the summary so far and the inventory wait in the spool (no uplink now)"));
	return 0;
}

/*
 * The answer comes from a later mgmt_poll(): the console it was asked on
 * is kept, and one lookup is outstanding at a time, so a session that ends
 * meanwhile is told apart by con_dns_pending being cleared (con_dns_forget).
 */
static struct console *con_dns_pending;

static void con_dns_done(const char *name, const char *addr, void *ctx)
{
	struct console *c = ctx;

	if (c != con_dns_pending)
		return;
	con_dns_pending = NULL;
	con_async_begin(c);
	if (addr)
		con_printf(c, _("%s is %s\n"), name, addr);
	else
		con_printf(c, _("%s: no answer from the DNS server\n"), name);
	con_async_end(c);
}

int con_cmd_dns(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);
	int ret;

	if (argc != 2) {
		con_printf(c, "%s\n", _("usage: dns NAME"));
		return 1;
	}
	if (!g || !g->mgmt) {
		con_printf(c, "%s\n", _("the management stack is off ([mgmt] mode = off)"));
		return 1;
	}
	if (con_dns_pending) {
		con_printf(c, "%s\n", _("a lookup is still under way: wait for its answer"));
		return 1;
	}
	con_dns_pending = c;
	ret = mgmt_resolve(g->mgmt, argv[1], con_dns_done, c);
	if (ret < 0) {
		con_dns_pending = NULL;
		con_printf(c, _("cannot look up %s: %s\n"), argv[1],
			   ret == -ENOTCONN ? _("the gateway has no address") : _("not a host name"));
		return 1;
	}
	gw_mgmt_poll_soon(g);
	con_printf(c, _("looking up %s...\n"), argv[1]);
	return 0;
}

/*
 * ping HOST: the name looked up, then CON_PING_COUNT echoes one after
 * another (the next when the last answered or timed out), each printed
 * when it comes, and the count at the end.
 */
#define CON_PING_COUNT 3
#define CON_PING_TIMEOUT_MS 2000
static struct {
	struct console *c;
	struct gateway *g;
	char host[64];
	uint16_t seq;
	int replies;
} con_ping;

/* An answer of the ping under way, printed below the prompt. */
static void con_ping_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void con_ping_say(const char *fmt, ...)
{
	va_list ap;

	con_async_begin(con_ping.c);
	va_start(ap, fmt);
	con_vprintf(con_ping.c, fmt, ap);
	va_end(ap);
	con_async_end(con_ping.c);
}

static void con_ping_echo(const char *addr, uint16_t seq, int64_t rtt_us, void *ctx);

static void con_ping_next(const char *addr)
{
	int ret = mgmt_ping(con_ping.g->mgmt, addr, ++con_ping.seq, CON_PING_TIMEOUT_MS,
			    con_ping_echo, NULL);

	if (ret < 0) {
		con_ping_say(_("ping %s: cannot send: %s\n"), addr, strerror(-ret));
		con_ping.c = NULL;
		return;
	}
	gw_mgmt_poll_soon(con_ping.g);
}


static void con_ping_echo(const char *addr, uint16_t seq, int64_t rtt_us, void *ctx)
{
	struct console *c = con_ping.c;

	(void)ctx;
	if (!c)
		return;
	if (rtt_us >= 0) {
		con_ping.replies++;
		con_ping_say(_("reply from %s: seq %u, %" PRId64 ".%03" PRId64 " ms\n"), addr, seq,
			     rtt_us / 1000, rtt_us % 1000);
	} else {
		con_ping_say(_("no reply from %s: seq %u\n"), addr, seq);
	}
	if (seq < CON_PING_COUNT) {
		con_ping_next(addr);
		return;
	}
	con_ping_say(_("%s: %d of %d answered\n"), con_ping.host, con_ping.replies, CON_PING_COUNT);
	con_ping.c = NULL;
}

static void con_ping_resolved(const char *name, const char *addr, void *ctx)
{
	(void)ctx;
	if (!con_ping.c)
		return;
	if (!addr) {
		con_ping_say(_("%s: no answer from the DNS server\n"), name);
		con_ping.c = NULL;
		return;
	}
	con_ping_say(_("ping %s (%s)\n"), name, addr);
	con_ping_next(addr);
}

int con_cmd_ping(struct console *c, int argc, char **argv)
{
	struct gateway *g = con_gateway(c);
	int ret;

	if (argc != 2 || strlen(argv[1]) >= sizeof(con_ping.host)) {
		con_printf(c, "%s\n", _("usage: ping HOST"));
		return 1;
	}
	if (!g || !g->mgmt) {
		con_printf(c, "%s\n", _("the management stack is off ([mgmt] mode = off)"));
		return 1;
	}
	if (con_ping.c) {
		con_printf(c, "%s\n", _("a ping is still under way: wait for its end"));
		return 1;
	}
	con_ping.c = c;
	con_ping.g = g;
	con_ping.seq = 0;
	con_ping.replies = 0;
	snprintf(con_ping.host, sizeof(con_ping.host), "%s", argv[1]);
	ret = mgmt_resolve(g->mgmt, argv[1], con_ping_resolved, NULL);
	if (ret < 0) {
		con_ping.c = NULL;
		con_printf(c, _("cannot look up %s: %s\n"), argv[1],
			   ret == -ENOTCONN ? _("the gateway has no address") : _("not a host name"));
		return 1;
	}
	gw_mgmt_poll_soon(g);
	return 0;
}
#endif

/*
 * diag's judgement and the text of `status` and `diag` (diag.h). Nothing
 * here reads the gateway: the facts come in a struct, so every fault and
 * its words are pinned by tests/unit/test_diag.c without one.
 *
 * The words are for a technician who is not a security expert: a cause
 * says what is wrong in terms of the box in front of them (a port, a
 * cable, the office router), and a remedy says what to do next. Each is a
 * catalogue message (po/), so zh_TW reads them in Traditional Chinese.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "app/diag.h"
#include "core/common.h"
#include "core/config.h"
#include "core/i18n.h"

/* The screen's width: an 80-column terminal, plain ASCII, no colour (issue 14). */
#define DIAG_COLS 80

static const char *const diag_names[DIAG_CHECKS] = {
	[DIAG_LINKS] = N_("links"),   [DIAG_DHCP] = N_("DHCP"),
	[DIAG_DNS] = N_("DNS"),       [DIAG_TIME] = N_("time"),
	[DIAG_BROKER] = N_("broker"), [DIAG_CERTS] = N_("certificates"),
	[DIAG_BUNDLE] = N_("bundle"), [DIAG_FLASH] = N_("flash"),
	[DIAG_WATCHDOG] = N_("watchdog"),
};

const char *diag_check_name(enum diag_check c)
{
	return c < DIAG_CHECKS ? _(diag_names[c]) : "?";
}

void diag_fmt_age(char *buf, size_t len, uint64_t s)
{
	if (s >= 86400)
		snprintf(buf, len, _("%" PRIu64 "d %02" PRIu64 "h"), s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, _("%" PRIu64 "h %02" PRIu64 "m"), s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, _("%" PRIu64 "m %02" PRIu64 "s"), s / 60, s % 60);
	else
		snprintf(buf, len, _("%" PRIu64 "s"), s);
}

static void diag_date(char *buf, size_t len, int64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(buf, len, "%Y-%m-%d", &tm);
	else
		snprintf(buf, len, "%" PRId64, s);
}

/* ------------------------------------------------------------ findings */

__attribute__((format(printf, 3, 0))) static void diag_vset(char *buf, size_t len, const char *fmt,
							    va_list ap)
{
	/* NOLINT: see log_emit() in log.c (clang-tidy 14 valist false positive) */
	vsnprintf(buf, len, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
}

static struct diag_finding *diag_add(struct diag_report *r, enum diag_check c, enum diag_verdict v,
				     enum diag_fault fault)
{
	struct diag_finding *f;

	if (r->n == DIAG_FINDINGS_MAX)
		f = &r->f[DIAG_FINDINGS_MAX - 1]; /* the last one is overwritten: never more than 16 */
	else
		f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	f->check = c;
	f->verdict = v;
	f->fault = fault;
	if (v == DIAG_FAIL && r->first_fail < 0)
		r->first_fail = (int)(f - r->f);
	return f;
}

__attribute__((format(printf, 2, 3))) static void diag_what(struct diag_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vset(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void diag_remedy(struct diag_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vset(f->remedy, sizeof(f->remedy), fmt, ap);
	va_end(ap);
}

static void diag_ok(struct diag_report *r, enum diag_check c, const char *what)
{
	diag_what(diag_add(r, c, DIAG_OK, DIAG_F_NONE), "%s", what);
}

static void diag_skip(struct diag_report *r, enum diag_check c, const char *why)
{
	diag_what(diag_add(r, c, DIAG_SKIP, DIAG_F_NONE), "%s", why);
}

/* "port 2, the one marked WAN" from the board, else "port tg-wan". */
static const char *diag_port_label(const struct diag_port *p, char *buf, size_t len)
{
	if (p->label)
		return _(p->label);
	snprintf(buf, len, _("port %s"), p->name);
	return buf;
}

static const char *diag_role_name(int role)
{
	static const char *const names[] = { N_("LAN"), N_("WAN"), N_("mirror"), N_("inject"),
					     N_("management") };

	return role >= 0 && role < (int)ARRAY_SIZE(names) ? _(names[role]) : "?";
}

static void diag_links(const struct diag_facts *fx, struct diag_report *r)
{
	char seen[160] = "", label[48];
	bool bad = false;

	for (int i = 0; i < fx->n_ports; i++) {
		const struct diag_port *p = &fx->port[i];
		const char *where = diag_port_label(p, label, sizeof(label));
		struct diag_finding *f;
		size_t n = strlen(seen);

		if (p->exists && p->admin_up && p->carrier) {
			snprintf(seen + n, sizeof(seen) - n, "%s%s %s %s", n ? ", " : "",
				 diag_role_name(p->role), p->name, _("up"));
			continue;
		}
		bad = true;
		if (!p->exists) {
			f = diag_add(r, DIAG_LINKS, DIAG_FAIL, DIAG_F_PORT_MISSING);
			diag_what(f, _("%s port %s is not there"), diag_role_name(p->role), p->name);
			diag_remedy(f, _("check the port names in the configuration ([ports], [mgmt] port) "
					 "and that the board's network driver is loaded"));
		} else if (!p->admin_up) {
			f = diag_add(r, DIAG_LINKS, DIAG_FAIL, DIAG_F_PORT_DOWN);
			diag_what(f, _("%s port %s is switched off (administratively down)"),
				  diag_role_name(p->role), p->name);
			diag_remedy(f, _("restart townguard, which brings its ports up (reboot)"));
		} else if (p->role == DIAG_ROLE_WAN) {
			f = diag_add(r, DIAG_LINKS, DIAG_FAIL, DIAG_F_WAN_NO_LINK);
			diag_what(f, _("WAN port has no link"));
			diag_remedy(f, _("check the cable to the ISP router (%s)"), where);
		} else if (p->role == DIAG_ROLE_LAN) {
			f = diag_add(r, DIAG_LINKS, DIAG_FAIL, DIAG_F_LAN_NO_LINK);
			diag_what(f, _("LAN port has no link"));
			diag_remedy(f, _("check the cable to the office switch (%s)"), where);
		} else {
			f = diag_add(r, DIAG_LINKS, DIAG_FAIL, DIAG_F_PORT_NO_LINK);
			diag_what(f, _("%s port %s has no link"), diag_role_name(p->role), p->name);
			diag_remedy(f, _("check the cable to the switch (%s)"), where);
		}
	}
	if (!bad)
		diag_ok(r, DIAG_LINKS, fx->n_ports ? seen : _("no ports in this mode"));
}

static void diag_dhcp(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;
	char buf[96];

	if (fx->mgmt == TG_MGMT_OFF) {
		diag_skip(r, DIAG_DHCP, _("management stack off ([mgmt] mode = off)"));
		return;
	}
	if (fx->mgmt_up) {
		snprintf(buf, sizeof(buf), _("address %s (%s)"), fx->mgmt_addr,
			 fx->mgmt == TG_MGMT_DHCP ? "DHCP" : _("static"));
		diag_ok(r, DIAG_DHCP, buf);
		return;
	}
	if (fx->mgmt == TG_MGMT_DHCP) {
		f = diag_add(r, DIAG_DHCP, DIAG_FAIL, DIAG_F_NO_DHCP);
		diag_what(f, _("no DHCP answer: the gateway has no address of its own"));
		diag_remedy(f, _("check that the office router hands out addresses (DHCP) on this "
				 "network, or set a static address: config set mgmt.mode static"));
		return;
	}
	f = diag_add(r, DIAG_DHCP, DIAG_FAIL, DIAG_F_NO_ADDRESS);
	diag_what(f, _("the static address is not in use"));
	diag_remedy(f, _("check [mgmt] address and netmask (config show)"));
}

static void diag_dns(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;
	char buf[128];

	if (fx->mgmt == TG_MGMT_OFF || !fx->uplink) {
		diag_skip(r, DIAG_DNS, _("no broker name to look up (try: dns NAME)"));
		return;
	}
	if (!fx->mgmt_up) {
		f = diag_add(r, DIAG_DNS, DIAG_FAIL, DIAG_F_DNS_NO_ADDRESS);
		diag_what(f, _("not tried: the gateway has no address"));
		diag_remedy(f, _("fix DHCP first"));
		return;
	}
	if (fx->up.resolve_failed) {
		f = diag_add(r, DIAG_DNS, DIAG_FAIL, DIAG_F_DNS_FAILED);
		diag_what(f, _("cannot look up the broker's name %s"), fx->broker);
		diag_remedy(f, _("check the DNS server the office router gives (or [mgmt] dns); "
				 "try: dns %s"), fx->broker);
		return;
	}
	if (fx->up.phase == UP_WAIT_NET || fx->up.phase == UP_RESOLVING) {
		diag_what(diag_add(r, DIAG_DNS, DIAG_INFO, DIAG_F_NONE), "%s",
			  _("not tried yet: the broker is looked up once the time is set"));
		return;
	}
	snprintf(buf, sizeof(buf), _("broker %s found"), fx->broker);
	diag_ok(r, DIAG_DNS, buf);
}

static void diag_time(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;

	if (fx->mgmt == TG_MGMT_OFF) {
		diag_skip(r, DIAG_TIME, _("management stack off ([mgmt] mode = off)"));
		return;
	}
	if (fx->time_valid) {
		diag_ok(r, DIAG_TIME, _("set by SNTP"));
		return;
	}
	f = diag_add(r, DIAG_TIME, DIAG_FAIL, DIAG_F_NO_TIME);
	if (!fx->mgmt_up) {
		diag_what(f, _("the time is not set: the gateway has no address to ask with"));
		diag_remedy(f, _("fix DHCP first"));
		return;
	}
	diag_what(f, _("the time is not set: no answer from the time server %s"),
		  fx->ntp[0] ? fx->ntp : _("(the one DHCP names)"));
	diag_remedy(f, _("check that the time server answers (UDP port 123 must be open to "
			 "it), or name another: config set mgmt.ntp SERVER"));
}

static void diag_broker(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;
	char buf[128];

	if (fx->mgmt == TG_MGMT_OFF || !fx->broker[0]) {
		diag_skip(r, DIAG_BROKER, _("no uplink configured ([uplink] broker)"));
		return;
	}
	if (fx->up.phase == UP_CONNECTED) {
		snprintf(buf, sizeof(buf), _("connected to %s:%" PRIu32), fx->broker, fx->broker_port);
		diag_ok(r, DIAG_BROKER, buf);
		return;
	}
	if (fx->up.phase == UP_WAIT_NET) {
		f = diag_add(r, DIAG_BROKER, DIAG_FAIL, DIAG_F_BROKER_WAITING);
		diag_what(f, _("not connected: waiting for an address and the time"));
		diag_remedy(f, _("fix the checks above first"));
		return;
	}
	f = diag_add(r, DIAG_BROKER, DIAG_FAIL, DIAG_F_BROKER_DOWN);
	diag_what(f, _("the hub's broker %s:%" PRIu32 " does not answer (%s)"), fx->broker,
		  fx->broker_port, fx->up.last_error[0] ? fx->up.last_error : _("connecting"));
	diag_remedy(f, _("check that TCP port %" PRIu32 " is open outbound in the office "
			 "firewall; if it is, call the hub: its broker may be down"),
		    fx->broker_port);
}

static void diag_certs(const struct diag_facts *fx, struct diag_report *r)
{
	int64_t now = (int64_t)fx->now_s, soonest = INT64_MAX;
	bool bad = false;

	if (fx->mgmt == TG_MGMT_OFF || !fx->broker[0] || !fx->n_certs) {
		diag_skip(r, DIAG_CERTS, _("no uplink configured ([uplink] broker)"));
		return;
	}
	for (int i = 0; i < fx->n_certs; i++) {
		const struct diag_cert *c = &fx->cert[i];
		struct diag_finding *f;
		char date[24];
		int64_t left = c->not_after - now;

		if (c->err == -ENOENT) {
			f = diag_add(r, DIAG_CERTS, DIAG_FAIL, DIAG_F_CERT_MISSING);
			diag_what(f, _("%s missing: %s"), _(c->what), c->path);
			diag_remedy(f, _("install it from the provisioning kit, or ask the hub for one"));
		} else if (c->err) {
			f = diag_add(r, DIAG_CERTS, DIAG_FAIL, DIAG_F_CERT_BAD);
			diag_what(f, _("%s is not a certificate: %s"), _(c->what), c->path);
			diag_remedy(f, _("install it again from the provisioning kit, or ask the hub for one"));
		} else if (now > c->not_after) {
			diag_date(date, sizeof(date), c->not_after);
			f = diag_add(r, DIAG_CERTS, DIAG_FAIL, DIAG_F_CERT_EXPIRED);
			diag_what(f, _("%s expired on %s"), _(c->what), date);
			diag_remedy(f, _("ask the hub for a new certificate and install it in %s"), c->path);
		} else if (now < c->not_before) {
			diag_date(date, sizeof(date), c->not_before);
			f = diag_add(r, DIAG_CERTS, DIAG_FAIL, DIAG_F_CERT_NOT_YET);
			diag_what(f, _("%s is not valid before %s"), _(c->what), date);
			diag_remedy(f, _("check the time first: a wrong clock makes a good certificate look bad"));
		} else if (left < (int64_t)fx->cert_warn_days * 86400) {
			diag_date(date, sizeof(date), c->not_after);
			f = diag_add(r, DIAG_CERTS, DIAG_FAIL, DIAG_F_CERT_EXPIRING);
			diag_what(f, _("%s expires on %s, in less than %" PRIu32 " days"), _(c->what), date,
				  fx->cert_warn_days);
			diag_remedy(f, _("ask the hub for a new certificate before then"));
		} else {
			if (left < soonest)
				soonest = left;
			continue;
		}
		bad = true;
	}
	if (!bad) {
		char buf[96];

		snprintf(buf, sizeof(buf), _("valid for %" PRId64 " more days at least"), soonest / 86400);
		diag_ok(r, DIAG_CERTS, buf);
	}
}

static void diag_bundle(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;
	char age[32], max[32], buf[128];
	uint64_t a = fx->now_s > fx->bundle_created ? fx->now_s - fx->bundle_created : 0;

	if (!fx->bundle) {
		f = diag_add(r, DIAG_BUNDLE, DIAG_FAIL, DIAG_F_NO_BUNDLE);
		diag_what(f, _("no blocklist in force: nothing is blocked"));
		diag_remedy(f, fx->broker[0] ? _("the list comes from the hub over the uplink: fix "
						 "the broker check, then wait a minute")
					     : _("configure the uplink to the hub ([uplink] broker)"));
		return;
	}
	diag_fmt_age(age, sizeof(age), a);
	if (a > fx->bundle_max_age) {
		diag_fmt_age(max, sizeof(max), fx->bundle_max_age);
		f = diag_add(r, DIAG_BUNDLE, DIAG_FAIL, DIAG_F_BUNDLE_STALE);
		diag_what(f, _("the blocklist (serial %" PRIu64 ") is %s old, more than %s"),
			  fx->bundle_serial, age, max);
		diag_remedy(f, _("the hub has sent no newer list: check the broker check above, and "
				 "ask the hub whether it still publishes"));
		return;
	}
	snprintf(buf, sizeof(buf), _("serial %" PRIu64 ", %s old"), fx->bundle_serial, age);
	diag_ok(r, DIAG_BUNDLE, buf);
}

static void diag_flash(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;
	char buf[128];

	if (fx->flash_err) {
		f = diag_add(r, DIAG_FLASH, DIAG_FAIL, DIAG_F_FLASH_ERROR);
		diag_what(f, _("cannot read the data partition %s: %s"), fx->data_dir,
			  strerror(-fx->flash_err));
		diag_remedy(f, _("the data partition is not mounted: reboot; if it stays, call the vendor"));
		return;
	}
	if (fx->flash_free_kb < fx->flash_min_kb) {
		f = diag_add(r, DIAG_FLASH, DIAG_FAIL, DIAG_F_FLASH_LOW);
		diag_what(f, _("flash almost full: %" PRIu64 " KiB free of %" PRIu64 " KiB, %" PRIu32
			       " KiB needed"), fx->flash_free_kb, fx->flash_total_kb, fx->flash_min_kb);
		diag_remedy(f, _("delete old captures (%s/capture), then check that the spool "
				 "drains to the hub"), fx->data_dir);
		return;
	}
	snprintf(buf, sizeof(buf), _("%" PRIu64 " KiB free of %" PRIu64 " KiB"), fx->flash_free_kb,
		 fx->flash_total_kb);
	diag_ok(r, DIAG_FLASH, buf);
}

static void diag_watchdog(const struct diag_facts *fx, struct diag_report *r)
{
	struct diag_finding *f;

	if (!fx->watchdog) {
		diag_what(diag_add(r, DIAG_WATCHDOG, DIAG_INFO, DIAG_F_WATCHDOG_NONE), "%s",
			  _("not configured (this board has none)"));
		return;
	}
	if (!fx->watchdog_open) {
		f = diag_add(r, DIAG_WATCHDOG, DIAG_FAIL, DIAG_F_WATCHDOG_MISSING);
		diag_what(f, _("the watchdog %s is not there"), fx->watchdog);
		diag_remedy(f, _("the image lacks the watchdog driver: call the vendor"));
		return;
	}
	diag_ok(r, DIAG_WATCHDOG, fx->watchdog);
}

void diag_judge(const struct diag_facts *fx, struct diag_report *r)
{
	memset(r, 0, sizeof(*r));
	r->first_fail = -1;
	diag_links(fx, r);
	diag_dhcp(fx, r);
	diag_dns(fx, r);
	diag_time(fx, r);
	diag_broker(fx, r);
	diag_certs(fx, r);
	diag_bundle(fx, r);
	diag_flash(fx, r);
	diag_watchdog(fx, r);
}

/* ------------------------------------------------------------ text */

/* Columns s takes on a terminal: a UTF-8 sequence of 3 bytes or more (CJK) counts as two. */
static size_t diag_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0xe0)
			w += 2;
		else if (c < 0x80 || c >= 0xc0)
			w++; /* continuation bytes (0x80..0xbf) take no column */
	}
	return w;
}

/* Label padded to cols columns (by width, not bytes). */
static void diag_label(FILE *out, const char *label, size_t cols)
{
	size_t w = diag_width(label, strlen(label));

	fputs(label, out);
	for (; w < cols; w++)
		fputc(' ', out);
}

/*
 * text from column `indent` on, wrapped at DIAG_COLS on spaces (or between
 * CJK characters), continuation lines indented the same.
 */
static void diag_wrap(FILE *out, const char *text, size_t indent)
{
	const char *p = text;
	size_t room = DIAG_COLS - indent;

	while (*p) {
		size_t w = 0, cut = 0, i = 0;

		while (p[i]) {
			size_t len = (unsigned char)p[i] >= 0xf0 ? 4 : (unsigned char)p[i] >= 0xe0 ? 3
								: (unsigned char)p[i] >= 0xc0 ? 2 : 1;
			size_t cw = diag_width(p + i, len);

			if (w + cw > room)
				break;
			if (p[i] == ' ' || len >= 3)
				cut = p[i] == ' ' ? i : i + len;
			w += cw;
			i += len;
		}
		if (!p[i] || !cut)
			cut = i;
		fwrite(p, 1, cut, out);
		fputc('\n', out);
		p += cut;
		while (*p == ' ')
			p++;
		if (*p)
			fprintf(out, "%*s", (int)indent, "");
	}
}

static const char *diag_verdict_tag(enum diag_verdict v)
{
	switch (v) {
	case DIAG_OK:
		return _("[ OK ]");
	case DIAG_SKIP:
		return _("[ -- ]");
	case DIAG_INFO:
		return _("[NOTE]");
	default:
		return _("[FAIL]");
	}
}

#define DIAG_NAME_COLS 14

void diag_render_diag(FILE *out, const struct diag_report *r)
{
	int fails = 0;

	for (int i = 0; i < r->n; i++) {
		const struct diag_finding *f = &r->f[i];
		size_t tag = diag_width(diag_verdict_tag(f->verdict), 64) + 1;

		fprintf(out, "%s ", diag_verdict_tag(f->verdict));
		diag_label(out, diag_check_name(f->check), DIAG_NAME_COLS);
		diag_wrap(out, f->what, tag + DIAG_NAME_COLS);
		if (f->verdict != DIAG_FAIL)
			continue;
		fails++;
		fprintf(out, "%*s", (int)tag, "");
		diag_label(out, _("remedy:"), DIAG_NAME_COLS);
		diag_wrap(out, f->remedy, tag + DIAG_NAME_COLS);
	}
	if (!fails)
		fprintf(out, "%s\n", _("OK: every check passed"));
	else
		fprintf(out, P_("PROBLEM: %d check failed, the first: %s\n",
				"PROBLEM: %d checks failed, the first: %s\n", (unsigned long)fails),
			fails, diag_check_name(r->f[r->first_fail].check));
}

#define DIAG_STATUS_COLS 12

static void diag_row(FILE *out, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void diag_row(FILE *out, const char *label, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	diag_vset(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_label(out, label, DIAG_STATUS_COLS);
	diag_wrap(out, buf, DIAG_STATUS_COLS);
}

void diag_render_status(FILE *out, const struct diag_facts *fx, const struct diag_report *r)
{
	char up[32], ports[192] = "", age[32];

	diag_fmt_age(up, sizeof(up), fx->uptime_s);
	fprintf(out, _("townguard %s  gateway %s  region %s  up %s\n"), fx->version, fx->id,
		fx->region, up);
	diag_row(out, _("mode"), "%s", config_mode_name(fx->mode));
	for (int i = 0; i < fx->n_ports; i++) {
		const struct diag_port *p = &fx->port[i];
		size_t n = strlen(ports);

		snprintf(ports + n, sizeof(ports) - n, "%s%s %s %s", n ? ", " : "", diag_role_name(p->role),
			 p->name, !p->exists ? _("missing") : !p->admin_up ? _("off") :
				  p->carrier ? _("up") : _("no link"));
	}
	diag_row(out, _("ports"), "%s", fx->n_ports ? ports : "-");
	if (fx->mgmt == TG_MGMT_OFF)
		diag_row(out, _("address"), "%s", _("off"));
	else
		diag_row(out, _("address"), "%s (%s)", fx->mgmt_up ? fx->mgmt_addr : _("none"),
			 fx->mgmt == TG_MGMT_DHCP ? "DHCP" : _("static"));
	diag_row(out, _("time"), "%s", fx->mgmt == TG_MGMT_OFF ? _("system clock") :
			 fx->time_valid ? _("synchronised (SNTP)") : _("not synchronised"));
	if (!fx->uplink)
		diag_row(out, _("uplink"), "%s", _("not configured"));
	else if (fx->up.phase == UP_CONNECTED)
		diag_row(out, _("uplink"), _("connected to %s:%" PRIu32), fx->broker, fx->broker_port);
	else
		diag_row(out, _("uplink"), _("not connected (%s)"),
			 fx->up.last_error[0] ? fx->up.last_error :
			 fx->up.phase == UP_WAIT_NET ? _("waiting for an address and the time") : _("connecting"));
	if (fx->bundle) {
		diag_fmt_age(age, sizeof(age), fx->now_s > fx->bundle_created ? fx->now_s - fx->bundle_created : 0);
		diag_row(out, _("bundle"), _("serial %" PRIu64 ", %s old"), fx->bundle_serial, age);
	} else {
		diag_row(out, _("bundle"), "%s", _("none"));
	}
	diag_row(out, _("flows"), _("%" PRIu64 " open"), fx->flows);
	diag_row(out, _("blocks"), _("%" PRIu64 " since start"), fx->blocks);
	if (fx->spool)
		diag_row(out, _("spool"), _("%" PRIu64 " records waiting, %" PRIu64 " of %" PRIu64 " KiB"),
			 fx->spool_records, fx->spool_bytes / 1024, fx->spool_limit / 1024);
	else
		diag_row(out, _("spool"), "%s", _("none"));
	if (r->first_fail < 0) {
		fprintf(out, "%s\n", _("OK"));
	} else {
		const struct diag_finding *f = &r->f[r->first_fail];
		char line[256];

		snprintf(line, sizeof(line), _("PROBLEM: %s (run diag)"), f->what);
		diag_wrap(out, line, 0);
	}
}

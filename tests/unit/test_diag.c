/*
 * The console's diag and status (firmware/app/diag.c) from facts built by
 * hand: a gateway where all is well passes every check and says OK; each
 * fault, injected alone, fails its own check first with its cause and
 * remedy in plain words; and the two screens match their golden text in
 * English and in Traditional Chinese (tests/golden/diag/, the catalogue
 * built from po/zh_TW.po). UPDATE_GOLDEN=1 rewrites the golden files.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/diag.h"
#include "core/config.h"
#include "core/i18n.h"

/* 2026-12-03 08:00:00 UTC */
#define NOW 1796284800ULL
#define DAY 86400ULL

static const char *label_wan = "port 2, the one marked WAN";

/* A bridge-mode gateway on DHCP, connected, with a fresh list: nothing wrong. */
static void well(struct diag_facts *fx)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->id, sizeof(fx->id), "gw-tainan-03");
	snprintf(fx->region, sizeof(fx->region), "tainan");
	fx->version = "0.1.0";
	fx->mode = TG_MODE_BRIDGE;
	fx->uptime_s = 3 * 3600 + 25 * 60;
	fx->n_ports = 2;
	fx->port[0] = (struct diag_port){ .name = "eth0", .role = DIAG_ROLE_LAN, .label = "port 1, the one marked LAN",
					  .exists = true, .admin_up = true, .carrier = true };
	fx->port[1] = (struct diag_port){ .name = "eth1", .role = DIAG_ROLE_WAN, .label = NULL,
					  .exists = true, .admin_up = true, .carrier = true };
	fx->port[1].label = label_wan;
	fx->mgmt = TG_MGMT_DHCP;
	fx->mgmt_up = true;
	snprintf(fx->mgmt_addr, sizeof(fx->mgmt_addr), "192.168.1.50");
	fx->time_valid = true;
	fx->now_s = NOW;
	snprintf(fx->broker, sizeof(fx->broker), "hub.tainan.example");
	fx->broker_port = 8883;
	fx->uplink = true;
	fx->up.phase = UP_CONNECTED;
	fx->n_certs = 2;
	fx->cert[0] = (struct diag_cert){ .what = "gateway certificate", .path = "/data/keys/gw.crt",
					  .not_before = (int64_t)(NOW - 100 * DAY),
					  .not_after = (int64_t)(NOW + 265 * DAY) };
	fx->cert[1] = (struct diag_cert){ .what = "region CA certificate", .path = "/data/keys/ca.crt",
					  .not_before = (int64_t)(NOW - 1000 * DAY),
					  .not_after = (int64_t)(NOW + 3000 * DAY) };
	fx->cert_warn_days = 30;
	fx->bundle = true;
	fx->bundle_serial = 4711;
	fx->bundle_created = NOW - 2 * 3600 - 5 * 60;
	fx->bundle_max_age = 86400;
	fx->flows = 342;
	fx->blocks = 17;
	fx->spool = true;
	fx->spool_records = 3;
	fx->spool_bytes = 12 * 1024;
	fx->spool_limit = 8192 * 1024;
	snprintf(fx->data_dir, sizeof(fx->data_dir), "/data");
	fx->flash_free_kb = 200000;
	fx->flash_total_kb = 250000;
	fx->flash_min_kb = 1024;
}

static char *render(void (*fn)(FILE *, const struct diag_facts *, const struct diag_report *),
		    const struct diag_facts *fx, const struct diag_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, fx, r);
	fclose(f);
	return buf;
}

static void render_diag(FILE *f, const struct diag_facts *fx, const struct diag_report *r)
{
	(void)fx;
	diag_render_diag(f, r);
}

/* The first failed finding, which must be `fault`; its texts. */
static const struct diag_finding *first_fail(const struct diag_facts *fx, struct diag_report *r,
					     enum diag_fault fault)
{
	diag_judge(fx, r);
	assert_true(r->first_fail >= 0);
	assert_int_equal(r->f[r->first_fail].fault, fault);
	return &r->f[r->first_fail];
}

static void assert_has(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("\"%s\" lacks \"%s\"", s, part);
}

static void test_all_well_is_ok(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	char *out;

	(void)state;
	well(&fx);
	diag_judge(&fx, &r);
	assert_int_equal(r.first_fail, -1);
	assert_int_equal(r.n, DIAG_CHECKS);
	for (int i = 0; i < r.n; i++)
		assert_int_equal(r.f[i].check, i); /* one line per check, in order */
	assert_int_equal(r.f[DIAG_WATCHDOG].fault, DIAG_F_WATCHDOG_NONE);
	assert_has(r.f[DIAG_WATCHDOG].what, "not configured");
	out = render(render_diag, &fx, &r);
	assert_has(out, "OK: every check passed");
	free(out);
	out = render(diag_render_status, &fx, &r);
	assert_non_null(strstr(out, "\nOK\n"));
	free(out);
}

static void test_wan_without_link_names_the_cable_and_the_port(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.port[1].carrier = false;
	f = first_fail(&fx, &r, DIAG_F_WAN_NO_LINK);
	assert_int_equal(f->check, DIAG_LINKS);
	assert_string_equal(f->what, "WAN port has no link");
	assert_string_equal(f->remedy, "check the cable to the ISP router (port 2, the one marked WAN)");
	/* without a board label, the port's name */
	fx.port[1].label = NULL;
	f = first_fail(&fx, &r, DIAG_F_WAN_NO_LINK);
	assert_string_equal(f->remedy, "check the cable to the ISP router (port eth1)");
}

static void test_lan_missing_and_switched_off_ports(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.port[0].carrier = false;
	f = first_fail(&fx, &r, DIAG_F_LAN_NO_LINK);
	assert_has(f->remedy, "office switch (port 1, the one marked LAN)");
	fx.port[0].admin_up = false;
	f = first_fail(&fx, &r, DIAG_F_PORT_DOWN);
	assert_has(f->what, "LAN port eth0 is switched off");
	fx.port[0].exists = false;
	f = first_fail(&fx, &r, DIAG_F_PORT_MISSING);
	assert_has(f->what, "LAN port eth0 is not there");
}

static void test_no_dhcp_answer(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.mgmt_up = false;
	fx.time_valid = false;
	fx.up.phase = UP_WAIT_NET;
	f = first_fail(&fx, &r, DIAG_F_NO_DHCP);
	assert_int_equal(f->check, DIAG_DHCP);
	assert_has(f->what, "no DHCP answer");
	assert_has(f->remedy, "office router hands out addresses");
	/* what follows from it says so, not a cause of its own */
	assert_has(r.f[DIAG_DNS].remedy, "fix DHCP first");
	assert_has(r.f[DIAG_TIME].remedy, "fix DHCP first");
	assert_int_equal(r.f[DIAG_BROKER].fault, DIAG_F_BROKER_WAITING);
}

static void test_dns_failure_names_the_broker(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.up.phase = UP_BACKOFF;
	fx.up.resolve_failed = true;
	snprintf(fx.up.last_error, sizeof(fx.up.last_error), "cannot resolve the broker hub.tainan.example");
	f = first_fail(&fx, &r, DIAG_F_DNS_FAILED);
	assert_string_equal(f->what, "cannot look up the broker's name hub.tainan.example");
	assert_has(f->remedy, "try: dns hub.tainan.example");
}

static void test_sntp_silent(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.time_valid = false;
	fx.up.phase = UP_WAIT_NET;
	snprintf(fx.ntp, sizeof(fx.ntp), "10.0.0.1");
	f = first_fail(&fx, &r, DIAG_F_NO_TIME);
	assert_string_equal(f->what, "the time is not set: no answer from the time server 10.0.0.1");
	assert_has(f->remedy, "UDP port 123");
	assert_int_equal(r.f[DIAG_DNS].verdict, DIAG_INFO);
}

static void test_broker_stopped(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.up.phase = UP_BACKOFF;
	snprintf(fx.up.last_error, sizeof(fx.up.last_error), "connection to hub.tainan.example:8883 refused (status 256)");
	f = first_fail(&fx, &r, DIAG_F_BROKER_DOWN);
	assert_int_equal(f->check, DIAG_BROKER);
	assert_has(f->what, "the hub's broker hub.tainan.example:8883 does not answer");
	assert_has(f->what, "refused");
	assert_has(f->remedy, "TCP port 8883 is open outbound");
}

static void test_certificates_expired_expiring_missing(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.cert[0].not_after = (int64_t)(NOW - DAY);
	f = first_fail(&fx, &r, DIAG_F_CERT_EXPIRED);
	assert_string_equal(f->what, "gateway certificate expired on 2026-12-02");
	assert_has(f->remedy, "ask the hub for a new certificate and install it in /data/keys/gw.crt");
	fx.cert[0].not_after = (int64_t)(NOW + 29 * DAY);
	f = first_fail(&fx, &r, DIAG_F_CERT_EXPIRING);
	assert_string_equal(f->what, "gateway certificate expires on 2027-01-01, in less than 30 days");
	fx.cert[0].not_after = (int64_t)(NOW + 31 * DAY);
	diag_judge(&fx, &r);
	assert_int_equal(r.first_fail, -1);
	fx.cert[1].not_before = (int64_t)(NOW + DAY);
	f = first_fail(&fx, &r, DIAG_F_CERT_NOT_YET);
	assert_has(f->remedy, "check the time first");
	fx.cert[1].err = -ENOENT;
	f = first_fail(&fx, &r, DIAG_F_CERT_MISSING);
	assert_string_equal(f->what, "region CA certificate missing: /data/keys/ca.crt");
	fx.cert[1].err = -EINVAL;
	f = first_fail(&fx, &r, DIAG_F_CERT_BAD);
}

static void test_bundle_stale_and_none(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.bundle_created = NOW - 3 * DAY - 7200;
	f = first_fail(&fx, &r, DIAG_F_BUNDLE_STALE);
	assert_string_equal(f->what, "the blocklist (serial 4711) is 3d 02h old, more than 1d 00h");
	assert_has(f->remedy, "ask the hub whether it still publishes");
	fx.bundle = false;
	f = first_fail(&fx, &r, DIAG_F_NO_BUNDLE);
	assert_has(f->what, "nothing is blocked");
}

static void test_flash_full(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	const struct diag_finding *f;

	(void)state;
	well(&fx);
	fx.flash_free_kb = 100;
	f = first_fail(&fx, &r, DIAG_F_FLASH_LOW);
	assert_string_equal(f->what, "flash almost full: 100 KiB free of 250000 KiB, 1024 KiB needed");
	assert_has(f->remedy, "/data/capture");
	fx.flash_err = -ENOENT;
	f = first_fail(&fx, &r, DIAG_F_FLASH_ERROR);
	assert_has(f->what, "/data: No such file or directory");
}

static void test_watchdog_board_without_device(void **state)
{
	struct diag_facts fx;
	struct diag_report r;

	(void)state;
	well(&fx);
	fx.watchdog = "/dev/watchdog0";
	fx.watchdog_open = true;
	diag_judge(&fx, &r);
	assert_int_equal(r.first_fail, -1);
	assert_int_equal(r.f[DIAG_WATCHDOG].verdict, DIAG_OK);
	fx.watchdog_open = false;
	first_fail(&fx, &r, DIAG_F_WATCHDOG_MISSING);
}

static void test_monitor_without_mgmt_skips_the_network_checks(void **state)
{
	struct diag_facts fx;
	struct diag_report r;

	(void)state;
	well(&fx);
	fx.mode = TG_MODE_MONITOR;
	fx.n_ports = 1;
	fx.port[0].role = DIAG_ROLE_MIRROR;
	fx.mgmt = TG_MGMT_OFF;
	fx.uplink = false;
	diag_judge(&fx, &r);
	assert_int_equal(r.first_fail, -1);
	for (int c = DIAG_DHCP; c <= DIAG_CERTS; c++)
		assert_int_equal(r.f[c].verdict, DIAG_SKIP);
	fx.port[0].carrier = false;
	first_fail(&fx, &r, DIAG_F_PORT_NO_LINK);
}

static void test_lines_fit_80_columns(void **state)
{
	struct diag_facts fx;
	struct diag_report r;
	char *out, *line, *save = NULL;

	(void)state;
	for (int lang = 0; lang < I18N_LANGS; lang++) {
		i18n_set_lang(lang);
		well(&fx);
		fx.port[1].carrier = false;
		fx.cert[0].not_after = (int64_t)(NOW - DAY);
		fx.flash_free_kb = 10;
		fx.up.phase = UP_BACKOFF;
		snprintf(fx.up.last_error, sizeof(fx.up.last_error),
			 "connection to hub.tainan.example:8883 timed out (status 257)");
		diag_judge(&fx, &r);
		out = render(render_diag, &fx, &r);
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			size_t w = 0;

			for (const unsigned char *p = (const unsigned char *)line; *p; p++)
				w += *p < 0x80 ? 1 : *p >= 0xe0 ? 2 : *p >= 0xc0 ? 1 : 0;
			if (w > 80)
				fail_msg("%zu columns: %s", w, line);
		}
		free(out);
	}
	i18n_set_lang(I18N_EN);
}

/* ------------------------------------------------------------ golden screens */

static void golden(const char *name, const char *got)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char path[512], want[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/golden/diag/%s", top, name);
	if (getenv("UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
		return;
	}
	f = fopen(path, "r");
	if (!f)
		fail_msg("no golden file %s (UPDATE_GOLDEN=1 writes it)", path);
	n = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[n] = 0;
	if (strcmp(want, got))
		fail_msg("%s differs; got:\n%s", path, got);
}

static void screens(const char *lang)
{
	struct diag_facts fx;
	struct diag_report r;
	char name[64], *out;

	well(&fx);
	diag_judge(&fx, &r);
	out = render(diag_render_status, &fx, &r);
	snprintf(name, sizeof(name), "status-ok.%s", lang);
	golden(name, out);
	free(out);
	out = render(render_diag, &fx, &r);
	snprintf(name, sizeof(name), "diag-ok.%s", lang);
	golden(name, out);
	free(out);
	/* WAN cable out: its consequences follow */
	fx.port[1].carrier = false;
	fx.up.phase = UP_BACKOFF;
	snprintf(fx.up.last_error, sizeof(fx.up.last_error),
		 "connection to hub.tainan.example:8883 timed out (status 257)");
	fx.bundle_created = NOW - 2 * DAY;
	diag_judge(&fx, &r);
	out = render(diag_render_status, &fx, &r);
	snprintf(name, sizeof(name), "status-wan.%s", lang);
	golden(name, out);
	free(out);
	out = render(render_diag, &fx, &r);
	snprintf(name, sizeof(name), "diag-wan.%s", lang);
	golden(name, out);
	free(out);
}

static void test_golden_english(void **state)
{
	(void)state;
	i18n_set_lang(I18N_EN);
	screens("en");
}

static void test_golden_traditional_chinese(void **state)
{
	(void)state;
	assert_int_equal(i18n_set_lang(I18N_ZH_TW), 0);
	/* the catalogue is there and used: a status word comes back translated */
	assert_string_equal(_("WAN port has no link"), "WAN 埠沒有連線訊號");
	screens("zh_TW");
	i18n_set_lang(I18N_EN);
	assert_string_equal(_("WAN port has no link"), "WAN port has no link");
}

static void test_languages_parse(void **state)
{
	(void)state;
	assert_int_equal(i18n_lang_parse("en"), I18N_EN);
	assert_int_equal(i18n_lang_parse("zh_TW"), I18N_ZH_TW);
	assert_int_equal(i18n_lang_parse("fr"), -EINVAL);
	assert_int_equal(i18n_set_lang(7), -EINVAL);
}

static int setup(void **state)
{
	char dir[512];
	const char *top = getenv("TOP") ? getenv("TOP") : ".";

	(void)state;
	/* the catalogues the Makefile built (msgfmt), never the system's */
	snprintf(dir, sizeof(dir), "%s/%s/locale", top, getenv("BUILD") ? getenv("BUILD") : "build");
	/* no LANG, LC_ALL or generated locale: the choice must work on a bare image */
	unsetenv("LC_ALL");
	unsetenv("LC_MESSAGES");
	unsetenv("LANG");
	i18n_init(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_well_is_ok),
		cmocka_unit_test(test_wan_without_link_names_the_cable_and_the_port),
		cmocka_unit_test(test_lan_missing_and_switched_off_ports),
		cmocka_unit_test(test_no_dhcp_answer),
		cmocka_unit_test(test_dns_failure_names_the_broker),
		cmocka_unit_test(test_sntp_silent),
		cmocka_unit_test(test_broker_stopped),
		cmocka_unit_test(test_certificates_expired_expiring_missing),
		cmocka_unit_test(test_bundle_stale_and_none),
		cmocka_unit_test(test_flash_full),
		cmocka_unit_test(test_watchdog_board_without_device),
		cmocka_unit_test(test_monitor_without_mgmt_skips_the_network_checks),
		cmocka_unit_test(test_lines_fit_80_columns),
		cmocka_unit_test(test_golden_english),
		cmocka_unit_test(test_golden_traditional_chinese),
		cmocka_unit_test(test_languages_parse),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

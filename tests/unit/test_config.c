/*
 * config: defaults come from Kconfig, a good file loads, every kind of bad
 * line is reported with exactly the message a technician will read, a bad
 * file changes nothing, and what config_write() prints loads back the same.
 *
 * The tests run in a fresh temporary directory and name the file "gw.ini",
 * so the golden messages below are literally what the firmware prints.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define LOG_MODULE "test"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/region.h"
#include "policy/bundle.h"

#include "fixtures.h"

static struct fx_scratch scratch;

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_ini(const char *text)
{
	write_file("gw.ini", text, strlen(text));
}

static int group_setup(void **state)
{
	(void)state;
	return fx_scratch_enter(&scratch, "test-config");
}

static int group_teardown(void **state)
{
	(void)state;
	return fx_scratch_leave(&scratch);
}

/* Field by field, so padding bytes cannot make equal configurations differ. */
static void assert_config_equal(const struct tg_config *a, const struct tg_config *b)
{
	assert_int_equal(a->log.level, b->log.level);
	assert_int_equal(a->log.target, b->log.target);
	assert_string_equal(a->gateway.id, b->gateway.id);
	assert_string_equal(a->gateway.region, b->gateway.region);
	assert_string_equal(a->gateway.data_dir, b->gateway.data_dir);
	assert_int_equal(a->flow.tcp_timeout, b->flow.tcp_timeout);
	assert_int_equal(a->flow.tcp_closed_timeout, b->flow.tcp_closed_timeout);
	assert_int_equal(a->flow.udp_timeout, b->flow.udp_timeout);
	assert_int_equal(a->flow.other_timeout, b->flow.other_timeout);
	assert_string_equal(a->dpi.protos_file, b->dpi.protos_file);
	assert_string_equal(a->dpi.categories_file, b->dpi.categories_file);
	assert_string_equal(a->dpi.risky_domains_file, b->dpi.risky_domains_file);
	assert_string_equal(a->dpi.ja3_file, b->dpi.ja3_file);
	assert_string_equal(a->dpi.sha1_file, b->dpi.sha1_file);
	assert_int_equal(a->dpi.max_packets_tcp, b->dpi.max_packets_tcp);
	assert_int_equal(a->dpi.max_packets_udp, b->dpi.max_packets_udp);
	assert_int_equal(a->dpi.max_packets_other, b->dpi.max_packets_other);
	assert_string_equal(a->capture.interface, b->capture.interface);
	assert_string_equal(a->capture.filter, b->capture.filter);
	assert_int_equal(a->capture.promiscuous, b->capture.promiscuous);
	assert_int_equal(a->capture.immediate, b->capture.immediate);
	assert_int_equal(a->capture.snaplen, b->capture.snaplen);
	assert_int_equal(a->capture.buffer_kb, b->capture.buffer_kb);
}

static void test_defaults_are_kconfig(void **state)
{
	struct tg_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	assert_int_equal(c.log.level, CONFIG_LOG_LEVEL);
	assert_int_equal(c.log.target, LOG_TO_STDERR);
	assert_string_equal(c.gateway.id, "gw-local");
	assert_string_equal(c.gateway.region, "local");
	assert_string_equal(c.gateway.data_dir, CONFIG_DATA_DIR);
	assert_int_equal(c.flow.tcp_timeout, CONFIG_FLOW_TCP_TIMEOUT);
	assert_int_equal(c.flow.tcp_closed_timeout, CONFIG_FLOW_TCP_CLOSED_TIMEOUT);
	assert_int_equal(c.flow.udp_timeout, CONFIG_FLOW_UDP_TIMEOUT);
	assert_int_equal(c.flow.other_timeout, CONFIG_FLOW_OTHER_TIMEOUT);
	assert_string_equal(c.dpi.protos_file, "");
	assert_string_equal(c.dpi.categories_file, "");
	assert_string_equal(c.dpi.risky_domains_file, "");
	assert_string_equal(c.dpi.ja3_file, "");
	assert_string_equal(c.dpi.sha1_file, "");
	assert_int_equal(c.dpi.max_packets_tcp, CONFIG_DPI_MAX_PACKETS_TCP);
	assert_int_equal(c.dpi.max_packets_udp, CONFIG_DPI_MAX_PACKETS_UDP);
	assert_int_equal(c.dpi.max_packets_other, CONFIG_DPI_MAX_PACKETS_OTHER);
	assert_string_equal(c.capture.interface, "");
	assert_string_equal(c.capture.filter, "");
	assert_true(c.capture.promiscuous);
	assert_true(c.capture.immediate);
	assert_int_equal(c.capture.snaplen, CONFIG_PCAP_SNAPLEN);
	assert_int_equal(c.capture.buffer_kb, CONFIG_PCAP_BUFFER_KB);
}

static void test_good_file_loads(void **state)
{
	struct tg_config c;
	char err[512] = "untouched";

	(void)state;
	write_file("protos.txt", "host:\"example.com\"@Example\n", 27);
	/* BOM, CRLF, comments of both kinds, inline comment, blanks, a repeated section */
	write_ini("\xEF\xBB\xBF; townguard\r\n"
		  "[log]\r\n"
		  "level = DEBUG\r\n"
		  "target=syslog\n"
		  "\n"
		  "# gateway identity\n"
		  "[gateway]\n"
		  "id = gw-0042 ; the cabinet by the school\n"
		  "region = north-2\n"
		  "  data_dir = /srv/tg\n"
		  "[flow]\n"
		  "udp_timeout = 120\n"
		  "[dpi]\n"
		  "protos_file = protos.txt\n"
		  "max_packets_other = 1\n"
		  "[capture]\n"
		  "interface = eth0.100\n"
		  "filter = tcp port 80 or udp\n"
		  "promiscuous = off\n"
		  "immediate = No\n"
		  "snaplen = 262144\n"
		  "[flow]\n"
		  "tcp_timeout = 7200\n");
	config_defaults(&c);
	c.flow.other_timeout = 99; /* not in the file: must survive */
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), 0);
	assert_int_equal(c.log.level, LOG_LVL_DEBUG);
	assert_int_equal(c.log.target, LOG_TO_SYSLOG);
	assert_string_equal(c.gateway.id, "gw-0042");
	assert_string_equal(c.gateway.region, "north-2");
	assert_string_equal(c.gateway.data_dir, "/srv/tg");
	assert_int_equal(c.flow.udp_timeout, 120);
	assert_int_equal(c.flow.tcp_timeout, 7200);
	assert_int_equal(c.flow.other_timeout, 99);
	assert_int_equal(c.flow.tcp_closed_timeout, CONFIG_FLOW_TCP_CLOSED_TIMEOUT);
	assert_string_equal(c.dpi.protos_file, "protos.txt");
	assert_int_equal(c.dpi.max_packets_other, 1);
	assert_string_equal(c.capture.interface, "eth0.100");
	assert_string_equal(c.capture.filter, "tcp port 80 or udp");
	assert_false(c.capture.promiscuous);
	assert_false(c.capture.immediate);
	assert_int_equal(c.capture.snaplen, 262144);
}

static void test_empty_file_changes_nothing(void **state)
{
	struct tg_config c, before;
	char err[256];

	(void)state;
	write_ini("; nothing here\n\n");
	config_defaults(&c);
	c.flow.udp_timeout = 5;
	before = c;
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), 0);
	assert_config_equal(&c, &before);
}

/*
 * Each bad file and the one line it must produce. Every file sets a good
 * key first, so "nothing changed" is a real check of all-or-nothing.
 */
static const struct {
	const char *text;
	const char *expect;
} bad_files[] = {
	{ "[flow]\n"
	  "tcp_timeout = 100\n"
	  "; comment\n"
	  "\n"
	  "other_timeout = 20\n"
	  "\n"
	  "udp_timeout = abc\n",
	  "gw.ini:7: [flow] udp_timeout = \"abc\": not a whole number (allowed: 1..86400 seconds)" },
	{ "[log]\ntarget = syslog\nlevel = loud\n",
	  "gw.ini:3: [log] level = \"loud\": not one of error, warn, info, debug" },
	{ "[log]\ntarget = console\n",
	  "gw.ini:2: [log] target = \"console\": not one of stderr, syslog, file" },
	{ "[flow]\ntcp_timeout = 1\n\n\n\n\n\n\ncolour = blue\n",
	  "gw.ini:9: [flow] colour: unknown key (known in [flow]: tcp_timeout, "
	  "tcp_closed_timeout, udp_timeout, other_timeout)" },
	{ "[log]\n[mystery]\nx = 1\n",
	  "gw.ini:2: [mystery]: unknown section (known: log, gateway, flow, dpi, capture, ports, bridge, nfqueue, mgmt, uplink, enforce, bundle, report, console, diag)" },
	/* an unknown section is refused even with no keys in it */
	{ "[flow]\nudp_timeout = 9\n[mystery]\n",
	  "gw.ini:3: [mystery]: unknown section (known: log, gateway, flow, dpi, capture, ports, bridge, nfqueue, mgmt, uplink, enforce, bundle, report, console, diag)" },
	{ "udp_timeout = 9\n",
	  "gw.ini:1: udp_timeout: key outside any [section] (known: log, gateway, flow, dpi, "
	  "capture, ports, bridge, nfqueue, mgmt, uplink, enforce, bundle, report, console, diag)" },
	{ "[flow]\nudp_timeout = 9\n[gateway\n",
	  "gw.ini:3: syntax error: \"[gateway\" (expected [section], key = value or ; comment)" },
	{ "[flow]\nudp_timeout = 9\njust words\n",
	  "gw.ini:3: syntax error: \"just words\" (expected [section], key = value or ; comment)" },
	/* no multi-line values: an indented line without '=' is an error */
	{ "[capture]\nfilter = tcp\n  or udp\n",
	  "gw.ini:3: syntax error: \"  or udp\" (expected [section], key = value or ; comment)" },
	{ "[flow]\nudp_timeout = 60\ntcp_timeout = 1\nudp_timeout = 61\n",
	  "gw.ini:4: [flow] udp_timeout: set twice (first on line 2)" },
	{ "[flow]\nudp_timeout = 60\ntcp_closed_timeout = 3601\n",
	  "gw.ini:3: [flow] tcp_closed_timeout = \"3601\": out of range (allowed: 1..3600 seconds)" },
	{ "[flow]\nudp_timeout = 60\nother_timeout = 99999999999999999999\n",
	  "gw.ini:3: [flow] other_timeout = \"99999999999999999999\": out of range (allowed: "
	  "1..86400 seconds)" },
	{ "[flow]\nudp_timeout = -1\n",
	  "gw.ini:2: [flow] udp_timeout = \"-1\": not a whole number (allowed: 1..86400 seconds)" },
	{ "[flow]\nudp_timeout =\n",
	  "gw.ini:2: [flow] udp_timeout = \"\": not a whole number (allowed: 1..86400 seconds)" },
	{ "[capture]\nsnaplen = 1500\npromiscuous = maybe\n",
	  "gw.ini:3: [capture] promiscuous = \"maybe\": not a boolean (allowed: true, false, yes, "
	  "no, on, off, 1, 0)" },
	{ "[gateway]\nregion = north\nid = GW_1\n",
	  "gw.ini:3: [gateway] id = \"GW_1\": character 'G' not allowed (allowed: a-z, 0-9 and "
	  "'-', 1..63 characters)" },
	/* issue 11, defect 4: a region no bundle can carry (tg-hub allows 1..31) */
	{ "[gateway]\nid = gw-1\nregion = a-region-name-of-forty-characters-00000\n",
	  "gw.ini:3: [gateway] region = \"a-region-name-of-forty-characters-00000\": too long "
	  "(allowed: a-z, 0-9 and '-', 1..31 characters)" },
	{ "[gateway]\nregion = north\nid =\n",
	  "gw.ini:3: [gateway] id = \"\": empty (allowed: a-z, 0-9 and '-', 1..63 characters)" },
	{ "[capture]\nsnaplen = 1500\ninterface = eth0/1\n",
	  "gw.ini:3: [capture] interface = \"eth0/1\": character '/' not allowed (allowed: up to 15 "
	  "characters, no spaces, '/' or ':')" },
	{ "[capture]\nsnaplen = 1500\ninterface = a-very-long-name0\n",
	  "gw.ini:3: [capture] interface = \"a-very-long-name0\": too long (allowed: up to 15 "
	  "characters, no spaces, '/' or ':')" },
	{ "[dpi]\nmax_packets_tcp = 10\nprotos_file = /nonexistent/protos.txt\n",
	  "gw.ini:3: [dpi] protos_file = \"/nonexistent/protos.txt\": cannot read: No such file or "
	  "directory" },
	{ "[dpi]\nmax_packets_tcp = 10\nja3_file = /tmp\n",
	  "gw.ini:3: [dpi] ja3_file = \"/tmp\": cannot read: Is a directory" },
	{ "[gateway]\nid = gw-1\ndata_dir = /var/lib/a;b\n",
	  "gw.ini:3: [gateway] data_dir = \"/var/lib/a;b\": character ';' not allowed (allowed: "
	  "1..255 characters, no ';' or control characters)" },
	{ "[capture]\nsnaplen = 1500\nfilter = tcp\tport 80\n",
	  "gw.ini:3: [capture] filter = \"tcp\tport 80\": character 0x09 not allowed (allowed: up "
	  "to 255 characters, no ';' or control characters)" },
};

/* The gateway's region rule is the bundle's and tg-hub's: one constant, one check (core/region.h). */
static void test_region_is_the_bundles_rule(void **state)
{
	char r[TG_REGION_MAX + 2], err[512];
	struct tg_config c;

	(void)state;
	config_defaults(&c);
	memset(r, 'r', TG_REGION_MAX);
	r[TG_REGION_MAX] = '\0';
	assert_true(region_valid(r));
	assert_int_equal(config_set(&c, "gateway", "region", r, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.gateway.region), TG_REGION_MAX);
	r[TG_REGION_MAX] = 'r';
	r[TG_REGION_MAX + 1] = '\0';
	assert_false(region_valid(r));
	assert_int_not_equal(config_set(&c, "gateway", "region", r, err, sizeof(err)), 0);
	assert_false(region_valid(""));
	assert_false(region_valid("North"));
	assert_true(TG_REGION_MAX < sizeof(((struct bundle_info *)0)->region));
}

static void test_bad_files_golden(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_files); i++) {
		struct tg_config c, before;
		char err[512] = "";

		write_ini(bad_files[i].text);
		config_defaults(&c);
		before = c;
		print_message("bad file %zu: %s\n", i, bad_files[i].expect);
		assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad_files[i].expect);
		assert_config_equal(&c, &before);
	}
}

static void test_long_line_and_nul(void **state)
{
	static const char nul_file[] = "[flow]\nudp_timeout = 60\nother\0_timeout = 5\n";
	struct tg_config c, before;
	char text[4096], err[512];
	int n;

	(void)state;
	config_defaults(&c);
	before = c;

	n = snprintf(text, sizeof(text), "[capture]\nsnaplen = 1500\nfilter = %02000d\n", 0);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	write_ini(text);
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "gw.ini:3: line too long (allowed: up to 1023 characters)");
	assert_config_equal(&c, &before);

	write_file("gw.ini", nul_file, sizeof(nul_file) - 1);
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "gw.ini:3: NUL byte in line (not a text file?)");
	assert_config_equal(&c, &before);
}

static void test_unreadable_file(void **state)
{
	struct tg_config c, before;
	char err[256];

	(void)state;
	config_defaults(&c);
	before = c;
	assert_int_equal(config_load(&c, "missing.ini", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "missing.ini: cannot open: No such file or directory");
	assert_config_equal(&c, &before);

	assert_int_equal(mkdir("adir.ini", 0700), 0);
	assert_int_equal(config_load(&c, "adir.ini", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "adir.ini: cannot read: Is a directory");
	assert_config_equal(&c, &before);
}

static void test_tiny_error_buffer(void **state)
{
	struct tg_config c;
	char err[8];

	(void)state;
	config_defaults(&c);
	write_ini("[flow]\nudp_timeout = abc\n");
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "gw.ini:");
	assert_int_equal(config_load(&c, "gw.ini", NULL, 0), -EINVAL);
	assert_int_equal(config_set(&c, "flow", "udp_timeout", "x", NULL, 0), -EINVAL);
}

static void test_round_trip(void **state)
{
	struct tg_config c, back;
	char err[512];
	FILE *f;

	(void)state;
	/* defaults */
	config_defaults(&c);
	f = fopen("round.ini", "w");
	assert_non_null(f);
	assert_int_equal(config_write(&c, f), 0);
	assert_int_equal(fclose(f), 0);
	memset(&back, 0, sizeof(back));
	config_defaults(&back);
	back.flow.udp_timeout = 1; /* must be overwritten by the file */
	back.capture.promiscuous = false;
	assert_int_equal(config_load(&back, "round.ini", err, sizeof(err)), 0);
	assert_config_equal(&c, &back);

	/* every key away from its default */
	write_file("p", "x\n", 2);
	write_file("cat", "x\n", 2);
	write_file("risky", "x\n", 2);
	write_file("ja3", "x\n", 2);
	write_file("sha1", "x\n", 2);
	assert_int_equal(config_set(&c, "log", "level", "error", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "log", "target", "syslog", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "gateway", "id", "gw-9", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "gateway", "region", "r-1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "gateway", "data_dir", "/data/tg # x", err, sizeof(err)),
			 0);
	assert_int_equal(config_set(&c, "flow", "tcp_timeout", "86400", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "flow", "tcp_closed_timeout", "1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "flow", "udp_timeout", "2", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "flow", "other_timeout", "3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "protos_file", "p", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "categories_file", "cat", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "risky_domains_file", "risky", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "ja3_file", "ja3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "sha1_file", "sha1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "max_packets_tcp", "3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "max_packets_udp", "255", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "dpi", "max_packets_other", "7", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "capture", "interface", "wlan0", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "capture", "filter", "not (port 22 or host 10.0.0.1)", err,
				    sizeof(err)),
			 0);
	assert_int_equal(config_set(&c, "capture", "promiscuous", "false", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "capture", "immediate", "0", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "capture", "snaplen", "128", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "capture", "buffer_kb", "1048576", err, sizeof(err)), 0);

	f = fopen("round.ini", "w");
	assert_non_null(f);
	assert_int_equal(config_write(&c, f), 0);
	assert_int_equal(fclose(f), 0);
	config_defaults(&back);
	assert_int_equal(config_load(&back, "round.ini", err, sizeof(err)), 0);
	assert_config_equal(&c, &back);
}

static void test_write_has_help_before_every_key(void **state)
{
	struct tg_config c;
	char *buf = NULL, *line, *save = NULL;
	const char *prev = "";
	size_t len = 0;
	unsigned int keys = 0;
	FILE *f;

	(void)state;
	config_defaults(&c);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(config_write(&c, f), 0);
	assert_int_equal(fclose(f), 0);

	assert_non_null(strstr(buf, "\n[flow]\n"
				    "; Idle timeout of an open TCP flow (1..86400 seconds)\n"
				    "tcp_timeout = 300\n"));
	assert_non_null(strstr(buf, "\n[log]\n"
				    "; Messages less severe than this are not printed (error, warn, "
				    "info, debug)\n"
				    "level = info\n"));
	assert_non_null(strstr(buf, "\nprotos_file =\n"));
	assert_non_null(strstr(buf, "\npromiscuous = true\n"));

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != ';' && line[0] != '[' && strchr(line, '=')) {
			keys++;
			assert_true(prev[0] == ';' && prev[1] == ' ');
		}
		prev = line;
	}
	assert_int_equal(keys, 76); /* 54 + [report] spool_kb, drain_bps, journal_kb + 9 of the records + inventory_size, risk_score, oui_file
				     * + [console] device, speed, idle_logout, confirm_timeout, lang + [diag] bundle_max_age, flash_min_kb */
	free(buf);
}

/*
 * [console] speed: "board" by default (the board's console_speed, 115200 on
 * a board that names none), or any rate Linux's termios sets, up to 4000000;
 * another number is refused with the value and every allowed one.
 */
static void test_console_speed(void **state)
{
	struct tg_config c;
	char err[512];
	int speed;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.console.speed, TG_CON_BOARD);
	assert_int_equal(config_console_baud(c.console.speed, 1500000), 1500000);
	assert_int_equal(config_console_baud(c.console.speed, 0), 115200);
	assert_int_equal(config_set(&c, "console", "speed", "1500000", err, sizeof(err)), 0);
	assert_int_equal(config_console_baud(c.console.speed, 115200), 1500000);
	assert_int_equal(config_set(&c, "console", "speed", "4000000", err, sizeof(err)), 0);
	assert_int_equal(config_console_baud(c.console.speed, 1500000), 4000000);
	assert_int_equal(config_set(&c, "console", "speed", "50", err, sizeof(err)), 0);
	assert_int_equal(config_console_baud(c.console.speed, 1500000), 50);
	speed = c.console.speed;
	assert_int_equal(config_set(&c, "console", "speed", "1234", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[console] speed = \"1234\": not one of board, 50, 75, 110, 134, "
				 "150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, "
				 "57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, "
				 "1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000");
	assert_int_equal(c.console.speed, speed); /* a refused value changes nothing */
	assert_int_equal(config_set(&c, "console", "speed", "4000001", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"4000001\": not one of board, 50,"));
	assert_int_equal(config_set(&c, "console", "speed", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "console", "speed", "board", err, sizeof(err)), 0);
	assert_int_equal(config_console_baud(c.console.speed, 1500000), 1500000);
}

/* The same in a file: its line, the value and the allowed set. */
static void test_console_speed_in_a_file(void **state)
{
	struct tg_config c;
	char err[512];

	(void)state;
	write_ini("[console]\nspeed = 1500000\n");
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), 0);
	assert_int_equal(config_console_baud(c.console.speed, 115200), 1500000);
	write_ini("[console]\ndevice = /dev/ttyS2\nspeed = 1500001\n");
	assert_int_equal(config_load(&c, "gw.ini", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "gw.ini:3: [console] speed = \"1500001\": not one of board, 50, "
				 "75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, "
				 "19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, "
				 "921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, "
				 "3500000, 4000000");
}

/* config_set messages carry no file position. */
static void test_set_messages(void **state)
{
	struct tg_config c;
	char err[512];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "flow", "udp_timeout", "0", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[flow] udp_timeout = \"0\": out of range (allowed: 1..86400 seconds)");
	assert_int_equal(config_set(&c, "mystery", "x", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[mystery]: unknown section (known: log, gateway, flow, dpi, capture, ports, bridge, nfqueue, mgmt, uplink, enforce, bundle, report, console, diag)");
	assert_int_equal(config_set(&c, "log", "colour", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[log] colour: unknown key (known in [log]: level, target)");
	assert_int_equal(config_set(&c, "capture", "filter", " tcp", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[capture] filter = \" tcp\": leading or trailing space (allowed: "
				 "up to 255 characters, no ';' or control characters)");
	assert_int_equal(config_set(&c, "capture", "interface", "..", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[capture] interface = \"..\": not an interface name (allowed: up "
				 "to 15 characters, no spaces, '/' or ':')");
	assert_int_equal(config_set(&c, "enforce", "dns_sink_ipv4", "10.0.0.256", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "[enforce] dns_sink_ipv4 = \"10.0.0.256\": not an address (allowed: "
				 "up to 15 characters: an IPv4 address such as 192.0.2.1)");
	assert_int_equal(config_set(&c, "enforce", "dns_sink_ipv6", "2001:db8::g", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "[enforce] dns_sink_ipv6 = \"2001:db8::g\": character 'g' not "
				 "allowed (allowed: up to 45 characters: an IPv6 address such as 2001:db8::1)");
	assert_int_equal(config_set(&c, "enforce", "dns_sink_ipv6", "::ffff:192.0.2.1", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&c, "enforce", "dns_sink_ipv4", "", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "mgmt", "mac", "01:00:5e:00:00:01", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[mgmt] mac = \"01:00:5e:00:00:01\": not a unicast MAC address (allowed: "
				 "up to 17 characters: a unicast MAC address such as 02:00:5e:10:00:01)");
	assert_int_equal(config_set(&c, "mgmt", "mac", "02:00:5e:10:00", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "mgmt", "mac", "00:00:00:00:00:00", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "mgmt", "mac", "02:00:5E:10:00:01", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "mgmt", "mode", "dhcp", err, sizeof(err)), 0);
	assert_int_equal(c.mgmt.mode, TG_MGMT_DHCP);
	assert_int_equal(config_set(&c, "gateway", "mode", "router", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[gateway] mode = \"router\": not one of monitor, bridge, nfqueue");
	assert_int_equal(config_set(&c, "flow", "udp_timeout", "600", err, sizeof(err)), 0);
	assert_int_equal(c.flow.udp_timeout, 600);
}

static void test_uint_parsing(void **state)
{
	static const char *const not_numbers[] = {
		"", "12abc", "-1", " 5", "5 ", "+5", "0x10", "1e3", "1.5", "½",
	};
	static const char *const too_big[] = {
		"86401", "4294967295", "4294967296", "18446744073709551616",
		"000000000000000000000000000000000000000086401",
	};
	struct tg_config c;
	char err[512];

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < ARRAY_SIZE(not_numbers); i++) {
		assert_int_equal(config_set(&c, "flow", "udp_timeout", not_numbers[i], err,
					    sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "not a whole number"));
	}
	for (size_t i = 0; i < ARRAY_SIZE(too_big); i++) {
		assert_int_equal(config_set(&c, "flow", "udp_timeout", too_big[i], err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "out of range"));
	}
	assert_int_equal(c.flow.udp_timeout, CONFIG_FLOW_UDP_TIMEOUT);
	assert_int_equal(config_set(&c, "flow", "udp_timeout", "000042", err, sizeof(err)), 0);
	assert_int_equal(c.flow.udp_timeout, 42);
}

static void test_boundaries(void **state)
{
	static const struct {
		const char *section, *key;
		uint32_t min, max;
		size_t offset;
	} ranges[] = {
		{ "flow", "tcp_timeout", 1, 86400, offsetof(struct tg_config, flow.tcp_timeout) },
		{ "flow", "tcp_closed_timeout", 1, 3600,
		  offsetof(struct tg_config, flow.tcp_closed_timeout) },
		{ "flow", "udp_timeout", 1, 86400, offsetof(struct tg_config, flow.udp_timeout) },
		{ "flow", "other_timeout", 1, 86400, offsetof(struct tg_config, flow.other_timeout) },
		{ "dpi", "max_packets_tcp", 3, 255, offsetof(struct tg_config, dpi.max_packets_tcp) },
		{ "dpi", "max_packets_udp", 3, 255, offsetof(struct tg_config, dpi.max_packets_udp) },
		{ "dpi", "max_packets_other", 1, 255,
		  offsetof(struct tg_config, dpi.max_packets_other) },
		{ "capture", "snaplen", 128, 262144, offsetof(struct tg_config, capture.snaplen) },
		{ "capture", "buffer_kb", 256, 1048576, offsetof(struct tg_config, capture.buffer_kb) },
	};
	struct tg_config c;
	char err[512], v[32], name63[64], name64[65];

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		uint32_t got;

		snprintf(v, sizeof(v), "%u", ranges[i].min);
		assert_int_equal(config_set(&c, ranges[i].section, ranges[i].key, v, err, sizeof(err)), 0);
		memcpy(&got, (char *)&c + ranges[i].offset, sizeof(got));
		assert_int_equal(got, ranges[i].min);

		snprintf(v, sizeof(v), "%u", ranges[i].max);
		assert_int_equal(config_set(&c, ranges[i].section, ranges[i].key, v, err, sizeof(err)), 0);
		memcpy(&got, (char *)&c + ranges[i].offset, sizeof(got));
		assert_int_equal(got, ranges[i].max);

		snprintf(v, sizeof(v), "%u", ranges[i].min - 1);
		assert_int_equal(config_set(&c, ranges[i].section, ranges[i].key, v, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "out of range"));
		snprintf(v, sizeof(v), "%u", ranges[i].max + 1);
		assert_int_equal(config_set(&c, ranges[i].section, ranges[i].key, v, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "out of range"));
		memcpy(&got, (char *)&c + ranges[i].offset, sizeof(got));
		assert_int_equal(got, ranges[i].max);
	}

	memset(name63, 'a', 63);
	name63[63] = '\0';
	memset(name64, 'b', 64);
	name64[64] = '\0';
	assert_int_equal(config_set(&c, "gateway", "id", name63, err, sizeof(err)), 0);
	assert_string_equal(c.gateway.id, name63);
	assert_int_equal(config_set(&c, "gateway", "region", name64, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(config_set(&c, "capture", "interface", "abcdefghijklmno", err, sizeof(err)),
			 0);
	assert_int_equal(config_set(&c, "capture", "interface", "", err, sizeof(err)), 0);
}

static void test_bool_and_enum_words(void **state)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes" };
	static const char *const no[] = { "false", "no", "off", "0", "OFF" };
	struct tg_config c;
	char err[512];

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		c.capture.immediate = true;
		assert_int_equal(config_set(&c, "capture", "immediate", no[i], err, sizeof(err)), 0);
		assert_false(c.capture.immediate);
	}
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		c.capture.immediate = false;
		assert_int_equal(config_set(&c, "capture", "immediate", yes[i], err, sizeof(err)), 0);
		assert_true(c.capture.immediate);
	}
	assert_int_equal(config_set(&c, "capture", "immediate", "2", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "log", "level", "warn", err, sizeof(err)), 0);
	assert_int_equal(c.log.level, LOG_LVL_WARN);
	assert_int_equal(config_set(&c, "log", "level", "warning", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.log.level, LOG_LVL_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_kconfig),
		cmocka_unit_test(test_good_file_loads),
		cmocka_unit_test(test_empty_file_changes_nothing),
		cmocka_unit_test(test_bad_files_golden),
		cmocka_unit_test(test_long_line_and_nul),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_tiny_error_buffer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_write_has_help_before_every_key),
		cmocka_unit_test(test_set_messages),
		cmocka_unit_test(test_console_speed),
		cmocka_unit_test(test_console_speed_in_a_file),
		cmocka_unit_test(test_uint_parsing),
		cmocka_unit_test(test_region_is_the_bundles_rule),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_bool_and_enum_words),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * The runtime configuration's one table (cfg_keys[]): every key with its
 * section, type, allowed values, place in struct tg_config, Kconfig default
 * and one-line help. Defaults, validation, error messages and the written
 * INI (config.c) all come from it, so adding a key is adding one line.
 *
 * The table is the one place that states what a key allows. Where a key's
 * default is a Kconfig symbol, that symbol's `range` repeats the table's
 * (Kconfig cannot take its bounds from C), and tools/check-kconfig, run by
 * the Makefile before this file is compiled, refuses the build when the two
 * differ. A default outside its key's range is a compile error (CFG_UINT).
 *
 * Nothing here logs; errors go back to the caller as one line of text.
 */
#define LOG_MODULE "config"
#include "core/config_keys.h"
#include "core/region.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"

/* 0 at compile time, or a compile error if e is true (Linux BUILD_BUG_ON_ZERO). */
#define BUILD_BUG_ON_ZERO(e) (sizeof(struct { int : (-!!(e)); }))
#define CFG_MEMBER_SIZE(sec, key) sizeof(((struct tg_config *)0)->sec.key)

#define CFG_FIELD(sec, k)                                                           \
	.section = #sec, .key = #k, .offset = offsetof(struct tg_config, sec.k), \
	.size = CFG_MEMBER_SIZE(sec, k)

#define CFG_UINT(sec, k, lo, hi, unit_, def, help_)                                   \
	{                                                                              \
		CFG_FIELD(sec, k) + BUILD_BUG_ON_ZERO((def) < (lo) || (def) > (hi)) + \
			BUILD_BUG_ON_ZERO(CFG_MEMBER_SIZE(sec, k) != sizeof(uint32_t)), \
		.type = CT_UINT, .min = (lo), .max = (hi), .unit = (unit_),            \
		.def_num = (def), .help = (help_)                                      \
	}

#define CFG_BOOL(sec, k, def, help_)                                                  \
	{                                                                              \
		CFG_FIELD(sec, k) + BUILD_BUG_ON_ZERO(CFG_MEMBER_SIZE(sec, k) != sizeof(bool)), \
		.type = CT_BOOL, .def_num = (def), .help = (help_)                     \
	}

#define CFG_ENUM(sec, k, names_, def, help_)                                          \
	{                                                                              \
		CFG_FIELD(sec, k) + BUILD_BUG_ON_ZERO(CFG_MEMBER_SIZE(sec, k) != sizeof(int)) + \
			BUILD_BUG_ON_ZERO((def) >= ARRAY_SIZE(names_)),                 \
		.type = CT_ENUM, .names = (names_), .nnames = ARRAY_SIZE(names_),      \
		.def_num = (def), .help = (help_)                                      \
	}

/* The default must be a string literal (its length is checked at build time). */
#define CFG_STRING(sec, k, lo, hi, cs, def, help_)                                    \
	{                                                                              \
		CFG_FIELD(sec, k) + BUILD_BUG_ON_ZERO((hi) >= CFG_MEMBER_SIZE(sec, k)) + \
			BUILD_BUG_ON_ZERO(sizeof(def) - 1 < (lo) || sizeof(def) - 1 > (hi)), \
		.type = CT_STRING, .min = (lo), .max = (hi), .charset = (cs),          \
		.def_str = (def), .help = (help_)                                      \
	}

#define CFG_PATH(sec, k, lo, must_read, def, help_)                                   \
	{                                                                              \
		CFG_FIELD(sec, k) + BUILD_BUG_ON_ZERO(sizeof(def) - 1 < (lo) ||         \
						      sizeof(def) > CFG_MEMBER_SIZE(sec, k)), \
		.type = CT_PATH, .min = (lo), .max = CFG_MEMBER_SIZE(sec, k) - 1,      \
		.charset = CS_TEXT, .readable = (must_read), .def_str = (def),         \
		.help = (help_)                                                        \
	}

/* Indexed by enum log_level / enum log_target. */
static const char *const cfg_log_levels[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};
static const char *const cfg_modes[] = {
	[TG_MODE_MONITOR] = "monitor",
	[TG_MODE_BRIDGE] = "bridge",
	[TG_MODE_NFQUEUE] = "nfqueue",
};
static const char *const cfg_mgmt_modes[] = {
	[TG_MGMT_OFF] = "off",
	[TG_MGMT_DHCP] = "dhcp",
	[TG_MGMT_STATIC] = "static",
};
static const char *const cfg_blocked_address[] = {
	[ENFORCE_ADDR_RESET] = "reset",
	[ENFORCE_ADDR_DROP] = "drop",
};

static const char *const cfg_tlp[] = {
	[TG_TLP_CLEAR] = "clear",
	[TG_TLP_GREEN] = "green",
	[TG_TLP_AMBER] = "amber",
	[TG_TLP_AMBER_STRICT] = "amber+strict",
	[TG_TLP_RED] = "red",
};
/* Internal addresses may also be mapped prefix-preserving; other classes have no prefixes. */
static const char *const cfg_priv_addr[] = {
	[TG_PRIV_RAW] = "raw",
	[TG_PRIV_PSEUDONYM] = "pseudonym",
	[TG_PRIV_DROP] = "drop",
	[TG_PRIV_CRYPTOPAN] = "cryptopan",
};
/*
 * [console] speed: "board" (the board's console_speed, 115200 without one),
 * or a line rate Linux's termios sets (B50 .. B4000000 but B0, the hangup);
 * drivers/tty.c maps each number to its constant. config_console_baud()
 * reads them back.
 */
static const char *const cfg_console_speeds[] = {
	"board",   "50",      "75",      "110",     "134",     "150",     "200",     "300",
	"600",     "1200",    "1800",    "2400",    "4800",    "9600",    "19200",   "38400",
	"57600",   "115200",  "230400",  "460800",  "500000",  "576000",  "921600",  "1000000",
	"1152000", "1500000", "2000000", "2500000", "3000000", "3500000", "4000000",
};

unsigned int config_console_baud(int speed, unsigned int board_speed)
{
	if (speed > TG_CON_BOARD && speed < (int)ARRAY_SIZE(cfg_console_speeds))
		return (unsigned int)strtoul(cfg_console_speeds[speed], NULL, 10);
	return board_speed ? board_speed : 115200;
}

static const char *const cfg_priv[] = {
	[TG_PRIV_RAW] = "raw",
	[TG_PRIV_PSEUDONYM] = "pseudonym",
	[TG_PRIV_DROP] = "drop",
};

const char *config_tlp_name(int tlp)
{
	return tlp >= 0 && (size_t)tlp < ARRAY_SIZE(cfg_tlp) ? cfg_tlp[tlp] : "?";
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A group address or all zeros cannot be a host's. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

const char *config_mode_name(int mode)
{
	return mode >= 0 && (size_t)mode < ARRAY_SIZE(cfg_modes) ? cfg_modes[mode] : "?";
}

/* The order of enum i18n_lang (core/i18n.h). */
static const char *const cfg_langs[] = { "en", "zh_TW" };

static const char *const cfg_log_targets[] = {
	[LOG_TO_STDERR] = "stderr",
	[LOG_TO_SYSLOG] = "syslog",
	[LOG_TO_FILE] = "file",
};

/*
 * Every key. Sections appear in this order in messages and in config_write().
 * A key whose default is CONFIG_X allows exactly X's Kconfig range
 * (tools/check-kconfig), so a file can set anything a build could and no more.
 */
const struct cfg_key cfg_keys[] = {
	CFG_ENUM(log, level, cfg_log_levels, CONFIG_LOG_LEVEL,
		 "Messages less severe than this are not printed"),
	CFG_ENUM(log, target, cfg_log_targets, LOG_TO_STDERR,
		 "Where log lines go (file: <data_dir>/log/townguard.log, rotated)"),

	CFG_STRING(gateway, id, 1, CONFIG_NAME_MAX - 1, CS_NAME, "gw-local",
		   "Name of this gateway in reports to the hub"),
	CFG_STRING(gateway, region, 1, TG_REGION_MAX, CS_NAME, "local",
		   "Region the gateway belongs to"),
	CFG_PATH(gateway, data_dir, 1, false, CONFIG_DATA_DIR,
		 "Directory for the configuration, bundles, spool and keys"),
	CFG_ENUM(gateway, mode, cfg_modes, TG_MODE_MONITOR,
		 "What `townguard run` does: monitor a mirror port, bridge two ports, or judge a kernel bridge's flows through NFQUEUE"),

	CFG_UINT(flow, tcp_timeout, 1, 86400, "seconds", CONFIG_FLOW_TCP_TIMEOUT,
		 "Idle timeout of an open TCP flow"),
	CFG_UINT(flow, tcp_closed_timeout, 1, 3600, "seconds", CONFIG_FLOW_TCP_CLOSED_TIMEOUT,
		 "Idle timeout of a TCP flow after RST or FIN in both directions"),
	CFG_UINT(flow, udp_timeout, 1, 86400, "seconds", CONFIG_FLOW_UDP_TIMEOUT,
		 "Idle timeout of a UDP flow"),
	CFG_UINT(flow, other_timeout, 1, 86400, "seconds", CONFIG_FLOW_OTHER_TIMEOUT,
		 "Idle timeout of ICMP, GRE and other flows"),

	CFG_PATH(dpi, protos_file, 0, true, "", "nDPI protocols file; empty = none"),
	CFG_PATH(dpi, categories_file, 0, true, "", "nDPI categories file; empty = none"),
	CFG_PATH(dpi, risky_domains_file, 0, true, "", "nDPI risky domains file; empty = none"),
	CFG_PATH(dpi, ja3_file, 0, true, "", "nDPI malicious JA3 fingerprints file; empty = none"),
	CFG_PATH(dpi, sha1_file, 0, true, "",
		 "nDPI malicious certificate SHA1 file; empty = none"),
	CFG_UINT(dpi, max_packets_tcp, 3, 255, "packets", CONFIG_DPI_MAX_PACKETS_TCP,
		 "TCP packets given to nDPI before it gives up"),
	CFG_UINT(dpi, max_packets_udp, 3, 255, "packets", CONFIG_DPI_MAX_PACKETS_UDP,
		 "UDP packets given to nDPI before it gives up"),
	CFG_UINT(dpi, max_packets_other, 1, 255, "packets", CONFIG_DPI_MAX_PACKETS_OTHER,
		 "Packets of other IP protocols given to nDPI before it gives up"),

	CFG_STRING(capture, interface, 0, 15, CS_IFNAME, "",
		   "Interface to capture on; empty = the board's default"),
	CFG_STRING(capture, filter, 0, CONFIG_PATH_MAX - 1, CS_TEXT, "",
		   "BPF filter expression; empty = all traffic"),
	CFG_BOOL(capture, promiscuous, true, "Put the interface in promiscuous mode"),
	CFG_BOOL(capture, immediate, true, "Deliver each packet at once instead of in batches"),
	CFG_UINT(capture, snaplen, 128, 262144, "bytes", CONFIG_PCAP_SNAPLEN,
		 "Bytes captured of each frame"),
	CFG_UINT(capture, buffer_kb, 256, 1048576, "KiB", CONFIG_PCAP_BUFFER_KB,
		 "Kernel capture buffer size"),

	CFG_STRING(ports, lan, 0, 15, CS_IFNAME, "",
		   "Port facing the office LAN (bridge, nfqueue); empty = the board's"),
	CFG_STRING(ports, wan, 0, 15, CS_IFNAME, "",
		   "Port facing the uplink (bridge, nfqueue); empty = the board's"),
	CFG_STRING(ports, inject, 0, 15, CS_IFNAME, "",
		   "Monitor mode: port that sends TCP resets and DNS answers; empty = detect only"),

	CFG_UINT(bridge, fdb_size, 16, 1048576, "addresses", CONFIG_BRIDGE_FDB_SIZE,
		 "MAC addresses the bridge learns (the stalest is replaced when full)"),
	CFG_UINT(bridge, fdb_ageing, 1, 86400, "seconds", 300,
		 "A learned MAC address not heard from for this long is forgotten"),

	CFG_STRING(nfqueue, bridge, 1, 15, CS_IFNAME, "tgbr0",
		   "Kernel bridge created over the LAN and WAN ports"),
	CFG_UINT(nfqueue, queue, 0, 65535, "", 0, "NFQUEUE number"),
	CFG_UINT(nfqueue, queue_len, 64, 1048576, "packets", 4096,
		 "Packets the kernel holds for a verdict before it bypasses the queue"),
	/*
	 * Off: a full queue drops (TCP resends) rather than passing packets
	 * unseen, or a flood from the LAN would buy a blocked ClientHello a
	 * pass (docs/policy.md). A dead firmware still fails open (--queue-bypass).
	 */
	CFG_BOOL(nfqueue, fail_open, false,
		 "Accept packets when the queue is full instead of dropping them (unseen: a flood passes blocked flows)"),

	CFG_ENUM(mgmt, mode, cfg_mgmt_modes, TG_MGMT_OFF,
		 "The gateway's own address (lwIP, never judged by the policy): off, by DHCP, or static"),
	CFG_STRING(mgmt, port, 0, 15, CS_IFNAME, "",
		   "Monitor and nfqueue modes: the port management traffic uses (bridge mode uses the bridge)"),
	CFG_STRING(mgmt, mac, 0, 17, CS_MAC, "",
		   "Management MAC address; empty = a locally administered one derived from the gateway id"),
	CFG_STRING(mgmt, address, 0, 15, CS_IPV4, "", "Static address"),
	CFG_STRING(mgmt, netmask, 0, 15, CS_IPV4, "255.255.255.0", "Static netmask"),
	CFG_STRING(mgmt, router, 0, 15, CS_IPV4, "", "Static default router; empty = none"),
	CFG_STRING(mgmt, dns, 0, 15, CS_IPV4, "", "DNS server; empty = the DHCP lease's"),
	CFG_STRING(mgmt, ntp, 0, 63, CS_TEXT, "", "NTP server (name or address); empty = the DHCP lease's"),

	CFG_STRING(uplink, broker, 0, 63, CS_TEXT, "",
		   "The region's MQTT broker (host name or IPv4 address); empty = no uplink"),
	CFG_UINT(uplink, port, 1, 65535, "", 8883, "Broker port (MQTT over TLS)"),
	CFG_STRING(uplink, server_name, 0, 63, CS_TEXT, "",
		   "Name the broker's certificate must carry; empty = the broker setting"),
	CFG_PATH(uplink, ca, 0, false, "", "The region's CA certificate; empty = <data_dir>/keys/ca.crt"),
	CFG_PATH(uplink, cert, 0, false, "", "This gateway's certificate; empty = <data_dir>/keys/gw.crt"),
	CFG_PATH(uplink, key, 0, false, "", "This gateway's private key; empty = <data_dir>/keys/gw.key"),
	CFG_UINT(uplink, keepalive, 10, 3600, "seconds", 30,
		 "MQTT keepalive (lwIP checks every 5 s): the broker declares the gateway offline after 1.5 times this"),

	CFG_ENUM(enforce, blocked_address, cfg_blocked_address, ENFORCE_ADDR_RESET,
		 "A connection to a blocked address: reset it (fast failure) or drop silently"),
	CFG_STRING(enforce, dns_sink_ipv4, 0, 15, CS_IPV4, "",
		   "Answer for a blocked name's A query; empty = NXDOMAIN"),
	CFG_STRING(enforce, dns_sink_ipv6, 0, 45, CS_IPV6, "",
		   "Answer for a blocked name's AAAA query; empty = NXDOMAIN"),
	CFG_UINT(enforce, dns_ttl, 0, 86400, "seconds", 60,
		 "TTL of the gateway's answers for blocked names"),

	CFG_PATH(bundle, hub_key, 0, true, "",
		 "The hub's public key (PEM) that bundles must be signed with; empty = <data_dir>/keys/hub.pub"),
	CFG_UINT(bundle, clock_skew, 0, 86400, "seconds", 300,
		 "How far in the future a bundle's creation time may be before it is refused"),

	CFG_UINT(report, spool_kb, 64, 1048576, "KiB", CONFIG_REPORT_SPOOL_KB,
		 "Records waiting for the broker's PUBACK in <data_dir>/spool take at most this; summaries are dropped first, alerts last"),
	CFG_UINT(report, drain_bps, 256, 10485760, "bytes/s", CONFIG_REPORT_DRAIN_BPS,
		 "Compressed bytes a second sent to the broker, so a backlog does not saturate the uplink"),
	CFG_UINT(report, journal_kb, 16, 65536, "KiB", CONFIG_REPORT_JOURNAL_KB,
		 "<data_dir>/journal (what the broker acknowledged) becomes journal.1 past this size"),
	CFG_UINT(report, interval, 1, 86400, "seconds", CONFIG_REPORT_INTERVAL,
		 "Length of one summary interval"),
	CFG_UINT(report, batch_intervals, 1, 60, "intervals", CONFIG_REPORT_BATCH_INTERVALS,
		 "Summaries (and asset records) wait until this many intervals' go in one message; alerts never wait"),
	CFG_UINT(report, top_n, 1, 1000, "", CONFIG_REPORT_TOP_N,
		 "Internal hosts and external destinations a summary names (the rest: other)"),
	CFG_UINT(report, alert_limit, 1, 10000, "", CONFIG_REPORT_ALERT_LIMIT,
		 "Alerts of one type sent per interval; the rest are counted in the next one"),
	CFG_ENUM(report, tlp, cfg_tlp, CONFIG_REPORT_TLP, "TLP 2.0 label of every record (labels.tlp)"),
	CFG_ENUM(report, internal_addresses, cfg_priv_addr, CONFIG_REPORT_PRIV_ADDRESSES,
		 "Internal addresses in records: raw, keyed pseudonym, dropped or Crypto-PAn"),
	CFG_ENUM(report, macs, cfg_priv, CONFIG_REPORT_PRIV_MACS, "MAC addresses in records"),
	CFG_ENUM(report, host_names, cfg_priv, CONFIG_REPORT_PRIV_HOST_NAMES,
		 "Internal hosts' own names (DHCP host name) in records"),
	CFG_ENUM(report, queries, cfg_priv, CONFIG_REPORT_PRIV_QUERIES,
		 "Names the internal hosts looked up (DNS queries) in records"),
	CFG_UINT(report, inventory_size, 16, 16384, "devices", CONFIG_REPORT_INVENTORY_SIZE,
		 "Devices the inventory keeps (<data_dir>/inventory); a new one past it replaces the one idle longest"),
	CFG_UINT(report, risk_score, 0, 65535, "", CONFIG_REPORT_RISK_SCORE,
		 "A flow whose nDPI risk score is at least this alerts (100: one high risk); 0 = no risk alerts"),
	CFG_PATH(report, oui_file, 0, false, CONFIG_REPORT_OUI_FILE,
		 "Table of device makers by MAC prefix (tools/mk-oui); missing = makers unknown"),
	CFG_PATH(console, device, 0, false, "",
		 "The technician's serial console (any tty or pty); empty = the board's, none = no console"),
	CFG_ENUM(console, speed, cfg_console_speeds, TG_CON_BOARD,
		 "Console line rate in bits per second, 8N1; board = the board's (115200 if it names none)"),
	CFG_UINT(console, idle_logout, 0, 86400, "seconds", 600,
		 "A logged-in console with no key pressed this long logs out; 0 = never"),
	CFG_UINT(console, confirm_timeout, 5, 3600, "seconds", 120,
		 "A committed change is reverted unless `config confirm` comes within this time"),
	CFG_ENUM(console, lang, cfg_langs, 0,
		 "Language of the console's messages (en, zh_TW: Traditional Chinese)"),

	CFG_UINT(diag, bundle_max_age, 600, 31536000, "seconds", CONFIG_DIAG_BUNDLE_MAX_AGE,
		 "A blocklist older than this is reported stale by status and diag"),
	CFG_UINT(diag, flash_min_kb, 64, 1048576, "KiB", CONFIG_DIAG_FLASH_MIN_KB,
		 "Free space on <data_dir> below this is a problem in diag; capture is refused"),
};

const size_t cfg_nkeys = ARRAY_SIZE(cfg_keys);
_Static_assert(ARRAY_SIZE(cfg_keys) <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");

static const struct {
	const char *word;
	bool value;
} cfg_bool_words[] = {
	{ "true", true }, { "false", false }, { "yes", true }, { "no", false },
	{ "on", true },   { "off", false },   { "1", true },   { "0", false },
};

__attribute__((format(printf, 3, 0))) void cfg_vappendf(char *buf, size_t size, const char *fmt,
							va_list ap)
{
	size_t len = strnlen(buf, size);

	if (len + 1 < size)
		/* NOLINT: see log_emit() in log.c (clang-tidy 14 valist false positive) */
		vsnprintf(buf + len, size - len, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
}

__attribute__((format(printf, 3, 4))) static void cfg_appendf(char *buf, size_t size,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_vappendf(buf, size, fmt, ap);
	va_end(ap);
}

bool cfg_section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (!strcmp(cfg_keys[i].section, section))
			return true;
	return false;
}

/* "log, gateway, flow, dpi, capture" */
static void cfg_list_sections(char *buf, size_t size)
{
	const char *prev = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (prev && !strcmp(prev, cfg_keys[i].section))
			continue;
		cfg_appendf(buf, size, "%s%s", prev ? ", " : "", cfg_keys[i].section);
		prev = cfg_keys[i].section;
	}
}

void cfg_unknown_section(const char *section, char *err, size_t errlen)
{
	err[0] = '\0';
	cfg_appendf(err, errlen, "[%s]: unknown section (known: ", section);
	cfg_list_sections(err, errlen);
	cfg_appendf(err, errlen, ")");
}

const struct cfg_key *cfg_find(const char *section, const char *key, char *err, size_t errlen)
{
	bool first = true;

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key))
			return &cfg_keys[i];

	if (!*section) {
		snprintf(err, errlen, "%s: key outside any [section] (known: ", key);
		cfg_list_sections(err, errlen);
		cfg_appendf(err, errlen, ")");
		return NULL;
	}
	if (!cfg_section_known(section)) {
		cfg_unknown_section(section, err, errlen);
		return NULL;
	}
	snprintf(err, errlen, "[%s] %s: unknown key (known in [%s]: ", section, key, section);
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].section, section) != 0)
			continue;
		cfg_appendf(err, errlen, "%s%s", first ? "" : ", ", cfg_keys[i].key);
		first = false;
	}
	cfg_appendf(err, errlen, ")");
	return NULL;
}

void cfg_describe(const struct cfg_key *k, char *buf, size_t size)
{
	buf[0] = '\0';
	switch (k->type) {
	case CT_UINT:
		cfg_appendf(buf, size, "%u..%u%s%s", k->min, k->max, *k->unit ? " " : "", k->unit);
		break;
	case CT_BOOL:
		for (size_t i = 0; i < ARRAY_SIZE(cfg_bool_words); i++)
			cfg_appendf(buf, size, "%s%s", i ? ", " : "", cfg_bool_words[i].word);
		break;
	case CT_ENUM:
		for (size_t i = 0; i < k->nnames; i++)
			cfg_appendf(buf, size, "%s%s", i ? ", " : "", k->names[i]);
		break;
	case CT_STRING:
	case CT_PATH:
		if (k->charset == CS_NAME)
			cfg_appendf(buf, size, "a-z, 0-9 and '-', ");
		if (k->min)
			cfg_appendf(buf, size, "%u..%u characters", k->min, k->max);
		else
			cfg_appendf(buf, size, "up to %u characters", k->max);
		if (k->charset == CS_IFNAME)
			cfg_appendf(buf, size, ", no spaces, '/' or ':'");
		else if (k->charset == CS_TEXT)
			cfg_appendf(buf, size, ", no ';' or control characters");
		else if (k->charset == CS_IPV4)
			cfg_appendf(buf, size, ": an IPv4 address such as 192.0.2.1");
		else if (k->charset == CS_IPV6)
			cfg_appendf(buf, size, ": an IPv6 address such as 2001:db8::1");
		else if (k->charset == CS_MAC)
			cfg_appendf(buf, size, ": a unicast MAC address such as 02:00:5e:10:00:01");
		break;
	}
}

static bool cfg_char_ok(enum cfg_charset cs, unsigned char ch)
{
	switch (cs) {
	case CS_NAME:
		return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
	case CS_IFNAME:
		return ch > ' ' && ch < 0x7f && ch != '/' && ch != ':';
	case CS_TEXT:
		return ch >= ' ' && ch != 0x7f && ch != ';';
	case CS_IPV4:
		return (ch >= '0' && ch <= '9') || ch == '.';
	case CS_IPV6:
		return isxdigit(ch) || ch == ':' || ch == '.';
	case CS_MAC:
		return isxdigit(ch) || ch == ':';
	}
	return false;
}

/*
 * Digits only: no sign, no blanks, no base prefix. Returns 0, -EINVAL (not a
 * number) or -ERANGE (more than 32 bits).
 */
static int cfg_parse_uint(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (!big) {
			v = v * 10 + (uint64_t)(*s - '0');
			big = v > UINT32_MAX;
		}
	}
	if (big)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* Check a string or path value; 0 or -EINVAL with the reason (after the value) in why. */
static int cfg_check_text(const struct cfg_key *k, const char *value, char *why, size_t whylen)
{
	char allowed[160];
	size_t len = strlen(value);

	cfg_describe(k, allowed, sizeof(allowed));
	if (len < k->min) {
		snprintf(why, whylen, "empty (allowed: %s)", allowed);
		return -EINVAL;
	}
	if (len > k->max) {
		snprintf(why, whylen, "too long (allowed: %s)", allowed);
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (cfg_char_ok(k->charset, *p))
			continue;
		if (isprint(*p))
			snprintf(why, whylen, "character '%c' not allowed (allowed: %s)", *p, allowed);
		else
			snprintf(why, whylen, "character 0x%02x not allowed (allowed: %s)", *p,
				 allowed);
		return -EINVAL;
	}
	/* inih strips blanks around a value, so they could not be written back. */
	if (len && (value[0] == ' ' || value[len - 1] == ' ')) {
		snprintf(why, whylen, "leading or trailing space (allowed: %s)", allowed);
		return -EINVAL;
	}
	if (len && (k->charset == CS_IPV4 || k->charset == CS_IPV6)) {
		uint8_t addr[16];

		if (inet_pton(k->charset == CS_IPV4 ? AF_INET : AF_INET6, value, addr) != 1) {
			snprintf(why, whylen, "not an address (allowed: %s)", allowed);
			return -EINVAL;
		}
	}
	if (len && k->charset == CS_MAC) {
		uint8_t mac[6];

		if (config_parse_mac(value, mac) < 0) {
			snprintf(why, whylen, "not a unicast MAC address (allowed: %s)", allowed);
			return -EINVAL;
		}
	}
	if (k->charset == CS_IFNAME && (!strcmp(value, ".") || !strcmp(value, ".."))) {
		snprintf(why, whylen, "not an interface name (allowed: %s)", allowed);
		return -EINVAL;
	}
	/*
	 * stat() and access() rather than open(): opening some device files
	 * (a watchdog) has side effects.
	 */
	if (k->type == CT_PATH && k->readable && len) {
		struct stat st;
		int e = 0;

		if (stat(value, &st) < 0 || access(value, R_OK) < 0)
			e = errno;
		else if (S_ISDIR(st.st_mode))
			e = EISDIR;
		if (e) {
			snprintf(why, whylen, "cannot read: %s", strerror(e));
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_set_key(struct tg_config *c, const struct cfg_key *k, const char *value, char *err,
		size_t errlen)
{
	char *field = (char *)c + k->offset;
	char why[320], allowed[256];
	uint32_t num = 0;
	int ret;

	why[0] = '\0';
	cfg_describe(k, allowed, sizeof(allowed));
	switch (k->type) {
	case CT_UINT:
		ret = cfg_parse_uint(value, &num);
		if (ret == -EINVAL) {
			snprintf(why, sizeof(why), "not a whole number (allowed: %s)", allowed);
			break;
		}
		if (ret < 0 || num < k->min || num > k->max) {
			ret = -EINVAL;
			snprintf(why, sizeof(why), "out of range (allowed: %s)", allowed);
			break;
		}
		memcpy(field, &num, sizeof(num));
		break;
	case CT_BOOL:
		ret = -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(cfg_bool_words); i++) {
			if (!strcasecmp(value, cfg_bool_words[i].word)) {
				memcpy(field, &cfg_bool_words[i].value, sizeof(bool));
				ret = 0;
				break;
			}
		}
		if (ret)
			snprintf(why, sizeof(why), "not a boolean (allowed: %s)", allowed);
		break;
	case CT_ENUM:
		ret = -EINVAL;
		for (size_t i = 0; i < k->nnames; i++) {
			if (!strcasecmp(value, k->names[i])) {
				int v = (int)i;

				memcpy(field, &v, sizeof(v));
				ret = 0;
				break;
			}
		}
		if (ret)
			snprintf(why, sizeof(why), "not one of %s", allowed);
		break;
	case CT_STRING:
	case CT_PATH:
		ret = cfg_check_text(k, value, why, sizeof(why));
		if (!ret) {
			memset(field, 0, k->size);
			memcpy(field, value, strlen(value) + 1);
		}
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret)
		snprintf(err, errlen, "[%s] %s = \"%s\": %s", k->section, k->key, value, why);
	return ret;
}

void config_defaults(struct tg_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		char *field = (char *)c + k->offset;

		switch (k->type) {
		case CT_UINT:
			memcpy(field, &k->def_num, sizeof(uint32_t));
			break;
		case CT_BOOL: {
			bool b = k->def_num != 0;

			memcpy(field, &b, sizeof(b));
			break;
		}
		case CT_ENUM: {
			int v = (int)k->def_num;

			memcpy(field, &v, sizeof(v));
			break;
		}
		case CT_STRING:
		case CT_PATH:
			snprintf(field, k->size, "%s", k->def_str);
			break;
		}
	}
}

int config_set(struct tg_config *c, const char *section, const char *key, const char *value,
	       char *err, size_t errlen)
{
	char scratch[8];
	const struct cfg_key *k;

	if (!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if (!section || !key || !value) {
		snprintf(err, errlen, "missing section, key or value");
		return -EINVAL;
	}
	k = cfg_find(section, key, err, errlen);
	if (!k)
		return -EINVAL;
	return cfg_set_key(c, k, value, err, errlen);
}

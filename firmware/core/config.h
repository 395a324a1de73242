/*
 * Runtime configuration: an INI file (parsed with inih, config.c) validated
 * key by key against one table (config_keys.c). Kconfig sets the build-time
 * defaults; this file lets a technician or the hub change what may change
 * without reflashing.
 *
 * Every error names the file and line, the section and key, the value as
 * written, and what is allowed, e.g.
 *   gw.ini:7: [flow] udp_timeout = "abc": not a whole number (allowed: 1..86400 seconds)
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 256
#define CONFIG_NAME_MAX 64

/* [gateway] mode */
enum tg_mode {
	TG_MODE_MONITOR = 0, /* one mirror port: detect and report, optional answers */
	TG_MODE_BRIDGE,      /* userspace bridge between two ports (libpcap) */
	TG_MODE_NFQUEUE,     /* kernel bridge, first packets of each flow judged via NFQUEUE */
	TG_MODE_MAX
};

const char *config_mode_name(int mode);

/* [mgmt] mode: the gateway's own IP identity on lwIP */
enum tg_mgmt_mode {
	TG_MGMT_OFF = 0,
	TG_MGMT_DHCP,
	TG_MGMT_STATIC,
};

/* The values of [enforce] blocked_address (firmware/policy/enforce.c acts on them). */
enum enforce_blocked_address {
	ENFORCE_ADDR_RESET = 0, /* SYN to a blocked address: RST back (fast failure) */
	ENFORCE_ADDR_DROP,      /* silent drop (the client times out) */
};

/*
 * [report] privacy levels, per field class (firmware/report/privacy.c acts on
 * them): the value as it is, a keyed pseudonym (HMAC-SHA256 under the box's
 * own key), left out, or (addresses only) Crypto-PAn's prefix-preserving
 * mapping under the same key.
 */
enum tg_privacy_level {
	TG_PRIV_RAW = 0,
	TG_PRIV_PSEUDONYM,
	TG_PRIV_DROP,
	TG_PRIV_CRYPTOPAN,
};

/* [report] tlp: the TLP 2.0 labels, in order of restriction. */
enum tg_tlp { TG_TLP_CLEAR = 0, TG_TLP_GREEN, TG_TLP_AMBER, TG_TLP_AMBER_STRICT, TG_TLP_RED };

const char *config_tlp_name(int tlp);

/* [console] speed: its first value, "board", is the board's console_speed; the others are numbers. */
enum { TG_CON_BOARD = 0 };

/*
 * The line rate of a [console] speed value in bits per second; for "board"
 * (or one out of range) the board's console_speed, 115200 if that is 0.
 */
unsigned int config_console_baud(int speed, unsigned int board_speed);

struct tg_config {
	struct {
		int level;  /* enum log_level */
		int target; /* enum log_target */
	} log;
	struct {
		char id[CONFIG_NAME_MAX];     /* gateway id, [a-z0-9-]+ */
		char region[CONFIG_NAME_MAX]; /* region name, [a-z0-9-]+ */
		char data_dir[CONFIG_PATH_MAX];
		int mode;                     /* enum tg_mode */
	} gateway;
	struct {
		uint32_t tcp_timeout;        /* seconds */
		uint32_t tcp_closed_timeout; /* seconds */
		uint32_t udp_timeout;        /* seconds */
		uint32_t other_timeout;      /* seconds */
	} flow;
	struct {
		/* nDPI data files; empty = not loaded */
		char protos_file[CONFIG_PATH_MAX];
		char categories_file[CONFIG_PATH_MAX];
		char risky_domains_file[CONFIG_PATH_MAX];
		char ja3_file[CONFIG_PATH_MAX];
		char sha1_file[CONFIG_PATH_MAX];
		uint32_t max_packets_tcp;
		uint32_t max_packets_udp;
		uint32_t max_packets_other;
	} dpi;
	struct {
		char interface[CONFIG_NAME_MAX];
		char filter[CONFIG_PATH_MAX]; /* BPF expression, empty = all */
		bool promiscuous;
		bool immediate;
		uint32_t snaplen;
		uint32_t buffer_kb;
	} capture;
	struct {
		char lan[16];                 /* inline modes: port facing the office; empty = board's */
		char wan[16];                 /* inline modes: port facing the uplink; empty = board's */
		char inject[16];              /* monitor mode: port answers are sent from; empty = none */
	} ports;
	struct {
		uint32_t fdb_size;            /* MAC addresses learned */
		uint32_t fdb_ageing;          /* seconds */
	} bridge;
	struct {
		char bridge[16];              /* kernel bridge device */
		uint32_t queue;               /* NFQUEUE number */
		uint32_t queue_len;           /* packets */
		bool fail_open;
	} nfqueue;
	struct {
		int mode;                     /* enum tg_mgmt_mode */
		char port[16];                /* monitor/nfqueue: the management port */
		char mac[18];                 /* empty = derived from the gateway id */
		char address[16];             /* static */
		char netmask[16];
		char router[16];
		char dns[16];                 /* empty = the DHCP lease's */
		char ntp[64];                 /* name or address; empty = the lease's */
	} mgmt;
	struct {
		char broker[64];              /* host name or IPv4 address; empty = no uplink */
		uint32_t port;
		char server_name[64];         /* name the broker's certificate must carry; empty = broker */
		char ca[CONFIG_PATH_MAX];     /* empty = <data_dir>/keys/ca.crt */
		char cert[CONFIG_PATH_MAX];   /* empty = <data_dir>/keys/gw.crt */
		char key[CONFIG_PATH_MAX];    /* empty = <data_dir>/keys/gw.key */
		uint32_t keepalive;           /* seconds */
	} uplink;
	struct {
		int blocked_address;          /* enum enforce_blocked_address */
		char dns_sink_ipv4[16];       /* empty = NXDOMAIN */
		char dns_sink_ipv6[46];
		uint32_t dns_ttl;             /* seconds */
	} enforce;
	struct {
		char hub_key[CONFIG_PATH_MAX]; /* PEM public key; empty = <data_dir>/keys/hub.pub */
		uint32_t clock_skew;           /* seconds */
	} bundle;
	struct {
		uint32_t spool_kb;             /* the spool's bound on flash */
		uint32_t drain_bps;            /* compressed bytes a second to the broker */
		uint32_t journal_kb;           /* the journal of what left, before it rotates */
		uint32_t interval;            /* seconds between summaries */
		uint32_t batch_intervals;     /* intervals' summaries in one message */
		uint32_t top_n;               /* internal hosts and external destinations named */
		uint32_t alert_limit;         /* alerts per type per interval */
		int tlp;                      /* enum tg_tlp */
		int internal_addresses;       /* enum tg_privacy_level */
		int macs;                     /* enum tg_privacy_level, no Crypto-PAn */
		int host_names;               /* enum tg_privacy_level, no Crypto-PAn */
		int queries;                  /* enum tg_privacy_level, no Crypto-PAn */
		uint32_t inventory_size;      /* devices the inventory keeps */
		uint32_t risk_score;          /* nDPI risk score that alerts; 0 = none */
		char oui_file[CONFIG_PATH_MAX]; /* device makers by OUI; missing = unknown */
	} report;
	struct {
		char device[CONFIG_PATH_MAX]; /* the technician's tty; empty = the board's, "none" = none */
		int speed;                    /* index of its value: TG_CON_BOARD or a rate */
		uint32_t idle_logout;         /* seconds; 0 = never */
		uint32_t confirm_timeout;     /* seconds a committed change waits for `config confirm` */
		int lang;                     /* enum i18n_lang: the messages' language */
	} console;
	struct {
		uint32_t bundle_max_age;      /* seconds: an older list is "stale" in status and diag */
		uint32_t flash_min_kb;        /* free <data_dir> below this is a problem; capture refused */
	} diag;
};

/* Fill every field with its Kconfig default. */
void config_defaults(struct tg_config *c);

/*
 * Load and validate `path` on top of what `c` holds. On error returns
 * -ENOENT (cannot open) or -EINVAL (first bad line), writes a one-line message
 * naming file, line, key, value and what is allowed into err, and leaves `c`
 * unchanged (all-or-nothing).
 */
int config_load(struct tg_config *c, const char *path, char *err, size_t errlen);

/*
 * Set one key from text, validated like a file line (used by the loader, the
 * command line "-o section.key=value" and, later, the console). Returns 0 or
 * -EINVAL with a message in err (which does not include a file position).
 */
int config_set(struct tg_config *c, const char *section, const char *key,
	       const char *value, char *err, size_t errlen);

/* "02:00:5e:10:00:01" -> bytes; -EINVAL unless six hex pairs of a unicast, non-zero address. */
int config_parse_mac(const char *s, uint8_t mac[6]);

/*
 * Key i of the table (0, 1, ... in the order of config_write()): its section,
 * key and value as text, as a file would hold it. Returns 0, or -ENOENT past
 * the last key (so a loop needs no count). For the console's show, diff and
 * completion.
 */
int config_key_at(const struct tg_config *c, size_t i, const char **section, const char **key,
		  char *value, size_t size);
/* What key i accepts, e.g. "1..86400 seconds". Returns 0 or -ENOENT. */
int config_key_allowed(size_t i, char *buf, size_t size);

/* Write the whole configuration as INI (every key, with its current value). */
int config_write(const struct tg_config *c, FILE *out);

#endif

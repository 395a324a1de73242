/*
 * What the console's `status` and `diag` say (docs/console.md), in three
 * steps kept apart so each can be tested alone:
 *
 *   facts      diag_collect(): what the running gateway knows right now
 *              (links, management address, time, uplink, certificates,
 *              bundle, flash, watchdog), copied into a plain struct;
 *   judgement  diag_judge(): pure, from facts to findings, each check OK,
 *              skipped (not in this mode) or failed with its likely cause and
 *              the remedy in plain words, in the console's language;
 *   text       diag_render_status() and diag_render_diag() print them, 80
 *              columns at most (a CJK character counts as two).
 *
 * Only the facts need a gateway; a unit test builds facts by hand.
 */
#ifndef TG_DIAG_H
#define TG_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hub/uplink.h"

struct gateway;

/* The checks of `diag`, in the order they run and print. */
enum diag_check {
	DIAG_LINKS = 0,
	DIAG_DHCP,
	DIAG_DNS,
	DIAG_TIME,
	DIAG_BROKER,
	DIAG_CERTS,
	DIAG_BUNDLE,
	DIAG_FLASH,
	DIAG_WATCHDOG,
	DIAG_CHECKS
};

enum diag_port_role { DIAG_ROLE_LAN = 0, DIAG_ROLE_WAN, DIAG_ROLE_MIRROR, DIAG_ROLE_INJECT, DIAG_ROLE_MGMT };

struct diag_port {
	char name[16];
	int role;           /* enum diag_port_role */
	const char *label;  /* the board's words for it ("port 2, the one marked WAN"); NULL = none */
	bool exists;        /* the interface is there */
	bool admin_up;
	bool carrier;
	uint64_t rx_frames, tx_frames;
};

/* A certificate the uplink uses. */
struct diag_cert {
	const char *what;   /* N_("gateway certificate"), N_("region CA") */
	char path[288];
	int err;            /* 0 read, -ENOENT missing, -EINVAL not a certificate */
	int64_t not_before, not_after;
	char subject[128];
};

#define DIAG_PORTS 3

struct diag_facts {
	char id[64], region[64];
	const char *version;
	int mode;                    /* enum tg_mode */
	uint64_t uptime_s;
	struct diag_port port[DIAG_PORTS];
	int n_ports;
	int mgmt;                    /* enum tg_mgmt_mode; TG_MGMT_OFF: no DHCP/DNS/time/broker checks */
	bool mgmt_up;
	char mgmt_addr[16];
	bool time_valid;             /* SNTP set the time */
	uint64_t now_s;              /* wall clock: SNTP's when valid, else the system's */
	char ntp[64];                /* configured NTP server; "" = the lease's */
	char broker[64];             /* "" = no uplink configured */
	uint32_t broker_port;
	bool uplink;                 /* an uplink runs (broker set, mgmt on) */
	struct uplink_status up;
	struct diag_cert cert[2];
	int n_certs;
	uint32_t cert_warn_days;
	bool bundle;                 /* a list is in force */
	uint64_t bundle_serial, bundle_created, bundle_expires;
	uint32_t bundle_max_age;     /* [diag] bundle_max_age */
	uint64_t flows, blocks;
	bool spool;                  /* reports go to a spool */
	uint64_t spool_records, spool_bytes, spool_limit;
	int flash_err;               /* statvfs of <data_dir>: 0 or -errno */
	char data_dir[256];
	uint64_t flash_free_kb, flash_total_kb;
	uint32_t flash_min_kb;       /* [diag] flash_min_kb */
	const char *watchdog;        /* the board's watchdog device, NULL = none */
	bool watchdog_open;          /* the device is there to be fed */
};

enum diag_verdict { DIAG_OK = 0, DIAG_SKIP, DIAG_INFO, DIAG_FAIL };

/* Every fault diag names; the unit tests and the lab test pin each one. */
enum diag_fault {
	DIAG_F_NONE = 0,
	DIAG_F_PORT_MISSING,   /* the interface is not there */
	DIAG_F_PORT_DOWN,      /* administratively down */
	DIAG_F_WAN_NO_LINK,
	DIAG_F_LAN_NO_LINK,
	DIAG_F_PORT_NO_LINK,   /* mirror, inject or management port */
	DIAG_F_NO_DHCP,
	DIAG_F_NO_ADDRESS,     /* static address not up */
	DIAG_F_DNS_FAILED,
	DIAG_F_DNS_NO_ADDRESS, /* not tried: no address */
	DIAG_F_NO_TIME,
	DIAG_F_NO_BROKER_CONF,
	DIAG_F_BROKER_WAITING, /* waiting for address and time */
	DIAG_F_BROKER_DOWN,
	DIAG_F_CERT_MISSING,
	DIAG_F_CERT_BAD,
	DIAG_F_CERT_EXPIRED,
	DIAG_F_CERT_NOT_YET,
	DIAG_F_CERT_EXPIRING,
	DIAG_F_NO_BUNDLE,
	DIAG_F_BUNDLE_STALE,
	DIAG_F_FLASH_LOW,
	DIAG_F_FLASH_ERROR,
	DIAG_F_WATCHDOG_NONE,
	DIAG_F_WATCHDOG_MISSING,
};

struct diag_finding {
	enum diag_check check;
	enum diag_verdict verdict;
	enum diag_fault fault;
	char what[160];     /* OK: what was seen; FAIL: the cause */
	char remedy[240];   /* FAIL: what to do; "" otherwise */
};

#define DIAG_FINDINGS_MAX 16

struct diag_report {
	struct diag_finding f[DIAG_FINDINGS_MAX];
	int n;
	int first_fail;     /* index into f, -1 = all well */
};

/* The facts of the running gateway. */
void diag_collect(struct gateway *g, struct diag_facts *fx);

/* Facts to findings, in check order, in the current language (core/i18n.h). */
void diag_judge(const struct diag_facts *fx, struct diag_report *r);

/* The check's name ("links", "DHCP", ...), translated. */
const char *diag_check_name(enum diag_check c);

/* `status`: one screen, the last line OK or PROBLEM and the first problem. */
void diag_render_status(FILE *out, const struct diag_facts *fx, const struct diag_report *r);
/* `diag`: a line per check, causes and remedies under the failed ones, then OK or PROBLEMS. */
void diag_render_diag(FILE *out, const struct diag_report *r);

/* "1d 02:03" / "5m" style ages and sizes, shared by the info commands. */
void diag_fmt_age(char *buf, size_t len, uint64_t s);

#endif

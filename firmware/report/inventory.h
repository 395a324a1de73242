/*
 * The devices of the office LAN, by MAC address (issue 12, "inventory"),
 * learnt from what they say over DHCP (packet/dhcp.h) and from the source
 * MAC and address of their frames (static addresses): who made them (the
 * OUI, report/oui.h), the addresses they held over time (a bounded list,
 * newest first), their DHCP host name (option 12), vendor class (60) and
 * parameter request list (55, an OS fingerprint), first and last seen.
 * Traffic from a device's current address keeps its last-seen time fresh.
 *
 * Bounded: at most [report] inventory_size devices; a new one past that
 * takes the place of the one idle longest (counted in stats.evicted). Kept
 * on flash in <data>/inventory (inventory_store.c: JSON, replaced
 * atomically) and loaded at start; a file that cannot be read as one is
 * logged, kept aside as inventory.corrupt, and the inventory starts empty.
 *
 * What leaves the box: an `event.kind: asset` record per device
 * (docs/reports.md) when it changed (a new device, address, name, vendor
 * class or fingerprint) and for every device on request (the hub's report
 * command), through the privacy levels; and a new_device alert the first
 * time a MAC the inventory did not hold is seen.
 *
 * Times are wall-clock ms since the epoch (replay: the capture's).
 */
#ifndef TG_REPORT_INVENTORY_H
#define TG_REPORT_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "packet/dhcp.h"
#include "report/alert.h"
#include "report/privacy.h"
#include "report/record.h"
#include "report/report_sink.h"

/* Addresses a device keeps (newest first): Kconfig REPORT_INVENTORY_ADDRS. */
#define INVENTORY_ADDRS CONFIG_REPORT_INVENTORY_ADDRS

struct inventory_addr {
	uint8_t ip[4];
	int64_t first_ms, last_ms;
};

struct inventory_device {
	uint8_t mac[6];
	uint8_t n_addrs;
	uint8_t prl_len;
	int64_t first_ms, last_ms;
	struct inventory_addr addrs[INVENTORY_ADDRS];
	char host_name[DHCP_HOST_NAME_MAX + 1];
	char vendor_class[DHCP_VENDOR_CLASS_MAX + 1];
	uint8_t prl[DHCP_PRL_MAX];
	/* the inventory's own */
	uint32_t lru_prev, lru_next;  /* index + 1, 0 ends: idlest first */
	bool used;
	bool is_new;                  /* not yet in an asset record */
	bool changed;                 /* changed since its last asset record */
};

struct inventory_config {
	uint32_t capacity;            /* devices; 0 = CONFIG_REPORT_INVENTORY_SIZE */
	const char *path;             /* <data>/inventory; NULL or "": not kept */
	const char *oui_path;         /* the OUI table; NULL or "": vendors unknown */
	const struct privacy *privacy;
	struct record_observer *observer;
	struct report_sink *sink;
	struct alerts *alerts;        /* new_device alerts; NULL: none */
};

struct inventory_stats {
	uint32_t devices;
	uint64_t added;               /* devices first seen (each a new_device alert) */
	uint64_t evicted;             /* idlest devices that made room */
	uint64_t dhcp;                /* DHCP messages taken */
	uint64_t dhcp_ignored;        /* of them, with a group or zero chaddr */
	uint64_t frames_learnt;       /* frames that added a device or an address (inventory_frame_seen) */
	uint64_t frames_refused;      /* frames of a new MAC past INVENTORY_FRAME_NEW_PER_MIN */
	uint64_t loaded, load_skipped;/* devices from the file; entries refused in it */
	uint64_t saves, save_errors;
};

struct inventory;

/* Loads cfg->path if it exists. NULL only when out of memory. */
struct inventory *inventory_new(const struct inventory_config *cfg);
/* Saves what changed (inventory_save), then frees. */
void inventory_free(struct inventory *inv);

/*
 * A DHCP message seen at ms: a client's host name, vendor class and
 * fingerprint, the address it holds (ciaddr of a REQUEST or INFORM), a
 * server's ACK (yiaddr). Returns 1 when a device was added or changed, 0
 * when not, or the sink's -errno (the new_device alert).
 */
int inventory_dhcp(struct inventory *inv, const struct dhcp_msg *m, int64_t ms);

/*
 * A frame from source MAC mac with internal IPv4 source address ip at ms
 * (an IP packet's source, an ARP sender's): a device with a static address
 * enters the inventory as DHCP ones do (a new_device alert, an asset
 * record), and a known one's address is kept. A MAC the inventory does not
 * hold is taken only when on_lan (NULL: every one) says it is behind the
 * LAN port. One hash lookup a frame; the device seen again at its address
 * changes nothing but last-seen times. Returns 1 when a device was added or
 * got another address, 0 when not, or the sink's -errno (the alert).
 */
int inventory_frame_seen(struct inventory *inv, const uint8_t mac[6], const uint8_t ip[4], int64_t ms,
			 bool (*on_lan)(void *ctx, const uint8_t mac[6]), void *ctx);
/*
 * Devices inventory_frame_seen adds in one minute at most; past it a MAC it
 * does not hold is counted (stats.frames_refused) and left out. A flood of
 * forged MACs neither evicts the office's devices faster than this nor costs
 * the packet path more than the lookup. (DHCP's devices are not bounded so.)
 */
#define INVENTORY_FRAME_NEW_PER_MIN 256u

/* Traffic from internal IPv4 address ip at ms: the device holding it now is seen. */
void inventory_addr_seen(struct inventory *inv, const uint8_t ip[4], int64_t ms);

/*
 * Asset records, @timestamp ms: of each device changed since its last one
 * (inventory_report_changes: event.action "change"), or of every device
 * (inventory_report_all: "request"). Returns the records put or -errno.
 */
int inventory_report_changes(struct inventory *inv, int64_t ms);
int inventory_report_all(struct inventory *inv, int64_t ms);

/*
 * Write the file when anything changed since the last write: a device's
 * content at once; last-seen times alone at most every
 * INVENTORY_SEEN_SAVE_MS (flash wears). force: whatever changed. Returns 0
 * or -errno (logged with the path).
 */
#define INVENTORY_SEEN_SAVE_MS INT64_C(3600000)
int inventory_save(struct inventory *inv, int64_t ms, bool force);

const struct inventory_device *inventory_find(const struct inventory *inv, const uint8_t mac[6]);
/* The maker of a device ("Apple, Inc."), NULL when unknown. */
const char *inventory_vendor(const struct inventory *inv, const struct inventory_device *d);
void inventory_get_stats(const struct inventory *inv, struct inventory_stats *st);

#endif

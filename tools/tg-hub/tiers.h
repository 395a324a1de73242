/*
 * Tiers (docs/protocol.md "Tiers"): a national broker above the regional
 * ones, fed by Mosquitto's own bridge from each regional broker. tg-hub
 * provision writes both sides:
 *
 *   national:  --bridges north,south   one bridge identity per region from
 *              the national CA (DIR/bridges/<region>/bridge.key .crt ca.crt,
 *              CN bridge:<region>), acl entries that let it write only its
 *              region's report and state topics, and the national SOC's read
 *              of every region's;
 *   regional:  --national HOST:PORT --bridge-files DIR/bridges/<region>
 *              the bridge section of the regional mosquitto.conf (the files
 *              copied to broker/national/), mapping tg/v1/<region>/gw/+/summary,
 *              alert, asset and state out to the same topics on the national
 *              broker, QoS 1, a persistent session.
 */
#ifndef TG_HUB_TIERS_H
#define TG_HUB_TIERS_H

#include <stddef.h>
#include <stdio.h>

/* The report and state topics a bridge carries up (docs/protocol.md "Topics"). */
extern const char *const tiers_kinds[4];

/* The bridge section of the regional broker's mosquitto.conf; files under bdir/national/. */
void tiers_bridge_conf(FILE *f, const char *region, const char *bdir, const char *national);

/* The national broker's acl entries for the bridges of regions[0..n-1], and its SOC's read of every region. */
void tiers_acl(FILE *f, const char *region, char **regions, size_t n);

/* --national "HOST:PORT" (HOST a name or an address, [v6]:PORT): 0, or -EINVAL after a message. */
int tiers_national_valid(const char *arg);

#endif

/*
 * Who made a device, from the first three bytes of its MAC address (the
 * IEEE's MA-L assignments): the table tools/mk-oui makes at build time from
 * Debian's ieee-data (its format is written there), read whole from
 * [report] oui_file and searched by bisection (32 000 entries: 15 steps).
 *
 * A missing file is no error: vendors are then unknown (an image may leave
 * the 600 KB out). A file that breaks the format is refused whole, logged
 * with what was wrong and where.
 */
#ifndef TG_REPORT_OUI_H
#define TG_REPORT_OUI_H

#include <stdint.h>

struct oui_table;

/* NULL when path is empty, the file is missing (logged once at info) or refused (logged). */
struct oui_table *oui_open(const char *path);
void oui_close(struct oui_table *t);

/* The maker of mac, or NULL: unknown, no table, or a locally administered address. */
const char *oui_vendor(const struct oui_table *t, const uint8_t mac[6]);

/* Entries in the table (0 without one). */
uint32_t oui_count(const struct oui_table *t);

#endif

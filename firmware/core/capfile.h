/*
 * A capture file (pcap, Ethernet) written frame by frame: the console's
 * `capture PORT SECONDS` for the SOC. The interface is core's; the writer
 * is drivers/capfile.c (libpcap's format, only drivers/ see libpcap).
 */
#ifndef TG_CAPFILE_H
#define TG_CAPFILE_H

#include <stdint.h>

struct capfile;

/* Create path (mode 0600, not there before). Returns 0 and *out, or -errno. */
int capfile_open(struct capfile **out, const char *path, uint32_t snaplen);
/* One frame. Returns the bytes the file grew by, or -errno (a write failed). */
int capfile_write(struct capfile *cf, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
		  uint32_t wirelen);
/* Flush, fsync and close. Returns 0 or -errno (the file may be short). */
int capfile_close(struct capfile *cf);

#endif

/*
 * `townguard report reveal PSEUDONYM`: the technician's way back from what
 * the SOC saw to the office's own device, with the key that never left the
 * box. A pseudonym cannot be undone, only found: the candidates are the
 * words of the files given (a DHCP leases file, an inventory, a log) and,
 * for an address, every private IPv4 address (192.168/16, 172.16/12, 10/8,
 * 100.64/10, 169.254/16: some 18 million HMACs, seconds). A Crypto-PAn
 * address is undone directly.
 */
#ifndef TG_REPORT_REVEAL_H
#define TG_REPORT_REVEAL_H

#include <stddef.h>

#include "report/privacy.h"

/*
 * What `what` stands for under p's key, as text into out: the address, MAC
 * or name whose pseudonym it is, or, when `what` is an address, the one
 * Crypto-PAn maps to it. Returns 0, -ENOENT (searched, not found), -EINVAL
 * (neither a pseudonym nor an address), or -errno reading a file (logged).
 */
int reveal(const struct privacy *p, const char *what, const char *const *files, unsigned int n_files,
	   char *out, size_t len);

#endif

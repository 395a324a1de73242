/* NTP exchanges (ntp.c). */
#ifndef TG_PCAPGEN_NTP_H
#define TG_PCAPGEN_NTP_H

#include "frame.h"

/* c's client asks its server the time at out->usec; the server answers 1.5 ms later. */
void ntp_exchange(struct pg_out *out, struct pg_conv *c);

#endif

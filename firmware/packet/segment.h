/*
 * A coalesced TCP frame (core/port.h, port_frame.seg_size: the receive
 * offload merged consecutive segments of one flow) cut back into the
 * frames that were on the wire, for a consumer that takes at most one MTU
 * (the management netif: lwIP refuses larger frames). The bridge does not
 * need it: its port driver has the kernel cut forwarded frames.
 */
#ifndef TG_SEGMENT_H
#define TG_SEGMENT_H

#include <stdint.h>

/* The longest frame segment_tcp() hands out: headers and one segment's payload. */
#define SEGMENT_FRAME_MAX 9216u

typedef void (*segment_fn)(const uint8_t *frame, uint32_t len, void *ctx);

/*
 * Hand fn each segment of frame (Ethernet, up to two VLAN tags, IPv4 or
 * IPv6 without extension headers, TCP) with seg_size payload bytes (the
 * last one the rest): headers copied, IP lengths, IPv4 identification and
 * checksum, TCP sequence number, flags (CWR on the first only, PSH and FIN
 * on the last only) and checksum written for each. Returns the number of
 * frames handed out, or -EINVAL (headers cut short or a segment longer than
 * SEGMENT_FRAME_MAX) or -EPROTONOSUPPORT (not TCP over IPv4 or IPv6); then
 * nothing was handed out.
 */
int segment_tcp(const uint8_t *frame, uint32_t len, uint32_t seg_size, segment_fn fn, void *ctx);

#endif

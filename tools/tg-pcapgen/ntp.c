/*
 * An NTP client request and the server's answer (mode 3, mode 4), with the
 * timestamps the capture's clock gives them, as ntpd and chrony exchange them.
 */
#include "ntp.h"

/* NTP counts seconds from 1900-01-01, 70 years (17 of them leap) before Unix. */
#define NTP_UNIX_OFFSET 2208988800u

static uint8_t payload[PG_PAYLOAD_MAX];

/*
 * An NTP timestamp for usec (may be negative) from PG_EPOCH: 32.32 fixed
 * point; the fraction is rounded up so that it reads back as the same usec.
 */
static void ntp_ts(struct buf *b, int64_t usec)
{
	int64_t sec = usec / 1000000, frac = usec % 1000000;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	buf_put32(b, (uint32_t)(PG_EPOCH + NTP_UNIX_OFFSET + sec));
	buf_put32(b, (uint32_t)((((uint64_t)frac << 32) + 999999) / 1000000));
}

void ntp_exchange(struct pg_out *out, struct pg_conv *c)
{
	int64_t t_req = (int64_t)out->usec, t_srv = t_req + 1500;
	struct buf b = BUF_ON(payload);

	buf_put8(&b, 0x23); /* LI 0, version 4, mode 3 (client) */
	buf_put8(&b, 0);    /* stratum */
	buf_put8(&b, 6);    /* poll 64 s */
	buf_put8(&b, 0xe9); /* precision 2^-23 s */
	buf_put32(&b, 0);   /* root delay */
	buf_put32(&b, 0);   /* root dispersion */
	buf_put32(&b, 0);   /* reference id */
	buf_put32(&b, 0);   /* reference timestamp */
	buf_put32(&b, 0);
	buf_put32(&b, 0);   /* origin timestamp */
	buf_put32(&b, 0);
	buf_put32(&b, 0);   /* receive timestamp */
	buf_put32(&b, 0);
	ntp_ts(&b, t_req);
	frame_udp(out, c, PG_CLI, b.p, b.len);

	b.len = 0;
	buf_put8(&b, 0x24);       /* LI 0, version 4, mode 4 (server) */
	buf_put8(&b, 2);          /* stratum */
	buf_put8(&b, 6);
	buf_put8(&b, 0xe8);
	buf_put32(&b, 0x00000312); /* root delay, 16.16 s */
	buf_put32(&b, 0x00000a4c); /* root dispersion */
	buf_put32(&b, 0xc6336407); /* reference id: upstream 198.51.100.7 */
	ntp_ts(&b, t_req - 64000000);
	ntp_ts(&b, t_req);
	ntp_ts(&b, t_srv);
	ntp_ts(&b, t_srv + 40);
	frame_udp(out, c, PG_SRV, b.p, b.len);
}

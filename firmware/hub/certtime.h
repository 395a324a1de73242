/*
 * Certificate dates judged by the gateway's own time (hub/certtime.c).
 *
 * mbedTLS checks a certificate's not-before and not-after against time(),
 * the system clock, which on a board without a battery-backed clock is
 * 1970 (or whatever the last boot left) until something sets it. The
 * uplink connects only once SNTP gave the management stack the time, so
 * that time is the one to judge by: certtime_verify() is an mbedTLS verify
 * callback (mbedtls_ssl_conf_verify) that drops the date flags mbedTLS set
 * from the system clock and sets them again from the time source, for each
 * certificate of the chain, and logs a refusal with the certificate's
 * subject, its dates, the time used and where that time came from.
 *
 * The time source is a function, so a test gives any time it likes.
 */
#ifndef TG_CERTTIME_H
#define TG_CERTTIME_H

#include <stdint.h>

struct mbedtls_x509_crt;

struct certtime {
	/*
	 * The time to judge by: 0 and *unix_s, and *source naming where it
	 * came from ("SNTP from 10.99.0.1"); or -EAGAIN when there is none,
	 * and the system clock's verdict stands (logged).
	 */
	int (*now)(void *ctx, uint64_t *unix_s, const char **source);
	void *ctx;
	const char *what; /* "broker certificate": how the log names the leaf */
};

/* mbedTLS's f_vrfy, with p_vrfy a struct certtime. Returns 0 (the flags say the verdict). */
int certtime_verify(void *ctx, struct mbedtls_x509_crt *crt, int depth, uint32_t *flags);

/*
 * The first certificate of a PEM or DER file: its validity as Unix seconds
 * (UTC) and its subject (for the console's diag). Returns 0, -ENOENT (no
 * such file) or -EINVAL (not a certificate).
 */
struct certtime_dates {
	int64_t not_before, not_after;
	char subject[128];
};
int certtime_file(const char *path, struct certtime_dates *out);

/* A certificate date (mbedtls_x509_time fields) as Unix seconds, UTC. */
int64_t certtime_unix(int year, int mon, int day, int hour, int min, int sec);

#endif

/*
 * Certificate dates by the gateway's time (firmware/hub/certtime.c), with
 * certificates openssl made (tests/lab/dated_cert.sh) and the time injected:
 * a certificate the system clock calls expired passes at a time within its
 * dates, one the system clock calls valid is refused at a time past its end
 * or before its start, the log line names the subject, the dates, the time
 * used and where it came from; without a time the system clock's verdict
 * stands. mbedTLS verifies the chain itself (mbedtls_x509_crt_verify) with
 * the callback, as the uplink's TLS handshake does.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/x509_crt.h>

#include "hub/certtime.h"

#include "fixtures.h"

static struct fx_scratch scratch;
static mbedtls_x509_crt ca;
static char cur_start[20], cur_end[20];

/* The injected clock: `at` seconds, or none. */
static uint64_t at;
static int have_time;

static int fake_now(void *ctx, uint64_t *unix_s, const char **source)
{
	(void)ctx;
	if (!have_time)
		return -EAGAIN;
	*unix_s = at;
	*source = "SNTP from 10.99.0.1";
	return 0;
}

static const struct certtime ct = { .now = fake_now, .what = "broker certificate" };

static void stamp(char *buf, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 20, "%Y%m%d%H%M%SZ", &tm);
}

static int setup(void **state)
{
	const char *top = getenv("TOP");
	char cmd[4096 + 256];
	time_t now = time(NULL);

	(void)state;
	if (fx_scratch_enter(&scratch, "certtime"))
		return -1;
	/* valid by the system clock: from yesterday for 30 days */
	stamp(cur_start, now - 86400);
	stamp(cur_end, now + 30 * 86400);
	snprintf(cmd, sizeof(cmd),
		 "d=%s/tests/lab/dated_cert.sh; $d . ca && $d . past 20200101000000Z 20201231235959Z && "
		 "$d . current %s %s && $d . future 20900101000000Z 20901231235959Z",
		 top ? top : scratch.olddir, cur_start, cur_end);
	if (system(cmd) != 0)
		return -1;
	mbedtls_x509_crt_init(&ca);
	return mbedtls_x509_crt_parse_file(&ca, "ca.crt") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	mbedtls_x509_crt_free(&ca);
	return fx_scratch_leave(&scratch);
}

/* Verify NAME.crt against the CA for hub.test with the callback; its flags, and the log in buf. */
static uint32_t verify(const char *name, char *log, size_t len)
{
	mbedtls_x509_crt crt;
	char path[64];
	uint32_t flags = 0;
	int saved = dup(2), fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	snprintf(path, sizeof(path), "%s.crt", name);
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, path), 0);
	fflush(stderr);
	dup2(fd, 2);
	mbedtls_x509_crt_verify(&crt, &ca, NULL, "hub.test", &flags, certtime_verify, (void *)&ct);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, len - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	mbedtls_x509_crt_free(&crt);
	return flags;
}

static void test_the_injected_time_decides_not_the_system_clock(void **state)
{
	char log[2048];

	(void)state;
	have_time = 1;
	/* expired by the system clock, valid in mid-2020 */
	at = (uint64_t)certtime_unix(2020, 6, 1, 12, 0, 0);
	assert_int_equal(verify("past", log, sizeof(log)), 0);
	assert_string_equal(log, "");
	/* not valid yet by the system clock, valid in 2090 */
	at = (uint64_t)certtime_unix(2090, 6, 1, 0, 0, 0);
	assert_int_equal(verify("future", log, sizeof(log)), 0);
	/* valid by the system clock, expired 60 days on */
	at = (uint64_t)time(NULL) + 60 * 86400;
	assert_int_equal(verify("current", log, sizeof(log)), MBEDTLS_X509_BADCERT_EXPIRED);
	assert_non_null(strstr(log, "uplink] error: broker certificate \"CN=hub.test\" refused: expired (valid "));
	assert_non_null(strstr(log, "; time "));
	assert_non_null(strstr(log, ", from SNTP from 10.99.0.1)"));
	/* ... and not valid yet 30 days before */
	at = (uint64_t)time(NULL) - 30 * 86400;
	assert_int_equal(verify("current", log, sizeof(log)), MBEDTLS_X509_BADCERT_FUTURE);
	assert_non_null(strstr(log, "refused: not valid yet"));
}

static void test_the_log_line_has_both_dates_and_the_time(void **state)
{
	char log[2048];

	(void)state;
	have_time = 1;
	at = (uint64_t)certtime_unix(2021, 3, 4, 5, 6, 7);
	assert_int_equal(verify("past", log, sizeof(log)), MBEDTLS_X509_BADCERT_EXPIRED);
	assert_non_null(strstr(log, "broker certificate \"CN=hub.test\" refused: expired (valid 2020-01-01T00:00:00Z "
				    "to 2020-12-31T23:59:59Z; time 2021-03-04T05:06:07Z, from SNTP from 10.99.0.1)"));
	/* a second before the start, and the last second */
	at = (uint64_t)certtime_unix(2019, 12, 31, 23, 59, 59);
	assert_int_equal(verify("past", log, sizeof(log)), MBEDTLS_X509_BADCERT_FUTURE);
	at = (uint64_t)certtime_unix(2020, 12, 31, 23, 59, 59);
	assert_int_equal(verify("past", log, sizeof(log)), 0);
}

static void test_without_a_time_the_system_clock_judges(void **state)
{
	char log[2048];

	(void)state;
	have_time = 0;
	assert_int_equal(verify("past", log, sizeof(log)), MBEDTLS_X509_BADCERT_EXPIRED);
	assert_non_null(strstr(log, "no time but the system clock"));
	assert_int_equal(verify("current", log, sizeof(log)), 0);
}

static void test_dates_become_unix_seconds(void **state)
{
	(void)state;
	assert_int_equal(certtime_unix(1970, 1, 1, 0, 0, 0), 0);
	assert_int_equal(certtime_unix(2000, 3, 1, 0, 0, 0), 951868800);
	assert_int_equal(certtime_unix(2026, 12, 3, 8, 0, 0), 1796284800);
	assert_int_equal(certtime_unix(2099, 12, 31, 23, 59, 59), 4102444799);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_injected_time_decides_not_the_system_clock),
		cmocka_unit_test(test_the_log_line_has_both_dates_and_the_time),
		cmocka_unit_test(test_without_a_time_the_system_clock_judges),
		cmocka_unit_test(test_dates_become_unix_seconds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Certificate dates by the gateway's time; see certtime.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ssl.h>

#define LOG_MODULE "uplink"
#include "core/log.h"
#include "hub/certtime.h"

/* Days from 1970-01-01 to year-mon-day (proleptic Gregorian; H. Hinnant's days_from_civil). */
int64_t certtime_unix(int year, int mon, int day, int hour, int min, int sec)
{
	int64_t y = (int64_t)year - (mon <= 2), era, days;
	unsigned yoe, doy, doe, m = (unsigned)mon;

	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + (int64_t)doe - 719468;
	return days * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
}

static int64_t crt_time(const mbedtls_x509_time *t)
{
	return certtime_unix(t->year, t->mon, t->day, t->hour, t->min, t->sec);
}

static void iso(int64_t s, char *buf, size_t len)
{
	time_t tt = (time_t)s;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, len, "%" PRId64, s);
}

int certtime_verify(void *ctx, struct mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	const struct certtime *ct = ctx;
	const uint32_t dates = MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE;
	char subject[256], from[32], to[32], at[32];
	const char *source = NULL;
	int64_t nb, na, now;
	uint64_t now_s;

	if (ct->now(ct->ctx, &now_s, &source) < 0) {
		if (depth == 0)
			log_warn("no time but the system clock to judge certificate dates by");
		return 0;
	}
	*flags &= ~dates;
	now = (int64_t)now_s;
	nb = crt_time(&crt->valid_from);
	na = crt_time(&crt->valid_to);
	if (now >= nb && now <= na)
		return 0;
	*flags |= now < nb ? MBEDTLS_X509_BADCERT_FUTURE : MBEDTLS_X509_BADCERT_EXPIRED;
	if (mbedtls_x509_dn_gets(subject, sizeof(subject), &crt->subject) < 0)
		snprintf(subject, sizeof(subject), "?");
	iso(nb, from, sizeof(from));
	iso(na, to, sizeof(to));
	iso(now, at, sizeof(at));
	log_err("%s%s \"%s\" refused: %s (valid %s to %s; time %s, from %s)",
		depth ? "CA of the " : "", ct->what ? ct->what : "certificate", subject,
		now < nb ? "not valid yet" : "expired", from, to, at, source ? source : "?");
	return 0;
}

int certtime_file(const char *path, struct certtime_dates *out)
{
	mbedtls_x509_crt crt;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (access(path, R_OK) < 0)
		return -ENOENT;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, path) < 0 || !crt.version) {
		ret = -EINVAL;
		goto out;
	}
	out->not_before = crt_time(&crt.valid_from);
	out->not_after = crt_time(&crt.valid_to);
	if (mbedtls_x509_dn_gets(out->subject, sizeof(out->subject), &crt.subject) < 0)
		snprintf(out->subject, sizeof(out->subject), "?");
out:
	mbedtls_x509_crt_free(&crt);
	return ret;
}

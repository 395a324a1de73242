/*
 * The gateway's side of the blocklist benchmark (docs/benchmarks.md): verify
 * and load a bundle the way a gateway accepts one, then look up domains,
 * IPv4 and IPv6 addresses in place, on one thread.
 *
 *   bundle-bench BUNDLE HUB-PUB REGION Q-DOMAINS Q-IPV4 Q-IPV6 [PASSES]
 *
 * Load: bundle_open_file() (mmap with MAP_POPULATE, SHA-256 of the whole
 * file, structural check of every section) then bundle_check() (ECDSA P-256
 * signature with the hub key, region, full bundle, created/expires against
 * the clock, serial newer than 0), each timed on the monotonic clock. It is
 * done twice: cold, after dropping the file's pages from the page cache
 * (posix_fadvise DONTNEED: the file is read from disk, as at boot), then
 * warm (as right after the bundle was received); the warm one is kept. The
 * query files hold one name or address per line; they are read and parsed
 * before anything is timed. Each kind is then looked up PASSES times (default
 * 3) in the block list, with the current time for entry expiry, as the policy
 * does for a flow's name or address.
 *
 * Output, one "key=value ..." record per line, for tests/bench/run:
 *   load-cold open_s= check_s= load_s= size= domains= ipv4= ipv6= rss_before_kb= rss_after_kb=
 *   load ...                                  (the same, warm)
 *   lookup KIND n= passes= hits= per_s= per_s_best=
 * rss_before_kb is after the query files are in memory: rss_after_kb -
 * rss_before_kb is the loaded bundle's share. hits is per pass (every pass
 * must find the same); per_s is the median pass. Exit 1 on any failure.
 *
 *   bundle-bench --take IN-FORCE NEW DELTA HUB-PUB REGION
 *
 * The memory of taking a new list while one is in force, as the gateway
 * does (policy/store.c, app/gateway.c): IN-FORCE is opened and checked
 * (MAP_POPULATE, as at boot); then NEW, a full bundle, is taken the way a
 * received one is (written to NEW.ota in 16 KiB fragments and hashed as
 * they are written; bundle_open_file_digests: lean, checked in windows;
 * bundle_check; the old one closed; bundle_populate); then DELTA, a delta
 * from NEW, the way a received delta is (bundle_apply_delta_file into a
 * file next to NEW, opened lean, checked, swapped, populated). Before each
 * take the peak is reset (/proc/self/clear_refs 5); after it VmHWM is the
 * peak while taking and VmRSS the steady state with the new list in force:
 *   take KIND peak_kb= steady_kb= before_kb= ratio= s=
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "bench_util.h"
#include "policy/bundle.h"
#include "policy/bundle_digest.h"

/* The hub key file, as the gateway reads it (bundle_sign.c takes PEM or DER as is). */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *out = malloc(65536);

	if (!f || !out) {
		fprintf(stderr, "cannot read %s\n", path);
		return NULL;
	}
	*len = fread(out, 1, 65536, f);
	fclose(f);
	return out;
}

/* Drop the file's clean pages from the page cache (only this file's). */
static int drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		fprintf(stderr, "cannot open %s\n", path);
		return -1;
	}
	fdatasync(fd);
	err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	if (err)
		fprintf(stderr, "%s: posix_fadvise: %s\n", path, strerror(err));
	return err ? -1 : 0;
}

enum kind { K_DOMAIN, K_IPV4, K_IPV6 };
static const char *const kind_name[] = { "domain", "ipv4", "ipv6" };

struct queries {
	struct bench_lines names; /* K_DOMAIN */
	uint8_t *addr;            /* K_IPV4, K_IPV6: n addresses of 4 or 16 bytes */
	size_t n;
};

static int load_addrs(const char *path, int family, struct queries *q)
{
	size_t w = family == AF_INET ? 4 : 16, i;
	struct bench_lines l;

	if (bench_read_lines(path, &l))
		return -1;
	q->addr = malloc(l.n * w);
	if (!q->addr)
		return -1;
	for (i = 0; i < l.n; i++)
		if (inet_pton(family, l.line[i], q->addr + i * w) != 1) {
			fprintf(stderr, "%s:%zu: not an address: %s\n", path, i + 1, l.line[i]);
			return -1;
		}
	q->n = l.n;
	free(l.buf);
	free(l.line);
	free(l.len);
	return 0;
}

static size_t run_pass(const struct bundle *b, enum kind k, const struct queries *q, uint64_t now_s)
{
	struct bundle_match m;
	size_t i, hits = 0;

	for (i = 0; i < q->n; i++) {
		bool hit;

		switch (k) {
		case K_DOMAIN:
			hit = bundle_lookup_domain(b, q->names.line[i], q->names.len[i], now_s, false, &m);
			break;
		case K_IPV4:
			hit = bundle_lookup_ipv4(b, q->addr + 4 * i, now_s, false, &m);
			break;
		default:
			hit = bundle_lookup_ipv6(b, q->addr + 16 * i, now_s, false, &m);
			break;
		}
		hits += hit;
	}
	return hits;
}

/* VmHWM := VmRSS (Linux 4.0+). */
static int reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int ok = f && fputs("5", f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "cannot reset the peak RSS (/proc/self/clear_refs)\n");
	return ok ? 0 : -1;
}

static void print_take(const char *kind, long before, double t0)
{
	long peak = bench_status_kb("VmHWM"), steady = bench_status_kb("VmRSS");

	printf("take %s peak_kb=%ld steady_kb=%ld before_kb=%ld ratio=%.3f s=%.3f\n", kind, peak, steady,
	       before, (double)peak / (double)steady, bench_now() - t0);
}

/*
 * The file as OTA receives it (hub/ota.c): written to `to` fragment by
 * fragment (16 KiB, the size of a TLS record) and hashed as it is written,
 * then synced.
 */
static int receive_file(const char *from, const char *to, struct bundle_digests *d)
{
	struct bundle_digester *dg = bundle_digester_new();
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	uint8_t buf[16384];
	ssize_t n;
	int ret = 0;

	if (in < 0 || out < 0 || !dg) {
		fprintf(stderr, "cannot copy %s to %s\n", from, to);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			ret = -1;
		bundle_digester_update(dg, buf, (size_t)n);
	}
	if (n < 0 || fsync(out) < 0 || bundle_digester_finish(dg, d))
		ret = -1;
	close(in);
	close(out);
	bundle_digester_free(dg);
	if (ret)
		fprintf(stderr, "%s: cannot receive it into %s\n", from, to);
	return ret;
}

/* A checked full bundle in place of *in_force, as gw_use_bundle() swaps. */
static int take(struct bundle **in_force, struct bundle *b, const uint8_t *key, size_t keylen,
		const char *region, const char *what)
{
	enum bundle_err e = bundle_check(b, key, keylen, region, bundle_get_info(*in_force)->serial,
					 (uint64_t)time(NULL), 300);

	if (e != BUNDLE_OK) {
		fprintf(stderr, "%s: bundle_check: %s\n", what, bundle_err_text(e));
		return -1;
	}
	bundle_close(*in_force);
	bundle_populate(b);
	*in_force = b;
	return 0;
}

static int take_bench(char **argv)
{
	const char *old_path = argv[2], *new_path = argv[3], *delta_path = argv[4], *region = argv[6];
	char merged[4096], received[4096];
	struct bundle_digests d;
	struct bundle *cur, *b, *delta;
	enum bundle_err e;
	size_t keylen;
	uint8_t *key = read_file(argv[5], &keylen);
	long before;
	double t0;

	if (!key)
		return 1;
	snprintf(merged, sizeof(merged), "%s.merged", new_path);
	e = bundle_open_file(old_path, &cur);
	if (e == BUNDLE_OK)
		e = bundle_check(cur, key, keylen, region, 0, (uint64_t)time(NULL), 300);
	if (e != BUNDLE_OK) {
		fprintf(stderr, "%s: %s\n", old_path, bundle_err_text(e));
		return 1;
	}

	before = bench_status_kb("VmRSS");
	if (reset_peak())
		return 1;
	t0 = bench_now();
	snprintf(received, sizeof(received), "%s.ota", new_path);
	if (receive_file(new_path, received, &d))
		return 1;
	e = bundle_open_file_digests(received, &d, &b);
	unlink(received); /* the mapping keeps the file */
	if (e != BUNDLE_OK) {
		fprintf(stderr, "%s: %s\n", new_path, bundle_err_text(e));
		return 1;
	}
	if (take(&cur, b, key, keylen, region, new_path))
		return 1;
	print_take("full", before, t0);

	before = bench_status_kb("VmRSS");
	if (reset_peak())
		return 1;
	t0 = bench_now();
	e = bundle_open_file(delta_path, &delta);
	if (e == BUNDLE_OK)
		e = bundle_verify(delta, key, keylen);
	if (e == BUNDLE_OK)
		e = bundle_apply_delta_file(cur, delta, key, keylen, merged, &d);
	bundle_close(delta);
	if (e == BUNDLE_OK)
		e = bundle_open_file_digests(merged, &d, &b);
	unlink(merged); /* the mapping keeps the file */
	if (e != BUNDLE_OK) {
		fprintf(stderr, "%s on %s: %s\n", delta_path, new_path, bundle_err_text(e));
		return 1;
	}
	if (take(&cur, b, key, keylen, region, merged))
		return 1;
	print_take("delta", before, t0);
	bundle_close(cur);
	free(key);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned passes = argc > 7 ? (unsigned)atoi(argv[7]) : 3, p;
	struct queries q[3] = { { { 0 }, NULL, 0 } };
	uint64_t now_s = (uint64_t)time(NULL);
	double t0, t1, t2, *rate;
	struct bundle *b;
	enum bundle_err e;
	uint8_t *key;
	size_t keylen, blen;
	long rss_before;
	int k;

	if (argc == 7 && !strcmp(argv[1], "--take"))
		return take_bench(argv);
	if (argc < 7 || passes < 1) {
		fprintf(stderr, "usage: bundle-bench BUNDLE HUB-PUB REGION Q-DOMAINS Q-IPV4 Q-IPV6 [PASSES]\n");
		return 2;
	}
	key = read_file(argv[2], &keylen);
	if (!key || bench_read_lines(argv[4], &q[K_DOMAIN].names) || load_addrs(argv[5], AF_INET, &q[K_IPV4]) ||
	    load_addrs(argv[6], AF_INET6, &q[K_IPV6]))
		return 1;
	q[K_DOMAIN].n = q[K_DOMAIN].names.n;
	rate = calloc(passes, sizeof(*rate));
	if (!rate)
		return 1;

	/* cold: the file's pages dropped from the page cache first, as at boot;
	 * then warm, as right after the bundle was received and written */
	for (k = 0; k < 2; k++) {
		const char *what = k ? "load" : "load-cold";

		if (!k && drop_cache(argv[1]))
			return 1;
		rss_before = bench_status_kb("VmRSS");
		t0 = bench_now();
		e = bundle_open_file(argv[1], &b);
		t1 = bench_now();
		if (e != BUNDLE_OK) {
			fprintf(stderr, "%s: bundle_open_file: %s\n", argv[1], bundle_err_text(e));
			return 1;
		}
		e = bundle_check(b, key, keylen, argv[3], 0, now_s, 300);
		t2 = bench_now();
		if (e != BUNDLE_OK) {
			fprintf(stderr, "%s: bundle_check: %s\n", argv[1], bundle_err_text(e));
			return 1;
		}
		bundle_data(b, &blen);
		printf("%s open_s=%.6f check_s=%.6f load_s=%.6f size=%zu domains=%zu ipv4=%zu ipv6=%zu"
		       " rss_before_kb=%ld rss_after_kb=%ld\n",
		       what, t1 - t0, t2 - t1, t2 - t0, blen, bundle_count(b, BUNDLE_DOMAIN, false),
		       bundle_count(b, BUNDLE_IPV4, false), bundle_count(b, BUNDLE_IPV6, false), rss_before,
		       bench_status_kb("VmRSS"));
		if (!k)
			bundle_close(b);
	}

	for (k = K_DOMAIN; k <= K_IPV6; k++) {
		size_t hits = 0, h;

		for (p = 0; p < passes; p++) {
			t0 = bench_now();
			h = run_pass(b, (enum kind)k, &q[k], now_s);
			t1 = bench_now();
			rate[p] = (double)q[k].n / (t1 - t0);
			if (p && h != hits) {
				fprintf(stderr, "%s: pass %u found %zu hits, pass 1 %zu\n", kind_name[k], p + 1, h,
					hits);
				return 1;
			}
			hits = h;
		}
		printf("lookup %s n=%zu passes=%u hits=%zu per_s=%.0f", kind_name[k], q[k].n, passes, hits,
		       bench_median(rate, passes));
		printf(" per_s_best=%.0f\n", rate[passes - 1]);
	}
	bundle_close(b);
	return 0;
}

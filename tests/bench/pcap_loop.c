/*
 * pcap-loop: the bare libpcap read loop, the upper limit of any pcap-based
 * reader (tests/bench/run compares townguard and ndpiReader with it).
 *
 * It does what every reader must do and nothing more: open the file, take
 * each packet with pcap_next_ex() and touch it: its first byte goes into a
 * volatile sum, so the compiler cannot drop the read. No decoding, no flows,
 * no DPI. It does not read every byte on purpose: a reader only looks at the
 * headers and the payload of the first few packets of a flow, and summing
 * all 80 MB of the benchmark capture would more than double this loop's time
 * and make it a poor upper limit.
 *
 * Prints one line on stdout:
 *   packets N bytes B time S
 * where B is the sum of captured lengths and S the seconds spent in the read
 * loop only (pcap_open_offline and process start-up excluded), like the
 * "time" line of townguard's totals.
 *
 *   pcap-loop FILE        exit 0, or 1 with a message on stderr
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	volatile uint64_t sum = 0;
	uint64_t packets = 0, bytes = 0;
	double t0, seconds;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap-loop FILE\n");
		return 1;
	}
	p = pcap_open_offline(argv[1], errbuf);
	if (!p) {
		fprintf(stderr, "pcap-loop: %s\n", errbuf);
		return 1;
	}
	t0 = mono_seconds();
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		if (h->caplen)
			sum += data[0];
		packets++;
		bytes += h->caplen;
	}
	seconds = mono_seconds() - t0;
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "pcap-loop: %s: %s\n", argv[1], pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets %llu bytes %llu time %.6f\n", (unsigned long long)packets,
	       (unsigned long long)bytes, seconds);
	return 0;
}

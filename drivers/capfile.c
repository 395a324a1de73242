/*
 * core/capfile.h with libpcap's file format (pcap_open_dead + pcap_dump):
 * the file a SOC analyst opens in Wireshark. Frames are written as they
 * come; the caller bounds the file's size and time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "core/capfile.h"

/* pcap's per-record header on disk: what a frame adds besides its bytes. */
#define CAPFILE_REC_HDR 16

struct capfile {
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	FILE *fp;
	uint32_t snaplen;
};

int capfile_open(struct capfile **out, const char *path, uint32_t snaplen)
{
	struct capfile *cf = calloc(1, sizeof(*cf));
	int fd, err;

	if (!cf)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto err_free;
	}
	cf->fp = fdopen(fd, "wb");
	if (!cf->fp) {
		err = -errno;
		close(fd);
		goto err_free;
	}
	cf->snaplen = snaplen;
	cf->pcap = pcap_open_dead(DLT_EN10MB, (int)snaplen);
	if (!cf->pcap) {
		err = -ENOMEM;
		goto err_close;
	}
	cf->dumper = pcap_dump_fopen(cf->pcap, cf->fp);
	if (!cf->dumper) {
		err = -EIO;
		goto err_pcap;
	}
	*out = cf;
	return 0;

err_pcap:
	pcap_close(cf->pcap);
err_close:
	fclose(cf->fp);
	unlink(path);
err_free:
	free(cf);
	return err;
}

int capfile_write(struct capfile *cf, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
		  uint32_t wirelen)
{
	struct pcap_pkthdr h = {
		.ts = { .tv_sec = (time_t)(ts_us / 1000000u), .tv_usec = (suseconds_t)(ts_us % 1000000u) },
		.caplen = caplen < cf->snaplen ? caplen : cf->snaplen,
		.len = wirelen,
	};

	pcap_dump((u_char *)cf->dumper, &h, data);
	if (ferror(cf->fp))
		return -EIO;
	return (int)(h.caplen + CAPFILE_REC_HDR);
}

int capfile_close(struct capfile *cf)
{
	int ret = 0;

	if (pcap_dump_flush(cf->dumper) < 0 || ferror(cf->fp) || fsync(fileno(cf->fp)) < 0)
		ret = -EIO;
	pcap_dump_close(cf->dumper); /* fcloses fp */
	pcap_close(cf->pcap);
	free(cf);
	return ret;
}

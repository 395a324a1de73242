/*
 * The capture file. libpcap is used only for its format (pcap_open_dead +
 * pcap_dump), here; frames are streamed, so millions of flows need no more
 * memory than one frame. Timestamps start at PG_EPOCH and advance by a
 * fixed step per frame: same arguments, byte-identical file.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "main.h"
#include "out.h"

/* stdio's default buffer makes a million small fwrites slow; 1 MiB does not. */
#define PG_OUT_BUFSZ (1u << 20)

int pg_out_open(struct pg_out *out, const char *path, uint32_t step_usec)
{
	struct stat st;
	int err;

	memset(out, 0, sizeof(*out));
	out->path = path;
	out->step_usec = step_usec;

	out->fp = fopen(path, "wb");
	if (!out->fp) {
		err = -errno;
		pg_err("cannot write `%s': %s", path, strerror(errno));
		return err;
	}
	/* OUT may be /dev/stdout or a pipe, which must never be unlinked. */
	out->regular = !fstat(fileno(out->fp), &st) && S_ISREG(st.st_mode);
	if (setvbuf(out->fp, NULL, _IOFBF, PG_OUT_BUFSZ)) {
		err = -ENOMEM;
		pg_err("cannot buffer `%s'", path);
		goto err_close;
	}
	out->pcap = pcap_open_dead(DLT_EN10MB, PG_SNAPLEN);
	if (!out->pcap) {
		err = -ENOMEM;
		pg_err("pcap_open_dead failed");
		goto err_close;
	}
	out->dumper = pcap_dump_fopen(out->pcap, out->fp);
	if (!out->dumper) {
		err = -EIO;
		pg_err("cannot write `%s': %s", path, pcap_geterr(out->pcap));
		goto err_pcap;
	}
	return 0;

err_pcap:
	pcap_close(out->pcap);
err_close:
	fclose(out->fp);
	if (out->regular)
		unlink(path);
	return err;
}

int pg_out_close(struct pg_out *out)
{
	int err = 0;

	if (pcap_dump_flush(out->dumper) || ferror(out->fp)) {
		err = -EIO;
		pg_err("cannot write `%s': %s", out->path, strerror(errno));
	}
	pcap_dump_close(out->dumper); /* also fcloses out->fp */
	pcap_close(out->pcap);
	if (err && out->regular)
		unlink(out->path);
	return err;
}

void pg_out_frame(struct pg_out *out, const uint8_t *frame, size_t len)
{
	struct pcap_pkthdr h = {
		.ts.tv_sec = (time_t)(PG_EPOCH + out->usec / 1000000),
		.ts.tv_usec = (suseconds_t)(out->usec % 1000000),
		.caplen = (bpf_u_int32)len,
		.len = (bpf_u_int32)len,
	};

	if (out->collect)
		out->collect(out, frame, len);
	else
		pcap_dump((u_char *)out->dumper, &h, frame);
	out->usec += out->step_usec;
}

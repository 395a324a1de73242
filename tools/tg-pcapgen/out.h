/* The pcap file being written (out.c). */
#ifndef TG_PCAPGEN_OUT_H
#define TG_PCAPGEN_OUT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 2026-01-01T00:00:00Z: the first timestamp of every capture. */
#define PG_EPOCH 1767225600u

#define PG_SNAPLEN 65535

struct pg_out {
	const char *path;
	FILE *fp;
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	uint64_t usec;      /* timestamp of the next packet, from PG_EPOCH */
	uint32_t step_usec; /* gap after each packet */
	bool regular;       /* a regular file: remove it if writing fails */
	/*
	 * Set (by a kind that writes conversations side by side, office.c):
	 * pg_out_frame hands each frame here, with out->usec, instead of
	 * writing it; the kind writes them in time order at the end.
	 */
	void (*collect)(struct pg_out *out, const uint8_t *frame, size_t len);
	void *collect_ctx;
};

/* Creates path (a file, /dev/stdout, a pipe); frames are step_usec apart. */
int pg_out_open(struct pg_out *out, const char *path, uint32_t step_usec);
/* Flushes and closes; on a write error a partial regular file is removed. */
int pg_out_close(struct pg_out *out);
/* Writes one frame at out->usec (or collects it), then advances it by the step. */
void pg_out_frame(struct pg_out *out, const uint8_t *frame, size_t len);

#endif

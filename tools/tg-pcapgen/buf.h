/* A fixed-capacity byte builder with big-endian put helpers (buf.c). */
#ifndef TG_PCAPGEN_BUF_H
#define TG_PCAPGEN_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Application payloads here are at most a TLS server flight (~1 KiB). */
#define PG_PAYLOAD_MAX 4096

/*
 * A fixed-capacity byte builder. Everything written is a constant shape
 * bounded by PG_PAYLOAD_MAX or PG_L4_MAX, so running out is a bug in this
 * file, not an input error: abort.
 */
struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

#define BUF_ON(arr) ((struct buf){ .p = (arr), .len = 0, .cap = sizeof(arr) })

void buf_put8(struct buf *b, uint8_t v);
void buf_put16(struct buf *b, uint16_t v);
void buf_put24(struct buf *b, uint32_t v);
void buf_put32(struct buf *b, uint32_t v);
void buf_putmem(struct buf *b, const void *p, size_t n);
void buf_putstr(struct buf *b, const char *s);
/* n bytes from the PRNG stream. */
void buf_putrand(struct buf *b, struct pg_rng *r, size_t n);
/* Overwrites a 16-bit field already written (a length, a checksum). */
void buf_set16(uint8_t *p, size_t v);

/*
 * Length-prefixed blocks (TLS vectors, DNS rdata): buf_open_lenN reserves the
 * prefix and returns where the block starts, buf_close_lenN writes its length.
 */
size_t buf_open_len8(struct buf *b);
void buf_close_len8(struct buf *b, size_t at);
size_t buf_open_len16(struct buf *b);
void buf_close_len16(struct buf *b, size_t at);
size_t buf_open_len24(struct buf *b);
void buf_close_len24(struct buf *b, size_t at);

#endif

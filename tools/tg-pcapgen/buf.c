/*
 * Frames and payloads are assembled byte by byte with big-endian put
 * helpers, never by casting header structs over a buffer: no alignment or
 * padding question, and the code reads in wire order.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "main.h"

static uint8_t *buf_room(struct buf *b, size_t n)
{
	uint8_t *at;

	if (n > b->cap - b->len) {
		pg_err("internal: %zu-byte buffer overflow", b->cap);
		abort();
	}
	at = b->p + b->len;
	b->len += n;
	return at;
}

void buf_put8(struct buf *b, uint8_t v)
{
	*buf_room(b, 1) = v;
}

void buf_put16(struct buf *b, uint16_t v)
{
	uint8_t *p = buf_room(b, 2);

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void buf_put24(struct buf *b, uint32_t v)
{
	uint8_t *p = buf_room(b, 3);

	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

void buf_put32(struct buf *b, uint32_t v)
{
	buf_put16(b, (uint16_t)(v >> 16));
	buf_put16(b, (uint16_t)v);
}

void buf_putmem(struct buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(buf_room(b, n), p, n);
}

void buf_putstr(struct buf *b, const char *s)
{
	buf_putmem(b, s, strlen(s));
}

void buf_putrand(struct buf *b, struct pg_rng *r, size_t n)
{
	rng_bytes(r, buf_room(b, n), n);
}

void buf_set16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t buf_open_len8(struct buf *b)
{
	buf_put8(b, 0);
	return b->len;
}

void buf_close_len8(struct buf *b, size_t at)
{
	b->p[at - 1] = (uint8_t)(b->len - at);
}

size_t buf_open_len16(struct buf *b)
{
	buf_put16(b, 0);
	return b->len;
}

void buf_close_len16(struct buf *b, size_t at)
{
	buf_set16(b->p + at - 2, b->len - at);
}

size_t buf_open_len24(struct buf *b)
{
	buf_put24(b, 0);
	return b->len;
}

void buf_close_len24(struct buf *b, size_t at)
{
	size_t n = b->len - at;

	b->p[at - 3] = (uint8_t)(n >> 16);
	buf_set16(b->p + at - 2, n);
}

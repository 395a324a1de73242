/* SipHash-2-4 (core/siphash.c): the keyed hash of every table hosts can fill. */
#ifndef TG_SIPHASH_H
#define TG_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of data under a 128-bit key (the reference algorithm). */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

/*
 * A random key for a table's hash: getrandom() when it does not block, else
 * derived from the kernel's AT_RANDOM bytes and purpose (any short text naming
 * the table), so two tables never share a key.
 */
void siphash_random_key(uint8_t key[16], const char *purpose);

#endif

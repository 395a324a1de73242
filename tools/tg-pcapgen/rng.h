/*
 * The only "randomness" of a capture (TCP ISNs, IP ids, TLS randoms,
 * ciphertext, DNS ids, source ports, noise): a splitmix64 stream (Steele,
 * Lea, Flood 2014) from a fixed seed (demo) or --seed (flows, garbage). Tiny,
 * seedable, good enough here; static inline, as every frame draws from it.
 */
#ifndef TG_PCAPGEN_RNG_H
#define TG_PCAPGEN_RNG_H

#include <stddef.h>
#include <stdint.h>

struct pg_rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct pg_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* n bytes, 8 per draw, low byte first. */
static inline void rng_bytes(struct pg_rng *r, uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = rng_next(r);

		for (int i = 0; i < 8 && n; i++, n--, v >>= 8)
			*p++ = (uint8_t)v;
	}
}

#endif

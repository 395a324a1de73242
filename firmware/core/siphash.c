/*
 * SipHash-2-4, the one keyed hash of the firmware: every table that hosts on
 * the network can fill (the flow table, the bridge's MAC table, the DNS
 * bindings, the nfqueue MAC table) buckets with it under a random key, so a
 * sender cannot aim collisions at one bucket; the bundle hashes domains with
 * it under a fixed, published key (docs/bundle-format.md).
 */
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>

#include "core/siphash.h"


static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint64_t rotl64(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

/* SipHash-2-4, the reference algorithm (Aumasson and Bernstein, 2012). */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	const uint8_t *end = in + (len - len % 8);
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = {
		k0 ^ UINT64_C(0x736f6d6570736575),
		k1 ^ UINT64_C(0x646f72616e646f6d),
		k0 ^ UINT64_C(0x6c7967656e657261),
		k1 ^ UINT64_C(0x7465646279746573),
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (; in != end; in += 8) {
		m = load_le64(in);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (i = 0; i < len % 8; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * A hash key only has to be unknown to whoever sends us packets, not
 * cryptographically strong, so an early-boot getrandom() that would block is
 * not worth waiting for: the 16 random bytes the kernel gave this process at
 * exec (AT_RANDOM) are hashed into a key instead (hashed, so the stack canary
 * glibc takes from them stays unknown).
 */
void siphash_random_key(uint8_t key[16], const char *purpose)
{
	const uint8_t *at = (const uint8_t *)getauxval(AT_RANDOM);
	uint64_t h[2] = { 0, 0 };
	size_t n = strlen(purpose);

	if (getrandom(key, 16, GRND_NONBLOCK) == 16)
		return;
	if (at) {
		h[0] = siphash24(at, purpose, n);
		h[1] = siphash24(at, purpose, n + 1);
	}
	memcpy(key, h, 16);
}

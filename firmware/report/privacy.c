/*
 * Pseudonyms and Crypto-PAn for the records (privacy.h).
 *
 * Crypto-PAn (Xu, Fan, Ammar, Moon: "Prefix-preserving IP address
 * anonymization", 2002) maps bit i of an address to itself XOR the first bit
 * of AES(the address's first i bits, padded with a secret pad). Bit i of the
 * result so depends only on bits 0..i of the input: two addresses that share
 * a k-bit prefix map to two that share exactly a k-bit prefix. The same walk
 * over 128 bits serves IPv6. It is invertible bit by bit (reverse), which is
 * how `townguard report reveal` answers for it without searching.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define LOG_MODULE "privacy"
#include "core/common.h"
#include "core/file.h"
#include "core/log.h"
#include "report/privacy.h"

static const char *const priv_prefix[PRIV_CLASS_MAX] = {
	[PRIV_ADDR] = "ip-",
	[PRIV_MAC] = "mac-",
	[PRIV_HOST] = "host-",
	[PRIV_QUERY] = "name-",
};

#define PRIV_HEX_BYTES ((size_t)PRIVACY_PSEUDONYM_BYTES)

int privacy_load_key(const char *data_dir, uint8_t key[PRIVACY_KEY_LEN])
{
	char path[CONFIG_PATH_MAX + 16];
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	snprintf(path, sizeof(path), "%s/report.key", data_dir);
	err = file_read(path, 4096, &data, &len);
	if (err == 0) {
		if (len != PRIVACY_KEY_LEN) {
			log_err("%s: %zu bytes, a report key is exactly %d: refusing to pseudonymise with it "
				"(move it away and a new one is made)", path, len, PRIVACY_KEY_LEN);
			free(data);
			return -EINVAL;
		}
		memcpy(key, data, PRIVACY_KEY_LEN);
		free(data);
		return 0;
	}
	if (err != -ENOENT) {
		log_err("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	/* The first use: a key of the box's own, never sent anywhere. */
	if (getrandom(key, PRIVACY_KEY_LEN, 0) != PRIVACY_KEY_LEN) {
		err = -errno;
		log_err("no random bytes for %s: %s", path, strerror(errno));
		return err;
	}
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		log_err("cannot create %s for the report key: %s", data_dir, strerror(errno));
		return err;
	}
	err = file_write_new(path, key, PRIVACY_KEY_LEN, 0600);
	if (err == 0)
		err = file_sync_dir(path);
	if (err == -EEXIST) /* made by another process meanwhile: use that one */
		return privacy_load_key(data_dir, key);
	if (err < 0) {
		log_err("cannot write %s: %s", path, strerror(-err));
		return err;
	}
	log_info("made a new report key: %s (pseudonyms are stable while it stays)", path);
	return 0;
}

static void priv_derive(const uint8_t key[PRIVACY_KEY_LEN], const char *label, uint8_t out[32])
{
	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, PRIVACY_KEY_LEN,
			(const unsigned char *)label, strlen(label), out);
}

int privacy_set_cryptopan_key(struct privacy *p, const uint8_t key[32])
{
	mbedtls_aes_context *aes = p->aes;

	if (!aes) {
		aes = malloc(sizeof(*aes));
		if (!aes)
			return -ENOMEM;
		mbedtls_aes_init(aes);
		p->aes = aes;
	}
	memcpy(p->pan_key, key, 32);
	mbedtls_aes_setkey_enc(aes, p->pan_key, 128);
	mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, p->pan_key + 16, p->pan_pad);
	return 0;
}

/* One of HMAC's key blocks (RFC 2104: the key, zero-padded to 64 bytes, XOR pad) hashed into h. */
static void priv_hmac_pad(mbedtls_sha256_context *h, const uint8_t key[32], uint8_t pad)
{
	uint8_t block[64];

	memset(block, pad, sizeof(block));
	for (int i = 0; i < 32; i++)
		block[i] ^= key[i];
	mbedtls_sha256_init(h);
	mbedtls_sha256_starts_ret(h, 0);
	mbedtls_sha256_update_ret(h, block, sizeof(block));
	mbedtls_platform_zeroize(block, sizeof(block));
}

int privacy_init(struct privacy *p, const struct tg_config *cfg, const uint8_t key[PRIVACY_KEY_LEN])
{
	uint8_t pan[32], hk[32];
	int err;

	memset(p, 0, sizeof(*p));
	p->level[PRIV_ADDR] = cfg->report.internal_addresses;
	p->level[PRIV_MAC] = cfg->report.macs;
	p->level[PRIV_HOST] = cfg->report.host_names;
	p->level[PRIV_QUERY] = cfg->report.queries;
	priv_derive(key, "tg-pseudonym", hk);
	priv_hmac_pad(&p->hmac_inner, hk, 0x36);
	priv_hmac_pad(&p->hmac_outer, hk, 0x5c);
	mbedtls_platform_zeroize(hk, sizeof(hk));
	priv_derive(key, "tg-cryptopan", pan);
	err = privacy_set_cryptopan_key(p, pan);
	mbedtls_platform_zeroize(pan, sizeof(pan));
	return err;
}

void privacy_uninit(struct privacy *p)
{
	if (p->aes) {
		mbedtls_aes_free(p->aes);
		free(p->aes);
	}
	mbedtls_platform_zeroize(p, sizeof(*p));
}

void privacy_mac(const struct privacy *p, uint8_t tag, const void *value, size_t len, uint8_t mac[32])
{
	mbedtls_sha256_context h;
	uint8_t inner[32];

	mbedtls_sha256_init(&h);
	mbedtls_sha256_clone(&h, &p->hmac_inner);
	mbedtls_sha256_update_ret(&h, &tag, 1);
	mbedtls_sha256_update_ret(&h, value, len);
	mbedtls_sha256_finish_ret(&h, inner);
	mbedtls_sha256_clone(&h, &p->hmac_outer);
	mbedtls_sha256_update_ret(&h, inner, sizeof(inner));
	mbedtls_sha256_finish_ret(&h, mac);
	mbedtls_sha256_free(&h);
}

void privacy_pseudonym(const struct privacy *p, enum privacy_class c, const void *value, size_t len,
		       char *out)
{
	uint8_t mac[32];
	size_t n = strlen(priv_prefix[c]);

	/* The class is hashed in: one value gets a different pseudonym in each class. */
	privacy_mac(p, (uint8_t)c, value, len, mac);
	memcpy(out, priv_prefix[c], n);
	hex_encode(mac, PRIV_HEX_BYTES, out + n);
}

int privacy_pseudonym_class(const char *pseudonym)
{
	for (int c = 0; c < PRIV_CLASS_MAX; c++) {
		size_t n = strlen(priv_prefix[c]);

		if (strncmp(pseudonym, priv_prefix[c], n) == 0 &&
		    strlen(pseudonym + n) == 2 * PRIV_HEX_BYTES &&
		    strspn(pseudonym + n, "0123456789abcdef") == 2 * PRIV_HEX_BYTES)
			return c;
	}
	return -1;
}

/* The first bit of AES(in's first `bits` bits, then the pad's), as Crypto-PAn's reference does. */
static unsigned int pan_bit(const struct privacy *p, const uint8_t *in, unsigned int bits)
{
	uint8_t block[16], outb[16];
	unsigned int full = bits / 8, rest = bits % 8;

	memcpy(block, p->pan_pad, 16);
	memcpy(block, in, full);
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		block[full] = (uint8_t)((in[full] & mask) | (p->pan_pad[full] & ~mask));
	}
	mbedtls_aes_crypt_ecb(p->aes, MBEDTLS_AES_ENCRYPT, block, outb);
	return outb[0] >> 7;
}

void privacy_cryptopan(const struct privacy *p, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t res[16] = { 0 };

	for (unsigned int i = 0; i < len * 8; i++)
		res[i / 8] |= (uint8_t)(pan_bit(p, in, i) << (7 - i % 8));
	for (size_t i = 0; i < len; i++)
		out[i] = in[i] ^ res[i];
}

void privacy_cryptopan_reverse(const struct privacy *p, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t orig[16] = { 0 };

	/* Bit i of the original is known once bits 0..i-1 are: the walk goes left to right. */
	for (unsigned int i = 0; i < len * 8; i++) {
		unsigned int b = ((in[i / 8] >> (7 - i % 8)) & 1) ^ pan_bit(p, orig, i);

		orig[i / 8] |= (uint8_t)(b << (7 - i % 8));
	}
	memcpy(out, orig, len);
}

int privacy_set_addr(const struct privacy *p, json_t *obj, const uint8_t *addr, int ip_version)
{
	size_t len = ip_version == 4 ? 4 : 16;
	char text[INET6_ADDRSTRLEN > PRIVACY_PSEUDONYM_MAX ? INET6_ADDRSTRLEN : PRIVACY_PSEUDONYM_MAX];
	uint8_t mapped[16];

	switch (p->level[PRIV_ADDR]) {
	case TG_PRIV_DROP:
		return 0;
	case TG_PRIV_PSEUDONYM:
		privacy_pseudonym(p, PRIV_ADDR, addr, len, text);
		return json_object_set_new(obj, "id", json_string(text)) < 0 ? -ENOMEM : 0;
	case TG_PRIV_CRYPTOPAN:
		privacy_cryptopan(p, addr, len, mapped);
		addr = mapped;
		break;
	default:
		break;
	}
	inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text));
	return json_object_set_new(obj, "ip", json_string(text)) < 0 ? -ENOMEM : 0;
}

int privacy_set_name(const struct privacy *p, json_t *obj, const char *field, enum privacy_class c,
		     const char *name)
{
	char text[PRIVACY_PSEUDONYM_MAX];

	switch (p->level[c]) {
	case TG_PRIV_DROP:
		return 0;
	case TG_PRIV_PSEUDONYM:
		privacy_pseudonym(p, c, name, strlen(name), text);
		return json_object_set_new(obj, field, json_string(text)) < 0 ? -ENOMEM : 0;
	default:
		return json_object_set_new(obj, field, json_string(name)) < 0 ? -ENOMEM : 0;
	}
}

int privacy_set_mac(const struct privacy *p, json_t *obj, const uint8_t mac[6])
{
	char text[PRIVACY_PSEUDONYM_MAX];

	switch (p->level[PRIV_MAC]) {
	case TG_PRIV_DROP:
		return 0;
	case TG_PRIV_PSEUDONYM:
		privacy_pseudonym(p, PRIV_MAC, mac, 6, text);
		break;
	default:
		snprintf(text, sizeof(text), "%02X-%02X-%02X-%02X-%02X-%02X", mac[0], mac[1], mac[2],
			 mac[3], mac[4], mac[5]);
		break;
	}
	return json_object_set_new(obj, "mac", json_string(text)) < 0 ? -ENOMEM : 0;
}

/*
 * Blocklist bundles, keys and signatures: ECDSA P-256 over SHA-256 with
 * mbedTLS, for bundles, deltas and the hub's signed commands (firmware/hub/
 * cmd.c), and the key and DRBG helpers the hub's PKI tool shares
 * (tools/hub_pki.c).
 *
 * This is the only file of firmware/ that calls mbedTLS's pk/ecdsa/ecp API
 * (tools/check-layers holds it to that): one place decides which keys are
 * hub keys (P-256 only) and how a signature is made and checked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "policy/bundle_priv.h"

/* Personalisation of the DRBG that blinds signing and makes keys. */
#define SIGN_PERS "townguard-bundle"

/*
 * mbedTLS wants PEM with its terminating NUL counted in the length; key files
 * read from disk do not have one, so a PEM text without it is copied (and the
 * copy wiped: it may be a private key).
 */
int bundle_key_parse(struct mbedtls_pk_context *pk, const uint8_t *key, size_t len, bool priv)
{
	static const char pem_begin[] = "-----BEGIN";
	uint8_t *tmp = NULL;
	int ret;

	if (!key || !len)
		return -EINVAL;
	if (key[len - 1] != '\0' && memmem(key, len, pem_begin, sizeof(pem_begin) - 1)) {
		tmp = malloc(len + 1);
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, key, len);
		tmp[len] = '\0';
		key = tmp;
		len++;
	}
	if (priv)
		ret = mbedtls_pk_parse_key(pk, key, len, NULL, 0);
	else
		ret = mbedtls_pk_parse_public_key(pk, key, len);
	if (tmp) {
		mbedtls_platform_zeroize(tmp, len);
		free(tmp);
	}
	if (ret)
		return -EINVAL;
	/* only ECDSA P-256 hub keys */
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA) ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return -EINVAL;
	return 0;
}

int bundle_drbg_seed(struct mbedtls_entropy_context *ent, struct mbedtls_ctr_drbg_context *drbg,
		     const char *pers)
{
	mbedtls_entropy_init(ent);
	mbedtls_ctr_drbg_init(drbg);
	if (mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, ent, (const unsigned char *)pers,
				  strlen(pers)))
		return -EIO;
	return 0;
}

/*
 * Sign a SHA-256 digest. mbedTLS 2.28 is built with MBEDTLS_ECDSA_DETERMINISTIC,
 * so mbedtls_pk_sign() uses RFC 6979 nonces (the DRBG only blinds): the same
 * key and bundle always give the same signature.
 */
int bundle_sign_digest(const uint8_t *privkey, size_t privkey_len, const uint8_t hash[32],
		       uint8_t *sig, size_t *sig_len)
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	int ret;

	mbedtls_pk_init(&pk);
	ret = bundle_key_parse(&pk, privkey, privkey_len, true);
	if (ret)
		goto out_pk;
	ret = bundle_drbg_seed(&ent, &drbg, SIGN_PERS);
	if (!ret && mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len,
				    mbedtls_ctr_drbg_random, &drbg))
		ret = -EIO;
	if (!ret && (*sig_len == 0 || *sig_len > SIG_MAX))
		ret = -EIO;
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
out_pk:
	mbedtls_pk_free(&pk);
	return ret;
}

enum bundle_err bundle_verify_digest(const uint8_t *pubkey, size_t pubkey_len, const uint8_t hash[32],
				     const uint8_t *sig, size_t sig_len)
{
	mbedtls_pk_context pk;
	enum bundle_err err = BUNDLE_OK;

	mbedtls_pk_init(&pk);
	if (bundle_key_parse(&pk, pubkey, pubkey_len, false))
		err = BUNDLE_ERR_MALFORMED;
	else if (!sig_len || mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len))
		err = BUNDLE_ERR_SIGNATURE;
	mbedtls_pk_free(&pk);
	return err;
}

enum bundle_err bundle_verify(const struct bundle *b, const uint8_t *pubkey, size_t pubkey_len)
{
	return bundle_verify_digest(pubkey, pubkey_len, b->signed_hash, b->sig, b->sig_len);
}

int bundle_keygen(char **priv_pem, char **pub_pem)
{
	unsigned char priv[1024], pub[512];
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	int ret;

	*priv_pem = NULL;
	*pub_pem = NULL;
	mbedtls_pk_init(&pk);
	ret = bundle_drbg_seed(&ent, &drbg, SIGN_PERS);
	if (!ret && (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
		     mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
					 mbedtls_ctr_drbg_random, &drbg) ||
		     mbedtls_pk_write_key_pem(&pk, priv, sizeof(priv)) ||
		     mbedtls_pk_write_pubkey_pem(&pk, pub, sizeof(pub))))
		ret = -EIO;
	if (!ret) {
		*priv_pem = strdup((const char *)priv);
		*pub_pem = strdup((const char *)pub);
		if (!*priv_pem || !*pub_pem) {
			free(*priv_pem);
			free(*pub_pem);
			*priv_pem = NULL;
			*pub_pem = NULL;
			ret = -ENOMEM;
		}
	}
	mbedtls_platform_zeroize(priv, sizeof(priv));
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	mbedtls_pk_free(&pk);
	return ret;
}

/*
 * The region's certificates with mbedTLS; see hub_pki.h.
 *
 * mbedTLS 2.28 writes basicConstraints, keyUsage and the key identifiers
 * itself but has no setter for subjectAltName or extendedKeyUsage (3.x has
 * the first): both are encoded here with the ASN.1 writer and added as raw
 * extensions. The ASN.1 writer fills its buffer from the end, so the
 * elements of a SEQUENCE are written last one first.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "hub_pki.h"
#include "policy/bundle.h"

/* Longest CN (RFC 5280 ub-common-name). */
#define PKI_CN_MAX 64
/* A P-256 certificate with two SANs is about 700 bytes of PEM. */
#define PKI_PEM_MAX 4096
/*
 * notBefore lies an hour before issue, so that a gateway or broker whose
 * clock is somewhat behind the hub's does not find a new certificate "not
 * yet valid" (a gateway gets its time by SNTP only once it is online).
 */
#define PKI_BACKDATE_S 3600
/* Serials: 16 random bytes with the top bit clear (positive, RFC 5280 allows 20). */
#define PKI_SERIAL_BYTES 16

struct hub_pki_key {
	mbedtls_pk_context pk;
};

/* Personalisation of the DRBG behind serials and certificate signatures. */
#define PKI_PERS "townguard-pki"

int hub_pki_key_parse(const char *pem, size_t len, struct hub_pki_key **key)
{
	struct hub_pki_key *k = calloc(1, sizeof(*k));
	int ret;

	*key = NULL;
	if (!k)
		return -ENOMEM;
	mbedtls_pk_init(&k->pk);
	/* the firmware's parser: a hub key is what the gateway takes as one (P-256) */
	ret = bundle_key_parse(&k->pk, (const uint8_t *)pem, len, true);
	if (ret < 0) {
		hub_pki_key_free(k);
		return ret;
	}
	*key = k;
	return 0;
}

int hub_pki_key_new(struct hub_pki_key **key, char **pem)
{
	char *pub = NULL;
	int ret;

	*key = NULL;
	/* the firmware's own key generator: one way to make a P-256 key */
	ret = bundle_keygen(pem, &pub);
	free(pub);
	if (ret < 0)
		return ret;
	ret = hub_pki_key_parse(*pem, strlen(*pem), key);
	if (ret < 0) {
		explicit_bzero(*pem, strlen(*pem));
		free(*pem);
		*pem = NULL;
	}
	return ret;
}

void hub_pki_key_free(struct hub_pki_key *key)
{
	if (!key)
		return;
	mbedtls_pk_free(&key->pk);
	free(key);
}

/* A CN that mbedtls_x509_string_to_names() takes as one value, unchanged. */
static bool pki_cn_ok(const char *cn)
{
	size_t n = cn ? strlen(cn) : 0;

	if (!n || n > PKI_CN_MAX || cn[0] == ' ' || cn[n - 1] == ' ')
		return false;
	for (; *cn; cn++)
		if (*cn < ' ' || *cn > '~' || strchr(",=\\\"+<>;#", *cn))
			return false;
	return true;
}

/* "YYYYMMDDhhmmss" for t plus whole years (29 February rolls over to 1 March). */
static int pki_time(int64_t t, unsigned int years, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		return -EINVAL;
	tm.tm_year += (int)years;
	tt = timegm(&tm);
	if (tt == (time_t)-1 || !gmtime_r(&tt, &tm) || strftime(out, 16, "%Y%m%d%H%M%S", &tm) != 14)
		return -EINVAL;
	return 0;
}

/* subjectAltName: SEQUENCE { [2] dNSName, [7] iPAddress }, into the end of buf. */
static int pki_san(const struct hub_pki_cert *c, unsigned char *buf, size_t size,
		   unsigned char **start)
{
	unsigned char *p = buf + size;
	size_t len = 0, n;
	int ret;

	if (c->ip) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, c->ip, c->ip_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, c->ip_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
							 MBEDTLS_ASN1_CONTEXT_SPECIFIC |
								 MBEDTLS_X509_SAN_IP_ADDRESS));
	}
	if (c->dns) {
		n = strlen(c->dns);
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf,
									(const unsigned char *)c->dns, n));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, n));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
							 MBEDTLS_ASN1_CONTEXT_SPECIFIC |
								 MBEDTLS_X509_SAN_DNS_NAME));
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
								 MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

/* extendedKeyUsage: SEQUENCE { OID }, into the end of buf. */
static int pki_eku(const char *oid, size_t oid_len, unsigned char *buf, size_t size,
		   unsigned char **start)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf, oid, oid_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
								 MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

/* The role's extensions: constraints, key usage, and for leaves EKU and SAN. */
static int pki_extensions(mbedtls_x509write_cert *crt, const struct hub_pki_cert *c)
{
	unsigned char buf[512], *p;
	int len;

	if (c->role == HUB_PKI_CA)
		return mbedtls_x509write_crt_set_basic_constraints(crt, 1, 0) ||
		       mbedtls_x509write_crt_set_key_usage(crt, MBEDTLS_X509_KU_KEY_CERT_SIGN |
								MBEDTLS_X509_KU_CRL_SIGN)
			       ? -EIO
			       : 0;
	if (mbedtls_x509write_crt_set_basic_constraints(crt, 0, -1) ||
	    mbedtls_x509write_crt_set_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
		return -EIO;
	if (c->role == HUB_PKI_SERVER)
		len = pki_eku(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH), buf,
			      sizeof(buf), &p);
	else
		len = pki_eku(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH), buf,
			      sizeof(buf), &p);
	if (len < 0 || mbedtls_x509write_crt_set_extension(
			       crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
			       MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, (size_t)len))
		return -EIO;
	if (c->role != HUB_PKI_SERVER || (!c->dns && !c->ip))
		return 0;
	len = pki_san(c, buf, sizeof(buf), &p);
	if (len < 0 || mbedtls_x509write_crt_set_extension(
			       crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
			       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, (size_t)len))
		return -EIO;
	return 0;
}

int hub_pki_issue(const struct hub_pki_cert *c, struct hub_pki_key *subject,
		  struct hub_pki_key *issuer, const char *issuer_cn, char **pem)
{
	char subj[PKI_CN_MAX + 32], iss[PKI_CN_MAX + 32], not_before[16], not_after[16];
	unsigned char raw[PKI_SERIAL_BYTES], *buf;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	int ret;

	*pem = NULL;
	if (!pki_cn_ok(c->cn) || !pki_cn_ok(issuer_cn) || !c->years || c->years > 100 ||
	    (c->ip && c->ip_len != 4 && c->ip_len != 16) ||
	    (c->dns && (!*c->dns || strlen(c->dns) > 253)))
		return -EINVAL;
	if (pki_time(c->now - PKI_BACKDATE_S, 0, not_before) < 0 ||
	    pki_time(c->now, c->years, not_after) < 0)
		return -EINVAL;
	snprintf(subj, sizeof(subj), "CN=%s,O=townguard", c->cn);
	snprintf(iss, sizeof(iss), "CN=%s,O=townguard", issuer_cn);
	buf = malloc(PKI_PEM_MAX);
	if (!buf)
		return -ENOMEM;
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	ret = bundle_drbg_seed(&ent, &drbg, PKI_PERS);
	if (ret)
		goto out;
	if (mbedtls_ctr_drbg_random(&drbg, raw, sizeof(raw))) {
		ret = -EIO;
		goto out;
	}
	raw[0] = (raw[0] & 0x7f) | 0x40; /* positive, and never shorter than 16 bytes */
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &subject->pk);
	mbedtls_x509write_crt_set_issuer_key(&crt, &issuer->pk);
	if (mbedtls_mpi_read_binary(&serial, raw, sizeof(raw)) ||
	    mbedtls_x509write_crt_set_serial(&crt, &serial) ||
	    mbedtls_x509write_crt_set_validity(&crt, not_before, not_after) ||
	    mbedtls_x509write_crt_set_subject_name(&crt, subj) ||
	    mbedtls_x509write_crt_set_issuer_name(&crt, iss) ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&crt) ||
	    mbedtls_x509write_crt_set_authority_key_identifier(&crt)) {
		ret = -EIO;
		goto out;
	}
	ret = pki_extensions(&crt, c);
	if (ret)
		goto out;
	if (mbedtls_x509write_crt_pem(&crt, buf, PKI_PEM_MAX, mbedtls_ctr_drbg_random, &drbg)) {
		ret = -EIO;
		goto out;
	}
	*pem = strdup((const char *)buf);
	if (!*pem)
		ret = -ENOMEM;
out:
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	free(buf);
	return ret;
}

/* The subject's CN, or "" if it has none. */
static void pki_cn(const mbedtls_x509_crt *crt, char *out, size_t size)
{
	out[0] = '\0';
	for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
		if (n->oid.p && !MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid)) {
			snprintf(out, size, "%.*s", (int)n->val.len, (const char *)n->val.p);
			return;
		}
	}
}

int hub_pki_check(const char *crt_pem, size_t crt_len, const char *ca_pem, size_t ca_len,
		  const char *cn, const struct hub_pki_key *key, char *why, size_t why_size)
{
	mbedtls_x509_crt crt, ca;
	char have[PKI_CN_MAX + 1], info[256];
	uint32_t flags = 0;
	int ret = -EINVAL;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)crt_pem, crt_len + 1)) {
		snprintf(why, why_size, "not a PEM certificate");
		goto out;
	}
	if (mbedtls_x509_crt_parse(&ca, (const unsigned char *)ca_pem, ca_len + 1)) {
		snprintf(why, why_size, "the CA certificate does not parse");
		goto out;
	}
	pki_cn(&crt, have, sizeof(have));
	if (strcmp(have, cn) != 0) {
		snprintf(why, why_size, "its CN is \"%s\", not \"%s\"", have, cn);
		goto out;
	}
	if (mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL)) {
		char *nl;

		if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags) < 0)
			snprintf(info, sizeof(info), "flags 0x%08x", (unsigned int)flags);
		while ((nl = strrchr(info, '\n')) && !nl[1])
			*nl = '\0';
		for (nl = info; (nl = strchr(nl, '\n'));)
			*nl = ';';
		snprintf(why, why_size, "does not verify with the CA: %s", info);
		goto out;
	}
	if (mbedtls_pk_check_pair(&crt.pk, &key->pk)) {
		snprintf(why, why_size, "is for another key");
		goto out;
	}
	ret = 0;
out:
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&crt);
	return ret;
}

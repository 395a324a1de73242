/*
 * DNS parser specification (firmware/packet/dns.c).
 *
 * Messages are built by hand with the little writer below, so every byte a
 * test depends on is visible in the test. Offsets that matter for
 * compression pointers are noted: the header is 12 bytes, so the question's
 * name always starts at 12 (pointer 0xc00c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/common.h"
#include "packet/dns.h"

#include "fixtures.h"

#define QR 0x8000
#define RD 0x0100
#define RA 0x0080
#define TC 0x0200
#define TYPE_TXT 16
#define TYPE_OPT 41
#define CLASS_CH 3

/* ---------------------------------------------------------------- writer */

static void header(struct fx_buf *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->len = 0;
	fx_put16(m, id);
	fx_put16(m, flags);
	fx_put16(m, qd);
	fx_put16(m, an);
	fx_put16(m, 0); /* NSCOUNT */
	fx_put16(m, 0); /* ARCOUNT */
}

static void ptr(struct fx_buf *m, size_t off)
{
	fx_put16(m, 0xc000 | (unsigned int)off);
}

static void question(struct fx_buf *m, const char *qname, uint16_t qtype)
{
	fx_dns_name(m, qname);
	fx_put16(m, qtype);
	fx_put16(m, DNS_CLASS_IN);
}

/* TYPE, CLASS, TTL, RDLENGTH after an owner name. */
static void rr(struct fx_buf *m, uint16_t type, uint16_t rclass, uint32_t ttl, uint16_t rdlen)
{
	fx_put16(m, type);
	fx_put16(m, rclass);
	fx_put32(m, ttl);
	fx_put16(m, rdlen);
}

static void a_rr(struct fx_buf *m, size_t owner, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c,
		 uint8_t d)
{
	ptr(m, owner);
	rr(m, DNS_TYPE_A, DNS_CLASS_IN, ttl, 4);
	fx_put8(m, a);
	fx_put8(m, b);
	fx_put8(m, c);
	fx_put8(m, d);
}

/* 2001:db8::<last> */
static void aaaa_rr(struct fx_buf *m, size_t owner, uint32_t ttl, uint8_t last)
{
	static const uint8_t pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t zero[11] = { 0 };

	ptr(m, owner);
	rr(m, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl, 16);
	fx_put(m, pfx, 4);
	fx_put(m, zero, 11);
	fx_put8(m, last);
}

/* A CNAME whose owner is the name at `owner`, target written uncompressed; returns the target's offset. */
static size_t cname_rr(struct fx_buf *m, size_t owner, uint32_t ttl, const char *target)
{
	size_t off;

	ptr(m, owner);
	rr(m, DNS_TYPE_CNAME, DNS_CLASS_IN, ttl, (uint16_t)(strlen(target) + 2));
	off = fx_dns_name(m, target);
	return off;
}

/* Parse m from a heap copy of exactly its length, so ASan sees any read past the end. */
static enum dns_err parse_len(const struct fx_buf *m, size_t len, struct dns_msg *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum dns_err err;

	assert_non_null(copy);
	memcpy(copy, m->b, len);
	err = dns_parse(copy, len, out);
	free(copy);
	return err;
}

static enum dns_err parse(const struct fx_buf *m, struct dns_msg *out)
{
	return parse_len(m, m->len, out);
}

static void assert_v4(const struct dns_answer *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3,
		      uint32_t ttl)
{
	static const uint8_t zero[12];

	assert_int_equal(a->family, 4);
	assert_int_equal(a->addr.b[0], b0);
	assert_int_equal(a->addr.b[1], b1);
	assert_int_equal(a->addr.b[2], b2);
	assert_int_equal(a->addr.b[3], b3);
	assert_memory_equal(a->addr.b + 4, zero, 12);
	assert_int_equal(a->ttl, ttl);
}

/* A name of exactly len text bytes: 63-byte labels of 'a'..., the last one shorter. */
static void long_name(char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = (i % 64 == 63) ? '.' : (char)('a' + i % 26);
	out[len] = '\0';
	assert_true(len == 0 || out[len - 1] != '.');
}

/* ---------------------------------------------------------------- basics */

static void test_query(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 0x1234, RD, 1, 0);
	question(&m, "www.example.com", DNS_TYPE_AAAA);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.id, 0x1234);
	assert_false(d.response);
	assert_false(d.truncated);
	assert_int_equal(d.rcode, 0);
	assert_int_equal(d.qtype, DNS_TYPE_AAAA);
	assert_string_equal(d.qname, "www.example.com");
	assert_int_equal(d.n_cnames, 0);
	assert_int_equal(d.n_answers, 0);
	assert_int_equal(d.n_skipped, 0);
}

static void test_root_query(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, 0, 1, 0);
	question(&m, "", 2);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_string_equal(d.qname, "");
}

static void test_response_a_and_aaaa(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 7, QR | RD | RA, 1, 3);
	question(&m, "example.org", DNS_TYPE_A);
	a_rr(&m, 12, 300, 192, 0, 2, 1);
	a_rr(&m, 12, 299, 192, 0, 2, 2);
	aaaa_rr(&m, 12, 60, 0x42);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_true(d.response);
	assert_string_equal(d.qname, "example.org");
	assert_int_equal(d.n_answers, 3);
	assert_v4(&d.answers[0], 192, 0, 2, 1, 300);
	assert_v4(&d.answers[1], 192, 0, 2, 2, 299);
	assert_int_equal(d.answers[2].family, 6);
	assert_int_equal(d.answers[2].addr.b[0], 0x20);
	assert_int_equal(d.answers[2].addr.b[3], 0xb8);
	assert_int_equal(d.answers[2].addr.b[15], 0x42);
	assert_int_equal(d.answers[2].ttl, 60);
}

static void test_header_fields(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 0xbeef, QR | TC | 3, 1, 1); /* NXDOMAIN, truncated */
	question(&m, "nx.example", DNS_TYPE_A);
	/* RFC 2181 section 8: a TTL with the top bit set counts as 0. */
	a_rr(&m, 12, 0x80000001u, 10, 0, 0, 1);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.id, 0xbeef);
	assert_true(d.truncated);
	assert_int_equal(d.rcode, 3);
	assert_int_equal(d.n_answers, 1);
	assert_int_equal(d.answers[0].ttl, 0);
}

static void test_not_a_query(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, 5 << 11, 1, 0); /* opcode 5: UPDATE */
	question(&m, "example.com", 6);
	assert_int_equal(parse(&m, &d), DNS_ERR_NOT_QUERY);

	header(&m, 1, QR, 0, 0); /* no question */
	assert_int_equal(parse(&m, &d), DNS_ERR_NOT_QUERY);

	header(&m, 1, 0, 2, 0);
	question(&m, "a.example", DNS_TYPE_A);
	question(&m, "b.example", DNS_TYPE_A);
	assert_int_equal(parse(&m, &d), DNS_ERR_NOT_QUERY);
}

/* Records of other types and classes are stepped over by RDLENGTH. */
static void test_other_records_skipped(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, QR, 1, 4);
	question(&m, "example.com", DNS_TYPE_A);
	ptr(&m, 12);
	rr(&m, TYPE_TXT, DNS_CLASS_IN, 30, 6);
	fx_put(&m, "\005hello", 6);
	ptr(&m, 12); /* class CHAOS: not an Internet address */
	rr(&m, DNS_TYPE_A, CLASS_CH, 30, 4);
	fx_put32(&m, 0x01020304);
	ptr(&m, 12); /* an unknown type with empty RDATA */
	rr(&m, 99, DNS_CLASS_IN, 30, 0);
	a_rr(&m, 12, 30, 198, 51, 100, 7);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_answers, 1);
	assert_v4(&d.answers[0], 198, 51, 100, 7, 30);
	assert_int_equal(d.n_skipped, 0);
}

/* What follows the answer section is not read: a broken OPT record does not matter. */
static void test_additional_not_read(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, QR, 1, 1);
	fx_set16(&m, 10, 1); /* ARCOUNT 1 */
	question(&m, "example.com", DNS_TYPE_A);
	a_rr(&m, 12, 30, 10, 0, 0, 1);
	fx_put8(&m, 0);
	fx_put16(&m, TYPE_OPT);
	fx_put16(&m, 1232); /* then nothing: the OPT record is cut */
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_answers, 1);
}

/* ---------------------------------------------------------------- the chain */

static void test_cname_chain_then_addresses(void **state)
{
	struct fx_buf m;
	struct dns_msg d;
	size_t t1, t2;

	(void)state;
	header(&m, 9, QR | RD | RA, 1, 5);
	question(&m, "www.shop.example", DNS_TYPE_A);
	t1 = cname_rr(&m, 12, 3600, "shop.example.cdn.net");
	t2 = cname_rr(&m, t1, 300, "e7.a.cdn.net");
	a_rr(&m, t2, 20, 203, 0, 113, 10);
	a_rr(&m, t2, 20, 203, 0, 113, 11);
	aaaa_rr(&m, t2, 20, 1);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_string_equal(d.qname, "www.shop.example");
	assert_int_equal(d.n_cnames, 2);
	assert_string_equal(d.cnames[0], "shop.example.cdn.net");
	assert_string_equal(d.cnames[1], "e7.a.cdn.net");
	assert_int_equal(d.n_answers, 3);
	assert_v4(&d.answers[0], 203, 0, 113, 10, 20);
	assert_v4(&d.answers[1], 203, 0, 113, 11, 20);
	assert_int_equal(d.answers[2].family, 6);
}

/* Only the query name and the chain from it own kept records. */
static void test_records_off_the_chain_ignored(void **state)
{
	struct fx_buf m;
	struct dns_msg d;
	size_t other;

	(void)state;
	header(&m, 9, QR, 1, 5);
	question(&m, "good.example", DNS_TYPE_A);
	/* An A record for a name nobody asked about. */
	other = fx_dns_name(&m, "bank.example");
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 0x0a000001);
	/* A CNAME from that name back to the query name: not on the chain either. */
	ptr(&m, other);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 2);
	ptr(&m, 12);
	/* An A record of the CNAME target before the CNAME (out of order: ignored). */
	fx_dns_name(&m, "edge.example");
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 0x0a000003);
	cname_rr(&m, 12, 60, "edge.example");
	a_rr(&m, 12, 60, 10, 0, 0, 2);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_cnames, 1);
	assert_string_equal(d.cnames[0], "edge.example");
	assert_int_equal(d.n_answers, 1);
	assert_v4(&d.answers[0], 10, 0, 0, 2, 60);
}

/* A CNAME back onto the chain adds nothing and does not hang. */
static void test_cname_loop(void **state)
{
	struct fx_buf m;
	struct dns_msg d;
	size_t t1;

	(void)state;
	header(&m, 1, QR, 1, 3);
	question(&m, "a.example", DNS_TYPE_A);
	t1 = cname_rr(&m, 12, 60, "b.example");
	ptr(&m, t1);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 2);
	ptr(&m, 12);
	a_rr(&m, t1, 60, 10, 1, 1, 1);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_cnames, 1);
	assert_int_equal(d.n_answers, 1);
}

static void test_too_many_records(void **state)
{
	struct fx_buf m;
	struct dns_msg d;
	char target[16];
	size_t owner = 12;
	unsigned int i;

	(void)state;
	header(&m, 1, QR, 1, DNS_MAX_ANSWERS + 4);
	question(&m, "pool.example", DNS_TYPE_A);
	for (i = 0; i < DNS_MAX_ANSWERS + 4; i++)
		a_rr(&m, 12, 60, 10, 0, 0, (uint8_t)i);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_answers, DNS_MAX_ANSWERS);
	assert_int_equal(d.n_skipped, 4);
	assert_v4(&d.answers[DNS_MAX_ANSWERS - 1], 10, 0, 0, DNS_MAX_ANSWERS - 1, 60);

	/* A chain longer than DNS_MAX_CNAMES is cut; the addresses after the cut are not kept. */
	header(&m, 1, QR, 1, DNS_MAX_CNAMES + 3);
	question(&m, "c.example", DNS_TYPE_A);
	for (i = 0; i < DNS_MAX_CNAMES + 2; i++) {
		snprintf(target, sizeof(target), "c%u.example", i);
		owner = cname_rr(&m, owner, 60, target);
	}
	a_rr(&m, owner, 60, 10, 9, 9, 9);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_cnames, DNS_MAX_CNAMES);
	assert_string_equal(d.cnames[DNS_MAX_CNAMES - 1], "c7.example");
	assert_int_equal(d.n_skipped, 1);
	assert_int_equal(d.n_answers, 0);
}

/* ---------------------------------------------------------------- names */

static void test_case_folding(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, QR, 1, 2);
	question(&m, "WwW.ExAmPlE.COM", DNS_TYPE_A);
	/* The owner written out in another case is the same name. */
	fx_dns_name(&m, "www.EXAMPLE.com");
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 0x0a000001);
	/* Bytes outside ASCII are kept as they are, not folded. */
	ptr(&m, 12);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 7);
	fx_put(&m, "\004\xc3\x84Z\x7f\0", 6);
	fx_put8(&m, 0xff); /* one byte over RDLENGTH 6 to fill 7: refused below */
	assert_int_equal(parse(&m, &d), DNS_ERR_RDATA);

	fx_set16(&m, m.len - 9, 6); /* RDLENGTH 6: the CNAME name now fills it */
	m.len--;
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_string_equal(d.qname, "www.example.com");
	assert_int_equal(d.n_answers, 1);
	assert_int_equal(d.n_cnames, 1);
	assert_string_equal(d.cnames[0], "\xc3\x84z\x7f");
}

static void test_compression(void **state)
{
	struct fx_buf m;
	struct dns_msg d;
	size_t t1, t2, suffix;

	(void)state;
	header(&m, 1, QR, 1, 4);
	question(&m, "www.example.com", DNS_TYPE_A);
	suffix = 12 + 4; /* "example.com" inside the question */
	/* CNAME www.example.com -> cdn.example.com: one label, then a pointer. */
	ptr(&m, 12);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 6);
	t1 = m.len;
	fx_dns_labels(&m, "cdn");
	ptr(&m, suffix);
	/* CNAME cdn.example.com -> x.cdn.example.com: a pointer to a name that itself ends in a pointer. */
	ptr(&m, t1);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 4);
	t2 = m.len;
	fx_dns_labels(&m, "x");
	ptr(&m, t1);
	/* Owner of the A record: a pointer to a pointer-ended name. */
	a_rr(&m, t2, 60, 10, 2, 2, 2);
	/* The same owner written as labels then a pointer into the middle of another name. */
	fx_dns_labels(&m, "x");
	fx_dns_labels(&m, "cdn");
	ptr(&m, suffix);
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 0x0a030303);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(d.n_cnames, 2);
	assert_string_equal(d.cnames[0], "cdn.example.com");
	assert_string_equal(d.cnames[1], "x.cdn.example.com");
	assert_int_equal(d.n_answers, 2);
	assert_v4(&d.answers[0], 10, 2, 2, 2, 60);
	assert_v4(&d.answers[1], 10, 3, 3, 3, 60);
}

/* Answer section with one owner name written as `bytes`, then an A record. */
static enum dns_err owner_bytes(const void *bytes, size_t len, struct dns_msg *d)
{
	struct fx_buf m;

	header(&m, 1, QR, 1, 1);
	question(&m, "example.com", DNS_TYPE_A); /* name 12..24, then type and class: owner at 29 */
	fx_put(&m, bytes, len);
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 0x0a000001);
	return parse(&m, d);
}

static void test_pointer_loops_refused(void **state)
{
	struct dns_msg d;

	(void)state;
	/* Owner at offset 29 = 0x1d (after the question) pointing to itself. */
	assert_int_equal(owner_bytes("\xc0\x1d", 2, &d), DNS_ERR_NAME);
	/* A label, then a pointer back to that label: backwards, but into its own sequence. */
	assert_int_equal(owner_bytes("\001x\xc0\x1d", 4, &d), DNS_ERR_NAME);
	/* Two pointers to each other: the first points forward. */
	assert_int_equal(owner_bytes("\xc0\x1f\xc0\x1d", 4, &d), DNS_ERR_NAME);
	/* Control: a plain pointer to the question's name. */
	assert_int_equal(owner_bytes("\xc0\x0c", 2, &d), DNS_OK);
	assert_int_equal(d.n_answers, 1);
}

static void test_forward_and_header_pointers_refused(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	/* The question's name points forward to a name after it. */
	header(&m, 1, 0, 1, 0);
	ptr(&m, 18);
	fx_put16(&m, DNS_TYPE_A);
	fx_put16(&m, DNS_CLASS_IN);
	fx_dns_name(&m, "example.com");
	assert_int_equal(parse(&m, &d), DNS_ERR_NAME);

	/* Into the header (bytes 4..: 00 01 00 00 ... read as labels). */
	assert_int_equal(owner_bytes("\xc0\x04", 2, &d), DNS_ERR_NAME);
	/* Past the end of the message. */
	assert_int_equal(owner_bytes("\xc3\xff", 2, &d), DNS_ERR_NAME);
}

/* Pointer to pointer to pointer ...: fine up to DNS_MAX_PTR_HOPS, refused after. */
static void pointer_chain(unsigned int hops, enum dns_err want)
{
	struct fx_buf m;
	struct dns_msg d;
	size_t prev;
	unsigned int i;

	header(&m, 1, QR, 1, 2);
	question(&m, "example.com", DNS_TYPE_A);
	/* A TXT record whose RDATA holds the root name and a chain of pointers to it. */
	ptr(&m, 12);
	rr(&m, TYPE_TXT, DNS_CLASS_IN, 60, (uint16_t)(1 + 2 * (hops - 1)));
	prev = m.len;
	fx_put8(&m, 0);
	for (i = 1; i < hops; i++) {
		ptr(&m, prev);
		prev = m.len - 2;
	}
	/* Owner: a pointer to the last one, hops pointers in all. */
	ptr(&m, prev);
	rr(&m, TYPE_TXT, DNS_CLASS_IN, 60, 0);
	assert_int_equal(parse(&m, &d), want);
}

static void test_pointer_hop_limit(void **state)
{
	(void)state;
	pointer_chain(2, DNS_OK);
	pointer_chain(DNS_MAX_PTR_HOPS, DNS_OK);
	pointer_chain(DNS_MAX_PTR_HOPS + 1, DNS_ERR_NAME);
	pointer_chain(400, DNS_ERR_NAME);
}

static void test_label_length(void **state)
{
	char label[80];
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	memset(label, 'a', sizeof(label));
	label[63] = '\0';
	header(&m, 1, 0, 1, 0);
	question(&m, label, DNS_TYPE_A);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(strlen(d.qname), 63);

	label[63] = 'a';
	label[64] = '\0';
	header(&m, 1, 0, 1, 0);
	question(&m, label, DNS_TYPE_A); /* length byte 0x40: a reserved label type */
	assert_int_equal(parse(&m, &d), DNS_ERR_NAME);

	/* 0x80 label type. */
	assert_int_equal(owner_bytes("\x81" "a\0", 3, &d), DNS_ERR_NAME);
}

static void test_name_length(void **state)
{
	char n[300];
	struct fx_buf m;
	struct dns_msg d;
	size_t qoff;

	(void)state;
	long_name(n, DNS_NAME_MAX);
	header(&m, 1, 0, 1, 0);
	question(&m, n, DNS_TYPE_A);
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_string_equal(d.qname, n);

	long_name(n, DNS_NAME_MAX + 1);
	header(&m, 1, 0, 1, 0);
	question(&m, n, DNS_TYPE_A);
	assert_int_equal(parse(&m, &d), DNS_ERR_NAME);

	/* Too long only once decoded: a label in front of a pointer to a 250-byte name. */
	long_name(n, 250);
	header(&m, 1, QR, 1, 1);
	qoff = m.len;
	question(&m, n, DNS_TYPE_A);
	ptr(&m, qoff);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 5);
	fx_dns_labels(&m, "xy");
	ptr(&m, qoff); /* "xy." + 250 = 253: fits */
	assert_int_equal(parse(&m, &d), DNS_OK);
	assert_int_equal(strlen(d.cnames[0]), DNS_NAME_MAX);

	fx_set16(&m, m.len - 7, 6); /* RDLENGTH */
	m.len -= 5;
	fx_dns_labels(&m, "xyz");
	ptr(&m, qoff); /* 254 */
	assert_int_equal(parse(&m, &d), DNS_ERR_NAME);
}

static void test_nul_and_dot_in_labels_refused(void **state)
{
	struct dns_msg d;

	(void)state;
	assert_int_equal(owner_bytes("\003a\0b\0", 5, &d), DNS_ERR_NAME);
	assert_int_equal(owner_bytes("\003a.b\0", 5, &d), DNS_ERR_NAME);
	assert_int_equal(owner_bytes("\003a-b\0", 5, &d), DNS_OK);
}

/* ---------------------------------------------------------------- record data */

static void test_bad_rdata(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, QR, 1, 1);
	question(&m, "example.com", DNS_TYPE_A);
	ptr(&m, 12);
	rr(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, 5);
	fx_put(&m, "\1\2\3\4\5", 5);
	assert_int_equal(parse(&m, &d), DNS_ERR_RDATA);

	header(&m, 1, QR, 1, 1);
	question(&m, "example.com", DNS_TYPE_AAAA);
	ptr(&m, 12);
	rr(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 60, 4);
	fx_put32(&m, 1);
	assert_int_equal(parse(&m, &d), DNS_ERR_RDATA);

	/* A CNAME name running past its RDLENGTH. */
	header(&m, 1, QR, 1, 1);
	question(&m, "example.com", DNS_TYPE_A);
	ptr(&m, 12);
	rr(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 3);
	fx_dns_name(&m, "abc");
	assert_int_equal(parse(&m, &d), DNS_ERR_RDATA);
}

static void test_counts(void **state)
{
	struct fx_buf m;
	struct dns_msg d;

	(void)state;
	header(&m, 1, QR, 1, 3);
	question(&m, "example.com", DNS_TYPE_A);
	a_rr(&m, 12, 60, 10, 0, 0, 1);
	a_rr(&m, 12, 60, 10, 0, 0, 2);
	assert_int_equal(parse(&m, &d), DNS_ERR_COUNT);

	header(&m, 1, 0, 1, 0); /* a question counted, none there */
	assert_int_equal(parse(&m, &d), DNS_ERR_COUNT);
}

/*
 * Every prefix of a response: never a crash or a read past the end (the copy
 * is exactly that long), never DNS_OK before the answer section is complete,
 * and, once it is, the same result as the whole message.
 */
static void test_truncated_at_every_length(void **state)
{
	struct fx_buf m;
	struct dns_msg d, full;
	size_t t1, q_end, an_end, len;
	enum dns_err err;
	unsigned int i;

	(void)state;
	header(&m, 5, QR | RD | RA, 1, 4);
	fx_set16(&m, 10, 1);
	question(&m, "www.example.com", DNS_TYPE_A);
	q_end = m.len;
	t1 = cname_rr(&m, 12, 300, "edge.cdn.example.net");
	a_rr(&m, t1, 20, 192, 0, 2, 80);
	aaaa_rr(&m, t1, 20, 80);
	ptr(&m, 12);
	rr(&m, TYPE_TXT, DNS_CLASS_IN, 60, 4);
	fx_put(&m, "\003abc", 4);
	an_end = m.len;
	fx_put8(&m, 0); /* OPT */
	fx_put16(&m, TYPE_OPT);
	fx_put16(&m, 1232);
	fx_put32(&m, 0);
	fx_put16(&m, 0);
	assert_int_equal(parse(&m, &full), DNS_OK);
	assert_int_equal(full.n_answers, 2);

	for (len = 0; len < m.len; len++) {
		memset(&d, 0xa5, sizeof(d));
		err = parse_len(&m, len, &d);
		assert_true((unsigned int)err < DNS_ERR_MAX);
		if (len < an_end) {
			assert_int_not_equal(err, DNS_OK);
			if (len < q_end)
				assert_true(err == DNS_ERR_SHORT || err == DNS_ERR_COUNT);
			continue;
		}
		assert_int_equal(err, DNS_OK);
		assert_string_equal(d.qname, full.qname);
		assert_int_equal(d.n_cnames, 1);
		assert_string_equal(d.cnames[0], full.cnames[0]);
		assert_int_equal(d.n_answers, 2);
		for (i = 0; i < 2; i++) {
			assert_int_equal(d.answers[i].family, full.answers[i].family);
			assert_memory_equal(d.answers[i].addr.b, full.answers[i].addr.b, 16);
			assert_int_equal(d.answers[i].ttl, full.answers[i].ttl);
		}
	}
}

/* ---------------------------------------------------------------- TCP */

static void test_tcp_prefix(void **state)
{
	struct fx_buf q, seg;
	struct dns_msg d;
	const uint8_t *msg = NULL, *next;
	size_t msg_len = 0;

	(void)state;
	header(&q, 77, RD, 1, 0);
	question(&q, "tcp.example", DNS_TYPE_AAAA);

	/* Two pipelined messages in one segment. */
	seg.len = 0;
	fx_put16(&seg, (unsigned int)q.len);
	fx_put(&seg, q.b, q.len);
	fx_put16(&seg, (unsigned int)q.len);
	fx_put(&seg, q.b, q.len);
	assert_int_equal(dns_tcp_message(seg.b, seg.len, &msg, &msg_len), 0);
	assert_ptr_equal(msg, seg.b + 2);
	assert_int_equal(msg_len, q.len);
	assert_int_equal(dns_parse(msg, msg_len, &d), DNS_OK);
	assert_string_equal(d.qname, "tcp.example");
	assert_int_equal(d.id, 77);
	/* The next message starts where the first ends. */
	next = msg + msg_len;
	assert_int_equal(dns_tcp_message(next, (size_t)(seg.b + seg.len - next), &msg, &msg_len), 0);
	assert_ptr_equal(msg, seg.b + 4 + q.len);
	assert_int_equal(msg_len, q.len);
	assert_int_equal(dns_parse(msg, msg_len, &d), DNS_OK);

	/* The message continues in the next segment: not reassembled. */
	assert_int_equal(dns_tcp_message(seg.b, q.len + 1, &msg, &msg_len), -ENODATA);
	assert_int_equal(dns_tcp_message(seg.b, 1, &msg, &msg_len), -ENODATA);
	assert_int_equal(dns_tcp_message(seg.b, 0, &msg, &msg_len), -ENODATA);
	/* Shorter than a header. */
	fx_set16(&seg, 0, DNS_HEADER_LEN - 1);
	assert_int_equal(dns_tcp_message(seg.b, seg.len, &msg, &msg_len), -EINVAL);
}

static void test_err_names(void **state)
{
	unsigned int i, j;

	(void)state;
	for (i = 0; i < DNS_ERR_MAX; i++) {
		assert_non_null(dns_err_name((enum dns_err)i));
		assert_string_not_equal(dns_err_name((enum dns_err)i), "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(dns_err_name((enum dns_err)i),
						dns_err_name((enum dns_err)j));
	}
	assert_string_equal(dns_err_name(DNS_ERR_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_root_query),
		cmocka_unit_test(test_response_a_and_aaaa),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_not_a_query),
		cmocka_unit_test(test_other_records_skipped),
		cmocka_unit_test(test_additional_not_read),
		cmocka_unit_test(test_cname_chain_then_addresses),
		cmocka_unit_test(test_records_off_the_chain_ignored),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_too_many_records),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_pointer_loops_refused),
		cmocka_unit_test(test_forward_and_header_pointers_refused),
		cmocka_unit_test(test_pointer_hop_limit),
		cmocka_unit_test(test_label_length),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_nul_and_dot_in_labels_refused),
		cmocka_unit_test(test_bad_rdata),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_truncated_at_every_length),
		cmocka_unit_test(test_tcp_prefix),
		cmocka_unit_test(test_err_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target for dns_parse() and the binding table behind it.
 *
 * The input is one DNS message. It is copied to a buffer of exactly its size
 * so ASan sees any read past the end, parsed as a UDP payload and again
 * behind a TCP length prefix (both must agree), and on DNS_OK the parser's
 * promises are checked: counts within the arrays, names NUL-terminated,
 * no longer than DNS_NAME_MAX, lower case, free of empty labels; IPv4
 * addresses zero past byte 4.
 *
 * Then every answer is bound to the query name in a small table (so it
 * fills and replaces), each binding must be found at once, and all must be
 * gone once the longest TTL has run out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "packet/dns.h"
#include "packet/dnsbind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
	size_t len = strnlen(name, DNS_NAME_MAX + 1), i;

	if (len > DNS_NAME_MAX)
		abort();
	for (i = 0; i < len; i++) {
		if (name[i] >= 'A' && name[i] <= 'Z')
			abort();
		if (name[i] == '.' && (i == 0 || i == len - 1 || name[i + 1] == '.'))
			abort();
	}
}

static void check_msg(const struct dns_msg *m)
{
	static const uint8_t zero[12];
	unsigned int i;

	if (m->n_cnames > DNS_MAX_CNAMES || m->n_answers > DNS_MAX_ANSWERS)
		abort();
	check_name(m->qname);
	for (i = 0; i < m->n_cnames; i++)
		check_name(m->cnames[i]);
	for (i = 0; i < m->n_answers; i++) {
		if (m->answers[i].family != 4 && m->answers[i].family != 6)
			abort();
		if (m->answers[i].family == 4 && memcmp(m->answers[i].addr.b + 4, zero, 12) != 0)
			abort();
		if (m->answers[i].ttl & 0x80000000u)
			abort();
	}
}

/* The same message behind a TCP length prefix must parse the same way. */
static void check_tcp(const uint8_t *msg, size_t len, enum dns_err udp_err, const struct dns_msg *udp)
{
	struct dns_msg m;
	const uint8_t *inner;
	size_t inner_len;
	uint8_t *seg;
	int ret;

	if (len > 0xffff)
		return;
	seg = malloc(len + 2);
	if (!seg)
		abort();
	seg[0] = (uint8_t)(len >> 8);
	seg[1] = (uint8_t)len;
	memcpy(seg + 2, msg, len);
	ret = dns_tcp_message(seg, len + 2, &inner, &inner_len);
	if (len < DNS_HEADER_LEN) {
		if (ret != -EINVAL)
			abort();
	} else {
		if (ret != 0 || inner != seg + 2 || inner_len != len)
			abort();
		if (dns_parse(inner, inner_len, &m) != udp_err)
			abort();
		if (udp_err == DNS_OK &&
		    (strcmp(m.qname, udp->qname) != 0 || m.n_answers != udp->n_answers))
			abort();
	}
	free(seg);
}

static void check_bindings(const struct dns_msg *m)
{
	/* Smaller than DNS_MAX_ANSWERS, so a long answer fills it. */
	struct dnsbind *t = dnsbind_new(8);
	struct dnsbind_stats st;
	uint64_t now = (uint64_t)m->id * 1000;
	const char *got;
	unsigned int i;

	if (!t)
		abort();
	for (i = 0; i < m->n_answers; i++) {
		dnsbind_add(t, m->answers[i].family, &m->answers[i].addr, m->qname,
			    m->answers[i].ttl, now + i);
		got = dnsbind_lookup(t, m->answers[i].family, &m->answers[i].addr, now + i);
		if (!got || strcmp(got, m->qname) != 0)
			abort();
	}
	dnsbind_get_stats(t, &st);
	if (st.active > 8 || st.refused || st.added + st.updated != m->n_answers)
		abort();
	now += m->n_answers + (uint64_t)CONFIG_DNS_BINDING_TTL_MAX * 1000 + 1;
	for (i = 0; i < m->n_answers; i++)
		if (dnsbind_lookup(t, m->answers[i].family, &m->answers[i].addr, now))
			abort();
	dnsbind_get_stats(t, &st);
	if (st.active != 0)
		abort();
	dnsbind_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg = malloc(size ? size : 1);
	struct dns_msg m;
	enum dns_err err;

	if (!msg)
		return 0;
	memcpy(msg, data, size);
	err = dns_parse(msg, size, &m);
	if ((unsigned int)err >= DNS_ERR_MAX)
		abort();
	check_tcp(msg, size, err, &m);
	if (err == DNS_OK) {
		check_msg(&m);
		check_bindings(&m);
	}
	free(msg);
	return 0;
}

/*
 * DNS message parser: see dns.h for the contract.
 *
 * One pass, front to back: header, question, answer section. Every read is
 * checked against len before it is made; positions are size_t offsets, never
 * pointers past the end. The work per message is bounded by its length:
 * each record consumes at least 11 bytes, and each name costs at most
 * DNS_MAX_PTR_HOPS jumps plus DNS_NAME_MAX bytes of labels.
 *
 * The chain is kept as text (qname, then cnames[]) and an owner name is on it
 * if its text equals one of them. Comparing text is exact because a label
 * can hold neither '.' nor NUL (refused), so text and label sequence
 * correspond one to one after case folding.
 */
#include <errno.h>
#include <string.h>

#include "core/common.h"
#include "packet/dns.h"

/* Header flag bits (RFC 1035 4.1.1). */
#define DNS_F_QR 0x8000
#define DNS_F_TC 0x0200
#define DNS_OPCODE(f) (((f) >> 11) & 0xf)
#define DNS_RCODE(f) ((f) & 0xf)

/* TYPE, CLASS, TTL, RDLENGTH after a record's owner name. */
#define DNS_RR_FIXED 10

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Decode the name at *off of msg[0..len) into out and move *off past the
 * name's own bytes (up to and including its first pointer, or its root
 * label). Running off the end is DNS_ERR_SHORT; everything else wrong with
 * the name is DNS_ERR_NAME.
 */
static enum dns_err read_name(const uint8_t *msg, size_t len, size_t *off,
			      char out[DNS_NAME_MAX + 1])
{
	size_t pos = *off, seg, end = 0, n = 0, target, i;
	unsigned int hops = 0;
	uint8_t c, b;

	seg = pos; /* start of the label sequence being read */
	for (;;) {
		if (pos >= len)
			return DNS_ERR_SHORT;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			if (len - pos < 2)
				return DNS_ERR_SHORT;
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			/* Strictly before this label sequence, after the header. */
			if (target >= seg || target < DNS_HEADER_LEN || ++hops > DNS_MAX_PTR_HOPS)
				return DNS_ERR_NAME;
			if (hops == 1)
				end = pos + 2;
			pos = seg = target;
			continue;
		}
		if (c & 0xc0) /* 0x40 and 0x80: label over 63 or a reserved label type */
			return DNS_ERR_NAME;
		if (c == 0)
			break;
		if (len - pos - 1 < c)
			return DNS_ERR_SHORT;
		if (n + (n ? 1u : 0u) + c > DNS_NAME_MAX)
			return DNS_ERR_NAME;
		if (n)
			out[n++] = '.';
		for (i = 1; i <= c; i++) {
			b = msg[pos + i];
			if (b == 0 || b == '.')
				return DNS_ERR_NAME;
			out[n++] = (char)(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
		}
		pos += 1 + (size_t)c;
	}
	out[n] = '\0';
	*off = hops ? end : pos + 1;
	return DNS_OK;
}

/* Is name the query name or one of the CNAME targets kept so far? */
static bool on_chain(const struct dns_msg *m, const char *name)
{
	unsigned int i;

	if (strcmp(name, m->qname) == 0)
		return true;
	for (i = 0; i < m->n_cnames; i++)
		if (strcmp(name, m->cnames[i]) == 0)
			return true;
	return false;
}

/* Keep a chain A/AAAA record whose RDATA is rdata[0..rdlen). */
static enum dns_err keep_address(struct dns_msg *m, uint8_t family, const uint8_t *rdata,
				 uint16_t rdlen, uint32_t ttl)
{
	size_t alen = family == 4 ? 4 : 16;
	struct dns_answer *a;

	if (rdlen != alen)
		return DNS_ERR_RDATA;
	if (m->n_answers == DNS_MAX_ANSWERS) {
		m->n_skipped++;
		return DNS_OK;
	}
	a = &m->answers[m->n_answers++];
	a->family = family;
	memset(&a->addr, 0, sizeof(a->addr));
	memcpy(a->addr.b, rdata, alen);
	/* RFC 2181 section 8: a TTL with the top bit set is treated as zero. */
	a->ttl = ttl & 0x80000000u ? 0 : ttl;
	return DNS_OK;
}

/*
 * Extend the chain with the CNAME whose RDATA is msg[off..off + rdlen). The
 * name may point back anywhere before it, but its own bytes must fill the
 * RDATA exactly.
 */
static enum dns_err keep_cname(struct dns_msg *m, const uint8_t *msg, size_t off, uint16_t rdlen)
{
	char target[DNS_NAME_MAX + 1];
	size_t pos = off;
	enum dns_err err = read_name(msg, off + rdlen, &pos, target);

	if (err == DNS_ERR_SHORT || (err == DNS_OK && pos != off + rdlen))
		return DNS_ERR_RDATA;
	if (err != DNS_OK)
		return err;
	if (on_chain(m, target)) /* a loop back onto the chain adds nothing */
		return DNS_OK;
	if (m->n_cnames == DNS_MAX_CNAMES) {
		m->n_skipped++;
		return DNS_OK;
	}
	memcpy(m->cnames[m->n_cnames++], target, strlen(target) + 1);
	return DNS_OK;
}

const char *dns_err_name(enum dns_err e)
{
	switch (e) {
	case DNS_OK:
		return "ok";
	case DNS_ERR_SHORT:
		return "message truncated";
	case DNS_ERR_NAME:
		return "bad name";
	case DNS_ERR_COUNT:
		return "fewer records than counted";
	case DNS_ERR_NOT_QUERY:
		return "not a standard query";
	case DNS_ERR_RDATA:
		return "bad record data";
	case DNS_ERR_MAX:
		break;
	}
	return "unknown";
}

enum dns_err dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out)
{
	char owner[DNS_NAME_MAX + 1];
	uint16_t flags, ancount, type, rclass, rdlen, i;
	uint32_t ttl;
	size_t off = DNS_HEADER_LEN;
	enum dns_err err;

	out->n_cnames = 0;
	out->n_answers = 0;
	out->n_skipped = 0;
	out->qname[0] = '\0';
	if (len < DNS_HEADER_LEN)
		return DNS_ERR_SHORT;
	out->id = get16(msg);
	flags = get16(msg + 2);
	out->response = flags & DNS_F_QR;
	out->truncated = flags & DNS_F_TC;
	out->rcode = DNS_RCODE(flags);
	if (DNS_OPCODE(flags) != 0 || get16(msg + 4) != 1)
		return DNS_ERR_NOT_QUERY;
	ancount = get16(msg + 6);

	if (off == len)
		return DNS_ERR_COUNT;
	err = read_name(msg, len, &off, out->qname);
	if (err != DNS_OK)
		return err;
	if (len - off < 4)
		return DNS_ERR_SHORT;
	out->qtype = get16(msg + off);
	off += 4; /* QTYPE, QCLASS */

	for (i = 0; i < ancount; i++) {
		if (off == len)
			return DNS_ERR_COUNT;
		err = read_name(msg, len, &off, owner);
		if (err != DNS_OK)
			return err;
		if (len - off < DNS_RR_FIXED)
			return DNS_ERR_SHORT;
		type = get16(msg + off);
		rclass = get16(msg + off + 2);
		ttl = get32(msg + off + 4);
		rdlen = get16(msg + off + 8);
		off += DNS_RR_FIXED;
		if (len - off < rdlen)
			return DNS_ERR_SHORT;
		err = DNS_OK;
		if (rclass == DNS_CLASS_IN && on_chain(out, owner)) {
			if (type == DNS_TYPE_A)
				err = keep_address(out, 4, msg + off, rdlen, ttl);
			else if (type == DNS_TYPE_AAAA)
				err = keep_address(out, 6, msg + off, rdlen, ttl);
			else if (type == DNS_TYPE_CNAME)
				err = keep_cname(out, msg, off, rdlen);
			if (err != DNS_OK)
				return err;
		}
		off += rdlen;
	}
	return DNS_OK;
}

int dns_tcp_message(const uint8_t *payload, size_t len, const uint8_t **msg, size_t *msg_len)
{
	size_t n;

	if (len < 2)
		return -ENODATA;
	n = get16(payload);
	if (n < DNS_HEADER_LEN)
		return -EINVAL;
	if (len - 2 < n)
		return -ENODATA;
	*msg = payload + 2;
	*msg_len = n;
	return 0;
}

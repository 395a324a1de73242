/*
 * DHCPv4 message parser (dhcp.h). The layout (RFC 2131 section 2):
 *
 *   0  op htype hlen hops | 4 xid | 8 secs flags | 12 ciaddr | 16 yiaddr
 *   20 siaddr | 24 giaddr | 28 chaddr (16) | 44 sname (64) | 108 file (128)
 *   236 magic cookie 99.130.83.99 | 240 options ... 255
 *
 * Options are walked in the order RFC 2131 section 4.1 gives when option 52
 * (overload) is present: the options field, then file, then sname; each area
 * must end with option 255. One walk, one bounds check per option; the
 * fields kept are fixed-size arrays in struct dhcp_msg.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "packet/dhcp.h"

#define DHCP_FIXED_LEN 236
#define DHCP_OPTIONS_AT 240
#define DHCP_SNAME_AT 44
#define DHCP_SNAME_LEN 64
#define DHCP_FILE_AT 108
#define DHCP_FILE_LEN 128

enum {
	OPT_PAD = 0,
	OPT_HOST_NAME = 12,
	OPT_REQUESTED = 50,
	OPT_OVERLOAD = 52,
	OPT_MSG_TYPE = 53,
	OPT_PRL = 55,
	OPT_VENDOR_CLASS = 60,
	OPT_CLIENT_ID = 61,
	OPT_END = 255,
};

static const char *const err_names[DHCP_ERR_MAX] = {
	[DHCP_OK] = "ok",
	[DHCP_ERR_SHORT] = "short",
	[DHCP_ERR_OP] = "op",
	[DHCP_ERR_HTYPE] = "hardware type",
	[DHCP_ERR_COOKIE] = "magic cookie",
	[DHCP_ERR_OPT_LEN] = "option length",
	[DHCP_ERR_NO_END] = "no end option",
	[DHCP_ERR_OVERLOAD] = "option overload",
	[DHCP_ERR_MSG_TYPE] = "message type",
	[DHCP_ERR_HOST_NAME] = "host name",
	[DHCP_ERR_VENDOR_CLASS] = "vendor class",
	[DHCP_ERR_PRL] = "parameter request list",
	[DHCP_ERR_REQUESTED] = "requested address",
	[DHCP_ERR_CLIENT_ID] = "client id",
};

static const char *const area_names[] = { "options", "file", "sname" };

const char *dhcp_err_name(enum dhcp_err e)
{
	return (size_t)e < ARRAY_SIZE(err_names) && err_names[e] ? err_names[e] : "?";
}

/* What the walk carries: the message, the text fields' lengths so far, the first problem. */
struct walk {
	const uint8_t *data;
	struct dhcp_msg *m;
	struct dhcp_problem *why;
	size_t host_len, vendor_len;
	uint8_t overload;
	uint8_t type_len;
	bool bad_field[DHCP_ERR_MAX];
};

#define PROBLEM(e_, at_, opt_, area_, len_, v_, lo_, hi_)                                      \
	((struct dhcp_problem){ .err = (e_), .offset = (uint16_t)(at_), .option = (opt_),          \
				.area = (uint8_t)(area_), .is_length = (len_), .value = (uint32_t)(v_), \
				.min = (uint32_t)(lo_), .max = (uint32_t)(hi_) })

static enum dhcp_err refuse(struct walk *w, struct dhcp_problem p)
{
	if (w->why)
		*w->why = p;
	return p.err;
}

/* A field left out: the first is kept in m->warn, every one counted. */
static void drop_field(struct walk *w, uint8_t has_bit, struct dhcp_problem p)
{
	struct dhcp_msg *m = w->m;

	m->has &= (uint8_t)~has_bit;
	if (w->bad_field[p.err])
		return;
	w->bad_field[p.err] = true;
	if (!m->n_warn)
		m->warn = p;
	m->n_warn++;
}

/*
 * Append an option's bytes to a text field (RFC 3396: repeated options
 * concatenate). Printable ASCII only; trailing NULs of the option are cut
 * (clients that write C strings), a NUL inside is a bad byte.
 */
static void text_field(struct walk *w, const uint8_t *v, size_t n, size_t at, uint8_t option,
		       enum dhcp_area area, char *out, size_t *used, size_t max, enum dhcp_err e,
		       uint8_t has_bit)
{
	if (w->bad_field[e])
		return;
	while (n && v[n - 1] == 0)
		n--;
	if ((!n && !*used) || *used + n > max) {
		drop_field(w, has_bit, PROBLEM(e, at, option, area, 1, *used + n, 1, max));
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e) {
			drop_field(w, has_bit, PROBLEM(e, at + 2 + i, option, area, 0, v[i], 0x20, 0x7e));
			out[0] = '\0';
			return;
		}
	}
	memcpy(out + *used, v, n);
	*used += n;
	out[*used] = '\0';
	w->m->has |= has_bit;
}

static enum dhcp_err option(struct walk *w, uint8_t code, const uint8_t *v, uint8_t n, size_t at,
			    enum dhcp_area area)
{
	struct dhcp_msg *m = w->m;

	switch (code) {
	case OPT_MSG_TYPE:
		/* Given twice it would concatenate (RFC 3396) to 2 bytes: as wrong as a 2-byte one. */
		if (n != 1 || w->type_len)
			return refuse(w, PROBLEM(DHCP_ERR_MSG_TYPE, at, code, area, 1, n + w->type_len, 1, 1));
		if (v[0] < DHCP_DISCOVER || v[0] > DHCP_INFORM)
			return refuse(w, PROBLEM(DHCP_ERR_MSG_TYPE, at, code, area, 0, v[0], 1, 8));
		m->type = v[0];
		w->type_len = n;
		break;
	case OPT_OVERLOAD:
		/* Only the options field may say where more options are, and only once. */
		if (area != DHCP_AREA_OPTIONS || n != 1 || w->overload)
			return refuse(w, PROBLEM(DHCP_ERR_OVERLOAD, at, code, area, 1,
						 n + (w->overload || area ? 1 : 0), 1, 1));
		if (v[0] < 1 || v[0] > 3)
			return refuse(w, PROBLEM(DHCP_ERR_OVERLOAD, at, code, area, 0, v[0], 1, 3));
		w->overload = v[0];
		break;
	case OPT_HOST_NAME:
		text_field(w, v, n, at, code, area, m->host_name, &w->host_len, DHCP_HOST_NAME_MAX,
			   DHCP_ERR_HOST_NAME, DHCP_HAS_HOST_NAME);
		break;
	case OPT_VENDOR_CLASS:
		text_field(w, v, n, at, code, area, m->vendor_class, &w->vendor_len,
			   DHCP_VENDOR_CLASS_MAX, DHCP_ERR_VENDOR_CLASS, DHCP_HAS_VENDOR_CLASS);
		break;
	case OPT_PRL:
		if (w->bad_field[DHCP_ERR_PRL])
			break;
		if (!n || m->prl_len + n > DHCP_PRL_MAX) {
			drop_field(w, DHCP_HAS_PRL,
				   PROBLEM(DHCP_ERR_PRL, at, code, area, 1, m->prl_len + n, 1, DHCP_PRL_MAX));
			m->prl_len = 0;
			break;
		}
		memcpy(m->prl + m->prl_len, v, n);
		m->prl_len = (uint8_t)(m->prl_len + n);
		m->has |= DHCP_HAS_PRL;
		break;
	case OPT_REQUESTED:
		if (n != 4) {
			drop_field(w, DHCP_HAS_REQUESTED, PROBLEM(DHCP_ERR_REQUESTED, at, code, area, 1, n, 4, 4));
			break;
		}
		memcpy(m->requested, v, 4);
		m->has |= DHCP_HAS_REQUESTED;
		break;
	case OPT_CLIENT_ID:
		if (n < 2) {
			drop_field(w, DHCP_HAS_CLIENT_ID, PROBLEM(DHCP_ERR_CLIENT_ID, at, code, area, 1, n, 2, 255));
			break;
		}
		/* Repeated: the first part is the one kept (a DUID past the bound is cut). */
		if (!(m->has & DHCP_HAS_CLIENT_ID)) {
			m->client_id_len = (uint8_t)(n < DHCP_CLIENT_ID_MAX ? n : DHCP_CLIENT_ID_MAX);
			memcpy(m->client_id, v, m->client_id_len);
			m->has |= DHCP_HAS_CLIENT_ID;
		}
		break;
	default:
		break;
	}
	return DHCP_OK;
}

/* Walk the options of one area [start, start + len) of the message; it must end with 255. */
static enum dhcp_err walk_area(struct walk *w, size_t start, size_t len, enum dhcp_area area)
{
	size_t i = start, end = start + len;
	enum dhcp_err e;

	while (i < end) {
		uint8_t code = w->data[i];

		if (code == OPT_END)
			return DHCP_OK;
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		/* The length byte itself is past the end: "length 1" of a 1-byte remainder. */
		if (i + 1 >= end)
			return refuse(w, PROBLEM(DHCP_ERR_OPT_LEN, i, code, area, 1, 1, 0, 0));
		uint8_t n = w->data[i + 1];

		if (i + 2 + n > end)
			return refuse(w, PROBLEM(DHCP_ERR_OPT_LEN, i, code, area, 1, n, 0, end - i - 2));
		e = option(w, code, w->data + i + 2, n, i, area);
		if (e != DHCP_OK)
			return e;
		i += 2u + n;
	}
	return refuse(w, PROBLEM(DHCP_ERR_NO_END, end, 0, area, 1, len, 0, 0));
}

enum dhcp_err dhcp_parse(const uint8_t *data, size_t len, struct dhcp_msg *m,
			 struct dhcp_problem *why)
{
	static const uint8_t cookie[4] = { 99, 130, 83, 99 };
	struct walk w = { .data = data, .m = m, .why = why };
	enum dhcp_err e;

	memset(m, 0, sizeof(*m));
	if (why)
		memset(why, 0, sizeof(*why));
	if (len < DHCP_OPTIONS_AT)
		return refuse(&w, PROBLEM(DHCP_ERR_SHORT, 0, 0, 0, 1, len, DHCP_OPTIONS_AT, 0));
	if (data[0] != 1 && data[0] != 2)
		return refuse(&w, PROBLEM(DHCP_ERR_OP, 0, 0, 0, 0, data[0], 1, 2));
	if (data[1] != 1 || data[2] != 6)
		return refuse(&w, data[1] != 1 ? PROBLEM(DHCP_ERR_HTYPE, 1, 0, 0, 0, data[1], 1, 1)
					       : PROBLEM(DHCP_ERR_HTYPE, 2, 0, 0, 0, data[2], 6, 6));
	if (memcmp(data + DHCP_FIXED_LEN, cookie, sizeof(cookie)) != 0)
		return refuse(&w, PROBLEM(DHCP_ERR_COOKIE, DHCP_FIXED_LEN, 0, 0, 0,
					  (uint32_t)data[236] << 24 | (uint32_t)data[237] << 16 |
						  (uint32_t)data[238] << 8 | data[239],
					  0x63825363u, 0x63825363u));
	m->op = data[0];
	m->xid = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
	memcpy(m->ciaddr, data + 12, 4);
	memcpy(m->yiaddr, data + 16, 4);
	memcpy(m->chaddr, data + 28, 6);

	e = walk_area(&w, DHCP_OPTIONS_AT, len - DHCP_OPTIONS_AT, DHCP_AREA_OPTIONS);
	if (e == DHCP_OK && (w.overload & 1))
		e = walk_area(&w, DHCP_FILE_AT, DHCP_FILE_LEN, DHCP_AREA_FILE);
	if (e == DHCP_OK && (w.overload & 2))
		e = walk_area(&w, DHCP_SNAME_AT, DHCP_SNAME_LEN, DHCP_AREA_SNAME);
	if (e == DHCP_OK && !w.type_len)
		e = refuse(&w, PROBLEM(DHCP_ERR_MSG_TYPE, DHCP_OPTIONS_AT, OPT_MSG_TYPE, 0, 1, 0, 1, 1));
	if (e != DHCP_OK) {
		memset(m, 0, sizeof(*m));
		return e;
	}
	return DHCP_OK;
}

static const char *option_name(uint8_t code)
{
	switch (code) {
	case OPT_HOST_NAME: return "host name";
	case OPT_REQUESTED: return "requested address";
	case OPT_OVERLOAD: return "overload";
	case OPT_MSG_TYPE: return "message type";
	case OPT_PRL: return "parameter request list";
	case OPT_VENDOR_CLASS: return "vendor class";
	case OPT_CLIENT_ID: return "client id";
	default: return "option";
	}
}

const char *dhcp_problem_text(const struct dhcp_problem *p, char *out, size_t len)
{
	const char *area = p->area < ARRAY_SIZE(area_names) ? area_names[p->area] : "?";

	switch (p->err) {
	case DHCP_OK:
		snprintf(out, len, "no problem");
		break;
	case DHCP_ERR_SHORT:
		snprintf(out, len, "%u bytes (allowed: at least %u, the header and magic cookie)",
			 p->value, p->min);
		break;
	case DHCP_ERR_OP:
		snprintf(out, len, "op %u at byte 0 (allowed: 1 request, 2 reply)", p->value);
		break;
	case DHCP_ERR_HTYPE:
		snprintf(out, len, "%s %u at byte %u (allowed: %u, Ethernet)",
			 p->offset == 1 ? "htype" : "hlen", p->value, p->offset, p->min);
		break;
	case DHCP_ERR_COOKIE:
		snprintf(out, len, "magic cookie 0x%08x at byte %u (allowed: 0x63825363)", p->value,
			 p->offset);
		break;
	case DHCP_ERR_OPT_LEN:
		snprintf(out, len, "option %u at byte %u of the %s area: length %u runs past its end "
			 "(allowed: up to %u)", p->option, p->offset, area, p->value, p->max);
		break;
	case DHCP_ERR_NO_END:
		snprintf(out, len, "the %s area (%u bytes, to byte %u) has no end option 255", area,
			 p->value, p->offset);
		break;
	case DHCP_ERR_HOST_NAME:
	case DHCP_ERR_VENDOR_CLASS:
		if (!p->is_length) {
			snprintf(out, len, "option %u (%s) at byte %u: byte 0x%02x (allowed: printable "
				 "ASCII 0x20..0x7e)", p->option, option_name(p->option), p->offset,
				 p->value);
			break;
		}
		/* fall through */
	default:
		if (p->err == DHCP_ERR_MSG_TYPE && p->is_length && !p->value)
			snprintf(out, len, "no option 53 (message type) (allowed: one, 1 byte of 1..8)");
		else
			snprintf(out, len, "option %u (%s) at byte %u of the %s area: %s %u (allowed: %u..%u)",
				 p->option, option_name(p->option), p->offset, area,
				 p->is_length ? "length" : "value", p->value, p->min, p->max);
		break;
	}
	return out;
}

void dhcp_prl_text(const uint8_t *prl, unsigned int n, char *out, size_t len)
{
	size_t used = 0;

	if (len)
		out[0] = '\0';
	for (unsigned int i = 0; i < n && used < len; i++) {
		int w = snprintf(out + used, len - used, i ? ",%u" : "%u", prl[i]);

		if (w < 0 || (size_t)w >= len - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)w;
	}
}

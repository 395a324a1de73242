/*
 * DHCPv4 messages (RFC 2131, options RFC 2132): what a device says about
 * itself when it joins the LAN, for the inventory (firmware/report/inventory.c).
 *
 * Read from a client: its hardware address (chaddr), the message type,
 * option 12 host name, 60 vendor class, 55 parameter request list (the
 * order of the codes is an OS fingerprint, as fingerbank reads it),
 * 50 requested address, 61 client id, ciaddr. Read from a server: the
 * ACK's yiaddr and ciaddr (the address the device now holds).
 *
 * Strict and bounded, because anyone on the LAN writes these bytes:
 *   - the message is refused (dhcp_parse() returns the reason) when the
 *     fixed header or magic cookie is short or wrong, hardware is not
 *     Ethernet, an option's length runs past its area, an area has no end
 *     option, option 52 (overload) is malformed or repeated in sname/file,
 *     or option 53 (message type) is missing or not 1..8;
 *   - a field that breaks its own rule (a host name or vendor class with a
 *     byte outside printable ASCII, or longer than its bound; option 50
 *     not 4 bytes; ...) is left out and the message kept, so a device
 *     cannot hide from the inventory behind a bad name; dhcp_msg.warn says
 *     which field and why.
 * Pad (0) is skipped; an option given more than once is concatenated, as
 * RFC 3396 says, up to the field's bound. Nothing is allocated; nothing is
 * read outside [data, data + len).
 */
#ifndef TG_DHCP_H
#define TG_DHCP_H

#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68

/* Option 12: a DNS label is at most 63 bytes; a longer "host name" is no name a SOC can use. */
#define DHCP_HOST_NAME_MAX 63
/* Option 60: "dhcpcd-9.4.1:Linux-6.1.0-13-amd64:x86_64:GenuineIntel" is 53; leave room. */
#define DHCP_VENDOR_CLASS_MAX 95
/* Option 55: the longest lists seen in fingerprint databases have some 40 codes. */
#define DHCP_PRL_MAX 64
/* Option 61: type byte and up to 31 bytes of identifier (a DUID is at most 130; cut, not refused). */
#define DHCP_CLIENT_ID_MAX 32

/* Message types (option 53). */
enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER,
	DHCP_REQUEST,
	DHCP_DECLINE,
	DHCP_ACK,
	DHCP_NAK,
	DHCP_RELEASE,
	DHCP_INFORM,
};

/* Why a message or a field was refused. Keep dhcp_err_name() in step. */
enum dhcp_err {
	DHCP_OK = 0,
	DHCP_ERR_SHORT,        /* shorter than the 236-byte header and the 4-byte cookie */
	DHCP_ERR_OP,           /* op is neither 1 (request) nor 2 (reply) */
	DHCP_ERR_HTYPE,        /* not Ethernet: htype 1, hlen 6 */
	DHCP_ERR_COOKIE,       /* magic cookie is not 99.130.83.99 */
	DHCP_ERR_OPT_LEN,      /* an option's length runs past its area */
	DHCP_ERR_NO_END,       /* an area ends without the end option (255) */
	DHCP_ERR_OVERLOAD,     /* option 52 not 1 byte of 1..3, given twice, or inside sname/file */
	DHCP_ERR_MSG_TYPE,     /* option 53 missing, not 1 byte, or not 1..8 */
	/* Field errors: the message is kept without the field. */
	DHCP_ERR_HOST_NAME,    /* option 12 empty, too long, or a byte outside 0x20..0x7e */
	DHCP_ERR_VENDOR_CLASS, /* option 60 likewise */
	DHCP_ERR_PRL,          /* option 55 empty or longer than DHCP_PRL_MAX */
	DHCP_ERR_REQUESTED,    /* option 50 not 4 bytes */
	DHCP_ERR_CLIENT_ID,    /* option 61 shorter than 2 bytes */
	DHCP_ERR_MAX
};

const char *dhcp_err_name(enum dhcp_err e);

/* Where in the message an option area lies (for the error's "where"). */
enum dhcp_area { DHCP_AREA_OPTIONS = 0, DHCP_AREA_FILE, DHCP_AREA_SNAME };

/*
 * A problem found in a message: what, at which byte offset from the start
 * of the DHCP message, the option it was in (0: the fixed header), the value
 * (a length, a byte, a type) and the bounds allowed.
 */
struct dhcp_problem {
	enum dhcp_err err;
	uint16_t offset;
	uint8_t option;
	uint8_t area;          /* enum dhcp_area */
	uint8_t is_length;     /* value is the option's length, not a byte of it */
	uint32_t value;
	uint32_t min, max;
};

/* dhcp_msg.has */
#define DHCP_HAS_HOST_NAME 0x01
#define DHCP_HAS_VENDOR_CLASS 0x02
#define DHCP_HAS_PRL 0x04
#define DHCP_HAS_REQUESTED 0x08
#define DHCP_HAS_CLIENT_ID 0x10

struct dhcp_msg {
	uint8_t op;                     /* 1 request (client), 2 reply (server) */
	uint8_t type;                   /* enum dhcp_type */
	uint8_t has;                    /* DHCP_HAS_* */
	uint8_t prl_len;
	uint32_t xid;
	uint8_t chaddr[6];
	uint8_t ciaddr[4], yiaddr[4], requested[4];
	char host_name[DHCP_HOST_NAME_MAX + 1];
	char vendor_class[DHCP_VENDOR_CLASS_MAX + 1];
	uint8_t prl[DHCP_PRL_MAX];
	uint8_t client_id[DHCP_CLIENT_ID_MAX];
	uint8_t client_id_len;
	uint8_t n_warn;                 /* fields left out */
	struct dhcp_problem warn;       /* the first field left out (err DHCP_OK: none) */
};

/*
 * Parse the UDP payload of a DHCP message (len bytes at data) into *m.
 * Returns DHCP_OK (fields that broke their rule are left out: m->warn) or
 * the reason the whole message was refused, with *why filled (may be NULL).
 */
enum dhcp_err dhcp_parse(const uint8_t *data, size_t len, struct dhcp_msg *m,
			 struct dhcp_problem *why);

/*
 * One line for a log: "option 12 (host name) at byte 254: byte 0x07 at 3
 * (allowed: 0x20..0x7e)". Returns out.
 */
const char *dhcp_problem_text(const struct dhcp_problem *p, char *out, size_t len);

/* A parameter request list (n codes) as the fingerprint databases write it: "1,3,6,15,119,252". */
void dhcp_prl_text(const uint8_t *prl, unsigned int n, char *out, size_t len);

#endif

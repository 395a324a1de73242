/*
 * DNS message parser (RFC 1035): the question and the answer chain of one
 * message, for the policy to judge the query name and bind answered
 * addresses to it (see dnsbind.h).
 *
 * dns_parse() never reads outside [msg, msg + len), never allocates and
 * never writes to the message. What it keeps:
 *
 *   - the header (id, QR, opcode must be 0 QUERY, TC, RCODE) and the one
 *     question (name and type);
 *   - the answer chain: CNAME records whose owner is the query name or an
 *     earlier CNAME target, and the A (class IN, 4 bytes) and AAAA (class
 *     IN, 16 bytes) records of those names. The chain is followed in section
 *     order, as servers write it (RFC 1034 4.3.2 step 3a); a record whose
 *     owner is not on the chain at that point is ignored, so an answer
 *     section cannot bind an address to a name the client did not ask for.
 *     Other record types and classes are skipped by RDLENGTH.
 *
 * The authority and additional sections are not read: a message is accepted
 * once its answer section is complete, whatever follows.
 *
 * Names are decoded to text: labels joined by '.', no trailing dot (the root
 * is ""), ASCII A-Z folded to lower case, other bytes kept as they are.
 * Refused as DNS_ERR_NAME: a label longer than 63 or of a reserved type
 * (0x40, 0x80), a text form longer than DNS_NAME_MAX, a label holding a NUL
 * or '.' byte (the text form could not say where the label ends, and a NUL
 * would cut the name short for every string function downstream), and
 * compression pointers that do not point strictly before the label sequence
 * they end, into the header, or take more than DNS_MAX_PTR_HOPS hops.
 * A pointer before the sequence it ends is what every compressor writes (it
 * names an earlier occurrence of the suffix), and it makes every jump land
 * lower than the last one, so no pointer loop can exist.
 */
#ifndef TG_DNS_H
#define TG_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/decode.h"

#define DNS_NAME_MAX 253   /* text form without trailing dot (255 bytes on the wire) */
#define DNS_HEADER_LEN 12

/*
 * CNAME targets kept. Real chains are one to three long (a site's name to a
 * CDN name to the CDN's edge name); a longer chain is cut here and the
 * addresses of the names after the cut are not kept.
 */
#define DNS_MAX_CNAMES 8

/*
 * A and AAAA records kept. Resolvers answer with a handful of addresses
 * (round-robin pools of up to 8 or so per family); more are counted in
 * n_skipped.
 */
#define DNS_MAX_ANSWERS 16

/*
 * Compression pointers followed while decoding one name. A name of 127
 * one-byte labels could in theory need one per label; real messages use one
 * or two.
 */
#define DNS_MAX_PTR_HOPS 64

/* Record types and class read by the parser. */
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

struct dns_answer {
	uint8_t family;      /* 4 or 6 */
	union ip_addr addr;  /* IPv4 in the first 4 bytes, rest zero */
	uint32_t ttl;        /* seconds; a TTL with the top bit set reads as 0 (RFC 2181 8) */
};

struct dns_msg {
	uint16_t id;
	bool response;       /* QR */
	bool truncated;      /* TC: the answer section may be incomplete */
	uint8_t rcode;
	uint16_t qtype;
	char qname[DNS_NAME_MAX + 1];                      /* the question's name */
	uint8_t n_cnames;
	char cnames[DNS_MAX_CNAMES][DNS_NAME_MAX + 1];     /* CNAME targets of the chain, in order */
	uint8_t n_answers;
	struct dns_answer answers[DNS_MAX_ANSWERS];        /* A and AAAA of the chain, in order */
	uint16_t n_skipped;  /* chain records not kept: A/AAAA past DNS_MAX_ANSWERS, CNAMEs past DNS_MAX_CNAMES */
};

/* Why a message was refused. Keep dns_err_name() in step. */
enum dns_err {
	DNS_OK = 0,
	DNS_ERR_SHORT,       /* ends inside the header or a record */
	DNS_ERR_NAME,        /* bad label, bad pointer (forward, loop, too many hops), name too long */
	DNS_ERR_COUNT,       /* ends at a record boundary before the counted records */
	DNS_ERR_NOT_QUERY,   /* opcode != 0 (QUERY) or QDCOUNT != 1 */
	DNS_ERR_RDATA,       /* A/AAAA RDLENGTH not 4/16, CNAME name not filling RDLENGTH */
	DNS_ERR_MAX
};

const char *dns_err_name(enum dns_err e);

/*
 * Parse the DNS message msg[0..len) (a UDP payload, or what
 * dns_tcp_message() found). Returns DNS_OK and fills *out, or the reason the
 * message was refused (out is then partly filled and must not be used).
 * Whether to bind is the caller's choice: answers of a response with RCODE 0.
 */
enum dns_err dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out);

/*
 * DNS over TCP (RFC 1035 4.2.2, RFC 7766): a message is preceded by its
 * 2-byte length. Only a message that begins at the start of payload and ends
 * within it is handled: messages split across segments are not reassembled
 * (pass the payload of a segment that starts a message; a continuation
 * segment is misread as a length and its "message" normally fails dns_parse).
 *
 * Returns 0 and sets *msg and *msg_len to the first message (pipelined
 * messages follow at *msg + *msg_len), -ENODATA if the message continues
 * past len, or -EINVAL if its length is shorter than a DNS header.
 */
int dns_tcp_message(const uint8_t *payload, size_t len, const uint8_t **msg, size_t *msg_len);

#endif

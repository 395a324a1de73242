/*
 * Enforcement: what happens to a frame once the pipeline has judged its flow.
 *
 *   flow verdict   frame                          action
 *   none / alert   any                            forward unchanged
 *   block          DNS query (UDP, stage dns)     drop; answer the client: NXDOMAIN,
 *                                                 or the sink address if one is set.
 *                                                 Stage dns on port 53 is the verdict
 *                                                 of that query alone: every other
 *                                                 frame of the flow is forwarded
 *   block          TCP, not RST                   drop; RST to the sender; the first
 *                                                 time, if the responder has answered
 *                                                 (it holds a connection), a RST to the
 *                                                 receiver as well (two, at seq and
 *                                                 seq + 1, for an empty segment). With [enforce]
 *                                                 blocked_address = drop, flows blocked
 *                                                 at stage ip or dns_binding get no RST.
 *                                                 A reset closes the flow (FLOW_F_RST):
 *                                                 a SYN on its ports starts a new one
 *   block          anything else (QUIC, ICMP...)  drop silently
 *
 * Answers are whole frames built from the offending one: its link-layer
 * header (Ethernet with its VLAN tags, or none for raw IP), MAC addresses
 * swapped for the frame going back to the sender, a fresh IP header, correct
 * checksums. Frames inside IP tunnels are dropped without an answer.
 *
 * The module does no I/O: the mode (bridge, nfqueue, monitor) sends the
 * frames in the action where it says, "back" out of the port the frame came
 * in on and "onward" out of the port it was going to.
 */
#ifndef TG_ENFORCE_H
#define TG_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h" /* enum enforce_blocked_address */
#include "packet/decode.h"
#include "packet/flow.h"

/* Largest frame the module builds: a DNS answer to the largest query it answers. */
#define ENFORCE_FRAME_MAX 1600
/* Queries longer than this (DNS payload) are dropped without an answer. */
#define ENFORCE_DNS_QUERY_MAX 512

struct enforce_config {
	int blocked_address;      /* enum enforce_blocked_address */
	bool sink4_set, sink6_set;
	uint8_t sink4[4];         /* A answer for a blocked name, if set */
	uint8_t sink6[16];        /* AAAA answer for a blocked name, if set */
	uint32_t dns_ttl;         /* TTL of synthesized answers, seconds */
};

enum enforce_verdict {
	ENFORCE_FORWARD = 0,
	ENFORCE_DROP,
};

enum enforce_to {
	ENFORCE_TO_SENDER = 0,   /* out of the port the frame arrived on */
	ENFORCE_TO_RECEIVER,     /* out of the port the frame was going to */
};

enum enforce_kind {
	ENFORCE_RST = 1,
	ENFORCE_DNS_NXDOMAIN,
	ENFORCE_DNS_SINK,        /* A/AAAA with the sink address (NODATA for other types) */
};

struct enforce_frame {
	uint32_t len;
	uint8_t to;              /* enum enforce_to */
	uint8_t kind;            /* enum enforce_kind */
	uint8_t data[ENFORCE_FRAME_MAX];
};

struct enforce_action {
	uint8_t verdict;         /* enum enforce_verdict */
	/*
	 * The flow's verdict will not change any more: a mode may hand the rest of
	 * the flow to the kernel (nfqueue's conntrack mark). False while DPI or
	 * the policy may still decide, and always for DNS (port 53) flows, whose
	 * answers feed the DNS bindings and whose blocked queries each need an
	 * answer.
	 */
	bool final;
	uint8_t n_frames;
	struct enforce_frame frames[3];
};

struct enforce_stats {
	uint64_t forwarded;
	uint64_t dropped;        /* frames of blocked flows */
	uint64_t rst_sent;       /* RST frames built */
	uint64_t dns_answered;   /* NXDOMAIN or sink answers built */
	uint64_t no_answer;      /* blocked frames due an answer that could not be built (tunnelled, unparsable query...) */
};

struct enforce {
	struct enforce_config cfg;
	struct enforce_stats st;
};

void enforce_init(struct enforce *e, const struct enforce_config *cfg);

/*
 * Decide for one frame: f is its flow after the pipeline saw it (f->flags may
 * gain FLOW_F_ENFORCED), p the decoded packet, dir its direction in f, frame
 * and caplen the bytes as received on a link of type link. Fills *act:
 * frames[0] is the answer to the sender (RST or DNS answer), frames[1] the
 * RST to the receiver when there is one, and frames[2] a second RST to the
 * receiver one number higher when the segment occupied no sequence space
 * (it may be a keepalive or window probe, sent one below the receiver's
 * next number). A blocked DNS query is answered
 * only over UDP and only when the flow was blocked at stage dns; TCP to port
 * 53 is reset like any TCP.
 */
void enforce_frame(struct enforce *e, struct flow *f, const struct pkt *p, enum flow_dir dir,
		   enum link_type link, const uint8_t *frame, uint32_t caplen,
		   struct enforce_action *act);

/*
 * Builders, exposed for tests. Each writes a whole frame into
 * out[ENFORCE_FRAME_MAX] and returns its length, or 0 if no answer can be
 * built for p: tunnelled or a fragment, not TCP (RST) or UDP (DNS), a RST
 * itself, not a parsable standard query, a link type other than
 * LINK_ETHERNET and LINK_RAW, or too long.
 *
 * The frame is the link-layer header of the original (Ethernet with its
 * VLAN tags, LLC/SNAP, PPPoE or MPLS; MACs swapped for `to` ==
 * ENFORCE_TO_SENDER), a fresh IP header of the same version (IPv4: no
 * options, ID 0, DF, TTL 64; IPv6: no extension headers, hop limit 64;
 * addresses swapped toward the sender), the transport header with a correct
 * checksum, and zero padding up to 60 bytes on Ethernet (not counted in the
 * IP length).
 *
 * RST toward the sender (as Linux's nf_reject): a segment with ACK gets
 * seq = its ack_seq and RST alone; any other seq 0 and RST|ACK acknowledging
 * seq + payload + SYN + FIN. RST toward the receiver, as if from the sender:
 * seq = the segment's seq (+1 for a SYN), RST|ACK with its ack_seq if it had
 * ACK, else RST alone. Window 0.
 *
 * DNS answer to a query (QR 0, opcode 0, QDCOUNT 1, a question of plain
 * labels, at most ENFORCE_DNS_QUERY_MAX bytes): same ID, QR, RD copied, RA,
 * the question copied byte for byte, no authority or additional records (the
 * query's EDNS OPT is dropped). With no sink set: NXDOMAIN, *kind
 * ENFORCE_DNS_NXDOMAIN. With a sink set, *kind ENFORCE_DNS_SINK and NOERROR:
 * one A (or AAAA) record with the sink address and cfg->dns_ttl for a class
 * IN query of type A (AAAA) when that sink is set, no records (NODATA) for
 * any other query.
 */
uint32_t enforce_build_rst(const struct pkt *p, enum link_type link, const uint8_t *frame,
			   enum enforce_to to, uint8_t *out);
uint32_t enforce_build_dns(const struct enforce_config *cfg, const struct pkt *p,
			   enum link_type link, const uint8_t *frame, uint8_t *out, uint8_t *kind);

/*
 * The RST that cuts an open TCP flow from its record alone, when a new
 * list blocks it and no frame of it is at hand: an Ethernet frame to_mac
 * <- from_mac (with an 802.1Q tag when the flow has a VLAN), a fresh IP
 * header from the responder to the initiator, and a bare RST (window 0)
 * from the responder's port at f->rev_next_seq: exactly the number the
 * initiator accepts a RST at. Writes out[ENFORCE_FRAME_MAX]; returns the
 * length, or 0 if f is not TCP or the responder has sent nothing yet. The
 * responder is reset by the next frame of the flow (enforce_frame()).
 *
 * With probe set, the same segment is a bare ACK instead: for a record
 * whose numbers may be stale (nfqueue: the kernel forwarded the flow's
 * later segments), a segment outside the initiator's window that it
 * answers at once with an ACK carrying its exact numbers (RFC 793 3.9),
 * and that answer, dropped, resets both ends.
 */
uint32_t enforce_build_cut(const struct flow *f, const uint8_t to_mac[6], const uint8_t from_mac[6],
			   bool probe, uint8_t *out);

#endif

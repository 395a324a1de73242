/*
 * Enforcement: what to do with one frame of a judged flow, and the answer
 * frames for the blocked ones (see enforce.h for the table).
 *
 * Why it looks the way it does:
 *
 * - An answer is built from the offending frame alone, so the module keeps
 *   no state but one flow flag (FLOW_F_ENFORCED: the receiver was reset).
 *   Everything copied from the frame is either the link-layer header, whose
 *   layout is walked again here and refused unless every field is one we
 *   can keep or recompute, or the bytes of a DNS question, walked with a
 *   bound check before each read. Multi-byte fields are read and written
 *   byte by byte, as in decode.c: frames are not aligned.
 * - The RST to the sender uses the numbers Linux's nf_reject gives it
 *   (net/ipv4/netfilter/nf_reject_ipv4.c, nf_reject_ip_tcphdr_put): a
 *   segment with ACK is answered at its acknowledgment number, any other
 *   with RST|ACK acknowledging all it occupied. The RST to the receiver
 *   impersonates the sender at the dropped segment's own sequence number:
 *   the segment never arrived, so that is exactly what the receiver expects
 *   next (plus one for a SYN the receiver has already answered).
 * - A blocked DNS query gets an answer instead of a timeout, so the client
 *   fails at once instead of retrying for seconds. The answer repeats the
 *   question byte for byte (RFC 1035 4.1.1: the resolver matches it) and
 *   drops the query's EDNS OPT: answering without one is always allowed.
 * - Frames inside IP tunnels and IP fragments get no answer: the outer
 *   headers, or the rest of the datagram, would have to be rebuilt too, and
 *   the office network has no business sending either through the gateway.
 */
#include <netinet/in.h>
#include <string.h>

#include "core/common.h"
#include "core/csum.h"
#include "packet/dns.h"
#include "policy/bundle.h"
#include "policy/enforce.h"
#include "policy/policy.h"

#define ETH_ALEN 6
#define ETH_HLEN 14
/* 64 bytes on the wire less the 4-byte FCS the port adds. */
#define ETH_MIN_FRAME 60
/* Ethernet type/length field: up to 1500 a length (802.3, LLC follows). */
#define ETH_8023_MAX_LEN 1500
#define VLAN_HLEN 4
#define LLC_SAP_SNAP 0xaa
#define LLC_CTRL_UI 0x03
#define LLC_SNAP_LEN 8
#define PPPOE_HLEN 6 /* then the 2-byte PPP protocol */
#define PPP_PROTO_LEN 2
#define PPP_PROTO_IPV4 0x0021
#define PPP_PROTO_IPV6 0x0057
#define MPLS_LABEL_LEN 4
#define MPLS_BOS 0x01 /* bottom-of-stack bit, in the third label byte */

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define IPV4_DF 0x4000
/* Linux's default (net.ipv4.ip_default_ttl) and what nf_reject sends. */
#define ANSWER_TTL 64

#define TCP_HLEN 20
#define UDP_HLEN 8

#define DNS_PORT 53
#define DNS_F_QR 0x8000
#define DNS_F_OPCODE 0x7800
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_RCODE_NXDOMAIN 3
/* A name on the wire: labels and the root byte, at most 255 (RFC 1035 2.3.4). */
#define DNS_WIRE_NAME_MAX 255
/* QTYPE and QCLASS after the question's name. */
#define DNS_QFIXED 4
/* The answer's owner: a compression pointer to the question's name at offset 12. */
#define DNS_PTR_QNAME 0xc00c
/* Owner pointer, TYPE, CLASS, TTL, RDLENGTH. */
#define DNS_RR_HLEN 12

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)((unsigned int)b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put16(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- frames */

/* An answer being built in out[ENFORCE_FRAME_MAX]. */
struct answer {
	uint8_t *out;
	const struct pkt *p;
	enum enforce_to to;
	uint32_t l3_off;    /* link-layer header length */
	uint32_t l4_off;
	uint32_t pppoe_off; /* PPPoE session header to fill in the length of, 0 if none */
	bool ieee8023;      /* 802.3 length at 12 to fill in (LLC/SNAP) */
	bool ethernet;      /* pad to ETH_MIN_FRAME */
};

/*
 * Is h[0..hlen) an Ethernet header this module can copy for an IP packet of
 * the given version: addresses, LLC/SNAP, 802.1Q/802.1ad tags, then an IP
 * EtherType, a PPPoE session or an MPLS label stack ending exactly at hlen?
 * Notes the length fields to fill in a.
 */
static bool eth_layout(const uint8_t *h, uint32_t hlen, uint8_t version, struct answer *a)
{
	uint32_t off = ETH_HLEN;
	uint16_t type;

	if (hlen < ETH_HLEN)
		return false;
	type = rd16(h + 12);
	if (type <= ETH_8023_MAX_LEN) {
		if (hlen - off < LLC_SNAP_LEN || h[off] != LLC_SAP_SNAP ||
		    h[off + 1] != LLC_SAP_SNAP || h[off + 2] != LLC_CTRL_UI)
			return false;
		type = rd16(h + off + 6);
		off += LLC_SNAP_LEN;
		a->ieee8023 = true;
	}
	for (;;) {
		switch (type) {
		case ETHERTYPE_IPV4:
			return version == 4 && off == hlen;
		case ETHERTYPE_IPV6:
			return version == 6 && off == hlen;
		case ETHERTYPE_8021Q:
		case ETHERTYPE_8021AD:
			if (hlen - off < VLAN_HLEN)
				return false;
			type = rd16(h + off + 2);
			off += VLAN_HLEN;
			break;
		case ETHERTYPE_PPPOE_SESSION:
			if (hlen - off != PPPOE_HLEN + PPP_PROTO_LEN)
				return false;
			a->pppoe_off = off;
			return rd16(h + off + PPPOE_HLEN) ==
			       (version == 4 ? PPP_PROTO_IPV4 : PPP_PROTO_IPV6);
		case ETHERTYPE_MPLS_UNICAST:
			do {
				if (hlen - off < MPLS_LABEL_LEN)
					return false;
				off += MPLS_LABEL_LEN;
			} while (!(h[off - 2] & MPLS_BOS));
			return off == hlen;
		default:
			return false;
		}
	}
}

/* Can p be answered at all: one plain IP packet with a transport header. */
static bool answerable(const struct pkt *p)
{
	return p->tunnel == TUNNEL_NONE && !p->inner && !(p->flags & PKT_F_FRAGMENT) &&
	       (p->ip_version == 4 || p->ip_version == 6) && p->l3 && p->l4;
}

/*
 * Start an answer to p in out: its link-layer header (MACs swapped toward
 * the sender). Returns where the l4_len-byte transport segment goes, or
 * NULL if the link layer is not one to answer on or the frame would not
 * fit in ENFORCE_FRAME_MAX.
 */
static uint8_t *answer_start(struct answer *a, enum link_type link, const struct pkt *p,
			     const uint8_t *frame, enum enforce_to to, uint8_t *out, uint32_t l4_len)
{
	uint32_t hlen = (uint32_t)(p->l3 - frame);

	*a = (struct answer){ .out = out, .p = p, .to = to, .l3_off = hlen };
	switch (link) {
	case LINK_RAW:
		if (hlen)
			return NULL;
		break;
	case LINK_ETHERNET:
		if (hlen > ENFORCE_FRAME_MAX || !eth_layout(frame, hlen, p->ip_version, a))
			return NULL;
		a->ethernet = true;
		break;
	default:
		return NULL;
	}
	a->l4_off = hlen + (p->ip_version == 4 ? IPV4_HLEN : IPV6_HLEN);
	if (a->l4_off > ENFORCE_FRAME_MAX || l4_len > ENFORCE_FRAME_MAX - a->l4_off)
		return NULL;
	memcpy(out, frame, hlen);
	if (a->ethernet && to == ENFORCE_TO_SENDER) {
		memcpy(out, frame + ETH_ALEN, ETH_ALEN);
		memcpy(out + ETH_ALEN, frame, ETH_ALEN);
	}
	return out + a->l4_off;
}

/*
 * Finish the answer once its transport segment (checksum zero, at csum_off
 * in the segment) is written: IP header, transport checksum, link-layer
 * length fields and padding. Returns the frame's length, 0 if it cannot be.
 */
static uint32_t answer_finish(struct answer *a, uint8_t proto, uint32_t l4_len,
			      uint32_t csum_off)
{
	const union ip_addr *src = a->to == ENFORCE_TO_SENDER ? &a->p->dst : &a->p->src;
	const union ip_addr *dst = a->to == ENFORCE_TO_SENDER ? &a->p->src : &a->p->dst;
	uint8_t *ip = a->out + a->l3_off, *l4 = a->out + a->l4_off;
	uint32_t len = a->l4_off + l4_len, sum;
	uint16_t csum;

	if (a->ieee8023 && len - ETH_HLEN > ETH_8023_MAX_LEN)
		return 0;
	if (a->p->ip_version == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, IPV4_HLEN + l4_len);
		put16(ip + 4, 0);
		put16(ip + 6, IPV4_DF);
		ip[8] = ANSWER_TTL;
		ip[9] = proto;
		put16(ip + 10, 0);
		memcpy(ip + 12, src->b, 4);
		memcpy(ip + 16, dst->b, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, IPV4_HLEN)));
		sum = csum_add(0, ip + 12, 8);
	} else {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		put16(ip + 4, l4_len);
		ip[6] = proto;
		ip[7] = ANSWER_TTL;
		memcpy(ip + 8, src->b, 16);
		memcpy(ip + 24, dst->b, 16);
		sum = csum_add(0, ip + 8, 32);
	}
	/* The rest of the pseudo-header: protocol and transport length. */
	sum += proto + l4_len;
	csum = csum_fold(csum_add(sum, l4, l4_len));
	/* UDP sends a computed 0 as all ones: 0 means "no checksum" (RFC 768). */
	if (proto == IPPROTO_UDP && !csum)
		csum = 0xffff;
	put16(l4 + csum_off, csum);

	if (a->pppoe_off)
		put16(a->out + a->pppoe_off + 4, len - a->pppoe_off - PPPOE_HLEN);
	if (a->ieee8023)
		put16(a->out + 12, len - ETH_HLEN);
	if (a->ethernet && len < ETH_MIN_FRAME) {
		memset(a->out + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	return len;
}

/* ---------------------------------------------------------------- TCP */

/*
 * Sequence space the segment p occupies: its payload on the wire (from the
 * IP length, so a capture cut short does not shorten it) plus SYN and FIN.
 */
static uint32_t tcp_seg_len(const struct pkt *p)
{
	uint32_t hdrs = (uint32_t)(p->l4 - p->l3) + (uint32_t)(p->l4[12] >> 4) * 4;
	uint32_t ip_len = 0, n = p->payload_len;

	if (p->ip_version == 4)
		ip_len = rd16(p->l3 + 2);
	else if (rd16(p->l3 + 4))
		ip_len = IPV6_HLEN + (uint32_t)rd16(p->l3 + 4);
	if (ip_len >= hdrs)
		n = ip_len - hdrs;
	return n + !!(p->tcp_flags & TCP_SYN) + !!(p->tcp_flags & TCP_FIN);
}

/* enforce_build_rst(), the RST toward the receiver at the segment's seq + seq_adj. */
static uint32_t rst_build(const struct pkt *p, enum link_type link, const uint8_t *frame,
			  enum enforce_to to, uint32_t seq_adj, uint8_t *out);

uint32_t enforce_build_rst(const struct pkt *p, enum link_type link, const uint8_t *frame,
			   enum enforce_to to, uint8_t *out)
{
	return rst_build(p, link, frame, to, 0, out);
}

static uint32_t rst_build(const struct pkt *p, enum link_type link, const uint8_t *frame,
			  enum enforce_to to, uint32_t seq_adj, uint8_t *out)
{
	uint32_t seg_seq, seg_ack, seq = 0, ack = 0;
	bool has_ack = p->tcp_flags & TCP_ACK;
	uint8_t flags = TCP_RST, *th;
	struct answer a;

	/* Never answer a RST (RFC 793 3.4). */
	if (!answerable(p) || p->l4_proto != IPPROTO_TCP || (p->tcp_flags & TCP_RST))
		return 0;
	th = answer_start(&a, link, p, frame, to, out, TCP_HLEN);
	if (!th)
		return 0;
	seg_seq = rd32(p->l4 + 4);
	seg_ack = rd32(p->l4 + 8);
	if (to == ENFORCE_TO_SENDER) {
		put16(th, p->dport);
		put16(th + 2, p->sport);
		if (has_ack) {
			seq = seg_ack;
		} else {
			ack = seg_seq + tcp_seg_len(p);
			flags |= TCP_ACK;
		}
	} else {
		put16(th, p->sport);
		put16(th + 2, p->dport);
		seq = seg_seq + !!(p->tcp_flags & TCP_SYN) + seq_adj;
		if (has_ack) {
			ack = seg_ack;
			flags |= TCP_ACK;
		}
	}
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (TCP_HLEN / 4) << 4;
	th[13] = flags;
	put16(th + 14, 0); /* window */
	put16(th + 16, 0); /* checksum */
	put16(th + 18, 0); /* urgent pointer */
	return answer_finish(&a, IPPROTO_TCP, TCP_HLEN, 16);
}

uint32_t enforce_build_cut(const struct flow *f, const uint8_t to_mac[6], const uint8_t from_mac[6],
			   bool probe, uint8_t *out)
{
	struct pkt p = { .ip_version = f->key.ip_version, .l4_proto = IPPROTO_TCP };
	struct answer a = { .out = out, .p = &p, .to = ENFORCE_TO_RECEIVER, .ethernet = true };
	uint8_t *th;

	if (f->key.l4_proto != IPPROTO_TCP || !f->packets[FLOW_DIR_REV] ||
	    (p.ip_version != 4 && p.ip_version != 6))
		return 0;
	/* As a frame from the responder to the initiator: answer_finish() fills in the rest. */
	p.src = *flow_dst(f);
	p.dst = *flow_src(f);
	memcpy(out, to_mac, ETH_ALEN);
	memcpy(out + ETH_ALEN, from_mac, ETH_ALEN);
	a.l3_off = ETH_HLEN;
	if (f->key.vlan) {
		put16(out + 12, ETHERTYPE_8021Q);
		put16(out + 14, f->key.vlan & 0x0fff);
		a.l3_off += VLAN_HLEN;
	}
	put16(out + a.l3_off - 2, p.ip_version == 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
	a.l4_off = a.l3_off + (p.ip_version == 4 ? IPV4_HLEN : IPV6_HLEN);
	th = out + a.l4_off;
	put16(th, flow_dport(f));
	put16(th + 2, flow_sport(f));
	put32(th + 4, f->rev_next_seq);
	put32(th + 8, 0);
	th[12] = (TCP_HLEN / 4) << 4;
	th[13] = probe ? TCP_ACK : TCP_RST;
	put16(th + 14, 0); /* window */
	put16(th + 16, 0); /* checksum */
	put16(th + 18, 0); /* urgent pointer */
	return answer_finish(&a, IPPROTO_TCP, TCP_HLEN, 16);
}

/* ---------------------------------------------------------------- DNS */

/*
 * Length of the question of the query msg[0..len): its name, QTYPE and
 * QCLASS, 0 if it is not one. The name must be plain labels: a query's
 * question is its first name, so a compression pointer has nothing earlier
 * to point at, and the reserved label types mean nothing here.
 */
static uint32_t dns_question_len(const uint8_t *msg, uint32_t len)
{
	uint32_t off = DNS_HEADER_LEN;
	uint8_t c;

	do {
		if (off >= len)
			return 0;
		c = msg[off];
		if (c & 0xc0)
			return 0;
		off += 1u + c;
		if (off - DNS_HEADER_LEN > DNS_WIRE_NAME_MAX)
			return 0;
	} while (c);
	/* The root byte was read, so off <= len here. */
	if (len - off < DNS_QFIXED)
		return 0;
	return off + DNS_QFIXED - DNS_HEADER_LEN;
}

uint32_t enforce_build_dns(const struct enforce_config *cfg, const struct pkt *p,
			   enum link_type link, const uint8_t *frame, uint8_t *out, uint8_t *kind)
{
	const uint8_t *q = p->payload, *rdata = NULL;
	uint32_t qlen, rdlen = 0, len;
	uint16_t flags, qtype, qclass;
	bool sink = cfg->sink4_set || cfg->sink6_set;
	uint8_t *u, *d, *rr;
	struct answer a;

	if (!answerable(p) || p->l4_proto != IPPROTO_UDP || !q ||
	    p->payload_len < DNS_HEADER_LEN || p->payload_len > ENFORCE_DNS_QUERY_MAX)
		return 0;
	flags = rd16(q + 2);
	if ((flags & (DNS_F_QR | DNS_F_OPCODE)) || rd16(q + 4) != 1)
		return 0;
	qlen = dns_question_len(q, p->payload_len);
	if (!qlen)
		return 0;
	qtype = rd16(q + DNS_HEADER_LEN + qlen - DNS_QFIXED);
	qclass = rd16(q + DNS_HEADER_LEN + qlen - DNS_QFIXED + 2);
	if (qclass == DNS_CLASS_IN && qtype == DNS_TYPE_A && cfg->sink4_set) {
		rdata = cfg->sink4;
		rdlen = sizeof(cfg->sink4);
	} else if (qclass == DNS_CLASS_IN && qtype == DNS_TYPE_AAAA && cfg->sink6_set) {
		rdata = cfg->sink6;
		rdlen = sizeof(cfg->sink6);
	}

	len = UDP_HLEN + DNS_HEADER_LEN + qlen + (rdata ? DNS_RR_HLEN + rdlen : 0);
	u = answer_start(&a, link, p, frame, ENFORCE_TO_SENDER, out, len);
	if (!u)
		return 0;
	put16(u, p->dport);
	put16(u + 2, p->sport);
	put16(u + 4, len);
	put16(u + 6, 0);
	d = u + UDP_HLEN;
	memcpy(d, q, 2); /* ID */
	put16(d + 2, DNS_F_QR | (flags & DNS_F_RD) | DNS_F_RA | (sink ? 0 : DNS_RCODE_NXDOMAIN));
	put16(d + 4, 1);
	put16(d + 6, rdata ? 1 : 0);
	put16(d + 8, 0);
	put16(d + 10, 0);
	memcpy(d + DNS_HEADER_LEN, q + DNS_HEADER_LEN, qlen);
	if (rdata) {
		rr = d + DNS_HEADER_LEN + qlen;
		put16(rr, DNS_PTR_QNAME);
		put16(rr + 2, qtype);
		put16(rr + 4, DNS_CLASS_IN);
		put32(rr + 6, cfg->dns_ttl);
		put16(rr + 10, rdlen);
		memcpy(rr + DNS_RR_HLEN, rdata, rdlen);
	}
	len = answer_finish(&a, IPPROTO_UDP, len, 6);
	if (len)
		*kind = sink ? ENFORCE_DNS_SINK : ENFORCE_DNS_NXDOMAIN;
	return len;
}

/* ---------------------------------------------------------------- verdicts */

void enforce_init(struct enforce *e, const struct enforce_config *cfg)
{
	*e = (struct enforce){ 0 };
	if (cfg)
		e->cfg = *cfg;
}

/* Port 53 flows stay with the pipeline: their answers feed the DNS bindings. */
static bool dns_flow(const struct flow *f)
{
	return (f->key.l4_proto == IPPROTO_UDP || f->key.l4_proto == IPPROTO_TCP) &&
	       (f->key.port_a == DNS_PORT || f->key.port_b == DNS_PORT);
}

/* Add the RST toward `to` to act; false if it cannot be built. */
static bool add_rst(struct enforce *e, const struct pkt *p, enum link_type link,
		    const uint8_t *frame, enum enforce_to to, struct enforce_action *act)
{
	struct enforce_frame *fr = &act->frames[act->n_frames];

	fr->len = enforce_build_rst(p, link, frame, to, fr->data);
	if (!fr->len)
		return false;
	fr->to = (uint8_t)to;
	fr->kind = ENFORCE_RST;
	act->n_frames++;
	e->st.rst_sent++;
	return true;
}

/* A blocked TCP segment other than a RST. */
static void enforce_tcp(struct enforce *e, struct flow *f, const struct pkt *p,
			enum flow_dir dir, enum link_type link, const uint8_t *frame,
			struct enforce_action *act)
{
	/*
	 * The receiver holds a connection if it is the initiator (it sent the
	 * SYN), or the responder once it has answered.
	 */
	bool reset_receiver = !(f->flags & FLOW_F_ENFORCED) &&
			      (dir == FLOW_DIR_REV || (f->flags & FLOW_F_REPLY));

	f->flags |= FLOW_F_ENFORCED;
	if (e->cfg.blocked_address == ENFORCE_ADDR_DROP &&
	    (f->verdict_stage == POLICY_STAGE_IP || f->verdict_stage == POLICY_STAGE_DNS_BINDING))
		return;
	if (!add_rst(e, p, link, frame, ENFORCE_TO_SENDER, act)) {
		e->st.no_answer++;
		return;
	}
	/* The reset ends the connection: a SYN on its ports is a new one (flow.h). */
	f->flags |= FLOW_F_RST;
	if (!reset_receiver || !add_rst(e, p, link, frame, ENFORCE_TO_RECEIVER, act))
		return;
	/*
	 * A segment that occupies no sequence space may be a keepalive or a
	 * zero-window probe, sent one below what the receiver expects
	 * (snd_una - 1): the receiver accepts a RST only at exactly its next
	 * number, so it gets one at that number too. This is what cuts a flow
	 * blocked while its receiver's window was closed (a slow reader, an
	 * offloaded flow handed back by a new list).
	 */
	if (!(p->tcp_flags & TCP_ACK) || tcp_seg_len(p))
		return;
	act->frames[act->n_frames].len =
		rst_build(p, link, frame, ENFORCE_TO_RECEIVER, 1, act->frames[act->n_frames].data);
	if (!act->frames[act->n_frames].len)
		return;
	act->frames[act->n_frames].to = ENFORCE_TO_RECEIVER;
	act->frames[act->n_frames].kind = ENFORCE_RST;
	act->n_frames++;
	e->st.rst_sent++;
}

/* A blocked DNS query over UDP. */
static void enforce_dns(struct enforce *e, const struct pkt *p, enum link_type link,
			const uint8_t *frame, struct enforce_action *act)
{
	struct enforce_frame *fr = &act->frames[0];
	uint8_t kind = 0;

	fr->len = enforce_build_dns(&e->cfg, p, link, frame, fr->data, &kind);
	if (!fr->len) {
		e->st.no_answer++;
		return;
	}
	fr->to = ENFORCE_TO_SENDER;
	fr->kind = kind;
	act->n_frames = 1;
	e->st.dns_answered++;
}

/*
 * On port 53 a verdict at stage dns is the verdict of the query just judged
 * (policy.h): it applies to that query's frame, and nothing else on the
 * flow (the answers to other queries, bare TCP segments) is held by it.
 */
static bool query_verdict_other_frame(const struct flow *f, const struct pkt *p)
{
	return f->verdict_stage == POLICY_STAGE_DNS && dns_flow(f) &&
	       !(p->dport == DNS_PORT && p->payload_len);
}

void enforce_frame(struct enforce *e, struct flow *f, const struct pkt *p, enum flow_dir dir,
		   enum link_type link, const uint8_t *frame, uint32_t caplen,
		   struct enforce_action *act)
{
	act->n_frames = 0;
	if (f->verdict_action != BUNDLE_ACT_BLOCK || query_verdict_other_frame(f, p)) {
		act->verdict = ENFORCE_FORWARD;
		act->final = (f->flags & FLOW_F_DECIDED) && (f->flags & FLOW_F_CLASS_CHECKED) &&
			     !dns_flow(f);
		e->st.forwarded++;
		return;
	}
	act->verdict = ENFORCE_DROP;
	act->final = !dns_flow(f);
	e->st.dropped++;

	/* p must describe this frame: answers copy its headers from it. */
	if (!p->l3 || p->l3 < frame || p->l3 > frame + caplen)
		return;
	if (p->l4_proto == IPPROTO_TCP && !(p->tcp_flags & TCP_RST))
		enforce_tcp(e, f, p, dir, link, frame, act);
	else if (p->l4_proto == IPPROTO_UDP && p->dport == DNS_PORT &&
		 f->verdict_stage == POLICY_STAGE_DNS)
		enforce_dns(e, p, link, frame, act);
}

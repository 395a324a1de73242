/*
 * Flow table: fixed capacity, keyed hash, per-class idle timeouts, eviction of
 * the idlest flow when full.
 *
 * A flow is bidirectional: both directions of a conversation map to one
 * record, keyed by (addresses, ports, IP protocol, VLAN). The endpoint that
 * sent the first packet seen is the initiator; FLOW_DIR_FWD is initiator to
 * responder, FLOW_DIR_REV the reverse.
 *
 * Records live in one array allocated at flow_table_new(); buckets hold
 * indices, so the table never allocates per packet. The bucket hash is
 * SipHash-2-4 under a random 128-bit key chosen at start, so an attacker who
 * does not know the key cannot aim many flows at one bucket.
 *
 * Every flow is on exactly one LRU list, by timeout class (TCP open, TCP
 * closed, UDP, other); a packet moves its flow to the tail, so each list's
 * head is its idlest flow and expiry and eviction are O(1) per flow.
 *
 * After classification a flow costs sizeof(struct flow) (<= 248 bytes, checked
 * at build time) plus 4 bytes of bucket: within the 256-byte budget.
 *
 * A key outlives the connections that use it, as in conntrack: a packet
 * that opens a new connection on the key of a flow whose connection is over
 * ends that flow and starts a new one, judged from scratch (flow_lookup()).
 * That is a TCP SYN without ACK once the old connection closed (FIN both
 * ways, a RST either way, including the gateway's own), its block verdict
 * was acted on (FLOW_F_ENFORCED) or it was offloaded (flow.offloaded: its
 * close would go unseen); a QUIC client Initial carrying another
 * connection id than the flow's; and any packet once the flow has been idle
 * for longer than its class timeout, even before flow_expire() ran.
 */
#ifndef TG_FLOW_H
#define TG_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/decode.h"

enum flow_dir {
	FLOW_DIR_FWD = 0, /* initiator -> responder */
	FLOW_DIR_REV = 1,
};

enum flow_class_id {
	FLOW_CLASS_TCP = 0,    /* TCP, open */
	FLOW_CLASS_TCP_CLOSED, /* TCP after RST, or FIN in both directions */
	FLOW_CLASS_UDP,
	FLOW_CLASS_OTHER,
	FLOW_CLASS_MAX
};

enum flow_end_reason {
	FLOW_END_IDLE = 0, /* idle timeout of its class */
	FLOW_END_EVICTED,  /* table full: the idlest flow made room */
	FLOW_END_SHUTDOWN, /* flow_table_free() or flow_end_all() */
};

const char *flow_end_reason_name(enum flow_end_reason r);

/* Canonical key: endpoint a is the smaller (address, port) pair. */
struct flow_key {
	union ip_addr a, b;
	uint16_t port_a, port_b;
	uint16_t vlan;
	uint8_t l4_proto;
	uint8_t ip_version;
};

/*
 * What DPI found; filled by the dpi module. Packed: the record's size is
 * the budget (struct flow <= 256 bytes with its verdict), and unpadded it
 * leaves room for the verdict's last two bytes.
 */
struct flow_dpi_result {
	uint64_t risks;      /* bit n set = nDPI risk n */
	uint16_t master;     /* nDPI protocol ids */
	uint16_t app;
	uint16_t category;   /* nDPI category id */
	uint16_t tls_version;/* TLS/QUIC version as on the wire, 0 if none */
	uint8_t confidence;  /* nDPI confidence */
	uint8_t has_ja3c : 1, has_ja3s : 1, guessed : 1;
	uint8_t dpi_packets; /* packets nDPI saw */
	uint8_t ja3c[16];    /* MD5 of the JA3 client string */
	uint8_t ja3s[16];
	char host[80];       /* host name: HTTP Host, TLS SNI, DNS query (nDPI's size) */
} __attribute__((packed));

/* flow.flags */
#define FLOW_F_DECIDED 0x01  /* DPI finished (detected or given up); dpi state freed */
#define FLOW_F_FIN_FWD 0x02
#define FLOW_F_FIN_REV 0x04
#define FLOW_F_RST 0x08
#define FLOW_F_REPLY 0x10    /* a packet was seen in FLOW_DIR_REV */
#define FLOW_F_HOST_CHECKED 0x20  /* policy: the host name was judged */
#define FLOW_F_CLASS_CHECKED 0x40 /* policy: protocol, category and JA3 were judged */
#define FLOW_F_ENFORCED 0x80      /* enforce: the block verdict was acted on (receiver reset) */

/* flow.policy_flags: the policy's own per-flow state (policy.c) */
#define FLOW_PF_BIND_PENDING 0x01 /* the responder is DNS-bound: judged once the flow shows a name or none comes */

struct flow {
	struct flow_key key;
	uint32_t hnext;          /* table-private: bucket chain (index + 1, 0 ends) */
	uint32_t lru_prev;       /* table-private: LRU links (index + 1, 0 ends) */
	uint32_t lru_next;
	uint32_t id;             /* creation sequence number, from 1 (wraps after 2^32 flows) */
	uint8_t lru_class;       /* table-private: enum flow_class_id */
	uint8_t init_is_a;       /* 1 if the initiator is endpoint a of the key */
	uint8_t flags;           /* FLOW_F_* */
	/* policy: enum policy_stage (0 = no verdict) and enum bundle_action (block or alert) */
	uint8_t verdict_stage : 4, verdict_action : 4;
	uint32_t verdict_rule;   /* policy: rule id from the bundle (the indicator is reported when taken) */
	uint32_t packets[2];     /* by enum flow_dir */
	uint64_t bytes[2];       /* wire bytes by enum flow_dir */
	uint64_t first_ms, last_ms;
	void *dpi;               /* nDPI state while classifying, else NULL */
	struct flow_dpi_result dpi_result;
	/*
	 * policy_flags: the policy's FLOW_PF_*. offloaded: set by an inline mode
	 * that handed the rest of the flow to the kernel (nfqueue's offload
	 * verdict): its FINs and RSTs then pass without this table seeing them,
	 * so its end is unknown and a TCP SYN without ACK on it is taken for a
	 * new connection (flow_lookup()). One byte: the record has no room for
	 * another.
	 */
	uint8_t policy_flags : 7, offloaded : 1;
	union {
		/*
		 * UDP: keyed 16-bit hash of the QUIC connection id the initiator's
		 * Initial packets carry (its first DCID, then the server's SCID), 0 =
		 * none seen. An Initial with another one is a new connection.
		 */
		uint16_t quic_cid;
		/*
		 * TCP: the sequence number after the responder's furthest segment, i.e.
		 * what the initiator expects next: a RST from the responder at this
		 * number cuts the flow at once when a new list blocks it
		 * (enforce_build_cut()). Valid once packets[FLOW_DIR_REV] > 0.
		 */
		uint32_t rev_next_seq;
	};
};

typedef void (*flow_end_fn)(struct flow *f, enum flow_end_reason why, void *ctx);

struct flow_table_config {
	uint32_t capacity;                       /* flows; 0 = CONFIG_FLOW_TABLE_SIZE */
	uint32_t timeout_ms[FLOW_CLASS_MAX];     /* 0 = the Kconfig default of the class */
	flow_end_fn on_end;                      /* called before a record is reused; may be NULL */
	void *ctx;
	const uint8_t *hash_key;                 /* 16 bytes; NULL = random (getrandom) */
};

struct flow_table_stats {
	uint64_t created;
	uint64_t ended[3];          /* by enum flow_end_reason */
	uint64_t lookups;
	uint32_t active;
	uint32_t capacity;
	uint32_t max_chain;         /* longest bucket chain walked */
};

struct flow_table;

/* Returns NULL (errno set) if the table cannot be allocated. */
struct flow_table *flow_table_new(const struct flow_table_config *cfg);
/* Ends every flow (FLOW_END_SHUTDOWN, via on_end) and frees the table. */
void flow_table_free(struct flow_table *t);

/*
 * Find the flow of p, or create it (evicting the idlest flow if the table is
 * full). Sets *dir to the direction of p within the flow and *created.
 * Does not count the packet: call flow_account() for that.
 * Returns NULL only when capacity is 0.
 */
struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, uint64_t now_ms,
			 enum flow_dir *dir, bool *created);

/* The flow of p if there is one: no flow is created, nothing counted. */
struct flow *flow_find(struct flow_table *t, const struct pkt *p);

/* Count p in f (packets, bytes, time, TCP FIN/RST) and refresh its LRU position. */
void flow_account(struct flow_table *t, struct flow *f, const struct pkt *p,
		  enum flow_dir dir, uint64_t now_ms);

/* End every flow idle for longer than its class timeout at now_ms. Returns how many. */
uint32_t flow_expire(struct flow_table *t, uint64_t now_ms);

/* End every flow (FLOW_END_SHUTDOWN), least recently used first. */
void flow_end_all(struct flow_table *t);

void flow_table_get_stats(const struct flow_table *t, struct flow_table_stats *st);

typedef void (*flow_walk_fn)(struct flow *f, void *ctx);

/*
 * Call fn for every live flow, in record order, from record *cursor on (0
 * starts a walk), examining at most max records (0: all of them); *cursor
 * is left where the next slice goes on. Returns true once the walk has
 * passed the last record. A walk in slices sees once every flow that lives
 * throughout it; a flow created between slices may or may not be seen.
 * fn may change the flow's verdict and flags but must not call the table.
 */
bool flow_walk(struct flow_table *t, uint32_t *cursor, uint32_t max, flow_walk_fn fn, void *ctx);

/* Initiator / responder endpoints of f. */
const union ip_addr *flow_src(const struct flow *f);
const union ip_addr *flow_dst(const struct flow *f);
uint16_t flow_sport(const struct flow *f);
uint16_t flow_dport(const struct flow *f);

#endif

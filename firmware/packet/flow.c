/*
 * Flow table: one fixed array of records, a bucket array of indices, four
 * LRU lists. See flow.h for the contract.
 *
 * Why it is built this way:
 *
 * - Nothing is allocated after flow_table_new(). The records are one calloc'd
 *   array, so pages of records never used are never touched (the kernel backs
 *   them with the zero page); records are handed out from a high-water mark
 *   first and then from a free list threaded through flow.hnext, so a table
 *   that never fills never touches its tail.
 * - Links are 32-bit "index + 1" values (0 = none) rather than pointers: half
 *   the size on 64-bit boards, and a zeroed record is a valid unlinked one.
 * - Buckets are a power of two >= capacity (load factor <= 1) and chained, so
 *   a lookup is O(1) expected. The bucket is SipHash-2-4 of the canonical key
 *   under a 128-bit key from getrandom(), so flows an attacker chooses do not
 *   land in one chain: the key is unknown to them.
 * - Both directions of a conversation build the same key (endpoint a is the
 *   smaller (address, port)), so one hash and one memcmp find the flow; the
 *   direction is whether the packet's source is the endpoint that sent the
 *   first packet.
 * - Every flow is on the LRU list of its timeout class and moves to the tail
 *   when a packet is counted, so each head is that class's idlest flow:
 *   expiry stops at the first head that is still fresh, and eviction compares
 *   only four heads.
 * - A TCP SYN (without ACK) on a closed flow is a new connection reusing the
 *   ports: the old flow is ended (FLOW_END_IDLE: it is over, as if its short
 *   closed timeout had run) and a fresh one, with a new id and its own
 *   counters, DPI and verdict, is started. Closed means FIN both ways or a
 *   RST, read from the flags (the gateway's own RST sets FLOW_F_RST without
 *   a packet of the flow passing here, so the LRU class may lag), or a
 *   block verdict acted on (FLOW_F_ENFORCED): the peers were reset or their
 *   segments dropped, so the connection is gone, and a SYN on the key is a
 *   client trying again, maybe for another name. So is a SYN on a flow that
 *   was offloaded (nfqueue: the kernel passes the rest of the flow, and its
 *   FINs never reach this table, so "open" means nothing; the kernel's chain
 *   queues every SYN again, see drivers/nfq_rules.h). A SYN on a flow that
 *   is still open is kept in that flow (a retransmitted SYN, or a half-seen
 *   teardown).
 * - QUIC has no SYN. A connection starts with a client Initial (long header,
 *   type Initial, at least 1200 bytes: RFC 9000 14.1) whose Destination
 *   Connection ID the client chose at random; its later Initials carry the
 *   same DCID, or after the server's first long-header packet that packet's
 *   Source Connection ID (RFC 9000 7.2). The flow keeps a 16-bit keyed hash
 *   of the DCID it expects (quic_cid): an Initial from the initiator with
 *   another DCID is a new connection on the same ports. A hash collision
 *   (1 in 65536) keeps a new connection in the old flow, as before; a false
 *   split (a client retransmitting its first Initial after the server's
 *   answer) starts a flow that shows the same ClientHello, so it is judged
 *   the same.
 * - A flow idle for longer than its class timeout is over even if
 *   flow_expire() has not run yet (it runs once a second): a packet after
 *   the gap starts a new flow, for UDP as for the rest.
 *
 * A flow ends once it has been idle for more than its class timeout: idle
 * exactly equal to the timeout is still alive.
 *
 * Time comes from the caller (capture timestamps in replay) and may go
 * backwards: idle time is then 0, last_ms never decreases, and a list is in
 * activity order even where timestamps are not monotonic, so expiry may end
 * such a flow late but never early.
 *
 * The hash key comes from siphash_random_key() (core/siphash.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/siphash.h"
#include "packet/flow.h"

/*
 * The memory budget: once DPI state is freed, a flow costs at most 256
 * bytes: the record (248) plus its 4-byte bucket, with a little left for the
 * table's own rounding. CONFIG_FLOW_TABLE_SIZE's help text and the 64 MB RSS
 * target for 100k flows are computed from this.
 */
_Static_assert(sizeof(struct flow) <= 248, "struct flow exceeds its budget: 256 bytes per flow with the 4-byte bucket and allocator slack");

/*
 * Largest capacity: the bucket count (a power of two >= capacity) must fit in
 * 32 bits, and so must every "index + 1" link.
 */
#define FLOW_MAX_CAPACITY (UINT32_C(1) << 31)


/*
 * QUIC long header (RFC 8999 5.1, RFC 9000 17.2): form and fixed bits, the
 * version, DCID length and DCID, SCID length and SCID. Initial is type 0 in
 * version 1 and its drafts (0xff0000xx), type 1 in version 2 (RFC 9369).
 */
#define QUIC_LONG 0xc0
#define QUIC_TYPE(b) (((b) >> 4) & 3)
#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define QUIC_DRAFT_MASK 0xffffff00u
#define QUIC_DRAFT 0xff000000u
#define QUIC_CID_MAX 20
/* Clients pad every datagram with an Initial to this size (RFC 9000 14.1). */
#define QUIC_MIN_INITIAL 1200

struct flow_table {
	struct flow *flows;
	uint32_t *buckets;                   /* index + 1 of the chain head, 0 = empty */
	uint32_t mask;                       /* bucket count - 1 */
	uint32_t capacity;
	uint32_t used;                       /* records [0, used) were handed out at least once */
	uint32_t free_head;                  /* free records, chained through hnext */
	uint32_t lru_head[FLOW_CLASS_MAX];   /* idlest flow of the class */
	uint32_t lru_tail[FLOW_CLASS_MAX];   /* most recently active */
	uint64_t timeout_ms[FLOW_CLASS_MAX];
	flow_end_fn on_end;
	void *ctx;
	uint32_t last_id;
	struct flow_table_stats st;
	uint8_t hash_key[16];
};

/* ---------------------------------------------------------------- keys */

/*
 * Build the canonical key of p into k; returns true if p's source is
 * endpoint a. Two identical endpoints (same address and port both sides)
 * make the source endpoint a, so every packet of such a flow is FWD.
 * IPv4 copies only its 4 address bytes, so the key is the same whatever the
 * unused 12 bytes of p hold.
 */
static bool flow_key_make(struct flow_key *k, const struct pkt *p)
{
	size_t alen = p->ip_version == 4 ? 4 : sizeof(p->src.b);
	const union ip_addr *a = &p->src, *b = &p->dst;
	uint16_t pa = p->sport, pb = p->dport;
	int c = memcmp(p->src.b, p->dst.b, alen);
	bool src_is_a = c < 0 || (c == 0 && p->sport <= p->dport);

	if (!src_is_a) {
		a = &p->dst;
		b = &p->src;
		pa = p->dport;
		pb = p->sport;
	}
	memset(k, 0, sizeof(*k));
	memcpy(k->a.b, a->b, alen);
	memcpy(k->b.b, b->b, alen);
	k->port_a = pa;
	k->port_b = pb;
	k->vlan = p->vlan;
	k->l4_proto = p->l4_proto;
	k->ip_version = p->ip_version;
	return src_is_a;
}

static inline uint32_t flow_bucket(const struct flow_table *t, const struct flow_key *k)
{
	return (uint32_t)siphash24(t->hash_key, k, sizeof(*k)) & t->mask;
}

/* ---------------------------------------------------------------- lists */

static inline uint32_t flow_ref(const struct flow_table *t, const struct flow *f)
{
	return (uint32_t)(f - t->flows) + 1;
}

static inline struct flow *flow_at(const struct flow_table *t, uint32_t ref)
{
	return &t->flows[ref - 1];
}

static void lru_unlink(struct flow_table *t, struct flow *f)
{
	unsigned int c = f->lru_class;

	if (f->lru_prev)
		flow_at(t, f->lru_prev)->lru_next = f->lru_next;
	else
		t->lru_head[c] = f->lru_next;
	if (f->lru_next)
		flow_at(t, f->lru_next)->lru_prev = f->lru_prev;
	else
		t->lru_tail[c] = f->lru_prev;
	f->lru_prev = 0;
	f->lru_next = 0;
}

static void lru_append(struct flow_table *t, struct flow *f)
{
	unsigned int c = f->lru_class;
	uint32_t ref = flow_ref(t, f);

	f->lru_next = 0;
	f->lru_prev = t->lru_tail[c];
	if (t->lru_tail[c])
		flow_at(t, t->lru_tail[c])->lru_next = ref;
	else
		t->lru_head[c] = ref;
	t->lru_tail[c] = ref;
}

static void bucket_unlink(struct flow_table *t, struct flow *f)
{
	uint32_t *link = &t->buckets[flow_bucket(t, &f->key)];
	uint32_t ref = flow_ref(t, f);

	while (*link != ref)
		link = &flow_at(t, *link)->hnext;
	*link = f->hnext;
}

static enum flow_class_id flow_class(const struct flow *f)
{
	switch (f->key.l4_proto) {
	case PROTO_TCP:
		if ((f->flags & FLOW_F_RST) ||
		    (f->flags & (FLOW_F_FIN_FWD | FLOW_F_FIN_REV)) == (FLOW_F_FIN_FWD | FLOW_F_FIN_REV))
			return FLOW_CLASS_TCP_CLOSED;
		return FLOW_CLASS_TCP;
	case PROTO_UDP:
		return FLOW_CLASS_UDP;
	default:
		return FLOW_CLASS_OTHER;
	}
}

/* Idle time at now; 0 if now is before the flow's last packet. */
static inline uint64_t flow_idle(const struct flow *f, uint64_t now_ms)
{
	return now_ms > f->last_ms ? now_ms - f->last_ms : 0;
}

/* The least recently active flow of all classes; ties go to the lower class. */
static struct flow *flow_idlest(const struct flow_table *t)
{
	struct flow *best = NULL, *f;
	unsigned int c;

	for (c = 0; c < FLOW_CLASS_MAX; c++) {
		if (!t->lru_head[c])
			continue;
		f = flow_at(t, t->lru_head[c]);
		if (!best || f->last_ms < best->last_ms)
			best = f;
	}
	return best;
}

/*
 * Report f to the owner while it is still intact (on_end may read it and
 * free f->dpi, but must not call back into the table), then return it to the
 * free list.
 */
static void flow_end(struct flow_table *t, struct flow *f, enum flow_end_reason why)
{
	if (t->on_end)
		t->on_end(f, why, t->ctx);
	t->st.ended[why]++;
	t->st.active--;
	bucket_unlink(t, f);
	lru_unlink(t, f);
	f->lru_class = FLOW_CLASS_MAX; /* on no list: free, for flow_walk() */
	f->hnext = t->free_head;
	t->free_head = flow_ref(t, f);
}

/* A free record, ending the idlest flow if there is none. */
static struct flow *flow_alloc(struct flow_table *t)
{
	struct flow *f;

	if (!t->free_head && t->used == t->capacity)
		flow_end(t, flow_idlest(t), FLOW_END_EVICTED);
	if (t->free_head) {
		f = flow_at(t, t->free_head);
		t->free_head = f->hnext;
	} else {
		f = &t->flows[t->used++];
	}
	return f;
}

/* ---------------------------------------------------------------- QUIC */

/*
 * If p is a QUIC long-header packet, point *dcid and *scid at its
 * connection ids and return true; *initial says whether it is a client
 * Initial that may open a connection (type Initial, padded to 1200 bytes).
 */
static bool quic_long(const struct pkt *p, const uint8_t **dcid, uint8_t *dlen,
		      const uint8_t **scid, uint8_t *slen, bool *initial)
{
	const uint8_t *b = p->payload;
	uint32_t n = p->payload_len, v;

	if (p->l4_proto != PROTO_UDP || !b || n < 7 || (b[0] & QUIC_LONG) != QUIC_LONG)
		return false;
	v = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
	if (v != QUIC_V1 && v != QUIC_V2 && (v & QUIC_DRAFT_MASK) != QUIC_DRAFT)
		return false;
	*dlen = b[5];
	if (*dlen > QUIC_CID_MAX || n < 7u + *dlen)
		return false;
	*dcid = b + 6;
	*slen = b[6 + *dlen];
	if (*slen > QUIC_CID_MAX || n < 7u + *dlen + *slen)
		return false;
	*scid = b + 7 + *dlen;
	*initial = QUIC_TYPE(b[0]) == (v == QUIC_V2 ? 1 : 0) && n >= QUIC_MIN_INITIAL;
	return true;
}

/* The flow's 16-bit connection-id hash: keyed, never 0 (0 = none seen). */
static uint16_t quic_cid_hash(const struct flow_table *t, const uint8_t *cid, uint8_t len)
{
	uint8_t k[1 + QUIC_CID_MAX];
	uint16_t h;

	k[0] = len;
	memcpy(k + 1, cid, len);
	h = (uint16_t)siphash24(t->hash_key, k, 1u + len);
	return h ? h : 1;
}

/* Is p an Initial of another QUIC connection than the one f carries? */
static bool quic_new_connection(const struct flow_table *t, const struct flow *f,
				const struct pkt *p, bool fwd)
{
	const uint8_t *dcid, *scid;
	uint8_t dlen, slen;
	bool initial;

	if (!fwd || !f->quic_cid || !quic_long(p, &dcid, &dlen, &scid, &slen, &initial) ||
	    !initial)
		return false;
	return quic_cid_hash(t, dcid, dlen) != f->quic_cid;
}

/* Note the DCID the initiator's Initials carry (see the top of the file). */
static void quic_account(const struct flow_table *t, struct flow *f, const struct pkt *p,
			 enum flow_dir dir)
{
	const uint8_t *dcid, *scid;
	uint8_t dlen, slen;
	bool initial;

	if (!quic_long(p, &dcid, &dlen, &scid, &slen, &initial))
		return;
	if (dir == FLOW_DIR_FWD && initial && !f->quic_cid)
		f->quic_cid = quic_cid_hash(t, dcid, dlen);
	else if (dir == FLOW_DIR_REV && f->quic_cid)
		f->quic_cid = quic_cid_hash(t, scid, slen);
}

/*
 * Does p open a new connection on f's key (see the top of the file)? fwd:
 * p goes from f's initiator to its responder.
 */
static bool flow_reused(const struct flow_table *t, const struct flow *f, const struct pkt *p,
			bool fwd, uint64_t now_ms)
{
	if (flow_idle(f, now_ms) > t->timeout_ms[f->lru_class])
		return true;
	if (f->key.l4_proto == PROTO_TCP)
		return (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
		       (flow_class(f) == FLOW_CLASS_TCP_CLOSED || (f->flags & FLOW_F_ENFORCED) ||
			f->offloaded);
	return quic_new_connection(t, f, p, fwd);
}

/* ---------------------------------------------------------------- API */

const char *flow_end_reason_name(enum flow_end_reason r)
{
	switch (r) {
	case FLOW_END_IDLE:
		return "idle";
	case FLOW_END_EVICTED:
		return "evicted";
	case FLOW_END_SHUTDOWN:
		return "shutdown";
	}
	return "unknown";
}

struct flow_table *flow_table_new(const struct flow_table_config *cfg)
{
	static const uint32_t default_s[FLOW_CLASS_MAX] = {
		[FLOW_CLASS_TCP] = CONFIG_FLOW_TCP_TIMEOUT,
		[FLOW_CLASS_TCP_CLOSED] = CONFIG_FLOW_TCP_CLOSED_TIMEOUT,
		[FLOW_CLASS_UDP] = CONFIG_FLOW_UDP_TIMEOUT,
		[FLOW_CLASS_OTHER] = CONFIG_FLOW_OTHER_TIMEOUT,
	};
	static const struct flow_table_config defaults;
	struct flow_table *t;
	uint32_t cap, nbuckets = 1;
	unsigned int c;

	if (!cfg)
		cfg = &defaults;
	cap = cfg->capacity ? cfg->capacity : CONFIG_FLOW_TABLE_SIZE;
	if (cap > FLOW_MAX_CAPACITY) {
		errno = EINVAL;
		return NULL;
	}
	while (nbuckets < cap)
		nbuckets <<= 1;

	t = calloc(1, sizeof(*t));
	if (!t)
		goto err_table;
	t->flows = calloc(cap, sizeof(*t->flows));
	if (!t->flows)
		goto err_flows;
	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		goto err_buckets;

	t->mask = nbuckets - 1;
	t->capacity = cap;
	t->st.capacity = cap;
	for (c = 0; c < FLOW_CLASS_MAX; c++)
		t->timeout_ms[c] = cfg->timeout_ms[c] ? cfg->timeout_ms[c] : default_s[c] * UINT64_C(1000);
	t->on_end = cfg->on_end;
	t->ctx = cfg->ctx;
	if (cfg->hash_key)
		memcpy(t->hash_key, cfg->hash_key, sizeof(t->hash_key));
	else
		siphash_random_key(t->hash_key, "townguard flow table");
	return t;

err_buckets:
	free(t->flows);
err_flows:
	free(t);
err_table:
	errno = ENOMEM;
	return NULL;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	flow_end_all(t);
	free(t->buckets);
	free(t->flows);
	free(t);
}

struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, uint64_t now_ms,
			 enum flow_dir *dir, bool *created)
{
	struct flow_key k;
	bool src_is_a = flow_key_make(&k, p);
	uint32_t bucket = flow_bucket(t, &k);
	uint32_t ref, chain = 0;
	struct flow *f = NULL;

	t->st.lookups++;
	for (ref = t->buckets[bucket]; ref; ref = f->hnext) {
		f = flow_at(t, ref);
		chain++;
		if (memcmp(&f->key, &k, sizeof(k)) == 0)
			break;
	}
	if (chain > t->st.max_chain)
		t->st.max_chain = chain;

	if (ref) {
		bool fwd = src_is_a == (bool)f->init_is_a;

		if (!flow_reused(t, f, p, fwd, now_ms)) {
			*dir = fwd ? FLOW_DIR_FWD : FLOW_DIR_REV;
			*created = false;
			return f;
		}
		/* A new connection reusing the ports of one that is over. */
		flow_end(t, f, FLOW_END_IDLE);
	}

	f = flow_alloc(t);
	memset(f, 0, sizeof(*f));
	f->key = k;
	f->init_is_a = src_is_a;
	f->first_ms = now_ms;
	f->last_ms = now_ms;
	f->id = ++t->last_id;
	f->lru_class = flow_class(f);
	f->hnext = t->buckets[bucket];
	t->buckets[bucket] = flow_ref(t, f);
	lru_append(t, f);
	t->st.created++;
	t->st.active++;
	*dir = FLOW_DIR_FWD;
	*created = true;
	return f;
}

struct flow *flow_find(struct flow_table *t, const struct pkt *p)
{
	struct flow_key k;
	struct flow *f;

	flow_key_make(&k, p);
	for (uint32_t ref = t->buckets[flow_bucket(t, &k)]; ref; ref = f->hnext) {
		f = flow_at(t, ref);
		if (memcmp(&f->key, &k, sizeof(k)) == 0)
			return f;
	}
	return NULL;
}

/*
 * The responder's next sequence number: the end of its furthest segment
 * (serial arithmetic, RFC 1982), so a retransmission or a segment that
 * arrives late does not move it back. The payload is what the frame holds:
 * inline modes see whole frames.
 */
static void flow_track_rev_seq(struct flow *f, const struct pkt *p)
{
	const uint8_t *th = p->l4;
	uint32_t end = ((uint32_t)th[4] << 24 | (uint32_t)th[5] << 16 | (uint32_t)th[6] << 8 | th[7]) +
		       p->payload_len + !!(p->tcp_flags & TCP_SYN) + !!(p->tcp_flags & TCP_FIN);

	if (f->packets[FLOW_DIR_REV] == 1 || (int32_t)(end - f->rev_next_seq) > 0)
		f->rev_next_seq = end;
}

void flow_account(struct flow_table *t, struct flow *f, const struct pkt *p,
		  enum flow_dir dir, uint64_t now_ms)
{
	enum flow_class_id cls;

	f->packets[dir] += 1u + p->more_segs;
	f->bytes[dir] += p->wire_len;
	if (now_ms > f->last_ms)
		f->last_ms = now_ms;
	if (dir == FLOW_DIR_REV)
		f->flags |= FLOW_F_REPLY;
	if (f->key.l4_proto == PROTO_TCP) {
		if (p->tcp_flags & TCP_FIN)
			f->flags |= dir == FLOW_DIR_FWD ? FLOW_F_FIN_FWD : FLOW_F_FIN_REV;
		if (p->tcp_flags & TCP_RST)
			f->flags |= FLOW_F_RST;
		if (dir == FLOW_DIR_REV && p->l4 && p->l4_len >= 8 && !(p->tcp_flags & TCP_RST))
			flow_track_rev_seq(f, p);
	} else if (f->key.l4_proto == PROTO_UDP) {
		quic_account(t, f, p, dir);
	}

	cls = flow_class(f);
	if (cls == f->lru_class && t->lru_tail[cls] == flow_ref(t, f))
		return;
	lru_unlink(t, f);
	f->lru_class = cls;
	lru_append(t, f);
}

uint32_t flow_expire(struct flow_table *t, uint64_t now_ms)
{
	uint32_t n = 0;
	unsigned int c;
	struct flow *f;

	for (c = 0; c < FLOW_CLASS_MAX; c++) {
		while (t->lru_head[c]) {
			f = flow_at(t, t->lru_head[c]);
			if (flow_idle(f, now_ms) <= t->timeout_ms[c])
				break;
			flow_end(t, f, FLOW_END_IDLE);
			n++;
		}
	}
	return n;
}

/* Globally least recently active first: the four lists merged by head. */
void flow_end_all(struct flow_table *t)
{
	struct flow *f;

	while ((f = flow_idlest(t)))
		flow_end(t, f, FLOW_END_SHUTDOWN);
}

void flow_table_get_stats(const struct flow_table *t, struct flow_table_stats *st)
{
	*st = t->st;
}

/*
 * Records [0, used) were handed out; the free ones among them are marked
 * by lru_class FLOW_CLASS_MAX (flow_end()). Walking the array rather than
 * the LRU lists keeps a sliced walk stable: a packet moves its flow within
 * the lists, never within the array.
 */
bool flow_walk(struct flow_table *t, uint32_t *cursor, uint32_t max, flow_walk_fn fn, void *ctx)
{
	uint32_t i = *cursor, end = t->used;

	if (max && end - i > max && i < end)
		end = i + max;
	for (; i < end; i++)
		if (t->flows[i].lru_class != FLOW_CLASS_MAX)
			fn(&t->flows[i], ctx);
	*cursor = i;
	return i >= t->used;
}

const union ip_addr *flow_src(const struct flow *f)
{
	return f->init_is_a ? &f->key.a : &f->key.b;
}

const union ip_addr *flow_dst(const struct flow *f)
{
	return f->init_is_a ? &f->key.b : &f->key.a;
}

uint16_t flow_sport(const struct flow *f)
{
	return f->init_is_a ? f->key.port_a : f->key.port_b;
}

uint16_t flow_dport(const struct flow *f)
{
	return f->init_is_a ? f->key.port_b : f->key.port_a;
}

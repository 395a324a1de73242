/*
 * Hold (hold.h): bounded per-flow reassembly of a request's first bytes and
 * the two name parsers that read them.
 *
 * Why it looks the way it does:
 *
 * - The pool is one allocation at start: CONFIG_HOLD_POOL_KB divided into
 *   slots of four CONFIG_HOLD_FLOW_BYTES buffers each (the reassembled
 *   bytes, two for the frames themselves with their headers, and one to
 *   join a ClientHello split across TLS records) and 1.2 KiB of
 *   bookkeeping: 512 KiB of 4 KiB flows is 29 slots. Holds are few and
 *   short (a slot lives for one round trip of a client's first flight), so
 *   slots are found by a scan, and only while some flow is held
 *   (h->active); a flow with no hold costs one test.
 * - Coverage is a sorted list of disjoint byte ranges, at most one per held
 *   frame: a retransmission is a range already covered, an overlap is
 *   compared byte for byte before anything is copied.
 * - A flow whose hold ended is remembered in a direct-mapped table of flow
 *   ids (8 per slot) so its later segments are not held again; a collision
 *   can at worst hold such a flow once more, and never beyond its first
 *   HOLD_START_PACKETS client packets.
 * - Sequence numbers are 32-bit and wrap: offsets are differences taken
 *   as signed, as TCP itself compares them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "hold"
#include "core/common.h"
#include "core/log.h"
#include "packet/hold.h"

#define TLS_RECORD_HANDSHAKE 22
#define TLS_RECORD_HLEN 5
/* Largest TLSPlaintext fragment (RFC 8446 5.1) and the slack a peer may add. */
#define TLS_RECORD_MAX (16384 + 2048)
#define TLS_HS_CLIENT_HELLO 1
#define TLS_EXT_SERVER_NAME 0
#define TLS_SNI_HOST_NAME 0

/* A QUIC long header: form and fixed bits (RFC 9000 17.2). */
#define QUIC_LONG_HEADER 0xc0
/* A client pads every datagram with an Initial to at least this (RFC 9000 14.1). */
#define QUIC_INITIAL_MIN 1200
#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu /* RFC 9369: its Initial is long-header type 1 */

struct hold_span {
	uint32_t lo, hi; /* [lo, hi) from the base */
};

struct hold_held {
	uint32_t off, len, tag;
	uint32_t aux[2];
};

struct hold_slot {
	const struct flow *flow;
	uint32_t flow_id;
	bool in_use, tcp, first_is_start, start_known;
	bool more;                   /* the last parse: a request whose name has not come yet */
	uint8_t rounds;              /* time limits passed with the frames let go, the rest awaited */
	uint32_t sent_upto;          /* data[0..sent_upto) was let go at a time limit */
	uint8_t name_kind;           /* enum hold_name_kind, 0 if none */
	uint64_t start_ms;
	uint32_t base;               /* sequence number of data[0] */
	uint32_t start_seq;          /* the request's first byte, if start_known */
	uint32_t n_spans, n_frames, store_used;
	struct hold_span spans[HOLD_MAX_FRAMES];
	struct hold_held frames[HOLD_MAX_FRAMES];
	uint8_t *data, *store, *scratch;
	char name[HOLD_NAME_MAX + 1];
};

/* A client's SYN sequence number + 1, for the flow of that id. */
struct hold_isn {
	uint32_t flow_id, seq;
};

/*
 * Time limits a request whose name has not come may pass: at each, what is
 * held is let go and the rest awaited (hold_expire()). 20: 10 s at the
 * default limit, past the resend timer of a client that backed off five
 * times (0.2 s doubling), so that a client cannot outwait the hold by
 * sending the rest of its request late.
 */
#define HOLD_ROUNDS 20

/* Requests whose start is remembered at once: a table of 4096 (32 KiB). */
#define HOLD_ISN_MASK 4095u

struct hold {
	uint32_t flow_bytes, store_bytes, time_ms;
	uint32_t n_slots, done_mask;
	struct hold_slot *slots;
	uint32_t *done;              /* flow ids whose hold ended */
	struct hold_isn *isn;        /* where requests start, by flow id & HOLD_ISN_MASK */
	uint8_t *mem;
	struct hold_stats st;
};

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] << 8 | b[1];
}

static uint32_t rd24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

struct hold *hold_new(const struct hold_config *cfg)
{
	struct hold *h = calloc(1, sizeof(*h));
	uint32_t per_slot, done_n = 1;
	uint64_t pool;

	if (!h)
		return NULL;
	h->flow_bytes = cfg && cfg->flow_bytes ? cfg->flow_bytes : CONFIG_HOLD_FLOW_BYTES;
	h->time_ms = cfg && cfg->time_ms ? cfg->time_ms : CONFIG_HOLD_TIME_MS;
	pool = cfg && cfg->pool_bytes ? cfg->pool_bytes : (uint64_t)CONFIG_HOLD_POOL_KB * 1024u;
	h->store_bytes = 2 * h->flow_bytes;
	per_slot = (uint32_t)sizeof(struct hold_slot) + 4 * h->flow_bytes;
	h->n_slots = (uint32_t)(pool / per_slot);
	if (!h->n_slots)
		h->n_slots = 1;
	while (done_n < 8 * h->n_slots)
		done_n <<= 1;
	h->done_mask = done_n - 1;
	h->slots = calloc(h->n_slots, sizeof(*h->slots));
	h->done = calloc(done_n, sizeof(*h->done));
	h->isn = calloc(HOLD_ISN_MASK + 1, sizeof(*h->isn));
	h->mem = malloc((size_t)h->n_slots * 4 * h->flow_bytes);
	if (!h->slots || !h->done || !h->isn || !h->mem) {
		hold_free(h);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < h->n_slots; i++) {
		size_t fb = h->flow_bytes;
		uint8_t *m = h->mem + (size_t)i * 4 * fb;

		h->slots[i].data = m;
		h->slots[i].store = m + fb;
		h->slots[i].scratch = m + 3 * fb;
	}
	h->st.slots = h->n_slots;
	return h;
}

void hold_free(struct hold *h)
{
	if (!h)
		return;
	free(h->mem);
	free(h->done);
	free(h->isn);
	free(h->slots);
	free(h);
}

static struct hold_slot *hold_slot_of(const struct hold *h, const struct flow *f)
{
	if (!h->st.active)
		return NULL;
	for (uint32_t i = 0; i < h->n_slots; i++) {
		struct hold_slot *s = &h->slots[i];

		if (s->in_use && s->flow == f && s->flow_id == f->id)
			return s;
	}
	return NULL;
}

bool hold_active(const struct hold *h, const struct flow *f)
{
	return hold_slot_of(h, f) != NULL;
}

static bool looks_tls(const uint8_t *p, uint32_t len)
{
	return len >= 1 && p[0] == TLS_RECORD_HANDSHAKE && (len < 2 || p[1] == 3);
}

static const char *const http_methods[] = {
	"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ", "CONNECT ",
};

/* 1: starts with a method and a space; 0: could still (too short); -1: cannot. */
static int http_method(const uint8_t *p, size_t len)
{
	int best = -1;

	if (!len)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(http_methods); i++) {
		size_t mlen = strlen(http_methods[i]), n = len < mlen ? len : mlen;

		if (n && !memcmp(p, http_methods[i], n)) {
			if (n == mlen)
				return 1;
			best = 0;
		}
	}
	return best;
}

/*
 * A client's QUIC Initial: long header, version 1 or 2 with its Initial
 * type, a padded datagram. Other UDP to port 443 (VPNs, games, a sender of
 * random bytes) is never held, so it never waits.
 */
static bool quic_initial(const uint8_t *p, uint32_t len)
{
	uint32_t version, type;

	if (len < QUIC_INITIAL_MIN || (p[0] & QUIC_LONG_HEADER) != QUIC_LONG_HEADER)
		return false;
	version = rd32(p + 1);
	type = (p[0] >> 4) & 3;
	return (version == QUIC_V1 && type == 0) || (version == QUIC_V2 && type == 1);
}

static bool web_port(uint16_t port)
{
	return port == 80 || port == 443 || port == 8080 || port == 8443;
}

void hold_note_syn(struct hold *h, const struct flow *f, const struct pkt *p, enum flow_dir dir)
{
	struct hold_isn *e;

	if (dir != FLOW_DIR_FWD || p->l4_proto != IPPROTO_TCP ||
	    (p->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
		return;
	e = &h->isn[f->id & HOLD_ISN_MASK];
	e->flow_id = f->id;
	e->seq = rd32(p->l4 + 4) + 1;
}

bool hold_candidate(const struct hold *h, const struct flow *f, const struct pkt *p,
		    enum flow_dir dir)
{
	if (dir != FLOW_DIR_FWD || !p->payload_len || (f->flags & FLOW_F_HOST_CHECKED) ||
	    f->packets[FLOW_DIR_FWD] > HOLD_START_PACKETS || h->done[f->id & h->done_mask] == f->id)
		return false;
	if (p->l4_proto == IPPROTO_TCP)
		return !(p->tcp_flags & (TCP_SYN | TCP_RST)) && p->payload_len <= h->flow_bytes &&
		       (web_port(p->dport) || looks_tls(p->payload, p->payload_len) ||
			http_method(p->payload, p->payload_len) == 1);
	if (p->l4_proto == IPPROTO_UDP)
		return p->dport == 443 && !(f->flags & FLOW_F_DECIDED) &&
		       quic_initial(p->payload, p->payload_len);
	return false;
}

static struct hold_slot *hold_start(struct hold *h, struct flow *f, const struct pkt *p,
				    uint64_t now_ms)
{
	struct hold_slot *s = NULL;

	for (uint32_t i = 0; i < h->n_slots && !s; i++)
		if (!h->slots[i].in_use)
			s = &h->slots[i];
	if (!s) {
		h->st.pool_full++;
		h->done[f->id & h->done_mask] = f->id; /* its first bytes are gone: no later hold */
		log_debug_rl("pool full (%u flows held): flow %u not held", h->st.active, f->id);
		return NULL;
	}
	s->in_use = true;
	s->flow = f;
	s->flow_id = f->id;
	s->tcp = p->l4_proto == IPPROTO_TCP;
	s->start_ms = now_ms;
	s->n_spans = s->n_frames = s->store_used = 0;
	s->name_kind = 0;
	s->name[0] = '\0';
	s->more = false;
	s->rounds = 0;
	s->sent_upto = 0;
	s->base = s->tcp ? rd32(p->l4 + 4) : 0;
	/*
	 * The first segment held is the request's start only if its sequence
	 * number says so: a segment sent (or sent again) out of order must not
	 * be taken for a request that is neither TLS nor HTTP.
	 */
	s->start_known = s->tcp && h->isn[f->id & HOLD_ISN_MASK].flow_id == f->id;
	s->start_seq = s->start_known ? h->isn[f->id & HOLD_ISN_MASK].seq : 0;
	s->first_is_start = s->start_known && s->base == s->start_seq;
	h->st.active++;
	h->st.holds++;
	return s;
}

static void hold_keep(struct hold_slot *s, const uint8_t *frame, uint32_t len, uint32_t tag,
		      const uint32_t aux[2])
{
	struct hold_held *fr = &s->frames[s->n_frames++];

	fr->off = s->store_used;
	fr->len = len;
	fr->tag = tag;
	fr->aux[0] = aux ? aux[0] : 0;
	fr->aux[1] = aux ? aux[1] : 0;
	memcpy(s->store + s->store_used, frame, len);
	s->store_used += len;
}

/* Add [lo, hi) to the sorted disjoint spans, merging what touches it. */
static void spans_add(struct hold_slot *s, uint32_t lo, uint32_t hi)
{
	uint32_t i = 0, j, n = s->n_spans;

	while (i < n && s->spans[i].hi < lo)
		i++;
	j = i;
	while (j < n && s->spans[j].lo <= hi) {
		if (s->spans[j].lo < lo)
			lo = s->spans[j].lo;
		if (s->spans[j].hi > hi)
			hi = s->spans[j].hi;
		j++;
	}
	/* spans[i..j) merge into one at i */
	if (j == i) {
		memmove(&s->spans[i + 1], &s->spans[i], (n - i) * sizeof(s->spans[0]));
		s->n_spans++;
	} else if (j > i + 1) {
		memmove(&s->spans[i + 1], &s->spans[j], (n - j) * sizeof(s->spans[0]));
		s->n_spans -= j - i - 1;
	}
	s->spans[i].lo = lo;
	s->spans[i].hi = hi;
}

/* 1: [lo, hi) all covered; -1: overlaps covered bytes that differ from d; 0: otherwise. */
static int spans_compare(const struct hold_slot *s, uint32_t lo, uint32_t hi, const uint8_t *d)
{
	uint32_t covered = 0;

	for (uint32_t i = 0; i < s->n_spans; i++) {
		uint32_t a = s->spans[i].lo > lo ? s->spans[i].lo : lo;
		uint32_t b = s->spans[i].hi < hi ? s->spans[i].hi : hi;

		if (a >= b)
			continue;
		if (memcmp(s->data + a, d + (a - lo), b - a) != 0)
			return -1;
		covered += b - a;
	}
	return covered == hi - lo ? 1 : 0;
}

static enum hold_result hold_parse(struct hold *h, struct hold_slot *s)
{
	uint32_t have = s->n_spans && s->spans[0].lo == 0 ? s->spans[0].hi : 0;
	enum hold_parse r;

	if (!have)
		return HOLD_HELD;
	r = hold_parse_tls(s->data, have, s->scratch, h->flow_bytes, s->name);
	if (r != HOLD_PARSE_NOT_MINE) {
		s->name_kind = HOLD_NAME_SNI;
	} else {
		r = hold_parse_http(s->data, have, s->name);
		s->name_kind = HOLD_NAME_HOST;
	}
	s->more = r == HOLD_PARSE_MORE;
	switch (r) {
	case HOLD_PARSE_FOUND:
		h->st.names++;
		return HOLD_NAME;
	case HOLD_PARSE_NONE:
		s->name_kind = 0;
		h->st.noname++;
		return HOLD_NONAME;
	case HOLD_PARSE_NOT_MINE:
		s->name_kind = 0;
		/* Not a request start: an earlier segment may still come, unless this was the first. */
		if (s->first_is_start) {
			h->st.noname++;
			return HOLD_NONAME;
		}
		return HOLD_HELD;
	default:
		s->name_kind = 0;
		return HOLD_HELD;
	}
}

/* The TCP part of hold_frame(): place the payload by its sequence number. */
static enum hold_result hold_tcp(struct hold *h, struct hold_slot *s, const struct pkt *p,
				 const uint8_t *frame, uint32_t len, uint32_t tag,
				 const uint32_t aux[2])
{
	int32_t off = (int32_t)(rd32(p->l4 + 4) - s->base);
	uint32_t plen = p->payload_len, top = s->n_spans ? s->spans[s->n_spans - 1].hi : 0;
	int cmp;

	if (off >= 0 && (uint32_t)off + plen <= s->sent_upto)
		return HOLD_PASS; /* a resend of bytes let go at a time limit: it passes as they did */
	if (off < 0 && s->sent_upto)
		goto size; /* before a start already let go: not this request */
	if (off < 0) {
		/* An earlier segment: move what is held up to make room before it. */
		uint32_t shift = (uint32_t)-(int64_t)off;

		if (off < -(int32_t)h->flow_bytes || (uint64_t)top + shift > h->flow_bytes)
			goto size;
		memmove(s->data + shift, s->data, top);
		for (uint32_t i = 0; i < s->n_spans; i++) {
			s->spans[i].lo += shift;
			s->spans[i].hi += shift;
		}
		s->base -= shift;
		off = 0;
	}
	if ((uint64_t)(uint32_t)off + plen > h->flow_bytes)
		goto size;
	cmp = spans_compare(s, (uint32_t)off, (uint32_t)off + plen, p->payload);
	if (cmp < 0) {
		h->st.conflicts++;
		log_debug_rl("flow %u: a segment at offset %d rewrites held bytes", s->flow_id, off);
		return HOLD_CONFLICT;
	}
	if (cmp > 0) {
		h->st.dups++;
		return HOLD_DUP;
	}
	if (s->n_frames >= HOLD_MAX_FRAMES || s->store_used + len > h->store_bytes)
		goto size;
	hold_keep(s, frame, len, tag, aux);
	memcpy(s->data + off, p->payload, plen);
	spans_add(s, (uint32_t)off, (uint32_t)off + plen);
	h->st.frames++;
	return hold_parse(h, s);

size:
	h->st.giveup_size++;
	log_debug_rl("flow %u: request beyond %u bytes or %d frames: let go unread", s->flow_id,
		     h->flow_bytes, HOLD_MAX_FRAMES);
	return HOLD_GIVEUP;
}

enum hold_result hold_frame(struct hold *h, struct flow *f, const struct pkt *p,
			    enum flow_dir dir, const uint8_t *frame, uint32_t len, uint32_t tag,
			    const uint32_t aux[2], uint64_t now_ms)
{
	struct hold_slot *s = hold_slot_of(h, f);

	if (!s) {
		if (!hold_candidate(h, f, p, dir))
			return HOLD_PASS;
		s = hold_start(h, f, p, now_ms);
		if (!s)
			return HOLD_PASS;
	}
	if (dir != FLOW_DIR_FWD || !p->payload_len)
		return HOLD_PASS;
	if (s->tcp) {
		if (p->l4_proto != IPPROTO_TCP)
			return HOLD_PASS;
		return hold_tcp(h, s, p, frame, len, tag, aux);
	}
	if (s->n_frames >= HOLD_MAX_FRAMES || s->store_used + len > h->store_bytes) {
		h->st.giveup_size++;
		return HOLD_GIVEUP;
	}
	hold_keep(s, frame, len, tag, aux);
	h->st.frames++;
	return HOLD_HELD;
}

const char *hold_name(const struct hold *h, const struct flow *f, enum hold_name_kind *kind)
{
	const struct hold_slot *s = hold_slot_of(h, f);

	if (!s || !s->name_kind)
		return NULL;
	if (kind)
		*kind = (enum hold_name_kind)s->name_kind;
	return s->name;
}

/* Hand s's frames to fn (dropped if gap) and forget them; the bytes read stay. */
static void hold_slot_release(struct hold_slot *s, hold_frame_fn fn, void *ctx, bool gap)
{
	for (uint32_t i = 0; i < s->n_frames && fn; i++) {
		const struct hold_held *hf = &s->frames[i];
		const struct hold_frame fr = {
			.data = s->store + hf->off,
			.len = hf->len,
			.tag = hf->tag,
			.aux = { hf->aux[0], hf->aux[1] },
			.drop = gap,
		};

		fn(&fr, ctx);
	}
	s->n_frames = 0;
	s->store_used = 0;
}

/* gap: dropped at the time limit for want of the request's start (hold_expire()). */
static void hold_slot_end(struct hold *h, struct hold_slot *s, hold_frame_fn fn, void *ctx,
			  bool gap)
{
	hold_slot_release(s, fn, ctx, gap);
	/* Dropped for want of its start: the resent request may be held again. */
	if (!gap)
		h->done[s->flow_id & h->done_mask] = s->flow_id;
	s->in_use = false;
	s->flow = NULL;
	h->st.active--;
}

bool hold_first(const struct hold *h, const struct flow *f, struct hold_frame *fr)
{
	const struct hold_slot *s = hold_slot_of(h, f);

	if (!s || !s->n_frames)
		return false;
	*fr = (struct hold_frame){
		.data = s->store + s->frames[0].off,
		.len = s->frames[0].len,
		.tag = s->frames[0].tag,
		.aux = { s->frames[0].aux[0], s->frames[0].aux[1] },
	};
	return true;
}

void hold_end(struct hold *h, const struct flow *f, bool release, hold_frame_fn fn, void *ctx)
{
	struct hold_slot *s = hold_slot_of(h, f);

	if (!s)
		return;
	if (release)
		h->st.released++;
	else
		h->st.dropped++;
	hold_slot_end(h, s, fn, ctx, false);
}

uint32_t hold_expire(struct hold *h, uint64_t now_ms, hold_frame_fn fn, void *ctx)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->n_slots && h->st.active; i++) {
		struct hold_slot *s = &h->slots[i];

		if (!s->in_use || now_ms - s->start_ms < h->time_ms)
			continue;
		if (s->tcp && s->start_known && s->base != s->start_seq) {
			/* Only later parts of the request came: its name may be in the part not seen. */
			log_debug_rl("flow %u: the request's start did not come within %u ms: %u frames "
				     "dropped", s->flow_id, h->time_ms, s->n_frames);
			h->st.gaps++;
			h->st.dropped++;
			hold_slot_end(h, s, fn, ctx, true);
			n++;
			continue;
		}
		if (s->tcp && s->more && s->rounds < HOLD_ROUNDS) {
			/*
			 * A request whose name has not come: what is held goes (the
			 * client may wait for its acknowledgement before sending the
			 * rest), and the rest is held and read from the same bytes.
			 */
			log_debug_rl("flow %u: no name within %u ms: %u frames let go, the rest held",
				     s->flow_id, h->time_ms, s->n_frames);
			h->st.waits++;
			hold_slot_release(s, fn, ctx, false);
			s->sent_upto = s->n_spans && !s->spans[0].lo ? s->spans[0].hi : 0;
			s->start_ms = now_ms;
			s->rounds++;
			continue;
		}
		log_debug_rl("flow %u: no name within %u ms: %u frames let go", s->flow_id, h->time_ms,
			     s->n_frames);
		h->st.giveup_time++;
		h->st.released++;
		hold_slot_end(h, s, fn, ctx, false);
		n++;
	}
	return n;
}

int64_t hold_next_expiry(const struct hold *h, uint64_t now_ms)
{
	int64_t best = -1;

	for (uint32_t i = 0; i < h->n_slots && h->st.active; i++) {
		const struct hold_slot *s = &h->slots[i];
		int64_t left;

		if (!s->in_use)
			continue;
		left = (int64_t)(s->start_ms + h->time_ms) - (int64_t)now_ms;
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	return best;
}

void hold_get_stats(const struct hold *h, struct hold_stats *st)
{
	*st = h->st;
}

/* ---------------------------------------------------------------- parsers */

static enum hold_parse copy_name(const uint8_t *src, size_t n, char *name)
{
	if (!n || n > HOLD_NAME_MAX || memchr(src, '\0', n))
		return HOLD_PARSE_NONE;
	memcpy(name, src, n);
	name[n] = '\0';
	return HOLD_PARSE_FOUND;
}

/*
 * The ClientHello body h[0..avail) of a handshake message of hlen bytes:
 * running out of avail before hlen is MORE, a length beyond hlen NONE.
 */
static enum hold_parse tls_hello(const uint8_t *h, size_t avail, size_t hlen, char *name)
{
	size_t pos = 0, end_ext;

#define NEED(k)                                                                  \
	do {                                                                     \
		if (pos + (k) > hlen)                                            \
			return HOLD_PARSE_NONE;                                  \
		if (pos + (k) > avail)                                           \
			return HOLD_PARSE_MORE;                                  \
	} while (0)

	NEED(2 + 32 + 1); /* legacy_version, random, session id length */
	pos += 34;
	pos += 1 + h[pos];
	NEED(2);
	pos += 2 + rd16(h + pos);
	NEED(1);
	pos += 1 + h[pos];
	if (pos == hlen)
		return HOLD_PARSE_NONE; /* no extensions */
	NEED(2);
	end_ext = pos + 2 + rd16(h + pos);
	pos += 2;
	if (end_ext > hlen)
		return HOLD_PARSE_NONE;
	while (pos + 4 <= end_ext) {
		uint32_t type, elen;
		size_t list_end;

		NEED(4);
		type = rd16(h + pos);
		elen = rd16(h + pos + 2);
		pos += 4;
		if (pos + elen > end_ext)
			return HOLD_PARSE_NONE;
		if (type != TLS_EXT_SERVER_NAME) {
			pos += elen;
			continue;
		}
		list_end = pos + elen;
		NEED(2);
		if (pos + 2 + rd16(h + pos) > list_end)
			return HOLD_PARSE_NONE;
		pos += 2;
		while (pos + 3 <= list_end) {
			uint32_t ntype, nlen;

			NEED(3);
			ntype = h[pos];
			nlen = rd16(h + pos + 1);
			pos += 3;
			if (pos + nlen > list_end)
				return HOLD_PARSE_NONE;
			NEED(nlen);
			if (ntype == TLS_SNI_HOST_NAME)
				return copy_name(h + pos, nlen, name);
			pos += nlen;
		}
		return HOLD_PARSE_NONE;
	}
	/* Not enough bytes for another extension header yet, or the list ended. */
	if (end_ext > avail)
		return HOLD_PARSE_MORE;
	return HOLD_PARSE_NONE;
#undef NEED
}

enum hold_parse hold_parse_tls(const uint8_t *buf, size_t len, uint8_t *scratch, size_t limit,
			       char *name)
{
	size_t pos = 0, n = 0, hlen;
	const uint8_t *hs;
	bool whole = true;

	if (!len)
		return HOLD_PARSE_MORE;
	if (buf[0] != TLS_RECORD_HANDSHAKE)
		return HOLD_PARSE_NOT_MINE;
	if (len >= 2 && buf[1] != 3)
		return HOLD_PARSE_NOT_MINE;
	/* One record holding the start of the handshake: read it in place. */
	if (len >= TLS_RECORD_HLEN && rd16(buf + 3) >= 4 && rd16(buf + 3) <= TLS_RECORD_MAX &&
	    len >= TLS_RECORD_HLEN + 4 && 4 + rd24(buf + TLS_RECORD_HLEN + 1) <= rd16(buf + 3)) {
		size_t rlen = rd16(buf + 3);

		hs = buf + TLS_RECORD_HLEN;
		n = len - TLS_RECORD_HLEN < rlen ? len - TLS_RECORD_HLEN : rlen;
	} else {
		/* Join the handshake fragments of consecutive records. */
		while (pos < len) {
			size_t rlen, take;

			if (len - pos < TLS_RECORD_HLEN)
				break; /* the next record's header is still to come */
			if (buf[pos] != TLS_RECORD_HANDSHAKE || buf[pos + 1] != 3)
				break;
			rlen = rd16(buf + pos + 3);
			if (!rlen || rlen > TLS_RECORD_MAX)
				return HOLD_PARSE_NONE;
			take = len - pos - TLS_RECORD_HLEN;
			if (take > rlen)
				take = rlen;
			else if (take < rlen)
				whole = false;
			if (n + take > limit)
				take = limit - n;
			memcpy(scratch + n, buf + pos + TLS_RECORD_HLEN, take);
			n += take;
			pos += TLS_RECORD_HLEN + rlen;
			if (n >= limit || !whole)
				break;
			if (n >= 4 && 4 + rd24(scratch + 1) <= n)
				break; /* the whole message is here */
		}
		hs = scratch;
	}
	if (n < 4)
		return HOLD_PARSE_MORE;
	if (hs[0] != TLS_HS_CLIENT_HELLO)
		return HOLD_PARSE_NONE;
	hlen = rd24(hs + 1);
	return tls_hello(hs + 4, n - 4, hlen, name);
}

static bool ieq_prefix(const uint8_t *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i] >= 'A' && p[i] <= 'Z' ? (uint8_t)(p[i] + 32) : p[i];

		if (c != (uint8_t)lit[i])
			return false;
	}
	return true;
}

static enum hold_parse http_host_value(const uint8_t *v, size_t n, char *name)
{
	size_t end;

	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n && v[0] == '[') {
		const uint8_t *close = memchr(v, ']', n);

		return close ? copy_name(v + 1, (size_t)(close - v) - 1, name) : HOLD_PARSE_NONE;
	}
	/* Drop a trailing ":port". */
	end = n;
	while (end && v[end - 1] >= '0' && v[end - 1] <= '9')
		end--;
	if (end && end < n && v[end - 1] == ':')
		n = end - 1;
	return copy_name(v, n, name);
}

enum hold_parse hold_parse_http(const uint8_t *buf, size_t len, char *name)
{
	const uint8_t *nl;
	size_t pos;
	int m = http_method(buf, len);

	if (m < 0)
		return HOLD_PARSE_NOT_MINE;
	if (!m)
		return HOLD_PARSE_MORE;
	nl = memchr(buf, '\n', len);
	if (!nl)
		return HOLD_PARSE_MORE;
	pos = (size_t)(nl - buf) + 1;
	while (pos < len) {
		size_t eol, n;

		nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return HOLD_PARSE_MORE;
		eol = (size_t)(nl - buf);
		n = eol - pos;
		if (n && buf[pos + n - 1] == '\r')
			n--;
		if (!n)
			return HOLD_PARSE_NONE; /* end of the header: no Host */
		if (ieq_prefix(buf + pos, n, "host:"))
			return http_host_value(buf + pos + 5, n - 5, name);
		pos = eol + 1;
	}
	return HOLD_PARSE_MORE;
}

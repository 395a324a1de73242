/*
 * Hold: the first bytes of a client's TLS or HTTP request kept back until
 * the name they carry (TLS SNI, HTTP Host) is known, so that no segment
 * carrying part of a blocked name, or the rest of a blocked request, leaves
 * the gateway before the name was judged.
 *
 * A hold is per flow and bounded three ways (Kconfig): the bytes of one
 * flow's request (CONFIG_HOLD_FLOW_BYTES), the pool every hold comes from
 * (CONFIG_HOLD_POOL_KB: a fixed number of slots allocated at start) and the
 * time one flow may be held (CONFIG_HOLD_TIME_MS). When the pool is full a
 * new flow is not held (counted) rather than a held one let go: what is held
 * is exactly what has been promised to be judged.
 *
 * TCP: the client's segments are reassembled by sequence number from the
 * lowest one seen (an earlier one arriving late moves the start back), so
 * out-of-order, retransmitted and overlapping segments are handled (where
 * the request starts is known from the client's SYN, hold_note_syn(): a
 * segment that arrives before the start is held, not taken for a request
 * that is not TLS or HTTP, and when the time limit passes with the start
 * still missing the held segments are dropped, for the client to resend,
 * rather than let go: sending a request's second half first and its first
 * half later cannot outwait the hold; and when the limit passes with a
 * request begun but its name not reached, the frames held go, since the
 * client may wait for their acknowledgement, and the rest is still held and
 * read from the same bytes, for up to three limits); a
 * retransmission of bytes already held is reported (HOLD_DUP) so the mode
 * drops the copy, and an overlap whose bytes differ from those held (the
 * trick that makes a gateway and a server see two different requests) ends
 * the hold as HOLD_CONFLICT. The contiguous bytes from the start are parsed
 * with the small bounded parsers below (hold_parse_tls, hold_parse_http).
 *
 * UDP (QUIC Initials on port 443): frames are only kept; nDPI reassembles the
 * ClientHello across Initials, and the mode ends the hold once the flow's
 * name is judged or DPI has decided.
 *
 * The module only keeps frames and says what it found; the mode (app/)
 * judges the name, then releases the frames in arrival order or drops them.
 */
#ifndef TG_HOLD_H
#define TG_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/decode.h"
#include "packet/flow.h"

/* Frames one flow may hold (a ClientHello of CONFIG_HOLD_FLOW_BYTES in small segments). */
#define HOLD_MAX_FRAMES 32
/*
 * A hold starts only among a flow's first client packets (SYN, ACK, the
 * first segments of the request, a few out of order): later segments
 * belong to a request that was already judged or given up.
 */
#define HOLD_START_PACKETS 8
/* Longest name kept: a DNS name (RFC 1035 2.3.4). */
#define HOLD_NAME_MAX 255

enum hold_result {
	HOLD_PASS = 0,   /* not held: go on as without a hold */
	HOLD_HELD,       /* the frame is kept; the name is not known yet */
	HOLD_DUP,        /* only bytes already held (retransmission): drop this copy */
	HOLD_NAME,       /* the frame is kept and the name is known: hold_name() */
	HOLD_NONAME,     /* the frame is kept; the request carries no name */
	HOLD_GIVEUP,     /* not kept: a byte or frame limit was reached; end the hold and
			  * handle this frame as without one */
	HOLD_CONFLICT,   /* not kept: it overlaps held bytes with other bytes */
};

/* What a parser made of the bytes from the start of a request. */
enum hold_parse {
	HOLD_PARSE_MORE = 0, /* a request of this kind so far, the name not reached */
	HOLD_PARSE_FOUND,    /* name[] filled */
	HOLD_PARSE_NONE,     /* a whole request without a name, or malformed */
	HOLD_PARSE_NOT_MINE, /* not this protocol */
};

/* Which name a hold found. */
enum hold_name_kind {
	HOLD_NAME_SNI = 1,
	HOLD_NAME_HOST,
};

struct hold_config {
	uint32_t flow_bytes;  /* 0 = CONFIG_HOLD_FLOW_BYTES */
	uint32_t pool_bytes;  /* 0 = CONFIG_HOLD_POOL_KB * 1024 */
	uint32_t time_ms;     /* 0 = CONFIG_HOLD_TIME_MS */
};

struct hold_stats {
	uint64_t holds;        /* flows held */
	uint64_t frames;       /* frames held */
	uint64_t dups;         /* retransmitted copies dropped while held */
	uint64_t released;     /* holds ended by letting the frames go */
	uint64_t dropped;      /* holds ended by dropping the frames (blocked, conflict) */
	uint64_t names;        /* names found by the parsers */
	uint64_t noname;       /* requests without a name */
	uint64_t giveup_time;  /* time limit */
	uint64_t giveup_size;  /* byte or frame limit */
	uint64_t conflicts;    /* overlaps with different bytes */
	uint64_t gaps;         /* time limit passed with the request's start missing: dropped */
	uint64_t waits;        /* time limit passed mid-request: held frames let go, the rest held */
	uint64_t pool_full;    /* flows not held: every slot in use */
	uint32_t active, slots;
};

/* A held frame, as handed back by hold_end() and hold_expire(). */
struct hold_frame {
	const uint8_t *data;
	uint32_t len;
	uint32_t tag;          /* the caller's, e.g. the nfqueue packet id */
	uint32_t aux[2];       /* the caller's, e.g. ports */
	bool drop;             /* hold_expire(): drop it, the request's start never came */
};

typedef void (*hold_frame_fn)(const struct hold_frame *fr, void *ctx);

struct hold;

/* Returns NULL (errno set) when the pool cannot be allocated. */
struct hold *hold_new(const struct hold_config *cfg);
void hold_free(struct hold *h);

/*
 * Note where the client's request will start: p is a SYN without ACK from
 * f's initiator (anything else is ignored). Kept in a small table by flow
 * id; a flow whose entry was overwritten (a SYN flood) is held as one whose
 * start is unknown: released at the time limit.
 */
void hold_note_syn(struct hold *h, const struct flow *f, const struct pkt *p, enum flow_dir dir);

/* Is f being held now? */
bool hold_active(const struct hold *h, const struct flow *f);

/*
 * Would frame p (direction dir of f) start a hold: a client segment with
 * payload on a TCP flow to port 80, 443, 8080 or 8443 or whose payload
 * starts like a TLS handshake or an HTTP request, or a QUIC v1 or v2
 * Initial (padded to 1200 bytes) to UDP port 443 that DPI has not decided; the name not judged yet
 * (FLOW_F_HOST_CHECKED clear), among the flow's first HOLD_START_PACKETS
 * client packets, and not a flow whose hold already ended.
 */
bool hold_candidate(const struct hold *h, const struct flow *f, const struct pkt *p,
		    enum flow_dir dir);

/*
 * Keep frame (len bytes, decoded as p) of f: starts a hold when f has none
 * and hold_candidate() says so. Returns HOLD_PASS when the frame was not
 * kept (not a candidate, pool full, not a client segment with payload).
 * After HOLD_NAME, HOLD_NONAME, HOLD_GIVEUP and HOLD_CONFLICT the caller
 * ends the hold with hold_end() (after HOLD_GIVEUP and HOLD_CONFLICT the
 * frame is not among the held ones: the caller sends or drops it itself).
 */
enum hold_result hold_frame(struct hold *h, struct flow *f, const struct pkt *p,
			    enum flow_dir dir, const uint8_t *frame, uint32_t len, uint32_t tag,
			    const uint32_t aux[2], uint64_t now_ms);

/* The name found (valid until hold_end()), or NULL. */
const char *hold_name(const struct hold *h, const struct flow *f, enum hold_name_kind *kind);

/* The first frame f holds (valid until the hold ends); false if none. */
bool hold_first(const struct hold *h, const struct flow *f, struct hold_frame *fr);

/*
 * End f's hold: fn is called for each held frame in arrival order (the
 * frame is valid during the call), then the slot is freed and the flow is
 * not held again. release says how it ended, for the counters (true: the
 * frames were let go; false: dropped). Does nothing if f is not held.
 */
void hold_end(struct hold *h, const struct flow *f, bool release, hold_frame_fn fn, void *ctx);

/*
 * Give up every hold older than the time limit at now_ms: its frames are
 * handed to fn (to be let go), in arrival order, hold by hold. Returns how
 * many holds ended. The flow of an expired hold may no longer exist.
 */
uint32_t hold_expire(struct hold *h, uint64_t now_ms, hold_frame_fn fn, void *ctx);

/* Milliseconds until the next hold would expire at now_ms, or -1 if none is held. */
int64_t hold_next_expiry(const struct hold *h, uint64_t now_ms);

void hold_get_stats(const struct hold *h, struct hold_stats *st);

/*
 * The parsers, over the contiguous bytes from the start of a request
 * (exposed for tests and the fuzzer). name must have HOLD_NAME_MAX + 1
 * bytes; a found name is NUL-terminated, at most HOLD_NAME_MAX bytes, with
 * no trailing port for HTTP.
 *
 * TLS: records of type handshake (22), their fragments joined in scratch
 * (limit bytes: a ClientHello may span records), then the ClientHello's
 * server_name extension (host_name type).
 * HTTP: a request line starting with a method, then header lines; the
 * first Host header (case-insensitive), its value trimmed.
 */
enum hold_parse hold_parse_tls(const uint8_t *buf, size_t len, uint8_t *scratch, size_t limit,
			       char *name);
enum hold_parse hold_parse_http(const uint8_t *buf, size_t len, char *name);

#endif

/*
 * From the spool to the wire; see batch.h.
 *
 * A message is built by taking records from the spool one by one while the
 * JSON lines fit (compressed) in the publisher's largest payload; the one
 * that does not fit is given back to the spool for the next message. JSON
 * lines are only compressed to check once they pass that size raw: below it
 * the frame is smaller than the text (zstd adds at most a few bytes to
 * incompressible input, kept as a margin).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#define LOG_MODULE "batch"
#include "core/common.h"
#include "core/log.h"
#include "report/batch.h"
#include "report/journal.h"
#include "report/record.h"

/* zstd's frame header and a block header: what it may add to incompressible text. */
#define ZSTD_MARGIN 32
/* After a failed publish, wait before trying again (the uplink is probably going down). */
#define BATCH_RETRY_MS 1000

struct msg {
	bool busy, acked;
	uint32_t token;
	enum report_kind kind;
	uint64_t last_seq;
	size_t nrec;
	char *lines;                      /* the JSON lines as sent, for the journal */
	size_t lines_len, wire_len;
	uint64_t order;                   /* publish order, to ack a kind's messages in turn */
};

struct batch {
	struct spool *sp;
	struct batch_ops ops;
	struct batch_config cfg;
	struct journal *journal;
	ZSTD_CCtx *cctx;
	uint8_t *out;                     /* one message, cfg.max_msg bytes */
	struct msg m[BATCH_INFLIGHT];
	uint32_t gen;                     /* bumped by a rewind: older tokens are stale */
	uint64_t order;
	bool connected;
	double tokens;                    /* bytes the rate allows now (may be negative) */
	uint64_t held_since_ms;           /* when summaries or assets began to wait (0: none do) */
	bool release;                     /* held kinds go now, until none is left */
	bool ticked;                      /* batch_tick() ran before */
	uint64_t last_ms, retry_at_ms;
	struct batch_stats st;
};

/* ------------------------------------------------------------ encoding */

/*
 * One frame with the records' dictionary. zstd sizes its tables from the
 * text and the dictionary each call (a CDict made once would take the
 * level's tables for an unknown size: hundreds of KB for 16 KB messages).
 */
static long encode_lines(ZSTD_CCtx *cctx, const char *lines, size_t len, uint8_t *out, size_t cap)
{
	ZSTD_CCtx *own = cctx ? NULL : ZSTD_createCCtx();
	size_t dlen = 0, n;
	const void *dict = batch_dict(REPORT_DICT_ID, &dlen);

	if (!cctx && !own)
		return -ENOMEM;
	n = ZSTD_compress_usingDict(cctx ? cctx : own, out, cap, lines, len, dict, dlen, BATCH_ZSTD_LEVEL);
	ZSTD_freeCCtx(own);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? -EMSGSIZE : -EIO;
	return (long)n;
}

/* Append rec's JSON and a newline to *buf. Returns 0 or -ENOMEM. */
static int add_line(char **buf, size_t *len, size_t *cap, const json_t *rec)
{
	size_t n = 0;
	char *js = record_dumps(rec, &n);

	if (!js)
		return -ENOMEM;
	if (*len + n + 2 > *cap) {
		size_t c = (*len + n + 2) * 2;
		char *b = realloc(*buf, c);

		if (!b) {
			free(js);
			return -ENOMEM;
		}
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, js, n);
	(*buf)[*len + n] = '\n';
	*len += n + 1;
	(*buf)[*len] = '\0';
	free(js);
	return 0;
}

long batch_encode(json_t *const *recs, size_t n, uint8_t *out, size_t cap)
{
	char *lines = NULL;
	size_t len = 0, lcap = 0;
	long ret;

	for (size_t i = 0; i < n; i++)
		if (add_line(&lines, &len, &lcap, recs[i]) < 0) {
			free(lines);
			return -ENOMEM;
		}
	ret = encode_lines(NULL, lines ? lines : "", len, out, cap);
	free(lines);
	return ret;
}

char *batch_decode(const void *msg, size_t len, size_t *out_len)
{
	unsigned long long n = ZSTD_getFrameContentSize(msg, len);
	const void *dict = NULL;
	size_t got, dlen = 0;
	ZSTD_DCtx *dctx;
	unsigned dict_id;
	char *buf;

	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (64u << 20))
		return NULL;
	dict_id = ZSTD_getDictID_fromFrame(msg, len);
	if (dict_id && !(dict = batch_dict(dict_id, &dlen)))
		return NULL;  /* a dictionary this firmware does not have */
	buf = malloc((size_t)n + 1);
	dctx = ZSTD_createDCtx();
	if (!buf || !dctx) {
		free(buf);
		ZSTD_freeDCtx(dctx);
		return NULL;
	}
	got = ZSTD_decompress_usingDict(dctx, buf, (size_t)n, msg, len, dict, dlen);
	ZSTD_freeDCtx(dctx);
	if (ZSTD_isError(got) || got != n) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	*out_len = got;
	return buf;
}

/* The longest non-empty array in the tree under v, or NULL. */
static json_t *longest_array(json_t *v, size_t *best)
{
	json_t *found = NULL, *x;
	const char *key;
	size_t i;

	if (json_is_array(v)) {
		if (json_array_size(v) > *best) {
			*best = json_array_size(v);
			found = v;
		}
		json_array_foreach(v, i, x) {
			json_t *f = longest_array(x, best);

			if (f)
				found = f;
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, x) {
			json_t *f = longest_array(x, best);

			if (f)
				found = f;
		}
	}
	return found;
}

static void set_cut(json_t *rec, long removed)
{
	json_t *tg = json_object_get(rec, "tg");

	if (!json_is_object(tg)) {
		tg = json_object();
		json_object_set_new(rec, "tg", tg);
	}
	json_object_set_new(tg, "cut", json_integer(removed));
}

long batch_cut(json_t *rec, size_t cap)
{
	/* the fields a record keeps when nothing else can go (record.h's envelope) */
	static const char *const keep[] = { "@timestamp", "ecs", "event", "observer",
					    "organization", "labels", "tg" };
	uint8_t *out = malloc(cap);
	long removed = 0, n;

	if (!out)
		return -ENOMEM;
	while ((n = batch_encode(&rec, 1, out, cap)) == -EMSGSIZE) {
		size_t len = 0;
		json_t *a = longest_array(rec, &len);

		if (a) {
			size_t keepn = len / 2;

			while (json_array_size(a) > keepn)
				json_array_remove(a, json_array_size(a) - 1);
			removed += (long)(len - keepn);
		} else {
			const char *key;
			json_t *v, *tmp;
			bool gone = false;

			json_object_foreach_safe(rec, tmp, key, v) {
				bool kept = false;

				for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
					kept |= !strcmp(key, keep[i]);
				if (!kept) {
					json_object_del(rec, key);
					removed++;
					gone = true;
				}
			}
			if (!gone) {
				n = -EMSGSIZE; /* the envelope alone is too large: cap is absurd */
				break;
			}
		}
		set_cut(rec, removed);
	}
	free(out);
	return n < 0 ? n : removed;
}

/* ------------------------------------------------------------ sending */

int batch_new(struct batch **out, struct spool *sp, const struct batch_ops *ops,
	      const struct batch_config *cfg, struct journal *journal)
{
	struct batch *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->sp = sp;
	b->ops = *ops;
	b->cfg = *cfg;
	b->journal = journal;
	b->cctx = ZSTD_createCCtx();
	b->out = malloc(cfg->max_msg);
	if (!b->cctx || !b->out) {
		batch_free(b);
		return -ENOMEM;
	}
	b->tokens = cfg->drain_bps;
	*out = b;
	return 0;
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < BATCH_INFLIGHT; i++)
		free(b->m[i].lines);
	ZSTD_freeCCtx(b->cctx);
	free(b->out);
	free(b);
}

static void forget_all(struct batch *b)
{
	for (int i = 0; i < BATCH_INFLIGHT; i++) {
		free(b->m[i].lines);
		memset(&b->m[i], 0, sizeof(b->m[i]));
	}
	b->gen++;
	b->release = true; /* what was sent goes again without waiting */
	spool_rewind(b->sp);
}

/* Give back to the spool the records of a message that was not sent. */
static void give_back(struct batch *b, enum report_kind kind, size_t n)
{
	while (n--)
		spool_unnext(b->sp, kind);
}

/* A record of kind as JSON, with tg.replayed as it goes now. */
static json_t *load(const struct spool_rec *r)
{
	json_t *j = json_loadb(r->json, r->len, 0, NULL), *tg;

	if (!json_is_object(j)) {
		/* intact on flash (its CRC checks) but not an object: sent as text, not lost */
		log_warn("%s record tg.seq %" PRIu64 " is not a JSON object: sent as tg.raw",
			 spool_kind_name(r->kind), r->seq);
		json_decref(j);
		j = json_pack("{s:{s:I, s:s%}}", "tg", "seq", (json_int_t)r->seq, "raw", r->json, r->len);
		if (!j)
			return NULL;
	}
	tg = json_object_get(j, "tg");
	if (json_is_object(tg))
		json_object_set_new(tg, "replayed", json_boolean(r->replayed));
	return j;
}

/*
 * Build the next message of kind into slot s: 1 (s->lines, and b->out with
 * s->wire_len bytes), 0 nothing to send, -errno. Records are added while the
 * compressed lines fit; the first that does not is given back, unless it is
 * alone, and then it is cut.
 */
static int build(struct batch *b, struct msg *s, enum report_kind kind)
{
	size_t cap = 0, nrec = 0, max = b->cfg.max_msg;
	bool packed = false;              /* b->out holds the current lines, compressed */
	long wire = 0;
	struct spool_rec r;

	s->lines_len = 0;
	while (nrec < BATCH_RECORDS_MAX && spool_next(b->sp, kind, &r) == 1) {
		size_t before = s->lines_len;
		json_t *j = load(&r);
		uint64_t seq = r.seq;

		spool_rec_free(&r);
		if (!j || add_line(&s->lines, &s->lines_len, &cap, j) < 0) {
			json_decref(j);
			spool_unnext(b->sp, kind);
			break;
		}
		packed = false;
		if (s->lines_len + ZSTD_MARGIN > max) {
			wire = encode_lines(b->cctx, s->lines, s->lines_len, b->out, max);
			packed = wire >= 0;
			if (wire == -EMSGSIZE && nrec) {
				/* this one starts the next message */
				s->lines_len = before;
				spool_unnext(b->sp, kind);
				json_decref(j);
				break;
			}
			if (wire == -EMSGSIZE) {
				long cut = batch_cut(j, max);

				if (cut < 0) {
					log_err("%s record tg.seq %" PRIu64 " cannot be cut to %zu bytes",
						spool_kind_name(kind), seq, max);
					json_decref(j);
					spool_unnext(b->sp, kind);
					return -EMSGSIZE;
				}
				log_warn("%s record tg.seq %" PRIu64 " too large for a message of %zu bytes: "
					 "%ld entries cut (tg.cut)", spool_kind_name(kind), seq, max, cut);
				b->st.cut++;
				s->lines_len = 0;
				if (add_line(&s->lines, &s->lines_len, &cap, j) < 0) {
					json_decref(j);
					spool_unnext(b->sp, kind);
					return -ENOMEM;
				}
				packed = false;
			}
		}
		json_decref(j);
		s->last_seq = seq;
		nrec++;
		if (wire == -EMSGSIZE)
			break; /* a cut record goes alone */
	}
	if (!nrec)
		return 0;
	if (!packed)
		wire = encode_lines(b->cctx, s->lines, s->lines_len, b->out, max);
	if (wire < 0) {
		give_back(b, kind, nrec);
		return (int)wire;
	}
	s->nrec = nrec;
	s->kind = kind;
	s->wire_len = (size_t)wire;
	return 1;
}

/* The kinds that wait for more of them (batch.h). */
#define HELD_KINDS (1u << REPORT_SUMMARY | 1u << REPORT_ASSET)

/*
 * Whether summaries and assets go now: once the oldest of them has waited
 * hold_ms; at once when they were there at the first tick (from an earlier
 * run), after an outage or a failed publish, and on batch_flush().
 */
static void hold(struct batch *b, uint64_t now_ms)
{
	bool waiting = spool_peek_seq(b->sp, REPORT_SUMMARY) || spool_peek_seq(b->sp, REPORT_ASSET);

	if (!waiting) {
		b->held_since_ms = 0;
		b->release = false;
		return;
	}
	if (!b->ticked)
		b->release = true; /* on flash from before this start */
	if (!b->held_since_ms)
		b->held_since_ms = now_ms ? now_ms : 1;
	if (now_ms - b->held_since_ms >= b->cfg.hold_ms)
		b->release = true;
}

void batch_flush(struct batch *b)
{
	b->release = true;
}

static void send_some(struct batch *b, uint64_t now_ms)
{
	unsigned int may_go = b->release ? SPOOL_ALL_KINDS : SPOOL_ALL_KINDS & ~HELD_KINDS;

	while (b->tokens > 0 && now_ms >= b->retry_at_ms) {
		struct msg *s = NULL;
		enum report_kind kind;
		int ret;

		for (int i = 0; i < BATCH_INFLIGHT; i++)
			if (!b->m[i].busy) {
				s = &b->m[i];
				break;
			}
		if (!s || spool_next_kind(b->sp, may_go, &kind) < 0)
			return;
		ret = build(b, s, kind);
		if (ret <= 0)
			return;
		s->token = b->gen << 8 | (uint32_t)(s - b->m);
		ret = b->ops.publish(b->ops.ctx, kind, b->out, s->wire_len, s->token);
		if (ret < 0) {
			give_back(b, kind, s->nrec);
			if (ret != -EAGAIN) {
				b->st.failures++;
				b->retry_at_ms = now_ms + BATCH_RETRY_MS;
			}
			return;
		}
		s->busy = true;
		s->acked = false;
		s->order = ++b->order;
		b->tokens -= (double)s->wire_len;
	}
	if (b->tokens <= 0)
		b->st.throttled++;
}

void batch_tick(struct batch *b, uint64_t now_ms, bool connected)
{
	double burst = b->cfg.drain_bps > b->cfg.max_msg ? b->cfg.drain_bps : (double)b->cfg.max_msg;

	if (b->last_ms && now_ms > b->last_ms)
		b->tokens += (double)b->cfg.drain_bps * (double)(now_ms - b->last_ms) / 1000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	hold(b, now_ms);
	b->ticked = true;
	b->last_ms = now_ms;
	spool_set_online(b->sp, connected);
	if (!connected) {
		if (b->connected)
			forget_all(b); /* their PUBACKs will never come: sent again once connected */
		b->connected = false;
		return;
	}
	if (!b->connected)
		b->release = true; /* what waited through the outage goes now */
	b->connected = true;
	send_some(b, now_ms);
	hold(b, now_ms); /* all of them sent: the next ones wait */
}

/* Acknowledge, in publish order per kind, every acked message with no unacked one before it. */
static void settle(struct batch *b)
{
	for (;;) {
		struct msg *first = NULL;

		for (int i = 0; i < BATCH_INFLIGHT; i++)
			if (b->m[i].busy && (!first || b->m[i].order < first->order))
				first = &b->m[i];
		if (!first || !first->acked)
			return;
		if (spool_ack(b->sp, first->kind, first->last_seq) < 0)
			log_warn("the PUBACK of %zu %s record(s) is not on flash: they may be sent again",
				 first->nrec, spool_kind_name(first->kind));
		if (b->journal)
			journal_append(b->journal, first->lines, first->lines_len);
		b->st.messages++;
		b->st.records += first->nrec;
		b->st.bytes_json += first->lines_len;
		b->st.bytes_wire += first->wire_len;
		first->busy = false;
	}
}

void batch_done(struct batch *b, uint32_t token, bool ok)
{
	struct msg *s;

	if (token >> 8 != (b->gen & 0xffffff) || (token & 0xff) >= BATCH_INFLIGHT)
		return; /* from before a rewind: those records are being sent again */
	s = &b->m[token & 0xff];
	if (!s->busy || s->token != token)
		return;
	if (!ok) {
		log_warn("%zu %s record(s) not acknowledged by the broker: sending again",
			 s->nrec, spool_kind_name(s->kind));
		b->st.failures++;
		forget_all(b);
		return;
	}
	s->acked = true;
	settle(b);
}

void batch_get_stats(const struct batch *b, struct batch_stats *st)
{
	*st = b->st;
}

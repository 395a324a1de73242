/*
 * Interval summaries (summary.h).
 *
 * The cost that matters is per flow end (a gateway ends thousands of flows a
 * second, and a replay with reports must stay within 5% of one without:
 * docs/benchmarks.md "replay cost of reports"), so a flow's end does as
 * little as it can:
 *
 * - Applications and categories are counted in arrays indexed directly by
 *   the nDPI id (a uint16_t: every id has its slot, so nothing is hashed and
 *   nothing overflows), with the list of ids counted this interval so that
 *   clearing and the record touch only those. The arrays are calloc'ed
 *   whole, but only the pages of ids that occur are ever touched.
 * - Hosts and destinations (keys a host on the wire chooses: an address, a
 *   name) are found by SipHash with a key of the run's, one hash per key
 *   per flow end, open-addressed over SUM_TAGS 4-byte tags (the hash, and
 *   where the entry is), so a probe reads a key only where its tag
 *   matches; the entries themselves lie in the order they came, at most
 *   SUM_KEYS of them. The tags are at most 3/8 full, so even a key that
 *   is not there (the common case once a table is full, every flow of a
 *   scan or a DNS flood) is known absent after a probe or two. Each is
 *   cleared when its interval's record is made. A table that is full
 *   counts what does not fit in its overflow bucket, which joins `other`
 *   in the record: the parts still add up.
 *
 * Flows that live across an interval's end need what was already counted of
 * them: the carry table (flow id, bytes and packets counted) holds one entry
 * per flow that was open at an interval's end, made at the end of the
 * interval (never per packet) and removed when the flow ends. It is
 * open-addressed on the flow id (a creation counter, which no host chooses,
 * so a multiplicative hash spreads it) and grows to keep at most half full;
 * a flow's end looks into it only when it holds anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "summary"
#include "core/common.h"
#include "core/log.h"
#include "core/siphash.h"
#include "packet/dpi.h"
#include "policy/bundle.h"
#include "report/summary.h"

/*
 * 3072 entries per table (about 340 KiB each): a 200-host office talks to
 * a few thousand destinations a minute; beyond that, "other". Twice as
 * many tags as there were slots (8192, 48 KiB with their entry numbers).
 */
#define SUM_KEYS 3072
#define SUM_TAGS 8192
#define SUM_KEY_MAX 84
/* nDPI protocol and category ids are uint16_t: one slot each. */
#define SUM_IDS 65536
/* Rule and bundle pairs counted per interval; more go to one overflow count. */
#define SUM_MAX_BLOCKS 256
/* The carry table's first size (a power of two); it doubles past half full. */
#define SUM_CARRY_MIN 1024
/* A replay that jumps this many intervals (a gap in a capture) writes the last one only. */
#define SUM_MAX_EMPTY 1440

enum sum_key_kind {
	SK_NONE = 0,
	SK_ADDR4, SK_ADDR6, /* an address */
	SK_QUERY,           /* a DNS query name (privacy: queries) */
	SK_NAME,            /* a server name: TLS SNI, HTTP Host */
	SK_ID,              /* an nDPI protocol or category id */
};

/* Only kind, len and b[0..len) mean anything: the rest is never read. */
struct sum_key {
	uint8_t kind;
	uint8_t len;
	uint8_t b[SUM_KEY_MAX];
};

struct sum_count {
	uint64_t bytes, packets, flows;
};

struct sum_entry {
	struct sum_count c;
	struct sum_key key;
};

/*
 * tag[i] is the hash of entry at[i], 0 when position i is free (a hash of 0
 * is kept as 1): a probe walks these 4-byte tags, 16 to a cache line, and
 * reads an entry only where its tag matches. entry[0..used) in the order
 * they came.
 */
struct sum_table {
	struct sum_entry *entry;
	uint32_t *tag;
	uint16_t *at;
	uint32_t used;
	struct sum_count overflow; /* what found no room */
	uint32_t overflow_keys;    /* ... and how many times */
};

/* Counts by nDPI id; ids[0..n) are those counted (c[id].flows > 0) in first-counted order. */
struct sum_ids {
	struct sum_count *c;
	uint16_t *ids;
	uint32_t n;
};

struct sum_block {
	uint32_t rule;
	uint8_t action;
	uint64_t serial, count;
};

struct sum_carry {
	uint64_t bytes;
	uint32_t id;
	uint32_t packets;
	bool used;
};

enum { T_HOSTS = 0, T_DESTS, T_MAX };

struct summary {
	struct summary_config cfg;
	struct pipeline *pl;
	uint8_t hkey[16];
	struct sum_table t[T_MAX];
	struct sum_ids apps, cats;
	struct sum_count total;
	uint64_t risks[64];
	struct sum_block blocks[SUM_MAX_BLOCKS];
	uint32_t n_blocks;
	uint64_t blocks_other;
	struct sum_carry *carry;   /* carry_cap slots, a power of two; NULL until needed */
	uint32_t carry_cap, carry_n;
	bool started;
	uint64_t start_ms; /* the interval under way: [start_ms, start_ms + interval) */
	bool dirty;        /* counted anything since start_ms */
	uint64_t inv_added_seen;   /* summary_health.inventory_added at the last record */
};

static void sum_count_add(struct sum_count *c, uint64_t bytes, uint64_t packets, bool new_flow)
{
	c->bytes += bytes;
	c->packets += packets;
	c->flows += new_flow;
}

static void sum_table_add(struct summary *s, struct sum_table *t, const struct sum_key *k,
			  uint64_t bytes, uint64_t packets)
{
	uint32_t h = (uint32_t)siphash24(s->hkey, k, 2u + k->len);
	uint32_t i = h % SUM_TAGS;

	h = h ? h : 1;
	for (;; i = (i + 1) % SUM_TAGS) {
		struct sum_entry *e;

		if (!t->tag[i]) {
			if (t->used >= SUM_KEYS)
				break;
			t->tag[i] = h;
			t->at[i] = (uint16_t)t->used;
			e = &t->entry[t->used++];
			memcpy(&e->key, k, 2u + k->len);
			e->c = (struct sum_count){ 0 };
		} else if (t->tag[i] != h) {
			continue;
		} else {
			e = &t->entry[t->at[i]];
			if (e->key.kind != k->kind || e->key.len != k->len || memcmp(e->key.b, k->b, k->len) != 0)
				continue;
		}
		sum_count_add(&e->c, bytes, packets, true);
		return;
	}
	sum_count_add(&t->overflow, bytes, packets, true);
	t->overflow_keys++;
}

/*
 * An entry is written whole when it is taken (sum_table_add), so only the
 * tags are cleared, never the entries. Only a table that was written to.
 */
static void sum_table_clear(struct sum_table *t)
{
	if (t->used)
		memset(t->tag, 0, SUM_TAGS * sizeof(*t->tag));
	t->used = 0;
	memset(&t->overflow, 0, sizeof(t->overflow));
	t->overflow_keys = 0;
}

static void sum_ids_add(struct sum_ids *x, uint16_t id, uint64_t bytes, uint64_t packets)
{
	struct sum_count *c = &x->c[id];

	if (!c->flows)
		x->ids[x->n++] = id;
	sum_count_add(c, bytes, packets, true);
}

static void sum_ids_clear(struct sum_ids *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		memset(&x->c[x->ids[i]], 0, sizeof(x->c[0]));
	x->n = 0;
}

bool summary_is_internal(const union ip_addr *a, int ip_version)
{
	const uint8_t *b = a->b;

	if (ip_version == 4)
		return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) ||
		       (b[0] == 100 && (b[1] & 0xc0) == 64);
	/* fc00::/7 (unique local), fe80::/10 (link-local), ::1 */
	if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
		return true;
	for (int i = 0; i < 15; i++)
		if (b[i])
			return false;
	return b[15] == 1;
}

static void sum_key_addr(struct sum_key *k, const union ip_addr *a, int ip_version)
{
	k->kind = ip_version == 4 ? SK_ADDR4 : SK_ADDR6;
	k->len = ip_version == 4 ? 4 : 16;
	memcpy(k->b, a->b, k->len);
}

/* The destination of f: the name it was for where there is one, else its remote address. */
static void sum_key_dest(struct sum_key *k, const struct flow *f, const union ip_addr *remote)
{
	const char *host = NULL;
	enum dpi_host_kind hk = dpi_host(f, &host);
	size_t n;

	union ip_addr lit;

	if (hk == DPI_HOST_NONE || !host || !host[0]) {
		sum_key_addr(k, remote, f->key.ip_version);
		return;
	}
	/*
	 * "Host: 192.168.1.5" names an address, and an internal one must go
	 * through the privacy levels like any other: it is keyed as the address.
	 * (Only a name that starts like an address can be one.)
	 */
	if (strchr("0123456789abcdefABCDEF:", host[0])) {
		memset(&lit, 0, sizeof(lit));
		if (inet_pton(AF_INET, host, lit.b) == 1 || inet_pton(AF_INET6, host, lit.b) == 1) {
			sum_key_addr(k, &lit, strchr(host, ':') ? 6 : 4);
			return;
		}
	}
	n = strnlen(host, SUM_KEY_MAX - 1);
	k->kind = hk == DPI_HOST_DNS ? SK_QUERY : SK_NAME;
	k->len = (uint8_t)n;
	memcpy(k->b, host, n);
}

/* What f did (bytes, packets), counted in the interval under way. */
static void sum_add(struct summary *s, const struct flow *f, uint64_t bytes, uint64_t packets)
{
	const union ip_addr *src = flow_src(f), *dst = flow_dst(f), *local, *remote;
	int v = f->key.ip_version;
	uint64_t risks = f->dpi_result.risks;
	struct sum_key k;

	if (!packets && !bytes)
		return;
	if (summary_is_internal(src, v) || !summary_is_internal(dst, v))
		local = src, remote = dst;
	else
		local = dst, remote = src;
	s->dirty = true;
	sum_count_add(&s->total, bytes, packets, true);
	sum_key_addr(&k, local, v);
	sum_table_add(s, &s->t[T_HOSTS], &k, bytes, packets);
	sum_key_dest(&k, f, remote);
	sum_table_add(s, &s->t[T_DESTS], &k, bytes, packets);
	sum_ids_add(&s->apps, f->dpi_result.app ? f->dpi_result.app : f->dpi_result.master, bytes,
		    packets);
	sum_ids_add(&s->cats, f->dpi_result.category, bytes, packets);
	while (risks) {
		s->risks[__builtin_ctzll(risks)]++;
		risks &= risks - 1;
	}
}

/* ------------------------------------------------------------ the carry table */

static uint32_t sum_carry_slot(const struct summary *s, uint32_t id)
{
	/* Fibonacci hashing: consecutive ids land far apart. */
	return (uint32_t)(id * 2654435769u) & (s->carry_cap - 1);
}

/* The entry of id, or NULL. */
static struct sum_carry *sum_carry_find(struct summary *s, uint32_t id)
{
	if (!s->carry_n)
		return NULL;
	for (uint32_t i = sum_carry_slot(s, id);; i = (i + 1) & (s->carry_cap - 1)) {
		struct sum_carry *c = &s->carry[i];

		if (!c->used)
			return NULL;
		if (c->id == id)
			return c;
	}
}

/* Into a table with room (never full: at most half). */
static struct sum_carry *sum_carry_put(struct summary *s, uint32_t id)
{
	uint32_t i = sum_carry_slot(s, id);

	while (s->carry[i].used)
		i = (i + 1) & (s->carry_cap - 1);
	s->carry[i] = (struct sum_carry){ .id = id, .used = true };
	s->carry_n++;
	return &s->carry[i];
}

/* Room for one more; false when out of memory. */
static bool sum_carry_room(struct summary *s)
{
	uint32_t old_cap = s->carry_cap, cap = old_cap ? old_cap * 2 : SUM_CARRY_MIN;
	struct sum_carry *old = s->carry, *c;

	if (old && (s->carry_n + 1) * 2 <= old_cap)
		return true;
	if (cap < old_cap)
		return false;
	c = calloc(cap, sizeof(*c));
	if (!c)
		return false;
	s->carry = c;
	s->carry_cap = cap;
	s->carry_n = 0;
	for (uint32_t i = 0; old && i < old_cap; i++)
		if (old[i].used)
			*sum_carry_put(s, old[i].id) = old[i];
	free(old);
	return true;
}

/* Removes e (linear probing: the entries after it that belong before the hole move up). */
static void sum_carry_del(struct summary *s, struct sum_carry *e)
{
	uint32_t mask = s->carry_cap - 1, hole = (uint32_t)(e - s->carry);

	for (uint32_t i = (hole + 1) & mask; s->carry[i].used; i = (i + 1) & mask) {
		uint32_t home = sum_carry_slot(s, s->carry[i].id);

		/* i may fill the hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			s->carry[hole] = s->carry[i];
			hole = i;
		}
	}
	s->carry[hole].used = false;
	s->carry_n--;
}

void summary_flow_end(struct summary *s, const struct flow *f)
{
	struct sum_carry *c = sum_carry_find(s, f->id);
	uint64_t bytes = f->bytes[0] + f->bytes[1];
	uint64_t packets = (uint64_t)f->packets[0] + f->packets[1];

	if (c) {
		bytes -= c->bytes;
		packets -= c->packets;
		sum_carry_del(s, c);
	}
	sum_add(s, f, bytes, packets);
}

/* An open flow at an interval's end: what it did since last time, remembered. */
static void sum_walk_open(struct flow *f, void *ctx)
{
	struct summary *s = ctx;
	struct sum_carry *c;
	uint64_t bytes = f->bytes[0] + f->bytes[1];
	uint32_t packets = f->packets[0] + f->packets[1];

	/*
	 * A flow still in DPI waits for the next accounting: its bytes are
	 * counted under the application and name it is decided to be, never
	 * under "Unknown" first and its protocol later.
	 */
	if (!(f->flags & FLOW_F_DECIDED))
		return;
	c = sum_carry_find(s, f->id);
	if (!c) {
		if (!sum_carry_room(s)) {
			/* Counted at its end instead: late, never twice. */
			return;
		}
		c = sum_carry_put(s, f->id);
	}
	sum_add(s, f, bytes - c->bytes, packets - c->packets);
	c->bytes = bytes;
	c->packets = packets;
}

void summary_hit(struct summary *s, uint32_t rule, uint8_t action, uint64_t serial)
{
	for (uint32_t i = 0; i < s->n_blocks; i++) {
		struct sum_block *b = &s->blocks[i];

		if (b->rule == rule && b->serial == serial && b->action == action) {
			b->count++;
			s->dirty = true;
			return;
		}
	}
	s->dirty = true;
	if (s->n_blocks == SUM_MAX_BLOCKS) {
		s->blocks_other++;
		return;
	}
	s->blocks[s->n_blocks++] = (struct sum_block){ .rule = rule, .action = action,
						       .serial = serial, .count = 1 };
}

static int sum_ids_new(struct sum_ids *x)
{
	x->c = calloc(SUM_IDS, sizeof(*x->c));
	x->ids = calloc(SUM_IDS, sizeof(*x->ids));
	return x->c && x->ids ? 0 : -ENOMEM;
}

struct summary *summary_new(const struct summary_config *cfg, struct pipeline *pl)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s)
		goto err_nomem;
	s->cfg = *cfg;
	s->pl = pl;
	siphash_random_key(s->hkey, "summary tables");
	for (int i = 0; i < T_MAX; i++) {
		s->t[i].entry = calloc(SUM_KEYS, sizeof(*s->t[i].entry));
		s->t[i].tag = calloc(SUM_TAGS, sizeof(*s->t[i].tag));
		s->t[i].at = calloc(SUM_TAGS, sizeof(*s->t[i].at));
		if (!s->t[i].entry || !s->t[i].tag || !s->t[i].at)
			goto err_free;
	}
	if (sum_ids_new(&s->apps) < 0 || sum_ids_new(&s->cats) < 0)
		goto err_free;
	return s;

err_free:
	summary_free(s);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (int i = 0; i < T_MAX; i++) {
		free(s->t[i].entry);
		free(s->t[i].tag);
		free(s->t[i].at);
	}
	free(s->apps.c);
	free(s->apps.ids);
	free(s->cats.c);
	free(s->cats.ids);
	free(s->carry);
	free(s);
}

/* ------------------------------------------------------------ the record */

/*
 * An entry's bytes and flows. Its packets stay out of the record (they are
 * counted, and totals.packets has them): the issue asks for bytes and flows
 * per part, and packets were a fifth of a compressed summary.
 */
static json_t *sum_counts(const struct sum_count *c)
{
	return json_pack("{s:I, s:I}", "bytes", (json_int_t)c->bytes, "flows", (json_int_t)c->flows);
}

/* Most bytes first; equal bytes by key, so the same traffic always makes the same record. */
static int sum_entry_cmp(const void *a, const void *b)
{
	const struct sum_entry *x = *(const struct sum_entry *const *)a;
	const struct sum_entry *y = *(const struct sum_entry *const *)b;

	if (x->c.bytes != y->c.bytes)
		return x->c.bytes < y->c.bytes ? 1 : -1;
	if (x->key.kind != y->key.kind)
		return x->key.kind - y->key.kind;
	if (x->key.len != y->key.len)
		return x->key.len - y->key.len;
	return memcmp(x->key.b, y->key.b, x->key.len);
}

/* The table's entries, sorted; *n set. NULL (and *n 0) when empty or out of memory. */
static const struct sum_entry **sum_sorted(const struct sum_table *t, size_t *n)
{
	const struct sum_entry **all;
	size_t k = 0;

	*n = 0;
	if (!t->used)
		return NULL;
	all = malloc(t->used * sizeof(const struct sum_entry *));
	if (!all)
		return NULL;
	for (uint32_t i = 0; i < t->used; i++)
		all[k++] = &t->entry[i];
	qsort(all, k, sizeof(const struct sum_entry *), sum_entry_cmp);
	*n = k;
	return all;
}

/* A host or destination's identity into o, as the privacy levels allow. */
static void sum_identity(const struct summary *s, json_t *o, const struct sum_key *k)
{
	char name[SUM_KEY_MAX + 1], text[INET6_ADDRSTRLEN];
	union ip_addr a;
	int v = k->kind == SK_ADDR4 ? 4 : 6;

	switch (k->kind) {
	case SK_ADDR4:
	case SK_ADDR6:
		memset(&a, 0, sizeof(a));
		memcpy(a.b, k->b, k->len);
		if (summary_is_internal(&a, v)) {
			privacy_set_addr(s->cfg.privacy, o, k->b, v);
		} else {
			inet_ntop(v == 4 ? AF_INET : AF_INET6, k->b, text, sizeof(text));
			json_object_set_new(o, "ip", json_string(text));
		}
		break;
	case SK_QUERY:
	case SK_NAME:
		memcpy(name, k->b, k->len);
		name[k->len] = '\0';
		/* Names come off the wire: jansson refuses what is not UTF-8, so say so instead. */
		if (k->kind == SK_QUERY)
			privacy_set_name(s->cfg.privacy, o, "domain", PRIV_QUERY, name);
		else
			json_object_set_new(o, "domain", json_string(name));
		if (!json_object_get(o, "domain") && s->cfg.privacy->level[PRIV_QUERY] != TG_PRIV_DROP)
			json_object_set_new(o, "domain", json_string("(not UTF-8)"));
		break;
	default:
		break;
	}
}

/* The top-N of a host or destination table, then `other`: {"top":[...], "other":{...}}. */
static json_t *sum_top(const struct summary *s, const struct sum_table *t)
{
	size_t n, i;
	const struct sum_entry **all = sum_sorted(t, &n);
	struct sum_count other = t->overflow;
	uint64_t other_keys = t->overflow_keys ? 1 : 0;
	json_t *top = json_array(), *o;

	for (i = 0; i < n; i++) {
		if (i >= s->cfg.top_n) {
			sum_count_add(&other, all[i]->c.bytes, all[i]->c.packets, false);
			other.flows += all[i]->c.flows;
			other_keys++;
			continue;
		}
		o = sum_counts(&all[i]->c);
		sum_identity(s, o, &all[i]->key);
		json_array_append_new(top, o);
	}
	free(all);
	o = sum_counts(&other);
	json_object_set_new(o, "count", json_integer((json_int_t)other_keys));
	return json_pack("{s:o, s:o}", "top", top, "other", o);
}

/* Applications or categories, every one named, most bytes first (ties by id, as sum_entry_cmp orders keys). */
static json_t *sum_named(const struct summary *s, const struct sum_ids *x, bool apps)
{
	struct sum_entry *e = x->n ? malloc(x->n * sizeof(*e)) : NULL;
	const struct sum_entry **all = x->n ? malloc(x->n * sizeof(const struct sum_entry *)) : NULL;
	json_t *arr = json_array(), *o;
	char buf[64];

	for (uint32_t i = 0; e && all && i < x->n; i++) {
		e[i].c = x->c[x->ids[i]];
		e[i].key.kind = SK_ID;
		e[i].key.len = 2;
		memcpy(e[i].key.b, &x->ids[i], 2);
		all[i] = &e[i];
	}
	if (e && all)
		qsort(all, x->n, sizeof(const struct sum_entry *), sum_entry_cmp);
	for (uint32_t i = 0; e && all && i < x->n; i++) {
		struct flow_dpi_result r = { 0 };
		uint16_t id;

		memcpy(&id, all[i]->key.b, 2);
		if (apps)
			r.app = id;
		else
			r.category = id;
		o = sum_counts(&all[i]->c);
		json_object_set_new(o, "name", json_string(apps ? dpi_proto_name(s->pl->dpi, &r, buf, sizeof(buf))
								 : dpi_category_name(s->pl->dpi, &r)));
		json_array_append_new(arr, o);
	}
	free(all);
	free(e);
	return arr;
}

/* new_devices: the inventory's devices first seen since the last record. */
static json_t *sum_health(const struct summary *s, const struct summary_health *h, uint64_t new_devices)
{
	struct flow_table_stats fs;
	struct dpi_stats ds;
	json_t *ports = json_array(), *drops = json_object(), *o;

	flow_table_get_stats(s->pl->flows, &fs);
	dpi_get_stats(s->pl->dpi, &ds);
	for (int e = 1; e < DECODE_ERR_MAX; e++)
		if (s->pl->st.discarded[e])
			json_object_set_new(drops, decode_err_name(e),
					    json_integer((json_int_t)s->pl->st.discarded[e]));
	for (int i = 0; h && i < h->n_ports && i < SUMMARY_MAX_PORTS; i++)
		json_array_append_new(ports, json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "name",
						       h->ports[i].name ? h->ports[i].name : "?", "up",
						       h->ports[i].up, "received",
						       (json_int_t)h->ports[i].st.rx_frames, "sent",
						       (json_int_t)h->ports[i].st.tx_frames, "kernel_drops",
						       (json_int_t)h->ports[i].st.kernel_drops,
						       "interface_drops",
						       (json_int_t)h->ports[i].st.iface_drops, "send_errors",
						       (json_int_t)h->ports[i].st.tx_errors));
	o = json_pack("{s:o, s:I, s:o, s:I, s:I, s:I, s:{s:I}}", "ports", ports,
		      "frames", (json_int_t)s->pl->st.frames, "not_tracked", drops,
		      "flows_active", (json_int_t)fs.active,
		      "evictions", (json_int_t)fs.ended[FLOW_END_EVICTED],
		      "dpi_given_up", (json_int_t)ds.flows_given_up,
		      "bundle", "serial", (json_int_t)(h ? h->bundle_serial : 0));
	if (h && h->inventory_valid)
		json_object_set_new(o, "inventory", json_pack("{s:I, s:I}", "devices",
							      (json_int_t)h->inventory_devices, "new",
							      (json_int_t)new_devices));
	if (h && h->spool_valid)
		json_object_set_new(o, "spool", json_pack("{s:I, s:I, s:I}", "records",
							  (json_int_t)h->spool_records, "bytes",
							  (json_int_t)h->spool_bytes, "dropped",
							  (json_int_t)h->spool_dropped));
	return o;
}

static json_t *sum_record(struct summary *s, uint64_t end_ms, const struct summary_health *h)
{
	int64_t off = s->pl->epoch_offset_ms;
	char start[32], end[32];
	json_t *rec, *event, *blocks = json_array(), *risks = json_array(), *sum;
	uint64_t new_devices = 0;

	rec = record_new(s->cfg.observer, REPORT_SUMMARY, (int64_t)end_ms + off);
	if (!rec)
		return NULL;
	record_time((int64_t)s->start_ms + off, start);
	record_time((int64_t)end_ms + off, end);
	event = json_object_get(rec, "event");
	json_object_set_new(event, "start", json_string(start));
	json_object_set_new(event, "end", json_string(end));
	/* ECS: event.duration in nanoseconds. */
	json_object_set_new(event, "duration", json_integer((json_int_t)(end_ms - s->start_ms) * 1000000));
	json_object_set_new(rec, "network", json_pack("{s:I, s:I}", "bytes", (json_int_t)s->total.bytes,
						      "packets", (json_int_t)s->total.packets));
	for (uint32_t i = 0; i < s->n_blocks; i++)
		json_array_append_new(blocks, json_pack("{s:{s:s}, s:{s:I}, s:s, s:I}", "rule", "id",
							"", "bundle", "serial",
							(json_int_t)s->blocks[i].serial, "action",
							bundle_action_name(s->blocks[i].action), "count",
							(json_int_t)s->blocks[i].count));
	/* rule.id is a keyword in ECS: the number as text. */
	for (uint32_t i = 0; i < s->n_blocks; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%u", s->blocks[i].rule);
		json_object_set_new(json_object_get(json_array_get(blocks, i), "rule"), "id",
				    json_string(id));
	}
	for (unsigned int i = 0; i < 64; i++) {
		const char *name = s->risks[i] ? dpi_risk_name(i) : NULL;

		if (name)
			json_array_append_new(risks, json_pack("{s:s, s:I}", "name", name, "flows",
							       (json_int_t)s->risks[i]));
	}
	if (h && h->inventory_valid) {
		/* a count since start, told per interval: what it grew by since the last record */
		if (h->inventory_added >= s->inv_added_seen)
			new_devices = h->inventory_added - s->inv_added_seen;
		s->inv_added_seen = h->inventory_added;
	}
	sum = json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}",
			"interval_s", (json_int_t)(s->cfg.interval_ms / 1000),
			"totals", "bytes", (json_int_t)s->total.bytes, "packets",
			(json_int_t)s->total.packets, "flows", (json_int_t)s->total.flows, "hosts",
			(json_int_t)s->t[T_HOSTS].used + s->t[T_HOSTS].overflow_keys,
			"applications", sum_named(s, &s->apps, true),
			"categories", sum_named(s, &s->cats, false),
			"hosts", sum_top(s, &s->t[T_HOSTS]),
			"destinations", sum_top(s, &s->t[T_DESTS]),
			"blocks", blocks, "blocks_other", (json_int_t)s->blocks_other,
			"risks", risks, "health", sum_health(s, h, new_devices));
	if (!sum || json_object_set_new(json_object_get(rec, "tg"), "summary", sum) < 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static void sum_reset(struct summary *s)
{
	for (int i = 0; i < T_MAX; i++)
		sum_table_clear(&s->t[i]);
	sum_ids_clear(&s->apps);
	sum_ids_clear(&s->cats);
	memset(&s->total, 0, sizeof(s->total));
	memset(s->risks, 0, sizeof(s->risks));
	s->n_blocks = 0;
	s->blocks_other = 0;
	s->dirty = false;
}

static int sum_put(struct summary *s, uint64_t end_ms, const struct summary_health *h,
		   struct report_sink *sink)
{
	json_t *rec = sum_record(s, end_ms, h);
	int err;

	sum_reset(s);
	if (!rec) {
		log_err("out of memory: the summary of the interval ending at %llu ms is lost",
			(unsigned long long)end_ms);
		return -ENOMEM;
	}
	err = sink->put(sink->ctx, REPORT_SUMMARY, rec);
	return err < 0 ? err : 1;
}

int summary_tick(struct summary *s, uint64_t now_ms, const struct summary_health *h,
		 struct report_sink *sink)
{
	uint64_t iv = s->cfg.interval_ms;
	int n = 0, err;

	if (!s->started) {
		s->started = true;
		s->start_ms = now_ms / iv * iv;
		return 0;
	}
	if (now_ms < s->start_ms + iv)
		return 0;
	/* What the open flows did up to now belongs to the interval that just ended. */
	uint32_t cursor = 0;

	flow_walk(s->pl->flows, &cursor, 0, sum_walk_open, s);
	while (now_ms >= s->start_ms + iv) {
		if ((now_ms - s->start_ms) / iv > SUM_MAX_EMPTY && !s->dirty) {
			/* A long gap: one empty interval stands for all of them. */
			s->start_ms = (now_ms / iv - 1) * iv;
		}
		err = sum_put(s, s->start_ms + iv, h, sink);
		if (err < 0)
			return err;
		n++;
		s->start_ms += iv;
	}
	return n;
}

int summary_flush(struct summary *s, uint64_t now_ms, const struct summary_health *h,
		  struct report_sink *sink)
{
	uint32_t cursor = 0;

	if (!s->started)
		return 0;
	flow_walk(s->pl->flows, &cursor, 0, sum_walk_open, s);
	if (!s->dirty)
		return 0;
	return sum_put(s, now_ms > s->start_ms ? now_ms : s->start_ms, h, sink);
}

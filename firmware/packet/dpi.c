/*
 * Deep packet inspection with nDPI. This is the only file that includes nDPI
 * headers: the rest of the firmware sees a flow's fixed-size flow_dpi_result.
 *
 * The feeding rule is the one nDPI's own reader (ndpiReader 4.2) uses, so the
 * gateway classifies a capture exactly as the reference tool does:
 *   - every packet of an undecided flow goes to ndpi_detection_process_packet()
 *     with its IP header and the captured bytes from there on;
 *   - once nDPI names an application protocol the flow is decided, unless
 *     nDPI still wants more packets for metadata (TLS certificate, JA3S):
 *     ndpi_extra_dissection_possible();
 *   - once the flow has more packets than the limit for its transport (80 TCP,
 *     24 UDP by default) it is decided whatever nDPI has: if nothing, nDPI
 *     guesses from ports and addresses (ndpi_detection_giveup()).
 * At that moment the result is copied out and nDPI's per-flow state (688
 * bytes plus reassembly buffers) is freed: decided flows cost nDPI nothing.
 *
 * At most CONFIG_DPI_MAX_INSPECTED flows hold nDPI state at once, so a flood
 * of flows that never decide (port scans, SYN floods, one-packet UDP) costs
 * bounded memory. Which flow makes room matters more than the bound: a flow
 * given up is decided for good and its later packets are never read, so a
 * flood that pushed a TLS flow out between its SYN and its ClientHello would
 * buy that ClientHello a pass. The rule (docs/policy.md, "A flood cannot buy
 * a pass"): no flow is given up before nDPI has seen its first payload.
 * Flows under inspection sit on one least-recently-fed list per rank:
 *
 *   WAIT       no payload yet, on any other port
 *   WAIT_NAME  no payload yet, on a TLS, HTTP or DNS port (dpi_name_port)
 *   SHOWN      payload seen (its first request was read), or its name known
 *   NAMING     payload seen on a name port or of TLS/HTTP/DNS, no name yet
 *
 * and room is taken from the lowest rank first, the flow fed longest ago:
 *   - a WAIT or WAIT_NAME flow loses only its nDPI state ("shed"): it stays
 *     undecided and gets fresh state with its first payload, so nothing it
 *     sends later goes unread (nDPI reads a connection whose handshake it
 *     missed, as ndpiReader does with a capture that starts mid-flow);
 *   - a SHOWN or NAMING flow is given up (guessed): its first request was
 *     read and its name, if any, judged;
 *   - a flow with payload always gets state, from whatever rank; a flow
 *     without payload takes room only from payload-less ranks no higher than
 *     its own, else it waits unread (deferred) until it carries payload.
 * A flood of SYNs thus only churns the WAIT ranks, and a flood of datagrams
 * pushes out flows that have already shown their first request.
 *
 * nDPI's heap is counted through its allocation hooks (malloc_usable_size
 * rather than a size header, because not every pointer nDPI frees is
 * guaranteed to come from its own allocator).
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#define LOG_MODULE "dpi"
#include "core/log.h"
#include "packet/dpi.h"

/* Ranks of flows under inspection, lowest (first to make room) first. */
enum dpi_rank {
	DPI_RANK_WAIT = 0,
	DPI_RANK_WAIT_NAME,
	DPI_RANK_SHOWN,
	DPI_RANK_NAMING,
	DPI_RANKS
};

/* nDPI state of one flow under inspection, on the least-recently-fed list of its rank. */
struct dpi_flow {
	struct dpi_flow *prev, *next;
	struct flow *f;
	uint8_t rank;  /* enum dpi_rank: the list it is on */
	uint8_t shown; /* nDPI was given a packet with payload */
	struct ndpi_flow_struct nf;
};

struct dpi {
	struct ndpi_detection_module_struct *ndpi;
	uint32_t max_packets[3]; /* by dpi_transport() */
	struct dpi_flow *lru_head[DPI_RANKS], *lru_tail[DPI_RANKS]; /* head: fed longest ago */
	struct dpi_stats st;
};

/* nDPI's heap, process-wide (its allocation hooks are global). */
static size_t ndpi_heap_bytes, ndpi_heap_peak;

static void *dpi_ndpi_malloc(size_t size)
{
	void *p = malloc(size);

	if (p) {
		ndpi_heap_bytes += malloc_usable_size(p);
		if (ndpi_heap_bytes > ndpi_heap_peak)
			ndpi_heap_peak = ndpi_heap_bytes;
	}
	return p;
}

static void dpi_ndpi_free(void *p)
{
	size_t n = malloc_usable_size(p);

	ndpi_heap_bytes = n > ndpi_heap_bytes ? 0 : ndpi_heap_bytes - n;
	free(p);
}

enum { DPI_TCP, DPI_UDP, DPI_OTHER };

static int dpi_transport(uint8_t l4_proto)
{
	if (l4_proto == IPPROTO_TCP)
		return DPI_TCP;
	if (l4_proto == IPPROTO_UDP)
		return DPI_UDP;
	return DPI_OTHER;
}

/* One optional data file: load it or say which file failed and why. */
static int dpi_load(struct dpi *d, const char *what, const char *path,
		    int (*load)(struct ndpi_detection_module_struct *, const char *))
{
	int n;

	if (!path || !*path)
		return 0;
	errno = 0;
	n = load(d->ndpi, path);
	if (n < 0) {
		log_err("cannot load %s file \"%s\": %s", what, path,
			errno ? strerror(errno) : "nDPI refused it");
		return -EINVAL;
	}
	log_info("loaded %s file \"%s\"", what, path);
	return 0;
}

/* ndpi_load_protocols_file takes a const-less path in 4.2. */
static int dpi_load_protos(struct ndpi_detection_module_struct *n, const char *path)
{
	return ndpi_load_protocols_file(n, (char *)path);
}

struct dpi *dpi_new(const struct dpi_files *files, const struct dpi_limits *limits)
{
	NDPI_PROTOCOL_BITMASK all;
	struct dpi *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	set_ndpi_malloc(dpi_ndpi_malloc);
	set_ndpi_free(dpi_ndpi_free);
	d->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
	if (!d->ndpi) {
		log_err("nDPI initialisation failed");
		goto err_free;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(d->ndpi, &all);

	if (files) {
		if (dpi_load(d, "protocols", files->protos, dpi_load_protos) ||
		    dpi_load(d, "categories", files->categories, ndpi_load_categories_file) ||
		    dpi_load(d, "risky domains", files->risky_domains, ndpi_load_risk_domain_file) ||
		    dpi_load(d, "JA3 fingerprints", files->ja3, ndpi_load_malicious_ja3_file) ||
		    dpi_load(d, "SHA1 fingerprints", files->sha1, ndpi_load_malicious_sha1_file))
			goto err_exit;
	}
	ndpi_finalize_initialization(d->ndpi);

	d->max_packets[DPI_TCP] = CONFIG_DPI_MAX_PACKETS_TCP;
	d->max_packets[DPI_UDP] = CONFIG_DPI_MAX_PACKETS_UDP;
	d->max_packets[DPI_OTHER] = CONFIG_DPI_MAX_PACKETS_OTHER;
	if (limits) {
		if (limits->max_packets_tcp)
			d->max_packets[DPI_TCP] = limits->max_packets_tcp;
		if (limits->max_packets_udp)
			d->max_packets[DPI_UDP] = limits->max_packets_udp;
		if (limits->max_packets_other)
			d->max_packets[DPI_OTHER] = limits->max_packets_other;
	}
	return d;

err_exit:
	ndpi_exit_detection_module(d->ndpi);
err_free:
	free(d);
	return NULL;
}

static void dpi_lru_unlink(struct dpi *d, struct dpi_flow *df)
{
	if (df->prev)
		df->prev->next = df->next;
	else
		d->lru_head[df->rank] = df->next;
	if (df->next)
		df->next->prev = df->prev;
	else
		d->lru_tail[df->rank] = df->prev;
	df->prev = df->next = NULL;
}

static void dpi_lru_append(struct dpi *d, struct dpi_flow *df)
{
	df->prev = d->lru_tail[df->rank];
	df->next = NULL;
	if (d->lru_tail[df->rank])
		d->lru_tail[df->rank]->next = df;
	else
		d->lru_head[df->rank] = df;
	d->lru_tail[df->rank] = df;
}

void dpi_free(struct dpi *d)
{
	if (!d)
		return;
	/*
	 * Normally empty: the flow table is freed first and every flow's end
	 * gives its inspection up. The flows may be gone, so they are not touched.
	 */
	for (int r = 0; r < DPI_RANKS; r++) {
		for (struct dpi_flow *df = d->lru_head[r], *next; df; df = next) {
			next = df->next;
			ndpi_free_flow_data(&df->nf);
			free(df);
		}
		d->lru_head[r] = d->lru_tail[r] = NULL;
	}
	ndpi_exit_detection_module(d->ndpi);
	free(d);
}

/* "0123..ef" (32 hex digits) to 16 bytes; false if not a JA3 hash. */
static bool dpi_hex16(const char *s, uint8_t out[16])
{
	for (int i = 0; i < 16; i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return false;
		}
		out[i] = (uint8_t)v;
	}
	return s[32] == '\0';
}

/*
 * nDPI keeps per-protocol metadata in a union: the TLS/QUIC fields are only
 * meaningful when no other protocol owns those bytes (ndpiReader's order).
 */
static bool dpi_owns_tls_fields(ndpi_protocol p, const struct ndpi_flow_struct *nf)
{
	static const uint16_t other_union_users[] = {
		NDPI_PROTOCOL_DNS,	NDPI_PROTOCOL_MDNS,    NDPI_PROTOCOL_LLMNR,
		NDPI_PROTOCOL_NTP,	NDPI_PROTOCOL_KERBEROS, NDPI_PROTOCOL_SSH,
		NDPI_PROTOCOL_TELNET, NDPI_PROTOCOL_UBNTAC2, NDPI_PROTOCOL_BITTORRENT,
		NDPI_PROTOCOL_DHCP,
	};

	if (p.master_protocol == NDPI_PROTOCOL_TLS || p.app_protocol == NDPI_PROTOCOL_TLS ||
	    p.master_protocol == NDPI_PROTOCOL_QUIC || p.app_protocol == NDPI_PROTOCOL_QUIC ||
	    p.master_protocol == NDPI_PROTOCOL_DTLS || p.app_protocol == NDPI_PROTOCOL_DTLS)
		return true;
	for (size_t i = 0; i < sizeof(other_union_users) / sizeof(other_union_users[0]); i++)
		if (p.master_protocol == other_union_users[i] || p.app_protocol == other_union_users[i])
			return false;
	return nf->protos.tls_quic.ja3_client[0] != '\0';
}

/* Copy what nDPI found into the flow's fixed record and free nDPI's state. */
static void dpi_finish(struct dpi *d, struct flow *f, ndpi_protocol proto, bool guessed)
{
	struct dpi_flow *df = f->dpi;
	struct ndpi_flow_struct *nf = &df->nf;
	struct flow_dpi_result *r = &f->dpi_result;

	r->master = proto.master_protocol;
	r->app = proto.app_protocol;
	r->category = (uint16_t)proto.category;
	r->confidence = (uint8_t)nf->confidence;
	r->risks = nf->risk;
	r->guessed = guessed;
	snprintf(r->host, sizeof(r->host), "%s", nf->host_server_name);
	if (dpi_owns_tls_fields(proto, nf)) {
		r->tls_version = nf->protos.tls_quic.ssl_version;
		r->has_ja3c = dpi_hex16(nf->protos.tls_quic.ja3_client, r->ja3c);
		r->has_ja3s = dpi_hex16(nf->protos.tls_quic.ja3_server, r->ja3s);
	}

	dpi_lru_unlink(d, df);
	ndpi_free_flow_data(nf);
	free(df);
	f->dpi = NULL;
	f->flags |= FLOW_F_DECIDED;
	d->st.classifying--;
	if (r->app != NDPI_PROTOCOL_UNKNOWN && !guessed)
		d->st.flows_detected++;
	else
		d->st.flows_given_up++;
}

static void dpi_giveup_state(struct dpi *d, struct flow *f)
{
	struct dpi_flow *df = f->dpi;
	ndpi_protocol proto;
	uint8_t guessed = 0;

	proto = ndpi_detection_giveup(d->ndpi, &df->nf, 1, &guessed);
	dpi_finish(d, f, proto, guessed);
}

/*
 * Ports whose first payload names the destination: DNS (53), HTTP (80,
 * 8080), TLS (443, 8443; 853 DNS over TLS). A flow on one of them ranks above
 * other payload-less flows and, once it carries payload, above flows that
 * have shown their request, until nDPI has its name.
 */
static bool dpi_name_port(uint16_t port)
{
	static const uint16_t name_ports[] = { 53, 80, 443, 853, 8080, 8443 };

	for (size_t i = 0; i < sizeof(name_ports) / sizeof(name_ports[0]); i++)
		if (port == name_ports[i])
			return true;
	return false;
}

static bool dpi_naming_proto(uint16_t id)
{
	return id == NDPI_PROTOCOL_TLS || id == NDPI_PROTOCOL_QUIC || id == NDPI_PROTOCOL_DTLS ||
	       id == NDPI_PROTOCOL_HTTP || id == NDPI_PROTOCOL_DNS;
}

static enum dpi_rank dpi_rank_of(const struct flow *f, const struct dpi_flow *df)
{
	const struct ndpi_flow_struct *nf = &df->nf;
	bool name_port = dpi_name_port(flow_dport(f));

	if (!df->shown)
		return name_port ? DPI_RANK_WAIT_NAME : DPI_RANK_WAIT;
	if (nf->host_server_name[0])
		return DPI_RANK_SHOWN;
	if (name_port || dpi_naming_proto(nf->detected_protocol_stack[0]) ||
	    dpi_naming_proto(nf->detected_protocol_stack[1]))
		return DPI_RANK_NAMING;
	return DPI_RANK_SHOWN;
}

/* After a packet: f stays under inspection, at the tail of the list of its rank now. */
static void dpi_rerank(struct dpi *d, struct flow *f, struct dpi_flow *df)
{
	dpi_lru_unlink(d, df);
	df->rank = (uint8_t)dpi_rank_of(f, df);
	dpi_lru_append(d, df);
}

/*
 * A payload-less flow loses its nDPI state but stays undecided (see the top);
 * what nDPI would guess of it now is kept for the report should it end so.
 */
static void dpi_shed(struct dpi *d, struct dpi_flow *df)
{
	struct flow *f = df->f;
	struct flow_dpi_result *r = &f->dpi_result;
	uint8_t guessed = 0;
	ndpi_protocol proto = ndpi_detection_giveup(d->ndpi, &df->nf, 1, &guessed);

	r->master = proto.master_protocol;
	r->app = proto.app_protocol;
	r->category = (uint16_t)proto.category;
	r->guessed = guessed;
	dpi_lru_unlink(d, df);
	ndpi_free_flow_data(&df->nf);
	free(df);
	f->dpi = NULL;
	d->st.classifying--;
	d->st.flows_pushed_out++;
	d->st.flows_pushed_waiting++;
}

/*
 * Make room for one more flow under inspection, of rank want; payload: the
 * packet about to be fed carries payload. Returns false when the flow must
 * wait unread (no payload, and every flow in inspection outranks it).
 */
static bool dpi_make_room(struct dpi *d, enum dpi_rank want, bool payload)
{
	if (d->st.classifying < CONFIG_DPI_MAX_INSPECTED)
		return true;
	for (int r = 0; r < DPI_RANKS; r++) {
		struct dpi_flow *victim = d->lru_head[r];

		if (!payload && r > (int)want)
			break;
		if (!victim)
			continue;
		if (r <= DPI_RANK_WAIT_NAME) {
			dpi_shed(d, victim);
		} else {
			d->st.flows_pushed_out++;
			dpi_giveup_state(d, victim->f);
		}
		return true;
	}
	return false;
}

static struct dpi_flow *dpi_state(struct dpi *d, struct flow *f, bool payload)
{
	struct dpi_flow *df = f->dpi;
	enum dpi_rank want;

	if (df)
		return df;
	want = dpi_name_port(flow_dport(f)) ? DPI_RANK_WAIT_NAME : DPI_RANK_WAIT;
	if (payload)
		want = DPI_RANK_NAMING;
	if (!dpi_make_room(d, want, payload)) {
		d->st.packets_deferred++;
		return NULL;
	}
	df = calloc(1, sizeof(*df));
	if (!df) {
		log_debug_rl("no memory for nDPI flow state: flow %llu left undecided",
			     (unsigned long long)f->id);
		return NULL;
	}
	df->f = f;
	df->rank = (uint8_t)dpi_rank_of(f, df);
	f->dpi = df;
	dpi_lru_append(d, df);
	d->st.flows_started++;
	d->st.classifying++;
	if (d->st.classifying > d->st.classifying_peak)
		d->st.classifying_peak = d->st.classifying;
	return df;
}

bool dpi_process(struct dpi *d, struct flow *f, const struct pkt *p, uint64_t now_ms)
{
	struct dpi_flow *df;
	struct ndpi_flow_struct *nf;
	ndpi_protocol proto;
	uint32_t seen = f->packets[FLOW_DIR_FWD] + f->packets[FLOW_DIR_REV];
	bool enough;

	if (f->flags & FLOW_F_DECIDED)
		return false;
	df = dpi_state(d, f, p->payload_len > 0);
	if (!df)
		return false;
	nf = &df->nf;
	enough = seen > d->max_packets[dpi_transport(f->key.l4_proto)];
	proto = ndpi_detection_process_packet(d->ndpi, nf, p->l3,
					      p->l3_len > 0xffff ? 0xffff : (unsigned short)p->l3_len,
					      now_ms);
	d->st.packets++;
	if (f->dpi_result.dpi_packets < UINT8_MAX)
		f->dpi_result.dpi_packets++;
	if (p->payload_len > 0)
		df->shown = 1;

	if ((!enough && proto.app_protocol == NDPI_PROTOCOL_UNKNOWN) ||
	    (!enough && ndpi_extra_dissection_possible(d->ndpi, nf))) {
		/* undecided, or waiting for the certificate / JA3S */
		dpi_rerank(d, f, df);
		return false;
	}

	if (proto.app_protocol == NDPI_PROTOCOL_UNKNOWN)
		dpi_giveup_state(d, f);
	else
		dpi_finish(d, f, proto, false);
	return true;
}

/*
 * A flow that ends with no nDPI state keeps the guess made when it was shed,
 * or, never given state (it carried no payload while the cap was full),
 * ends Unknown.
 */
static void dpi_giveup_stateless(struct dpi *d, struct flow *f)
{
	f->flags |= FLOW_F_DECIDED;
	d->st.flows_given_up++;
}

void dpi_giveup(struct dpi *d, struct flow *f)
{
	if (f->flags & FLOW_F_DECIDED)
		return;
	if (f->dpi)
		dpi_giveup_state(d, f);
	else
		dpi_giveup_stateless(d, f);
}

static ndpi_protocol dpi_proto_of(const struct flow_dpi_result *r)
{
	ndpi_protocol p;

	memset(&p, 0, sizeof(p));
	p.master_protocol = r->master;
	p.app_protocol = r->app;
	p.category = (ndpi_protocol_category_t)r->category;
	return p;
}

const char *dpi_proto_name(struct dpi *d, const struct flow_dpi_result *r, char *buf, size_t len)
{
	return ndpi_protocol2name(d->ndpi, dpi_proto_of(r), buf, (u_int)len);
}

const char *dpi_category_name(struct dpi *d, const struct flow_dpi_result *r)
{
	return ndpi_category_get_name(d->ndpi, (ndpi_protocol_category_t)r->category);
}

const char *dpi_risk_name(unsigned int n)
{
	if (n == NDPI_NO_RISK || n >= NDPI_MAX_RISK)
		return NULL;
	return ndpi_risk2str((ndpi_risk_enum)n);
}

uint32_t dpi_risk_score(uint64_t risks)
{
	u_int16_t client, server;

	/* Bits nDPI does not know would be scored as nothing; keep them out of its table. */
	risks &= (NDPI_MAX_RISK >= 64 ? ~0ull : (1ull << NDPI_MAX_RISK) - 1) & ~1ull;
	return risks ? ndpi_risk2score(risks, &client, &server) : 0;
}

const char *dpi_tls_version_name(uint16_t version, char *buf, size_t len)
{
	uint8_t known = 0;

	if (!version)
		return NULL;
	return ndpi_ssl_version2str(buf, (int)len, version, &known);
}

void dpi_get_stats(const struct dpi *d, struct dpi_stats *st)
{
	*st = d->st;
	st->heap_bytes = ndpi_heap_bytes;
	st->heap_bytes_peak = ndpi_heap_peak;
}

static enum dpi_host_kind dpi_host_kind_of(uint16_t master, uint16_t app)
{
	uint16_t p[2] = { master, app };

	for (int i = 0; i < 2; i++)
		if (p[i] == NDPI_PROTOCOL_DNS)
			return DPI_HOST_DNS;
	for (int i = 0; i < 2; i++)
		if (p[i] == NDPI_PROTOCOL_TLS || p[i] == NDPI_PROTOCOL_QUIC || p[i] == NDPI_PROTOCOL_DTLS)
			return DPI_HOST_SNI;
	for (int i = 0; i < 2; i++)
		if (p[i] == NDPI_PROTOCOL_HTTP)
			return DPI_HOST_HTTP;
	return DPI_HOST_NONE;
}

enum dpi_host_kind dpi_host(const struct flow *f, const char **host)
{
	const struct dpi_flow *df = f->dpi;
	enum dpi_host_kind kind;

	if (df) {
		/* Mid-classification: nDPI's stack holds app in [0] and master in [1]. */
		const struct ndpi_flow_struct *nf = &df->nf;
		uint16_t app = nf->detected_protocol_stack[0], master = nf->detected_protocol_stack[1];

		*host = nf->host_server_name;
		kind = dpi_host_kind_of(master, app);
	} else {
		*host = f->dpi_result.host;
		kind = dpi_host_kind_of(f->dpi_result.master, f->dpi_result.app);
	}
	return **host ? kind : DPI_HOST_NONE;
}

int dpi_proto_id(struct dpi *d, const char *name)
{
	char buf[64];
	int id;

	snprintf(buf, sizeof(buf), "%s", name);
	id = ndpi_get_protocol_id(d->ndpi, buf);
	return id > 0 ? id : -1;
}

int dpi_category_id(struct dpi *d, const char *name)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s", name);
	return ndpi_get_category_id(d->ndpi, buf);
}

/*
 * Deep packet inspection: the only module that includes nDPI headers.
 *
 * A flow's packets are fed to nDPI until it decides (including the extra
 * packets it wants for TLS certificates and JA3S) or the per-protocol packet
 * limit is reached; then nDPI guesses from ports and addresses if it found
 * nothing, the result is copied into the flow's fixed-size flow_dpi_result,
 * and nDPI's per-flow state is freed at once. Decided flows cost nDPI nothing.
 */
#ifndef TG_DPI_H
#define TG_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/decode.h"
#include "packet/flow.h"

struct dpi;

/* nDPI data files; NULL or "" = not loaded. */
struct dpi_files {
	const char *protos;        /* custom protocols (ndpiProtos.txt format) */
	const char *categories;    /* custom categories */
	const char *risky_domains;
	const char *ja3;           /* malicious JA3 fingerprints (CSV) */
	const char *sha1;          /* malicious certificate SHA1 fingerprints (CSV) */
};

struct dpi_limits {
	uint32_t max_packets_tcp;   /* 0 = CONFIG_DPI_MAX_PACKETS_TCP */
	uint32_t max_packets_udp;
	uint32_t max_packets_other;
};

struct dpi_stats {
	uint64_t flows_started;
	uint64_t flows_detected;   /* nDPI found the protocol */
	uint64_t flows_given_up;   /* packet limit or flow end: guessed or unknown */
	uint64_t packets;          /* packets given to nDPI */
	/*
	 * Flows whose nDPI state made room for another (CONFIG_DPI_MAX_INSPECTED
	 * flows were in inspection): all of them, and of those the ones that had
	 * carried no payload yet, which stay undecided and are inspected again
	 * from their first payload (dpi.c). The rest were given up after nDPI
	 * had read their first request.
	 */
	uint64_t flows_pushed_out;
	uint64_t flows_pushed_waiting;
	uint64_t packets_deferred; /* payload-less packets not inspected: the cap was full of flows that outrank them */
	uint32_t classifying;      /* flows holding nDPI state now */
	uint32_t classifying_peak;
	size_t heap_bytes;         /* nDPI's heap now (module and flows), process-wide */
	size_t heap_bytes_peak;
};

/* Returns NULL if nDPI cannot start or a data file fails to load (logged, naming the file). */
struct dpi *dpi_new(const struct dpi_files *files, const struct dpi_limits *limits);
void dpi_free(struct dpi *d);

/*
 * Give packet p of flow f to nDPI (only call while !(f->flags & FLOW_F_DECIDED);
 * call after flow_account() so the packet counts are current). Returns true
 * when the flow has just been decided: f->dpi_result is final and f->dpi NULL.
 */
bool dpi_process(struct dpi *d, struct flow *f, const struct pkt *p, uint64_t now_ms);

/* The flow ends undecided: let nDPI guess, fill f->dpi_result, free the state. */
void dpi_giveup(struct dpi *d, struct flow *f);

/* "TLS.YouTube", "DNS", "Unknown": the name as ndpiReader prints it. */
const char *dpi_proto_name(struct dpi *d, const struct flow_dpi_result *r, char *buf, size_t len);
const char *dpi_category_name(struct dpi *d, const struct flow_dpi_result *r);
/* Name of risk bit n (nDPI's wording), or NULL if n is not a risk. */
const char *dpi_risk_name(unsigned int n);
/*
 * nDPI's score of a flow's risks (ndpi_risk2score, client and server parts
 * added): the sum of each risk's severity, in nDPI 4.2 low 10, medium 50,
 * high 100, severe 250. 0 when there is none.
 */
uint32_t dpi_risk_score(uint64_t risks);
/* "TLSv1.2", "TLSv1.3", ... or NULL when version is 0. */
const char *dpi_tls_version_name(uint16_t version, char *buf, size_t len);

void dpi_get_stats(const struct dpi *d, struct dpi_stats *st);

/* Which destination name a flow's host is, for the policy. */
enum dpi_host_kind {
	DPI_HOST_NONE = 0, /* no name, or one that is not a destination (DHCP client name, ...) */
	DPI_HOST_DNS,      /* DNS query name */
	DPI_HOST_SNI,      /* TLS / QUIC / DTLS server name */
	DPI_HOST_HTTP,     /* HTTP Host */
};

/*
 * The host name nDPI has extracted so far, during classification or after,
 * and what kind of name it is. Returns the kind; *host points into the flow
 * or nDPI's state and is valid until the next dpi call on this flow.
 */
enum dpi_host_kind dpi_host(const struct flow *f, const char **host);

/* nDPI protocol and category ids for names in a bundle; -1 when nDPI does not know the name. */
int dpi_proto_id(struct dpi *d, const char *name);
int dpi_category_id(struct dpi *d, const char *name);

#endif

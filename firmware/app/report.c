/*
 * Flow records and totals. The per-flow JSON fields are documented in
 * docs/replay.md; names and protocol strings are nDPI's, as ndpiReader prints
 * them, so results can be compared with the reference tool line by line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define LOG_MODULE "report"
#include "app/report.h"
#include "core/log.h"

static void report_addr(const struct flow *f, const union ip_addr *a, char *buf, size_t len)
{
	inet_ntop(f->key.ip_version == 4 ? AF_INET : AF_INET6, a->b, buf, (socklen_t)len);
}

/* ndpiReader's names, so flow lines compare one to one. */
static const char *report_l4_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_ICMP:
		return "ICMP";
	case IPPROTO_ICMPV6:
		return "ICMPV6";
	case IPPROTO_IGMP:
		return "IGMP";
	case 112:
		return "VRRP";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}


static const char *const end_names[] = { "idle", "evicted", "shutdown" };

/*
 * Names come off the network as raw bytes. JSON strings must be UTF-8, so
 * anything that is not printable ASCII is written as \xNN (the backslash
 * itself as \\): the record always carries the name, never loses it, and a
 * reader can tell the escaped bytes from the real ones.
 */
static json_t *report_name(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char out[4 * sizeof(((struct flow_dpi_result *)0)->host) + 1];
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof(out); p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			out[o++] = (char)*p;
		} else if (*p == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return json_string(out);
}

int report_flow_json(FILE *out, struct dpi *dpi, const struct flow *f, enum flow_end_reason why,
		     int64_t epoch_offset_ms, const char *indicator)
{
	const struct flow_dpi_result *r = &f->dpi_result;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], l4[8], proto[64], tls[32], ja3[33];
	uint64_t bytes = f->bytes[0] + f->bytes[1];
	json_t *o, *risks;
	int ret;

	report_addr(f, flow_src(f), src, sizeof(src));
	report_addr(f, flow_dst(f), dst, sizeof(dst));
	risks = json_array();
	for (unsigned int i = 0; i < 64; i++) {
		const char *name;

		if (!(r->risks & (1ull << i)))
			continue;
		name = dpi_risk_name(i);
		if (name)
			json_array_append_new(risks, json_string(name));
	}
	o = json_pack("{s:s, s:i, s:s, s:i, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:o, s:b, s:s}",
		      "src", src, "sport", flow_sport(f), "dst", dst, "dport", flow_dport(f),
		      "l4", report_l4_name(f->key.l4_proto, l4, sizeof(l4)), "vlan", f->key.vlan,
		      "ip", f->key.ip_version,
		      "packets", (json_int_t)f->packets[0] + f->packets[1],
		      "bytes", (json_int_t)bytes,
		      "c2s_packets", (json_int_t)f->packets[FLOW_DIR_FWD],
		      "s2c_packets", (json_int_t)f->packets[FLOW_DIR_REV],
		      "first_ms", (json_int_t)f->first_ms + epoch_offset_ms,
		      "last_ms", (json_int_t)f->last_ms + epoch_offset_ms,
		      "proto", dpi_proto_name(dpi, r, proto, sizeof(proto)),
		      "category", dpi_category_name(dpi, r),
		      "risks", risks,
		      "guessed", r->guessed,
		      "end", end_names[why]);
	if (!o) {
		errno = ENOMEM;
		return -ENOMEM;
	}
	json_object_set_new(o, "host", r->host[0] ? report_name(r->host) : json_null());
	if (r->has_ja3c) {
		hex_encode(r->ja3c, 16, ja3);
		json_object_set_new(o, "ja3c", json_string(ja3));
	} else {
		json_object_set_new(o, "ja3c", json_null());
	}
	if (r->has_ja3s) {
		hex_encode(r->ja3s, 16, ja3);
		json_object_set_new(o, "ja3s", json_string(ja3));
	} else {
		json_object_set_new(o, "ja3s", json_null());
	}
	if (dpi_tls_version_name(r->tls_version, tls, sizeof(tls)))
		json_object_set_new(o, "tls", json_string(tls));
	else
		json_object_set_new(o, "tls", json_null());
	if (f->verdict_stage)
		json_object_set_new(o, "verdict",
				    json_pack("{s:s, s:I, s:o, s:s}", "action",
					      bundle_action_name(f->verdict_action), "rule",
					      (json_int_t)f->verdict_rule, "indicator",
					      indicator ? report_name(indicator) : json_null(), "stage",
					      policy_stage_name((enum policy_stage)f->verdict_stage)));
	else
		json_object_set_new(o, "verdict", json_null());

	ret = json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (ret < 0 || fputc('\n', out) == EOF || ferror(out)) {
		if (!errno)
			errno = EIO;
		return -EIO;
	}
	return 0;
}

void report_count_flow(struct report *r, const struct flow *f, enum flow_end_reason why)
{
	uint16_t id = f->dpi_result.app ? f->dpi_result.app : f->dpi_result.master;
	uint32_t slot = (uint32_t)id * 2654435761u % REPORT_MAX_PROTOS;

	r->flows++;
	r->ended[why]++;
	/* Open addressing; a slot is in use once it has counted a flow. */
	for (uint32_t i = 0; i < REPORT_MAX_PROTOS; i++) {
		struct report_proto *p = &r->protos[(slot + i) % REPORT_MAX_PROTOS];

		if (p->flows && p->id != id)
			continue;
		p->id = id;
		p->flows++;
		p->packets += f->packets[0] + f->packets[1];
		p->bytes += f->bytes[0] + f->bytes[1];
		return;
	}
	r->overflow_flows++;
}

void report_hit(struct report *r, const struct policy_hit *hit)
{
	struct report_rule **rp = &r->rules[hit->rule % REPORT_HASH], *rule;
	struct report_indicator **ip, *ind;

	for (rule = *rp; rule && rule->rule != hit->rule; rule = rule->next)
		;
	if (!rule) {
		rule = calloc(1, sizeof(*rule));
		if (!rule)
			return;
		rule->rule = hit->rule;
		rule->action = hit->action;
		rule->next = *rp;
		*rp = rule;
	}
	rule->hits++;

	/* The flow's verdict is the latest hit the policy kept: remember its indicator. */
	if (hit->flow->verdict_rule != hit->rule || hit->flow->verdict_stage != hit->stage)
		return;
	ip = &r->indicators[hit->flow->id % REPORT_HASH];
	for (ind = *ip; ind && ind->flow_id != hit->flow->id; ind = ind->next)
		;
	if (!ind) {
		ind = calloc(1, sizeof(*ind));
		if (!ind)
			return;
		ind->flow_id = hit->flow->id;
		ind->next = *ip;
		*ip = ind;
	}
	snprintf(ind->text, sizeof(ind->text), "%s", hit->indicator);
}

const char *report_indicator(const struct report *r, const struct flow *f)
{
	for (const struct report_indicator *ind = r->indicators[f->id % REPORT_HASH]; ind;
	     ind = ind->next)
		if (ind->flow_id == f->id)
			return ind->text;
	return NULL;
}

void report_forget(struct report *r, const struct flow *f)
{
	for (struct report_indicator **ip = &r->indicators[f->id % REPORT_HASH]; *ip;
	     ip = &(*ip)->next) {
		if ((*ip)->flow_id == f->id) {
			struct report_indicator *dead = *ip;

			*ip = dead->next;
			free(dead);
			return;
		}
	}
}

void report_free(struct report *r)
{
	for (int i = 0; i < REPORT_HASH; i++) {
		while (r->rules[i]) {
			struct report_rule *next = r->rules[i]->next;

			free(r->rules[i]);
			r->rules[i] = next;
		}
		while (r->indicators[i]) {
			struct report_indicator *next = r->indicators[i]->next;

			free(r->indicators[i]);
			r->indicators[i] = next;
		}
	}
}

static int report_rule_cmp(const void *a, const void *b)
{
	const struct report_rule *x = *(const struct report_rule *const *)a;
	const struct report_rule *y = *(const struct report_rule *const *)b;

	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Hits per rule, by rule id. */
static void report_rules(FILE *out, const struct report *r)
{
	const struct report_rule **all;
	size_t n = 0, k = 0;

	for (int i = 0; i < REPORT_HASH; i++)
		for (const struct report_rule *x = r->rules[i]; x; x = x->next)
			n++;
	if (!n)
		return;
	all = malloc(n * sizeof(const struct report_rule *));
	if (!all)
		return;
	for (int i = 0; i < REPORT_HASH; i++)
		for (const struct report_rule *x = r->rules[i]; x; x = x->next)
			all[k++] = x;
	qsort(all, n, sizeof(const struct report_rule *), report_rule_cmp);
	fprintf(out, "\n%-10s %-8s %10s\n", "rule", "action", "hits");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%-10u %-8s %10" PRIu64 "\n", all[i]->rule,
			bundle_action_name(all[i]->action), all[i]->hits);
	free(all);
}

static int report_proto_cmp(const void *a, const void *b)
{
	const struct report_proto *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return (int)x->id - (int)y->id;
}

void report_totals(FILE *out, const struct report *r, struct pipeline *pl, double seconds)
{
	struct report_proto *protos;
	struct flow_table_stats fs;
	struct dpi_stats ds;
	char name[64];

	flow_table_get_stats(pl->flows, &fs);
	dpi_get_stats(pl->dpi, &ds);

	fprintf(out, "frames          %" PRIu64 " (%" PRIu64 " bytes)\n", pl->st.frames,
		pl->st.frame_bytes);
	fprintf(out, "tracked         %" PRIu64 "\n", pl->st.tracked);
	for (int e = 1; e < DECODE_ERR_MAX; e++)
		if (pl->st.discarded[e])
			fprintf(out, "not tracked     %-16s %" PRIu64 "\n", decode_err_name(e),
				pl->st.discarded[e]);
	fprintf(out, "flows           %" PRIu64 " (idle %" PRIu64 ", evicted %" PRIu64
		", at end %" PRIu64 "; table capacity %u)\n",
		r->flows, r->ended[FLOW_END_IDLE], r->ended[FLOW_END_EVICTED],
		r->ended[FLOW_END_SHUTDOWN], fs.capacity);
	fprintf(out, "dpi             %" PRIu64 " detected, %" PRIu64 " given up (%" PRIu64
		" pushed out), %" PRIu64 " packets inspected\n",
		ds.flows_detected, ds.flows_given_up, ds.flows_pushed_out, ds.packets);
	fprintf(out, "dpi memory      peak %u flows in inspection, nDPI heap peak %zu KiB\n",
		ds.classifying_peak, ds.heap_bytes_peak / 1024);
	fprintf(out, "dpi cap         %u flows: %" PRIu64 " pushed out (%" PRIu64
		" before any payload, inspected again from it), %" PRIu64
		" payload-less packets deferred\n",
		(unsigned int)CONFIG_DPI_MAX_INSPECTED, ds.flows_pushed_out,
		ds.flows_pushed_waiting, ds.packets_deferred);
	if (r->port_valid)
		fprintf(out, "port            %" PRIu64 " received, %" PRIu64
			" dropped by the kernel, %" PRIu64 " by the interface\n",
			r->port.rx_frames, r->port.kernel_drops, r->port.iface_drops);
	if (seconds > 0)
		fprintf(out, "time            %.3f s, %.0f frames/s\n", seconds,
			(double)pl->st.frames / seconds);

	/* Sort a copy: the table itself is open-addressed and keeps counting. */
	protos = malloc(sizeof(r->protos));
	if (!protos)
		return;
	memcpy(protos, r->protos, sizeof(r->protos));
	qsort(protos, REPORT_MAX_PROTOS, sizeof(protos[0]), report_proto_cmp);
	fprintf(out, "\n%-24s %10s %14s %8s\n", "protocol", "packets", "bytes", "flows");
	for (int i = 0; i < REPORT_MAX_PROTOS; i++) {
		const struct report_proto *p = &protos[i];
		/* ndpiReader names the totals by one protocol: the app, else the master. */
		struct flow_dpi_result res = { .app = p->id };

		if (!p->flows)
			continue;
		fprintf(out, "%-24s %10" PRIu64 " %14" PRIu64 " %8" PRIu64 "\n",
			dpi_proto_name(pl->dpi, &res, name, sizeof(name)), p->packets, p->bytes,
			p->flows);
	}
	if (r->overflow_flows)
		fprintf(out, "%-24s %10s %14s %8" PRIu64 "\n", "(other)", "", "", r->overflow_flows);
	free(protos);
	report_rules(out, r);
}

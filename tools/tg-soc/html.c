/*
 * tg-soc report --html FILE: one self-contained page for a SOC without a
 * SIEM. Everything is in the file: the data as one JSON document in a
 * <script type="application/json"> element, the plots drawn as inline SVG by
 * one inline script, the styles inline. A Content-Security-Policy of
 * default-src 'none' (the script allowed by its SHA-256 alone) means the page
 * cannot fetch anything, even if a value in the data tried: no network, no
 * external fonts, nothing to leak when it is mailed around.
 *
 * The plots, from the records of the window (--since):
 *   traffic     bytes per member per summary interval (network.bytes), a line each;
 *   alerts      alerts per member and type, a stacked bar per member;
 *   serials     the serial each member's newest summary says it enforces
 *               (health.bundle.serial) against the hub's latest (--hub-serial,
 *               else the highest any member enforces);
 *   indicators  the indicators of first hits, most alerts first, with members;
 *   devices     devices first seen in the window (asset records of type creation).
 * Each <section> gets data-points="N" (what its plot drew) from the script, so
 * a headless browser's DOM shows what was drawn; @media print lays it out on paper.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "tg-hub/common.h"
#include "tg-hub/opts.h"
#include "tg-soc/out.h"
#include "tg-soc/util.h"

/* Top indicators and new devices shown, at most (the page stays readable). */
#define TOP_INDICATORS 20
#define NEW_DEVICES 50

static const char page_js[] =
	"(function(){\n"
	"'use strict';\n"
	"var D=JSON.parse(document.getElementById('tg-data').textContent);\n"
	"var NS='http://www.w3.org/2000/svg';\n"
	"var C=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];\n"
	"function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}\n"
	"function h(n,t,p){var e=document.createElement(n);if(t!==undefined)e.textContent=t;if(p)p.appendChild(e);return e;}\n"
	"function svg(id,w,hh){var s=el('svg',{viewBox:'0 0 '+w+' '+hh,width:'100%',role:'img'});document.getElementById(id).appendChild(s);return s;}\n"
	"function txt(s,x,y,t,a){var e=el('text',{x:x,y:y,'font-size':11,'text-anchor':a||'start'},s);e.textContent=t;return e;}\n"
	"function fmt(b){var u=['B','kB','MB','GB','TB'],i=0;while(b>=1000&&i<4){b/=1000;i++;}return (i?b.toFixed(1):b)+' '+u[i];}\n"
	"function done(id,n){document.getElementById(id).setAttribute('data-points',n);}\n"
	"function legend(id,names){var l=h('p','',document.getElementById(id));names.forEach(function(m,i){var s=h('span','\\u25a0 ',l);s.style.color=C[i%C.length];h('span',m+'  ',l);});}\n"
	/* traffic: one polyline per member */
	"(function(){var W=760,H=260,L=60,B=30,s=svg('traffic',W,H),t0=D.t0,t1=Math.max(D.t1,t0+1),mx=1,n=0;\n"
	" D.members.forEach(function(m){(D.traffic[m]||[]).forEach(function(p){mx=Math.max(mx,p[1]);});});\n"
	" el('line',{x1:L,y1:H-B,x2:W-5,y2:H-B,stroke:'#444'},s);el('line',{x1:L,y1:5,x2:L,y2:H-B,stroke:'#444'},s);\n"
	" txt(s,L-4,12,fmt(mx),'end');txt(s,L-4,H-B,'0','end');txt(s,L,H-10,new Date(t0).toISOString().slice(0,16)+'Z');txt(s,W-5,H-10,new Date(t1).toISOString().slice(0,16)+'Z','end');\n"
	" D.members.forEach(function(m,i){var pts=(D.traffic[m]||[]).map(function(p){n++;return (L+(p[0]-t0)/(t1-t0)*(W-L-5)).toFixed(1)+','+(H-B-p[1]/mx*(H-B-5)).toFixed(1);});\n"
	"  if(pts.length===1)pts.push(pts[0]);el('polyline',{points:pts.join(' '),fill:'none',stroke:C[i%C.length],'stroke-width':2},s);});\n"
	" legend('traffic',D.members);done('traffic',n);})();\n"
	/* alerts: a stacked bar per member, one colour per type */
	"(function(){var W=760,rows=D.members.length,H=Math.max(40,rows*24+30),L=140,s=svg('alerts',W,H),mx=1,n=0;\n"
	" D.members.forEach(function(m){var t=0;D.types.forEach(function(k){t+=(D.alerts[m]||{})[k]||0;});mx=Math.max(mx,t);});\n"
	" D.members.forEach(function(m,r){var x=L,y=5+r*24;txt(s,L-6,y+14,m,'end');\n"
	"  D.types.forEach(function(k,i){var v=(D.alerts[m]||{})[k]||0;if(!v)return;n+=v;var w=v/mx*(W-L-60);\n"
	"   var b=el('rect',{x:x,y:y,width:Math.max(w,1),height:18,fill:C[i%C.length]},s);el('title',{},b).textContent=m+': '+v+' '+k;x+=w;});\n"
	"  var t=0;D.types.forEach(function(k){t+=(D.alerts[m]||{})[k]||0;});txt(s,x+4,y+14,String(t));});\n"
	" legend('alerts',D.types);done('alerts',n);})();\n"
	/* serials: a table, the hub's latest first */
	"(function(){var sec=document.getElementById('serials'),n=0;h('p','The hub\\u2019s latest serial: '+D.hub_serial,sec);\n"
	" var t=h('table','',sec),hr=h('tr','',t);['member','serial in force','as of',''].forEach(function(c){h('th',c,hr);});\n"
	" D.members.forEach(function(m){var v=D.serials[m];if(!v)return;n++;var r=h('tr','',t);h('td',m,r);h('td',String(v.serial),r);h('td',v.at,r);\n"
	"  var ok=v.serial===D.hub_serial;var c=h('td',ok?'latest':'behind ('+(D.hub_serial-v.serial)+')',r);c.className=ok?'ok':'bad';});\n"
	" done('serials',n);})();\n"
	/* indicators: horizontal bars */
	"(function(){var W=760,H=Math.max(40,D.indicators.length*22+10),L=300,s=svg('indicators',W,H),mx=1,n=0;\n"
	" D.indicators.forEach(function(d){mx=Math.max(mx,d.alerts);});\n"
	" D.indicators.forEach(function(d,r){var y=5+r*22;n++;txt(s,L-6,y+13,d.value,'end');el('rect',{x:L,y:y,width:Math.max(1,d.alerts/mx*(W-L-120)),height:16,fill:'#d62728'},s);\n"
	"  txt(s,L+d.alerts/mx*(W-L-120)+4,y+13,d.alerts+' alerts, '+d.members+' member'+(d.members===1?'':'s'));});\n"
	" done('indicators',n);})();\n"
	/* new devices: a table */
	"(function(){var sec=document.getElementById('devices'),t=h('table','',sec),hr=h('tr','',t),n=0;\n"
	" ['member','device','name','maker','first seen'].forEach(function(c){h('th',c,hr);});\n"
	" D.devices.forEach(function(d){n++;var r=h('tr','',t);[d.member,d.device,d.name,d.maker,d.first_seen].forEach(function(c){h('td',c||'',r);});});\n"
	" done('devices',n);})();\n"
	"})();\n";

static const char page_css[] =
	"body{font-family:sans-serif;margin:1.5em auto;max-width:800px;color:#222}"
	"h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.6em}"
	"table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
	".ok{color:#2ca02c}.bad{color:#d62728;font-weight:bold}p.meta{color:#666;font-size:.9em}"
	"@media print{body{max-width:none;margin:0;font-size:10pt}section{break-inside:avoid}"
	"h2{margin-top:.8em}}";

struct html_args {
	const char *db, *from, *since, *html;
	uint64_t hub_serial;
};

const struct opt report_opts[] = {
	OPT_STR("db", struct html_args, db, "URL", 0, "the store"),
	OPT_STR("from", struct html_args, from, "FILE", OPT_ALT, "records as JSON lines instead"),
	OPT_STR("since", struct html_args, since, "T", 0, "the window's start (default 24h)"),
	OPT_NUM("hub-serial", struct html_args, hub_serial, 1, UINT64_MAX, "N", 0,
		"the hub's latest serial (default: the highest a member enforces)"),
	OPT_STR("html", struct html_args, html, "FILE", OPT_REQ, "the page to write"),
	{ 0 },
};

struct html_walk {
	json_t *members;    /* id -> true, in order of first record */
	json_t *traffic;    /* id -> [[ms, bytes]...] */
	json_t *alerts;     /* id -> {type: n} */
	json_t *types;      /* type -> true */
	json_t *serials;    /* id -> {serial, at} (newest summary) */
	json_t *indicators; /* value -> {alerts, gateways{}} */
	json_t *devices;    /* [{member, device, name, maker, first_seen}] */
	int64_t t0, t1;
	uint64_t max_serial;
	unsigned long records;
};

static int html_record(void *ctx, const json_t *rec)
{
	struct html_walk *w = ctx;
	const char *gw = soc_json_str(rec, "observer.id"), *ts = soc_json_str(rec, "@timestamp");
	const char *kind = soc_json_str(rec, "event.kind");
	int64_t t;

	if (!gw || !kind || soc_parse_time(ts, &t) < 0)
		return 0;
	w->records++;
	if (!w->t0 || t < w->t0)
		w->t0 = t;
	if (t > w->t1)
		w->t1 = t;
	json_object_set_new(w->members, gw, json_true());
	if (!strcmp(kind, "metric")) {
		json_t *a = json_object_get(w->traffic, gw), *s;
		int64_t serial = soc_json_int(rec, "tg.summary.health.bundle.serial", -1);

		if (!a)
			json_object_set_new(w->traffic, gw, a = json_array());
		json_array_append_new(a, json_pack("[I, I]", (json_int_t)t,
						   (json_int_t)soc_json_int(rec, "network.bytes", 0)));
		s = json_object_get(w->serials, gw);
		if (serial >= 0 && (!s || strcmp(ts, json_string_value(json_object_get(s, "at"))) >= 0)) {
			json_object_set_new(w->serials, gw, json_pack("{s:I, s:s}", "serial",
								      (json_int_t)serial, "at", ts));
			if ((uint64_t)serial > w->max_serial)
				w->max_serial = (uint64_t)serial;
		}
	} else if (!strcmp(kind, "alert")) {
		const char *type = soc_json_str(rec, "tg.alert.type"), *ind;
		json_t *m = json_object_get(w->alerts, gw), *e;

		if (!type)
			return 0;
		if (!m)
			json_object_set_new(w->alerts, gw, m = json_object());
		json_object_set_new(m, type, json_integer(json_integer_value(json_object_get(m, type)) + 1));
		json_object_set_new(w->types, type, json_true());
		ind = soc_json_str(rec, "tg.alert.indicator");
		if (!strcmp(type, "first_hit") && ind) {
			e = json_object_get(w->indicators, ind);
			if (!e)
				json_object_set_new(w->indicators, ind,
						    e = json_pack("{s:i, s:{}}", "alerts", 0, "gateways"));
			json_object_set_new(e, "alerts",
					    json_integer(json_integer_value(json_object_get(e, "alerts")) + 1));
			json_object_set_new(json_object_get(e, "gateways"), gw, json_true());
		}
	} else if (!strcmp(kind, "asset")) {
		json_t *type = soc_json_path(rec, "event.type");
		const char *dev = soc_json_str(rec, "host.mac");

		if (!dev)
			dev = soc_json_str(rec, "host.ip");
		if (!dev)
			dev = soc_json_str(rec, "host.id");
		if (json_array_size(w->devices) < NEW_DEVICES &&
		    json_is_string(json_array_get(type, 0)) &&
		    !strcmp(json_string_value(json_array_get(type, 0)), "creation"))
			json_array_append_new(
				w->devices,
				json_pack("{s:s, s:s?, s:s?, s:s?, s:s?}", "member", gw, "device", dev,
					  "name", soc_json_str(rec, "host.hostname"), "maker",
					  soc_json_str(rec, "device.manufacturer"), "first_seen",
					  soc_json_str(rec, "tg.asset.first_seen")));
	}
	return 0;
}

/* An indicator's row, for sorting. */
struct ind_ref {
	json_t *e;
};

static int ind_cmp(const void *a, const void *b)
{
	const struct ind_ref *ra = a, *rb = b;
	json_int_t x = json_integer_value(json_object_get(ra->e, "alerts"));
	json_int_t y = json_integer_value(json_object_get(rb->e, "alerts"));

	if (x != y)
		return x < y ? 1 : -1;
	return strcmp(json_string_value(json_object_get(ra->e, "value")),
		      json_string_value(json_object_get(rb->e, "value")));
}

/* The data document the script draws from. */
static json_t *html_data(struct html_walk *w, uint64_t hub_serial)
{
	json_t *d, *members = json_array(), *types = json_array(), *inds = json_array(), *e;
	struct ind_ref *v;
	size_t n = 0, i;

	for (void *it = json_object_iter(w->members); it; it = json_object_iter_next(w->members, it))
		json_array_append_new(members, json_string(json_object_iter_key(it)));
	for (void *it = json_object_iter(w->types); it; it = json_object_iter_next(w->types, it))
		json_array_append_new(types, json_string(json_object_iter_key(it)));
	v = calloc(json_object_size(w->indicators) + 1, sizeof(*v));
	for (void *it = json_object_iter(w->indicators); it;
	     it = json_object_iter_next(w->indicators, it)) {
		e = json_object_iter_value(it);
		json_object_set_new(e, "value", json_string(json_object_iter_key(it)));
		json_object_set_new(e, "members",
				    json_integer((json_int_t)json_object_size(json_object_get(e, "gateways"))));
		json_object_del(e, "gateways");
		if (v)
			v[n++].e = e;
	}
	if (v)
		qsort(v, n, sizeof(*v), ind_cmp);
	for (i = 0; v && i < n && i < TOP_INDICATORS; i++)
		json_array_append(inds, v[i].e);
	free(v);
	d = json_pack("{s:o, s:o, s:O, s:O, s:O, s:o, s:O, s:I, s:I, s:I}", "members", members,
		      "types", types, "traffic", w->traffic, "alerts", w->alerts, "serials",
		      w->serials, "indicators", inds, "devices", w->devices, "hub_serial",
		      (json_int_t)(hub_serial ? hub_serial : w->max_serial), "t0", (json_int_t)w->t0,
		      "t1", (json_int_t)w->t1);
	return d;
}

/* 'sha256-BASE64' of the script, for the CSP. */
static int script_hash(char *out, size_t size)
{
	uint8_t h[32];
	size_t olen = 0;

	if (mbedtls_sha256_ret((const uint8_t *)page_js, strlen(page_js), h, 0) != 0 ||
	    mbedtls_base64_encode((uint8_t *)out, size, &olen, h, sizeof(h)) != 0)
		return -EINVAL;
	return 0;
}

static int html_write(const char *path, json_t *data, const struct html_walk *w, const char *since)
{
	char hash[64], t0[32], t1[32], gen[32];
	char *json, *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	/* JSON_ESCAPE_SLASH: no "</script>" can end the data element early */
	json = json_dumps(data, JSON_COMPACT | JSON_ESCAPE_SLASH);
	if (!json || script_hash(hash, sizeof(hash)) < 0 || !(f = open_memstream(&buf, &len))) {
		free(json);
		return -ENOMEM;
	}
	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'unsafe-inline'; script-src 'sha256-%s'\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>townguard members: %zu, since %s</title>\n<style>%s</style></head><body>\n"
		"<h1>townguard: the region's members</h1>\n"
		"<p class=\"meta\">%zu members, %lu records from %s to %s (window: %s). Written by "
		"tg-soc report at %s.</p>\n"
		"<section id=\"traffic\" data-points=\"0\"><h2>Traffic per member</h2></section>\n"
		"<section id=\"alerts\" data-points=\"0\"><h2>Alerts per member and type</h2></section>\n"
		"<section id=\"serials\" data-points=\"0\"><h2>Blocklist serial in force</h2></section>\n"
		"<section id=\"indicators\" data-points=\"0\"><h2>Top blocklist indicators hit</h2></section>\n"
		"<section id=\"devices\" data-points=\"0\"><h2>New devices</h2></section>\n"
		"<noscript><p>The plots need JavaScript; the data is in this file's tg-data "
		"element.</p></noscript>\n"
		"<script type=\"application/json\" id=\"tg-data\">%s</script>\n"
		"<script>%s</script>\n</body></html>\n",
		hash, json_object_size(w->members), since, page_css, json_object_size(w->members),
		w->records, soc_time_str(w->t0, t0, sizeof(t0)), soc_time_str(w->t1, t1, sizeof(t1)),
		since, soc_time_str(soc_now_ms(), gen, sizeof(gen)), json, page_js);
	free(json);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	ret = hub_write_atomic(path, buf, len, 0644);
	free(buf);
	return ret;
}

int report_run(const struct hub_cmd *cmd, int argc, char **argv)
{
	struct html_args o = { 0 };
	struct html_walk w = { 0 };
	struct store_filter f = { 0 };
	struct soc_source src;
	json_t *data = NULL;
	int first, status, ret;

	status = opts_parse(cmd, &o, argc, argv, &first);
	if (status)
		return status;
	if (first != argc || !o.html)
		return opts_usage(cmd);
	if (soc_time_arg("--since", o.since ? o.since : "24h", soc_now_ms(), &f.since_ms) < 0)
		return EXIT_USAGE;
	w.members = json_object();
	w.traffic = json_object();
	w.alerts = json_object();
	w.types = json_object();
	w.serials = json_object();
	w.indicators = json_object();
	w.devices = json_array();
	status = EXIT_FAIL;
	if (!w.members || !w.traffic || !w.alerts || !w.types || !w.serials || !w.indicators ||
	    !w.devices)
		goto out;
	src = (struct soc_source){ .db = o.db, .from = o.from };
	ret = soc_source_each(&src, &f, html_record, &w);
	if (ret < 0)
		goto out;
	data = html_data(&w, o.hub_serial);
	if (!data || html_write(o.html, data, &w, o.since ? o.since : "24h") < 0) {
		soc_errf("report: %s: not written", o.html);
		goto out;
	}
	printf("wrote %s: %zu members, %lu records\n", o.html, json_object_size(w.members), w.records);
	status = EXIT_OK;
out:
	json_decref(data);
	json_decref(w.members);
	json_decref(w.traffic);
	json_decref(w.alerts);
	json_decref(w.types);
	json_decref(w.serials);
	json_decref(w.indicators);
	json_decref(w.devices);
	return status;
}

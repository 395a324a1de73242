/*
 * tg-soc collect (collect.c): subscribe to a region's report and state
 * topics and store what arrives (intake.h), until SIGTERM or SIGINT.
 */
#ifndef TG_SOC_COLLECT_H
#define TG_SOC_COLLECT_H

#include <stdint.h>

#include <jansson.h>

struct exporter;

struct collect_config {
	const char *host;
	int port;
	const char *ca, *cert, *key;  /* the region's CA; the SOC's certificate and key */
	const char *region;
	const char *db;               /* store_open()'s url */
	const char *client_id;        /* fixed, so the broker keeps the session */
	unsigned int keepalive_s;
	int64_t retain_ms;            /* 0: keep everything */
	/* the live export (docs/tg-soc.md): set by the export code; export_pump
	 * is called every second, records or not, broker up or down */
	struct exporter *exporter;
	void (*export_record)(struct exporter *x, const json_t *rec);
	void (*export_pump)(struct exporter *x);
};

/* 0 after a clean stop (SIGTERM, SIGINT); 1 when it could not start or the store failed. */
int collect_run(const struct collect_config *cfg);

#endif

/*
 * tg-soc's intake of one MQTT message (collect.c's on_message, the unit
 * tests and the fuzzer without a broker): the topic parsed
 * (tg/v1/<region>/gw/<id>/summary|alert|asset|state), a report message
 * decompressed (batch_decode(), firmware/report/batch.c) into JSON lines,
 * each record checked (schema.h) and, with a store, stored in one
 * transaction per message, committed before this returns (so before the
 * message is acknowledged). A record that fails is refused alone: logged
 * ("TOPIC: record N: DATASET: FIELD = VALUE: allowed ALLOWED"), counted and
 * kept in the refusals table; the rest of its message is stored.
 */
#ifndef TG_SOC_INTAKE_H
#define TG_SOC_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct schema_set;
struct exporter;

struct intake_stats {
	uint64_t messages;   /* report messages taken */
	uint64_t records;    /* records in them */
	uint64_t inserted, duplicates, refused;
	uint64_t states;     /* state messages kept */
	uint64_t bad_messages; /* not decompressible, not JSON lines, not our topic */
};

struct intake {
	struct store *store;         /* NULL: check only (the fuzzer) */
	struct schema_set *schemas;
	const char *region;
	/* the live export (docs/tg-soc.md): each record stored, after its commit */
	struct exporter *exporter;
	void (*export_record)(struct exporter *x, const json_t *rec);
	bool quiet;                  /* no log lines (the fuzzer) */
	struct intake_stats st;
};

/*
 * One message. 0: taken (stored, or refused and logged: either way it may be
 * acknowledged); -EIO: the store failed and the transaction was rolled back:
 * the message must not be acknowledged (collect exits and is restarted, the
 * broker sends it again).
 */
int intake_message(struct intake *in, const char *topic, const void *payload, size_t len,
		   int64_t now_ms);

#endif

/*
 * libFuzzer target for tg-soc's export formats (tools/tg-soc/export.c):
 * records that come from outside (`tg-soc export --from FILE`, a gateway's
 * journal, another SOC's NDJSON) made into ECS lines, Suricata EVE alerts
 * and RFC 5424 messages. The input is one JSON document. Whatever it holds:
 * no crash, leak or loop; every ECS line and syslog message is one line (a
 * newline in one would split a record in two for the SIEM), a syslog
 * message starts with its PRI and VERSION, and an EVE event is an alert.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tg-soc/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	json_t *rec = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL), *eve;
	char *s;

	if (!rec)
		return 0;
	s = export_ecs_line(rec, &why);
	if (s && strchr(s, '\n'))
		abort();
	free(s);
	s = export_syslog_msg(rec, "tg-soc", &why);
	if (s && (strchr(s, '\n') || s[0] != '<' || !strstr(s, ">1 ")))
		abort();
	free(s);
	eve = export_eve(rec, &why);
	if (eve) {
		s = json_dumps(eve, JSON_COMPACT);
		if (!s || strcmp(json_string_value(json_object_get(eve, "event_type")), "alert") != 0)
			abort();
		free(s);
		json_decref(eve);
	}
	json_decref(rec);
	return 0;
}

/*
 * The state message; see state.h.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "core/common.h"
#include "hub/state.h"

static int state_dump(json_t *o, char **out)
{
	char *s;

	if (!o)
		return -ENOMEM;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	*out = s;
	return (int)strlen(s);
}

static json_t *state_bundle(const struct bundle *b)
{
	const struct bundle_info *in;
	uint8_t sha[32];
	char hex[65];

	if (!b)
		return json_null();
	in = bundle_get_info(b);
	bundle_sha256(b, sha);
	hex_encode(sha, sizeof(sha), hex);
	return json_pack("{sI sssI sI}", "serial", (json_int_t)in->serial, "sha256", hex,
			 "created", (json_int_t)in->created, "expires", (json_int_t)in->expires);
}

static json_t *state_refusal(const struct ota *o)
{
	const struct ota_refusal *r = o ? &o->last_refusal : NULL;

	if (!r || !r->set)
		return json_null();
	return json_pack("{ss ss sI sI}", "reason", bundle_err_name(r->reason), "kind",
			 ota_kind_name(r->kind), "serial", (json_int_t)r->serial, "at",
			 (json_int_t)r->at_s);
}

int state_json(const struct state_in *in, char **out)
{
	return state_dump(json_pack("{sb ss ss ss ss so so sb sI sI}", "online", 1, "gateway",
				    in->gateway, "region", in->region, "firmware", in->firmware,
				    "mode", in->mode, "bundle", state_bundle(in->bundle),
				    "last_refusal", state_refusal(in->ota), "waiting_for_full",
				    in->ota && in->ota->waiting_for_full, "uptime_s",
				    (json_int_t)in->uptime_s, "time", (json_int_t)in->now_s),
			  out);
}

int state_will_json(const char *gateway, const char *region, char **out)
{
	return state_dump(json_pack("{sb ss ss}", "online", 0, "gateway", gateway, "region", region),
			  out);
}

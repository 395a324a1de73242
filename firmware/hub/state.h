/*
 * The gateway's retained state message (docs/protocol.md, "state"): what it
 * enforces and why it refused the last bundle, as JSON for
 * tg/v1/<region>/gw/<id>/state, and the last will the broker publishes in
 * its place when the session drops.
 */
#ifndef TG_STATE_H
#define TG_STATE_H

#include <stdint.h>

#include "hub/ota.h"
#include "policy/bundle.h"

struct state_in {
	const char *gateway;
	const char *region;
	const char *firmware;
	const char *mode;              /* "bridge", ... */
	const struct bundle *bundle;   /* in force, NULL if none */
	const struct ota *ota;         /* refusal and wait; NULL if no uplink yet */
	uint64_t uptime_s;
	uint64_t now_s;                /* wall clock, 0 if not known yet */
};

/* Compact JSON (malloc'ed, NUL-terminated) in *out. Returns its length or -ENOMEM. */
int state_json(const struct state_in *in, char **out);
/* The last will: {"online":false,"gateway":...,"region":...}. */
int state_will_json(const char *gateway, const char *region, char **out);

#endif

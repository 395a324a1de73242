/*
 * One log line per blocked flow (gateway_priv.h): a client whose SYN or
 * ClientHello the gateway dropped or reset sends it again, and each try
 * opens the flow again on the same addresses and ports (flow.c: a SYN on a
 * blocked flow is a client trying again), so the packet path judges it
 * again and the hit callback would log the same block line every second
 * or two for as long as the client retries. A block line whose flow key,
 * rule and stage were logged within GW_BLOCKLOG_HOLD_MS is not logged
 * again; it is counted ("repeated", in the stop totals) and its time is
 * renewed, so a client that keeps trying is logged once. The hit is still
 * reported and counted by the policy and the report as before: only the
 * line is spared.
 *
 * DNS query verdicts are left out: each query is a request of its own
 * (docs/policy.md), logged each time.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/log.h"
#include "core/siphash.h"

/*
 * Linux retries an unanswered SYN 6 times in about 127 s (1, 2, 4, 8, 16,
 * 32, 64 s apart); a retry within 120 s of the last is the same try. A new
 * connection picks a new source port, so it is a new key and logged.
 */
#define GW_BLOCKLOG_HOLD_MS 120000

struct gw_blocklog_key {
	struct flow_key key;
	uint32_t rule;
	uint8_t stage, action;
};

bool gw_blocklog_repeat(struct gateway *g, const struct policy_hit *hit, uint64_t now_ms)
{
	struct gw_blocklog *bl = &g->blocklog;
	struct gw_blocklog_key k;
	uint64_t h;
	unsigned int i;

	if (hit->action != BUNDLE_ACT_BLOCK || hit->stage == POLICY_STAGE_DNS)
		return false;
	if (!bl->keyed) {
		siphash_random_key(bl->hash_key, "block log");
		bl->keyed = true;
	}
	memset(&k, 0, sizeof(k));
	k.key = hit->flow->key;
	k.rule = hit->rule;
	k.stage = hit->stage;
	k.action = hit->action;
	h = siphash24(bl->hash_key, &k, sizeof(k)) | 1; /* 0 marks a free slot */
	i = (unsigned int)(h % GW_BLOCKLOG_SLOTS);
	if (bl->hash[i] == h && now_ms - bl->at_ms[i] <= GW_BLOCKLOG_HOLD_MS) {
		bl->at_ms[i] = now_ms;
		bl->repeated++;
		return true;
	}
	bl->hash[i] = h;
	bl->at_ms[i] = now_ms;
	return false;
}

void gw_blocklog_log_totals(const struct gateway *g)
{
	if (g->blocklog.repeated)
		log_info("stopped: %llu blocks of a flow already logged as blocked (a client trying again) "
			 "not logged again",
			 (unsigned long long)g->blocklog.repeated);
}

void gw_blocklog_keep(struct gateway *g, const char *line)
{
	struct gw_blocklog *bl = &g->blocklog;
	char *slot = bl->kept[bl->kept_total % GW_BLOCKS_KEPT];
	time_t now = time(NULL);
	struct tm tm;
	char when[16] = "";

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(slot, sizeof(bl->kept[0]), "%s %s", when, line);
	bl->kept_total++;
}

unsigned int gw_blocklog_recent(const struct gateway *g, unsigned int n,
				void (*fn)(const char *line, void *ctx), void *ctx)
{
	const struct gw_blocklog *bl = &g->blocklog;
	uint64_t have = bl->kept_total < GW_BLOCKS_KEPT ? bl->kept_total : GW_BLOCKS_KEPT;

	if (n > have)
		n = (unsigned int)have;
	for (uint64_t i = bl->kept_total - n; i < bl->kept_total; i++)
		fn(bl->kept[i % GW_BLOCKS_KEPT], ctx);
	return n;
}

/* The local day of unix_s (TZ; UTC without one), as a number that changes at midnight. */
static int64_t gw_blocklog_day(uint64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return (int64_t)(unix_s / 86400);
	return (int64_t)(tm.tm_year + 1900) * 400 + tm.tm_yday;
}

void gw_blocklog_count(struct gateway *g, uint64_t unix_s)
{
	struct gw_blocklog *bl = &g->blocklog;
	int64_t day = gw_blocklog_day(unix_s);

	if (day != bl->today) {
		bl->today = day;
		bl->today_blocks = 0;
	}
	bl->today_blocks++;
}

uint64_t gw_blocklog_today(const struct gateway *g, uint64_t unix_s)
{
	return gw_blocklog_day(unix_s) == g->blocklog.today ? g->blocklog.today_blocks : 0;
}

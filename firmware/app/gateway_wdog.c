/*
 * The board's hardware watchdog in the live modes (gateway_priv.h): armed
 * when the gateway starts, fed from a timer of the event loop every third of
 * its timeout, so the feeding goes on exactly while the loop goes round: an
 * iteration that stalls (a callback stuck, the process stopped) stops it and
 * the hardware resets the box within the timeout. A stop asked for (signal,
 * --duration) disarms it with the magic close; any other exit leaves it
 * counting, and /sbin/init's restart must come back in time.
 */
#include <stdlib.h>

#define LOG_MODULE "watchdog"
#include "app/gateway_priv.h"
#include "core/board.h"
#include "core/common.h"
#include "core/log.h"
#include "core/watchdog.h"

struct gw_wdog {
	struct gateway *g;
	struct watchdog hw;
	struct loop_timer feed;
	uint64_t period_ms;
	uint64_t due_ms;   /* when the feed timer should fire next */
	uint64_t late_max_ms;
};

static void gw_wdog_feed(struct loop_timer *t)
{
	struct gw_wdog *w = container_of(t, struct gw_wdog, feed);
	uint64_t now = loop_now_ms();

	/* A late timer is a loop that stalled and came back: say by how much. */
	if (now > w->due_ms + w->period_ms && now - w->due_ms > w->late_max_ms) {
		w->late_max_ms = now - w->due_ms;
		log_warn("the loop stalled: the watchdog was fed %llu ms late (timeout %u s)",
			 (unsigned long long)w->late_max_ms, w->hw.timeout_s);
	}
	watchdog_feed(&w->hw);
	w->due_ms = now + w->period_ms;
	loop_timer_set(w->g->loop, &w->feed, w->period_ms);
}

void gw_wdog_start(struct gateway *g)
{
	const char *dev = board_info()->watchdog;
	struct gw_wdog *w;

	if (!dev || CONFIG_WATCHDOG_TIMEOUT == 0)
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		log_err("no memory for the watchdog: running without it");
		return;
	}
	if (watchdog_open(&w->hw, dev, CONFIG_WATCHDOG_TIMEOUT) < 0) {
		free(w);
		return;
	}
	w->g = g;
	w->period_ms = (uint64_t)w->hw.timeout_s * 1000u / 3u;
	if (w->period_ms < 100)
		w->period_ms = 100;
	w->feed.cb = gw_wdog_feed;
	w->due_ms = loop_now_ms() + w->period_ms;
	loop_timer_set(g->loop, &w->feed, w->period_ms);
	g->wdog = w;
}

void gw_wdog_stop(struct gateway *g, bool clean)
{
	struct gw_wdog *w = g->wdog;

	if (!w)
		return;
	loop_timer_cancel(g->loop, &w->feed);
	watchdog_close(&w->hw, clean);
	free(w);
	g->wdog = NULL;
}

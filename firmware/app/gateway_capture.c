/*
 * A bounded capture of one port to a pcap file on flash (gateway_priv.h),
 * for the console's `capture PORT SECONDS`: what the SOC asks a technician
 * to bring back. It ends by itself when its time is up or its file reaches
 * its size, whichever comes first, and when the mode stops; the frames are
 * written as they come from the port (before they are judged), so the file
 * shows what the wire carried. One capture at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "gateway"
#include "app/gateway_priv.h"
#include "core/capfile.h"
#include "core/common.h"
#include "core/i18n.h"
#include "core/log.h"

static void gw_capture_timer(struct loop_timer *t)
{
	struct gw_capture *cap = container_of(t, struct gw_capture, timer);

	gw_capture_stop(cap->g, N_("its time is up"));
}

int gw_capture_start(struct gateway *g, int port, uint32_t seconds, uint64_t max_bytes,
		     const char *path, gw_capture_done_fn done, void *ctx)
{
	struct gw_capture *cap = &g->capture;
	int ret;

	if (cap->cf)
		return -EBUSY;
	ret = capfile_open(&cap->cf, path, 65535);
	if (ret < 0) {
		log_err("capture: cannot create %s: %s", path, strerror(-ret));
		return ret;
	}
	cap->g = g;
	cap->port = port;
	cap->frames = 0;
	cap->bytes = 24; /* the pcap file header */
	cap->max_bytes = max_bytes;
	cap->done = done;
	cap->ctx = ctx;
	snprintf(cap->path, sizeof(cap->path), "%s", path);
	cap->timer.cb = gw_capture_timer;
	loop_timer_set(g->loop, &cap->timer, (uint64_t)seconds * 1000);
	log_info("capture: %s for %u s, at most %llu bytes, into %s", g->ports[port].name, seconds,
		 (unsigned long long)max_bytes, path);
	return 0;
}

void gw_capture_frame(struct gateway *g, const struct port_frame *fr)
{
	struct gw_capture *cap = &g->capture;
	int n;

	if (cap->bytes + 16 + fr->caplen > cap->max_bytes) {
		gw_capture_stop(g, N_("the file reached its size"));
		return;
	}
	n = capfile_write(cap->cf, fr->ts_us, fr->data, fr->caplen, fr->wirelen);
	if (n < 0) {
		gw_capture_stop(g, N_("the flash refused a write"));
		return;
	}
	cap->bytes += (uint64_t)n;
	cap->frames++;
}

void gw_capture_stop(struct gateway *g, const char *why)
{
	struct gw_capture *cap = &g->capture;
	gw_capture_done_fn done = cap->done;

	if (!cap->cf)
		return;
	loop_timer_cancel(g->loop, &cap->timer);
	if (capfile_close(cap->cf) < 0)
		why = N_("the flash refused a write");
	cap->cf = NULL;
	cap->done = NULL;
	log_info("capture: %s ended (%s): %llu frames, %llu bytes in %s", g->ports[cap->port].name, why,
		 (unsigned long long)cap->frames, (unsigned long long)cap->bytes, cap->path);
	if (done)
		done(g, why, cap->ctx);
}

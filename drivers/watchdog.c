/*
 * The hardware watchdog through Linux's watchdog device (core/watchdog.h):
 * WDIOC_SETTIMEOUT to arm it with the configured timeout, WDIOC_KEEPALIVE
 * to feed it, and the magic close (writing 'V' before close) to stop it on a
 * clean exit. Drivers that cannot stop (nowayout) keep counting after the
 * magic close; the kernel logs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOG_MODULE "watchdog"
#include "core/log.h"
#include "core/watchdog.h"

int watchdog_open(struct watchdog *w, const char *dev, unsigned int timeout_s)
{
	struct watchdog_info info = { 0 };
	int t = (int)timeout_s, err;

	w->fd = -1;
	snprintf(w->dev, sizeof(w->dev), "%s", dev);
	w->fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		log_err("%s: cannot open: %s (running without the watchdog)", dev, strerror(-err));
		return err;
	}
	if (ioctl(w->fd, WDIOC_GETSUPPORT, &info) < 0)
		snprintf((char *)info.identity, sizeof(info.identity), "?");
	if (ioctl(w->fd, WDIOC_SETTIMEOUT, &t) < 0) {
		err = -errno;
		/* Armed all the same, with the device's own timeout: keep feeding it. */
		t = 0;
		if (ioctl(w->fd, WDIOC_GETTIMEOUT, &t) < 0)
			t = 0;
		log_warn("%s: timeout %u s refused (%s): the device's %d s stays", dev, timeout_s,
			 strerror(-err), t);
	}
	w->timeout_s = t > 0 ? (unsigned int)t : timeout_s;
	if (watchdog_feed(w) < 0) {
		watchdog_close(w, true);
		return -EIO;
	}
	log_info("%s (%.32s): armed, timeout %u s", dev, (const char *)info.identity, w->timeout_s);
	return 0;
}

int watchdog_feed(struct watchdog *w)
{
	int dummy = 0;

	if (w->fd < 0)
		return -EBADF;
	if (ioctl(w->fd, WDIOC_KEEPALIVE, &dummy) < 0) {
		int err = -errno;

		log_err("%s: keepalive failed: %s", w->dev, strerror(-err));
		return err;
	}
	return 0;
}

void watchdog_close(struct watchdog *w, bool disarm)
{
	if (w->fd < 0)
		return;
	if (disarm && write(w->fd, "V", 1) != 1)
		log_warn("%s: magic close failed: %s (it keeps counting)", w->dev, strerror(errno));
	close(w->fd);
	w->fd = -1;
	if (disarm)
		log_info("%s: disarmed (clean stop)", w->dev);
	else
		log_warn("%s: closed armed: the box resets unless townguard is back within %u s",
			 w->dev, w->timeout_s);
}

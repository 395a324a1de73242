/*
 * The event loop: level-triggered epoll for descriptors plus a sorted list of
 * one-shot timers, after libubox's uloop.
 *
 * Each iteration fires the timers that are due, then waits in epoll_wait()
 * until the earliest remaining timer (or forever), then dispatches the ready
 * descriptors. Callbacks may add and remove descriptors and set or cancel any
 * timer, including the one that is firing.
 *
 * Removing a descriptor from a callback must not leave a stale entry in the
 * batch epoll_wait() returned (its owner may already have freed it), so
 * loop_fd_del() clears the descriptor's remaining entries in that batch, as
 * uloop does with cur_fds.
 *
 * loop_stop() only sets a sig_atomic_t flag and writes to an eventfd that is
 * part of the epoll set, so it is async-signal-safe and wakes a loop blocked
 * in epoll_wait() even if the signal arrived just before it went to sleep.
 */
#include "core/loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"

_Static_assert(CONFIG_LOOP_MAX_EVENTS >= 1, "CONFIG_LOOP_MAX_EVENTS must be >= 1");

struct loop {
	int epfd;
	volatile sig_atomic_t stop;
	bool stop_consumed; /* the last loop_run() returned because of stop */
	/* Pending timers, earliest first; equal expiry times in arming order. */
	struct loop_timer *timers;
	/* eventfd written by loop_stop() so a sleeping epoll_wait() returns. */
	struct loop_fd wake;
	/* The batch being dispatched: loop_fd_del() clears entries after cur. */
	struct epoll_event events[CONFIG_LOOP_MAX_EVENTS];
	int nevents;
	int cur;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void loop_wake_cb(struct loop_fd *lfd, unsigned int events)
{
	uint64_t count;
	ssize_t n;

	(void)events;
	n = read(lfd->fd, &count, sizeof(count)); /* nonblocking: drains or EAGAIN */
	(void)n;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_free;
	l->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake.fd < 0)
		goto err_epoll;
	l->wake.cb = loop_wake_cb;
	err = loop_fd_add(l, &l->wake, LOOP_READ);
	if (err < 0) {
		errno = -err;
		goto err_eventfd;
	}
	return l;

err_eventfd:
	err = errno;
	close(l->wake.fd);
	errno = err;
err_epoll:
	err = errno;
	close(l->epfd);
	errno = err;
err_free:
	free(l);
	return NULL;
}

void loop_free(struct loop *l)
{
	struct loop_timer *t, *next;

	if (!l)
		return;
	for (t = l->timers; t; t = next) {
		next = t->next;
		t->pending = false;
		t->next = NULL;
	}
	close(l->wake.fd);
	close(l->epfd);
	free(l);
}

int loop_fd_add(struct loop *l, struct loop_fd *lfd, unsigned int events)
{
	struct epoll_event ev = { .data.ptr = lfd };
	int op = lfd->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (events & LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(l->epfd, op, lfd->fd, &ev) < 0)
		return -errno;
	lfd->events = events;
	lfd->registered = true;
	return 0;
}

int loop_fd_del(struct loop *l, struct loop_fd *lfd)
{
	int ret = 0;

	if (!lfd->registered)
		return 0;
	/* ENOENT/EBADF: the fd was closed first, so epoll dropped it already. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, lfd->fd, NULL) < 0 && errno != ENOENT &&
	    errno != EBADF)
		ret = -errno;
	lfd->registered = false;
	for (int i = l->cur + 1; i < l->nevents; i++)
		if (l->events[i].data.ptr == lfd)
			l->events[i].data.ptr = NULL;
	return ret;
}

static void loop_timer_unlink(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **pp;

	for (pp = &l->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->pending = false;
}

int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms)
{
	struct loop_timer **pp;
	uint64_t now = loop_now_ms();

	if (t->pending)
		loop_timer_unlink(l, t);
	t->expires_ms = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
	/* After every timer with the same expiry: equal timers fire in arming order. */
	for (pp = &l->timers; *pp && (*pp)->expires_ms <= t->expires_ms; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->pending = true;
	return 0;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (t->pending)
		loop_timer_unlink(l, t);
}

/*
 * Fire the timers due now. Only as many as were due on entry: a timer that
 * re-arms itself with 0 ms goes behind them and waits for the next pass, so
 * it cannot starve the descriptors.
 */
static void loop_run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms();
	unsigned int due = 0;
	struct loop_timer *t;

	for (t = l->timers; t && t->expires_ms <= now; t = t->next)
		due++;
	while (due-- && !l->stop) {
		t = l->timers;
		if (!t || t->expires_ms > now)
			break; /* a callback cancelled the rest */
		loop_timer_unlink(l, t);
		if (t->cb)
			t->cb(t);
	}
}

static int loop_timeout_ms(const struct loop *l)
{
	uint64_t now;

	if (!l->timers)
		return -1;
	now = loop_now_ms();
	if (l->timers->expires_ms <= now)
		return 0;
	if (l->timers->expires_ms - now > INT_MAX)
		return INT_MAX;
	return (int)(l->timers->expires_ms - now);
}

static void loop_dispatch(struct loop *l)
{
	for (l->cur = 0; l->cur < l->nevents && !l->stop; l->cur++) {
		struct loop_fd *lfd = l->events[l->cur].data.ptr;
		uint32_t ev = l->events[l->cur].events;
		unsigned int events = 0;

		if (!lfd || !lfd->cb)
			continue; /* removed earlier in this batch */
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
			events |= LOOP_READ;
		if (ev & EPOLLOUT)
			events |= LOOP_WRITE;
		lfd->cb(lfd, events);
	}
	l->nevents = 0;
	l->cur = 0;
}

int loop_run(struct loop *l)
{
	/*
	 * A stop that ended the previous run is consumed here, so a loop can be
	 * run again; a stop requested before the first run (a SIGTERM during
	 * start-up) makes this run return at once.
	 */
	if (l->stop_consumed) {
		l->stop = 0;
		l->stop_consumed = false;
	}
	while (!l->stop) {
		int n;

		loop_run_timers(l);
		if (l->stop)
			break;
		n = epoll_wait(l->epfd, l->events, CONFIG_LOOP_MAX_EVENTS, loop_timeout_ms(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->nevents = n;
		loop_dispatch(l);
	}
	l->stop_consumed = true;
	return 0;
}

void loop_stop(struct loop *l)
{
	static const uint64_t one = 1;
	int saved_errno = errno;
	ssize_t n;

	l->stop = 1;
	n = write(l->wake.fd, &one, sizeof(one)); /* EAGAIN: already awake */
	(void)n;
	errno = saved_errno;
}

bool loop_stopped(const struct loop *l)
{
	return l->stop != 0;
}

static void loop_signal_ready(struct loop_fd *lfd, unsigned int events)
{
	struct loop_signal *s = container_of(lfd, struct loop_signal, lfd);
	struct signalfd_siginfo si;

	(void)events;
	while (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		s->cb(s, (int)si.ssi_signo);
}

int loop_signal_add(struct loop *l, struct loop_signal *s, const int *signals, int n)
{
	int ret;

	sigemptyset(&s->set);
	for (int i = 0; i < n; i++)
		sigaddset(&s->set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &s->set, NULL) < 0)
		return -errno;
	s->lfd.fd = signalfd(-1, &s->set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->lfd.fd < 0) {
		ret = -errno;
		sigprocmask(SIG_UNBLOCK, &s->set, NULL);
		return ret;
	}
	s->lfd.cb = loop_signal_ready;
	ret = loop_fd_add(l, &s->lfd, LOOP_READ);
	if (ret < 0) {
		close(s->lfd.fd);
		sigprocmask(SIG_UNBLOCK, &s->set, NULL);
	}
	return ret;
}

void loop_signal_del(struct loop *l, struct loop_signal *s)
{
	loop_fd_del(l, &s->lfd);
	close(s->lfd.fd);
	s->lfd.fd = -1;
	sigprocmask(SIG_UNBLOCK, &s->set, NULL);
}

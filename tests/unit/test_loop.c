/*
 * loop: descriptors are dispatched when ready, timers fire in expiry order,
 * a periodic timer re-arms itself, cancelled timers stay silent, a descriptor
 * removed by an earlier callback of the same batch is not called, and
 * loop_stop() works from a signal handler. Every test is over in well under
 * a second; a watchdog timer fails any test that would hang.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/common.h"
#include "core/loop.h"

/* Longest any test may run before the watchdog stops it and it fails. */
#define WATCHDOG_MS 2000

struct watchdog {
	struct loop *l;
	struct loop_timer t;
	bool fired;
};

static void watchdog_cb(struct loop_timer *t)
{
	struct watchdog *w = container_of(t, struct watchdog, t);

	w->fired = true;
	loop_stop(w->l);
}

static void watchdog_arm(struct watchdog *w, struct loop *l)
{
	memset(w, 0, sizeof(*w));
	w->l = l;
	w->t.cb = watchdog_cb;
	assert_int_equal(loop_timer_set(l, &w->t, WATCHDOG_MS), 0);
}

static void run_and_check(struct loop *l, struct watchdog *w)
{
	assert_int_equal(loop_run(l), 0);
	assert_false(w->fired);
	assert_true(loop_stopped(l));
}

/* ---------------------------------------------------------------- descriptors */

struct pipe_reader {
	struct loop *l;
	struct loop_fd lfd;
	int wfd;
	unsigned int calls;
	unsigned int events;
	char got[16];
	struct pipe_reader *victim; /* removed (and poisoned) by this reader's callback */
};

static void pipe_reader_open(struct pipe_reader *r, struct loop *l, loop_fd_cb cb)
{
	int fds[2];

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe(fds), 0);
	r->l = l;
	r->lfd.fd = fds[0];
	r->lfd.cb = cb;
	r->wfd = fds[1];
}

static void pipe_reader_close(struct pipe_reader *r)
{
	close(r->lfd.fd);
	if (r->wfd >= 0)
		close(r->wfd);
}

static void read_and_stop_cb(struct loop_fd *lfd, unsigned int events)
{
	struct pipe_reader *r = container_of(lfd, struct pipe_reader, lfd);

	r->calls++;
	r->events = events;
	assert_true(read(lfd->fd, r->got, sizeof(r->got) - 1) > 0);
	loop_stop(r->l);
}

static void test_fd_readiness(void **state)
{
	struct loop *l = loop_new();
	struct pipe_reader r;
	struct watchdog w;

	(void)state;
	assert_non_null(l);
	pipe_reader_open(&r, l, read_and_stop_cb);
	watchdog_arm(&w, l);
	assert_int_equal(loop_fd_add(l, &r.lfd, LOOP_READ), 0);
	assert_true(r.lfd.registered);
	assert_int_equal(write(r.wfd, "ping", 4), 4);
	run_and_check(l, &w);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_READ);
	assert_string_equal(r.got, "ping");

	assert_int_equal(loop_fd_del(l, &r.lfd), 0);
	assert_false(r.lfd.registered);
	assert_int_equal(loop_fd_del(l, &r.lfd), 0); /* twice is harmless */
	pipe_reader_close(&r);
	loop_free(l);
}

static void hup_cb(struct loop_fd *lfd, unsigned int events)
{
	struct pipe_reader *r = container_of(lfd, struct pipe_reader, lfd);

	r->calls++;
	r->events = events;
	loop_fd_del(r->l, lfd);
	loop_stop(r->l);
}

/* A closed peer is reported as readable, so the reader sees EOF. */
static void test_fd_hangup_is_read(void **state)
{
	struct loop *l = loop_new();
	struct pipe_reader r;
	struct watchdog w;

	(void)state;
	pipe_reader_open(&r, l, hup_cb);
	watchdog_arm(&w, l);
	assert_int_equal(loop_fd_add(l, &r.lfd, LOOP_READ), 0);
	close(r.wfd);
	r.wfd = -1;
	run_and_check(l, &w);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_READ);
	pipe_reader_close(&r);
	loop_free(l);
}

struct sock_end {
	struct loop *l;
	struct loop_fd lfd;
	unsigned int events;
};

static void sock_cb(struct loop_fd *lfd, unsigned int events)
{
	struct sock_end *s = container_of(lfd, struct sock_end, lfd);

	s->events = events;
	loop_stop(s->l);
}

/* Adding a registered descriptor again changes its events (EPOLL_CTL_MOD). */
static void test_fd_add_again_modifies(void **state)
{
	struct loop *l = loop_new();
	struct sock_end s = { .l = l, .lfd.cb = sock_cb };
	struct watchdog w;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.lfd.fd = sv[0];
	watchdog_arm(&w, l);
	/* nothing to read: waiting for READ alone would hit the watchdog */
	assert_int_equal(loop_fd_add(l, &s.lfd, LOOP_READ), 0);
	assert_int_equal(loop_fd_add(l, &s.lfd, LOOP_WRITE), 0);
	assert_int_equal(s.lfd.events, LOOP_WRITE);
	run_and_check(l, &w);
	assert_int_equal(s.events, LOOP_WRITE);

	assert_int_equal(loop_fd_del(l, &s.lfd), 0);
	assert_int_equal(loop_fd_add(l, &s.lfd, LOOP_READ | LOOP_WRITE), 0);
	assert_int_equal(loop_fd_del(l, &s.lfd), 0);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

static void test_fd_add_bad_fd(void **state)
{
	struct loop *l = loop_new();
	struct loop_fd lfd = { .fd = -1 };

	(void)state;
	assert_int_equal(loop_fd_add(l, &lfd, LOOP_READ), -EBADF);
	assert_false(lfd.registered);
	loop_free(l);
}

/*
 * Two readers ready in the same batch; whichever runs first removes the
 * other and points its callback at one that fails the test.
 */
static void must_not_run_cb(struct loop_fd *lfd, unsigned int events)
{
	(void)lfd;
	(void)events;
	fail_msg("callback of a descriptor removed earlier in the batch");
}

static void remove_other_cb(struct loop_fd *lfd, unsigned int events)
{
	struct pipe_reader *r = container_of(lfd, struct pipe_reader, lfd);

	(void)events;
	r->calls++;
	assert_int_equal(loop_fd_del(r->l, &r->victim->lfd), 0);
	r->victim->lfd.cb = must_not_run_cb;
	assert_int_equal(loop_fd_del(r->l, lfd), 0);
}

/* Ends a test a little later, so the rest of a batch is dispatched first. */
struct stopper {
	struct loop *l;
	struct loop_timer t;
};

static void stopper_cb(struct loop_timer *t)
{
	loop_stop(container_of(t, struct stopper, t)->l);
}

static void stopper_arm(struct stopper *s, struct loop *l)
{
	s->l = l;
	s->t = (struct loop_timer){ .cb = stopper_cb };
	assert_int_equal(loop_timer_set(l, &s->t, 10), 0);
}

static void test_fd_removed_in_same_batch(void **state)
{
	struct loop *l = loop_new();
	struct pipe_reader a, b;
	struct stopper stop;
	struct watchdog w;

	(void)state;
	pipe_reader_open(&a, l, remove_other_cb);
	pipe_reader_open(&b, l, remove_other_cb);
	a.victim = &b;
	b.victim = &a;
	watchdog_arm(&w, l);
	stopper_arm(&stop, l);
	assert_int_equal(loop_fd_add(l, &a.lfd, LOOP_READ), 0);
	assert_int_equal(loop_fd_add(l, &b.lfd, LOOP_READ), 0);
	assert_int_equal(write(a.wfd, "a", 1), 1);
	assert_int_equal(write(b.wfd, "b", 1), 1);
	run_and_check(l, &w);
	assert_int_equal(a.calls + b.calls, 1);
	pipe_reader_close(&a);
	pipe_reader_close(&b);
	loop_free(l);
}

/*
 * The same, but the victim is freed; ASan reports a use after free if the
 * loop touches it. Also the victim is re-added elsewhere in memory.
 */
struct owner {
	struct loop *l;
	struct loop_fd lfd;
	struct owner **victim;
	unsigned int *calls;
};

static void free_other_cb(struct loop_fd *lfd, unsigned int events)
{
	struct owner *o = container_of(lfd, struct owner, lfd);
	struct owner *v = *o->victim;

	(void)events;
	(*o->calls)++;
	assert_int_equal(loop_fd_del(o->l, &v->lfd), 0);
	free(v);
	*o->victim = NULL;
	assert_int_equal(loop_fd_del(o->l, lfd), 0);
}

static void test_fd_freed_in_same_batch(void **state)
{
	struct loop *l = loop_new();
	struct owner *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct stopper stop;
	struct watchdog w;
	unsigned int calls = 0;
	int pa[2], pb[2];

	(void)state;
	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	*a = (struct owner){ .l = l, .lfd = { .fd = pa[0], .cb = free_other_cb }, .victim = &b,
			     .calls = &calls };
	*b = (struct owner){ .l = l, .lfd = { .fd = pb[0], .cb = free_other_cb }, .victim = &a,
			     .calls = &calls };
	watchdog_arm(&w, l);
	stopper_arm(&stop, l);
	assert_int_equal(loop_fd_add(l, &a->lfd, LOOP_READ), 0);
	assert_int_equal(loop_fd_add(l, &b->lfd, LOOP_READ), 0);
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);
	run_and_check(l, &w);
	assert_int_equal(calls, 1);
	assert_true((a == NULL) != (b == NULL));
	free(a);
	free(b);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	loop_free(l);
}

/* ---------------------------------------------------------------- timers */

struct order_timer {
	struct loop *l;
	struct loop_timer t;
	int *log;
	int *n;
	int id;
	bool last;
};

static void order_cb(struct loop_timer *t)
{
	struct order_timer *o = container_of(t, struct order_timer, t);

	assert_false(t->pending);
	o->log[(*o->n)++] = o->id;
	if (o->last)
		loop_stop(o->l);
}

static void test_timers_fire_in_order(void **state)
{
	/* armed out of order; equal expiry fires in arming order */
	static const struct {
		int id;
		uint64_t ms;
	} plan[] = { { 4, 30 }, { 1, 5 }, { 3, 20 }, { 2, 5 }, { 5, 40 } };
	struct loop *l = loop_new();
	struct order_timer t[ARRAY_SIZE(plan)];
	struct watchdog w;
	int log[8], n = 0;
	uint64_t start;

	(void)state;
	watchdog_arm(&w, l);
	for (size_t i = 0; i < ARRAY_SIZE(plan); i++) {
		t[i] = (struct order_timer){ .l = l, .t.cb = order_cb, .id = plan[i].id,
					     .log = log, .n = &n, .last = plan[i].id == 5 };
		assert_int_equal(loop_timer_set(l, &t[i].t, plan[i].ms), 0);
		assert_true(t[i].t.pending);
	}
	start = loop_now_ms();
	run_and_check(l, &w);
	assert_true(loop_now_ms() - start >= 40);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(log[i], i + 1);
	loop_free(l);
}

struct periodic {
	struct loop *l;
	struct loop_timer t;
	unsigned int runs, limit;
	uint64_t period_ms;
};

static void periodic_cb(struct loop_timer *t)
{
	struct periodic *p = container_of(t, struct periodic, t);

	if (++p->runs == p->limit) {
		loop_stop(p->l);
		return;
	}
	assert_int_equal(loop_timer_set(p->l, t, p->period_ms), 0);
	assert_true(t->pending);
}

static void test_periodic_timer_rearms(void **state)
{
	struct loop *l = loop_new();
	struct periodic p = { .l = l, .t.cb = periodic_cb, .limit = 5, .period_ms = 2 };
	struct watchdog w;
	uint64_t start = loop_now_ms();

	(void)state;
	watchdog_arm(&w, l);
	assert_int_equal(loop_timer_set(l, &p.t, 2), 0);
	run_and_check(l, &w);
	assert_int_equal(p.runs, 5);
	assert_false(p.t.pending);
	assert_true(loop_now_ms() - start >= 10);
	loop_free(l);
}

/* A timer re-arming itself at 0 ms must not starve descriptors. */
static void test_zero_period_does_not_starve_fds(void **state)
{
	struct loop *l = loop_new();
	struct periodic p = { .l = l, .t.cb = periodic_cb, .limit = 1000000, .period_ms = 0 };
	struct pipe_reader r;
	struct watchdog w;

	(void)state;
	pipe_reader_open(&r, l, read_and_stop_cb);
	watchdog_arm(&w, l);
	assert_int_equal(loop_fd_add(l, &r.lfd, LOOP_READ), 0);
	assert_int_equal(write(r.wfd, "x", 1), 1);
	assert_int_equal(loop_timer_set(l, &p.t, 0), 0);
	run_and_check(l, &w);
	assert_int_equal(r.calls, 1);
	/* once before the first wait, maybe once more; not until the clock ticks */
	assert_in_range(p.runs, 1, 2);
	loop_timer_cancel(l, &p.t);
	pipe_reader_close(&r);
	loop_free(l);
}

struct canceller {
	struct loop *l;
	struct loop_timer t;
	struct loop_timer *victim;
	bool stop;
	unsigned int runs;
};

static void canceller_cb(struct loop_timer *t)
{
	struct canceller *c = container_of(t, struct canceller, t);

	c->runs++;
	if (c->victim)
		loop_timer_cancel(c->l, c->victim);
	if (c->stop)
		loop_stop(c->l);
}

static void test_cancel(void **state)
{
	struct loop *l = loop_new();
	struct canceller never = { .l = l, .t.cb = canceller_cb };
	struct canceller due_too = { .l = l, .t.cb = canceller_cb };
	struct canceller first = { .l = l, .t.cb = canceller_cb, .victim = &due_too.t };
	struct canceller stopper = { .l = l, .t.cb = canceller_cb, .stop = true };
	struct watchdog w;

	(void)state;
	watchdog_arm(&w, l);
	assert_int_equal(loop_timer_set(l, &never.t, 5), 0);
	assert_int_equal(loop_timer_set(l, &first.t, 10), 0);
	/* due at the same time as `first`, cancelled by it before it can run */
	assert_int_equal(loop_timer_set(l, &due_too.t, 10), 0);
	assert_int_equal(loop_timer_set(l, &stopper.t, 30), 0);
	loop_timer_cancel(l, &never.t);
	assert_false(never.t.pending);
	loop_timer_cancel(l, &never.t); /* twice is harmless */
	/* re-arming moves a pending timer rather than adding it twice */
	assert_int_equal(loop_timer_set(l, &stopper.t, 50), 0);
	assert_int_equal(loop_timer_set(l, &stopper.t, 15), 0);
	run_and_check(l, &w);
	assert_int_equal(never.runs, 0);
	assert_int_equal(due_too.runs, 0);
	assert_int_equal(first.runs, 1);
	assert_int_equal(stopper.runs, 1);
	loop_free(l);
}

/* ---------------------------------------------------------------- stopping */

static struct loop *signal_loop;

static void on_alarm(int sig)
{
	(void)sig;
	loop_stop(signal_loop);
}

static void test_stop_from_signal_handler(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_usec = 20000 } };
	struct watchdog w;
	uint64_t start;

	(void)state;
	signal_loop = loop_new();
	assert_non_null(signal_loop);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	watchdog_arm(&w, signal_loop);
	start = loop_now_ms();
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	run_and_check(signal_loop, &w);
	assert_true(loop_now_ms() - start >= 15);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	loop_free(signal_loop);
	signal_loop = NULL;
}

/* A stop requested before the loop runs (SIGTERM during start-up) is kept. */
static void test_stop_before_run_and_rerun(void **state)
{
	struct loop *l = loop_new();
	struct periodic p = { .l = l, .t.cb = periodic_cb, .limit = 2, .period_ms = 1 };
	struct watchdog w;

	(void)state;
	assert_false(loop_stopped(l));
	loop_stop(l);
	assert_true(loop_stopped(l));
	assert_int_equal(loop_timer_set(l, &p.t, 0), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(p.runs, 0);
	/* a loop that returned can run again */
	watchdog_arm(&w, l);
	run_and_check(l, &w);
	assert_int_equal(p.runs, 2);
	loop_timer_cancel(l, &w.t);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_readiness),
		cmocka_unit_test(test_fd_hangup_is_read),
		cmocka_unit_test(test_fd_add_again_modifies),
		cmocka_unit_test(test_fd_add_bad_fd),
		cmocka_unit_test(test_fd_removed_in_same_batch),
		cmocka_unit_test(test_fd_freed_in_same_batch),
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_periodic_timer_rearms),
		cmocka_unit_test(test_zero_period_does_not_starve_fds),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_stop_from_signal_handler),
		cmocka_unit_test(test_stop_before_run_and_rerun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

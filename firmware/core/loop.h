/*
 * The one event loop: epoll over file descriptors plus a timer list, in the
 * style of libubox's uloop. Clients embed a struct loop_fd or struct
 * loop_timer in their own state and get back to it with container_of() in the
 * callback. No threads. A periodic timer re-arms itself from its callback.
 *
 * Time is CLOCK_MONOTONIC in milliseconds (loop_now_ms()).
 */
#ifndef TG_LOOP_H
#define TG_LOOP_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

struct loop;
struct loop_fd;
struct loop_timer;

#define LOOP_READ 0x1
#define LOOP_WRITE 0x2

/* Called with the ready events (LOOP_READ|LOOP_WRITE, plus LOOP_READ on error/hangup). */
typedef void (*loop_fd_cb)(struct loop_fd *lfd, unsigned int events);
typedef void (*loop_timer_cb)(struct loop_timer *t);

struct loop_fd {
	int fd;
	unsigned int events;
	loop_fd_cb cb;
	bool registered;
};

struct loop_timer {
	loop_timer_cb cb;
	uint64_t expires_ms;
	bool pending;
	struct loop_timer *next; /* loop-private: sorted pending list */
};

/*
 * Signals taken through the loop (signalfd): they are blocked for the process
 * and their callback runs from loop_run() like any other event, so it may do
 * anything (reload a configuration, stop the loop).
 */
struct loop_signal;
typedef void (*loop_signal_cb)(struct loop_signal *s, int signo);
struct loop_signal {
	struct loop_fd lfd;
	loop_signal_cb cb;
	sigset_t set;
};

/* Watch the n signals in signals[]. Returns 0 or -errno. */
int loop_signal_add(struct loop *l, struct loop_signal *s, const int *signals, int n);
/* Stop watching; the signals are unblocked again. */
void loop_signal_del(struct loop *l, struct loop_signal *s);

/* Create a loop. Returns NULL (errno set) on failure. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Register / change / remove a descriptor. Return 0 or -errno. */
int loop_fd_add(struct loop *l, struct loop_fd *lfd, unsigned int events);
int loop_fd_del(struct loop *l, struct loop_fd *lfd);

/* Arm a timer to fire in `ms` milliseconds (re-arming moves it). Returns 0. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Run until loop_stop(). Returns 0, or -errno if epoll_wait fails hard. */
int loop_run(struct loop *l);
/* Ask loop_run() to return after the current iteration (safe from callbacks and signal handlers). */
void loop_stop(struct loop *l);
bool loop_stopped(const struct loop *l);

uint64_t loop_now_ms(void);

#endif

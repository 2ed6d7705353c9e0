/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "net-loop.h"
#include "conn.h"
#include "net-private.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

struct net_post {
	struct net_post *next;
	void (*fn)(void *ctx);
	void *ctx;
};

enum net_loop_run_state {
	NET_LOOP_NOT_STARTED,
	NET_LOOP_RUNNING,
	NET_LOOP_EXITED,
};

struct net_loop {
	struct net_loops *loops;
	unsigned idx;
	struct event_base *base;
	pthread_t thread;

	/* Cross-thread post queue. */
	pthread_mutex_t lock;
	struct net_post *head, *tail;
	enum net_loop_run_state run_state;
	struct event *post_ev;

	/* Loop-thread state. */
	struct buf scratch;
	struct conn *conns;
	unsigned conn_count;
	unsigned holds;
	bool stopping, closing_conns;
	unsigned flush_timeout_ms;
	struct event *flush_timer;
};

struct net_loops {
	unsigned count;
	struct net_loop *loops;
	atomic_uint next;
	bool started, stopped;
};

static __thread struct net_loop *net_loop_cur;
static pthread_once_t net_evthread_once = PTHREAD_ONCE_INIT;

static void net_evthread_init(void)
{
	if (evthread_use_pthreads() < 0)
		i_fatal("libevent: evthread_use_pthreads() failed");
	/* A peer that resets the connection must not kill the process when
	 * a write hits it; errors come back as EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
}

static void net_loop_run_posts(struct net_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	struct net_post *p = loop->head;
	loop->head = loop->tail = NULL;
	pthread_mutex_unlock(&loop->lock);

	while (p != NULL) {
		struct net_post *next = p->next;
		p->fn(p->ctx);
		free(p);
		p = next;
	}
}

static void net_loop_post_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct net_loop *loop = ctx;

	net_loop_run_posts(loop);
	net_loop_check_stop(loop);
}

struct net_loops *net_loops_create(unsigned count)
{
	pthread_once(&net_evthread_once, net_evthread_init);
	if (count == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		count = n < 1 ? 1 : (unsigned)n;
	}
	struct net_loops *loops = i_new(struct net_loops, 1);
	loops->count = count;
	loops->loops = i_new(struct net_loop, count);
	for (unsigned i = 0; i < count; i++) {
		struct net_loop *loop = &loops->loops[i];
		loop->loops = loops;
		loop->idx = i;
		loop->base = event_base_new();
		if (loop->base == NULL)
			i_fatal("libevent: event_base_new() failed");
		pthread_mutex_init(&loop->lock, NULL);
		loop->post_ev = event_new(loop->base, -1, 0, net_loop_post_cb,
					  loop);
		if (loop->post_ev == NULL)
			i_fatal("libevent: event_new() failed");
	}
	return loops;
}

static void *net_loop_thread(void *arg)
{
	struct net_loop *loop = arg;

	net_loop_cur = loop;
	/* Posts made before start are waiting. */
	net_loop_run_posts(loop);
	if (event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0)
		log_error(NULL, "net_loop_error", "loop=%u", loop->idx);

	/* Whatever was posted before the exit still runs here; later posts
	 * are dropped (see net_loop_post). */
	pthread_mutex_lock(&loop->lock);
	loop->run_state = NET_LOOP_EXITED;
	pthread_mutex_unlock(&loop->lock);
	net_loop_run_posts(loop);
	net_loop_cur = NULL;
	return NULL;
}

void net_loops_start(struct net_loops *loops)
{
	i_assert(!loops->started);
	loops->started = true;
	for (unsigned i = 0; i < loops->count; i++) {
		struct net_loop *loop = &loops->loops[i];
		pthread_mutex_lock(&loop->lock);
		loop->run_state = NET_LOOP_RUNNING;
		pthread_mutex_unlock(&loop->lock);
		int ret = pthread_create(&loop->thread, NULL, net_loop_thread,
					 loop);
		if (ret != 0)
			i_fatal("pthread_create: %s", strerror(ret));
	}
}

static void net_loop_flush_timeout(evutil_socket_t fd, short what, void *ctx)
{
	struct net_loop *loop = ctx;

	for (struct conn *c = loop->conns; c != NULL; c = conn_list_next(c))
		conn_close(c, "shutdown flush timeout");
}

void net_loop_check_stop(struct net_loop *loop)
{
	if (!loop->stopping)
		return;
	if (!loop->closing_conns && loop->holds == 0) {
		loop->closing_conns = true;
		for (struct conn *c = loop->conns; c != NULL;
		     c = conn_list_next(c))
			conn_close_after_flush(c, "shutdown");
		struct timeval tv = {loop->flush_timeout_ms / 1000,
				     (loop->flush_timeout_ms % 1000) * 1000};
		loop->flush_timer = evtimer_new(loop->base,
						net_loop_flush_timeout, loop);
		evtimer_add(loop->flush_timer, &tv);
	}
	if (loop->closing_conns && loop->conn_count == 0 && loop->holds == 0)
		event_base_loopexit(loop->base, NULL);
}

static void net_loop_stop_begin(void *ctx)
{
	struct net_loop *loop = ctx;

	loop->stopping = true;
	for (struct conn *c = loop->conns; c != NULL; c = conn_list_next(c))
		conn_loop_shutdown(c);
	net_loop_check_stop(loop);
}

void net_loops_stop(struct net_loops *loops, unsigned flush_timeout_ms)
{
	i_assert(net_loop_current() == NULL);
	if (loops->stopped)
		return;
	loops->stopped = true;
	if (!loops->started)
		return;
	for (unsigned i = 0; i < loops->count; i++) {
		loops->loops[i].flush_timeout_ms = flush_timeout_ms;
		net_loop_post(&loops->loops[i], net_loop_stop_begin,
			      &loops->loops[i]);
	}
	for (unsigned i = 0; i < loops->count; i++)
		pthread_join(loops->loops[i].thread, NULL);
}

void net_loops_destroy(struct net_loops **_loops)
{
	struct net_loops *loops = *_loops;

	if (loops == NULL)
		return;
	*_loops = NULL;
	net_loops_stop(loops, 0);
	for (unsigned i = 0; i < loops->count; i++) {
		struct net_loop *loop = &loops->loops[i];
		i_assert(loop->conns == NULL);
		net_loop_run_posts(loop);
		if (loop->flush_timer != NULL)
			event_free(loop->flush_timer);
		event_free(loop->post_ev);
		event_base_free(loop->base);
		pthread_mutex_destroy(&loop->lock);
		buf_free(&loop->scratch);
	}
	free(loops->loops);
	free(loops);
}

unsigned net_loops_count(const struct net_loops *loops)
{
	return loops->count;
}

struct net_loop *net_loops_get(struct net_loops *loops, unsigned idx)
{
	i_assert(idx < loops->count);
	return &loops->loops[idx];
}

struct net_loop *net_loops_next(struct net_loops *loops)
{
	unsigned n = atomic_fetch_add(&loops->next, 1);
	return &loops->loops[n % loops->count];
}

struct net_loop *net_loop_current(void)
{
	return net_loop_cur;
}

unsigned net_loop_index(const struct net_loop *loop)
{
	return loop->idx;
}

struct event_base *net_loop_base(struct net_loop *loop)
{
	return loop->base;
}

bool net_loop_try_post(struct net_loop *loop, void (*fn)(void *ctx),
		       void *ctx, bool allow_before_start)
{
	struct net_post *p = i_new(struct net_post, 1);
	p->fn = fn;
	p->ctx = ctx;

	pthread_mutex_lock(&loop->lock);
	if (loop->run_state == NET_LOOP_EXITED ||
	    (loop->run_state == NET_LOOP_NOT_STARTED && !allow_before_start)) {
		pthread_mutex_unlock(&loop->lock);
		free(p);
		return false;
	}
	if (loop->tail == NULL)
		loop->head = p;
	else
		loop->tail->next = p;
	loop->tail = p;
	/* Wakes the loop from another thread (evthread is on). */
	if (loop->run_state == NET_LOOP_RUNNING)
		event_active(loop->post_ev, 0, 0);
	pthread_mutex_unlock(&loop->lock);
	return true;
}

bool net_loop_is_running(struct net_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	bool running = loop->run_state == NET_LOOP_RUNNING;
	pthread_mutex_unlock(&loop->lock);
	return running;
}

void net_loop_post(struct net_loop *loop, void (*fn)(void *ctx), void *ctx)
{
	if (net_loop_try_post(loop, fn, ctx, true))
		return;
	/* The loop thread has exited (shutdown), yet completions still
	 * arrive, e.g. from the store's final drain. They are queued and run
	 * by net_loops_destroy() on the destroying thread, so whatever they
	 * own is freed instead of leaking. */
	struct net_post *p = i_new(struct net_post, 1);
	p->fn = fn;
	p->ctx = ctx;
	pthread_mutex_lock(&loop->lock);
	if (loop->tail == NULL)
		loop->head = p;
	else
		loop->tail->next = p;
	loop->tail = p;
	pthread_mutex_unlock(&loop->lock);
}

static void net_loop_completion_post(void *owner, void (*fn)(void *ctx),
				     void *ctx)
{
	net_loop_post(owner, fn, ctx);
}

struct completion_target net_loop_completion_target(struct net_loop *loop)
{
	struct completion_target t = {net_loop_completion_post, loop};
	return t;
}

void net_loop_hold(struct net_loop *loop)
{
	i_assert(net_loop_cur == loop || loop->run_state != NET_LOOP_RUNNING);
	loop->holds++;
}

void net_loop_unhold(struct net_loop *loop)
{
	i_assert(net_loop_cur == loop || loop->run_state != NET_LOOP_RUNNING);
	i_assert(loop->holds > 0);
	loop->holds--;
	if (loop->holds == 0)
		net_loop_check_stop(loop);
}

bool net_loop_is_stopping(const struct net_loop *loop)
{
	return loop->stopping;
}

struct buf *net_loop_scratch(struct net_loop *loop)
{
	return &loop->scratch;
}

void net_loop_conn_attach(struct net_loop *loop, struct conn *conn)
{
	conn_list_set_prev(conn, NULL);
	conn_list_set_next(conn, loop->conns);
	if (loop->conns != NULL)
		conn_list_set_prev(loop->conns, conn);
	loop->conns = conn;
	loop->conn_count++;
}

void net_loop_conn_detach(struct net_loop *loop, struct conn *conn)
{
	struct conn *prev = conn_list_prev(conn), *next = conn_list_next(conn);

	if (prev != NULL)
		conn_list_set_next(prev, next);
	else
		loop->conns = next;
	if (next != NULL)
		conn_list_set_prev(next, prev);
	conn_list_set_next(conn, NULL);
	conn_list_set_prev(conn, NULL);
	i_assert(loop->conn_count > 0);
	loop->conn_count--;
	net_loop_check_stop(loop);
}

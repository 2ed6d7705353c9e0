/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_NET_LOOP_H
#define POSTHORN_NET_LOOP_H

#include <stdbool.h>
#include "workpool.h"

/* I/O threads: each runs one libevent event_base and owns the connections
 * accepted onto it. Every conn_*() call for a connection, and every
 * callback for it, happens on its loop's thread. Other threads reach a loop
 * only through net_loop_post() (or the completion target built on it).
 *
 * Lifecycle, from the daemon's main thread:
 *   loops = net_loops_create(0);             one loop per core
 *   ... net_listener_create() on loops ...   (before dropping privileges)
 *   net_loops_start(loops);                  threads run
 *   ... on SIGTERM: net_listener_destroy() each listener ...
 *   net_loops_stop(loops, 5000);             see below, joins the threads
 *   net_loops_destroy(&loops);
 */
struct net_loops;
struct net_loop;
struct event_base;

/* count 0 = one loop per online CPU. Never fails (aborts on resource
 * exhaustion: this is start-up). Also switches libevent to pthreads and
 * ignores SIGPIPE process-wide (writes to a reset peer return EPIPE). */
struct net_loops *net_loops_create(unsigned count);
/* Starts one thread per loop. Call once. */
void net_loops_start(struct net_loops *loops);
/* Graceful stop, then join. On each loop, in order:
 *  1. conn handlers' on_shutdown() runs for every open connection (a
 *     protocol may write e.g. "421 shutting down" and close);
 *  2. the loop keeps running until no hold is left (conn_ref() references
 *     and net_loop_hold() count as holds): in-flight work such as a store
 *     commit finishes and its completion runs and answers the client;
 *  3. every remaining connection is closed after flushing its output, or
 *     immediately once flush_timeout_ms has passed; input not yet
 *     delivered (pipelined commands) is not started any more;
 *  4. the thread exits once no connection is left.
 * Close the listeners first. Must not be called from a loop thread. Posts
 * made after a loop has exited are dropped (logged as a warning). */
void net_loops_stop(struct net_loops *loops, unsigned flush_timeout_ms);
/* Frees everything (stops first if still running); sets *loops to NULL. */
void net_loops_destroy(struct net_loops **loops);

unsigned net_loops_count(const struct net_loops *loops);
struct net_loop *net_loops_get(struct net_loops *loops, unsigned idx);

/* The loop whose thread is calling, or NULL on any other thread. */
struct net_loop *net_loop_current(void);
unsigned net_loop_index(const struct net_loop *loop);
/* For code that adds its own events (e.g. libunbound's ub_ctx_create_event)
 * to the loop. Use only on the loop's thread. */
struct event_base *net_loop_base(struct net_loop *loop);

/* Thread-safe: runs fn(ctx) on loop's thread later, never inline, in the
 * order posted (FIFO per loop). Posts that arrive after the loop thread
 * has exited run in net_loops_destroy(), on the thread calling it. */
void net_loop_post(struct net_loop *loop, void (*fn)(void *ctx), void *ctx);
/* A completion target (workpool.h) that posts to this loop. The returned
 * struct may be copied freely; it stays valid until net_loops_destroy(). */
struct completion_target net_loop_completion_target(struct net_loop *loop);

/* Holds delay step 4 of net_loops_stop(): take one before starting async
 * work that must finish before shutdown, release it in its completion.
 * Loop thread only. conn_ref() takes one implicitly. */
void net_loop_hold(struct net_loop *loop);
void net_loop_unhold(struct net_loop *loop);
/* True once net_loops_stop() has begun on this loop (loop thread only):
 * protocols may refuse new work. */
bool net_loop_is_stopping(const struct net_loop *loop);

#endif

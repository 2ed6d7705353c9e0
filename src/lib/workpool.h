/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_WORKPOOL_H
#define POSTHORN_WORKPOOL_H

#include <stdbool.h>

/* Where a completion runs. Event-loop code never blocks: slow work (password
 * hashing, fsync, DNS) runs elsewhere and its result is posted back to the
 * thread that asked, through one of these. lib-net's event loops provide one
 * (net_loop_completion_target()); tests may provide their own.
 *
 * post() must be thread-safe and must run fn(ctx) exactly once, later, on
 * the owner's thread (never inline in the caller of post). */
struct completion_target {
	void (*post)(void *owner, void (*fn)(void *ctx), void *ctx);
	void *owner;
};

static inline void completion_post(const struct completion_target *target,
				   void (*fn)(void *ctx), void *ctx)
{
	target->post(target->owner, fn, ctx);
}

/* A fixed pool of worker threads for blocking or CPU-heavy jobs. */
struct workpool;

struct workpool *workpool_create(const char *name, unsigned threads);
/* Waits for queued jobs to finish, joins the threads, sets *pool to NULL.
 * Completions of finished jobs are still posted to their targets. */
void workpool_destroy(struct workpool **pool);

/* Runs work(ctx) on a worker thread, then posts done(ctx) to target (or
 * calls nothing when done is NULL). ctx is owned by the caller throughout;
 * done is where it may be freed. Never blocks. */
void workpool_submit(struct workpool *pool, void (*work)(void *ctx),
		     void (*done)(void *ctx), void *ctx,
		     const struct completion_target *target);

/* Jobs queued or running (for metrics and tests). */
unsigned workpool_pending(struct workpool *pool);

#endif

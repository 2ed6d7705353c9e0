/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "workpool.h"

#include <pthread.h>

struct workpool_job {
	struct workpool_job *next;
	void (*work)(void *ctx);
	void (*done)(void *ctx);
	void *ctx;
	struct completion_target target;
};

struct workpool {
	char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workpool_job *head, *tail;
	unsigned pending;
	bool stopping;
	unsigned thread_count;
	pthread_t *threads;
};

static void *workpool_thread(void *arg)
{
	struct workpool *pool = arg;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		struct workpool_job *job = pool->head;
		if (job == NULL)
			break; /* stopping and drained */
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);

		job->work(job->ctx);
		if (job->done != NULL)
			completion_post(&job->target, job->done, job->ctx);
		free(job);

		pthread_mutex_lock(&pool->lock);
		pool->pending--;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct workpool *workpool_create(const char *name, unsigned threads)
{
	i_assert(threads > 0);
	struct workpool *pool = i_new(struct workpool, 1);
	pool->name = i_strdup(name);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->thread_count = threads;
	pool->threads = i_new(pthread_t, threads);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, workpool_thread,
				   pool) != 0)
			i_fatal("event=thread_create_failed pool=%s", name);
	}
	return pool;
}

void workpool_destroy(struct workpool **_pool)
{
	struct workpool *pool = *_pool;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->thread_count; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool->name);
	free(pool);
	*_pool = NULL;
}

void workpool_submit(struct workpool *pool, void (*work)(void *ctx),
		     void (*done)(void *ctx), void *ctx,
		     const struct completion_target *target)
{
	i_assert(done == NULL || target != NULL);
	struct workpool_job *job = i_new(struct workpool_job, 1);
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	if (target != NULL)
		job->target = *target;

	pthread_mutex_lock(&pool->lock);
	i_assert(!pool->stopping);
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pool->pending++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

unsigned workpool_pending(struct workpool *pool)
{
	pthread_mutex_lock(&pool->lock);
	unsigned n = pool->pending;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

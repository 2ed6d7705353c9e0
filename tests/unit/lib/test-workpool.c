/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "workpool.h"

#include <pthread.h>
#include <stdatomic.h>

/* A completion target backed by a mutex-protected queue that the test
 * thread drains, standing in for an event loop. */
struct fake_loop {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct posted {
		void (*fn)(void *);
		void *ctx;
	} items[256];
	unsigned count;
};

static void fake_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	struct fake_loop *loop = owner;
	pthread_mutex_lock(&loop->lock);
	assert_true(loop->count < N_ELEMENTS(loop->items));
	loop->items[loop->count].fn = fn;
	loop->items[loop->count].ctx = ctx;
	loop->count++;
	pthread_cond_signal(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
}

struct job {
	int input, output;
	pthread_t worker, completer;
	bool done;
};

static void job_work(void *ctx)
{
	struct job *j = ctx;
	j->worker = pthread_self();
	j->output = j->input * j->input;
}

static void job_done(void *ctx)
{
	struct job *j = ctx;
	j->completer = pthread_self();
	j->done = true;
}

static void test_jobs_complete_on_owner_thread(void **state)
{
	struct fake_loop loop = {.lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER};
	struct completion_target target = {fake_post, &loop};
	struct workpool *pool = workpool_create("test", 3);
	struct job jobs[100];
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 100; i++) {
		jobs[i].input = i;
		workpool_submit(pool, job_work, job_done, &jobs[i], &target);
	}
	/* Drain completions on this thread until all 100 arrived. */
	unsigned handled = 0;
	while (handled < 100) {
		pthread_mutex_lock(&loop.lock);
		while (loop.count == handled)
			pthread_cond_wait(&loop.cond, &loop.lock);
		unsigned upto = loop.count;
		pthread_mutex_unlock(&loop.lock);
		for (; handled < upto; handled++)
			loop.items[handled].fn(loop.items[handled].ctx);
	}
	for (int i = 0; i < 100; i++) {
		assert_true(jobs[i].done);
		assert_int_equal(jobs[i].output, i * i);
		assert_false(pthread_equal(jobs[i].worker, pthread_self()));
		assert_true(pthread_equal(jobs[i].completer, pthread_self()));
	}
	workpool_destroy(&pool);
	assert_null(pool);
}

static atomic_int counter;
static void count_work(void *ctx)
{
	atomic_fetch_add(&counter, 1);
}

static void test_destroy_drains_queue(void **state)
{
	struct workpool *pool = workpool_create("drain", 2);
	for (int i = 0; i < 1000; i++)
		workpool_submit(pool, count_work, NULL, NULL, NULL);
	workpool_destroy(&pool);
	assert_int_equal(atomic_load(&counter), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_complete_on_owner_thread),
		cmocka_unit_test(test_destroy_drains_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

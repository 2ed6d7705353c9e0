/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STORE_TEST_H
#define POSTHORN_STORE_TEST_H

/* Helpers shared by the store's unit tests: temporary data directories and
 * a completion target that a test thread drains like an event loop. */

#include "../unit.h"
#include "store.h"
#include "workpool.h"

#include <pthread.h>

/* A fresh temporary directory (path in a static buffer per call site is
 * not enough: the result is malloc'd). */
char *test_tmpdir(void);
/* rm -rf path, then frees it and sets it to NULL. */
void test_tmpdir_remove(char **path);

/* Opens a store in dir with defaults (and postmaster_account if given). */
struct store *test_store_open(const char *dir, const char *postmaster);

/* A fake event loop: post() queues, test_loop_run_until() runs queued
 * items on the calling thread until *flag becomes true (or count items). */
struct test_loop {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct test_loop_item *head, *tail;
	struct completion_target target;
	pthread_t owner;
};
void test_loop_init(struct test_loop *loop);
void test_loop_deinit(struct test_loop *loop);
/* Runs posted items until *done is true. Times out (fails the test) after
 * 30 s so a lost completion cannot hang the suite. */
void test_loop_run_until(struct test_loop *loop, const bool *done);
/* Runs whatever is queued now, without waiting. Returns the count. */
unsigned test_loop_run_pending(struct test_loop *loop);

/* Sets up example.com with alice@ and bob@; returns their ids. */
void test_store_fixture(struct store *store, int64_t *alice_r, int64_t *bob_r);
/* Delivers data to one account's INBOX and waits; returns the UID. */
uint32_t test_deliver(struct store *store, int64_t account_id,
		      const char *data);
/* INBOX id of an account. */
int64_t test_mailbox_id(struct store *store, int64_t account_id,
			const char *name);

#endif

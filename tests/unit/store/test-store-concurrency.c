/* SPDX-License-Identifier: MIT */
#include "store-test.h"
#include "pool.h"
#include "buf.h"
#include "store-private.h"

#include <stdatomic.h>

#define SUBMIT_THREADS 4
#define SUBMITS_PER_THREAD 150

struct submitter {
	struct store *store;
	int64_t account_id;
	unsigned index;
	unsigned done;
	bool all_done;
	bool wrong_thread;
	unsigned failures;
	pthread_t thread;
};

struct submit_ctx {
	struct submitter *s;
	pthread_t expected;
};

static void submit_done(struct store_txn *txn, void *ctx)
{
	struct submit_ctx *c = ctx;
	struct submitter *s = c->s;
	if (!pthread_equal(pthread_self(), c->expected))
		s->wrong_thread = true;
	if (store_txn_error(txn, NULL) != STORE_OK)
		s->failures++;
	if (++s->done == SUBMITS_PER_THREAD)
		s->all_done = true;
	free(c);
}

static void *submitter_thread(void *arg)
{
	struct submitter *s = arg;
	struct test_loop loop;
	test_loop_init(&loop);
	for (unsigned i = 0; i < SUBMITS_PER_THREAD; i++) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "Subject: t%u-%u\r\n\r\nbody %u %u\r\n", s->index, i,
			 s->index, i);
		struct store_txn *txn = store_txn_create(s->store);
		struct store_delivery_rcpt rcpt = {.account_id = s->account_id};
		store_txn_deliver(txn, msg, strlen(msg), 1, &rcpt, 1, 0);
		struct submit_ctx *c = i_new(struct submit_ctx, 1);
		c->s = s;
		c->expected = pthread_self();
		store_txn_commit(txn, &loop.target, submit_done, c);
		/* Let a few completions run between submissions, as a loop
		 * would. */
		(void)test_loop_run_pending(&loop);
	}
	test_loop_run_until(&loop, &s->all_done);
	test_loop_deinit(&loop);
	return NULL;
}

static void test_group_commit(void **state)
{
	char *dir = test_tmpdir();
	struct store *store = test_store_open(dir, NULL);
	int64_t alice, bob;
	test_store_fixture(store, &alice, &bob);

	struct submitter subs[SUBMIT_THREADS];
	memset(subs, 0, sizeof(subs));
	for (unsigned i = 0; i < SUBMIT_THREADS; i++) {
		subs[i].store = store;
		subs[i].account_id = i % 2 == 0 ? alice : bob;
		subs[i].index = i;
		assert_int_equal(pthread_create(&subs[i].thread, NULL,
						submitter_thread, &subs[i]),
				 0);
	}
	for (unsigned i = 0; i < SUBMIT_THREADS; i++) {
		pthread_join(subs[i].thread, NULL);
		assert_int_equal(subs[i].done, SUBMITS_PER_THREAD);
		assert_int_equal(subs[i].failures, 0);
		assert_false(subs[i].wrong_thread);
	}
	store_close(&store);

	/* Everything acknowledged is there after reopening, UIDs dense. */
	store = test_store_open(dir, NULL);
	const char *error;
	int64_t ids[] = {alice, bob};
	for (unsigned a = 0; a < 2; a++) {
		int64_t inbox = test_mailbox_id(store, ids[a], "INBOX");
		struct store_mailbox_status st;
		assert_int_equal(
		    store_mailbox_status(store, inbox, &st, &error), 1);
		unsigned expect = SUBMITS_PER_THREAD * SUBMIT_THREADS / 2;
		assert_int_equal(st.messages, expect);
		assert_int_equal(st.uidnext, expect + 1);
		struct store_message_iter *iter =
		    store_message_iter_init(store, inbox, 1, 0, 0);
		struct store_message m;
		uint32_t prev = 0;
		unsigned n = 0;
		while (store_message_iter_next(iter, &m) > 0) {
			assert_true(m.uid > prev);
			prev = m.uid;
			n++;
		}
		assert_int_equal(store_message_iter_deinit(&iter, &error), 1);
		assert_int_equal(n, expect);
	}
	store_close(&store);
	test_tmpdir_remove(&dir);
}

struct watcher {
	struct store_change changes[64];
	char keywords[64][32];
	unsigned count;
	unsigned calls;
	bool wrong_thread;
	pthread_t owner;
	bool enough;
	unsigned want;
};

static void watch_cb(void *ctx, int64_t mailbox_id,
		     const struct store_change *changes, unsigned count)
{
	struct watcher *w = ctx;
	if (!pthread_equal(pthread_self(), w->owner))
		w->wrong_thread = true;
	w->calls++;
	for (unsigned i = 0; i < count && w->count < N_ELEMENTS(w->changes);
	     i++) {
		w->changes[w->count] = changes[i];
		snprintf(w->keywords[w->count], sizeof(w->keywords[0]), "%s",
			 changes[i].keywords);
		w->changes[w->count].keywords = w->keywords[w->count];
		w->count++;
	}
	if (w->count >= w->want)
		w->enough = true;
}

struct other_ctx {
	struct store *store;
	int64_t account_id, inbox;
};

static void *other_thread(void *arg)
{
	struct other_ctx *o = arg;
	for (int i = 0; i < 3; i++)
		test_deliver(o->store, o->account_id,
			     "Subject: w\r\n\r\nx\r\n");
	struct store_txn *txn = store_txn_create(o->store);
	struct store_uid_range r = {2, 2};
	store_txn_flags(txn, o->inbox, &r, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
			"work", 0);
	struct store_uid_range r1 = {1, 1};
	store_txn_expunge(txn, o->inbox, &r1, 1, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	return NULL;
}

static void test_watch(void **state)
{
	char *dir = test_tmpdir();
	struct store *store = test_store_open(dir, NULL);
	int64_t alice, bob;
	test_store_fixture(store, &alice, &bob);
	int64_t inbox = test_mailbox_id(store, alice, "INBOX");
	int64_t bob_inbox = test_mailbox_id(store, bob, "INBOX");

	struct test_loop loop;
	test_loop_init(&loop);
	struct watcher w = {.owner = pthread_self(), .want = 5};
	struct store_watch *watch =
	    store_watch_create(store, inbox, &loop.target, watch_cb, &w);

	/* Bob's mail is not ours. */
	test_deliver(store, bob, "Subject: b\r\n\r\nx\r\n");
	(void)bob_inbox;

	struct other_ctx o = {
	    .store = store, .account_id = alice, .inbox = inbox};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, other_thread, &o), 0);
	test_loop_run_until(&loop, &w.enough);
	pthread_join(t, NULL);
	(void)test_loop_run_pending(&loop);

	assert_false(w.wrong_thread);
	assert_int_equal(w.count, 5);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(w.changes[i].type, STORE_CHANGE_NEW);
		assert_int_equal(w.changes[i].uid, i + 1);
		if (i > 0)
			assert_true(w.changes[i].modseq >
				    w.changes[i - 1].modseq);
	}
	assert_int_equal(w.changes[3].type, STORE_CHANGE_FLAGS);
	assert_int_equal(w.changes[3].uid, 2);
	assert_int_equal(w.changes[3].flags, STORE_FLAG_SEEN);
	assert_string_equal(w.changes[3].keywords, "work");
	assert_int_equal(w.changes[4].type, STORE_CHANGE_EXPUNGE);
	assert_int_equal(w.changes[4].uid, 1);
	assert_true(w.changes[4].modseq > w.changes[3].modseq);

	/* A second watch on the same mailbox gets the same changes; after
	 * destroy, the first gets nothing, even for posted events. */
	struct watcher w2 = {.owner = pthread_self(), .want = 1};
	struct store_watch *watch2 =
	    store_watch_create(store, inbox, &loop.target, watch_cb, &w2);
	test_deliver(store, alice, "Subject: late\r\n\r\nx\r\n");
	unsigned calls = w.calls;
	store_watch_destroy(&watch);
	assert_null(watch);
	test_loop_run_until(&loop, &w2.enough);
	(void)test_loop_run_pending(&loop);
	assert_int_equal(w.calls, calls);
	assert_int_equal(w2.count, 1);
	assert_int_equal(w2.changes[0].uid, 4);
	store_watch_destroy(&watch2);

	test_loop_deinit(&loop);
	store_close(&store);
	test_tmpdir_remove(&dir);
}

/* Another process (a second store on the same directory, like the admin
 * command) changes the mailbox: watches learn of it when told. */
static void test_external_changes(void **state)
{
	char *dir = test_tmpdir();
	struct store *store = test_store_open(dir, NULL);
	int64_t alice, bob;
	test_store_fixture(store, &alice, &bob);
	int64_t inbox = test_mailbox_id(store, alice, "INBOX");
	test_deliver(store, alice, "Subject: 1\r\n\r\nx\r\n");
	test_deliver(store, alice, "Subject: 2\r\n\r\nx\r\n");

	struct test_loop loop;
	test_loop_init(&loop);
	struct watcher w = {.owner = pthread_self(), .want = 3};
	struct store_watch *watch =
	    store_watch_create(store, inbox, &loop.target, watch_cb, &w);

	struct store *other = test_store_open(dir, NULL);
	test_deliver(other, alice, "Subject: 3\r\n\r\nx\r\n");
	struct store_txn *txn = store_txn_create(other);
	struct store_uid_range r1 = {1, 1}, r2 = {2, 2};
	store_txn_expunge(txn, inbox, &r1, 1, false);
	store_txn_flags(txn, inbox, &r2, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
			NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	store_close(&other);

	/* Nothing arrives by itself across processes. */
	assert_int_equal(test_loop_run_pending(&loop), 0);
	store_mailbox_notify_external(store, inbox);
	test_loop_run_until(&loop, &w.enough);
	assert_int_equal(w.count, 3);
	assert_int_equal(w.changes[0].type, STORE_CHANGE_FLAGS);
	assert_int_equal(w.changes[0].uid, 2);
	assert_int_equal(w.changes[0].flags, STORE_FLAG_SEEN);
	assert_int_equal(w.changes[1].type, STORE_CHANGE_NEW);
	assert_int_equal(w.changes[1].uid, 3);
	assert_int_equal(w.changes[2].type, STORE_CHANGE_EXPUNGE);
	assert_int_equal(w.changes[2].uid, 1);

	/* Told again with nothing new: nothing is repeated. */
	store_mailbox_notify_external(store, inbox);
	assert_int_equal(test_loop_run_pending(&loop), 0);

	/* QRESYNC's view of the same. */
	struct pool *pool = pool_create("t", 256);
	uint32_t *uids;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_vanished(store, inbox, 0, pool, &uids,
						&count, &error),
			 1);
	assert_int_equal(count, 1);
	assert_int_equal(uids[0], 1);
	assert_int_equal(store_mailbox_vanished(store, inbox,
						w.changes[2].modseq, pool,
						&uids, &count, &error),
			 1);
	assert_int_equal(count, 0);
	pool_destroy(&pool);

	store_watch_destroy(&watch);
	test_loop_deinit(&loop);
	store_close(&store);
	test_tmpdir_remove(&dir);
}

struct order_ctx {
	unsigned next, count;
	uint32_t uids[8];
	bool done;
};

static void order_done(struct store_txn *txn, void *context)
{
	struct order_ctx *o = context;
	assert_int_equal(store_txn_error(txn, NULL), STORE_OK);
	o->uids[o->next++] = store_txn_result(txn, 0)->uid;
	if (o->next == o->count)
		o->done = true;
}

/* Big messages are parsed off the submitter's thread; transactions still
 * reach the writer in submission order (UIDs follow it). */
static void test_parse_offload_order(void **state)
{
	char *dir = test_tmpdir();
	struct store *store = test_store_open(dir, NULL);
	int64_t alice, bob;
	test_store_fixture(store, &alice, &bob);
	int64_t inbox = test_mailbox_id(store, alice, "INBOX");

	struct buf big = BUF_INIT;
	buf_append_str(&big, "Subject: big\r\n\r\n");
	while (big.len < 3 * STORE_PARSE_OFFLOAD_BYTES)
		buf_append_str(&big, "a line of the big message body\r\n");
	const char *small = "Subject: small\r\n\r\nx\r\n";

	struct test_loop loop;
	test_loop_init(&loop);
	struct order_ctx o = {.count = 4};
	const char *bodies[] = {buf_cstr(&big), small, buf_cstr(&big), small};
	for (unsigned i = 0; i < o.count; i++) {
		struct store_txn *txn = store_txn_create(store);
		store_txn_append(txn, inbox, bodies[i], strlen(bodies[i]), 1, 0,
				 NULL, 0);
		store_txn_commit(txn, &loop.target, order_done, &o);
	}
	test_loop_run_until(&loop, &o.done);
	for (unsigned i = 0; i < o.count; i++)
		assert_int_equal(o.uids[i], i + 1);

	struct pool *pool = pool_create("t", 1024);
	struct store_message_info info;
	const char *error;
	assert_int_equal(
	    store_message_get(store, inbox, 1, pool, &info, &error), 1);
	assert_int_equal(info.msg.size, big.len);
	assert_true(info.header_size == strlen("Subject: big\r\n\r\n"));
	assert_true(info.lines > 1000);
	pool_destroy(&pool);
	buf_free(&big);
	test_loop_deinit(&loop);
	store_close(&store);
	test_tmpdir_remove(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_watch),
	    cmocka_unit_test(test_external_changes),
	    cmocka_unit_test(test_parse_offload_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

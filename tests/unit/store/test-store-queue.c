/* SPDX-License-Identifier: MIT */
#include "store-test.h"
#include "pool.h"

#include <sqlite3.h>

struct fixture {
	char *dir;
	struct store *store;
	struct pool *pool;
	int64_t alice, bob;
};

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	f->dir = test_tmpdir();
	f->store = test_store_open(f->dir, NULL);
	f->pool = pool_create("test", 1024);
	test_store_fixture(f->store, &f->alice, &f->bob);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	pool_destroy(&f->pool);
	test_tmpdir_remove(&f->dir);
	free(f);
	return 0;
}

static const char msg[] =
    "From: alice@example.com\r\nSubject: out\r\n\r\nhi\r\n";

static enum store_error queue_update(struct fixture *f, int64_t rcpt_id,
				     enum store_queue_state state, time_t next,
				     const char *error)
{
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_queue_update(txn, rcpt_id, state, next, error);
	enum store_error err = store_txn_commit_wait(txn);
	store_txn_destroy(&txn);
	return err;
}

static void test_queue_lifecycle(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_queue_envelope env = {
	    .sender = "alice@example.com",
	    .envid = "env-1",
	    .ret = STORE_DSN_RET_HDRS,
	    .body_type = STORE_QUEUE_BODY_8BITMIME,
	    .account_id = f->alice,
	};
	struct store_queue_rcpt rcpts[] = {
	    {.address = "Bob@Remote.test",
	     .orcpt = "rfc822;Bob@Remote.test",
	     .notify = STORE_DSN_NOTIFY_FAILURE | STORE_DSN_NOTIFY_DELAY},
	    {.address = "carol@remote.test"},
	};
	struct store_txn *txn = store_txn_create(f->store);
	unsigned op =
	    store_txn_enqueue(txn, msg, strlen(msg), &env, rcpts, 2, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	int64_t queue_id = store_txn_result(txn, op)->id;
	assert_true(queue_id > 0);
	store_txn_destroy(&txn);

	time_t when;
	assert_int_equal(store_queue_next_due(f->store, &when, &error), 1);
	assert_int_equal(when, 0);
	struct store_queue_item *items;
	unsigned count;
	time_t now = time(NULL);
	assert_int_equal(
	    store_queue_due(f->store, now, 0, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 2);
	assert_int_equal(items[0].queue_id, queue_id);
	assert_string_equal(items[0].env.sender, "alice@example.com");
	assert_string_equal(items[0].env.envid, "env-1");
	assert_int_equal(items[0].env.ret, STORE_DSN_RET_HDRS);
	assert_int_equal(items[0].env.body_type, STORE_QUEUE_BODY_8BITMIME);
	assert_int_equal(items[0].env.account_id, f->alice);
	assert_string_equal(items[0].rcpt.address, "Bob@Remote.test");
	assert_string_equal(items[0].rcpt.orcpt, "rfc822;Bob@Remote.test");
	assert_int_equal(items[0].rcpt.notify,
			 STORE_DSN_NOTIFY_FAILURE | STORE_DSN_NOTIFY_DELAY);
	assert_null(items[1].rcpt.orcpt);
	assert_int_equal(items[1].rcpt.notify, 0);
	assert_int_equal(items[0].size, strlen(msg));
	int64_t body_id = items[0].body_id, r1 = items[0].rcpt_id,
		r2 = items[1].rcpt_id;

	/* The body reads back like a mailbox message's. */
	struct store_body *body;
	char buf[128];
	assert_int_equal(store_body_open(f->store, body_id, &body, &error), 1);
	assert_int_equal(store_body_read(body, 0, buf, sizeof(buf), &error),
			 strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	store_body_close(&body);

	/* One delivered, one deferred: only the deferred stays, not due. */
	assert_int_equal(queue_update(f, r1, STORE_QUEUE_DELIVERED, 0, NULL),
			 STORE_OK);
	assert_int_equal(queue_update(f, r2, STORE_QUEUE_PENDING, now + 600,
				      "451 4.7.1 greylisted"),
			 STORE_OK);
	assert_int_equal(
	    store_queue_due(f->store, now, 0, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 0);
	assert_int_equal(store_queue_next_due(f->store, &when, &error), 1);
	assert_int_equal(when, now + 600);
	assert_int_equal(
	    store_queue_due(f->store, 0, 0, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 1);
	assert_int_equal(items[0].attempts, 1);
	assert_string_equal(items[0].last_error, "451 4.7.1 greylisted");

	/* The last final recipient takes message and body with it. */
	assert_int_equal(queue_update(f, r2, STORE_QUEUE_FAILED, 0, "550 no"),
			 STORE_OK);
	assert_int_equal(store_queue_next_due(f->store, &when, &error), 0);
	assert_int_equal(store_body_open(f->store, body_id, &body, &error), 0);
	assert_int_equal(queue_update(f, r2, STORE_QUEUE_FAILED, 0, NULL),
			 STORE_ERR_NOT_FOUND);

	/* Bad input. */
	txn = store_txn_create(f->store);
	store_txn_enqueue(txn, msg, strlen(msg), &env, rcpts, 0, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_INVALID);
	store_txn_destroy(&txn);
}

static unsigned queue_reschedule(struct fixture *f, int64_t queue_id,
				 time_t when, enum store_error *err_r)
{
	struct store_txn *txn = store_txn_create(f->store);
	unsigned op = store_txn_queue_reschedule(txn, queue_id, when);
	*err_r = store_txn_commit_wait(txn);
	unsigned count = store_txn_result(txn, op)->count;
	store_txn_destroy(&txn);
	return count;
}

static int64_t enqueue_two(struct fixture *f, int64_t *r1, int64_t *r2)
{
	struct store_queue_envelope env = {.sender = "alice@example.com"};
	struct store_queue_rcpt rcpts[] = {
	    {.address = "x@remote.test"},
	    {.address = "y@remote.test"},
	};
	struct store_txn *txn = store_txn_create(f->store);
	unsigned op =
	    store_txn_enqueue(txn, msg, strlen(msg), &env, rcpts, 2, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	int64_t queue_id = store_txn_result(txn, op)->id;
	store_txn_destroy(&txn);

	struct store_queue_item *items;
	unsigned count;
	const char *error;
	assert_int_equal(
	    store_queue_due(f->store, 0, 0, f->pool, &items, &count, &error),
	    1);
	*r1 = *r2 = 0;
	for (unsigned i = 0; i < count; i++) {
		if (items[i].queue_id != queue_id)
			continue;
		if (*r1 == 0)
			*r1 = items[i].rcpt_id;
		else
			*r2 = items[i].rcpt_id;
	}
	assert_true(*r1 > 0 && *r2 > 0);
	return queue_id;
}

/* The admin flush/retry: deferred recipients become due, nothing else
 * changes. */
static void test_queue_reschedule(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	enum store_error err;
	int64_t a1, a2, b1, b2;
	int64_t qa = enqueue_two(f, &a1, &a2);
	int64_t qb = enqueue_two(f, &b1, &b2);

	/* a1 deferred, a2 not tried yet (due), b1 and b2 deferred. */
	assert_int_equal(queue_update(f, a1, STORE_QUEUE_PENDING, now + 600,
				      "421 try later"),
			 STORE_OK);
	assert_int_equal(queue_update(f, b1, STORE_QUEUE_PENDING, now + 900,
				      "connection refused"),
			 STORE_OK);
	assert_int_equal(queue_update(f, b2, STORE_QUEUE_PENDING, now + 900,
				      "connection refused"),
			 STORE_OK);

	/* One message: only its deferred recipient moves. */
	assert_int_equal(queue_reschedule(f, qa, now, &err), 1);
	assert_int_equal(err, STORE_OK);
	struct store_queue_item *items;
	unsigned count;
	const char *error;
	assert_int_equal(
	    store_queue_due(f->store, now, 0, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 2);
	for (unsigned i = 0; i < count; i++) {
		assert_int_equal(items[i].queue_id, qa);
		if (items[i].rcpt_id == a1) {
			assert_int_equal(items[i].attempts, 1);
			assert_int_equal(items[i].next_attempt, now);
			assert_string_equal(items[i].last_error,
					    "421 try later");
			/* The attempt's time survives the flush (it decides
			 * whether a delay notice is still owed). */
			assert_true(items[i].last_attempt >= now &&
				    items[i].last_attempt <= time(NULL));
		} else {
			assert_int_equal(items[i].last_attempt, 0);
		}
	}
	/* Again: nothing left to move, still fine. */
	assert_int_equal(queue_reschedule(f, qa, now, &err), 0);
	assert_int_equal(err, STORE_OK);

	/* Everything (0): the other message's two recipients. */
	assert_int_equal(queue_reschedule(f, 0, now, &err), 2);
	assert_int_equal(err, STORE_OK);
	assert_int_equal(
	    store_queue_due(f->store, now, 0, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 4);
	time_t when;
	assert_int_equal(store_queue_next_due(f->store, &when, &error), 1);
	assert_true(when <= now);

	/* Unknown message. */
	queue_reschedule(f, qb + 1000, now, &err);
	assert_int_equal(err, STORE_ERR_NOT_FOUND);
	/* Final recipients are never brought back. */
	assert_int_equal(queue_update(f, a1, STORE_QUEUE_DELIVERED, 0, NULL),
			 STORE_OK);
	assert_int_equal(queue_reschedule(f, qa, now, &err), 0);
	assert_int_equal(err, STORE_OK);
}

static void test_queue_shared_body(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_queue_envelope env = {.sender = ""};
	struct store_queue_rcpt rcpt = {.address = "x@remote.test"};
	struct store_delivery_rcpt local = {.account_id = f->bob};
	struct store_txn *txn = store_txn_create(f->store);
	unsigned dop =
	    store_txn_deliver(txn, msg, strlen(msg), 1, &local, 1, 0);
	unsigned qop = store_txn_enqueue_shared(txn, dop, &env, &rcpt, 1);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	int64_t queue_id = store_txn_result(txn, qop)->id;
	store_txn_destroy(&txn);

	int64_t inbox = test_mailbox_id(f->store, f->bob, "INBOX");
	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, inbox, 1, f->pool, &info, &error), 1);
	struct store_queue_item *items;
	unsigned count;
	assert_int_equal(
	    store_queue_due(f->store, 0, 10, f->pool, &items, &count, &error),
	    1);
	assert_int_equal(count, 1);
	assert_int_equal(items[0].body_id, info.msg.body_id);
	assert_string_equal(items[0].env.sender, "");

	/* Expunging the local copy leaves the queued one readable. */
	txn = store_txn_create(f->store);
	store_txn_expunge(txn, inbox, NULL, 0, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	struct store_body *body;
	assert_int_equal(
	    store_body_open(f->store, info.msg.body_id, &body, &error), 1);
	store_body_close(&body);

	txn = store_txn_create(f->store);
	store_txn_queue_delete(txn, queue_id);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(
	    store_body_open(f->store, info.msg.body_id, &body, &error), 0);
}

/* A version 1 database (placeholder queue tables) is migrated on open. */
static void test_schema_migration(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	char *path = i_strdup_printf("%s/store.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "DROP TABLE queue_recipient; DROP TABLE queue_message;"
			 "DROP TABLE body_search;"
			 "DROP INDEX message_unseen;"
			 "DROP TABLE dmarc_row; DROP TABLE dmarc_period;"
			 "CREATE TABLE queue_message(id INTEGER PRIMARY KEY,"
			 " body_id INTEGER NOT NULL, sender TEXT NOT NULL,"
			 " envid TEXT, ret TEXT, account_id INTEGER,"
			 " created INTEGER NOT NULL);"
			 "CREATE TABLE queue_recipient(id INTEGER PRIMARY KEY,"
			 " queue_id INTEGER NOT NULL, address TEXT NOT NULL,"
			 " orcpt TEXT, notify INTEGER NOT NULL DEFAULT 0,"
			 " state INTEGER NOT NULL DEFAULT 0,"
			 " attempts INTEGER NOT NULL DEFAULT 0,"
			 " next_attempt INTEGER NOT NULL DEFAULT 0,"
			 " last_error TEXT);"
			 "UPDATE schema_version SET version=1;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	i_free(path);

	f->store = test_store_open(f->dir, NULL);
	assert_int_equal(store_schema_version(f->store), STORE_SCHEMA_VERSION);
	/* Accounts survived; the queue works. */
	const char *error;
	struct store_account *a;
	assert_int_equal(store_account_lookup(f->store, "alice@example.com",
					      f->pool, &a, &error),
			 1);
	struct store_queue_envelope env = {.sender = "a@example.com"};
	struct store_queue_rcpt rcpt = {.address = "x@remote.test"};
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_enqueue(txn, msg, strlen(msg), &env, &rcpt, 1, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_queue_lifecycle, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_queue_shared_body, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_queue_reschedule, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_schema_migration, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

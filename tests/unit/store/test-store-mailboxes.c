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

static void gone_cb(void *ctx, int64_t mailbox_id,
		    const struct store_change *changes, unsigned count)
{
	bool *seen = ctx;
	for (unsigned i = 0; i < count; i++) {
		if (changes[i].type == STORE_CHANGE_MAILBOX_GONE)
			*seen = true;
	}
}

static enum store_error mailbox_op(struct fixture *f, int what, const char *a,
				   const char *b)
{
	struct store_txn *txn = store_txn_create(f->store);
	switch (what) {
	case 'c':
		store_txn_mailbox_create(txn, f->alice, a, 0);
		break;
	case 'r':
		store_txn_mailbox_rename(txn, f->alice, a, b);
		break;
	case 'd':
		store_txn_mailbox_delete(txn, f->alice, a);
		break;
	case 's':
		store_txn_subscribe(txn, f->alice, a, b != NULL);
		break;
	}
	enum store_error err = store_txn_commit_wait(txn);
	store_txn_destroy(&txn);
	return err;
}

/* The account's mailbox names, joined with spaces, in list order. */
static const char *mailbox_names(struct fixture *f)
{
	struct store_mailbox *mbs;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_list(f->store, f->alice, f->pool, &mbs,
					    &count, &error),
			 1);
	const char *s = "";
	for (unsigned i = 0; i < count; i++)
		s = pool_printf(f->pool, "%s%s%s", s, i == 0 ? "" : " ",
				mbs[i].name);
	return s;
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox *mbs;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_list(f->store, f->alice, f->pool, &mbs,
					    &count, &error),
			 1);
	assert_int_equal(count, 6);
	assert_string_equal(mailbox_names(f),
			    "INBOX Archive Drafts Junk Sent Trash");
	static const struct {
		const char *name;
		enum store_special_use use;
	} expect[] = {
	    {"INBOX", STORE_SPECIAL_NONE},
	    {"Archive", STORE_SPECIAL_ARCHIVE},
	    {"Drafts", STORE_SPECIAL_DRAFTS},
	    {"Junk", STORE_SPECIAL_JUNK},
	    {"Sent", STORE_SPECIAL_SENT},
	    {"Trash", STORE_SPECIAL_TRASH},
	};
	for (unsigned i = 0; i < count; i++) {
		assert_string_equal(mbs[i].name, expect[i].name);
		assert_int_equal(mbs[i].special_use, expect[i].use);
		assert_true(mbs[i].subscribed);
		assert_false(mbs[i].has_children);
		assert_int_equal(mbs[i].uidnext, 1);
		assert_true(mbs[i].uidvalidity > 0);
	}
	/* Distinct UIDVALIDITY values, so a recreated mailbox never looks
	 * like the old one. */
	for (unsigned i = 1; i < count; i++)
		assert_true(mbs[i].uidvalidity != mbs[i - 1].uidvalidity);

	struct store_mailbox *mb;
	assert_int_equal(store_mailbox_lookup(f->store, f->alice, "inbox",
					      f->pool, &mb, &error),
			 1);
	assert_string_equal(mb->name, "INBOX");
	assert_int_equal(store_mailbox_lookup(f->store, f->alice, "Nope",
					      f->pool, &mb, &error),
			 0);
}

static void test_create_rename_delete(void **state)
{
	struct fixture *f = *state;
	const char *error;

	assert_int_equal(mailbox_op(f, 'c', "Work/2026/Q4", NULL), STORE_OK);
	assert_string_equal(mailbox_names(f),
			    "INBOX Archive Drafts Junk Sent Trash Work "
			    "Work/2026 Work/2026/Q4");
	assert_int_equal(mailbox_op(f, 'c', "Work", NULL), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_op(f, 'c', "INBOX", NULL), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_op(f, 'c', "bad/", NULL), STORE_ERR_INVALID);
	assert_int_equal(mailbox_op(f, 'c', "a//b", NULL), STORE_ERR_INVALID);
	assert_int_equal(mailbox_op(f, 'c', "wild*", NULL), STORE_ERR_INVALID);

	struct store_mailbox *mb;
	assert_int_equal(store_mailbox_lookup(f->store, f->alice, "Work",
					      f->pool, &mb, &error),
			 1);
	assert_true(mb->has_children);
	int64_t q4 = test_mailbox_id(f->store, f->alice, "Work/2026/Q4");
	uint32_t uidvalidity_q4;
	assert_int_equal(
	    store_mailbox_lookup_id(f->store, q4, f->pool, &mb, &error), 1);
	uidvalidity_q4 = mb->uidvalidity;

	/* Rename moves the children, keeping ids and UIDVALIDITY. */
	assert_int_equal(mailbox_op(f, 's', "Work/2026", "yes"), STORE_OK);
	assert_int_equal(mailbox_op(f, 'r', "Work", "Jobs/Old"), STORE_OK);
	assert_string_equal(mailbox_names(f),
			    "INBOX Archive Drafts Jobs Jobs/Old Jobs/Old/2026 "
			    "Jobs/Old/2026/Q4 Junk Sent Trash");
	assert_int_equal(
	    store_mailbox_lookup_id(f->store, q4, f->pool, &mb, &error), 1);
	assert_string_equal(mb->name, "Jobs/Old/2026/Q4");
	assert_int_equal(mb->uidvalidity, uidvalidity_q4);
	assert_int_equal(store_mailbox_lookup(f->store, f->alice,
					      "Jobs/Old/2026", f->pool, &mb,
					      &error),
			 1);
	assert_true(mb->subscribed);

	assert_int_equal(mailbox_op(f, 'r', "Nope", "X"), STORE_ERR_NOT_FOUND);
	assert_int_equal(mailbox_op(f, 'r', "Jobs", "Sent"), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_op(f, 'r', "Jobs", "Jobs/Sub"),
			 STORE_ERR_INVALID);

	/* Delete: children first, never INBOX. */
	assert_int_equal(mailbox_op(f, 'd', "Jobs/Old", NULL),
			 STORE_ERR_HAS_CHILDREN);
	assert_int_equal(mailbox_op(f, 'd', "INBOX", NULL), STORE_ERR_INVALID);
	assert_int_equal(mailbox_op(f, 'd', "Jobs/Old/2026/Q4", NULL),
			 STORE_OK);
	assert_int_equal(mailbox_op(f, 'd', "Jobs/Old/2026", NULL), STORE_OK);
	assert_int_equal(mailbox_op(f, 'd', "Jobs/Old", NULL), STORE_OK);
	assert_int_equal(mailbox_op(f, 'd', "Jobs", NULL), STORE_OK);
	assert_int_equal(mailbox_op(f, 'd', "Jobs", NULL), STORE_ERR_NOT_FOUND);
	assert_string_equal(mailbox_names(f),
			    "INBOX Archive Drafts Junk Sent Trash");

	/* Re-created: a new UIDVALIDITY. */
	assert_int_equal(mailbox_op(f, 'c', "Jobs/Old/2026/Q4", NULL),
			 STORE_OK);
	assert_int_equal(store_mailbox_lookup(f->store, f->alice,
					      "Jobs/Old/2026/Q4", f->pool, &mb,
					      &error),
			 1);
	assert_true(mb->uidvalidity != uidvalidity_q4);

	/* Other accounts are untouched. */
	struct store_mailbox *mbs;
	unsigned count;
	assert_int_equal(
	    store_mailbox_list(f->store, f->bob, f->pool, &mbs, &count, &error),
	    1);
	assert_int_equal(count, 6);
}

static void test_subscriptions(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *const *names;
	unsigned count;
	assert_int_equal(mailbox_op(f, 's', "Junk", NULL), STORE_OK);
	assert_int_equal(mailbox_op(f, 's', "Not/There", "yes"), STORE_OK);
	assert_int_equal(store_subscription_list(f->store, f->alice, f->pool,
						 &names, &count, &error),
			 1);
	assert_int_equal(count, 6);
	assert_string_equal(names[0], "INBOX");
	assert_string_equal(names[4], "Sent");
	assert_string_equal(names[3], "Not/There");
}

static void test_inbox_rename(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t u1 =
	    test_deliver(f->store, f->alice, "Subject: a\r\n\r\n1\r\n");
	uint32_t u2 =
	    test_deliver(f->store, f->alice, "Subject: b\r\n\r\n2\r\n");
	assert_int_equal(mailbox_op(f, 'r', "INBOX", "Old/Inbox"), STORE_OK);

	int64_t inbox = test_mailbox_id(f->store, f->alice, "INBOX");
	int64_t old = test_mailbox_id(f->store, f->alice, "Old/Inbox");
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, inbox, &st, &error), 1);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, u2 + 1);
	uint64_t inbox_modseq = st.highestmodseq;
	assert_int_equal(store_mailbox_status(f->store, old, &st, &error), 1);
	assert_int_equal(st.messages, 2);
	/* HIGHESTMODSEQ covers the moved messages' modseqs. */
	assert_true(st.highestmodseq >= inbox_modseq - 1);
	struct store_message_iter *iter =
	    store_message_iter_init(f->store, old, 1, 0, 0);
	struct store_message m;
	while (store_message_iter_next(iter, &m) > 0)
		assert_true(m.modseq <= st.highestmodseq);
	assert_int_equal(store_message_iter_deinit(&iter, &error), 1);
	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, old, u1, f->pool, &info, &error), 1);
	/* New mail to INBOX never reuses the moved UIDs. */
	uint32_t u3 =
	    test_deliver(f->store, f->alice, "Subject: c\r\n\r\n3\r\n");
	assert_true(u3 > u2);
}

/* Deleting a mailbox drops its messages, their bodies and their quota
 * usage; a watcher hears that it is gone. */
static void test_delete_frees(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_int_equal(mailbox_op(f, 'c', "Tmp", NULL), STORE_OK);
	int64_t tmp = test_mailbox_id(f->store, f->alice, "Tmp");
	const char *msg = "Subject: d\r\n\r\nbody\r\n";
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_append(txn, tmp, msg, strlen(msg), 1, 0, NULL, 0);
	store_txn_append(txn, tmp, msg, strlen(msg), 1, 0, NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, tmp, 1, f->pool, &info, &error), 1);
	struct store_account *a;
	assert_int_equal(
	    store_account_lookup_id(f->store, f->alice, f->pool, &a, &error),
	    1);
	assert_int_equal(a->used_messages, 2);

	struct test_loop loop;
	test_loop_init(&loop);
	bool gone = false;
	struct store_watch *watch =
	    store_watch_create(f->store, tmp, &loop.target, gone_cb, &gone);
	assert_int_equal(mailbox_op(f, 'd', "Tmp", NULL), STORE_OK);
	test_loop_run_until(&loop, &gone);
	store_watch_destroy(&watch);
	test_loop_deinit(&loop);

	struct store_body *body;
	assert_int_equal(
	    store_body_open(f->store, info.msg.body_id, &body, &error), 0);
	assert_int_equal(
	    store_account_lookup_id(f->store, f->alice, f->pool, &a, &error),
	    1);
	assert_int_equal(a->used_messages, 0);
	assert_int_equal(a->used_bytes, 0);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, tmp, &st, &error), 0);
}

/* A database from a newer build is refused, not damaged. */
static void test_newer_schema(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	char *path = i_strdup_printf("%s/store.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE schema_version SET version=99",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	i_free(path);
	struct store_settings set = {.data_dir = f->dir};
	const char *error;
	assert_int_equal(store_open(&set, &f->store, &error), -1);
	assert_non_null(strstr(error, "newer"));
	assert_null(f->store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_rename_delete, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_subscriptions, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_inbox_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_frees, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

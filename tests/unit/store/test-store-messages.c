/* SPDX-License-Identifier: MIT */
#include "store-test.h"
#include "pool.h"
#include "buf.h"
#include "store-sqlite.h"

#include <dirent.h>

struct fixture {
	char *dir;
	struct store *store;
	struct pool *pool;
	int64_t alice, bob;
	int64_t inbox;
};

static struct store *open_small_inline(const char *dir)
{
	/* Bodies above 1 KB go to files, so tests exercise both paths. */
	struct store_settings set = {.data_dir = dir, .body_inline_max = 1024};
	struct store *store;
	const char *error;
	if (store_open(&set, &store, &error) < 0)
		fail_msg("store_open: %s", error);
	return store;
}

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	f->dir = test_tmpdir();
	f->store = open_small_inline(f->dir);
	f->pool = pool_create("test", 1024);
	test_store_fixture(f->store, &f->alice, &f->bob);
	f->inbox = test_mailbox_id(f->store, f->alice, "INBOX");
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

static void reopen(struct fixture *f)
{
	store_close(&f->store);
	f->store = open_small_inline(f->dir);
}

/* Reads the whole body in chunks of chunk bytes. */
static char *read_body(struct fixture *f, int64_t body_id, size_t chunk,
		       size_t *size_r)
{
	struct store_body *body;
	const char *error;
	assert_int_equal(store_body_open(f->store, body_id, &body, &error), 1);
	uint64_t size = store_body_size(body);
	char *data = i_malloc(size + 1);
	uint64_t off = 0;
	while (off < size) {
		ssize_t n =
		    store_body_read(body, off, data + off, chunk, &error);
		assert_true(n > 0);
		off += n;
	}
	assert_int_equal(store_body_read(body, size, data, 10, &error), 0);
	store_body_close(&body);
	assert_null(body);
	*size_r = size;
	return data;
}

static unsigned count_body_files(struct fixture *f)
{
	char *path = i_strdup_printf("%s/bodies", f->dir);
	DIR *dir = opendir(path);
	assert_non_null(dir);
	unsigned n = 0;
	struct dirent *d;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] != '.')
			n++;
	}
	closedir(dir);
	i_free(path);
	return n;
}

static void test_deliver_and_read(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *msg =
	    "From: a@b.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n";
	struct store_txn *txn = store_txn_create(f->store);
	struct store_delivery_rcpt rcpts[] = {
	    {.account_id = f->alice},
	    {.account_id = f->bob, .mailbox = "Junk", .keywords = "$Junk"},
	};
	unsigned op =
	    store_txn_deliver(txn, msg, strlen(msg), 1700000000, rcpts, 2, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->count, 2);
	assert_int_equal(res->rcpt_errors[0], STORE_OK);
	assert_int_equal(res->rcpt_errors[1], STORE_OK);
	assert_int_equal(res->uids[0], 1);
	assert_int_equal(res->uids[1], 1);
	store_txn_destroy(&txn);

	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, f->inbox, 1, f->pool, &info, &error),
	    1);
	assert_int_equal(info.msg.size, strlen(msg));
	assert_int_equal(info.msg.internaldate, 1700000000);
	assert_int_equal(info.msg.flags, 0);
	assert_int_equal(info.header_size,
			 strlen("From: a@b.test\r\nSubject: hi\r\n\r\n"));
	assert_int_equal(info.lines, 5);
	/* Parsed on arrival when lib-imap is in the build (empty otherwise). */
	if (info.envelope[0] != '\0') {
		assert_non_null(strstr(info.envelope, "\"hi\""));
		assert_non_null(
		    strstr(info.bodystructure, "\"text\" \"plain\""));
		assert_non_null(strstr(info.body, "\"text\" \"plain\""));
	}
	size_t size;
	char *data = read_body(f, info.msg.body_id, 7, &size);
	assert_int_equal(size, strlen(msg));
	assert_memory_equal(data, msg, size);
	i_free(data);

	/* Bob's copy is in Junk and shares the body. */
	int64_t junk = test_mailbox_id(f->store, f->bob, "Junk");
	struct store_message_info binfo;
	assert_int_equal(
	    store_message_get(f->store, junk, 1, f->pool, &binfo, &error), 1);
	assert_int_equal(binfo.msg.body_id, info.msg.body_id);
	assert_string_equal(binfo.msg.keywords, "$Junk");

	/* A partial read in the middle. */
	struct store_body *body;
	char part[5];
	assert_int_equal(
	    store_body_open(f->store, info.msg.body_id, &body, &error), 1);
	assert_int_equal(store_body_read(body, 31, part, 4, &error), 4);
	assert_memory_equal(part, "line", 4);
	store_body_close(&body);

	/* Usage accounting. */
	struct store_account *a;
	assert_int_equal(
	    store_account_lookup_id(f->store, f->alice, f->pool, &a, &error),
	    1);
	assert_int_equal(a->used_messages, 1);
	assert_int_equal(a->used_bytes, strlen(msg));
}

/* The SEARCH header index, with lib-imap (and lib-mail) in the build. */
static void test_search_headers(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *msg = "From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.org>\r\n"
			  "Subject: =?UTF-8?B?w6l0w6k=?= report\r\n"
			  " continued\r\n"
			  "X-Custom: Value\r\n"
			  "\r\n"
			  "Subject: not a header\r\n";
	uint32_t uid = test_deliver(f->store, f->alice, msg);
	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, f->inbox, uid, f->pool, &info, &error),
	    1);
	if (info.envelope[0] == '\0')
		skip(); /* no lib-mail: nothing is indexed */
	assert_string_equal(info.search_headers,
			    "from: Ren\xc3\xa9 <rene@example.org>\n"
			    "subject: \xc3\xa9t\xc3\xa9 report continued\n"
			    "x-custom: Value\n");

	struct store_message_iter *iter =
	    store_message_iter_init_headers(f->store, f->inbox, 1, 0, 0);
	struct store_message m;
	assert_int_equal(store_message_iter_next(iter, &m), 1);
	assert_string_equal(store_message_iter_headers(iter),
			    info.search_headers);
	assert_int_equal(store_message_iter_next(iter, &m), 0);
	assert_int_equal(store_message_iter_deinit(&iter, &error), 1);

	/* Gone with the body. */
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_expunge(txn, f->inbox, NULL, 0, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	iter = store_message_iter_init_headers(f->store, f->inbox, 1, 0, 0);
	assert_int_equal(store_message_iter_next(iter, &m), 0);
	assert_string_equal(store_message_iter_headers(iter), "");
	assert_int_equal(store_message_iter_deinit(&iter, &error), 1);
}

static void test_lf_conversion(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *msg = "Subject: x\n\nbody\r\nmore\n";
	const char *want = "Subject: x\r\n\r\nbody\r\nmore\r\n";
	struct store_txn *txn = store_txn_create(f->store);
	unsigned op = store_txn_append(txn, f->inbox, msg, strlen(msg), 5,
				       STORE_FLAG_SEEN, "a b A",
				       STORE_DELIVER_CONVERT_LF);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->uid, 1);
	assert_true(res->uidvalidity > 0);
	store_txn_destroy(&txn);
	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, f->inbox, 1, f->pool, &info, &error),
	    1);
	assert_int_equal(info.msg.size, strlen(want));
	assert_int_equal(info.msg.flags, STORE_FLAG_SEEN);
	assert_string_equal(info.msg.keywords, "a b");
	size_t size;
	char *data = read_body(f, info.msg.body_id, 4096, &size);
	assert_memory_equal(data, want, size);
	i_free(data);

	/* Bad keywords refuse the append. */
	txn = store_txn_create(f->store);
	store_txn_append(txn, f->inbox, msg, strlen(msg), 5, 0, "bad(kw", 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_INVALID);
	store_txn_destroy(&txn);
}

static void test_uids_never_reused(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t last = 0;
	for (int i = 0; i < 5; i++) {
		uint32_t uid =
		    test_deliver(f->store, f->alice, "S: x\r\n\r\nb\r\n");
		assert_true(uid > last);
		last = uid;
	}
	/* Expunge the newest two. */
	struct store_txn *txn = store_txn_create(f->store);
	struct store_uid_range r = {4, 5};
	unsigned op = store_txn_expunge(txn, f->inbox, &r, 1, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	assert_int_equal(store_txn_result(txn, op)->count, 2);
	store_txn_destroy(&txn);

	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	uint32_t uidvalidity = st.uidvalidity;
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.uidnext, 6);

	reopen(f);
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.uidvalidity, uidvalidity);
	assert_int_equal(st.uidnext, 6);
	assert_int_equal(test_deliver(f->store, f->alice, "S: y\r\n\r\nb\r\n"),
			 6);

	/* The list is in UID order and has no bodies loaded. */
	struct store_message_iter *iter =
	    store_message_iter_init(f->store, f->inbox, 1, 0, 0);
	struct store_message msg;
	uint32_t expect[] = {1, 2, 3, 6};
	unsigned n = 0;
	while (store_message_iter_next(iter, &msg) > 0) {
		assert_true(n < N_ELEMENTS(expect));
		assert_int_equal(msg.uid, expect[n++]);
	}
	assert_int_equal(n, 4);
	assert_int_equal(store_message_iter_deinit(&iter, &error), 1);
	assert_null(iter);

	/* The same UIDs alone, appended to an array; then from a UID on. */
	uint32_t *uids = NULL, count = 0, cap = 0;
	assert_int_equal(store_message_uids(f->store, f->inbox, 1, &uids,
					    &count, &cap, &error), 1);
	assert_int_equal(count, 4);
	assert_true(cap >= count);
	assert_memory_equal(uids, expect, sizeof(expect));
	assert_int_equal(store_message_uids(f->store, f->inbox, 3, &uids,
					    &count, &cap, &error), 1);
	assert_int_equal(count, 6);
	assert_int_equal(uids[4], 3);
	assert_int_equal(uids[5], 6);
	free(uids);

	/* SELECT's first unseen message comes from the unseen index. */
	struct store_mailbox_status st2;
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st2, &error),
			 1);
	assert_int_equal(st2.first_unseen_uid, 1);
}

static void test_copy_move_refcount(void **state)
{
	struct fixture *f = *state;
	const char *error;
	/* Large enough to live in a file. */
	struct buf big = BUF_INIT;
	buf_append_str(&big, "Subject: big\r\n\r\n");
	for (int i = 0; i < 200; i++)
		buf_printf(&big, "line %04d of a large message body\r\n", i);
	struct store_txn *txn = store_txn_create(f->store);
	struct store_delivery_rcpt rcpt = {.account_id = f->alice};
	store_txn_deliver(txn, big.data, big.len, 1, &rcpt, 1, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(count_body_files(f), 1);
	uint32_t small = test_deliver(f->store, f->alice, "S: s\r\n\r\nx\r\n");

	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, f->inbox, 1, f->pool, &info, &error),
	    1);
	int64_t big_body = info.msg.body_id;
	size_t size;
	char *data = read_body(f, big_body, 1000, &size);
	assert_int_equal(size, big.len);
	assert_memory_equal(data, big.data, size);
	i_free(data);

	/* Copy both to Archive, then move Archive's to bob's Trash. */
	int64_t archive = test_mailbox_id(f->store, f->alice, "Archive");
	int64_t trash = test_mailbox_id(f->store, f->bob, "Trash");
	txn = store_txn_create(f->store);
	struct store_uid_range all = {1, small};
	unsigned op = store_txn_copy(txn, f->inbox, &all, 1, archive, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->count, 2);
	assert_int_equal(res->src_uids[0], 1);
	assert_int_equal(res->uids[0], 1);
	assert_int_equal(res->src_uids[1], small);
	assert_int_equal(res->uids[1], 2);
	store_txn_destroy(&txn);
	assert_int_equal(
	    store_message_get(f->store, archive, 1, f->pool, &info, &error), 1);
	assert_int_equal(info.msg.body_id, big_body);

	txn = store_txn_create(f->store);
	struct store_uid_range r1 = {1, 1};
	op = store_txn_copy(txn, archive, &r1, 1, trash, true);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	assert_int_equal(store_txn_result(txn, op)->count, 1);
	store_txn_destroy(&txn);
	assert_int_equal(
	    store_message_get(f->store, archive, 1, f->pool, &info, &error), 0);
	assert_int_equal(
	    store_message_get(f->store, trash, 1, f->pool, &info, &error), 1);
	assert_int_equal(info.msg.body_id, big_body);
	assert_int_equal(count_body_files(f), 1);

	/* Expunge every reference: the body goes with the last one. */
	txn = store_txn_create(f->store);
	store_txn_expunge(txn, f->inbox, &r1, 1, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	struct store_body *body;
	assert_int_equal(store_body_open(f->store, big_body, &body, &error), 1);
	store_body_close(&body);
	txn = store_txn_create(f->store);
	store_txn_expunge(txn, trash, NULL, 0, false);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(store_body_open(f->store, big_body, &body, &error), 0);
	assert_int_equal(count_body_files(f), 0);

	/* Quota usage followed the moves: alice keeps inbox small + archive
	 * small; bob has nothing. */
	struct store_account *a;
	assert_int_equal(
	    store_account_lookup_id(f->store, f->bob, f->pool, &a, &error), 1);
	assert_int_equal(a->used_messages, 0);
	assert_int_equal(a->used_bytes, 0);
	assert_int_equal(
	    store_account_lookup_id(f->store, f->alice, f->pool, &a, &error),
	    1);
	assert_int_equal(a->used_messages, 2);
	buf_free(&big);
}

static void test_flags_modseq(void **state)
{
	struct fixture *f = *state;
	const char *error;
	for (int i = 0; i < 3; i++)
		test_deliver(f->store, f->alice, "S: x\r\n\r\nb\r\n");
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.unseen, 3);
	assert_int_equal(st.first_unseen_uid, 1);
	assert_int_equal(st.recent, 3);
	uint64_t modseq0 = st.highestmodseq;

	struct store_txn *txn = store_txn_create(f->store);
	struct store_uid_range r = {1, 2};
	unsigned op = store_txn_flags(txn, f->inbox, &r, 1, STORE_FLAGS_ADD,
				      STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
				      "$Important", 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->count, 2);
	assert_true(res->modseq > modseq0);
	uint64_t modseq1 = res->modseq;
	store_txn_destroy(&txn);

	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.first_unseen_uid, 3);
	assert_int_equal(st.highestmodseq, modseq1);

	/* Setting what is already set changes nothing, bumps nothing. */
	txn = store_txn_create(f->store);
	op = store_txn_flags(txn, f->inbox, &r, 1, STORE_FLAGS_ADD,
			     STORE_FLAG_SEEN, NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	assert_int_equal(store_txn_result(txn, op)->count, 0);
	store_txn_destroy(&txn);

	/* CONDSTORE: only messages unchanged since modseq0 change. */
	txn = store_txn_create(f->store);
	struct store_uid_range all = {1, 3};
	op = store_txn_flags(txn, f->inbox, &all, 1, STORE_FLAGS_REPLACE,
			     STORE_FLAG_DELETED, "", modseq0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	res = store_txn_result(txn, op);
	assert_int_equal(res->count, 1);
	assert_int_equal(res->uids[0], 3);
	assert_int_equal(res->modified_count, 2);
	assert_int_equal(res->modified_uids[0], 1);
	store_txn_destroy(&txn);

	struct store_message_info info;
	assert_int_equal(
	    store_message_get(f->store, f->inbox, 1, f->pool, &info, &error),
	    1);
	assert_int_equal(info.msg.flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(info.msg.keywords, "$Important");
	assert_int_equal(info.msg.modseq, modseq1);

	/* Remove a keyword; CHANGEDSINCE listing sees only changed ones. */
	txn = store_txn_create(f->store);
	store_txn_flags(txn, f->inbox, &r, 1, STORE_FLAGS_REMOVE, 0,
			"$important", 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	struct store_message_iter *iter =
	    store_message_iter_init(f->store, f->inbox, 1, 0, modseq1);
	struct store_message m;
	unsigned n = 0;
	while (store_message_iter_next(iter, &m) > 0) {
		assert_string_equal(m.keywords, "");
		n++;
	}
	assert_int_equal(store_message_iter_deinit(&iter, &error), 1);
	assert_int_equal(n, 3); /* 1, 2 (keyword) and 3 (flags) */

	/* EXPUNGE of \Deleted only; \Recent claimed. */
	txn = store_txn_create(f->store);
	op = store_txn_expunge(txn, f->inbox, NULL, 0, true);
	store_txn_mailbox_claim_recent(txn, f->inbox, 4);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	assert_int_equal(store_txn_result(txn, op)->count, 1);
	assert_int_equal(store_txn_result(txn, op)->uids[0], 3);
	store_txn_destroy(&txn);
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 0);
	assert_int_equal(st.recent, 0);
	assert_int_equal(st.first_unseen_uid, 0);
}

/* UID sets arrive unsorted, overlapping, reversed, with 0: every message
 * changes once. */
static void test_uid_ranges(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 5; i++)
		test_deliver(f->store, f->alice, "S: r\r\n\r\nb\r\n");
	struct store_uid_range ranges[] = {{5, 3}, {1, 1},  {2, 2},
					   {0, 0}, {4, 10}, {2, 1}};
	struct store_txn *txn = store_txn_create(f->store);
	unsigned op =
	    store_txn_flags(txn, f->inbox, ranges, N_ELEMENTS(ranges),
			    STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->count, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(res->uids[i], i + 1);
	store_txn_destroy(&txn);

	/* Many single-UID ranges, as a hostile client may send. */
	unsigned n = 20000;
	struct store_uid_range *many = i_new(struct store_uid_range, n);
	for (unsigned i = 0; i < n; i++)
		many[i].first = many[i].last = n - i;
	txn = store_txn_create(f->store);
	op = store_txn_flags(txn, f->inbox, many, n, STORE_FLAGS_REMOVE,
			     STORE_FLAG_SEEN, NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	assert_int_equal(store_txn_result(txn, op)->count, 5);
	store_txn_destroy(&txn);
	free(many);
}

static void test_quota(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *msg = "Subject: q\r\n\r\n0123456789\r\n"; /* 26 bytes */
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_account_set_quota(txn, "alice@example.com", 60, 0);
	store_txn_account_set_quota(txn, "bob@example.com", 0, 1);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);

	test_deliver(f->store, f->alice, msg);
	test_deliver(f->store, f->alice, msg);
	/* A third would pass 60 bytes: alice fails, bob still gets it. */
	txn = store_txn_create(f->store);
	struct store_delivery_rcpt rcpts[] = {{.account_id = f->alice},
					      {.account_id = f->bob}};
	unsigned op = store_txn_deliver(txn, msg, strlen(msg), 1, rcpts, 2, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	const struct store_op_result *res = store_txn_result(txn, op);
	assert_int_equal(res->rcpt_errors[0], STORE_ERR_OVER_QUOTA);
	assert_int_equal(res->rcpt_errors[1], STORE_OK);
	store_txn_destroy(&txn);

	/* Bob is now at his message limit: APPEND fails with OVER_QUOTA. */
	int64_t bob_inbox = test_mailbox_id(f->store, f->bob, "INBOX");
	txn = store_txn_create(f->store);
	store_txn_append(txn, bob_inbox, msg, strlen(msg), 1, 0, NULL, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_OVER_QUOTA);
	store_txn_destroy(&txn);

	/* Delivery to only over-quota recipients fails as a whole. */
	txn = store_txn_create(f->store);
	store_txn_deliver(txn, msg, strlen(msg), 1, rcpts, 1, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_OVER_QUOTA);
	store_txn_destroy(&txn);

	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.size, 2 * strlen(msg));
	assert_true(store_error_is_temporary(STORE_ERR_DISK_FULL));
	assert_false(store_error_is_temporary(STORE_ERR_OVER_QUOTA));
}

/* Runs a statement on the writer's connection. Only while the writer is
 * idle (every transaction of the test has completed). */
static void writer_exec(struct fixture *f, const char *sql)
{
	struct sqlite_store *ss = f->store->backend_ctx;
	assert_int_equal(sqlite3_exec(ss->writer->db, sql, NULL, NULL, NULL),
			 SQLITE_OK);
}

static int writer_page_count(struct fixture *f)
{
	struct sqlite_store *ss = f->store->backend_ctx;
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_prepare_v2(ss->writer->db, "PRAGMA page_count",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int pages = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return pages;
}

struct full_ctx {
	unsigned want, done, full, other;
	bool all_done;
};

static void full_done(struct store_txn *txn, void *context)
{
	struct full_ctx *ctx = context;
	enum store_error err = store_txn_error(txn, NULL);
	if (err == STORE_ERR_DISK_FULL)
		ctx->full++;
	else if (err != STORE_OK)
		ctx->other++;
	if (++ctx->done == ctx->want)
		ctx->all_done = true;
}

static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	const char *error;
	/* max_page_count makes the database "full" like ENOSPC would. */
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%d",
		 writer_page_count(f) + 2);
	writer_exec(f, sql);

	struct buf big = BUF_INIT;
	buf_append_str(&big, "Subject: full\r\n\r\n");
	while (big.len < 900)
		buf_append_str(&big,
			       "0123456789012345678901234567890123456789\r\n");
	/* Several in one batch: all fail with the temporary error, and the
	 * store still works afterwards. */
	struct store_txn *txns[20];
	unsigned n = 0;
	for (; n < N_ELEMENTS(txns); n++) {
		txns[n] = store_txn_create(f->store);
		struct store_delivery_rcpt rcpt = {.account_id = f->alice};
		store_txn_deliver(txns[n], big.data, big.len, 1, &rcpt, 1, 0);
	}
	struct test_loop loop;
	test_loop_init(&loop);
	struct full_ctx ctx = {.want = n};
	for (unsigned i = 0; i < n; i++)
		store_txn_commit(txns[i], &loop.target, full_done, &ctx);
	test_loop_run_until(&loop, &ctx.all_done);
	test_loop_deinit(&loop);
	assert_int_equal(ctx.other, 0);
	unsigned full = ctx.full;
	assert_true(full > 0);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, f->inbox, &st, &error),
			 1);
	assert_int_equal(st.messages, n - full);
	assert_int_equal(st.uidnext, n - full + 1);

	writer_exec(f, "PRAGMA max_page_count=1073741823");
	uint32_t uid = test_deliver(f->store, f->alice, buf_cstr(&big));
	assert_int_equal(uid, n - full + 1);
	buf_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_deliver_and_read, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_search_headers, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lf_conversion, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_uids_never_reused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_copy_move_refcount, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_flags_modseq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uid_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

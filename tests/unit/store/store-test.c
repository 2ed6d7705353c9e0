/* SPDX-License-Identifier: MIT */
#include "store-test.h"
#include "pool.h"
#include "timeutil.h"

#include <ftw.h>
#include <unistd.h>

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = i_strdup_printf("%s/posthorn-store-XXXXXX",
				     base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(path));
	return path;
}

static int test_rm_cb(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path);
}

void test_tmpdir_remove(char **path)
{
	if (*path == NULL)
		return;
	(void)nftw(*path, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	i_free(*path);
}

struct store *test_store_open(const char *dir, const char *postmaster)
{
	struct store_settings set = {
	    .data_dir = dir,
	    .postmaster_account = postmaster,
	};
	struct store *store = NULL;
	const char *error = NULL;
	if (store_open(&set, &store, &error) < 0)
		fail_msg("store_open: %s", error);
	return store;
}

struct test_loop_item {
	struct test_loop_item *next;
	void (*fn)(void *);
	void *ctx;
};

static void test_loop_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	struct test_loop *loop = owner;
	struct test_loop_item *item = i_new(struct test_loop_item, 1);
	item->fn = fn;
	item->ctx = ctx;
	pthread_mutex_lock(&loop->lock);
	if (loop->tail == NULL)
		loop->head = item;
	else
		loop->tail->next = item;
	loop->tail = item;
	pthread_cond_signal(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
}

void test_loop_init(struct test_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	loop->target.post = test_loop_post;
	loop->target.owner = loop;
	loop->owner = pthread_self();
}

void test_loop_deinit(struct test_loop *loop)
{
	assert_null(loop->head);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->cond);
}

static struct test_loop_item *test_loop_take(struct test_loop *loop, bool wait)
{
	pthread_mutex_lock(&loop->lock);
	if (wait && loop->head == NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 30;
		while (loop->head == NULL) {
			if (pthread_cond_timedwait(&loop->cond, &loop->lock,
						   &ts) != 0)
				break;
		}
	}
	struct test_loop_item *item = loop->head;
	if (item != NULL) {
		loop->head = item->next;
		if (loop->head == NULL)
			loop->tail = NULL;
	}
	pthread_mutex_unlock(&loop->lock);
	return item;
}

void test_loop_run_until(struct test_loop *loop, const bool *done)
{
	while (!*done) {
		struct test_loop_item *item = test_loop_take(loop, true);
		if (item == NULL)
			fail_msg("test loop: nothing posted within 30 s");
		item->fn(item->ctx);
		free(item);
	}
}

unsigned test_loop_run_pending(struct test_loop *loop)
{
	unsigned n = 0;
	struct test_loop_item *item;
	while ((item = test_loop_take(loop, false)) != NULL) {
		item->fn(item->ctx);
		free(item);
		n++;
	}
	return n;
}

void test_store_fixture(struct store *store, int64_t *alice_r, int64_t *bob_r)
{
	const char *error;
	assert_int_equal(store_domain_add(store, "example.com", &error),
			 STORE_OK);
	struct store_credentials cred = {.password_hash = "$y$fake"};
	assert_int_equal(store_account_add(store, "alice@example.com", &cred,
					   alice_r, &error),
			 STORE_OK);
	assert_int_equal(
	    store_account_add(store, "bob@example.com", &cred, bob_r, &error),
	    STORE_OK);
}

uint32_t test_deliver(struct store *store, int64_t account_id, const char *data)
{
	struct store_txn *txn = store_txn_create(store);
	struct store_delivery_rcpt rcpt = {.account_id = account_id};
	unsigned op =
	    store_txn_deliver(txn, data, strlen(data), 1700000000, &rcpt, 1, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	uint32_t uid = store_txn_result(txn, op)->uids[0];
	store_txn_destroy(&txn);
	return uid;
}

int64_t test_mailbox_id(struct store *store, int64_t account_id,
			const char *name)
{
	struct pool *pool = pool_create("test", 256);
	struct store_mailbox *mb;
	const char *error;
	assert_int_equal(
	    store_mailbox_lookup(store, account_id, name, pool, &mb, &error),
	    1);
	int64_t id = mb->id;
	pool_destroy(&pool);
	return id;
}

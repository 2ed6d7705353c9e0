/* SPDX-License-Identifier: MIT */
/* Driven by tests/integration/test_store_crash.py:
 *
 *   store-crash-helper run DIR FIRST_ID
 *     delivers messages FIRST_ID, FIRST_ID+1, ... forever, several
 *     transactions in flight, and prints "ACK id uid" once a delivery's
 *     completion ran (i.e. it is durable), then "FLAG id" once a later
 *     flag change on some of them is durable. Killed with SIGKILL.
 *   store-crash-helper check DIR
 *     verifies every message byte for byte against its id and prints
 *     "MSG id uid flags keywords" per message and "UIDNEXT n".
 */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "store.h"
#include "workpool.h"

#include <pthread.h>

#define INFLIGHT_MAX 16
#define ACCOUNT "crash@example.com"

struct loop_item {
	struct loop_item *next;
	void (*fn)(void *);
	void *ctx;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_cond = PTHREAD_COND_INITIALIZER;
static struct loop_item *loop_head, *loop_tail;

static void loop_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	struct loop_item *item = i_new(struct loop_item, 1);
	item->fn = fn;
	item->ctx = ctx;
	pthread_mutex_lock(&loop_lock);
	if (loop_tail == NULL)
		loop_head = item;
	else
		loop_tail->next = item;
	loop_tail = item;
	pthread_cond_signal(&loop_cond);
	pthread_mutex_unlock(&loop_lock);
}

static void loop_run_one(void)
{
	pthread_mutex_lock(&loop_lock);
	while (loop_head == NULL)
		pthread_cond_wait(&loop_cond, &loop_lock);
	struct loop_item *item = loop_head;
	loop_head = item->next;
	if (loop_head == NULL)
		loop_tail = NULL;
	pthread_mutex_unlock(&loop_lock);
	item->fn(item->ctx);
	free(item);
}

/* The message for an id: deterministic, so the checker can rebuild it.
 * Every seventh is large enough to live in a body file. */
static void crash_message(uint64_t id, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "X-Crash-Id: %llu\r\nSubject: crash test %llu\r\n\r\n",
		   (unsigned long long)id, (unsigned long long)id);
	unsigned lines = id % 7 == 0 ? 200 : 3 + id % 5;
	for (unsigned i = 0; i < lines; i++)
		buf_printf(out, "message %llu line %u\r\n",
			   (unsigned long long)id, i);
}

static uint32_t crash_flags(uint64_t id)
{
	return (uint32_t)(id % 4) & (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
}

static struct store *crash_open(const char *dir)
{
	struct store_settings set = {.data_dir = dir, .body_inline_max = 2048};
	struct store *store;
	const char *error;
	if (store_open(&set, &store, &error) < 0)
		i_fatal("store_open: %s", error);
	return store;
}

static struct store *store;
static const struct completion_target target = {loop_post, NULL};
static unsigned inflight;
static int64_t inbox_id;

struct pending {
	uint64_t id, id2; /* id2: a second message in the same txn, or 0 */
	bool flag_op;
};

static void crash_done(struct store_txn *txn, void *ctx)
{
	struct pending *p = ctx;
	inflight--;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	if (err != STORE_OK)
		i_fatal("transaction failed: %s", text);
	if (p->flag_op) {
		printf("FLAG %llu\n", (unsigned long long)p->id);
	} else {
		printf("ACK %llu %u\n", (unsigned long long)p->id,
		       store_txn_result(txn, 0)->uids[0]);
		if (p->id2 != 0)
			printf("ACK %llu %u\n", (unsigned long long)p->id2,
			       store_txn_result(txn, 1)->uids[0]);
	}
	fflush(stdout);

	if (!p->flag_op && p->id % 3 == 0) {
		/* Flag the message we just got acknowledged. */
		struct pending *f = i_new(struct pending, 1);
		f->id = p->id;
		f->flag_op = true;
		struct store_txn *ftxn = store_txn_create(store);
		uint32_t uid = store_txn_result(txn, 0)->uids[0];
		struct store_uid_range r = {uid, uid};
		char kw[32];
		snprintf(kw, sizeof(kw), "k%llu", (unsigned long long)p->id);
		store_txn_flags(ftxn, inbox_id, &r, 1, STORE_FLAGS_ADD,
				STORE_FLAG_FLAGGED, kw, 0);
		inflight++;
		store_txn_commit(ftxn, &target, crash_done, f);
	}
	free(p);
}

static int crash_run(const char *dir, uint64_t next_id)
{
	store = crash_open(dir);
	const char *error;
	struct pool *pool = pool_create("crash", 1024);
	struct store_account *account;
	if (store_account_lookup(store, ACCOUNT, pool, &account, &error) <= 0) {
		(void)store_domain_add(store, "example.com", &error);
		if (store_account_add(store, ACCOUNT, NULL, NULL, &error) !=
		    STORE_OK)
			i_fatal("account: %s", error);
		if (store_account_lookup(store, ACCOUNT, pool, &account,
					 &error) <= 0)
			i_fatal("account lookup failed");
	}
	struct store_mailbox *mb;
	if (store_mailbox_lookup(store, account->id, "INBOX", pool, &mb,
				 &error) <= 0)
		i_fatal("no INBOX");
	inbox_id = mb->id;
	printf("READY\n");
	fflush(stdout);

	struct buf msg = BUF_INIT;
	for (;;) {
		while (inflight < INFLIGHT_MAX) {
			struct pending *p = i_new(struct pending, 1);
			struct store_txn *txn = store_txn_create(store);
			p->id = next_id++;
			crash_message(p->id, &msg);
			store_txn_append(txn, inbox_id, msg.data, msg.len, 1000,
					 crash_flags(p->id), NULL, 0);
			if (p->id % 4 == 1) {
				/* Two messages in one transaction: both or
				 * neither. */
				p->id2 = next_id++;
				crash_message(p->id2, &msg);
				store_txn_append(txn, inbox_id, msg.data,
						 msg.len, 1000,
						 crash_flags(p->id2), NULL, 0);
			}
			inflight++;
			store_txn_commit(txn, &target, crash_done, p);
		}
		loop_run_one();
	}
}

static int crash_check(const char *dir)
{
	store = crash_open(dir);
	const char *error;
	struct pool *pool = pool_create("crash", 1024);
	struct store_account *account;
	int ret = store_account_lookup(store, ACCOUNT, pool, &account, &error);
	if (ret == 0) {
		printf("UIDNEXT 1\n");
		store_close(&store);
		return 0;
	}
	if (ret < 0)
		i_fatal("lookup: %s", error);
	struct store_mailbox *mb;
	if (store_mailbox_lookup(store, account->id, "INBOX", pool, &mb,
				 &error) <= 0)
		i_fatal("no INBOX");
	struct store_mailbox_status st;
	if (store_mailbox_status(store, mb->id, &st, &error) <= 0)
		i_fatal("status: %s", error);

	struct buf expect = BUF_INIT;
	int failures = 0;
	unsigned count = 0;
	struct store_message_iter *iter =
	    store_message_iter_init(store, mb->id, 1, 0, 0);
	struct store_message m;
	while (store_message_iter_next(iter, &m) > 0) {
		struct store_body *body;
		if (store_body_open(store, m.body_id, &body, &error) <= 0) {
			printf("BAD uid %u: body missing\n", m.uid);
			failures++;
			continue;
		}
		uint64_t size = store_body_size(body);
		char *data = i_malloc(size + 1);
		ssize_t n = size == 0
				? 0
				: store_body_read(body, 0, data, size, &error);
		store_body_close(&body);
		unsigned long long id = 0;
		if (n != (ssize_t)size ||
		    sscanf(data, "X-Crash-Id: %llu", &id) != 1) {
			printf("BAD uid %u: unreadable body\n", m.uid);
			failures++;
			i_free(data);
			continue;
		}
		crash_message(id, &expect);
		if (expect.len != size || m.size != size ||
		    memcmp(expect.data, data, size) != 0) {
			printf("BAD uid %u: content of %llu differs\n", m.uid,
			       id);
			failures++;
		}
		i_free(data);
		printf("MSG %llu %u %u %s\n", id, m.uid, m.flags,
		       m.keywords[0] == '\0' ? "-" : m.keywords);
		count++;
	}
	if (store_message_iter_deinit(&iter, &error) < 0)
		i_fatal("iteration: %s", error);
	if (count != st.messages) {
		printf("BAD status says %u messages, found %u\n", st.messages,
		       count);
		failures++;
	}
	printf("UIDNEXT %u\n", st.uidnext);
	buf_free(&expect);
	pool_destroy(&pool);
	store_close(&store);
	return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "run") == 0)
		return crash_run(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return crash_check(argv[2]);
	fprintf(stderr,
		"usage: store-crash-helper run DIR FIRST_ID | check DIR\n");
	return 2;
}

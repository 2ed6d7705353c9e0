/* SPDX-License-Identifier: MIT */
/* Test tool for the SMTP integration tests: prints the messages of one
 * account's mailbox as stored, read through the store API.
 *
 *   smtp-store-dump DATA_DIR ADDRESS [MAILBOX]
 *   smtp-store-dump --quota DATA_DIR ADDRESS BYTES MESSAGES
 *   smtp-store-dump --queue DATA_DIR
 *
 * --queue prints one line per pending outbound recipient:
 * "QUEUED <address> notify=<bits> orcpt=<orcpt> from=<sender> envid=<envid>
 * ret=<n> body=<n> smtputf8=<0|1> size=<bytes>".
 *
 * Output, per message in UID order: a line "MESSAGE <uid> <size>\n", then
 * exactly <size> bytes of the stored message, then "\n". Exit 0, or 1 with
 * a message on stderr (unknown account: "no such account"). */
#include "lib.h"
#include "pool.h"
#include "store.h"

#include <unistd.h>

static int dump_body(struct store *store, const struct store_message *msg)
{
	struct store_body *body;
	const char *error;
	uint64_t offset = 0;
	char chunk[65536];

	if (store_body_open(store, msg->body_id, &body, &error) <= 0) {
		fprintf(stderr, "cannot open body of uid %u\n", msg->uid);
		return -1;
	}
	printf("MESSAGE %u %llu\n", msg->uid,
	       (unsigned long long)store_body_size(body));
	for (;;) {
		ssize_t n = store_body_read(body, offset, chunk, sizeof(chunk),
					    &error);
		if (n < 0) {
			fprintf(stderr, "read error: %s\n", error);
			store_body_close(&body);
			return -1;
		}
		if (n == 0)
			break;
		fwrite(chunk, 1, (size_t)n, stdout);
		offset += (uint64_t)n;
	}
	printf("\n");
	store_body_close(&body);
	return 0;
}

static int set_quota(char **argv)
{
	struct store_settings set = {0};
	struct store *store;
	struct store_txn *txn;
	const char *error;
	enum store_error err;

	set.data_dir = argv[0];
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "cannot open store: %s\n", error);
		return 1;
	}
	txn = store_txn_create(store);
	(void)store_txn_account_set_quota(txn, argv[1],
					  strtoull(argv[2], NULL, 10),
					  strtoull(argv[3], NULL, 10));
	err = store_txn_commit_wait(txn);
	if (err != STORE_OK)
		fprintf(stderr, "set quota: %s\n", store_error_str(err));
	store_txn_destroy(&txn);
	store_close(&store);
	return err == STORE_OK ? 0 : 1;
}

static int list_queue(const char *data_dir)
{
	struct store_settings set = {0};
	struct store_queue_item *items;
	struct store *store;
	struct pool *pool;
	const char *error;
	unsigned count;
	int rc = 0;

	set.data_dir = data_dir;
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "cannot open store: %s\n", error);
		return 1;
	}
	pool = pool_create("queue", 4096);
	if (store_queue_due(store, 0, 0, pool, &items, &count, &error) < 0) {
		fprintf(stderr, "queue: %s\n", error);
		rc = 1;
	} else {
		for (unsigned i = 0; i < count; i++) {
			const struct store_queue_item *q = &items[i];
			printf("QUEUED %s notify=%u orcpt=%s from=%s envid=%s "
			       "ret=%d body=%d smtputf8=%d size=%llu\n",
			       q->rcpt.address, q->rcpt.notify,
			       q->rcpt.orcpt != NULL ? q->rcpt.orcpt : "",
			       q->env.sender,
			       q->env.envid != NULL ? q->env.envid : "",
			       (int)q->env.ret, (int)q->env.body_type,
			       q->env.smtputf8 ? 1 : 0,
			       (unsigned long long)q->size);
		}
	}
	pool_destroy(&pool);
	store_close(&store);
	return rc;
}

int main(int argc, char **argv)
{
	struct store_settings set = {0};
	struct store *store;
	struct store_account *account;
	struct store_mailbox *mailbox;
	struct store_message_iter *iter;
	struct store_message msg;
	struct pool *pool;
	const char *error;
	int ret, rc = 0;

	if (argc == 3 && strcmp(argv[1], "--queue") == 0)
		return list_queue(argv[2]);
	if (argc == 6 && strcmp(argv[1], "--quota") == 0)
		return set_quota(argv + 2);
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: smtp-store-dump DATA_DIR ADDRESS [MAILBOX]\n");
		return 1;
	}
	set.data_dir = argv[1];
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "cannot open store: %s\n", error);
		return 1;
	}
	pool = pool_create("dump", 4096);
	ret = store_account_lookup(store, argv[2], pool, &account, &error);
	if (ret <= 0) {
		fprintf(stderr, "%s\n", ret < 0 ? error : "no such account");
		rc = 1;
		goto out;
	}
	ret = store_mailbox_lookup(store, account->id, argc > 3 ? argv[3] : "INBOX",
				   pool, &mailbox, &error);
	if (ret <= 0) {
		fprintf(stderr, "%s\n", ret < 0 ? error : "no such mailbox");
		rc = 1;
		goto out;
	}
	iter = store_message_iter_init(store, mailbox->id, 1, 0, 0);
	while ((ret = store_message_iter_next(iter, &msg)) > 0) {
		if (dump_body(store, &msg) < 0) {
			rc = 1;
			break;
		}
	}
	if (store_message_iter_deinit(&iter, &error) < 0) {
		fprintf(stderr, "iteration failed: %s\n", error);
		rc = 1;
	}
out:
	fflush(stdout);
	pool_destroy(&pool);
	store_close(&store);
	return rc;
}

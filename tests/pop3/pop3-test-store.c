/* SPDX-License-Identifier: MIT */
/* A small store tool for the POP3 integration tests (not installed):
 *
 *   pop3-test-store DATA_DIR append ADDRESS FILE...   one message per file
 *                                                     into INBOX (LF -> CRLF);
 *                                                     prints "uidvalidity uid"
 *   pop3-test-store DATA_DIR list ADDRESS             "uidvalidity uid size
 *                                                     flags" per INBOX message
 *                                                     (flags: enum store_flags)
 *
 * It works while posthornd runs on the same data directory, like the
 * posthorn admin command. Exit 0 on success, 1 with a message on stderr. */
#include "lib.h"
#include "pool.h"
#include "store.h"

#include <time.h>

static int die(const char *what, const char *error)
{
	fprintf(stderr, "pop3-test-store: %s: %s\n", what, error);
	return 1;
}

static char *read_file(const char *path, size_t *size_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			data = i_realloc(data, cap);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*size_r = len;
	return data;
}

int main(int argc, char **argv)
{
	struct store_settings set;
	struct store *store;
	struct store_account *account;
	struct store_mailbox *mbox;
	struct pool *pool;
	const char *error;
	int ret = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: pop3-test-store DATA_DIR "
				"append|list ADDRESS [FILE...]\n");
		return 1;
	}
	memset(&set, 0, sizeof(set));
	set.data_dir = argv[1];
	if (store_open(&set, &store, &error) < 0)
		return die("store_open", error);
	pool = pool_create("pop3-test-store", 4096);
	if (store_account_lookup(store, argv[3], pool, &account, &error) <= 0) {
		ret = die(argv[3], "no such account");
		goto out;
	}
	if (store_mailbox_lookup(store, account->id, "INBOX", pool, &mbox,
				 &error) <= 0) {
		ret = die("INBOX", "missing");
		goto out;
	}

	if (strcmp(argv[2], "append") == 0) {
		for (int i = 4; i < argc; i++) {
			size_t size;
			char *data = read_file(argv[i], &size);
			if (data == NULL) {
				ret = die(argv[i], strerror(errno));
				break;
			}
			struct store_txn *txn = store_txn_create(store);
			store_txn_append(txn, mbox->id, data, size, time(NULL),
					 0, NULL, STORE_DELIVER_CONVERT_LF);
			enum store_error err = store_txn_commit_wait(txn);
			if (err != STORE_OK) {
				store_txn_error(txn, &error);
				ret = die("append", error);
			} else {
				const struct store_op_result *r =
					store_txn_result(txn, 0);
				printf("%u %u\n", r->uidvalidity, r->uid);
			}
			store_txn_destroy(&txn);
			i_free(data);
			if (ret != 0)
				break;
		}
	} else if (strcmp(argv[2], "list") == 0) {
		struct store_message_iter *iter;
		struct store_message msg;

		iter = store_message_iter_init(store, mbox->id, 1, 0, 0);
		while (store_message_iter_next(iter, &msg) > 0) {
			printf("%u %u %llu %u\n", mbox->uidvalidity, msg.uid,
			       (unsigned long long)msg.size, msg.flags);
		}
		if (store_message_iter_deinit(&iter, &error) < 0)
			ret = die("list", error);
	} else {
		ret = die(argv[2], "unknown command");
	}
out:
	pool_destroy(&pool);
	store_close(&store);
	return ret;
}

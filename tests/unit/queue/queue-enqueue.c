/* SPDX-License-Identifier: MIT */
/* Test helper, not a unit test: puts a message into a data directory's
 * outbound queue through the store API, as the SMTP listener does.
 *
 *   queue-enqueue DATA_DIR SENDER RCPT... < MESSAGE   (LF or CRLF)
 *
 * A RCPT may carry DSN parameters: "addr;NOTIFY=FAILURE,DELAY". */
#include "lib.h"
#include "buf.h"
#include "store.h"

#include <unistd.h>

static unsigned notify_bits(const char *s)
{
	unsigned bits = 0;

	if (strstr(s, "NEVER") != NULL)
		bits |= STORE_DSN_NOTIFY_NEVER;
	if (strstr(s, "SUCCESS") != NULL)
		bits |= STORE_DSN_NOTIFY_SUCCESS;
	if (strstr(s, "FAILURE") != NULL)
		bits |= STORE_DSN_NOTIFY_FAILURE;
	if (strstr(s, "DELAY") != NULL)
		bits |= STORE_DSN_NOTIFY_DELAY;
	return bits;
}

int main(int argc, char **argv)
{
	struct store_settings set = {0};
	struct store *store;
	struct buf data = BUF_INIT;
	const char *error;
	uint8_t chunk[4096];
	ssize_t n;

	if (argc < 4) {
		fprintf(stderr, "usage: queue-enqueue DATA_DIR SENDER RCPT...\n");
		return 2;
	}
	while ((n = read(0, chunk, sizeof(chunk))) > 0)
		buf_append(&data, chunk, (size_t)n);
	set.data_dir = argv[1];
	if (store_open(&set, &store, &error) < 0) {
		fprintf(stderr, "store_open: %s\n", error);
		return 1;
	}
	unsigned count = (unsigned)(argc - 3);
	struct store_queue_rcpt *rcpts = i_new(struct store_queue_rcpt, count);
	for (unsigned i = 0; i < count; i++) {
		char *arg = argv[3 + i];
		char *semi = strchr(arg, ';');
		if (semi != NULL) {
			*semi = '\0';
			rcpts[i].notify = notify_bits(semi + 1);
		}
		rcpts[i].address = arg;
	}
	struct store_queue_envelope env = {.sender = argv[2]};
	struct store_txn *txn = store_txn_create(store);
	unsigned op = store_txn_enqueue(txn, data.data, data.len, &env, rcpts,
					count, STORE_DELIVER_CONVERT_LF);
	enum store_error err = store_txn_commit_wait(txn);
	if (err != STORE_OK) {
		store_txn_error(txn, &error);
		fprintf(stderr, "enqueue: %s\n", error);
	} else {
		printf("%lld\n", (long long)store_txn_result(txn, op)->id);
	}
	store_txn_destroy(&txn);
	store_close(&store);
	i_free(rcpts);
	buf_free(&data);
	return err == STORE_OK ? 0 : 1;
}

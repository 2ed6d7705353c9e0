/* SPDX-License-Identifier: MIT */
/* Durable deliveries per second through the store, fsync on.
 *
 *   store-bench [--dir DIR] [--writers N[,N...]] [--batch B[,B...]]
 *               [--messages M] [--size BYTES] [--accounts A]
 *
 * Each writer is a thread that behaves like one SMTP session: it submits a
 * delivery of a SIZE-byte message and waits for its completion (the 250)
 * before the next one. For every (writers, batch limit) pair it opens a
 * fresh store in DIR, delivers M messages in total, and prints durable
 * messages per second, commits and the mean batch size. A benchmark, not a
 * test: run it on a quiet machine, on the disk the store will use. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "timeutil.h"
#include "store.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

struct bench {
	struct store *store;
	int64_t *accounts;
	unsigned account_count;
	size_t size;
	atomic_uint remaining;
	atomic_uint failures;
};

struct writer {
	struct bench *bench;
	unsigned index;
	pthread_t thread;
};

static void *bench_writer(void *arg)
{
	struct writer *w = arg;
	struct bench *b = w->bench;
	struct buf msg = BUF_INIT, filler = BUF_INIT;
	unsigned n = 0;
	/* The body is made once; each message only gets its own header. */
	while (filler.len + 300 < b->size) {
		for (size_t i = 0; i < 76; i++)
			buf_append_byte(&filler, 'a' + (i + w->index) % 26);
		buf_append(&filler, "\r\n", 2);
	}
	for (;;) {
		unsigned left = atomic_load(&b->remaining);
		do {
			if (left == 0)
				goto out;
		} while (!atomic_compare_exchange_weak(&b->remaining, &left,
						       left - 1));
		buf_reset(&msg);
		buf_printf(
		    &msg,
		    "From: bench@example.org\r\nTo: user@bench.test\r\n"
		    "Subject: bench %u/%u\r\nMessage-ID: <%u.%u@bench>\r\n"
		    "\r\n",
		    w->index, n, w->index, n);
		buf_append(&msg, filler.data, filler.len);
		while (msg.len + 2 < b->size)
			buf_append_byte(&msg, 'z');
		buf_append(&msg, "\r\n", 2);
		struct store_delivery_rcpt rcpt = {
		    .account_id =
			b->accounts[(w->index + n) % b->account_count],
		};
		struct store_txn *txn = store_txn_create(b->store);
		store_txn_deliver(txn, msg.data, msg.len, time(NULL), &rcpt, 1,
				  0);
		if (store_txn_commit_wait(txn) != STORE_OK)
			atomic_fetch_add(&b->failures, 1);
		store_txn_destroy(&txn);
		n++;
	}
out:
	buf_free(&msg);
	buf_free(&filler);
	return NULL;
}

static int rm_cb(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	return remove(path);
}

static void parse_list(const char *s, unsigned *list, unsigned *count)
{
	*count = 0;
	char *copy = i_strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t != NULL && *count < 16;
	     t = strtok_r(NULL, ",", &save))
		list[(*count)++] = (unsigned)strtoul(t, NULL, 10);
	i_free(copy);
}

static void bench_run(const char *base, unsigned writers, unsigned batch,
		      unsigned messages, size_t size, unsigned accounts)
{
	char *dir = i_strdup_printf("%s/store-bench-%u-%u-%d", base, writers,
				    batch, (int)getpid());
	struct store_settings set = {.data_dir = dir, .batch_max = batch};
	struct store *store;
	const char *error;
	if (store_open(&set, &store, &error) < 0)
		i_fatal("store_open: %s", error);
	struct bench b = {
	    .store = store, .size = size, .account_count = accounts};
	b.accounts = i_new(int64_t, accounts);
	if (store_domain_add(store, "bench.test", &error) != STORE_OK)
		i_fatal("domain: %s", error);
	for (unsigned i = 0; i < accounts; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "user%u@bench.test", i + 1);
		if (store_account_add(store, addr, NULL, &b.accounts[i],
				      &error) != STORE_OK)
			i_fatal("account: %s", error);
	}
	struct store_stats before, after;
	store_get_stats(store, &before);
	atomic_init(&b.remaining, messages);
	atomic_init(&b.failures, 0);

	struct writer *ws = i_new(struct writer, writers);
	int64_t start = time_mono_us();
	for (unsigned i = 0; i < writers; i++) {
		ws[i].bench = &b;
		ws[i].index = i;
		if (pthread_create(&ws[i].thread, NULL, bench_writer, &ws[i]) !=
		    0)
			i_fatal("pthread_create");
	}
	for (unsigned i = 0; i < writers; i++)
		pthread_join(ws[i].thread, NULL);
	int64_t usecs = time_mono_us() - start;
	store_get_stats(store, &after);

	uint64_t commits = after.batches - before.batches;
	printf(
	    "%7u %9u %9u %12.0f %9llu %10.1f %8u\n", writers, batch, messages,
	    messages * 1e6 / (double)usecs, (unsigned long long)commits,
	    commits == 0 ? 0.0 : (double)(after.txns - before.txns) / commits,
	    atomic_load(&b.failures));
	fflush(stdout);
	store_close(&store);
	free(ws);
	free(b.accounts);
	(void)nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	i_free(dir);
}

/* The disk's own pace in the same run: appends of size bytes, each
 * followed by fdatasync, on one thread. */
static double bench_fsync_baseline(const char *base, size_t size,
				   unsigned count)
{
	char *path = i_strdup_printf("%s/store-bench-fsync-%d", base,
				     (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		i_fatal("open %s: %s", path, strerror(errno));
	char *data = i_malloc(size);
	int64_t start = time_mono_us();
	for (unsigned i = 0; i < count; i++) {
		if (write(fd, data, size) != (ssize_t)size || fdatasync(fd) < 0)
			i_fatal("write/fdatasync: %s", strerror(errno));
	}
	int64_t usecs = time_mono_us() - start;
	close(fd);
	unlink(path);
	free(data);
	i_free(path);
	return count * 1e6 / (double)usecs;
}

int main(int argc, char **argv)
{
	const char *dir = ".";
	unsigned writers[16] = {1, 20}, writer_count = 2;
	unsigned batches[16] = {1, 8, 64, 256}, batch_count = 4;
	unsigned messages = 5000, accounts = 100;
	size_t size = 4096;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--writers") == 0)
			parse_list(argv[i + 1], writers, &writer_count);
		else if (strcmp(argv[i], "--batch") == 0)
			parse_list(argv[i + 1], batches, &batch_count);
		else if (strcmp(argv[i], "--messages") == 0)
			messages = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--size") == 0)
			size = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--accounts") == 0)
			accounts = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			i_fatal("unknown option %s", argv[i]);
	}
	if (accounts == 0 || size < 200)
		i_fatal("need --accounts >= 1 and --size >= 200");
	printf("# durable %zu-byte deliveries, synchronous=FULL, in %s\n", size,
	       dir);
	printf("# same-run disk baseline: %.0f appends+fdatasync/s\n",
	       bench_fsync_baseline(dir, size, 300));
	printf("%7s %9s %9s %12s %9s %10s %8s\n", "writers", "batch_max",
	       "messages", "msg/s", "commits", "msg/commit", "failed");
	for (unsigned w = 0; w < writer_count; w++) {
		for (unsigned bi = 0; bi < batch_count; bi++)
			bench_run(dir, writers[w], batches[bi], messages, size,
				  accounts);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("# max RSS %ld KB\n", ru.ru_maxrss);
	return 0;
}

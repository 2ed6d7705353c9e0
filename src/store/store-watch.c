/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "store-private.h"

#include <stdatomic.h>

/* A watch is shared between its owner and the events posted for it: the
 * events hold references, so one already posted when the owner destroys
 * the watch finds it cancelled instead of freed. cancelled is only read and
 * written on the owner's thread (events run there too). */
struct store_watch_shared {
	struct store_watch_shared *next; /* in the bucket, under watch_lock */
	atomic_uint refcount;
	bool cancelled;
	struct store *store;
	int64_t mailbox_id;
	struct completion_target target;
	store_watch_callback_t *callback;
	void *ctx;
};

/* The public handle is the shared struct itself. */
struct store_watch {
	struct store_watch_shared shared;
};

struct store_watch_event {
	struct store_watch_shared *watch;
	unsigned count;
	struct store_change *changes; /* keywords copied behind the array */
};

static unsigned store_watch_bucket(int64_t mailbox_id)
{
	return (unsigned)((uint64_t)mailbox_id % STORE_WATCH_BUCKETS);
}

static void store_watch_unref(struct store_watch_shared *w)
{
	if (atomic_fetch_sub(&w->refcount, 1) == 1)
		free(w);
}

struct store_watch *store_watch_create(struct store *store, int64_t mailbox_id,
				       const struct completion_target *target,
				       store_watch_callback_t *callback,
				       void *ctx)
{
	struct store_watch_shared *w = i_new(struct store_watch_shared, 1);
	atomic_init(&w->refcount, 1);
	w->store = store;
	w->mailbox_id = mailbox_id;
	w->target = *target;
	w->callback = callback;
	w->ctx = ctx;

	unsigned b = store_watch_bucket(mailbox_id);
	pthread_mutex_lock(&store->watch_lock);
	w->next = store->watches[b];
	store->watches[b] = w;
	store->watch_count++;
	pthread_mutex_unlock(&store->watch_lock);
	return (struct store_watch *)w;
}

void store_watch_destroy(struct store_watch **_watch)
{
	struct store_watch_shared *w = (struct store_watch_shared *)*_watch;
	if (w == NULL)
		return;
	*_watch = NULL;
	struct store *store = w->store;
	unsigned b = store_watch_bucket(w->mailbox_id);
	pthread_mutex_lock(&store->watch_lock);
	for (struct store_watch_shared **p = &store->watches[b]; *p != NULL;
	     p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	store->watch_count--;
	pthread_mutex_unlock(&store->watch_lock);
	w->cancelled = true;
	store_watch_unref(w);
}

static void store_watch_event_run(void *ctx)
{
	struct store_watch_event *ev = ctx;
	struct store_watch_shared *w = ev->watch;
	if (!w->cancelled)
		w->callback(w->ctx, w->mailbox_id, ev->changes, ev->count);
	store_watch_unref(w);
	free(ev);
}

static void store_watch_post(struct store_watch_shared *w,
			     const struct store_txn_change *const *changes,
			     unsigned count)
{
	size_t size = sizeof(struct store_watch_event) +
		      i_size_mul(count, sizeof(struct store_change));
	for (unsigned i = 0; i < count; i++)
		size =
		    i_size_add(size, strlen(changes[i]->change.keywords) + 1);
	struct store_watch_event *ev = i_malloc(size);
	ev->watch = w;
	ev->count = count;
	ev->changes = (struct store_change *)(ev + 1);
	char *strings = (char *)(ev->changes + count);
	for (unsigned i = 0; i < count; i++) {
		ev->changes[i] = changes[i]->change;
		size_t len = strlen(changes[i]->change.keywords);
		memcpy(strings, changes[i]->change.keywords, len + 1);
		ev->changes[i].keywords = strings;
		strings += len + 1;
	}
	atomic_fetch_add(&w->refcount, 1);
	completion_post(&w->target, store_watch_event_run, ev);
}

void store_watch_dispatch(struct store *store, struct store_txn *const *txns,
			  unsigned count)
{
	unsigned total = 0;
	for (unsigned i = 0; i < count; i++)
		total += txns[i]->change_count;
	if (total == 0)
		return;

	pthread_mutex_lock(&store->watch_lock);
	if (store->watch_count == 0) {
		pthread_mutex_unlock(&store->watch_lock);
		return;
	}
	/* Group the batch's changes by mailbox, keeping commit order, and
	 * post one event per watch of each mailbox. */
	const struct store_txn_change **list =
	    i_new(const struct store_txn_change *, total);
	bool *taken = i_new(bool, total);
	const struct store_txn_change **flat =
	    i_new(const struct store_txn_change *, total);
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		for (unsigned j = 0; j < txns[i]->change_count; j++)
			flat[n++] = &txns[i]->changes[j];
	}
	for (unsigned i = 0; i < total; i++) {
		if (taken[i])
			continue;
		int64_t mailbox_id = flat[i]->mailbox_id;
		unsigned m = 0;
		for (unsigned j = i; j < total; j++) {
			if (!taken[j] && flat[j]->mailbox_id == mailbox_id) {
				taken[j] = true;
				list[m++] = flat[j];
			}
		}
		unsigned b = store_watch_bucket(mailbox_id);
		for (struct store_watch_shared *w = store->watches[b];
		     w != NULL; w = w->next) {
			if (w->mailbox_id == mailbox_id)
				store_watch_post(w, list, m);
		}
	}
	pthread_mutex_unlock(&store->watch_lock);
	free(list);
	free(taken);
	free(flat);
}

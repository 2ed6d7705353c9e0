/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
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
	/* What the watch has been told about, under watch_lock: the base for
	 * re-reading changes made by another process. */
	uint64_t known_modseq;
	uint64_t known_uidnext;
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

	/* Read after registering: a change committed in between is either
	 * in this status or dispatched to the watch, never lost. */
	struct store_mailbox_status st;
	const char *error;
	if (store_mailbox_status(store, mailbox_id, &st, &error) > 0) {
		pthread_mutex_lock(&store->watch_lock);
		if (st.highestmodseq > w->known_modseq)
			w->known_modseq = st.highestmodseq;
		if (st.uidnext > w->known_uidnext)
			w->known_uidnext = st.uidnext;
		pthread_mutex_unlock(&store->watch_lock);
	}
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

/* Posts one event with changes[0..count) to w and records what w now
 * knows. Called with watch_lock held. */
static void store_watch_post(struct store_watch_shared *w,
			     const struct store_change *changes, unsigned count)
{
	size_t size = sizeof(struct store_watch_event) +
		      i_size_mul(count, sizeof(struct store_change));
	for (unsigned i = 0; i < count; i++)
		size = i_size_add(size, strlen(changes[i].keywords) + 1);
	struct store_watch_event *ev = i_malloc(size);
	ev->watch = w;
	ev->count = count;
	ev->changes = (struct store_change *)(ev + 1);
	char *strings = (char *)(ev->changes + count);
	for (unsigned i = 0; i < count; i++) {
		ev->changes[i] = changes[i];
		size_t len = strlen(changes[i].keywords);
		memcpy(strings, changes[i].keywords, len + 1);
		ev->changes[i].keywords = strings;
		strings += len + 1;
		if (changes[i].modseq > w->known_modseq)
			w->known_modseq = changes[i].modseq;
		if (changes[i].type == STORE_CHANGE_NEW &&
		    changes[i].uid >= w->known_uidnext)
			w->known_uidnext = (uint64_t)changes[i].uid + 1;
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
	struct store_change *list = i_new(struct store_change, total);
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
				list[m++] = flat[j]->change;
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

/* The changes to one mailbox since known_modseq, read back from the
 * database: NEW for UIDs from known_uidnext on, FLAGS for older ones,
 * EXPUNGE for vanished ones. */
static int store_watch_read_changes(struct store *store, int64_t mailbox_id,
				    uint64_t known_modseq,
				    uint64_t known_uidnext, struct pool *pool,
				    struct store_change **changes_r,
				    unsigned *count_r)
{
	const char *error;
	struct store_mailbox_status st;
	if (store_mailbox_status(store, mailbox_id, &st, &error) <= 0)
		return -1;
	uint32_t *vanished;
	unsigned vanished_count;
	if (store_mailbox_vanished(store, mailbox_id, known_modseq, pool,
				   &vanished, &vanished_count, &error) < 0)
		return -1;
	unsigned alloc = vanished_count + 16, count = 0;
	struct store_change *changes = i_new(struct store_change, alloc);
	struct store_message_iter *iter =
	    store_message_iter_init(store, mailbox_id, 1, 0, known_modseq);
	struct store_message m;
	while (store_message_iter_next(iter, &m) > 0) {
		if (count == alloc) {
			alloc *= 2;
			changes = i_realloc(
			    changes, i_size_mul(alloc, sizeof(*changes)));
		}
		struct store_change *c = &changes[count++];
		c->type = m.uid >= known_uidnext ? STORE_CHANGE_NEW
						 : STORE_CHANGE_FLAGS;
		c->uid = m.uid;
		c->modseq = m.modseq;
		c->flags = m.flags;
		c->keywords = pool_strdup(pool, m.keywords);
	}
	if (store_message_iter_deinit(&iter, &error) < 0) {
		free(changes);
		return -1;
	}
	if (count + vanished_count > alloc)
		changes = i_realloc(changes, i_size_mul(count + vanished_count,
							sizeof(*changes)));
	for (unsigned i = 0; i < vanished_count; i++) {
		struct store_change *c = &changes[count++];
		memset(c, 0, sizeof(*c));
		c->type = STORE_CHANGE_EXPUNGE;
		c->uid = vanished[i];
		c->modseq = st.highestmodseq;
		c->keywords = "";
	}
	*changes_r = changes;
	*count_r = count;
	return 0;
}

void store_mailbox_notify_external(struct store *store, int64_t mailbox_id)
{
	unsigned b = store_watch_bucket(mailbox_id);
	struct store_watch_shared **watches = NULL;
	unsigned count = 0;
	pthread_mutex_lock(&store->watch_lock);
	for (struct store_watch_shared *w = store->watches[b]; w != NULL;
	     w = w->next) {
		if (w->mailbox_id != mailbox_id)
			continue;
		watches =
		    i_realloc(watches, i_size_mul(count + 1, sizeof(*watches)));
		atomic_fetch_add(&w->refcount, 1);
		watches[count++] = w;
	}
	pthread_mutex_unlock(&store->watch_lock);

	struct pool *pool = pool_create("store notify", 1024);
	for (unsigned i = 0; i < count; i++) {
		struct store_watch_shared *w = watches[i];
		pthread_mutex_lock(&store->watch_lock);
		uint64_t modseq = w->known_modseq, uidnext = w->known_uidnext;
		pthread_mutex_unlock(&store->watch_lock);

		struct store_change *changes;
		unsigned n;
		if (store_watch_read_changes(store, mailbox_id, modseq, uidnext,
					     pool, &changes, &n) == 0) {
			pthread_mutex_lock(&store->watch_lock);
			/* A watch destroyed meanwhile is out of the bucket;
			 * posting to it would be harmless (cancelled), but
			 * pointless. */
			if (n > 0)
				store_watch_post(w, changes, n);
			pthread_mutex_unlock(&store->watch_lock);
			free(changes);
		}
		pool_clear(pool);
		store_watch_unref(w);
	}
	pool_destroy(&pool);
	free(watches);
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_QUEUE_STORE_H
#define POSTHORN_QUEUE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The outbound queue kept in the store (store-first mode of queue.h): the
 * store's queue tables are the truth and survive restarts; the runner
 * loads due recipients from them, and every attempt's outcome is written
 * back through the store's group-committing writer. Submitters (smtpd,
 * submission) enqueue with store_txn_enqueue() in the same transaction as
 * their local deliveries, then wake the runner (queue_kick()).
 *
 * Use:
 *   qs = queue_store_create(store, &loop_target);
 *   queue = queue_create(base, resolver, &set, queue_store_persist(qs));
 *   queue_store_attach(qs, queue);
 *   queue_set_dsn_callback(queue, queue_store_dsn, qs);
 *   ... queue_kick(queue) at start-up and after each enqueue ...
 *   queue_destroy(&queue); queue_store_destroy(&qs);
 *
 * Everything runs on the queue's thread; target must post there. */

struct store;
struct queue;
struct queue_persist;
struct completion_target;

struct queue_store;

struct queue_store *queue_store_create(struct store *store,
				       const struct completion_target *target);
void queue_store_attach(struct queue_store *qs, struct queue *queue);
/* The persistence table to give queue_create(); lives as long as qs. */
const struct queue_persist *queue_store_persist(struct queue_store *qs);
/* Detaches from the queue; frees now, or when the last commit in flight
 * completes. Sets *qs to NULL. */
void queue_store_destroy(struct queue_store **qs);

/* A queue_dsn_callback_t: a DSN for a local sender is delivered to its
 * INBOX (aliases resolved like SMTP RCPT), any other goes back into the
 * store's queue from the null sender <>. ctx is the queue_store. */
void queue_store_dsn(void *ctx, const char *to, const uint8_t *data,
		     size_t size);

/* Transactions committed and not yet completed (tests, shutdown). */
unsigned queue_store_pending(const struct queue_store *qs);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_QUEUE_H
#define POSTHORN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smtp-client.h"
#include "queue-dsn.h"

/* The outbound queue: messages waiting for remote delivery, with state per
 * recipient. A runner on one event loop (no thread per message) picks the
 * recipients that are due, groups each message's recipients by destination
 * domain into one SMTP session per domain (MX lookup through queue-mx.h,
 * every address of every MX tried in turn), and records each recipient's
 * result: delivered, failed (5xx: a DSN to the sender) or deferred (4xx or
 * no host reachable: retried with exponential backoff until the give-up
 * time, then failed). A delay DSN goes out once after delay_notify_s.
 *
 * Threads: every function runs on the thread of the event_base given to
 * queue_create(); other threads post to it (net_loop_post). */

struct event_base;
struct dns_resolver;
struct queue;

struct queue_settings {
	/* EHLO name, Reporting-MTA and MAILER-DAEMON domain. Required. */
	const char *hostname;
	/* [outbound] mx_port and source. */
	unsigned mx_port;          /* 0 = 25 */
	const char *source_ip;     /* NULL/"" = the kernel's choice */
	/* Backoff: first retry after retry_initial_s, doubling each time,
	 * never more than retry_max_s apart; a recipient still deferred
	 * give_up_s after arrival fails. 0 = the defaults: 300 s, 4 h,
	 * 5 days. delay_notify_s: a delay DSN after this long (0 = 4 h;
	 * set no_delay_notify to never send one). */
	unsigned retry_initial_s;
	unsigned retry_max_s;
	unsigned give_up_s;
	unsigned delay_notify_s;
	bool no_delay_notify;
	/* Concurrent SMTP sessions; 0 = 20. */
	unsigned max_sessions;
	/* Smarthost: every message goes to this host (name or numeric
	 * address; no MX lookup) on relay_port, instead of the recipients'
	 * MX hosts. NULL/"" = deliver by MX. Credentials and TLS policy are
	 * in client (auth_user, auth_password, require_tls). */
	const char *relay_host;
	unsigned relay_port;       /* 0 = 25 */
	/* Client engine settings (timeouts, TLS context). helo_name is set
	 * from hostname when NULL. */
	struct smtp_client_settings client;
};

struct queue_rcpt_in {
	const char *address;
	const char *notify;   /* RFC 3461 NOTIFY as received, or NULL */
	const char *orcpt;    /* "type;decoded address" or NULL */
};

struct queue_message_in {
	const char *mail_from; /* "" = null sender (a bounce) */
	const char *envid;     /* or NULL */
	enum queue_dsn_ret ret;
	const struct queue_rcpt_in *rcpts;
	unsigned rcpt_count;
	const uint8_t *data;   /* CRLF; copied */
	size_t size;
	bool eightbit;
	time_t arrival;        /* 0 = now */
};

/* Recipient states, as persisted and listed. */
enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,
	QUEUE_RCPT_DELIVERED,
	QUEUE_RCPT_FAILED,
};

struct queue_rcpt_info {
	const char *address;
	const char *notify, *orcpt;
	enum queue_rcpt_state state;
	unsigned attempts;
	time_t next_attempt;
	/* When the last attempt was made (0 = none yet; the store keeps
	 * it): a delay DSN goes out on the first attempt that ends past
	 * delay_notify_s, so the notice is sent once without a flag to
	 * persist. queue_restore() estimates it from next_attempt and the
	 * backoff when it is 0 and attempts > 0 (queues stored before the
	 * store recorded it). */
	time_t last_attempt;
	/* A delay DSN was sent (by this attempt or an earlier one). */
	bool delay_notified;
	/* The backend's own id (the store's recipient id); 0 = none. */
	int64_t backend_id;
	/* Changed by the attempt that just ended: persist it. */
	bool dirty;
	/* Last result: RFC 3463 code, reply code (0 = none), text, host. */
	const char *status;
	unsigned code;
	const char *text;
	const char *remote_mta;
};

struct queue_message_info {
	uint64_t id;
	const char *mail_from;
	const char *envid;
	enum queue_dsn_ret ret;
	time_t arrival;
	bool eightbit;
	const uint8_t *data;
	size_t size;
	const struct queue_rcpt_info *rcpts;
	unsigned rcpt_count;
};

/* Persistence. All members are optional and are called on the queue's
 * thread; none may block it (hand writes to the store's writer).
 *
 * Memory-first (load_due NULL): the queue holds every message; save()
 * gets the whole message state after each change (is_new on submit),
 * remove() once every recipient is final.
 *
 * Store-first (load_due set; see queue-store.h): the backend is the
 * queue's truth and the queue holds only messages being attempted.
 * queue_submit() hands the message to enqueue() (the backend wakes the
 * queue once it is durable); each run asks load_due() to queue_restore()
 * the due recipients (now 0 = every pending one, for a flush) of messages
 * not in memory, at most max messages; save() then gets the message after
 * an attempt (rcpts[i].dirty marks the recipients to write) and the queue
 * forgets it; next_due() says when to look again. */
struct queue;
struct queue_persist {
	void (*save)(void *ctx, const struct queue_message_info *msg,
		     bool is_new);
	void (*remove)(void *ctx, uint64_t id);
	void (*load_due)(void *ctx, struct queue *queue, time_t now,
			 unsigned max);
	void (*enqueue)(void *ctx, const struct queue_message_in *msg);
	/* 1 and *when_r, 0 when nothing is pending. */
	int (*next_due)(void *ctx, time_t *when_r);
	void *ctx;
};

/* Where a DSN goes: the daemon delivers it locally when `to` is local, or
 * submits it back to the queue with the null sender. NULL = the queue
 * submits every DSN to itself. data lives during the call only. */
typedef void queue_dsn_callback_t(void *ctx, const char *to,
				  const uint8_t *data, size_t size);

struct queue *queue_create(struct event_base *base,
			   struct dns_resolver *resolver,
			   const struct queue_settings *set,
			   const struct queue_persist *persist);
/* Aborts running sessions (their recipients stay pending) and frees
 * everything; sets *queue to NULL. */
void queue_destroy(struct queue **queue);

void queue_set_dsn_callback(struct queue *queue, queue_dsn_callback_t *cb,
			    void *ctx);

/* Adds a message (every recipient pending, due now) and wakes the
 * runner. Returns its id (> 0). Persisted through persist->save. In
 * store-first mode the message goes to persist->enqueue and 0 is
 * returned. */
uint64_t queue_submit(struct queue *queue, const struct queue_message_in *msg);
/* Puts back a message read from persistence, as saved (ids are kept; new
 * ids continue above the highest); rcpts may be a subset of the message's
 * recipients (the due ones). Not saved again. Ignored, returning 0, when
 * a message with that id is already in memory; 1 otherwise. */
int queue_restore(struct queue *queue, const struct queue_message_info *msg);

/* Makes every pending recipient due now and runs (flush, `queue-wake`).
 * Store-first: the next run loads every pending recipient. */
void queue_wake(struct queue *queue);
/* Runs the runner soon for what is due (new submissions): no flush. */
void queue_kick(struct queue *queue);
/* Same as queue_wake for one message in memory; 0 if there is none. */
int queue_retry(struct queue *queue, uint64_t id);
/* Drops a message without DSN; 0 if none. */
int queue_delete(struct queue *queue, uint64_t id);

/* Messages in memory, and one of them (for tests; store-first, the admin
 * listing reads the store); the info lives until the next queue call. */
unsigned queue_count(const struct queue *queue);
int queue_lookup(struct queue *queue, uint64_t id,
		 struct queue_message_info *info_r);
/* SMTP sessions and MX lookups in flight. */
unsigned queue_active_sessions(const struct queue *queue);

/* The delay before retry number `attempts` (1 = after the first failed
 * attempt): initial * 2^(attempts-1), capped at max. */
unsigned queue_backoff_delay(unsigned attempts, unsigned initial_s,
			     unsigned max_s);

#endif

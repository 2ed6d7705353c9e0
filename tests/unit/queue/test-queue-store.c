/* SPDX-License-Identifier: MIT */
#include "../store/store-test.h"
#include "buf.h"
#include "pool.h"
#include "timeutil.h"
#include "dns.h"
#include "queue.h"
#include "queue-store.h"
#include "fake-smtp-server.h"

#include <event2/event.h>
#include <event2/thread.h>

/* The queue kept in a real store: enqueued as smtpd would, delivered by
 * the runner against a scripted server, bounces into the sender's INBOX,
 * and a deferred recipient survives a restart of the queue. */

static const char zone_text[] = "remote.test. MX 10 mx.remote.test.\n"
				"mx.remote.test. A 127.0.0.1\n";
static const char message[] =
	"From: alice@example.com\r\nTo: bob@remote.test\r\nSubject: s\r\n"
	"\r\nhello\r\n";

/* A completion target that runs posted functions on the event loop. */
struct ev_target_item {
	void (*fn)(void *);
	void *ctx;
	struct ev_target_item *next;
};
struct ev_target {
	pthread_mutex_t lock;
	struct ev_target_item *head, *tail;
	struct event *ev;
};

static void ev_target_post(void *owner, void (*fn)(void *), void *ctx)
{
	struct ev_target *t = owner;
	struct ev_target_item *item = i_new(struct ev_target_item, 1);

	item->fn = fn;
	item->ctx = ctx;
	pthread_mutex_lock(&t->lock);
	if (t->tail != NULL)
		t->tail->next = item;
	else
		t->head = item;
	t->tail = item;
	pthread_mutex_unlock(&t->lock);
	event_active(t->ev, EV_READ, 0);
}

static void ev_target_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			 void *ctx)
{
	struct ev_target *t = ctx;
	struct ev_target_item *list;

	pthread_mutex_lock(&t->lock);
	list = t->head;
	t->head = t->tail = NULL;
	pthread_mutex_unlock(&t->lock);
	while (list != NULL) {
		struct ev_target_item *next = list->next;
		list->fn(list->ctx);
		i_free(list);
		list = next;
	}
}

struct fx {
	char *dir;
	struct store *store;
	int64_t alice, bob;
	struct event_base *base;
	struct event *tick;
	struct ev_target target;
	struct completion_target ct;
	struct dns_zone zone;
	struct dns_resolver *resolver;
	struct queue_store *qs;
	struct queue *queue;
	unsigned port;
};

static void tick_cb(evutil_socket_t fd UNUSED, short what UNUSED,
		    void *ctx UNUSED)
{
}

static void fx_queue_start(struct fx *f)
{
	struct queue_settings set = {
		.hostname = "mx.example.com",
		.mx_port = f->port,
		.source_ip = "127.0.0.1",
		.client = {.greeting_timeout_ms = 2000,
			   .connect_timeout_ms = 2000,
			   .quit_timeout_ms = 1000},
	};

	f->qs = queue_store_create(f->store, &f->ct);
	f->queue = queue_create(f->base, f->resolver, &set,
				queue_store_persist(f->qs));
	queue_store_attach(f->qs, f->queue);
	queue_set_dsn_callback(f->queue, queue_store_dsn, f->qs);
}

static void fx_queue_stop(struct fx *f)
{
	queue_destroy(&f->queue);
	queue_store_destroy(&f->qs);
}

static void fx_start(struct fx *f, unsigned port)
{
	char *errors = NULL;
	const char *error;

	evthread_use_pthreads();
	f->dir = test_tmpdir();
	f->store = test_store_open(f->dir, NULL);
	test_store_fixture(f->store, &f->alice, &f->bob);
	f->base = event_base_new();
	f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 50 * 1000};
	event_add(f->tick, &tv);
	pthread_mutex_init(&f->target.lock, NULL);
	f->target.ev = event_new(f->base, -1, 0, ev_target_cb, &f->target);
	f->ct = (struct completion_target){ev_target_post, &f->target};
	assert_int_equal(dns_zone_parse(zone_text, "zone", 10, &f->zone,
					&errors), 0);
	struct dns_resolver_settings dset = {.static_zone = &f->zone};
	f->resolver = dns_resolver_create(f->base, &dset, &error);
	assert_non_null(f->resolver);
	f->port = port;
	fx_queue_start(f);
}

static void fx_stop(struct fx *f)
{
	fx_queue_stop(f);
	/* Completions still posted by the store run before the loop goes. */
	store_close(&f->store);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	dns_resolver_destroy(&f->resolver);
	event_free(f->target.ev);
	event_free(f->tick);
	event_base_free(f->base);
	dns_zone_free(&f->zone);
	pthread_mutex_destroy(&f->target.lock);
	test_tmpdir_remove(&f->dir);
}

static unsigned store_pending_rcpts(struct fx *f)
{
	struct pool *pool = pool_create("t", 1024);
	struct store_queue_item *items;
	unsigned count;
	const char *error;

	assert_int_equal(store_queue_due(f->store, 0, 0, pool, &items, &count,
					 &error), 1);
	pool_destroy(&pool);
	return count;
}

/* Runs until nothing is in flight (sessions and store commits) and the
 * store holds expect_pending recipients; at most 5 s. */
static void run_idle(struct fx *f, unsigned expect_pending)
{
	int64_t deadline = time_mono_ms() + 5000;

	do {
		event_base_loop(f->base, EVLOOP_ONCE);
	} while ((queue_active_sessions(f->queue) > 0 ||
		  queue_store_pending(f->qs) > 0 ||
		  store_pending_rcpts(f) != expect_pending) &&
		 time_mono_ms() < deadline);
	assert_int_equal(queue_active_sessions(f->queue), 0);
	assert_int_equal(queue_store_pending(f->qs), 0);
	assert_int_equal(store_pending_rcpts(f), expect_pending);
}

static void enqueue(struct fx *f, const struct store_queue_rcpt *rcpts,
		    unsigned count)
{
	struct store_queue_envelope env = {.sender = "alice@example.com",
					   .envid = "E1",
					   .account_id = f->alice};
	struct store_txn *txn = store_txn_create(f->store);

	store_txn_enqueue(txn, message, strlen(message), &env, rcpts, count,
			  0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
}

static unsigned inbox_count(struct fx *f, int64_t account)
{
	struct store_mailbox_status st;
	const char *error;

	assert_int_equal(store_mailbox_status(
				 f->store, test_mailbox_id(f->store, account,
							   "INBOX"),
				 &st, &error),
			 1);
	return st.messages;
}

static void test_deliver_and_bounce_to_inbox(void **state)
{
	struct fake_smtp_server srv = {
		.rcpt_replies = {NULL, "550 5.1.1 unknown user\r\n"}};
	struct store_queue_rcpt rcpts[] = {
		{.address = "bob@remote.test"},
		{.address = "nobody@remote.test",
		 .orcpt = "rfc822;nobody@remote.test",
		 .notify = STORE_DSN_NOTIFY_FAILURE},
	};
	struct fx f = {0};

	fake_smtp_server_start(&srv);
	fx_start(&f, srv.port);
	enqueue(&f, rcpts, 2);
	queue_kick(f.queue);
	run_idle(&f, 0);
	/* The bounce is in alice's INBOX. */
	assert_int_equal(inbox_count(&f, f.alice), 1);
	struct store_message_info info;
	struct pool *pool = pool_create("t", 1024);
	const char *error;
	int64_t inbox = test_mailbox_id(f.store, f.alice, "INBOX");
	assert_int_equal(store_message_get(f.store, inbox, 1, pool, &info,
					   &error),
			 1);
	struct store_body *body;
	char data[8192];
	assert_int_equal(store_body_open(f.store, info.msg.body_id, &body,
					 &error),
			 1);
	ssize_t n = store_body_read(body, 0, data, sizeof(data) - 1, &error);
	assert_true(n > 0);
	data[n] = '\0';
	store_body_close(&body);
	pool_destroy(&pool);
	assert_int_equal(strncmp(data, "Return-Path: <>\r\n", 17), 0);
	assert_non_null(strstr(data, "Original-Envelope-Id: E1\r\n"));
	assert_non_null(strstr(data, "Final-Recipient: rfc822;nobody@remote.test\r\n"));
	assert_non_null(strstr(data, "Status: 5.1.1\r\n"));
	assert_null(strstr(data, "Final-Recipient: rfc822;bob@remote.test"));
	fx_stop(&f);
	fake_smtp_server_stop(&srv);
	assert_string_equal(buf_cstr(&srv.body), message);
	fake_smtp_server_free(&srv);
}

static void test_deferred_survives_restart(void **state)
{
	struct fake_smtp_server srv = {
		.sessions = 2,
		.rcpt_replies = {"451 4.7.1 greylisted\r\n"}};
	struct store_queue_rcpt rcpt = {.address = "bob@remote.test"};
	struct fx f = {0};
	struct pool *pool = pool_create("t", 1024);
	struct store_queue_item *items;
	unsigned count;
	const char *error;

	fake_smtp_server_start(&srv);
	fx_start(&f, srv.port);
	enqueue(&f, &rcpt, 1);
	queue_kick(f.queue);
	/* Deferred: still pending, one attempt, due in 5 minutes. */
	int64_t deadline = time_mono_ms() + 5000;
	do {
		event_base_loop(f.base, EVLOOP_ONCE);
		assert_int_equal(store_queue_due(f.store, 0, 0, pool, &items,
						 &count, &error),
				 1);
	} while ((count != 1 || items[0].attempts != 1 ||
		  queue_store_pending(f.qs) > 0) &&
		 time_mono_ms() < deadline);
	assert_int_equal(items[0].attempts, 1);
	assert_true(items[0].next_attempt >= time(NULL) + 290);
	assert_non_null(strstr(items[0].last_error, "451 4.7.1 greylisted"));
	assert_int_equal(queue_count(f.queue), 0); /* forgotten in memory */

	/* "Restart": a new queue on the same store; a flush delivers. */
	fx_queue_stop(&f);
	fx_queue_start(&f);
	queue_kick(f.queue);
	run_idle(&f, 1); /* not due yet: nothing happens */
	queue_wake(f.queue);
	run_idle(&f, 0);
	assert_int_equal(inbox_count(&f, f.alice), 0);
	fx_stop(&f);
	pool_destroy(&pool);
	fake_smtp_server_stop(&srv);
	assert_int_equal(srv.sessions_served, 2);
	assert_string_equal(buf_cstr(&srv.body), message);
	fake_smtp_server_free(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_and_bounce_to_inbox),
		cmocka_unit_test(test_deferred_survives_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

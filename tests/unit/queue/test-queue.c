/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "timeutil.h"
#include "dns.h"
#include "queue.h"
#include "fake-smtp-server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <openssl/ssl.h>

/* The queue runner end to end on one event loop: static zone, a scripted
 * SMTP server on loopback, DSNs captured through the DSN callback,
 * persistence through a recording backend. */

static const char zone_text[] =
	"b.test.          MX 10 mx.b.test.\n"
	"mx.b.test.       A 127.0.0.1\n"
	"two.test.        MX 10 dead.two.test.\n"
	"two.test.        MX 20 live.two.test.\n"
	"dead.two.test.   A 127.0.0.2\n"
	"live.two.test.   A 127.0.0.1\n"
	"null.test.       MX 0 .\n";

static const char message[] =
	"From: alice@a.test\r\nTo: bob@b.test\r\nSubject: q\r\n\r\nhello\r\n";

struct fx {
	struct event_base *base;
	struct event *tick;
	struct dns_zone zone;
	struct dns_resolver *resolver;
	struct queue *queue;
	struct fake_smtp_server srv;
	unsigned saves, removes, dsn_count;
	char dsn_to[128];
	struct buf dsn;
	void *client_ssl_ctx;
	const char *relay_host, *auth_user;
};

static void tick_cb(evutil_socket_t fd UNUSED, short what UNUSED,
		    void *ctx UNUSED)
{
}

static void persist_save(void *ctx, const struct queue_message_info *msg,
			 bool is_new)
{
	struct fx *f = ctx;
	assert_true(msg->id > 0);
	f->saves++;
	(void)is_new;
}

static void persist_remove(void *ctx, uint64_t id)
{
	struct fx *f = ctx;
	assert_true(id > 0);
	f->removes++;
}

static void on_dsn(void *ctx, const char *to, const uint8_t *data, size_t size)
{
	struct fx *f = ctx;

	f->dsn_count++;
	snprintf(f->dsn_to, sizeof(f->dsn_to), "%s", to);
	buf_append(&f->dsn, data, size);
}

/* A port nothing listens on: bound and closed again. */
static unsigned free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void fx_start(struct fx *f, unsigned port_override)
{
	char *errors = NULL;
	const char *error;

	f->base = event_base_new();
	f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 50 * 1000};
	event_add(f->tick, &tv);
	assert_int_equal(dns_zone_parse(zone_text, "zone", 100, &f->zone,
					&errors), 0);
	struct dns_resolver_settings dset = {.static_zone = &f->zone,
					     .timeout_ms = 2000};
	f->resolver = dns_resolver_create(f->base, &dset, &error);
	assert_non_null(f->resolver);
	struct queue_settings set = {
		.hostname = "mx.a.test",
		.mx_port = port_override != 0 ? port_override : f->srv.port,
		.source_ip = "127.0.0.1",
		.relay_host = f->relay_host,
		.relay_port = f->srv.port,
		.client = {.ssl_ctx = f->client_ssl_ctx,
			   .auth_user = f->auth_user,
			   .auth_password = "secret",
			   .auth_plaintext_ok = true,
			   .greeting_timeout_ms = 2000,
			   .connect_timeout_ms = 2000,
			   .mail_timeout_ms = 2000,
			   .rcpt_timeout_ms = 2000,
			   .data_init_timeout_ms = 2000,
			   .data_block_timeout_ms = 2000,
			   .data_final_timeout_ms = 2000,
			   .quit_timeout_ms = 1000},
	};
	struct queue_persist persist = {.save = persist_save,
				       .remove = persist_remove,
				       .ctx = f};
	f->queue = queue_create(f->base, f->resolver, &set, &persist);
	queue_set_dsn_callback(f->queue, on_dsn, f);
}

static void fx_stop(struct fx *f, bool server)
{
	queue_destroy(&f->queue);
	dns_resolver_destroy(&f->resolver);
	event_free(f->tick);
	event_base_free(f->base);
	dns_zone_free(&f->zone);
	if (server)
		fake_smtp_server_stop(&f->srv);
	buf_free(&f->dsn);
}

/* Runs the loop until the queue is idle: nothing in flight and nothing
 * due. At most 5 s, so a bug fails instead of hanging. */
static void run_idle(struct fx *f, unsigned expect_count)
{
	int64_t deadline = time_mono_ms() + 5000;

	do {
		event_base_loop(f->base, EVLOOP_ONCE);
	} while ((queue_active_sessions(f->queue) > 0 ||
		  queue_count(f->queue) != expect_count) &&
		 time_mono_ms() < deadline);
	/* One more pass for posted follow-ups. */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(queue_active_sessions(f->queue), 0);
	assert_int_equal(queue_count(f->queue), expect_count);
}

static uint64_t submit(struct fx *f, const char *from,
		       const struct queue_rcpt_in *rcpts, unsigned count,
		       time_t arrival)
{
	struct queue_message_in in = {
		.mail_from = from,
		.rcpts = rcpts,
		.rcpt_count = count,
		.data = (const uint8_t *)message,
		.size = sizeof(message) - 1,
		.arrival = arrival,
	};
	return queue_submit(f->queue, &in);
}

static void test_deliver_and_bounce(void **state)
{
	/* Two recipients in one session: one delivered, one refused. */
	struct fx f = {.srv = {.rcpt_replies = {NULL,
						"550 5.1.1 no such user\r\n"}}};
	struct queue_rcpt_in rcpts[] = {{.address = "bob@b.test"},
					{.address = "nobody@b.test",
					 .orcpt = "rfc822;nobody@b.test"}};

	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	assert_true(submit(&f, "alice@a.test", rcpts, 2, 0) > 0);
	run_idle(&f, 0);
	assert_int_equal(f.removes, 1);
	assert_true(f.saves >= 1);
	assert_int_equal(f.dsn_count, 1);
	assert_string_equal(f.dsn_to, "alice@a.test");
	const char *dsn = buf_cstr(&f.dsn);
	assert_non_null(strstr(dsn, "Final-Recipient: rfc822;nobody@b.test\r\n"));
	assert_non_null(strstr(dsn, "Action: failed\r\n"));
	assert_non_null(strstr(dsn, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(dsn, "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	assert_non_null(strstr(dsn, "Remote-MTA: dns; fake.test (127.0.0.1:"));
	assert_null(strstr(dsn, "bob@b.test\r\nAction"));
	fx_stop(&f, true);
	assert_int_equal(f.srv.sessions_served, 1);
	assert_int_equal(f.srv.rcpt_count, 2);
	assert_string_equal(buf_cstr(&f.srv.body), message);
	fake_smtp_server_free(&f.srv);
}

static void test_tempfail_then_wake(void **state)
{
	struct fx f = {.srv = {.sessions = 2,
			       .rcpt_replies = {"451 4.3.0 try later\r\n"}}};
	struct queue_rcpt_in rcpt = {.address = "bob@b.test"};
	struct queue_message_info info;

	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	uint64_t id = submit(&f, "alice@a.test", &rcpt, 1, 0);
	time_t before = time(NULL);
	run_idle(&f, 1);
	assert_int_equal(queue_lookup(f.queue, id, &info), 1);
	assert_int_equal(info.rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(info.rcpts[0].attempts, 1);
	assert_int_equal(info.rcpts[0].code, 451);
	assert_string_equal(info.rcpts[0].status, "4.3.0");
	/* The default first retry is 5 minutes out. */
	assert_true(info.rcpts[0].next_attempt >= before + 300);
	assert_true(info.rcpts[0].next_attempt <= time(NULL) + 300);
	assert_int_equal(f.dsn_count, 0);

	/* queue-wake: due now, and the server takes it this time. */
	queue_wake(f.queue);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 0);
	assert_int_equal(f.removes, 1);
	fx_stop(&f, true);
	assert_int_equal(f.srv.sessions_served, 2);
	assert_string_equal(buf_cstr(&f.srv.body), message);
	fake_smtp_server_free(&f.srv);
}

static void test_next_mx_after_refusal(void **state)
{
	/* two.test's first MX (127.0.0.2) refuses; the second delivers. */
	struct fx f = {0};
	struct queue_rcpt_in rcpt = {.address = "x@two.test"};

	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	submit(&f, "alice@a.test", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 0);
	fx_stop(&f, true);
	assert_int_equal(f.srv.sessions_served, 1);
	assert_true(f.srv.quit_seen);
	fake_smtp_server_free(&f.srv);
}

static void test_starttls_failure_falls_back(void **state)
{
	/* The peer offers STARTTLS but its handshake fails: the same host
	 * gets the message in plaintext right away, not a retry later. */
	struct fx f = {.srv = {.sessions = 2,
			       .starttls_garbage = true,
			       .ehlo = "250-fake.test\r\n250 STARTTLS\r\n"}};
	struct queue_rcpt_in rcpt = {.address = "bob@b.test"};
	const char *error;

	fake_smtp_server_start(&f.srv);
	f.client_ssl_ctx = smtp_client_ssl_ctx_create(&error);
	fx_start(&f, 0);
	submit(&f, "alice@a.test", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 0);
	fx_stop(&f, true);
	assert_int_equal(f.srv.sessions_served, 2);
	assert_string_equal(buf_cstr(&f.srv.body), message);
	SSL_CTX_free(f.client_ssl_ctx);
	fake_smtp_server_free(&f.srv);
}

static void test_success_notify(void **state)
{
	/* NOTIFY=SUCCESS: a peer without DSN gets the message and the
	 * sender a "relayed" report (RFC 3461 section 5.2.2); a peer with
	 * DSN gets NOTIFY passed on and reports itself. */
	struct fx f = {0};
	struct queue_rcpt_in rcpt = {.address = "bob@b.test",
				     .notify = "SUCCESS"};

	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	submit(&f, "alice@a.test", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 1);
	assert_non_null(strstr(buf_cstr(&f.dsn), "Action: relayed\r\n"));
	assert_non_null(strstr(buf_cstr(&f.dsn), "Status: 2.0.0\r\n"));
	fx_stop(&f, true);
	fake_smtp_server_free(&f.srv);

	struct fx g = {.srv = {.ehlo = "250-fake.test\r\n250 DSN\r\n"}};
	fake_smtp_server_start(&g.srv);
	fx_start(&g, 0);
	submit(&g, "alice@a.test", &rcpt, 1, 0);
	run_idle(&g, 0);
	assert_int_equal(g.dsn_count, 0);
	fx_stop(&g, true);
	assert_non_null(strstr(buf_cstr(&g.srv.transcript),
			       "RCPT TO:<bob@b.test> NOTIFY=SUCCESS\n"));
	fake_smtp_server_free(&g.srv);
}

static void test_smarthost(void **state)
{
	/* Everything goes through the relay, whatever the domain (none of
	 * these has MX records), after AUTH. */
	struct fx f = {.srv = {.ehlo = "250-relay.test\r\n250 AUTH PLAIN\r\n",
			       .sessions = 2},
		       .relay_host = "mx.b.test",
		       .auth_user = "relayuser"};
	struct queue_rcpt_in rcpts[] = {{.address = "x@nowhere.example"},
					{.address = "y@null.test"}};

	fake_smtp_server_start(&f.srv);
	fx_start(&f, free_port()); /* the MX port must not matter */
	submit(&f, "alice@a.test", rcpts, 2, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 0);
	fx_stop(&f, true);
	/* One session per destination domain, both to the relay. */
	assert_int_equal(f.srv.sessions_served, 2);
	assert_non_null(strstr(buf_cstr(&f.srv.transcript),
			       "AUTH PLAIN AHJlbGF5dXNlcgBzZWNyZXQ=\n"));
	assert_non_null(strstr(buf_cstr(&f.srv.transcript),
			       "RCPT TO:<x@nowhere.example>\n"));
	assert_non_null(strstr(buf_cstr(&f.srv.transcript),
			       "RCPT TO:<y@null.test>\n"));
	fake_smtp_server_free(&f.srv);
}

static void test_many_recipients(void **state)
{
	/* 150 recipients in one domain: two transactions of at most 100. */
	struct fx f = {.srv = {.sessions = 2}};
	struct queue_rcpt_in rcpts[150];
	char names[150][32];

	for (unsigned i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "u%u@b.test", i);
		rcpts[i] = (struct queue_rcpt_in){.address = names[i]};
	}
	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	submit(&f, "alice@a.test", rcpts, 150, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 0);
	fx_stop(&f, true);
	assert_int_equal(f.srv.sessions_served, 2);
	assert_int_equal(f.srv.rcpt_count, 150);
	fake_smtp_server_free(&f.srv);
}

static void test_null_mx_and_null_sender(void **state)
{
	struct fx f = {0};
	struct queue_rcpt_in rcpt = {.address = "x@null.test"};

	fx_start(&f, free_port()); /* no server: nothing may connect */
	submit(&f, "alice@a.test", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 1);
	assert_non_null(strstr(buf_cstr(&f.dsn), "Status: 5.1.10\r\n"));
	assert_null(strstr(buf_cstr(&f.dsn), "Diagnostic-Code"));

	/* A bounce that bounces is dropped, never bounced again. */
	submit(&f, "", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 1);

	/* NOTIFY=NEVER: no DSN either. */
	rcpt.notify = "NEVER";
	submit(&f, "alice@a.test", &rcpt, 1, 0);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 1);
	fx_stop(&f, false);
}

static void test_delay_and_give_up(void **state)
{
	/* Nothing listens on the port: connection refused is a 4xx. */
	struct fx f = {0};
	struct queue_rcpt_in rcpt = {.address = "bob@b.test"};
	struct queue_message_info info;
	time_t now = time(NULL);

	fx_start(&f, free_port());
	/* Queued 5 hours ago: still trying, so a delay notice (once). */
	uint64_t id = submit(&f, "alice@a.test", &rcpt, 1, now - 5 * 3600);
	run_idle(&f, 1);
	assert_int_equal(f.dsn_count, 1);
	assert_non_null(strstr(buf_cstr(&f.dsn), "Action: delayed\r\n"));
	assert_non_null(strstr(buf_cstr(&f.dsn), "Will-Retry-Until: "));
	assert_int_equal(queue_lookup(f.queue, id, &info), 1);
	assert_true(info.rcpts[0].delay_notified);
	queue_wake(f.queue);
	run_idle(&f, 1);
	assert_int_equal(f.dsn_count, 1);
	assert_int_equal(queue_delete(f.queue, id), 1);
	assert_int_equal(queue_count(f.queue), 0);

	/* Queued 6 days ago: past the 5-day limit, it fails. */
	buf_reset(&f.dsn);
	submit(&f, "alice@a.test", &rcpt, 1, now - 6 * 86400);
	run_idle(&f, 0);
	assert_int_equal(f.dsn_count, 2);
	assert_non_null(strstr(buf_cstr(&f.dsn), "Action: failed\r\n"));
	assert_non_null(strstr(buf_cstr(&f.dsn), "Status: 4.4.1\r\n"));
	fx_stop(&f, false);
}

static void test_restore(void **state)
{
	/* A message read back from persistence keeps its id and state and
	 * is delivered. */
	struct fx f = {0};
	struct queue_rcpt_info rinfo = {.address = "bob@b.test",
					.state = QUEUE_RCPT_PENDING,
					.attempts = 3,
					.next_attempt = time(NULL)};
	struct queue_message_info info = {
		.id = 42,
		.mail_from = "alice@a.test",
		.arrival = time(NULL),
		.data = (const uint8_t *)message,
		.size = sizeof(message) - 1,
		.rcpts = &rinfo,
		.rcpt_count = 1,
	};

	fake_smtp_server_start(&f.srv);
	fx_start(&f, 0);
	queue_restore(f.queue, &info);
	struct queue_rcpt_in rcpt = {.address = "bob@b.test"};
	/* New ids continue above restored ones. */
	assert_int_equal(submit(&f, "", &rcpt, 1, 0), 43);
	assert_int_equal(queue_delete(f.queue, 43), 1);
	assert_int_equal(f.saves, 1); /* restore does not save */
	run_idle(&f, 0);
	assert_int_equal(f.removes, 2);
	fx_stop(&f, true);
	assert_string_equal(buf_cstr(&f.srv.body), message);
	fake_smtp_server_free(&f.srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_and_bounce),
		cmocka_unit_test(test_tempfail_then_wake),
		cmocka_unit_test(test_next_mx_after_refusal),
		cmocka_unit_test(test_starttls_failure_falls_back),
		cmocka_unit_test(test_success_notify),
		cmocka_unit_test(test_smarthost),
		cmocka_unit_test(test_many_recipients),
		cmocka_unit_test(test_null_mx_and_null_sender),
		cmocka_unit_test(test_delay_and_give_up),
		cmocka_unit_test(test_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "smtp-client.h"
#include "fake-smtp-server.h"

#include <event2/event.h>
#include <openssl/ssl.h>

/* The client engine against a scripted server on loopback. */

struct run_ctx {
	struct event_base *base;
	struct smtp_client_result result;
	struct smtp_client_rcpt_result rcpts[8];
	char texts[8][512];
	char stage[32];
	char remote_name[256], remote_addr[64];
	bool done;
};

static void on_done(const struct smtp_client_result *result, void *ctx)
{
	struct run_ctx *rc = ctx;

	rc->result = *result;
	for (unsigned i = 0; i < result->rcpt_count && i < 8; i++) {
		rc->rcpts[i] = result->rcpts[i];
		snprintf(rc->texts[i], sizeof(rc->texts[i]), "%s",
			 result->rcpts[i].text);
		rc->rcpts[i].text = rc->texts[i];
	}
	snprintf(rc->stage, sizeof(rc->stage), "%s", result->stage);
	rc->result.stage = rc->stage;
	/* The result dies with the client: keep copies of its strings. */
	snprintf(rc->remote_name, sizeof(rc->remote_name), "%s",
		 result->remote_name);
	rc->result.remote_name = rc->remote_name;
	snprintf(rc->remote_addr, sizeof(rc->remote_addr), "%s",
		 result->remote_addr == NULL ? "" : result->remote_addr);
	rc->result.remote_addr = rc->remote_addr;
	rc->result.rcpts = rc->rcpts;
	rc->done = true;
	event_base_loopbreak(rc->base);
}

static const char message[] =
	"From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\n"
	"line one\r\n.leading dot\r\n..two dots\r\nbare lf\nlast\r\n";
static const char message_unstuffed[] =
	"From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\n"
	"line one\r\n.leading dot\r\n..two dots\r\nbare lf\r\nlast\r\n";

static void run_client(struct fake_smtp_server *srv,
		       const struct smtp_client_settings *set_in,
		       const struct smtp_client_message *msg,
		       struct run_ctx *rc, unsigned port)
{
	struct smtp_client_settings set = *set_in;
	struct smtp_client *client;

	memset(rc, 0, sizeof(*rc));
	rc->base = event_base_new();
	if (set.helo_name == NULL)
		set.helo_name = "client.test";
	if (set.greeting_timeout_ms == 0)
		set.greeting_timeout_ms = 3000;
	set.mail_timeout_ms = set.rcpt_timeout_ms = 3000;
	set.data_init_timeout_ms = 3000;
	if (set.data_final_timeout_ms == 0)
		set.data_final_timeout_ms = 3000;
	set.data_block_timeout_ms = 3000;
	set.quit_timeout_ms = 1000;
	client = smtp_client_create(rc->base, &set, msg);
	smtp_client_run(client, "127.0.0.1", port, "127.0.0.1", on_done, rc);
	assert_false(rc->done); /* never inside run */
	event_base_dispatch(rc->base);
	assert_true(rc->done);
	smtp_client_destroy(&client);
	assert_null(client);
	/* libevent closes a freed bufferevent's socket from the loop (or
	 * when the base is freed): only then does the server see EOF. */
	event_base_free(rc->base);
	if (srv != NULL)
		fake_smtp_server_stop(srv);
}

static struct smtp_client_message default_msg(const struct smtp_client_rcpt *rcpts,
					      unsigned count)
{
	struct smtp_client_message msg = {
		.mail_from = "a@a.test",
		.rcpts = rcpts,
		.rcpt_count = count,
		.data = (const uint8_t *)message,
		.size = sizeof(message) - 1,
	};
	return msg;
}

static bool has_line(const struct fake_smtp_server *srv, const char *line)
{
	const char *t = buf_cstr(&srv->transcript);
	size_t n = strlen(line);

	for (const char *p = t; (p = strstr(p, line)) != NULL; p++) {
		if ((p == t || p[-1] == '\n') && p[n] == '\n')
			return true;
	}
	return false;
}

static void test_pipelining_dsn_per_rcpt(void **state)
{
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"
			"250-8BITMIME\r\n250 DSN\r\n",
		.rcpt_replies = {"550 5.1.1 no such user\r\n", NULL,
				 "452 4.2.2 mailbox full\r\n"},
		.hold_until_data = true,
	};
	struct smtp_client_rcpt rcpts[] = {
		{.address = "nobody@b.test", .notify = "FAILURE",
		 .orcpt = "rfc822;nobody@b.test"},
		{.address = "bob@b.test", .notify = "SUCCESS,FAILURE",
		 .orcpt = "rfc822;bob+x=y@b.test"},
		{.address = "full@b.test"},
	};
	struct smtp_client_message msg = default_msg(rcpts, 3);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	msg.eightbit = true;
	msg.envid = "id 1";
	msg.ret = SMTP_CLIENT_RET_HDRS;
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);

	assert_false(rc.result.try_next_host);
	assert_string_equal(rc.result.remote_name, "fake.test");
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_PERMFAIL);
	assert_int_equal(rc.rcpts[0].code, 550);
	assert_string_equal(rc.rcpts[0].enhanced, "5.1.1");
	assert_string_equal(rc.rcpts[0].text, "no such user");
	assert_int_equal(rc.rcpts[1].status, SMTP_CLIENT_RCPT_OK);
	assert_int_equal(rc.rcpts[1].code, 250);
	assert_string_equal(rc.rcpts[1].enhanced, "2.0.0");
	assert_int_equal(rc.rcpts[2].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_string_equal(rc.rcpts[2].enhanced, "4.2.2");
	assert_true(has_line(&srv, "MAIL FROM:<a@a.test> SIZE=95 "
				   "BODY=8BITMIME RET=HDRS ENVID=id+201"));
	assert_true(has_line(&srv, "RCPT TO:<nobody@b.test> NOTIFY=FAILURE "
				   "ORCPT=rfc822;nobody@b.test"));
	assert_true(has_line(&srv, "RCPT TO:<bob@b.test> NOTIFY=SUCCESS,FAILURE "
				   "ORCPT=rfc822;bob+2Bx+3Dy@b.test"));
	assert_true(has_line(&srv, "RCPT TO:<full@b.test>"));
	assert_string_equal(buf_cstr(&srv.body), message_unstuffed);
	assert_true(srv.quit_seen);
	assert_false(rc.result.tls);
	fake_smtp_server_free(&srv);
}

static void test_sequential_no_dsn(void **state)
{
	/* No PIPELINING, no DSN: one command at a time, no DSN parameters,
	 * and an 8-bit body is sent anyway but noted. */
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250 SIZE\r\n",
		.rcpt_replies = {"451 4.3.0 try later\r\n"},
	};
	struct smtp_client_rcpt rcpts[] = {
		{.address = "x@b.test", .notify = "NEVER"},
		{.address = "y@b.test"},
	};
	struct smtp_client_message msg = default_msg(rcpts, 2);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	msg.eightbit = true;
	msg.ret = SMTP_CLIENT_RET_FULL;
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_int_equal(rc.rcpts[0].code, 451);
	assert_int_equal(rc.rcpts[1].status, SMTP_CLIENT_RCPT_OK);
	assert_true(rc.result.eightbit_without_8bitmime);
	assert_true(has_line(&srv, "MAIL FROM:<a@a.test> SIZE=95"));
	assert_true(has_line(&srv, "RCPT TO:<x@b.test>"));
	assert_string_equal(buf_cstr(&srv.body), message_unstuffed);
	fake_smtp_server_free(&srv);
}

static void test_ehlo_fallback_helo(void **state)
{
	struct fake_smtp_server srv = {.ehlo_fails = true};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_OK);
	assert_true(has_line(&srv, "HELO client.test"));
	assert_true(has_line(&srv, "MAIL FROM:<a@a.test>"));
	fake_smtp_server_free(&srv);
}

static void test_starttls(void **state)
{
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n",
		.ehlo_tls = "250-fake.test\r\n250 PIPELINING\r\n",
		.hold_until_data = true,
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	const char *error;
	struct run_ctx rc;

	srv.ssl_ctx = fake_smtp_server_ssl_ctx();
	set.ssl_ctx = smtp_client_ssl_ctx_create(&error);
	assert_non_null(set.ssl_ctx);
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_true(srv.tls_done);
	assert_true(rc.result.tls);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_OK);
	/* EHLO again after the handshake (RFC 3207 section 4.2). */
	const char *t = buf_cstr(&srv.transcript);
	const char *first = strstr(t, "EHLO client.test\n");
	assert_non_null(first);
	assert_non_null(strstr(first + 1, "EHLO client.test\n"));
	assert_string_equal(buf_cstr(&srv.body), message_unstuffed);
	SSL_CTX_free(set.ssl_ctx);
	SSL_CTX_free(srv.ssl_ctx);
	fake_smtp_server_free(&srv);
}

static void test_auth_after_starttls(void **state)
{
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
		.ehlo_tls = "250-fake.test\r\n250 AUTH LOGIN PLAIN\r\n",
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {.auth_user = "user",
					   .auth_password = "pass",
					   .require_tls = true};
	const char *error;
	struct run_ctx rc;

	srv.ssl_ctx = fake_smtp_server_ssl_ctx();
	set.ssl_ctx = smtp_client_ssl_ctx_create(&error);
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_true(rc.result.tls);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_OK);
	/* base64("\0user\0pass"), only after the handshake. */
	const char *t = buf_cstr(&srv.transcript);
	const char *auth = strstr(t, "AUTH PLAIN AHVzZXIAcGFzcw==\n");
	assert_non_null(auth);
	assert_true(auth > strstr(t, "STARTTLS\n"));
	assert_true(auth < strstr(t, "MAIL FROM"));
	fake_smtp_server_free(&srv);

	/* Refused credentials: temporary, nothing sent. */
	struct fake_smtp_server srv2 = {
		.ehlo = "250-fake.test\r\n250 AUTH PLAIN\r\n",
		.auth_reply = "535 5.7.8 bad credentials\r\n",
	};
	set.require_tls = false;
	set.auth_plaintext_ok = true;
	fake_smtp_server_start(&srv2);
	run_client(&srv2, &set, &msg, &rc, srv2.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_string_equal(rc.rcpts[0].enhanced, "4.7.0");
	assert_non_null(strstr(rc.rcpts[0].text, "535"));
	assert_null(strstr(buf_cstr(&srv2.transcript), "MAIL"));
	fake_smtp_server_free(&srv2);

	/* No TLS: the credentials are not sent at all. */
	struct fake_smtp_server srv3 = {
		.ehlo = "250-fake.test\r\n250 AUTH PLAIN\r\n",
	};
	set.auth_plaintext_ok = false;
	fake_smtp_server_start(&srv3);
	run_client(&srv3, &set, &msg, &rc, srv3.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_null(strstr(buf_cstr(&srv3.transcript), "AUTH"));
	fake_smtp_server_free(&srv3);
	SSL_CTX_free(set.ssl_ctx);
	SSL_CTX_free(srv.ssl_ctx);
}

static void test_require_tls_not_offered(void **state)
{
	struct fake_smtp_server srv = {0};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {.require_tls = true};
	const char *error;
	struct run_ctx rc;

	set.ssl_ctx = smtp_client_ssl_ctx_create(&error);
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_true(rc.result.try_next_host);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_string_equal(rc.rcpts[0].enhanced, "4.7.4");
	assert_null(strstr(buf_cstr(&srv.transcript), "MAIL"));
	SSL_CTX_free(set.ssl_ctx);
	fake_smtp_server_free(&srv);
}

static void test_timeout(void **state)
{
	struct fake_smtp_server srv = {.stall_on = "EHLO"};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {.greeting_timeout_ms = 200};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_true(rc.result.try_next_host);
	assert_string_equal(rc.result.stage, "ehlo");
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_int_equal(rc.rcpts[0].code, 0);
	assert_string_equal(rc.rcpts[0].enhanced, "4.4.2");
	assert_non_null(strstr(rc.rcpts[0].text, "timeout"));
	fake_smtp_server_free(&srv);
}

static void test_dot_timeout(void **state)
{
	/* No reply to the end of data: temporary, and not a reason to hand
	 * the message to another MX (it may have arrived). */
	struct fake_smtp_server srv = {.stall_after_dot = true};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {.data_final_timeout_ms = 200};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_false(rc.result.try_next_host);
	assert_string_equal(rc.result.stage, "dot");
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_string_equal(rc.rcpts[0].enhanced, "4.4.2");
	assert_string_equal(buf_cstr(&srv.body), message_unstuffed);
	fake_smtp_server_free(&srv);
}

static void test_size_refused(void **state)
{
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250 SIZE 50\r\n",
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"},
					   {.address = "z@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 2);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_false(rc.result.try_next_host);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(rc.rcpts[i].status, SMTP_CLIENT_RCPT_PERMFAIL);
		assert_string_equal(rc.rcpts[i].enhanced, "5.3.4");
	}
	assert_null(strstr(buf_cstr(&srv.transcript), "MAIL"));
	assert_true(srv.quit_seen);
	fake_smtp_server_free(&srv);
}

static void test_smtputf8(void **state)
{
	/* Without SMTPUTF8 the UTF-8 recipient fails with 5.6.7 and the
	 * ASCII one is still delivered. */
	struct fake_smtp_server srv = {0};
	struct smtp_client_rcpt rcpts[] = {{.address = "bj\xc3\xb8rn@b.test"},
					   {.address = "z@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 2);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_PERMFAIL);
	assert_string_equal(rc.rcpts[0].enhanced, "5.6.7");
	assert_int_equal(rc.rcpts[1].status, SMTP_CLIENT_RCPT_OK);
	assert_null(strstr(buf_cstr(&srv.transcript), "bj\xc3\xb8rn"));
	fake_smtp_server_free(&srv);

	/* With it, the MAIL command says SMTPUTF8. */
	struct fake_smtp_server srv2 = {
		.ehlo = "250-fake.test\r\n250 SMTPUTF8\r\n",
	};
	fake_smtp_server_start(&srv2);
	run_client(&srv2, &set, &msg, &rc, srv2.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_OK);
	assert_true(has_line(&srv2, "MAIL FROM:<a@a.test> SMTPUTF8"));
	fake_smtp_server_free(&srv2);
}

static void test_mail_rejected_and_greeting(void **state)
{
	struct fake_smtp_server srv = {
		.ehlo = "250-fake.test\r\n250 PIPELINING\r\n",
		.mail_reply = "550 5.7.1 sender refused\r\n",
		.rcpt_replies = {"503 5.5.1 no MAIL\r\n"},
		.data_reply = "503 5.5.1 no valid recipients\r\n",
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_false(rc.result.try_next_host);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_PERMFAIL);
	assert_int_equal(rc.rcpts[0].code, 550);
	assert_string_equal(rc.rcpts[0].text, "sender refused");
	assert_true(srv.quit_seen);
	fake_smtp_server_free(&srv);

	struct fake_smtp_server srv2 = {.greeting = "421 4.3.2 busy\r\n"};
	fake_smtp_server_start(&srv2);
	run_client(&srv2, &set, &msg, &rc, srv2.port);
	assert_true(rc.result.try_next_host);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
	assert_int_equal(rc.rcpts[0].code, 421);
	fake_smtp_server_free(&srv2);
}

static void test_malformed_replies(void **state)
{
	/* A peer that speaks nonsense or sends endless reply lines is a
	 * failure of that host, never a crash or a hang. */
	static const char *const greetings[] = {
		"garbage\r\n",
		"220-a\r\n250 codes differ\r\n",
		"2200 four digits\r\n",
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	for (unsigned i = 0; i < N_ELEMENTS(greetings); i++) {
		struct fake_smtp_server srv = {.greeting = greetings[i]};
		fake_smtp_server_start(&srv);
		run_client(&srv, &set, &msg, &rc, srv.port);
		assert_true(rc.result.try_next_host);
		assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_TEMPFAIL);
		assert_null(strstr(buf_cstr(&srv.transcript), "MAIL"));
		fake_smtp_server_free(&srv);
	}
	/* 300 continuation lines: over the parser's limit. */
	struct buf many = BUF_INIT;
	for (unsigned i = 0; i < 300; i++)
		buf_append_str(&many, "220-more\r\n");
	buf_append_str(&many, "220 end\r\n");
	struct fake_smtp_server srv = {.greeting = buf_cstr(&many)};
	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_true(rc.result.try_next_host);
	assert_non_null(strstr(rc.rcpts[0].text, "protocol error"));
	fake_smtp_server_free(&srv);
	buf_free(&many);
}

static void test_dot_rejected(void **state)
{
	struct fake_smtp_server srv = {
		.dot_reply = "554 5.6.0 content refused\r\n",
	};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	run_client(&srv, &set, &msg, &rc, srv.port);
	assert_int_equal(rc.rcpts[0].status, SMTP_CLIENT_RCPT_PERMFAIL);
	assert_string_equal(rc.rcpts[0].enhanced, "5.6.0");
	fake_smtp_server_free(&srv);
}

static void test_connect_refused(void **state)
{
	/* A port that was free a moment ago: nothing listens there. */
	struct fake_smtp_server srv = {0};
	struct smtp_client_rcpt rcpts[] = {{.address = "y@b.test"}};
	struct smtp_client_message msg = default_msg(rcpts, 1);
	struct smtp_client_settings set = {0};
	struct run_ctx rc;

	fake_smtp_server_start(&srv);
	unsigned port = srv.port;
	/* Let the thread see a connection and end, then close the port. */
	run_client(&srv, &set, &msg, &rc, port);
	fake_smtp_server_free(&srv);
	run_client(NULL, &set, &msg, &rc, port);
	assert_true(rc.result.try_next_host);
	assert_string_equal(rc.rcpts[0].enhanced, "4.4.1");
	assert_string_equal(rc.result.stage, "connect");
}

static void test_xtext(void **state)
{
	struct buf b = BUF_INIT;

	smtp_client_xtext_encode(&b, "a+b=c d\x01~");
	assert_string_equal(buf_cstr(&b), "a+2Bb+3Dc+20d+01~");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelining_dsn_per_rcpt),
		cmocka_unit_test(test_sequential_no_dsn),
		cmocka_unit_test(test_ehlo_fallback_helo),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_require_tls_not_offered),
		cmocka_unit_test(test_auth_after_starttls),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_dot_timeout),
		cmocka_unit_test(test_size_refused),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_mail_rejected_and_greeting),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_dot_rejected),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

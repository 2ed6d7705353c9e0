/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "smtp-reply.h"
#include "smtp-client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define SMTP_CLIENT_MAX_REPLY_LINE 4096
#define SMTP_CLIENT_MAX_REPLY_LINES 200

enum smtp_client_state {
	SMTP_CLIENT_STATE_INIT,
	SMTP_CLIENT_STATE_CONNECT,
	SMTP_CLIENT_STATE_GREETING,
	SMTP_CLIENT_STATE_EHLO,
	SMTP_CLIENT_STATE_HELO,
	SMTP_CLIENT_STATE_STARTTLS,
	SMTP_CLIENT_STATE_TLS_HANDSHAKE,
	SMTP_CLIENT_STATE_AUTH,
	SMTP_CLIENT_STATE_TRANSACTION, /* MAIL/RCPT/DATA replies expected */
	SMTP_CLIENT_STATE_DOT,
	SMTP_CLIENT_STATE_QUIT,
	SMTP_CLIENT_STATE_DONE,
};

/* What the next reply answers, in a pipelined group. */
enum smtp_client_expect {
	SMTP_CLIENT_EXPECT_MAIL,
	SMTP_CLIENT_EXPECT_RCPT,
	SMTP_CLIENT_EXPECT_DATA,
};

struct smtp_client_expected {
	enum smtp_client_expect what;
	unsigned rcpt_idx;
};

struct smtp_client {
	struct event_base *base;
	struct pool *pool;
	struct smtp_client_settings set;
	struct smtp_client_message msg;

	struct bufferevent *bev;
	struct smtp_reply_parser *parser;
	struct event *done_ev;
	enum smtp_client_state state;
	const char *ip;
	unsigned port;

	/* EHLO keywords of the current (last) greeting. */
	bool ext_pipelining, ext_starttls, ext_8bitmime, ext_smtputf8;
	bool ext_dsn, ext_size, ext_auth_plain;
	bool authenticated;
	/* The body is still being written: the final-dot timeout starts
	 * only once it has all gone out (RFC 5321 section 4.5.3.2.6). */
	bool body_draining;
	uint64_t size_max;
	bool use_smtputf8;

	/* Per recipient: decided (results[i].status != 0), sent, accepted by
	 * RCPT (waiting for the dot). */
	struct smtp_client_rcpt_result *results;
	bool *rcpt_send, *rcpt_accepted;
	unsigned accepted_count;
	bool mail_failed;
	bool peer_decided; /* some recipient got a reply of its own */

	struct smtp_client_expected *expected;
	unsigned expected_head, expected_count;
	unsigned next_rcpt; /* non-pipelined: next recipient to send */

	smtp_client_callback_t *callback;
	void *ctx;
	struct smtp_client_result result;
};

static const char *stage_names[] = {
	[SMTP_CLIENT_STATE_INIT] = "connect",
	[SMTP_CLIENT_STATE_CONNECT] = "connect",
	[SMTP_CLIENT_STATE_GREETING] = "greeting",
	[SMTP_CLIENT_STATE_EHLO] = "ehlo",
	[SMTP_CLIENT_STATE_HELO] = "helo",
	[SMTP_CLIENT_STATE_STARTTLS] = "starttls",
	[SMTP_CLIENT_STATE_TLS_HANDSHAKE] = "starttls",
	[SMTP_CLIENT_STATE_AUTH] = "auth",
	[SMTP_CLIENT_STATE_TRANSACTION] = "mail",
	[SMTP_CLIENT_STATE_DOT] = "dot",
	[SMTP_CLIENT_STATE_QUIT] = "quit",
	[SMTP_CLIENT_STATE_DONE] = "quit",
};

static void smtp_client_read_cb(struct bufferevent *bev, void *ctx);
static void smtp_client_write_cb(struct bufferevent *bev, void *ctx);
static void smtp_client_event_cb(struct bufferevent *bev, short what,
				 void *ctx);
static void smtp_client_send_transaction(struct smtp_client *client);
static void smtp_client_auth(struct smtp_client *client);

static unsigned timeout_or(unsigned ms, unsigned dflt)
{
	return ms != 0 ? ms : dflt;
}

void smtp_client_xtext_encode(struct buf *out, const char *value)
{
	/* RFC 3461 section 4: xchar = "!" to "~" except "+" and "=";
	 * hexchar = "+" 2HEXDIG. */
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0';
	     p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=')
			buf_append_byte(out, *p);
		else
			buf_printf(out, "+%02X", *p);
	}
}

static bool str_has_8bit(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

struct smtp_client *smtp_client_create(struct event_base *base,
				       const struct smtp_client_settings *set,
				       const struct smtp_client_message *msg)
{
	struct pool *pool = pool_create("smtp client", 4096);
	struct smtp_client *client = p_new(pool, struct smtp_client, 1);

	i_assert(set->helo_name != NULL && msg->rcpt_count > 0);
	client->base = base;
	client->pool = pool;
	client->set = *set;
	client->set.helo_name = pool_strdup(pool, set->helo_name);
	client->set.auth_user = pool_strdup(pool, set->auth_user);
	client->set.auth_password = pool_strdup(pool, set->auth_password);
	client->set.connect_timeout_ms = timeout_or(set->connect_timeout_ms,
						    60 * 1000);
	client->set.greeting_timeout_ms =
		timeout_or(set->greeting_timeout_ms, 5 * 60 * 1000);
	client->set.mail_timeout_ms = timeout_or(set->mail_timeout_ms,
						 5 * 60 * 1000);
	client->set.rcpt_timeout_ms = timeout_or(set->rcpt_timeout_ms,
						 5 * 60 * 1000);
	client->set.data_init_timeout_ms =
		timeout_or(set->data_init_timeout_ms, 2 * 60 * 1000);
	client->set.data_block_timeout_ms =
		timeout_or(set->data_block_timeout_ms, 3 * 60 * 1000);
	client->set.data_final_timeout_ms =
		timeout_or(set->data_final_timeout_ms, 10 * 60 * 1000);
	client->set.quit_timeout_ms = timeout_or(set->quit_timeout_ms,
						 10 * 1000);

	client->msg = *msg;
	client->msg.mail_from = pool_strdup(pool, msg->mail_from);
	client->msg.envid = pool_strdup(pool, msg->envid);
	struct smtp_client_rcpt *rcpts =
		p_new(pool, struct smtp_client_rcpt, msg->rcpt_count);
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		rcpts[i].address = pool_strdup(pool, msg->rcpts[i].address);
		rcpts[i].notify = pool_strdup(pool, msg->rcpts[i].notify);
		rcpts[i].orcpt = pool_strdup(pool, msg->rcpts[i].orcpt);
	}
	client->msg.rcpts = rcpts;
	client->results = p_new(pool, struct smtp_client_rcpt_result,
				msg->rcpt_count);
	client->rcpt_send = p_new(pool, bool, msg->rcpt_count);
	client->rcpt_accepted = p_new(pool, bool, msg->rcpt_count);
	client->expected = p_new(pool, struct smtp_client_expected,
				 msg->rcpt_count + 2);
	client->result.rcpts = client->results;
	client->result.rcpt_count = msg->rcpt_count;
	client->result.remote_name = "";
	client->result.remote_addr = "";
	client->result.stage = "connect";
	return client;
}

static void smtp_client_close_bev(struct smtp_client *client)
{
	if (client->bev != NULL) {
		bufferevent_free(client->bev);
		client->bev = NULL;
	}
}

void smtp_client_destroy(struct smtp_client **_client)
{
	struct smtp_client *client = *_client;

	if (client == NULL)
		return;
	*_client = NULL;
	smtp_client_close_bev(client);
	smtp_reply_parser_destroy(&client->parser);
	if (client->done_ev != NULL)
		event_free(client->done_ev);
	/* The struct lives in its own pool. */
	struct pool *pool = client->pool;
	pool_destroy(&pool);
}

/* --- results --- */

static void smtp_client_set_rcpt(struct smtp_client *client, unsigned idx,
				 enum smtp_client_rcpt_status status,
				 unsigned code, const char *enhanced,
				 const char *text)
{
	struct smtp_client_rcpt_result *res = &client->results[idx];

	res->status = status;
	res->code = code;
	snprintf(res->enhanced, sizeof(res->enhanced), "%s", enhanced);
	res->text = pool_strdup(client->pool, text);
}

/* Every recipient without a decision yet gets this one. */
static void smtp_client_set_undecided(struct smtp_client *client,
				      enum smtp_client_rcpt_status status,
				      unsigned code, const char *enhanced,
				      const char *text)
{
	for (unsigned i = 0; i < client->msg.rcpt_count; i++) {
		if (client->results[i].status == 0)
			smtp_client_set_rcpt(client, i, status, code,
					     enhanced, text);
	}
}

static void smtp_client_done_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				void *ctx)
{
	struct smtp_client *client = ctx;

	client->callback(&client->result, client->ctx);
}

/* Closes the connection and runs the callback from the loop. */
static void smtp_client_finish(struct smtp_client *client)
{
	if (client->state == SMTP_CLIENT_STATE_DONE)
		return;
	/* Whatever is still undecided failed with the connection. */
	smtp_client_set_undecided(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
				  "4.4.2", "session ended without a reply");
	client->state = SMTP_CLIENT_STATE_DONE;
	smtp_client_close_bev(client);
	client->done_ev = event_new(client->base, -1, 0, smtp_client_done_cb,
				    client);
	event_active(client->done_ev, EV_TIMEOUT, 0);
}

static void smtp_client_set_timeout(struct smtp_client *client, unsigned ms)
{
	struct timeval rd = {ms / 1000, (ms % 1000) * 1000};
	unsigned wms = client->state == SMTP_CLIENT_STATE_CONNECT
			       ? ms
			       : client->set.data_block_timeout_ms;
	struct timeval wr = {wms / 1000, (wms % 1000) * 1000};

	bufferevent_set_timeouts(client->bev, &rd, &wr);
}

static void smtp_client_send(struct smtp_client *client, const char *fmt, ...)
	ATTR_FORMAT(2, 3);
static void smtp_client_send(struct smtp_client *client, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(client->bev), fmt, args);
	va_end(args);
}

static void smtp_client_quit(struct smtp_client *client)
{
	client->state = SMTP_CLIENT_STATE_QUIT;
	client->result.stage = "quit";
	smtp_client_send(client, "QUIT\r\n");
	smtp_client_set_timeout(client, client->set.quit_timeout_ms);
}

/* A failure of the host before the recipients were decided: the caller
 * may try the next MX (RFC 5321 section 5.1). */
static void smtp_client_host_failed(struct smtp_client *client,
				    enum smtp_client_rcpt_status status,
				    unsigned code, const char *enhanced,
				    const char *text, bool send_quit)
{
	client->result.stage = stage_names[client->state];
	if (!client->peer_decided)
		client->result.try_next_host = true;
	smtp_client_set_undecided(client, status, code, enhanced, text);
	if (send_quit && client->bev != NULL)
		smtp_client_quit(client);
	else
		smtp_client_finish(client);
}

static const char *smtp_client_reply_text(struct smtp_client *client,
					  const struct smtp_reply *reply)
{
	struct buf text = BUF_INIT;

	for (unsigned i = 0; i < reply->line_count; i++) {
		if (i > 0)
			buf_append_str(&text, "; ");
		buf_append_str(&text, reply->lines[i]);
	}
	const char *ret = pool_strdup(client->pool, buf_cstr(&text));
	buf_free(&text);
	return ret;
}

static const char *smtp_client_reply_enhanced(struct smtp_client *client,
					      const struct smtp_reply *reply)
{
	if (reply->has_enhanced)
		return pool_printf(client->pool, "%u.%u.%u", reply->enh_class,
				   reply->enh_subject, reply->enh_detail);
	return pool_printf(client->pool, "%u.0.0", reply->code / 100);
}

static enum smtp_client_rcpt_status reply_status(unsigned code)
{
	if (code >= 200 && code < 400)
		return SMTP_CLIENT_RCPT_OK;
	return code >= 500 ? SMTP_CLIENT_RCPT_PERMFAIL
			   : SMTP_CLIENT_RCPT_TEMPFAIL;
}

enum smtp_client_end {
	SMTP_CLIENT_END_NONE, /* more pipelined replies are coming */
	SMTP_CLIENT_END_QUIT,
	SMTP_CLIENT_END_CLOSE,
};

/* Records a failing reply for every recipient that is still undecided. */
static void smtp_client_reply_fail_all(struct smtp_client *client,
				       const struct smtp_reply *reply,
				       bool host_level,
				       enum smtp_client_end end)
{
	const char *text = smtp_client_reply_text(client, reply);
	const char *enh = smtp_client_reply_enhanced(client, reply);
	enum smtp_client_rcpt_status st = reply_status(reply->code);

	if (st == SMTP_CLIENT_RCPT_OK)
		st = SMTP_CLIENT_RCPT_TEMPFAIL; /* unexpected success code */
	if (host_level && end != SMTP_CLIENT_END_NONE) {
		smtp_client_host_failed(client, st, reply->code, enh, text,
					end == SMTP_CLIENT_END_QUIT);
		return;
	}
	if (host_level) {
		client->result.stage = stage_names[client->state];
		if (!client->peer_decided)
			client->result.try_next_host = true;
	} else {
		client->peer_decided = true;
	}
	smtp_client_set_undecided(client, st, reply->code, enh, text);
	if (end == SMTP_CLIENT_END_QUIT)
		smtp_client_quit(client);
	else if (end == SMTP_CLIENT_END_CLOSE)
		smtp_client_finish(client);
}

/* --- greeting, EHLO, STARTTLS --- */

static void smtp_client_send_ehlo(struct smtp_client *client)
{
	client->ext_pipelining = client->ext_starttls = false;
	client->ext_8bitmime = client->ext_smtputf8 = false;
	client->ext_dsn = client->ext_size = false;
	client->ext_auth_plain = false;
	client->size_max = 0;
	client->state = SMTP_CLIENT_STATE_EHLO;
	smtp_client_send(client, "EHLO %s\r\n", client->set.helo_name);
	smtp_client_set_timeout(client, client->set.greeting_timeout_ms);
}

static void smtp_client_parse_ehlo(struct smtp_client *client,
				   const struct smtp_reply *reply)
{
	/* RFC 5321 section 4.1.1.1: the first line is the greeting, each
	 * further line "ehlo-keyword *(SP ehlo-param)". */
	for (unsigned i = 1; i < reply->line_count; i++) {
		const char *line = reply->lines[i];
		size_t kwlen = strcspn(line, " ");
		char kw[32];

		if (kwlen == 0 || kwlen >= sizeof(kw))
			continue;
		memcpy(kw, line, kwlen);
		kw[kwlen] = '\0';
		if (str_ascii_eq_ci(kw, "PIPELINING"))
			client->ext_pipelining = true;
		else if (str_ascii_eq_ci(kw, "STARTTLS"))
			client->ext_starttls = true;
		else if (str_ascii_eq_ci(kw, "8BITMIME"))
			client->ext_8bitmime = true;
		else if (str_ascii_eq_ci(kw, "SMTPUTF8"))
			client->ext_smtputf8 = true;
		else if (str_ascii_eq_ci(kw, "DSN"))
			client->ext_dsn = true;
		else if (str_ascii_eq_ci(kw, "AUTH")) {
			/* RFC 4954 section 3: "AUTH" 1*(SP mechanism). */
			for (const char *p = line + kwlen; *p == ' ';) {
				p++;
				size_t len = strcspn(p, " ");
				if (len == 5 &&
				    str_ascii_ncmp_ci(p, "PLAIN", 5) == 0)
					client->ext_auth_plain = true;
				p += len;
			}
		}
		else if (str_ascii_eq_ci(kw, "SIZE")) {
			uint64_t max = 0;
			client->ext_size = true;
			/* RFC 1870 section 4: "SIZE" [SP number]; 0 or
			 * absent means no fixed limit. */
			if (line[kwlen] == ' ' &&
			    str_to_uint64(line + kwlen + 1, UINT64_MAX,
					  &max) == 0)
				client->size_max = max;
		}
	}
}

static void smtp_client_starttls(struct smtp_client *client)
{
	SSL *ssl = SSL_new(client->set.ssl_ctx);
	struct bufferevent *filter;

	/* RFC 3207 section 4.2: anything the server sent after its 220 and
	 * before the handshake is not to be trusted. */
	evbuffer_drain(bufferevent_get_input(client->bev),
		       evbuffer_get_length(bufferevent_get_input(client->bev)));
	smtp_reply_parser_destroy(&client->parser);
	client->parser = smtp_reply_parser_create(SMTP_CLIENT_MAX_REPLY_LINE,
						  SMTP_CLIENT_MAX_REPLY_LINES);
	if (ssl == NULL) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.0", "TLS setup failed", false);
		return;
	}
	filter = bufferevent_openssl_filter_new(
		client->base, client->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (filter == NULL) {
		SSL_free(ssl);
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.0", "TLS setup failed", false);
		return;
	}
	/* OpenSSL 3 reports a peer closing without close_notify as an
	 * error with an empty queue; treat it as EOF (DESIGN.md). */
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	client->bev = filter;
	client->state = SMTP_CLIENT_STATE_TLS_HANDSHAKE;
	bufferevent_setcb(filter, smtp_client_read_cb, smtp_client_write_cb,
			  smtp_client_event_cb, client);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
	smtp_client_set_timeout(client, client->set.greeting_timeout_ms);
}

/* After EHLO/HELO (and TLS): check what the message needs against what the
 * peer offers, then start the transaction. */
static void smtp_client_ready(struct smtp_client *client)
{
	const struct smtp_client_message *msg = &client->msg;
	bool sender_utf8 = str_has_8bit(msg->mail_from);
	unsigned to_send = 0;

	if (client->set.require_tls && !client->result.tls) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.4", "TLS required but not offered",
					true);
		return;
	}
	if (client->set.auth_user != NULL && !client->authenticated) {
		smtp_client_auth(client);
		return;
	}
	if (client->ext_size && client->size_max > 0 &&
	    msg->size > client->size_max) {
		const char *text = pool_printf(
			client->pool,
			"message size %zu exceeds the peer's limit of %llu",
			msg->size, (unsigned long long)client->size_max);
		client->peer_decided = true;
		smtp_client_set_undecided(client, SMTP_CLIENT_RCPT_PERMFAIL, 0,
					  "5.3.4", text);
		smtp_client_quit(client);
		return;
	}
	client->use_smtputf8 = false;
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		bool utf8 = str_has_8bit(msg->rcpts[i].address);
		if ((utf8 || sender_utf8) && !client->ext_smtputf8) {
			/* RFC 6531 section 3.2 / RFC 6533: 5.6.7. */
			client->peer_decided = true;
			smtp_client_set_rcpt(
				client, i, SMTP_CLIENT_RCPT_PERMFAIL, 0,
				"5.6.7",
				"non-ASCII address and the peer does not "
				"support SMTPUTF8");
			continue;
		}
		if (utf8 || sender_utf8)
			client->use_smtputf8 = true;
		client->rcpt_send[i] = true;
		to_send++;
	}
	if (to_send == 0) {
		smtp_client_quit(client);
		return;
	}
	if (msg->eightbit && !client->ext_8bitmime)
		client->result.eightbit_without_8bitmime = true;
	client->result.peer_dsn = client->ext_dsn;
	smtp_client_send_transaction(client);
}

static void smtp_client_auth(struct smtp_client *client)
{
	const char *user = client->set.auth_user;
	const char *pass = client->set.auth_password != NULL
				   ? client->set.auth_password
				   : "";
	struct buf plain = BUF_INIT;

	if (!client->result.tls && !client->set.auth_plaintext_ok) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.0",
					"not sending credentials without TLS",
					true);
		return;
	}
	if (!client->ext_auth_plain) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.0",
					"peer does not offer AUTH PLAIN", true);
		return;
	}
	/* RFC 4616: [authzid] NUL authcid NUL passwd, base64. */
	buf_append_byte(&plain, 0);
	buf_append_str(&plain, user);
	buf_append_byte(&plain, 0);
	buf_append_str(&plain, pass);
	size_t b64_len = 4 * ((plain.len + 2) / 3) + 1;
	char *b64 = i_malloc(b64_len);
	EVP_EncodeBlock((unsigned char *)b64, plain.data, (int)plain.len);
	client->state = SMTP_CLIENT_STATE_AUTH;
	client->result.stage = "auth";
	smtp_client_send(client, "AUTH PLAIN %s\r\n", b64);
	smtp_client_set_timeout(client, client->set.greeting_timeout_ms);
	/* The credentials don't linger in freed memory. */
	OPENSSL_cleanse(plain.data, plain.len);
	OPENSSL_cleanse(b64, b64_len);
	buf_free(&plain);
	i_free(b64);
}

static void smtp_client_handle_auth(struct smtp_client *client,
				    const struct smtp_reply *reply)
{
	if (reply->code == 235) {
		client->authenticated = true;
		smtp_client_ready(client);
		return;
	}
	/* 535 and friends: the relay said no. Our configuration's fault, so
	 * temporary: the mail waits for a fix instead of bouncing. */
	const char *text = pool_printf(client->pool, "AUTH failed: %u %s",
				       reply->code,
				       smtp_client_reply_text(client, reply));
	smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL,
				reply->code, "4.7.0", text, true);
}

static void smtp_client_handle_greeting(struct smtp_client *client,
					const struct smtp_reply *reply)
{
	if (reply->code != 220) {
		/* RFC 5321 section 3.1: 554 means "no service here"; either
		 * way this host won't take the mail now. */
		smtp_client_reply_fail_all(client, reply, true, SMTP_CLIENT_END_QUIT);
		return;
	}
	size_t n = strcspn(reply->lines[0], " ");
	client->result.remote_name = pool_strndup(client->pool,
						  reply->lines[0], n);
	smtp_client_send_ehlo(client);
}

static void smtp_client_handle_ehlo(struct smtp_client *client,
				    const struct smtp_reply *reply)
{
	if (reply->code == 250) {
		smtp_client_parse_ehlo(client, reply);
		if (client->ext_starttls && !client->result.tls &&
		    client->set.ssl_ctx != NULL) {
			client->state = SMTP_CLIENT_STATE_STARTTLS;
			smtp_client_send(client, "STARTTLS\r\n");
			smtp_client_set_timeout(
				client, client->set.greeting_timeout_ms);
			return;
		}
		smtp_client_ready(client);
	} else if (reply->code >= 500 && client->state == SMTP_CLIENT_STATE_EHLO &&
		   !client->result.tls) {
		/* RFC 5321 section 3.2: fall back to HELO. */
		client->state = SMTP_CLIENT_STATE_HELO;
		smtp_client_send(client, "HELO %s\r\n", client->set.helo_name);
		smtp_client_set_timeout(client,
					client->set.greeting_timeout_ms);
	} else {
		smtp_client_reply_fail_all(client, reply, true, SMTP_CLIENT_END_QUIT);
	}
}

static void smtp_client_handle_starttls(struct smtp_client *client,
					const struct smtp_reply *reply)
{
	if (reply->code == 220) {
		smtp_client_starttls(client);
		return;
	}
	/* Opportunistic: a refused STARTTLS leaves us in plaintext. */
	smtp_client_ready(client);
}

/* --- the transaction --- */

static void smtp_client_expect(struct smtp_client *client,
			       enum smtp_client_expect what, unsigned idx)
{
	unsigned pos = client->expected_head + client->expected_count;

	i_assert(pos < client->msg.rcpt_count + 2);
	client->expected[pos].what = what;
	client->expected[pos].rcpt_idx = idx;
	client->expected_count++;
}

static void smtp_client_send_mail(struct smtp_client *client)
{
	const struct smtp_client_message *msg = &client->msg;
	struct buf cmd = BUF_INIT;

	buf_printf(&cmd, "MAIL FROM:<%s>", msg->mail_from);
	if (client->ext_size)
		buf_printf(&cmd, " SIZE=%zu", msg->size);
	if (msg->eightbit && client->ext_8bitmime)
		buf_append_str(&cmd, " BODY=8BITMIME");
	if (client->use_smtputf8)
		buf_append_str(&cmd, " SMTPUTF8");
	if (client->ext_dsn && msg->ret != SMTP_CLIENT_RET_NONE)
		buf_append_str(&cmd, msg->ret == SMTP_CLIENT_RET_FULL
					     ? " RET=FULL"
					     : " RET=HDRS");
	if (client->ext_dsn && msg->envid != NULL && msg->envid[0] != '\0') {
		buf_append_str(&cmd, " ENVID=");
		smtp_client_xtext_encode(&cmd, msg->envid);
	}
	smtp_client_send(client, "%s\r\n", buf_cstr(&cmd));
	buf_free(&cmd);
	smtp_client_expect(client, SMTP_CLIENT_EXPECT_MAIL, 0);
}

static void smtp_client_send_rcpt(struct smtp_client *client, unsigned idx)
{
	const struct smtp_client_rcpt *rcpt = &client->msg.rcpts[idx];
	struct buf cmd = BUF_INIT;

	buf_printf(&cmd, "RCPT TO:<%s>", rcpt->address);
	if (client->ext_dsn && rcpt->notify != NULL && rcpt->notify[0] != '\0')
		buf_printf(&cmd, " NOTIFY=%s", rcpt->notify);
	if (client->ext_dsn && rcpt->orcpt != NULL) {
		const char *semi = strchr(rcpt->orcpt, ';');
		if (semi != NULL && semi != rcpt->orcpt) {
			buf_append_str(&cmd, " ORCPT=");
			buf_append(&cmd, rcpt->orcpt,
				   (size_t)(semi - rcpt->orcpt + 1));
			smtp_client_xtext_encode(&cmd, semi + 1);
		}
	}
	smtp_client_send(client, "%s\r\n", buf_cstr(&cmd));
	buf_free(&cmd);
	smtp_client_expect(client, SMTP_CLIENT_EXPECT_RCPT, idx);
}

static bool smtp_client_next_rcpt(struct smtp_client *client, unsigned *idx_r)
{
	while (client->next_rcpt < client->msg.rcpt_count) {
		unsigned idx = client->next_rcpt++;
		if (client->rcpt_send[idx]) {
			*idx_r = idx;
			return true;
		}
	}
	return false;
}

static void smtp_client_send_transaction(struct smtp_client *client)
{
	unsigned idx;

	client->state = SMTP_CLIENT_STATE_TRANSACTION;
	client->result.stage = "mail";
	smtp_client_send_mail(client);
	if (client->ext_pipelining && !client->set.no_pipelining) {
		/* RFC 2920 section 3.1: DATA ends the group. */
		while (smtp_client_next_rcpt(client, &idx))
			smtp_client_send_rcpt(client, idx);
		smtp_client_send(client, "DATA\r\n");
		smtp_client_expect(client, SMTP_CLIENT_EXPECT_DATA, 0);
	}
	smtp_client_set_timeout(client, client->set.mail_timeout_ms);
}

/* The body, dot-stuffed (RFC 5321 section 4.5.2), with bare LFs made CRLF,
 * then the end-of-data line. */
static void smtp_client_send_body(struct smtp_client *client)
{
	struct evbuffer *out = bufferevent_get_output(client->bev);
	const uint8_t *p = client->msg.data;
	const uint8_t *end = p + client->msg.size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p);

		if (*p == '.')
			evbuffer_add(out, ".", 1);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		evbuffer_add(out, p, len);
		evbuffer_add(out, "\r\n", 2);
		p = nl == NULL ? end : nl + 1;
	}
	evbuffer_add(out, ".\r\n", 3);
	client->state = SMTP_CLIENT_STATE_DOT;
	client->result.stage = "dot";
	/* While it uploads, only the data block timeout applies (no write
	 * progress for that long); the reply wait starts when it is out. */
	struct timeval wr = {client->set.data_block_timeout_ms / 1000,
			     (client->set.data_block_timeout_ms % 1000) * 1000};
	bufferevent_set_timeouts(client->bev, NULL, &wr);
	client->body_draining = true;
	/* From here a failure is not the host's alone: the message may
	 * already be delivered, so no other MX gets it in this attempt
	 * (RFC 5321 section 6.1 warns of duplicates); it is retried. */
	client->peer_decided = true;
}

static void smtp_client_write_cb(struct bufferevent *bev UNUSED, void *ctx)
{
	struct smtp_client *client = ctx;

	/* Called when the output buffer has drained. */
	if (client->body_draining && client->state == SMTP_CLIENT_STATE_DOT) {
		client->body_draining = false;
		smtp_client_set_timeout(client,
					client->set.data_final_timeout_ms);
	}
}

static void smtp_client_handle_mail(struct smtp_client *client,
				    const struct smtp_reply *reply)
{
	unsigned idx;

	if (reply->code / 100 == 2) {
		client->result.stage = "rcpt";
		if (!client->ext_pipelining || client->set.no_pipelining) {
			if (smtp_client_next_rcpt(client, &idx))
				smtp_client_send_rcpt(client, idx);
			smtp_client_set_timeout(client,
						client->set.rcpt_timeout_ms);
		}
		return;
	}
	/* A 5xx to MAIL is about the sender: final for every recipient. A
	 * 4xx may be this host's trouble: let the next MX try. */
	client->mail_failed = true;
	bool pipelined = client->expected_count > 0;
	smtp_client_reply_fail_all(client, reply, reply->code < 500,
				   pipelined ? SMTP_CLIENT_END_NONE
					     : SMTP_CLIENT_END_QUIT);
}

static void smtp_client_handle_rcpt(struct smtp_client *client,
				    unsigned idx,
				    const struct smtp_reply *reply)
{
	bool pipelined = client->ext_pipelining && !client->set.no_pipelining;
	unsigned next;

	if (client->mail_failed)
		return;
	if (reply->code / 100 == 2) {
		client->rcpt_accepted[idx] = true;
		client->accepted_count++;
	} else {
		client->peer_decided = true;
		smtp_client_set_rcpt(client, idx, reply_status(reply->code),
				     reply->code,
				     smtp_client_reply_enhanced(client, reply),
				     smtp_client_reply_text(client, reply));
	}
	if (pipelined)
		return;
	if (smtp_client_next_rcpt(client, &next)) {
		smtp_client_send_rcpt(client, next);
		smtp_client_set_timeout(client, client->set.rcpt_timeout_ms);
	} else if (client->accepted_count == 0) {
		smtp_client_quit(client);
	} else {
		client->result.stage = "data";
		smtp_client_send(client, "DATA\r\n");
		smtp_client_expect(client, SMTP_CLIENT_EXPECT_DATA, 0);
		smtp_client_set_timeout(client,
					client->set.data_init_timeout_ms);
	}
}

static void smtp_client_handle_data(struct smtp_client *client,
				    const struct smtp_reply *reply)
{
	client->result.stage = "data";
	if (reply->code == 354) {
		if (client->accepted_count == 0 || client->mail_failed) {
			/* RFC 2920 section 3.1: the server accepted DATA
			 * after failing every recipient; end it empty. */
			smtp_client_send(client, ".\r\n");
			client->state = SMTP_CLIENT_STATE_DOT;
			smtp_client_set_timeout(
				client, client->set.data_final_timeout_ms);
			return;
		}
		smtp_client_send_body(client);
		return;
	}
	if (client->accepted_count == 0 || client->mail_failed) {
		smtp_client_quit(client);
		return;
	}
	smtp_client_reply_fail_all(client, reply, false, SMTP_CLIENT_END_QUIT);
}

static void smtp_client_handle_dot(struct smtp_client *client,
				   const struct smtp_reply *reply)
{
	const char *text = smtp_client_reply_text(client, reply);
	const char *enh = smtp_client_reply_enhanced(client, reply);

	/* RFC 5321 section 4.2.5: only a 2xx to the dot hands over
	 * responsibility; until then every accepted recipient is open. */
	if (client->accepted_count > 0 && !client->mail_failed) {
		client->peer_decided = true;
		for (unsigned i = 0; i < client->msg.rcpt_count; i++) {
			if (client->rcpt_accepted[i])
				smtp_client_set_rcpt(
					client, i, reply_status(reply->code),
					reply->code, enh, text);
		}
	}
	smtp_client_quit(client);
}

static void smtp_client_handle_transaction(struct smtp_client *client,
					   const struct smtp_reply *reply)
{
	if (client->expected_count == 0) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.5.0", "unexpected reply from peer",
					false);
		return;
	}
	struct smtp_client_expected exp =
		client->expected[client->expected_head++];
	client->expected_count--;
	switch (exp.what) {
	case SMTP_CLIENT_EXPECT_MAIL:
		smtp_client_handle_mail(client, reply);
		break;
	case SMTP_CLIENT_EXPECT_RCPT:
		smtp_client_handle_rcpt(client, exp.rcpt_idx, reply);
		break;
	case SMTP_CLIENT_EXPECT_DATA:
		smtp_client_handle_data(client, reply);
		break;
	}
	/* A pipelined group answered in full without reaching DATA's 354
	 * (MAIL failed, every RCPT failed) has already been handled. */
}

static void smtp_client_handle_reply(struct smtp_client *client,
				     const struct smtp_reply *reply)
{
	switch (client->state) {
	case SMTP_CLIENT_STATE_GREETING:
		smtp_client_handle_greeting(client, reply);
		break;
	case SMTP_CLIENT_STATE_EHLO:
	case SMTP_CLIENT_STATE_HELO:
		smtp_client_handle_ehlo(client, reply);
		break;
	case SMTP_CLIENT_STATE_STARTTLS:
		smtp_client_handle_starttls(client, reply);
		break;
	case SMTP_CLIENT_STATE_AUTH:
		smtp_client_handle_auth(client, reply);
		break;
	case SMTP_CLIENT_STATE_TRANSACTION:
		smtp_client_handle_transaction(client, reply);
		break;
	case SMTP_CLIENT_STATE_DOT:
		smtp_client_handle_dot(client, reply);
		break;
	case SMTP_CLIENT_STATE_QUIT:
		smtp_client_finish(client);
		break;
	default:
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.5.0", "unexpected reply from peer",
					false);
		break;
	}
}

/* --- I/O --- */

static void smtp_client_read_cb(struct bufferevent *bev UNUSED, void *ctx)
{
	struct smtp_client *client = ctx;

	while (client->state != SMTP_CLIENT_STATE_DONE &&
	       client->state != SMTP_CLIENT_STATE_TLS_HANDSHAKE) {
		struct evbuffer *in = bufferevent_get_input(client->bev);
		size_t len = evbuffer_get_length(in), consumed = 0;
		struct smtp_reply reply;
		const char *error;
		int ret;

		if (len == 0)
			break;
		const uint8_t *data = evbuffer_pullup(in, -1);
		ret = smtp_reply_parser_parse(client->parser, data, len,
					      &consumed, &reply, &error);
		evbuffer_drain(in, consumed);
		if (ret < 0) {
			smtp_client_host_failed(
				client, SMTP_CLIENT_RCPT_TEMPFAIL, 0, "4.5.0",
				pool_printf(client->pool,
					    "protocol error from peer: %s",
					    error),
				false);
			break;
		}
		if (ret == 0)
			break;
		smtp_client_handle_reply(client, &reply);
	}
}

static void smtp_client_event_cb(struct bufferevent *bev UNUSED, short what,
				 void *ctx)
{
	struct smtp_client *client = ctx;
	const char *why;

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		if (client->state == SMTP_CLIENT_STATE_TLS_HANDSHAKE) {
			client->result.tls = true;
			smtp_client_send_ehlo(client);
			/* The server may have sent nothing yet; any
			 * buffered input is handled by the read callback. */
			return;
		}
		client->state = SMTP_CLIENT_STATE_GREETING;
		client->result.stage = "greeting";
		bufferevent_enable(client->bev, EV_READ | EV_WRITE);
		smtp_client_set_timeout(client,
					client->set.greeting_timeout_ms);
		return;
	}
	if (client->state == SMTP_CLIENT_STATE_QUIT) {
		/* The peer closed or was slow after QUIT: nothing lost. */
		smtp_client_finish(client);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		why = pool_printf(client->pool, "timeout at %s with %s",
				  stage_names[client->state],
				  client->result.remote_addr);
		client->result.stage = stage_names[client->state];
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					client->state ==
							SMTP_CLIENT_STATE_CONNECT
						? "4.4.1"
						: "4.4.2",
					why, false);
		return;
	}
	if (client->state == SMTP_CLIENT_STATE_CONNECT) {
		why = pool_printf(client->pool, "connect to %s failed: %s",
				  client->result.remote_addr,
				  evutil_socket_error_to_string(
					  EVUTIL_SOCKET_ERROR()));
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.4.1", why, false);
		return;
	}
	if (client->state == SMTP_CLIENT_STATE_TLS_HANDSHAKE) {
		unsigned long err = bufferevent_get_openssl_error(client->bev);
		char ebuf[256] = "handshake failed";
		if (err != 0)
			ERR_error_string_n(err, ebuf, sizeof(ebuf));
		why = pool_printf(client->pool, "TLS with %s failed: %s",
				  client->result.remote_addr, ebuf);
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.7.0", why, false);
		return;
	}
	why = pool_printf(client->pool, "connection to %s lost at %s",
			  client->result.remote_addr,
			  stage_names[client->state]);
	smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0, "4.4.2",
				why, false);
}

static int parse_ip(const char *ip, unsigned port,
		    struct sockaddr_storage *ss_r, socklen_t *len_r)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss_r;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss_r;

	memset(ss_r, 0, sizeof(*ss_r));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len_r = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*sin6);
		return 0;
	}
	return -1;
}

void smtp_client_run(struct smtp_client *client, const char *ip,
		     unsigned port, const char *source_ip,
		     smtp_client_callback_t *callback, void *ctx)
{
	struct sockaddr_storage ss, src;
	socklen_t sslen, srclen;
	int fd;

	i_assert(client->state == SMTP_CLIENT_STATE_INIT);
	client->callback = callback;
	client->ctx = ctx;
	client->ip = pool_strdup(client->pool, ip);
	client->port = port;
	client->result.remote_addr =
		strchr(ip, ':') != NULL
			? pool_printf(client->pool, "[%s]:%u", ip, port)
			: pool_printf(client->pool, "%s:%u", ip, port);
	client->parser = smtp_reply_parser_create(SMTP_CLIENT_MAX_REPLY_LINE,
						  SMTP_CLIENT_MAX_REPLY_LINES);
	client->state = SMTP_CLIENT_STATE_CONNECT;

	if (parse_ip(ip, port, &ss, &sslen) < 0) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.4.1", "bad destination address",
					false);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		smtp_client_host_failed(client, SMTP_CLIENT_RCPT_TEMPFAIL, 0,
					"4.4.1",
					pool_printf(client->pool,
						    "socket() failed: %s",
						    strerror(errno)),
					false);
		return;
	}
	if (source_ip != NULL && source_ip[0] != '\0') {
		if (parse_ip(source_ip, 0, &src, &srclen) < 0 ||
		    src.ss_family != ss.ss_family ||
		    bind(fd, (struct sockaddr *)&src, srclen) < 0) {
			const char *why = pool_printf(
				client->pool, "bind to source %s failed: %s",
				source_ip,
				src.ss_family != ss.ss_family
					? "address family differs"
					: strerror(errno));
			close(fd);
			smtp_client_host_failed(client,
						SMTP_CLIENT_RCPT_TEMPFAIL, 0,
						"4.4.1", why, false);
			return;
		}
	}
	client->bev = bufferevent_socket_new(client->base, fd,
					     BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(client->bev, smtp_client_read_cb, smtp_client_write_cb,
			  smtp_client_event_cb, client);
	smtp_client_set_timeout(client, client->set.connect_timeout_ms);
	if (bufferevent_socket_connect(client->bev, (struct sockaddr *)&ss,
				       (int)sslen) < 0) {
		smtp_client_host_failed(
			client, SMTP_CLIENT_RCPT_TEMPFAIL, 0, "4.4.1",
			pool_printf(client->pool, "connect to %s failed",
				    client->result.remote_addr),
			false);
	}
}

void *smtp_client_ssl_ctx_create(const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = "SSL_CTX_new() failed";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "strutil.h"
#include "conn.h"
#include "net-loop.h"
#include "store.h"
#include "auth-sasl.h"
#include "pop3d.h"

#include <event2/event.h>

struct pop3_command_def {
	const char *name;
	pop3_command_handler_t *handler;
	unsigned states; /* POP3_STATE_BIT()s */
	unsigned min_args, max_args;
	const char *usage;
};

/* RFC 1939 sections 4-7, RFC 2449 section 5 (CAPA), RFC 2595 section 4
 * (STLS), RFC 5034 section 4 (AUTH). */
static const struct pop3_command_def pop3_commands[] = {
	{ "CAPA", pop3_cmd_capa, POP3_IN_AUTH | POP3_IN_TRANS, 0, 0, "CAPA" },
	{ "USER", pop3_cmd_user, POP3_IN_AUTH, 1, 1, "USER name" },
	/* The password is cmd->rest: it may contain spaces. */
	{ "PASS", pop3_cmd_pass, POP3_IN_AUTH, 1, POP3_COMMAND_MAX_ARGS,
	  "PASS password" },
	{ "AUTH", pop3_cmd_auth, POP3_IN_AUTH, 0, 2,
	  "AUTH mechanism [initial-response]" },
	{ "STLS", pop3_cmd_stls, POP3_IN_AUTH, 0, 0, "STLS" },
	{ "QUIT", pop3_cmd_quit, POP3_IN_AUTH | POP3_IN_TRANS, 0, 0, "QUIT" },
	{ "STAT", pop3_cmd_stat, POP3_IN_TRANS, 0, 0, "STAT" },
	{ "LIST", pop3_cmd_list, POP3_IN_TRANS, 0, 1, "LIST [msg]" },
	{ "UIDL", pop3_cmd_uidl, POP3_IN_TRANS, 0, 1, "UIDL [msg]" },
	{ "RETR", pop3_cmd_retr, POP3_IN_TRANS, 1, 1, "RETR msg" },
	{ "TOP", pop3_cmd_top, POP3_IN_TRANS, 2, 2, "TOP msg lines" },
	{ "DELE", pop3_cmd_dele, POP3_IN_TRANS, 1, 1, "DELE msg" },
	{ "RSET", pop3_cmd_rset, POP3_IN_TRANS, 0, 0, "RSET" },
	{ "NOOP", pop3_cmd_noop, POP3_IN_TRANS, 0, 0, "NOOP" },
};

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list args;

	va_start(args, fmt);
	buf_vprintf(&b, fmt, args);
	va_end(args);
	buf_append(&b, "\r\n", 2);
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

const char *pop3_logq(const char *value)
{
	static __thread char q[256];

	return log_quote(q, sizeof(q), value != NULL ? value : "-");
}

bool pop3_session_secure(struct pop3_session *s)
{
	if (conn_is_tls(s->conn))
		return true;
	return s->server->plaintext_loopback &&
	       net_addr_is_loopback(conn_peer_addr(s->conn));
}

void pop3_session_sync_pause(struct pop3_session *s)
{
	bool busy = s->updating || s->stream != NULL ||
		    s->delay_timer != NULL ||
		    (s->auth != NULL && auth_session_is_pending(s->auth));

	if (conn_is_closed(s->conn))
		return;
	if (busy && !conn_is_paused(s->conn))
		conn_pause(s->conn);
	else if (!busy && conn_is_paused(s->conn))
		conn_resume(s->conn);
}

/* ---- throttle delay ---- */

static void pop3_delay_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			  void *ctx)
{
	struct pop3_session *s = ctx;

	event_free(s->delay_timer);
	s->delay_timer = NULL;
	conn_write_str(s->conn, s->delayed_reply);
	i_free(s->delayed_reply);
	pop3_session_sync_pause(s);
}

void pop3_session_delay_reply(struct pop3_session *s, unsigned delay_ms,
			      const char *reply)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	i_assert(s->delay_timer == NULL);
	if (delay_ms == 0) {
		conn_write_str(s->conn, reply);
		return;
	}
	s->delayed_reply = i_strdup(reply);
	s->delay_timer = evtimer_new(net_loop_base(conn_loop(s->conn)),
				     pop3_delay_cb, s);
	if (s->delay_timer == NULL)
		i_fatal("evtimer_new failed");
	evtimer_add(s->delay_timer, &tv);
	pop3_session_sync_pause(s);
}

/* ---- streaming multi-line responses ---- */

static void pop3_stream_end(struct pop3_session *s)
{
	i_free(s->stream);
	pop3_session_sync_pause(s);
}

/* Returns 1 when the body is complete, 0 when more is to come, -1 when the
 * body could not be read (the connection is closed: the response is
 * already half sent and cannot turn into -ERR). */
static int pop3_stream_body(struct pop3_session *s, struct buf *out)
{
	struct pop3_stream *st = s->stream;
	struct store_body *body;
	const char *error;
	uint8_t *chunk;
	int ret;

	ret = store_body_open(s->server->store, st->body_id, &body, &error);
	if (ret <= 0) {
		log_error(s->sid, "pop3_body_failed", "body_id=%lld error=%s",
			  (long long)st->body_id,
			  pop3_logq(ret == 0 ? "body gone" : error));
		return -1;
	}
	chunk = i_malloc(POP3_BODY_CHUNK);
	ret = 0;
	while (conn_output_pending(s->conn) <= POP3_OUTPUT_TARGET) {
		ssize_t n = 0;
		if (st->offset < st->size) {
			n = store_body_read(body, st->offset, chunk,
					    (size_t)MIN(POP3_BODY_CHUNK,
							st->size - st->offset),
					    &error);
			if (n < 0) {
				log_error(s->sid, "pop3_body_failed",
					  "body_id=%lld error=%s",
					  (long long)st->body_id,
					  pop3_logq(error));
				ret = -1;
				break;
			}
		}
		buf_reset(out);
		if (n > 0) {
			st->offset += (uint64_t)n;
			pop3_dotstuff_feed(&st->ds, chunk, (size_t)n, out);
		}
		if (n == 0 || st->offset >= st->size ||
		    pop3_dotstuff_done(&st->ds)) {
			pop3_dotstuff_finish(&st->ds, out);
			ret = 1;
		}
		conn_write(s->conn, out->data, out->len);
		if (ret != 0)
			break;
	}
	i_free(chunk);
	store_body_close(&body);
	return ret;
}

/* LIST and UIDL lines, RFC 1939 section 5 and 7. Deleted messages are
 * left out. */
static int pop3_stream_listing(struct pop3_session *s, struct buf *out)
{
	struct pop3_stream *st = s->stream;
	struct pop3_maildrop *md = s->maildrop;
	char uidl[POP3_UIDL_MAX_LEN];

	while (conn_output_pending(s->conn) <= POP3_OUTPUT_TARGET) {
		buf_reset(out);
		for (unsigned n = 0; n < 1024 && st->next < md->count; n++) {
			const struct pop3_message *msg = &md->msgs[st->next++];
			if (msg->deleted)
				continue;
			if (st->kind == POP3_STREAM_LIST) {
				buf_printf(out, "%u %llu\r\n", st->next,
					   (unsigned long long)msg->size);
			} else {
				pop3_maildrop_uidl(md, msg, uidl);
				buf_printf(out, "%u %s\r\n", st->next, uidl);
			}
		}
		if (st->next == md->count)
			buf_append(out, ".\r\n", 3);
		conn_write(s->conn, out->data, out->len);
		if (st->next == md->count)
			return 1;
	}
	return 0;
}

static void pop3_stream_fill(struct pop3_session *s)
{
	struct buf out = BUF_INIT;
	int ret;

	if (s->stream == NULL || conn_is_closed(s->conn))
		return;
	if (s->stream->kind == POP3_STREAM_BODY)
		ret = pop3_stream_body(s, &out);
	else
		ret = pop3_stream_listing(s, &out);
	buf_free(&out);
	if (ret < 0) {
		i_free(s->stream);
		conn_close(s->conn, "message body unreadable");
	} else if (ret > 0) {
		pop3_stream_end(s);
	}
	/* ret == 0: on_write_ready() continues. */
}

void pop3_session_stream_start(struct pop3_session *s,
			       struct pop3_stream *stream)
{
	i_assert(s->stream == NULL);
	s->stream = stream;
	pop3_session_sync_pause(s);
	pop3_stream_fill(s);
}

/* ---- dispatch ---- */

static const struct pop3_command_def *pop3_command_find(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(pop3_commands); i++) {
		if (strcmp(pop3_commands[i].name, name) == 0)
			return &pop3_commands[i];
	}
	return NULL;
}

static const char *pop3_state_name(enum pop3_state state)
{
	switch (state) {
	case POP3_STATE_AUTHORIZATION:
		return "authorization";
	case POP3_STATE_TRANSACTION:
		return "transaction";
	case POP3_STATE_UPDATE:
		return "update";
	}
	i_unreached();
}

static const char *pop3_state_error(enum pop3_state state)
{
	switch (state) {
	case POP3_STATE_AUTHORIZATION:
		return "Not logged in: authenticate first";
	case POP3_STATE_TRANSACTION:
		return "Already logged in";
	case POP3_STATE_UPDATE:
		return "Session is ending";
	}
	i_unreached();
}

/* text: the -ERR line's text. */
static void pop3_bad_command(struct pop3_session *s, const char *text)
{
	pop3_reply(s, "-ERR %s", text);
	if (++s->bad_commands >= POP3_MAX_BAD_COMMANDS) {
		pop3_reply(s, "-ERR Too many bad commands, closing");
		conn_close_after_flush(s->conn, "too many bad commands");
	}
}

static void pop3_dispatch(struct pop3_session *s, const uint8_t *line,
			  size_t len)
{
	struct pop3_command *cmd = i_new(struct pop3_command, 1);
	const struct pop3_command_def *def;
	const char *error;

	if (pop3_command_parse(line, len, cmd, NULL, &error) < 0) {
		log_debug(s->sid, "pop3_bad_command", "error=%s",
			  pop3_logq(error));
		pop3_bad_command(s, error);
		goto out;
	}
	def = pop3_command_find(cmd->name);
	if (def == NULL) {
		log_debug(s->sid, "pop3_unknown_command", "name=%s",
			  pop3_logq(cmd->name));
		pop3_bad_command(s, "Unknown command");
		goto out;
	}
	if ((def->states & POP3_STATE_BIT(s->state)) == 0) {
		pop3_bad_command(s, pop3_state_error(s->state));
		goto out;
	}
	if (cmd->argc < def->min_args || cmd->argc > def->max_args) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "Wrong number of arguments, usage: %s",
			   def->usage);
		pop3_bad_command(s, buf_cstr(&b));
		buf_free(&b);
		goto out;
	}
	s->bad_commands = 0;
	def->handler(s, cmd);
out:
	i_free(cmd);
}

/* ---- connection handlers ---- */

static void pop3_on_connect(struct conn *conn)
{
	struct pop3_session *s = i_new(struct pop3_session, 1);

	s->conn = conn;
	s->server = conn_service_context(conn);
	s->sid = conn_sid(conn);
	s->state = POP3_STATE_AUTHORIZATION;
	s->target = net_loop_completion_target(conn_loop(conn));
	conn_set_context(conn, s);
	conn_set_max_line_length(conn, POP3_MAX_LINE_LENGTH);
	log_info(s->sid, "pop3_connect", "service=%s ip=%s tls=%s",
		 s->server->name, conn_peer_ip(conn),
		 conn_is_tls(conn) ? "yes" : "no");
	/* RFC 1939 section 4; no APOP, so no timestamp. */
	pop3_reply(s, "+OK Posthorn POP3 server ready");
}

static void pop3_on_line(struct conn *conn, const uint8_t *line, size_t len,
			 bool crlf UNUSED)
{
	struct pop3_session *s = conn_get_context(conn);

	if (s->sasl_exchange) {
		char *resp = i_strndup((const char *)line, len);
		if (strlen(resp) != len) {
			i_free(resp);
			resp = i_strdup("\x01"); /* NUL inside: malformed */
		}
		pop3_auth_sasl_line(s, resp);
		i_free(resp);
		return;
	}
	pop3_dispatch(s, line, len);
}

static void pop3_on_line_too_long(struct conn *conn)
{
	struct pop3_session *s = conn_get_context(conn);

	if (s->sasl_exchange) {
		/* RFC 5034 section 4: a response we cannot take ends the
		 * exchange with -ERR. */
		pop3_session_auth_cleanup(s);
		pop3_reply(s, "-ERR Authentication response too long");
		return;
	}
	pop3_bad_command(s, "Command line too long");
}

static void pop3_on_tls_done(struct conn *conn, bool ok)
{
	struct pop3_session *s = conn_get_context(conn);

	if (!ok)
		return;
	/* RFC 2595 section 4: forget anything learned before TLS. */
	i_free(s->user);
	log_info(s->sid, "pop3_starttls", "version=%s cipher=%s",
		 conn_tls_version(conn), conn_tls_cipher(conn));
}

static void pop3_on_timeout(struct conn *conn)
{
	struct pop3_session *s = conn_get_context(conn);

	log_info(s->sid, "pop3_idle_timeout", "state=%s streaming=%s",
		 pop3_state_name(s->state), s->stream != NULL ? "yes" : "no");
	/* A client stuck in the middle of a RETR gets no text appended to
	 * the message it is (not) reading. */
	if (s->stream == NULL)
		pop3_reply(s, "-ERR Disconnected for inactivity");
}

static void pop3_on_write_ready(struct conn *conn)
{
	pop3_stream_fill(conn_get_context(conn));
}

static void pop3_on_shutdown(struct conn *conn)
{
	struct pop3_session *s = conn_get_context(conn);

	/* An UPDATE in flight answers from its commit callback. */
	if (s->updating)
		return;
	if (s->stream == NULL)
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
	conn_close_after_flush(conn, "shutdown");
}

static void pop3_on_close(struct conn *conn)
{
	struct pop3_session *s = conn_get_context(conn);

	if (s == NULL)
		return;
	pop3_session_auth_cleanup(s);
	if (s->delay_timer != NULL) {
		event_free(s->delay_timer);
		s->delay_timer = NULL;
	}
	i_free(s->delayed_reply);
	i_free(s->stream);
	/* RFC 1939 section 6: without QUIT nothing is expunged. */
	if (s->lock_held)
		pop3_maildrop_unlock(s->maildrop->mailbox_id);
	log_info(s->sid, "pop3_disconnect", "user=%s state=%s in=%llu out=%llu",
		 s->username != NULL ? s->username : "-",
		 pop3_state_name(s->state),
		 (unsigned long long)conn_bytes_in(conn),
		 (unsigned long long)conn_bytes_out(conn));
	pop3_maildrop_free(&s->maildrop);
	i_free(s->user);
	i_free(s->username);
	conn_set_context(conn, NULL);
	i_free(s);
}

const struct conn_handlers pop3d_conn_handlers = {
	.on_connect = pop3_on_connect,
	.on_line = pop3_on_line,
	.on_line_too_long = pop3_on_line_too_long,
	.on_tls_done = pop3_on_tls_done,
	.on_timeout = pop3_on_timeout,
	.on_write_ready = pop3_on_write_ready,
	.on_shutdown = pop3_on_shutdown,
	.on_close = pop3_on_close,
};

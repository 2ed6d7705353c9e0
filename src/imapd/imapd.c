/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "log.h"
#include "strutil.h"
#include "conn.h"
#include "net-addr.h"
#include "net-loop.h"
#include "workpool.h"
#include "config.h"
#include "service.h"
#include "store.h"
#include "auth-sasl.h"
#include "imap-quote.h"
#include "imap-utf7.h"

#include <event2/event.h>
#include <pthread.h>

#define IMAPD_MAX_LINE (64 * 1024)
#define IMAPD_DEFAULT_MAX_MESSAGE (50 * 1024 * 1024)
#define IMAPD_PREAUTH_IDLE_TIMEOUT_MS (60 * 1000)

static void client_input_loop(struct imapd_client *client,
			      const uint8_t *data, size_t len, bool line);

/* --- output --- */

void imapd_write(struct imapd_client *client, const void *data, size_t len)
{
	conn_write(client->conn, data, len);
}

void imapd_write_str(struct imapd_client *client, const char *str)
{
	conn_write_str(client->conn, str);
}

void imapd_printf(struct imapd_client *client, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list args;
	va_start(args, fmt);
	buf_vprintf(&b, fmt, args);
	va_end(args);
	conn_write(client->conn, b.data, b.len);
	buf_free(&b);
}

void imapd_write_buf(struct imapd_client *client, struct buf *b)
{
	conn_write(client->conn, b->data, b->len);
	buf_reset(b);
}

/* --- state --- */

bool imapd_client_secure(struct imapd_client *client)
{
	if (conn_is_tls(client->conn))
		return true;
	/* DESIGN.md: plaintext passwords only over TLS, except on loopback. */
	const char *ip = conn_peer_ip(client->conn);
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strncmp(ip, "::ffff:127.", 11) == 0;
}

struct completion_target imapd_client_target(struct imapd_client *client)
{
	return net_loop_completion_target(conn_loop(client->conn));
}

const char *imapd_capabilities(struct imapd_client *client, struct buf *b)
{
	buf_reset(b);
	buf_append_str(b, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE MULTIAPPEND "
			  "NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
			  "LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH "
			  "SEARCHRES STATUS=SIZE BINARY UTF8=ACCEPT CONDSTORE QRESYNC");
	if (client->state == IMAPD_STATE_NOT_AUTH) {
		bool secure = imapd_client_secure(client);
		if (!conn_is_tls(client->conn) && conn_can_starttls(client->conn))
			buf_append_str(b, " STARTTLS");
		if (!secure)
			buf_append_str(b, " LOGINDISABLED");
		if (client->svc->auth != NULL) {
			uint8_t cb[32];
			bool have_cb = conn_is_tls(client->conn) &&
				conn_tls_exporter(client->conn,
					CONN_TLS_EXPORTER_CHANNEL_BINDING, cb,
					sizeof(cb)) == 0;
			const char *mechs = auth_server_mechanisms(
				client->svc->auth, secure, have_cb);
			const char *p = mechs;
			while (*p != '\0') {
				const char *sp = strchr(p, ' ');
				size_t n = sp == NULL ? strlen(p) : (size_t)(sp - p);
				buf_append_str(b, " AUTH=");
				buf_append(b, p, n);
				p += n;
				while (*p == ' ')
					p++;
			}
		}
	}
	return buf_cstr(b);
}

const char *imapd_mailbox_name_in(struct imapd_client *client,
				  const char *name, const char **error_r)
{
	const char *out = name;

	if (!client->utf8) {
		struct buf b = BUF_INIT;
		if (imap_utf7_to_utf8(name, &b) < 0) {
			buf_free(&b);
			*error_r = "Mailbox name is not valid modified UTF-7";
			return NULL;
		}
		out = pool_strndup(client->cmd.pool, buf_cstr(&b), b.len);
		buf_free(&b);
	}
	if (!imap_utf8_is_valid_name(out) || out[0] == '\0') {
		*error_r = "Invalid mailbox name";
		return NULL;
	}
	if (strlen(out) > STORE_MAILBOX_NAME_MAX) {
		*error_r = "Mailbox name too long";
		return NULL;
	}
	if (str_ascii_has_prefix_ci(out, "INBOX") &&
	    (out[5] == '\0' || out[5] == STORE_HIERARCHY_SEP) &&
	    strncmp(out, "INBOX", 5) != 0) {
		char *copy = pool_strdup(client->cmd.pool, out);
		memcpy(copy, "INBOX", 5);
		out = copy;
	}
	return out;
}

void imapd_append_mailbox_name(struct imapd_client *client, struct buf *b,
			       const char *name)
{
	if (client->utf8) {
		imap_append_string(b, name);
		return;
	}
	struct buf tmp = BUF_INIT;
	if (imap_utf8_to_utf7(name, &tmp) < 0) {
		buf_reset(&tmp);
		buf_append_str(&tmp, name);
	}
	imap_append_string(b, buf_cstr(&tmp));
	buf_free(&tmp);
}

const char *imapd_store_error_text(int store_error, const char *text)
{
	switch ((enum store_error)store_error) {
	case STORE_OK:
		return "OK";
	case STORE_ERR_NOT_FOUND:
		return "[NONEXISTENT] No such mailbox or message";
	case STORE_ERR_EXISTS:
		return "[ALREADYEXISTS] Mailbox already exists";
	case STORE_ERR_OVER_QUOTA:
		return "[OVERQUOTA] Quota exceeded";
	case STORE_ERR_INVALID:
		return "[CANNOT] Invalid name or operation";
	case STORE_ERR_HAS_CHILDREN:
		return "[INUSE] Mailbox has children";
	case STORE_ERR_DISK_FULL:
		return "[LIMIT] Disk full, try again later";
	case STORE_ERR_TEMP:
		break;
	}
	(void)text;
	return "[UNAVAILABLE] Temporary failure, try again later";
}

/* --- sessions per user (all loops) --- */

struct user_sessions {
	int64_t account_id;
	unsigned count;
};
static pthread_mutex_t user_sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct user_sessions *user_sessions;
static size_t user_sessions_count, user_sessions_cap;

bool imapd_user_session_add(int64_t account_id)
{
	bool ok = true;
	size_t i;

	pthread_mutex_lock(&user_sessions_lock);
	for (i = 0; i < user_sessions_count; i++) {
		if (user_sessions[i].account_id == account_id)
			break;
	}
	if (i == user_sessions_count) {
		if (user_sessions_count == user_sessions_cap) {
			user_sessions_cap = user_sessions_cap == 0 ? 16 : user_sessions_cap * 2;
			user_sessions = i_realloc(user_sessions, user_sessions_cap *
							       sizeof(*user_sessions));
		}
		user_sessions[i].account_id = account_id;
		user_sessions[i].count = 0;
		user_sessions_count++;
	}
	if (user_sessions[i].count >= IMAPD_MAX_SESSIONS_PER_USER)
		ok = false;
	else
		user_sessions[i].count++;
	pthread_mutex_unlock(&user_sessions_lock);
	return ok;
}

void imapd_user_session_remove(int64_t account_id)
{
	pthread_mutex_lock(&user_sessions_lock);
	for (size_t i = 0; i < user_sessions_count; i++) {
		if (user_sessions[i].account_id != account_id)
			continue;
		if (--user_sessions[i].count == 0)
			user_sessions[i] = user_sessions[--user_sessions_count];
		break;
	}
	pthread_mutex_unlock(&user_sessions_lock);
}

/* --- store transactions --- */

struct txn_wait {
	struct imapd_client *client;
	imapd_txn_done_t *done;
	void *ctx;
};

static void txn_callback(struct store_txn *txn, void *context)
{
	struct txn_wait *w = context;
	struct imapd_client *client = w->client;
	imapd_txn_done_t *done = w->done;
	void *ctx = w->ctx;

	free(w);
	if (imapd_client_unref(client))
		done(client, txn, ctx);
}

void imapd_txn_commit(struct imapd_client *client, struct store_txn *txn,
		      imapd_txn_done_t *done, void *ctx)
{
	struct txn_wait *w = i_new(struct txn_wait, 1);
	w->client = client;
	w->done = done;
	w->ctx = ctx;
	imapd_client_ref(client);
	imapd_cmd_async(client);
	store_txn_commit(txn, &client->target, txn_callback, w);
}

void imapd_txn_reply(struct imapd_client *client, struct store_txn *txn,
		     const char *ok_text)
{
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	if (err == STORE_OK)
		imapd_cmd_reply(client, "OK", "%s", ok_text);
	else
		imapd_cmd_reply(client, "NO", "%s", imapd_store_error_text(err, text));
}

/* --- client lifetime --- */

void imapd_client_ref(struct imapd_client *client)
{
	client->refcount++;
	conn_ref(client->conn);
}

static void client_free(struct imapd_client *client)
{
	imap_parser_destroy(&client->parser);
	imap_seqset_free(&client->saved);
	i_free(client->username);
	i_free(client->tag_copy);
	free(client);
}

bool imapd_client_unref(struct imapd_client *client)
{
	struct conn *conn = client->conn;
	bool alive = !client->closed;

	i_assert(client->refcount > 0);
	if (--client->refcount == 0)
		client_free(client);
	conn_unref(&conn);
	return alive;
}

/* --- commands --- */

void imapd_cmd_async(struct imapd_client *client)
{
	if (!conn_is_paused(client->conn))
		conn_pause(client->conn);
}

void imapd_cmd_reply(struct imapd_client *client, const char *status,
		     const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list args;

	if (client->mbox != NULL)
		imapd_mailbox_flush_changes(client, !client->no_expunge);
	buf_printf(&b, "%s %s ", client->cmd.tag, status);
	va_start(args, fmt);
	buf_vprintf(&b, fmt, args);
	va_end(args);
	buf_append_str(&b, "\r\n");
	conn_write(client->conn, b.data, b.len);
	buf_free(&b);
	i_free(client->tag_copy);

	client->busy = false;
	client->no_expunge = false;
	client->command = NULL;
	/* The command's memory is the parser's: cleared at the next feed. */
	memset(&client->cmd, 0, sizeof(client->cmd));
	if (client->state == IMAPD_STATE_LOGOUT) {
		conn_close_after_flush(client->conn, "logout");
		return;
	}
	if (conn_is_paused(client->conn))
		conn_resume(client->conn);
}

static void client_dispatch(struct imapd_client *client,
			    const struct imap_command *pcmd)
{
	const struct imapd_command *c = imapd_command_find(pcmd->name);
	unsigned state_flag;

	client->cmd.pool = imap_parser_command_pool(client->parser);
	client->cmd.tag = pcmd->tag;
	client->cmd.name = pcmd->name;
	client->cmd.uid = pcmd->uid;
	client->cmd.args = pcmd->args;
	client->cmd.args_count = pcmd->args_count;
	client->busy = true;

	if (c == NULL || (pcmd->uid && (c->flags & IMAPD_CMD_UID) == 0)) {
		imapd_cmd_reply(client, "BAD", "Unknown command %s%s",
				pcmd->uid ? "UID " : "", pcmd->name);
		return;
	}
	switch (client->state) {
	case IMAPD_STATE_NOT_AUTH:
		state_flag = IMAPD_CMD_NOT_AUTH;
		break;
	case IMAPD_STATE_AUTH:
		state_flag = IMAPD_CMD_AUTH;
		break;
	case IMAPD_STATE_SELECTED:
		state_flag = IMAPD_CMD_SELECTED;
		break;
	default:
		state_flag = 0;
		break;
	}
	if ((c->flags & state_flag) == 0) {
		imapd_cmd_reply(client, "BAD", "%s not allowed now",
				pcmd->name);
		return;
	}
	client->command = c;
	client->no_expunge = (c->flags & IMAPD_CMD_NO_EXPUNGE) != 0 && !pcmd->uid;
	c->func(client, &client->cmd);
}

static void client_handle_literal(struct imapd_client *client)
{
	uint64_t size = imap_parser_literal_size(client->parser);
	const char *name = imap_parser_command_name(client->parser);
	const char *tag = imap_parser_tag(client->parser);
	const char *error;
	bool append = name != NULL && strcmp(name, "APPEND") == 0;

	if (client->state == IMAPD_STATE_NOT_AUTH &&
	    (name == NULL || (strcmp(name, "LOGIN") != 0 &&
			      strcmp(name, "AUTHENTICATE") != 0))) {
		/* Only small literals before login. */
		if (size > 8192) {
			imap_parser_literal_reject(client->parser);
			imapd_printf(client, "%s BAD Literal too large before login\r\n",
				     tag);
			return;
		}
	}
	if (imap_parser_literal_accept(client->parser, &error) < 0) {
		imap_parser_literal_reject(client->parser);
		if (append)
			imapd_printf(client, "%s NO [TOOBIG] Message too large\r\n", tag);
		else
			imapd_printf(client, "%s BAD %s\r\n", tag, error);
		return;
	}
	imapd_write_str(client, "+ OK\r\n");
}

/* Runs the parser over input until it needs more or a command goes
 * asynchronous. */
static void client_input_loop(struct imapd_client *client,
			      const uint8_t *data, size_t len, bool line)
{
	bool crlf_pending = line;

	for (;;) {
		size_t used = 0;
		enum imap_parse_result r;

		if (len > 0) {
			r = imap_parser_feed(client->parser, data, len, &used);
			data += used;
			len -= used;
		} else if (crlf_pending) {
			crlf_pending = false;
			r = imap_parser_feed(client->parser,
					     (const uint8_t *)"\r\n", 2, &used);
		} else {
			break;
		}
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_LITERAL:
			client_handle_literal(client);
			break;
		case IMAP_PARSE_COMMAND:
			client_dispatch(client, imap_parser_command(client->parser));
			break;
		case IMAP_PARSE_ERROR: {
			bool fatal;
			const char *error = imap_parser_error(client->parser, &fatal);
			const char *tag = imap_parser_tag(client->parser);
			if (fatal) {
				imapd_printf(client, "* BYE %s\r\n", error);
				conn_close_after_flush(client->conn, "protocol error");
				return;
			}
			imapd_printf(client, "%s BAD %s\r\n",
				     tag == NULL ? "*" : tag, error);
			break;
		}
		}
		/* The parser hands out one command at a time: with input
		 * paused for an asynchronous command the rest of a line
		 * cannot be left over, since a command ends its line. */
		if (client->busy || conn_is_closed(client->conn))
			break;
	}
	uint64_t pending = imap_parser_literal_pending(client->parser);
	if (pending > 0 && !conn_is_closed(client->conn))
		conn_read_raw(client->conn, pending);
}

/* --- connection handlers --- */

static void imapd_on_connect(struct conn *conn)
{
	struct imapd_service *svc = conn_service_context(conn);
	struct imapd_client *client = i_new(struct imapd_client, 1);
	struct imap_parser_settings set;
	struct buf b = BUF_INIT;

	client->conn = conn;
	client->svc = svc;
	client->sid = conn_sid(conn);
	client->refcount = 1;
	client->target = net_loop_completion_target(conn_loop(conn));
	imap_parser_settings_default(&set);
	set.max_line_length = IMAPD_MAX_LINE;
	set.max_append_literal_size = svc->max_message_size;
	set.max_literals_total = svc->max_message_size * 2 + 65536;
	client->parser = imap_parser_create(&set);
	conn_set_context(conn, client);
	conn_set_max_line_length(conn, IMAPD_MAX_LINE + 1024);
	/* Unauthenticated connections do not get to sit for half an hour. */
	conn_set_idle_timeout(conn, MIN(svc->idle_timeout_ms,
					IMAPD_PREAUTH_IDLE_TIMEOUT_MS));

	imapd_capabilities(client, &b);
	imapd_printf(client, "* OK [CAPABILITY %s] Posthorn IMAP ready\r\n",
		     buf_cstr(&b));
	buf_free(&b);
}

static void imapd_on_line(struct conn *conn, const uint8_t *line, size_t len,
			  bool crlf)
{
	struct imapd_client *client = conn_get_context(conn);
	(void)crlf;

	if (client->input == IMAPD_INPUT_IDLE ||
	    client->input == IMAPD_INPUT_AUTHENTICATE) {
		char *str = i_strndup((const char *)line, len);
		if (client->input == IMAPD_INPUT_IDLE)
			imapd_idle_input_line(client, str);
		else
			imapd_auth_input_line(client, str);
		i_free(str);
		return;
	}
	if (client->busy) {
		/* Cannot happen with input paused; be safe. */
		return;
	}
	client_input_loop(client, line, len, true);
}

static void imapd_on_raw(struct conn *conn, const uint8_t *data, size_t len)
{
	struct imapd_client *client = conn_get_context(conn);
	client_input_loop(client, data, len, false);
}

static void imapd_on_line_too_long(struct conn *conn)
{
	conn_write_str(conn, "* BYE Command line too long\r\n");
	conn_close_after_flush(conn, "line too long");
}

static void imapd_on_tls_done(struct conn *conn, bool ok)
{
	struct imapd_client *client = conn_get_context(conn);
	if (ok)
		imap_parser_reset(client->parser);
}

static void imapd_on_timeout(struct conn *conn)
{
	conn_write_str(conn, "* BYE Idle timeout\r\n");
}

static void imapd_on_write_ready(struct conn *conn)
{
	struct imapd_client *client = conn_get_context(conn);
	if (client->fetch_ctx != NULL)
		imapd_fetch_write_ready(client);
}

static void imapd_on_shutdown(struct conn *conn)
{
	struct imapd_client *client = conn_get_context(conn);
	/* A command waiting for the store finishes first (its reply is
	 * owed); an IDLE has nothing in flight. */
	if (!client->busy || (client->input == IMAPD_INPUT_IDLE &&
			      !conn_is_paused(conn))) {
		conn_write_str(conn, "* BYE Server shutting down\r\n");
		conn_close_after_flush(conn, "shutdown");
	}
}

static void imapd_on_close(struct conn *conn)
{
	struct imapd_client *client = conn_get_context(conn);

	if (client == NULL)
		return;
	client->closed = true;
	if (client->session_counted)
		imapd_user_session_remove(client->account_id);
	imapd_fetch_free(client);
	imapd_auth_client_free(client);
	imapd_mailbox_close(client);
	conn_set_context(conn, NULL);
	if (--client->refcount == 0)
		client_free(client);
}

static const struct conn_handlers imapd_handlers = {
	.on_connect = imapd_on_connect,
	.on_line = imapd_on_line,
	.on_line_too_long = imapd_on_line_too_long,
	.on_raw = imapd_on_raw,
	.on_tls_done = imapd_on_tls_done,
	.on_timeout = imapd_on_timeout,
	.on_write_ready = imapd_on_write_ready,
	.on_shutdown = imapd_on_shutdown,
	.on_close = imapd_on_close,
};

/* --- service registration --- */

static int imapd_init(const struct service_env *env, bool implicit_tls,
		      void **context_r, const char **error_r)
{
	struct imapd_service *svc = i_new(struct imapd_service, 1);
	(void)error_r;
	svc->store = env->store;
	svc->auth = (struct auth_server *)env->auth;
	svc->implicit_tls = implicit_tls;
	svc->max_message_size = env->config != NULL &&
					env->config->smtp.max_message_size > 0
				? env->config->smtp.max_message_size
				: IMAPD_DEFAULT_MAX_MESSAGE;
	svc->idle_timeout_ms = env->config != NULL &&
				       env->config->limits.imap_idle_timeout > 0
			       ? env->config->limits.imap_idle_timeout * 1000u
			       : 30 * 60 * 1000u;
	*context_r = svc;
	return 0;
}

static int imapd_init_plain(const struct service_env *env, void **context_r,
			    const char **error_r)
{
	return imapd_init(env, false, context_r, error_r);
}

static int imapd_init_tls(const struct service_env *env, void **context_r,
			  const char **error_r)
{
	return imapd_init(env, true, context_r, error_r);
}

static void imapd_deinit(void *context)
{
	free(context);
}

static const struct service imapd_service_imap = {
	.name = "imap",
	.handlers = &imapd_handlers,
	.too_many_message = "* BYE Too many connections\r\n",
	.init = imapd_init_plain,
	.deinit = imapd_deinit,
};

static const struct service imapd_service_imaps = {
	.name = "imaps",
	.handlers = &imapd_handlers,
	.init = imapd_init_tls,
	.deinit = imapd_deinit,
};

const struct service *const imapd_services[] = {
	&imapd_service_imap,
	&imapd_service_imaps,
	NULL,
};

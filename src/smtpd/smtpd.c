/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"
#include "service.h"
#include "strutil.h"
#ifdef HAVE_QUEUE_DAEMON
#include "queue-daemon.h"
#endif

/* Bad commands tolerated in one session before we hang up. */
#define SMTPD_MAX_ERRORS 20

#define S(x) SMTPD_STATE_BIT(SMTPD_STATE_##x)
/* Any state in which a command line can arrive. */
#define S_CMD (S(INIT) | S(READY) | S(MAIL) | S(RCPT) | S(BDAT))

static const struct smtpd_command smtpd_commands[] = {
	{SMTP_VERB_HELO, smtpd_cmd_helo, S_CMD & ~S(BDAT),
	 "Error: HELO inside a BDAT transaction"},
	{SMTP_VERB_EHLO, smtpd_cmd_ehlo, S_CMD & ~S(BDAT),
	 "Error: EHLO inside a BDAT transaction"},
	{SMTP_VERB_MAIL, smtpd_cmd_mail, S(READY), NULL},
	{SMTP_VERB_RCPT, smtpd_cmd_rcpt, S(MAIL) | S(RCPT), NULL},
	{SMTP_VERB_DATA, smtpd_cmd_data, S(RCPT) | S(MAIL), NULL},
	/* BDAT must read its chunk even when refused, so it checks the
	 * state itself (RFC 3030 section 2). */
	{SMTP_VERB_BDAT, smtpd_cmd_bdat, S_CMD, NULL},
	{SMTP_VERB_RSET, smtpd_cmd_rset, S_CMD, NULL},
	{SMTP_VERB_NOOP, smtpd_cmd_noop, S_CMD, NULL},
	{SMTP_VERB_QUIT, smtpd_cmd_quit, S_CMD, NULL},
	{SMTP_VERB_HELP, smtpd_cmd_help, S_CMD, NULL},
	{SMTP_VERB_VRFY, smtpd_cmd_vrfy, S_CMD & ~S(BDAT), NULL},
	{SMTP_VERB_EXPN, smtpd_cmd_expn, S_CMD & ~S(BDAT), NULL},
	{SMTP_VERB_STARTTLS, smtpd_cmd_starttls, S(INIT) | S(READY),
	 "Error: STARTTLS inside a mail transaction"},
	/* The MX answers 502 and submission 503 in a transaction: the
	 * handler decides (smtpd-cmd-auth.c). */
	{SMTP_VERB_AUTH, smtpd_cmd_auth, S_CMD, NULL},
};

static const char *out_of_order_text(const struct smtpd_session *session,
				     const struct smtpd_command *cmd)
{
	if (session->state == SMTPD_STATE_BDAT)
		return "Error: only BDAT, RSET, NOOP and QUIT are allowed "
		       "during a BDAT transaction";
	if (cmd->out_of_order != NULL)
		return cmd->out_of_order;
	switch (cmd->verb) {
	case SMTP_VERB_MAIL:
		return session->state == SMTPD_STATE_INIT ?
			"Error: send HELO/EHLO first" :
			"Error: nested MAIL command";
	case SMTP_VERB_RCPT:
		return session->state == SMTPD_STATE_INIT ?
			"Error: send HELO/EHLO first" : "Error: need MAIL command";
	case SMTP_VERB_DATA:
		return session->state == SMTPD_STATE_INIT ?
			"Error: send HELO/EHLO first" : "Error: need RCPT command";
	default:
		return "Bad sequence of commands";
	}
}

void smtpd_reply(struct smtpd_session *session, unsigned code,
		 const char *enhanced, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list args;

	buf_printf(&b, "%03u ", code);
	if (enhanced != NULL)
		buf_printf(&b, "%s ", enhanced);
	va_start(args, fmt);
	buf_vprintf(&b, fmt, args);
	va_end(args);
	buf_append(&b, "\r\n", 2);
	conn_write(session->conn, b.data, b.len);
	buf_free(&b);
}

void smtpd_reply_error(struct smtpd_session *session,
		       const struct smtp_error *error)
{
	smtpd_reply(session, error->code, error->enhanced, "%s", error->text);
}

void smtpd_client_error(struct smtpd_session *session)
{
	if (++session->error_count < SMTPD_MAX_ERRORS)
		return;
	smtpd_reply(session, 421, "4.7.0", "%s Error: too many errors",
		    session->config->server.hostname);
	log_info(session->sid, "smtp_close", "reason=too_many_errors");
	session->state = SMTPD_STATE_QUIT;
	conn_close_after_flush(session->conn, "too many errors");
}

void smtpd_transaction_reset(struct smtpd_session *session)
{
	pool_clear(session->txn_pool);
	memset(&session->mail, 0, sizeof(session->mail));
	session->rcpts = NULL;
	session->rcpt_count = session->rcpt_alloc = 0;
	session->account_ids = NULL;
	session->account_count = session->account_alloc = 0;
	session->remote = NULL;
	session->remote_count = session->remote_alloc = 0;
	session->queue_id[0] = '\0';
	buf_free(&session->msg);
	session->header_len = 0;
	session->return_path_len = 0;
	session->line_too_long = false;
	session->msg_start = 0;
	session->dsn_queued = false;
	session->bdat_last = false;
	session->bdat_failed = false;
	session->bdat_total = 0;
	smtp_data_decoder_destroy(&session->decoder);
	smtpd_mailauth_reset(session);
}

void smtpd_transaction_end(struct smtpd_session *session)
{
	smtpd_transaction_reset(session);
	session->state = session->helo != NULL ? SMTPD_STATE_READY :
		SMTPD_STATE_INIT;
}

static struct config *server_config_get(struct smtpd_server *server)
{
	struct config *config;

	pthread_mutex_lock(&server->config_lock);
	config = server->config;
	config_ref(config);
	pthread_mutex_unlock(&server->config_lock);
	return config;
}

static void smtpd_on_connect(struct conn *conn)
{
	struct smtpd_server *server = conn_service_context(conn);
	struct smtpd_session *session = i_new(struct smtpd_session, 1);

	session->conn = conn;
	session->server = server;
	session->config = server_config_get(server);
	session->sid = conn_sid(conn);
	session->pool = pool_create("smtpd session", 1024);
	session->cmd_pool = pool_create("smtpd command", 1024);
	session->txn_pool = pool_create("smtpd transaction", 4096);
	session->state = SMTPD_STATE_INIT;
	/* BINARYMIME is not offered: stored messages have CRLF line ends
	 * and bare LFs of BDAT content are converted. */
	session->caps = SMTP_CAP_SIZE | SMTP_CAP_8BITMIME | SMTP_CAP_SMTPUTF8 |
		SMTP_CAP_DSN;
	if (server->submission)
		session->caps |= SMTP_CAP_AUTH;
	conn_set_context(conn, session);
	smtpd_reply(session, 220, NULL, "%s ESMTP Posthorn",
		    session->config->server.hostname);
}

void smtpd_queue_kick(void)
{
#ifdef HAVE_QUEUE_DAEMON
	struct queue_daemon *qd = queue_daemon_get();

	if (qd != NULL)
		queue_daemon_kick(qd);
#endif
}

static const struct smtpd_command *command_find(enum smtp_verb verb)
{
	for (size_t i = 0; i < N_ELEMENTS(smtpd_commands); i++) {
		if (smtpd_commands[i].verb == verb)
			return &smtpd_commands[i];
	}
	return NULL;
}

static void smtpd_command_line(struct smtpd_session *session,
			       const uint8_t *line, size_t len)
{
	const struct smtpd_command *cmd;
	struct smtp_command command;
	struct smtp_error error;

	if (smtp_command_parse_line(session->cmd_pool, (const char *)line, len,
				    &command, &error) < 0) {
		smtpd_reply_error(session, &error);
		smtpd_client_error(session);
		return;
	}
	cmd = command_find(command.verb);
	if (cmd == NULL) {
		smtpd_reply(session, 500, "5.5.2",
			    "Error: command not recognized");
		smtpd_client_error(session);
		return;
	}
	if ((cmd->states & SMTPD_STATE_BIT(session->state)) == 0) {
		smtpd_reply(session, 503, "5.5.1", "%s",
			    out_of_order_text(session, cmd));
		smtpd_client_error(session);
		return;
	}
	cmd->handler(session, command.args);
}

static void smtpd_on_line(struct conn *conn, const uint8_t *line, size_t len,
			  bool crlf)
{
	struct smtpd_session *session = conn_get_context(conn);

	switch (session->state) {
	case SMTPD_STATE_DATA:
		smtpd_data_line(session, line, len, crlf);
		return;
	case SMTPD_STATE_AUTH:
		smtpd_auth_line(session, line, len);
		pool_clear(session->cmd_pool);
		return;
	case SMTPD_STATE_COMMIT:
	case SMTPD_STATE_TLS:
	case SMTPD_STATE_QUIT:
	case SMTPD_STATE_CHUNK:
		/* Input is paused or raw in these states. */
		return;
	default:
		break;
	}
	smtpd_command_line(session, line, len);
	pool_clear(session->cmd_pool);
}

static void smtpd_on_line_too_long(struct conn *conn)
{
	struct smtpd_session *session = conn_get_context(conn);

	if (session->state == SMTPD_STATE_DATA) {
		smtpd_data_line_too_long(session);
		return;
	}
	if (session->state == SMTPD_STATE_AUTH) {
		smtpd_auth_line_too_long(session);
		return;
	}
	smtpd_reply(session, 500, "5.5.2", "Error: line too long");
	smtpd_client_error(session);
}

static void smtpd_on_raw(struct conn *conn, const uint8_t *data, size_t len)
{
	struct smtpd_session *session = conn_get_context(conn);

	smtpd_bdat_raw(session, data, len);
}

static void smtpd_on_tls_done(struct conn *conn, bool ok)
{
	struct smtpd_session *session = conn_get_context(conn);

	if (!ok)
		return; /* lib-net logs it and closes */
	/* RFC 3207 section 4.2: forget everything learnt before TLS; the
	 * client must EHLO again. */
	session->helo = NULL;
	session->ehlo = false;
	smtpd_submission_reset(session);
	smtpd_transaction_end(session);
}

static void smtpd_on_timeout(struct conn *conn)
{
	struct smtpd_session *session = conn_get_context(conn);

	log_info(session->sid, "smtp_timeout", "state=%d", session->state);
	smtpd_reply(session, 421, "4.4.2", "%s Error: timeout exceeded",
		    session->config->server.hostname);
}

static void smtpd_on_shutdown(struct conn *conn)
{
	struct smtpd_session *session = conn_get_context(conn);

	/* A commit in flight finishes and answers first (its conn_ref holds
	 * the loop); everything else is told to come back later. */
	if (session->state == SMTPD_STATE_COMMIT &&
	    !smtpd_mailauth_waiting(session))
		return;
	smtpd_reply(session, 421, "4.3.2", "%s Service shutting down",
		    session->config->server.hostname);
	session->state = SMTPD_STATE_QUIT;
	conn_close_after_flush(conn, "shutdown");
}

static void smtpd_on_close(struct conn *conn)
{
	struct smtpd_session *session = conn_get_context(conn);

	if (session == NULL)
		return;
	smtpd_submission_free(session);
	smtpd_transaction_reset(session);
	pool_destroy(&session->txn_pool);
	pool_destroy(&session->cmd_pool);
	pool_destroy(&session->pool);
	config_unref(&session->config);
	conn_set_context(conn, NULL);
	i_free(session);
}

const struct conn_handlers smtpd_handlers = {
	.on_connect = smtpd_on_connect,
	.on_line = smtpd_on_line,
	.on_line_too_long = smtpd_on_line_too_long,
	.on_raw = smtpd_on_raw,
	.on_tls_done = smtpd_on_tls_done,
	.on_timeout = smtpd_on_timeout,
	.on_shutdown = smtpd_on_shutdown,
	.on_close = smtpd_on_close,
};

static int smtpd_init(const struct service_env *env, void **context_r,
		      const char **error_r)
{
	struct smtpd_server *server;

	if (env->store == NULL) {
		*error_r = "smtp: the mail store is not available";
		return -1;
	}
	server = i_new(struct smtpd_server, 1);
	server->name = "smtp";
	server->store = env->store;
	pthread_mutex_init(&server->config_lock, NULL);
	server->config = env->config;
	config_ref(server->config);
	if (smtpd_mailauth_create(env, &server->mailauth, error_r) < 0) {
		smtpd_deinit(server);
		return -1;
	}
	*context_r = server;
	return 0;
}

void smtpd_reload(void *context, struct config *config)
{
	struct smtpd_server *server = context;
	struct config *old;

	config_ref(config);
	pthread_mutex_lock(&server->config_lock);
	old = server->config;
	server->config = config;
	pthread_mutex_unlock(&server->config_lock);
	config_unref(&old);
}

void smtpd_deinit(void *context)
{
	struct smtpd_server *server = context;

	smtpd_mailauth_destroy(&server->mailauth);
	config_unref(&server->config);
	pthread_mutex_destroy(&server->config_lock);
	i_free(server);
}

const struct service smtpd_service_smtp = {
	.name = "smtp",
	.handlers = &smtpd_handlers,
	.too_many_message = "421 4.7.0 Error: too many connections\r\n",
	.init = smtpd_init,
	.reload = smtpd_reload,
	.deinit = smtpd_deinit,
};

const struct service *const smtpd_services[] = {
	&smtpd_service_smtp,
	&smtpd_service_submission,
	&smtpd_service_submissions,
	NULL,
};

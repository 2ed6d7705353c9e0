/* SPDX-License-Identifier: MIT */
/* AUTH (RFC 4954) on the submission roles, through lib-auth. */
#include "smtpd-submission.h"
#include "conn.h"
#include "config.h"
#include "net-loop.h"
#include "auth-sasl.h"

#include <event2/event.h>

/* Failed AUTH commands one session may make before we hang up; the
 * lib-auth throttle slows every one of them down as well. */
#define SMTPD_AUTH_MAX_FAILURES 5

static void auth_sync_pause(struct smtpd_session *session)
{
	struct smtpd_submission *sub = session->sub;
	bool busy = sub->delay_timer != NULL ||
		(sub->auth != NULL && auth_session_is_pending(sub->auth));

	if (conn_is_closed(session->conn))
		return;
	if (busy && !conn_is_paused(session->conn))
		conn_pause(session->conn);
	else if (!busy && conn_is_paused(session->conn))
		conn_resume(session->conn);
}

static void auth_end(struct smtpd_session *session)
{
	auth_session_destroy(&session->sub->auth);
	session->state = SMTPD_STATE_READY;
}

static void auth_failure_reply(struct smtpd_session *session)
{
	struct smtpd_submission *sub = session->sub;

	smtpd_reply(session, 535, "5.7.8",
		    "Error: authentication failed");
	if (++sub->auth_failures >= SMTPD_AUTH_MAX_FAILURES) {
		smtpd_reply(session, 421, "4.7.0",
			    "%s Error: too many failed authentications",
			    session->config->server.hostname);
		log_info(session->sid, "smtp_close",
			 "reason=too_many_auth_failures");
		session->state = SMTPD_STATE_QUIT;
		conn_close_after_flush(session->conn, "auth failures");
	}
}

static void auth_delay_cb(evutil_socket_t fd UNUSED,
			  short what UNUSED, void *ctx)
{
	struct smtpd_session *session = ctx;
	struct smtpd_submission *sub = session->sub;

	event_free(sub->delay_timer);
	sub->delay_timer = NULL;
	auth_failure_reply(session);
	auth_sync_pause(session);
}

/* The throttle's delay runs on a timer of the connection's loop; input
 * stays paused until the answer is out. */
static void auth_failure_delayed(struct smtpd_session *session,
				 unsigned delay_ms)
{
	struct smtpd_submission *sub = session->sub;
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	if (delay_ms == 0) {
		auth_failure_reply(session);
		return;
	}
	i_assert(sub->delay_timer == NULL);
	sub->delay_timer = evtimer_new(net_loop_base(conn_loop(session->conn)),
				       auth_delay_cb, session);
	if (sub->delay_timer == NULL)
		i_fatal("evtimer_new failed");
	evtimer_add(sub->delay_timer, &tv);
}

static void auth_result(struct smtpd_session *session,
			const struct auth_result *result)
{
	struct smtpd_submission *sub = session->sub;
	char quoted[256];

	switch (result->status) {
	case AUTH_STATUS_PENDING:
		session->state = SMTPD_STATE_AUTH;
		break;
	case AUTH_STATUS_CONTINUE:
		/* RFC 4954 section 4: "334" SP [base64]. */
		session->state = SMTPD_STATE_AUTH;
		smtpd_reply(session, 334, NULL, "%s", result->challenge);
		break;
	case AUTH_STATUS_SUCCESS:
		i_free(sub->username);
		sub->username = i_strdup(result->username);
		sub->account_id = result->account_id;
		log_info(session->sid, "smtp_auth", "user=%s mech=%s",
			 log_quote(quoted, sizeof(quoted), sub->username),
			 auth_session_mechanism(sub->auth));
		auth_end(session);
		smtpd_reply(session, 235, "2.7.0",
			    "Authentication successful");
		break;
	case AUTH_STATUS_FAILURE:
		log_info(session->sid, "smtp_auth_failed",
			 "error=%s delay_ms=%u",
			 log_quote(quoted, sizeof(quoted),
				   result->error != NULL ? result->error : "-"),
			 result->delay_ms);
		auth_end(session);
		auth_failure_delayed(session, result->delay_ms);
		break;
	case AUTH_STATUS_TEMPFAIL:
		log_warn(session->sid, "smtp_auth_tempfail", "error=%s",
			 log_quote(quoted, sizeof(quoted),
				   result->error != NULL ? result->error : "-"));
		auth_end(session);
		smtpd_reply(session, 454, "4.7.0",
			    "Temporary authentication failure");
		break;
	case AUTH_STATUS_ABORTED:
		auth_end(session);
		smtpd_reply(session, 501, "5.0.0", "Authentication cancelled");
		break;
	case AUTH_STATUS_BAD_RESPONSE:
		auth_end(session);
		smtpd_reply(session, 501, "5.5.2",
			    "Malformed authentication data");
		smtpd_client_error(session);
		break;
	}
	auth_sync_pause(session);
}

static void auth_callback(struct auth_session *auth UNUSED,
			  const struct auth_result *result, void *context)
{
	auth_result(context, result);
}

static bool channel_binding(struct smtpd_session *session, uint8_t *cb,
			    size_t len)
{
	return conn_is_tls(session->conn) &&
		conn_tls_exporter(session->conn,
				  CONN_TLS_EXPORTER_CHANNEL_BINDING,
				  cb, len) == 0;
}

void smtpd_submission_ehlo(struct smtpd_session *session, struct buf *reply)
{
	uint8_t cb[32];
	const char *mechs;

	if (!session->server->submission || !smtpd_submission_secure(session))
		return;
	mechs = auth_server_mechanisms(session->server->auth, true,
				       channel_binding(session, cb,
						       sizeof(cb)));
	if (mechs[0] != '\0')
		buf_printf(reply, "250-AUTH %s\r\n", mechs);
}

/* auth-command = "AUTH" SP sasl-mech [SP initial-response]
 * (RFC 4954 section 4); "=" is an empty initial response. */
void smtpd_cmd_auth(struct smtpd_session *session, const char *args)
{
	struct auth_session_params params;
	struct auth_result result;
	struct smtpd_submission *sub;
	const char *mech, *initial, *error, *sp;
	uint8_t cb[32];
	int ret;

	if (!session->server->submission) {
		smtpd_reply(session, 502, "5.5.1",
			    "Error: authentication not enabled");
		smtpd_client_error(session);
		return;
	}
	sub = smtpd_submission_get(session);
	if (session->state != SMTPD_STATE_READY || !session->ehlo) {
		/* Section 4: not during a transaction; an ESMTP command. */
		smtpd_reply(session, 503, "5.5.1", "%s",
			    session->state == SMTPD_STATE_INIT ||
			    !session->ehlo ? "Error: send EHLO first" :
			    "Error: MAIL transaction in progress");
		smtpd_client_error(session);
		return;
	}
	if (sub->username != NULL) {
		smtpd_reply(session, 503, "5.5.1", "Error: already authenticated");
		smtpd_client_error(session);
		return;
	}
	if (!smtpd_submission_secure(session)) {
		/* Section 6: 538 when the mechanism needs encryption. */
		smtpd_reply(session, 538, "5.7.11",
			    "Encryption required for requested authentication "
			    "mechanism");
		smtpd_client_error(session);
		return;
	}
	sp = strchr(args, ' ');
	if (args[0] == '\0' || sp == args) {
		smtpd_reply(session, 501, "5.5.4", "Syntax: AUTH mechanism");
		smtpd_client_error(session);
		return;
	}
	if (sp != NULL) {
		mech = pool_strndup(session->cmd_pool, args, (size_t)(sp - args));
		initial = sp + 1;
		if (initial[0] == '\0' || strchr(initial, ' ') != NULL) {
			smtpd_reply(session, 501, "5.5.4",
				    "Syntax: AUTH mechanism [initial-response]");
			smtpd_client_error(session);
			return;
		}
	} else {
		mech = args;
		initial = NULL;
	}

	memset(&params, 0, sizeof(params));
	params.mechanism = mech;
	params.secure = true; /* checked above */
	if (channel_binding(session, cb, sizeof(cb))) {
		params.cb_data = cb;
		params.cb_len = sizeof(cb);
	}
	params.remote_ip = conn_peer_ip(session->conn);
	params.sid = session->sid;
	params.service = "smtp";
	params.target = &sub->target;
	params.callback = auth_callback;
	params.context = session;
	ret = auth_session_create(session->server->auth, &params, &sub->auth,
				  &error);
	if (ret < 0) {
		smtpd_reply(session, 504, "5.5.4",
			    "Unrecognized authentication type");
		smtpd_client_error(session);
		return;
	}
	if (ret == 0) {
		smtpd_reply(session, 538, "5.7.11",
			    "Encryption required for requested authentication "
			    "mechanism");
		smtpd_client_error(session);
		return;
	}
	memset(&result, 0, sizeof(result));
	result.status = auth_session_start(sub->auth, initial, &result);
	auth_result(session, &result);
}

void smtpd_auth_line(struct smtpd_session *session, const uint8_t *line,
		     size_t len)
{
	struct smtpd_submission *sub = session->sub;
	struct auth_result result;
	const char *response;

	i_assert(sub != NULL && sub->auth != NULL);
	response = pool_strndup(session->cmd_pool, (const char *)line, len);
	memset(&result, 0, sizeof(result));
	result.status = auth_session_continue(sub->auth, response, &result);
	auth_result(session, &result);
}

void smtpd_auth_line_too_long(struct smtpd_session *session)
{
	auth_end(session);
	smtpd_reply(session, 501, "5.5.2", "Error: authentication line too long");
	smtpd_client_error(session);
}

void smtpd_submission_reset(struct smtpd_session *session)
{
	struct smtpd_submission *sub = session->sub;

	if (sub == NULL)
		return;
	auth_session_destroy(&sub->auth);
	i_free(sub->username);
	sub->username = NULL;
	sub->account_id = 0;
}

void smtpd_submission_free(struct smtpd_session *session)
{
	struct smtpd_submission *sub = session->sub;

	if (sub == NULL)
		return;
	smtpd_submission_reset(session);
	if (sub->delay_timer != NULL)
		event_free(sub->delay_timer);
	i_free(sub);
	session->sub = NULL;
}

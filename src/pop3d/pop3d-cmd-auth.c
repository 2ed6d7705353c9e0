/* SPDX-License-Identifier: MIT */
/* AUTHORIZATION-state commands: USER/PASS (RFC 1939 section 7), AUTH
 * (RFC 5034), STLS (RFC 2595 section 4), and CAPA (RFC 2449 section 5). */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "strutil.h"
#include "conn.h"
#include "store.h"
#include "auth-sasl.h"
#include "pop3d.h"

#define POP3_PLAINTEXT_REFUSED \
	"-ERR Plaintext authentication disallowed on non-secure connection, " \
	"use STLS first"

static bool pop3_may_starttls(struct pop3_session *s)
{
	return s->state == POP3_STATE_AUTHORIZATION &&
	       conn_can_starttls(s->conn) && !conn_is_tls(s->conn);
}

static bool pop3_channel_binding(struct pop3_session *s, uint8_t *cb,
				 size_t len)
{
	return conn_is_tls(s->conn) &&
	       conn_tls_exporter(s->conn, CONN_TLS_EXPORTER_CHANNEL_BINDING,
				 cb, len) == 0;
}

static const char *pop3_mechanisms(struct pop3_session *s)
{
	uint8_t cb[32];

	return auth_server_mechanisms(s->server->auth, true,
				      pop3_channel_binding(s, cb, sizeof(cb)));
}

void pop3_cmd_capa(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct buf b = BUF_INIT;
	bool secure = pop3_session_secure(s);

	buf_append_str(&b, "+OK Capability list follows\r\n"
			   "TOP\r\nUIDL\r\n");
	/* Authentication is offered only where it is allowed (RFC 2595
	 * section 4: after STLS the client asks again). */
	if (secure) {
		const char *mechs = pop3_mechanisms(s);
		buf_append_str(&b, "USER\r\n");
		if (mechs[0] != '\0')
			buf_printf(&b, "SASL %s\r\n", mechs);
	}
	if (pop3_may_starttls(s))
		buf_append_str(&b, "STLS\r\n");
	buf_append_str(&b, "PIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
			   "EXPIRE NEVER\r\n"
			   "IMPLEMENTATION Posthorn-" POSTHORN_VERSION "\r\n"
			   ".\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

void pop3_cmd_stls(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (conn_is_tls(s->conn)) {
		pop3_reply(s, "-ERR Command not permitted when TLS active");
		return;
	}
	if (!conn_can_starttls(s->conn)) {
		pop3_reply(s, "-ERR TLS not available");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	if (conn_starttls(s->conn) < 0)
		conn_close(s->conn, "starttls failed");
}

/* ---- login ---- */

static void pop3_login(struct pop3_session *s, int64_t account_id,
		       const char *username)
{
	const char *error;
	int ret;

	ret = pop3_maildrop_open(s->server->store, account_id, &s->maildrop,
				 &error);
	if (ret == 0) {
		log_info(s->sid, "pop3_login_in_use", "user=%s", username);
		/* RFC 2449 section 8.1.2. */
		pop3_reply(s, "-ERR [IN-USE] Maildrop is locked by another "
			      "POP3 session");
		return;
	}
	if (ret < 0) {
		log_error(s->sid, "pop3_maildrop_failed", "user=%s error=%s",
			  username, pop3_logq(error));
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open maildrop, try "
			      "again later");
		return;
	}
	s->lock_held = true;
	s->username = i_strdup(username);
	s->state = POP3_STATE_TRANSACTION;
	log_info(s->sid, "pop3_login", "user=%s messages=%u size=%llu",
		 username, s->maildrop->count,
		 (unsigned long long)s->maildrop->total_size);
	pop3_reply(s, "+OK Logged in, %u messages (%llu octets)",
		   s->maildrop->count,
		   (unsigned long long)s->maildrop->total_size);
}

void pop3_session_auth_cleanup(struct pop3_session *s)
{
	s->sasl_exchange = false;
	auth_session_destroy(&s->auth);
}

/* Final and intermediate statuses of both USER/PASS and AUTH. */
static void pop3_auth_result(struct pop3_session *s,
			     const struct auth_result *result)
{
	switch (result->status) {
	case AUTH_STATUS_PENDING:
		break;
	case AUTH_STATUS_CONTINUE:
		/* RFC 5034 section 4: "+" SP base64 challenge. */
		s->sasl_exchange = true;
		pop3_reply(s, "+ %s", result->challenge);
		break;
	case AUTH_STATUS_SUCCESS: {
		char *username = i_strdup(result->username);
		int64_t account_id = result->account_id;
		pop3_session_auth_cleanup(s);
		pop3_login(s, account_id, username);
		i_free(username);
		break;
	}
	case AUTH_STATUS_FAILURE:
		log_info(s->sid, "pop3_auth_failed", "error=%s delay_ms=%u",
			 pop3_logq(result->error), result->delay_ms);
		pop3_session_auth_cleanup(s);
		/* RFC 3206 section 4: [AUTH] = the credentials are wrong. */
		pop3_session_delay_reply(s, result->delay_ms,
					 "-ERR [AUTH] Authentication failed\r\n");
		break;
	case AUTH_STATUS_TEMPFAIL:
		log_warn(s->sid, "pop3_auth_tempfail", "error=%s",
			 pop3_logq(result->error));
		pop3_session_auth_cleanup(s);
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication "
			      "failure, try again later");
		break;
	case AUTH_STATUS_ABORTED:
		pop3_session_auth_cleanup(s);
		pop3_reply(s, "-ERR Authentication cancelled");
		break;
	case AUTH_STATUS_BAD_RESPONSE:
		pop3_session_auth_cleanup(s);
		pop3_reply(s, "-ERR Malformed authentication data");
		break;
	}
	pop3_session_sync_pause(s);
}

static void pop3_auth_callback(struct auth_session *session UNUSED,
			       const struct auth_result *result, void *context)
{
	pop3_auth_result(context, result);
}

static int pop3_auth_create(struct pop3_session *s, const char *mechanism,
			    const char **error_r)
{
	struct auth_session_params params;
	uint8_t cb[32];
	int ret;

	memset(&params, 0, sizeof(params));
	params.mechanism = mechanism;
	params.secure = true; /* checked by the caller */
	if (pop3_channel_binding(s, cb, sizeof(cb))) {
		params.cb_data = cb;
		params.cb_len = sizeof(cb);
	}
	params.remote_ip = conn_peer_ip(s->conn);
	params.sid = s->sid;
	params.service = "pop3";
	params.final_data_with_success = false;
	params.target = &s->target;
	params.callback = pop3_auth_callback;
	params.context = s;
	ret = auth_session_create(s->server->auth, &params, &s->auth, error_r);
	return ret;
}

void pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_session_secure(s)) {
		pop3_reply(s, "%s", POP3_PLAINTEXT_REFUSED);
		return;
	}
	if (strlen(cmd->args[0]) > AUTH_USERNAME_MAX_LEN) {
		pop3_reply(s, "-ERR User name too long");
		return;
	}
	i_free(s->user);
	s->user = i_strdup(cmd->args[0]);
	pop3_reply(s, "+OK Send your password");
}

void pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct auth_result result;
	const char *error;
	char *user;

	if (!pop3_session_secure(s)) {
		pop3_reply(s, "%s", POP3_PLAINTEXT_REFUSED);
		return;
	}
	if (s->user == NULL) {
		/* RFC 1939 section 7: PASS only right after USER. */
		pop3_reply(s, "-ERR USER first");
		return;
	}
	user = s->user;
	s->user = NULL;
	if (pop3_auth_create(s, NULL, &error) <= 0) {
		log_error(s->sid, "pop3_auth_failed", "error=%s",
			  pop3_logq(error));
		pop3_reply(s, "-ERR [SYS/TEMP] Authentication unavailable");
		i_free(user);
		return;
	}
	memset(&result, 0, sizeof(result));
	result.status = auth_session_check_password(s->auth, user, cmd->rest,
						    &result);
	i_free(user);
	pop3_auth_result(s, &result);
}

void pop3_cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct auth_result result;
	const char *error;
	int ret;

	if (!pop3_session_secure(s)) {
		pop3_reply(s, "%s", POP3_PLAINTEXT_REFUSED);
		return;
	}
	if (cmd->argc == 0) {
		/* Not in RFC 5034, but clients (and RFC 1734's era) ask
		 * "AUTH" alone for the list of mechanisms. */
		struct buf b = BUF_INIT;
		char *mechs = i_strdup(pop3_mechanisms(s));
		buf_append_str(&b, "+OK Mechanisms follow\r\n");
		for (char *p = mechs, *sp; *p != '\0'; p = sp) {
			sp = strchr(p, ' ');
			if (sp == NULL)
				sp = p + strlen(p);
			buf_append(&b, p, (size_t)(sp - p));
			buf_append(&b, "\r\n", 2);
			while (*sp == ' ')
				sp++;
		}
		buf_append_str(&b, ".\r\n");
		conn_write(s->conn, b.data, b.len);
		buf_free(&b);
		i_free(mechs);
		return;
	}
	i_free(s->user);
	ret = pop3_auth_create(s, cmd->args[0], &error);
	if (ret <= 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	memset(&result, 0, sizeof(result));
	/* RFC 5034 section 4: "=" is an empty initial response, which
	 * lib-auth takes as is. */
	result.status = auth_session_start(
		s->auth, cmd->argc == 2 ? cmd->args[1] : NULL, &result);
	pop3_auth_result(s, &result);
}

void pop3_auth_sasl_line(struct pop3_session *s, const char *line)
{
	struct auth_result result;

	s->sasl_exchange = false;
	memset(&result, 0, sizeof(result));
	result.status = auth_session_continue(s->auth, line, &result);
	pop3_auth_result(s, &result);
}

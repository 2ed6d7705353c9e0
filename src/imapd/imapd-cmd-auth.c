/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "log.h"
#include "conn.h"
#include "net-loop.h"
#include "workpool.h"
#include "auth-sasl.h"

#include <event2/event.h>

/* LOGIN (RFC 9051 section 6.2.3) and AUTHENTICATE (section 6.2.2, SASL-IR
 * RFC 4959) over lib-auth. */

static void auth_callback(struct auth_session *session,
			  const struct auth_result *result, void *context);

void imapd_auth_client_free(struct imapd_client *client)
{
	auth_session_destroy(&client->auth);
	if (client->auth_ref) {
		client->auth_ref = false;
		client->refcount--;
		struct conn *c = client->conn;
		conn_unref(&c);
	}
	if (client->delay_timer != NULL) {
		event_free(client->delay_timer);
		client->delay_timer = NULL;
		/* The timer held a reference for the delayed reply. */
		i_free(client->delay_reply);
		client->refcount--;
		struct conn *conn = client->conn;
		conn_unref(&conn);
	}
}

static void delay_done(evutil_socket_t fd, short what, void *context)
{
	struct imapd_client *client = context;
	char *reply = client->delay_reply;

	(void)fd;
	(void)what;
	event_free(client->delay_timer);
	client->delay_timer = NULL;
	client->delay_reply = NULL;
	if (imapd_client_unref(client))
		imapd_cmd_reply(client, "NO", "%s", reply);
	free(reply);
}

static void auth_finish(struct imapd_client *client,
			const struct auth_result *result)
{
	/* result may live inside the session: copy what is needed before
	 * the session goes. */
	enum auth_status status = result->status;
	int64_t account_id = result->account_id;
	unsigned delay_ms = result->delay_ms;
	char *username = i_strdup(result->username);
	char *challenge = i_strdup(result->challenge);
	struct buf b = BUF_INIT;

	client->input = IMAPD_INPUT_COMMAND;
	if (status != AUTH_STATUS_CONTINUE && status != AUTH_STATUS_PENDING)
		auth_session_destroy(&client->auth);
	switch (status) {
	case AUTH_STATUS_SUCCESS:
		if (!imapd_user_session_add(account_id)) {
			imapd_cmd_reply(client, "NO",
					"[LIMIT] Too many sessions for this user");
			break;
		}
		client->session_counted = true;
		client->state = IMAPD_STATE_AUTH;
		conn_set_idle_timeout(client->conn, client->svc->idle_timeout_ms);
		client->account_id = account_id;
		client->username = username;
		username = NULL;
		log_info(client->sid, "login", "user=%s", client->username);
		imapd_cmd_reply(client, "OK", "[CAPABILITY %s] Logged in",
				imapd_capabilities(client, &b));
		break;
	case AUTH_STATUS_FAILURE:
		if (delay_ms > 0) {
			struct timeval tv = { (time_t)(delay_ms / 1000),
					      (suseconds_t)(delay_ms % 1000) * 1000 };
			client->delay_reply = i_strdup(
				"[AUTHENTICATIONFAILED] Authentication failed");
			client->delay_timer = evtimer_new(
				net_loop_base(conn_loop(client->conn)), delay_done,
				client);
			imapd_client_ref(client);
			evtimer_add(client->delay_timer, &tv);
			imapd_cmd_async(client);
		} else {
			imapd_cmd_reply(client, "NO",
					"[AUTHENTICATIONFAILED] Authentication failed");
		}
		break;
	case AUTH_STATUS_TEMPFAIL:
		imapd_cmd_reply(client, "NO",
				"[UNAVAILABLE] Temporary authentication failure");
		break;
	case AUTH_STATUS_ABORTED:
		imapd_cmd_reply(client, "BAD", "Authentication cancelled");
		break;
	case AUTH_STATUS_BAD_RESPONSE:
		imapd_cmd_reply(client, "BAD", "Malformed authentication data");
		break;
	case AUTH_STATUS_CONTINUE:
		client->input = IMAPD_INPUT_AUTHENTICATE;
		imapd_printf(client, "+ %s\r\n", challenge == NULL ? "" : challenge);
		if (conn_is_paused(client->conn))
			conn_resume(client->conn);
		break;
	case AUTH_STATUS_PENDING:
		client->input = IMAPD_INPUT_AUTHENTICATE;
		imapd_cmd_async(client);
		break;
	}
	i_free(username);
	i_free(challenge);
	buf_free(&b);
}

static void auth_callback(struct auth_session *session,
			  const struct auth_result *result, void *context)
{
	struct imapd_client *client = context;
	(void)session;
	client->auth_ref = false;
	if (imapd_client_unref(client))
		auth_finish(client, result);
}

static bool auth_session_new(struct imapd_client *client, const char *mech,
			     struct auth_session_params *params)
{
	memset(params, 0, sizeof(*params));
	params->mechanism = mech;
	params->secure = imapd_client_secure(client);
	params->remote_ip = conn_peer_ip(client->conn);
	params->sid = client->sid;
	params->service = "imap";
	params->callback = auth_callback;
	params->context = client;
	return true;
}

/* A pending step holds a client reference until its callback; a session
 * destroyed while pending gets no callback, so the reference is dropped
 * there instead. */
static enum auth_status auth_start(struct imapd_client *client,
				   enum auth_status st)
{
	if (st == AUTH_STATUS_PENDING) {
		imapd_client_ref(client);
		client->auth_ref = true;
	}
	return st;
}

static struct completion_target *client_target(struct imapd_client *client)
{
	client->target = imapd_client_target(client);
	return &client->target;
}

void imapd_cmd_login(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct auth_session_params params;
	struct auth_result result;
	const char *user, *pass, *error;

	if (cmd->args_count != 2 || !imap_arg_get_astring(&cmd->args[0], &user) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass)) {
		imapd_cmd_reply(client, "BAD", "Usage: LOGIN user password");
		return;
	}
	if (!imapd_client_secure(client)) {
		imapd_cmd_reply(client, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (client->svc->auth == NULL) {
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Authentication not available");
		return;
	}
	auth_session_new(client, NULL, &params);
	params.target = client_target(client);
	if (auth_session_create(client->svc->auth, &params, &client->auth,
				&error) <= 0) {
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] %s", error);
		return;
	}
	memset(&result, 0, sizeof(result));
	result.status = auth_start(client, auth_session_check_password(
					   client->auth, user, pass, &result));
	if (result.status == AUTH_STATUS_PENDING)
		imapd_cmd_async(client);
	else
		auth_finish(client, &result);
}

void imapd_cmd_authenticate(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct auth_session_params params;
	struct auth_result result;
	const char *mech, *ir = NULL, *error;
	uint8_t cb[32];

	if (cmd->args_count < 1 || cmd->args_count > 2 ||
	    !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->args_count == 2 && !imap_arg_get_atom(&cmd->args[1], &ir))) {
		imapd_cmd_reply(client, "BAD", "Usage: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (client->svc->auth == NULL) {
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Authentication not available");
		return;
	}
	auth_session_new(client, mech, &params);
	params.target = client_target(client);
	if (conn_is_tls(client->conn) &&
	    conn_tls_exporter(client->conn, CONN_TLS_EXPORTER_CHANNEL_BINDING,
			      cb, sizeof(cb)) == 0) {
		params.cb_data = cb;
		params.cb_len = sizeof(cb);
	}
	int ret = auth_session_create(client->svc->auth, &params, &client->auth,
				      &error);
	if (ret == 0) {
		imapd_cmd_reply(client, "NO", "[PRIVACYREQUIRED] %s", error);
		return;
	}
	if (ret < 0) {
		imapd_cmd_reply(client, "NO", "Unsupported authentication mechanism");
		return;
	}
	memset(&result, 0, sizeof(result));
	result.status = auth_start(client, auth_session_start(client->auth, ir,
							      &result));
	auth_finish(client, &result);
}

void imapd_auth_input_line(struct imapd_client *client, const char *line)
{
	struct auth_result result;

	if (client->auth == NULL || auth_session_is_pending(client->auth))
		return;
	memset(&result, 0, sizeof(result));
	result.status = auth_start(client, auth_session_continue(client->auth, line,
								 &result));
	auth_finish(client, &result);
}

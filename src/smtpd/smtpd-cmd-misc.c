/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"

void smtpd_cmd_rset(struct smtpd_session *session, const char *args)
{
	/* RFC 5321 section 4.1.1.5: RSET takes no arguments, but refusing
	 * would leave a transaction the client wanted gone: ignore them. */
	smtpd_transaction_end(session);
	smtpd_reply(session, 250, "2.0.0", "Ok");
}

void smtpd_cmd_noop(struct smtpd_session *session, const char *args)
{
	smtpd_reply(session, 250, "2.0.0", "Ok");
}

void smtpd_cmd_quit(struct smtpd_session *session, const char *args)
{
	smtpd_reply(session, 221, "2.0.0", "%s Bye",
		    session->config->server.hostname);
	session->state = SMTPD_STATE_QUIT;
	conn_close_after_flush(session->conn, "quit");
}

void smtpd_cmd_help(struct smtpd_session *session, const char *args)
{
	conn_write_str(session->conn,
		       "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET\r\n"
		       "214-2.0.0 NOOP QUIT HELP VRFY EXPN STARTTLS\r\n"
		       "214 2.0.0 See RFC 5321\r\n");
}

/* VRFY and EXPN (RFC 5321 section 3.5): both tell a stranger which
 * addresses exist, so the MX answers 252 (section 3.5.3) or 502. */
static void verify_reply(struct smtpd_session *session, const char *args,
			 enum config_verify_policy policy, const char *verb)
{
	if (policy == CONFIG_VERIFY_OFF) {
		smtpd_reply(session, 502, "5.5.1", "%s command is disabled",
			    verb);
		return;
	}
	if (args[0] == '\0') {
		smtpd_reply(session, 501, "5.5.4", "Syntax: %s address", verb);
		smtpd_client_error(session);
		return;
	}
	smtpd_reply(session, 252, "2.5.0", "Cannot %s user, but will accept "
		    "message and attempt delivery", verb);
}

void smtpd_cmd_vrfy(struct smtpd_session *session, const char *args)
{
	verify_reply(session, args, session->config->smtp.vrfy, "VRFY");
}

void smtpd_cmd_expn(struct smtpd_session *session, const char *args)
{
	verify_reply(session, args, session->config->smtp.expn, "EXPN");
}

/* STARTTLS (RFC 3207 section 4): no arguments; once the handshake is
 * done the session starts over. lib-net throws away whatever the client
 * pipelined after the command (section 4.2, no command injection). */
void smtpd_cmd_starttls(struct smtpd_session *session, const char *args)
{
	if (args[0] != '\0') {
		smtpd_reply(session, 501, "5.5.4", "Syntax: STARTTLS");
		smtpd_client_error(session);
		return;
	}
	if (conn_is_tls(session->conn)) {
		smtpd_reply(session, 503, "5.5.1", "Error: TLS already active");
		smtpd_client_error(session);
		return;
	}
	if (!conn_can_starttls(session->conn)) {
		smtpd_reply(session, 454, "4.7.0", "TLS not available");
		return;
	}
	smtpd_reply(session, 220, "2.0.0", "Ready to start TLS");
	if (conn_starttls(session->conn) < 0) {
		/* Checked above; cannot happen unless lib-net changes. */
		log_error(session->sid, "smtp_starttls_failed", NULL);
		session->state = SMTPD_STATE_QUIT;
		conn_close(session->conn, "starttls failed");
		return;
	}
	session->state = SMTPD_STATE_TLS;
}

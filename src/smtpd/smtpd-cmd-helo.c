/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"

/* HELO/EHLO (RFC 5321 section 4.1.1.1): the greeting also resets any
 * transaction in progress (section 4.1.4). */
static bool helo_common(struct smtpd_session *session, const char *args,
			bool ehlo)
{
	struct smtp_error error;
	const char *domain;
	bool valid;

	if (smtp_helo_args_parse(args, &domain, &valid, &error) < 0) {
		error.text = ehlo ? "Syntax: EHLO hostname" :
			"Syntax: HELO hostname";
		smtpd_reply_error(session, &error);
		smtpd_client_error(session);
		return false;
	}
	smtpd_transaction_end(session);
	session->helo = pool_strdup(session->pool, domain);
	session->helo_valid = valid;
	session->ehlo = ehlo;
	session->state = SMTPD_STATE_READY;
	return true;
}

void smtpd_cmd_helo(struct smtpd_session *session, const char *args)
{
	if (!helo_common(session, args, false))
		return;
	smtpd_reply(session, 250, NULL, "%s", session->config->server.hostname);
}

void smtpd_cmd_ehlo(struct smtpd_session *session, const char *args)
{
	struct buf b = BUF_INIT;

	if (!helo_common(session, args, true))
		return;
	buf_printf(&b, "250-%s\r\n", session->config->server.hostname);
	buf_append_str(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n",
		   (unsigned long long)session->config->smtp.max_message_size);
	buf_append_str(&b, "250-8BITMIME\r\n");
	buf_append_str(&b, "250-ENHANCEDSTATUSCODES\r\n");
	buf_append_str(&b, "250-SMTPUTF8\r\n");
	buf_append_str(&b, "250-CHUNKING\r\n");
	buf_append_str(&b, "250-DSN\r\n");
	smtpd_submission_ehlo(session, &b);
	/* RFC 3207 section 4.2: not offered again once TLS is on. */
	if (!conn_is_tls(session->conn) && conn_can_starttls(session->conn))
		buf_append_str(&b, "250-STARTTLS\r\n");
	buf_append_str(&b, "250 HELP\r\n");
	conn_write(session->conn, b.data, b.len);
	buf_free(&b);
}

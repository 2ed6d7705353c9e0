/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"
#include "net-loop.h"
#include "store.h"
#include "timeutil.h"
#include "workpool.h"

#include <time.h>

/* One message on its way to the store; outlives the session if the client
 * goes away before the commit is done. */
struct smtpd_delivery {
	struct conn *conn;
	struct completion_target target;
	char queue_id[LOG_SID_SIZE];
	uint64_t size;
	unsigned account_count;
	int64_t start_us;
};

/* Characters of a client-chosen name that are safe inside a comment of a
 * Received field. */
static void append_sanitized(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = *s;
		if (c <= ' ' || c == 127 || c == '(' || c == ')' || c == '\\')
			buf_append_byte(out, '_');
		else
			buf_append_byte(out, c);
	}
}

static void append_peer_literal(struct buf *out, const char *ip)
{
	if (strchr(ip, ':') != NULL)
		buf_printf(out, "[IPv6:%s]", ip);
	else
		buf_printf(out, "[%s]", ip);
}

/* RFC 5321 section 4.4 trace fields:
 *   Return-path-line = "Return-Path:" FWS Reverse-path <CRLF>
 *   Time-stamp-line = "Received:" FWS Stamp <CRLF>
 *   Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
 * with the protocol names of RFC 3848 and RFC 6531 section 3.7.3 in the
 * WITH clause, and the TLS version and cipher in a comment. */
void smtpd_deliver_begin(struct smtpd_session *session)
{
	struct buf *msg = &session->msg;
	const char *ip = conn_peer_ip(session->conn);
	const char *tls_version = conn_tls_version(session->conn);
	const char *protocol;
	char date[64];

	buf_reset(msg);
	buf_append_str(msg, "Return-Path: <");
	smtp_address_write(msg, &session->mail.path);
	buf_append_str(msg, ">\r\n");

	buf_append_str(msg, "Received: from ");
	if (session->helo_valid) {
		buf_append_str(msg, session->helo);
		buf_append_str(msg, " (");
		append_peer_literal(msg, ip);
		buf_append_str(msg, ")");
	} else {
		append_peer_literal(msg, ip);
		buf_append_str(msg, " (helo=");
		append_sanitized(msg, session->helo != NULL ? session->helo : "");
		buf_append_str(msg, ")");
	}
	buf_append_str(msg, "\r\n");
	if (tls_version != NULL)
		buf_printf(msg, "\t(using %s with cipher %s)\r\n", tls_version,
			   conn_tls_cipher(session->conn));
	if (session->mail.smtputf8)
		protocol = tls_version != NULL ? "UTF8SMTPS" : "UTF8SMTP";
	else if (session->ehlo)
		protocol = tls_version != NULL ? "ESMTPS" : "ESMTP";
	else
		protocol = "SMTP";
	buf_printf(msg, "\tby %s (Posthorn) with %s id %s",
		   session->config->server.hostname, protocol,
		   session->queue_id);
	if (session->rcpt_count == 1)
		buf_printf(msg, "\r\n\tfor <%s>", session->rcpts[0].address);
	buf_printf(msg, "; %s\r\n",
		   time_format_rfc5322(time(NULL), date, sizeof(date)));
	session->header_len = msg->len;
}

static void delivery_reply(struct smtpd_session *session,
			   struct store_txn *txn, struct smtpd_delivery *d)
{
	const struct store_op_result *result;
	const char *text;
	enum store_error error = store_txn_error(txn, &text);
	unsigned failed = 0;
	char from[256];

	switch (error) {
	case STORE_OK:
		result = store_txn_result(txn, 0);
		for (unsigned i = 0; i < d->account_count; i++) {
			if (result->rcpt_errors != NULL &&
			    result->rcpt_errors[i] != STORE_OK)
				failed++;
		}
		if (failed > 0) {
			/* Quota was checked at RCPT time; a recipient that
			 * filled up meanwhile is lost to this message, and
			 * there is no bounce without the outbound queue. */
			log_warn(session->sid, "smtp_deliver_partial",
				 "queue_id=%s failed_accounts=%u",
				 d->queue_id, failed);
		}
		/* The one info line per accepted message (MAIL and RCPT
		 * log at debug level): syscalls count at thousands of
		 * messages a second. */
		log_info(session->sid, "smtp_delivered",
			 "queue_id=%s from=%s rcpts=%u size=%llu accounts=%u "
			 "commit_us=%lld", d->queue_id,
			 log_quote(from, sizeof(from),
				   smtp_address_to_string(session->txn_pool,
							  &session->mail.path)),
			 session->rcpt_count, (unsigned long long)d->size,
			 d->account_count - failed,
			 (long long)(time_real_us() - d->start_us));
		smtpd_reply(session, 250, "2.0.0", "Ok: queued as %s",
			    d->queue_id);
		return;
	case STORE_ERR_DISK_FULL:
		smtpd_reply(session, 452, "4.3.1", "Insufficient system storage");
		break;
	case STORE_ERR_OVER_QUOTA:
		smtpd_reply(session, 552, "5.2.2", "Mailbox full (quota exceeded)");
		break;
	default:
		smtpd_reply(session, 451, "4.3.0",
			    "Temporary failure, try again later");
		break;
	}
	log_warn(session->sid, "smtp_deliver_failed", "queue_id=%s error=%s",
		 d->queue_id, store_error_str(error));
}

static void delivery_done(struct store_txn *txn, void *ctx)
{
	struct smtpd_delivery *d = ctx;
	struct conn *conn = d->conn;
	struct smtpd_session *session;
	const char *text;

	if (conn_is_closed(conn)) {
		/* The client left before the commit: the message is stored
		 * (or not) all the same; a client without a 250 retries. */
		log_info(NULL, "smtp_deliver_orphan", "queue_id=%s error=%s",
			 d->queue_id, store_error_str(store_txn_error(txn, &text)));
	} else {
		session = conn_get_context(conn);
		delivery_reply(session, txn, d);
		smtpd_transaction_end(session);
		conn_resume(conn);
	}
	conn_unref(&conn);
	i_free(d);
}

/* One stored copy for every local account (the store shares the body),
 * committed in the store's next group commit; the reply waits for it and
 * input is paused meanwhile, so pipelined commands stay behind it. */
void smtpd_deliver_commit(struct smtpd_session *session)
{
	struct store_delivery_rcpt *rcpts;
	struct smtpd_delivery *d;
	struct store_txn *txn;
	enum store_deliver_flags flags = 0;

	i_assert(session->account_count > 0);
	if (session->remote_count > 0) {
		log_warn(session->sid, "smtp_remote_targets_dropped",
			 "queue_id=%s count=%u reason=no_outbound_queue",
			 session->queue_id, session->remote_count);
	}
	if (session->mail.envid != NULL || session->mail.ret != 0) {
		/* No place in the store for the envelope yet: keep a trace
		 * in the log so DSN requests are not silently lost. */
		log_info(session->sid, "smtp_dsn", "queue_id=%s ret=%d envid=%s",
			 session->queue_id, session->mail.ret,
			 session->mail.envid_raw != NULL ?
			 session->mail.envid_raw : "");
	}
	rcpts = p_new(session->txn_pool, struct store_delivery_rcpt,
		      session->account_count);
	for (unsigned i = 0; i < session->account_count; i++)
		rcpts[i].account_id = session->account_ids[i];
	/* BDAT content may have bare LFs (DATA refuses them). */
	if (smtp_data_decoder_error(session->decoder) == SMTP_DATA_ERROR_NONE &&
	    session->state != SMTPD_STATE_DATA)
		flags |= STORE_DELIVER_CONVERT_LF;

	d = i_new(struct smtpd_delivery, 1);
	d->conn = session->conn;
	d->target = net_loop_completion_target(conn_loop(session->conn));
	memcpy(d->queue_id, session->queue_id, sizeof(d->queue_id));
	d->size = session->msg.len;
	d->account_count = session->account_count;
	d->start_us = time_real_us();

	txn = store_txn_create(session->server->store);
	(void)store_txn_deliver(txn, session->msg.data, session->msg.len,
				time(NULL), rcpts, session->account_count,
				flags);
	/* The store copied the message. */
	buf_free(&session->msg);
	conn_ref(session->conn);
	conn_pause(session->conn);
	session->state = SMTPD_STATE_COMMIT;
	store_txn_commit(txn, &d->target, delivery_done, d);
}

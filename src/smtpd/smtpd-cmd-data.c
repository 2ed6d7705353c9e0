/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"

static void decoder_start(struct smtpd_session *session,
			  enum smtp_data_mode mode)
{
	const struct config *config = session->config;
	struct smtp_data_limits limits = {
		.max_size = config->smtp.max_message_size,
		.max_line = config->smtp.max_line_length + 2,
		.max_headers = config->smtp.max_header_count,
		.max_received = config->smtp.max_received_headers,
		/* BDAT is length-delimited, so a bare LF cannot end the
		 * content early there; it is turned into CRLF on storing. */
		.allow_bare_lf = mode == SMTP_DATA_MODE_RAW,
	};

	i_assert(session->decoder == NULL);
	session->decoder = smtp_data_decoder_create(mode, &limits);
	smtpd_deliver_begin(session);
	smtpd_mailauth_data_begin(session);
}

/* DATA (RFC 5321 section 4.1.1.4). */
void smtpd_cmd_data(struct smtpd_session *session, const char *args)
{
	if (args[0] != '\0') {
		smtpd_reply(session, 501, "5.5.4", "Syntax: DATA");
		smtpd_client_error(session);
		return;
	}
	if (session->state == SMTPD_STATE_MAIL) {
		/* RFC 2920 section 3.1: every RCPT failed. */
		smtpd_reply(session, 554, "5.5.1", "Error: no valid recipients");
		return;
	}
	if (session->mail.body == SMTP_BODY_BINARYMIME) {
		/* RFC 3030 section 3: BINARYMIME content needs BDAT. */
		smtpd_reply(session, 503, "5.5.1",
			    "Error: BODY=BINARYMIME requires BDAT");
		return;
	}
	decoder_start(session, SMTP_DATA_MODE_DOT);
	session->state = SMTPD_STATE_DATA;
	smtpd_reply(session, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

/* The decoded content goes after the headers we prepended. */
static void data_end(struct smtpd_session *session)
{
	enum smtp_data_error error = smtp_data_decoder_error(session->decoder);
	struct smtp_error reply;

	if (error == SMTP_DATA_ERROR_NONE && session->line_too_long)
		error = SMTP_DATA_ERROR_LINE_TOO_LONG;
	if (error != SMTP_DATA_ERROR_NONE) {
		smtp_data_error_reply(error, &reply);
		log_info(session->sid, "smtp_data_rejected",
			 "queue_id=%s code=%u reason=%s size=%llu",
			 session->queue_id, reply.code, reply.enhanced,
			 (unsigned long long)
			 smtp_data_decoder_size(session->decoder));
		smtpd_reply_error(session, &reply);
		smtpd_transaction_end(session);
		return;
	}
	smtpd_mailauth_end(session);
}

void smtpd_data_line(struct smtpd_session *session, const uint8_t *line,
		     size_t len, bool crlf)
{
	size_t consumed, old_len = session->msg.len;
	int ret;

	/* lib-net splits lines; the decoder wants the byte stream back,
	 * with each line's real ending, to judge CR and LF itself. */
	ret = smtp_data_decoder_feed(session->decoder, line, len,
				     &session->msg, &consumed);
	i_assert(ret == 0);
	ret = smtp_data_decoder_feed(session->decoder,
				     (const uint8_t *)(crlf ? "\r\n" : "\n"),
				     crlf ? 2 : 1, &session->msg, &consumed);
	smtpd_mailauth_data(session, old_len);
	if (ret > 0)
		data_end(session);
}

void smtpd_data_line_too_long(struct smtpd_session *session)
{
	/* lib-net dropped the line; remember it and refuse at the end. We
	 * can't feed it to the decoder, which then sees the next line as
	 * the one after a CRLF: a "." line after a dropped long line still
	 * ends the content, as it would for any other server. */
	session->line_too_long = true;
}

/* BDAT (RFC 3030 section 2): the chunk follows the command line whatever
 * we answer, so it is always read, and refused afterwards if need be. */
void smtpd_cmd_bdat(struct smtpd_session *session, const char *args)
{
	struct smtp_error error;
	uint64_t size;
	bool last;

	if (smtp_bdat_args_parse(args, &size, &last, &error) < 0) {
		/* Without a size we cannot find the next command. */
		smtpd_reply_error(session, &error);
		session->state = SMTPD_STATE_QUIT;
		conn_close_after_flush(session->conn, "bad BDAT");
		return;
	}
	if (session->state == SMTPD_STATE_RCPT) {
		decoder_start(session, SMTP_DATA_MODE_RAW);
	} else if (session->state != SMTPD_STATE_BDAT) {
		session->bdat_prev_state = session->state;
		session->bdat_failed = true;
		session->bdat_error.code = session->state == SMTPD_STATE_MAIL ?
			554 : 503;
		session->bdat_error.enhanced = "5.5.1";
		session->bdat_error.text = session->state == SMTPD_STATE_MAIL ?
			"Error: no valid recipients" :
			session->state == SMTPD_STATE_INIT ?
			"Error: send HELO/EHLO first" : "Error: need MAIL command";
	}
	session->bdat_last = last;
	session->bdat_total += size;
	session->state = SMTPD_STATE_CHUNK;
	if (size == 0) {
		smtpd_bdat_raw(session, NULL, 0);
		return;
	}
	conn_read_raw(session->conn, size);
}

static void bdat_chunk_done(struct smtpd_session *session)
{
	bool was_failed = session->bdat_failed;
	bool in_txn = session->decoder != NULL;
	enum smtp_data_error error;

	if (!was_failed && in_txn &&
	    (error = smtp_data_decoder_error(session->decoder)) !=
	    SMTP_DATA_ERROR_NONE) {
		smtp_data_error_reply(error, &session->bdat_error);
		session->bdat_failed = true;
	}
	if (session->bdat_failed) {
		smtpd_reply_error(session, &session->bdat_error);
		if (!was_failed)
			log_info(session->sid, "smtp_data_rejected",
				 "queue_id=%s code=%u reason=%s",
				 session->queue_id, session->bdat_error.code,
				 session->bdat_error.enhanced);
		if (session->bdat_last || !in_txn) {
			/* Out of sequence BDATs leave the session as it was;
			 * a failed transaction ends with its LAST chunk. */
			if (in_txn)
				smtpd_transaction_end(session);
			else {
				session->bdat_failed = false;
				session->state = session->bdat_prev_state;
			}
		} else {
			session->state = SMTPD_STATE_BDAT;
		}
		return;
	}
	if (session->bdat_last) {
		smtpd_mailauth_end(session);
		return;
	}
	session->state = SMTPD_STATE_BDAT;
	smtpd_reply(session, 250, "2.0.0", "%llu octets received",
		    (unsigned long long)session->bdat_total);
}

void smtpd_bdat_raw(struct smtpd_session *session, const uint8_t *data,
		    size_t len)
{
	size_t consumed, old_len = session->msg.len;

	if (session->decoder != NULL && !session->bdat_failed && len > 0) {
		(void)smtp_data_decoder_feed(session->decoder, data, len,
					     &session->msg, &consumed);
		smtpd_mailauth_data(session, old_len);
	}
	if (len > 0 && conn_raw_remaining(session->conn) > 0)
		return;
	bdat_chunk_done(session);
}

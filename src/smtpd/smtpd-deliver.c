/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"
#include "net-loop.h"
#include "store.h"
#include "timeutil.h"
#include "workpool.h"

#include <time.h>

#ifdef HAVE_QUEUE_DAEMON
#include "queue-dsn.h"
#endif

/* One message on its way to the store; outlives the session if the client
 * goes away before the commit is done. */
struct smtpd_delivery {
	struct conn *conn;
	struct completion_target target;
	char queue_id[LOG_SID_SIZE];
	uint64_t size;
	unsigned account_count, remote_count;
	bool kick_queue;
	int64_t start_us;
	/* A success DSN for a local sender, committed after the message. */
	struct store_txn *dsn_txn;
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
	session->return_path_len = msg->len;

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
	/* RFC 3848 section 1 / RFC 6531 3.7.3: "A" for authenticated. */
	buf_printf(msg, "\tby %s (Posthorn) with %s%s id %s",
		   session->config->server.hostname, protocol,
		   smtpd_submission_authenticated(session) ? "A" : "",
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
			 * filled up meanwhile is lost to this message. */
			log_warn(session->sid, "smtp_deliver_partial",
				 "queue_id=%s failed_accounts=%u",
				 d->queue_id, failed);
		}
		/* The one info line per accepted message (MAIL and RCPT
		 * log at debug level): syscalls count at thousands of
		 * messages a second. */
		log_info(session->sid, "smtp_delivered",
			 "queue_id=%s from=%s rcpts=%u size=%llu accounts=%u "
			 "queued_remote=%u commit_us=%lld", d->queue_id,
			 log_quote(from, sizeof(from),
				   smtp_address_to_string(session->txn_pool,
							  &session->mail.path)),
			 session->rcpt_count, (unsigned long long)d->size,
			 d->account_count - failed, d->remote_count,
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

/* The follow-up commit of a success DSN; outlives the delivery. */
struct smtpd_dsn_commit {
	struct net_loop *loop; /* held until done, so shutdown waits */
	struct completion_target target;
	char queue_id[LOG_SID_SIZE];
};

static void dsn_done(struct store_txn *txn, void *ctx)
{
	struct smtpd_dsn_commit *dc = ctx;
	const char *text;
	enum store_error error = store_txn_error(txn, &text);

	if (error != STORE_OK)
		log_warn(NULL, "smtp_dsn_failed", "queue_id=%s error=%s",
			 dc->queue_id, store_error_str(error));
	net_loop_unhold(dc->loop);
	i_free(dc);
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
	if (d->kick_queue && store_txn_error(txn, &text) == STORE_OK)
		smtpd_queue_kick();
	if (d->dsn_txn != NULL) {
		if (store_txn_error(txn, &text) == STORE_OK) {
			struct smtpd_dsn_commit *dc =
				i_new(struct smtpd_dsn_commit, 1);
			dc->loop = conn_loop(conn);
			net_loop_hold(dc->loop);
			dc->target = d->target;
			memcpy(dc->queue_id, d->queue_id, sizeof(dc->queue_id));
			store_txn_commit(d->dsn_txn, &dc->target, dsn_done, dc);
		} else
			store_txn_destroy(&d->dsn_txn);
	}
	conn_unref(&conn);
	i_free(d);
}

static unsigned notify_to_store(unsigned notify)
{
	unsigned r = 0;

	if ((notify & SMTP_DSN_NOTIFY_NEVER) != 0)
		r |= STORE_DSN_NOTIFY_NEVER;
	if ((notify & SMTP_DSN_NOTIFY_SUCCESS) != 0)
		r |= STORE_DSN_NOTIFY_SUCCESS;
	if ((notify & SMTP_DSN_NOTIFY_FAILURE) != 0)
		r |= STORE_DSN_NOTIFY_FAILURE;
	if ((notify & SMTP_DSN_NOTIFY_DELAY) != 0)
		r |= STORE_DSN_NOTIFY_DELAY;
	return r;
}

/* Remote alias targets go to the outbound queue in the same transaction
 * as the local copies; the envelope keeps the DSN parameters (RFC 3461)
 * for the queue's notifications. The queued copy has our Received field
 * but no Return-Path: that belongs to final delivery only (RFC 5321
 * section 4.4), so it cannot share the local copies' body. */
static void add_enqueue(struct smtpd_session *session, struct store_txn *txn,
			enum store_deliver_flags flags)
{
	struct store_queue_envelope env = {0};
	struct store_queue_rcpt *rcpts;

	env.sender = smtp_address_to_string(session->txn_pool,
					    &session->mail.path);
	env.envid = session->mail.envid;
	env.ret = session->mail.ret == SMTP_DSN_RET_FULL ? STORE_DSN_RET_FULL :
		session->mail.ret == SMTP_DSN_RET_HDRS ? STORE_DSN_RET_HDRS :
		STORE_DSN_RET_DEFAULT;
	env.body_type = session->mail.body == SMTP_BODY_8BITMIME ||
		smtp_data_decoder_has_8bit(session->decoder) ?
		STORE_QUEUE_BODY_8BITMIME : STORE_QUEUE_BODY_7BIT;
	env.smtputf8 = session->mail.smtputf8;
	rcpts = p_new(session->txn_pool, struct store_queue_rcpt,
		      session->remote_count);
	for (unsigned i = 0; i < session->remote_count; i++) {
		rcpts[i].address = session->remote[i].address;
		rcpts[i].orcpt = session->remote[i].orcpt;
		rcpts[i].notify = notify_to_store(session->remote[i].notify);
	}
	(void)store_txn_enqueue(txn, session->msg.data + session->msg_start +
				session->return_path_len,
				session->msg.len - session->msg_start -
				session->return_path_len,
				&env, rcpts, session->remote_count, flags);
}

#ifdef HAVE_QUEUE_DAEMON
/* RFC 3461 section 6.2: a recipient that asked for NOTIFY=SUCCESS gets a
 * "delivered" DSN once the message is in its mailbox. It is part of the
 * same transaction, so it exists exactly when the delivery does: into the
 * sender's mailbox when the sender is local, else queued from <>. */
static void add_success_dsn(struct smtpd_session *session,
			    struct store_txn *txn, struct smtpd_delivery *d)
{
	struct queue_dsn_rcpt *drcpts;
	struct queue_dsn dsn = {0};
	struct store_resolution res;
	struct buf out = BUF_INIT;
	const char *sender, *error;
	unsigned count = 0;
	bool local_domain;
	int ret;

	if (smtp_address_is_null(&session->mail.path))
		return;
	drcpts = p_new(session->txn_pool, struct queue_dsn_rcpt,
		       session->rcpt_count);
	for (unsigned i = 0; i < session->rcpt_count; i++) {
		const struct smtpd_rcpt *r = &session->rcpts[i];
		if (!r->local || (r->notify & SMTP_DSN_NOTIFY_SUCCESS) == 0)
			continue;
		drcpts[count].address = r->address;
		drcpts[count].orcpt = r->orcpt;
		drcpts[count].action = QUEUE_DSN_ACTION_DELIVERED;
		drcpts[count].status = "2.0.0";
		drcpts[count].last_attempt = time(NULL);
		count++;
	}
	if (count == 0)
		return;
	sender = smtp_address_to_string(session->txn_pool, &session->mail.path);
	dsn.reporting_mta = session->config->server.hostname;
	dsn.to = sender;
	dsn.envid = session->mail.envid;
	dsn.arrival_date = time(NULL);
	dsn.ret = session->mail.ret == SMTP_DSN_RET_FULL ? QUEUE_DSN_RET_FULL :
		session->mail.ret == SMTP_DSN_RET_HDRS ? QUEUE_DSN_RET_HDRS :
		QUEUE_DSN_RET_DEFAULT;
	dsn.original = session->msg.data + session->msg_start +
		session->return_path_len;
	dsn.original_size = session->msg.len - session->msg_start -
		session->return_path_len;
	dsn.rcpts = drcpts;
	dsn.rcpt_count = count;
	/* The DSN's own Return-Path is the null sender's. */
	buf_append_str(&out, "Return-Path: <>\r\n");
	queue_dsn_build(&dsn, &out);

	ret = session->mail.path.domain == NULL ? 0 :
		store_domain_exists(session->server->store,
				    session->mail.path.domain, &error);
	local_domain = ret > 0;
	if (ret > 0)
		ret = store_resolve(session->server->store, sender,
				    session->txn_pool, &res, &error);
	if (ret == 0 && local_domain) {
		/* A sender in our own domain that does not exist: nowhere to
		 * put the notice (and it must not bounce). */
		log_info(session->sid, "smtp_dsn_dropped",
			 "queue_id=%s reason=unknown_local_sender",
			 session->queue_id);
	} else if (ret < 0) {
		log_warn(session->sid, "smtp_dsn_failed",
			 "queue_id=%s error=%s", session->queue_id, error);
	} else if (ret > 0 && res.account_count > 0) {
		/* Its own transaction, after the message's: a full mailbox
		 * of the sender must not fail the delivery itself. */
		struct store_delivery_rcpt *rcpts =
			i_new(struct store_delivery_rcpt, res.account_count);
		for (unsigned i = 0; i < res.account_count; i++)
			rcpts[i].account_id = res.account_ids[i];
		d->dsn_txn = store_txn_create(session->server->store);
		(void)store_txn_deliver(d->dsn_txn, out.data, out.len,
					time(NULL), rcpts, res.account_count,
					0);
		i_free(rcpts);
	} else if (ret == 0) {
		struct store_queue_envelope env = {
			.sender = "",
			.body_type = session->mail.smtputf8 ||
				smtp_data_decoder_has_8bit(session->decoder) ?
				STORE_QUEUE_BODY_8BITMIME : STORE_QUEUE_BODY_7BIT,
			.smtputf8 = session->mail.smtputf8,
		};
		struct store_queue_rcpt qrcpt = {
			.address = sender,
			.notify = STORE_DSN_NOTIFY_NEVER,
		};
		(void)store_txn_enqueue(txn, out.data, out.len, &env, &qrcpt, 1,
					0);
		session->dsn_queued = true;
	}
	/* A local sender whose address resolves only to remote targets gets
	 * no DSN: it would be forwarded from <> to somebody else. */
	buf_free(&out);
}
#endif

/* One stored copy for every local account (the store shares the body),
 * committed in the store's next group commit; the
 * reply waits for it and input is paused meanwhile, so pipelined commands
 * stay behind it. */
void smtpd_deliver_commit(struct smtpd_session *session)
{
	struct store_delivery_rcpt *rcpts;
	struct smtpd_delivery *d;
	struct store_txn *txn;
	enum store_deliver_flags flags = 0;

	i_assert(session->account_count > 0 || session->remote_count > 0);
	if (!smtpd_submission_data(session))
		return;
	/* BDAT content may have bare LFs (DATA refuses them). */
	if (session->state != SMTPD_STATE_DATA)
		flags |= STORE_DELIVER_CONVERT_LF;

	d = i_new(struct smtpd_delivery, 1);
	d->conn = session->conn;
	d->target = net_loop_completion_target(conn_loop(session->conn));
	memcpy(d->queue_id, session->queue_id, sizeof(d->queue_id));
	d->size = session->msg.len - session->msg_start;
	d->account_count = session->account_count;
	d->remote_count = session->remote_count;
	d->start_us = time_real_us();

	txn = store_txn_create(session->server->store);
	if (session->account_count > 0) {
		rcpts = p_new(session->txn_pool, struct store_delivery_rcpt,
			      session->account_count);
		for (unsigned i = 0; i < session->account_count; i++) {
			rcpts[i].account_id = session->account_ids[i];
			/* DMARC quarantine; the store falls back to INBOX
			 * for an account without Junk. */
			if (smtpd_mailauth_junk(session))
				rcpts[i].mailbox = "Junk";
		}
		(void)store_txn_deliver(txn, session->msg.data +
					session->msg_start,
					session->msg.len - session->msg_start,
					time(NULL), rcpts,
					session->account_count, flags);
	}
	if (session->remote_count > 0)
		add_enqueue(session, txn, flags);
#ifdef HAVE_QUEUE_DAEMON
	if (session->account_count > 0)
		add_success_dsn(session, txn, d);
#endif
	d->kick_queue = session->remote_count > 0 || session->dsn_queued;
	/* The store copied the message. */
	buf_free(&session->msg);
	conn_ref(session->conn);
	conn_pause(session->conn);
	session->state = SMTPD_STATE_COMMIT;
	store_txn_commit(txn, &d->target, delivery_done, d);
}

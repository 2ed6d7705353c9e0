/* SPDX-License-Identifier: MIT */
/* The submission roles (RFC 6409 on 587 with STARTTLS, RFC 8314 on 465
 * with implicit TLS): the same SMTP engine as the MX, plus AUTH
 * (smtpd-cmd-auth.c), the sender checks and the header fixes below. */
#include "smtpd-submission.h"
#include "conn.h"
#include "config.h"
#include "net-loop.h"
#include "service.h"
#include "store.h"
#include "strutil.h"
#include "timeutil.h"
#include "message-header.h"
#include "message-address.h"
#include "dkim-sign.h"
#include "workpool.h"

#include <strings.h>
#include <time.h>

/* From: addresses checked per message; more is refused as a whole. */
#define SMTPD_FROM_MAX_ADDRESSES 50

/* The submission roles' server: the shared one first (smtpd.c only ever
 * sees that part, and smtpd_deinit() frees the whole from its address),
 * then what signing needs. */
struct smtpd_submission_server {
	struct smtpd_server server;
	struct workpool *workpool;
	struct dkimsign_keys *dkim_keys;
};

/* A message being DKIM-signed on a worker thread. It owns the message
 * meanwhile, so it outlives a session that closes before it is done. */
struct smtpd_sign_job {
	struct conn *conn;
	struct completion_target target;
	struct dkimsign_keys *keys;
	char *domain;
	struct buf msg;       /* the session's msg, moved here */
	size_t offset;        /* what is relayed starts here (no Return-Path) */
	struct buf headers;   /* the DKIM-Signature fields made */
	const char *error;
	int ret;
	int64_t start_us, cpu_us;
	char queue_id[LOG_SID_SIZE];
};

struct smtpd_submission *smtpd_submission_get(struct smtpd_session *session)
{
	if (session->sub == NULL) {
		session->sub = i_new(struct smtpd_submission, 1);
		session->sub->target =
			net_loop_completion_target(conn_loop(session->conn));
	}
	return session->sub;
}

bool smtpd_submission_secure(struct smtpd_session *session)
{
	if (conn_is_tls(session->conn))
		return true;
	return session->server->plaintext_loopback &&
		net_addr_is_loopback(conn_peer_addr(session->conn));
}

bool smtpd_submission_authenticated(const struct smtpd_session *session)
{
	return session->sub != NULL && session->sub->username != NULL;
}

/* Whether the authenticated user owns address: it is their account, or
 * it resolves (alias, subaddress) to their account. 1 yes, 0 no, -1 a
 * store error (logged). */
static int user_owns(struct smtpd_session *session, struct pool *pool,
		     const char *address)
{
	const struct smtpd_submission *sub = session->sub;
	struct store_resolution res;
	const char *error;
	int ret;

	if (strcasecmp(address, sub->username) == 0)
		return 1;
	ret = store_resolve(session->server->store, address, pool, &res,
			    &error);
	if (ret < 0) {
		log_error(session->sid, "smtp_store_error",
			  "op=resolve_sender error=%s", error);
		return -1;
	}
	for (unsigned i = 0; ret > 0 && i < res.account_count; i++) {
		if (res.account_ids[i] == sub->account_id)
			return 1;
	}
	return 0;
}

/* RFC 6409 section 4.3 / RFC 4954 section 6: MAIL needs AUTH here; the
 * sender must be the user's own (section 6.1 lets the MSA enforce it). */
bool smtpd_submission_mail(struct smtpd_session *session,
			   const struct smtp_mail_args *mail)
{
	const char *sender;
	char quoted[256];
	int ret;

	if (!session->server->submission)
		return true;
	if (!smtpd_submission_authenticated(session)) {
		smtpd_reply(session, 530, "5.7.0", "Authentication required");
		smtpd_client_error(session);
		return false;
	}
	/* The null sender (MDNs, for instance) cannot be spoofed; the
	 * From: check still applies to the message. */
	if (smtp_address_is_null(&mail->path))
		return true;
	sender = smtp_address_to_string(session->cmd_pool, &mail->path);
	ret = mail->path.domain == NULL ? 0 :
		user_owns(session, session->cmd_pool, sender);
	if (ret < 0) {
		smtpd_reply(session, 451, "4.3.0",
			    "Temporary lookup failure, try again later");
		return false;
	}
	if (ret == 0) {
		log_info(session->sid, "smtp_sender_rejected",
			 "user=%s from=%s", session->sub->username,
			 log_quote(quoted, sizeof(quoted), sender));
		smtpd_reply(session, 553, "5.7.1",
			    "Sender address rejected: not owned by user %s",
			    session->sub->username);
		smtpd_client_error(session);
		return false;
	}
	return true;
}

/* Checks every mailbox of one From: field. 1 all owned, 0 one is not
 * (or there are too many), -1 a store error. *domain_r is set to the
 * first mailbox's domain when still NULL. */
static int from_owned(struct smtpd_session *session,
		      const struct message_header_field *field,
		      const char **domain_r)
{
	struct message_address *addr;
	char quoted[256];
	unsigned count = 0;
	int ret;

	addr = message_address_parse(session->txn_pool, field->value,
				     field->value_len,
				     SMTPD_FROM_MAX_ADDRESSES + 1);
	for (; addr != NULL; addr = addr->next) {
		const char *address;

		if (addr->mailbox == NULL || addr->domain == NULL)
			continue; /* group start or end */
		if (++count > SMTPD_FROM_MAX_ADDRESSES)
			return 0;
		address = pool_printf(session->txn_pool, "%s@%s",
				      addr->mailbox, addr->domain);
		if (*domain_r == NULL)
			*domain_r = addr->domain;
		ret = addr->invalid ? 0 :
			user_owns(session, session->txn_pool, address);
		if (ret <= 0) {
			if (ret == 0)
				log_info(session->sid, "smtp_from_rejected",
					 "queue_id=%s user=%s from=%s",
					 session->queue_id,
					 session->sub->username,
					 log_quote(quoted, sizeof(quoted),
						   address));
			return ret;
		}
	}
	return 1;
}

/* RFC 6409 section 8.2 and 8.3: an MSA may add Date and Message-ID
 * when the client left them out; and a message without From: (RFC 5322
 * requires one) gets the user's own address, so it can be signed and
 * pass DMARC at the far end. They go right after our Received field,
 * before the client's header. */
static void add_missing_fields(struct smtpd_session *session, bool date,
			       bool message_id, const char *from)
{
	struct buf added = BUF_INIT, msg = BUF_INIT;
	char buf[64];

	if (from != NULL)
		buf_printf(&added, "From: <%s>\r\n", from);
	if (message_id) {
		buf_printf(&added, "Message-ID: <%lld.%s@%s>\r\n",
			   (long long)time_real_us(), session->queue_id,
			   session->config->server.hostname);
	}
	if (date) {
		buf_printf(&added, "Date: %s\r\n",
			   time_format_rfc5322(time(NULL), buf, sizeof(buf)));
	}
	buf_reserve(&msg, session->msg.len + added.len);
	buf_append(&msg, session->msg.data, session->header_len);
	buf_append(&msg, added.data, added.len);
	buf_append(&msg, session->msg.data + session->header_len,
		   session->msg.len - session->header_len);
	session->header_len += added.len;
	buf_free(&session->msg);
	session->msg = msg;
	buf_free(&added);
}

static void sign_work(void *ctx)
{
	struct smtpd_sign_job *job = ctx;
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	job->ret = dkimsign_message(job->keys, job->domain,
				    job->msg.data + job->offset,
				    job->msg.len - job->offset, &job->headers,
				    &job->error);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	job->cpu_us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000;
}

static void sign_job_free(struct smtpd_sign_job *job)
{
	buf_free(&job->msg);
	buf_free(&job->headers);
	free(job->domain);
	free(job);
}

/* Back on the session's loop: the DKIM-Signature fields go above what is
 * relayed (after the Return-Path, which only final delivery keeps), then
 * the commit goes on where it stopped. */
static void sign_done(void *ctx)
{
	struct smtpd_sign_job *job = ctx;
	struct conn *conn = job->conn;
	struct smtpd_session *session;
	struct buf msg = BUF_INIT;

	if (conn_is_closed(conn)) {
		/* Nothing was accepted: the client retries without a 250. */
		log_info(NULL, "smtp_dkim_sign_orphan", "queue_id=%s",
			 job->queue_id);
		sign_job_free(job);
		conn_unref(&conn);
		return;
	}
	session = conn_get_context(conn);
	if (job->ret > 0) {
		buf_reserve(&msg, job->msg.len + job->headers.len);
		buf_append(&msg, job->msg.data, job->offset);
		buf_append(&msg, job->headers.data, job->headers.len);
		buf_append(&msg, job->msg.data + job->offset,
			   job->msg.len - job->offset);
		buf_free(&job->msg);
		session->msg = msg;
		session->header_len += job->headers.len;
		log_debug(session->sid, "smtp_dkim_signed",
			  "queue_id=%s domain=%s cpu_us=%lld wait_us=%lld",
			  session->queue_id, job->domain,
			  (long long)job->cpu_us,
			  (long long)(time_mono_us() - job->start_us));
	} else {
		/* Unsigned mail still goes: a broken key must not stop
		 * everybody's mail. */
		if (job->ret < 0)
			log_warn(session->sid, "smtp_dkim_sign_failed",
				 "queue_id=%s domain=%s error=%s",
				 session->queue_id, job->domain, job->error);
		session->msg = job->msg;
		job->msg = (struct buf)BUF_INIT;
	}
	session->state = session->sub->sign_prev_state;
	memcpy(session->sub->signed_queue_id, session->queue_id,
	       sizeof(session->sub->signed_queue_id));
	sign_job_free(job);
	smtpd_deliver_commit(session);
	conn_unref(&conn);
}

/* Starts signing when the message has a domain of ours with keys: the
 * From: domain, else the MAIL FROM domain (RFC 6376 section 3.5 lets any
 * domain sign; DMARC alignment wants From's). Returns true when the
 * commit now waits for sign_done(). */
static bool sign_start(struct smtpd_session *session, const char *from_domain)
{
	struct smtpd_submission_server *sserver =
		(struct smtpd_submission_server *)session->server;
	struct smtpd_sign_job *job;
	const char *domain;

	if (!session->config->auth.dkim_sign || sserver->dkim_keys == NULL)
		return false;
	domain = dkimsign_select_domain(sserver->dkim_keys, from_domain,
					session->mail.path.domain);
	if (domain == NULL)
		return false;
	job = i_new(struct smtpd_sign_job, 1);
	job->conn = session->conn;
	job->target = session->sub->target;
	job->keys = sserver->dkim_keys;
	job->domain = i_strdup(domain);
	job->msg = session->msg;
	session->msg = (struct buf)BUF_INIT;
	/* msg_start is 0 here (smtpd-mailauth.c runs on the MX only);
	 * counted anyway, as smtpd-deliver.c does. */
	job->offset = session->msg_start + session->return_path_len;
	job->start_us = time_mono_us();
	memcpy(job->queue_id, session->queue_id, sizeof(job->queue_id));

	session->sub->sign_prev_state = session->state;
	session->state = SMTPD_STATE_COMMIT;
	conn_ref(session->conn);
	conn_pause(session->conn);
	workpool_submit(sserver->workpool, sign_work, sign_done, job,
			&job->target);
	return true;
}

bool smtpd_submission_data(struct smtpd_session *session)
{
	const uint8_t *header = session->msg.data + session->header_len;
	size_t size = session->msg.len - session->header_len;
	struct message_header_iter iter;
	struct message_header_field field;
	bool have_date = false, have_message_id = false, have_from = false;
	const char *from_domain = NULL, *add_from = NULL;
	int ret = 1;

	if (!session->server->submission)
		return true;
	if (session->sub->signed_queue_id[0] != '\0') {
		/* Tied to the transaction: a flag left over by a commit
		 * that never came back here must not spare the next
		 * message its checks. */
		bool again = strcmp(session->sub->signed_queue_id,
				    session->queue_id) == 0;
		session->sub->signed_queue_id[0] = '\0';
		if (again)
			return true; /* the commit going on after sign_done() */
	}
	message_header_iter_init(&iter, header,
				 message_header_block_size(header, size));
	while (ret > 0 && message_header_iter_next(&iter, &field) > 0) {
		if (message_header_field_is(&field, "From")) {
			have_from = true;
			ret = from_owned(session, &field, &from_domain);
		}
		else if (message_header_field_is(&field, "Date"))
			have_date = true;
		else if (message_header_field_is(&field, "Message-ID"))
			have_message_id = true;
	}
	if (ret < 0) {
		smtpd_reply(session, 451, "4.3.0",
			    "Temporary lookup failure, try again later");
		smtpd_transaction_end(session);
		return false;
	}
	if (ret == 0) {
		smtpd_reply(session, 550, "5.7.1",
			    "From: address not owned by user %s",
			    session->sub->username);
		smtpd_transaction_end(session);
		return false;
	}
	if (!have_from && strchr(session->sub->username, '@') != NULL) {
		add_from = session->sub->username;
		from_domain = strrchr(add_from, '@') + 1;
	}
	if (!have_date || !have_message_id || add_from != NULL)
		add_missing_fields(session, !have_date, !have_message_id,
				   add_from);
	return !sign_start(session, from_domain);
}

/* ---- the services ---- */

static int submission_init(const struct service_env *env, void **context_r,
			   const char **error_r, const char *name)
{
	struct smtpd_submission_server *sserver;
	struct smtpd_server *server;

	if (env->store == NULL || env->auth == NULL) {
		*error_r = "submission: the mail store or lib-auth is not "
			   "available";
		return -1;
	}
	sserver = i_new(struct smtpd_submission_server, 1);
	sserver->workpool = env->workpool;
	/* Without a worker pool nothing can sign off the event loop. */
	if (env->workpool != NULL)
		sserver->dkim_keys =
			dkimsign_keys_shared(env->config->server.data_dir);
	server = &sserver->server;
	server->name = name;
	server->store = env->store;
	server->submission = true;
	server->auth = env->auth;
	server->plaintext_loopback =
		env->config->submission.allow_plaintext_loopback;
	pthread_mutex_init(&server->config_lock, NULL);
	server->config = env->config;
	config_ref(server->config);
	*context_r = server;
	return 0;
}

static int submission_init_587(const struct service_env *env,
			       void **context_r, const char **error_r)
{
	return submission_init(env, context_r, error_r, "submission");
}

static int submission_init_465(const struct service_env *env,
			       void **context_r, const char **error_r)
{
	return submission_init(env, context_r, error_r, "submissions");
}

static void submission_reload(void *context, struct config *config)
{
	struct smtpd_server *server = context;
	struct smtpd_submission_server *sserver = context;

	/* Keys are re-checked every few seconds anyway; SIGHUP makes a
	 * changed key count from the next message on. */
	if (sserver->dkim_keys != NULL)
		dkimsign_keys_invalidate(sserver->dkim_keys);

	server->plaintext_loopback =
		config->submission.allow_plaintext_loopback;
	smtpd_reload(context, config);
}

const struct service smtpd_service_submission = {
	.name = "submission",
	.handlers = &smtpd_handlers,
	.too_many_message = "421 4.7.0 Error: too many connections\r\n",
	.init = submission_init_587,
	.reload = submission_reload,
	.deinit = smtpd_deinit,
};

const struct service smtpd_service_submissions = {
	.name = "submissions",
	.handlers = &smtpd_handlers,
	.init = submission_init_465,
	.reload = submission_reload,
	.deinit = smtpd_deinit,
};

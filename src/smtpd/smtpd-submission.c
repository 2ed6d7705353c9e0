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

#include <strings.h>
#include <time.h>

/* From: addresses checked per message; more is refused as a whole. */
#define SMTPD_FROM_MAX_ADDRESSES 50

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
 * (or there are too many), -1 a store error. */
static int from_owned(struct smtpd_session *session,
		      const struct message_header_field *field)
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
 * when the client left them out. They go right after our Received
 * field, before the client's header. */
static void add_missing_fields(struct smtpd_session *session, bool date,
			       bool message_id)
{
	struct buf added = BUF_INIT, msg = BUF_INIT;
	char buf[64];

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

bool smtpd_submission_data(struct smtpd_session *session)
{
	const uint8_t *header = session->msg.data + session->header_len;
	size_t size = session->msg.len - session->header_len;
	struct message_header_iter iter;
	struct message_header_field field;
	bool have_date = false, have_message_id = false;
	int ret = 1;

	if (!session->server->submission)
		return true;
	message_header_iter_init(&iter, header,
				 message_header_block_size(header, size));
	while (ret > 0 && message_header_iter_next(&iter, &field) > 0) {
		if (message_header_field_is(&field, "From"))
			ret = from_owned(session, &field);
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
	if (!have_date || !have_message_id)
		add_missing_fields(session, !have_date, !have_message_id);
	return true;
}

/* ---- the services ---- */

static int submission_init(const struct service_env *env, void **context_r,
			   const char **error_r, const char *name)
{
	struct smtpd_server *server;

	if (env->store == NULL || env->auth == NULL) {
		*error_r = "submission: the mail store or lib-auth is not "
			   "available";
		return -1;
	}
	server = i_new(struct smtpd_server, 1);
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

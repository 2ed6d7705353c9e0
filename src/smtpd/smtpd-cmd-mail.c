/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"
#include "store.h"
#include "strutil.h"

/* MAIL FROM (RFC 5321 section 4.1.1.2) with SIZE (RFC 1870), BODY
 * (RFC 6152), SMTPUTF8 (RFC 6531) and RET/ENVID (RFC 3461). */
void smtpd_cmd_mail(struct smtpd_session *session, const char *args)
{
	struct smtp_error error;
	struct smtp_mail_args mail;
	char addr[256];

	if (smtp_mail_args_parse(args, session->txn_pool, session->caps, &mail,
				 &error) < 0) {
		smtpd_reply_error(session, &error);
		smtpd_client_error(session);
		pool_clear(session->txn_pool);
		return;
	}
	/* RFC 1870 section 6.2: a declared size over our limit is refused
	 * now rather than after the client has sent it all. */
	if (mail.size_set && mail.size > session->config->smtp.max_message_size) {
		smtpd_reply(session, 552, "5.3.4",
			    "Message size exceeds fixed maximum message size");
		pool_clear(session->txn_pool);
		return;
	}
	if (!smtpd_submission_mail(session, &mail)) {
		pool_clear(session->txn_pool);
		return;
	}
	session->mail = mail;
	session->state = SMTPD_STATE_MAIL;
	log_session_id_new(session->queue_id);
	smtpd_mailauth_mail(session);
	log_debug(session->sid, "smtp_mail", "queue_id=%s from=%s size=%llu",
		 session->queue_id,
		 log_quote(addr, sizeof(addr),
			   smtp_address_to_string(session->txn_pool,
						  &mail.path)),
		 (unsigned long long)mail.size);
	smtpd_reply(session, 250, "2.1.0", "Ok");
}

static void add_account(struct smtpd_session *session, int64_t id)
{
	for (unsigned i = 0; i < session->account_count; i++) {
		if (session->account_ids[i] == id)
			return;
	}
	if (session->account_count == session->account_alloc) {
		unsigned n = session->account_alloc == 0 ? 8 :
			session->account_alloc * 2;
		int64_t *ids = p_new(session->txn_pool, int64_t, n);
		if (session->account_count > 0)
			memcpy(ids, session->account_ids,
			       sizeof(*ids) * session->account_count);
		session->account_ids = ids;
		session->account_alloc = n;
	}
	session->account_ids[session->account_count++] = id;
}

static void add_remote(struct smtpd_session *session, const char *address,
		       const char *rcpt_address,
		       const struct smtp_rcpt_args *rcpt)
{
	struct smtpd_remote *r;

	for (unsigned i = 0; i < session->remote_count; i++) {
		if (strcmp(session->remote[i].address, address) == 0)
			return;
	}
	if (session->remote_count == session->remote_alloc) {
		unsigned n = session->remote_alloc == 0 ? 4 :
			session->remote_alloc * 2;
		struct smtpd_remote *rs = p_new(session->txn_pool,
						struct smtpd_remote, n);
		if (session->remote_count > 0)
			memcpy(rs, session->remote,
			       sizeof(*rs) * session->remote_count);
		session->remote = rs;
		session->remote_alloc = n;
	}
	r = &session->remote[session->remote_count++];
	r->address = pool_strdup(session->txn_pool, address);
	r->notify = rcpt->notify;
	/* RFC 3461 section 4.2: the original recipient is the one the
	 * client gave (an alias here), whether or not it sent ORCPT. */
	r->orcpt = rcpt->orcpt_type != NULL ?
		pool_printf(session->txn_pool, "%s;%s", rcpt->orcpt_type,
			    rcpt->orcpt_addr) :
		pool_printf(session->txn_pool, "rfc822;%s", rcpt_address);
}

static void add_rcpt(struct smtpd_session *session, const char *address,
		     const struct smtp_rcpt_args *rcpt, bool local)
{
	struct smtpd_rcpt *r;

	if (session->rcpt_count == session->rcpt_alloc) {
		unsigned n = session->rcpt_alloc == 0 ? 8 :
			session->rcpt_alloc * 2;
		struct smtpd_rcpt *rs = p_new(session->txn_pool,
					      struct smtpd_rcpt, n);
		if (session->rcpt_count > 0)
			memcpy(rs, session->rcpts,
			       sizeof(*rs) * session->rcpt_count);
		session->rcpts = rs;
		session->rcpt_alloc = n;
	}
	r = &session->rcpts[session->rcpt_count++];
	r->address = address;
	r->notify = rcpt->notify;
	r->orcpt = rcpt->orcpt_type == NULL ? NULL :
		pool_printf(session->txn_pool, "%s;%s", rcpt->orcpt_type,
			    rcpt->orcpt_addr);
	r->local = local;
}

/* Quota check at RCPT time, so that an over-quota recipient is refused
 * before the message is sent rather than half-delivered after it. Uses the
 * declared SIZE when there is one. Returns false after replying. */
static bool check_accounts(struct smtpd_session *session,
			   const struct store_resolution *res)
{
	struct store *store = session->server->store;
	uint64_t size = session->mail.size_set ? session->mail.size : 0;
	const char *error;

	for (unsigned i = 0; i < res->account_count; i++) {
		struct store_account *account;
		int ret = store_account_lookup_id(store, res->account_ids[i],
						  session->cmd_pool, &account,
						  &error);
		if (ret < 0) {
			log_error(session->sid, "smtp_store_error",
				  "op=account_lookup error=%s", error);
			smtpd_reply(session, 451, "4.3.0",
				    "Temporary lookup failure, try again later");
			return false;
		}
		if (ret == 0)
			continue;
		if (account->disabled) {
			smtpd_reply(session, 550, "5.2.1", "Mailbox disabled");
			return false;
		}
		if ((account->quota_bytes != 0 &&
		     account->used_bytes + size > account->quota_bytes) ||
		    (account->quota_messages != 0 &&
		     account->used_messages + 1 > account->quota_messages)) {
			smtpd_reply(session, 552, "5.2.2",
				    "Mailbox full (quota exceeded)");
			return false;
		}
	}
	return true;
}

/* RCPT TO (RFC 5321 section 4.1.1.3). The MX accepts local recipients
 * only: a domain that is not ours is relaying (section 3.6.2, 550 5.7.1),
 * an unknown user in ours 550 5.1.1. <postmaster> without a domain is
 * always accepted (section 4.5.1). */
/* postmaster@ the host name when it is a local domain, else @ its nearest
 * local parent (mx.example.org -> example.org), else @ the first local
 * domain: every one of them takes postmaster@ (RFC 5321 section 4.5.1). */
static int postmaster_domain(struct smtpd_session *session,
			     const char **address_r, const char **error_r)
{
	const char *name = session->config->server.hostname;
	const char *const *domains;
	unsigned count;
	int ret;

	for (const char *d = name; d != NULL && strchr(d, '.') != NULL;
	     d = strchr(d, '.') + 1) {
		ret = store_domain_exists(session->server->store, d, error_r);
		if (ret != 0) {
			*address_r = pool_printf(session->cmd_pool,
						 "postmaster@%s", d);
			return ret < 0 ? -1 : 1;
		}
	}
	if (store_domain_list(session->server->store, session->cmd_pool,
			      &domains, &count, error_r) < 0)
		return -1;
	*address_r = pool_printf(session->cmd_pool, "postmaster@%s",
				 count > 0 ? domains[0] : name);
	return 1;
}

void smtpd_cmd_rcpt(struct smtpd_session *session, const char *args)
{
	struct store *store = session->server->store;
	struct smtp_rcpt_args rcpt;
	struct store_resolution res;
	struct smtp_error error;
	const char *address, *lookup, *store_error;
	char quoted[256];
	int ret;

	if (!smtpd_mailauth_rcpt(session, args))
		return;
	if (smtp_rcpt_args_parse(args, session->cmd_pool, session->caps,
				 session->mail.smtputf8, &rcpt, &error) < 0) {
		smtpd_reply_error(session, &error);
		smtpd_client_error(session);
		return;
	}
	/* RFC 5321 section 4.5.3.1.10: 452 for too many recipients; the
	 * client sends the rest in another transaction. */
	if (session->rcpt_count >= session->config->smtp.max_recipients) {
		smtpd_reply(session, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	address = smtp_address_to_string(session->txn_pool, &rcpt.path);
	log_quote(quoted, sizeof(quoted), address);
	if (rcpt.path.literal) {
		smtpd_reply(session, 550, "5.7.1", "Relay access denied");
		log_info(session->sid, "smtp_rcpt_rejected",
			 "to=%s reason=relay", quoted);
		smtpd_client_error(session);
		return;
	}
	lookup = address;
	if (rcpt.path.domain == NULL) {
		/* Bare <postmaster> (RFC 5321 section 4.1.1.3): the
		 * configured postmaster account, else postmaster@ the
		 * local domain our host name is in. */
		const char *pm = session->config->server.postmaster;
		if (pm != NULL && pm[0] != '\0')
			lookup = pm;
		else if (postmaster_domain(session, &lookup, &store_error) < 0)
			goto temp_failure;
	} else {
		ret = store_domain_exists(store, rcpt.path.domain, &store_error);
		if (ret < 0)
			goto temp_failure;
		if (ret == 0 && session->server->submission &&
		    smtpd_submission_authenticated(session)) {
			/* RFC 6409 section 1: the authenticated user may
			 * send anywhere; the queue takes it. */
			add_remote(session, address, address, &rcpt);
			add_rcpt(session, address, &rcpt, false);
			session->state = SMTPD_STATE_RCPT;
			log_debug(session->sid, "smtp_rcpt",
				  "queue_id=%s to=%s remote=1",
				  session->queue_id, quoted);
			smtpd_reply(session, 250, "2.1.5", "Ok");
			return;
		}
		if (ret == 0) {
			smtpd_reply(session, 550, "5.7.1",
				    "Relay access denied");
			log_info(session->sid, "smtp_rcpt_rejected",
				 "to=%s reason=relay", quoted);
			smtpd_client_error(session);
			return;
		}
	}
	ret = store_resolve(store, lookup, session->cmd_pool, &res, &store_error);
	if (ret < 0)
		goto temp_failure;
	if (ret == 0) {
		smtpd_reply(session, 550, "5.1.1",
			    "Recipient address rejected: User unknown");
		log_info(session->sid, "smtp_rcpt_rejected",
			 "to=%s reason=unknown", quoted);
		smtpd_client_error(session);
		return;
	}
	if (!check_accounts(session, &res))
		return;
	for (unsigned i = 0; i < res.account_count; i++)
		add_account(session, res.account_ids[i]);
	for (unsigned i = 0; i < res.remote_count; i++)
		add_remote(session, res.remote[i], address, &rcpt);
	add_rcpt(session, address, &rcpt, res.account_count > 0);
	session->state = SMTPD_STATE_RCPT;
	log_debug(session->sid, "smtp_rcpt",
		  "queue_id=%s to=%s accounts=%u remote=%u", session->queue_id,
		  quoted, res.account_count, res.remote_count);
	smtpd_reply(session, 250, "2.1.5", "Ok");
	return;

temp_failure:
	log_error(session->sid, "smtp_store_error", "op=resolve to=%s error=%s",
		  quoted, store_error);
	smtpd_reply(session, 451, "4.3.0",
		    "Temporary lookup failure, try again later");
}

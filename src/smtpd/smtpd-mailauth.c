/* SPDX-License-Identifier: MIT */
#include "smtpd-private.h"
#include "conn.h"
#include "config.h"
#include "net-addr.h"
#include "net-loop.h"
#include "service.h"
#include "strutil.h"
#include "dns.h"
#include "spf.h"
#include "dkim.h"
#include "dmarc.h"
#include "message-header.h"
#include "message-address.h"
#include "smtpd-mailauth.h"
#ifdef HAVE_DMARC_REPORT
#include "dmarc-report.h"
#endif

#include <stdlib.h>
#include <time.h>

/* Room left between our trace fields and the content for Received-SPF and
 * Authentication-Results, so adding them moves only the header bytes in
 * front, never the body. Bigger fields fall back to one copy. */
#define SMTPD_MAILAUTH_GAP 2048
/* Longest SPF explanation (DNS-supplied text) echoed in a reply. */
#define SMTPD_MAILAUTH_MAX_EXPLANATION 200
/* The system resolver answers fast where the root servers are out of
 * reach; without the file, libunbound recurses itself. */
#define SMTPD_MAILAUTH_RESOLV_CONF "/etc/resolv.conf"

struct smtpd_mailauth_loop {
	struct dns_resolver *resolver;
	struct mailauth_dns dns;
	bool failed;
};

struct smtpd_mailauth {
	struct dns_zone zone;
	bool have_zone;
	unsigned loop_count;
	/* Each entry is touched only by its own loop's thread, and by
	 * smtpd_mailauth_destroy() once the threads are gone. */
	struct smtpd_mailauth_loop *loops;
};

/* One transaction's checks (MAIL to the decision at the end of data). */
struct smtpd_mailauth_txn {
	struct smtpd_session *session;
	const struct mailauth_dns *dns;
	bool dkim_on, dmarc_on;

	struct spf_check *spf;
	bool spf_done;
	/* RCPT waits for SPF ([auth] spf_reject = rcpt): its arguments. */
	char *rcpt_args;

	struct dkim_verify *dkim;
	bool dkim_done;
	size_t content_start; /* of the content in session->msg */

	struct dmarc_check *dmarc;
	bool dmarc_done;
	struct dmarc_input dmarc_in;
	struct dmarc_dkim_input *dmarc_dkim;
	enum smtpd_from_status from_status;
	char *from_domain;

	/* The end of data was reached: the reply waits for the checks. */
	bool at_end;
	bool junk;
};

int smtpd_mailauth_create(const struct service_env *env,
			  struct smtpd_mailauth **ma_r, const char **error_r)
{
	struct smtpd_mailauth *ma = i_new(struct smtpd_mailauth, 1);
	const char *path = env->config->dns.static_zone;
	char *errors = NULL;

	if (path != NULL && path[0] != '\0') {
		if (dns_zone_parse_file(path, &ma->zone, &errors) < 0) {
			static char msg[512];
			snprintf(msg, sizeof(msg), "[dns] static: %s",
				 errors != NULL ? errors : "unreadable");
			free(errors);
			i_free(ma);
			*error_r = msg;
			return -1;
		}
		ma->have_zone = true;
	}
	ma->loop_count = net_loops_count(env->loops);
	ma->loops = i_new(struct smtpd_mailauth_loop, ma->loop_count);
	*ma_r = ma;
	return 0;
}

void smtpd_mailauth_destroy(struct smtpd_mailauth **_ma)
{
	struct smtpd_mailauth *ma = *_ma;

	if (ma == NULL)
		return;
	*_ma = NULL;
	/* The loops have stopped (service deinit), their bases still exist:
	 * libunbound removes its events from them. */
	for (unsigned i = 0; i < ma->loop_count; i++)
		dns_resolver_destroy(&ma->loops[i].resolver);
	i_free(ma->loops);
	if (ma->have_zone)
		dns_zone_free(&ma->zone);
	i_free(ma);
}

/* The calling loop's resolver, made on first use. */
static const struct mailauth_dns *mailauth_dns_get(struct smtpd_session *session)
{
	struct smtpd_mailauth *ma = session->server->mailauth;
	struct net_loop *loop = conn_loop(session->conn);
	unsigned idx = net_loop_index(loop);
	struct smtpd_mailauth_loop *ml;
	struct dns_resolver_settings set = {
		.static_zone = ma->have_zone ? &ma->zone : NULL,
		.resolv_conf = SMTPD_MAILAUTH_RESOLV_CONF,
	};
	const char *error;

	if (idx >= ma->loop_count)
		return NULL;
	ml = &ma->loops[idx];
	if (ml->resolver != NULL)
		return &ml->dns;
	if (ml->failed)
		return NULL;
	ml->resolver = dns_resolver_create(net_loop_base(loop), &set, &error);
	if (ml->resolver == NULL) {
		ml->failed = true;
		log_error(NULL, "smtp_mailauth_resolver_failed",
			  "loop=%u error=\"%s\"", idx, error);
		return NULL;
	}
	mailauth_dns_init_resolver(&ml->dns, ml->resolver);
	return &ml->dns;
}

static bool mailauth_enabled(const struct smtpd_session *session)
{
	const struct config *config = session->config;

	return session->server->mailauth != NULL &&
		!session->server->submission &&
		(config->auth.spf || config->auth.dkim_verify ||
		 config->auth.dmarc);
}

static const char *authserv_id(const struct smtpd_session *session)
{
	const char *id = session->config->auth.authserv_id;

	return id != NULL && id[0] != '\0' ? id :
		session->config->server.hostname;
}

void smtpd_mailauth_reset(struct smtpd_session *session)
{
	struct smtpd_mailauth_txn *txn = session->mailauth;

	if (txn == NULL)
		return;
	session->mailauth = NULL;
	spf_check_destroy(&txn->spf);
	dkim_verify_destroy(&txn->dkim);
	dmarc_check_destroy(&txn->dmarc);
	i_free(txn->rcpt_args);
	i_free(txn->dmarc_dkim);
	i_free(txn->from_domain);
	i_free(txn);
}

bool smtpd_mailauth_waiting(const struct smtpd_session *session)
{
	return session->mailauth != NULL && session->mailauth->at_end;
}

bool smtpd_mailauth_junk(const struct smtpd_session *session)
{
	return session->mailauth != NULL && session->mailauth->junk;
}

static void spf_done(struct spf_check *check, void *ctx);

void smtpd_mailauth_mail(struct smtpd_session *session)
{
	const struct config *config = session->config;
	struct smtpd_mailauth_txn *txn;
	const struct mailauth_dns *dns;
	struct spf_request req;

	i_assert(session->mailauth == NULL);
	if (!mailauth_enabled(session))
		return;
	dns = mailauth_dns_get(session);
	if (dns == NULL)
		return;
	txn = i_new(struct smtpd_mailauth_txn, 1);
	txn->session = session;
	txn->dns = dns;
	txn->dkim_on = config->auth.dkim_verify;
	txn->dmarc_on = config->auth.dmarc;
	session->mailauth = txn;
	if (!config->auth.spf)
		return;

	/* Started now, so the answer is usually there by the end of data. */
	memset(&req, 0, sizeof(req));
	req.client_ip = conn_peer_addr(session->conn)->ss;
	req.helo = session->helo;
	req.sender = smtp_address_is_null(&session->mail.path) ? "" :
		smtp_address_to_string(session->txn_pool, &session->mail.path);
	req.receiver = config->server.hostname;
	txn->spf = spf_check_start(dns, &req, spf_done, txn);
}

/* Text from DNS, fit for one reply line. */
static const char *reply_safe(struct smtpd_session *session, const char *text)
{
	size_t len = strlen(text);
	char *out;

	if (len > SMTPD_MAILAUTH_MAX_EXPLANATION)
		len = SMTPD_MAILAUTH_MAX_EXPLANATION;
	out = pool_strndup(session->cmd_pool, text, len);
	for (char *p = out; *p != '\0'; p++) {
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 127)
			*p = '?';
	}
	return out;
}

static void reply_spf_fail(struct smtpd_session *session,
			   const struct spf_check *spf)
{
	const char *exp = spf_check_explanation(spf);

	/* RFC 7372 section 3.2: X.7.23 "SPF validation failed". */
	if (exp != NULL && exp[0] != '\0')
		smtpd_reply(session, 550, "5.7.23", "SPF check failed for %s: %s",
			    spf_check_domain(spf), reply_safe(session, exp));
	else
		smtpd_reply(session, 550, "5.7.23",
			    "SPF check failed: %s does not designate %s as "
			    "permitted sender", spf_check_domain(spf),
			    conn_peer_ip(session->conn));
}

static void reply_spf_temperror(struct smtpd_session *session)
{
	/* RFC 7372 section 3.2: X.7.24 "SPF validation error". */
	smtpd_reply(session, 451, "4.7.24",
		    "Temporary SPF validation error, try again later");
}

bool smtpd_mailauth_rcpt(struct smtpd_session *session, const char *args)
{
	struct smtpd_mailauth_txn *txn = session->mailauth;
	enum spf_result result;
	char quoted[256];

	if (txn == NULL || txn->spf == NULL ||
	    session->config->auth.spf_reject != CONFIG_SPF_REJECT_RCPT)
		return true;
	if (!txn->spf_done) {
		/* Pipelined commands wait behind this one; the DNS
		 * timeouts bound the wait. */
		i_assert(txn->rcpt_args == NULL);
		txn->rcpt_args = i_strdup(args);
		conn_pause(session->conn);
		return false;
	}
	result = spf_check_result(txn->spf);
	if (result == SPF_RESULT_FAIL) {
		reply_spf_fail(session, txn->spf);
		log_info(session->sid, "smtp_rcpt_rejected",
			 "queue_id=%s reason=spf_fail spf_domain=%s",
			 session->queue_id,
			 log_quote(quoted, sizeof(quoted),
				   spf_check_domain(txn->spf)));
		return false;
	}
	if (result == SPF_RESULT_TEMPERROR &&
	    session->config->auth.temperror == CONFIG_AUTH_TEMPERROR_DEFER) {
		reply_spf_temperror(session);
		log_info(session->sid, "smtp_rcpt_rejected",
			 "queue_id=%s reason=spf_temperror", session->queue_id);
		return false;
	}
	return true;
}

static void end_continue(struct smtpd_mailauth_txn *txn);

static void spf_done(struct spf_check *check UNUSED, void *ctx)
{
	struct smtpd_mailauth_txn *txn = ctx;
	struct smtpd_session *session = txn->session;
	char *args;

	txn->spf_done = true;
	if (txn->rcpt_args != NULL) {
		args = txn->rcpt_args;
		txn->rcpt_args = NULL;
		conn_resume(session->conn);
		smtpd_cmd_rcpt(session, args);
		pool_clear(session->cmd_pool);
		i_free(args);
		return;
	}
	if (txn->at_end)
		end_continue(txn);
}

void smtpd_mailauth_data_begin(struct smtpd_session *session)
{
	static const uint8_t gap[SMTPD_MAILAUTH_GAP];
	struct smtpd_mailauth_txn *txn = session->mailauth;

	if (txn == NULL)
		return;
	/* The gap after our trace fields (see SMTPD_MAILAUTH_GAP). */
	buf_append(&session->msg, gap, sizeof(gap));
	txn->content_start = session->msg.len;
	if (txn->dkim_on)
		txn->dkim = dkim_verify_create(txn->dns, NULL);
}

void smtpd_mailauth_data(struct smtpd_session *session, size_t old_len)
{
	struct smtpd_mailauth_txn *txn = session->mailauth;

	if (txn == NULL || txn->dkim == NULL || session->msg.len <= old_len)
		return;
	dkim_verify_feed(txn->dkim, session->msg.data + old_len,
			 session->msg.len - old_len);
}

/* RFC 7489 section 6.6.1: the author domain of the one RFC5322.From field
 * (RFC 5322 section 3.6 allows exactly one). Several fields cannot be
 * evaluated; several addresses of one domain are fine. */
static void parse_from(struct smtpd_mailauth_txn *txn)
{
	struct smtpd_session *session = txn->session;
	const uint8_t *content = session->msg.data + txn->content_start;
	size_t size = session->msg.len - txn->content_start;
	struct message_header_iter iter;
	struct message_header_field field, from = {0};
	const char *domain = NULL;
	unsigned count = 0;

	message_header_iter_init(&iter, content, size);
	while (message_header_iter_next(&iter, &field) > 0) {
		if (!field.no_colon && message_header_field_is(&field, "From")) {
			from = field;
			count++;
		}
	}
	txn->from_status = SMTPD_FROM_NONE;
	if (count > 1)
		txn->from_status = SMTPD_FROM_MULTIPLE;
	if (count != 1)
		return;
	for (const struct message_address *a =
		     message_address_parse(session->txn_pool, from.value,
					   from.value_len, 64);
	     a != NULL; a = a->next) {
		if (a->mailbox == NULL || a->domain == NULL || a->invalid ||
		    a->domain[0] == '\0')
			continue;
		if (domain != NULL && !str_ascii_eq_ci(domain, a->domain)) {
			txn->from_status = SMTPD_FROM_MULTIPLE;
			return;
		}
		domain = a->domain;
	}
	if (domain != NULL) {
		txn->from_status = SMTPD_FROM_ONE;
		txn->from_domain = i_strdup(domain);
		str_ascii_lower(txn->from_domain);
	}
}

static void dmarc_done(struct dmarc_check *check, void *ctx);

static void dmarc_start(struct smtpd_mailauth_txn *txn)
{
	size_t n = txn->dkim != NULL ? dkim_verify_count(txn->dkim) : 0;
	struct dmarc_input *in = &txn->dmarc_in;

	parse_from(txn);
	txn->dmarc_dkim = i_new(struct dmarc_dkim_input, n + 1);
	for (size_t i = 0; i < n; i++) {
		const struct dkim_verify_result *r = dkim_verify_get(txn->dkim, i);
		txn->dmarc_dkim[i].result = dkim_result_name(r->result);
		txn->dmarc_dkim[i].domain = r->domain;
	}
	memset(in, 0, sizeof(*in));
	in->from_domain = txn->from_domain;
	if (txn->spf != NULL) {
		in->spf_result = spf_result_name(spf_check_result(txn->spf));
		in->spf_domain = spf_check_domain(txn->spf);
	}
	in->dkim = txn->dmarc_dkim;
	in->dkim_count = n;
	/* RFC 7489 section 6.6.4: pct= samples messages at random. */
	in->pct_roll = arc4random_uniform(100);
	txn->dmarc = dmarc_check_start(txn->dns, in, dmarc_done, txn);
}

static void decide(struct smtpd_mailauth_txn *txn);

/* Runs after every step; decides once SPF, DKIM and DMARC are done. */
static void end_continue(struct smtpd_mailauth_txn *txn)
{
	if (txn->spf != NULL && !txn->spf_done)
		return;
	if (txn->dkim != NULL && !txn->dkim_done)
		return;
	if (txn->dmarc_on && txn->dmarc == NULL) {
		dmarc_start(txn);
		return;
	}
	if (txn->dmarc != NULL && !txn->dmarc_done)
		return;
	decide(txn);
}

static void dkim_done(struct dkim_verify *verify UNUSED, void *ctx)
{
	struct smtpd_mailauth_txn *txn = ctx;

	txn->dkim_done = true;
	end_continue(txn);
}

static void dmarc_done(struct dmarc_check *check UNUSED, void *ctx)
{
	struct smtpd_mailauth_txn *txn = ctx;

	txn->dmarc_done = true;
	end_continue(txn);
}

void smtpd_mailauth_end(struct smtpd_session *session)
{
	struct smtpd_mailauth_txn *txn = session->mailauth;

	if (txn == NULL) {
		smtpd_deliver_commit(session);
		return;
	}
	/* Input is paused as for a commit; the reply waits for the
	 * checks. */
	conn_pause(session->conn);
	session->state = SMTPD_STATE_COMMIT;
	txn->at_end = true;
	if (txn->dkim != NULL)
		txn->dkim_done = dkim_verify_finish(txn->dkim, dkim_done, txn);
	end_continue(txn);
}

static bool dkim_temperror_aligned(const struct smtpd_mailauth_txn *txn)
{
	size_t n = txn->dkim != NULL ? dkim_verify_count(txn->dkim) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct dkim_verify_result *r = dkim_verify_get(txn->dkim, i);
		if (r->result == DKIM_RESULT_TEMPERROR && r->domain != NULL &&
		    txn->from_domain != NULL &&
		    dmarc_aligned(r->domain, txn->from_domain, false))
			return true;
	}
	return false;
}

static enum smtpd_mailauth_action
decide_action(struct smtpd_mailauth_txn *txn)
{
	const struct config *config = txn->session->config;
	struct smtpd_mailauth_facts f = {
		.spf_ran = txn->spf != NULL,
		.spf = txn->spf != NULL ? spf_check_result(txn->spf) :
			SPF_RESULT_NONE,
		.dmarc_ran = txn->dmarc != NULL,
		.from = txn->from_status,
		.dkim_temperror_aligned = dkim_temperror_aligned(txn),
		.spf_reject = config->auth.spf_reject != CONFIG_SPF_REJECT_NO,
		.enforce = config->auth.dmarc_policy == CONFIG_DMARC_ENFORCE,
		.defer = config->auth.temperror == CONFIG_AUTH_TEMPERROR_DEFER,
	};

	if (txn->dmarc != NULL) {
		f.dmarc = dmarc_check_result(txn->dmarc);
		f.dmarc_record = dmarc_check_record(txn->dmarc) != NULL;
		f.disposition = dmarc_check_disposition(txn->dmarc);
	}
	return smtpd_mailauth_verdict(&f);
}

/* The verdict for logs: the best DKIM result seen. */
static const char *dkim_summary(const struct smtpd_mailauth_txn *txn)
{
	size_t n;

	if (txn->dkim == NULL)
		return "off";
	n = dkim_verify_count(txn->dkim);
	for (size_t i = 0; i < n; i++) {
		if (dkim_verify_get(txn->dkim, i)->result == DKIM_RESULT_PASS)
			return "pass";
	}
	return n == 0 ? "none" :
		dkim_result_name(dkim_verify_get(txn->dkim, 0)->result);
}

#ifdef HAVE_DMARC_REPORT
static void record_report(struct smtpd_mailauth_txn *txn,
			  enum smtpd_mailauth_action action)
{
	struct smtpd_session *session = txn->session;
	struct dmarc_report_event ev;
	const char *to = session->rcpt_count > 0 ?
		strrchr(session->rcpts[0].address, '@') : NULL;

	if (!session->config->auth.dmarc_reports || txn->dmarc == NULL ||
	    dmarc_check_record(txn->dmarc) == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.source_ip = conn_peer_ip(session->conn);
	ev.envelope_from = session->mail.path.domain != NULL ?
		session->mail.path.domain : "";
	ev.envelope_to = to != NULL ? to + 1 : session->config->server.hostname;
	ev.input = &txn->dmarc_in;
	ev.dkim = txn->dkim;
	ev.applied = action == SMTPD_MAILAUTH_REJECT_DMARC ? DMARC_POLICY_REJECT :
		action == SMTPD_MAILAUTH_JUNK ? DMARC_POLICY_QUARANTINE :
		DMARC_POLICY_NONE;
	dmarc_report_record(session->server->store, txn->dmarc, &ev);
}
#endif

/* RFC 8601 section 5: Authentication-Results fields carrying our
 * authserv-id that arrived from outside are removed, ours goes on top
 * below our trace fields, with Received-SPF (RFC 7208 section 9.1). */
static void rewrite_header(struct smtpd_mailauth_txn *txn)
{
	struct smtpd_session *session = txn->session;
	struct buf added = BUF_INIT;
	unsigned removed;
	char *text;

	if (txn->spf != NULL) {
		text = spf_received_header(txn->spf);
		buf_append_str(&added, text);
		buf_append_str(&added, "\r\n");
		i_free(text);
	}
	text = mailauth_ar_from_checks(authserv_id(session), txn->spf,
				       txn->dkim, txn->dmarc, txn->from_domain);
	buf_append_str(&added, text);
	buf_append_str(&added, "\r\n");
	i_free(text);

	session->msg_start = smtpd_mailauth_splice(&session->msg,
						   session->header_len,
						   txn->content_start,
						   added.data, added.len,
						   authserv_id(session),
						   &removed);
	session->header_len += added.len;
	if (removed > 0)
		log_info(session->sid, "smtp_mailauth_ar_removed",
			 "queue_id=%s count=%u", session->queue_id, removed);
	buf_free(&added);
}

static void decide(struct smtpd_mailauth_txn *txn)
{
	struct smtpd_session *session = txn->session;
	enum smtpd_mailauth_action action = decide_action(txn);
	const char *policy_domain = txn->dmarc != NULL ?
		dmarc_check_policy_domain(txn->dmarc) : NULL;
	const struct dmarc_record *record = txn->dmarc != NULL ?
		dmarc_check_record(txn->dmarc) : NULL;
	char from[256];

	log_info(session->sid, "smtp_mailauth",
		 "queue_id=%s spf=%s dkim=%s dmarc=%s from_domain=%s "
		 "policy=%s action=%s", session->queue_id,
		 txn->spf != NULL ? spf_result_name(spf_check_result(txn->spf)) :
		 "off", dkim_summary(txn),
		 txn->dmarc != NULL ?
		 dmarc_result_name(dmarc_check_result(txn->dmarc)) : "off",
		 log_quote(from, sizeof(from),
			   txn->from_domain != NULL ? txn->from_domain : ""),
		 record != NULL ? dmarc_policy_name(record->p) : "none",
		 smtpd_mailauth_action_name(action));
#ifdef HAVE_DMARC_REPORT
	record_report(txn, action);
#endif
	switch (action) {
	case SMTPD_MAILAUTH_DELIVER:
	case SMTPD_MAILAUTH_JUNK:
		txn->junk = action == SMTPD_MAILAUTH_JUNK;
		txn->at_end = false;
		rewrite_header(txn);
		smtpd_deliver_commit(session);
		return;
	case SMTPD_MAILAUTH_REJECT_DMARC:
		smtpd_reply(session, 550, "5.7.1",
			    "Message rejected by the DMARC policy of %s: "
			    "the From domain is not authenticated",
			    reply_safe(session, policy_domain != NULL ?
				       policy_domain : txn->from_domain));
		break;
	case SMTPD_MAILAUTH_REJECT_FROM:
		smtpd_reply(session, 550, "5.7.1",
			    "Message rejected: not exactly one author domain in "
			    "From (RFC 5322 section 3.6, RFC 7489 section 6.6.1)");
		break;
	case SMTPD_MAILAUTH_REJECT_SPF:
		reply_spf_fail(session, txn->spf);
		break;
	case SMTPD_MAILAUTH_DEFER_SPF:
		reply_spf_temperror(session);
		break;
	case SMTPD_MAILAUTH_DEFER_DMARC:
		smtpd_reply(session, 451, "4.7.0",
			    "Temporary DMARC evaluation error, try again later");
		break;
	}
	/* Frees txn (and the check whose callback may be running: the
	 * libraries allow destroying from the callback). */
	smtpd_transaction_end(session);
	conn_resume(session->conn);
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTPD_PRIVATE_H
#define POSTHORN_SMTPD_PRIVATE_H

#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "log.h"
#include "smtp-command.h"
#include "smtp-data.h"
#include "smtpd.h"

#include <pthread.h>

struct conn;
struct config;
struct store;
struct auth_server;
struct service_env;
struct smtpd_mailauth;
struct smtpd_mailauth_txn;

/* Where a session is in the dialogue (RFC 5321 section 4.1.4). */
enum smtpd_state {
	SMTPD_STATE_INIT,   /* greeted, no HELO/EHLO yet */
	SMTPD_STATE_READY,  /* HELO/EHLO done, no transaction */
	SMTPD_STATE_MAIL,   /* MAIL accepted, no recipient yet */
	SMTPD_STATE_RCPT,   /* at least one recipient accepted */
	SMTPD_STATE_DATA,   /* reading DATA content lines */
	SMTPD_STATE_BDAT,   /* between BDAT chunks */
	SMTPD_STATE_CHUNK,  /* reading a BDAT chunk (raw mode) */
	SMTPD_STATE_COMMIT, /* waiting for the store; input paused */
	SMTPD_STATE_TLS,    /* STARTTLS handshake; input paused */
	SMTPD_STATE_AUTH,   /* reading SASL responses (submission) */
	SMTPD_STATE_QUIT,   /* closing */
};
#define SMTPD_STATE_BIT(s) (1u << (s))

/* Per service (listener role): shared by every connection on every loop. */
struct smtpd_server {
	const char *name;
	struct store *store;
	pthread_mutex_t config_lock;
	struct config *config; /* current; sessions take a reference */
	/* The submission roles (587, 465): AUTH, relaying for the
	 * authenticated user (smtpd-submission.c). */
	bool submission;
	struct auth_server *auth;
	/* [submission] allow_plaintext_loopback; set on reload. */
	_Atomic bool plaintext_loopback;
	/* SPF, DKIM and DMARC on the MX role (smtpd-mailauth.c); NULL on
	 * the submission roles. */
	struct smtpd_mailauth *mailauth;
};

struct smtpd_rcpt {
	const char *address;    /* as given in RCPT, re-serialised */
	unsigned notify;        /* enum smtp_dsn_notify */
	const char *orcpt;      /* "type;decoded address", NULL when absent */
	bool local;             /* resolved to at least one local account */
};

/* A remote address an accepted recipient expanded to (an alias target),
 * for the outbound queue, with the DSN parameters of that recipient. */
struct smtpd_remote {
	const char *address;
	unsigned notify;        /* enum smtp_dsn_notify */
	const char *orcpt;      /* "type;decoded address" */
};

/* One connection. */
struct smtpd_session {
	struct conn *conn;
	struct smtpd_server *server;
	struct config *config;  /* this session's view, referenced */
	const char *sid;
	enum smtpd_state state;
	struct pool *pool;      /* connection lifetime */
	struct pool *cmd_pool;  /* cleared after each command */
	const char *helo;       /* NULL before HELO/EHLO */
	bool helo_valid;
	bool ehlo;
	unsigned error_count;
	enum smtp_caps caps;

	/* The transaction (MAIL to end of data). */
	struct pool *txn_pool;
	struct smtp_mail_args mail;
	struct smtpd_rcpt *rcpts;
	unsigned rcpt_count, rcpt_alloc;
	int64_t *account_ids;   /* distinct local accounts */
	unsigned account_count, account_alloc;
	struct smtpd_remote *remote; /* remote alias targets */
	unsigned remote_count, remote_alloc;
	char queue_id[LOG_SID_SIZE];
	struct smtp_data_decoder *decoder;
	struct buf msg;         /* added headers + content */
	size_t header_len;      /* bytes of msg that we added */
	size_t return_path_len; /* the Return-Path line, first in msg */
	/* Where the message starts in msg (not 0 once smtpd-mailauth.c has
	 * added its fields in the room it kept). */
	size_t msg_start;
	bool line_too_long;     /* an over-long DATA line was dropped */
	bool dsn_queued;        /* a success DSN went to the outbound queue */
	/* BDAT: the chunk being read is the LAST one; the transaction has
	 * already failed (every later chunk is read and refused). */
	bool bdat_last;
	bool bdat_failed;
	struct smtp_error bdat_error;
	enum smtpd_state bdat_prev_state; /* for a refused BDAT outside one */
	uint64_t bdat_total;

	/* Submission (smtpd-submission.c); NULL/0 on the MX role. */
	struct smtpd_submission *sub;

	/* The transaction's SPF/DKIM/DMARC checks (smtpd-mailauth.c); NULL
	 * when they are off. */
	struct smtpd_mailauth_txn *mailauth;
};

/* A command: its handler and the states it may run in. out_of_order is the
 * 503 text for the others. */
struct smtpd_command {
	enum smtp_verb verb;
	void (*handler)(struct smtpd_session *session, const char *args);
	unsigned states;
	const char *out_of_order;
};

/* Replies. */
void smtpd_reply(struct smtpd_session *session, unsigned code,
		 const char *enhanced, const char *fmt, ...) ATTR_FORMAT(4, 5);
void smtpd_reply_error(struct smtpd_session *session,
		       const struct smtp_error *error);
/* Counts a client error; closes the session after too many. */
void smtpd_client_error(struct smtpd_session *session);

/* Wakes the outbound queue after an enqueue commit (no-op without one). */
void smtpd_queue_kick(void);

/* Transactions. */
void smtpd_transaction_reset(struct smtpd_session *session);
/* After a successful or failed end of data: back to READY. */
void smtpd_transaction_end(struct smtpd_session *session);

/* Command handlers (smtpd-cmd-*.c). */
void smtpd_cmd_helo(struct smtpd_session *session, const char *args);
void smtpd_cmd_ehlo(struct smtpd_session *session, const char *args);
void smtpd_cmd_mail(struct smtpd_session *session, const char *args);
void smtpd_cmd_rcpt(struct smtpd_session *session, const char *args);
void smtpd_cmd_rset(struct smtpd_session *session, const char *args);
void smtpd_cmd_data(struct smtpd_session *session, const char *args);
void smtpd_cmd_bdat(struct smtpd_session *session, const char *args);
void smtpd_cmd_noop(struct smtpd_session *session, const char *args);
void smtpd_cmd_quit(struct smtpd_session *session, const char *args);
void smtpd_cmd_help(struct smtpd_session *session, const char *args);
void smtpd_cmd_vrfy(struct smtpd_session *session, const char *args);
void smtpd_cmd_expn(struct smtpd_session *session, const char *args);
void smtpd_cmd_starttls(struct smtpd_session *session, const char *args);
void smtpd_cmd_auth(struct smtpd_session *session, const char *args);

/* DATA content and BDAT chunks (smtpd-cmd-data.c). */
void smtpd_data_line(struct smtpd_session *session, const uint8_t *line,
		     size_t len, bool crlf);
void smtpd_data_line_too_long(struct smtpd_session *session);
void smtpd_bdat_raw(struct smtpd_session *session, const uint8_t *data,
		    size_t len);

/* Delivery (smtpd-deliver.c): writes Return-Path and Received into
 * session->msg before the content arrives, and commits the finished
 * message, answering after the commit. */
void smtpd_deliver_begin(struct smtpd_session *session);
void smtpd_deliver_commit(struct smtpd_session *session);

/* Email authentication on the MX role (smtpd-mailauth.c): SPF from MAIL
 * on, DKIM verified while the content streams in, DMARC at the end of
 * data; the verdict refuses, defers, files in Junk or delivers with
 * Received-SPF and Authentication-Results added. Every function is a
 * no-op (or returns true) when session->mailauth is NULL. */
/* posthornd start-up (MX role): loads the [dns] static zone; the
 * resolvers are made per loop on first use. */
int smtpd_mailauth_create(const struct service_env *env,
			  struct smtpd_mailauth **ma_r, const char **error_r);
/* After the loops have stopped. */
void smtpd_mailauth_destroy(struct smtpd_mailauth **ma);
/* MAIL accepted: creates session->mailauth when [auth] asks for checks
 * and starts SPF. */
void smtpd_mailauth_mail(struct smtpd_session *session);
/* RCPT with [auth] spf_reject = rcpt: false when the command must not go
 * on: it was refused (SPF fail, or temperror with temperror = defer), or
 * it waits for SPF with input paused and is run again with args once the
 * result is in. */
bool smtpd_mailauth_rcpt(struct smtpd_session *session, const char *args);
/* DATA/BDAT begins, after smtpd_deliver_begin(). */
void smtpd_mailauth_data_begin(struct smtpd_session *session);
/* The decoder appended session->msg from old_len on: DKIM sees it. */
void smtpd_mailauth_data(struct smtpd_session *session, size_t old_len);
/* The content is complete and valid: decides (maybe later, input paused)
 * and then replies, or calls smtpd_deliver_commit(). */
void smtpd_mailauth_end(struct smtpd_session *session);
/* True while the end-of-data reply waits for the checks. */
bool smtpd_mailauth_waiting(const struct smtpd_session *session);
/* DMARC quarantine: deliver into Junk. */
bool smtpd_mailauth_junk(const struct smtpd_session *session);
/* Transaction reset: cancels pending checks (no callback after). */
void smtpd_mailauth_reset(struct smtpd_session *session);

/* Shared by the roles (smtpd.c). */
extern const struct conn_handlers smtpd_handlers;
void smtpd_reload(void *context, struct config *config);
void smtpd_deinit(void *context);

/* Submission (smtpd-submission.c, smtpd-cmd-auth.c). Each is a no-op or
 * returns true on the MX role. */
/* EHLO: appends "250-AUTH ..." when AUTH may be used now. */
void smtpd_submission_ehlo(struct smtpd_session *session, struct buf *reply);
/* MAIL: 530 without AUTH, 553 for a sender the user does not own.
 * Returns false after replying. */
bool smtpd_submission_mail(struct smtpd_session *session,
			   const struct smtp_mail_args *mail);
/* End of data: 550 for a From: the user does not own; adds Message-ID
 * and Date when missing. Returns false after replying and ending the
 * transaction, or false while the message is being DKIM-signed (input
 * paused): smtpd_deliver_commit() is then called again afterwards, and
 * this returns true for that transaction. */
bool smtpd_submission_data(struct smtpd_session *session);
/* A SASL response line while in SMTPD_STATE_AUTH. */
void smtpd_auth_line(struct smtpd_session *session, const uint8_t *line,
		     size_t len);
/* A SASL response over the line limit: the exchange is cancelled. */
void smtpd_auth_line_too_long(struct smtpd_session *session);
/* "SA" after "ESMTP" in Received (RFC 3848) when authenticated. */
bool smtpd_submission_authenticated(const struct smtpd_session *session);
/* TLS started: forgets the authentication (RFC 3207 section 4.2). */
void smtpd_submission_reset(struct smtpd_session *session);
/* on_close: frees the submission state. */
void smtpd_submission_free(struct smtpd_session *session);

#endif

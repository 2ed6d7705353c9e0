/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTPD_SUBMISSION_H
#define POSTHORN_SMTPD_SUBMISSION_H

#include "smtpd-private.h"
#include "workpool.h"

struct auth_session;
struct event;

/* Per-session state of the submission roles, created on first use. */
struct smtpd_submission {
	struct auth_session *auth; /* during an AUTH exchange */
	struct event *delay_timer; /* a throttled 535 on its way */
	struct completion_target target; /* this loop, for lib-auth */
	char *username;            /* authenticated user, else NULL */
	int64_t account_id;
	unsigned auth_failures;
	/* DKIM signing at the end of data (a worker thread signs while
	 * input is paused): the state to return to, and the queue id of the
	 * transaction already checked and signed, for
	 * smtpd_deliver_commit()'s second call ("" = none). */
	enum smtpd_state sign_prev_state;
	char signed_queue_id[LOG_SID_SIZE];
};

/* The session's submission state (created when absent). */
struct smtpd_submission *smtpd_submission_get(struct smtpd_session *session);
/* Passwords may be sent: TLS, or a loopback peer when
 * [submission] allow_plaintext_loopback is set. */
bool smtpd_submission_secure(struct smtpd_session *session);

#endif

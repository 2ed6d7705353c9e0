/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTPD_MAILAUTH_H
#define POSTHORN_SMTPD_MAILAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "spf.h"
#include "dmarc.h"

/* The pure parts of inbound email authentication (smtpd-mailauth-verdict.c):
 * the verdict from the check results, and the header splice. No I/O, no
 * session; smtpd-mailauth.c drives the checks and calls these. */

struct buf;

enum smtpd_from_status {
	SMTPD_FROM_ONE,
	SMTPD_FROM_NONE,     /* no From field or no usable address */
	SMTPD_FROM_MULTIPLE, /* several fields, or addresses in several
				domains */
};

enum smtpd_mailauth_action {
	SMTPD_MAILAUTH_DELIVER,
	SMTPD_MAILAUTH_JUNK,         /* DMARC quarantine */
	SMTPD_MAILAUTH_REJECT_DMARC, /* 550 5.7.1 */
	SMTPD_MAILAUTH_REJECT_FROM,  /* 550 5.7.1: no one author domain */
	SMTPD_MAILAUTH_REJECT_SPF,   /* 550 5.7.23 */
	SMTPD_MAILAUTH_DEFER_SPF,    /* 451 4.7.24 */
	SMTPD_MAILAUTH_DEFER_DMARC,  /* 451 4.7.0 */
};

/* What the checks found, and the [auth] settings that matter. */
struct smtpd_mailauth_facts {
	bool spf_ran;
	enum spf_result spf;
	bool dmarc_ran;
	enum dmarc_result dmarc;
	bool dmarc_record;              /* the From domain has a policy */
	enum dmarc_policy disposition;  /* dmarc_check_disposition() */
	enum smtpd_from_status from;
	/* A DKIM signature aligned with the From domain got temperror. */
	bool dkim_temperror_aligned;

	bool spf_reject;  /* [auth] spf_reject is not "no" */
	bool enforce;     /* [auth] dmarc_policy = enforce */
	bool defer;       /* [auth] temperror = defer */
};

/* The outcome (README "Email authentication (inbound)"): when the From
 * domain has a DMARC policy, DMARC decides; otherwise an SPF fail is
 * refused (spf_reject); a temporary error that could change the outcome
 * defers when asked to. */
enum smtpd_mailauth_action
smtpd_mailauth_verdict(const struct smtpd_mailauth_facts *facts);
/* "deliver", "junk", "reject_dmarc", ... for logs. */
const char *smtpd_mailauth_action_name(enum smtpd_mailauth_action action);

/* Rewrites msg, laid out as
 *   [0, prefix_len)                 our trace fields (Return-Path, Received)
 *   [prefix_len, content_start)     free room (its bytes are overwritten)
 *   [content_start, msg->len)       the content as received
 * into prefix + added + content without the Authentication-Results fields
 * of its header whose authserv-id is authserv_id (RFC 8601 section 5).
 * Only the bytes in front of the last removed field move when added fits
 * in the room plus the removed bytes; otherwise msg is rebuilt once.
 * Returns the offset in msg where the rewritten message starts; sets
 * *removed_r to the number of fields removed. */
size_t smtpd_mailauth_splice(struct buf *msg, size_t prefix_len,
			     size_t content_start, const void *added,
			     size_t added_len, const char *authserv_id,
			     unsigned *removed_r);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_QUEUE_DSN_H
#define POSTHORN_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Delivery status notifications (RFC 3464) for the outbound queue: a
 * multipart/report; report-type=delivery-status message with a
 * human-readable part, the message/delivery-status part and the original
 * headers (text/rfc822-headers) or, under RET=FULL, the whole original
 * message (message/rfc822). With a UTF-8 recipient address the status part
 * is message/global-delivery-status with "utf-8;" addresses (RFC 6533).
 * A DSN is sent from the null sender and is
 * never itself bounced (RFC 3461 section 6.2, RFC 5321 section 6.1). */

struct buf;

/* RFC 3464 section 2.3.3. */
enum queue_dsn_action {
	QUEUE_DSN_ACTION_FAILED,
	QUEUE_DSN_ACTION_DELAYED,
	QUEUE_DSN_ACTION_DELIVERED,
	QUEUE_DSN_ACTION_RELAYED,
};

/* RFC 3461 section 4.3 RET. */
enum queue_dsn_ret {
	QUEUE_DSN_RET_DEFAULT = 0, /* not given: headers only */
	QUEUE_DSN_RET_FULL,
	QUEUE_DSN_RET_HDRS,
};

struct queue_dsn_rcpt {
	/* The recipient address as we tried it (Final-Recipient). */
	const char *address;
	/* ORCPT as "addr-type;address" (decoded), or NULL. */
	const char *orcpt;
	enum queue_dsn_action action;
	/* RFC 3463 status code, "5.1.1". */
	const char *status;
	/* Host we talked to (Remote-MTA: dns; ...), or NULL. */
	const char *remote_mta;
	/* The remote reply code and text (Diagnostic-Code: smtp; CODE
	 * TEXT) when the peer answered (code != 0); otherwise text is only
	 * shown in the human-readable part. text may be NULL. */
	unsigned diag_code;
	const char *diag_text;
	time_t last_attempt;      /* 0 = omit */
	time_t will_retry_until;  /* delayed only; 0 = omit */
};

struct queue_dsn {
	/* Our host name: Reporting-MTA and the From: domain. */
	const char *reporting_mta;
	/* Where the DSN goes: the original envelope sender (never ""). */
	const char *to;
	const char *envid;        /* Original-Envelope-Id, or NULL */
	time_t arrival_date;      /* 0 = omit */
	enum queue_dsn_ret ret;
	/* The original message (CRLF). */
	const uint8_t *original;
	size_t original_size;
	const struct queue_dsn_rcpt *rcpts;
	unsigned rcpt_count;
	/* MIME boundary; NULL = a fresh random one. For tests. */
	const char *boundary;
	/* Date: and Message-ID: time; 0 = now. */
	time_t now;
};

/* Appends the whole DSN message (headers and body, CRLF) to out, with
 * the signer's DKIM-Signature fields on top when one is installed. */
void queue_dsn_build(const struct queue_dsn *dsn, struct buf *out);

/* DKIM signing of the DSNs built here (From MAILER-DAEMON@reporting_mta).
 * posthornd installs one signer at start-up, before any thread builds a
 * DSN; NULL (the default) = unsigned. sign() gets the reporting MTA's name
 * and the finished message, appends DKIM-Signature fields (each ending in
 * CRLF) to headers_out and returns 1, or appends nothing and returns 0 (no
 * key) or -1 (failed: the DSN goes unsigned; sign() logs why). It runs on
 * the thread building the DSN (DSNs are rare; one RSA signature is a
 * fraction of a millisecond). */
void queue_dsn_set_signer(int (*sign)(void *ctx, const char *host,
				      const void *msg, size_t len,
				      struct buf *headers_out),
			  void *ctx);

/* RFC 3461 section 4.1: does a recipient with this NOTIFY value (NULL =
 * not given) want a DSN for action? Without NOTIFY, failures and delays
 * are reported, successes are not. NEVER wants none. DELIVERED and
 * RELAYED both count as SUCCESS. */
bool queue_dsn_wanted(const char *notify, enum queue_dsn_action action);

#endif

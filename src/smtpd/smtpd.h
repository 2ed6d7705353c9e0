/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H

/* Inbound SMTP. The module plugs into posthornd through the service
 * registry (src/daemon/service.h): smtpd_services lists
 *
 *   "smtp"  the MX role (port 25): receives mail from the internet for
 *           local recipients only (never relays), STARTTLS when a TLS
 *           context is configured, and delivers through the store's
 *           group commit, answering 250 only once the message is durable.
 *
 * Configuration comes from the [smtp] and [limits] sections.
 *
 * On the MX role, SPF, DKIM and DMARC are checked as [auth] says
 * (smtpd-mailauth.c; README "Email authentication (inbound)"), with one
 * resolver per I/O loop answering from the [dns] static zone first. */

struct service;

extern const struct service smtpd_service_smtp;

/*   "submission"  (587, RFC 6409) STARTTLS, then AUTH (RFC 4954) through
 *                 lib-auth; "submissions" (465, RFC 8314) the same over
 *                 implicit TLS. MAIL needs AUTH (530 5.7.0); the envelope
 *                 sender and the From: addresses must be the user's own
 *                 (their account or an alias resolving to it: 553 5.7.1 at
 *                 MAIL, 550 5.7.1 after DATA); Message-ID and Date are
 *                 added when missing (RFC 6409 section 8); recipients may
 *                 be anywhere: local ones are stored, remote ones queued
 *                 in the same transaction (smtpd-submission.c). [submission]
 *                 allow_plaintext_loopback allows AUTH without TLS from
 *                 loopback peers on 587. */
extern const struct service smtpd_service_submission;
extern const struct service smtpd_service_submissions;

/* Recipients that expand to remote addresses (alias targets) are put in
 * the store's outbound queue (store_txn_enqueue) in the same transaction
 * as the local copies, and the running queue is kicked after the commit
 * (queue_daemon_kick()), when posthornd has one. */

#endif

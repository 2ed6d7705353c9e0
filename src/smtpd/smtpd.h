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
 * Configuration comes from the [smtp] and [limits] sections. */

struct service;

extern const struct service smtpd_service_smtp;

/* Recipients that expand to remote addresses (alias targets) are put in
 * the store's outbound queue (store_txn_enqueue) in the same transaction
 * as the local copies, and the running queue is kicked after the commit
 * (queue_daemon_kick()), when posthornd has one. */

#endif

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

#endif

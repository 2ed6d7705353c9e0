/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MESSAGE_ADDRESS_H
#define POSTHORN_MESSAGE_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* One element of an RFC 5322 address-list (section 3.4) in the shape IMAP
 * ENVELOPE needs (RFC 3501 section 7.4.2):
 *   mailbox:      name? route? mailbox domain
 *   group start:  mailbox = group name, domain = NULL
 *   group end:    mailbox = NULL, domain = NULL
 * name is the display name with quotes removed and quoted-pairs resolved,
 * encoded words NOT decoded (IMAP sends them raw), NULL when there is none.
 * route is the obsolete source route ("@a,@b") or NULL. A mailbox that
 * lacks its local part or domain gets "MISSING_MAILBOX" or "MISSING_DOMAIN"
 * and invalid = true, as Dovecot reports it. */
struct message_address {
	struct message_address *next;
	const char *name;
	const char *route;
	const char *mailbox;
	const char *domain;
	bool invalid;
};

#define MESSAGE_ADDRESS_DEFAULT_MAX 10000

/* Parses an unfolded or folded address-list value, leniently (obsolete
 * forms, comments, missing brackets or domains). Returns the first element
 * or NULL when there is no address at all. At most max_addresses elements
 * are returned (0 = MESSAGE_ADDRESS_DEFAULT_MAX). All from pool. */
struct message_address *message_address_parse(struct pool *pool,
					      const uint8_t *data, size_t size,
					      unsigned int max_addresses);

#endif

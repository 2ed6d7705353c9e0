/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MAILAUTH_DNS_H
#define POSTHORN_MAILAUTH_DNS_H

#include "dns-packet.h"

/* The DNS seam shared by SPF, DKIM and DMARC: a struct of function
 * pointers, so production plugs in lib-dns (mailauth_dns_init_resolver)
 * and tests feed canned answers without any network.
 *
 * Contract for an implementation:
 *  - lookup() starts an asynchronous lookup and returns an opaque handle
 *    (never NULL); the callback runs exactly once, LATER (never inside
 *    lookup()), unless cancel() was called on the handle first.
 *  - The callback gets answer != NULL (rcode 0 with records, 0 with none =
 *    NODATA, or 3 = NXDOMAIN) and error == NULL, or answer == NULL and an
 *    error text (timeout, SERVFAIL): the caller maps that to temperror.
 *  - TXT records arrive with their character-strings concatenated
 *    (RFC 7208 section 3.3); the answer is freed after the callback. */

struct dns_resolver;

typedef void mailauth_dns_callback_t(const struct dns_answer *answer,
				     const char *error, void *ctx);

struct mailauth_dns {
	void *(*lookup)(void *dns_ctx, const char *name, enum dns_type type,
			mailauth_dns_callback_t *callback, void *cb_ctx);
	void (*cancel)(void *dns_ctx, void *request);
	void *dns_ctx;
};

/* Fills dns with an adapter over a lib-dns resolver (which must outlive
 * every lookup made through dns). */
void mailauth_dns_init_resolver(struct mailauth_dns *dns,
				struct dns_resolver *resolver);

#endif

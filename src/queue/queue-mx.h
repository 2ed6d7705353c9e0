/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_QUEUE_MX_H
#define POSTHORN_QUEUE_MX_H

#include <stdbool.h>

/* Where to deliver mail for a domain (RFC 5321 section 5.1): its MX hosts
 * in preference order, equal preferences shuffled; with no MX records the
 * domain itself (the implicit MX, its A/AAAA records); a null MX (RFC
 * 7505: a single "0 .") is a permanent failure, 5.1.10. Every address of
 * every MX host is returned, in the order to try them. A domain literal
 * ("[192.0.2.1]", "[IPv6:2001:db8::1]") is used as it is. Runs on the
 * resolver's event loop and never blocks it. */

struct dns_resolver;
struct event_base;

#define QUEUE_MX_MAX_HOSTS 10
#define QUEUE_MX_MAX_ADDRS 32

struct queue_mx_addr {
	const char *host;  /* MX host name, no trailing dot */
	const char *ip;    /* numeric */
};

enum queue_mx_status {
	QUEUE_MX_OK = 1,
	QUEUE_MX_TEMPFAIL,  /* DNS error or timeout: retry later */
	QUEUE_MX_PERMFAIL,  /* null MX, no such domain, no address at all */
};

struct queue_mx_result {
	enum queue_mx_status status;
	/* Failures: RFC 3463 code ("5.1.10") and explanation. */
	const char *enhanced;
	const char *error;
	const struct queue_mx_addr *addrs;
	unsigned addr_count;
};

/* Called once, from the event loop (never inside queue_mx_lookup); result
 * lives during the call only. */
typedef void queue_mx_callback_t(const struct queue_mx_result *result,
				 void *ctx);

struct queue_mx_lookup;

/* domain: the part after '@' (ASCII; A-labels for IDNs). base is the
 * resolver's event loop. self_name (may be NULL) is our own host name:
 * when it is one of the MX hosts, it and every host of equal or higher
 * preference are dropped (RFC 5321 section 5.1); if that leaves none, the
 * mail would loop back to us: permanent failure 5.4.6. */
struct queue_mx_lookup *queue_mx_lookup(struct event_base *base,
					struct dns_resolver *resolver,
					const char *domain,
					const char *self_name,
					queue_mx_callback_t *callback,
					void *ctx);
/* The addresses of one host (a smarthost), without MX lookup: A and AAAA
 * records, or the host itself when it is a numeric IPv4/IPv6 address. */
struct queue_mx_lookup *queue_mx_lookup_host(struct event_base *base,
					     struct dns_resolver *resolver,
					     const char *host,
					     queue_mx_callback_t *callback,
					     void *ctx);
/* Stops a lookup: the callback is not called. Sets *lookup to NULL. */
void queue_mx_lookup_cancel(struct queue_mx_lookup **lookup);

#endif

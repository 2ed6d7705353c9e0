/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DNS_H
#define POSTHORN_DNS_H

#include "dns-packet.h"
#include "dns-zone.h"

/* Asynchronous DNS on an event loop, through libunbound's libevent
 * integration: lookups never block the loop. One resolver per event loop
 * (libunbound's event context is tied to one event_base); use it only from
 * that loop's thread.
 *
 * Names covered by the static zone ([dns] static) are answered from it
 * alone; everything else goes to the real resolver. */

struct event_base;
struct dns_resolver;
struct dns_request;

struct dns_resolver_settings {
	/* Static records answered before the real resolver, or NULL. */
	const struct dns_zone *static_zone;
	/* Forward to the nameservers in this resolv.conf instead of recursing
	 * from the root; NULL (or a missing file) = recurse. */
	const char *resolv_conf;
	/* Answer from the static zone alone: every other name does not
	 * exist (NXDOMAIN), and nothing is sent to the network. For closed
	 * networks and hermetic tests. */
	bool static_only;
	/* DNSSEC trust anchor file (e.g. /usr/share/dns/root.key); NULL = no
	 * validation (answers are never marked secure). */
	const char *trust_anchor_file;
	/* Per-lookup timeout; 0 = 10 seconds. */
	unsigned timeout_ms;
};

/* What a service keeps to make its resolvers (one per loop): the static
 * zone, parsed once, and where other names go. */
struct dns_setup {
	struct dns_zone zone;
	bool have_zone;
	const char *resolv_conf; /* as in dns_resolver_settings */
	bool static_only;
};
/* Parses the static zone file static_path (NULL or "" = none). Returns 0,
 * or -1 with *error_r ("[dns] static: FILE:LINE: ...", static storage:
 * call from one thread at start-up). resolv_conf must outlive setup. */
int dns_setup_init(struct dns_setup *setup, const char *static_path,
		   const char *resolv_conf, bool static_only,
		   const char **error_r);
void dns_setup_deinit(struct dns_setup *setup);
/* The settings for dns_resolver_create() (timeout left at its default). */
void dns_setup_settings(const struct dns_setup *setup,
			struct dns_resolver_settings *set_r);

/* Returns NULL with *error_r on failure. */
struct dns_resolver *dns_resolver_create(struct event_base *base,
					 const struct dns_resolver_settings *set,
					 const char **error_r);
/* Cancels every pending lookup (their callbacks are not called) and frees
 * the resolver; sets *resolver to NULL. */
void dns_resolver_destroy(struct dns_resolver **resolver);

/* Called once per lookup, always later from the event loop (never inside
 * dns_lookup). error is NULL on an answer (which may be NXDOMAIN, rcode 3,
 * or empty); otherwise answer is NULL and error says why (timeout, server
 * failure). answer is freed after the callback returns. */
typedef void dns_callback_t(const struct dns_answer *answer, const char *error,
			    void *ctx);

/* Starts a lookup of name/type. Returns a handle that stays valid until the
 * callback has run or dns_request_cancel() was called. */
struct dns_request *dns_lookup(struct dns_resolver *resolver, const char *name,
			       enum dns_type type, dns_callback_t *callback,
			       void *ctx);
/* Cancels a pending lookup: its callback will not run. Sets *req to NULL. */
void dns_request_cancel(struct dns_request **req);

/* Lookups in flight (for tests and shutdown). */
unsigned dns_resolver_pending(const struct dns_resolver *resolver);

/* Sorts MX records by preference (RFC 5321 section 5.1), in place. */
void dns_mx_sort(struct dns_rr *rrs, size_t count);

#endif

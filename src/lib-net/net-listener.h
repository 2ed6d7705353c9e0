/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_NET_LISTENER_H
#define POSTHORN_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include "net-addr.h"

struct net_loops;
struct tls_ctx;
struct conn_handlers;

/* A service is one listener role (smtp, submission, submissions, imap,
 * imaps, pop3, pop3s...): its handler table, TLS context, limits and
 * connection counters. Any number of listeners (addresses) may feed one
 * service; the connection limits count across all of them and all loops. */
struct net_service_settings {
	const char *name;	/* "smtp", "imap"... for logs; copied */
	/* TLS handshake right after accept (465, 993, 995); needs tls. */
	bool implicit_tls;
	/* The context for implicit TLS and for conn_starttls(); NULL = no
	 * TLS on this service. The service takes its own reference. */
	struct tls_ctx *tls;
	const struct conn_handlers *handlers; /* must outlive the service */
	void *context;		/* for handlers: conn_service_context() */

	/* Per-connection defaults; 0 = the NET_DEFAULT_* value (the low
	 * watermark defaults to at most half the high one). */
	size_t max_line_length;	   /* bytes, not counting CRLF/LF */
	unsigned idle_timeout_ms;
	size_t output_high_watermark; /* stop reading input above this */
	size_t output_low_watermark;  /* resume reading below this */

	/* 0 = unlimited. Counted from accept to close. */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	/* Written (plaintext) before closing a connection refused by a
	 * limit, e.g. "421 4.7.0 Too many connections\r\n"; NULL = none.
	 * Not written on implicit-TLS services (they are just closed).
	 * Copied. */
	const char *too_many_message;

	/* Longest a TLS handshake (implicit or after STARTTLS) may take,
	 * whatever the idle timeout: a half-open handshake costs a
	 * connection slot and memory. 0 = 30 seconds. */
	unsigned handshake_timeout_ms;

	/* A line (in line mode) must be complete within this long of its
	 * first byte, so a client dripping one byte at a time cannot hold a
	 * connection open: the idle timeout restarts with every byte. In raw
	 * mode (conn_read_raw) the same deadline runs from the request and
	 * restarts with every 16 KB received (a minimum rate). On expiry
	 * on_timeout() runs as for the idle timeout and the connection is
	 * closed. Not counted while paused or blocked on output.
	 * 0 = NET_DEFAULT_LINE_TIMEOUT_MS. */
	unsigned line_timeout_ms;

	/* Pre-greeting talker check (plaintext services only; ignored with
	 * implicit_tls). A client not known good is greeted (on_connect)
	 * only after this pause; if it sends anything before, it gets
	 * greeting_reject_message and is closed, and the protocol never sees
	 * it. A client that waited is remembered as good (per address, for
	 * NET_GREETING_PASS_SECS, in a bounded table) and greeted at once
	 * next time, and so are peers in trusted_networks. 0 = off. */
	unsigned greeting_delay_ms;
	/* NULL = NET_DEFAULT_GREETING_REJECT. Copied. */
	const char *greeting_reject_message;
	/* Networks greeted at once: "127.0.0.0/8, ::1, 192.0.2.0/24" (comma
	 * or space separated; a bare address is a host). NULL =
	 * NET_DEFAULT_TRUSTED_NETWORKS; "" = none. Parsed by
	 * net_service_create(), which fails on a bad entry. */
	const char *trusted_networks;
};

#define NET_DEFAULT_MAX_LINE_LENGTH 8192
#define NET_DEFAULT_IDLE_TIMEOUT_MS (5 * 60 * 1000)
#define NET_DEFAULT_OUTPUT_HIGH_WATERMARK (256 * 1024)
#define NET_DEFAULT_OUTPUT_LOW_WATERMARK (64 * 1024)
#define NET_DEFAULT_LINE_TIMEOUT_MS (60 * 1000)
#define NET_DEFAULT_GREETING_REJECT \
	"554 5.5.0 Protocol violation: talked before greeting\r\n"
#define NET_DEFAULT_TRUSTED_NETWORKS "127.0.0.0/8, ::1"
/* How long a peer that passed the greeting check is remembered. */
#define NET_GREETING_PASS_SECS (24 * 3600)
/* Bound of the remembered peers table (per service). */
#define NET_GREETING_PASS_MAX 16384

struct net_service;

/* Returns NULL with *error_r (static text) on inconsistent settings
 * (implicit_tls without tls, missing handlers, low >= high watermark). */
struct net_service *net_service_create(const struct net_service_settings *set,
				       const char **error_r);
/* Only after all its listeners are destroyed and net_loops_stop() has
 * returned. Sets *service to NULL. */
void net_service_destroy(struct net_service **service);
const char *net_service_name(const struct net_service *service);
/* Swaps the TLS context for connections accepted from now on (SIGHUP
 * certificate reload); existing connections keep the old one until they
 * close. Thread-safe. tls may be NULL to disable STARTTLS. */
void net_service_set_tls(struct net_service *service, struct tls_ctx *tls);
/* True when peer is in the service's trusted_networks. */
bool net_service_is_trusted(struct net_service *service,
			    const struct net_addr *peer);
/* Counters of the greeting check since the service was created. */
struct net_greeting_stats {
	unsigned long delayed;	 /* connections made to wait */
	unsigned long rejected;	 /* talked before the greeting */
	unsigned long remembered; /* greeted at once as known good */
};
void net_service_greeting_stats(struct net_service *service,
				struct net_greeting_stats *stats_r);
/* Current number of open connections (all loops). */
unsigned net_service_connection_count(struct net_service *service);

/* A bound, listening socket feeding a service. */
struct net_listener;

/* Binds and listens now (call before dropping privileges), and accepts once
 * the loops run, handing connections round-robin to the loops. IPv6
 * addresses are bound IPV6_V6ONLY, so "0.0.0.0:25" and "[::]:25" can both
 * be listened on. Returns NULL and *error_r (thread-local text, valid until
 * the next call on this thread) on failure, e.g. address in use. */
struct net_listener *net_listener_create(struct net_service *service,
					 struct net_loops *loops,
					 const struct net_addr *addr,
					 const char **error_r);
/* Convenience: net_addr_parse() then net_listener_create(). */
struct net_listener *net_listener_create_str(struct net_service *service,
					     struct net_loops *loops,
					     const char *addr,
					     const char **error_r);
/* The actually bound address (port filled in when 0 was asked). */
const struct net_addr *net_listener_addr(const struct net_listener *listener);
unsigned net_listener_port(const struct net_listener *listener);
/* Stops accepting and closes the socket; open connections are untouched.
 * Call from the main thread (not a loop thread); waits until the accepting
 * loop has let go of it. Sets *listener to NULL. */
void net_listener_destroy(struct net_listener **listener);

#endif

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
};

#define NET_DEFAULT_MAX_LINE_LENGTH 8192
#define NET_DEFAULT_IDLE_TIMEOUT_MS (5 * 60 * 1000)
#define NET_DEFAULT_OUTPUT_HIGH_WATERMARK (256 * 1024)
#define NET_DEFAULT_OUTPUT_LOW_WATERMARK (64 * 1024)

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

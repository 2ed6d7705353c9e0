/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_NET_PRIVATE_H
#define POSTHORN_NET_PRIVATE_H

/* Glue between the lib-net source files; not for other modules. */

#include "buf.h"
#include "net-addr.h"
#include "net-listener.h"

#include <openssl/ssl.h>

struct conn;
struct net_loop;

/* net-loop.c */
/* Posts like net_loop_post(), but only while the loop's thread runs (or
 * has not started yet when allow_before_start): returns false, posting
 * nothing, once it has exited. */
bool net_loop_try_post(struct net_loop *loop, void (*fn)(void *ctx),
		       void *ctx, bool allow_before_start);
void net_loop_conn_attach(struct net_loop *loop, struct conn *conn);
void net_loop_conn_detach(struct net_loop *loop, struct conn *conn);
/* Shared scratch space for delivering input: handlers are never nested on
 * a loop, so one buffer per loop serves every connection. */
struct buf *net_loop_scratch(struct net_loop *loop);
/* Picks the loop for the next accepted connection (round robin). */
struct net_loop *net_loops_next(struct net_loops *loops);
/* Re-evaluates the stop conditions after holds or connections changed. */
void net_loop_check_stop(struct net_loop *loop);
bool net_loop_is_running(struct net_loop *loop);

/* net-listener.c */
const struct net_service_settings *
net_service_get_settings(const struct net_service *service);
/* Takes a connection slot for peer: 0, or -1 with a static reason when a
 * limit is reached. */
int net_service_conn_acquire(struct net_service *service,
			     const struct net_addr *peer, const char **reason_r);
void net_service_conn_release(struct net_service *service,
			      const struct net_addr *peer);
/* Greeting check: true when peer must wait greeting_delay_ms (counted
 * as delayed, or else as remembered). */
bool net_service_greeting_needed(struct net_service *service,
				 const struct net_addr *peer);
/* passed: remember peer as good; else count a rejection. */
void net_service_greeting_result(struct net_service *service,
				 const struct net_addr *peer, bool passed);
const char *net_service_greeting_reject(const struct net_service *service);
/* A new reference to the current TLS context, or NULL. */
struct tls_ctx *net_service_get_tls(struct net_service *service);

/* conn.c */
/* Takes ownership of fd (non-blocking); the slot was acquired. */
void conn_create_accepted(struct net_loop *loop, struct net_service *service,
			  int fd, const struct net_addr *peer);
struct conn *conn_list_next(struct conn *conn);
void conn_list_set_next(struct conn *conn, struct conn *next);
struct conn *conn_list_prev(struct conn *conn);
void conn_list_set_prev(struct conn *conn, struct conn *prev);
void conn_loop_shutdown(struct conn *conn);

/* tls.c */
SSL *tls_ctx_new_ssl(struct tls_ctx *ctx);
/* Thread-local error text with the OpenSSL error queue appended. */
const char *tls_error_str(const char *what);

#endif

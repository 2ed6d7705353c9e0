/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SERVICE_H
#define POSTHORN_SERVICE_H

#include <stdbool.h>

/* The service registry: how a protocol module plugs into posthornd.
 *
 * A service is what answers on one listener name of the [listen] section
 * ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s").
 * posthornd opens a listener only when a service of that name is linked in;
 * a configured listener without one is skipped with a warning, once, so each
 * protocol answers on its port as soon as its own module lands.
 *
 * Registering, for a protocol module src/<m>/ (m = smtpd, imapd, pop3d):
 *   1. its meson.build defines <m>_dep (src/daemon/meson.build links it
 *      and defines HAVE_<M> when the variable exists);
 *   2. it defines, in its own code, the NULL-terminated list
 *
 *        const struct service *const smtpd_services[] = {
 *                &smtpd_service_mx, &smtpd_service_submission,
 *                &smtpd_service_submissions, NULL };
 *
 *      (declared below). src/daemon/services.c already names smtpd_services,
 *      imapd_services and pop3d_services; a new protocol module adds one
 *      line there (and its name to the list in src/daemon/meson.build).
 *
 * Implicit TLS (submissions, imaps, pop3s), the TLS context for STARTTLS,
 * connection limits, the idle timeout ([limits] *_idle_timeout) and the
 * maximum line length are set up by posthornd from the configuration; the
 * service provides only its handlers and its own state. */

struct config;
struct conn_handlers;
struct net_loops;
struct workpool;
struct tls_ctx;
struct store;
struct auth_server;

/* What posthornd hands each service at start-up. Pointers stay valid until
 * the service's deinit() returns. */
struct service_env {
	/* The configuration at start-up; take config_ref() to keep it past
	 * init(). Later versions arrive through reload(). */
	struct config *config;
	struct net_loops *loops;
	/* For blocking or CPU-heavy work (password hashing, fsync). */
	struct workpool *workpool;
	/* The TLS context of this service's listener role (NULL = none). */
	struct tls_ctx *tls;
	/* The mail store and the authentication layer (lib-auth's
	 * auth-sasl.h); NULL while that module is not built into posthornd
	 * yet. Both are shared by all services and threads. */
	struct store *store;
	struct auth_server *auth;
};

struct service {
	/* The [listen] key this service answers on. */
	const char *name;
	/* lib-net's callbacks for each accepted connection (conn.h). */
	const struct conn_handlers *handlers;
	/* Written before closing a connection refused by a connection limit
	 * on a plaintext listener, e.g. "421 4.7.0 Too many connections\r\n";
	 * NULL = close silently. */
	const char *too_many_message;

	/* Optional. Called once on the main thread before the listener
	 * opens (as root when posthornd starts as root: the privilege drop
	 * comes after, so root-only files can be read here). *context_r becomes conn_service_context() for every
	 * connection. Returns 0, or -1 with *error_r: posthornd then refuses
	 * to start. */
	int (*init)(const struct service_env *env, void **context_r,
		    const char **error_r);
	/* Optional. SIGHUP: a new, validated configuration (borrowed; take
	 * config_ref() to keep it). Main thread; connections run on; use
	 * atomics or net_loop_post() to hand values to the I/O threads. */
	void (*reload)(void *context, struct config *config);
	/* Optional. After the I/O loops have stopped (no connection left). */
	void (*deinit)(void *context);

	/* A background service answers on no listener (the outbound queue,
	 * say): posthornd initialises it at start-up whatever [listen] says,
	 * with handlers NULL. It may run on a loop of env->loops (post its
	 * start there with net_loop_post(); posts wait until the loops run). */
	bool background;
	/* Optional. A control socket command for this service, on the main
	 * thread; it must not block. args[0] is the verb: "queue-wake" goes
	 * to the service named "queue" as "wake"; "mailbox-changed ADDRESS
	 * MAILBOX" goes to every service as args "mailbox-changed", ADDRESS,
	 * MAILBOX. Returns 1 when handled, 0 when the command is not for it,
	 * -1 with *error_r (static text) on failure. */
	int (*control)(void *context, const char *const *args, unsigned count,
		       const char **error_r);
};

/* Lists provided by protocol modules (see above). */
extern const struct service *const smtpd_services[];
extern const struct service *const imapd_services[];
extern const struct service *const pop3d_services[];
extern const struct service *const queue_services[]; /* background */

/* The linked service for a listener name, or NULL. */
const struct service *service_find(const char *name);
/* Visits every linked service. */
void service_foreach(void (*fn)(const struct service *service, void *ctx),
		     void *ctx);
/* For tests: registers an extra service at run time (before start-up). */
void service_register(const struct service *service);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DAEMON_H
#define POSTHORN_DAEMON_H

#include <stdbool.h>
#include "config.h"
#include "privileges.h"

/* posthornd's process state, owned by the main thread. Internal to
 * src/daemon; protocol modules see only service.h. */

struct event_base;
struct workpool;
struct store;
struct auth_server;
struct auth_cache;
struct auth_throttle;
struct daemon_listeners;
struct control_server;

/* At most this many listen addresses over all listeners. */
#define DAEMON_MAX_BOUND 64

struct daemon {
	const char *config_path; /* NULL = embedded default */
	struct config *config;	 /* current (reloads swap it) */
	struct event_base *base; /* main thread: signals, control socket */
	struct workpool *workpool;

	bool drop_privileges; /* started as root with [server] user */
	struct privileges priv;

	/* NULL while the module is not built into posthornd. */
	struct store *store;
	struct auth_server *auth;
	struct auth_cache *auth_cache;
	struct auth_throttle *auth_throttle;

	struct daemon_listeners *listeners;
	struct control_server *control;

	/* Set on first start of the embedded default: shown once. */
	char *demo_password;
	bool stopping;
	bool pid_file_written;
};

/* ---- listeners (listeners.c; listeners-none.c without lib-net) ---- */

/* Creates the I/O loops and TLS context, initialises the linked services
 * and binds every configured listener that has one. Runs before dropping
 * privileges. Returns 1, or -1 with *error_r. */
int daemon_listeners_open(struct daemon *d, const char **error_r);
/* Makes the self-signed pair if needed (after the privilege drop, so the
 * files belong to the daemon's user) and starts the I/O threads. */
int daemon_listeners_start(struct daemon *d, const char **error_r);
/* Appends "name=ADDR ..." of bound listeners, for the ready line. */
void daemon_listeners_describe(struct daemon *d, struct buf *out);
/* The banner's lines: one per configured listener, with its state. */
void daemon_listeners_banner(struct daemon *d, struct buf *out);
/* Hands a control socket command to the running services' control()
 * callbacks: to the service called name, or to all when name is NULL.
 * Returns how many handled it, or -1 with *error_r. */
int daemon_services_control(struct daemon *d, const char *name,
			    const char *const *args, unsigned count,
			    const char **error_r);
/* SIGHUP: new configuration (already validated) and certificates. */
void daemon_listeners_reload(struct daemon *d, struct config *config);
/* Shutdown: closes listeners, lets in-flight work finish, joins the I/O
 * threads and deinitialises the services. */
void daemon_listeners_stop(struct daemon *d);
/* Frees the loops and services: after the workpool and the store are
 * closed, since their last completions are still posted to the (stopped)
 * loops, which drop them. */
void daemon_listeners_free(struct daemon *d);

/* ---- accounts (accounts.c; accounts-none.c without store/lib-auth) ---- */

/* Opens the store and the authentication layer (after the privilege
 * drop). On the embedded default's first start, creates the domain
 * localhost and the demo account and sets d->demo_password. */
int daemon_accounts_open(struct daemon *d, const char **error_r);
/* Control socket "auth-flush": drops cached authentications. id < 0 =
 * look the address up. Returns 1, 0 if unknown, -1 on error. */
int daemon_accounts_auth_flush(struct daemon *d, const char *address,
			       int64_t id, const char **error_r);
/* Control socket "mailbox-changed": another process (posthorn import)
 * changed the mailbox; sessions watching it are told what changed.
 * Returns 1, 0 if the account or mailbox is unknown, -1 on error. */
int daemon_accounts_mailbox_changed(struct daemon *d, const char *address,
				    const char *mailbox, const char **error_r);
/* Drains the store's writer and closes the store (after the workpool). */
void daemon_accounts_close_store(struct daemon *d);
/* Destroys the authentication layer (after the loops are freed). */
void daemon_accounts_close_auth(struct daemon *d);

/* ---- control socket (control.c) ---- */

/* Fails when a daemon already answers on the data directory's socket. */
int control_server_check_running(struct daemon *d, const char **error_r);
int control_server_create(struct daemon *d, const char **error_r);
void control_server_destroy(struct daemon *d);

/* ---- main.c ---- */

/* Reloads the configuration file (SIGHUP, control "reload"). */
void daemon_reload(struct daemon *d);

#endif

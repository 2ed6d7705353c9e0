/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_SASL_H
#define POSTHORN_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workpool.h"

/* The one authentication layer every protocol uses: SMTP submission AUTH,
 * IMAP AUTHENTICATE and LOGIN, POP3 AUTH and USER/PASS. Server side of the
 * SASL mechanisms PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel binding
 * tls-exporter RFC 9266) on GNU SASL, with the cache of auth-cache.h and
 * the throttle of auth-throttle.h.
 *
 * It knows neither the store nor the network: account credentials come
 * from a lookup callback, results go back through a completion_target, and
 * channel-binding data is handed in by the caller.
 *
 * Threads: one auth_server per process, shared by all event loops. A
 * session belongs to one thread (its connection's event loop); calls on it
 * come from that thread, and its asynchronous results are posted there.
 * Password verification (crypt, ~57 ms for yescrypt) and every credential
 * lookup run on the workpool, never on the calling thread.
 *
 * A protocol drives an exchange like this (SMTP shown; IMAP and POP3 use
 * "+ " instead of "334 " and their own OK/NO/BAD replies):
 *
 *   C: AUTH <mech> [initial-response]
 *      ret = auth_session_create(server, &params, &session, &error)
 *        ret == -1 -> "504 5.5.4 Unrecognized authentication type"
 *        ret == 0  -> "538 5.7.11 Encryption required" (or 504)
 *      st = auth_session_start(session, initial_response_or_NULL, &result)
 *   loop:
 *      CONTINUE     -> "334 <result.challenge>", read a line, then
 *                      st = auth_session_continue(session, line, &result)
 *      PENDING      -> stop reading; the result arrives later through
 *                      params.callback on params.target, and is handled
 *                      exactly like a synchronous one
 *      SUCCESS      -> "235 2.7.0 Authentication successful",
 *                      result.username / result.account_id are the user
 *      FAILURE      -> after result.delay_ms (timer!) "535 5.7.8 ..."
 *      TEMPFAIL     -> "454 4.7.0 Temporary authentication failure"
 *      ABORTED      -> "501 5.0.0 Authentication cancelled" ("*" line)
 *      BAD_RESPONSE -> "501 5.5.2 Malformed authentication data"
 *   auth_session_destroy(&session) after any final status (also allowed
 *   while PENDING: then no callback comes).
 *
 * IMAP LOGIN and POP3 USER/PASS use auth_session_check_password() on a
 * session created with mechanism NULL; it returns the same statuses. */

#define AUTH_USERNAME_MAX_LEN 255
#define AUTH_RESPONSE_DEFAULT_MAX 8192 /* base64 characters */
#define AUTH_CB_DATA_MAX 64 /* tls-exporter is 32 bytes */

/* ---- Credentials ---- */

/* What the lookup returns for one account. */
struct auth_credentials {
	int64_t account_id;
	/* The account's canonical name (as it should appear in logs and be
	 * used by the protocol after login); NULL = the name as looked up. */
	const char *username;
	/* crypt(3) string (auth-password.h) for PLAIN, LOGIN and USER/PASS;
	 * NULL or "" = none (those then fail for this account). */
	const char *password_hash;
	/* RFC 5803 SCRAM string (auth-scram.h) for SCRAM-SHA-256[-PLUS];
	 * NULL = none (SCRAM then fails for this account)... */
	const char *scram;
	/* ...or, when scram is NULL, the same data as the store keeps it
	 * (struct store_account): base64 salt and keys and the iteration
	 * count (see auth_scram_to_parts()). NULL/"" salt = none. */
	const char *scram_salt;
	unsigned int scram_iter;
	const char *scram_stored_key;
	const char *scram_server_key;
};
/* Store glue, in the lookup callback: copy password_hash and the four
 * scram_* fields of struct store_account as they are ("" = none), use its
 * id and address, and answer AUTH_LOOKUP_NOT_FOUND for a disabled account
 * and AUTH_LOOKUP_TEMPFAIL when store_account_lookup() returns -1. */

enum auth_lookup_result {
	AUTH_LOOKUP_TEMPFAIL = -1, /* store unavailable etc.: try later */
	AUTH_LOOKUP_NOT_FOUND = 0, /* no such account (or disabled) */
	AUTH_LOOKUP_FOUND = 1,
};

struct pool;

struct auth_lookup {
	/* Looks up username (as the client sent it, SASLprep'd for PLAIN and
	 * SCRAM). Always called on a workpool thread, never an event loop, so
	 * it may block on the store; it must be thread-safe. Strings put in
	 * *creds_r must be allocated from pool (or outlive the call); pool
	 * lives until the result has been used. On TEMPFAIL set *error_r (for
	 * the log). */
	enum auth_lookup_result (*lookup)(void *context, const char *username,
					  struct pool *pool,
					  struct auth_credentials *creds_r,
					  const char **error_r);
	void *context;
};

/* ---- Server: one per process ---- */

struct auth_cache;
struct auth_throttle;

struct auth_server_settings {
	struct auth_lookup lookup;
	/* Where password verification and lookups run. Not owned. */
	struct workpool *workpool;
	/* Optional (NULL = no caching / no throttling). Not owned. */
	struct auth_cache *cache;
	struct auth_throttle *throttle;
	/* Longest client response, in base64 characters; 0 = default. */
	unsigned int max_response_len;
	/* Iteration count shown for unknown users in SCRAM (so that they look
	 * like real ones); 0 = AUTH_SCRAM_DEFAULT_ITER. */
	unsigned int scram_iter;
};

struct auth_server;

/* Returns the server, or NULL with *error_r set (GNU SASL failed to
 * initialise or lacks a mechanism). Costs one password hash (~57 ms, a
 * dummy hash that unknown users are verified against, so they take as long
 * as known ones): create it at start-up. */
struct auth_server *auth_server_create(const struct auth_server_settings *set,
				       const char **error_r);
/* Shut down in this order: destroy every session, destroy the workpool
 * (it finishes queued jobs and posts their completions), let the event
 * loops run those completions (they free sessions destroyed while
 * pending), then destroy the server. */
void auth_server_destroy(struct auth_server **server);

/* SASL mechanisms to advertise, most preferred first, space-separated
 * (e.g. "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN"); static string.
 * secure: the connection is TLS-protected (or policy allows plaintext
 * passwords on it, e.g. loopback); otherwise PLAIN and LOGIN are left out.
 * channel_binding: a tls-exporter value is available for the connection;
 * otherwise SCRAM-SHA-256-PLUS is left out. */
const char *auth_server_mechanisms(const struct auth_server *server,
				   bool secure, bool channel_binding);

/* Forgets cached verifications of the account (the daemon calls this when
 * the admin changes the account or its password). */
void auth_server_drop_account(struct auth_server *server, int64_t account_id);

/* ---- Sessions: one per authentication exchange ---- */

enum auth_status {
	/* The result comes later through params.callback. */
	AUTH_STATUS_PENDING = 0,
	/* Send result.challenge ("334 "/"+ " prefix) and feed the client's
	 * answer to auth_session_continue(). */
	AUTH_STATUS_CONTINUE,
	AUTH_STATUS_SUCCESS,
	/* Wrong credentials, unknown user, authzid not allowed, channel
	 * binding mismatch. Answer after result.delay_ms. */
	AUTH_STATUS_FAILURE,
	/* The lookup failed temporarily; the client may retry later. */
	AUTH_STATUS_TEMPFAIL,
	/* The client cancelled with "*". */
	AUTH_STATUS_ABORTED,
	/* Malformed base64, a response too long, a malformed SASL message, or
	 * a non-empty answer where an empty one was required. */
	AUTH_STATUS_BAD_RESPONSE,
};

struct auth_result {
	enum auth_status status;
	/* CONTINUE: the challenge, base64 ("" for an empty challenge). */
	const char *challenge;
	/* SUCCESS with params.final_data_with_success: the mechanism's final
	 * server data (SCRAM "v=..."), base64; NULL when there is none. */
	const char *success_data;
	/* SUCCESS: the account's canonical name and id, and the authorization
	 * identity ("" or the same as username). */
	const char *username;
	const char *authzid;
	int64_t account_id;
	/* FAILURE: milliseconds to wait before telling the client. */
	unsigned int delay_ms;
	/* Final statuses other than SUCCESS: why, for the log (never send it
	 * to the client). */
	const char *error;
};

struct auth_session;

struct auth_session_params {
	/* SASL mechanism name, case-insensitive; NULL for a session used only
	 * with auth_session_check_password(). */
	const char *mechanism;
	/* As for auth_server_mechanisms(). */
	bool secure;
	/* tls-exporter channel binding (RFC 9266): what the network layer's
	 * conn_tls_exporter(conn, "EXPORTER-Channel-Binding", out, 32) gave
	 * for this connection; NULL/0 when none. Copied. */
	const uint8_t *cb_data;
	size_t cb_len;
	/* For throttling and logs; either may be NULL. */
	const char *remote_ip;
	const char *sid;
	/* "smtp", "imap", "pop3": for logs only. */
	const char *service;
	/* Whether the protocol can carry SASL data in its success reply.
	 * SMTP, IMAP and POP3 cannot (RFC 4422 section 5): leave false, and
	 * SCRAM's final server data comes as one last CONTINUE challenge whose
	 * answer must be empty, after which the session reports SUCCESS. */
	bool final_data_with_success;
	/* Where and how asynchronous results are delivered. callback runs on
	 * target's thread, exactly once per PENDING, never inline. It may
	 * destroy the session. result and its strings are valid only during
	 * the call. */
	const struct completion_target *target;
	void (*callback)(struct auth_session *session,
			 const struct auth_result *result, void *context);
	void *context;
};

/* Creates a session. Returns 1 with *session_r set; 0 when the mechanism
 * exists but is not allowed on this connection (PLAIN/LOGIN without
 * secure, -PLUS without channel binding data; SMTP answers 538); -1 when
 * the mechanism is unknown (SMTP 504, IMAP NO, POP3 -ERR). *error_r set
 * on 0 and -1. */
int auth_session_create(struct auth_server *server,
			const struct auth_session_params *params,
			struct auth_session **session_r, const char **error_r);

/* Begins the exchange. initial_response is the client's SASL-IR in base64
 * (RFC 4954 section 4, RFC 4959), "=" for an empty one, or NULL when the
 * client sent none. "*" cancels. Fills *result_r (strings valid until the
 * next call on the session) and returns its status. */
enum auth_status auth_session_start(struct auth_session *session,
				    const char *initial_response,
				    struct auth_result *result_r);

/* Feeds one client response line (base64, without CRLF; "*" cancels; an
 * empty line is an empty response). Only after CONTINUE. */
enum auth_status auth_session_continue(struct auth_session *session,
				       const char *response,
				       struct auth_result *result_r);

/* Checks a username and password given in the clear (IMAP LOGIN, POP3
 * USER/PASS) against the same cache, throttle and lookup. The session must
 * have been created with mechanism NULL and secure set (the protocol
 * refuses LOGIN/USER on an unprotected connection itself); one check per
 * session. Returns SUCCESS (cache hit), PENDING, FAILURE (e.g. too long
 * input) or TEMPFAIL. */
enum auth_status auth_session_check_password(struct auth_session *session,
					     const char *username,
					     const char *password,
					     struct auth_result *result_r);

/* True while an asynchronous step is outstanding. */
bool auth_session_is_pending(const struct auth_session *session);
/* The mechanism's canonical name, or NULL for a password-check session. */
const char *auth_session_mechanism(const struct auth_session *session);

/* Ends the session and wipes the secrets it held; sets *session to NULL.
 * Allowed while PENDING: the outstanding work finishes on the workpool and
 * its result is dropped without a callback. */
void auth_session_destroy(struct auth_session **session);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_POP3D_H
#define POSTHORN_POP3D_H

/* The POP3 server (RFC 1939, RFC 2449 extensions, RFC 2595 STLS, RFC 5034
 * AUTH, RFC 3206 response codes). Internal to src/pop3d: posthornd sees
 * only pop3d_services[] (service.h), which registers the listeners "pop3"
 * (port 110, STLS) and "pop3s" (port 995, implicit TLS).
 *
 * A session moves AUTHORIZATION -> TRANSACTION -> UPDATE (RFC 1939
 * section 3). The maildrop is the account's INBOX, locked for the
 * session (one POP3 session per maildrop, "-ERR [IN-USE]"), listed once at
 * login (the snapshot POP3 numbers refer to), and changed only in UPDATE:
 * QUIT expunges the messages marked with DELE in one store transaction and
 * answers "+OK" only after its commit is durable. A connection that ends
 * any other way changes nothing. */

#include <stdbool.h>
#include <stdint.h>
#include "lib.h"
#include "workpool.h"
#include "pop3-command.h"
#include "pop3-dotstuff.h"

struct conn;
struct event;
struct store;
struct auth_server;
struct auth_session;
struct config;

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
};
#define POP3_STATE_BIT(state) (1u << (state))
#define POP3_IN_AUTH POP3_STATE_BIT(POP3_STATE_AUTHORIZATION)
#define POP3_IN_TRANS POP3_STATE_BIT(POP3_STATE_TRANSACTION)

/* Consecutive bad commands after which the session is closed. */
#define POP3_MAX_BAD_COMMANDS 20
/* Longest line read from a client: a command (POP3_COMMAND_MAX_LEN) or a
 * SASL response (lib-auth's default limit, base64). */
#define POP3_MAX_LINE_LENGTH (8192 + 64)
/* Streaming output (RETR, TOP, LIST, UIDL) is written until this much is
 * queued, then resumes from on_write_ready(). It must exceed the service's
 * output high watermark, or on_write_ready() would never come: posthornd
 * leaves pop3 at lib-net's default (NET_DEFAULT_OUTPUT_HIGH_WATERMARK). */
#define POP3_OUTPUT_TARGET (512 * 1024)
/* Bytes read from a body per store read. */
#define POP3_BODY_CHUNK (64 * 1024)

/* One service instance ("pop3" or "pop3s"): shared by every connection of
 * that listener, on all I/O threads. */
struct pop3d_server {
	const char *name;
	struct store *store;
	struct auth_server *auth;
	/* [pop3] allow_plaintext_loopback: USER/PASS and AUTH without TLS on
	 * loopback connections. Read on the I/O threads, set on reload. */
	_Atomic bool plaintext_loopback;
};

/* One message of the login snapshot; POP3 message number = index + 1. */
struct pop3_message {
	uint32_t uid;
	bool deleted;
	bool retrieved; /* sent whole by RETR: \Seen at QUIT */
	bool seen;	/* \Seen at login */
	uint64_t size; /* stored (CRLF) size, RFC 1939 section 11 */
	int64_t body_id;
};

struct pop3_maildrop {
	int64_t account_id;
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_message *msgs;
	unsigned count;
	unsigned deleted_count;
	uint64_t total_size;
	uint64_t deleted_size;
};

enum pop3_stream_kind {
	POP3_STREAM_BODY, /* RETR, TOP */
	POP3_STREAM_LIST,
	POP3_STREAM_UIDL,
};

/* A multi-line response being written in pieces. */
struct pop3_stream {
	enum pop3_stream_kind kind;
	unsigned next;	 /* LIST/UIDL: next message index */
	int64_t body_id; /* BODY */
	uint64_t offset;
	uint64_t size;
	struct pop3_dotstuff ds;
};

struct pop3_session {
	struct conn *conn;
	struct pop3d_server *server;
	const char *sid;
	enum pop3_state state;
	struct completion_target target;

	/* AUTHORIZATION */
	char *user;	 /* from USER, waiting for PASS */
	struct auth_session *auth;
	bool sasl_exchange; /* next line is a SASL response */
	struct event *delay_timer;
	char *delayed_reply;

	/* TRANSACTION */
	char *username;
	struct pop3_maildrop *maildrop;
	bool lock_held;

	struct pop3_stream *stream;
	bool updating; /* UPDATE commit in flight */
	unsigned bad_commands;
};

/* Quotes a value for a key=value log line (log_quote() into a
 * thread-local buffer): valid until the next call on the thread, so one
 * per log line. */
const char *pop3_logq(const char *value);

/* pop3d-session.c */
extern const struct conn_handlers pop3d_conn_handlers;
void pop3_reply(struct pop3_session *s, const char *fmt, ...) ATTR_FORMAT(2, 3);
/* Pauses or resumes input to match the session's outstanding work
 * (authentication, throttle delay, streaming, UPDATE commit). */
void pop3_session_sync_pause(struct pop3_session *s);
/* Sends reply after delay_ms (a timer, never a sleep), input paused. */
void pop3_session_delay_reply(struct pop3_session *s, unsigned delay_ms,
			      const char *reply);
/* Starts a multi-line response after its "+OK" line. Takes stream. */
void pop3_session_stream_start(struct pop3_session *s,
			       struct pop3_stream *stream);
/* A SASL response line while sasl_exchange is set. */
void pop3_auth_sasl_line(struct pop3_session *s, const char *line);
void pop3_session_auth_cleanup(struct pop3_session *s);

/* Whether passwords may be sent on this connection (TLS, or loopback when
 * configured). */
bool pop3_session_secure(struct pop3_session *s);

/* Command handlers: pop3d-cmd-auth.c, pop3d-cmd-mail.c. */
typedef void pop3_command_handler_t(struct pop3_session *s,
				    const struct pop3_command *cmd);
pop3_command_handler_t pop3_cmd_capa, pop3_cmd_user, pop3_cmd_pass,
	pop3_cmd_auth, pop3_cmd_stls, pop3_cmd_quit, pop3_cmd_stat,
	pop3_cmd_list, pop3_cmd_uidl, pop3_cmd_retr, pop3_cmd_top,
	pop3_cmd_dele, pop3_cmd_rset, pop3_cmd_noop;

/* pop3d-maildrop.c */
/* The in-use registry: one POP3 session per mailbox in this process.
 * Thread-safe. lock returns true when taken, false when already held. */
bool pop3_maildrop_lock(int64_t mailbox_id);
void pop3_maildrop_unlock(int64_t mailbox_id);
/* Opens the account's INBOX: takes the lock and lists the messages.
 * Returns 1 and *md_r, 0 when the maildrop is locked (IN-USE), -1 on a
 * store error with *error_r. */
int pop3_maildrop_open(struct store *store, int64_t account_id,
		       struct pop3_maildrop **md_r, const char **error_r);
/* Frees the snapshot (does not touch the lock). */
void pop3_maildrop_free(struct pop3_maildrop **md);
/* The message with 1-based number num, or NULL with *error_r when out of
 * range or deleted (text for "-ERR"). */
struct pop3_message *pop3_maildrop_get(struct pop3_maildrop *md, uint64_t num,
				       const char **error_r);
/* A message number argument parsed and looked up as above. */
struct pop3_message *pop3_maildrop_get_arg(struct pop3_maildrop *md,
					   const char *arg,
					   const char **error_r);
/* "<uidvalidity>.<uid>": stable across sessions and equal to what IMAP
 * reports as UIDVALIDITY and UID. */
#define POP3_UIDL_MAX_LEN 24
void pop3_maildrop_uidl(const struct pop3_maildrop *md,
			const struct pop3_message *msg,
			char dst[POP3_UIDL_MAX_LEN]);
/* QUIT in TRANSACTION: commits the expunge of the deleted messages (and
 * \Seen on those retrieved), then answers and closes. Takes over the
 * maildrop lock. */
void pop3_maildrop_update(struct pop3_session *s);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_CLIENT_H
#define POSTHORN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The SMTP client engine: one outbound session to one address, carrying one
 * message to a set of recipients (RFC 5321), on a libevent event_base. It
 * opens the TCP connection itself (optionally from a given source address),
 * reads the greeting, sends EHLO (HELO after a 5xx to EHLO), uses
 * STARTTLS opportunistically when offered and a TLS context was given
 * (RFC 3207; EHLO again afterwards), PIPELINING (RFC 2920: MAIL, every
 * RCPT and DATA in one write), SIZE (RFC 1870: a message over the peer's
 * limit fails permanently, 5.3.4), 8BITMIME (RFC 6152), SMTPUTF8 (RFC
 * 6531: recipients with UTF-8 addresses fail with 5.6.7 on a peer without
 * it), DSN (RFC 3461: NOTIFY, ORCPT, RET and ENVID passed on when the peer
 * offers it), dot-stuffs the body, collects a result per recipient and ends
 * with QUIT. Every wait has a timeout (RFC 5321 section 4.5.3.2).
 *
 * Threads: everything runs on the thread of the event_base given to
 * smtp_client_create(); use the client only from there. */

struct event_base;

struct smtp_client_settings {
	/* Name for EHLO/HELO; required. */
	const char *helo_name;
	/* Client TLS context (SSL_CTX *) for opportunistic STARTTLS, or NULL
	 * to never start TLS. See smtp_client_ssl_ctx_create(). */
	void *ssl_ctx;
	/* Fail the session (temporary, try the next host) when the peer does
	 * not offer STARTTLS or the handshake fails. */
	bool require_tls;
	/* Never pipeline, even when offered (for tests and broken peers). */
	bool no_pipelining;
	/* AUTH PLAIN (RFC 4954) with these credentials before MAIL, for a
	 * smarthost; NULL = no AUTH. Sent only over TLS unless
	 * auth_plaintext_ok. A peer that does not offer PLAIN, or refuses
	 * the credentials, fails the session (temporary: a configuration
	 * problem must not bounce mail). */
	const char *auth_user;
	const char *auth_password;
	bool auth_plaintext_ok;

	/* Timeouts in milliseconds; 0 = the RFC 5321 4.5.3.2 value. */
	unsigned connect_timeout_ms;     /* default 60 s */
	unsigned greeting_timeout_ms;    /* 5 min (also EHLO, STARTTLS) */
	unsigned mail_timeout_ms;        /* 5 min */
	unsigned rcpt_timeout_ms;        /* 5 min */
	unsigned data_init_timeout_ms;   /* 2 min (the 354) */
	unsigned data_block_timeout_ms;  /* 3 min (no write progress) */
	unsigned data_final_timeout_ms;  /* 10 min (reply to the dot) */
	unsigned quit_timeout_ms;        /* default 10 s */
};

/* RFC 3461 section 4.3 RET. */
enum smtp_client_ret {
	SMTP_CLIENT_RET_NONE = 0,
	SMTP_CLIENT_RET_FULL,
	SMTP_CLIENT_RET_HDRS,
};

struct smtp_client_rcpt {
	/* The address without angle brackets (may be UTF-8). */
	const char *address;
	/* RFC 3461 NOTIFY value as given to us ("NEVER", "SUCCESS,FAILURE"),
	 * or NULL. Passed on only to peers offering DSN. */
	const char *notify;
	/* RFC 3461 ORCPT as "addr-type;original address" with the address
	 * already decoded (e.g. "rfc822;bob@b.test"), or NULL. The client
	 * xtext-encodes the address part. */
	const char *orcpt;
};

struct smtp_client_message {
	/* Envelope sender without brackets; "" = the null sender <>. */
	const char *mail_from;
	const struct smtp_client_rcpt *rcpts;
	unsigned rcpt_count;
	/* The message, CRLF line ends, not dot-stuffed. Owned by the caller
	 * and kept unchanged until the callback has run. */
	const uint8_t *data;
	size_t size;
	/* The body has 8-bit content (BODY=8BITMIME when offered). */
	bool eightbit;
	/* RFC 3461 ENVID (decoded; xtext-encoded by the client) or NULL. */
	const char *envid;
	enum smtp_client_ret ret;
};

enum smtp_client_rcpt_status {
	SMTP_CLIENT_RCPT_OK = 1,        /* the peer accepted the message */
	SMTP_CLIENT_RCPT_TEMPFAIL,     /* retry later */
	SMTP_CLIENT_RCPT_PERMFAIL,     /* bounce */
};

struct smtp_client_rcpt_result {
	enum smtp_client_rcpt_status status;
	/* The reply code that decided it, or 0 when no reply did (connection
	 * failure, timeout, a local decision such as SIZE or SMTPUTF8). */
	unsigned code;
	/* RFC 3463 status code, "5.1.1": the peer's when it sent one,
	 * otherwise derived from the code or our own. */
	char enhanced[16];
	/* The peer's reply text (lines joined with "; ") or our own
	 * explanation. Never NULL. */
	const char *text;
};

struct smtp_client_result {
	/* One per message recipient, in order. */
	const struct smtp_client_rcpt_result *rcpts;
	unsigned rcpt_count;
	/* The failure was the host's, before any recipient got a decision of
	 * its own (connect failure, timeout, non-2xx greeting, EHLO/HELO or
	 * MAIL 4xx, TLS failure, dropped connection): every recipient is
	 * TEMPFAIL and the caller should try the next address (RFC 5321
	 * section 5.1). */
	bool try_next_host;
	/* Where the session got to, for logs: "connect", "greeting", "ehlo",
	 * "starttls", "auth", "mail", "rcpt", "data", "dot", "quit". */
	const char *stage;
	/* The peer's greeting host name (first word of the 220), or "". */
	const char *remote_name;
	/* "IP:port" we connected to. */
	const char *remote_addr;
	bool tls;
	/* The peer offered DSN (RFC 3461), so NOTIFY went on with the
	 * message and success reports are its business. */
	bool peer_dsn;
	/* 8-bit body sent to a peer without 8BITMIME (most MTAs cope). */
	bool eightbit_without_8bitmime;
};

/* Called once, from the event loop, after the session has ended and its
 * connection is closed. result lives until smtp_client_destroy(), which
 * may be called inside the callback. */
typedef void smtp_client_callback_t(const struct smtp_client_result *result,
				    void *ctx);

struct smtp_client;

/* settings and msg are copied where needed (strings), except msg->data,
 * which the caller keeps alive. */
struct smtp_client *smtp_client_create(struct event_base *base,
				       const struct smtp_client_settings *set,
				       const struct smtp_client_message *msg);
/* Starts the session to ip:port (numeric IPv4 or IPv6), binding to
 * source_ip first when it is not NULL or "". callback runs later, never
 * inside this call. Call once per client. */
void smtp_client_run(struct smtp_client *client, const char *ip,
		     unsigned port, const char *source_ip,
		     smtp_client_callback_t *callback, void *ctx);
/* Aborts a running session (the callback does not run) and frees the
 * client; sets *client to NULL. NULL is allowed. */
void smtp_client_destroy(struct smtp_client **client);

/* A client TLS context for opportunistic STARTTLS: TLS 1.2 and newer,
 * no certificate verification (RFC 7435 opportunistic security: without
 * DANE or MTA-STS there is nothing to verify against, and refusing would
 * only push the mail to plaintext). Returns SSL_CTX *, or NULL with
 * *error_r. Free with SSL_CTX_free(). */
void *smtp_client_ssl_ctx_create(const char **error_r);

/* RFC 3461 section 4: xtext encoding of value appended to out. */
struct buf;
void smtp_client_xtext_encode(struct buf *out, const char *value);

#endif

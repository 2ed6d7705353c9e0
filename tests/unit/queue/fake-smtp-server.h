/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_FAKE_SMTP_SERVER_H
#define POSTHORN_FAKE_SMTP_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include "buf.h"

/* A scripted SMTP server for client tests: one thread, one connection on
 * 127.0.0.1 (a port the kernel picks), blocking I/O with a poll timeout
 * on every wait so a broken client can never hang a test. Replies are
 * given as whole wire text ("250 ok\r\n", multi-line allowed). */
struct fake_smtp_server {
	/* script (set before fake_smtp_server_start) */
	const char *greeting;      /* default "220 fake.test ESMTP\r\n" */
	const char *ehlo;          /* default "250 fake.test\r\n" */
	const char *ehlo_tls;      /* after STARTTLS; NULL = ehlo */
	bool ehlo_fails;           /* 502 to EHLO (HELO works) */
	const char *mail_reply;    /* default "250 2.1.0 ok\r\n" */
	const char *rcpt_replies[8]; /* NULL = "250 2.1.5 ok\r\n" */
	const char *data_reply;    /* default "354 go\r\n" */
	const char *dot_reply;     /* default "250 2.0.0 queued\r\n" */
	const char *auth_reply;    /* default "235 2.7.0 ok\r\n" */
	/* Hold every reply of a MAIL/RCPT/DATA group until DATA arrived:
	 * only a pipelining client gets anywhere. */
	bool hold_until_data;
	/* Never answer the end of data. */
	bool stall_after_dot;
	/* Stop answering at the first command starting with this. */
	const char *stall_on;
	void *ssl_ctx;             /* SSL_CTX * for STARTTLS, or NULL */
	/* Answer STARTTLS with 220, then send garbage instead of a
	 * handshake (first session only). */
	bool starttls_garbage;
	/* Connections to serve one after another (0 = 1). rcpt_replies
	 * are counted across them. */
	unsigned sessions;

	/* results (read after fake_smtp_server_stop) */
	unsigned port;
	struct buf transcript;     /* every command line + "\n" */
	struct buf body;           /* DATA content, unstuffed, CRLF */
	bool tls_done;
	bool quit_seen;
	unsigned sessions_served;
	unsigned rcpt_count; /* RCPT commands seen over all sessions */

	int listen_fd;
	pthread_t thread;
};

void fake_smtp_server_start(struct fake_smtp_server *srv);
/* Joins the thread (which ends after QUIT, EOF or 5 s without input). */
void fake_smtp_server_stop(struct fake_smtp_server *srv);
void fake_smtp_server_free(struct fake_smtp_server *srv);

/* A self-signed server SSL_CTX for localhost (generated in memory). */
void *fake_smtp_server_ssl_ctx(void);

#endif

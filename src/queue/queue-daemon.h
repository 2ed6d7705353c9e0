/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_QUEUE_DAEMON_H
#define POSTHORN_QUEUE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

/* The outbound queue inside posthornd: one queue, kept in the store, on
 * the first I/O loop, with its own resolver (the [dns] static zone first)
 * and a client TLS context for opportunistic STARTTLS.
 *
 * posthornd runs it as the background service "queue" (queue-service.c,
 * service.h). Main thread:
 *   qd = queue_daemon_create(loops, store, &settings, &error);  before or
 *        after net_loops_start(): the queue starts on its loop once the
 *        loops run and sends what is due right away
 *   queue_daemon_wake(qd)     any thread: control socket "queue-wake"
 *   queue_daemon_kick(qd)     any thread: something new was enqueued
 *   queue_daemon_destroy(&qd) after net_loops_stop() (the loop thread has
 *        exited; sessions in flight are cut, their recipients stay
 *        pending in the store) */

struct buf;
struct net_loops;
struct store;
struct queue_daemon;

struct queue_daemon_settings {
	const char *hostname;      /* EHLO, Reporting-MTA */
	const char *static_zone;   /* [dns] static file, or NULL/"" */
	unsigned mx_port;
	const char *source_ip;     /* NULL/"" = the kernel's choice */
	/* Seconds; 0 = the queue's defaults (queue.h). */
	unsigned retry_initial, retry_max, give_up, delay_notify;
	bool no_delay_notify;
	unsigned connect_timeout, command_timeout, data_timeout;
	unsigned max_sessions;
	/* Smarthost "HOST:PORT" or "[HOST]:PORT"; NULL/"" = MX delivery. */
	const char *relayhost;
	const char *relay_user;          /* NULL/"" = no AUTH */
	const char *relay_password_file; /* first line is the password */
	bool relay_require_tls;
	/* DMARC aggregate reports ([auth]): when on, the queue's loop also
	 * runs the reporting timer (dmarc-report.h) with its resolver. */
	bool dmarc_reports;
	const char *report_sender, *report_org; /* NULL/"" = defaults */
	unsigned report_interval;		 /* seconds; 0 = a day */
	/* DKIM-signs the reports (dkimsign_host_signer()), or NULL. */
	int (*report_sign)(void *ctx, const char *host, const void *msg,
			   size_t len, struct buf *headers_out);
	void *report_sign_ctx;
};

/* Returns NULL with *error_r when the static zone can't be read or the TLS
 * context can't be made (the daemon refuses to start). */
struct queue_daemon *
queue_daemon_create(struct net_loops *loops, struct store *store,
		    const struct queue_daemon_settings *set,
		    const char **error_r);
void queue_daemon_wake(struct queue_daemon *qd);
void queue_daemon_kick(struct queue_daemon *qd);
void queue_daemon_destroy(struct queue_daemon **qd);

/* The running daemon's queue for modules that enqueue (smtpd, submission):
 * kick it after the enqueue commit. NULL when none runs. */
struct queue_daemon *queue_daemon_get(void);

#endif

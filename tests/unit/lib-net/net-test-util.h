/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_NET_TEST_UTIL_H
#define POSTHORN_NET_TEST_UTIL_H

/* Blocking loopback clients for the lib-net tests. Every read has a 10 s
 * socket timeout, so a broken server fails the test instead of hanging. */

#include <openssl/ssl.h>

struct test_client {
	int fd;
	SSL *ssl;
	SSL_CTX *ssl_ctx;
	char pending[262144]; /* bytes read past the last line */
	size_t pending_len;
};

/* Connects to 127.0.0.1:port (or [::1] when v6) from src_ip (NULL = any). */
void test_client_connect(struct test_client *c, unsigned port,
			 const char *src_ip);
void test_client_send(struct test_client *c, const char *data);
void test_client_send_n(struct test_client *c, const void *data, size_t len);
/* One line without CRLF into buf; returns its length, or -1 on EOF. */
int test_client_read_line(struct test_client *c, char *buf, size_t size);
/* Reads exactly len bytes; returns 0, or -1 on EOF first. */
int test_client_read_n(struct test_client *c, void *buf, size_t len);
/* Reads and asserts the next line equals expected. */
void test_client_expect(struct test_client *c, const char *expected);
/* Asserts that the server closes without sending anything more. */
void test_client_expect_eof(struct test_client *c);
/* TLS client handshake on the connection (after STARTTLS, or right away
 * for implicit TLS); returns 1 on success. Verification off (self-signed);
 * max_version 0 = any. */
int test_client_tls(struct test_client *c, int min_version, int max_version);
void test_client_close(struct test_client *c);


/* --- an echo service over the real loops, shared by the tests --- */
#include <pthread.h>
#include "workpool.h"
#include "net-loop.h"
#include "net-listener.h"
#include "conn.h"
#include "tls.h"

struct echo_stats {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned connects, closes, shutdowns;
	bool saw_inject;
	size_t max_pending;
	bool gate_open; /* releases SLOW jobs */
};
extern struct echo_stats echo_stats;
extern const struct conn_handlers echo_handlers;

struct echo_server {
	struct net_loops *loops;
	struct net_service *service;
	struct net_listener *listener;
	unsigned port;
};

/* set->handlers is filled in; port 0 on 127.0.0.1. */
void echo_server_start(struct echo_server *s, struct net_service_settings *set,
		       unsigned loops);
/* Also checks every connection got its on_close. */
void echo_server_stop(struct echo_server *s);
/* Waits (up to 10 s) until the counter reaches n. */
void echo_stats_wait(const unsigned *counter, unsigned n);
void echo_gate_open(void);
void echo_stats_bump(unsigned *counter);

#endif

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "fake-smtp-server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define FAKE_TIMEOUT_MS 5000

struct fake_conn {
	struct fake_smtp_server *srv;
	int fd;
	SSL *ssl;
	struct buf in;
	struct buf held;
};

static int fake_read(struct fake_conn *c)
{
	uint8_t data[4096];
	ssize_t n;

	if (c->ssl != NULL && SSL_pending(c->ssl) > 0) {
		n = SSL_read(c->ssl, data, sizeof(data));
	} else {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, FAKE_TIMEOUT_MS) <= 0)
			return -1;
		n = c->ssl != NULL ? SSL_read(c->ssl, data, sizeof(data))
				   : read(c->fd, data, sizeof(data));
	}
	if (n <= 0)
		return -1;
	buf_append(&c->in, data, (size_t)n);
	return 0;
}

/* Next line without CRLF into line; -1 at EOF/timeout. */
static int fake_read_line(struct fake_conn *c, struct buf *line)
{
	for (;;) {
		uint8_t *nl = memchr(c->in.data == NULL ? (uint8_t *)"" : c->in.data,
				     '\n', c->in.len);
		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in.data);
			buf_reset(line);
			buf_append(line, c->in.data,
				   len > 0 && c->in.data[len - 1] == '\r'
					   ? len - 1
					   : len);
			buf_consume(&c->in, len + 1);
			return 0;
		}
		if (fake_read(c) < 0)
			return -1;
	}
}

static void fake_write(struct fake_conn *c, const char *text)
{
	size_t len = strlen(text);

	if (c->ssl != NULL)
		(void)SSL_write(c->ssl, text, (int)len);
	else if (write(c->fd, text, len) < 0) {
		/* the client went away: the test's assertions will say */
	}
}

static void fake_reply(struct fake_conn *c, const char *text, bool hold)
{
	if (hold)
		buf_append_str(&c->held, text);
	else
		fake_write(c, text);
}

static void fake_session(struct fake_conn *c)
{
	struct fake_smtp_server *srv = c->srv;
	struct buf line = BUF_INIT;
	bool in_data = false, stalled = false, holding = false;

	fake_write(c, srv->greeting != NULL ? srv->greeting
					    : "220 fake.test ESMTP\r\n");
	while (fake_read_line(c, &line) == 0) {
		const char *l = buf_cstr(&line);

		if (in_data) {
			if (strcmp(l, ".") == 0) {
				in_data = false;
				if (srv->stall_after_dot) {
					stalled = true;
					continue;
				}
				fake_write(c, srv->dot_reply != NULL
						      ? srv->dot_reply
						      : "250 2.0.0 queued\r\n");
				continue;
			}
			buf_append_str(&srv->body, l[0] == '.' ? l + 1 : l);
			buf_append_str(&srv->body, "\r\n");
			continue;
		}
		buf_append_str(&srv->transcript, l);
		buf_append_str(&srv->transcript, "\n");
		if (stalled)
			continue;
		if (srv->stall_on != NULL &&
		    str_ascii_has_prefix_ci(l, srv->stall_on)) {
			stalled = true;
			continue;
		}
		if (str_ascii_has_prefix_ci(l, "EHLO")) {
			if (srv->ehlo_fails)
				fake_write(c, "502 5.5.1 no EHLO here\r\n");
			else if (c->ssl != NULL && srv->ehlo_tls != NULL)
				fake_write(c, srv->ehlo_tls);
			else
				fake_write(c, srv->ehlo != NULL
						      ? srv->ehlo
						      : "250 fake.test\r\n");
		} else if (str_ascii_has_prefix_ci(l, "HELO")) {
			fake_write(c, "250 fake.test\r\n");
		} else if (str_ascii_eq_ci(l, "STARTTLS") &&
			   srv->starttls_garbage && srv->sessions_served == 0) {
			fake_write(c, "220 2.0.0 go ahead\r\n");
			fake_write(c, "this is not a TLS handshake\r\n");
			break;
		} else if (str_ascii_eq_ci(l, "STARTTLS") &&
			   srv->ssl_ctx != NULL && c->ssl == NULL) {
			fake_write(c, "220 2.0.0 go ahead\r\n");
			buf_reset(&c->in);
			c->ssl = SSL_new(srv->ssl_ctx);
			SSL_set_fd(c->ssl, c->fd);
			if (SSL_accept(c->ssl) != 1)
				break;
			srv->tls_done = true;
		} else if (str_ascii_has_prefix_ci(l, "AUTH ")) {
			fake_write(c, srv->auth_reply != NULL
					      ? srv->auth_reply
					      : "235 2.7.0 ok\r\n");
		} else if (str_ascii_has_prefix_ci(l, "MAIL")) {
			holding = srv->hold_until_data;
			fake_reply(c, srv->mail_reply != NULL
					      ? srv->mail_reply
					      : "250 2.1.0 ok\r\n",
				   holding);
		} else if (str_ascii_has_prefix_ci(l, "RCPT")) {
			const char *r =
				srv->rcpt_count < N_ELEMENTS(srv->rcpt_replies)
					? srv->rcpt_replies[srv->rcpt_count]
					: NULL;
			srv->rcpt_count++;
			fake_reply(c, r != NULL ? r : "250 2.1.5 ok\r\n",
				   holding);
		} else if (str_ascii_eq_ci(l, "DATA")) {
			const char *r = srv->data_reply != NULL
						? srv->data_reply
						: "354 go\r\n";
			fake_reply(c, r, holding);
			if (holding) {
				fake_write(c, buf_cstr(&c->held));
				buf_reset(&c->held);
				holding = false;
			}
			in_data = strncmp(r, "354", 3) == 0;
		} else if (str_ascii_eq_ci(l, "QUIT")) {
			srv->quit_seen = true;
			fake_write(c, "221 2.0.0 bye\r\n");
			break;
		} else {
			fake_write(c, "250 2.0.0 ok\r\n");
		}
	}
	buf_free(&line);
}

static void *fake_thread(void *ctx)
{
	struct fake_smtp_server *srv = ctx;
	unsigned sessions = srv->sessions == 0 ? 1 : srv->sessions;

	for (unsigned i = 0; i < sessions; i++) {
		struct pollfd pfd = {.fd = srv->listen_fd, .events = POLLIN};
		struct fake_conn c = {.srv = srv, .fd = -1};

		if (poll(&pfd, 1, FAKE_TIMEOUT_MS) > 0)
			c.fd = accept(srv->listen_fd, NULL, NULL);
		if (c.fd < 0)
			break;
		fake_session(&c);
		srv->sessions_served++;
		if (c.ssl != NULL) {
			SSL_shutdown(c.ssl);
			SSL_free(c.ssl);
		}
		close(c.fd);
		buf_free(&c.in);
		buf_free(&c.held);
	}
	return NULL;
}

void fake_smtp_server_start(struct fake_smtp_server *srv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	i_assert(srv->listen_fd >= 0);
	i_assert(bind(srv->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	i_assert(listen(srv->listen_fd, 4) == 0);
	i_assert(getsockname(srv->listen_fd, (struct sockaddr *)&sin, &len) == 0);
	srv->port = ntohs(sin.sin_port);
	i_assert(pthread_create(&srv->thread, NULL, fake_thread, srv) == 0);
}

void fake_smtp_server_stop(struct fake_smtp_server *srv)
{
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
	srv->listen_fd = -1;
}

void fake_smtp_server_free(struct fake_smtp_server *srv)
{
	buf_free(&srv->transcript);
	buf_free(&srv->body);
}

void *fake_smtp_server_ssl_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	SSL_CTX *ctx;

	i_assert(key != NULL && x != NULL);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	i_assert(X509_sign(x, key, EVP_sha256()) > 0);
	ctx = SSL_CTX_new(TLS_server_method());
	i_assert(ctx != NULL);
	i_assert(SSL_CTX_use_certificate(ctx, x) == 1);
	i_assert(SSL_CTX_use_PrivateKey(ctx, key) == 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

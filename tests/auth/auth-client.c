/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "auth-client.h"

#include <gsasl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define LINE_MAX_LEN 16384
#define CB_LEN 32
/* RFC 9266 section 2. */
#define CB_LABEL "EXPORTER-Channel-Binding"

struct client {
	const struct auth_client_options *opt;
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	struct buf in;
	struct buf line;
	const char *error;
};

static int client_fill(struct client *c)
{
	uint8_t tmp[4096];
	int n;

	if (c->ssl != NULL) {
		n = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (n <= 0) {
			c->error = "TLS read failed or connection closed";
			return -1;
		}
	} else {
		n = (int)read(c->fd, tmp, sizeof(tmp));
		if (n <= 0) {
			c->error = n == 0 ? "connection closed" :
					    "read failed or timed out";
			return -1;
		}
	}
	buf_append(&c->in, tmp, (size_t)n);
	return 0;
}

/* One line without CRLF into c->line. */
static int client_read_line(struct client *c)
{
	for (;;) {
		uint8_t *nl = memchr(c->in.data == NULL ? (uint8_t *)"" :
						c->in.data, '\n', c->in.len);
		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in.data);
			buf_reset(&c->line);
			buf_append(&c->line, c->in.data,
				   len > 0 && c->in.data[len - 1] == '\r' ?
					   len - 1 : len);
			buf_consume(&c->in, len + 1);
			if (c->opt->verbose)
				fprintf(stderr, "S: %s\n", buf_cstr(&c->line));
			return 0;
		}
		if (c->in.len > LINE_MAX_LEN) {
			c->error = "server line too long";
			return -1;
		}
		if (client_fill(c) < 0)
			return -1;
	}
}

static int client_write_line(struct client *c, const char *line)
{
	struct buf out = BUF_INIT;
	int ret = 0;

	if (c->opt->verbose)
		fprintf(stderr, "C: %s\n", line);
	buf_printf(&out, "%s\r\n", line);
	if (c->ssl != NULL) {
		if (SSL_write(c->ssl, out.data, (int)out.len) != (int)out.len)
			ret = -1;
	} else {
		size_t off = 0;
		while (off < out.len) {
			ssize_t n = write(c->fd, out.data + off, out.len - off);
			if (n <= 0) {
				ret = -1;
				break;
			}
			off += (size_t)n;
		}
	}
	if (ret < 0)
		c->error = "write failed";
	buf_free(&out);
	return ret;
}

static int client_connect(struct client *c)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { c->opt->timeout_secs != 0 ?
				      (time_t)c->opt->timeout_secs : 10, 0 };

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(c->opt->host, c->opt->port, &hints, &res) != 0) {
		c->error = "cannot resolve host";
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		/* Every wait has a timeout: reads, writes and the TLS
		 * handshake all block at most this long. */
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		c->error = "cannot connect";
		return -1;
	}
	return 0;
}

static int client_start_tls(struct client *c)
{
	if (c->in.len > 0) {
		/* Bytes before the handshake would be injected plaintext. */
		c->error = "server sent data before TLS started";
		return -1;
	}
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL) {
		c->error = "SSL_CTX_new failed";
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	if (c->opt->cafile != NULL) {
		if (SSL_CTX_load_verify_locations(c->ssl_ctx, c->opt->cafile,
						  NULL) != 1) {
			c->error = "cannot load CA file";
			return -1;
		}
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
	}
	c->ssl = SSL_new(c->ssl_ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, c->opt->host);
	if (SSL_connect(c->ssl) != 1) {
		c->error = "TLS handshake failed";
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	return 0;
}

/* Reads an SMTP reply (possibly multi-line); returns its code. */
static int smtp_reply(struct client *c)
{
	for (;;) {
		if (client_read_line(c) < 0)
			return -1;
		const char *l = buf_cstr(&c->line);
		if (c->line.len < 3) {
			c->error = "malformed SMTP reply";
			return -1;
		}
		if (c->line.len == 3 || l[3] == ' ')
			return atoi(l);
		if (l[3] != '-') {
			c->error = "malformed SMTP reply";
			return -1;
		}
	}
}

/* Greeting, capability talk and STARTTLS, up to where AUTH may be sent. */
static int client_prepare(struct client *c)
{
	switch (c->opt->protocol) {
	case AUTH_CLIENT_SMTP:
		if (smtp_reply(c) != 220)
			goto bad;
		if (client_write_line(c, "EHLO client.test") < 0 ||
		    smtp_reply(c) != 250)
			goto bad;
		if (!c->opt->starttls)
			return 0;
		if (client_write_line(c, "STARTTLS") < 0 || smtp_reply(c) != 220 ||
		    client_start_tls(c) < 0)
			goto bad;
		if (client_write_line(c, "EHLO client.test") < 0 ||
		    smtp_reply(c) != 250)
			goto bad;
		return 0;
	case AUTH_CLIENT_IMAP:
		if (client_read_line(c) < 0 ||
		    strncmp(buf_cstr(&c->line), "* OK", 4) != 0)
			goto bad;
		if (!c->opt->starttls)
			return 0;
		if (client_write_line(c, "s1 STARTTLS") < 0)
			goto bad;
		do {
			if (client_read_line(c) < 0)
				goto bad;
		} while (strncmp(buf_cstr(&c->line), "s1 ", 3) != 0);
		if (strncmp(buf_cstr(&c->line), "s1 OK", 5) != 0 ||
		    client_start_tls(c) < 0)
			goto bad;
		return 0;
	case AUTH_CLIENT_POP3:
		if (client_read_line(c) < 0 ||
		    strncmp(buf_cstr(&c->line), "+OK", 3) != 0)
			goto bad;
		if (!c->opt->starttls)
			return 0;
		if (client_write_line(c, "STLS") < 0 || client_read_line(c) < 0 ||
		    strncmp(buf_cstr(&c->line), "+OK", 3) != 0 ||
		    client_start_tls(c) < 0)
			goto bad;
		return 0;
	}
bad:
	if (c->error == NULL)
		c->error = "unexpected server reply before AUTH";
	return -1;
}

enum reply_kind { REPLY_CHALLENGE, REPLY_SUCCESS, REPLY_FAILURE, REPLY_ERROR };

/* Reads the server's answer within an AUTH exchange; for a challenge,
 * *b64_r points at its base64 text inside c->line. */
static enum reply_kind client_auth_reply(struct client *c, const char **b64_r)
{
	const char *l;

	*b64_r = NULL;
	if (c->opt->protocol == AUTH_CLIENT_SMTP) {
		int code = smtp_reply(c);
		l = buf_cstr(&c->line);
		if (code == 334) {
			*b64_r = c->line.len > 4 ? l + 4 : "";
			return REPLY_CHALLENGE;
		}
		if (code == 235)
			return REPLY_SUCCESS;
		return code >= 400 && code < 600 ? REPLY_FAILURE : REPLY_ERROR;
	}
	if (client_read_line(c) < 0)
		return REPLY_ERROR;
	l = buf_cstr(&c->line);
	if (l[0] == '+' && (l[1] == ' ' || l[1] == '\0') &&
	    (c->opt->protocol == AUTH_CLIENT_IMAP || strncmp(l, "+OK", 3) != 0)) {
		*b64_r = l[1] == ' ' ? l + 2 : "";
		return REPLY_CHALLENGE;
	}
	if (c->opt->protocol == AUTH_CLIENT_IMAP) {
		while (strncmp(l, "* ", 2) == 0) {
			if (client_read_line(c) < 0)
				return REPLY_ERROR;
			l = buf_cstr(&c->line);
		}
		if (strncmp(l, "a1 OK", 5) == 0)
			return REPLY_SUCCESS;
		if (strncmp(l, "a1 NO", 5) == 0 || strncmp(l, "a1 BAD", 6) == 0)
			return REPLY_FAILURE;
		return REPLY_ERROR;
	}
	if (strncmp(l, "+OK", 3) == 0)
		return REPLY_SUCCESS;
	if (strncmp(l, "-ERR", 4) == 0)
		return REPLY_FAILURE;
	return REPLY_ERROR;
}

static int client_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	return GSASL_NO_CALLBACK;
}

static int client_authenticate(struct client *c, Gsasl_session *sasl)
{
	const char *mech = c->opt->mech != NULL ? c->opt->mech :
						  "SCRAM-SHA-256-PLUS";
	struct buf cmd = BUF_INIT;
	const char *b64;
	char *out = NULL;
	int rc = GSASL_NEEDS_MORE;
	bool sasl_done = false;

	if (c->opt->protocol == AUTH_CLIENT_IMAP)
		buf_printf(&cmd, "a1 AUTHENTICATE %s", mech);
	else
		buf_printf(&cmd, "AUTH %s", mech);
	int w = client_write_line(c, buf_cstr(&cmd));
	buf_free(&cmd);
	if (w < 0)
		return -1;
	for (;;) {
		enum reply_kind kind = client_auth_reply(c, &b64);
		switch (kind) {
		case REPLY_CHALLENGE:
			if (sasl_done) {
				c->error = "challenge after the exchange ended";
				return -1;
			}
			rc = gsasl_step64(sasl, b64, &out);
			if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
				/* E.g. a bad server signature: stop. */
				c->error = gsasl_strerror(rc);
				client_write_line(c, "*");
				return -1;
			}
			sasl_done = rc == GSASL_OK;
			w = client_write_line(c, out);
			gsasl_free(out);
			out = NULL;
			if (w < 0)
				return -1;
			break;
		case REPLY_SUCCESS:
			/* A SCRAM server must have proved it knows the keys
			 * (RFC 5802 section 3) before we believe it. */
			if (!sasl_done) {
				c->error = "server claimed success without "
					   "completing the exchange";
				return -1;
			}
			return 1;
		case REPLY_FAILURE:
			return 0;
		case REPLY_ERROR:
			if (c->error == NULL)
				c->error = "unexpected server reply";
			return -1;
		}
	}
}

int auth_client_run(const struct auth_client_options *opt, char **reply_r,
		    const char **error_r)
{
	struct client c = { .opt = opt, .fd = -1 };
	Gsasl *ctx = NULL;
	Gsasl_session *sasl = NULL;
	const char *mech = opt->mech != NULL ? opt->mech : "SCRAM-SHA-256-PLUS";
	int ret = -1;

	*reply_r = NULL;
	if (gsasl_init(&ctx) != GSASL_OK) {
		*error_r = "gsasl_init failed";
		return -1;
	}
	gsasl_callback_set(ctx, client_cb);
	if (gsasl_client_start(ctx, mech, &sasl) != GSASL_OK) {
		c.error = "mechanism not supported by GNU SASL";
		goto out;
	}
	gsasl_property_set(sasl, GSASL_AUTHID, opt->user);
	gsasl_property_set(sasl, GSASL_PASSWORD, opt->password);
	if (opt->authzid != NULL)
		gsasl_property_set(sasl, GSASL_AUTHZID, opt->authzid);

	if (client_connect(&c) < 0)
		goto out;
	if (!opt->starttls && client_start_tls(&c) < 0)
		goto out;
	if (client_prepare(&c) < 0)
		goto out;
	if (strstr(mech, "-PLUS") != NULL) {
		uint8_t cb[CB_LEN];
		char *cb64 = NULL;
		if (SSL_export_keying_material(c.ssl, cb, sizeof(cb), CB_LABEL,
					       strlen(CB_LABEL), NULL, 0,
					       0) != 1) {
			c.error = "cannot export tls-exporter channel binding";
			goto out;
		}
		if (opt->corrupt_cb)
			cb[0] ^= 0xff;
		gsasl_base64_to((const char *)cb, sizeof(cb), &cb64, NULL);
		gsasl_property_set(sasl, GSASL_CB_TLS_EXPORTER, cb64);
		gsasl_free(cb64);
	}
	ret = client_authenticate(&c, sasl);
	if (ret >= 0)
		*reply_r = i_strdup(buf_cstr(&c.line));
out:
	if (ret < 0)
		*error_r = c.error != NULL ? c.error : "error";
	if (c.ssl != NULL) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	SSL_CTX_free(c.ssl_ctx);
	if (c.fd >= 0)
		close(c.fd);
	buf_free(&c.in);
	buf_free(&c.line);
	if (sasl != NULL)
		gsasl_finish(sasl);
	gsasl_done(ctx);
	return ret;
}

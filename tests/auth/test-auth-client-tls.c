/* SPDX-License-Identifier: MIT */
#include "../unit/unit.h"
#include "auth-cache.h"
#include "auth-client.h"
#include "auth-password.h"
#include "auth-sasl.h"
#include "auth-scram.h"
#include "auth-throttle.h"
#include "buf.h"
#include "log.h"
#include "workpool.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* End to end over real TLS on loopback: the test client's tls-exporter
 * value (SSL_export_keying_material on its side) must match what a server
 * computes on its side and hands to lib-auth, which is exactly what the
 * protocol daemons will do with conn_tls_exporter(). The server here is a
 * minimal IMAP AUTHENTICATE loop driving an auth_session. */

#define CB_LABEL "EXPORTER-Channel-Binding"

/* ---- The server's "event loop": completions queued for its thread ---- */

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn[8])(void *);
	void *ctx[8];
	unsigned int count;
};

static void queue_post(void *owner, void (*fn)(void *), void *ctx)
{
	struct queue *q = owner;
	pthread_mutex_lock(&q->lock);
	i_assert(q->count < N_ELEMENTS(q->fn));
	q->fn[q->count] = fn;
	q->ctx[q->count] = ctx;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static void queue_run(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == 0)
		pthread_cond_wait(&q->cond, &q->lock);
	void (*fn)(void *) = q->fn[0];
	void *ctx = q->ctx[0];
	q->count--;
	memmove(q->fn, q->fn + 1, q->count * sizeof(q->fn[0]));
	memmove(q->ctx, q->ctx + 1, q->count * sizeof(q->ctx[0]));
	pthread_mutex_unlock(&q->lock);
	fn(ctx);
}

/* ---- Accounts ---- */

static char *carol_hash, *carol_scram;

static enum auth_lookup_result
lookup(void *context, const char *username, struct pool *pool,
       struct auth_credentials *creds_r, const char **error_r)
{
	if (strcmp(username, "carol") != 0)
		return AUTH_LOOKUP_NOT_FOUND;
	creds_r->account_id = 7;
	creds_r->password_hash = carol_hash;
	creds_r->scram = carol_scram;
	return AUTH_LOOKUP_FOUND;
}

/* ---- The server ---- */

struct server {
	int listen_fd;
	char port[16];
	bool starttls;
	SSL_CTX *ssl_ctx;
	struct auth_server *auth;
	struct workpool *workpool;
	pthread_t thread;
	/* one connection */
	SSL *ssl;
	int fd;
	struct buf in;
	struct queue queue;
	bool have_result;
	struct auth_result result;
	char *challenge;
	char *username;
};

static SSL_CTX *server_ssl_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int server_read_line(struct server *s, char **line_r)
{
	for (;;) {
		uint8_t *nl = s->in.len == 0 ? NULL :
			memchr(s->in.data, '\n', s->in.len);
		if (nl != NULL) {
			size_t len = (size_t)(nl - s->in.data);
			*line_r = i_strndup((const char *)s->in.data,
					    len > 0 && nl[-1] == '\r' ? len - 1 :
									len);
			buf_consume(&s->in, len + 1);
			return 0;
		}
		uint8_t tmp[2048];
		int n = s->ssl != NULL ? SSL_read(s->ssl, tmp, sizeof(tmp)) :
					 (int)read(s->fd, tmp, sizeof(tmp));
		if (n <= 0 || s->in.len > 65536)
			return -1;
		buf_append(&s->in, tmp, (size_t)n);
	}
}

static void server_write(struct server *s, const char *line)
{
	struct buf out = BUF_INIT;
	buf_printf(&out, "%s\r\n", line);
	if (s->ssl != NULL)
		SSL_write(s->ssl, out.data, (int)out.len);
	else if (write(s->fd, out.data, out.len) < 0)
		i_unreached();
	buf_free(&out);
}

static void on_result(struct auth_session *session,
		      const struct auth_result *result, void *context)
{
	struct server *s = context;
	s->have_result = true;
	s->result = *result;
	i_free(s->challenge);
	i_free(s->username);
	s->challenge = i_strdup(result->challenge);
	s->username = i_strdup(result->username);
}

static int server_tls(struct server *s)
{
	s->ssl = SSL_new(s->ssl_ctx);
	SSL_set_fd(s->ssl, s->fd);
	return SSL_accept(s->ssl) == 1 ? 0 : -1;
}

static void server_conversation(struct server *s)
{
	char *line = NULL;
	struct timeval tv = { 10, 0 };

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!s->starttls && server_tls(s) < 0)
		return;
	server_write(s, "* OK test server ready");
	if (s->starttls) {
		if (server_read_line(s, &line) < 0)
			return;
		assert_string_equal(line, "s1 STARTTLS");
		i_free(line);
		server_write(s, "s1 OK begin TLS");
		if (server_tls(s) < 0)
			return;
	}
	if (server_read_line(s, &line) < 0)
		return;
	assert_true(strncmp(line, "a1 AUTHENTICATE ", 16) == 0);

	/* What the protocol daemons do: take the exporter from the TLS
	 * connection and give it to the session. */
	uint8_t cb[32];
	assert_int_equal(SSL_export_keying_material(s->ssl, cb, sizeof(cb),
						    CB_LABEL, strlen(CB_LABEL),
						    NULL, 0, 0), 1);
	struct completion_target target = { queue_post, &s->queue };
	struct auth_session_params params = {
		.mechanism = line + 16,
		.secure = true,
		.cb_data = cb,
		.cb_len = sizeof(cb),
		.remote_ip = "127.0.0.1",
		.service = "imap",
		.target = &target,
		.callback = on_result,
		.context = s,
	};
	struct auth_session *session = NULL;
	const char *error = NULL;
	if (auth_session_create(s->auth, &params, &session, &error) <= 0) {
		server_write(s, "a1 NO unsupported");
		i_free(line);
		return;
	}
	i_free(line);

	struct auth_result result;
	enum auth_status st = auth_session_start(session, NULL, &result);
	for (;;) {
		if (st == AUTH_STATUS_PENDING) {
			s->have_result = false;
			while (!s->have_result)
				queue_run(&s->queue);
			result = s->result;
			result.challenge = s->challenge;
			result.username = s->username;
			st = result.status;
		}
		if (st != AUTH_STATUS_CONTINUE)
			break;
		struct buf out = BUF_INIT;
		buf_printf(&out, "+ %s", result.challenge);
		server_write(s, buf_cstr(&out));
		buf_free(&out);
		if (server_read_line(s, &line) < 0) {
			auth_session_destroy(&session);
			return;
		}
		st = auth_session_continue(session, line, &result);
		i_free(line);
	}
	if (st == AUTH_STATUS_SUCCESS) {
		if (result.username != s->username) {
			i_free(s->username);
			s->username = i_strdup(result.username);
		}
		server_write(s, "a1 OK authenticated");
	}
	else if (st == AUTH_STATUS_FAILURE || st == AUTH_STATUS_TEMPFAIL)
		server_write(s, "a1 NO authentication failed");
	else
		server_write(s, "a1 BAD authentication aborted");
	auth_session_destroy(&session);
}

static void *server_thread(void *arg)
{
	struct server *s = arg;

	s->fd = accept(s->listen_fd, NULL, NULL);
	if (s->fd >= 0) {
		server_conversation(s);
		if (s->ssl != NULL) {
			SSL_shutdown(s->ssl);
			SSL_free(s->ssl);
			s->ssl = NULL;
		}
		close(s->fd);
	}
	return NULL;
}

static struct server srv;

static void server_start(bool starttls)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	buf_free(&srv.in);
	srv.starttls = starttls;
	srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0; /* any free port */
	assert_int_equal(bind(srv.listen_fd, (struct sockaddr *)&sin,
			      sizeof(sin)), 0);
	assert_int_equal(listen(srv.listen_fd, 1), 0);
	assert_int_equal(getsockname(srv.listen_fd, (struct sockaddr *)&sin,
				     &len), 0);
	snprintf(srv.port, sizeof(srv.port), "%u", ntohs(sin.sin_port));
	assert_int_equal(pthread_create(&srv.thread, NULL, server_thread,
					&srv), 0);
}

static void server_stop(void)
{
	pthread_join(srv.thread, NULL);
	close(srv.listen_fd);
}

static int run_client(const char *mech, const char *password, bool starttls,
		      bool corrupt_cb)
{
	i_free(srv.username);
	struct auth_client_options opt = {
		.host = "127.0.0.1",
		.port = srv.port,
		.protocol = AUTH_CLIENT_IMAP,
		.starttls = starttls,
		.mech = mech,
		.user = "carol",
		.password = password,
		.corrupt_cb = corrupt_cb,
		.timeout_secs = 10,
	};
	char *reply = NULL;
	const char *error = NULL;

	server_start(starttls);
	int ret = auth_client_run(&opt, &reply, &error);
	server_stop();
	if (ret < 0)
		print_message("client error: %s\n", error);
	free(reply);
	return ret;
}

static int group_setup(void **state)
{
	const char *error = NULL;

	if (getenv("AUTH_TEST_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY));
	if (auth_password_hash("pass word", "$5$", 0, &carol_hash, &error) < 0)
		return -1;
	carol_scram = auth_scram_from_password("pass word", 0, &error);
	srv.ssl_ctx = server_ssl_ctx();
	srv.workpool = workpool_create("auth", 1);
	pthread_mutex_init(&srv.queue.lock, NULL);
	pthread_cond_init(&srv.queue.cond, NULL);
	struct auth_server_settings set = {
		.lookup = { lookup, NULL },
		.workpool = srv.workpool,
	};
	srv.auth = auth_server_create(&set, &error);
	return srv.auth == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	workpool_destroy(&srv.workpool);
	auth_server_destroy(&srv.auth);
	SSL_CTX_free(srv.ssl_ctx);
	buf_free(&srv.in);
	i_free(srv.challenge);
	i_free(srv.username);
	i_free(carol_hash);
	i_free(carol_scram);
	return 0;
}

static void test_scram_plus_accepted(void **state)
{
	assert_int_equal(run_client(NULL, "pass word", false, false), 1);
	assert_string_equal(srv.username, "carol");
	/* And after STARTTLS. */
	assert_int_equal(run_client(NULL, "pass word", true, false), 1);
}

static void test_scram_plus_other_channel_refused(void **state)
{
	assert_int_equal(run_client(NULL, "pass word", false, true), 0);
}

static void test_wrong_password_refused(void **state)
{
	assert_int_equal(run_client(NULL, "password", false, false), 0);
}

static void test_other_mechanisms(void **state)
{
	assert_int_equal(run_client("SCRAM-SHA-256", "pass word", true, false),
			 1);
	assert_int_equal(run_client("PLAIN", "pass word", false, false), 1);
	assert_int_equal(run_client("LOGIN", "pass word", true, false), 1);
	assert_int_equal(run_client("PLAIN", "nope", false, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_plus_accepted),
		cmocka_unit_test(test_scram_plus_other_channel_refused),
		cmocka_unit_test(test_wrong_password_refused),
		cmocka_unit_test(test_other_mechanisms),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "net-test-util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

void test_client_connect(struct test_client *c, unsigned port,
			 const char *src_ip)
{
	struct sockaddr_in sin;
	struct timeval tv = {10, 0};

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src_ip != NULL) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src_ip, &sin.sin_addr), 1);
		assert_int_equal(bind(c->fd, (void *)&sin, sizeof(sin)), 0);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (void *)&sin, sizeof(sin)), 0);
}

void test_client_send_n(struct test_client *c, const void *data, size_t len)
{
	if (c->ssl != NULL) {
		assert_int_equal(SSL_write(c->ssl, data, (int)len), (int)len);
		return;
	}
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t ret = send(c->fd, p, len, MSG_NOSIGNAL);
		assert_true(ret > 0);
		p += ret;
		len -= (size_t)ret;
	}
}

void test_client_send(struct test_client *c, const char *data)
{
	test_client_send_n(c, data, strlen(data));
}

static ssize_t test_client_fill(struct test_client *c)
{
	size_t room = sizeof(c->pending) - c->pending_len;
	ssize_t ret;

	assert_true(room > 0);
	if (c->ssl != NULL) {
		ret = SSL_read(c->ssl, c->pending + c->pending_len, (int)room);
		if (ret <= 0) {
			int err = SSL_get_error(c->ssl, (int)ret);
			assert_true(err == SSL_ERROR_ZERO_RETURN ||
				    err == SSL_ERROR_SYSCALL ||
				    err == SSL_ERROR_SSL);
			return 0;
		}
	} else {
		ret = recv(c->fd, c->pending + c->pending_len, room, 0);
		if (ret < 0 && errno == ECONNRESET)
			return 0;
		if (ret < 0)
			fail_msg("recv: %s", strerror(errno));
	}
	c->pending_len += (size_t)ret;
	return ret;
}

int test_client_read_line(struct test_client *c, char *buf, size_t size)
{
	for (;;) {
		char *lf = memchr(c->pending, '\n', c->pending_len);
		if (lf != NULL) {
			size_t total = (size_t)(lf - c->pending) + 1;
			size_t len = total - 1;
			if (len > 0 && c->pending[len - 1] == '\r')
				len--;
			assert_true(len < size);
			memcpy(buf, c->pending, len);
			buf[len] = '\0';
			memmove(c->pending, c->pending + total,
				c->pending_len - total);
			c->pending_len -= total;
			return (int)len;
		}
		if (test_client_fill(c) == 0)
			return -1;
	}
}

int test_client_read_n(struct test_client *c, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len > 0) {
		if (c->pending_len == 0 && test_client_fill(c) == 0)
			return -1;
		size_t n = MIN(len, c->pending_len);
		memcpy(out, c->pending, n);
		memmove(c->pending, c->pending + n, c->pending_len - n);
		c->pending_len -= n;
		out += n;
		len -= n;
	}
	return 0;
}

void test_client_expect(struct test_client *c, const char *expected)
{
	char line[8192];

	if (test_client_read_line(c, line, sizeof(line)) < 0)
		fail_msg("EOF while expecting '%s'", expected);
	if (strcmp(line, expected) != 0)
		fail_msg("got '%s', expected '%s'", line, expected);
}

void test_client_expect_eof(struct test_client *c)
{
	char line[8192];

	if (test_client_read_line(c, line, sizeof(line)) >= 0)
		fail_msg("got '%s', expected EOF", line);
	assert_int_equal(c->pending_len, 0);
}

int test_client_tls(struct test_client *c, int min_version, int max_version)
{
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(c->ssl_ctx);
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
	if (min_version != 0)
		SSL_CTX_set_min_proto_version(c->ssl_ctx, min_version);
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(c->ssl_ctx, max_version);
	/* Lets a test offer TLS 1.1 to prove the server refuses it. */
	SSL_CTX_set_security_level(c->ssl_ctx, 0);
	c->ssl = SSL_new(c->ssl_ctx);
	SSL_set_fd(c->ssl, c->fd);
	int ret = SSL_connect(c->ssl);
	if (ret != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		return 0;
	}
	return 1;
}

void test_client_close(struct test_client *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ssl_ctx != NULL)
		SSL_CTX_free(c->ssl_ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ssl = NULL;
	c->ssl_ctx = NULL;
}

/* --- echo service --- */

#include "buf.h"
#include <time.h>

struct echo_stats echo_stats = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};
static struct workpool *echo_pool;

struct echo_session {
	struct buf raw;
	unsigned long stream_left;
};

/* Streams a big reply without queueing it all: writes until the output is
 * over the mark, continues from on_write_ready. */
static void echo_stream(struct conn *conn)
{
	struct echo_session *sess = conn_get_context(conn);
	char chunk[1000];

	memset(chunk, 's', sizeof(chunk));
	while (sess->stream_left > 0 && conn_output_pending(conn) < 32 * 1024) {
		size_t n = MIN(sess->stream_left, sizeof(chunk));
		conn_write(conn, chunk, n);
		sess->stream_left -= n;
		if (sess->stream_left == 0)
			conn_write_str(conn, "\r\n");
	}
	pthread_mutex_lock(&echo_stats.lock);
	if (conn_output_pending(conn) > echo_stats.max_pending)
		echo_stats.max_pending = conn_output_pending(conn);
	pthread_mutex_unlock(&echo_stats.lock);
}

static void echo_write_ready(struct conn *conn)
{
	echo_stream(conn);
}

void echo_stats_bump(unsigned *counter)
{
	pthread_mutex_lock(&echo_stats.lock);
	(*counter)++;
	pthread_cond_broadcast(&echo_stats.cond);
	pthread_mutex_unlock(&echo_stats.lock);
}

void echo_stats_wait(const unsigned *counter, unsigned n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&echo_stats.lock);
	while (*counter < n) {
		if (pthread_cond_timedwait(&echo_stats.cond, &echo_stats.lock,
					   &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&echo_stats.lock);
			fail_msg("timed out waiting for counter %u", n);
		}
	}
	pthread_mutex_unlock(&echo_stats.lock);
}

void echo_gate_open(void)
{
	pthread_mutex_lock(&echo_stats.lock);
	echo_stats.gate_open = true;
	pthread_cond_broadcast(&echo_stats.cond);
	pthread_mutex_unlock(&echo_stats.lock);
}

static void echo_connect(struct conn *conn)
{
	struct echo_session *sess = i_new(struct echo_session, 1);
	conn_set_context(conn, sess);
	conn_write_str(conn, "hello\r\n");
	echo_stats_bump(&echo_stats.connects);
}

static void echo_job_none(void *ctx) { }

static void echo_job_gate(void *ctx)
{
	pthread_mutex_lock(&echo_stats.lock);
	while (!echo_stats.gate_open)
		pthread_cond_wait(&echo_stats.cond, &echo_stats.lock);
	pthread_mutex_unlock(&echo_stats.lock);
}

static void echo_job_done(void *ctx)
{
	struct conn *conn = ctx;

	/* The completion runs on the connection's own loop. */
	i_assert(net_loop_current() == conn_loop(conn));
	if (!conn_is_closed(conn)) {
		conn_write_str(conn, "resumed\r\n");
		conn_resume(conn);
	}
	conn_unref(&conn);
}

static bool line_is(const uint8_t *line, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(line, s, len) == 0;
}

static bool line_arg(const uint8_t *line, size_t len, const char *prefix,
		     unsigned long *arg_r)
{
	size_t plen = strlen(prefix);
	char tmp[32];

	if (len <= plen || len - plen >= sizeof(tmp) ||
	    memcmp(line, prefix, plen) != 0)
		return false;
	memcpy(tmp, line + plen, len - plen);
	tmp[len - plen] = '\0';
	*arg_r = strtoul(tmp, NULL, 10);
	return true;
}

static void echo_big(struct conn *conn, unsigned long n)
{
	char chunk[4096];

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	while (n > 0) {
		size_t k = MIN(n, sizeof(chunk));
		conn_write(conn, chunk, k);
		n -= k;
	}
	conn_write_str(conn, "\r\n");
	pthread_mutex_lock(&echo_stats.lock);
	if (conn_output_pending(conn) > echo_stats.max_pending)
		echo_stats.max_pending = conn_output_pending(conn);
	pthread_mutex_unlock(&echo_stats.lock);
}

static void echo_line(struct conn *conn, const uint8_t *line, size_t len,
		      bool crlf)
{
	unsigned long arg;

	if (line_is(line, len, "INJECT")) {
		pthread_mutex_lock(&echo_stats.lock);
		echo_stats.saw_inject = true;
		pthread_mutex_unlock(&echo_stats.lock);
	}
	if (line_is(line, len, "QUIT")) {
		conn_write_str(conn, "bye\r\n");
		conn_close_after_flush(conn, "quit");
	} else if (line_is(line, len, "PAUSE") || line_is(line, len, "SLOW")) {
		struct completion_target target =
			net_loop_completion_target(conn_loop(conn));
		conn_pause(conn);
		conn_write_str(conn, line[0] == 'P' ? "paused\r\n" : "slow\r\n");
		conn_ref(conn);
		workpool_submit(echo_pool,
				line[0] == 'P' ? echo_job_none : echo_job_gate,
				echo_job_done, conn, &target);
	} else if (line_arg(line, len, "BIGQ ", &arg)) {
		echo_big(conn, arg);
		conn_close_after_flush(conn, "bigq");
	} else if (line_arg(line, len, "BIG ", &arg)) {
		echo_big(conn, arg);
	} else if (line_arg(line, len, "RAW ", &arg)) {
		conn_read_raw(conn, arg);
	} else if (line_arg(line, len, "TIMEOUT ", &arg)) {
		conn_set_idle_timeout(conn, (unsigned)arg);
		conn_write_str(conn, "ok\r\n");
	} else if (line_is(line, len, "STARTTLS")) {
		if (!conn_can_starttls(conn)) {
			conn_write_str(conn, "no tls\r\n");
			return;
		}
		conn_write_str(conn, "go\r\n");
		i_assert(conn_starttls(conn) == 0);
	} else if (line_is(line, len, "LOOP")) {
		conn_printf(conn, "loop %u\r\n", net_loop_index(conn_loop(conn)));
	} else if (line_arg(line, len, "STREAM ", &arg)) {
		struct echo_session *sess = conn_get_context(conn);
		sess->stream_left = arg;
		echo_stream(conn);
	} else if (line_is(line, len, "EXPORT")) {
		uint8_t key[32];
		if (conn_tls_exporter(conn, CONN_TLS_EXPORTER_CHANNEL_BINDING,
				      key, sizeof(key)) < 0) {
			conn_write_str(conn, "no exporter\r\n");
			return;
		}
		for (size_t i = 0; i < sizeof(key); i++)
			conn_printf(conn, "%02x", key[i]);
		conn_write_str(conn, "\r\n");
	} else if (line_is(line, len, "TLSINFO")) {
		conn_printf(conn, "%s %s %s\r\n",
			    conn_is_tls(conn) ? "tls" : "plain",
			    conn_tls_version(conn) ? conn_tls_version(conn) : "-",
			    conn_tls_cipher(conn) ? conn_tls_cipher(conn) : "-");
	} else {
		conn_printf(conn, "L%zu:%c:", len, crlf ? 'C' : 'N');
		conn_write(conn, line, len);
		conn_write_str(conn, "\r\n");
	}
}

static void echo_raw(struct conn *conn, const uint8_t *data, size_t len)
{
	struct echo_session *sess = conn_get_context(conn);

	buf_append(&sess->raw, data, len);
	if (conn_raw_remaining(conn) == 0) {
		conn_printf(conn, "RAW:%s\r\n", buf_cstr(&sess->raw));
		buf_reset(&sess->raw);
	}
}

static void echo_too_long(struct conn *conn)
{
	conn_write_str(conn, "TOOLONG\r\n");
}

static void echo_timeout(struct conn *conn)
{
	conn_write_str(conn, "TIMEOUT\r\n");
}

static void echo_tls_done(struct conn *conn, bool ok)
{
	if (ok)
		conn_printf(conn, "TLS %s\r\n", conn_tls_version(conn));
}

static void echo_shutdown(struct conn *conn)
{
	conn_write_str(conn, "shutdown\r\n");
	echo_stats_bump(&echo_stats.shutdowns);
}

static void echo_close(struct conn *conn)
{
	struct echo_session *sess = conn_get_context(conn);

	buf_free(&sess->raw);
	free(sess);
	echo_stats_bump(&echo_stats.closes);
}

const struct conn_handlers echo_handlers = {
	.on_connect = echo_connect,
	.on_line = echo_line,
	.on_line_too_long = echo_too_long,
	.on_raw = echo_raw,
	.on_tls_done = echo_tls_done,
	.on_timeout = echo_timeout,
	.on_shutdown = echo_shutdown,
	.on_write_ready = echo_write_ready,
	.on_close = echo_close,
};

void echo_server_start(struct echo_server *s, struct net_service_settings *set,
		       unsigned loops)
{
	const char *error;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&echo_stats.lock);
	echo_stats.connects = echo_stats.closes = echo_stats.shutdowns = 0;
	echo_stats.saw_inject = false;
	echo_stats.max_pending = 0;
	echo_stats.gate_open = false;
	pthread_mutex_unlock(&echo_stats.lock);

	set->handlers = &echo_handlers;
	if (set->name == NULL)
		set->name = "echo";
	echo_pool = workpool_create("echo", 1);
	s->loops = net_loops_create(loops);
	s->service = net_service_create(set, &error);
	if (s->service == NULL)
		fail_msg("net_service_create: %s", error);
	s->listener = net_listener_create_str(s->service, s->loops,
					      "127.0.0.1:0", &error);
	if (s->listener == NULL)
		fail_msg("net_listener_create: %s", error);
	s->port = net_listener_port(s->listener);
	assert_true(s->port > 0);
	net_loops_start(s->loops);
}

void echo_server_stop(struct echo_server *s)
{
	net_listener_destroy(&s->listener);
	assert_null(s->listener);
	echo_gate_open();
	workpool_destroy(&echo_pool);
	net_loops_stop(s->loops, 2000);
	net_loops_destroy(&s->loops);
	assert_int_equal(net_service_connection_count(s->service), 0);
	net_service_destroy(&s->service);
	pthread_mutex_lock(&echo_stats.lock);
	assert_int_equal(echo_stats.connects, echo_stats.closes);
	pthread_mutex_unlock(&echo_stats.lock);
}

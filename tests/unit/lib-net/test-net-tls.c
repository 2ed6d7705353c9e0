/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "net-test-util.h"

#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char tmpdir[64];
static char tmpdir2[64];

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/posthorn-tls-XXXXXX");
	snprintf(tmpdir2, sizeof(tmpdir2), "/tmp/posthorn-tls-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || mkdtemp(tmpdir2) == NULL)
		return -1;
	return 0;
}

static void rm_dir(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, TLS_SELFSIGNED_CERT_NAME);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, TLS_SELFSIGNED_KEY_NAME);
	unlink(path);
	rmdir(dir);
}

static int group_teardown(void **state)
{
	rm_dir(tmpdir);
	rm_dir(tmpdir2);
	return 0;
}

static struct tls_ctx *test_tls_ctx(const char *dir, const char *host)
{
	const char *error;
	struct tls_ctx *ctx = tls_ctx_create_selfsigned(dir, host, &error);
	if (ctx == NULL)
		fail_msg("tls: %s", error);
	return ctx;
}

static void test_selfsigned(void **state)
{
	char cert[256], key[256];
	const char *error = NULL;
	struct stat st;

	snprintf(cert, sizeof(cert), "%s/%s", tmpdir, TLS_SELFSIGNED_CERT_NAME);
	snprintf(key, sizeof(key), "%s/%s", tmpdir, TLS_SELFSIGNED_KEY_NAME);
	assert_int_equal(tls_selfsigned_ensure(tmpdir, "mail.example.org",
					       &error), 1);
	assert_int_equal(stat(cert, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Second start: left alone. */
	assert_int_equal(tls_selfsigned_ensure(tmpdir, "other.example",
					       &error), 0);

	FILE *f = fopen(cert, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(X509_check_host(x, "mail.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(x, "other.example", 0, 0, NULL), 0);
	EVP_PKEY *pub = X509_get0_pubkey(x);
	assert_true(EVP_PKEY_is_a(pub, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(pub), 256);
	X509_free(x);

	struct tls_ctx *ctx = tls_ctx_create(cert, key, &error);
	assert_non_null(ctx);
	assert_non_null(tls_ctx_ssl_ctx(ctx));
	tls_ctx_ref(ctx);
	struct tls_ctx *ctx2 = ctx;
	tls_ctx_unref(&ctx2);
	assert_null(ctx2);
	tls_ctx_unref(&ctx);

	/* Bad inputs give an error text, never a crash. */
	error = NULL;
	assert_null(tls_ctx_create("/nonexistent/cert.pem", key, &error));
	assert_non_null(error);
	assert_non_null(strstr(error, "/nonexistent/cert.pem"));
	error = NULL;
	assert_null(tls_ctx_create(cert, cert, &error));
	assert_non_null(error);
	assert_int_equal(tls_selfsigned_ensure("/nonexistent/dir", "x",
					       &error), -1);
}

static void expect_stream(struct test_client *c);

static void expect_exporter_matches(struct test_client *c)
{
	uint8_t key[32];
	char hex[65], line[200];

	test_client_send(c, "EXPORT\r\n");
	assert_true(test_client_read_line(c, line, sizeof(line)) == 64);
	assert_int_equal(SSL_export_keying_material(
				 c->ssl, key, sizeof(key),
				 CONN_TLS_EXPORTER_CHANNEL_BINDING,
				 strlen(CONN_TLS_EXPORTER_CHANNEL_BINDING),
				 (const unsigned char *)"", 0, 1),
			 1);
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + i * 2, 3, "%02x", key[i]);
	assert_string_equal(line, hex);
}

static void test_implicit_tls(void **state)
{
	struct net_service_settings set = {
		.implicit_tls = true,
		.output_high_watermark = 32 * 1024,
		.output_low_watermark = 8 * 1024,
	};
	struct echo_server s;
	struct test_client c;
	char line[200];

	set.tls = test_tls_ctx(tmpdir, "mail.example.org");
	echo_server_start(&s, &set, 2);
	tls_ctx_unref(&set.tls);

	test_client_connect(&c, s.port, NULL);
	assert_int_equal(test_client_tls(&c, 0, 0), 1);
	test_client_expect(&c, "hello");
	test_client_send(&c, "TLSINFO\r\n");
	assert_true(test_client_read_line(&c, line, sizeof(line)) > 0);
	assert_memory_equal(line, "tls TLSv1.3 TLS_", 16);
	expect_exporter_matches(&c);
	expect_stream(&c);
	test_client_send(&c, "QUIT\r\n");
	test_client_expect(&c, "bye");
	test_client_expect_eof(&c);
	test_client_close(&c);

	/* TLS 1.2 still works. */
	test_client_connect(&c, s.port, NULL);
	assert_int_equal(test_client_tls(&c, 0, TLS1_2_VERSION), 1);
	test_client_expect(&c, "hello");
	test_client_send(&c, "TLSINFO\r\n");
	assert_true(test_client_read_line(&c, line, sizeof(line)) > 0);
	assert_memory_equal(line, "tls TLSv1.2 ", 12);
	expect_exporter_matches(&c);
	test_client_close(&c);

	/* TLS 1.1 is refused; the connection never reaches the protocol. */
	test_client_connect(&c, s.port, NULL);
	assert_int_equal(test_client_tls(&c, TLS1_1_VERSION, TLS1_1_VERSION),
			 0);
	test_client_close(&c);

	/* Plaintext on the TLS port is a failed handshake. */
	test_client_connect(&c, s.port, NULL);
	test_client_send(&c, "HELLO THERE\r\n");
	test_client_expect_eof(&c);
	test_client_close(&c);

	echo_stats_wait(&echo_stats.closes, 2);
	echo_server_stop(&s);
	assert_int_equal(echo_stats.connects, 2);
}

static void expect_stream(struct test_client *c)
{
	enum { SIZE = 300000 };
	char *data = i_malloc(SIZE + 2);

	/* Streaming through TLS exercises backpressure on the encrypted
	 * side (for STARTTLS, the socket buffer under the TLS filter). */
	test_client_send(c, "STREAM 300000\r\n");
	assert_int_equal(test_client_read_n(c, data, SIZE + 2), 0);
	for (size_t i = 0; i < SIZE; i++)
		if (data[i] != 's')
			fail_msg("byte %zu", i);
	assert_memory_equal(data + SIZE, "\r\n", 2);
	free(data);
}

static void test_starttls_discards_injection(void **state)
{
	struct net_service_settings set = {
		.output_high_watermark = 32 * 1024,
		.output_low_watermark = 8 * 1024,
	};
	struct echo_server s;
	struct test_client c;
	char line[200];

	set.tls = test_tls_ctx(tmpdir, "mail.example.org");
	echo_server_start(&s, &set, 1);
	tls_ctx_unref(&set.tls);

	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "TLSINFO\r\n");
	test_client_expect(&c, "plain - -");
	/* RFC 3207 section 4.2: INJECT was sent in plaintext after STARTTLS
	 * in the same packet; it must never be taken as a command. */
	test_client_send(&c, "STARTTLS\r\nINJECT\r\n");
	test_client_expect(&c, "go");
	assert_int_equal(test_client_tls(&c, 0, 0), 1);
	test_client_expect(&c, "TLS TLSv1.3");
	test_client_send(&c, "TLSINFO\r\n");
	assert_true(test_client_read_line(&c, line, sizeof(line)) > 0);
	assert_memory_equal(line, "tls TLSv1.3 TLS_", 16);
	test_client_send(&c, "ECHO\r\n");
	test_client_expect(&c, "L4:C:ECHO");
	expect_exporter_matches(&c);
	expect_stream(&c);
	/* No second STARTTLS. */
	test_client_send(&c, "STARTTLS\r\n");
	test_client_expect(&c, "no tls");
	test_client_send(&c, "QUIT\r\n");
	test_client_expect(&c, "bye");
	test_client_expect_eof(&c);
	test_client_close(&c);

	/* A client that sends garbage instead of a handshake is closed. */
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "STARTTLS\r\n");
	test_client_expect(&c, "go");
	test_client_send(&c, "NOT TLS AT ALL\r\n");
	test_client_expect_eof(&c);
	test_client_close(&c);

	echo_stats_wait(&echo_stats.closes, 2);
	pthread_mutex_lock(&echo_stats.lock);
	assert_false(echo_stats.saw_inject);
	pthread_mutex_unlock(&echo_stats.lock);
	echo_server_stop(&s);
}

static void test_starttls_unavailable(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "STARTTLS\r\nEXPORT\r\n");
	test_client_expect(&c, "no tls");
	test_client_expect(&c, "no exporter");
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static char *peer_cn(struct test_client *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	char cn[256];

	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				  sizeof(cn));
	X509_free(x);
	return i_strdup(cn);
}

static void test_tls_reload(void **state)
{
	struct net_service_settings set = {.implicit_tls = true};
	struct echo_server s;
	struct test_client c1, c2;

	set.tls = test_tls_ctx(tmpdir, "mail.example.org");
	echo_server_start(&s, &set, 1);
	tls_ctx_unref(&set.tls);

	test_client_connect(&c1, s.port, NULL);
	assert_int_equal(test_client_tls(&c1, 0, 0), 1);
	test_client_expect(&c1, "hello");
	char *cn = peer_cn(&c1);
	assert_string_equal(cn, "mail.example.org");
	free(cn);

	/* SIGHUP: new certificate for new connections; the old session
	 * keeps working. */
	struct tls_ctx *ctx2 = test_tls_ctx(tmpdir2, "reloaded.example.org");
	net_service_set_tls(s.service, ctx2);
	tls_ctx_unref(&ctx2);
	test_client_connect(&c2, s.port, NULL);
	assert_int_equal(test_client_tls(&c2, 0, 0), 1);
	test_client_expect(&c2, "hello");
	cn = peer_cn(&c2);
	assert_string_equal(cn, "reloaded.example.org");
	free(cn);
	test_client_send(&c1, "ECHO\r\n");
	test_client_expect(&c1, "L4:C:ECHO");
	test_client_close(&c1);
	test_client_close(&c2);
	echo_stats_wait(&echo_stats.closes, 2);
	echo_server_stop(&s);
}

static void test_handshake_timeout(void **state)
{
	struct net_service_settings set = {
		.implicit_tls = true,
		.idle_timeout_ms = 200,
	};
	struct echo_server s;
	struct test_client c;

	set.tls = test_tls_ctx(tmpdir, "mail.example.org");
	echo_server_start(&s, &set, 1);
	tls_ctx_unref(&set.tls);
	/* A client that never starts its handshake is dropped; the protocol
	 * never hears of it. */
	test_client_connect(&c, s.port, NULL);
	test_client_expect_eof(&c);
	test_client_close(&c);
	echo_server_stop(&s);
	assert_int_equal(echo_stats.connects, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selfsigned),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_starttls_discards_injection),
		cmocka_unit_test(test_starttls_unavailable),
		cmocka_unit_test(test_tls_reload),
		cmocka_unit_test(test_handshake_timeout),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

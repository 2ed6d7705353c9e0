/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "tls.h"
#include "net-private.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	atomic_uint refcount;
	SSL_CTX *ssl_ctx;
};

static __thread char tls_errbuf[512];

const char *tls_error_str(const char *what)
{
	unsigned long err;
	size_t used;

	snprintf(tls_errbuf, sizeof(tls_errbuf), "%s", what);
	while ((err = ERR_get_error()) != 0) {
		used = strlen(tls_errbuf);
		if (used + 3 >= sizeof(tls_errbuf))
			continue; /* keep draining the queue */
		tls_errbuf[used++] = ':';
		tls_errbuf[used++] = ' ';
		ERR_error_string_n(err, tls_errbuf + used,
				   sizeof(tls_errbuf) - used);
	}
	return tls_errbuf;
}

static const char *tls_errorf(const char *fmt, ...) ATTR_FORMAT(1, 2);
static const char *tls_errorf(const char *fmt, ...)
{
	char what[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(what, sizeof(what), fmt, args);
	va_end(args);
	return tls_error_str(what);
}

struct tls_ctx *tls_ctx_create(const char *cert_file, const char *key_file,
			       const char **error_r)
{
	SSL_CTX *sc;

	ERR_clear_error();
	sc = SSL_CTX_new(TLS_server_method());
	if (sc == NULL) {
		*error_r = tls_error_str("SSL_CTX_new failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1) {
		*error_r = tls_error_str("cannot require TLS 1.2");
		SSL_CTX_free(sc);
		return NULL;
	}
	/* Idle sessions keep no read/write buffers: ~13 KB instead of ~50. */
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	/* Many clients close without close_notify; OpenSSL 3 reports that
	 * as an error, which libevent 2.1 does not map to EOF even with
	 * allow_dirty_shutdown. The protocols frame their own ends (QUIT,
	 * DATA's dot), so a truncated stream is not a security problem. */
	SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION |
					SSL_OP_CIPHER_SERVER_PREFERENCE |
					SSL_OP_NO_COMPRESSION |
					SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Mail clients rarely resume; a session cache would cost memory
	 * per connection for little gain. */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(sc, 0);

	if (SSL_CTX_use_certificate_chain_file(sc, cert_file) != 1) {
		*error_r = tls_errorf("cannot load certificate %s", cert_file);
		SSL_CTX_free(sc);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(sc, key_file, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_errorf("cannot load key %s", key_file);
		SSL_CTX_free(sc);
		return NULL;
	}
	if (SSL_CTX_check_private_key(sc) != 1) {
		*error_r = tls_errorf("key %s does not match certificate %s",
				      key_file, cert_file);
		SSL_CTX_free(sc);
		return NULL;
	}
	struct tls_ctx *ctx = i_new(struct tls_ctx, 1);
	atomic_init(&ctx->refcount, 1);
	ctx->ssl_ctx = sc;
	return ctx;
}

void tls_ctx_ref(struct tls_ctx *ctx)
{
	atomic_fetch_add(&ctx->refcount, 1);
}

void tls_ctx_unref(struct tls_ctx **_ctx)
{
	struct tls_ctx *ctx = *_ctx;

	if (ctx == NULL)
		return;
	*_ctx = NULL;
	if (atomic_fetch_sub(&ctx->refcount, 1) != 1)
		return;
	/* Live SSL objects hold their own SSL_CTX reference. */
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

void *tls_ctx_ssl_ctx(struct tls_ctx *ctx)
{
	return ctx->ssl_ctx;
}

SSL *tls_ctx_new_ssl(struct tls_ctx *ctx)
{
	return SSL_new(ctx->ssl_ctx);
}

/* --- self-signed certificate --- */

static int tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int ret = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return ret;
}

static X509 *tls_make_cert(EVP_PKEY *pkey, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	char san[600];

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1)
		goto fail;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	BN_free(bn);
	bn = NULL;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600) == NULL)
		goto fail;
	if (X509_set_pubkey(x, pkey) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)hostname, -1, -1,
				       0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				       (const unsigned char *)"Posthorn self-signed",
				       -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(x, name) != 1)
		goto fail;
	if (strcmp(hostname, "localhost") == 0)
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1");
	else
		snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1",
			 hostname);
	if (tls_add_ext(x, NID_subject_alt_name, san) < 0 ||
	    tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Writes via a 0600 temp file and rename, so a crash never leaves a
 * half-written key behind. */
static int tls_write_pem(const char *path, bool is_key, EVP_PKEY *pkey,
			 X509 *x, const char **error_r)
{
	char tmp[4096];
	int fd;
	FILE *f;
	int ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		*error_r = tls_errorf("path too long: %s", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		*error_r = tls_errorf("open(%s) failed: %s", tmp,
				      strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || (f = fdopen(fd, "w")) == NULL) {
		*error_r = tls_errorf("cannot write %s: %s", tmp,
				      strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (is_key)
		ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, x);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1 || rename(tmp, path) < 0) {
		*error_r = tls_errorf("cannot write %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int tls_selfsigned_ensure(const char *dir, const char *hostname,
			  const char **error_r)
{
	char cert_path[4096], key_path[4096];
	EVP_PKEY *pkey;
	X509 *x;
	int ret = -1;

	snprintf(cert_path, sizeof(cert_path), "%s/%s", dir,
		 TLS_SELFSIGNED_CERT_NAME);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir,
		 TLS_SELFSIGNED_KEY_NAME);
	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
		return 0;
	if (hostname == NULL || *hostname == '\0' || strlen(hostname) > 253) {
		*error_r = "invalid hostname for self-signed certificate";
		return -1;
	}

	ERR_clear_error();
	pkey = EVP_EC_gen("P-256");
	if (pkey == NULL) {
		*error_r = tls_error_str("P-256 key generation failed");
		return -1;
	}
	x = tls_make_cert(pkey, hostname);
	if (x == NULL) {
		*error_r = tls_error_str("self-signed certificate failed");
		EVP_PKEY_free(pkey);
		return -1;
	}
	/* Key first: a certificate never exists without its key. */
	if (tls_write_pem(key_path, true, pkey, NULL, error_r) == 0 &&
	    tls_write_pem(cert_path, false, NULL, x, error_r) == 0)
		ret = 1;
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

struct tls_ctx *tls_ctx_create_selfsigned(const char *dir,
					  const char *hostname,
					  const char **error_r)
{
	char cert_path[4096], key_path[4096];

	if (tls_selfsigned_ensure(dir, hostname, error_r) < 0)
		return NULL;
	snprintf(cert_path, sizeof(cert_path), "%s/%s", dir,
		 TLS_SELFSIGNED_CERT_NAME);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir,
		 TLS_SELFSIGNED_KEY_NAME);
	return tls_ctx_create(cert_path, key_path, error_r);
}

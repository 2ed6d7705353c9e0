/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stdbool.h>

/* Server TLS contexts (OpenSSL 3): TLS 1.2 and 1.3 only, one context shared
 * by all connections of a listener role. A context is reference-counted so
 * that a certificate reload (SIGHUP) can swap in a new one for new
 * connections while existing connections keep theirs
 * (net_service_set_tls()).
 *
 * Error texts returned through error_r live in a thread-local buffer that
 * stays valid until the next tls_*() call on the same thread. */
struct tls_ctx;

/* Loads a PEM certificate chain and private key (they must match). The
 * context has SSL_MODE_RELEASE_BUFFERS set to keep idle sessions small.
 * Returns a context with one reference, or NULL and *error_r. */
struct tls_ctx *tls_ctx_create(const char *cert_file, const char *key_file,
			       const char **error_r);

/* File names inside the directory given to tls_selfsigned_ensure(). */
#define TLS_SELFSIGNED_CERT_NAME "selfsigned-cert.pem"
#define TLS_SELFSIGNED_KEY_NAME "selfsigned-key.pem"

/* Makes sure dir holds a self-signed certificate and key: if either file
 * is missing, generates a new P-256 key and a certificate for hostname
 * (SAN: DNS:hostname, DNS:localhost, IP:127.0.0.1; valid ten years),
 * written atomically (temp file + rename) with mode 0600. Existing files
 * are left alone. dir must exist. Returns 1 when generated, 0 when already
 * present, -1 on error with *error_r. */
int tls_selfsigned_ensure(const char *dir, const char *hostname,
			  const char **error_r);
/* tls_selfsigned_ensure() then tls_ctx_create() on the two files. */
struct tls_ctx *tls_ctx_create_selfsigned(const char *dir,
					  const char *hostname,
					  const char **error_r);

/* Thread-safe reference counting; unref NULLs *ctx and frees on the last
 * reference. */
void tls_ctx_ref(struct tls_ctx *ctx);
void tls_ctx_unref(struct tls_ctx **ctx);

/* The OpenSSL context, for callers that need to adjust it (e.g. ALPN)
 * before first use. Type is SSL_CTX *. */
void *tls_ctx_ssl_ctx(struct tls_ctx *ctx);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_CLIENT_H
#define POSTHORN_AUTH_CLIENT_H

#include <stdbool.h>

/* A small SASL client for tests: connects over TLS (implicit or STARTTLS)
 * to an SMTP, IMAP or POP3 server and authenticates with GNU SASL's client
 * side. Its reason to exist is SCRAM-SHA-256-PLUS: Python's ssl module
 * cannot export the tls-exporter channel binding (RFC 9266), this client
 * takes it from SSL_export_keying_material(). */

enum auth_client_protocol {
	AUTH_CLIENT_SMTP,
	AUTH_CLIENT_IMAP,
	AUTH_CLIENT_POP3,
};

struct auth_client_options {
	const char *host, *port;
	enum auth_client_protocol protocol;
	bool starttls; /* false = TLS from the first byte */
	const char *mech; /* NULL = "SCRAM-SHA-256-PLUS" */
	const char *user, *password;
	const char *authzid; /* NULL = none */
	/* Flip the channel binding bits before using them, to show that a
	 * server refuses a binding of some other TLS channel. */
	bool corrupt_cb;
	/* Verify the server certificate against this file; NULL = don't. */
	const char *cafile;
	unsigned int timeout_secs; /* per read/write; 0 = 10 */
	bool verbose; /* dialogue on stderr */
};

/* Returns 1 when the server accepted the authentication (and, for SCRAM,
 * proved itself with a valid server signature), 0 when it refused it, -1 on
 * any other error. *reply_r (malloc'd, caller frees) is the server's final
 * reply line when there was one; *error_r says what went wrong on -1. */
int auth_client_run(const struct auth_client_options *opt, char **reply_r,
		    const char **error_r);

#endif

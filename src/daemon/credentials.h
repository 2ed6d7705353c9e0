/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CREDENTIALS_H
#define POSTHORN_CREDENTIALS_H

/* The bridge between lib-auth's credential formats and the store's account
 * fields, shared by posthornd and the posthorn command.
 *
 * The store keeps SCRAM-SHA-256 data in four fields; we fill them from
 * lib-auth's RFC 5803 string "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY":
 * scram_salt, scram_stored_key and scram_server_key hold the base64 texts
 * exactly as in that string, scram_iterations the count. */

struct pool;
struct store_credentials;
struct store_account;

/* Hashes password with yescrypt and derives its SCRAM keys (~60 ms of
 * CPU: not for an event loop). Strings are allocated from pool. Returns 1,
 * or -1 with *error_r. The password is never logged. */
int credentials_from_password(const char *password, struct pool *pool,
			      struct store_credentials *cred_r,
			      const char **error_r);

/* The RFC 5803 string for an account's stored SCRAM data (from pool), or
 * NULL when the account has none. */
const char *credentials_scram_string(const struct store_account *account,
				     struct pool *pool);

/* A random password of len characters from an unambiguous alphabet, into
 * dst (len + 1 bytes). */
void credentials_random_password(char *dst, size_t len);

#endif

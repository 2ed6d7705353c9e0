/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CREDENTIALS_H
#define POSTHORN_CREDENTIALS_H

/* Credentials as the posthorn command and posthornd's demo account make
 * them: a yescrypt hash plus SCRAM-SHA-256 keys, in the store's form (the
 * base64 salt, StoredKey and ServerKey and the iteration count of
 * auth_scram_to_parts()). */

struct pool;
struct store_credentials;

/* Hashes password with yescrypt and derives its SCRAM keys (~60 ms of
 * CPU: not for an event loop). Strings are allocated from pool. Returns 1,
 * or -1 with *error_r. The password is never logged. */
int credentials_from_password(const char *password, struct pool *pool,
			      struct store_credentials *cred_r,
			      const char **error_r);

/* A random password of len characters from an unambiguous alphabet, into
 * dst (len + 1 bytes). */
void credentials_random_password(char *dst, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_PASSWORD_H
#define POSTHORN_AUTH_PASSWORD_H

#include <stdbool.h>

/* Password hashes in crypt(3) form (libxcrypt). New hashes are yescrypt
 * ("$y$"); verification accepts whatever libxcrypt supports, in particular
 * "$y$", "$2b$", "$6$" and "$5$", so Dovecot and Postfix password files
 * import as they are.
 *
 * Both calls cost real CPU (yescrypt: ~57 ms here): never call them on an
 * event loop. The asynchronous paths in auth-sasl.h run them on a workpool.
 * Passwords are never logged. */

/* Longest password accepted anywhere (bytes); longer ones never match.
 * libxcrypt takes at most CRYPT_MAX_PASSPHRASE_SIZE - 1 = 511 bytes. */
#define AUTH_PASSWORD_MAX_LEN 511
/* Longest crypt string accepted or produced. */
#define AUTH_PASSWORD_HASH_MAX_LEN 512
/* The default hashing method's prefix. */
#define AUTH_PASSWORD_DEFAULT_PREFIX "$y$"

/* Hashes password with a fresh random salt. prefix selects the method
 * ("$y$", "$2b$", "$6$", "$5$"; NULL = AUTH_PASSWORD_DEFAULT_PREFIX), cost
 * its work factor (0 = libxcrypt's default for that method). Returns 1 with
 * *hash_r set (i_malloc'd, caller frees), or -1 with *error_r set. */
int auth_password_hash(const char *password, const char *prefix,
		       unsigned long cost, char **hash_r, const char **error_r);

/* Checks password against a crypt string, comparing in constant time.
 * Returns 1 on match, 0 on mismatch, -1 when hash is not usable (empty,
 * locked like "!" or "*", an unsupported method, too long). */
int auth_password_verify(const char *hash, const char *password);

/* The same as auth_password_verify(), under the name the admin CLI and
 * tests know it by. */
static inline int auth_verify_password(const char *hash, const char *password)
{
	return auth_password_verify(hash, password);
}

/* True when hash looks like a crypt string this library can verify. */
bool auth_password_hash_is_supported(const char *hash);

#endif

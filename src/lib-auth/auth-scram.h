/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_SCRAM_H
#define POSTHORN_AUTH_SCRAM_H

#include <stddef.h>
#include <stdint.h>

/* SCRAM-SHA-256 stored keys (RFC 5802 section 3, RFC 7677):
 *
 *   SaltedPassword := PBKDF2-HMAC-SHA256(Normalize(password), salt, i)
 *   ClientKey      := HMAC(SaltedPassword, "Client Key")
 *   StoredKey      := SHA256(ClientKey)
 *   ServerKey      := HMAC(SaltedPassword, "Server Key")
 *
 * The store keeps them as one string in the RFC 5803 form, all base64:
 *
 *   SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
 *
 * which is also what Dovecot writes, so its SCRAM credentials import too.
 * Deriving costs <iter> HMACs (~2 ms at 4096): call it off the event loop
 * when it is on a request path. */

#define AUTH_SCRAM_KEY_SIZE 32 /* SHA-256 output */
#define AUTH_SCRAM_SALT_SIZE 16 /* bytes of a new random salt */
#define AUTH_SCRAM_SALT_MAX 64 /* longest salt accepted when parsing */
#define AUTH_SCRAM_DEFAULT_ITER 4096
#define AUTH_SCRAM_MIN_ITER 4096 /* RFC 7677 section 3: SHOULD be >= 4096 */
#define AUTH_SCRAM_MAX_ITER 10000000
#define AUTH_SCRAM_PREFIX "SCRAM-SHA-256$"

struct auth_scram_keys {
	unsigned int iter;
	size_t salt_len;
	uint8_t salt[AUTH_SCRAM_SALT_MAX];
	uint8_t stored_key[AUTH_SCRAM_KEY_SIZE];
	uint8_t server_key[AUTH_SCRAM_KEY_SIZE];
};

/* Derives keys from password. salt NULL = a fresh random salt of
 * AUTH_SCRAM_SALT_SIZE bytes; iter 0 = AUTH_SCRAM_DEFAULT_ITER. The password
 * is SASLprep'd (RFC 4013) first, as RFC 5802 section 2.2 requires; one that
 * SASLprep rejects is used as is. Returns 1, or -1 with *error_r set. */
int auth_scram_derive(const char *password, const uint8_t *salt,
		      size_t salt_len, unsigned int iter,
		      struct auth_scram_keys *keys_r, const char **error_r);

/* The RFC 5803 string for keys (i_malloc'd, caller frees). */
char *auth_scram_format(const struct auth_scram_keys *keys);

/* Parses an RFC 5803 string. Returns 1, or -1 with *error_r set. */
int auth_scram_parse(const char *str, struct auth_scram_keys *keys_r,
		     const char **error_r);

/* The same keys as four separate values, the way the store keeps them
 * (struct store_credentials): salt, StoredKey and ServerKey in base64 and
 * the iteration count. Strings are i_malloc'd; free with
 * auth_scram_parts_free(). */
struct auth_scram_parts {
	char *salt;
	unsigned int iter;
	char *stored_key;
	char *server_key;
};
void auth_scram_to_parts(const struct auth_scram_keys *keys,
			 struct auth_scram_parts *parts_r);
void auth_scram_parts_free(struct auth_scram_parts *parts);
/* Parses the separate values back. Returns 1, or -1 with *error_r set. */
int auth_scram_from_parts(const char *salt, unsigned int iter,
			  const char *stored_key, const char *server_key,
			  struct auth_scram_keys *keys_r, const char **error_r);

/* Convenience for the admin CLI: derive + format. Returns the string
 * (i_malloc'd) or NULL with *error_r set. */
char *auth_scram_from_password(const char *password, unsigned int iter,
			       const char **error_r);

#endif

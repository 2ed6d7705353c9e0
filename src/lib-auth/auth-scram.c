/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "auth-scram.h"
#include "auth-password.h"
#include "auth-private.h"

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

int auth_scram_derive(const char *password, const uint8_t *salt,
		      size_t salt_len, unsigned int iter,
		      struct auth_scram_keys *keys_r, const char **error_r)
{
	uint8_t salted[AUTH_SCRAM_KEY_SIZE], client_key[AUTH_SCRAM_KEY_SIZE];
	unsigned int mac_len;

	memset(keys_r, 0, sizeof(*keys_r));
	if (iter == 0)
		iter = AUTH_SCRAM_DEFAULT_ITER;
	if (iter > AUTH_SCRAM_MAX_ITER) {
		*error_r = "SCRAM iteration count too large";
		return -1;
	}
	if (strlen(password) > AUTH_PASSWORD_MAX_LEN) {
		*error_r = "password too long";
		return -1;
	}
	if (salt == NULL) {
		keys_r->salt_len = AUTH_SCRAM_SALT_SIZE;
		auth_random_bytes(keys_r->salt, keys_r->salt_len);
	} else {
		if (salt_len == 0 || salt_len > AUTH_SCRAM_SALT_MAX) {
			*error_r = "bad SCRAM salt length";
			return -1;
		}
		memcpy(keys_r->salt, salt, salt_len);
		keys_r->salt_len = salt_len;
	}
	keys_r->iter = iter;

	/* RFC 5802 section 2.2: Hi() runs on Normalize(password), SASLprep
	 * with unassigned code points allowed as GNU SASL's client does. */
	char *prepped = NULL;
	const char *pass = password;
	if (gsasl_saslprep(password, GSASL_ALLOW_UNASSIGNED, &prepped, NULL) ==
	    GSASL_OK)
		pass = prepped;

	int ok = PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), keys_r->salt,
				   (int)keys_r->salt_len, (int)iter,
				   EVP_sha256(), sizeof(salted), salted);
	if (prepped != NULL) {
		explicit_bzero(prepped, strlen(prepped));
		gsasl_free(prepped);
	}
	if (ok == 1)
		ok = HMAC(EVP_sha256(), salted, sizeof(salted),
			  (const uint8_t *)"Client Key", 10, client_key,
			  &mac_len) != NULL;
	if (ok == 1)
		ok = SHA256(client_key, sizeof(client_key),
			    keys_r->stored_key) != NULL;
	if (ok == 1)
		ok = HMAC(EVP_sha256(), salted, sizeof(salted),
			  (const uint8_t *)"Server Key", 10, keys_r->server_key,
			  &mac_len) != NULL;
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	if (ok != 1) {
		*error_r = "SCRAM key derivation failed";
		return -1;
	}
	return 1;
}

char *auth_scram_format(const struct auth_scram_keys *keys)
{
	struct buf out = BUF_INIT;

	buf_printf(&out, AUTH_SCRAM_PREFIX "%u:", keys->iter);
	auth_base64_encode(keys->salt, keys->salt_len, &out);
	buf_append_byte(&out, '$');
	auth_base64_encode(keys->stored_key, sizeof(keys->stored_key), &out);
	buf_append_byte(&out, ':');
	auth_base64_encode(keys->server_key, sizeof(keys->server_key), &out);
	size_t len;
	return (char *)buf_steal(&out, &len);
}

static int decode_exact(const char *start, const char *end, uint8_t *dst,
			size_t min, size_t max, size_t *len_r)
{
	struct buf tmp = BUF_INIT;
	int ret = -1;

	if (auth_base64_decode(start, (size_t)(end - start), &tmp) == 0 &&
	    tmp.len >= min && tmp.len <= max) {
		memcpy(dst, tmp.data, tmp.len);
		*len_r = tmp.len;
		ret = 0;
	}
	buf_free(&tmp);
	return ret;
}

/* RFC 5803 section 3:
 *   scram-mech "$" iter-count ":" salt "$" stored-key ":" server-key */
int auth_scram_parse(const char *str, struct auth_scram_keys *keys_r,
		     const char **error_r)
{
	size_t prefix_len = strlen(AUTH_SCRAM_PREFIX);
	uint64_t iter;
	size_t len;

	memset(keys_r, 0, sizeof(*keys_r));
	if (strncmp(str, AUTH_SCRAM_PREFIX, prefix_len) != 0) {
		*error_r = "not a SCRAM-SHA-256 string";
		return -1;
	}
	const char *p = str + prefix_len;
	const char *colon1 = strchr(p, ':');
	const char *dollar = colon1 == NULL ? NULL : strchr(colon1, '$');
	const char *colon2 = dollar == NULL ? NULL : strchr(dollar, ':');
	if (colon2 == NULL) {
		*error_r = "malformed SCRAM string";
		return -1;
	}
	if (str_to_uint64_n(p, (size_t)(colon1 - p), AUTH_SCRAM_MAX_ITER,
			    &iter) < 0 || iter == 0) {
		*error_r = "bad SCRAM iteration count";
		return -1;
	}
	keys_r->iter = (unsigned int)iter;
	if (decode_exact(colon1 + 1, dollar, keys_r->salt, 1,
			 AUTH_SCRAM_SALT_MAX, &keys_r->salt_len) < 0) {
		*error_r = "bad SCRAM salt";
		return -1;
	}
	if (decode_exact(dollar + 1, colon2, keys_r->stored_key,
			 AUTH_SCRAM_KEY_SIZE, AUTH_SCRAM_KEY_SIZE, &len) < 0 ||
	    decode_exact(colon2 + 1, colon2 + 1 + strlen(colon2 + 1),
			 keys_r->server_key, AUTH_SCRAM_KEY_SIZE,
			 AUTH_SCRAM_KEY_SIZE, &len) < 0) {
		*error_r = "bad SCRAM key";
		return -1;
	}
	return 1;
}

static char *encode_str(const void *data, size_t len)
{
	struct buf out = BUF_INIT;
	size_t out_len;

	auth_base64_encode(data, len, &out);
	return (char *)buf_steal(&out, &out_len);
}

void auth_scram_to_parts(const struct auth_scram_keys *keys,
			 struct auth_scram_parts *parts_r)
{
	parts_r->salt = encode_str(keys->salt, keys->salt_len);
	parts_r->iter = keys->iter;
	parts_r->stored_key = encode_str(keys->stored_key,
					 sizeof(keys->stored_key));
	parts_r->server_key = encode_str(keys->server_key,
					 sizeof(keys->server_key));
}

void auth_scram_parts_free(struct auth_scram_parts *parts)
{
	i_free(parts->salt);
	i_free(parts->stored_key);
	i_free(parts->server_key);
	parts->iter = 0;
}

int auth_scram_from_parts(const char *salt, unsigned int iter,
			  const char *stored_key, const char *server_key,
			  struct auth_scram_keys *keys_r, const char **error_r)
{
	size_t len;

	memset(keys_r, 0, sizeof(*keys_r));
	if (iter == 0 || iter > AUTH_SCRAM_MAX_ITER) {
		*error_r = "bad SCRAM iteration count";
		return -1;
	}
	keys_r->iter = iter;
	if (salt == NULL ||
	    decode_exact(salt, salt + strlen(salt), keys_r->salt, 1,
			 AUTH_SCRAM_SALT_MAX, &keys_r->salt_len) < 0) {
		*error_r = "bad SCRAM salt";
		return -1;
	}
	if (stored_key == NULL || server_key == NULL ||
	    decode_exact(stored_key, stored_key + strlen(stored_key),
			 keys_r->stored_key, AUTH_SCRAM_KEY_SIZE,
			 AUTH_SCRAM_KEY_SIZE, &len) < 0 ||
	    decode_exact(server_key, server_key + strlen(server_key),
			 keys_r->server_key, AUTH_SCRAM_KEY_SIZE,
			 AUTH_SCRAM_KEY_SIZE, &len) < 0) {
		*error_r = "bad SCRAM key";
		return -1;
	}
	return 1;
}

char *auth_scram_from_password(const char *password, unsigned int iter,
			       const char **error_r)
{
	struct auth_scram_keys keys;

	if (auth_scram_derive(password, NULL, 0, iter, &keys, error_r) < 0)
		return NULL;
	char *str = auth_scram_format(&keys);
	explicit_bzero(&keys, sizeof(keys));
	return str;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "auth-password.h"
#include "auth-private.h"

#include <crypt.h>
#include <gsasl.h>

/* Enough random bytes for every method's salt (bcrypt wants 16). */
#define SALT_RANDOM_BYTES 16

/* Passwords are compared in their SASLprep form (RFC 4013), the form SCRAM
 * requires (RFC 5802 section 2.2) and GNU SASL's PLAIN hands over, so one
 * password works the same on every path. ASCII passwords are unchanged by
 * it. NULL when SASLprep rejects the string or leaves it unchanged. */
static char *password_prepare(const char *password)
{
	char *out = NULL;

	if (gsasl_saslprep(password, GSASL_ALLOW_UNASSIGNED, &out, NULL) !=
	    GSASL_OK)
		return NULL;
	/* NFKC may lengthen a string past what crypt takes. */
	if (strcmp(out, password) == 0 || strlen(out) > AUTH_PASSWORD_MAX_LEN) {
		gsasl_free(out);
		return NULL;
	}
	char *copy = i_strdup(out);
	explicit_bzero(out, strlen(out));
	gsasl_free(out);
	return copy;
}

bool auth_password_hash_is_supported(const char *hash)
{
	if (hash == NULL || hash[0] == '\0' ||
	    strlen(hash) > AUTH_PASSWORD_HASH_MAX_LEN)
		return false;
	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_METHOD_LEGACY:
	case CRYPT_SALT_TOO_CHEAP:
		return true;
	default:
		return false;
	}
}

int auth_password_hash(const char *password, const char *prefix,
		       unsigned long cost, char **hash_r, const char **error_r)
{
	uint8_t rbytes[SALT_RANDOM_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	*hash_r = NULL;
	if (strlen(password) > AUTH_PASSWORD_MAX_LEN) {
		*error_r = "password too long";
		return -1;
	}
	if (prefix == NULL)
		prefix = AUTH_PASSWORD_DEFAULT_PREFIX;
	auth_random_bytes(rbytes, sizeof(rbytes));
	if (crypt_gensalt_rn(prefix, cost, (const char *)rbytes,
			     sizeof(rbytes), setting, sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed (unsupported method or cost)";
		return -1;
	}
	explicit_bzero(rbytes, sizeof(rbytes));

	char *prepared = password_prepare(password);
	struct crypt_data *data = i_new(struct crypt_data, 1);
	const char *out = crypt_rn(prepared != NULL ? prepared : password,
				   setting, data, sizeof(*data));
	int ret;
	if (out == NULL || out[0] == '*') {
		*error_r = "crypt failed";
		ret = -1;
	} else {
		*hash_r = i_strdup(out);
		ret = 1;
	}
	explicit_bzero(data, sizeof(*data));
	i_free(data);
	auth_secret_free(&prepared);
	return ret;
}

static int verify_one(const char *hash, const char *password,
		      struct crypt_data *data)
{
	const char *out = crypt_rn(password, hash, data, sizeof(*data));
	if (out == NULL || out[0] == '*')
		return -1;
	size_t len = strlen(out);
	/* The length is not secret (it follows from the method); the
	 * content is compared without early exit. */
	if (len != strlen(hash))
		return 0;
	return mem_equals_timing_safe(out, hash, len) ? 1 : 0;
}

int auth_password_verify(const char *hash, const char *password)
{
	if (!auth_password_hash_is_supported(hash))
		return -1;
	if (strlen(password) > AUTH_PASSWORD_MAX_LEN)
		return 0;

	char *prepared = password_prepare(password);
	struct crypt_data *data = i_new(struct crypt_data, 1);
	int ret = verify_one(hash, prepared != NULL ? prepared : password,
			     data);
	/* A hash made elsewhere (an imported Dovecot file) may be of the
	 * unprepared form of a non-ASCII password. */
	if (ret == 0 && prepared != NULL)
		ret = verify_one(hash, password, data);
	explicit_bzero(data, sizeof(*data));
	i_free(data);
	auth_secret_free(&prepared);
	return ret;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "credentials.h"
#include "pool.h"
#include "store.h"
#include "auth-password.h"
#include "auth-scram.h"

#include <sys/random.h>

int credentials_from_password(const char *password, struct pool *pool,
			      struct store_credentials *cred_r,
			      const char **error_r)
{
	char *hash = NULL;
	struct auth_scram_keys keys;
	struct auth_scram_parts parts;

	memset(cred_r, 0, sizeof(*cred_r));
	if (auth_password_hash(password, NULL, 0, &hash, error_r) < 0)
		return -1;
	cred_r->password_hash = pool_strdup(pool, hash);
	explicit_bzero(hash, strlen(hash));
	i_free(hash);

	if (auth_scram_derive(password, NULL, 0, 0, &keys, error_r) < 0)
		return -1;
	auth_scram_to_parts(&keys, &parts);
	explicit_bzero(&keys, sizeof(keys));
	cred_r->scram_salt = pool_strdup(pool, parts.salt);
	cred_r->scram_iterations = parts.iter;
	cred_r->scram_stored_key = pool_strdup(pool, parts.stored_key);
	cred_r->scram_server_key = pool_strdup(pool, parts.server_key);
	auth_scram_parts_free(&parts);
	return 1;
}

void credentials_random_password(char *dst, size_t len)
{
	/* No 0/O, 1/l/I: the demo password is read off a terminal. */
	static const char alphabet[] =
		"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t n = sizeof(alphabet) - 1;
	size_t i = 0;
	while (i < len) {
		uint8_t r[32];
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			i_fatal("getrandom() failed: %s", strerror(errno));
		for (size_t j = 0; j < sizeof(r) && i < len; j++) {
			/* Rejection sampling keeps it uniform. */
			if (r[j] < 256 - 256 % n)
				dst[i++] = alphabet[r[j] % n];
		}
	}
	dst[len] = '\0';
}

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
	char *hash = NULL, *scram;

	memset(cred_r, 0, sizeof(*cred_r));
	if (auth_password_hash(password, NULL, 0, &hash, error_r) < 0)
		return -1;
	cred_r->password_hash = pool_strdup(pool, hash);
	i_free(hash);

	scram = auth_scram_from_password(password, 0, error_r);
	if (scram == NULL)
		return -1;
	/* SCRAM-SHA-256$ITER:SALT$STORED:SERVER */
	char *p = scram + strlen(AUTH_SCRAM_PREFIX);
	char *colon1 = strchr(p, ':');
	char *dollar = colon1 == NULL ? NULL : strchr(colon1, '$');
	char *colon2 = dollar == NULL ? NULL : strchr(dollar, ':');
	if (strncmp(scram, AUTH_SCRAM_PREFIX, strlen(AUTH_SCRAM_PREFIX)) != 0 ||
	    colon2 == NULL) {
		i_free(scram);
		*error_r = "unexpected SCRAM string format";
		return -1;
	}
	cred_r->scram_iterations = (unsigned)strtoul(p, NULL, 10);
	cred_r->scram_salt = pool_strndup(pool, colon1 + 1,
					  (size_t)(dollar - colon1 - 1));
	cred_r->scram_stored_key = pool_strndup(pool, dollar + 1,
						(size_t)(colon2 - dollar - 1));
	cred_r->scram_server_key = pool_strdup(pool, colon2 + 1);
	i_free(scram);
	return 1;
}

const char *credentials_scram_string(const struct store_account *account,
				     struct pool *pool)
{
	if (account->scram_salt == NULL || account->scram_salt[0] == '\0' ||
	    account->scram_stored_key == NULL ||
	    account->scram_server_key == NULL)
		return NULL;
	return pool_printf(pool, "%s%u:%s$%s:%s", AUTH_SCRAM_PREFIX,
			   account->scram_iterations, account->scram_salt,
			   account->scram_stored_key, account->scram_server_key);
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

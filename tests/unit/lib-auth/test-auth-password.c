/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "auth-password.h"

#include <crypt.h>

static void test_yescrypt_round_trip(void **state)
{
	const char *error = NULL;
	char *hash = NULL, *hash2 = NULL;

	assert_int_equal(auth_password_hash("correct horse", NULL, 0, &hash,
					    &error), 1);
	assert_true(strncmp(hash, "$y$", 3) == 0);
	assert_true(auth_password_hash_is_supported(hash));
	assert_int_equal(auth_password_verify(hash, "correct horse"), 1);
	assert_int_equal(auth_verify_password(hash, "correct horse"), 1);
	assert_int_equal(auth_password_verify(hash, "correct horsE"), 0);
	assert_int_equal(auth_password_verify(hash, ""), 0);
	/* A fresh salt each time. */
	assert_int_equal(auth_password_hash("correct horse", NULL, 0, &hash2,
					    &error), 1);
	assert_string_not_equal(hash, hash2);
	i_free(hash);
	i_free(hash2);
}

/* Hashes made by crypt(3) itself, the way another system would have made
 * them, verify through our code. */
static void test_foreign_hashes(void **state)
{
	static const char *const prefixes[] = { "$6$", "$5$", "$2b$", "$y$" };

	for (unsigned int i = 0; i < N_ELEMENTS(prefixes); i++) {
		char setting[CRYPT_GENSALT_OUTPUT_SIZE];
		struct crypt_data data;
		unsigned long cost = strcmp(prefixes[i], "$2b$") == 0 ? 4 : 0;

		memset(&data, 0, sizeof(data));
		assert_non_null(crypt_gensalt_rn(prefixes[i], cost, NULL, 0,
						 setting, sizeof(setting)));
		const char *hash = crypt_rn("imported pw", setting, &data,
					    sizeof(data));
		assert_non_null(hash);
		assert_true(strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0);
		char *copy = i_strdup(hash);
		assert_int_equal(auth_password_verify(copy, "imported pw"), 1);
		assert_int_equal(auth_password_verify(copy, "imported pW"), 0);
		i_free(copy);
	}
}

static void test_other_methods_hash(void **state)
{
	const char *error = NULL;
	char *hash = NULL;

	assert_int_equal(auth_password_hash("pw", "$6$", 0, &hash, &error), 1);
	assert_true(strncmp(hash, "$6$", 3) == 0);
	assert_int_equal(auth_password_verify(hash, "pw"), 1);
	i_free(hash);
	assert_int_equal(auth_password_hash("pw", "$2b$", 4, &hash, &error), 1);
	assert_true(strncmp(hash, "$2b$04$", 7) == 0);
	assert_int_equal(auth_password_verify(hash, "pw"), 1);
	i_free(hash);
	assert_int_equal(auth_password_hash("pw", "$nope$", 0, &hash, &error),
			 -1);
	assert_null(hash);
	assert_non_null(error);
}

static void test_unusable_hashes(void **state)
{
	assert_int_equal(auth_password_verify("", "x"), -1);
	assert_int_equal(auth_password_verify("!", "x"), -1);
	assert_int_equal(auth_password_verify("*", "x"), -1);
	assert_int_equal(auth_password_verify("!$y$j9T$abc$def", "x"), -1);
	assert_int_equal(auth_password_verify("$y$", "x"), -1);
	assert_false(auth_password_hash_is_supported(NULL));
	assert_false(auth_password_hash_is_supported("*LK*"));
}

static void test_long_password(void **state)
{
	const char *error = NULL;
	char *hash = NULL;
	char *long_pw = i_malloc(AUTH_PASSWORD_MAX_LEN + 2);

	memset(long_pw, 'a', AUTH_PASSWORD_MAX_LEN + 1);
	assert_int_equal(auth_password_hash(long_pw, "$5$", 0, &hash, &error),
			 -1);
	long_pw[AUTH_PASSWORD_MAX_LEN] = '\0';
	assert_int_equal(auth_password_hash(long_pw, "$5$", 0, &hash, &error),
			 1);
	assert_int_equal(auth_password_verify(hash, long_pw), 1);
	long_pw[AUTH_PASSWORD_MAX_LEN] = 'a';
	assert_int_equal(auth_password_verify(hash, long_pw), 0);
	i_free(hash);
	i_free(long_pw);
}

/* SASLprep (RFC 4013 section 2.1) maps U+00A0 NO-BREAK SPACE to a space:
 * both spellings verify against one hash, as SCRAM would see them. */
static void test_saslprep_equivalence(void **state)
{
	const char *error = NULL;
	char *hash = NULL;

	assert_int_equal(auth_password_hash("p\xc2\xa0w", "$5$", 0, &hash,
					    &error), 1);
	assert_int_equal(auth_password_verify(hash, "p w"), 1);
	assert_int_equal(auth_password_verify(hash, "p\xc2\xa0w"), 1);
	assert_int_equal(auth_password_verify(hash, "pw"), 0);
	i_free(hash);

	/* A foreign hash of the unprepared form still verifies. */
	struct crypt_data data;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn("$5$", 0, NULL, 0, setting,
					 sizeof(setting)));
	char *foreign = i_strdup(crypt_rn("p\xc2\xa0w", setting, &data,
					  sizeof(data)));
	assert_int_equal(auth_password_verify(foreign, "p\xc2\xa0w"), 1);
	i_free(foreign);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yescrypt_round_trip),
		cmocka_unit_test(test_foreign_hashes),
		cmocka_unit_test(test_other_methods_hash),
		cmocka_unit_test(test_unusable_hashes),
		cmocka_unit_test(test_long_password),
		cmocka_unit_test(test_saslprep_equivalence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

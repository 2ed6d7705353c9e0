/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "auth-private.h"

static void test_base64_round_trip(void **state)
{
	static const struct {
		const char *plain, *b64;
	} cases[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" }, /* RFC 4648 section 10 */
	};
	for (unsigned int i = 0; i < N_ELEMENTS(cases); i++) {
		struct buf enc = BUF_INIT, dec = BUF_INIT;
		auth_base64_encode(cases[i].plain, strlen(cases[i].plain), &enc);
		assert_string_equal(buf_cstr(&enc), cases[i].b64);
		assert_int_equal(auth_base64_decode(cases[i].b64,
						    strlen(cases[i].b64), &dec),
				 0);
		assert_true(buf_equals(&dec, cases[i].plain,
				       strlen(cases[i].plain)));
		buf_free(&enc);
		buf_free(&dec);
	}
	/* All byte values. */
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	auth_base64_encode(all, sizeof(all), &enc);
	assert_int_equal(auth_base64_decode((const char *)enc.data, enc.len,
					    &dec), 0);
	assert_true(buf_equals(&dec, all, sizeof(all)));
	buf_free(&enc);
	buf_free(&dec);
}

/* RFC 9051 section 6.2.2: characters outside the alphabet and "=" other
 * than at the end are errors; we also refuse missing padding and
 * non-canonical trailing bits. */
static void test_base64_strict(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v\r\n", " Zm9v",
		"Zm9v ", "Zm-v", "Zm_v", "Zh==", "Zm9=", "Zm=v", "====",
	};
	struct buf dec = BUF_INIT;

	buf_append_str(&dec, "keep");
	for (unsigned int i = 0; i < N_ELEMENTS(bad); i++) {
		assert_int_equal(auth_base64_decode(bad[i], strlen(bad[i]),
						    &dec), -1);
		/* Nothing half-decoded is left behind. */
		assert_true(buf_equals(&dec, "keep", 4));
	}
	buf_free(&dec);
}

/* The reference vector of the SipHash paper (Aumasson, Bernstein):
 * key 00..0f, message 00..0e. */
static void test_siphash_vector(void **state)
{
	uint8_t key[16], msg[15];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(auth_siphash(key, msg, sizeof(msg)) ==
		    0xa129ca6149be45e5ULL);
	/* Empty input (first entry of the reference table). */
	assert_true(auth_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

static void test_secret_free(void **state)
{
	char *secret = i_strdup("hunter2");
	auth_secret_free(&secret);
	assert_null(secret);
	auth_secret_free(&secret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_secret_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

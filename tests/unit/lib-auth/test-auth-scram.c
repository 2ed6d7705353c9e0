/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "auth-scram.h"

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* RFC 7677 section 3: user "user", password "pencil". */
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST_BARE "n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL_NO_PROOF \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_VERIFIER "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static size_t b64_decode(const char *in, uint8_t *out, size_t max)
{
	char *bin = NULL;
	size_t len = 0;

	assert_int_equal(gsasl_base64_from(in, strlen(in), &bin, &len),
			 GSASL_OK);
	assert_true(len <= max);
	memcpy(out, bin, len);
	gsasl_free(bin);
	return len;
}

static char *b64_encode(const uint8_t *data, size_t len)
{
	char *out = NULL;
	assert_int_equal(gsasl_base64_to((const char *)data, len, &out, NULL),
			 GSASL_OK);
	return out;
}

static void rfc_keys(struct auth_scram_keys *keys)
{
	uint8_t salt[64];
	const char *error = NULL;
	size_t salt_len = b64_decode(RFC_SALT_B64, salt, sizeof(salt));

	assert_int_equal(auth_scram_derive("pencil", salt, salt_len, 4096, keys,
					   &error), 1);
	assert_int_equal(keys->iter, 4096);
	assert_int_equal(keys->salt_len, 16);
}

/* Our derivation against GNU SASL's own (the RFC 5802 formulas as its
 * client side computes them). */
static void test_rfc7677_keys_match_gsasl(void **state)
{
	struct auth_scram_keys keys;
	uint8_t salt[64];
	char salted[GSASL_HASH_MAX_SIZE], client_key[GSASL_HASH_MAX_SIZE];
	char server_key[GSASL_HASH_MAX_SIZE], stored_key[GSASL_HASH_MAX_SIZE];
	size_t salt_len = b64_decode(RFC_SALT_B64, salt, sizeof(salt));

	rfc_keys(&keys);
	assert_int_equal(gsasl_scram_secrets_from_password(
				 GSASL_HASH_SHA256, "pencil", 4096,
				 (const char *)salt, salt_len, salted,
				 client_key, server_key, stored_key),
			 GSASL_OK);
	assert_memory_equal(keys.stored_key, stored_key, 32);
	assert_memory_equal(keys.server_key, server_key, 32);
}

/* And against the exchange printed in RFC 7677: the client proof there
 * must check out against our StoredKey, and our ServerKey must produce the
 * RFC's server signature. */
static void test_rfc7677_exchange(void **state)
{
	struct auth_scram_keys keys;
	const char *auth_message = RFC_CLIENT_FIRST_BARE "," RFC_SERVER_FIRST
		"," RFC_CLIENT_FINAL_NO_PROOF;
	uint8_t sig[32], proof[64], client_key[32], stored[32];
	unsigned int len = 0;

	rfc_keys(&keys);
	/* ServerSignature := HMAC(ServerKey, AuthMessage) */
	assert_non_null(HMAC(EVP_sha256(), keys.server_key, 32,
			     (const uint8_t *)auth_message,
			     strlen(auth_message), sig, &len));
	char *v = b64_encode(sig, 32);
	assert_string_equal(v, RFC_VERIFIER);
	gsasl_free(v);

	/* ClientKey := ClientProof XOR HMAC(StoredKey, AuthMessage);
	 * H(ClientKey) must equal StoredKey. */
	assert_int_equal(b64_decode(RFC_PROOF, proof, sizeof(proof)), 32);
	assert_non_null(HMAC(EVP_sha256(), keys.stored_key, 32,
			     (const uint8_t *)auth_message,
			     strlen(auth_message), sig, &len));
	for (int i = 0; i < 32; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, 32, stored);
	assert_memory_equal(stored, keys.stored_key, 32);
}

static void test_format_parse(void **state)
{
	struct auth_scram_keys keys, parsed;
	const char *error = NULL;

	rfc_keys(&keys);
	char *str = auth_scram_format(&keys);
	assert_true(strncmp(str, "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$",
			    strlen("SCRAM-SHA-256$4096:" RFC_SALT_B64 "$")) == 0);
	assert_int_equal(auth_scram_parse(str, &parsed, &error), 1);
	assert_int_equal(parsed.iter, 4096);
	assert_int_equal(parsed.salt_len, keys.salt_len);
	assert_memory_equal(parsed.salt, keys.salt, keys.salt_len);
	assert_memory_equal(parsed.stored_key, keys.stored_key, 32);
	assert_memory_equal(parsed.server_key, keys.server_key, 32);
	i_free(str);

	/* Random salt, default iterations. */
	str = auth_scram_from_password("pencil", 0, &error);
	assert_non_null(str);
	assert_int_equal(auth_scram_parse(str, &parsed, &error), 1);
	assert_int_equal(parsed.iter, AUTH_SCRAM_DEFAULT_ITER);
	assert_int_equal(parsed.salt_len, AUTH_SCRAM_SALT_SIZE);
	i_free(str);
}

static void test_parts(void **state)
{
	struct auth_scram_keys keys, back;
	struct auth_scram_parts parts;
	const char *error = NULL;

	rfc_keys(&keys);
	auth_scram_to_parts(&keys, &parts);
	assert_string_equal(parts.salt, RFC_SALT_B64);
	assert_int_equal(parts.iter, 4096);
	assert_int_equal(auth_scram_from_parts(parts.salt, parts.iter,
					       parts.stored_key,
					       parts.server_key, &back,
					       &error), 1);
	assert_memory_equal(&back, &keys, sizeof(keys));
	assert_int_equal(auth_scram_from_parts(parts.salt, 0, parts.stored_key,
					       parts.server_key, &back,
					       &error), -1);
	assert_int_equal(auth_scram_from_parts("", 4096, parts.stored_key,
					       parts.server_key, &back,
					       &error), -1);
	assert_int_equal(auth_scram_from_parts(parts.salt, 4096, parts.salt,
					       parts.server_key, &back,
					       &error), -1);
	assert_int_equal(auth_scram_from_parts(parts.salt, 4096, NULL,
					       parts.server_key, &back,
					       &error), -1);
	auth_scram_parts_free(&parts);
	assert_null(parts.salt);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-256$0:c2FsdA==$x:y",
		"SCRAM-SHA-256$abc:c2FsdA==$x:y",
		"SCRAM-SHA-256$4096:c2FsdA=$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		/* keys one byte short */
		"SCRAM-SHA-256$4096:c2FsdA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:c2FsdA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x",
		"SCRAM-SHA-256$99999999999:c2FsdA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	struct auth_scram_keys keys;
	const char *error;

	for (unsigned int i = 0; i < N_ELEMENTS(bad); i++) {
		error = NULL;
		assert_int_equal(auth_scram_parse(bad[i], &keys, &error), -1);
		assert_non_null(error);
	}
	const char *good = "SCRAM-SHA-256$4096:c2FsdA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	assert_int_equal(auth_scram_parse(good, &keys, &error), 1);
	assert_int_equal(keys.salt_len, 4);
}

/* ---- The GNU SASL 2.2.0 trap: StoredKey/ServerKey must be base64 ---- */

static bool keys_as_hex;
static struct auth_scram_keys trap_keys;

static char *hex_encode(const uint8_t *data, size_t len)
{
	char *out = i_malloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = "0123456789abcdef"[data[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[data[i] & 15];
	}
	return out;
}

static int trap_server_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	if (prop != GSASL_SCRAM_ITER)
		return GSASL_NO_CALLBACK;
	char *salt = b64_encode(trap_keys.salt, trap_keys.salt_len);
	gsasl_property_set(sctx, GSASL_SCRAM_ITER, "4096");
	gsasl_property_set(sctx, GSASL_SCRAM_SALT, salt);
	gsasl_free(salt);
	if (keys_as_hex) {
		char *s = hex_encode(trap_keys.stored_key, 32);
		char *k = hex_encode(trap_keys.server_key, 32);
		gsasl_property_set(sctx, GSASL_SCRAM_STOREDKEY, s);
		gsasl_property_set(sctx, GSASL_SCRAM_SERVERKEY, k);
		i_free(s);
		i_free(k);
	} else {
		char *s = b64_encode(trap_keys.stored_key, 32);
		char *k = b64_encode(trap_keys.server_key, 32);
		gsasl_property_set(sctx, GSASL_SCRAM_STOREDKEY, s);
		gsasl_property_set(sctx, GSASL_SCRAM_SERVERKEY, k);
		gsasl_free(s);
		gsasl_free(k);
	}
	return GSASL_OK;
}

static int trap_client_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	return GSASL_NO_CALLBACK;
}

/* Runs a whole SCRAM-SHA-256 exchange of GNU SASL's client against its
 * server fed with our keys; returns the server's final return code. */
static int trap_exchange(void)
{
	Gsasl *sctx_lib, *cctx_lib;
	Gsasl_session *server, *client;
	char *c_out = NULL, *s_out = NULL;
	size_t c_len = 0, s_len = 0;
	int rc;

	assert_int_equal(gsasl_init(&sctx_lib), GSASL_OK);
	assert_int_equal(gsasl_init(&cctx_lib), GSASL_OK);
	gsasl_callback_set(sctx_lib, trap_server_cb);
	gsasl_callback_set(cctx_lib, trap_client_cb);
	assert_int_equal(gsasl_server_start(sctx_lib, "SCRAM-SHA-256", &server),
			 GSASL_OK);
	assert_int_equal(gsasl_client_start(cctx_lib, "SCRAM-SHA-256", &client),
			 GSASL_OK);
	gsasl_property_set(client, GSASL_AUTHID, "user");
	gsasl_property_set(client, GSASL_PASSWORD, "pencil");

	assert_int_equal(gsasl_step(client, NULL, 0, &c_out, &c_len),
			 GSASL_NEEDS_MORE);
	assert_int_equal(gsasl_step(server, c_out, c_len, &s_out, &s_len),
			 GSASL_NEEDS_MORE);
	gsasl_free(c_out);
	assert_int_equal(gsasl_step(client, s_out, s_len, &c_out, &c_len),
			 GSASL_NEEDS_MORE);
	gsasl_free(s_out);
	s_out = NULL;
	rc = gsasl_step(server, c_out, c_len, &s_out, &s_len);
	gsasl_free(c_out);
	if (rc == GSASL_OK) {
		c_out = NULL;
		/* The client checks the server's signature too. */
		assert_int_equal(gsasl_step(client, s_out, s_len, &c_out,
					    &c_len), GSASL_OK);
		gsasl_free(c_out);
	}
	gsasl_free(s_out);
	gsasl_finish(server);
	gsasl_finish(client);
	gsasl_done(sctx_lib);
	gsasl_done(cctx_lib);
	return rc;
}

static void test_gsasl_wants_base64_keys(void **state)
{
	rfc_keys(&trap_keys);
	keys_as_hex = false;
	assert_int_equal(trap_exchange(), GSASL_OK);
	/* What gsasl.h documents (hex) does not work in 2.2.0. */
	keys_as_hex = true;
	assert_int_not_equal(trap_exchange(), GSASL_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_keys_match_gsasl),
		cmocka_unit_test(test_rfc7677_exchange),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_gsasl_wants_base64_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "cli.h"

struct syntax_case {
	const char *input;
	bool valid;
	const char *normalised;
};

static const struct syntax_case address_cases[] = {
	{ "alice@example.com", true, "alice@example.com" },
	{ "Alice.Smith@Example.COM", true, "alice.smith@example.com" },
	{ "a+tag@example.com", true, "a+tag@example.com" },
	{ "o'brien@example.com", true, "o'brien@example.com" },
	{ "x@localhost", true, "x@localhost" },
	{ "x@a-b.example", true, "x@a-b.example" },
	{ "", false, NULL },
	{ "alice", false, NULL },
	{ "@example.com", false, NULL },
	{ "alice@", false, NULL },
	{ ".alice@example.com", false, NULL },
	{ "alice.@example.com", false, NULL },
	{ "a..b@example.com", false, NULL },
	{ "a b@example.com", false, NULL },
	{ "a\"b@example.com", false, NULL },
	{ "a@b@example.com", false, NULL },
	{ "a@-example.com", false, NULL },
	{ "a@example-.com", false, NULL },
	{ "a@example..com", false, NULL },
	{ "a@exa_mple.com", false, NULL },
	{ "a@[127.0.0.1]", false, NULL },
	{ "a\x01@example.com", false, NULL },
	{ "a@example.com.", false, NULL },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@example.com",
	  false, NULL }, /* 65-byte local part */
};

static void test_address(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(address_cases); i++) {
		char *s = i_strdup(address_cases[i].input);
		bool valid = cli_address_valid(s);
		if (valid != address_cases[i].valid)
			fprintf(stderr, "case %zu: %s\n", i, address_cases[i].input);
		assert_int_equal(valid, address_cases[i].valid);
		if (valid)
			assert_string_equal(s, address_cases[i].normalised);
		i_free(s);
	}
}

static void test_domain(void **state)
{
	char ok[] = "Mail.Example.ORG";
	assert_true(cli_domain_valid(ok));
	assert_string_equal(ok, "mail.example.org");
	char label63[80], label64[80];
	memset(label63, 'a', 63);
	memcpy(label63 + 63, ".com", 5);
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".com", 5);
	assert_true(cli_domain_valid(label63));
	assert_false(cli_domain_valid(label64));
	char bad1[] = "", bad2[] = "a..b", bad3[] = "a b", bad4[] = ".a";
	assert_false(cli_domain_valid(bad1));
	assert_false(cli_domain_valid(bad2));
	assert_false(cli_domain_valid(bad3));
	assert_false(cli_domain_valid(bad4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

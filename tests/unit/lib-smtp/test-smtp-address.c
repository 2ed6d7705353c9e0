/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "smtp-address.h"

#define U SMTP_ADDRESS_FLAG_ALLOW_UTF8
#define PM SMTP_ADDRESS_FLAG_ALLOW_POSTMASTER
#define ND SMTP_ADDRESS_FLAG_ALLOW_NO_DOMAIN

static const struct {
	const char *in;
	unsigned flags;
	const char *localpart; /* NULL: must fail */
	const char *domain;
	const char *written; /* NULL: same as in */
} address_tests[] = {
	{"user@example.com", 0, "user", "example.com", NULL},
	{"first.last@sub.example.org", 0, "first.last", "sub.example.org", NULL},
	{"a+tag@x.y", 0, "a+tag", "x.y", NULL},
	{"!#$%&'*+-/=?^_`{|}~@x", 0, "!#$%&'*+-/=?^_`{|}~", "x", NULL},
	{"user@[192.0.2.1]", 0, "user", "[192.0.2.1]", NULL},
	{"user@[IPv6:2001:db8::1]", 0, "user", "[IPv6:2001:db8::1]", NULL},
	{"user@[ipv6:::1]", 0, "user", "[ipv6:::1]", NULL},
	{"user@[IPv6:::ffff:192.0.2.1]", 0, "user", "[IPv6:::ffff:192.0.2.1]", NULL},
	{"user@[x-tag:abc]", 0, "user", "[x-tag:abc]", NULL},
	{"\"john doe\"@x.org", 0, "john doe", "x.org", NULL},
	{"\"a\\\"b\"@x", 0, "a\"b", "x", NULL},
	{"\"plain\"@x", 0, "plain", "x", "plain@x"},
	{"\"a\\b\"@x", 0, "ab", "x", "ab@x"},
	{"\"\"@x", 0, "", "x", NULL},
	{"\"a..b\"@x", 0, "a..b", "x", NULL},
	{"USER@EXAMPLE.COM", 0, "USER", "EXAMPLE.COM", NULL},
	{"u@a-b.c0", 0, "u", "a-b.c0", NULL},
	{"postmaster", PM, "postmaster", NULL, NULL},
	{"PostMaster", PM, "PostMaster", NULL, NULL},
	{"justuser", ND, "justuser", NULL, NULL},
	{"j\xc3\xb6rg@m\xc3\xbcller.de", U, "j\xc3\xb6rg", "m\xc3\xbcller.de", NULL},
	{"\"j\xc3\xb6 rg\"@x", U, "j\xc3\xb6 rg", "x", NULL},
	{"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", U,
	 "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", NULL},

	{"", 0, NULL, NULL, NULL},
	{"user", 0, NULL, NULL, NULL},
	{"user", PM, NULL, NULL, NULL},
	{"\"postmaster\"", PM, NULL, NULL, NULL},
	{"@x", 0, NULL, NULL, NULL},
	{"user@", 0, NULL, NULL, NULL},
	{".user@x", 0, NULL, NULL, NULL},
	{"user.@x", 0, NULL, NULL, NULL},
	{"us..er@x", 0, NULL, NULL, NULL},
	{"us er@x", 0, NULL, NULL, NULL},
	{"user@x..y", 0, NULL, NULL, NULL},
	{"user@.x", 0, NULL, NULL, NULL},
	{"user@x.", 0, NULL, NULL, NULL},
	{"user@-x.y", 0, NULL, NULL, NULL},
	{"user@x-.y", 0, NULL, NULL, NULL},
	{"user@x_y.z", 0, NULL, NULL, NULL},
	{"user@x y", 0, NULL, NULL, NULL},
	{"a@b@c", 0, NULL, NULL, NULL},
	{"(comment)user@x", 0, NULL, NULL, NULL},
	{"user@[192.0.2.256]", 0, NULL, NULL, NULL},
	{"user@[192.0.2]", 0, NULL, NULL, NULL},
	{"user@[192.0.2.1.5]", 0, NULL, NULL, NULL},
	{"user@[1234.0.2.1]", 0, NULL, NULL, NULL},
	{"user@[192.0.2.1", 0, NULL, NULL, NULL},
	{"user@[IPv6:2001:db8::g]", 0, NULL, NULL, NULL},
	{"user@[IPv6:1:2:3:4:5:6:7:8:9]", 0, NULL, NULL, NULL},
	{"user@[IPv6:]", 0, NULL, NULL, NULL},
	{"user@[:abc]", 0, NULL, NULL, NULL},
	{"user@[tag:]", 0, NULL, NULL, NULL},
	{"user@[tag:a\\b]", 0, NULL, NULL, NULL},
	{"\"unterminated@x", 0, NULL, NULL, NULL},
	{"\"a\tb\"@x", 0, NULL, NULL, NULL},
	{"\"a\\\x01\"@x", 0, NULL, NULL, NULL},
	{"us\x01er@x", 0, NULL, NULL, NULL},
	{"j\xc3\xb6rg@x", 0, NULL, NULL, NULL},
	{"user@m\xc3\xbcller.de", 0, NULL, NULL, NULL},
	{"j\xc3@x", U, NULL, NULL, NULL},            /* truncated */
	{"j\xc0\xafrg@x", U, NULL, NULL, NULL},      /* overlong */
	{"j\xed\xa0\x80rg@x", U, NULL, NULL, NULL},  /* surrogate */
	{"j\xf4\x90\x80\x80@x", U, NULL, NULL, NULL},/* > U+10FFFF */
	{"j\xffrg@x", U, NULL, NULL, NULL},
	{"\"a\xc3\"@x", U, NULL, NULL, NULL},
};

static void test_address_table(void **state)
{
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(address_tests); i++) {
		struct smtp_address addr;
		const char *error = NULL;
		int ret = smtp_address_parse(address_tests[i].in, pool,
					     address_tests[i].flags, &addr,
					     &error);
		if (address_tests[i].localpart == NULL) {
			if (ret != -1)
				fail_msg("accepted #%zu: %s", i,
					 address_tests[i].in);
			assert_non_null(error);
			continue;
		}
		if (ret != 1)
			fail_msg("refused #%zu: %s: %s", i,
				 address_tests[i].in, error);
		assert_string_equal(addr.localpart, address_tests[i].localpart);
		if (address_tests[i].domain == NULL)
			assert_null(addr.domain);
		else
			assert_string_equal(addr.domain,
					    address_tests[i].domain);
		assert_string_equal(smtp_address_to_string(pool, &addr),
				    address_tests[i].written != NULL ?
				    address_tests[i].written :
				    address_tests[i].in);
	}
	pool_destroy(&pool);
}

static void test_lengths(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct smtp_address addr;
	const char *error;
	char s[600];

	/* 64-octet local part is fine, 65 is not. */
	memset(s, 'a', 64);
	memcpy(s + 64, "@x.org", 7);
	assert_int_equal(smtp_address_parse(s, pool, 0, &addr, &error), 1);
	memset(s, 'a', 65);
	memcpy(s + 65, "@x.org", 7);
	assert_int_equal(smtp_address_parse(s, pool, 0, &addr, &error), -1);
	assert_string_equal(error, "Local part too long");

	/* Domain of 255 octets in 63-octet labels: fine; 256: not. */
	{
		size_t n = 0;
		s[n++] = 'u';
		s[n++] = '@';
		for (int l = 0; l < 4; l++) {
			size_t label = l < 3 ? 63 : 63;
			memset(s + n, 'd', label);
			n += label;
			s[n++] = '.';
		}
		/* 4*64 = 256 with the last dot; drop it: 255. */
		s[--n] = '\0';
		assert_int_equal(smtp_address_parse(s, pool, 0, &addr, &error), 1);
		assert_int_equal(strlen(addr.domain), 255);
		s[n++] = 'e';
		s[n] = '\0';
		assert_int_equal(smtp_address_parse(s, pool, 0, &addr, &error), -1);
	}
	/* A 64-octet label is too long. */
	memcpy(s, "u@", 2);
	memset(s + 2, 'd', 64);
	s[66] = '\0';
	assert_int_equal(smtp_address_parse(s, pool, 0, &addr, &error), -1);
	pool_destroy(&pool);
}

static const struct {
	const char *in;
	bool allow_null;
	int ret;
	const char *written;
	const char *rest;
} path_tests[] = {
	{"<user@x.org>", false, 1, "user@x.org", ""},
	{"<user@x.org> SIZE=10", false, 1, "user@x.org", " SIZE=10"},
	{"<>", true, 1, "", ""},
	{"<>", false, -1, NULL, NULL},
	{"<@a.example,@b.example:user@x.org>", false, 1, "user@x.org", ""},
	{"<@a.example:user@x.org>", false, 1, "user@x.org", ""},
	{"<@a.example,b.example:user@x.org>", false, -1, NULL, NULL},
	{"<@:user@x.org>", false, -1, NULL, NULL},
	{"<@a.example user@x.org>", false, -1, NULL, NULL},
	{"user@x.org", false, -1, NULL, NULL},
	{"<user@x.org", false, -1, NULL, NULL},
	{"<user@x.org>>", false, 1, "user@x.org", ">"},
	{"< user@x.org>", false, -1, NULL, NULL},
	{"<\"a>b\"@x.org>", false, 1, "\"a>b\"@x.org", ""},
};

static void test_path_table(void **state)
{
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(path_tests); i++) {
		struct smtp_address addr;
		const char *error = NULL, *end = NULL;
		int ret = smtp_path_parse(path_tests[i].in, pool, 0,
					  path_tests[i].allow_null, &addr,
					  &end, &error);
		if (ret != path_tests[i].ret)
			fail_msg("#%zu %s: ret %d (%s)", i, path_tests[i].in,
				 ret, error);
		if (ret < 0)
			continue;
		assert_string_equal(smtp_address_to_string(pool, &addr),
				    path_tests[i].written);
		assert_string_equal(end, path_tests[i].rest);
	}
	pool_destroy(&pool);
}

static void test_path_length(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct smtp_address addr;
	const char *error, *end;
	char s[400];
	size_t n = 0;

	/* "<" + 64 + "@" + 189 + ">" = 256 octets: accepted. */
	s[n++] = '<';
	memset(s + n, 'a', 64);
	n += 64;
	s[n++] = '@';
	/* 63 + "." + 63 + "." + 61 = 189 */
	memset(s + n, 'd', 63);
	n += 63;
	s[n++] = '.';
	memset(s + n, 'd', 63);
	n += 63;
	s[n++] = '.';
	memset(s + n, 'd', 61);
	n += 61;
	s[n++] = '>';
	s[n] = '\0';
	assert_int_equal(n, 256);
	assert_int_equal(smtp_path_parse(s, pool, 0, false, &addr, &end, &error), 1);
	/* One more octet in the domain: path too long. */
	memcpy(s + n - 1, "d>", 3);
	assert_int_equal(smtp_path_parse(s, pool, 0, false, &addr, &end, &error), -1);
	assert_string_equal(error, "Path too long");
	pool_destroy(&pool);
}

static void test_utf8_valid(void **state)
{
	assert_true(smtp_utf8_valid((const unsigned char *)"", 0));
	assert_true(smtp_utf8_valid((const unsigned char *)"abc", 3));
	assert_true(smtp_utf8_valid((const unsigned char *)"\xf0\x9f\x93\xaf", 4));
	assert_false(smtp_utf8_valid((const unsigned char *)"\xf0\x9f\x93", 3));
	assert_false(smtp_utf8_valid((const unsigned char *)"\xe0\x80\x80", 3));
	assert_false(smtp_utf8_valid((const unsigned char *)"\x80", 1));
	assert_false(smtp_utf8_valid((const unsigned char *)"\xf5\x80\x80\x80", 4));
}

static void test_domain_valid(void **state)
{
	assert_true(smtp_domain_valid("mail.example.com", 0));
	assert_true(smtp_domain_valid("[127.0.0.1]", 0));
	assert_true(smtp_domain_valid("localhost", 0));
	assert_false(smtp_domain_valid("", 0));
	assert_false(smtp_domain_valid("a..b", 0));
	assert_false(smtp_domain_valid("a b", 0));
	assert_false(smtp_domain_valid("[127.0.0.1", 0));
	assert_false(smtp_domain_valid("m\xc3\xbcller.de", 0));
	assert_true(smtp_domain_valid("m\xc3\xbcller.de", SMTP_ADDRESS_FLAG_ALLOW_UTF8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_length),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_domain_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

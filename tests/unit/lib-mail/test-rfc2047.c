/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "rfc2047.h"

static void test_decode(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		/* RFC 2047 section 8 examples */
		{ "=?ISO-8859-1?Q?a?=", "a" },
		{ "=?ISO-8859-1?Q?a?= b", "a b" },
		{ "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab" },
		{ "=?ISO-8859-1?Q?a_b?=", "a b" },
		{ "=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b" },
		{ "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xc3\xb8rn Simonsen" },
		{ "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>" },
		/* RFC 2231 section 5: language in the charset */
		{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
		{ "=?UTF-8?B?w6nDqA==?=", "\xc3\xa9\xc3\xa8" },
		{ "=?utf-8?b?w6nDqA?=", "\xc3\xa9\xc3\xa8" },
		{ "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "=?windows-1252?Q?=80?=", "\xe2\x82\xac" },
		/* plain text around words, words inside text */
		{ "Re: =?utf-8?q?W=C3=B6rld?=!", "Re: W\xc3\xb6rld!" },
		{ "plain  text\tstays", "plain  text\tstays" },
		{ "a=?utf-8?q?b?=c", "abc" },
		/* malformed: left alone */
		{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
		{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
		{ "=??q?x?=", "=??q?x?=" },
		{ "=?x-nonesuch?q?abc?=", "=?x-nonesuch?q?abc?=" },
		{ "=?utf-8?q?has space?=", "=?utf-8?q?has space?=" },
		/* bad bytes become U+FFFD */
		{ "=?utf-8?q?=FF?=", "\xef\xbf\xbd" },
		{ "raw \xe9t\xe9", "raw \xef\xbf\xbdt\xef\xbf\xbd" },
		{ "", "" },
	};
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *out = rfc2047_decode(pool, (const uint8_t *)cases[i].in,
						 strlen(cases[i].in));
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: '%s' gave '%s', want '%s'", i,
				 cases[i].in, out, cases[i].out);
	}
	/* found by fuzzing: glibc iconv takes "=utf-8" and passes code
	 * points above U+10FFFF; the output must still be valid UTF-8 */
	const char *in = "=?=utf-8?b?9qWLrg==?=";
	const char *out = rfc2047_decode(pool, (const uint8_t *)in, strlen(in));
	assert_null(strchr(out, '\xf6'));
	pool_destroy(&pool);
}

static void test_charset(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(charset_to_utf8("ISO-8859-15", (const uint8_t *)"\xa4", 1, &b), 0);
	assert_string_equal(buf_cstr(&b), "\xe2\x82\xac");
	buf_reset(&b);
	assert_int_equal(charset_to_utf8("no-such-charset", (const uint8_t *)"x", 1, &b), -1);
	assert_int_equal(charset_to_utf8("../../etc/passwd", (const uint8_t *)"x", 1, &b), -1);
	buf_reset(&b);
	/* invalid input in a known charset */
	assert_int_equal(charset_to_utf8("UTF-16LE", (const uint8_t *)"a\0\0\xd8", 4, &b), 0);
	assert_true(strncmp(buf_cstr(&b), "a", 1) == 0);
	buf_reset(&b);
	utf8_append_valid(&b, (const uint8_t *)"\xc0\x80\xed\xa0\x80ok\xf4\x90\x80\x80", 12);
	assert_string_equal(buf_cstr(&b),
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_charset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

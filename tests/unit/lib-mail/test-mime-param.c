/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "mime-param.h"

/* Renders params as "name=value;..." for compact expectations. */
static const char *params_str(struct pool *pool, const struct mime_param *p,
			      unsigned int count)
{
	struct buf b = BUF_INIT;
	const char *ret;

	for (unsigned int i = 0; i < count; i++)
		buf_printf(&b, "%s=%s;", p[i].name, p[i].value);
	ret = pool_strdup(pool, buf_cstr(&b));
	buf_free(&b);
	return ret;
}

static void test_content_type(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *type, *subtype, *params;
	} cases[] = {
		{ "text/plain", 1, "text", "plain", "" },
		{ "TEXT/Plain; charset=us-ascii", 1, "TEXT", "Plain", "charset=us-ascii;" },
		{ " text / plain ; charset = \"utf-8\" (comment)", 1, "text", "plain", "charset=utf-8;" },
		{ "multipart/mixed;\r\n\tboundary=\"----=_Part_1\"", 1, "multipart", "mixed",
		  "boundary=----=_Part_1;" },
		{ "text/plain; name=\"a \\\"quoted\\\" \\\\ name\"", 1, "text", "plain",
		  "name=a \"quoted\" \\ name;" },
		/* RFC 2045 section 5.1: parameters after a broken one are lost */
		{ "multipart/mixed;; boundary=x", 1, "multipart", "mixed", "" },
		{ "text/plain; a=1; b; c=3", 1, "text", "plain", "a=1;" },
		{ "text/plain; a==?utf-8?q?x?=; b=2", 1, "text", "plain", "a==?utf-8?q?x?=;b=2;" },
		{ "text/plain; a=", 1, "text", "plain", "a=;" },
		{ "text/plain; a=\"unterminated", 1, "text", "plain", "" },
		/* broken type: no parameters at all; a lone type is kept */
		{ "text", 0, "text", NULL, "" },
		{ "text/plain junk; a=b", 0, NULL, NULL, "" },
		{ "text/plain/x", 0, NULL, NULL, "" },
		/* junk after a value: skipped up to the next ';' */
		{ "text/plain; format=flo junk; delsp=yes", 1, "text", "plain",
		  "format=flo;delsp=yes;" },
		{ "text/plain; protocol=\"a/b\"\xc3\xa9; boundary=x", 1, "text", "plain",
		  "protocol=a/b;boundary=x;" },
		{ "text/plain; name=a/b.txt; c=d", 1, "text", "plain", "name=a;c=d;" },
		{ "application-x-gzip; name=\"a.gz\"", 0, NULL, NULL, "" },
		{ "text/", 0, NULL, NULL, "" },
		{ "", 0, NULL, NULL, "" },
		{ "/plain", 0, NULL, NULL, "" },
		{ "(only a comment)", 0, NULL, NULL, "" },
	};
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *type, *subtype;
		struct mime_param *params;
		unsigned int count;
		int ret = mime_content_type_parse(pool, cases[i].in, &type,
						  &subtype, &params, &count);

		assert_int_equal(ret, cases[i].ret);
		if (cases[i].type == NULL)
			assert_null(type);
		else
			assert_string_equal(type, cases[i].type);
		if (cases[i].subtype == NULL)
			assert_null(subtype);
		else
			assert_string_equal(subtype, cases[i].subtype);
		assert_string_equal(params_str(pool, params, count), cases[i].params);
	}
	pool_destroy(&pool);
}

static void test_rfc2231(void **state)
{
	static const struct {
		const char *in, *params;
	} cases[] = {
		/* RFC 2231 section 3: continuations */
		{ "; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
		  "URL=ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar;" },
		/* section 4: charset and language, kept encoded with name* */
		{ "; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
		  "title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A;" },
		/* section 4.1: mixed pieces, out of order; as Dovecot, the
		 * plain piece is appended unescaped */
		{ "; title*2=\"isn't it!\"; title*1*=%2A%2A%2Afun%2A%2A%2A%20; "
		  "title*0*=us-ascii'en'This%20is%20even%20more%20",
		  "title*=us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!;" },
		/* a plain first piece with extended ones after it */
		{ "; t*0=a; t*1*=%41", "t*=''a%41;" },
		/* missing index: pieces left as they are */
		{ "; name*0=a; name*2=c", "name*0=a;name*2=c;" },
		/* invalid star forms are ordinary names */
		{ "; a*b=1; c=2", "a*b=1;c=2;" },
		/* plain parameters first, merged ones after */
		{ "; z*0=1; y=2; z*1=3", "y=2;z=13;" },
		{ "a=b; c=\"d\"", "a=b;c=d;" },
	};
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct mime_param *params;
		unsigned int count;

		mime_params_parse(pool, cases[i].in, &params, &count);
		assert_string_equal(params_str(pool, params, count), cases[i].params);
	}
	pool_destroy(&pool);
}

static void test_rfc2231_decode(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	const char *out, *lang;

	assert_int_equal(rfc2231_value_decode(pool,
		"us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", &out, &lang), 1);
	assert_string_equal(out, "This is ***fun***");
	assert_string_equal(lang, "en-us");
	assert_int_equal(rfc2231_value_decode(pool, "iso-8859-1''%E9t%E9", &out, &lang), 1);
	assert_string_equal(out, "\xc3\xa9t\xc3\xa9");
	assert_string_equal(lang, "");
	assert_int_equal(rfc2231_value_decode(pool, "utf-8''%C3%A9%", &out, &lang), 1);
	assert_string_equal(out, "\xc3\xa9%");
	/* unknown charset: raw bytes, made valid UTF-8 */
	assert_int_equal(rfc2231_value_decode(pool, "x-nonesuch''a%FFb", &out, &lang), -1);
	assert_string_equal(out, "a\xef\xbf\xbd" "b");
	/* no charset part */
	assert_int_equal(rfc2231_value_decode(pool, "plain%20text", &out, &lang), 1);
	assert_string_equal(out, "plain text");
	pool_destroy(&pool);
}

static void test_disposition(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	const char *disp;
	struct mime_param *params;
	unsigned int count;

	assert_int_equal(mime_disposition_parse(pool,
		"attachment; filename=\"genome.jpeg\";\r\n modification-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"",
		&disp, &params, &count), 1);
	assert_string_equal(disp, "attachment");
	assert_string_equal(params_str(pool, params, count),
		"filename=genome.jpeg;modification-date=Wed, 12 Feb 1997 16:29:51 -0500;");
	assert_string_equal(mime_param_get(params, count, "FILENAME"), "genome.jpeg");
	assert_null(mime_param_get(params, count, "size"));
	assert_int_equal(mime_disposition_parse(pool, "INLINE", &disp, &params, &count), 1);
	assert_string_equal(disp, "INLINE");
	assert_int_equal(count, 0);
	assert_int_equal(mime_disposition_parse(pool, "; filename=x", &disp, &params, &count), 0);
	assert_string_equal(disp, "");
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_rfc2231_decode),
		cmocka_unit_test(test_disposition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

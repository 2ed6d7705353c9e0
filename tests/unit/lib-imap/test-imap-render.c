/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "imap-quote.h"
#include "imap-envelope.h"
#include "imap-bodystructure.h"

static void test_quote(void **state)
{
	static const struct {
		const char *in, *nstring, *nolf, *humans;
	} cases[] = {
		{ "plain", "\"plain\"", "\"plain\"", "\"plain\"" },
		{ "", "\"\"", "\"\"", "\"\"" },
		{ "a \"b\" \\c", "\"a \\\"b\\\" \\\\c\"", "\"a \\\"b\\\" \\\\c\"", "{8}\r\na \"b\" \\c" },
		/* more than four escapes: a literal */
		{ "\"\"\"\"\"", "{5}\r\n\"\"\"\"\"", "{5}\r\n\"\"\"\"\"", "{5}\r\n\"\"\"\"\"" },
		{ "caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9", "{5}\r\ncaf\xc3\xa9", "{5}\r\ncaf\xc3\xa9" },
		{ "a\r\n b", "{5}\r\na\r\n b", "\"a b\"", "{3}\r\na b" },
		{ "a\r\nb", "{4}\r\na\r\nb", "\"a b\"", "{3}\r\na b" },
		{ "a\tb", "\"a\tb\"", "\"a\tb\"", "{3}\r\na b" },
		{ "  a  b  ", "\"  a  b  \"", "\"  a  b  \"", "{3}\r\na b" },
		{ " \t ", "\" \t \"", "\" \t \"", "\"\"" },
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		buf_reset(&b);
		imap_append_nstring(&b, cases[i].in);
		assert_string_equal(buf_cstr(&b), cases[i].nstring);
		buf_reset(&b);
		imap_append_nstring_nolf(&b, cases[i].in);
		assert_string_equal(buf_cstr(&b), cases[i].nolf);
		buf_reset(&b);
		imap_append_string_for_humans(&b, cases[i].in);
		assert_string_equal(buf_cstr(&b), cases[i].humans);
	}
	buf_reset(&b);
	imap_append_nstring(&b, NULL);
	imap_append_nstring_nolf(&b, NULL);
	assert_string_equal(buf_cstr(&b), "NILNIL");
	buf_free(&b);
}

static void test_envelope(void **state)
{
	const char *hdr =
		"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
		"From: Terry Gray <gray@cac.washington.edu>\r\n"
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
		"To: imap@cac.washington.edu\r\n"
		"cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n"
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n\r\nbody\r\n";
	struct buf b = BUF_INIT;

	/* RFC 3501 section 8 example */
	imap_envelope_write_header(&b, (const uint8_t *)hdr, strlen(hdr));
	assert_string_equal(buf_cstr(&b),
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
		"\"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
		"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
		"\"<B27397-0100000@cac.washington.edu>\")");
	buf_reset(&b);
	imap_envelope_write(&b, NULL);
	assert_string_equal(buf_cstr(&b), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&b);
}

static void test_bodystructure(void **state)
{
	const char *msg =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Language: en, de\r\n\r\nhi\r\n"
		"--b\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename=a.png\r\n\r\nAAAA\r\n--b--\r\n";
	struct pool *pool = pool_create("test", 1024);
	const char *env, *bs, *body;

	imap_message_summarize(pool, (const uint8_t *)msg, strlen(msg), &env, &bs);
	assert_string_equal(bs,
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 0 NIL NIL (\"en\" \"de\") NIL)"
		"(\"image\" \"png\" (\"name\" \"a.png\") NIL NIL \"base64\" 4 NIL "
		"(\"attachment\" (\"filename\" \"a.png\")) NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
	assert_string_equal(env, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	body = imap_message_body(pool, (const uint8_t *)msg, strlen(msg));
	assert_string_equal(body,
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 0)"
		"(\"image\" \"png\" (\"name\" \"a.png\") NIL NIL \"base64\" 4) \"mixed\")");
	/* an empty message: text/plain defaults */
	assert_string_equal(imap_message_body(pool, (const uint8_t *)"", 0),
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_bodystructure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

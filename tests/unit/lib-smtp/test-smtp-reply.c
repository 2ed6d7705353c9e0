/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "smtp-reply.h"

static void test_replies(void **state)
{
	static const char stream[] =
		"220 mx.example ESMTP ready\r\n"
		"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
		"250 2.1.0 Ok\r\n"
		"550-5.1.1 No such\r\n550 5.1.1 user\r\n"
		"354\n"
		"452-4.2.2 mixed\r\n452 no code\r\n";
	struct smtp_reply_parser *p = smtp_reply_parser_create(512, 100);

	for (size_t piece = 1; piece <= sizeof(stream); piece++) {
		const uint8_t *data = (const uint8_t *)stream;
		size_t left = sizeof(stream) - 1;
		unsigned n = 0;

		while (left > 0) {
			struct smtp_reply r;
			const char *error;
			size_t consumed, chunk = MIN(piece, left);
			int ret = smtp_reply_parser_parse(p, data, chunk,
							  &consumed, &r, &error);
			assert_true(ret >= 0);
			data += consumed;
			left -= consumed;
			if (ret == 0)
				continue;
			switch (n++) {
			case 0:
				assert_int_equal(r.code, 220);
				assert_false(r.has_enhanced);
				assert_int_equal(r.line_count, 1);
				assert_string_equal(r.lines[0], "mx.example ESMTP ready");
				break;
			case 1:
				assert_int_equal(r.code, 250);
				assert_int_equal(r.line_count, 4);
				assert_string_equal(r.lines[1], "PIPELINING");
				assert_string_equal(r.lines[3], "8BITMIME");
				break;
			case 2:
				assert_true(r.has_enhanced);
				assert_int_equal(r.enh_class, 2);
				assert_int_equal(r.enh_subject, 1);
				assert_int_equal(r.enh_detail, 0);
				assert_string_equal(r.lines[0], "Ok");
				break;
			case 3:
				assert_int_equal(r.code, 550);
				assert_true(r.has_enhanced);
				assert_int_equal(r.line_count, 2);
				assert_string_equal(r.lines[1], "user");
				break;
			case 4:
				assert_int_equal(r.code, 354);
				assert_string_equal(r.lines[0], "");
				break;
			case 5:
				assert_int_equal(r.code, 452);
				assert_false(r.has_enhanced);
				assert_string_equal(r.lines[0], "4.2.2 mixed");
				break;
			}
		}
		assert_int_equal(n, 6);
	}
	smtp_reply_parser_destroy(&p);
	assert_null(p);
}

static const struct {
	const char *in;
	const char *error;
} bad_tests[] = {
	{"abc\r\n", "Invalid reply code"},
	{"25\r\n", "Invalid reply code"},
	{"199 x\r\n", "Invalid reply code"},
	{"600 x\r\n", "Invalid reply code"},
	{"260 x\r\n", "Invalid reply code"},
	{"250x\r\n", "Invalid reply line separator"},
	{"250-a\r\n251 b\r\n", "Reply code changed in a multi-line reply"},
	{"250-a\r\n250-b\r\n250-c\r\n250 d\r\n", "Too many lines in reply"},
	{"250 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", "Reply line too long"},
	{"250 a\0b\r\n", "NUL in reply"},
};

static void test_bad(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(bad_tests); i++) {
		struct smtp_reply_parser *p = smtp_reply_parser_create(32, 3);
		size_t len = strlen(bad_tests[i].in), consumed;
		struct smtp_reply r;
		const char *error = NULL;

		if (strcmp(bad_tests[i].error, "NUL in reply") == 0)
			len = 9; /* the table's string stops at its NUL */
		if (smtp_reply_parser_parse(p, (const uint8_t *)bad_tests[i].in,
					    len, &consumed, &r, &error) != -1)
			fail_msg("#%zu accepted", i);
		assert_string_equal(error, bad_tests[i].error);
		smtp_reply_parser_destroy(&p);
	}
}

static void test_write(void **state)
{
	struct buf b = BUF_INIT;

	smtp_reply_write(&b, 250, "2.0.0", "Ok");
	assert_string_equal(buf_cstr(&b), "250 2.0.0 Ok\r\n");
	buf_reset(&b);
	smtp_reply_write(&b, 250, NULL, "mx\nPIPELINING\nSIZE 10");
	assert_string_equal(buf_cstr(&b), "250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

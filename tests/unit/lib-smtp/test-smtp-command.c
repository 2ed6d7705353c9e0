/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "smtp-command.h"

static const struct {
	const char *line;
	int ret;
	enum smtp_verb verb;
	const char *name;
	const char *args;
	unsigned code;
} line_tests[] = {
	{"EHLO client.example\r\n", 1, SMTP_VERB_EHLO, "EHLO", "client.example", 0},
	{"ehlo client.example\r\n", 1, SMTP_VERB_EHLO, "EHLO", "client.example", 0},
	{"MAIL FROM:<a@b>  \r\n", 1, SMTP_VERB_MAIL, "MAIL", "FROM:<a@b>", 0},
	{"rcpt  TO:<a@b>\n", 1, SMTP_VERB_RCPT, "RCPT", "TO:<a@b>", 0},
	{"DATA\r\n", 1, SMTP_VERB_DATA, "DATA", "", 0},
	{"QUIT", 1, SMTP_VERB_QUIT, "QUIT", "", 0},
	{"StartTLS\r\n", 1, SMTP_VERB_STARTTLS, "STARTTLS", "", 0},
	{"BDAT 100 LAST\r\n", 1, SMTP_VERB_BDAT, "BDAT", "100 LAST", 0},
	{"XFOO bar\r\n", 1, SMTP_VERB_UNKNOWN, "XFOO", "bar", 0},
	{"\r\n", 1, SMTP_VERB_UNKNOWN, "", "", 0},
	{"MAILX FROM:<>\r\n", 1, SMTP_VERB_UNKNOWN, "MAILX", "FROM:<>", 0},
	{"NOOP\tx\r\n", 1, SMTP_VERB_NOOP, "NOOP", "x", 0},
	{"NO\rOP\r\n", -1, 0, NULL, NULL, 500},
	{"NOOP\r\r\n", -1, 0, NULL, NULL, 500},
	{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x\r\n", -1, 0, NULL, NULL, 500},
};

static void test_parse_line(void **state)
{
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(line_tests); i++) {
		struct smtp_command cmd;
		struct smtp_error error = {0};
		int ret = smtp_command_parse_line(pool, line_tests[i].line,
						  strlen(line_tests[i].line),
						  &cmd, &error);
		if (ret != line_tests[i].ret)
			fail_msg("#%zu: ret %d", i, ret);
		if (ret < 0) {
			assert_int_equal(error.code, line_tests[i].code);
			continue;
		}
		assert_int_equal(cmd.verb, line_tests[i].verb);
		assert_string_equal(cmd.name, line_tests[i].name);
		assert_string_equal(cmd.args, line_tests[i].args);
	}
	pool_destroy(&pool);
}

static void test_parse_nul(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct smtp_command cmd;
	struct smtp_error error;

	assert_int_equal(smtp_command_parse_line(pool, "NO\0OP\r\n", 7, &cmd,
						 &error), -1);
	assert_int_equal(error.code, 500);
	assert_string_equal(error.enhanced, "5.5.2");
	pool_destroy(&pool);
}

/* Feeding a pipelined stream one byte at a time and all at once gives the
 * same commands, and the parser stops after each line. */
static void test_stream_pieces(void **state)
{
	static const char stream[] =
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\nDATA\r\nbody";
	static const char *const names[] = {"EHLO", "MAIL", "RCPT", "DATA"};

	for (size_t piece = 1; piece <= sizeof(stream); piece++) {
		struct smtp_command_parser *p = smtp_command_parser_create(512);
		const uint8_t *data = (const uint8_t *)stream;
		size_t left = sizeof(stream) - 1, n_cmds = 0;

		while (left > 0 && n_cmds < 4) {
			size_t n = MIN(piece, left), consumed;
			struct smtp_command cmd;
			struct smtp_error error;
			int ret = smtp_command_parser_parse(p, data, n, &consumed,
							    &cmd, &error);
			assert_true(ret >= 0);
			assert_true(consumed <= n);
			if (ret == 1) {
				assert_string_equal(cmd.name, names[n_cmds]);
				n_cmds++;
			} else {
				assert_int_equal(consumed, n);
			}
			data += consumed;
			left -= consumed;
		}
		assert_int_equal(n_cmds, 4);
		/* What follows DATA is left to the caller. */
		assert_int_equal(left, 4);
		assert_memory_equal(data, "body", 4);
		smtp_command_parser_destroy(&p);
		assert_null(p);
	}
}

static void test_line_too_long(void **state)
{
	struct smtp_command_parser *p = smtp_command_parser_create(16);
	struct smtp_command cmd;
	struct smtp_error error;
	size_t consumed;
	char longline[100];

	memset(longline, 'A', sizeof(longline));
	/* Fed in pieces without LF: swallowed, no error yet. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)longline,
							   sizeof(longline), &consumed,
							   &cmd, &error), 0);
		assert_int_equal(consumed, sizeof(longline));
	}
	/* The error comes at the line's end, then the parser goes on. */
	assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)"AA\r\nNOOP\r\n",
						   10, &consumed, &cmd, &error), -1);
	assert_int_equal(consumed, 4);
	assert_int_equal(error.code, 500);
	assert_string_equal(error.text, "Line too long");
	assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)"NOOP\r\n",
						   6, &consumed, &cmd, &error), 1);
	assert_int_equal(cmd.verb, SMTP_VERB_NOOP);
	/* Exactly at the limit (16 with CRLF) is fine, 17 is not. */
	assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)"NOOP 678901234\r\n",
						   16, &consumed, &cmd, &error), 1);
	assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)"NOOP 6789012345\r\n",
						   17, &consumed, &cmd, &error), -1);
	/* A long line all in one piece. */
	assert_int_equal(smtp_command_parser_parse(p, (const uint8_t *)"NOOP 67890123456789\r\nQUIT\r\n",
						   27, &consumed, &cmd, &error), -1);
	assert_int_equal(consumed, 21);
	smtp_command_parser_destroy(&p);
}

#define ALL SMTP_CAP_ALL

static const struct {
	const char *args;
	unsigned caps;
	int ret;
	unsigned code;
	const char *enhanced;
	const char *text; /* NULL: not checked */
} mail_tests[] = {
	{"FROM:<a@b.c>", ALL, 1, 0, NULL, NULL},
	{"from:<a@b.c>", ALL, 1, 0, NULL, NULL},
	{"FROM: <a@b.c>", ALL, 1, 0, NULL, NULL},
	{"FROM:<>", ALL, 1, 0, NULL, NULL},
	{"FROM:<a@b.c> SIZE=1000 BODY=8BITMIME", ALL, 1, 0, NULL, NULL},
	{"FROM:<a@b.c> body=binarymime", ALL, 1, 0, NULL, NULL},
	{"FROM:<a@b.c> BODY=7BIT RET=HDRS ENVID=QQ314159", ALL, 1, 0, NULL, NULL},
	{"FROM:<a@b.c> AUTH=<>", ALL, 1, 0, NULL, NULL},
	{"FROM:<a@b.c> AUTH=e+2Bf@x", ALL, 1, 0, NULL, NULL},
	{"FROM:<\xc3\xa4@b.c> SMTPUTF8", ALL, 1, 0, NULL, NULL},
	{"FROM:<@r.example:a@b.c>", ALL, 1, 0, NULL, NULL},

	{"", ALL, -1, 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
	{"TO:<a@b.c>", ALL, -1, 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
	{"FROM:", ALL, -1, 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
	{"FROM:a@b.c", ALL, -1, 501, "5.1.7", NULL},
	{"FROM:<a@b.c", ALL, -1, 501, "5.1.7", NULL},
	{"FROM:<a b@c>", ALL, -1, 501, "5.1.7", NULL},
	{"FROM:<a@b.c>x", ALL, -1, 501, "5.1.7",
	 "Bad sender address syntax: Invalid characters after address"},
	{"FROM:<\xc3\xa4@b.c>", ALL, -1, 550, "5.6.7",
	 "Non-ASCII sender address requires SMTPUTF8"},
	{"FROM:<\xc3\xa4@b.c>", 0, -1, 550, "5.6.7", NULL},
	{"FROM:<\xc3@b.c> SMTPUTF8", ALL, -1, 501, "5.1.7", NULL},
	{"FROM:<a@b.c> SMTPUTF8=yes", ALL, -1, 501, "5.5.4", NULL},
	{"FROM:<a@b.c> SIZE=", ALL, -1, 501, "5.5.4", "Invalid parameter syntax"},
	{"FROM:<a@b.c> SIZE", ALL, -1, 501, "5.5.4", "Invalid SIZE value"},
	{"FROM:<a@b.c> SIZE=-1", ALL, -1, 501, "5.5.4", "Invalid SIZE value"},
	{"FROM:<a@b.c> SIZE=123456789012345678901", ALL, -1, 501, "5.5.4", NULL},
	{"FROM:<a@b.c> SIZE=99999999999999999999", ALL, -1, 501, "5.5.4", NULL},
	{"FROM:<a@b.c> SIZE=1 SIZE=2", ALL, -1, 501, "5.5.4", "Duplicate parameter"},
	{"FROM:<a@b.c> BODY=9BIT", ALL, -1, 501, "5.5.4", "Invalid BODY value"},
	{"FROM:<a@b.c> BODY=BINARYMIME", SMTP_CAP_8BITMIME, -1, 501, "5.5.4", NULL},
	{"FROM:<a@b.c> RET=ALL", ALL, -1, 501, "5.5.4", "Invalid RET value"},
	{"FROM:<a@b.c> ENVID=a+zz", ALL, -1, 501, "5.5.4", "Invalid ENVID value"},
	{"FROM:<a@b.c> XFOO=1", ALL, -1, 555, "5.5.4", "Unsupported parameter: XFOO"},
	{"FROM:<a@b.c> SIZE=10", 0, -1, 555, "5.5.4", "Unsupported parameter: SIZE"},
	{"FROM:<a@b.c> RET=FULL", SMTP_CAP_SIZE, -1, 555, "5.5.4", NULL},
	{"FROM:<a@b.c> -X=1", ALL, -1, 501, "5.5.4", "Invalid parameter syntax"},
	{"FROM:<a@b.c> X=a=b", ALL, -1, 501, "5.5.4", "Invalid parameter syntax"},
	{"FROM:<a@b.c> X=\x01", ALL, -1, 501, "5.5.4", "Invalid parameter syntax"},
};

static void test_mail_args(void **state)
{
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(mail_tests); i++) {
		struct smtp_mail_args mail;
		struct smtp_error error = {0};
		int ret = smtp_mail_args_parse(mail_tests[i].args, pool,
					       mail_tests[i].caps, &mail,
					       &error);
		if (ret != mail_tests[i].ret)
			fail_msg("#%zu %s: ret %d (%u %s)", i, mail_tests[i].args,
				 ret, error.code, error.text);
		if (ret > 0)
			continue;
		if (error.code != mail_tests[i].code)
			fail_msg("#%zu %s: code %u %s", i, mail_tests[i].args,
				 error.code, error.text);
		assert_string_equal(error.enhanced, mail_tests[i].enhanced);
		if (mail_tests[i].text != NULL)
			assert_string_equal(error.text, mail_tests[i].text);
	}
	pool_destroy(&pool);
}

static void test_mail_values(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct smtp_mail_args mail;
	struct smtp_error error;

	assert_int_equal(smtp_mail_args_parse(
		"FROM:<a@b.c> SIZE=4096 BODY=8BITMIME RET=FULL ENVID=x+2By+3Dz "
		"SMTPUTF8 AUTH=u+2Bv@w", pool, ALL, &mail, &error), 1);
	assert_string_equal(mail.path.localpart, "a");
	assert_string_equal(mail.path.domain, "b.c");
	assert_true(mail.size_set);
	assert_int_equal(mail.size, 4096);
	assert_int_equal(mail.body, SMTP_BODY_8BITMIME);
	assert_int_equal(mail.ret, SMTP_DSN_RET_FULL);
	assert_string_equal(mail.envid, "x+y=z");
	assert_string_equal(mail.envid_raw, "x+2By+3Dz");
	assert_true(mail.smtputf8);
	assert_string_equal(mail.auth, "u+v@w");

	assert_int_equal(smtp_mail_args_parse("FROM:<>", pool, ALL, &mail,
					      &error), 1);
	assert_true(smtp_address_is_null(&mail.path));
	assert_false(mail.size_set);
	assert_int_equal(mail.body, SMTP_BODY_UNSPECIFIED);
	assert_null(mail.envid);
	pool_destroy(&pool);
}

static const struct {
	const char *args;
	bool smtputf8;
	int ret;
	unsigned code;
	const char *enhanced;
} rcpt_tests[] = {
	{"TO:<a@b.c>", false, 1, 0, NULL},
	{"to: <a@b.c>", false, 1, 0, NULL},
	{"TO:<postmaster>", false, 1, 0, NULL},
	{"TO:<Postmaster>", false, 1, 0, NULL},
	{"TO:<a@b.c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b.c", false, 1, 0, NULL},
	{"TO:<a@b.c> NOTIFY=never", false, 1, 0, NULL},
	{"TO:<\xc3\xa4@b.c>", true, 1, 0, NULL},
	{"TO:<@x.y:a@b.c>", false, 1, 0, NULL},
	{"", false, -1, 501, "5.5.4"},
	{"FROM:<a@b.c>", false, -1, 501, "5.5.4"},
	{"TO:<>", false, -1, 501, "5.1.3"},
	{"TO:<user>", false, -1, 501, "5.1.3"},
	{"TO:a@b.c", false, -1, 501, "5.1.3"},
	{"TO:<a@b..c>", false, -1, 501, "5.1.3"},
	{"TO:<\xc3\xa4@b.c>", false, -1, 553, "5.6.7"},
	{"TO:<a@b.c> NOTIFY=NEVER,SUCCESS", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> NOTIFY=SOMETIMES", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> NOTIFY=", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> ORCPT=rfc822", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> ORCPT=;a@b.c", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> ORCPT=rfc822;a+4", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> NOTIFY=DELAY NOTIFY=DELAY", false, -1, 501, "5.5.4"},
	{"TO:<a@b.c> SIZE=10", false, -1, 555, "5.5.4"},
};

static void test_rcpt_args(void **state)
{
	struct pool *pool = pool_create("test", 1024);

	for (size_t i = 0; i < N_ELEMENTS(rcpt_tests); i++) {
		struct smtp_rcpt_args rcpt;
		struct smtp_error error = {0};
		int ret = smtp_rcpt_args_parse(rcpt_tests[i].args, pool, ALL,
					       rcpt_tests[i].smtputf8, &rcpt,
					       &error);
		if (ret != rcpt_tests[i].ret)
			fail_msg("#%zu %s: ret %d (%u %s)", i, rcpt_tests[i].args,
				 ret, error.code, error.text);
		if (ret > 0)
			continue;
		if (error.code != rcpt_tests[i].code)
			fail_msg("#%zu %s: code %u %s", i, rcpt_tests[i].args,
				 error.code, error.text);
		assert_string_equal(error.enhanced, rcpt_tests[i].enhanced);
	}
	pool_destroy(&pool);
}

static void test_rcpt_values(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct smtp_rcpt_args rcpt;
	struct smtp_error error;

	assert_int_equal(smtp_rcpt_args_parse(
		"TO:<a@b.c> NOTIFY=failure,Delay ORCPT=rfc822;Jo+20+2B@x.y",
		pool, ALL, false, &rcpt, &error), 1);
	assert_int_equal(rcpt.notify,
			 SMTP_DSN_NOTIFY_FAILURE | SMTP_DSN_NOTIFY_DELAY);
	assert_string_equal(rcpt.orcpt_type, "rfc822");
	assert_string_equal(rcpt.orcpt_addr, "Jo +@x.y");
	assert_string_equal(rcpt.orcpt_raw, "rfc822;Jo+20+2B@x.y");

	assert_int_equal(smtp_rcpt_args_parse("TO:<postmaster>", pool, ALL,
					      false, &rcpt, &error), 1);
	assert_string_equal(rcpt.path.localpart, "postmaster");
	assert_null(rcpt.path.domain);
	pool_destroy(&pool);
}

static void test_bdat_args(void **state)
{
	struct smtp_error error;
	uint64_t size;
	bool last;

	assert_int_equal(smtp_bdat_args_parse("100", &size, &last, &error), 1);
	assert_int_equal(size, 100);
	assert_false(last);
	assert_int_equal(smtp_bdat_args_parse("0 LAST", &size, &last, &error), 1);
	assert_int_equal(size, 0);
	assert_true(last);
	assert_int_equal(smtp_bdat_args_parse("7 last", &size, &last, &error), 1);
	assert_true(last);
	assert_int_equal(smtp_bdat_args_parse("", &size, &last, &error), -1);
	assert_int_equal(error.code, 501);
	assert_int_equal(smtp_bdat_args_parse("x", &size, &last, &error), -1);
	assert_int_equal(smtp_bdat_args_parse("10 FIRST", &size, &last, &error), -1);
	assert_int_equal(smtp_bdat_args_parse("10LAST", &size, &last, &error), -1);
	assert_int_equal(smtp_bdat_args_parse("99999999999999999999999", &size,
					      &last, &error), -1);
}

static void test_helo_args(void **state)
{
	struct smtp_error error;
	const char *domain;
	bool valid;

	assert_int_equal(smtp_helo_args_parse("mx.example.org", &domain, &valid,
					      &error), 1);
	assert_string_equal(domain, "mx.example.org");
	assert_true(valid);
	assert_int_equal(smtp_helo_args_parse("[127.0.0.1]", &domain, &valid,
					      &error), 1);
	assert_true(valid);
	assert_int_equal(smtp_helo_args_parse("bad_name", &domain, &valid,
					      &error), 1);
	assert_false(valid);
	assert_int_equal(smtp_helo_args_parse("", &domain, &valid, &error), -1);
	assert_int_equal(error.code, 501);
	assert_int_equal(smtp_helo_args_parse("two words", &domain, &valid,
					      &error), -1);
}

static void test_xtext(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct buf b = BUF_INIT;
	const char *out;
	static const char raw[] = "a+b=c d\xc3\xa4~!";

	assert_int_equal(smtp_xtext_decode("abc", pool, &out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(smtp_xtext_decode("a+2Bb+3D", pool, &out), 0);
	assert_string_equal(out, "a+b=");
	assert_int_equal(smtp_xtext_decode("a+2b", pool, &out), 0);
	assert_int_equal(smtp_xtext_decode("a+2", pool, &out), -1);
	assert_int_equal(smtp_xtext_decode("a+", pool, &out), -1);
	assert_int_equal(smtp_xtext_decode("a+GG", pool, &out), -1);
	assert_int_equal(smtp_xtext_decode("a=b", pool, &out), -1);
	assert_int_equal(smtp_xtext_decode("a b", pool, &out), -1);
	assert_int_equal(smtp_xtext_decode("+00", pool, &out), -1);

	smtp_xtext_encode(&b, raw, strlen(raw));
	assert_string_equal(buf_cstr(&b), "a+2Bb+3Dc+20d+C3+A4~!");
	assert_int_equal(smtp_xtext_decode(buf_cstr(&b), pool, &out), 0);
	assert_string_equal(out, raw);
	buf_free(&b);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_stream_pieces),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_mail_args),
		cmocka_unit_test(test_mail_values),
		cmocka_unit_test(test_rcpt_args),
		cmocka_unit_test(test_rcpt_values),
		cmocka_unit_test(test_bdat_args),
		cmocka_unit_test(test_helo_args),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

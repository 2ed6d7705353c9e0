/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "smtp-data.h"

static const struct smtp_data_limits no_limits = {0};

struct data_case {
	const char *in;
	size_t in_len; /* 0: strlen */
	int ret;       /* 1: end found */
	const char *out;
	size_t rest;   /* bytes left after the end */
	enum smtp_data_error error;
};

static const struct data_case dot_tests[] = {
	{".\r\n", 0, 1, "", 0, 0},
	{"a\r\n.\r\n", 0, 1, "a\r\n", 0, 0},
	{"a\r\n.\r\nQUIT\r\n", 0, 1, "a\r\n", 6, 0},
	{"..\r\n.\r\n", 0, 1, ".\r\n", 0, 0},
	{"..a\r\n...\r\n.\r\n", 0, 1, ".a\r\n..\r\n", 0, 0},
	{"a.\r\n.b\r\n.\r\n", 0, 1, "a.\r\nb\r\n", 0, 0},
	{"Subject: x\r\n\r\nbody\r\n.\r\n", 0, 1, "Subject: x\r\n\r\nbody\r\n", 0, 0},
	{"a\r\n. \r\n.\r\n", 0, 1, "a\r\n \r\n", 0, 0},
	{"a\r\n", 0, 0, "a\r\n", 0, 0},
	{"a\r\n.", 0, 0, "a\r\n", 0, 0},
	{"a\r\n.\r", 0, 0, "a\r\n", 0, 0},
	/* Smuggling: none of these end the content. */
	{"a\n.\n", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_LF},
	{"a\r\n.\n", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_LF},
	{"a\n.\r\n", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_LF},
	{"a\r.\r", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_CR},
	{"a\r.\r\n", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_CR},
	{"a\r\n.\rX", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_CR},
	/* ...and the real end still works after them, leaving the rest. */
	{"a\n.\nb\r\n.\r\nNOOP\r\n", 0, 1, "", 6, SMTP_DATA_ERROR_BARE_LF},
	{"a\r.\rb\r\n.\r\nNOOP\r\n", 0, 1, "", 6, SMTP_DATA_ERROR_BARE_CR},
	{"a\nb\r\n.\r\n", 0, 1, "", 0, SMTP_DATA_ERROR_BARE_LF},
	{"a\0b\r\n.\r\n", 8, 1, "", 0, SMTP_DATA_ERROR_NUL},
	{"8bit \xc3\xa4\r\n.\r\n", 0, 1, "8bit \xc3\xa4\r\n", 0, 0},
};

/* Feeds in every piece size and checks the same result each time. */
static void run_case(const struct data_case *t, enum smtp_data_mode mode,
		     const struct smtp_data_limits *limits, size_t idx)
{
	size_t len = t->in_len != 0 ? t->in_len : strlen(t->in);

	for (size_t piece = 1; piece <= len; piece++) {
		struct smtp_data_decoder *dec = smtp_data_decoder_create(mode, limits);
		struct buf out = BUF_INIT;
		const uint8_t *data = (const uint8_t *)t->in;
		size_t left = len;
		int ret = 0;

		while (left > 0 && ret == 0) {
			size_t n = MIN(piece, left), consumed;
			ret = smtp_data_decoder_feed(dec, data, n, &out, &consumed);
			assert_true(consumed <= n);
			if (ret == 0)
				assert_int_equal(consumed, n);
			data += consumed;
			left -= consumed;
		}
		if (ret != t->ret || left != t->rest)
			fail_msg("#%zu piece %zu: ret %d left %zu", idx, piece,
				 ret, left);
		if (smtp_data_decoder_error(dec) != t->error)
			fail_msg("#%zu piece %zu: error %d", idx, piece,
				 smtp_data_decoder_error(dec));
		if (t->error == 0) {
			/* Binary cases (in_len set) expect out == in. */
			size_t out_len = t->in_len != 0 ? t->in_len : strlen(t->out);
			if (out.len != out_len ||
			    (out_len > 0 &&
			     memcmp(out.data, t->out, out_len) != 0))
				fail_msg("#%zu piece %zu: out '%s'", idx, piece,
					 buf_cstr(&out));
		}
		buf_free(&out);
		smtp_data_decoder_destroy(&dec);
		assert_null(dec);
	}
}

static void test_dot_table(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(dot_tests); i++)
		run_case(&dot_tests[i], SMTP_DATA_MODE_DOT, &no_limits, i);
}

static const struct data_case raw_tests[] = {
	{"a\r\n.\r\nb", 0, 0, "a\r\n.\r\nb", 0, 0},
	{"..\r\n", 0, 0, "..\r\n", 0, 0},
	{"a\nb", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_LF},
	{"a\rb", 0, 0, "", 0, SMTP_DATA_ERROR_BARE_CR},
	{"a\0b", 3, 0, "", 0, SMTP_DATA_ERROR_NUL},
};

static void test_raw_table(void **state)
{
	struct smtp_data_limits binary = {.binary = true};

	for (size_t i = 0; i < N_ELEMENTS(raw_tests); i++)
		run_case(&raw_tests[i], SMTP_DATA_MODE_RAW, &no_limits, i);
	/* BDAT with bare LF allowed: a line end, CR and NUL still refused. */
	{
		struct smtp_data_limits lf = {.allow_bare_lf = true, .max_headers = 1};
		static const struct data_case lf_ok = {"A: b\n\nc\n", 0, 0, "A: b\n\nc\n", 0, 0};
		static const struct data_case lf_hdr = {"A: b\nB: c\n\n", 0, 0, "", 0,
							SMTP_DATA_ERROR_TOO_MANY_HEADERS};
		static const struct data_case lf_cr = {"a\rb\n", 0, 0, "", 0,
						       SMTP_DATA_ERROR_BARE_CR};
		run_case(&lf_ok, SMTP_DATA_MODE_RAW, &lf, 200);
		run_case(&lf_hdr, SMTP_DATA_MODE_RAW, &lf, 201);
		run_case(&lf_cr, SMTP_DATA_MODE_RAW, &lf, 202);
		/* Ignored in dot mode. */
		static const struct data_case dot_lf = {"a\n.\r\n", 0, 0, "", 0,
							SMTP_DATA_ERROR_BARE_LF};
		run_case(&dot_lf, SMTP_DATA_MODE_DOT, &lf, 203);
	}
	/* BINARYMIME: anything goes. */
	static const struct data_case bin = {"a\nb\rc\0d", 7, 0, "a\nb\rc\0d", 0, 0};
	run_case(&bin, SMTP_DATA_MODE_RAW, &binary, 100);
}

static void test_size_limit(void **state)
{
	struct smtp_data_limits limits = {.max_size = 10};
	static const struct data_case ok = {"123456789\r\n.\r\n", 0, 1, "", 0,
					    SMTP_DATA_ERROR_TOO_BIG};
	static const struct data_case exact = {"12345678\r\n.\r\n", 0, 1,
					       "12345678\r\n", 0, 0};
	struct smtp_data_decoder *dec;
	struct buf out = BUF_INIT;
	size_t consumed;
	char big[5000];

	run_case(&ok, SMTP_DATA_MODE_DOT, &limits, 0);
	run_case(&exact, SMTP_DATA_MODE_DOT, &limits, 1);

	/* The rest is drained, not stored, and the size still counted. */
	dec = smtp_data_decoder_create(SMTP_DATA_MODE_DOT, &limits);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 100; i++)
		assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)big,
							sizeof(big), &out,
							&consumed), 0);
	assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)"\r\n.\r\n",
						5, &out, &consumed), 1);
	assert_int_equal(smtp_data_decoder_error(dec), SMTP_DATA_ERROR_TOO_BIG);
	assert_true(out.len <= 10);
	assert_int_equal(smtp_data_decoder_size(dec), 500002);

	/* Reset: ready for the next message. */
	buf_reset(&out);
	smtp_data_decoder_reset(dec);
	assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)"ok\r\n.\r\n",
						7, &out, &consumed), 1);
	assert_int_equal(smtp_data_decoder_error(dec), SMTP_DATA_ERROR_NONE);
	assert_string_equal(buf_cstr(&out), "ok\r\n");
	buf_free(&out);
	smtp_data_decoder_destroy(&dec);
}

static void test_headers(void **state)
{
	static const char msg[] =
		"Received: from a\r\n"
		"\tby b\r\n"
		"received : from c\r\n"
		"RECEIVED:x\r\n"
		"Received-SPF: pass\r\n"
		"X-Received: no\r\n"
		"Subject: hi\r\n"
		"\r\n"
		"Received: in body, not counted\r\n"
		".\r\n";
	struct smtp_data_limits limits = {0};
	struct smtp_data_decoder *dec;
	struct buf out = BUF_INIT;
	size_t consumed;

	dec = smtp_data_decoder_create(SMTP_DATA_MODE_DOT, &limits);
	assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)msg,
						strlen(msg), &out, &consumed), 1);
	assert_int_equal(smtp_data_decoder_header_count(dec), 6);
	assert_int_equal(smtp_data_decoder_received_count(dec), 3);
	assert_false(smtp_data_decoder_has_8bit(dec));
	smtp_data_decoder_destroy(&dec);

	limits.max_received = 2;
	dec = smtp_data_decoder_create(SMTP_DATA_MODE_DOT, &limits);
	buf_reset(&out);
	assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)msg,
						strlen(msg), &out, &consumed), 1);
	assert_int_equal(smtp_data_decoder_error(dec), SMTP_DATA_ERROR_TOO_MANY_HOPS);
	smtp_data_decoder_destroy(&dec);

	limits.max_received = 0;
	limits.max_headers = 5;
	dec = smtp_data_decoder_create(SMTP_DATA_MODE_DOT, &limits);
	assert_int_equal(smtp_data_decoder_feed(dec, (const uint8_t *)msg,
						strlen(msg), &out, &consumed), 1);
	assert_int_equal(smtp_data_decoder_error(dec), SMTP_DATA_ERROR_TOO_MANY_HEADERS);
	smtp_data_decoder_destroy(&dec);
	buf_free(&out);
}

static void test_line_limit(void **state)
{
	struct smtp_data_limits limits = {.max_line = 8};
	static const struct data_case ok = {"123456\r\n.\r\n", 0, 1, "123456\r\n", 0, 0};
	static const struct data_case bad = {"1234567\r\n.\r\n", 0, 1, "", 0,
					     SMTP_DATA_ERROR_LINE_TOO_LONG};

	run_case(&ok, SMTP_DATA_MODE_DOT, &limits, 0);
	run_case(&bad, SMTP_DATA_MODE_DOT, &limits, 1);
}

static void test_error_replies(void **state)
{
	struct smtp_error e;

	smtp_data_error_reply(SMTP_DATA_ERROR_TOO_BIG, &e);
	assert_int_equal(e.code, 552);
	assert_string_equal(e.enhanced, "5.3.4");
	smtp_data_error_reply(SMTP_DATA_ERROR_TOO_MANY_HOPS, &e);
	assert_int_equal(e.code, 554);
	assert_string_equal(e.enhanced, "5.4.6");
	smtp_data_error_reply(SMTP_DATA_ERROR_BARE_LF, &e);
	assert_int_equal(e.code, 554);
	smtp_data_error_reply(SMTP_DATA_ERROR_NUL, &e);
	assert_int_equal(e.code, 554);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_table),
		cmocka_unit_test(test_raw_table),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_error_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "imapd.h"

struct decode_case {
	const char *cte;
	const char *in;
	const char *out; /* NULL = unknown encoding */
	size_t out_len;
};

static const struct decode_case cases[] = {
	{ NULL, "as is\r\n", "as is\r\n", 7 },
	{ "7bit", "x", "x", 1 },
	{ "8BIT", "\xc3\xa4", "\xc3\xa4", 2 },
	{ "binary", "b", "b", 1 },
	{ "base64", "aGVsbG8=", "hello", 5 },
	{ "BASE64", "aGVs\r\nbG8gd29y\r\nbGQ=\r\n", "hello world", 11 },
	{ "base64", "AAECAwQ=", "\x00\x01\x02\x03\x04", 5 },
	{ "base64", "!!aG#Vs*bG8=", "hello", 5 }, /* junk skipped */
	{ "base64", "", "", 0 },
	{ "quoted-printable", "a=3Db", "a=b", 3 },
	{ "quoted-printable", "soft=\r\nbreak", "softbreak", 9 },
	{ "quoted-printable", "soft= \t\r\nbreak", "softbreak", 9 },
	{ "quoted-printable", "Gr=FC=DFe", "Gr\xfc\xdf" "e", 5 },
	{ "quoted-printable", "lower=e4x", "lower\xe4x", 7 },
	{ "quoted-printable", "bad=ZZ", "bad=ZZ", 6 },
	{ "quoted-printable", "end=", "end", 3 },
	{ "x-uuencode", "x", NULL, 0 },
};

static void test_decode(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct buf out = BUF_INIT;
		int ret = imapd_cte_decode(cases[i].cte,
					   (const uint8_t *)cases[i].in,
					   strlen(cases[i].in), &out);
		if (cases[i].out == NULL) {
			assert_int_equal(ret, -1);
		} else {
			if (ret != 0 || out.len != cases[i].out_len ||
			    (out.len > 0 && memcmp(out.data, cases[i].out, out.len) != 0))
				fail_msg("case %zu (%s %s): got %d len %zu", i,
					 cases[i].cte == NULL ? "-" : cases[i].cte,
					 cases[i].in, ret, out.len);
		}
		buf_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

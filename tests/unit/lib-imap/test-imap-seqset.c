/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "imap-seqset.h"
#include "imap-utf7.h"

struct seq_case {
	const char *input;
	uint32_t star;
	const char *expect; /* resolved, or NULL = parse error */
};

static const struct seq_case seq_cases[] = {
	{ "1", 10, "1" },
	{ "1:3", 10, "1:3" },
	{ "3:1", 10, "1:3" },
	{ "1,2,3,5", 10, "1:3,5" },
	{ "5:*", 10, "5:10" },
	{ "*", 10, "10" },
	{ "*:4", 10, "4:10" },
	{ "559:*", 100, "100:559" },
	{ "1:*", 0, "" },
	{ "2,4:7,9,12:*", 15, "2,4:7,9,12:15" },
	{ "4294967294", 1, "4294967294" },
	{ "", 1, NULL },
	{ "0", 1, NULL },
	{ "1:0", 1, NULL },
	{ "01", 1, NULL },
	{ "1,", 1, NULL },
	{ ",1", 1, NULL },
	{ "1::2", 1, NULL },
	{ "4294967295", 1, NULL },
	{ "99999999999", 1, NULL },
	{ "a", 1, NULL },
	{ "1 ", 1, NULL },
};

static void test_seqset_parse(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(seq_cases); i++) {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		struct buf out = BUF_INIT;
		const char *error;
		int ret = imap_seqset_parse(seq_cases[i].input, &set, 0, &error);
		if (seq_cases[i].expect == NULL) {
			if (ret != -1)
				fail_msg("case %s: parsed", seq_cases[i].input);
		} else {
			assert_int_equal(ret, 1);
			imap_seqset_resolve(&set, seq_cases[i].star);
			imap_seqset_write(&set, &out);
			if (strcmp(buf_cstr(&out), seq_cases[i].expect) != 0)
				fail_msg("case %s: got %s", seq_cases[i].input,
					 buf_cstr(&out));
		}
		buf_free(&out);
		imap_seqset_free(&set);
	}
}

static void test_seqset_saved_and_limits(void **state)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;

	assert_int_equal(imap_seqset_parse("$", &set, 0, &error), 1);
	assert_true(set.saved);
	assert_int_equal(imap_seqset_parse("1,2,3", &set, 2, &error), -1);
	assert_int_equal(imap_seqset_parse("1:5,7", &set, 2, &error), 1);
	assert_false(set.saved);
	assert_false(imap_seqset_has_star(&set));
	imap_seqset_normalize(&set);
	assert_true(imap_seqset_contains(&set, 1));
	assert_true(imap_seqset_contains(&set, 5));
	assert_false(imap_seqset_contains(&set, 6));
	assert_true(imap_seqset_contains(&set, 7));
	assert_false(imap_seqset_contains(&set, 0));
	assert_int_equal(imap_seqset_count(&set), 6);
	assert_int_equal(imap_seqset_max(&set), 7);
	imap_seqset_free(&set);
}

static void test_seqset_uid_mapping(void **state)
{
	static const uint32_t uids[] = { 3, 4, 10, 11, 12, 50 };
	struct imap_seqset set = IMAP_SEQSET_INIT, out = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;
	const char *error;

	assert_int_equal(imap_seq_of_uid(uids, 6, 10), 3);
	assert_int_equal(imap_seq_of_uid(uids, 6, 5), 0);
	assert_int_equal(imap_seq_of_uid(uids, 0, 5), 0);

	assert_int_equal(imap_seqset_parse("1:4,11,40:*", &set, 0, &error), 1);
	imap_seqset_resolve(&set, 50);
	imap_seqset_uids_to_seqs(&set, uids, 6, &out);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "1:2,4,6");

	/* "100:*" with highest UID 50 still names the last message. */
	assert_int_equal(imap_seqset_parse("100:*", &set, 0, &error), 1);
	imap_seqset_resolve(&set, 50);
	imap_seqset_uids_to_seqs(&set, uids, 6, &out);
	buf_reset(&b);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "6");

	assert_int_equal(imap_seqset_parse("2:3,6", &set, 0, &error), 1);
	imap_seqset_resolve(&set, 6);
	assert_int_equal(imap_seqset_seqs_to_uids(&set, uids, 6, &out), 0);
	buf_reset(&b);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "4,10,50");
	assert_int_equal(imap_seqset_parse("7", &set, 0, &error), 1);
	imap_seqset_resolve(&set, 6);
	assert_int_equal(imap_seqset_seqs_to_uids(&set, uids, 6, &out), -1);

	imap_seqset_clear(&out);
	for (uint32_t i = 1; i <= 5; i++)
		imap_seqset_add(&out, i);
	imap_seqset_add(&out, 9);
	buf_reset(&b);
	imap_seqset_write(&out, &b);
	assert_string_equal(buf_cstr(&b), "1:5,9");

	buf_free(&b);
	imap_seqset_free(&set);
	imap_seqset_free(&out);
}

struct utf7_case {
	const char *utf8;
	const char *utf7;
};

static const struct utf7_case utf7_cases[] = {
	{ "INBOX", "INBOX" },
	{ "a&b", "a&-b" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "\xf0\x9f\x93\xa7", "&2D3c5w-" },
	{ "", "" },
	{ "&&", "&-&-" },
};

static const char *const utf7_invalid[] = {
	"&", "&U,BTFw", "&AGE-", /* "a" encoded */ "&-&", "\xc3\xbc",
	"&U,BTFw-&ZeVnLIqe-", /* two adjacent runs */ "&2D0-", /* lone high */
	"&3,c-", "&AAA-", "&*-", "&AP-", "&APx-" /* non-zero pad bits */,
};

static void test_utf7(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(utf7_cases); i++) {
		struct buf b = BUF_INIT;
		assert_int_equal(imap_utf8_to_utf7(utf7_cases[i].utf8, &b), 0);
		assert_string_equal(buf_cstr(&b), utf7_cases[i].utf7);
		buf_reset(&b);
		assert_int_equal(imap_utf7_to_utf8(utf7_cases[i].utf7, &b), 0);
		assert_string_equal(buf_cstr(&b), utf7_cases[i].utf8);
		assert_true(imap_utf7_is_valid(utf7_cases[i].utf7));
		buf_free(&b);
	}
	for (size_t i = 0; i < N_ELEMENTS(utf7_invalid); i++) {
		if (imap_utf7_is_valid(utf7_invalid[i]))
			fail_msg("accepted %s", utf7_invalid[i]);
	}
	struct buf b = BUF_INIT;
	assert_int_equal(imap_utf8_to_utf7("\xc3", &b), -1);
	buf_free(&b);
	assert_true(imap_utf8_is_valid_name("Entw\xc3\xbcrfe"));
	assert_false(imap_utf8_is_valid_name("a\tb"));
	assert_false(imap_utf8_is_valid_name("\xc0\xaf"));
	assert_false(imap_utf8_is_valid_name("\xed\xa0\x80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqset_parse),
		cmocka_unit_test(test_seqset_saved_and_limits),
		cmocka_unit_test(test_seqset_uid_mapping),
		cmocka_unit_test(test_utf7),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "imapd.h"

/* VANISHED lines (RFC 7162 section 3.2.10): compact ranges, both forms,
 * long sets split over lines of at most 1000 ranges. */

static void test_vanished_short(void **state)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;

	imap_seqset_add(&set, 7);
	imap_seqset_add_range(&set, 1, 3);
	imap_seqset_add(&set, 4);
	imap_seqset_add(&set, 10);
	imap_seqset_normalize(&set);
	imapd_vanished_write(&b, false, &set);
	assert_string_equal(buf_cstr(&b), "* VANISHED 1:4,7,10\r\n");
	buf_reset(&b);
	imapd_vanished_write(&b, true, &set);
	assert_string_equal(buf_cstr(&b), "* VANISHED (EARLIER) 1:4,7,10\r\n");
	buf_reset(&b);
	imap_seqset_clear(&set);
	imapd_vanished_write(&b, true, &set);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	imap_seqset_free(&set);
}

static void test_vanished_split(void **state)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;
	unsigned lines = 0, numbers = 0;

	for (uint32_t i = 0; i < 2500; i++)
		imap_seqset_add(&set, 2 * i + 1);
	imap_seqset_normalize(&set);
	imapd_vanished_write(&b, true, &set);
	const char *p = buf_cstr(&b);
	while (*p != '\0') {
		const char *end = strstr(p, "\r\n");
		assert_non_null(end);
		assert_memory_equal(p, "* VANISHED (EARLIER) ", 21);
		unsigned n = 1;
		for (const char *q = p; q < end; q++)
			n += *q == ',';
		assert_true(n <= 1000);
		numbers += n;
		lines++;
		p = end + 2;
	}
	assert_int_equal(lines, 3);
	assert_int_equal(numbers, 2500);
	assert_non_null(strstr(buf_cstr(&b), ",4999\r\n"));
	buf_free(&b);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vanished_short),
		cmocka_unit_test(test_vanished_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

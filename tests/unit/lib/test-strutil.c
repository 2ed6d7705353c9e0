/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "strutil.h"
#include "timeutil.h"

static void test_case(void **state)
{
	assert_true(str_ascii_eq_ci("EHLO", "ehlo"));
	assert_false(str_ascii_eq_ci("EHLO", "ehl"));
	assert_true(str_ascii_has_prefix_ci("MAIL FROM:<a>", "mail from:"));
	assert_false(str_ascii_has_prefix_ci("MAI", "mail"));
	char s[] = "MiXeD";
	str_ascii_lower(s);
	assert_string_equal(s, "mixed");
}

static void test_uint(void **state)
{
	uint64_t v;
	assert_int_equal(str_to_uint64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(str_to_uint64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(str_to_uint64("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(str_to_uint64("11", 10, &v), -1);
	assert_int_equal(str_to_uint64("", 10, &v), -1);
	assert_int_equal(str_to_uint64("-1", 10, &v), -1);
	assert_int_equal(str_to_uint64(" 1", 10, &v), -1);
	assert_int_equal(str_to_uint64_n("123abc", 3, 1000, &v), 0);
	assert_int_equal(v, 123);
}

static void test_trim(void **state)
{
	char s[] = "  \t value \r\n";
	assert_string_equal(str_trim(s), "value");
	char e[] = "   ";
	assert_string_equal(str_trim(e), "");
}

static void test_timing_safe(void **state)
{
	assert_true(mem_equals_timing_safe("abc", "abc", 3));
	assert_false(mem_equals_timing_safe("abc", "abd", 3));
}

static void test_time_formats(void **state)
{
	char b[64];
	setenv("TZ", "UTC", 1);
	tzset();
	assert_string_equal(time_format_rfc5322(0, b, sizeof(b)),
			    "Thu, 1 Jan 1970 00:00:00 +0000");
	assert_string_equal(time_format_imap(86400 * 3, -90, b, sizeof(b)),
			    "03-Jan-1970 22:30:00 -0130");
	assert_string_equal(time_format_iso8601_ms(1500, b, sizeof(b)),
			    "1970-01-01T00:00:00.001Z");
	int64_t a = time_mono_us();
	assert_true(time_mono_us() >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_timing_safe),
		cmocka_unit_test(test_time_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

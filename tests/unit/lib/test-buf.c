/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"

static void test_empty(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_true(buf_equals(&b, "", 0));
	buf_free(&b);
}

static void test_binary_safe(void **state)
{
	struct buf b = BUF_INIT;
	static const uint8_t bin[] = {'a', 0, 'b', 0xff, 0};
	buf_append(&b, bin, sizeof(bin));
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.data[b.len], 0); /* trailing NUL kept */
	buf_free(&b);
	assert_null(b.data);
}

static void test_growth_and_printf(void **state)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%d,", i);
	assert_true(b.len > 10000 * 2);
	assert_memory_equal(b.data, "0,1,2,", 6);
	assert_memory_equal(b.data + b.len - 5, "9999,", 5);
	assert_int_equal(strlen(buf_cstr(&b)), b.len);
	buf_free(&b);
}

static void test_consume_truncate(void **state)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "hello world");
	buf_consume(&b, 6);
	assert_string_equal(buf_cstr(&b), "world");
	buf_truncate(&b, 3);
	assert_string_equal(buf_cstr(&b), "wor");
	buf_truncate(&b, 10); /* longer: no change */
	assert_string_equal(buf_cstr(&b), "wor");
	buf_append_byte(&b, '!');
	assert_string_equal(buf_cstr(&b), "wor!");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

static void test_append_max(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_append_max(&b, "12345", 5, 8), 0);
	assert_int_equal(buf_append_max(&b, "678", 3, 8), 0);
	assert_int_equal(buf_append_max(&b, "9", 1, 8), -1);
	assert_string_equal(buf_cstr(&b), "12345678");
	assert_int_equal(buf_append_max(&b, "", 0, 8), 0);
	assert_int_equal(buf_append_max(&b, "x", SIZE_MAX, 8), -1);
	buf_free(&b);
}

static void test_steal(void **state)
{
	struct buf b = BUF_INIT;
	size_t len;
	uint8_t *p = buf_steal(&b, &len);
	assert_int_equal(len, 0);
	assert_int_equal(p[0], 0);
	free(p);
	buf_append_str(&b, "abc");
	p = buf_steal(&b, &len);
	assert_int_equal(len, 3);
	assert_string_equal((char *)p, "abc");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_binary_safe),
		cmocka_unit_test(test_growth_and_printf),
		cmocka_unit_test(test_consume_truncate),
		cmocka_unit_test(test_append_max),
		cmocka_unit_test(test_steal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

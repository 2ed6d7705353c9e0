/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "pool.h"

static void test_alloc_zeroed_aligned(void **state)
{
	struct pool *p = pool_create("test", 64);
	for (int i = 1; i < 500; i++) {
		unsigned char *m = pool_alloc(p, (size_t)i);
		assert_int_equal((uintptr_t)m % 16, 0);
		for (int j = 0; j < i; j++)
			assert_int_equal(m[j], 0);
		memset(m, 0xaa, (size_t)i);
	}
	assert_true(pool_used(p) >= 499 * 250);
	assert_string_equal(pool_name(p), "test");
	pool_destroy(&p);
	assert_null(p);
	pool_destroy(&p); /* NULL is allowed */
}

static void test_large_alloc(void **state)
{
	struct pool *p = pool_create("big", 1024);
	char *small = pool_strdup(p, "small");
	char *big = pool_alloc(p, 1 << 20);
	memset(big, 'x', 1 << 20);
	assert_string_equal(small, "small");
	pool_destroy(&p);
}

static void test_clear_reuses(void **state)
{
	struct pool *p = pool_create("clear", 4096);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			char *s = pool_printf(p, "item-%d-%d", round, i);
			assert_string_equal(s + 5, pool_printf(p, "%d-%d", round, i));
		}
		pool_clear(p);
		assert_int_equal(pool_used(p), 0);
		/* Memory after a clear is zero again. */
		unsigned char *m = pool_alloc(p, 100);
		for (int j = 0; j < 100; j++)
			assert_int_equal(m[j], 0);
	}
	pool_destroy(&p);
}

static void test_strings(void **state)
{
	struct pool *p = pool_create("str", 0);
	assert_null(pool_strdup(p, NULL));
	assert_string_equal(pool_strndup(p, "abcdef", 3), "abc");
	const uint8_t bin[] = {1, 0, 2};
	uint8_t *d = pool_memdup(p, bin, 3);
	assert_memory_equal(d, bin, 3);
	int *arr = p_new(p, int, 10);
	arr[9] = 7;
	assert_int_equal(arr[0], 0);
	pool_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_zeroed_aligned),
		cmocka_unit_test(test_large_alloc),
		cmocka_unit_test(test_clear_reuses),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

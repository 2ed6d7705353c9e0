/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "pool.h"
#include "message-header.h"

struct expect_field {
	const char *name;
	const char *value;
	bool no_colon;
};

static void check_fields(const char *block, const struct expect_field *want,
			 unsigned int count)
{
	struct message_header_iter iter;
	struct message_header_field f;
	unsigned int i = 0;

	message_header_iter_init(&iter, (const uint8_t *)block, strlen(block));
	while (message_header_iter_next(&iter, &f) > 0) {
		assert_true(i < count);
		assert_int_equal(f.name_len, strlen(want[i].name));
		assert_memory_equal(f.name, want[i].name, f.name_len);
		assert_int_equal(f.value_len, strlen(want[i].value));
		assert_memory_equal(f.value, want[i].value, f.value_len);
		assert_int_equal(f.no_colon, want[i].no_colon);
		i++;
	}
	assert_int_equal(i, count);
	/* ends for good */
	assert_int_equal(message_header_iter_next(&iter, &f), 0);
}

static void test_fields(void **state)
{
	static const struct expect_field basic[] = {
		{ "Subject", "hello", false },
		{ "To", "a@b,\r\n c@d", false },
		{ "X-Empty", "", false },
		{ "Spaced", "value ", false },
	};
	check_fields("Subject: hello\r\nTo: a@b,\r\n c@d\r\nX-Empty:\r\n"
		     "Spaced \t:  value \r\n\r\nBody: not a header\r\n",
		     basic, N_ELEMENTS(basic));

	/* bare LF, a line without a colon, no blank line at the end */
	static const struct expect_field lf[] = {
		{ "A", "1\n\t2", false },
		{ "garbage line", "", true },
		{ "B", "3", false },
	};
	check_fields("A: 1\n\t2\ngarbage line\nB: 3", lf, N_ELEMENTS(lf));

	/* an empty header */
	check_fields("\r\nbody", NULL, 0);
	check_fields("", NULL, 0);
}

static void test_unfold(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a\r\n b", "a b" },
		{ "a\r\n\tb \t", "a\tb" },
		{ "a\n b", "a b" },
		{ "", "" },
		{ "x\r\n ", "x" },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		assert_string_equal(message_header_unfold(pool,
			(const uint8_t *)cases[i].in, strlen(cases[i].in)),
			cases[i].out);
	}
	/* NUL becomes 0x80 */
	assert_string_equal(message_header_unfold(pool, (const uint8_t *)"a\0b", 3),
			    "a\x80" "b");
	pool_destroy(&pool);
}

static void test_block_size(void **state)
{
	const char *m = "A: 1\r\nB: 2\r\n\r\nbody\r\n";

	assert_int_equal(message_header_block_size((const uint8_t *)m, strlen(m)), 14);
	m = "A: 1\nB: 2\n\nbody";
	assert_int_equal(message_header_block_size((const uint8_t *)m, strlen(m)), 11);
	m = "A: 1\r\nB: 2";
	assert_int_equal(message_header_block_size((const uint8_t *)m, strlen(m)), strlen(m));
	m = "\r\nbody";
	assert_int_equal(message_header_block_size((const uint8_t *)m, strlen(m)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_unfold),
		cmocka_unit_test(test_block_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

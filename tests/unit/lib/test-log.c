/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "log.h"

#include <unistd.h>

static char *capture(void (*fn)(void))
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	log_set_fd(fds[1]);
	fn();
	log_set_fd(2);
	close(fds[1]);
	static char out[8192];
	ssize_t n, total = 0;
	while ((n = read(fds[0], out + total, sizeof(out) - 1 - (size_t)total)) > 0)
		total += n;
	close(fds[0]);
	out[total] = '\0';
	return out;
}

static void emit_levels(void)
{
	log_set_level(LOG_LEVEL_WARN);
	log_info("sid1", "hidden", "a=1");
	log_warn("sid1", "shown", "a=%d b=%s", 2, "x");
	log_debug(NULL, "hidden2", "c=3");
	log_error(NULL, "noargs", NULL);
	log_set_level(LOG_LEVEL_INFO);
}

static void test_levels_and_format(void **state)
{
	char *out = capture(emit_levels);
	assert_null(strstr(out, "hidden"));
	char *line = strstr(out, "level=warn sid=sid1 event=shown a=2 b=x\n");
	assert_non_null(line);
	assert_non_null(strstr(out, "level=error event=noargs\n"));
	assert_true(strncmp(out, "ts=", 3) == 0);
	/* exactly two lines */
	int lines = 0;
	for (char *p = out; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
}

static void emit_long(void)
{
	char big[10000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info(NULL, "long", "v=%s", big);
}

static void test_long_line_stays_one_line(void **state)
{
	char *out = capture(emit_long);
	size_t len = strlen(out);
	assert_true(len <= 4096);
	assert_int_equal(out[len - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
}

static void test_level_parse(void **state)
{
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("loud", &l), -1);
}

static void test_quote(void **state)
{
	char dst[256];
	assert_string_equal(log_quote(dst, sizeof(dst), "plain"), "plain");
	assert_string_equal(log_quote(dst, sizeof(dst), ""), "\"\"");
	assert_string_equal(log_quote(dst, sizeof(dst), "a b\"c\\\r"),
			    "\"a b\\\"c\\\\\\x0d\"");
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(strlen(log_quote(dst, sizeof(dst), big)) < 220);
	big[5] = ' ';
	assert_true(strlen(log_quote(dst, sizeof(dst), big)) < 220);
}

static void test_session_ids_unique(void **state)
{
	char prev[LOG_SID_SIZE] = "", sid[LOG_SID_SIZE];
	for (int i = 0; i < 1000; i++) {
		log_session_id_new(sid);
		assert_int_equal(strlen(sid), 12);
		assert_string_not_equal(sid, prev);
		memcpy(prev, sid, sizeof(sid));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels_and_format),
		cmocka_unit_test(test_long_line_stays_one_line),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_session_ids_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "pop3-command.h"

struct parse_case {
	const char *line;
	int ret;
	enum pop3_command_error code;
	const char *name;
	unsigned argc;
	const char *args[POP3_COMMAND_MAX_ARGS];
	const char *rest;
};

static const struct parse_case parse_cases[] = {
	{ "STAT", 1, POP3_COMMAND_OK, "STAT", 0, { NULL }, "" },
	{ "stat", 1, POP3_COMMAND_OK, "STAT", 0, { NULL }, "" },
	{ "StAt  ", 1, POP3_COMMAND_OK, "STAT", 0, { NULL }, "" },
	{ "LIST 1", 1, POP3_COMMAND_OK, "LIST", 1, { "1" }, "1" },
	{ "TOP 10 0", 1, POP3_COMMAND_OK, "TOP", 2, { "10", "0" }, "10 0" },
	{ "TOP  10   0 ", 1, POP3_COMMAND_OK, "TOP", 2, { "10", "0" },
	  " 10   0" },
	{ "USER alice@example.org", 1, POP3_COMMAND_OK, "USER", 1,
	  { "alice@example.org" }, "alice@example.org" },
	/* PASS keeps spaces in rest (RFC 1939 section 7). */
	{ "PASS my secret pw", 1, POP3_COMMAND_OK, "PASS", 3,
	  { "my", "secret", "pw" }, "my secret pw" },
	{ "PASS  lead", 1, POP3_COMMAND_OK, "PASS", 1, { "lead" }, " lead" },
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 1, POP3_COMMAND_OK, "AUTH", 2,
	  { "PLAIN", "AGFsaWNlAHNlY3JldA==" }, "PLAIN AGFsaWNlAHNlY3JldA==" },
	{ "AUTH PLAIN =", 1, POP3_COMMAND_OK, "AUTH", 2, { "PLAIN", "=" },
	  "PLAIN =" },
	{ "user j\xc3\xbcrgen", 1, POP3_COMMAND_OK, "USER", 1,
	  { "j\xc3\xbcrgen" }, "j\xc3\xbcrgen" },
	{ "XYZZY", 1, POP3_COMMAND_OK, "XYZZY", 0, { NULL }, "" },
	{ "LIST\t1", -1, POP3_COMMAND_ERR_BAD_KEYWORD, "", 0, { NULL }, "" },
	{ "a b c d e", -1, POP3_COMMAND_ERR_BAD_KEYWORD, "", 0, { NULL }, "" },
	/* malformed */
	{ "", -1, POP3_COMMAND_ERR_EMPTY, "", 0, { NULL }, "" },
	{ "   ", -1, POP3_COMMAND_ERR_EMPTY, "", 0, { NULL }, "" },
	{ " STAT", -1, POP3_COMMAND_ERR_BAD_KEYWORD, "", 0, { NULL }, "" },
	{ "ST", -1, POP3_COMMAND_ERR_BAD_KEYWORD, "", 0, { NULL }, "" },
	{ "ABCDEFGHIJKLMNOPQ", -1, POP3_COMMAND_ERR_BAD_KEYWORD, "", 0,
	  { NULL }, "" },
	{ "LIST 1\r", -1, POP3_COMMAND_ERR_BAD_CHAR, "", 0, { NULL }, "" },
	{ "LIST \x01", -1, POP3_COMMAND_ERR_BAD_CHAR, "", 0, { NULL }, "" },
	{ "LI\x7fST", -1, POP3_COMMAND_ERR_BAD_CHAR, "", 0, { NULL }, "" },
	{ "TOP 1 2 3 4 5", -1, POP3_COMMAND_ERR_TOO_MANY_ARGS, "TOP", 0,
	  { NULL }, "" },
};

static void test_parse_table(void **state)
{
	struct pop3_command *cmd = i_new(struct pop3_command, 1);
	for (size_t i = 0; i < N_ELEMENTS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		enum pop3_command_error code;
		const char *error = NULL;
		int ret = pop3_command_parse((const uint8_t *)c->line,
					     strlen(c->line), cmd, &code,
					     &error);
		if (ret != c->ret)
			fail_msg("case %zu \"%s\": ret %d, want %d", i, c->line,
				 ret, c->ret);
		assert_int_equal(code, c->code);
		if (ret < 0) {
			assert_non_null(error);
			assert_true(strlen(error) > 0);
			continue;
		}
		assert_string_equal(cmd->name, c->name);
		assert_int_equal(cmd->argc, c->argc);
		for (unsigned a = 0; a < c->argc; a++)
			assert_string_equal(cmd->args[a], c->args[a]);
		assert_string_equal(cmd->rest, c->rest);
	}
	i_free(cmd);
}

static void test_parse_nul(void **state)
{
	static const uint8_t line[] = { 'U', 'S', 'E', 'R', ' ', 'a', 0, 'b' };
	struct pop3_command *cmd = i_new(struct pop3_command, 1);
	enum pop3_command_error code;
	const char *error;
	assert_int_equal(pop3_command_parse(line, sizeof(line), cmd, &code,
					    &error), -1);
	assert_int_equal(code, POP3_COMMAND_ERR_BAD_CHAR);
	i_free(cmd);
}

static void test_parse_length(void **state)
{
	struct pop3_command *cmd = i_new(struct pop3_command, 1);
	char *line = i_malloc(POP3_COMMAND_MAX_LEN + 2);
	const char *error;

	memcpy(line, "PASS ", 5);
	memset(line + 5, 'x', POP3_COMMAND_MAX_LEN - 5);
	assert_int_equal(pop3_command_parse((uint8_t *)line,
					    POP3_COMMAND_MAX_LEN, cmd, NULL,
					    &error), 1);
	assert_int_equal(strlen(cmd->rest), POP3_COMMAND_MAX_LEN - 5);
	assert_int_equal(cmd->argc, 1);

	line[POP3_COMMAND_MAX_LEN] = 'x';
	enum pop3_command_error code;
	assert_int_equal(pop3_command_parse((uint8_t *)line,
					    POP3_COMMAND_MAX_LEN + 1, cmd,
					    &code, &error), -1);
	assert_int_equal(code, POP3_COMMAND_ERR_TOO_LONG);

	/* Many one-byte arguments fill argbuf_ exactly; stays in bounds. */
	memset(line, ' ', POP3_COMMAND_MAX_LEN);
	memcpy(line, "NOOP", 4);
	line[5] = 'a';
	line[7] = 'b';
	assert_int_equal(pop3_command_parse((uint8_t *)line,
					    POP3_COMMAND_MAX_LEN, cmd, NULL,
					    &error), 1);
	assert_int_equal(cmd->argc, 2);
	assert_string_equal(cmd->args[1], "b");
	i_free(line);
	i_free(cmd);
}

static void test_number(void **state)
{
	static const struct {
		const char *str;
		uint64_t max;
		int ret;
		uint64_t value;
	} cases[] = {
		{ "1", 10, 1, 1 },
		{ "0", 10, 1, 0 },
		{ "007", 10, 1, 7 },
		{ "10", 10, 1, 10 },
		{ "11", 10, -1, 0 },
		{ "", 10, -1, 0 },
		{ "-1", 10, -1, 0 },
		{ "+1", 10, -1, 0 },
		{ "1a", 10, -1, 0 },
		{ "0x1", 10, -1, 0 },
		{ "99999999999999999999999", UINT32_MAX, -1, 0 },
		{ "4294967295", UINT32_MAX, 1, 4294967295u },
		{ "4294967296", UINT32_MAX, -1, 0 },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		uint64_t v = 12345;
		int ret = pop3_parse_number(cases[i].str, cases[i].max, &v);
		if (ret != cases[i].ret)
			fail_msg("number \"%s\": ret %d", cases[i].str, ret);
		if (ret == 1)
			assert_true(v == cases[i].value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_parse_length),
		cmocka_unit_test(test_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

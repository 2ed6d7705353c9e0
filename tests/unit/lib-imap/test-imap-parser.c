/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "imap-parser.h"

static void dump_args(struct buf *out, const struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		if (i > 0)
			buf_append_byte(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_printf(out, "%s", a->str);
			break;
		case IMAP_ARG_QUOTED:
			buf_printf(out, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_LIST:
			buf_append_byte(out, '(');
			dump_args(out, a->list, a->len);
			buf_append_byte(out, ')');
			break;
		}
	}
}

/* Feeds input in pieces of step bytes, accepting every synchronising
 * literal, and describes every result in out: "C:<tag> <name> <args>",
 * "L<n>" for a literal request, "E:<tag>:<error>" (F: when fatal). */
static void run(struct imap_parser *p, const char *input, size_t step,
		struct buf *out)
{
	const uint8_t *data = (const uint8_t *)input;
	size_t len = strlen(input), pos = 0;

	while (pos < len) {
		size_t n = MIN(step, len - pos), used;
		enum imap_parse_result r = imap_parser_feed(p, data + pos, n, &used);
		pos += used;
		const struct imap_command *cmd;
		const char *error;
		bool fatal;

		switch (r) {
		case IMAP_PARSE_MORE:
			assert_int_equal(used, n);
			break;
		case IMAP_PARSE_LITERAL:
			buf_printf(out, "[L%llu]",
				   (unsigned long long)imap_parser_literal_size(p));
			if (imap_parser_literal_accept(p, &error) < 0) {
				buf_printf(out, "[R:%s]", error);
				imap_parser_literal_reject(p);
			}
			break;
		case IMAP_PARSE_COMMAND:
			cmd = imap_parser_command(p);
			buf_printf(out, "[C:%s %s%s", cmd->tag, cmd->uid ? "UID " : "",
				   cmd->name);
			if (cmd->args_count > 0)
				buf_append_byte(out, ' ');
			dump_args(out, cmd->args, cmd->args_count);
			buf_append_byte(out, ']');
			break;
		case IMAP_PARSE_ERROR:
			error = imap_parser_error(p, &fatal);
			buf_printf(out, "[%s:%s:%s]", fatal ? "F" : "E",
				   imap_parser_tag(p) == NULL ? "*" : imap_parser_tag(p),
				   error);
			if (fatal)
				return;
			break;
		}
	}
}

struct parse_case {
	const char *input;
	const char *expect;
};

static const struct parse_case cases[] = {
	{ "a1 NOOP\r\n", "[C:a1 NOOP]" },
	{ "a1 noop\r\n", "[C:a1 NOOP]" },
	{ "a1 NOOP\n", "[C:a1 NOOP]" },
	{ "a2 LOGIN user \"pa ss\\\"w\"\r\n", "[C:a2 LOGIN user \"pa ss\"w\"]" },
	{ "a3 SELECT INBOX\r\na4 NOOP\r\n", "[C:a3 SELECT INBOX][C:a4 NOOP]" },
	{ "t UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n",
	  "[C:t UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)]" },
	{ "t FETCH 1 BODY[]\r\n", "[C:t FETCH 1 BODY[]]" },
	{ "t STORE 1 +FLAGS (\\Seen $Junk)\r\n", "[C:t STORE 1 +FLAGS (\\Seen $Junk)]" },
	{ "t LIST \"\" %\r\n", "[C:t LIST \"\" %]" },
	{ "t LIST () \"\" (* %) RETURN (CHILDREN)\r\n",
	  "[C:t LIST () \"\" (* %) RETURN (CHILDREN)]" },
	{ "t LOGIN {4}\r\nuser {4}\r\npass\r\n", "[L4][L4][C:t LOGIN {4}user {4}pass]" },
	{ "t LOGIN {4+}\r\nuser {4+}\r\npass\r\n", "[C:t LOGIN {4}user {4}pass]" },
	{ "t APPEND box (\\Seen) {5+}\r\nab\r\nc\r\n", "[C:t APPEND box (\\Seen) {5}ab\r\nc]" },
	{ "t APPEND box ~{3+}\r\na\0b\r\n", "[C:t APPEND box ~{3}a]" /* dump stops at NUL */ },
	{ "t X {0}\r\n\r\n", "[L0][C:t X {0}]" },
	{ "t X ((a) (b (c)))\r\n", "[C:t X ((a) (b (c)))]" },
	{ "t X ()\r\n", "[C:t X ()]" },
	{ "t X  a   b \r\n", "[C:t X a b]" },
	{ "t X NIL \"\"\r\n", "[C:t X NIL \"\"]" },
	{ "t X a{5}\r\n", "[E:t:Missing space before literal]" },
	/* errors, then the next command still parses */
	{ "\r\nt NOOP\r\n", "[E:*:Empty command line][C:t NOOP]" },
	{ "+x NOOP\r\nt NOOP\r\n", "[E:*:Invalid tag][C:t NOOP]" },
	{ "t\r\n", "[E:t:Missing command name]" },
	{ "t UID\r\n", "[E:t:Missing command name]" },
	{ "t N@OP\r\n", "[E:t:Invalid command name]" },
	{ "t X (a\r\n", "[E:t:Missing ')']" },
	{ "t X a)\r\n", "[E:t:Unexpected ')']" },
	{ "t X \"abc\r\n", "[E:t:Missing '\"']" },
	{ "t X \"a\\bc\"\r\n", "[E:t:Invalid escape in quoted string]" },
	{ "t X \"a\"b\r\n", "[E:t:Missing space between arguments]" },
	{ "t X {3} a\r\n", "[E:t:Literal must end the line]" },
	{ "t X (((((((((((((((((a)))))))))))))))))\r\n", "[E:t:Lists nested too deeply]" },
	{ "t X a\x01\r\n", "[E:t:Invalid character in atom]" },
	{ "t FETCH 1 BODY[HEADER\r\n", "[E:t:Missing ']']" },
	{ "t X {3+}\r\na\0b\r\nt NOOP\r\n", "[E:t:NUL in literal][C:t NOOP]" },
	/* a bad line's non-synchronising literal is skipped, not run */
	{ "t X ) {10+}\r\nu1 LOGOUT\r\nt2 NOOP\r\n", "[E:t:Unexpected ')'][C:t2 NOOP]" },
	{ "t X {100000+}\r\n", "[E:t:Literal too large]" },
	{ "t APPEND b {70000+}\r\n", "[L" /* never: accepted, waits */ },
	{ "t X {100000}\r\nt2 NOOP\r\n", "[L100000][R:Literal too large][C:t2 NOOP]" },
	{ "t X {999999999999}\r\n", "[L999999999999][R:Literal too large]" },
	{ "t X {999999999+}\r\n", "[F:t:Literal too large]" },
};

static void test_table(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 7, 100000 };
	struct imap_parser_settings set;

	imap_parser_settings_default(&set);
	set.max_list_depth = 16;
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		if (strcmp(cases[i].expect, "[L") == 0)
			continue;
		for (size_t s = 0; s < N_ELEMENTS(steps); s++) {
			struct imap_parser *p = imap_parser_create(&set);
			struct buf out = BUF_INIT;
			/* Inputs with NUL: use the length up to the final
			 * CRLF pair by hand. */
			if (strstr(cases[i].input, "~{3+}") != NULL ||
			    strstr(cases[i].input, "{3+}\r\na") != NULL) {
				const char *in = cases[i].input;
				size_t n = strlen(in);
				size_t total = n + 1 + strlen(in + n + 1);
				size_t pos = 0;
				while (pos < total) {
					size_t used, k = MIN(steps[s], total - pos);
					enum imap_parse_result r = imap_parser_feed(
						p, (const uint8_t *)in + pos, k, &used);
					pos += used;
					if (r == IMAP_PARSE_COMMAND) {
						const struct imap_command *c =
							imap_parser_command(p);
						buf_printf(&out, "[C:%s %s", c->tag, c->name);
						if (c->args_count > 0)
							buf_append_byte(&out, ' ');
						dump_args(&out, c->args, c->args_count);
						buf_append_byte(&out, ']');
					} else if (r == IMAP_PARSE_ERROR) {
						buf_printf(&out, "[E:%s:%s]",
							   imap_parser_tag(p),
							   imap_parser_error(p, NULL));
					}
				}
				if (strstr(in, "~{3+}") != NULL)
					assert_memory_equal(out.data, "[C:t APPEND box ~{3}a", 21);
				else
					assert_string_equal(buf_cstr(&out),
							    "[E:t:NUL in literal][C:t NOOP]");
			} else {
				run(p, cases[i].input, steps[s], &out);
				if (strcmp(buf_cstr(&out), cases[i].expect) != 0)
					fail_msg("case %zu step %zu: %s\n got %s", i,
						 steps[s], cases[i].input, buf_cstr(&out));
			}
			buf_free(&out);
			imap_parser_destroy(&p);
		}
	}
}

static void test_literal_modes(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	struct buf out = BUF_INIT;

	imap_parser_settings_default(&set);
	set.literal_mode = IMAP_LITERAL_SYNC_ONLY;
	p = imap_parser_create(&set);
	run(p, "t X {2+}\r\nab\r\nt2 NOOP\r\n", 1000, &out);
	assert_string_equal(buf_cstr(&out),
			    "[E:t:Non-synchronizing literals not allowed][C:t2 NOOP]");
	buf_reset(&out);

	imap_parser_set_literal_mode(p, IMAP_LITERAL_MINUS);
	run(p, "t X {4096+}\r\n", 1000, &out);
	assert_string_equal(buf_cstr(&out), "");
	imap_parser_reset(p);
	run(p, "t APPEND b {4097+}\r\n", 1000, &out);
	assert_string_equal(buf_cstr(&out),
			    "[E:t:[TOOBIG] Non-synchronizing literal too large]");
	assert_int_equal(imap_parser_literal_pending(p), 4097);
	imap_parser_destroy(&p);

	set.allow_literal8 = false;
	set.literal_mode = IMAP_LITERAL_PLUS;
	p = imap_parser_create(&set);
	buf_reset(&out);
	run(p, "t X ~{2}\r\n", 1000, &out);
	assert_string_equal(buf_cstr(&out), "[E:t:literal8 not allowed]");
	imap_parser_destroy(&p);
	buf_free(&out);
}

static void test_append_limit(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	size_t used;

	imap_parser_settings_default(&set);
	set.max_literal_size = 10;
	set.max_append_literal_size = 1000;
	p = imap_parser_create(&set);
	const char *in = "t APPEND box {500}\r\n";
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
			 IMAP_PARSE_LITERAL);
	assert_string_equal(imap_parser_command_name(p), "APPEND");
	assert_int_equal(imap_parser_literal_limit(p), 1000);
	const char *error;
	assert_int_equal(imap_parser_literal_accept(p, &error), 0);
	assert_int_equal(imap_parser_literal_pending(p), 500);
	imap_parser_destroy(&p);
}

static void test_line_too_long(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	struct buf in = BUF_INIT, out = BUF_INIT;

	imap_parser_settings_default(&set);
	set.max_line_length = 100;
	p = imap_parser_create(&set);
	buf_append_str(&in, "t1 X ");
	for (int i = 0; i < 50; i++)
		buf_append_str(&in, "abcd ");
	buf_append_str(&in, "{5+}\r\nhello\r\nt2 NOOP\r\n");
	static const size_t steps[] = { 1, 7, 100, 1000000 };
	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		buf_reset(&out);
		run(p, buf_cstr(&in), steps[i], &out);
		assert_string_equal(buf_cstr(&out),
				    "[E:t1:Command line too long][C:t2 NOOP]");
	}
	buf_free(&in);
	buf_free(&out);
	imap_parser_destroy(&p);
}

static void test_feed_line(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	const char *error;

	imap_parser_settings_default(&set);
	p = imap_parser_create(&set);
	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)"a LOGIN {3}", 11),
			 IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal_accept(p, &error), 0);
	assert_int_equal(imap_parser_literal_pending(p), 3);
	size_t used;
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)"bob", 3, &used),
			 IMAP_PARSE_MORE);
	assert_int_equal(imap_parser_literal_pending(p), 0);
	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)" pw", 3),
			 IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_int_equal(cmd->args_count, 2);
	const char *s;
	assert_true(imap_arg_get_astring(&cmd->args[0], &s));
	assert_string_equal(s, "bob");
	assert_true(imap_arg_get_string(&cmd->args[0], &s));
	assert_false(imap_arg_get_string(&cmd->args[1], &s));
	assert_true(imap_arg_get_astring(&cmd->args[1], &s));
	assert_string_equal(s, "pw");
	imap_parser_destroy(&p);
}

static void test_release(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	size_t used;
	(void)state;

	imap_parser_settings_default(&set);
	p = imap_parser_create(&set);
	/* Not after a command: nothing happens, the partial line stays. */
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)"a1 ID", 5, &used),
			 IMAP_PARSE_MORE);
	imap_parser_release(p);
	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)" NIL", 4),
			 IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->tag, "a1");
	assert_int_equal(imap_parser_command(p)->args_count, 1);
	/* After one: the memory goes, and the next command parses into a
	 * new pool. */
	assert_int_equal(imap_parser_feed_line(p, (const uint8_t *)"a2 IDLE", 7),
			 IMAP_PARSE_COMMAND);
	imap_parser_release(p);
	assert_null(imap_parser_tag(p));
	assert_int_equal(imap_parser_feed_line(p,
			 (const uint8_t *)"a3 SELECT (x (y))", 17),
			 IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_string_equal(cmd->tag, "a3");
	assert_string_equal(cmd->name, "SELECT");
	assert_int_equal(cmd->args_count, 1);
	assert_int_equal(cmd->args[0].len, 2);
	assert_non_null(imap_parser_command_pool(p));
	imap_parser_destroy(&p);
}

static void test_arg_helpers(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	size_t used;
	const char *in = "t X NIL nil \"NIL\" (a) atom\r\n";
	const char *s;
	const struct imap_arg *list;
	size_t n;

	imap_parser_settings_default(&set);
	p = imap_parser_create(&set);
	assert_int_equal(imap_parser_feed(p, (const uint8_t *)in, strlen(in), &used),
			 IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_int_equal(cmd->args_count, 5);
	assert_true(imap_arg_is_nil(&cmd->args[0]));
	assert_true(imap_arg_is_nil(&cmd->args[1]));
	assert_false(imap_arg_is_nil(&cmd->args[2]));
	assert_true(imap_arg_get_nstring(&cmd->args[0], &s));
	assert_null(s);
	assert_true(imap_arg_get_nstring(&cmd->args[2], &s));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_get_list(&cmd->args[3], &list, &n));
	assert_int_equal(n, 1);
	assert_true(imap_arg_atom_equals(&list[0], "A"));
	assert_false(imap_arg_get_astring(&cmd->args[3], &s));
	assert_true(imap_arg_get_atom(&cmd->args[4], &s));
	assert_false(imap_arg_get_nstring(&cmd->args[4], &s));
	imap_parser_destroy(&p);
}

static void test_max_args(void **state)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	struct buf out = BUF_INIT;

	imap_parser_settings_default(&set);
	set.max_args = 3;
	p = imap_parser_create(&set);
	run(p, "t X a b c\r\nt X a (b c)\r\nt X (a b) c\r\n", 5, &out);
	assert_string_equal(buf_cstr(&out),
			    "[C:t X a b c][E:t:Too many arguments][E:t:Too many arguments]");
	imap_parser_destroy(&p);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_literal_modes),
		cmocka_unit_test(test_append_limit),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_feed_line),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_max_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "imap-parser.h"
#include "imap-args.h"
#include "imap-fetch-parse.h"
#include "imap-search.h"

static struct imap_parser *parser;
static struct pool *pool;

static const struct imap_command *parse(const char *line)
{
	size_t used;
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\r\n", line);
	enum imap_parse_result r =
		imap_parser_feed(parser, b.data, b.len, &used);
	buf_free(&b);
	if (r != IMAP_PARSE_COMMAND)
		fail_msg("not a command: %s", line);
	pool_clear(pool);
	return imap_parser_command(parser);
}

static int setup(void **state)
{
	struct imap_parser_settings set;
	imap_parser_settings_default(&set);
	parser = imap_parser_create(&set);
	pool = pool_create("test", 1024);
	return 0;
}

static int teardown(void **state)
{
	imap_parser_destroy(&parser);
	pool_destroy(&pool);
	return 0;
}

/* --- FETCH --- */
struct fetch_case {
	const char *args;
	const char *expect; /* response names joined by "|", NULL = error */
};

static const struct fetch_case fetch_cases[] = {
	{ "FLAGS", "FLAGS" },
	{ "ALL", "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE" },
	{ "fast", "FLAGS|INTERNALDATE|RFC822.SIZE" },
	{ "FULL", "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE|BODY" },
	{ "(UID RFC822.SIZE BODYSTRUCTURE)", "UID|RFC822.SIZE|BODYSTRUCTURE" },
	{ "BODY[]", "BODY[]" },
	{ "BODY.PEEK[]<0.1024>", "BODY[]<0>" },
	{ "body.peek[header.fields (from to)]", "BODY[HEADER.FIELDS (FROM TO)]" },
	{ "BODY[HEADER.FIELDS.NOT (Subject)]", "BODY[HEADER.FIELDS.NOT (SUBJECT)]" },
	{ "BODY[1.2.MIME]", "BODY[1.2.MIME]" },
	{ "BODY[2.TEXT]<10.20>", "BODY[2.TEXT]<10>" },
	{ "BODY[3]", "BODY[3]" },
	{ "BODY[TEXT]", "BODY[TEXT]" },
	{ "RFC822 RFC822.HEADER", NULL },
	{ "(RFC822 RFC822.HEADER RFC822.TEXT)", "RFC822|RFC822.HEADER|RFC822.TEXT" },
	{ "(BINARY[1] BINARY.PEEK[2]<0.5> BINARY.SIZE[1] BINARY[])",
	  "BINARY[1]|BINARY[2]<0>|BINARY.SIZE[1]|BINARY[]" },
	{ "(FLAGS) (CHANGEDSINCE 5)", "FLAGS" },
	{ "MODSEQ", "MODSEQ" },
	{ "()", NULL },
	{ "BODY[MIME]", NULL },
	{ "BODY[1.]", NULL },
	{ "BODY[0]", NULL },
	{ "BODY[1TEXT]", NULL },
	{ "BODY[HEADER.FIELDS]", NULL },
	{ "BODY[HEADER.FIELDS ()]", NULL },
	{ "BODY[]<0.0>", NULL },
	{ "BODY[]<0>", NULL },
	{ "BODY[]x", NULL },
	{ "BINARY[TEXT]", NULL },
	{ "BINARY.SIZE[1]<0.1>", NULL },
	{ "BODYX", NULL },
	{ "FOO", NULL },
	{ "\"FLAGS\"", NULL },
	{ "(FLAGS) (CHANGEDSINCE 0)", NULL },
	{ "(FLAGS) (FOO 1)", NULL },
};

static void test_fetch(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(fetch_cases); i++) {
		struct buf line = BUF_INIT, out = BUF_INIT;
		struct imap_fetch_items items;
		const char *error;
		buf_printf(&line, "t FETCH 1 %s", fetch_cases[i].args);
		const struct imap_command *cmd = parse(buf_cstr(&line));
		int ret = imap_fetch_items_parse(cmd->args + 1, cmd->args_count - 1,
						 pool, &items, &error);
		if (fetch_cases[i].expect == NULL) {
			if (ret != -1)
				fail_msg("case %s: parsed", fetch_cases[i].args);
		} else {
			if (ret != 1)
				fail_msg("case %s: %s", fetch_cases[i].args, error);
			for (size_t j = 0; j < items.count; j++) {
				if (j > 0)
					buf_append_byte(&out, '|');
				buf_append_str(&out, items.items[j].response_name);
			}
			if (strcmp(buf_cstr(&out), fetch_cases[i].expect) != 0)
				fail_msg("case %s: got %s", fetch_cases[i].args,
					 buf_cstr(&out));
		}
		buf_free(&line);
		buf_free(&out);
	}
}

static void test_fetch_details(void **state)
{
	struct imap_fetch_items items;
	const char *error;
	const struct imap_command *cmd =
		parse("t FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (A B)]<5.7> RFC822.HEADER)");
	assert_int_equal(imap_fetch_items_parse(cmd->args + 1, 1, pool, &items, &error), 1);
	assert_int_equal(items.count, 2);
	const struct imap_fetch_item *it = &items.items[0];
	assert_int_equal(it->type, IMAP_FETCH_BODY_SECTION);
	assert_true(it->peek);
	assert_int_equal(it->parts_count, 2);
	assert_int_equal(it->parts[0], 1);
	assert_int_equal(it->parts[1], 2);
	assert_int_equal(it->text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(it->fields_count, 2);
	assert_string_equal(it->fields[1], "B");
	assert_true(it->partial);
	assert_int_equal(it->partial_offset, 5);
	assert_int_equal(it->partial_length, 7);
	assert_true(items.need_body);
	assert_false(items.sets_seen);
	assert_true(items.items[1].peek);

	cmd = parse("t FETCH 1 (FLAGS RFC822.TEXT)");
	assert_int_equal(imap_fetch_items_parse(cmd->args + 1, 1, pool, &items, &error), 1);
	assert_true(items.sets_seen);
}

/* --- SEARCH --- */
static void dump_node(struct buf *out, const struct imap_search_node *n)
{
	static const char *const names[] = {
		[IMAP_SEARCH_ALL] = "ALL", [IMAP_SEARCH_AND] = "AND",
		[IMAP_SEARCH_OR] = "OR", [IMAP_SEARCH_NOT] = "NOT",
		[IMAP_SEARCH_SEQSET] = "SEQ", [IMAP_SEARCH_UID] = "UID",
		[IMAP_SEARCH_FLAG] = "FLAG", [IMAP_SEARCH_KEYWORD] = "KW",
		[IMAP_SEARCH_NEW] = "NEW", [IMAP_SEARCH_OLD] = "OLD",
		[IMAP_SEARCH_RECENT] = "RECENT", [IMAP_SEARCH_BEFORE] = "BEFORE",
		[IMAP_SEARCH_ON] = "ON", [IMAP_SEARCH_SINCE] = "SINCE",
		[IMAP_SEARCH_SENTBEFORE] = "SENTBEFORE",
		[IMAP_SEARCH_SENTON] = "SENTON",
		[IMAP_SEARCH_SENTSINCE] = "SENTSINCE",
		[IMAP_SEARCH_HEADER] = "HEADER", [IMAP_SEARCH_BODY] = "BODY",
		[IMAP_SEARCH_TEXT] = "TEXT", [IMAP_SEARCH_LARGER] = "LARGER",
		[IMAP_SEARCH_SMALLER] = "SMALLER", [IMAP_SEARCH_MODSEQ] = "MODSEQ",
		[IMAP_SEARCH_OLDER] = "OLDER", [IMAP_SEARCH_YOUNGER] = "YOUNGER",
		[IMAP_SEARCH_SAVED] = "$",
	};
	buf_append_str(out, names[n->key]);
	switch (n->key) {
	case IMAP_SEARCH_FLAG:
		buf_printf(out, ":%u", n->flag);
		break;
	case IMAP_SEARCH_KEYWORD:
		buf_printf(out, ":%s", n->keyword);
		break;
	case IMAP_SEARCH_HEADER:
		buf_printf(out, ":%s:%s", n->header, n->value);
		break;
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		buf_printf(out, ":%s", n->value);
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_MODSEQ:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		buf_printf(out, ":%llu", (unsigned long long)n->number);
		break;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		buf_printf(out, ":%lld", (long long)n->date);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		buf_append_byte(out, ':');
		imap_seqset_write(&n->seqset, out);
		break;
	default:
		break;
	}
	if (n->children_count > 0) {
		buf_append_byte(out, '(');
		for (size_t i = 0; i < n->children_count; i++) {
			if (i > 0)
				buf_append_byte(out, ' ');
			dump_node(out, n->children[i]);
		}
		buf_append_byte(out, ')');
	}
}

struct search_case {
	const char *args;
	const char *expect;
};

static const struct search_case search_cases[] = {
	{ "ALL", "AND(ALL)" },
	{ "UNSEEN", "AND(NOT(FLAG:1))" },
	{ "seen flagged", "AND(FLAG:1 FLAG:4)" },
	{ "1:3,5 UID 7:*", "AND(SEQ:1:3,5 UID:7:*)" },
	{ "OR FROM alice TO \"bob b\"", "AND(OR(HEADER:FROM:alice HEADER:TO:bob b))" },
	{ "NOT (SUBJECT x BODY y)", "AND(NOT(AND(HEADER:SUBJECT:x BODY:y)))" },
	{ "HEADER list-id foo", "AND(HEADER:LIST-ID:foo)" },
	{ "SINCE 1-Feb-2024 BEFORE \"29-Feb-2024\"", "AND(SINCE:1706745600 BEFORE:1709164800)" },
	{ "SENTON 01-Jan-1970", "AND(SENTON:0)" },
	{ "LARGER 1000 SMALLER 5", "AND(LARGER:1000 SMALLER:5)" },
	{ "KEYWORD $Junk UNKEYWORD foo", "AND(KW:$Junk NOT(KW:foo))" },
	{ "NEW OLD RECENT", "AND(NEW OLD RECENT)" },
	{ "TEXT {3}", NULL /* literal case handled apart */ },
	{ "CHARSET UTF-8 TEXT x", "AND(TEXT:x)" },
	{ "RETURN (MIN COUNT) ALL", "AND(ALL)" },
	{ "RETURN () UID $", "AND($)" },
	{ "$", "AND($)" },
	{ "MODSEQ 5", "AND(MODSEQ:5)" },
	{ "MODSEQ \"/flags/\\\\seen\" all 5", "AND(MODSEQ:5)" },
	{ "OLDER 60 YOUNGER 10", "AND(OLDER:60 YOUNGER:10)" },
	{ "ANSWERED DELETED DRAFT UNANSWERED UNDELETED UNDRAFT UNFLAGGED",
	  "AND(FLAG:2 FLAG:8 FLAG:16 NOT(FLAG:2) NOT(FLAG:8) NOT(FLAG:16) NOT(FLAG:4))" },
	{ "CC a BCC b", "AND(HEADER:CC:a HEADER:BCC:b)" },
	{ "SENTBEFORE 1-Jan-2000 SENTSINCE 1-Jan-2000 ON 1-Jan-2000",
	  "AND(SENTBEFORE:946684800 SENTSINCE:946684800 ON:946684800)" },
};

static const char *const search_invalid[] = {
	"", "FOO", "OR a", "OR ALL", "NOT", "SINCE 30-Feb-2024", "SINCE 1-Foo-2024",
	"SINCE 1-Jan-24", "LARGER x", "LARGER", "UID x", "0", "1:", "()",
	"KEYWORD \\Seen", "RETURN (FOO) ALL", "RETURN ALL", "CHARSET", "HEADER a",
	"OLDER 0", "CHARSET UTF-8",
};

static void test_search(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(search_cases); i++) {
		if (search_cases[i].expect == NULL)
			continue;
		struct buf line = BUF_INIT, out = BUF_INIT;
		struct imap_search_args s;
		const char *error;
		bool badcs;
		buf_printf(&line, "t SEARCH %s", search_cases[i].args);
		const struct imap_command *cmd = parse(buf_cstr(&line));
		int ret = imap_search_args_parse(cmd->args, cmd->args_count, pool,
						 &s, &badcs, &error);
		if (ret != 1)
			fail_msg("case %s: %s", search_cases[i].args, error);
		dump_node(&out, s.root);
		if (strcmp(buf_cstr(&out), search_cases[i].expect) != 0)
			fail_msg("case %s: got %s", search_cases[i].args,
				 buf_cstr(&out));
		imap_search_args_free(&s);
		buf_free(&line);
		buf_free(&out);
	}
	for (size_t i = 0; i < N_ELEMENTS(search_invalid); i++) {
		struct buf line = BUF_INIT;
		struct imap_search_args s;
		const char *error;
		bool badcs;
		buf_printf(&line, "t SEARCH %s", search_invalid[i]);
		const struct imap_command *cmd = parse(buf_cstr(&line));
		if (imap_search_args_parse(cmd->args, cmd->args_count, pool, &s,
					   &badcs, &error) != -1)
			fail_msg("case %s: parsed", search_invalid[i]);
		buf_free(&line);
	}
}

static void test_search_return_charset(void **state)
{
	struct imap_search_args s;
	const char *error;
	bool badcs;
	const struct imap_command *cmd = parse("t SEARCH RETURN (MIN MAX SAVE) CHARSET us-ascii ALL");
	assert_int_equal(imap_search_args_parse(cmd->args, cmd->args_count, pool,
						&s, &badcs, &error), 1);
	assert_true(s.esearch);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX |
					IMAP_SEARCH_RET_SAVE);
	assert_string_equal(s.charset, "us-ascii");
	cmd = parse("t SEARCH RETURN () ALL");
	assert_int_equal(imap_search_args_parse(cmd->args, cmd->args_count, pool,
						&s, &badcs, &error), 1);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_ALL);
	cmd = parse("t SEARCH CHARSET KOI8-R ALL");
	assert_int_equal(imap_search_args_parse(cmd->args, cmd->args_count, pool,
						&s, &badcs, &error), -1);
	assert_true(badcs);

	assert_true(imap_search_substr_match("Hello World", 11, "o wor"));
	assert_true(imap_search_substr_match("abc", 3, ""));
	assert_false(imap_search_substr_match("abc", 3, "abcd"));
	assert_false(imap_search_substr_match("abc", 2, "c"));
	/* UTF-8 folding: ä/Ä, Ł/ł, Ω/ω, Ж/ж, Ё/ё; others exact. */
	static const char *const h = "Gr\xc3\x9c\xc3\x9f \xc5\x81\xc3\xb3" "d\xc5\xba "
				     "\xce\xa9 \xd0\x96\xd0\x81 \xe2\x82\xac";
	assert_true(imap_search_substr_match(h, strlen(h), "gr\xc3\xbc\xc3\x9f"));
	assert_true(imap_search_substr_match(h, strlen(h), "\xc5\x82\xc3\x93" "D\xc5\xb9"));
	assert_true(imap_search_substr_match(h, strlen(h), "\xcf\x89"));
	assert_true(imap_search_substr_match(h, strlen(h), "\xd0\xb6\xd1\x91"));
	assert_true(imap_search_substr_match(h, strlen(h), "\xe2\x82\xac"));
	assert_false(imap_search_substr_match(h, strlen(h), "gruss"));
	assert_true(imap_search_substr_match("\xc3", 1, "\xc3")); /* stray byte */
}

/* --- flags, STORE, STATUS, LIST, dates --- */
static void test_flags_store(void **state)
{
	struct imap_store_args st;
	const char *error;
	struct buf b = BUF_INIT;

	const struct imap_command *cmd = parse("t STORE 1 +FLAGS.SILENT (\\Seen \\deleted $Junk $junk)");
	assert_int_equal(imap_store_args_parse(cmd->args + 1, cmd->args_count - 1,
					       pool, &st, &error), 1);
	assert_int_equal(st.mode, IMAP_STORE_ADD);
	assert_true(st.silent);
	assert_int_equal(st.flags.system, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	assert_int_equal(st.flags.keywords_count, 1);
	imap_flags_write(&b, st.flags.system, st.flags.keywords,
			 st.flags.keywords_count);
	assert_string_equal(buf_cstr(&b), "(\\Seen \\Deleted $Junk)");

	cmd = parse("t STORE 1 -FLAGS \\Seen \\Answered");
	assert_int_equal(imap_store_args_parse(cmd->args + 1, cmd->args_count - 1,
					       pool, &st, &error), 1);
	assert_int_equal(st.mode, IMAP_STORE_REMOVE);
	assert_int_equal(st.flags.system, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED);

	cmd = parse("t STORE 1 (UNCHANGEDSINCE 12) FLAGS ()");
	assert_int_equal(imap_store_args_parse(cmd->args + 1, cmd->args_count - 1,
					       pool, &st, &error), 1);
	assert_int_equal(st.mode, IMAP_STORE_REPLACE);
	assert_int_equal(st.unchangedsince, 12);
	assert_int_equal(st.flags.system, 0);

	static const char *const bad[] = {
		"t STORE 1 FLAGS (\\Recent)", "t STORE 1 FLAGS (\\Foo)",
		"t STORE 1 XFLAGS (\\Seen)", "t STORE 1 FLAGS", "t STORE 1 FLAGS (a%)",
		"t STORE 1 FLAGS (\"x\")", "t STORE 1 (FOO 1) FLAGS ()",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		cmd = parse(bad[i]);
		if (imap_store_args_parse(cmd->args + 1, cmd->args_count - 1,
					  pool, &st, &error) != -1)
			fail_msg("parsed %s", bad[i]);
	}
	buf_free(&b);
}

static void test_status_list(void **state)
{
	unsigned items;
	const char *error;
	struct imap_list_args la;

	const struct imap_command *cmd = parse("t STATUS box (MESSAGES unseen SIZE UIDNEXT)");
	assert_int_equal(imap_status_items_parse(&cmd->args[1], &items, &error), 1);
	assert_int_equal(items, IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN |
					IMAP_STATUS_SIZE | IMAP_STATUS_UIDNEXT);
	cmd = parse("t STATUS box (FOO)");
	assert_int_equal(imap_status_items_parse(&cmd->args[1], &items, &error), -1);
	cmd = parse("t STATUS box ()");
	assert_int_equal(imap_status_items_parse(&cmd->args[1], &items, &error), -1);

	cmd = parse("t LIST \"\" *");
	assert_int_equal(imap_list_args_parse(cmd->args, cmd->args_count, pool, &la, &error), 1);
	assert_false(la.extended);
	assert_string_equal(la.reference, "");
	assert_string_equal(la.patterns[0], "*");

	cmd = parse("t LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Sent%) RETURN (CHILDREN STATUS (MESSAGES) SPECIAL-USE)");
	assert_int_equal(imap_list_args_parse(cmd->args, cmd->args_count, pool, &la, &error), 1);
	assert_true(la.extended);
	assert_int_equal(la.select, IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_RECURSIVEMATCH);
	assert_int_equal(la.ret, IMAP_LIST_RET_CHILDREN | IMAP_LIST_RET_STATUS |
					 IMAP_LIST_RET_SPECIAL_USE);
	assert_int_equal(la.status_items, IMAP_STATUS_MESSAGES);
	assert_int_equal(la.patterns_count, 2);
	assert_string_equal(la.patterns[1], "Sent%");

	static const char *const bad[] = {
		"t LIST", "t LIST \"\"", "t LIST (FOO) \"\" *",
		"t LIST (RECURSIVEMATCH) \"\" *", "t LIST \"\" * RETURN",
		"t LIST \"\" * RETURN (FOO)", "t LIST \"\" () ", "t LIST \"\" * x y",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		cmd = parse(bad[i]);
		if (imap_list_args_parse(cmd->args, cmd->args_count, pool, &la,
					 &error) != -1)
			fail_msg("parsed %s", bad[i]);
	}
}

static void test_list_match(void **state)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} cases[] = {
		{ "*", "a/b/c", true },	     { "%", "a/b", false },
		{ "%", "a", true },	     { "a/%", "a/b", true },
		{ "a/%", "a/b/c", false },   { "a/*", "a/b/c", true },
		{ "inbox", "INBOX", true },  { "INBOX", "inbox", true },
		{ "Inbox/%", "INBOX/x", true }, { "inboxes", "INBOXES", false },
		{ "S%t", "Sent", true },     { "S%t", "S/t", false },
		{ "", "", true },	     { "a", "ab", false },
		{ "*a*b*c*d*e*f*g*", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
		{ "%%%", "abc", true },	     { "a*%", "a/b", true },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		if (imap_list_match(cases[i].pattern, cases[i].name, '/') !=
		    cases[i].match)
			fail_msg("%s ~ %s", cases[i].pattern, cases[i].name);
	}
	assert_string_equal(imap_list_join(pool, "a/", "b", '/'), "a/b");
	assert_string_equal(imap_list_join(pool, "a/", "/b", '/'), "/b");
	assert_string_equal(imap_list_join(pool, "", "b", '/'), "b");
}

static void test_dates(void **state)
{
	time_t t;
	int tz;
	struct buf b = BUF_INIT;

	assert_int_equal(imap_date_parse("1-Jan-1970", &t), 1);
	assert_int_equal(t, 0);
	assert_int_equal(imap_date_parse("29-Feb-2024", &t), 1);
	assert_int_equal(imap_date_parse("29-Feb-2023", &t), -1);
	assert_int_equal(imap_date_parse("1-jan-1970x", &t), -1);
	assert_int_equal(imap_date_parse("", &t), -1);

	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", &t, &tz), 1);
	assert_int_equal(t, 837596665);
	assert_int_equal(tz, -420);
	assert_int_equal(imap_datetime_parse(" 7-Jul-1996 02:44:25 +0000", &t, &tz), 1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25", &t, &tz), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 24:44:25 +0000", &t, &tz), -1);
	assert_int_equal(imap_datetime_parse("17-Jul-1996 02:44:25 +0000x", &t, &tz), -1);

	imap_datetime_write(&b, 837596665, -420);
	assert_string_equal(buf_cstr(&b), "\"17-Jul-1996 02:44:25 -0700\"");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_fetch_details),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_search_return_charset),
		cmocka_unit_test(test_flags_store),
		cmocka_unit_test(test_status_list),
		cmocka_unit_test(test_list_match),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

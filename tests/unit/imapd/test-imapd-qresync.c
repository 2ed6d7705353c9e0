/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "imap-parser.h"
#include "imap-args.h"
#include "imap-fetch-parse.h"

/* The QRESYNC grammar of RFC 7162 section 7 as the server parses it: the
 * SELECT/EXAMINE parameter and the VANISHED UID FETCH modifier. */

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
		fail_msg("not a command: %.60s", line);
	pool_clear(pool);
	return imap_parser_command(parser);
}

static int setup(void **state)
{
	struct imap_parser_settings set;
	imap_parser_settings_default(&set);
	set.max_line_length = 1024 * 1024;
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

struct select_case {
	const char *params;
	int ret;
	bool condstore, qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	const char *known; /* normalized known-uids, NULL when not given */
	bool match;
};

static const struct select_case select_cases[] = {
	{ "(CONDSTORE)", 1, true, false, 0, 0, NULL, false },
	{ "(condstore)", 1, true, false, 0, 0, NULL, false },
	{ "(QRESYNC (67890007 90060115194045000))", 1, false, true, 67890007,
	  90060115194045000ULL, NULL, false },
	{ "(QRESYNC (1 0))", 1, false, true, 1, 0, NULL, false },
	{ "(QRESYNC (4294967295 9223372036854775807 5,1:3,4))", 1, false, true,
	  4294967295U, 9223372036854775807ULL, "1:5", false },
	{ "(QRESYNC (7 9 41:211,214:541 (1:3,7 41:43,50)))", 1, false, true, 7,
	  9, "41:211,214:541", true },
	{ "(QRESYNC (7 9 (1 5)))", 1, false, true, 7, 9, NULL, true },
	{ "(CONDSTORE QRESYNC (7 9))", 1, true, true, 7, 9, NULL, false },
	{ "(QRESYNC (7 9) CONDSTORE)", 1, true, true, 7, 9, NULL, false },
	{ "()", -1, false, false, 0, 0, NULL, false },
	{ "CONDSTORE", -1, false, false, 0, 0, NULL, false },
	{ "(FOO)", -1, false, false, 0, 0, NULL, false },
	{ "(CONDSTORE CONDSTORE)", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC)", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC 1 2)", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC ())", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (0 1))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (4294967296 1))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 9223372036854775808))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 -1))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 \"2\"))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:*))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 *))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 $))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 0))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 (1 2) x))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 (1:2 3)))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 (2,1 3,4)))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 (1 *)))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 (1)))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2 1:5 1:5))", -1, false, false, 0, 0, NULL, false },
	{ "(QRESYNC (1 2) QRESYNC (1 2))", -1, false, false, 0, 0, NULL, false },
};

static void test_select_params(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(select_cases); i++) {
		const struct select_case *c = &select_cases[i];
		struct imap_select_params p;
		struct buf line = BUF_INIT, known = BUF_INIT;
		const char *error;

		buf_printf(&line, "t SELECT INBOX %s", c->params);
		const struct imap_command *cmd = parse(buf_cstr(&line));
		assert_int_equal(cmd->args_count, 2);
		int ret = imap_select_params_parse(&cmd->args[1], &p, &error);
		if (ret != c->ret)
			fail_msg("case %s: %d", c->params, ret);
		if (ret > 0) {
			if (p.condstore != c->condstore || p.qresync != c->qresync ||
			    p.uidvalidity != c->uidvalidity || p.modseq != c->modseq ||
			    p.known_uids_given != (c->known != NULL) ||
			    p.match_data_given != c->match)
				fail_msg("case %s: wrong values", c->params);
			imap_seqset_write(&p.known_uids, &known);
			if (c->known != NULL &&
			    strcmp(buf_cstr(&known), c->known) != 0)
				fail_msg("case %s: known %s", c->params,
					 buf_cstr(&known));
		} else {
			assert_false(p.known_uids_given);
			assert_null(p.known_uids.ranges);
		}
		imap_select_params_free(&p);
		buf_free(&line);
		buf_free(&known);
	}
}

/* The client controls the set's size: past the limit it is refused. */
static void test_select_params_limit(void **state)
{
	struct imap_select_params p;
	struct buf line = BUF_INIT;
	const char *error;

	for (unsigned n = IMAP_QRESYNC_MAX_RANGES; n <= IMAP_QRESYNC_MAX_RANGES + 1;
	     n++) {
		buf_reset(&line);
		buf_append_str(&line, "t SELECT INBOX (QRESYNC (1 2 ");
		for (unsigned i = 0; i < n; i++)
			buf_printf(&line, "%s%u", i == 0 ? "" : ",", 2 * i + 1);
		buf_append_str(&line, "))");
		const struct imap_command *cmd = parse(buf_cstr(&line));
		int ret = imap_select_params_parse(&cmd->args[1], &p, &error);
		assert_int_equal(ret, n <= IMAP_QRESYNC_MAX_RANGES ? 1 : -1);
		if (ret > 0)
			assert_int_equal(p.known_uids.count, n);
		imap_select_params_free(&p);
	}
	buf_free(&line);
}

static void test_fetch_vanished(void **state)
{
	static const struct {
		const char *args;
		int ret;
		bool vanished;
	} cases[] = {
		{ "(FLAGS) (CHANGEDSINCE 5 VANISHED)", 1, true },
		{ "(FLAGS) (VANISHED CHANGEDSINCE 5)", 1, true },
		{ "(FLAGS) (vanished changedsince 5)", 1, true },
		{ "(FLAGS) (CHANGEDSINCE 5)", 1, false },
		{ "(FLAGS) (VANISHED)", -1, false },
		{ "(FLAGS) (CHANGEDSINCE 5 VANISHED VANISHED)", -1, false },
		{ "(FLAGS) (CHANGEDSINCE 5 CHANGEDSINCE 6)", -1, false },
		{ "(FLAGS) (CHANGEDSINCE VANISHED)", -1, false },
		{ "(FLAGS) (VANISHED 5)", -1, false },
		{ "(FLAGS) ()", 1, false },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct imap_fetch_items items;
		struct buf line = BUF_INIT;
		const char *error;

		buf_printf(&line, "t UID FETCH 1:* %s", cases[i].args);
		const struct imap_command *cmd = parse(buf_cstr(&line));
		int ret = imap_fetch_items_parse(cmd->args + 1, cmd->args_count - 1,
						 pool, &items, &error);
		if (ret != cases[i].ret ||
		    (ret > 0 && items.vanished != cases[i].vanished))
			fail_msg("case %s: %d", cases[i].args, ret);
		if (ret > 0 && items.vanished)
			assert_int_equal(items.changedsince, 5);
		buf_free(&line);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_params),
		cmocka_unit_test(test_select_params_limit),
		cmocka_unit_test(test_fetch_vanished),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/* The IMAP command parser fed in pieces, and every argument parser run on
 * what it yields. Besides not crashing: feeding in pieces must give the same
 * commands as feeding whole, and sequence sets must come out normalised. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "imap-parser.h"
#include "imap-args.h"
#include "imap-fetch-parse.h"
#include "imap-search.h"
#include "imap-seqset.h"
#include "imap-utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_args(const struct imap_command *cmd, struct pool *pool)
{
	const char *error, *s;
	bool badcs;

	if (strcmp(cmd->name, "FETCH") == 0 && cmd->args_count > 1) {
		struct imap_fetch_items items;
		(void)imap_fetch_items_parse(cmd->args + 1, cmd->args_count - 1,
					     pool, &items, &error);
	} else if (strcmp(cmd->name, "SEARCH") == 0) {
		struct imap_search_args sa;
		if (imap_search_args_parse(cmd->args, cmd->args_count, pool, &sa,
					   &badcs, &error) > 0)
			imap_search_args_free(&sa);
	} else if (strcmp(cmd->name, "STORE") == 0 && cmd->args_count > 1) {
		struct imap_store_args st;
		(void)imap_store_args_parse(cmd->args + 1, cmd->args_count - 1,
					    pool, &st, &error);
	} else if (strcmp(cmd->name, "LIST") == 0) {
		struct imap_list_args la;
		if (imap_list_args_parse(cmd->args, cmd->args_count, pool, &la,
					 &error) > 0) {
			for (size_t i = 0; i < la.patterns_count; i++)
				(void)imap_list_match(la.patterns[i], la.reference, '/');
		}
	} else if ((strcmp(cmd->name, "SELECT") == 0 ||
		    strcmp(cmd->name, "EXAMINE") == 0) && cmd->args_count > 1) {
		struct imap_select_params sp;
		if (imap_select_params_parse(&cmd->args[1], &sp, &error) > 0) {
			/* known-uids come out sorted and merged. */
			for (size_t i = 1; i < sp.known_uids.count; i++) {
				if (sp.known_uids.ranges[i].lo <=
				    sp.known_uids.ranges[i - 1].hi)
					abort();
			}
		}
		imap_select_params_free(&sp);
	} else if (strcmp(cmd->name, "STATUS") == 0 && cmd->args_count > 1) {
		unsigned items;
		(void)imap_status_items_parse(&cmd->args[1], &items, &error);
	} else if (strcmp(cmd->name, "APPEND") == 0 && cmd->args_count > 1 &&
		   imap_arg_get_string(&cmd->args[1], &s)) {
		time_t t;
		int tz;
		(void)imap_datetime_parse(s, &t, &tz);
	}
	if (cmd->args_count > 0 && imap_arg_get_astring(&cmd->args[0], &s)) {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		struct buf b = BUF_INIT;
		if (imap_seqset_parse(s, &set, 0, &error) > 0) {
			imap_seqset_resolve(&set, 1000);
			for (size_t i = 1; i < set.count; i++) {
				if (set.ranges[i].lo <= set.ranges[i - 1].hi)
					abort();
			}
		}
		imap_seqset_free(&set);
		if (imap_utf7_to_utf8(s, &b) == 0) {
			struct buf back = BUF_INIT;
			if (imap_utf8_to_utf7(buf_cstr(&b), &back) < 0 ||
			    strcmp(buf_cstr(&back), s) != 0)
				abort();
			buf_free(&back);
		}
		buf_free(&b);
	}
}

static void describe(struct buf *out, const struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		buf_printf(out, "%d:%zu:", (int)args[i].type, args[i].len);
		if (args[i].type == IMAP_ARG_LIST)
			describe(out, args[i].list, args[i].len);
		else
			buf_append(out, args[i].str, args[i].len);
		buf_append_byte(out, ';');
	}
}

static void run(const uint8_t *data, size_t size, size_t step,
		struct buf *trace)
{
	struct imap_parser_settings set;
	struct imap_parser *p;
	struct pool *pool = pool_create("fuzz", 1024);
	size_t pos = 0;

	imap_parser_settings_default(&set);
	set.max_line_length = 4096;
	set.max_literal_size = 4096;
	set.max_append_literal_size = 65536;
	set.max_args = 500;
	p = imap_parser_create(&set);
	while (pos < size) {
		size_t used, n = MIN(step, size - pos);
		enum imap_parse_result r = imap_parser_feed(p, data + pos, n, &used);
		const char *error;
		bool fatal;

		if (used > n)
			abort();
		pos += used;
		switch (r) {
		case IMAP_PARSE_MORE:
			if (used != n)
				abort();
			break;
		case IMAP_PARSE_LITERAL:
			buf_printf(trace, "L%llu;",
				   (unsigned long long)imap_parser_literal_size(p));
			if (imap_parser_literal_size(p) % 3 == 0 ||
			    imap_parser_literal_accept(p, &error) < 0)
				imap_parser_literal_reject(p);
			break;
		case IMAP_PARSE_COMMAND: {
			const struct imap_command *cmd = imap_parser_command(p);
			buf_printf(trace, "C%s %s %d ", cmd->tag, cmd->name, cmd->uid);
			describe(trace, cmd->args, cmd->args_count);
			pool_clear(pool);
			check_args(cmd, pool);
			break;
		}
		case IMAP_PARSE_ERROR:
			buf_printf(trace, "E%s;", imap_parser_error(p, &fatal));
			if (fatal)
				pos = size;
			break;
		}
	}
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	run(data + 1, size - 1, size, &whole);
	run(data + 1, size - 1, step, &pieces);
	if (!buf_equals(&whole, pieces.data, pieces.len))
		abort();
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}

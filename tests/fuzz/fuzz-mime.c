/* SPDX-License-Identifier: MIT */
/* The MIME parser and the ENVELOPE / BODYSTRUCTURE writers. Besides not
 * crashing, checks that the tree's offsets are consistent and that feeding
 * the message in pieces gives the same result as feeding it whole. */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "mime-parser.h"
#include "imap-bodystructure.h"
#include "imap-envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_part(const struct mime_part *part, uint64_t start,
		       uint64_t end)
{
	if (part->header_offset < start ||
	    part->header_offset + part->header_size != part->body_offset ||
	    part->body_offset + part->body_size > end)
		abort();
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		if (c->parent != part || c->depth != part->depth + 1)
			abort();
		check_part(c, part->body_offset,
			   part->body_offset + part->body_size);
	}
}

static const char *render(struct pool *pool, const struct mime_part *root)
{
	const char *env, *bs, *body;

	imap_message_strings_from_tree(pool, root, &env, &bs, &body);
	return pool_printf(pool, "%s\n%s\n%s", env, bs, body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create("fuzz mime", 16384);
	struct mime_parser_limits small = {
		.max_depth = 4, .max_parts = 16, .max_header_size = 256,
	};
	struct mime_parser *parser;
	struct mime_part *whole, *pieces;
	uint32_t h = 2166136261u;
	size_t pos = 0;

	whole = mime_parse(pool, data, size, NULL);
	check_part(whole, 0, size);

	/* the same input in pieces whose sizes depend on the input */
	for (size_t i = 0; i < size && i < 64; i++)
		h = (h ^ data[i]) * 16777619u;
	parser = mime_parser_create(pool, NULL);
	while (pos < size) {
		size_t n = 1 + (h % 97);

		h = h * 1103515245u + 12345u;
		if (n > size - pos)
			n = size - pos;
		mime_parser_feed(parser, data + pos, n);
		pos += n;
	}
	pieces = mime_parser_finish(parser);
	mime_parser_destroy(&parser);
	if (strcmp(render(pool, whole), render(pool, pieces)) != 0)
		abort();

	/* tight limits must hold too */
	whole = mime_parse(pool, data, size, &small);
	check_part(whole, 0, size);
	if (mime_part_count(whole) > small.max_parts)
		abort();
	(void)render(pool, whole);
	pool_destroy(&pool);
	return 0;
}

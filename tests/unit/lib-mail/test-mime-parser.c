/* SPDX-License-Identifier: MIT */
/* The streaming MIME parser: exact offsets, sizes and line counts on
 * hand-made messages (including broken ones), limits, and for every corpus
 * message the same tree whether it is fed whole, byte by byte or in random
 * pieces. usage: test-mime-parser [SHARED_DIR [EXTRA_DIR]] */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "mime-parser.h"
#include "corpus.h"

#include <sys/stat.h>

static const char *shared_dir, *extra_dir;

/* Serialises the whole tree, every field, for comparisons. */
static void dump_part(struct buf *b, const struct mime_part *p)
{
	buf_printf(b, "[h=%llu+%llu b=%llu+%llu l=%llu f=%x d=%u %s/%s",
		   (unsigned long long)p->header_offset,
		   (unsigned long long)p->header_size,
		   (unsigned long long)p->body_offset,
		   (unsigned long long)p->body_size,
		   (unsigned long long)p->body_lines, p->flags, p->depth,
		   p->content_type ? p->content_type : "-",
		   p->content_subtype ? p->content_subtype : "-");
	for (unsigned int i = 0; i < p->content_type_params_count; i++)
		buf_printf(b, ";%s=%s", p->content_type_params[i].name,
			   p->content_type_params[i].value);
	buf_printf(b, " id=%s desc=%s enc=%s md5=%s disp=%s lang=%s loc=%s",
		   p->content_id ? p->content_id : "-",
		   p->content_description ? p->content_description : "-",
		   p->content_transfer_encoding ? p->content_transfer_encoding : "-",
		   p->content_md5 ? p->content_md5 : "-",
		   p->content_disposition ? p->content_disposition : "-",
		   p->content_language ? p->content_language : "-",
		   p->content_location ? p->content_location : "-");
	if (p->envelope != NULL)
		buf_printf(b, " env=%s|%s|%s", p->envelope->subject ? p->envelope->subject : "-",
			   p->envelope->from ? p->envelope->from->mailbox : "-",
			   p->envelope->message_id ? p->envelope->message_id : "-");
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		dump_part(b, c);
	buf_append_byte(b, ']');
}

static char *dump(const struct mime_part *root)
{
	struct buf b = BUF_INIT;
	size_t len;

	dump_part(&b, root);
	return (char *)buf_steal(&b, &len);
}

/* The compact shape: "(offsets)" per part, children nested. */
static void shape_part(struct buf *b, const struct mime_part *p)
{
	buf_printf(b, "(%llu,%llu,%llu,%llu,%llu",
		   (unsigned long long)p->header_offset,
		   (unsigned long long)p->header_size,
		   (unsigned long long)p->body_offset,
		   (unsigned long long)p->body_size,
		   (unsigned long long)p->body_lines);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		shape_part(b, c);
	buf_append_byte(b, ')');
}

static unsigned int shape_failures;

static void check_shape(const char *msg, const char *want)
{
	struct pool *pool = pool_create("test", 4096);
	struct mime_part *root = mime_parse(pool, (const uint8_t *)msg,
					    strlen(msg), NULL);
	struct buf b = BUF_INIT;

	shape_part(&b, root);
	if (strcmp(buf_cstr(&b), want) != 0) {
		printf("shape %s, want %s, for:\n%s\n", buf_cstr(&b), want, msg);
		shape_failures++;
	}
	buf_free(&b);
	pool_destroy(&pool);
}

static void test_shapes(void **state)
{
	/* no MIME at all */
	check_shape("Subject: x\r\n\r\nhello\r\n", "(0,14,14,7,1)");
	/* header only, no blank line; empty message */
	check_shape("Subject: x\r\n", "(0,12,12,0,0)");
	check_shape("", "(0,0,0,0,0)");
	/* body with no final line end */
	check_shape("A: b\r\n\r\nhello", "(0,8,8,5,0)");
	/* RFC 2046 section 5.1.1: the CRLF before a boundary is the
	 * boundary's; preamble and epilogue belong to the multipart */
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "preamble\r\n--b\r\n\r\none\r\n--b\r\nX: y\r\n\r\ntwo\r\n\r\n--b--\r\nepilogue\r\n",
		    "(0,45,45,59,11(60,2,62,3,0)(72,8,80,5,1))");
	/* missing final boundary: the last part runs to the end */
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n",
		    "(0,45,45,24,6(50,2,52,3,0)(62,2,64,5,1))");
	/* boundary with trailing junk and longest-match, nested multiparts */
	check_shape("Content-Type: multipart/mixed; boundary=a\r\n\r\n"
		    "--a  \r\nContent-Type: multipart/alternative; boundary=ab\r\n\r\n"
		    "--ab\r\n\r\nx\r\n--ab--\r\n--a--\r\n",
		    "(0,45,45,85,8(52,52,104,19,4(110,2,112,1,0)))");
	/* message/rfc822 is parsed as a message */
	check_shape("Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n",
		    "(0,32,32,21,3(32,15,47,6,1))");
	/* LF-only input is accepted, sizes are of the bytes given */
	check_shape("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n",
		    "(0,43,43,15,4(47,1,48,3,0))");
	/* a boundary inside a part's header ends it with an empty body;
	 * the line end before the boundary is the boundary's */
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\nX: y\r\n--b\r\n\r\nz\r\n",
		    "(0,45,45,21,5(50,4,54,0,0)(61,2,63,3,1))");
	/* multipart without a boundary parameter: a leaf */
	check_shape("Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n",
		    "(0,33,33,10,3)");
	/* the line end of a boundary line is its own: an empty part whose
	 * header is just the next boundary */
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\n--b\r\n\r\nx\r\n--b--\r\n",
		    "(0,45,45,22,5(50,0,50,0,0)(55,2,57,1,0))");
	/* an empty body: the blank line before the boundary leaves the
	 * header (Dovecot's BODY[n.MIME]), also for an empty message/rfc822 */
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\nX: y\r\n\r\n--b--\r\n",
		    "(0,45,45,20,4(50,6,56,0,0))");
	check_shape("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n",
		    "(0,45,45,44,4(50,30,80,0,0(80,0,80,0,0)))");
	assert_int_equal(shape_failures, 0);
}

static void test_fields(void **state)
{
	const char *msg =
		"From: a@b\r\nSubject: one\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/digest; boundary=\"d\"\r\n\r\n"
		"--d\r\n\r\nSubject: digest default\r\n\r\nx\r\n"
		"--d\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-ID: <id@x>\r\nContent-Description: a\r\n b\r\n"
		"Content-Transfer-Encoding: QUOTED-PRINTABLE\r\n"
		"Content-Disposition: attachment; filename=\"f.txt\"\r\n"
		"Content-Language: en, de\r\nContent-Location: http://x/\r\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\nbody\r\n"
		"--d\r\nContent-Type: text\r\n\r\nbroken type\r\n--d--\r\n";
	struct pool *pool = pool_create("test", 4096);
	struct mime_part *root = mime_parse(pool, (const uint8_t *)msg,
					    strlen(msg), NULL);
	struct mime_part *p1, *p2, *p3;

	assert_true((root->flags & MIME_PART_FLAG_MULTIPART) != 0);
	/* as Dovecot: the last Subject wins */
	assert_string_equal(root->envelope->subject, "two");
	assert_string_equal(root->envelope->from->mailbox, "a");
	assert_string_equal(root->envelope->from->domain, "b");
	assert_null(root->envelope->to);
	p1 = root->children;
	p2 = p1->next;
	p3 = p2->next;
	assert_null(p3->next);
	/* RFC 2046 section 5.1.5: digest parts default to message/rfc822 */
	assert_true((p1->flags & MIME_PART_FLAG_MESSAGE_RFC822) != 0);
	assert_null(p1->content_type);
	assert_non_null(p1->children);
	assert_string_equal(p1->children->envelope->subject, "digest default");
	assert_string_equal(p2->content_type, "text");
	assert_string_equal(p2->content_type_params[0].value, "utf-8");
	assert_string_equal(p2->content_id, "<id@x>");
	assert_string_equal(p2->content_description, "a\r\n b");
	assert_string_equal(p2->content_transfer_encoding, "QUOTED-PRINTABLE");
	assert_string_equal(p2->content_disposition, "attachment");
	assert_string_equal(p2->content_disposition_params[0].name, "filename");
	assert_string_equal(p2->content_language, "en, de");
	assert_string_equal(p2->content_location, "http://x/");
	assert_string_equal(p2->content_md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	assert_null(p2->envelope);
	/* invalid Content-Type: a lone type is kept, subtype "" */
	assert_string_equal(p3->content_type, "text");
	assert_string_equal(p3->content_subtype, "");
	assert_true((p3->flags & MIME_PART_FLAG_TEXT) != 0);
	assert_int_equal(mime_part_count(root), 5);
	pool_destroy(&pool);
}

static void test_limits(void **state)
{
	struct pool *pool = pool_create("test", 4096);
	struct buf b = BUF_INIT;
	struct mime_parser_limits limits = { .max_depth = 5, .max_parts = 20,
					     .max_header_size = 64 };
	struct mime_part *root, *p;
	unsigned int depth = 0;

	/* deep nesting stops at max_depth - 1 (Dovecot's count) */
	for (int i = 0; i < 50; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	buf_append_str(&b, "\r\nleaf\r\n");
	root = mime_parse(pool, b.data, b.len, &limits);
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, 4);
	assert_true((p->flags & MIME_PART_FLAG_LIMIT_REACHED) != 0);
	assert_true((p->flags & MIME_PART_FLAG_MULTIPART) == 0);
	/* message/rfc822 nesting too */
	buf_reset(&b);
	for (int i = 0; i < 50; i++)
		buf_append_str(&b, "Content-Type: message/rfc822\r\n\r\n");
	root = mime_parse(pool, b.data, b.len, &limits);
	depth = 0;
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, 4);
	/* part count */
	buf_reset(&b);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "--b\r\n\r\nx\r\n");
	root = mime_parse(pool, b.data, b.len, &limits);
	assert_int_equal(mime_part_count(root), 20);
	assert_int_equal(root->body_size, b.len - root->body_offset);
	/* header size: the rest is counted but not parsed */
	buf_reset(&b);
	buf_append_str(&b, "X-Long: ");
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "xxxxxxxxxx");
	buf_append_str(&b, "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n");
	root = mime_parse(pool, b.data, b.len, &limits);
	assert_true((root->flags & MIME_PART_FLAG_HEADER_TRUNCATED) != 0);
	assert_null(root->content_type);
	assert_null(root->children);
	assert_int_equal(root->header_size, 1010 + 43 + 2);
	/* many repeated address fields: capped, and in linear time */
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "To: a@b\r\n");
	buf_append_str(&b, "\r\nbody\r\n");
	root = mime_parse(pool, b.data, b.len, NULL);
	unsigned int n = 0;
	for (const struct message_address *a = root->envelope->to; a != NULL; a = a->next)
		n++;
	assert_int_equal(n, 10000);
	buf_free(&b);
	pool_destroy(&pool);
}

static struct mime_part *parse_pieces(struct pool *pool, const uint8_t *data,
				      size_t size, unsigned int mode,
				      uint32_t *seed)
{
	struct mime_parser *parser = mime_parser_create(pool, NULL);
	struct mime_part *root;
	size_t pos = 0;

	while (pos < size) {
		size_t n;

		if (mode == 0) {
			n = 1;
		} else {
			*seed = *seed * 1103515245u + 12345u;
			n = 1 + (*seed >> 8) % (mode == 1 ? 7 : 4000);
		}
		if (n > size - pos)
			n = size - pos;
		mime_parser_feed(parser, data + pos, n);
		mime_parser_feed(parser, data + pos, 0);
		pos += n;
	}
	root = mime_parser_finish(parser);
	mime_parser_destroy(&parser);
	return root;
}

static void test_corpus_pieces(void **state)
{
	struct corpus_message *msgs;
	unsigned int count;
	uint32_t seed = 42;

	if (shared_dir == NULL || corpus_load(shared_dir, &msgs, &count) == 0) {
		printf("NOTICE: no shared corpus: only tests/corpus-ref/extra-src\n");
		msgs = NULL;
		count = 0;
	}
	if (extra_dir != NULL)
		(void)corpus_add_dir(extra_dir, "extra", &msgs, &count);
	if (count == 0)
		skip();
	for (unsigned int i = 0; i < count; i++) {
		struct pool *pool = pool_create("corpus", 16384);
		char *whole = dump(mime_parse(pool, msgs[i].data, msgs[i].size, NULL));

		for (unsigned int mode = 0; mode < 3; mode++) {
			char *d;

			/* byte by byte only for the smaller ones: keeps it fast */
			if (mode == 0 && msgs[i].size > 200000)
				continue;
			d = dump(parse_pieces(pool, msgs[i].data, msgs[i].size, mode, &seed));
			if (strcmp(d, whole) != 0)
				fail_msg("%s: mode %u differs:\n%s\n%s", msgs[i].name,
					 mode, whole, d);
			free(d);
		}
		free(whole);
		pool_destroy(&pool);
	}
	printf("corpus: %u messages give the same tree whole, byte by byte and in pieces\n",
	       count);
	corpus_free(&msgs, count);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_corpus_pieces),
	};
	struct stat st;

	if (argc > 2)
		extra_dir = argv[2];
	if (argc > 1 && stat(argv[1], &st) == 0)
		shared_dir = argv[1];
	else if (argc > 1)
		printf("NOTICE: %s is absent; the corpus part is skipped\n", argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Differential test: our BODYSTRUCTURE, ENVELOPE and BODY for every corpus
 * message against Dovecot's, saved in tests/corpus-ref by make-refs.py.
 * Also our own edge cases (tests/corpus-ref/extra-src), which run even
 * without the shared corpus.
 * Usage: test-imap-corpus SHARED_DIR REF_DIR [NAME-SUBSTRING] */
#include "../unit.h"
#include <sys/stat.h>
#include "buf.h"
#include "pool.h"
#include "mime-parser.h"
#include "imap-bodystructure.h"
#include "imap-envelope.h"
#include "../lib-mail/corpus.h"

static const char *shared_dir, *ref_dir, *only;

/* Finds "ITEM <len>\n<value>\n" in a .ref file. */
static bool ref_get(const uint8_t *ref, size_t size, const char *item,
		    const uint8_t **value_r, size_t *len_r)
{
	size_t pos = 0, ilen = strlen(item);

	while (pos < size) {
		const uint8_t *nl = memchr(ref + pos, '\n', size - pos);
		unsigned long long len;

		if (nl == NULL)
			return false;
		if (sscanf((const char *)ref + pos, "%*s %llu", &len) != 1)
			return false;
		bool match = (size_t)(nl - (ref + pos)) > ilen &&
			     memcmp(ref + pos, item, ilen) == 0 &&
			     ref[pos + ilen] == ' ';
		pos = (size_t)(nl - ref) + 1;
		if (len > size - pos)
			return false;
		if (match) {
			*value_r = ref + pos;
			*len_r = len;
			return true;
		}
		pos += len + 1;
	}
	return false;
}

static int compare(const char *name, const char *item, const char *ours,
		   const uint8_t *ref, size_t ref_size)
{
	const uint8_t *want;
	size_t want_len;

	if (!ref_get(ref, ref_size, item, &want, &want_len)) {
		printf("%s: %s missing from the reference\n", name, item);
		return 1;
	}
	if (strlen(ours) == want_len && memcmp(ours, want, want_len) == 0)
		return 0;
	printf("MISMATCH %s %s\n  dovecot: %.*s\n  ours:    %s\n", name, item,
	       (int)want_len, (const char *)want, ours);
	return 1;
}

/* The store's other way in: the message fed as it streams in (odd piece
 * sizes), the strings made from the tree. They must be the same. */
static int check_streamed(struct pool *pool, const struct corpus_message *m,
			  const char *env, const char *bs, const char *body)
{
	struct mime_parser *parser = mime_parser_create(pool, NULL);
	const char *env2, *bs2, *body2;
	size_t pos = 0, n = 1;

	while (pos < m->size) {
		n = n * 7 % 1531 + 1;
		if (n > m->size - pos)
			n = m->size - pos;
		mime_parser_feed(parser, m->data + pos, n);
		pos += n;
	}
	imap_message_strings_from_tree(pool, mime_parser_finish(parser),
				       &env2, &bs2, &body2);
	mime_parser_destroy(&parser);
	if (strcmp(env, env2) == 0 && strcmp(bs, bs2) == 0 &&
	    strcmp(body, body2) == 0)
		return 0;
	printf("%s: streamed parse gives other strings\n", m->name);
	return 1;
}

static void test_corpus(void **state)
{
	struct corpus_message *msgs;
	unsigned int count, failures = 0, checked = 0;

	if (corpus_load(shared_dir, &msgs, &count) == 0)
		printf("NOTICE: %s/corpus is absent: only our own edge cases "
		       "are compared\n", shared_dir);
	{
		char *extra = i_strdup_printf("%s/extra-src", ref_dir);

		(void)corpus_add_dir(extra, "extra", &msgs, &count);
		i_free(extra);
	}
	for (unsigned int i = 0; i < count; i++) {
		struct pool *pool;
		const char *env, *bs, *body;
		char *path;
		uint8_t *ref;
		size_t ref_size;

		if (only != NULL && strstr(msgs[i].name, only) == NULL)
			continue;
		path = i_strdup_printf("%s/%s.ref", ref_dir, msgs[i].name);
		ref = corpus_read_file(path, &ref_size);
		if (ref == NULL) {
			printf("%s: no reference file %s\n", msgs[i].name, path);
			failures++;
			i_free(path);
			continue;
		}
		pool = pool_create("corpus", 16384);
		imap_message_summarize(pool, msgs[i].data, msgs[i].size, &env, &bs);
		body = imap_message_body(pool, msgs[i].data, msgs[i].size);
		failures += compare(msgs[i].name, "BODYSTRUCTURE", bs, ref, ref_size);
		failures += compare(msgs[i].name, "ENVELOPE", env, ref, ref_size);
		failures += compare(msgs[i].name, "BODY", body, ref, ref_size);
		failures += check_streamed(pool, &msgs[i], env, bs, body);
		checked++;
		pool_destroy(&pool);
		free(ref);
		i_free(path);
	}
	printf("corpus: %u messages compared with Dovecot, %u mismatches\n",
	       checked, failures);
	corpus_free(&msgs, count);
	assert_true(checked > 0);
	assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	struct stat st;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SHARED_DIR REF_DIR [NAME]\n", argv[0]);
		return 2;
	}
	shared_dir = argv[1];
	ref_dir = argv[2];
	only = argc > 3 ? argv[3] : NULL;
	if (stat(shared_dir, &st) < 0)
		printf("NOTICE: %s is absent: the shared corpus is skipped\n", shared_dir);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

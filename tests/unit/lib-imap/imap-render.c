/* SPDX-License-Identifier: MIT */
/* Writes our BODYSTRUCTURE, ENVELOPE and BODY for each message file given,
 * to FILE.ours in the .ref format of tests/corpus-ref (used by
 * tests/corpus-ref/diff-fuzz.py to compare with Dovecot). The files must
 * already be in stored form (CRLF). With --sections it also lists the IMAP
 * section names of every part and the byte range of each.
 * usage: imap-render [--sections] FILE... */
#include "lib.h"
#include "pool.h"
#include "mime-parser.h"
#include "imap-bodystructure.h"
#include "../lib-mail/corpus.h"

/* The IMAP section names of RFC 3501 section 6.4.5 for every part, with
 * the byte range our tree gives for each, as "SECTION name offset size". */
static void sections_message(FILE *f, const struct mime_part *msg,
			     const char *prefix);

static void sections_part(FILE *f, const struct mime_part *part,
			  const char *sec)
{
	fprintf(f, "SECTION %s %llu %llu\n", sec,
		(unsigned long long)part->body_offset,
		(unsigned long long)part->body_size);
	fprintf(f, "SECTION %s.MIME %llu %llu\n", sec,
		(unsigned long long)part->header_offset,
		(unsigned long long)part->header_size);
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		unsigned int i = 1;

		for (const struct mime_part *c = part->children; c != NULL;
		     c = c->next, i++) {
			char *s = i_strdup_printf("%s.%u", sec, i);

			sections_part(f, c, s);
			i_free(s);
		}
	} else if ((part->flags & MIME_PART_FLAG_MESSAGE_RFC822) != 0 &&
		   part->children != NULL) {
		const struct mime_part *m = part->children;

		fprintf(f, "SECTION %s.HEADER %llu %llu\n", sec,
			(unsigned long long)m->header_offset,
			(unsigned long long)m->header_size);
		fprintf(f, "SECTION %s.TEXT %llu %llu\n", sec,
			(unsigned long long)m->body_offset,
			(unsigned long long)m->body_size);
		sections_message(f, m, sec);
	}
}

static void sections_message(FILE *f, const struct mime_part *msg,
			     const char *prefix)
{
	const char *dot = *prefix == '\0' ? "" : ".";

	if ((msg->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		unsigned int i = 1;

		for (const struct mime_part *c = msg->children; c != NULL;
		     c = c->next, i++) {
			char *s = i_strdup_printf("%s%s%u", prefix, dot, i);

			sections_part(f, c, s);
			i_free(s);
		}
	} else {
		fprintf(f, "SECTION %s%s1 %llu %llu\n", prefix, dot,
			(unsigned long long)msg->body_offset,
			(unsigned long long)msg->body_size);
	}
}

int main(int argc, char **argv)
{
	bool sections = argc > 1 && strcmp(argv[1], "--sections") == 0;

	for (int i = sections ? 2 : 1; i < argc; i++) {
		struct pool *pool = pool_create("imap-render", 16384);
		const char *env, *bs, *body;
		size_t size;
		uint8_t *data = corpus_read_file(argv[i], &size);
		char *out;
		FILE *f;

		if (data == NULL) {
			fprintf(stderr, "cannot read %s\n", argv[i]);
			return 1;
		}
		imap_message_summarize(pool, data, size, &env, &bs);
		body = imap_message_body(pool, data, size);
		out = i_strdup_printf("%s.ours", argv[i]);
		if ((f = fopen(out, "wb")) == NULL) {
			fprintf(stderr, "cannot write %s\n", out);
			return 1;
		}
		fprintf(f, "BODYSTRUCTURE %zu\n%s\nENVELOPE %zu\n%s\nBODY %zu\n%s\n",
			strlen(bs), bs, strlen(env), env, strlen(body), body);
		if (sections) {
			struct mime_part *root = mime_parse(pool, data, size, NULL);

			sections_message(f, root, "");
		}
		fclose(f);
		i_free(out);
		free(data);
		pool_destroy(&pool);
	}
	return 0;
}

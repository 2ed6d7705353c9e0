/* SPDX-License-Identifier: MIT */
/* Writes our BODYSTRUCTURE, ENVELOPE and BODY for each message file given,
 * to FILE.ours in the .ref format of tests/corpus-ref (used by
 * tests/corpus-ref/diff-fuzz.py to compare with Dovecot). The files must
 * already be in stored form (CRLF). usage: imap-render FILE... */
#include "lib.h"
#include "pool.h"
#include "imap-bodystructure.h"
#include "../lib-mail/corpus.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
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
		fclose(f);
		i_free(out);
		free(data);
		pool_destroy(&pool);
	}
	return 0;
}

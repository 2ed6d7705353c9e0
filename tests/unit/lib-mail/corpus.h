/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_TEST_CORPUS_H
#define POSTHORN_TEST_CORPUS_H

#include <stddef.h>
#include <stdint.h>

/* The shared real-world corpus (../shared/corpus), as the store would hold
 * it: each file of messages/ is one message, each mbox/ file is split on
 * lines starting with "From " (the line dropped, one blank separator line
 * before the next "From " dropped), and bare LF becomes CRLF. Names are
 * "messages/<file>" and "mbox/<file>.<n>" (n from 1), as in
 * tests/corpus-ref/make-refs.py, which must split the same way. */
struct corpus_message {
	char *name;
	uint8_t *data;
	size_t size;
};

/* Returns 1 and the messages, or 0 when shared_dir/corpus is missing. */
int corpus_load(const char *shared_dir, struct corpus_message **msgs_r,
		unsigned int *count_r);
/* Appends every file of dir as one message named "<prefix>/<file>"
 * (LF made CRLF). Returns 0 when dir is missing. */
int corpus_add_dir(const char *dir, const char *prefix,
		   struct corpus_message **msgs, unsigned int *count);
void corpus_free(struct corpus_message **msgs, unsigned int count);

/* Reads a whole file; NULL if it cannot. */
uint8_t *corpus_read_file(const char *path, size_t *size_r);

#endif

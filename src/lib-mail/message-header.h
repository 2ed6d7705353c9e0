/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MESSAGE_HEADER_H
#define POSTHORN_MESSAGE_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* Iterating the fields of one header block held in memory (RFC 5322
 * section 2.2), e.g. msg + part->header_offset, part->header_size.
 * Lines may end in CRLF or bare LF. Parsing is lenient: a line without a
 * colon is returned with no_colon set (name = the line, empty value), a
 * field name keeps no trailing whitespace ("Subject : x" is "Subject"). */
struct message_header_field {
	const char *name; /* points into the block, NOT NUL-terminated */
	size_t name_len;
	/* Raw value after the colon and the whitespace that follows it,
	 * folds (CRLF + WSP) still in, final line end excluded. Points into
	 * the block. */
	const uint8_t *value;
	size_t value_len;
	size_t offset; /* of the field's first byte within the block */
	size_t size;   /* physical size, including its final line end */
	bool no_colon;
};

struct message_header_iter {
	const uint8_t *data;
	size_t size;
	size_t pos;
	bool done;
};

void message_header_iter_init(struct message_header_iter *iter,
			      const uint8_t *data, size_t size);
/* 1 and *field_r set, or 0 at the blank line ending the header or the end
 * of the data. Never fails. */
int message_header_iter_next(struct message_header_iter *iter,
			     struct message_header_field *field_r);

/* Case-insensitive name comparison. */
bool message_header_field_is(const struct message_header_field *field,
			     const char *name);

/* Unfolds a raw value (RFC 5322 section 2.2.3): every CR and LF is removed,
 * the whitespace after them kept; trailing whitespace is trimmed. NUL bytes
 * are kept in the copy but end it as a C string. Allocated from pool. */
char *message_header_unfold(struct pool *pool, const uint8_t *value,
			    size_t len);

/* Size of the header block starting at data: the offset just past the blank
 * line that ends it (or size when there is none). */
size_t message_header_block_size(const uint8_t *data, size_t size);

#endif

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "message-header.h"

void message_header_iter_init(struct message_header_iter *iter,
			      const uint8_t *data, size_t size)
{
	memset(iter, 0, sizeof(*iter));
	iter->data = data;
	iter->size = size;
}

/* Returns the offset just past the LF ending the line at pos, or size. */
static size_t line_end(const uint8_t *data, size_t size, size_t pos)
{
	const uint8_t *lf = memchr(data + pos, '\n', size - pos);

	return lf == NULL ? size : (size_t)(lf - data) + 1;
}

int message_header_iter_next(struct message_header_iter *iter,
			     struct message_header_field *field_r)
{
	const uint8_t *d = iter->data;
	size_t pos = iter->pos, end, vstart, vend, name_end;
	const uint8_t *colon;

	if (iter->done || pos >= iter->size)
		return 0;
	if (d[pos] == '\n' ||
	    (d[pos] == '\r' && pos + 1 < iter->size && d[pos + 1] == '\n')) {
		iter->done = true;
		return 0;
	}
	memset(field_r, 0, sizeof(*field_r));
	field_r->offset = pos;
	end = line_end(d, iter->size, pos);
	/* continuation lines (RFC 5322 section 2.2.3) */
	while (end < iter->size && (d[end] == ' ' || d[end] == '\t'))
		end = line_end(d, iter->size, end);
	field_r->size = end - pos;
	iter->pos = end;

	vend = end;
	if (vend > pos && d[vend - 1] == '\n')
		vend--;
	/* the CR of CRLF and one stray CR before it (or a CR that ends the
	 * message), as Dovecot drops them */
	if (vend > pos && d[vend - 1] == '\r')
		vend--;
	if (vend > pos && d[vend - 1] == '\r')
		vend--;
	colon = memchr(d + pos, ':', vend - pos);
	if (colon == NULL) {
		field_r->name = (const char *)d + pos;
		field_r->name_len = vend - pos;
		field_r->value = d + vend;
		field_r->value_len = 0;
		field_r->no_colon = true;
		return 1;
	}
	name_end = (size_t)(colon - d);
	while (name_end > pos && (d[name_end - 1] == ' ' || d[name_end - 1] == '\t'))
		name_end--;
	field_r->name = (const char *)d + pos;
	field_r->name_len = name_end - pos;
	vstart = (size_t)(colon - d) + 1;
	while (vstart < vend && (d[vstart] == ' ' || d[vstart] == '\t'))
		vstart++;
	field_r->value = d + vstart;
	field_r->value_len = vend - vstart;
	return 1;
}

bool message_header_field_is(const struct message_header_field *field,
			     const char *name)
{
	size_t len = strlen(name);

	return field->name_len == len &&
	       str_ascii_ncmp_ci(field->name, name, len) == 0;
}

char *message_header_unfold(struct pool *pool, const uint8_t *value,
			    size_t len)
{
	char *out = pool_alloc(pool, len + 1);
	size_t i, j = 0;

	for (i = 0; i < len; i++) {
		if (value[i] == '\r' || value[i] == '\n')
			continue;
		out[j++] = value[i] == '\0' ? (char)0x80 : (char)value[i];
	}
	while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == '\t'))
		j--;
	out[j] = '\0';
	return out;
}

size_t message_header_block_size(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		if (data[pos] == '\n')
			return pos + 1;
		if (data[pos] == '\r' && pos + 1 < size && data[pos + 1] == '\n')
			return pos + 2;
		pos = line_end(data, size, pos);
	}
	return size;
}

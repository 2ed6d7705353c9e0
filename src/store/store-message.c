/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "store-private.h"

#ifdef STORE_HAVE_LIBIMAP
#include "pool.h"
#include "mime-parser.h"
#include "imap-bodystructure.h"
#include "buf.h"
#include "message-header.h"
#include "rfc2047.h"
#endif

/* Stored messages have CRLF line ends (DESIGN.md "Messages on disk"):
 * APPEND and import turn a bare LF into CRLF; a CR already followed by LF
 * stays as it is. */
static uint8_t *store_convert_lf(const uint8_t *data, size_t size,
				 size_t *size_r)
{
	size_t bare = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			bare++;
	}
	uint8_t *out = i_malloc(i_size_add(i_size_add(size, bare), 1));
	size_t o = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = data[i];
	}
	*size_r = o;
	return out;
}

#ifdef STORE_HAVE_LIBIMAP
/* The header index for SEARCH: every field of the top-level header as
 * "name: value\n", the name lower-cased, the value unfolded and RFC 2047
 * decoded to UTF-8, so FROM/SUBJECT/HEADER searches match without reading
 * or decoding the message. Capped at STORE_SEARCH_HEADERS_MAX bytes. */
static char *store_search_headers(struct pool *pool, const uint8_t *data,
				  size_t header_size)
{
	struct buf out = BUF_INIT;
	struct message_header_iter iter;
	struct message_header_field field;
	message_header_iter_init(&iter, data, header_size);
	while (message_header_iter_next(&iter, &field) > 0) {
		if (field.no_colon || field.name_len == 0)
			continue;
		char *unfolded =
		    message_header_unfold(pool, field.value, field.value_len);
		char *decoded = rfc2047_decode(pool, (const uint8_t *)unfolded,
					       strlen(unfolded));
		size_t need = field.name_len + strlen(decoded) + 3;
		if (out.len + need > STORE_SEARCH_HEADERS_MAX)
			break;
		size_t start = out.len;
		buf_append(&out, field.name, field.name_len);
		for (size_t i = start; i < out.len; i++) {
			if (out.data[i] >= 'A' && out.data[i] <= 'Z')
				out.data[i] += 'a' - 'A';
		}
		buf_append(&out, ": ", 2);
		/* A line per field: embedded line ends would split it. */
		for (const char *p = decoded; *p != '\0'; p++)
			buf_append_byte(&out,
					*p == '\n' || *p == '\r' ? ' ' : *p);
		buf_append_byte(&out, '\n');
	}
	char *ret = i_strdup(buf_cstr(&out));
	buf_free(&out);
	return ret;
}
#endif

void store_new_body_init(struct store_new_body *body, const void *data,
			 size_t size, bool convert_lf)
{
	memset(body, 0, sizeof(*body));
	body->used = true;
	if (convert_lf) {
		body->data = store_convert_lf(data, size, &body->size);
	} else {
		body->data = i_malloc(i_size_add(size, 1));
		if (size > 0)
			memcpy(body->data, data, size);
		body->size = size;
	}
}

void store_new_body_parse(struct store_new_body *body)
{
	if (body->parsed)
		return;
	body->parsed = true;
	/* The header ends with the first empty line (RFC 5322 2.1); a
	 * message without one is all header. */
	const uint8_t *d = body->data;
	body->header_size = body->size;
	if (body->size >= 2 && d[0] == '\r' && d[1] == '\n') {
		body->header_size = 2;
	} else {
		for (size_t i = 0; i + 3 < body->size; i++) {
			if (d[i] == '\r' && d[i + 1] == '\n' &&
			    d[i + 2] == '\r' && d[i + 3] == '\n') {
				body->header_size = i + 4;
				break;
			}
		}
	}
	uint64_t lines = 0;
	for (const uint8_t *p = d, *end = d + body->size;
	     (p = memchr(p, '\n', end - p)) != NULL; p++)
		lines++;
	body->lines = lines;

#ifdef STORE_HAVE_LIBIMAP
	/* Parsed once, before the writer sees it, so FETCH never reparses
	 * and the writer thread does no parsing. */
	struct pool *pool = pool_create("store parse", 4096);
	struct mime_part *root = mime_parse(pool, body->data, body->size, NULL);
	const char *envelope, *bodystructure, *imap_body;
	imap_message_strings_from_tree(pool, root, &envelope, &bodystructure,
				       &imap_body);
	body->envelope = i_strdup(envelope == NULL ? "" : envelope);
	body->bodystructure =
	    i_strdup(bodystructure == NULL ? "" : bodystructure);
	body->body = i_strdup(imap_body == NULL ? "" : imap_body);
	body->search_headers =
	    store_search_headers(pool, body->data, body->header_size);
	pool_destroy(&pool);
#else
	/* Without lib-imap in the build the strings stay empty and IMAP
	 * computes them itself. */
	body->envelope = i_strdup("");
	body->bodystructure = i_strdup("");
	body->body = i_strdup("");
	body->search_headers = i_strdup("");
#endif
}

void store_new_body_free(struct store_new_body *body)
{
	i_free(body->data);
	i_free(body->envelope);
	i_free(body->bodystructure);
	i_free(body->body);
	i_free(body->search_headers);
	i_free(body->file_name);
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "rfc822-parser.h"
#include "mime-parser.h"
#include "imap-quote.h"
#include "imap-envelope.h"
#include "imap-bodystructure.h"

/* RFC 3501 section 7.4.2 requires at least one body part in a multipart;
 * for an empty one we show a 0-length text/plain part, as Dovecot does. */
#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
#define EMPTY_BODY_EXT " NIL NIL NIL NIL"

static void write_part(struct buf *dest, const struct mime_part *part,
		       bool extended);

/* body-fld-param; text parts get a default charset (RFC 2045 section
 * 5.2) appended when they have none. */
static void write_params(struct buf *dest, const struct mime_param *params,
			 unsigned int count, bool default_charset)
{
	bool seen_charset = false;
	unsigned int i;

	if (!default_charset && count == 0) {
		buf_append_str(dest, "NIL");
		return;
	}
	buf_append_byte(dest, '(');
	for (i = 0; i < count; i++) {
		if (i > 0)
			buf_append_byte(dest, ' ');
		if (default_charset && str_ascii_eq_ci(params[i].name, "charset"))
			seen_charset = true;
		imap_append_string(dest, params[i].name);
		buf_append_byte(dest, ' ');
		imap_append_string(dest, params[i].value);
	}
	if (default_charset && !seen_charset) {
		if (i > 0)
			buf_append_byte(dest, ' ');
		buf_append_str(dest, "\"charset\" \"us-ascii\"");
	}
	buf_append_byte(dest, ')');
}

/* Content-Language (RFC 3282): a comma-separated list of atoms. */
static void write_language(struct buf *dest, const char *value)
{
	struct rfc822_parser p;
	struct buf lang = BUF_INIT;
	unsigned int count = 0;
	size_t start = dest->len;

	if (value == NULL) {
		buf_append_str(dest, "NIL");
		return;
	}
	buf_append_byte(dest, '(');
	rfc822_parser_init(&p, (const uint8_t *)value, strlen(value), NULL);
	(void)rfc822_skip_lwsp(&p);
	for (;;) {
		buf_reset(&lang);
		if (rfc822_at_end(&p) || !rfc822_is_atext(*p.data))
			break;
		while (!rfc822_at_end(&p) && rfc822_is_atext(*p.data))
			buf_append_byte(&lang, *p.data++);
		/* an atom followed by a broken comment does not count */
		if (rfc822_skip_lwsp(&p) < 0)
			break;
		if (count++ > 0)
			buf_append_byte(dest, ' ');
		imap_append_string(dest, buf_cstr(&lang));
		if (rfc822_at_end(&p) || *p.data != ',')
			break;
		p.data++;
		(void)rfc822_skip_lwsp(&p);
	}
	buf_free(&lang);
	if (count == 0) {
		buf_truncate(dest, start);
		buf_append_str(dest, "NIL");
		return;
	}
	buf_append_byte(dest, ')');
}

/* body-ext-1part / body-ext-mpart after the md5 or params:
 * body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void write_common_ext(struct buf *dest, const struct mime_part *part)
{
	buf_append_byte(dest, ' ');
	if (part->content_disposition == NULL) {
		buf_append_str(dest, "NIL");
	} else {
		buf_append_byte(dest, '(');
		imap_append_string(dest, part->content_disposition);
		buf_append_byte(dest, ' ');
		write_params(dest, part->content_disposition_params,
			     part->content_disposition_params_count, false);
		buf_append_byte(dest, ')');
	}
	buf_append_byte(dest, ' ');
	write_language(dest, part->content_language);
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, part->content_location);
}

static void write_multipart(struct buf *dest, const struct mime_part *part,
			    bool extended)
{
	if (part->children == NULL) {
		buf_append_str(dest, EMPTY_BODY);
		if (extended)
			buf_append_str(dest, EMPTY_BODY_EXT);
		buf_append_byte(dest, ')');
	}
	for (const struct mime_part *c = part->children; c != NULL; c = c->next)
		write_part(dest, c, extended);
	buf_append_byte(dest, ' ');
	imap_append_string(dest, part->content_subtype);
	if (!extended)
		return;
	buf_append_byte(dest, ' ');
	write_params(dest, part->content_type_params,
		     part->content_type_params_count, false);
	write_common_ext(dest, part);
}

static void write_single(struct buf *dest, const struct mime_part *part,
			 bool extended)
{
	bool text = false, rfc822 = false;

	if ((part->flags & MIME_PART_FLAG_MESSAGE_RFC822) != 0) {
		buf_append_str(dest, "\"message\" \"rfc822\"");
		rfc822 = true;
	} else if (part->content_type == NULL) {
		buf_append_str(dest, "\"text\" \"plain\"");
		text = true;
	} else if (str_ascii_eq_ci(part->content_type, "multipart") ||
		   (str_ascii_eq_ci(part->content_type, "message") &&
		    str_ascii_eq_ci(part->content_subtype, "rfc822"))) {
		/* a multipart (or message) not parsed as one, e.g. with no
		 * valid subtype or past the nesting limit: as Dovecot, shown
		 * as opaque data, since IMAP syntax has no place for it */
		buf_append_str(dest, "\"application\" \"octet-stream\"");
	} else {
		text = str_ascii_eq_ci(part->content_type, "text");
		imap_append_string(dest, part->content_type);
		buf_append_byte(dest, ' ');
		imap_append_string(dest, part->content_subtype);
	}
	buf_append_byte(dest, ' ');
	write_params(dest, part->content_type_params,
		     part->content_type_params_count, text);
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, part->content_id);
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, part->content_description);
	buf_append_byte(dest, ' ');
	if (part->content_transfer_encoding != NULL)
		imap_append_string(dest, part->content_transfer_encoding);
	else
		buf_append_str(dest, "\"7bit\"");
	buf_printf(dest, " %llu", (unsigned long long)part->body_size);
	if (text) {
		buf_printf(dest, " %llu", (unsigned long long)part->body_lines);
	} else if (rfc822) {
		const struct mime_part *child = part->children;

		buf_append_byte(dest, ' ');
		imap_envelope_write(dest, child == NULL ? NULL : child->envelope);
		buf_append_byte(dest, ' ');
		if (child != NULL) {
			write_part(dest, child, extended);
		} else {
			buf_append_str(dest, EMPTY_BODY);
			if (extended)
				buf_append_str(dest, EMPTY_BODY_EXT);
			buf_append_byte(dest, ')');
		}
		buf_printf(dest, " %llu", (unsigned long long)part->body_lines);
	}
	if (!extended)
		return;
	buf_append_byte(dest, ' ');
	imap_append_nstring_nolf(dest, part->content_md5);
	write_common_ext(dest, part);
}

static void write_part(struct buf *dest, const struct mime_part *part,
		       bool extended)
{
	buf_append_byte(dest, '(');
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0)
		write_multipart(dest, part, extended);
	else
		write_single(dest, part, extended);
	buf_append_byte(dest, ')');
}

void imap_bodystructure_write(struct buf *dest, const struct mime_part *root,
			      bool extended)
{
	write_part(dest, root, extended);
}

void imap_message_strings_from_tree(struct pool *pool,
				    const struct mime_part *root,
				    const char **envelope_r,
				    const char **bodystructure_r,
				    const char **body_r)
{
	struct buf b = BUF_INIT;

	if (envelope_r != NULL) {
		imap_envelope_write(&b, root->envelope);
		*envelope_r = pool_strndup(pool, buf_cstr(&b), b.len);
		buf_reset(&b);
	}
	if (bodystructure_r != NULL) {
		imap_bodystructure_write(&b, root, true);
		*bodystructure_r = pool_strndup(pool, buf_cstr(&b), b.len);
		buf_reset(&b);
	}
	if (body_r != NULL) {
		imap_bodystructure_write(&b, root, false);
		*body_r = pool_strndup(pool, buf_cstr(&b), b.len);
	}
	buf_free(&b);
}

void imap_message_summarize(struct pool *pool, const uint8_t *msg, size_t size,
			    const char **envelope_r,
			    const char **bodystructure_r)
{
	struct pool *tmp = pool_create("imap message summarize", 8192);
	struct mime_part *root = mime_parse(tmp, msg, size, NULL);

	imap_message_strings_from_tree(pool, root, envelope_r, bodystructure_r,
				       NULL);
	pool_destroy(&tmp);
}

const char *imap_message_body(struct pool *pool, const uint8_t *msg,
			      size_t size)
{
	struct pool *tmp = pool_create("imap message body", 8192);
	struct mime_part *root = mime_parse(tmp, msg, size, NULL);
	const char *body;

	imap_message_strings_from_tree(pool, root, NULL, NULL, &body);
	pool_destroy(&tmp);
	return body;
}

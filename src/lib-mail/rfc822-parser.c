/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "rfc822-parser.h"

void rfc822_parser_init(struct rfc822_parser *p, const uint8_t *data,
			size_t size, struct buf *last_comment)
{
	p->data = data;
	p->end = data + size;
	p->last_comment = last_comment;
	p->nul_to_8bit = true;
}

static void append_run(struct rfc822_parser *p, struct buf *dest,
		       const uint8_t *start, const uint8_t *end);

/* The comment's text (nested parentheses kept, quoted-pairs resolved, the
 * line ends of folds dropped) goes to last_comment a run at a time, at the
 * end, a fold or a quoted-pair; an unterminated comment keeps the runs
 * before its last fold, as Dovecot's parser does. */
static int rfc822_skip_comment(struct rfc822_parser *p)
{
	struct buf *dest = p->last_comment;
	const uint8_t *start;
	unsigned int level = 1;

	i_assert(*p->data == '(');
	if (dest != NULL)
		buf_reset(dest);
	start = ++p->data;
	for (; p->data < p->end; p->data++) {
		switch (*p->data) {
		case '(':
			level++;
			break;
		case ')':
			if (--level > 0)
				break;
			if (dest != NULL)
				append_run(p, dest, start, p->data);
			p->data++;
			return 1;
		case '\n': {
			const uint8_t *end = p->data;

			if (end > start && end[-1] == '\r')
				end--;
			if (dest != NULL)
				append_run(p, dest, start, end);
			start = p->data + 1;
			break;
		}
		case '\\':
			if (p->data + 1 >= p->end)
				return -1;
			if (dest != NULL)
				append_run(p, dest, start, p->data);
			start = ++p->data;
			break;
		default:
			break;
		}
	}
	return -1;
}

int rfc822_skip_lwsp(struct rfc822_parser *p)
{
	while (p->data < p->end) {
		uint8_t c = *p->data;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p->data++;
		} else if (c == '(') {
			if (rfc822_skip_comment(p) < 0)
				return -1;
		} else {
			return 1;
		}
	}
	return 0;
}

bool rfc822_is_atext(uint8_t c)
{
	if (c >= 0x80)
		return true; /* 8-bit text in headers, as real mail has */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void append_char(struct rfc822_parser *p, struct buf *dest, uint8_t c)
{
	if (c == 0 && p->nul_to_8bit)
		c = 0x80;
	buf_append_byte(dest, c);
}

/* Text is appended a run at a time, at the closing quote, a fold or a
 * quoted-pair: an unterminated string keeps only the runs before its last
 * fold or backslash, as Dovecot's parser does (and ENVELOPE must match). */
static void append_run(struct rfc822_parser *p, struct buf *dest,
		       const uint8_t *start, const uint8_t *end)
{
	for (; start < end; start++)
		append_char(p, dest, *start);
}

int rfc822_parse_quoted_string(struct rfc822_parser *p, struct buf *dest)
{
	const uint8_t *start;

	i_assert(p->data < p->end && *p->data == '"');
	start = ++p->data;
	for (; p->data < p->end; p->data++) {
		switch (*p->data) {
		case '"':
			append_run(p, dest, start, p->data);
			p->data++;
			return 1;
		case '\n': {
			/* a fold: drop its (CR)LF, keep the WSP after it */
			const uint8_t *end = p->data;

			if (end > start && end[-1] == '\r')
				end--;
			append_run(p, dest, start, end);
			start = p->data + 1;
			break;
		}
		case '\\':
			if (p->data + 1 >= p->end)
				return -1;
			append_run(p, dest, start, p->data);
			start = ++p->data;
			break;
		default:
			break;
		}
	}
	return -1;
}

bool rfc822_is_mime_token_char(uint8_t c)
{
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int rfc822_parse_mime_token(struct rfc822_parser *p, struct buf *dest)
{
	if (p->data >= p->end || !rfc822_is_mime_token_char(*p->data))
		return 0;
	while (p->data < p->end && rfc822_is_mime_token_char(*p->data))
		append_char(p, dest, *p->data++);
	return 1;
}

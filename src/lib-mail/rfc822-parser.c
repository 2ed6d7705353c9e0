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

static int rfc822_skip_comment(struct rfc822_parser *p)
{
	unsigned int level = 1;

	i_assert(*p->data == '(');
	if (p->last_comment != NULL)
		buf_reset(p->last_comment);
	for (p->data++; p->data < p->end; p->data++) {
		uint8_t c = *p->data;

		if (c == '(') {
			level++;
		} else if (c == ')') {
			if (--level == 0) {
				p->data++;
				return 1;
			}
		} else if (c == '\\') {
			if (p->data + 1 >= p->end)
				break;
			p->data++;
			c = *p->data;
		} else if (c == '\r' || c == '\n') {
			continue;
		}
		if (p->last_comment != NULL)
			buf_append_byte(p->last_comment, c);
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

int rfc822_parse_atom(struct rfc822_parser *p, struct buf *dest)
{
	if (p->data >= p->end || !rfc822_is_atext(*p->data))
		return 0;
	while (p->data < p->end && rfc822_is_atext(*p->data))
		append_char(p, dest, *p->data++);
	(void)rfc822_skip_lwsp(p);
	return 1;
}

int rfc822_parse_dot_atom(struct rfc822_parser *p, struct buf *dest)
{
	if (p->data >= p->end || !rfc822_is_atext(*p->data))
		return 0;
	for (;;) {
		while (p->data < p->end && rfc822_is_atext(*p->data))
			append_char(p, dest, *p->data++);
		(void)rfc822_skip_lwsp(p);
		if (p->data >= p->end || *p->data != '.')
			break;
		buf_append_byte(dest, '.');
		p->data++;
		(void)rfc822_skip_lwsp(p);
	}
	return 1;
}

int rfc822_parse_quoted_string(struct rfc822_parser *p, struct buf *dest)
{
	i_assert(p->data < p->end && *p->data == '"');
	for (p->data++; p->data < p->end; p->data++) {
		uint8_t c = *p->data;

		if (c == '"') {
			p->data++;
			return 1;
		}
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\') {
			if (p->data + 1 >= p->end)
				break;
			c = *++p->data;
		}
		append_char(p, dest, c);
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

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_RFC822_PARSER_H
#define POSTHORN_RFC822_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* The lexical layer of RFC 5322 section 3.2 shared by the address,
 * parameter and date parsers: a cursor over a value, CFWS skipping, quoted
 * strings and MIME tokens. Folds (CRLF WSP) count as whitespace. NUL bytes
 * in the text appended become 0x80. */
struct rfc822_parser {
	const uint8_t *data;
	const uint8_t *end;
	/* the text of the last comment skipped, when last_comment is set */
	struct buf *last_comment;
	bool nul_to_8bit;
};

void rfc822_parser_init(struct rfc822_parser *p, const uint8_t *data,
			size_t size, struct buf *last_comment);
/* Skips whitespace and comments (nested, with quoted-pairs). Returns 1 if
 * there is more data, 0 at the end, -1 on an unterminated comment (the
 * cursor is then at the end). */
int rfc822_skip_lwsp(struct rfc822_parser *p);
/* atext (RFC 5322 section 3.2.3) */
bool rfc822_is_atext(uint8_t c);
/* Quoted string at the cursor ('"'): appends the content with quoted-pairs
 * resolved and the (CR)LF of folds removed; the cursor ends after the
 * closing quote (no CFWS skipped). 1 ok, -1 unterminated (only the text
 * before its last fold or quoted-pair appended, as Dovecot does). */
int rfc822_parse_quoted_string(struct rfc822_parser *p, struct buf *dest);
/* MIME token (RFC 2045 section 5.1): any CHAR except SPACE, CTLs and
 * tspecials. 8-bit bytes are accepted, as real mail needs. */
bool rfc822_is_mime_token_char(uint8_t c);
/* Appends the token at the cursor (possibly empty); returns 1 if anything
 * was appended. No CFWS is skipped. */
int rfc822_parse_mime_token(struct rfc822_parser *p, struct buf *dest);

static inline bool rfc822_at_end(const struct rfc822_parser *p)
{
	return p->data >= p->end;
}

#endif

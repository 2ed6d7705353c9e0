/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_REPLY_H
#define POSTHORN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* RFC 5321 section 4.2:
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 *   Reply-code = %x32-35 %x30-35 %x30-39
 * with an optional enhanced status code (RFC 2034 section 4:
 * status-code SP text, status-code = class "." subject "." detail) at the
 * start of each line's text. */
struct smtp_reply {
	unsigned code;        /* 200..559 */
	bool has_enhanced;    /* every line carried the same enhanced code */
	unsigned enh_class, enh_subject, enh_detail;
	/* Text of each line (enhanced code stripped when has_enhanced),
	 * NUL-terminated; count >= 1. Valid until the next parse call. */
	const char *const *lines;
	unsigned line_count;
};

/* Pull parser for server replies, for SMTP clients. Same consumption model
 * as the command parser: the caller keeps its input and the parser takes
 * bytes up to the end of one complete reply. */
struct smtp_reply_parser;

/* max_line: longest reply line accepted (RFC 5321 says 512; be lenient, e.g.
 * 2048); max_lines: lines in one multi-line reply (e.g. 100). */
struct smtp_reply_parser *smtp_reply_parser_create(size_t max_line,
						   unsigned max_lines);
void smtp_reply_parser_destroy(struct smtp_reply_parser **parser);

/* Returns 1 with *reply_r when a whole reply was consumed, 0 when all of
 * data was consumed and more is needed, -1 on a protocol error (bad code,
 * codes differing between lines, line too long, too many lines, NUL) with
 * *error_r set; the stream cannot be trusted after that. */
int smtp_reply_parser_parse(struct smtp_reply_parser *parser,
			    const uint8_t *data, size_t len, size_t *consumed_r,
			    struct smtp_reply *reply_r, const char **error_r);

/* Appends a (possibly multi-line) reply: text lines are split at '\n'; the
 * enhanced code (may be NULL) is put on every line. */
void smtp_reply_write(struct buf *out, unsigned code, const char *enhanced,
		      const char *text);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_POP3_DOTSTUFF_H
#define POSTHORN_POP3_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Encodes a stored message as the body of a POP3 multi-line response
 * (RFC 1939 section 3), fed in arbitrary pieces so a huge message never
 * has to be in memory whole:
 *  - a line that starts with "." gets one more "." in front;
 *  - a bare LF becomes CRLF (stored messages are CRLF already; this only
 *    keeps the response well-formed if one is not);
 *  - pop3_dotstuff_finish() ends an unterminated last line with CRLF and
 *    appends the terminating ".\r\n".
 * With a line limit (TOP, RFC 1939 section 7), output stops after the
 * header, the blank line that ends it, and that many body lines; a message
 * without a blank line is sent whole. */
struct pop3_dotstuff {
	bool at_line_start;
	bool last_cr;
	/* TOP state. */
	bool limit_lines;
	bool in_header;
	/* Since line start: 0 nothing, 1 a lone CR, 2 other content. */
	uint8_t line_state;
	bool done;
	uint64_t lines_left;
};

/* top_lines is used only when limit_lines is true. */
void pop3_dotstuff_init(struct pop3_dotstuff *ds, bool limit_lines,
			uint64_t top_lines);
/* Appends the encoded form of data to out. Returns the number of input
 * bytes consumed: len, or fewer once a TOP limit was reached (the rest is
 * not wanted; pop3_dotstuff_done() is then true). */
size_t pop3_dotstuff_feed(struct pop3_dotstuff *ds, const uint8_t *data,
			  size_t len, struct buf *out);
/* True once a TOP limit has been reached: feed no more. */
static inline bool pop3_dotstuff_done(const struct pop3_dotstuff *ds)
{
	return ds->done;
}
/* Appends the end of the response: CRLF if the last line was left open,
 * then ".\r\n". */
void pop3_dotstuff_finish(struct pop3_dotstuff *ds, struct buf *out);

#endif

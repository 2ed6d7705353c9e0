/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pop3-dotstuff.h"

void pop3_dotstuff_init(struct pop3_dotstuff *ds, bool limit_lines,
			uint64_t top_lines)
{
	memset(ds, 0, sizeof(*ds));
	ds->at_line_start = true;
	ds->limit_lines = limit_lines;
	ds->in_header = true;
	ds->lines_left = top_lines;
}

/* One line has ended (its LF was just written). RFC 1939 section 7 (TOP):
 * the header, the blank line after it, then n lines of the body. */
static void dotstuff_line_end(struct pop3_dotstuff *ds)
{
	if (!ds->limit_lines)
		return;
	if (ds->in_header) {
		if (ds->line_state != 2) {
			ds->in_header = false;
			if (ds->lines_left == 0)
				ds->done = true;
		}
	} else if (--ds->lines_left == 0) {
		ds->done = true;
	}
}

size_t pop3_dotstuff_feed(struct pop3_dotstuff *ds, const uint8_t *data,
			  size_t len, struct buf *out)
{
	size_t i = 0, start;

	if (ds->done)
		return 0;
	/* Room for the common case: a few stuffed dots per piece. */
	buf_reserve(out, len + len / 64 + 8);
	while (i < len) {
		if (ds->at_line_start) {
			ds->at_line_start = false;
			ds->line_state = 0;
			if (data[i] == '.')
				buf_append_byte(out, '.');
		}
		/* Copy the run up to the next LF in one go. */
		start = i;
		while (i < len && data[i] != '\n')
			i++;
		if (i > start) {
			/* Only "\r" before the LF still counts as an empty
			 * line (the header/body separator), across pieces. */
			if (ds->line_state == 0 && i - start == 1 &&
			    data[start] == '\r')
				ds->line_state = 1;
			else
				ds->line_state = 2;
			buf_append(out, data + start, i - start);
			ds->last_cr = data[i - 1] == '\r';
		}
		if (i == len)
			break;
		/* data[i] == '\n' */
		if (!ds->last_cr)
			buf_append_byte(out, '\r');
		buf_append_byte(out, '\n');
		i++;
		ds->last_cr = false;
		ds->at_line_start = true;
		dotstuff_line_end(ds);
		if (ds->done)
			return i;
	}
	return i;
}

void pop3_dotstuff_finish(struct pop3_dotstuff *ds, struct buf *out)
{
	if (!ds->at_line_start) {
		/* An unterminated last line: a trailing CR just needs its LF. */
		if (!ds->last_cr)
			buf_append_byte(out, '\r');
		buf_append_byte(out, '\n');
		ds->at_line_start = true;
	}
	buf_append(out, ".\r\n", 3);
}

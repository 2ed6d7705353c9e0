/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "imap-quote.h"

static void append_literal(struct buf *dest, const char *str, size_t len)
{
	buf_printf(dest, "{%zu}\r\n", len);
	buf_append(dest, str, len);
}

void imap_append_quoted(struct buf *dest, const char *str)
{
	buf_append_byte(dest, '"');
	for (; *str != '\0'; str++) {
		if (*str == '"' || *str == '\\')
			buf_append_byte(dest, '\\');
		buf_append_byte(dest, (uint8_t)*str);
	}
	buf_append_byte(dest, '"');
}

/* RFC 3501 section 4.3: quoted strings cannot carry CR, LF or 8-bit
 * bytes; those go as literals. Like Dovecot, a string needing more than
 * four escapes is also sent as a literal. */
void imap_append_nstring(struct buf *dest, const char *str)
{
	unsigned int escapes = 0;

	if (str == NULL) {
		buf_append_str(dest, "NIL");
		return;
	}
	for (const char *s = str; *s != '\0'; s++) {
		uint8_t c = (uint8_t)*s;

		if (c == '"' || c == '\\') {
			if (escapes++ < 4)
				continue;
		} else if (c != '\r' && c != '\n' && c < 0x80) {
			continue;
		}
		append_literal(dest, str, strlen(str));
		return;
	}
	imap_append_quoted(dest, str);
}

void imap_append_string(struct buf *dest, const char *str)
{
	i_assert(str != NULL);
	imap_append_nstring(dest, str);
}

void imap_append_nstring_nolf(struct buf *dest, const char *str)
{
	struct buf tmp = BUF_INIT;

	if (str == NULL || strpbrk(str, "\r\n") == NULL) {
		imap_append_nstring(dest, str);
		return;
	}
	for (const char *s = str; *s != '\0'; s++) {
		if (*s != '\r' && *s != '\n') {
			buf_append_byte(&tmp, (uint8_t)*s);
		} else if (s[1] != ' ' && s[1] != '\t' && s[1] != '\r' &&
			   s[1] != '\n' && s[1] != '\0') {
			/* keep words apart where a line break had no WSP */
			buf_append_byte(&tmp, ' ');
		}
	}
	imap_append_nstring(dest, buf_cstr(&tmp));
	buf_free(&tmp);
}

void imap_append_string_for_humans(struct buf *dest, const char *str)
{
	size_t i, size = strlen(str), remove_count = 0;
	bool last_lwsp = true, modify = false, seen_text = false;

	for (i = 0; i < size; i++) {
		uint8_t c = (uint8_t)str[i];

		switch (c) {
		case '\r':
		case '\n':
		case '\t':
			modify = true;
			/* fall through */
		case ' ':
			if (last_lwsp) {
				modify = true;
				remove_count++;
			}
			last_lwsp = true;
			break;
		default:
			if (c >= 0x80 || c == '"' || c == '\\')
				modify = true;
			last_lwsp = false;
			seen_text = true;
			break;
		}
	}
	if (last_lwsp && seen_text) {
		modify = true;
		remove_count++;
	}
	if (!modify) {
		imap_append_quoted(dest, str);
		return;
	}
	if (size == remove_count) {
		buf_append_str(dest, "\"\"");
		return;
	}
	buf_printf(dest, "{%zu}\r\n", size - remove_count);
	last_lwsp = true;
	for (i = 0; i < size; i++) {
		uint8_t c = (uint8_t)str[i];

		if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
			if (!last_lwsp)
				buf_append_byte(dest, ' ');
			last_lwsp = true;
		} else {
			buf_append_byte(dest, c);
			last_lwsp = false;
		}
	}
	if (last_lwsp)
		buf_truncate(dest, dest->len - 1);
}

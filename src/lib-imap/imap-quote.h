/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_QUOTE_H
#define POSTHORN_IMAP_QUOTE_H

#include <stddef.h>

struct buf;

/* IMAP string output (RFC 3501 section 4.3, RFC 9051 section 4.3), the way
 * Dovecot writes FETCH data: NULL becomes NIL; a string with CR, LF or any
 * byte >= 0x80 (8-bit header bytes) is sent as a literal "{n}\r\n..."; all
 * else as a quoted string with '"' and '\' escaped. */
void imap_append_nstring(struct buf *dest, const char *str);
/* As above for a non-NULL string. */
void imap_append_string(struct buf *dest, const char *str);
/* As imap_append_nstring(), but removes CR and LF first (adding a space
 * where a line break was not followed by whitespace), for raw (folded)
 * header values in ENVELOPE and BODYSTRUCTURE. */
void imap_append_nstring_nolf(struct buf *dest, const char *str);
/* For text meant for people (ENVELOPE subject), as Dovecot does: runs of
 * whitespace (SP, TAB, CR, LF) become one space and leading/trailing
 * whitespace goes; when anything had to change, or the text has 8-bit
 * bytes, '"' or '\\', it is sent as a literal, otherwise quoted. */
void imap_append_string_for_humans(struct buf *dest, const char *str);
/* Always quoted (caller ensures no CR/LF/8-bit). */
void imap_append_quoted(struct buf *dest, const char *str);

#endif

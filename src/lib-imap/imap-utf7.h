/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_UTF7_H
#define POSTHORN_IMAP_UTF7_H

#include <stdbool.h>

struct buf;

/* Modified UTF-7 mailbox names (RFC 3501 section 5.1.3), for IMAP4rev1
 * clients; IMAP4rev2 and UTF8=ACCEPT sessions use UTF-8 as is.
 *
 * Printable US-ASCII other than "&" stands for itself; "&-" is "&"; other
 * characters are UTF-16 in modified base64 (",", not "/") between "&" and
 * "-". */

/* Appends the encoding of the UTF-8 name src to dest. Returns 0, or -1 when
 * src is not valid UTF-8 (dest then holds a partial result). */
int imap_utf8_to_utf7(const char *src, struct buf *dest);
/* Appends the UTF-8 form of the modified UTF-7 name src. Returns 0, or -1
 * for an invalid encoding: 8-bit bytes, "&" not closed, a base64 run that
 * is not minimal (encodes printable ASCII, is empty but "&-", has leftover
 * bits that are not zero, or follows another run directly), bad surrogates
 * or NUL. */
int imap_utf7_to_utf8(const char *src, struct buf *dest);
/* True when src is valid modified UTF-7 (as above). */
bool imap_utf7_is_valid(const char *src);
/* True when src is valid UTF-8 without NUL or C0/DEL control characters. */
bool imap_utf8_is_valid_name(const char *src);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_RFC2047_H
#define POSTHORN_RFC2047_H

#include <stddef.h>
#include <stdint.h>

struct pool;
struct buf;

/* Decodes RFC 2047 encoded words (=?charset[*lang]?B|Q?text?=) in an
 * unfolded header value to UTF-8. Whitespace between two adjacent encoded
 * words is dropped (section 6.2); encoded words are also recognised inside
 * words, as real mail needs. Unknown charsets and bad encodings are left as
 * raw text; every byte sequence that is not valid UTF-8 in the result is
 * replaced by U+FFFD, so the output is always valid UTF-8. From pool. */
char *rfc2047_decode(struct pool *pool, const uint8_t *value, size_t len);

/* Converts text in charset to UTF-8 and appends it to dest (iconv; the
 * charset name is matched case-insensitively, with a few common aliases).
 * Returns 0, or -1 when the charset is unknown; invalid sequences become
 * U+FFFD. */
int charset_to_utf8(const char *charset, const uint8_t *data, size_t size,
		    struct buf *dest);

/* Appends data replacing invalid UTF-8 sequences by U+FFFD. */
void utf8_append_valid(struct buf *dest, const uint8_t *data, size_t size);

#endif

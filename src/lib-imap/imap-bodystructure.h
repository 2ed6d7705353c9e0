/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_BODYSTRUCTURE_H
#define POSTHORN_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct pool;
struct mime_part;

/* Appends the BODYSTRUCTURE (extended = true) or BODY (extended = false)
 * value of RFC 3501 section 7.4.2, without the keyword, from a parse tree
 * made by mime-parser.h. Needs only the tree, not the message bytes, so it
 * works after a streamed parse too. Output matches Dovecot's byte for byte
 * on the test corpus (tests/corpus-ref). */
void imap_bodystructure_write(struct buf *dest, const struct mime_part *root,
			      bool extended);

/* What the store calls on arrival: parses a whole message held in memory
 * (CRLF line ends) and returns its ENVELOPE and BODYSTRUCTURE strings,
 * NUL-terminated, allocated from pool. Never fails. */
void imap_message_summarize(struct pool *pool, const uint8_t *msg, size_t size,
			    const char **envelope_r,
			    const char **bodystructure_r);
/* BODY (non-extended BODYSTRUCTURE) of a whole message, from pool. */
const char *imap_message_body(struct pool *pool, const uint8_t *msg,
			      size_t size);
/* Both strings, and BODY, from an existing tree (streamed parse). Any of the
 * _r pointers may be NULL. From pool. */
void imap_message_strings_from_tree(struct pool *pool,
				    const struct mime_part *root,
				    const char **envelope_r,
				    const char **bodystructure_r,
				    const char **body_r);

#endif

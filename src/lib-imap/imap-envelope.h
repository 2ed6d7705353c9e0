/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_ENVELOPE_H
#define POSTHORN_IMAP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct mime_envelope;

/* Appends the ENVELOPE value (RFC 3501 section 7.4.2 / RFC 9051 section
 * 7.5.2), without the "ENVELOPE " keyword:
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 * Sender and Reply-To default to From when absent, as the RFC requires.
 * env may be NULL (all NIL). */
void imap_envelope_write(struct buf *dest, const struct mime_envelope *env);

/* The same from a raw header block (e.g. msg, root->header_size). */
void imap_envelope_write_header(struct buf *dest, const uint8_t *header,
				size_t header_size);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_DATA_H
#define POSTHORN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp-command.h"

struct buf;

/* Decoder for message content received after DATA (dot mode) or in BDAT
 * chunks (raw mode), fed arbitrary pieces. It writes the message as it is to
 * be stored (CRLF line ends, dot-stuffing undone) and checks it on the way.
 *
 * Dot mode (RFC 5321 section 4.1.1.4 and 4.5.2): the content ends at
 * "<CRLF>.<CRLF>" (or "." CRLF as the very first line). Only CRLF is a
 * line end there: a bare LF or bare CR is an error (SMTP smuggling, RFC
 * 5321 section 2.3.8), and sequences such as "\n.\n", "\r.\r" or
 * "\n.\r\n" never end the content.
 *
 * After the first error the decoder stops writing output but keeps reading
 * to the end of the content, so the server can answer once, after the
 * terminator, and carry on with the session. */

enum smtp_data_mode {
	SMTP_DATA_MODE_DOT, /* DATA */
	SMTP_DATA_MODE_RAW, /* BDAT: no dot-stuffing, no terminator */
};

struct smtp_data_limits {
	uint64_t max_size;     /* decoded bytes; 0 = no limit */
	size_t max_line;       /* bytes per line including CRLF; 0 = none */
	unsigned max_headers;  /* header fields; 0 = no limit */
	unsigned max_received; /* Received: fields (hop count); 0 = none */
	/* RAW mode with BODY=BINARYMIME: bare CR/LF and NUL allowed. */
	bool binary;
	/* RAW mode: a bare LF is a line end, not an error (BDAT content is
	 * length-delimited, so it cannot be used for smuggling; the caller
	 * converts it to CRLF). Ignored in dot mode. */
	bool allow_bare_lf;
};

enum smtp_data_error {
	SMTP_DATA_ERROR_NONE = 0,
	SMTP_DATA_ERROR_TOO_BIG,          /* 552 5.3.4 */
	SMTP_DATA_ERROR_BARE_LF,          /* 554 5.6.0 */
	SMTP_DATA_ERROR_BARE_CR,          /* 554 5.6.0 */
	SMTP_DATA_ERROR_NUL,              /* 554 5.6.0 */
	SMTP_DATA_ERROR_LINE_TOO_LONG,    /* 554 5.6.0 */
	SMTP_DATA_ERROR_TOO_MANY_HEADERS, /* 554 5.6.0 */
	SMTP_DATA_ERROR_TOO_MANY_HOPS,    /* 554 5.4.6 */
};

struct smtp_data_decoder;

struct smtp_data_decoder *
smtp_data_decoder_create(enum smtp_data_mode mode,
			 const struct smtp_data_limits *limits);
void smtp_data_decoder_destroy(struct smtp_data_decoder **dec);
/* Starts a new message with the same mode and limits. */
void smtp_data_decoder_reset(struct smtp_data_decoder *dec);

/* Consumes input from data[0..len), appending decoded content to out
 * (nothing once an error is recorded). Returns 1 when the end of content
 * was reached (dot mode): *consumed_r counts input through the final
 * ".<CRLF>" and the rest of data belongs to the next command. Returns 0
 * when all input was consumed and more is needed (always, in raw mode). */
int smtp_data_decoder_feed(struct smtp_data_decoder *dec, const uint8_t *data,
			   size_t len, struct buf *out, size_t *consumed_r);

/* The first error seen, or SMTP_DATA_ERROR_NONE. */
enum smtp_data_error smtp_data_decoder_error(const struct smtp_data_decoder *dec);
/* The reply for an error (static strings). */
void smtp_data_error_reply(enum smtp_data_error error,
			   struct smtp_error *reply_r);

/* Decoded octets so far (counted even past the size limit). */
uint64_t smtp_data_decoder_size(const struct smtp_data_decoder *dec);
/* Header fields and Received: fields seen in the header section. */
unsigned smtp_data_decoder_header_count(const struct smtp_data_decoder *dec);
unsigned smtp_data_decoder_received_count(const struct smtp_data_decoder *dec);
/* Octets >= 0x80 were seen (content is 8bit). */
bool smtp_data_decoder_has_8bit(const struct smtp_data_decoder *dec);

#endif

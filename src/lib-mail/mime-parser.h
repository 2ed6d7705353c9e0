/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MIME_PARSER_H
#define POSTHORN_MIME_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime-param.h"
#include "message-address.h"

struct pool;

/* A streaming MIME parser (RFC 2045, RFC 2046): fed a message in pieces of
 * any size, it builds a tree of parts with exact byte offsets, sizes and
 * line counts, so IMAP can answer BODY[n], BODYSTRUCTURE and ENVELOPE
 * without parsing again. It never fails on bad mail: a missing final
 * boundary, broken boundaries, bad headers and bare-LF line ends are all
 * accepted as real clients accept them. Offsets and sizes are of the bytes
 * fed (stored messages are CRLF); a line count is the number of LF bytes. */

/* The envelope of a message (RFC 3501 section 7.4.2), as Dovecot builds
 * it: date, subject, in_reply_to and message_id are the raw value of the
 * LAST field of that name (NULL if absent); raw values keep their folds
 * (CRLF + WSP), since the IMAP output depends on them, and NUL bytes are
 * turned into 0x80. The address fields are parsed (message-address.h), the
 * addresses of every field of that name in order; NULL if none. */
struct mime_envelope {
	const char *date;
	const char *subject;
	struct message_address *from;
	struct message_address *sender;
	struct message_address *reply_to;
	struct message_address *to;
	struct message_address *cc;
	struct message_address *bcc;
	const char *in_reply_to;
	const char *message_id;
};

enum mime_part_flags {
	MIME_PART_FLAG_MULTIPART = 0x01,      /* Content-Type multipart/ */
	MIME_PART_FLAG_MESSAGE_RFC822 = 0x02, /* message/rfc822: children is
						 the encapsulated message */
	MIME_PART_FLAG_TEXT = 0x04,           /* text/ (or defaulted to it) */
	MIME_PART_FLAG_HAS_CONTENT_TYPE = 0x08,
	MIME_PART_FLAG_HEADER_TRUNCATED = 0x10, /* header over the limit */
	MIME_PART_FLAG_LIMIT_REACHED = 0x20,  /* depth/part limit: a multipart
						 or message body kept as a leaf */
};

struct mime_part {
	struct mime_part *parent;
	struct mime_part *next;     /* next sibling */
	struct mime_part *children; /* first child */
	unsigned int depth;         /* 0 for the root */
	enum mime_part_flags flags;

	/* Offsets from the start of the message. The header includes the
	 * blank line that ends it; the body runs to the line end before the
	 * next boundary line of an enclosing multipart, or to the end. */
	uint64_t header_offset;
	uint64_t header_size;
	uint64_t body_offset;
	uint64_t body_size;
	uint64_t body_lines;

	/* From the part's own header, raw values (as for mime_envelope),
	 * NULL if absent. Content-Type and Content-Disposition are parsed.
	 * content_type/subtype are NULL when there was no Content-Type (the
	 * IMAP renderer applies the RFC 2045 defaults), both "" when it was
	 * present but invalid (as Dovecot shows it). */
	const char *content_type;
	const char *content_subtype;
	struct mime_param *content_type_params;
	unsigned int content_type_params_count;
	const char *content_id;
	const char *content_description;
	const char *content_transfer_encoding; /* the token, if valid */
	const char *content_md5;
	const char *content_disposition; /* the type token */
	struct mime_param *content_disposition_params;
	unsigned int content_disposition_params_count;
	const char *content_language; /* raw value; split by the renderer */
	const char *content_location;

	/* Set for the root and for the encapsulated message of each
	 * message/rfc822 part (its only child). */
	struct mime_envelope *envelope;
};

struct mime_parser_limits {
	unsigned int max_depth;   /* parts nest at most max_depth - 1 deep;
				     a multipart or message/rfc822 deeper is
				     kept as a leaf (as Dovecot's limit) */
	unsigned int max_parts;   /* parts in the whole tree */
	size_t max_header_size;   /* bytes of one part's header that are
				     parsed; the rest is still counted */
};
#define MIME_PARSER_DEFAULT_MAX_DEPTH 100
#define MIME_PARSER_DEFAULT_MAX_PARTS 10000
#define MIME_PARSER_DEFAULT_MAX_HEADER_SIZE (1024 * 1024)

struct mime_parser;

/* The tree is allocated from pool and lives as long as it; the parser's own
 * working memory is freed by mime_parser_destroy(). limits may be NULL for
 * the defaults; a 0 field also means its default. */
struct mime_parser *mime_parser_create(struct pool *pool,
				       const struct mime_parser_limits *limits);
/* Feeds the next size bytes of the message (size may be 0). Never fails. */
void mime_parser_feed(struct mime_parser *parser, const uint8_t *data,
		      size_t size);
/* Ends the input and returns the root of the tree (never NULL). Call
 * once; then only destroy is allowed. */
struct mime_part *mime_parser_finish(struct mime_parser *parser);
void mime_parser_destroy(struct mime_parser **parser);

/* One-shot: parses a whole message held in memory. */
struct mime_part *mime_parse(struct pool *pool, const uint8_t *data,
			     size_t size,
			     const struct mime_parser_limits *limits);

/* Number of parts in the tree (for limits and tests). */
unsigned int mime_part_count(const struct mime_part *root);

#endif

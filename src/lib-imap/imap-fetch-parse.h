/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_FETCH_PARSE_H
#define POSTHORN_IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;
struct imap_arg;

/* FETCH data items (RFC 9051 section 6.4.5, RFC 3501 section 6.4.5 for the
 * RFC822 items, RFC 3516 for BINARY), parsed into a list the server walks
 * for each message. */

enum imap_fetch_type {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_UID,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODYSTRUCTURE,
	/* BODY without a section: the non-extensible BODYSTRUCTURE. */
	IMAP_FETCH_BODY_STRUCTURE_BASIC,
	/* BODY[...] / BODY.PEEK[...] and the RFC822 aliases. */
	IMAP_FETCH_BODY_SECTION,
	IMAP_FETCH_BINARY_SECTION,
	IMAP_FETCH_BINARY_SIZE,
	IMAP_FETCH_MODSEQ,
};

enum imap_section_text {
	IMAP_SECTION_ALL,	/* [] or [1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,	/* only after a part number */
};

#define IMAP_SECTION_MAX_PARTS 32

struct imap_fetch_item {
	enum imap_fetch_type type;
	/* BODY.PEEK, BINARY.PEEK, RFC822.HEADER: \Seen is not set. */
	bool peek;
	/* Section part numbers ("1.2.3" = {1,2,3}); none = whole message. */
	uint32_t parts[IMAP_SECTION_MAX_PARTS];
	unsigned parts_count;
	enum imap_section_text text;
	/* HEADER.FIELDS(.NOT): upper-cased field names. */
	const char **fields;
	size_t fields_count;
	/* <offset.length> */
	bool partial;
	uint64_t partial_offset, partial_length;
	/* The item name for the response, without the partial length:
	 * "BODY[HEADER.FIELDS (FROM TO)]<0>", "RFC822.HEADER", "BINARY[1]",
	 * "BINARY.SIZE[1]", "FLAGS" ... */
	const char *response_name;
};

struct imap_fetch_items {
	struct imap_fetch_item *items;
	size_t count;
	/* Summary bits the server uses to plan its reads. */
	bool need_body;	    /* any section/binary item */
	bool sets_seen;	    /* a non-peek body item */
	/* The CHANGEDSINCE modifier (RFC 7162); 0 = none. */
	uint64_t changedsince;
	/* The VANISHED modifier (RFC 7162 section 3.2.6); only set together
	 * with changedsince (the parser rejects it alone). The caller checks
	 * that the command is UID FETCH and QRESYNC is enabled. */
	bool vanished;
};

/* args are those after the sequence set: an item, a macro (ALL, FAST,
 * FULL) or a parenthesised list of items, then optionally a modifier list
 * "(CHANGEDSINCE n [VANISHED])". Returns 1, or -1 with *error_r. */
int imap_fetch_items_parse(const struct imap_arg *args, size_t count,
			   struct pool *pool, struct imap_fetch_items *items_r,
			   const char **error_r);

#endif

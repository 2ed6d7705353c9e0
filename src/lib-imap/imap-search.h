/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_SEARCH_H
#define POSTHORN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap-seqset.h"

struct pool;
struct imap_arg;

/* SEARCH criteria (RFC 9051 section 6.4.4 and the rev1 keys of RFC 3501
 * section 6.4.4) parsed into a tree. The top level is an implicit AND. */

enum imap_search_key {
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_AND,	/* "(" keys ")"; also the root */
	IMAP_SEARCH_OR,		/* two children */
	IMAP_SEARCH_NOT,	/* one child */
	IMAP_SEARCH_SEQSET,	/* sequence-set (seqset) */
	IMAP_SEARCH_UID,	/* UID sequence-set (seqset) */
	/* Flags: flag holds enum imap_flag bits, or keyword. NOT-forms
	 * (UNSEEN...) are parsed as NOT nodes around these. */
	IMAP_SEARCH_FLAG,
	IMAP_SEARCH_KEYWORD,
	IMAP_SEARCH_NEW,	/* RECENT UNSEEN (rev1) */
	IMAP_SEARCH_OLD,	/* NOT RECENT (rev1) */
	IMAP_SEARCH_RECENT,
	/* Internal date, by day (date = UTC midnight of the day). */
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	/* Date: header, by day. */
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	/* Substring matches (value): header name holds the field. */
	IMAP_SEARCH_HEADER,	/* HEADER name value; also BCC CC FROM
				   SUBJECT TO with header set */
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_LARGER,	/* number */
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_MODSEQ,	/* RFC 7162: number */
	/* RFC 5032 WITHIN: number of seconds. */
	IMAP_SEARCH_OLDER,
	IMAP_SEARCH_YOUNGER,
	/* "$" (RFC 5182): the saved result. */
	IMAP_SEARCH_SAVED,
};

struct imap_search_node {
	enum imap_search_key key;
	/* Flags / keyword. */
	unsigned flag;
	const char *keyword;
	/* HEADER field (upper-cased) and value; BODY/TEXT value. */
	const char *header;
	const char *value;
	time_t date;
	uint64_t number;
	struct imap_seqset seqset; /* unresolved; freed by
				      imap_search_args_free() */
	struct imap_search_node **children;
	size_t children_count;
};

enum imap_search_return {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
};

struct imap_search_args {
	/* RETURN (...) given: reply with ESEARCH (RFC 4731, RFC 9051). An
	 * empty RETURN () means ALL. */
	bool esearch;
	unsigned ret; /* enum imap_search_return */
	/* CHARSET given (NULL = none). Only US-ASCII and UTF-8 are
	 * accepted; others fail with *badcharset_r. */
	const char *charset;
	struct imap_search_node *root;
	/* Every seqset in the tree, for freeing. */
	struct imap_seqset **seqsets;
	size_t seqsets_count;
};

/* Parses all arguments of SEARCH. Returns 1, or -1 with *error_r; when the
 * charset is unknown *badcharset_r is set (reply NO [BADCHARSET
 * (UTF-8)]). Depth is bounded by the parser's list depth and max_depth. */
int imap_search_args_parse(const struct imap_arg *args, size_t count,
			   struct pool *pool, struct imap_search_args *search_r,
			   bool *badcharset_r, const char **error_r);
/* Frees the seqsets (the nodes are in the pool). */
void imap_search_args_free(struct imap_search_args *search);

/* Case-insensitive substring test as SEARCH wants it (RFC 9051 6.4.4):
 * simple case folding of ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic; other characters compare as they are. */
bool imap_search_substr_match(const char *haystack, size_t haystack_len,
			      const char *needle);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_ARGS_H
#define POSTHORN_IMAP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "imap-seqset.h"

struct buf;
struct pool;
struct imap_arg;

/* Parsers for the small argument grammars shared by several commands, and
 * the response writers that go with them. Every parser takes the argument
 * tree of imap-parser.h; strings it returns live in the given pool. */

/* --- flags (RFC 9051 section 2.3.2) --- */
enum imap_flag {
	IMAP_FLAG_SEEN = 1 << 0,
	IMAP_FLAG_ANSWERED = 1 << 1,
	IMAP_FLAG_FLAGGED = 1 << 2,
	IMAP_FLAG_DELETED = 1 << 3,
	IMAP_FLAG_DRAFT = 1 << 4,
	/* Only in responses (\Recent is not storable). */
	IMAP_FLAG_RECENT = 1 << 5,
};
#define IMAP_FLAGS_SYSTEM_STORABLE 0x1f

struct imap_flags {
	unsigned system; /* enum imap_flag bits */
	const char **keywords;
	size_t keywords_count;
};

/* flag-list = "(" [flag *(SP flag)] ")", or a single flag / bare list of
 * flags when allow_single (STORE accepts "FLAGS \Seen"). Keywords are
 * atoms (RFC 9051 "flag-keyword"); unknown \-flags are errors, \Recent is
 * an error. Duplicates are merged (keywords case-insensitively). Returns
 * 1, or -1 with *error_r. */
int imap_flags_parse(const struct imap_arg *arg, struct pool *pool,
		     struct imap_flags *flags_r, const char **error_r);
/* Parses args[0..count) as a sequence of flags (STORE's bare form). */
int imap_flags_parse_args(const struct imap_arg *args, size_t count,
			  struct pool *pool, struct imap_flags *flags_r,
			  const char **error_r);
/* True for a valid flag-keyword atom. */
bool imap_keyword_is_valid(const char *keyword);
/* Writes "(\Seen \Flagged kw1 kw2)". */
void imap_flags_write(struct buf *dest, unsigned system,
		      const char *const *keywords, size_t keywords_count);
/* "\Seen" etc. for one bit. */
const char *imap_flag_name(enum imap_flag flag);

/* --- dates (RFC 9051 section 9) --- */
/* date = date-text / DQUOTE date-text DQUOTE; date-text = d-Mon-yyyy.
 * Gives the UTC midnight of that day (SEARCH compares days in the
 * server's time zone; the caller shifts as it needs). Returns 1 or -1. */
int imap_date_parse(const char *str, time_t *t_r);
/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
 * SP zone DQUOTE (the quotes already removed). Returns 1 or -1. */
int imap_datetime_parse(const char *str, time_t *t_r, int *tz_minutes_r);
/* Writes "\"30-Nov-2026 08:18:22 +0000\"" (quoted). */
void imap_datetime_write(struct buf *dest, time_t t, int tz_minutes);

/* --- STORE (RFC 9051 section 6.4.6) --- */
enum imap_store_mode {
	IMAP_STORE_REPLACE,
	IMAP_STORE_ADD,
	IMAP_STORE_REMOVE,
};
struct imap_store_args {
	enum imap_store_mode mode;
	bool silent;
	struct imap_flags flags;
	/* RFC 7162 (UNCHANGEDSINCE n); 0 = not given. */
	uint64_t unchangedsince;
};
/* args are those after the sequence set: [modifiers] item value. */
int imap_store_args_parse(const struct imap_arg *args, size_t count,
			  struct pool *pool, struct imap_store_args *store_r,
			  const char **error_r);

/* --- STATUS items (RFC 9051 section 6.3.11, RFC 8438 SIZE) --- */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_UIDNEXT = 1 << 1,
	IMAP_STATUS_UIDVALIDITY = 1 << 2,
	IMAP_STATUS_UNSEEN = 1 << 3,
	IMAP_STATUS_DELETED = 1 << 4,
	IMAP_STATUS_SIZE = 1 << 5,
	IMAP_STATUS_RECENT = 1 << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 7,
};
/* "(" status-att *(SP status-att) ")". Returns 1 with *items_r, or -1. */
int imap_status_items_parse(const struct imap_arg *arg, unsigned *items_r,
			    const char **error_r);

/* --- SELECT/EXAMINE parameters (RFC 4466 section 2.1, RFC 7162) --- */
/* Bounds the UID sets a client may send with QRESYNC (the line limit
 * bounds them too). */
#define IMAP_QRESYNC_MAX_RANGES 65536
struct imap_select_params {
	bool condstore; /* (CONDSTORE), RFC 7162 section 3.1.8 */
	/* (QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])),
	 * RFC 7162 section 3.2.5. */
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq; /* 0 is accepted and means "since the start" */
	/* known-uids, sorted and merged (no "*"); empty and
	 * known_uids_given false when not sent. Free with
	 * imap_select_params_free(). */
	bool known_uids_given;
	struct imap_seqset known_uids;
	/* seq-match-data was sent and is well formed (both sets without
	 * "*", ascending, the same number of elements). Its content is
	 * not kept: a server that remembers every expunge needs no hint
	 * (section 3.2.5.2). */
	bool match_data_given;
};
/* arg is the parenthesised select-params list. Returns 1, or -1 with
 * *error_r (the reply is BAD). Unknown parameters are errors. */
int imap_select_params_parse(const struct imap_arg *arg,
			     struct imap_select_params *params_r,
			     const char **error_r);
void imap_select_params_free(struct imap_select_params *params);

/* --- LIST (RFC 9051 section 6.3.9, RFC 5258, RFC 6154, RFC 5819) --- */
enum imap_list_select {
	IMAP_LIST_SEL_SUBSCRIBED = 1 << 0,
	IMAP_LIST_SEL_REMOTE = 1 << 1,
	IMAP_LIST_SEL_RECURSIVEMATCH = 1 << 2,
	IMAP_LIST_SEL_SPECIAL_USE = 1 << 3,
};
enum imap_list_return {
	IMAP_LIST_RET_SUBSCRIBED = 1 << 0,
	IMAP_LIST_RET_CHILDREN = 1 << 1,
	IMAP_LIST_RET_SPECIAL_USE = 1 << 2,
	IMAP_LIST_RET_STATUS = 1 << 3,
};
struct imap_list_args {
	unsigned select;   /* enum imap_list_select */
	unsigned ret;	   /* enum imap_list_return */
	unsigned status_items; /* with IMAP_LIST_RET_STATUS */
	/* True when selection options or RETURN were given (the reply
	 * then follows RFC 5258 rules). */
	bool extended;
	const char *reference;
	const char **patterns; /* raw, as sent (mUTF-7 for rev1 clients) */
	size_t patterns_count;
};
/* All arguments of LIST. Returns 1, or -1 with *error_r (BAD). */
int imap_list_args_parse(const struct imap_arg *args, size_t count,
			 struct pool *pool, struct imap_list_args *list_r,
			 const char **error_r);

/* LIST pattern matching (RFC 9051 section 6.3.9): "*" matches anything,
 * "%" anything but the hierarchy separator sep. "INBOX" matches
 * case-insensitively as a whole name or a first level. */
bool imap_list_match(const char *pattern, const char *name, char sep);
/* Joins reference and pattern the way RFC 9051 section 6.3.9 leaves to the
 * server: reference + pattern, unless pattern starts with sep. */
const char *imap_list_join(struct pool *pool, const char *reference,
			   const char *pattern, char sep);

#endif

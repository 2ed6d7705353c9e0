/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_IMAP_PARSER_H
#define POSTHORN_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pull parser for IMAP client commands (RFC 9051 section 2.2.1 and the
 * "command" ABNF of section 9), fed bytes in arbitrary pieces. It splits a
 * command into its tag, its name and a tree of arguments; what the arguments
 * mean is for the command's own parser (imap-args.h, imap-fetch-parse.h,
 * imap-search.h ...).
 *
 * Usage on a server connection:
 *
 *   for (;;) {
 *     r = imap_parser_feed(p, data, len, &used); data += used; len -= used;
 *     IMAP_PARSE_MORE     feed more bytes (if imap_parser_literal_pending()
 *                         is > 0, that many raw literal bytes come next)
 *     IMAP_PARSE_LITERAL  a synchronising literal "{n}" was announced: check
 *                         imap_parser_literal_size() against the command's
 *                         limit, then imap_parser_literal_accept() and write
 *                         "+ OK\r\n", or imap_parser_literal_reject() and
 *                         write "<tag> NO|BAD ..." (the client sends nothing
 *                         more for that command)
 *     IMAP_PARSE_COMMAND  imap_parser_command() is complete; it stays valid
 *                         until the next feed/reset call
 *     IMAP_PARSE_ERROR    imap_parser_error(): answer "<tag> BAD <text>" (or
 *                         "* BAD" when no tag could be read); when fatal,
 *                         write "* BYE <text>" and close instead. Otherwise
 *                         the parser has already arranged to discard the rest
 *                         of the bad command (including the bytes of any
 *                         non-synchronising literal in it) and goes on.
 *   }
 *
 * Lexical rules. Arguments are separated by spaces (runs of spaces are
 * tolerated). An atom is a run of bytes other than SP, "(", ")", '"', CR, LF
 * and NUL; it keeps "\", "%", "*", "]" and 8-bit bytes, so flags (\Seen),
 * LIST patterns and raw UTF-8 mailbox names come through as atoms, and the
 * argument parsers validate them further. In FETCH (and UID FETCH) an atom
 * may contain one bracketed section in which spaces and parentheses are
 * kept, for BODY[HEADER.FIELDS (A B)]<0.100>. Quoted strings allow only the
 * \\ and \" escapes (RFC 9051 section 4.3). Literals are "{n}" (synchronising),
 * "{n+}" (non-synchronising, RFC 7888, when allowed) and "~{n}" (literal8,
 * RFC 3516, when allowed); a literal must end its line. NIL is an atom:
 * imap_arg_is_nil() tells it apart. */

struct imap_parser;

enum imap_parse_result {
	IMAP_PARSE_MORE = 0,
	IMAP_PARSE_COMMAND,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_ERROR,
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	/* ~{n}: binary content (may contain NUL). */
	bool literal8;
	/* Bytes of str, or the number of items in list. */
	size_t len;
	/* Atom, unescaped quoted string or literal content, NUL-terminated
	 * (only literal8 content can hold NULs itself). NULL for lists. */
	const char *str;
	/* IMAP_ARG_LIST: len items. */
	const struct imap_arg *list;
};

struct imap_command {
	/* As sent. */
	const char *tag;
	/* Upper-cased command name; for "UID FETCH" it is "FETCH" with uid
	 * set. */
	const char *name;
	bool uid;
	const struct imap_arg *args;
	size_t args_count;
};

enum imap_literal_mode {
	/* Only synchronising literals ({n+} is an error). */
	IMAP_LITERAL_SYNC_ONLY,
	/* RFC 7888 LITERAL+: {n+} of any size up to the limits. */
	IMAP_LITERAL_PLUS,
	/* RFC 7888 LITERAL-: {n+} only up to 4096 bytes. */
	IMAP_LITERAL_MINUS,
};

#define IMAP_LITERAL_MINUS_MAX 4096

struct imap_parser_settings {
	/* Bytes of one command outside its literals (all its lines). */
	size_t max_line_length;
	/* Largest literal of any command but APPEND. */
	uint64_t max_literal_size;
	/* Largest literal of APPEND (the message size limit). */
	uint64_t max_append_literal_size;
	/* Sum of all literals of one command (MULTIAPPEND). */
	uint64_t max_literals_total;
	/* Nesting of parenthesised lists. */
	unsigned max_list_depth;
	/* Arguments in the whole tree (list items count too). */
	unsigned max_args;
	enum imap_literal_mode literal_mode;
	/* Accept ~{n} (RFC 3516 BINARY). */
	bool allow_literal8;
};

/* 64 KiB lines, 64 KiB literals, 50 MiB APPEND, depth 16, 10,000 args,
 * LITERAL+, literal8 allowed. */
void imap_parser_settings_default(struct imap_parser_settings *set_r);

struct imap_parser *imap_parser_create(const struct imap_parser_settings *set);
void imap_parser_destroy(struct imap_parser **parser);
/* Changes the literal mode (e.g. after ENABLE or per capability). */
void imap_parser_set_literal_mode(struct imap_parser *parser,
				  enum imap_literal_mode mode);

/* Consumes bytes from data; *consumed_r tells how many (fewer than len
 * only when a result other than IMAP_PARSE_MORE is returned). */
enum imap_parse_result imap_parser_feed(struct imap_parser *parser,
					const uint8_t *data, size_t len,
					size_t *consumed_r);
/* For line-based input: feeds line (no line end) then CRLF. Must not be
 * called while literal bytes are pending. Returns the result of the CRLF
 * (a line alone never completes anything). */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *parser,
					     const uint8_t *line, size_t len);

/* Raw literal bytes the parser expects next (0 = none): a line-based
 * caller switches to raw reads of this many bytes. */
uint64_t imap_parser_literal_pending(const struct imap_parser *parser);

/* After IMAP_PARSE_LITERAL: the announced size. */
uint64_t imap_parser_literal_size(const struct imap_parser *parser);
/* The limit the parser applies to the pending literal (APPEND's or the
 * general one), for the caller's check. */
uint64_t imap_parser_literal_limit(const struct imap_parser *parser);
/* After IMAP_PARSE_LITERAL: go on reading the literal. Returns 0, or -1
 * with *error_r when the literal exceeds the parser's limits (the caller
 * must then call imap_parser_literal_reject()). */
int imap_parser_literal_accept(struct imap_parser *parser,
			       const char **error_r);
/* After IMAP_PARSE_LITERAL: forget the command; the next bytes start a new
 * one. */
void imap_parser_literal_reject(struct imap_parser *parser);

/* The tag of the command being parsed (NULL when none was read yet), and
 * its upper-cased name (NULL before it is known); valid during
 * IMAP_PARSE_LITERAL and IMAP_PARSE_ERROR until the next feed. */
const char *imap_parser_tag(const struct imap_parser *parser);
const char *imap_parser_command_name(const struct imap_parser *parser);

/* After IMAP_PARSE_COMMAND. */
const struct imap_command *imap_parser_command(const struct imap_parser *parser);
/* The pool the command's arguments live in. The caller may allocate its
 * own per-command data from it (saving a pool per connection); like the
 * arguments, it is cleared at the next feed or reset. */
struct pool *imap_parser_command_pool(struct imap_parser *parser);

/* After IMAP_PARSE_ERROR: the text for BAD/BYE, and whether the connection
 * must be closed (a non-synchronising literal too large to skip). */
const char *imap_parser_error(const struct imap_parser *parser, bool *fatal_r);

/* After IMAP_PARSE_COMMAND, for a command that runs long (IDLE) and has
 * copied what it still needs: frees the command, its pool and the line
 * buffer now rather than at the next feed, so a waiting connection holds
 * none of them. The command's strings, arguments and pool are invalid
 * afterwards; the next command gets a new pool. No-op at other times. */
void imap_parser_release(struct imap_parser *parser);

/* Drops any partial command (e.g. after STARTTLS). */
void imap_parser_reset(struct imap_parser *parser);

/* --- argument helpers --- */
bool imap_arg_is_nil(const struct imap_arg *arg);
/* atom (including NIL), quoted or literal (not literal8). */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
/* quoted or literal (not literal8). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r);
/* nstring: quoted, literal or NIL (*str_r = NULL). */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, size_t *count_r);
/* An atom equal to keyword, ASCII case-insensitively. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *keyword);

#endif

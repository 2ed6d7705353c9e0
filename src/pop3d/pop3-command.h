/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_POP3_COMMAND_H
#define POSTHORN_POP3_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The POP3 command-line parser (RFC 1939 section 3, RFC 2449 section 3).
 * It knows the grammar, not the commands: pop3d's command table decides
 * what a keyword means, how many arguments it takes and in which state.
 *
 *   command = keyword *(SP param) CRLF   ; 255 octets maximum (RFC 2449)
 *   keyword = 3*4VCHAR
 *   param   = 1*VCHAR
 *
 * Deviations, on purpose:
 *  - lines up to POP3_COMMAND_MAX_LEN are accepted (long passwords and
 *    SASL initial responses exceed 255 octets in practice);
 *  - runs of spaces between parameters count as one separator, and
 *    trailing spaces are ignored (clients in the wild send them);
 *  - bytes >= 0x80 are allowed in parameters (UTF-8 user names).
 * The keyword is case-insensitive and returned upper-cased. */

/* Longest command line accepted, without its CRLF. */
#define POP3_COMMAND_MAX_LEN 2048
/* Longest keyword: RFC 2449 allows 3 or 4 characters; anything longer is
 * still parsed (to answer "unknown command") up to this many. */
#define POP3_KEYWORD_MAX_LEN 16
/* More parameters than this is an error for every POP3 command. */
#define POP3_COMMAND_MAX_ARGS 4

enum pop3_command_error {
	POP3_COMMAND_OK = 0,
	POP3_COMMAND_ERR_EMPTY,	  /* empty or blank line */
	POP3_COMMAND_ERR_TOO_LONG,	  /* over POP3_COMMAND_MAX_LEN */
	POP3_COMMAND_ERR_BAD_CHAR,	  /* NUL, CR or another control byte */
	POP3_COMMAND_ERR_BAD_KEYWORD,  /* not 3-16 printable non-space */
	POP3_COMMAND_ERR_TOO_MANY_ARGS,
};

struct pop3_command {
	/* Upper-cased keyword, NUL-terminated. */
	char name[POP3_KEYWORD_MAX_LEN + 1];
	unsigned argc;
	/* NUL-terminated parameters, pointing into the struct's own copy. */
	const char *args[POP3_COMMAND_MAX_ARGS];
	/* Everything after the keyword and its one separating space, as sent
	 * (spaces kept): for PASS, whose single argument may contain spaces
	 * (RFC 1939 section 7). "" when nothing follows. */
	const char *rest;

	/* Storage for args and rest. */
	char argbuf_[POP3_COMMAND_MAX_LEN + 1];
	char restbuf_[POP3_COMMAND_MAX_LEN + 1];
};

/* Parses one line (without its line end) into *cmd_r. Returns 1 and fills
 * *cmd_r, or -1 with *error_r a client-presentable English text and
 * *code_r set (when code_r is not NULL). On -1, cmd_r->name holds the
 * keyword when one could be read (else ""), for logging. */
int pop3_command_parse(const uint8_t *line, size_t len,
		       struct pop3_command *cmd_r,
		       enum pop3_command_error *code_r, const char **error_r);

/* A message number or count parameter: 1*DIGIT, no sign, no spaces, at
 * most max. Returns 1 with *num_r, or -1 (not a number, or > max). */
int pop3_parse_number(const char *str, uint64_t max, uint64_t *num_r);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_COMMAND_H
#define POSTHORN_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp-address.h"

struct pool;

/* A reply a server should send for a rejected line or argument: the code,
 * the enhanced status code (RFC 2034/3463) and the text. The strings are
 * static, or allocated from the pool passed to the call that set them. */
struct smtp_error {
	unsigned code;        /* 500, 501, 555, ... */
	const char *enhanced; /* "5.5.2" */
	const char *text;     /* "Syntax error, command unrecognized" */
};

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* One command line, split into verb and arguments (RFC 5321 section 4.1.1:
 * verb, then SP, then arguments; the line ends in CRLF). Valid until the next
 * call into the parser. */
struct smtp_command {
	enum smtp_verb verb;
	const char *name; /* the verb as sent, upper-cased; "" for an empty line */
	const char *args; /* after the verb, leading/trailing spaces cut; never NULL */
};

/* The command-line pull parser. The caller keeps its input (e.g. an
 * evbuffer) and hands contiguous pieces to smtp_command_parser_parse(), which
 * reports how many bytes it consumed; it never reads beyond one line, so
 * pipelined data after DATA or BDAT stays with the caller. At most
 * max_line bytes (including CRLF) of a line are buffered; a longer line is
 * skipped to its end and reported as an error then, so replies stay in
 * order and the session can continue. */
struct smtp_command_parser;

struct smtp_command_parser *smtp_command_parser_create(size_t max_line);
void smtp_command_parser_destroy(struct smtp_command_parser **parser);

/* Consumes bytes from data[0..len) up to the end of the first line.
 * Returns:
 *   1  a command: *cmd_r filled (valid until the next call), *consumed_r
 *      counts the bytes through the line's LF;
 *   0  no complete line yet: all of data consumed (*consumed_r == len);
 *   -1 a bad line (too long, NUL, bare CR, non-ASCII verb): *error_r is the
 *      reply to send; the line is consumed and the parser is ready for the
 *      next one.
 * A line ends at LF; a CR right before it is dropped. Bare LF is accepted
 * on command lines (only DATA content is strict about it). */
int smtp_command_parser_parse(struct smtp_command_parser *parser,
			      const uint8_t *data, size_t len,
			      size_t *consumed_r, struct smtp_command *cmd_r,
			      struct smtp_error *error_r);
/* Forgets a partly received line (e.g. after STARTTLS). */
void smtp_command_parser_reset(struct smtp_command_parser *parser);

/* Parses one line given whole (without or with its CRLF); for tests and
 * callers that already split lines. Same results as above. */
int smtp_command_parse_line(struct pool *pool, const char *line, size_t len,
			    struct smtp_command *cmd_r,
			    struct smtp_error *error_r);

enum smtp_verb smtp_verb_lookup(const char *name);

/* Which ESMTP extensions the server offers; parameters of extensions not
 * offered are refused with 555 (RFC 5321 section 4.1.1.11). */
enum smtp_caps {
	SMTP_CAP_SIZE = 1 << 0,
	SMTP_CAP_8BITMIME = 1 << 1,
	SMTP_CAP_BINARYMIME = 1 << 2,
	SMTP_CAP_SMTPUTF8 = 1 << 3,
	SMTP_CAP_DSN = 1 << 4,
	SMTP_CAP_AUTH = 1 << 5,
	SMTP_CAP_ALL = (1 << 6) - 1,
};

enum smtp_body_type {
	SMTP_BODY_UNSPECIFIED = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_dsn_ret {
	SMTP_DSN_RET_UNSPECIFIED = 0,
	SMTP_DSN_RET_FULL,
	SMTP_DSN_RET_HDRS,
};

enum smtp_dsn_notify {
	SMTP_DSN_NOTIFY_UNSPECIFIED = 0,
	SMTP_DSN_NOTIFY_NEVER = 1 << 0,
	SMTP_DSN_NOTIFY_SUCCESS = 1 << 1,
	SMTP_DSN_NOTIFY_FAILURE = 1 << 2,
	SMTP_DSN_NOTIFY_DELAY = 1 << 3,
};

/* RFC 3461 section 4.4: ENVID at most 100 characters; 4.2: ORCPT 500. */
#define SMTP_ENVID_MAX_LEN 100
#define SMTP_ORCPT_MAX_LEN 500

/* MAIL FROM:<reverse-path> [SP Mail-parameters] */
struct smtp_mail_args {
	struct smtp_address path; /* smtp_address_is_null() for "<>" */
	uint64_t size;            /* SIZE=, valid when size_set */
	bool size_set;
	enum smtp_body_type body;
	bool smtputf8;
	enum smtp_dsn_ret ret;
	const char *envid;     /* xtext-decoded, NULL if absent */
	const char *envid_raw; /* as sent (xtext), NULL if absent */
	const char *auth;      /* AUTH= xtext-decoded ("<>" kept), or NULL */
};

/* RCPT TO:<forward-path> [SP Rcpt-parameters] */
struct smtp_rcpt_args {
	struct smtp_address path;
	unsigned notify;          /* enum smtp_dsn_notify bits */
	const char *orcpt_type;   /* "rfc822", NULL if absent */
	const char *orcpt_addr;   /* xtext-decoded */
	const char *orcpt_raw;    /* "rfc822;..." as sent */
};

/* Parse the arguments of MAIL and RCPT (cmd->args). Allocations come from
 * pool. Return 1 or -1 with *error_r set to the reply to send:
 *   501 5.5.4  Syntax: MAIL FROM:<address> / Syntax: RCPT TO:<address>
 *   501 5.1.7  Bad sender address syntax       (MAIL)
 *   501 5.1.3  Bad recipient address syntax    (RCPT)
 *   501 5.1.7/5.1.3  ... too long  (local part 64, domain 255, path 256)
 *   550 5.6.7  Non-ASCII sender address requires SMTPUTF8   (MAIL)
 *   553 5.6.7  Non-ASCII recipient address requires SMTPUTF8 (RCPT)
 *   555 5.5.4  Unsupported parameter
 *   501 5.5.4  Invalid parameter syntax / Duplicate parameter /
 *              Invalid SIZE value / Invalid BODY value / Invalid RET value /
 *              Invalid ENVID value / Invalid AUTH value /
 *              Invalid NOTIFY value / Invalid ORCPT value
 * MAIL accepts "FROM:" in any case with optional spaces before the path.
 * A UTF-8 address is accepted in MAIL only with the SMTPUTF8 parameter,
 * and in RCPT only when mail_smtputf8 (the transaction's MAIL had it).
 * RCPT accepts <postmaster> without a domain. */
int smtp_mail_args_parse(const char *args, struct pool *pool,
			 enum smtp_caps caps, struct smtp_mail_args *mail_r,
			 struct smtp_error *error_r);
int smtp_rcpt_args_parse(const char *args, struct pool *pool,
			 enum smtp_caps caps, bool mail_smtputf8,
			 struct smtp_rcpt_args *rcpt_r,
			 struct smtp_error *error_r);

/* RFC 3030: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF,
 * chunk-size = 1*DIGIT, end-marker = "LAST". 1 or -1 (501 5.5.4). */
int smtp_bdat_args_parse(const char *args, uint64_t *size_r, bool *last_r,
			 struct smtp_error *error_r);

/* HELO/EHLO argument: one word, a Domain or address-literal by the RFC; we
 * accept any single printable word (many clients send their host name,
 * valid or not) and report whether it was valid. 1, or -1 with 501 5.5.4
 * when missing or containing spaces or control characters. */
int smtp_helo_args_parse(const char *args, const char **domain_r,
			 bool *valid_r, struct smtp_error *error_r);

/* RFC 3461 section 4: xtext = *( xchar / hexchar ). Decodes into pool;
 * -1 on bad syntax (bad hexchar, '=' or a character outside 33..126). */
int smtp_xtext_decode(const char *s, struct pool *pool, const char **out_r);
/* Appends the xtext encoding of data. */
void smtp_xtext_encode(struct buf *out, const void *data, size_t len);

#endif

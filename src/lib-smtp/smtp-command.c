/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "smtp-command.h"

/* The longest verb we bother to copy; longer words are unknown anyway. */
#define SMTP_VERB_MAX_LEN 32

struct smtp_command_parser {
	size_t max_line;
	struct buf line;
	char name[SMTP_VERB_MAX_LEN + 1];
	bool skipping; /* in an over-long line, waiting for its LF */
};

static const struct {
	const char *name;
	enum smtp_verb verb;
} smtp_verbs[] = {
	{"HELO", SMTP_VERB_HELO},   {"EHLO", SMTP_VERB_EHLO},
	{"MAIL", SMTP_VERB_MAIL},   {"RCPT", SMTP_VERB_RCPT},
	{"DATA", SMTP_VERB_DATA},   {"BDAT", SMTP_VERB_BDAT},
	{"RSET", SMTP_VERB_RSET},   {"NOOP", SMTP_VERB_NOOP},
	{"QUIT", SMTP_VERB_QUIT},   {"HELP", SMTP_VERB_HELP},
	{"VRFY", SMTP_VERB_VRFY},   {"EXPN", SMTP_VERB_EXPN},
	{"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH},
};

static void set_error(struct smtp_error *error_r, unsigned code,
		      const char *enhanced, const char *text)
{
	error_r->code = code;
	error_r->enhanced = enhanced;
	error_r->text = text;
}

enum smtp_verb smtp_verb_lookup(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(smtp_verbs); i++) {
		if (str_ascii_eq_ci(name, smtp_verbs[i].name))
			return smtp_verbs[i].verb;
	}
	return SMTP_VERB_UNKNOWN;
}

struct smtp_command_parser *smtp_command_parser_create(size_t max_line)
{
	struct smtp_command_parser *parser = i_new(struct smtp_command_parser, 1);

	i_assert(max_line >= 8);
	parser->max_line = max_line;
	return parser;
}

void smtp_command_parser_destroy(struct smtp_command_parser **_parser)
{
	struct smtp_command_parser *parser = *_parser;

	if (parser == NULL)
		return;
	buf_free(&parser->line);
	i_free(parser);
	*_parser = NULL;
}

void smtp_command_parser_reset(struct smtp_command_parser *parser)
{
	buf_reset(&parser->line);
	parser->skipping = false;
}

/* command = verb [SP arguments] CRLF (RFC 5321 section 4.1.1). line is
 * NUL-terminated at len with the line end already cut; it is modified in
 * place and the result points into it and into name. */
static int parse_line(char *line, size_t len, char name[SMTP_VERB_MAX_LEN + 1],
		      struct smtp_command *cmd_r, struct smtp_error *error_r)
{
	size_t i, verb_len;
	char *args, *end;

	if (memchr(line, '\0', len) != NULL) {
		set_error(error_r, 500, "5.5.2", "NUL character in command");
		return -1;
	}
	if (memchr(line, '\r', len) != NULL) {
		set_error(error_r, 500, "5.5.2", "Bare CR in command");
		return -1;
	}
	for (verb_len = 0; verb_len < len && line[verb_len] != ' ' &&
			   line[verb_len] != '\t'; verb_len++)
		;
	if (verb_len > SMTP_VERB_MAX_LEN) {
		set_error(error_r, 500, "5.5.2", "Syntax error, command unrecognized");
		return -1;
	}
	for (i = 0; i < verb_len; i++) {
		char c = line[i];
		name[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	name[verb_len] = '\0';

	args = line + verb_len;
	while (*args == ' ' || *args == '\t')
		args++;
	end = line + len;
	while (end > args && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';

	cmd_r->verb = smtp_verb_lookup(name);
	cmd_r->name = name;
	cmd_r->args = args;
	return 1;
}

int smtp_command_parser_parse(struct smtp_command_parser *parser,
			      const uint8_t *data, size_t len,
			      size_t *consumed_r, struct smtp_command *cmd_r,
			      struct smtp_error *error_r)
{
	const uint8_t *lf = memchr(data, '\n', len);
	size_t chunk = lf != NULL ? (size_t)(lf - data) + 1 : len;
	size_t line_len;
	char *line;

	*consumed_r = chunk;
	if (parser->skipping) {
		if (lf == NULL)
			return 0;
		parser->skipping = false;
		set_error(error_r, 500, "5.5.2", "Line too long");
		return -1;
	}
	if (parser->line.len + chunk > parser->max_line) {
		buf_reset(&parser->line);
		if (lf == NULL) {
			parser->skipping = true;
			return 0;
		}
		set_error(error_r, 500, "5.5.2", "Line too long");
		return -1;
	}
	buf_append(&parser->line, data, chunk);
	if (lf == NULL)
		return 0;

	line = (char *)parser->line.data;
	line_len = parser->line.len - 1;
	if (line_len > 0 && line[line_len - 1] == '\r')
		line_len--;
	line[line_len] = '\0';
	/* Cleared now; the content stays readable until the next append. */
	parser->line.len = 0;
	return parse_line(line, line_len, parser->name, cmd_r, error_r);
}

int smtp_command_parse_line(struct pool *pool, const char *line, size_t len,
			    struct smtp_command *cmd_r,
			    struct smtp_error *error_r)
{
	char *copy, *name;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	copy = pool_alloc(pool, len + 1);
	memcpy(copy, line, len);
	name = pool_alloc(pool, SMTP_VERB_MAX_LEN + 1);
	return parse_line(copy, len, name, cmd_r, error_r);
}

/* xtext = *( xchar / hexchar ); xchar = %d33-126 except "+" and "=";
 * hexchar = "+" 2HEXDIG upper case (RFC 3461 section 4). Lower-case hex
 * digits are tolerated. A decoded NUL is refused: the result is a C
 * string. */
int smtp_xtext_decode(const char *s, struct pool *pool, const char **out_r)
{
	size_t len = strlen(s);
	char *out = pool_alloc(pool, len + 1), *o = out;

	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = *p;
		if (c == '+') {
			int hi = hex_digit_value(p[1]), lo;
			if (hi < 0 || (lo = hex_digit_value(p[2])) < 0)
				return -1;
			if (hi == 0 && lo == 0)
				return -1;
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	*out_r = out;
	return 0;
}

void smtp_xtext_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 33 || p[i] > 126 || p[i] == '+' || p[i] == '=')
			buf_printf(out, "+%02X", p[i]);
		else
			buf_append_byte(out, p[i]);
	}
}

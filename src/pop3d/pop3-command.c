/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "pop3-command.h"

static void set_error(enum pop3_command_error code, const char *text,
		      enum pop3_command_error *code_r, const char **error_r)
{
	if (code_r != NULL)
		*code_r = code;
	*error_r = text;
}

/* RFC 2449 section 3: keyword = 3*4VCHAR, param = 1*VCHAR. VCHAR is
 * %x21-7E; we also let 8-bit bytes through in parameters. */
static bool is_param_char(uint8_t c)
{
	return c > 0x20 && c != 0x7f;
}

int pop3_command_parse(const uint8_t *line, size_t len,
		       struct pop3_command *cmd_r,
		       enum pop3_command_error *code_r, const char **error_r)
{
	size_t i, klen;

	cmd_r->name[0] = '\0';
	cmd_r->argc = 0;
	cmd_r->rest = "";
	if (code_r != NULL)
		*code_r = POP3_COMMAND_OK;

	if (len > POP3_COMMAND_MAX_LEN) {
		set_error(POP3_COMMAND_ERR_TOO_LONG, "Command line too long",
			  code_r, error_r);
		return -1;
	}
	/* Control bytes other than SP and HTAB never belong in a command;
	 * a NUL would silently cut a C string later. */
	for (i = 0; i < len; i++) {
		uint8_t c = line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			set_error(POP3_COMMAND_ERR_BAD_CHAR,
				  "Invalid characters in command", code_r,
				  error_r);
			return -1;
		}
	}
	/* Trailing blanks are not part of the last parameter. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0) {
		set_error(POP3_COMMAND_ERR_EMPTY, "Empty command", code_r,
			  error_r);
		return -1;
	}

	for (klen = 0; klen < len && line[klen] != ' '; klen++) {
		if (klen == POP3_KEYWORD_MAX_LEN || !is_param_char(line[klen])) {
			set_error(POP3_COMMAND_ERR_BAD_KEYWORD,
				  "Invalid command keyword", code_r, error_r);
			return -1;
		}
		cmd_r->name[klen] = (char)line[klen];
	}
	cmd_r->name[klen] = '\0';
	for (i = 0; i < klen; i++) {
		char c = cmd_r->name[i];
		if (c >= 'a' && c <= 'z')
			cmd_r->name[i] = (char)(c - 'a' + 'A');
	}
	if (klen < 3) {
		set_error(POP3_COMMAND_ERR_BAD_KEYWORD,
			  "Invalid command keyword", code_r, error_r);
		return -1;
	}

	/* rest: after exactly one separating space, as sent. */
	if (klen < len) {
		size_t rlen = len - klen - 1;
		memcpy(cmd_r->restbuf_, line + klen + 1, rlen);
		cmd_r->restbuf_[rlen] = '\0';
		cmd_r->rest = cmd_r->restbuf_;
	}

	/* Parameters: split on runs of blanks. */
	size_t out = 0;
	i = klen;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (cmd_r->argc == POP3_COMMAND_MAX_ARGS) {
			set_error(POP3_COMMAND_ERR_TOO_MANY_ARGS,
				  "Too many arguments", code_r, error_r);
			return -1;
		}
		cmd_r->args[cmd_r->argc++] = cmd_r->argbuf_ + out;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			cmd_r->argbuf_[out++] = (char)line[i++];
		cmd_r->argbuf_[out++] = '\0';
	}
	return 1;
}

int pop3_parse_number(const char *str, uint64_t max, uint64_t *num_r)
{
	/* str_to_uint64() refuses signs, spaces, empty strings and
	 * overflow; leading zeros are fine ("01" is message 1). */
	if (str_to_uint64(str, max, num_r) < 0)
		return -1;
	return 1;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "smtp-reply.h"

struct smtp_reply_parser {
	size_t max_line;
	unsigned max_lines;
	struct pool *pool; /* lines of the reply being built */
	struct buf line;

	unsigned code; /* 0 before the first line of a reply */
	const char **lines;
	unsigned line_count;
};

struct smtp_reply_parser *smtp_reply_parser_create(size_t max_line,
						   unsigned max_lines)
{
	struct smtp_reply_parser *parser = i_new(struct smtp_reply_parser, 1);

	i_assert(max_line >= 8 && max_lines >= 1);
	parser->max_line = max_line;
	parser->max_lines = max_lines;
	parser->pool = pool_create("smtp reply", 1024);
	return parser;
}

void smtp_reply_parser_destroy(struct smtp_reply_parser **_parser)
{
	struct smtp_reply_parser *parser = *_parser;

	if (parser == NULL)
		return;
	pool_destroy(&parser->pool);
	buf_free(&parser->line);
	i_free(parser);
	*_parser = NULL;
}

/* status-code = class "." subject "." detail; class = "2" / "4" / "5";
 * subject = 1*3digit; detail = 1*3digit (RFC 3463 section 2), followed by
 * SP or the end of the line. Returns the length consumed (with the SP) or
 * 0 when the text does not start with one. */
static size_t parse_enhanced(const char *text, unsigned *class_r,
			     unsigned *subject_r, unsigned *detail_r)
{
	const char *p = text;
	unsigned values[3];

	for (unsigned part = 0; part < 3; part++) {
		unsigned digits = 0, value = 0;
		while (*p >= '0' && *p <= '9' && digits < 4) {
			value = value * 10 + (unsigned)(*p - '0');
			digits++;
			p++;
		}
		if (digits == 0 || digits > 3 || (part == 0 && digits != 1))
			return 0;
		values[part] = value;
		if (part < 2) {
			if (*p != '.')
				return 0;
			p++;
		}
	}
	if (values[0] != 2 && values[0] != 4 && values[0] != 5)
		return 0;
	if (*p == ' ')
		p++;
	else if (*p != '\0')
		return 0;
	*class_r = values[0];
	*subject_r = values[1];
	*detail_r = values[2];
	return p - text;
}

static void finish_reply(struct smtp_reply_parser *parser,
			 struct smtp_reply *reply_r)
{
	unsigned cls = 0, subj = 0, det = 0;
	bool enhanced = true;

	/* Only when every line carries the same code, and its class matches
	 * the reply code's, is it taken as an enhanced status code. */
	for (unsigned i = 0; i < parser->line_count && enhanced; i++) {
		unsigned c, s, d;
		if (parse_enhanced(parser->lines[i], &c, &s, &d) == 0)
			enhanced = false;
		else if (i == 0) {
			cls = c;
			subj = s;
			det = d;
		} else if (c != cls || s != subj || d != det)
			enhanced = false;
	}
	if (enhanced && cls != parser->code / 100)
		enhanced = false;
	memset(reply_r, 0, sizeof(*reply_r));
	if (enhanced) {
		for (unsigned i = 0; i < parser->line_count; i++) {
			unsigned c, s, d;
			parser->lines[i] += parse_enhanced(parser->lines[i],
							   &c, &s, &d);
		}
		reply_r->has_enhanced = true;
		reply_r->enh_class = cls;
		reply_r->enh_subject = subj;
		reply_r->enh_detail = det;
	}
	reply_r->code = parser->code;
	reply_r->lines = parser->lines;
	reply_r->line_count = parser->line_count;
	parser->code = 0;
}

/* Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *              Reply-code [ SP textstring ] CRLF
 * Reply-code = %x32-35 %x30-35 %x30-39
 * textstring = 1*(%d09 / %d32-126) (RFC 5321 section 4.2; 8-bit text is
 * tolerated, SMTPUTF8 servers send it). Returns 1 when this was the last
 * line, 0 for a continuation line, -1 on error. */
static int parse_line(struct smtp_reply_parser *parser, const char *line,
		      size_t len, const char **error_r)
{
	unsigned code;
	bool last;

	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL in reply";
		return -1;
	}
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9') {
		*error_r = "Invalid reply code";
		return -1;
	}
	code = (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
		(unsigned)(line[2] - '0');
	if (len == 3)
		last = true;
	else if (line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else {
		*error_r = "Invalid reply line separator";
		return -1;
	}
	if (parser->code == 0) {
		pool_clear(parser->pool);
		parser->lines = p_new(parser->pool, const char *,
				      parser->max_lines + 1);
		parser->line_count = 0;
		parser->code = code;
	} else if (parser->code != code) {
		*error_r = "Reply code changed in a multi-line reply";
		return -1;
	}
	if (parser->line_count == parser->max_lines) {
		*error_r = "Too many lines in reply";
		return -1;
	}
	parser->lines[parser->line_count++] =
		len > 4 ? pool_strndup(parser->pool, line + 4, len - 4) : "";
	return last ? 1 : 0;
}

int smtp_reply_parser_parse(struct smtp_reply_parser *parser,
			    const uint8_t *data, size_t len, size_t *consumed_r,
			    struct smtp_reply *reply_r, const char **error_r)
{
	size_t pos = 0;

	while (pos < len) {
		const uint8_t *lf = memchr(data + pos, '\n', len - pos);
		size_t chunk = lf != NULL ? (size_t)(lf - (data + pos)) + 1 :
			len - pos;
		size_t line_len;
		int ret;

		if (parser->line.len + chunk > parser->max_line) {
			*consumed_r = pos + chunk;
			*error_r = "Reply line too long";
			return -1;
		}
		buf_append(&parser->line, data + pos, chunk);
		pos += chunk;
		if (lf == NULL)
			break;
		line_len = parser->line.len - 1;
		if (line_len > 0 && parser->line.data[line_len - 1] == '\r')
			line_len--;
		ret = parse_line(parser, (const char *)parser->line.data,
				 line_len, error_r);
		buf_reset(&parser->line);
		if (ret < 0) {
			*consumed_r = pos;
			return -1;
		}
		if (ret > 0) {
			finish_reply(parser, reply_r);
			*consumed_r = pos;
			return 1;
		}
	}
	*consumed_r = len;
	return 0;
}

void smtp_reply_write(struct buf *out, unsigned code, const char *enhanced,
		      const char *text)
{
	i_assert(code >= 200 && code <= 599);
	for (;;) {
		const char *nl = strchr(text, '\n');
		size_t n = nl != NULL ? (size_t)(nl - text) : strlen(text);
		buf_printf(out, "%03u%c", code, nl != NULL ? '-' : ' ');
		if (enhanced != NULL)
			buf_printf(out, "%s ", enhanced);
		buf_append(out, text, n);
		buf_append(out, "\r\n", 2);
		if (nl == NULL)
			break;
		text = nl + 1;
	}
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "imap-parser.h"

/* A command arrives as one or more "chunks": the bytes up to a CRLF, each
 * but the last ending in a literal announcement whose bytes follow. A chunk
 * is tokenised once it is complete, with the stack of open lists carried
 * from chunk to chunk; quoted strings never span chunks (no CRLF inside). */

enum parser_state {
	ST_LINE,
	ST_LITERAL_DECIDE,
	ST_LITERAL,
	ST_SKIP_LINE,
	ST_SKIP_LITERAL,
	ST_FATAL,
};

struct frame {
	struct imap_arg *items;
	size_t count, cap;
};

#define TAIL_SIZE 32

struct imap_parser {
	struct imap_parser_settings set;
	struct pool *pool;
	enum parser_state state;
	bool reset_pending;

	struct buf line;
	size_t line_total;

	const char *tag;
	const char *name;
	bool uid, have_name, fetch_brackets;
	bool need_sep;

	/* max_list_depth + 1, allocated while a command is being parsed:
	 * an idle connection holds none. */
	struct frame *frames;
	unsigned depth;
	unsigned args_total;

	uint64_t lit_size, lit_got, literals_total;
	bool lit_nonsync, lit8;
	char *lit_data;

	uint64_t skip_remaining;
	bool skip_error_pending;
	uint8_t tail[TAIL_SIZE];
	size_t tail_len;

	const char *error;
	bool fatal;
	struct imap_command cmd;
};

static enum imap_parse_result finish_literal(struct imap_parser *p);

void imap_parser_settings_default(struct imap_parser_settings *set_r)
{
	memset(set_r, 0, sizeof(*set_r));
	set_r->max_line_length = 64 * 1024;
	set_r->max_literal_size = 64 * 1024;
	set_r->max_append_literal_size = 50 * 1024 * 1024;
	set_r->max_literals_total = 100 * 1024 * 1024;
	set_r->max_list_depth = 16;
	set_r->max_args = 10000;
	set_r->literal_mode = IMAP_LITERAL_PLUS;
	set_r->allow_literal8 = true;
}

struct imap_parser *imap_parser_create(const struct imap_parser_settings *set)
{
	struct imap_parser *p = i_new(struct imap_parser, 1);
	p->set = *set;
	if (p->set.max_list_depth == 0)
		p->set.max_list_depth = 1;
	return p;
}

/* Created with the first command and kept while commands come, freed
 * by imap_parser_release() (an idle connection holds no pool). */
static struct pool *cmd_pool(struct imap_parser *p)
{
	if (p->pool == NULL)
		p->pool = pool_create("imap command", 1024);
	return p->pool;
}

static void frames_clear(struct imap_parser *p)
{
	if (p->frames != NULL) {
		for (unsigned i = 0; i <= p->set.max_list_depth; i++)
			i_free(p->frames[i].items);
		i_free(p->frames);
	}
	p->depth = 0;
}

static struct frame *frame_get(struct imap_parser *p, unsigned depth)
{
	if (p->frames == NULL)
		p->frames = i_new(struct frame, p->set.max_list_depth + 1);
	return &p->frames[depth];
}

void imap_parser_destroy(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;
	if (p == NULL)
		return;
	frames_clear(p);
	buf_free(&p->line);
	pool_destroy(&p->pool);
	free(p);
	*parser = NULL;
}

void imap_parser_set_literal_mode(struct imap_parser *parser,
				  enum imap_literal_mode mode)
{
	parser->set.literal_mode = mode;
}

/* Forgets the command (its memory too) but not a skip in progress. */
static void command_reset(struct imap_parser *p)
{
	if (p->pool != NULL)
		pool_clear(p->pool);
	/* Idle connections should not keep a long line's buffer. */
	if (p->line.cap > 4096)
		buf_free(&p->line);
	buf_reset(&p->line);
	p->line_total = 0;
	p->tag = p->name = NULL;
	p->uid = p->have_name = p->fetch_brackets = false;
	p->need_sep = false;
	frames_clear(p);
	p->args_total = 0;
	p->lit_size = p->lit_got = p->literals_total = 0;
	p->lit_data = NULL;
	p->error = NULL;
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->reset_pending = false;
}

void imap_parser_release(struct imap_parser *parser)
{
	if (parser->state != ST_LINE || !parser->reset_pending)
		return;
	command_reset(parser);
	pool_destroy(&parser->pool);
	buf_free(&parser->line);
}

void imap_parser_reset(struct imap_parser *parser)
{
	command_reset(parser);
	parser->state = ST_LINE;
	parser->skip_remaining = 0;
	parser->skip_error_pending = false;
	parser->tail_len = 0;
	parser->fatal = false;
}

static bool is_append(const struct imap_parser *p)
{
	return p->name != NULL && strcmp(p->name, "APPEND") == 0;
}

uint64_t imap_parser_literal_limit(const struct imap_parser *parser)
{
	return is_append(parser) ? parser->set.max_append_literal_size
				 : parser->set.max_literal_size;
}

/* "{123}", "{123+}" or "~{123}" at the very end of line: the literal
 * announcement (RFC 9051 "literal", RFC 7888, RFC 3516 "literal8"). Returns
 * the offset where it starts, or -1. */
static ssize_t literal_marker(const uint8_t *line, size_t len, uint64_t *n_r,
			      bool *nonsync_r, bool *lit8_r)
{
	if (len < 3 || line[len - 1] != '}')
		return -1;
	size_t end = len - 1;
	*nonsync_r = false;
	if (line[end - 1] == '+') {
		*nonsync_r = true;
		end--;
	}
	size_t start = end;
	while (start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9')
		start--;
	if (start == end || start == 0 || line[start - 1] != '{' ||
	    end - start > 19)
		return -1;
	if (str_to_uint64_n((const char *)line + start, end - start,
			    UINT64_MAX / 2, n_r) < 0)
		return -1;
	start--;
	*lit8_r = start > 0 && line[start - 1] == '~';
	if (*lit8_r)
		start--;
	return (ssize_t)start;
}

/* After an error: arrange to discard the rest of the command. The client
 * sends the bytes of a non-synchronising literal at the end of the bad line
 * without waiting, so they are skipped rather than read as commands. */
static enum imap_parse_result fail_skip(struct imap_parser *p,
					const char *error, bool skip_literal,
					uint64_t n)
{
	p->error = error;
	p->reset_pending = true;
	p->state = ST_LINE;
	if (skip_literal) {
		if (n > p->set.max_append_literal_size) {
			p->fatal = true;
			p->state = ST_FATAL;
		} else if (n > 0) {
			p->skip_remaining = n;
			p->state = ST_SKIP_LITERAL;
		} else {
			p->state = ST_SKIP_LINE;
		}
		p->skip_error_pending = false;
		p->tail_len = 0;
	}
	return IMAP_PARSE_ERROR;
}

static enum imap_parse_result
fail(struct imap_parser *p, const char *error, const uint8_t *line,
     size_t len)
{
	uint64_t n = 0;
	bool nonsync = false, lit8;

	if (line != NULL && literal_marker(line, len, &n, &nonsync, &lit8) < 0)
		nonsync = false;
	return fail_skip(p, error, nonsync, n);
}

static bool is_tag_char(uint8_t c)
{
	/* tag = 1*<any ASTRING-CHAR except "+"> */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

static bool add_arg(struct imap_parser *p, const struct imap_arg *arg)
{
	struct frame *f = frame_get(p, p->depth);
	if (++p->args_total > p->set.max_args)
		return false;
	if (f->count == f->cap) {
		f->cap = f->cap == 0 ? 8 : i_size_mul(f->cap, 2);
		f->items = i_realloc(f->items,
				     i_size_mul(f->cap, sizeof(*f->items)));
	}
	f->items[f->count++] = *arg;
	return true;
}

static const struct imap_arg *frame_finish(struct imap_parser *p,
					   struct frame *f)
{
	struct imap_arg *items = p_new(cmd_pool(p), struct imap_arg,
				       f->count == 0 ? 1 : f->count);
	if (f->count > 0)
		memcpy(items, f->items, f->count * sizeof(*items));
	return items;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR allows only \\ and \"
 * as escapes (RFC 9051 section 9). */
static const char *parse_quoted(struct imap_parser *p, const uint8_t **pos,
				const uint8_t *end, struct imap_arg *arg)
{
	const uint8_t *s = *pos + 1;
	struct buf out = BUF_INIT;

	for (;; s++) {
		if (s == end) {
			buf_free(&out);
			return "Missing '\"'";
		}
		if (*s == '"')
			break;
		if (*s == '\\') {
			s++;
			if (s == end || (*s != '\\' && *s != '"')) {
				buf_free(&out);
				return "Invalid escape in quoted string";
			}
		} else if (*s == '\r' || *s == '\n' || *s == 0) {
			buf_free(&out);
			return "Invalid character in quoted string";
		}
		buf_append_byte(&out, *s);
	}
	arg->type = IMAP_ARG_QUOTED;
	arg->len = out.len;
	arg->str = pool_strndup(cmd_pool(p), buf_cstr(&out), out.len);
	buf_free(&out);
	*pos = s + 1;
	return NULL;
}

static const char *parse_atom(struct imap_parser *p, const uint8_t **pos,
			      const uint8_t *end, struct imap_arg *arg)
{
	const uint8_t *s = *pos;
	bool in_bracket = false;

	for (; s < end; s++) {
		uint8_t c = *s;
		if (c < 0x20 || c == 0x7f)
			return "Invalid character in atom";
		if (in_bracket) {
			if (c == ']')
				in_bracket = false;
			continue;
		}
		if (c == ' ' || c == '(' || c == ')' || c == '"')
			break;
		if (c == '[' && p->fetch_brackets)
			in_bracket = true;
	}
	if (in_bracket)
		return "Missing ']'";
	arg->type = IMAP_ARG_ATOM;
	arg->len = (size_t)(s - *pos);
	arg->str = pool_strndup(cmd_pool(p), (const char *)*pos, arg->len);
	*pos = s;
	return NULL;
}

static const char *parse_head(struct imap_parser *p, const uint8_t **pos,
			      const uint8_t *end)
{
	const uint8_t *s = *pos, *start = s;

	while (s < end && *s != ' ') {
		if (!is_tag_char(*s))
			return "Invalid tag";
		s++;
	}
	if (s == start)
		return "Invalid tag";
	p->tag = pool_strndup(cmd_pool(p), (const char *)start, (size_t)(s - start));

	for (int word = 0; word < 2; word++) {
		if (s == end)
			return "Missing command name";
		s++; /* the space */
		start = s;
		while (s < end && *s != ' ') {
			if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
			      *s == '.'))
				return "Invalid command name";
			s++;
		}
		if (s == start)
			return "Missing command name";
		char *name = pool_strndup(cmd_pool(p), (const char *)start,
					  (size_t)(s - start));
		for (char *c = name; *c != '\0'; c++) {
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		}
		p->name = name;
		if (word == 0 && strcmp(name, "UID") == 0) {
			p->uid = true;
			continue;
		}
		break;
	}
	p->have_name = true;
	p->fetch_brackets = strcmp(p->name, "FETCH") == 0;
	*pos = s;
	return NULL;
}

static enum imap_parse_result start_literal(struct imap_parser *p, uint64_t n,
					    bool nonsync, bool lit8)
{
	if (lit8 && !p->set.allow_literal8)
		return fail_skip(p, "literal8 not allowed", nonsync, n);
	p->lit_size = n;
	p->lit_got = 0;
	p->lit_nonsync = nonsync;
	p->lit8 = lit8;
	if (!nonsync) {
		p->state = ST_LITERAL_DECIDE;
		return IMAP_PARSE_LITERAL;
	}
	if (p->set.literal_mode == IMAP_LITERAL_SYNC_ONLY)
		return fail_skip(p, "Non-synchronizing literals not allowed",
				 nonsync, n);
	if (p->set.literal_mode == IMAP_LITERAL_MINUS &&
	    n > IMAP_LITERAL_MINUS_MAX)
		return fail_skip(p, is_append(p) ? "[TOOBIG] Non-synchronizing literal too large"
						 : "Non-synchronizing literal too large",
				 nonsync, n);
	if (n > imap_parser_literal_limit(p) ||
	    p->literals_total + n > p->set.max_literals_total)
		return fail_skip(p, is_append(p) ? "[TOOBIG] Literal too large"
					    : "Literal too large", nonsync, n);
	p->literals_total += n;
	p->lit_data = pool_alloc(cmd_pool(p), (size_t)n + 1);
	p->state = ST_LITERAL;
	if (n == 0)
		return finish_literal(p);
	return IMAP_PARSE_MORE;
}

static enum imap_parse_result finish_command(struct imap_parser *p)
{
	struct frame *f = frame_get(p, 0);
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.uid = p->uid;
	p->cmd.args_count = f->count;
	p->cmd.args = frame_finish(p, f);
	/* The arguments are in the pool now; a command that runs long
	 * (IDLE) need not hold the scratch arrays. */
	frames_clear(p);
	p->reset_pending = true;
	p->state = ST_LINE;
	return IMAP_PARSE_COMMAND;
}

/* One complete chunk (its CRLF removed). */
static enum imap_parse_result process_line(struct imap_parser *p)
{
	const uint8_t *line = p->line.data, *s = line;
	size_t len = p->line.len;
	const uint8_t *end;
	const char *error;
	uint64_t lit_n = 0;
	bool nonsync = false, lit8 = false;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	end = line + len;
	p->line_total += len;

	ssize_t marker = literal_marker(line, len, &lit_n, &nonsync, &lit8);
	if (marker >= 0)
		end = line + marker;

	if (!p->have_name) {
		if (len == 0) {
			p->reset_pending = true;
			p->error = "Empty command line";
			return IMAP_PARSE_ERROR;
		}
		if ((error = parse_head(p, &s, end)) != NULL)
			return fail(p, error, line, len);
		if (s < end && *s != ' ')
			return fail(p, "Invalid command name", line, len);
	}

	while (s < end) {
		struct imap_arg arg;
		uint8_t c = *s;

		if (c == ' ') {
			p->need_sep = false;
			s++;
			continue;
		}
		if (p->need_sep && c != ')')
			return fail(p, "Missing space between arguments", line, len);
		memset(&arg, 0, sizeof(arg));
		if (c == '(') {
			if (p->depth >= p->set.max_list_depth)
				return fail(p, "Lists nested too deeply", line, len);
			p->depth++;
			frame_get(p, p->depth)->count = 0;
			s++;
			continue;
		}
		if (c == ')') {
			if (p->depth == 0)
				return fail(p, "Unexpected ')'", line, len);
			struct frame *f = frame_get(p, p->depth);
			arg.type = IMAP_ARG_LIST;
			arg.len = f->count;
			arg.list = frame_finish(p, f);
			f->count = 0;
			p->depth--;
			if (!add_arg(p, &arg))
				return fail(p, "Too many arguments", line, len);
			p->need_sep = true;
			s++;
			continue;
		}
		if (c == '"')
			error = parse_quoted(p, &s, end, &arg);
		else if (c == '{' || (c == '~' && s + 1 < end && s[1] == '{'))
			error = "Literal must end the line";
		else
			error = parse_atom(p, &s, end, &arg);
		if (error != NULL)
			return fail(p, error, line, len);
		if (!add_arg(p, &arg))
			return fail(p, "Too many arguments", line, len);
		p->need_sep = true;
	}

	if (marker >= 0) {
		if (p->need_sep)
			return fail(p, "Missing space before literal", line, len);
		if (!p->have_name)
			return fail(p, "Missing command name", line, len);
		buf_reset(&p->line);
		return start_literal(p, lit_n, nonsync, lit8);
	}
	if (p->depth > 0)
		return fail(p, "Missing ')'", NULL, 0);
	return finish_command(p);
}

static enum imap_parse_result finish_literal(struct imap_parser *p)
{
	struct imap_arg arg;

	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_LITERAL;
	arg.literal8 = p->lit8;
	arg.len = (size_t)p->lit_size;
	arg.str = p->lit_data;
	p->lit_data = NULL;
	p->state = ST_LINE;
	p->need_sep = true;
	if (!p->lit8 && memchr(arg.str, 0, arg.len) != NULL) {
		/* The rest of the command follows on this line. */
		p->error = "NUL in literal";
		p->reset_pending = true;
		p->state = ST_SKIP_LINE;
		p->skip_error_pending = false;
		p->tail_len = 0;
		return IMAP_PARSE_ERROR;
	}
	if (!add_arg(p, &arg)) {
		p->error = "Too many arguments";
		p->reset_pending = true;
		p->state = ST_SKIP_LINE;
		p->skip_error_pending = false;
		p->tail_len = 0;
		return IMAP_PARSE_ERROR;
	}
	return IMAP_PARSE_MORE;
}

static void tail_add(struct imap_parser *p, const uint8_t *data, size_t len)
{
	if (len >= TAIL_SIZE) {
		memcpy(p->tail, data + len - TAIL_SIZE, TAIL_SIZE);
		p->tail_len = TAIL_SIZE;
		return;
	}
	if (p->tail_len + len > TAIL_SIZE) {
		size_t drop = p->tail_len + len - TAIL_SIZE;
		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, data, len);
	p->tail_len += len;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p,
					const uint8_t *data, size_t len,
					size_t *consumed_r)
{
	size_t pos = 0;
	enum imap_parse_result r;

	i_assert(p->state != ST_LITERAL_DECIDE);
	*consumed_r = 0;
	if (p->reset_pending)
		command_reset(p);
	if (p->state == ST_FATAL) {
		*consumed_r = len;
		return IMAP_PARSE_ERROR;
	}

	while (pos < len) {
		const uint8_t *lf;
		size_t n;

		switch (p->state) {
		case ST_LINE:
			lf = memchr(data + pos, '\n', len - pos);
			n = lf == NULL ? len - pos : (size_t)(lf - (data + pos));
			if (p->line_total + p->line.len + n > p->set.max_line_length) {
				/* Keep what fits for the tag, then watch the
				 * tail for a literal to skip. */
				size_t room = p->set.max_line_length -
					      MIN(p->set.max_line_length,
						  p->line_total + p->line.len);
				buf_append(&p->line, data + pos, room);
				pos += room;
				const uint8_t *s = p->line.data;
				const uint8_t *e = s + p->line.len;
				if (p->tag == NULL && p->line.len > 0) {
					const uint8_t *t = s;
					while (t < e && is_tag_char(*t))
						t++;
					if (t > s && (t == e || *t == ' '))
						p->tag = pool_strndup(cmd_pool(p),
							(const char *)s,
							(size_t)(t - s));
				}
				p->tail_len = 0;
				if (p->line.len > 0)
					tail_add(p, s, p->line.len);
				buf_reset(&p->line);
				p->state = ST_SKIP_LINE;
				p->skip_error_pending = true;
				p->error = "Command line too long";
				continue;
			}
			buf_append(&p->line, data + pos, n);
			pos += n;
			if (lf == NULL)
				break;
			pos++;
			r = process_line(p);
			if (r != IMAP_PARSE_MORE) {
				*consumed_r = pos;
				return r;
			}
			break;
		case ST_LITERAL:
			n = (size_t)MIN((uint64_t)(len - pos), p->lit_size - p->lit_got);
			memcpy(p->lit_data + p->lit_got, data + pos, n);
			p->lit_got += n;
			pos += n;
			if (p->lit_got == p->lit_size) {
				r = finish_literal(p);
				if (r != IMAP_PARSE_MORE) {
					*consumed_r = pos;
					return r;
				}
			}
			break;
		case ST_SKIP_LITERAL:
			n = (size_t)MIN((uint64_t)(len - pos), p->skip_remaining);
			p->skip_remaining -= n;
			pos += n;
			if (p->skip_remaining == 0) {
				p->state = ST_SKIP_LINE;
				p->tail_len = 0;
			}
			break;
		case ST_SKIP_LINE: {
			uint64_t lit_n;
			bool nonsync, lit8;

			lf = memchr(data + pos, '\n', len - pos);
			n = lf == NULL ? len - pos : (size_t)(lf - (data + pos));
			tail_add(p, data + pos, n);
			pos += n;
			if (lf == NULL)
				break;
			pos++;
			size_t tl = p->tail_len;
			if (tl > 0 && p->tail[tl - 1] == '\r')
				tl--;
			p->state = ST_LINE;
			if (literal_marker(p->tail, tl, &lit_n, &nonsync, &lit8) >= 0 &&
			    nonsync) {
				if (lit_n > p->set.max_append_literal_size) {
					p->state = ST_FATAL;
					p->fatal = true;
					p->error = "Literal too large";
					*consumed_r = len;
					return IMAP_PARSE_ERROR;
				}
				p->skip_remaining = lit_n;
				p->state = lit_n > 0 ? ST_SKIP_LITERAL : ST_SKIP_LINE;
				p->tail_len = 0;
			}
			if (p->skip_error_pending && p->state == ST_LINE) {
				p->skip_error_pending = false;
				p->reset_pending = true;
				*consumed_r = pos;
				return IMAP_PARSE_ERROR;
			}
			if (p->skip_error_pending) {
				/* Report now; the literal is skipped on. */
				p->skip_error_pending = false;
				p->reset_pending = true;
				*consumed_r = pos;
				return IMAP_PARSE_ERROR;
			}
			break;
		}
		case ST_LITERAL_DECIDE:
		case ST_FATAL:
			i_unreached();
		}
	}
	*consumed_r = pos;
	return IMAP_PARSE_MORE;
}

enum imap_parse_result imap_parser_feed_line(struct imap_parser *parser,
					     const uint8_t *line, size_t len)
{
	size_t used;
	enum imap_parse_result r;

	i_assert(parser->state != ST_LITERAL && parser->state != ST_SKIP_LITERAL);
	r = imap_parser_feed(parser, line, len, &used);
	i_assert(r == IMAP_PARSE_MORE || parser->state == ST_FATAL);
	if (parser->state == ST_FATAL)
		return IMAP_PARSE_ERROR;
	r = imap_parser_feed(parser, (const uint8_t *)"\r\n", 2, &used);
	return r;
}

uint64_t imap_parser_literal_pending(const struct imap_parser *parser)
{
	if (parser->state == ST_LITERAL)
		return parser->lit_size - parser->lit_got;
	if (parser->state == ST_SKIP_LITERAL)
		return parser->skip_remaining;
	return 0;
}

uint64_t imap_parser_literal_size(const struct imap_parser *parser)
{
	return parser->lit_size;
}

int imap_parser_literal_accept(struct imap_parser *p, const char **error_r)
{
	i_assert(p->state == ST_LITERAL_DECIDE);
	if (p->lit_size > imap_parser_literal_limit(p) ||
	    p->literals_total + p->lit_size > p->set.max_literals_total) {
		*error_r = "Literal too large";
		return -1;
	}
	p->literals_total += p->lit_size;
	p->lit_data = pool_alloc(cmd_pool(p), (size_t)p->lit_size + 1);
	p->lit_got = 0;
	if (p->lit_size == 0) {
		/* Nothing to read: finish at the next feed. */
		p->state = ST_LITERAL;
		(void)finish_literal(p);
		if (p->state != ST_LINE) {
			*error_r = p->error;
			p->state = ST_LITERAL_DECIDE;
			return -1;
		}
		return 0;
	}
	p->state = ST_LITERAL;
	return 0;
}

void imap_parser_literal_reject(struct imap_parser *p)
{
	i_assert(p->state == ST_LITERAL_DECIDE);
	p->state = ST_LINE;
	p->reset_pending = true;
}

const char *imap_parser_tag(const struct imap_parser *parser)
{
	return parser->tag;
}

const char *imap_parser_command_name(const struct imap_parser *parser)
{
	return parser->have_name ? parser->name : NULL;
}

const struct imap_command *imap_parser_command(const struct imap_parser *parser)
{
	return &parser->cmd;
}

struct pool *imap_parser_command_pool(struct imap_parser *parser)
{
	return cmd_pool(parser);
}

const char *imap_parser_error(const struct imap_parser *parser, bool *fatal_r)
{
	if (fatal_r != NULL)
		*fatal_r = parser->fatal;
	return parser->error == NULL ? "Invalid command" : parser->error;
}

bool imap_arg_is_nil(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM && str_ascii_eq_ci(arg->str, "NIL");
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_LIST || arg->literal8)
		return false;
	if (arg->type == IMAP_ARG_ATOM && arg->len == 0)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_QUOTED &&
	    (arg->type != IMAP_ARG_LITERAL || arg->literal8))
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (imap_arg_is_nil(arg)) {
		*str_r = NULL;
		return true;
	}
	return imap_arg_get_string(arg, str_r);
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->len;
	return true;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *keyword)
{
	return arg->type == IMAP_ARG_ATOM && str_ascii_eq_ci(arg->str, keyword);
}

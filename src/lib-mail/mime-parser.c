/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "message-header.h"
#include "mime-param.h"
#include "rfc822-parser.h"
#include "mime-parser.h"

/* Boundaries longer than RFC 2046 section 5.1.1 allows (70) are cut at 80
 * bytes as Dovecot cuts them; lines are matched by prefix, so the cut is
 * mostly harmless ("--" right after the cut one closes it). */
#define BOUNDARY_MAX_LEN 80
/* Bytes of each line kept to recognise "--boundary--" and blank lines. */
#define LINE_PREFIX_MAX (2 + BOUNDARY_MAX_LEN + 2 + 2)

/* One open part: the chain from the root to the part being parsed. */
struct parser_frame {
	struct mime_part *part;
	struct mime_part *last_child;
	uint64_t lf_start; /* LF count at body_offset */
	char *boundary;    /* active boundary of a multipart, or NULL */
	size_t boundary_len;
	bool digest;       /* multipart/digest: children default to rfc822 */
};

struct mime_parser {
	struct pool *pool;
	struct mime_parser_limits limits;
	struct mime_part *root;
	struct parser_frame *frames;
	unsigned int frames_count, frames_alloc;
	unsigned int part_count;

	bool in_header; /* the top frame's part is in its header */
	struct buf header;
	size_t header_line_start_len;

	uint64_t offset;   /* bytes consumed */
	uint64_t lf_count; /* LF bytes consumed */
	uint64_t line_start;
	uint64_t line_lf_start;
	uint8_t line_prefix[LINE_PREFIX_MAX];
	size_t line_prefix_len;
	uint8_t prev_byte;      /* the byte before offset */
	bool prev_line_crlf;    /* the line before line_start ended in CRLF */
	bool prev_line_boundary; /* ... and was a boundary line */
	bool finished;
};

static struct mime_part *part_new(struct mime_parser *parser,
				  struct parser_frame *parent, uint64_t offset)
{
	struct mime_part *part = p_new(parser->pool, struct mime_part, 1);

	part->header_offset = offset;
	part->body_offset = offset;
	parser->part_count++;
	if (parent != NULL) {
		part->parent = parent->part;
		part->depth = parent->part->depth + 1;
		if (parent->last_child == NULL)
			parent->part->children = part;
		else
			parent->last_child->next = part;
		parent->last_child = part;
	}
	return part;
}

static void frame_push(struct mime_parser *parser, struct mime_part *part)
{
	if (parser->frames_count == parser->frames_alloc) {
		parser->frames_alloc = parser->frames_alloc == 0 ? 8 :
				       parser->frames_alloc * 2;
		parser->frames = i_realloc(parser->frames,
			i_size_mul(sizeof(*parser->frames), parser->frames_alloc));
	}
	memset(&parser->frames[parser->frames_count], 0,
	       sizeof(parser->frames[0]));
	parser->frames[parser->frames_count++].part = part;
	parser->in_header = true;
	buf_reset(&parser->header);
	parser->header_line_start_len = 0;
}

static struct parser_frame *frame_top(struct mime_parser *parser)
{
	i_assert(parser->frames_count > 0);
	return &parser->frames[parser->frames_count - 1];
}

struct mime_parser *mime_parser_create(struct pool *pool,
				       const struct mime_parser_limits *limits)
{
	struct mime_parser *parser = i_new(struct mime_parser, 1);

	parser->pool = pool;
	if (limits != NULL)
		parser->limits = *limits;
	if (parser->limits.max_depth == 0)
		parser->limits.max_depth = MIME_PARSER_DEFAULT_MAX_DEPTH;
	if (parser->limits.max_parts == 0)
		parser->limits.max_parts = MIME_PARSER_DEFAULT_MAX_PARTS;
	if (parser->limits.max_header_size == 0)
		parser->limits.max_header_size = MIME_PARSER_DEFAULT_MAX_HEADER_SIZE;
	parser->root = part_new(parser, NULL, 0);
	parser->root->envelope = p_new(pool, struct mime_envelope, 1);
	frame_push(parser, parser->root);
	return parser;
}

void mime_parser_destroy(struct mime_parser **_parser)
{
	struct mime_parser *parser = *_parser;

	if (parser == NULL)
		return;
	*_parser = NULL;
	for (unsigned int i = 0; i < parser->frames_count; i++)
		i_free(parser->frames[i].boundary);
	i_free(parser->frames);
	buf_free(&parser->header);
	i_free(parser);
}

/* A copy of a raw header value with folds kept and NULs made 0x80, so it
 * is a C string and 8-bit (as Dovecot does). */
static const char *raw_value(struct pool *pool,
			     const struct message_header_field *f)
{
	char *s = pool_alloc(pool, f->value_len + 1);

	for (size_t i = 0; i < f->value_len; i++)
		s[i] = f->value[i] == '\0' ? (char)0x80 : (char)f->value[i];
	return s;
}

/* Content-Transfer-Encoding: one token and nothing else, or NULL. */
static const char *parse_encoding(struct pool *pool,
				  const struct message_header_field *f)
{
	struct rfc822_parser p;
	struct buf token = BUF_INIT;
	const char *ret = NULL;

	rfc822_parser_init(&p, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&p);
	(void)rfc822_parse_mime_token(&p, &token);
	if (rfc822_skip_lwsp(&p) == 0 && token.len > 0)
		ret = pool_strndup(pool, buf_cstr(&token), token.len);
	buf_free(&token);
	return ret;
}

/* Content-Language (RFC 3282) with at least one atom. */
static bool has_language(const struct message_header_field *f)
{
	struct rfc822_parser p;
	struct buf atom = BUF_INIT;
	bool ret;

	rfc822_parser_init(&p, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&p);
	ret = !rfc822_at_end(&p) && rfc822_is_atext(*p.data);
	while (!rfc822_at_end(&p) && rfc822_is_atext(*p.data))
		p.data++;
	if (rfc822_skip_lwsp(&p) < 0)
		ret = false;
	buf_free(&atom);
	return ret;
}

static void set_first(const char **dest, struct pool *pool,
		      const struct message_header_field *f)
{
	if (*dest == NULL)
		*dest = raw_value(pool, f);
}

/* Limit on the addresses kept per envelope field, over all its fields. */
#define ENVELOPE_MAX_ADDRESSES 10000

enum envelope_addr_field {
	ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO, ENV_CC, ENV_BCC,
	ENV_ADDR_COUNT
};

/* Where the next addresses of each field go, so that many repeated fields
 * cost linear time. */
struct envelope_ctx {
	struct mime_envelope *env;
	struct message_address **tail[ENV_ADDR_COUNT];
	unsigned int count[ENV_ADDR_COUNT];
};

static void envelope_ctx_init(struct envelope_ctx *ctx,
			      struct mime_envelope *env)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->env = env;
	ctx->tail[ENV_FROM] = &env->from;
	ctx->tail[ENV_SENDER] = &env->sender;
	ctx->tail[ENV_REPLY_TO] = &env->reply_to;
	ctx->tail[ENV_TO] = &env->to;
	ctx->tail[ENV_CC] = &env->cc;
	ctx->tail[ENV_BCC] = &env->bcc;
}

static void append_addresses(struct envelope_ctx *ctx,
			     enum envelope_addr_field field, struct pool *pool,
			     const struct message_header_field *f)
{
	struct message_address *addr;

	if (ctx->count[field] >= ENVELOPE_MAX_ADDRESSES)
		return;
	addr = message_address_parse(pool, f->value, f->value_len,
				     ENVELOPE_MAX_ADDRESSES - ctx->count[field]);
	*ctx->tail[field] = addr;
	for (; addr != NULL; addr = addr->next) {
		ctx->count[field]++;
		ctx->tail[field] = &addr->next;
	}
}

static void parse_envelope_field(struct envelope_ctx *ctx, struct pool *pool,
				 const struct message_header_field *f)
{
	static const struct {
		const char *name;
		int addr_field; /* -1 for text fields */
		size_t offset;
	} fields[] = {
		{ "Date", -1, offsetof(struct mime_envelope, date) },
		{ "Subject", -1, offsetof(struct mime_envelope, subject) },
		{ "From", ENV_FROM, 0 },
		{ "Sender", ENV_SENDER, 0 },
		{ "Reply-To", ENV_REPLY_TO, 0 },
		{ "To", ENV_TO, 0 },
		{ "Cc", ENV_CC, 0 },
		{ "Bcc", ENV_BCC, 0 },
		{ "In-Reply-To", -1, offsetof(struct mime_envelope, in_reply_to) },
		{ "Message-ID", -1, offsetof(struct mime_envelope, message_id) },
	};
	for (size_t i = 0; i < N_ELEMENTS(fields); i++) {
		if (!message_header_field_is(f, fields[i].name))
			continue;
		/* as Dovecot: addresses of repeated fields add up, the
		 * last of repeated text fields wins */
		if (fields[i].addr_field >= 0)
			append_addresses(ctx, fields[i].addr_field, pool, f);
		else
			*(const char **)((char *)ctx->env + fields[i].offset) =
				raw_value(pool, f);
		return;
	}
}

/* Forgets every Content-* field (a part that is not MIME). */
static void clear_content_fields(struct mime_part *part)
{
	part->content_type = NULL;
	part->content_subtype = NULL;
	part->content_type_params = NULL;
	part->content_type_params_count = 0;
	part->content_id = NULL;
	part->content_description = NULL;
	part->content_transfer_encoding = NULL;
	part->content_md5 = NULL;
	part->content_disposition = NULL;
	part->content_disposition_params = NULL;
	part->content_disposition_params_count = 0;
	part->content_language = NULL;
	part->content_location = NULL;
}

/* Fills the part's MIME fields from its header (RFC 2045 section 3). */
static void parse_part_header(struct mime_parser *parser,
			      struct parser_frame *frame,
			      const char **boundary_r)
{
	struct mime_part *part = frame->part;
	struct pool *pool = parser->pool;
	struct parser_frame *parent = parser->frames_count > 1 ?
		&parser->frames[parser->frames_count - 2] : NULL;
	struct message_header_iter iter;
	struct message_header_field f;
	struct envelope_ctx env_ctx;
	bool seen_ctype = false, is_mime;

	/* RFC 2045 section 4 wants MIME-Version; like Dovecot we also take a
	 * Content-Type as the sign, and parts of a multipart are MIME. */
	is_mime = parent != NULL &&
		  (parent->part->flags & MIME_PART_FLAG_MULTIPART) != 0;
	*boundary_r = NULL;
	if (part->envelope != NULL)
		envelope_ctx_init(&env_ctx, part->envelope);
	message_header_iter_init(&iter, parser->header.data, parser->header.len);
	while (message_header_iter_next(&iter, &f) > 0) {
		if (f.no_colon)
			continue;
		if (part->envelope != NULL)
			parse_envelope_field(&env_ctx, pool, &f);
		if (message_header_field_is(&f, "MIME-Version"))
			is_mime = true;
		if (f.name_len < 8 || str_ascii_ncmp_ci(f.name, "Content-", 8) != 0)
			continue;
		/* As Dovecot: the first Content-Type counts even when invalid;
		 * for the others the first usable one. Parsing works on the
		 * raw value: its folds are whitespace to the tokenizer. */
		if (message_header_field_is(&f, "Content-Type")) {
			is_mime = true;
			if (seen_ctype)
				continue;
			seen_ctype = true;
			if (mime_content_type_parse(pool, raw_value(pool, &f),
						    &part->content_type,
						    &part->content_subtype,
						    &part->content_type_params,
						    &part->content_type_params_count) > 0) {
				part->flags |= MIME_PART_FLAG_HAS_CONTENT_TYPE;
			} else {
				/* shown as "type" "" or "" "", without
				 * parameters, and no text default */
				if (part->content_type == NULL)
					part->content_type = "";
				part->content_subtype = "";
			}
		} else if (message_header_field_is(&f, "Content-Transfer-Encoding")) {
			if (part->content_transfer_encoding == NULL)
				part->content_transfer_encoding =
					parse_encoding(pool, &f);
		} else if (message_header_field_is(&f, "Content-ID")) {
			set_first(&part->content_id, pool, &f);
		} else if (message_header_field_is(&f, "Content-Description")) {
			set_first(&part->content_description, pool, &f);
		} else if (message_header_field_is(&f, "Content-MD5")) {
			set_first(&part->content_md5, pool, &f);
		} else if (message_header_field_is(&f, "Content-Language")) {
			if (part->content_language == NULL &&
			    has_language(&f))
				part->content_language = raw_value(pool, &f);
		} else if (message_header_field_is(&f, "Content-Location")) {
			set_first(&part->content_location, pool, &f);
		} else if (message_header_field_is(&f, "Content-Disposition")) {
			/* a later one replaces one without parameters */
			if (part->content_disposition_params_count > 0)
				continue;
			const char *disp;
			struct mime_param *params;
			unsigned int count;

			(void)mime_disposition_parse(pool, raw_value(pool, &f),
						     &disp, &params, &count);
			if (disp == NULL)
				continue; /* unusable: keeps the earlier one */
			part->content_disposition = disp;
			part->content_disposition_params = params;
			part->content_disposition_params_count = count;
		}
	}

	if (!is_mime) {
		clear_content_fields(part);
		part->flags &= ~MIME_PART_FLAG_HAS_CONTENT_TYPE;
		seen_ctype = false;
	}
	if ((part->flags & MIME_PART_FLAG_HAS_CONTENT_TYPE) != 0) {
		if (str_ascii_eq_ci(part->content_type, "multipart")) {
			part->flags |= MIME_PART_FLAG_MULTIPART;
			*boundary_r = mime_param_get(part->content_type_params,
						     part->content_type_params_count,
						     "boundary");
			frame->digest = str_ascii_eq_ci(part->content_subtype, "digest");
		} else if (str_ascii_eq_ci(part->content_type, "message") &&
			   str_ascii_eq_ci(part->content_subtype, "rfc822")) {
			part->flags |= MIME_PART_FLAG_MESSAGE_RFC822;
		} else if (str_ascii_eq_ci(part->content_type, "text")) {
			part->flags |= MIME_PART_FLAG_TEXT;
		}
	} else if (seen_ctype) {
		/* invalid: no default (a bare "text" still counts as text) */
		if (str_ascii_eq_ci(part->content_type, "text"))
			part->flags |= MIME_PART_FLAG_TEXT;
	} else if (parent != NULL && parent->digest) {
		/* RFC 2046 section 5.1.5 */
		part->flags |= MIME_PART_FLAG_MESSAGE_RFC822;
	} else {
		/* RFC 2045 section 5.2: text/plain; charset=us-ascii */
		part->flags |= MIME_PART_FLAG_TEXT;
	}
}

/* The header of the top part ends at header_end; its body starts there. */
static void end_header(struct mime_parser *parser, uint64_t header_end,
		       uint64_t lf_at_end, bool allow_children)
{
	struct parser_frame *frame = frame_top(parser);
	struct mime_part *part = frame->part;
	const char *boundary;

	i_assert(parser->in_header);
	parser->in_header = false;
	part->header_size = header_end - part->header_offset;
	part->body_offset = header_end;
	frame->lf_start = lf_at_end;
	parse_part_header(parser, frame, &boundary);
	buf_reset(&parser->header);
	if (!allow_children)
		return;

	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0 && boundary != NULL) {
		if (part->depth + 1 >= parser->limits.max_depth) {
			/* as Dovecot: shown as a leaf part from here on */
			part->flags &= ~MIME_PART_FLAG_MULTIPART;
			part->flags |= MIME_PART_FLAG_LIMIT_REACHED;
			return;
		}
		frame->boundary_len = strlen(boundary);
		if (frame->boundary_len > BOUNDARY_MAX_LEN)
			frame->boundary_len = BOUNDARY_MAX_LEN;
		frame->boundary = i_strndup(boundary, frame->boundary_len);
		frame->boundary_len = strlen(frame->boundary);
	} else if ((part->flags & MIME_PART_FLAG_MESSAGE_RFC822) != 0) {
		struct mime_part *child;

		if (part->depth + 1 >= parser->limits.max_depth ||
		    parser->part_count >= parser->limits.max_parts) {
			part->flags &= ~MIME_PART_FLAG_MESSAGE_RFC822;
			part->flags |= MIME_PART_FLAG_LIMIT_REACHED;
			return;
		}
		child = part_new(parser, frame, header_end);
		child->envelope = p_new(parser->pool, struct mime_envelope, 1);
		frame_push(parser, child);
	}
}

/* Closes the top part: its body ends at end (with lf_end LFs before). */
static void frame_pop(struct mime_parser *parser, uint64_t end,
		      uint64_t lf_end)
{
	struct parser_frame *frame = frame_top(parser);
	struct mime_part *part = frame->part;

	if (parser->in_header)
		end_header(parser, end, lf_end, false);
	part->body_size = end > part->body_offset ? end - part->body_offset : 0;
	part->body_lines = lf_end > frame->lf_start ? lf_end - frame->lf_start : 0;
	i_free(frame->boundary);
	parser->frames_count--;
}

/* Is the current line "--boundary" of an open multipart? RFC 2046 section
 * 5.1.1; like Dovecot, the line only has to start with it (the longest
 * matching boundary wins, the innermost on a tie). Returns the frame index
 * or -1. */
static int find_boundary(struct mime_parser *parser, bool *close_r)
{
	const uint8_t *data = parser->line_prefix + 2;
	size_t len, best_len = 0;
	int best = -1;

	if (parser->part_count >= parser->limits.max_parts)
		return -1;
	if (parser->line_prefix_len < 2 || parser->line_prefix[0] != '-' ||
	    parser->line_prefix[1] != '-')
		return -1;
	len = parser->line_prefix_len - 2;
	if (parser->offset - parser->line_start == parser->line_prefix_len) {
		/* the whole line is in the prefix: drop its line end */
		if (len > 0 && data[len - 1] == '\n')
			len--;
		if (len > 0 && data[len - 1] == '\r')
			len--;
	}
	for (int i = (int)parser->frames_count - 1; i >= 0; i--) {
		const struct parser_frame *f = &parser->frames[i];

		if (f->boundary == NULL || f->boundary_len > len ||
		    memcmp(f->boundary, data, f->boundary_len) != 0)
			continue;
		if (best < 0 || f->boundary_len > best_len) {
			best = i;
			best_len = f->boundary_len;
			if (best_len == len)
				break;
		}
	}
	if (best >= 0)
		*close_r = len >= best_len + 2 && data[best_len] == '-' &&
			   data[best_len + 1] == '-';
	return best;
}

static void handle_boundary(struct mime_parser *parser, int idx,
			    bool close, bool first_line)
{
	uint64_t nl = parser->prev_line_crlf ? 2 : 1;
	int top = (int)parser->frames_count - 1, cut = -1;
	struct parser_frame *frame;

	/* The line end before the boundary belongs to the boundary
	 * (RFC 2046 section 5.1.1), not to the body before it: the parts
	 * from frame "cut" up end before it. Not when that line was a
	 * boundary line itself (its line end is its own), as Dovecot
	 * counts it. */
	if (!first_line && !parser->prev_line_boundary && top > idx) {
		if (parser->line_start > parser->frames[top].part->body_offset) {
			cut = idx + 1;
		} else {
			/* An empty body: the line end is the blank line that
			 * ended a header, which gives it up (as Dovecot's
			 * BODY[n.MIME] shows); it stays in the parent. */
			int j = top;

			while (j > idx && parser->frames[j].part->header_offset >=
					  parser->line_start)
				j--;
			if (j > idx &&
			    parser->frames[j].part->body_offset == parser->line_start &&
			    parser->frames[j].part->header_size >= nl) {
				cut = j;
				for (int k = j; k <= top; k++) {
					struct mime_part *p = parser->frames[k].part;

					if (k == j)
						p->header_size -= nl;
					else
						p->header_offset -= nl;
					p->body_offset -= nl;
					parser->frames[k].lf_start--;
				}
			}
		}
	}
	if (first_line && top > idx) {
		/* the part whose header the boundary cut has no body; the
		 * line end before the boundary stays in its parent */
		struct parser_frame *f = frame_top(parser);

		frame_pop(parser, f->part->body_offset, f->lf_start);
	}
	while ((int)parser->frames_count - 1 > idx) {
		if (cut >= 0 && (int)parser->frames_count - 1 >= cut)
			frame_pop(parser, parser->line_start - nl,
				  parser->line_lf_start - 1);
		else
			frame_pop(parser, parser->line_start,
				  parser->line_lf_start);
	}
	frame = frame_top(parser);
	if (close) {
		/* the epilogue follows: this boundary is done */
		i_free(frame->boundary);
		frame->boundary_len = 0;
		return;
	}
	/* a boundary line cut by the end of the message starts no part
	 * (Dovecot needs its line end first) */
	if (parser->finished)
		return;
	frame_push(parser, part_new(parser, frame, parser->offset));
}

static bool line_is_empty(const struct mime_parser *parser)
{
	size_t len = parser->offset - parser->line_start;

	return (len == 1 && parser->line_prefix[0] == '\n') ||
	       (len == 2 && parser->line_prefix[0] == '\r' &&
		parser->line_prefix[1] == '\n');
}

/* Returns true when the line was a boundary line. */
static bool process_line(struct mime_parser *parser)
{
	bool close;
	int idx;

	if (parser->in_header) {
		if (line_is_empty(parser)) {
			end_header(parser, parser->offset, parser->lf_count, true);
		} else if ((idx = find_boundary(parser, &close)) >= 0) {
			/* a boundary inside the header: the part has no body,
			 * and the line end before the boundary is the
			 * boundary's, not the header's */
			uint64_t end = parser->line_start, lf = parser->line_lf_start;
			bool empty = parser->line_start ==
				     frame_top(parser)->part->header_offset;

			if (!empty) {
				end -= parser->prev_line_crlf ? 2 : 1;
				lf--;
			}
			buf_truncate(&parser->header, parser->header_line_start_len);
			end_header(parser, end, lf, false);
			/* an empty header (a message/rfc822 with nothing in
			 * it): the line end before is a parent's blank line,
			 * handled as for an empty body */
			handle_boundary(parser, idx, close, !empty);
			return true;
		} else {
			parser->header_line_start_len = parser->header.len;
		}
	} else if ((idx = find_boundary(parser, &close)) >= 0) {
		handle_boundary(parser, idx, close, false);
		return true;
	}
	return false;
}

static void line_done(struct mime_parser *parser, bool crlf)
{
	parser->prev_line_boundary = process_line(parser);
	parser->prev_line_crlf = crlf;
	parser->line_start = parser->offset;
	parser->line_lf_start = parser->lf_count;
	parser->line_prefix_len = 0;
}

void mime_parser_feed(struct mime_parser *parser, const uint8_t *data,
		      size_t size)
{
	i_assert(!parser->finished);
	while (size > 0) {
		const uint8_t *lf = memchr(data, '\n', size);
		size_t n = lf == NULL ? size : (size_t)(lf - data) + 1;
		size_t room = LINE_PREFIX_MAX - parser->line_prefix_len;
		bool crlf = false;

		memcpy(parser->line_prefix + parser->line_prefix_len, data,
		       MIN(n, room));
		parser->line_prefix_len += MIN(n, room);
		if (parser->in_header) {
			size_t max = parser->limits.max_header_size;

			if (parser->header.len + n <= max) {
				buf_append(&parser->header, data, n);
			} else {
				if (parser->header.len < max)
					buf_append(&parser->header, data,
						   max - parser->header.len);
				frame_top(parser)->part->flags |=
					MIME_PART_FLAG_HEADER_TRUNCATED;
			}
		}
		if (lf != NULL)
			crlf = n >= 2 ? data[n - 2] == '\r' :
			       (parser->offset > parser->line_start &&
				parser->prev_byte == '\r');
		parser->offset += n;
		parser->prev_byte = data[n - 1];
		data += n;
		size -= n;
		if (lf != NULL) {
			parser->lf_count++;
			line_done(parser, crlf);
		}
	}
}

struct mime_part *mime_parser_finish(struct mime_parser *parser)
{
	i_assert(!parser->finished);
	parser->finished = true;
	if (parser->offset > parser->line_start)
		line_done(parser, false);
	if (parser->in_header)
		end_header(parser, parser->offset, parser->lf_count, false);
	while (parser->frames_count > 0)
		frame_pop(parser, parser->offset, parser->lf_count);
	return parser->root;
}

struct mime_part *mime_parse(struct pool *pool, const uint8_t *data,
			     size_t size,
			     const struct mime_parser_limits *limits)
{
	struct mime_parser *parser = mime_parser_create(pool, limits);
	struct mime_part *root;

	mime_parser_feed(parser, data, size);
	root = mime_parser_finish(parser);
	mime_parser_destroy(&parser);
	return root;
}

unsigned int mime_part_count(const struct mime_part *root)
{
	unsigned int count = 0;

	for (const struct mime_part *p = root; p != NULL; p = p->next)
		count += 1 + mime_part_count(p->children);
	return count;
}

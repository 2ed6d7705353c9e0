/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "rfc822-parser.h"
#include "message-address.h"

/* The grammar of RFC 5322 section 3.4 with the obsolete forms of section
 * 4.4, parsed the way Dovecot does so that ENVELOPE output matches it on
 * broken input too. Lexer functions return 1 when more input follows, 0 at
 * the end, -1 on a syntax error (as rfc822_skip_lwsp does). */

struct addr_ctx {
	struct pool *pool;
	struct rfc822_parser p;
	struct buf str;
	struct buf comment;
	struct message_address addr; /* the one being built */
	struct message_address *first, *last;
	unsigned int count, max;
};

static bool is_atext_or_dot(uint8_t c)
{
	return c == '.' || rfc822_is_atext(c);
}

static int skip(struct addr_ctx *ctx)
{
	return rfc822_skip_lwsp(&ctx->p);
}

static bool at(struct addr_ctx *ctx, uint8_t c)
{
	return ctx->p.data < ctx->p.end && *ctx->p.data == c;
}

static void append_data(struct buf *dest, const uint8_t *start,
			const uint8_t *end)
{
	for (const uint8_t *s = start; s < end; s++)
		buf_append_byte(dest, *s == 0 ? 0x80 : *s);
}

static int parse_quoted(struct addr_ctx *ctx, struct buf *dest)
{
	if (rfc822_parse_quoted_string(&ctx->p, dest) < 0)
		return -1;
	return skip(ctx);
}

static int parse_atom_or_dot(struct addr_ctx *ctx, struct buf *dest)
{
	const uint8_t *start = ctx->p.data;

	/* may be empty: "<addr>" has a phrase of nothing */
	while (ctx->p.data < ctx->p.end && is_atext_or_dot(*ctx->p.data))
		ctx->p.data++;
	append_data(dest, start, ctx->p.data);
	return skip(ctx);
}

/* phrase = 1*word / obs-phrase; obs-phrase = word *(word / "." / CFWS) */
static int parse_phrase(struct addr_ctx *ctx, struct buf *dest)
{
	int ret;

	if (ctx->p.data >= ctx->p.end)
		return 0;
	if (*ctx->p.data == '.')
		return -1;
	for (;;) {
		if (*ctx->p.data == '"')
			ret = parse_quoted(ctx, dest);
		else
			ret = parse_atom_or_dot(ctx, dest);
		if (ret <= 0)
			return ret;
		if (!is_atext_or_dot(*ctx->p.data) && *ctx->p.data != '"')
			break;
		buf_append_byte(dest, ' ');
	}
	return skip(ctx);
}

/* An atom (RFC 5322 section 3.2.3) and the CFWS after it. */
static int parse_atom(struct addr_ctx *ctx, struct buf *dest)
{
	const uint8_t *start = ctx->p.data;

	if (ctx->p.data >= ctx->p.end || !rfc822_is_atext(*ctx->p.data))
		return -1;
	while (ctx->p.data < ctx->p.end && rfc822_is_atext(*ctx->p.data))
		ctx->p.data++;
	append_data(dest, start, ctx->p.data);
	return skip(ctx);
}

/* local-part as obs-local-part allows, and more leniently still, as
 * Dovecot takes it: leading, trailing and repeated dots (".a", "a.",
 * "a..b"). */
static int parse_local_dot_atom(struct addr_ctx *ctx, struct buf *dest)
{
	int ret = -1;

	do {
		while (ctx->p.data < ctx->p.end && *ctx->p.data == '.') {
			buf_append_byte(dest, '.');
			ctx->p.data++;
			if (ctx->p.data >= ctx->p.end)
				return 0;
			ret = 1;
		}
		if (ctx->p.data >= ctx->p.end || *ctx->p.data == '@')
			break;
		ret = parse_atom(ctx, dest);
	} while (ret > 0 && *ctx->p.data == '.');
	return ret;
}

/* dot-atom for domains, strictly: no empty atoms, nothing after a
 * final dot. CFWS is allowed around the dots (RFC 822). */
static int parse_dot_atom(struct addr_ctx *ctx, struct buf *dest)
{
	const uint8_t *start;
	int ret;

	if (ctx->p.data >= ctx->p.end || !rfc822_is_atext(*ctx->p.data))
		return -1;
	for (start = ctx->p.data++; ctx->p.data < ctx->p.end;) {
		if (rfc822_is_atext(*ctx->p.data)) {
			ctx->p.data++;
			continue;
		}
		if (start == ctx->p.data)
			return -1;
		append_data(dest, start, ctx->p.data);
		if ((ret = skip(ctx)) <= 0)
			return ret;
		if (*ctx->p.data != '.')
			return 1;
		ctx->p.data++;
		buf_append_byte(dest, '.');
		if (skip(ctx) <= 0)
			return -1;
		start = ctx->p.data;
	}
	append_data(dest, start, ctx->p.data);
	return 0;
}

/* domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS] */
static int parse_domain_literal(struct addr_ctx *ctx, struct buf *dest)
{
	const uint8_t *start = ctx->p.data;

	for (ctx->p.data++; ctx->p.data < ctx->p.end; ctx->p.data++) {
		uint8_t c = *ctx->p.data;

		if (c == '[') {
			return -1;
		} else if (c == ']') {
			append_data(dest, start, ctx->p.data + 1);
			ctx->p.data++;
			return skip(ctx);
		} else if (c == '\r' || c == '\n' || c == '\\') {
			append_data(dest, start, ctx->p.data);
			if (c == '\\' && ctx->p.data + 1 < ctx->p.end)
				ctx->p.data++;
			start = ctx->p.data + (c == '\\' ? 0 : 1);
		}
	}
	return -1;
}

static int parse_domain_at(struct addr_ctx *ctx, struct buf *dest)
{
	i_assert(at(ctx, '@'));
	ctx->p.data++;
	if (skip(ctx) <= 0)
		return -1;
	if (*ctx->p.data == '[')
		return parse_domain_literal(ctx, dest);
	return parse_dot_atom(ctx, dest);
}

static void add_address(struct addr_ctx *ctx)
{
	struct message_address *a;

	if (ctx->count >= ctx->max) {
		memset(&ctx->addr, 0, sizeof(ctx->addr));
		return;
	}
	a = p_new(ctx->pool, struct message_address, 1);
	*a = ctx->addr;
	a->next = NULL;
	if (ctx->last == NULL)
		ctx->first = a;
	else
		ctx->last->next = a;
	ctx->last = a;
	ctx->count++;
	memset(&ctx->addr, 0, sizeof(ctx->addr));
}

static const char *str_dup(struct addr_ctx *ctx)
{
	return pool_strndup(ctx->pool, buf_cstr(&ctx->str), ctx->str.len);
}

static int parse_local_part(struct addr_ctx *ctx)
{
	int ret;

	buf_reset(&ctx->str);
	if (at(ctx, '"'))
		ret = parse_quoted(ctx, &ctx->str);
	else
		ret = parse_local_dot_atom(ctx, &ctx->str);
	if (ret < 0)
		return -1;
	ctx->addr.mailbox = str_dup(ctx);
	return ret;
}

static int parse_domain(struct addr_ctx *ctx)
{
	int ret;

	buf_reset(&ctx->str);
	if ((ret = parse_domain_at(ctx, &ctx->str)) < 0)
		return -1;
	ctx->addr.domain = str_dup(ctx);
	return ret;
}

/* obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain) */
static int parse_domain_list(struct addr_ctx *ctx)
{
	int ret;

	buf_reset(&ctx->str);
	for (;;) {
		if (ctx->p.data >= ctx->p.end)
			return 0;
		if (*ctx->p.data != '@')
			break;
		if (ctx->str.len > 0)
			buf_append_byte(&ctx->str, ',');
		buf_append_byte(&ctx->str, '@');
		if ((ret = parse_domain_at(ctx, &ctx->str)) <= 0)
			return ret;
		while (skip(ctx) > 0 && *ctx->p.data == ',')
			ctx->p.data++;
	}
	ctx->addr.route = str_dup(ctx);
	return 1;
}

/* angle-addr = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]; anything
 * short of the closing '>' is an error. */
static int parse_angle_addr(struct addr_ctx *ctx)
{
	i_assert(at(ctx, '<'));
	ctx->p.data++;
	if (skip(ctx) <= 0)
		return -1;
	if (*ctx->p.data == '@') {
		if (parse_domain_list(ctx) > 0 && at(ctx, ':')) {
			ctx->p.data++;
		} else {
			ctx->addr.route = "INVALID_ROUTE";
			if (ctx->p.data >= ctx->p.end)
				return -1;
		}
		if (skip(ctx) <= 0)
			return -1;
	}
	if (*ctx->p.data != '>') {
		if (parse_local_part(ctx) <= 0)
			return -1;
		if (*ctx->p.data == '@' && parse_domain(ctx) <= 0)
			return -1;
	}
	if (!at(ctx, '>'))
		return -1;
	ctx->p.data++;
	return skip(ctx);
}

/* name-addr = [display-name] angle-addr. Returns -1 when it is not one
 * (the caller tries addr-spec); once '<' is seen it is one, broken or not. */
static int parse_name_addr(struct addr_ctx *ctx)
{
	buf_reset(&ctx->str);
	if (parse_phrase(ctx, &ctx->str) <= 0 || *ctx->p.data != '<')
		return -1;
	ctx->addr.name = ctx->str.len == 0 ? NULL : str_dup(ctx);
	if (parse_angle_addr(ctx) < 0) {
		ctx->addr.domain = "SYNTAX_ERROR";
		ctx->addr.invalid = true;
	}
	return ctx->p.data < ctx->p.end ? 1 : 0;
}

/* addr-spec = local-part "@" domain; a comment after it is the name */
static int parse_addr_spec(struct addr_ctx *ctx)
{
	int ret, ret2 = -2;
	bool quoted = at(ctx, '"');

	buf_reset(&ctx->comment);
	ret = parse_local_part(ctx);
	if (ret <= 0)
		ctx->addr.invalid = true;
	if (ret != 0 && at(ctx, '@')) {
		ret2 = parse_domain(ctx);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (ctx->comment.len > 0) {
		ctx->addr.name = pool_strndup(ctx->pool, buf_cstr(&ctx->comment),
					      ctx->comment.len);
	} else if (ret2 == -2) {
		/* "user" alone is a mailbox; "user more words" a name */
		size_t orig_len;

		buf_append_byte(&ctx->str, ' ');
		orig_len = ctx->str.len;
		(void)parse_phrase(ctx, &ctx->str);
		if (ctx->str.len != orig_len) {
			ctx->addr.mailbox = NULL;
			ctx->addr.name = str_dup(ctx);
		} else if (!quoted) {
			ctx->addr.domain = "";
		}
		ctx->addr.invalid = true;
		ret = -1;
	}
	return ret;
}

static void add_fixed_address(struct addr_ctx *ctx)
{
	if (ctx->addr.mailbox == NULL) {
		ctx->addr.mailbox = "MISSING_MAILBOX";
		ctx->addr.invalid = true;
	}
	if (ctx->addr.domain == NULL || ctx->addr.domain[0] == '\0') {
		ctx->addr.domain = "MISSING_DOMAIN";
		ctx->addr.invalid = true;
	}
	add_address(ctx);
}

/* mailbox = name-addr / addr-spec */
static int parse_mailbox(struct addr_ctx *ctx)
{
	const uint8_t *start = ctx->p.data;
	int ret;

	if ((ret = parse_name_addr(ctx)) < 0) {
		ctx->p.data = start;
		memset(&ctx->addr, 0, sizeof(ctx->addr));
		ret = parse_addr_spec(ctx);
		if (ctx->addr.invalid && ctx->addr.name == NULL &&
		    ctx->addr.mailbox != NULL && ctx->addr.domain == NULL) {
			ctx->addr.name = ctx->addr.mailbox;
			ctx->addr.mailbox = NULL;
		}
	}
	if (ret < 0)
		ctx->addr.invalid = true;
	add_fixed_address(ctx);
	return ret;
}

/* group = display-name ":" [group-list] ";" [CFWS] */
static int parse_group(struct addr_ctx *ctx)
{
	int ret;

	buf_reset(&ctx->str);
	if (parse_phrase(ctx, &ctx->str) <= 0 || *ctx->p.data != ':')
		return -1;
	/* from here on it is a group, whatever follows */
	ctx->p.data++;
	if ((ret = skip(ctx)) <= 0)
		ctx->addr.invalid = true;
	ctx->addr.mailbox = str_dup(ctx);
	add_address(ctx);

	if (ret > 0 && *ctx->p.data != ';') {
		for (;;) {
			/* a broken mailbox: go on with the group anyway */
			(void)parse_mailbox(ctx);
			if (ctx->p.data >= ctx->p.end || *ctx->p.data != ',')
				break;
			ctx->p.data++;
			if (skip(ctx) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (!at(ctx, ';')) {
			ret = -1;
		} else {
			ctx->p.data++;
			ret = skip(ctx);
		}
	}
	if (ret < 0)
		ctx->addr.invalid = true;
	add_address(ctx); /* the group end */
	return ret == 0 ? 0 : 1;
}

static int parse_address(struct addr_ctx *ctx)
{
	const uint8_t *start = ctx->p.data;
	int ret;

	if ((ret = parse_group(ctx)) < 0) {
		ctx->p.data = start;
		memset(&ctx->addr, 0, sizeof(ctx->addr));
		ret = parse_mailbox(ctx);
	}
	return ret;
}

struct message_address *message_address_parse(struct pool *pool,
					      const uint8_t *data, size_t size,
					      unsigned int max_addresses)
{
	struct addr_ctx ctx;
	struct message_address *first;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	ctx.pool = pool;
	ctx.max = max_addresses == 0 ? MESSAGE_ADDRESS_DEFAULT_MAX : max_addresses;
	rfc822_parser_init(&ctx.p, data, size, &ctx.comment);
	if (skip(&ctx) <= 0)
		goto out;
	/* address-list = (address *("," address)) / obs-addr-list */
	while (ctx.count < ctx.max) {
		const uint8_t *before = ctx.p.data;

		if (parse_address(&ctx) == 0)
			break;
		if (ctx.p.data >= ctx.p.end || *ctx.p.data != ',')
			break;
		ctx.p.data++;
		if ((ret = skip(&ctx)) <= 0) {
			if (ret < 0)
				add_fixed_address(&ctx);
			break;
		}
		i_assert(ctx.p.data > before);
	}
out:
	first = ctx.first;
	buf_free(&ctx.str);
	buf_free(&ctx.comment);
	return first;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "imap-parser.h"
#include "imap-args.h"
#include "imap-search.h"

#define SEARCH_MAX_DEPTH 64

struct search_ctx {
	struct pool *pool;
	struct imap_search_args *search;
	const struct imap_arg *args;
	size_t count, pos;
	size_t seqsets_cap;
	const char *error;
};

static struct imap_search_node *node_new(struct search_ctx *ctx,
					 enum imap_search_key key)
{
	struct imap_search_node *n = p_new(ctx->pool, struct imap_search_node, 1);
	n->key = key;
	return n;
}

static void node_add_child(struct search_ctx *ctx, struct imap_search_node *parent,
			   struct imap_search_node *child, size_t *cap)
{
	if (parent->children_count == *cap) {
		size_t ncap = *cap == 0 ? 4 : *cap * 2;
		struct imap_search_node **n =
			p_new(ctx->pool, struct imap_search_node *, ncap);
		if (parent->children_count > 0)
			memcpy(n, parent->children,
			       parent->children_count * sizeof(*n));
		parent->children = n;
		*cap = ncap;
	}
	parent->children[parent->children_count++] = child;
}

static const struct imap_arg *next_arg(struct search_ctx *ctx)
{
	if (ctx->pos >= ctx->count) {
		ctx->error = "Missing SEARCH argument";
		return NULL;
	}
	return &ctx->args[ctx->pos++];
}

static const char *next_astring(struct search_ctx *ctx)
{
	const struct imap_arg *arg = next_arg(ctx);
	const char *str;
	if (arg == NULL)
		return NULL;
	if (!imap_arg_get_astring(arg, &str)) {
		ctx->error = "Invalid SEARCH string";
		return NULL;
	}
	return str;
}

static bool next_number(struct search_ctx *ctx, uint64_t *n_r)
{
	const char *str = next_astring(ctx);
	if (str == NULL)
		return false;
	if (str_to_uint64(str, INT64_MAX, n_r) < 0) {
		ctx->error = "Invalid SEARCH number";
		return false;
	}
	return true;
}

static bool next_date(struct search_ctx *ctx, time_t *t_r)
{
	const char *str = next_astring(ctx);
	if (str == NULL)
		return false;
	if (imap_date_parse(str, t_r) < 0) {
		ctx->error = "Invalid SEARCH date";
		return false;
	}
	return true;
}

static bool seqset_node(struct search_ctx *ctx, struct imap_search_node *n,
			const char *str)
{
	if (imap_seqset_parse(str, &n->seqset, 0, &ctx->error) < 0) {
		imap_seqset_free(&n->seqset);
		return false;
	}
	struct imap_search_args *s = ctx->search;
	if (s->seqsets_count == ctx->seqsets_cap) {
		size_t ncap = ctx->seqsets_cap == 0 ? 4 : ctx->seqsets_cap * 2;
		struct imap_seqset **a = p_new(ctx->pool, struct imap_seqset *, ncap);
		if (s->seqsets_count > 0)
			memcpy(a, s->seqsets, s->seqsets_count * sizeof(*a));
		s->seqsets = a;
		ctx->seqsets_cap = ncap;
	}
	s->seqsets[s->seqsets_count++] = &n->seqset;
	return true;
}

static struct imap_search_node *parse_key(struct search_ctx *ctx,
					  unsigned depth);

/* Keys that name a header whose value is matched. */
static const char *const header_keys[] = { "BCC", "CC", "FROM", "SUBJECT", "TO" };

static const struct {
	const char *name;
	enum imap_flag flag;
	bool negate;
} flag_keys[] = {
	{ "ANSWERED", IMAP_FLAG_ANSWERED, false },
	{ "DELETED", IMAP_FLAG_DELETED, false },
	{ "DRAFT", IMAP_FLAG_DRAFT, false },
	{ "FLAGGED", IMAP_FLAG_FLAGGED, false },
	{ "SEEN", IMAP_FLAG_SEEN, false },
	{ "UNANSWERED", IMAP_FLAG_ANSWERED, true },
	{ "UNDELETED", IMAP_FLAG_DELETED, true },
	{ "UNDRAFT", IMAP_FLAG_DRAFT, true },
	{ "UNFLAGGED", IMAP_FLAG_FLAGGED, true },
	{ "UNSEEN", IMAP_FLAG_SEEN, true },
};

static const struct {
	const char *name;
	enum imap_search_key key;
} date_keys[] = {
	{ "BEFORE", IMAP_SEARCH_BEFORE },
	{ "ON", IMAP_SEARCH_ON },
	{ "SINCE", IMAP_SEARCH_SINCE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE },
	{ "SENTON", IMAP_SEARCH_SENTON },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE },
};

static struct imap_search_node *negate(struct search_ctx *ctx,
				       struct imap_search_node *n)
{
	struct imap_search_node *not = node_new(ctx, IMAP_SEARCH_NOT);
	size_t cap = 0;
	node_add_child(ctx, not, n, &cap);
	return not;
}

static struct imap_search_node *parse_list(struct search_ctx *ctx,
					   const struct imap_arg *list,
					   size_t count, unsigned depth)
{
	struct imap_search_node *and = node_new(ctx, IMAP_SEARCH_AND);
	const struct imap_arg *saved_args = ctx->args;
	size_t saved_count = ctx->count, saved_pos = ctx->pos, cap = 0;

	if (count == 0) {
		ctx->error = "Empty SEARCH list";
		return NULL;
	}
	ctx->args = list;
	ctx->count = count;
	ctx->pos = 0;
	while (ctx->pos < ctx->count) {
		struct imap_search_node *child = parse_key(ctx, depth + 1);
		if (child == NULL)
			return NULL;
		node_add_child(ctx, and, child, &cap);
	}
	ctx->args = saved_args;
	ctx->count = saved_count;
	ctx->pos = saved_pos;
	return and;
}

static struct imap_search_node *parse_key(struct search_ctx *ctx,
					  unsigned depth)
{
	const struct imap_arg *arg;
	struct imap_search_node *n;
	const char *key;

	if (depth > SEARCH_MAX_DEPTH) {
		ctx->error = "SEARCH nested too deeply";
		return NULL;
	}
	if ((arg = next_arg(ctx)) == NULL)
		return NULL;
	if (arg->type == IMAP_ARG_LIST)
		return parse_list(ctx, arg->list, arg->len, depth);
	if (!imap_arg_get_atom(arg, &key)) {
		ctx->error = "Invalid SEARCH key";
		return NULL;
	}
	if ((key[0] >= '1' && key[0] <= '9') || key[0] == '*' ||
	    strcmp(key, "$") == 0) {
		n = node_new(ctx, strcmp(key, "$") == 0 ? IMAP_SEARCH_SAVED
							: IMAP_SEARCH_SEQSET);
		if (n->key == IMAP_SEARCH_SEQSET && !seqset_node(ctx, n, key))
			return NULL;
		return n;
	}
	for (size_t i = 0; i < N_ELEMENTS(flag_keys); i++) {
		if (str_ascii_eq_ci(key, flag_keys[i].name)) {
			n = node_new(ctx, IMAP_SEARCH_FLAG);
			n->flag = flag_keys[i].flag;
			return flag_keys[i].negate ? negate(ctx, n) : n;
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(date_keys); i++) {
		if (str_ascii_eq_ci(key, date_keys[i].name)) {
			n = node_new(ctx, date_keys[i].key);
			return next_date(ctx, &n->date) ? n : NULL;
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(header_keys); i++) {
		if (str_ascii_eq_ci(key, header_keys[i])) {
			n = node_new(ctx, IMAP_SEARCH_HEADER);
			n->header = header_keys[i];
			n->value = next_astring(ctx);
			return n->value == NULL ? NULL : n;
		}
	}
	if (str_ascii_eq_ci(key, "ALL"))
		return node_new(ctx, IMAP_SEARCH_ALL);
	if (str_ascii_eq_ci(key, "NEW"))
		return node_new(ctx, IMAP_SEARCH_NEW);
	if (str_ascii_eq_ci(key, "OLD"))
		return node_new(ctx, IMAP_SEARCH_OLD);
	if (str_ascii_eq_ci(key, "RECENT"))
		return node_new(ctx, IMAP_SEARCH_RECENT);
	if (str_ascii_eq_ci(key, "KEYWORD") || str_ascii_eq_ci(key, "UNKEYWORD")) {
		n = node_new(ctx, IMAP_SEARCH_KEYWORD);
		if ((n->keyword = next_astring(ctx)) == NULL)
			return NULL;
		if (!imap_keyword_is_valid(n->keyword)) {
			ctx->error = "Invalid keyword";
			return NULL;
		}
		return key[0] == 'U' || key[0] == 'u' ? negate(ctx, n) : n;
	}
	if (str_ascii_eq_ci(key, "HEADER")) {
		n = node_new(ctx, IMAP_SEARCH_HEADER);
		const char *field = next_astring(ctx);
		if (field == NULL || (n->value = next_astring(ctx)) == NULL)
			return NULL;
		char *up = pool_strdup(ctx->pool, field);
		for (char *c = up; *c != '\0'; c++) {
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		}
		n->header = up;
		return n;
	}
	if (str_ascii_eq_ci(key, "BODY") || str_ascii_eq_ci(key, "TEXT")) {
		n = node_new(ctx, str_ascii_eq_ci(key, "BODY") ? IMAP_SEARCH_BODY
								: IMAP_SEARCH_TEXT);
		n->value = next_astring(ctx);
		return n->value == NULL ? NULL : n;
	}
	if (str_ascii_eq_ci(key, "LARGER") || str_ascii_eq_ci(key, "SMALLER") ||
	    str_ascii_eq_ci(key, "OLDER") || str_ascii_eq_ci(key, "YOUNGER")) {
		enum imap_search_key k =
			str_ascii_eq_ci(key, "LARGER") ? IMAP_SEARCH_LARGER :
			str_ascii_eq_ci(key, "SMALLER") ? IMAP_SEARCH_SMALLER :
			str_ascii_eq_ci(key, "OLDER") ? IMAP_SEARCH_OLDER :
							 IMAP_SEARCH_YOUNGER;
		n = node_new(ctx, k);
		if (!next_number(ctx, &n->number))
			return NULL;
		if ((k == IMAP_SEARCH_OLDER || k == IMAP_SEARCH_YOUNGER) &&
		    n->number == 0) {
			ctx->error = "Invalid interval";
			return NULL;
		}
		return n;
	}
	if (str_ascii_eq_ci(key, "MODSEQ")) {
		/* search-modsequence = "MODSEQ" [search-modseq-ext] SP
		 * mod-sequence-valzer (RFC 7162 section 3.1.5); the entry
		 * name and type are accepted and ignored. */
		n = node_new(ctx, IMAP_SEARCH_MODSEQ);
		if (ctx->pos + 2 < ctx->count &&
		    ctx->args[ctx->pos].type == IMAP_ARG_QUOTED)
			ctx->pos += 2;
		return next_number(ctx, &n->number) ? n : NULL;
	}
	if (str_ascii_eq_ci(key, "UID")) {
		const char *set = next_astring(ctx);
		n = node_new(ctx, IMAP_SEARCH_UID);
		if (set == NULL)
			return NULL;
		if (strcmp(set, "$") == 0) {
			n->key = IMAP_SEARCH_SAVED;
			return n;
		}
		return seqset_node(ctx, n, set) ? n : NULL;
	}
	if (str_ascii_eq_ci(key, "NOT")) {
		struct imap_search_node *child = parse_key(ctx, depth + 1);
		return child == NULL ? NULL : negate(ctx, child);
	}
	if (str_ascii_eq_ci(key, "OR")) {
		size_t cap = 0;
		n = node_new(ctx, IMAP_SEARCH_OR);
		for (int i = 0; i < 2; i++) {
			struct imap_search_node *child = parse_key(ctx, depth + 1);
			if (child == NULL)
				return NULL;
			node_add_child(ctx, n, child, &cap);
		}
		return n;
	}
	ctx->error = "Unknown SEARCH key";
	return NULL;
}

int imap_search_args_parse(const struct imap_arg *args, size_t count,
			   struct pool *pool, struct imap_search_args *search_r,
			   bool *badcharset_r, const char **error_r)
{
	struct search_ctx ctx;
	size_t cap = 0;

	memset(search_r, 0, sizeof(*search_r));
	memset(&ctx, 0, sizeof(ctx));
	*badcharset_r = false;
	ctx.pool = pool;
	ctx.search = search_r;
	ctx.args = args;
	ctx.count = count;

	/* search-return-opts = SP "RETURN" SP "(" [search-return-opt
	 * *(SP search-return-opt)] ")" (RFC 9051 section 9) */
	if (count > 0 && imap_arg_atom_equals(&args[0], "RETURN")) {
		if (count < 2 || args[1].type != IMAP_ARG_LIST) {
			*error_r = "Invalid SEARCH RETURN options";
			return -1;
		}
		search_r->esearch = true;
		for (size_t i = 0; i < args[1].len; i++) {
			const struct imap_arg *o = &args[1].list[i];
			if (imap_arg_atom_equals(o, "MIN"))
				search_r->ret |= IMAP_SEARCH_RET_MIN;
			else if (imap_arg_atom_equals(o, "MAX"))
				search_r->ret |= IMAP_SEARCH_RET_MAX;
			else if (imap_arg_atom_equals(o, "ALL"))
				search_r->ret |= IMAP_SEARCH_RET_ALL;
			else if (imap_arg_atom_equals(o, "COUNT"))
				search_r->ret |= IMAP_SEARCH_RET_COUNT;
			else if (imap_arg_atom_equals(o, "SAVE"))
				search_r->ret |= IMAP_SEARCH_RET_SAVE;
			else {
				*error_r = "Unknown SEARCH RETURN option";
				return -1;
			}
		}
		if (search_r->ret == 0)
			search_r->ret = IMAP_SEARCH_RET_ALL;
		ctx.pos = 2;
	}
	if (ctx.pos < count && imap_arg_atom_equals(&args[ctx.pos], "CHARSET")) {
		const char *cs;
		if (ctx.pos + 1 >= count ||
		    !imap_arg_get_astring(&args[ctx.pos + 1], &cs)) {
			*error_r = "Missing CHARSET";
			return -1;
		}
		if (!str_ascii_eq_ci(cs, "UTF-8") && !str_ascii_eq_ci(cs, "US-ASCII")) {
			*badcharset_r = true;
			*error_r = "[BADCHARSET (UTF-8)] Unsupported charset";
			return -1;
		}
		search_r->charset = cs;
		ctx.pos += 2;
	}
	if (ctx.pos >= count) {
		*error_r = "Missing SEARCH criteria";
		return -1;
	}
	search_r->root = node_new(&ctx, IMAP_SEARCH_AND);
	while (ctx.pos < ctx.count) {
		struct imap_search_node *n = parse_key(&ctx, 0);
		if (n == NULL) {
			imap_search_args_free(search_r);
			*error_r = ctx.error;
			return -1;
		}
		node_add_child(&ctx, search_r->root, n, &cap);
	}
	return 1;
}

void imap_search_args_free(struct imap_search_args *search)
{
	for (size_t i = 0; i < search->seqsets_count; i++)
		imap_seqset_free(search->seqsets[i]);
	search->seqsets_count = 0;
}

/* Simple case folding of the scripts most mail is written in (ASCII,
 * Latin-1, Latin Extended-A, Greek, Cyrillic). Every mapping keeps the
 * UTF-8 length, so text folds in place into a buffer of the same size and
 * the search is a plain memmem(). */
static uint32_t fold_cp(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 0x20;
	if (c < 0xc0)
		return c;
	if (c <= 0xde)
		return c == 0xd7 ? c : c + 0x20;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x178)
			return 0xff;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) != 0 ? c + 1 : c;
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 ||
		    c == 0x17f)
			return c;
		return (c & 1) == 0 ? c + 1 : c;
	}
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 0x20;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	return c;
}

static void fold(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *d = (unsigned char *)out;
	size_t i = 0;

	while (i < len) {
		unsigned char b = s[i];
		if (b < 0x80) {
			d[i] = b >= 'A' && b <= 'Z' ? (unsigned char)(b + 0x20) : b;
			i++;
		} else if ((b & 0xe0) == 0xc0 && i + 1 < len &&
			   (s[i + 1] & 0xc0) == 0x80) {
			uint32_t c = ((uint32_t)(b & 0x1f) << 6) | (s[i + 1] & 0x3f);
			uint32_t f = c >= 0x80 ? fold_cp(c) : c;
			if (f >= 0x80 && f < 0x800) {
				d[i] = (unsigned char)(0xc0 | (f >> 6));
				d[i + 1] = (unsigned char)(0x80 | (f & 0x3f));
			} else {
				d[i] = s[i];
				d[i + 1] = s[i + 1];
			}
			i += 2;
		} else {
			/* 3- and 4-byte characters (and stray bytes) as is. */
			d[i] = b;
			i++;
		}
	}
}

bool imap_search_substr_match(const char *haystack, size_t haystack_len,
			      const char *needle)
{
	size_t nlen = strlen(needle);
	bool found;

	if (nlen == 0)
		return true;
	if (nlen > haystack_len)
		return false;
	char *h = i_malloc(haystack_len + 1), *n = i_malloc(nlen + 1);
	fold(haystack, haystack_len, h);
	fold(needle, nlen, n);
	found = memmem(h, haystack_len, n, nlen) != NULL;
	free(h);
	free(n);
	return found;
}

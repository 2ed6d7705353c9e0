/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "imap-parser.h"
#include "imap-fetch-parse.h"

#define MAX_FETCH_ITEMS 256
#define MAX_HEADER_FIELDS 256

static bool has_prefix_ci(const char **s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (str_ascii_ncmp_ci(*s, prefix, n) != 0)
		return false;
	*s += n;
	return true;
}

static bool parse_uint(const char **s, uint64_t max, uint64_t *n_r)
{
	const char *p = *s;
	uint64_t n = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > max)
			return false;
		p++;
	}
	*n_r = n;
	*s = p;
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")"
 * header-fld-name = astring */
static const char *parse_header_list(const char **s, struct pool *pool,
				     struct imap_fetch_item *item)
{
	const char *p = *s;
	const char *fields[MAX_HEADER_FIELDS];
	size_t count = 0;

	if (*p++ != '(')
		return "Missing header field list";
	for (;;) {
		const char *start = p;
		bool quoted = *p == '"';
		if (quoted) {
			start = ++p;
			while (*p != '"' && *p != '\0')
				p++;
			if (*p != '"')
				return "Invalid header field name";
		} else {
			/* field-name = 1*ftext; ftext = %d33-57 / %d59-126
			 * (RFC 5322 section 3.6.8) */
			while ((unsigned char)*p > 32 && (unsigned char)*p < 127 &&
			       *p != ':' && *p != '(' && *p != ')')
				p++;
		}
		if (p == start)
			return "Invalid header field name";
		if (count == MAX_HEADER_FIELDS)
			return "Too many header fields";
		char *name = pool_strndup(pool, start, (size_t)(p - start));
		for (char *c = name; *c != '\0'; c++) {
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		}
		fields[count++] = name;
		if (quoted)
			p++;
		if (*p == ')')
			break;
		if (*p != ' ')
			return "Invalid header field list";
		p++;
	}
	*s = p + 1;
	item->fields = p_new(pool, const char *, count);
	memcpy(item->fields, fields, count * sizeof(*fields));
	item->fields_count = count;
	return NULL;
}

/* section-spec = section-msgtext / (section-part ["." section-text]) */
static const char *parse_section(const char **s, struct pool *pool,
				 struct imap_fetch_item *item, bool binary)
{
	const char *p = *s;

	if (*p++ != '[')
		return "Missing section";
	while (*p >= '1' && *p <= '9') {
		uint64_t n;
		if (!parse_uint(&p, UINT32_MAX, &n) || n == 0)
			return "Invalid section part";
		if (item->parts_count == IMAP_SECTION_MAX_PARTS)
			return "Section nested too deeply";
		item->parts[item->parts_count++] = (uint32_t)n;
		if (*p != '.')
			break;
		p++;
		if (*p < '1' || *p > '9')
			break;
	}
	if (item->parts_count > 0 &&
	    (p[-1] == '.' ? *p == ']' : *p != ']'))
		return "Invalid section";
	if (*p != ']') {
		if (binary)
			return "Invalid BINARY section";
		if (has_prefix_ci(&p, "HEADER.FIELDS.NOT"))
			item->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		else if (has_prefix_ci(&p, "HEADER.FIELDS"))
			item->text = IMAP_SECTION_HEADER_FIELDS;
		else if (has_prefix_ci(&p, "HEADER"))
			item->text = IMAP_SECTION_HEADER;
		else if (has_prefix_ci(&p, "TEXT"))
			item->text = IMAP_SECTION_TEXT;
		else if (item->parts_count > 0 && has_prefix_ci(&p, "MIME"))
			item->text = IMAP_SECTION_MIME;
		else
			return "Invalid section text";
		if (item->text == IMAP_SECTION_HEADER_FIELDS ||
		    item->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
			const char *error;
			if (*p++ != ' ')
				return "Missing header field list";
			if ((error = parse_header_list(&p, pool, item)) != NULL)
				return error;
		}
	}
	if (*p++ != ']')
		return "Missing ']'";
	*s = p;
	return NULL;
}

/* partial = "<" number "." nz-number ">" */
static const char *parse_partial(const char **s, struct imap_fetch_item *item)
{
	const char *p = *s;
	uint64_t off, len;

	if (*p != '<')
		return NULL;
	p++;
	if (!parse_uint(&p, UINT32_MAX, &off) || *p++ != '.' ||
	    !parse_uint(&p, UINT32_MAX, &len) || len == 0 || *p++ != '>')
		return "Invalid partial";
	item->partial = true;
	item->partial_offset = off;
	item->partial_length = len;
	*s = p;
	return NULL;
}

static void section_name(struct buf *b, const struct imap_fetch_item *item)
{
	static const char *const texts[] = {
		[IMAP_SECTION_ALL] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	buf_append_byte(b, '[');
	for (unsigned i = 0; i < item->parts_count; i++)
		buf_printf(b, i == 0 ? "%u" : ".%u", item->parts[i]);
	if (item->text != IMAP_SECTION_ALL) {
		if (item->parts_count > 0)
			buf_append_byte(b, '.');
		buf_append_str(b, texts[item->text]);
	}
	if (item->fields_count > 0) {
		buf_append_str(b, " (");
		for (size_t i = 0; i < item->fields_count; i++) {
			if (i > 0)
				buf_append_byte(b, ' ');
			buf_append_str(b, item->fields[i]);
		}
		buf_append_byte(b, ')');
	}
	buf_append_byte(b, ']');
	if (item->partial)
		buf_printf(b, "<%llu>", (unsigned long long)item->partial_offset);
}

static const char *parse_item(const char *str, struct pool *pool,
			      struct imap_fetch_item *item)
{
	static const struct {
		const char *name;
		enum imap_fetch_type type;
	} simple[] = {
		{ "FLAGS", IMAP_FETCH_FLAGS },
		{ "UID", IMAP_FETCH_UID },
		{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
		{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
		{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
		{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
		{ "BODY", IMAP_FETCH_BODY_STRUCTURE_BASIC },
		{ "MODSEQ", IMAP_FETCH_MODSEQ },
	};
	const char *p = str, *error;
	struct buf name = BUF_INIT;

	memset(item, 0, sizeof(*item));
	for (size_t i = 0; i < N_ELEMENTS(simple); i++) {
		if (str_ascii_eq_ci(str, simple[i].name)) {
			item->type = simple[i].type;
			item->response_name = simple[i].name;
			return NULL;
		}
	}
	/* RFC 3501 section 6.4.5: the RFC822 forms of BODY[...]. */
	if (str_ascii_eq_ci(str, "RFC822")) {
		item->type = IMAP_FETCH_BODY_SECTION;
		item->response_name = "RFC822";
		return NULL;
	}
	if (str_ascii_eq_ci(str, "RFC822.HEADER")) {
		item->type = IMAP_FETCH_BODY_SECTION;
		item->peek = true;
		item->text = IMAP_SECTION_HEADER;
		item->response_name = "RFC822.HEADER";
		return NULL;
	}
	if (str_ascii_eq_ci(str, "RFC822.TEXT")) {
		item->type = IMAP_FETCH_BODY_SECTION;
		item->text = IMAP_SECTION_TEXT;
		item->response_name = "RFC822.TEXT";
		return NULL;
	}

	if (has_prefix_ci(&p, "BINARY.SIZE")) {
		item->type = IMAP_FETCH_BINARY_SIZE;
		buf_append_str(&name, "BINARY.SIZE");
	} else if (has_prefix_ci(&p, "BINARY.PEEK")) {
		item->type = IMAP_FETCH_BINARY_SECTION;
		item->peek = true;
		buf_append_str(&name, "BINARY");
	} else if (has_prefix_ci(&p, "BINARY")) {
		item->type = IMAP_FETCH_BINARY_SECTION;
		buf_append_str(&name, "BINARY");
	} else if (has_prefix_ci(&p, "BODY.PEEK")) {
		item->type = IMAP_FETCH_BODY_SECTION;
		item->peek = true;
		buf_append_str(&name, "BODY");
	} else if (has_prefix_ci(&p, "BODY")) {
		item->type = IMAP_FETCH_BODY_SECTION;
		buf_append_str(&name, "BODY");
	} else {
		return "Unknown FETCH item";
	}
	if (*p != '[') {
		buf_free(&name);
		return "Unknown FETCH item";
	}
	error = parse_section(&p, pool, item, item->type != IMAP_FETCH_BODY_SECTION);
	if (error == NULL && item->type != IMAP_FETCH_BINARY_SIZE)
		error = parse_partial(&p, item);
	if (error == NULL && *p != '\0')
		error = "Invalid FETCH item";
	if (error == NULL) {
		section_name(&name, item);
		item->response_name = pool_strndup(pool, buf_cstr(&name), name.len);
	}
	buf_free(&name);
	return error;
}

static int add_item(struct imap_fetch_items *items, size_t *cap, struct pool *pool,
		    const struct imap_fetch_item *item)
{
	if (items->count == MAX_FETCH_ITEMS)
		return -1;
	if (items->count == *cap) {
		size_t ncap = *cap == 0 ? 8 : *cap * 2;
		struct imap_fetch_item *n = p_new(pool, struct imap_fetch_item, ncap);
		if (items->count > 0)
			memcpy(n, items->items, items->count * sizeof(*n));
		items->items = n;
		*cap = ncap;
	}
	items->items[items->count++] = *item;
	if (item->type == IMAP_FETCH_BODY_SECTION ||
	    item->type == IMAP_FETCH_BINARY_SECTION ||
	    item->type == IMAP_FETCH_BINARY_SIZE)
		items->need_body = true;
	if ((item->type == IMAP_FETCH_BODY_SECTION ||
	     item->type == IMAP_FETCH_BINARY_SECTION) && !item->peek)
		items->sets_seen = true;
	return 0;
}

static int add_named(struct imap_fetch_items *items, size_t *cap,
		     struct pool *pool, const char *name, const char **error_r)
{
	struct imap_fetch_item item;
	const char *error = parse_item(name, pool, &item);
	if (error != NULL) {
		*error_r = error;
		return -1;
	}
	if (add_item(items, cap, pool, &item) < 0) {
		*error_r = "Too many FETCH items";
		return -1;
	}
	return 0;
}

int imap_fetch_items_parse(const struct imap_arg *args, size_t count,
			   struct pool *pool, struct imap_fetch_items *items_r,
			   const char **error_r)
{
	static const char *const macro_all[] = { "FLAGS", "INTERNALDATE",
		"RFC822.SIZE", "ENVELOPE", NULL };
	static const char *const macro_fast[] = { "FLAGS", "INTERNALDATE",
		"RFC822.SIZE", NULL };
	static const char *const macro_full[] = { "FLAGS", "INTERNALDATE",
		"RFC822.SIZE", "ENVELOPE", "BODY", NULL };
	size_t cap = 0;
	const char *atom;

	memset(items_r, 0, sizeof(*items_r));
	if (count == 0) {
		*error_r = "Missing FETCH items";
		return -1;
	}
	if (args[0].type == IMAP_ARG_LIST) {
		if (args[0].len == 0) {
			*error_r = "Empty FETCH item list";
			return -1;
		}
		for (size_t i = 0; i < args[0].len; i++) {
			if (!imap_arg_get_atom(&args[0].list[i], &atom)) {
				*error_r = "Invalid FETCH item";
				return -1;
			}
			if (add_named(items_r, &cap, pool, atom, error_r) < 0)
				return -1;
		}
	} else if (imap_arg_get_atom(&args[0], &atom)) {
		const char *const *macro = NULL;
		if (str_ascii_eq_ci(atom, "ALL"))
			macro = macro_all;
		else if (str_ascii_eq_ci(atom, "FAST"))
			macro = macro_fast;
		else if (str_ascii_eq_ci(atom, "FULL"))
			macro = macro_full;
		if (macro != NULL) {
			for (; *macro != NULL; macro++) {
				if (add_named(items_r, &cap, pool, *macro, error_r) < 0)
					return -1;
			}
		} else if (add_named(items_r, &cap, pool, atom, error_r) < 0) {
			return -1;
		}
	} else {
		*error_r = "Invalid FETCH item";
		return -1;
	}

	/* fetch-modifier list (RFC 4466 section 2.4, RFC 7162 CHANGEDSINCE) */
	if (count > 1) {
		const struct imap_arg *mods = &args[1];
		if (count > 2 || mods->type != IMAP_ARG_LIST) {
			*error_r = "Invalid FETCH modifiers";
			return -1;
		}
		for (size_t i = 0; i < mods->len; i++) {
			const char *v;
			uint64_t n;
			/* RFC 7162 section 7: rexpunges-fetch-mod = "VANISHED" */
			if (imap_arg_atom_equals(&mods->list[i], "VANISHED") &&
			    !items_r->vanished) {
				items_r->vanished = true;
				continue;
			}
			if (i + 1 >= mods->len || items_r->changedsince > 0 ||
			    !imap_arg_atom_equals(&mods->list[i], "CHANGEDSINCE") ||
			    !imap_arg_get_atom(&mods->list[i + 1], &v) ||
			    str_to_uint64(v, INT64_MAX, &n) < 0 || n == 0) {
				*error_r = "Invalid FETCH modifier";
				return -1;
			}
			items_r->changedsince = n;
			i++;
		}
		/* RFC 7162 section 3.2.6: only together with CHANGEDSINCE. */
		if (items_r->vanished && items_r->changedsince == 0) {
			*error_r = "VANISHED needs CHANGEDSINCE";
			return -1;
		}
	}
	return 1;
}

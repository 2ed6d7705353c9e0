/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "rfc822-parser.h"
#include "rfc2047.h"
#include "mime-param.h"

/* Parameters beyond this many are ignored: a peer-controlled count. */
#define MIME_PARAMS_MAX 256

struct param_list {
	struct pool *pool;
	struct mime_param *items;
	unsigned int count, alloc;
};

struct rfc2231_piece {
	const char *key; /* name without the "*n*" suffix */
	const char *value;
	unsigned int idx;
	bool extended;
	unsigned int order;
};

static void param_list_add(struct param_list *l, const char *name,
			   const char *value)
{
	if (l->count == l->alloc) {
		unsigned int n = l->alloc == 0 ? 4 : l->alloc * 2;
		struct mime_param *items = p_new(l->pool, struct mime_param, n);

		if (l->count > 0)
			memcpy(items, l->items, sizeof(*items) * l->count);
		l->items = items;
		l->alloc = n;
	}
	l->items[l->count].name = name;
	l->items[l->count].value = value;
	l->count++;
}

/* A MIME token, possibly empty, and the CFWS after it: the return of
 * rfc822_skip_lwsp() (1 more, 0 end, -1 broken comment). */
static int parse_token(struct rfc822_parser *p, struct buf *dest)
{
	(void)rfc822_parse_mime_token(p, dest);
	return rfc822_skip_lwsp(p);
}

/* RFC 2045 section 5.1:
 *   parameter := attribute "=" value
 *   attribute := token
 *   value := token / quoted-string
 * Returns 1 with key/value, 0 at the end, -1 on a syntax error (the cursor
 * is then where it failed; the caller skips a byte and tries again, as
 * Dovecot does, so one bad parameter does not hide the ones after it). */
static int parse_param(struct rfc822_parser *p, struct buf *key,
		       struct buf *value)
{
	int ret;

	buf_reset(key);
	buf_reset(value);
	if (rfc822_at_end(p))
		return 0;
	if (*p->data != ';')
		return -1;
	p->data++;
	if (rfc822_skip_lwsp(p) <= 0)
		return -1;
	if (parse_token(p, key) <= 0)
		return -1;
	if (*p->data != '=')
		return -1;
	p->data++;
	if ((ret = rfc822_skip_lwsp(p)) <= 0) {
		/* no value */
	} else if (*p->data == '"') {
		ret = rfc822_parse_quoted_string(p, value);
		if (ret > 0)
			ret = rfc822_skip_lwsp(p);
	} else if (*p->data == '=') {
		/* broken but common: name==?utf-8?b?...?= unquoted */
		while (p->data < p->end && *p->data != ';' && *p->data != ' ' &&
		       *p->data != '\t' && *p->data != '\r' && *p->data != '\n')
			buf_append_byte(value, *p->data++);
	} else {
		ret = parse_token(p, value);
	}
	return ret < 0 ? -1 : 1;
}

static int piece_cmp(const void *a, const void *b)
{
	const struct rfc2231_piece *pa = a, *pb = b;
	int ret = strcmp(pa->key, pb->key);

	if (ret != 0)
		return ret;
	if (pa->idx != pb->idx)
		return pa->idx < pb->idx ? -1 : 1;
	return pa->order < pb->order ? -1 : (pa->order > pb->order);
}

/* RFC 2231 section 3 and 4: "name*<n>[*]=value" pieces are merged into
 * one parameter; when any piece is extended the result is "name*" with the
 * value still encoded. Pieces with missing indexes are left as they are. */
static void rfc2231_merge(struct param_list *l, struct rfc2231_piece *pieces,
			  unsigned int count)
{
	struct buf str = BUF_INIT;
	unsigned int i, j;

	qsort(pieces, count, sizeof(*pieces), piece_cmp);
	for (i = 0; i < count; i = j) {
		bool ok = true, have_extended = false;
		unsigned int next_idx = 0;

		for (j = i; j < count; j++) {
			if (str_ascii_ncmp_ci(pieces[i].key, pieces[j].key, SIZE_MAX) != 0)
				break;
			if (pieces[j].idx != next_idx)
				ok = false;
			if (pieces[j].extended)
				have_extended = true;
			next_idx++;
		}
		if (!ok) {
			for (unsigned int k = i; k < j; k++) {
				const char *key = pool_printf(
					l->pool, pieces[k].extended ? "%s*%u*" : "%s*%u",
					pieces[k].key, pieces[k].idx);
				param_list_add(l, key, pieces[k].value);
			}
			continue;
		}
		buf_reset(&str);
		if (!pieces[i].extended && have_extended)
			buf_append_str(&str, "''");
		/* a plain piece among extended ones gets its '%' escaped */
		for (unsigned int k = i; k < j; k++) {
			if (pieces[k].extended || !have_extended) {
				buf_append_str(&str, pieces[k].value);
				continue;
			}
			for (const char *v = pieces[k].value; *v != '\0'; v++) {
				if (*v == '%')
					buf_append_str(&str, "%25");
				else
					buf_append_byte(&str, (uint8_t)*v);
			}
		}
		param_list_add(l, have_extended ?
			       pool_printf(l->pool, "%s*", pieces[i].key) :
			       pieces[i].key,
			       pool_strdup(l->pool, buf_cstr(&str)));
	}
	buf_free(&str);
}

static void parse_params(struct pool *pool, struct rfc822_parser *p,
			 struct mime_param **params_r,
			 unsigned int *params_count_r)
{
	struct param_list l = { .pool = pool };
	struct rfc2231_piece *pieces = NULL;
	unsigned int pieces_count = 0, total = 0;
	struct buf key = BUF_INIT, value = BUF_INIT;

	while (total < MIME_PARAMS_MAX) {
		int ret = parse_param(p, &key, &value);

		if (ret == 0)
			break;
		if (ret < 0) {
			if (rfc822_at_end(p))
				break;
			p->data++;
			continue;
		}
		const char *k = pool_strdup(pool, buf_cstr(&key));
		const char *v = pool_strdup(pool, buf_cstr(&value));
		const char *star = strchr(k, '*');
		struct rfc2231_piece piece = { .order = total };

		total++;
		if (star != NULL) {
			const char *s = star;
			bool valid = true;

			/* name*, name*N or name*N* (RFC 2231 sections 3, 4) */
			if (s[1] != '\0') {
				for (s++; *s >= '0' && *s <= '9'; s++) {
					if (piece.idx < 100000)
						piece.idx = piece.idx * 10 + (unsigned int)(*s - '0');
				}
			}
			if (*s == '*') {
				piece.extended = true;
				s++;
			}
			if (*s != '\0')
				valid = false;
			if (valid) {
				piece.key = pool_strndup(pool, k, (size_t)(star - k));
				piece.value = v;
				pieces = i_realloc(pieces, sizeof(*pieces) *
							   (pieces_count + 1));
				pieces[pieces_count++] = piece;
				continue;
			}
		}
		param_list_add(&l, k, v);
	}
	if (pieces_count > 0)
		rfc2231_merge(&l, pieces, pieces_count);
	i_free(pieces);
	buf_free(&key);
	buf_free(&value);
	*params_r = l.items;
	*params_count_r = l.count;
}

void mime_params_parse(struct pool *pool, const char *str,
		       struct mime_param **params_r,
		       unsigned int *params_count_r)
{
	struct rfc822_parser p;

	rfc822_parser_init(&p, (const uint8_t *)str, strlen(str), NULL);
	(void)rfc822_skip_lwsp(&p);
	if (!rfc822_at_end(&p) && *p.data != ';') {
		/* a bare list "a=b; c=d": parse as if it began with ';' */
		struct buf tmp = BUF_INIT;

		buf_append_byte(&tmp, ';');
		buf_append(&tmp, p.data, (size_t)(p.end - p.data));
		rfc822_parser_init(&p, tmp.data, tmp.len, NULL);
		parse_params(pool, &p, params_r, params_count_r);
		buf_free(&tmp);
		return;
	}
	parse_params(pool, &p, params_r, params_count_r);
}

/* content := type "/" subtype *(";" parameter). As Dovecot: anything but
 * ';' after the subtype makes the whole field invalid (no parameters);
 * a bad parameter only costs itself. */
int mime_content_type_parse(struct pool *pool, const char *value,
			    const char **type_r, const char **subtype_r,
			    struct mime_param **params_r,
			    unsigned int *params_count_r)
{
	struct rfc822_parser p;
	struct buf type = BUF_INIT, subtype = BUF_INIT;
	int ret = 0;

	*type_r = *subtype_r = NULL;
	*params_r = NULL;
	*params_count_r = 0;
	rfc822_parser_init(&p, (const uint8_t *)value, strlen(value), NULL);
	if (rfc822_skip_lwsp(&p) <= 0)
		goto out;
	if ((ret = parse_token(&p, &type)) <= 0 || type.len == 0) {
		/* "type" alone is kept as the type, as Dovecot does */
		if (type.len > 0)
			*type_r = pool_strdup(pool, buf_cstr(&type));
		ret = 0;
		goto out;
	}
	ret = 0;
	if (*p.data != '/')
		goto out;
	p.data++;
	if (rfc822_skip_lwsp(&p) <= 0)
		goto out;
	if (parse_token(&p, &subtype) < 0 || subtype.len == 0 ||
	    (!rfc822_at_end(&p) && *p.data != ';'))
		goto out;
	*type_r = pool_strdup(pool, buf_cstr(&type));
	*subtype_r = pool_strdup(pool, buf_cstr(&subtype));
	ret = 1;
	parse_params(pool, &p, params_r, params_count_r);
out:
	buf_free(&type);
	buf_free(&subtype);
	return ret;
}

int mime_disposition_parse(struct pool *pool, const char *value,
			   const char **disposition_r,
			   struct mime_param **params_r,
			   unsigned int *params_count_r)
{
	struct rfc822_parser p;
	struct buf token = BUF_INIT;
	int ret;

	*params_r = NULL;
	*params_count_r = 0;
	rfc822_parser_init(&p, (const uint8_t *)value, strlen(value), NULL);
	(void)rfc822_skip_lwsp(&p);
	ret = parse_token(&p, &token);
	if (ret < 0) {
		/* an unterminated comment after the type: nothing, as
		 * Dovecot does */
		*disposition_r = NULL;
		buf_free(&token);
		return 0;
	}
	*disposition_r = pool_strdup(pool, buf_cstr(&token));
	buf_free(&token);
	parse_params(pool, &p, params_r, params_count_r);
	return *disposition_r[0] != '\0' ? 1 : 0;
}

int rfc2231_value_decode(struct pool *pool, const char *value,
			 const char **utf8_r, const char **language_r)
{
	const char *q1 = strchr(value, '\''), *q2, *text;
	struct buf raw = BUF_INIT, out = BUF_INIT;
	const char *charset;
	int ret = 1;

	if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL) {
		charset = "";
		*language_r = "";
		text = value;
	} else {
		charset = pool_strndup(pool, value, (size_t)(q1 - value));
		*language_r = pool_strndup(pool, q1 + 1, (size_t)(q2 - q1 - 1));
		text = q2 + 1;
	}
	for (const char *s = text; *s != '\0'; s++) {
		int hi, lo;

		if (*s == '%' && (hi = hex_digit_value((uint8_t)s[1])) >= 0 &&
		    (lo = hex_digit_value((uint8_t)s[2])) >= 0) {
			buf_append_byte(&raw, (uint8_t)(hi * 16 + lo));
			s += 2;
		} else {
			buf_append_byte(&raw, (uint8_t)*s);
		}
	}
	if (*charset == '\0' ||
	    charset_to_utf8(charset, raw.data, raw.len, &out) < 0) {
		if (*charset != '\0')
			ret = -1;
		buf_reset(&out);
		utf8_append_valid(&out, raw.data, raw.len);
	}
	*utf8_r = pool_strndup(pool, buf_cstr(&out), out.len);
	buf_free(&raw);
	buf_free(&out);
	return ret;
}

const char *mime_param_get(const struct mime_param *params,
			   unsigned int count, const char *name)
{
	for (unsigned int i = 0; i < count; i++) {
		if (str_ascii_eq_ci(params[i].name, name))
			return params[i].value;
	}
	return NULL;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "buf.h"
#include "strutil.h"
#include "store-private.h"

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, so an address is
 * shorter still. */
#define STORE_ADDRESS_MAX 254

bool store_domain_name_valid(const char *domain)
{
	size_t len = strlen(domain), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = domain[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '_' && c < 0x80)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool store_address_normalize(struct pool *pool, const char *address,
			     const char **normalized_r, const char **local_r,
			     const char **domain_r)
{
	if (address == NULL)
		return false;
	size_t len = strlen(address);
	if (len == 0 || len > STORE_ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = address[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return false;
	}
	const char *at = strrchr(address, '@');
	if (at == NULL || at[1] == '\0')
		return false;
	char *norm = pool_strdup(pool, address);
	str_ascii_lower(norm);
	const char *domain = norm + (at - address) + 1;
	if (!store_domain_name_valid(domain))
		return false;
	*normalized_r = norm;
	if (local_r != NULL)
		*local_r = pool_strndup(pool, norm, at - address);
	if (domain_r != NULL)
		*domain_r = domain;
	return true;
}

bool store_mailbox_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > STORE_MAILBOX_NAME_MAX)
		return false;
	if (name[0] == STORE_HIERARCHY_SEP ||
	    name[len - 1] == STORE_HIERARCHY_SEP)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = name[i];
		/* '*' and '%' are LIST wildcards (RFC 9051 6.3.9); they could
		 * never be matched literally. */
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return false;
		if (c == STORE_HIERARCHY_SEP &&
		    name[i + 1] == STORE_HIERARCHY_SEP)
			return false;
	}
	return true;
}

const char *store_mailbox_name_canonical(struct pool *pool, const char *name)
{
	if (str_ascii_eq_ci(name, "INBOX"))
		return "INBOX";
	return pool_strdup(pool, name);
}

/* RFC 9051 9: flag-keyword = atom; atom excludes atom-specials
 * "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
 * resp-specials. */
static bool store_keyword_valid(const char *kw, size_t len)
{
	if (len == 0 || kw[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static bool store_keywords_contains(const struct buf *list, const char *kw,
				    size_t len)
{
	const char *p = buf_cstr(list);
	while (*p != '\0') {
		const char *end = strchr(p, ' ');
		size_t l = end == NULL ? strlen(p) : (size_t)(end - p);
		if (l == len && str_ascii_ncmp_ci(p, kw, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* Adds (add=true) or removes each keyword of src to/from list. Returns
 * false on an invalid keyword. */
static bool store_keywords_merge(struct buf *list, const char *src, bool add)
{
	const char *p = src;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		const char *end = strchr(p, ' ');
		size_t len = end == NULL ? strlen(p) : (size_t)(end - p);
		if (!store_keyword_valid(p, len))
			return false;
		if (add) {
			if (!store_keywords_contains(list, p, len)) {
				if (list->len > 0)
					buf_append_byte(list, ' ');
				buf_append(list, p, len);
			}
		} else {
			struct buf out = BUF_INIT;
			const char *q = buf_cstr(list);
			while (*q != '\0') {
				const char *qe = strchr(q, ' ');
				size_t ql =
				    qe == NULL ? strlen(q) : (size_t)(qe - q);
				if (!(ql == len &&
				      str_ascii_ncmp_ci(q, p, len) == 0)) {
					if (out.len > 0)
						buf_append_byte(&out, ' ');
					buf_append(&out, q, ql);
				}
				if (qe == NULL)
					break;
				q = qe + 1;
			}
			buf_reset(list);
			buf_append(list, out.data, out.len);
			buf_free(&out);
		}
		p += len;
	}
	return true;
}

const char *store_keywords_normalize(struct pool *pool, const char *keywords)
{
	return store_keywords_apply(pool, "", STORE_FLAGS_REPLACE, keywords);
}

const char *store_keywords_apply(struct pool *pool, const char *old,
				 enum store_flag_mode mode, const char *kw)
{
	struct buf list = BUF_INIT;
	bool ok = true;
	if (kw == NULL)
		kw = "";
	switch (mode) {
	case STORE_FLAGS_REPLACE:
		ok = store_keywords_merge(&list, kw, true);
		break;
	case STORE_FLAGS_ADD:
		buf_append_str(&list, old);
		ok = store_keywords_merge(&list, kw, true);
		break;
	case STORE_FLAGS_REMOVE:
		buf_append_str(&list, old);
		ok = store_keywords_merge(&list, kw, false);
		break;
	}
	const char *ret = NULL;
	if (ok && list.len <= STORE_KEYWORDS_MAX)
		ret = pool_strndup(pool, buf_cstr(&list), list.len);
	buf_free(&list);
	return ret;
}

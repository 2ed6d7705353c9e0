/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "spf-private.h"

#include <arpa/inet.h>
#include <ctype.h>

/* RFC 7208 section 12:
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *   macro-literal = %x21-24 / %x26-7E
 *   macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" /
 *                  "t" / "v"
 *   transformers = *DIGIT [ "r" ]
 *   delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
 * Returns the length of the macro-expand at s (s[0] == '%'), or 0. */
size_t spf_macro_expand_len(const char *s, const char *end, bool exp)
{
	if (s + 1 >= end)
		return 0;
	if (s[1] == '%' || s[1] == '_' || s[1] == '-')
		return 2;
	if (s[1] != '{' || s + 2 >= end)
		return 0;
	const char *p = s + 2;
	char l = (char)tolower((unsigned char)*p);
	if (strchr(exp ? "slodiphvcrt" : "slodiphv", l) == NULL || l == '\0')
		return 0;
	p++;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if (p < end && (*p == 'r' || *p == 'R'))
		p++;
	while (p < end && *p != '\0' && strchr(".-+,/_=", *p) != NULL)
		p++;
	if (p >= end || *p != '}')
		return 0;
	return (size_t)(p - s) + 1;
}

bool spf_macro_string_valid(const char *s, size_t len, bool exp)
{
	const char *end = s + len;
	while (s < end) {
		unsigned char c = (unsigned char)*s;
		if (c == '%') {
			size_t n = spf_macro_expand_len(s, end, exp);
			if (n == 0)
				return false;
			s += n;
		} else if (c >= 0x21 && c <= 0x7e) {
			s++;
		} else if (exp && c == ' ') {
			/* explain-string allows SP between macro-strings */
			s++;
		} else {
			return false;
		}
	}
	return true;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_valid(const char *s, size_t len)
{
	bool alpha = false, hyphen = false;
	if (len == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalpha(c))
			alpha = true;
		else if (c == '-')
			hyphen = true;
		else if (!isdigit(c))
			return false;
	}
	return alpha || hyphen;
}

/* domain-spec = macro-string domain-end
 * domain-end  = ( "." toplabel [ "." ] ) / macro-expand */
static bool domain_spec_valid(const char *s, size_t len)
{
	if (len == 0 || !spf_macro_string_valid(s, len, false))
		return false;
	/* Ends with a macro-expand? Walk the string to find where the last
	 * one ends. */
	const char *end = s + len, *p = s;
	while (p < end) {
		if (*p == '%') {
			size_t n = spf_macro_expand_len(p, end, false);
			if (p + n == end)
				return true;
			p += n;
		} else {
			p++;
		}
	}
	if (len > 0 && s[len - 1] == '.')
		len--;
	size_t dot = len;
	while (dot > 0 && s[dot - 1] != '.')
		dot--;
	if (dot == 0)
		return false;
	return toplabel_valid(s + dot, len - dot);
}

static int parse_cidr(const char **pp, const char *end, unsigned max,
		      int *len_r)
{
	const char *p = *pp;
	uint64_t v;
	size_t n = 0;
	while (p + n < end && isdigit((unsigned char)p[n]))
		n++;
	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return -1;
	if (str_to_uint64_n(p, n, max, &v) < 0)
		return -1;
	*len_r = (int)v;
	*pp = p + n;
	return 0;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
static int parse_dual_cidr(const char *p, const char *end,
			   struct spf_term *t)
{
	if (p < end && p[0] == '/' && (p + 1 >= end || p[1] != '/')) {
		p++;
		if (parse_cidr(&p, end, 32, &t->cidr4) < 0)
			return -1;
	}
	if (p + 1 < end && p[0] == '/' && p[1] == '/') {
		p += 2;
		if (parse_cidr(&p, end, 128, &t->cidr6) < 0)
			return -1;
	}
	return p == end ? 0 : -1;
}

static const char *digits_back(const char *start, const char *p)
{
	while (p > start && isdigit((unsigned char)p[-1]))
		p--;
	return p;
}

/* Where a trailing dual-cidr-length starts in [start, end) (end if none). */
static const char *dual_cidr_start(const char *start, const char *end)
{
	const char *p = end, *q = digits_back(start, end);
	if (q < end && q - start >= 2 && q[-1] == '/' && q[-2] == '/') {
		p = q - 2;
		q = digits_back(start, p);
	}
	if (q < p && q > start && q[-1] == '/' && (q - 1 == start || q[-2] != '/'))
		p = q - 1;
	return p;
}

static const struct {
	const char *name;
	enum spf_mech type;
} mech_names[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE },
	{ "a", SPF_MECH_A },	 { "mx", SPF_MECH_MX },
	{ "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
};

static int parse_mechanism(struct pool *pool, const char *s, const char *end,
			   struct spf_term *t, const char **error_r)
{
	const char *p = s;
	while (p < end && *p != ':' && *p != '/')
		p++;
	size_t nlen = (size_t)(p - s);
	bool found = false;
	for (size_t i = 0; i < N_ELEMENTS(mech_names); i++) {
		if (strlen(mech_names[i].name) == nlen &&
		    str_ascii_ncmp_ci(s, mech_names[i].name, nlen) == 0) {
			t->type = mech_names[i].type;
			found = true;
		}
	}
	if (!found) {
		*error_r = "unknown mechanism";
		return -1;
	}
	t->cidr4 = t->cidr6 = -1;
	switch (t->type) {
	case SPF_MECH_ALL:
		if (p != end) {
			*error_r = "all takes no argument";
			return -1;
		}
		return 0;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6: {
		if (p == end || *p != ':') {
			*error_r = "ip4/ip6 need an address";
			return -1;
		}
		p++;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *aend = slash != NULL ? slash : end;
		char addr[INET6_ADDRSTRLEN + 1];
		if ((size_t)(aend - p) >= sizeof(addr)) {
			*error_r = "bad IP address";
			return -1;
		}
		memcpy(addr, p, (size_t)(aend - p));
		addr[aend - p] = '\0';
		bool v4 = t->type == SPF_MECH_IP4;
		if (inet_pton(v4 ? AF_INET : AF_INET6, addr, t->ip) != 1) {
			*error_r = "bad IP address";
			return -1;
		}
		t->prefix = v4 ? 32 : 128;
		if (slash != NULL) {
			p = slash + 1;
			if (parse_cidr(&p, end, v4 ? 32 : 128, &t->prefix) < 0 ||
			    p != end) {
				*error_r = "bad CIDR length";
				return -1;
			}
		}
		return 0;
	}
	default:
		break;
	}
	if (p < end && *p == ':') {
		p++;
		/* A domain-spec may itself hold ':' and '/': the CIDR part is
		 * only a trailing "/N", "//N" or "/N//M". */
		const char *d = p, *dend = end;
		if (t->type == SPF_MECH_A || t->type == SPF_MECH_MX)
			dend = dual_cidr_start(d, end);
		p = dend;
		if (!domain_spec_valid(d, (size_t)(p - d))) {
			*error_r = "bad domain-spec";
			return -1;
		}
		t->domain_spec = pool_strndup(pool, d, (size_t)(p - d));
	} else if (t->type == SPF_MECH_INCLUDE || t->type == SPF_MECH_EXISTS) {
		*error_r = "include/exists need a domain";
		return -1;
	}
	if (t->type == SPF_MECH_A || t->type == SPF_MECH_MX) {
		if (parse_dual_cidr(p, end, t) < 0) {
			*error_r = "bad CIDR length";
			return -1;
		}
	} else if (p != end) {
		*error_r = "unexpected text after mechanism";
		return -1;
	}
	return 0;
}

int spf_record_parse(struct pool *pool, const char *rec, size_t len,
		     struct spf_record **rec_r, const char **error_r)
{
	if (len < 6 || str_ascii_ncmp_ci(rec, "v=spf1", 6) != 0 ||
	    (len > 6 && rec[6] != ' '))
		return 0;
	struct spf_record *r = p_new(pool, struct spf_record, 1);
	size_t cap = 8;
	r->terms = p_new(pool, struct spf_term, cap);
	const char *p = rec + 6, *end = rec + len;
	for (const char *q = rec; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20 || c > 0x7e) {
			*error_r = "non-ASCII or control character in record";
			return -1;
		}
	}
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		const char *t = p;
		while (p < end && *p != ' ')
			p++;
		const char *tend = p;
		/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) "=" */
		const char *n = t;
		if (isalpha((unsigned char)*n)) {
			while (n < tend && (isalnum((unsigned char)*n) ||
					    *n == '-' || *n == '_' || *n == '.'))
				n++;
		}
		if (n > t && n < tend && *n == '=') {
			size_t nlen = (size_t)(n - t);
			const char *v = n + 1;
			size_t vlen = (size_t)(tend - v);
			bool redirect = nlen == 8 && str_ascii_ncmp_ci(t, "redirect", 8) == 0;
			bool exp = nlen == 3 && str_ascii_ncmp_ci(t, "exp", 3) == 0;
			if (redirect || exp) {
				if (!domain_spec_valid(v, vlen)) {
					*error_r = "bad domain-spec in modifier";
					return -1;
				}
				char **slot = redirect ? &r->redirect : &r->exp;
				if (*slot != NULL) {
					*error_r = "duplicate modifier";
					return -1;
				}
				*slot = pool_strndup(pool, v, vlen);
			} else if (!spf_macro_string_valid(v, vlen, false)) {
				*error_r = "bad macro in modifier";
				return -1;
			}
			continue;
		}
		if (r->count == SPF_MAX_TERMS) {
			*error_r = "too many terms";
			return -1;
		}
		if (r->count == cap) {
			struct spf_term *nt = p_new(pool, struct spf_term, cap * 2);
			memcpy(nt, r->terms, cap * sizeof(*nt));
			r->terms = nt;
			cap *= 2;
		}
		struct spf_term *term = &r->terms[r->count];
		term->qualifier = '+';
		if (strchr("+-~?", *t) != NULL && t < tend) {
			term->qualifier = *t;
			t++;
		}
		if (parse_mechanism(pool, t, tend, term, error_r) < 0)
			return -1;
		r->count++;
	}
	*rec_r = r;
	return 1;
}

int spf_record_check(const char *record, size_t len, const char **error_r)
{
	struct pool *pool = pool_create("spf record", 1024);
	struct spf_record *rec;
	int ret = spf_record_parse(pool, record, len, &rec, error_r);
	pool_destroy(&pool);
	return ret;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "timeutil.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "spf-private.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <time.h>

/* check_host() (RFC 7208 section 4) as an explicit state machine: step()
 * walks the terms of the innermost record until one needs DNS, starts the
 * lookup and returns; the lookup's callback handles the answer and calls
 * step() again. include pushes a frame, redirect replaces one. */

#define SPF_MAX_DEPTH (SPF_MAX_DNS_MECHANISMS + 2)
#define SPF_MAX_EXPANSION 8192

enum spf_wait {
	SPF_WAIT_NONE,
	SPF_WAIT_RECORD,
	SPF_WAIT_A,
	SPF_WAIT_MX,
	SPF_WAIT_MX_ADDR,
	SPF_WAIT_PTR,
	SPF_WAIT_PTR_ADDR,
	SPF_WAIT_EXISTS,
	SPF_WAIT_EXP,
	SPF_WAIT_SKIP, /* result known; the answer only makes it "later" */
};

struct spf_frame {
	char *domain;
	struct spf_record *rec;
	size_t idx;
	bool include;  /* evaluated for an include: result maps to match */
	bool redirect; /* reached through redirect: "none" is permerror */
	bool counted;  /* the current term's DNS lookup is counted */
	/* mx: the hosts still to look up */
	char **names;
	size_t names_count, names_idx;
};

struct spf_check {
	struct pool *pool;
	const struct mailauth_dns *dns;
	spf_callback_t *callback;
	void *ctx;

	int family;
	uint8_t ip[16];
	char *sender, *local, *sender_domain, *helo, *receiver;
	const char *identity;
	long long now;

	struct spf_frame frames[SPF_MAX_DEPTH];
	unsigned depth;
	unsigned dns_terms, void_lookups;

	/* PTR validation (section 5.5), shared by ptr and %{p}. */
	bool ptr_done, ptr_started;
	char **ptr_names; /* PTR answers, at most 10 */
	size_t ptr_count, ptr_idx;
	char **valid_names;
	size_t valid_count;
	bool ptr_for_macro;
	/* explanation text waiting for %{p} */
	char *exp_text;

	enum spf_wait wait;
	void *request;
	int64_t (*clock_ms)(void);
	int64_t deadline_ms;

	bool done;
	enum spf_result result;
	char *explanation, *reason, *exp_domain;
};

static void step(struct spf_check *c);
static void exp_finish(struct spf_check *c);

const char *spf_result_name(enum spf_result result)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "temperror",
		"permerror",
	};
	return names[result];
}

static enum spf_result qualifier_result(char q)
{
	switch (q) {
	case '-': return SPF_RESULT_FAIL;
	case '~': return SPF_RESULT_SOFTFAIL;
	case '?': return SPF_RESULT_NEUTRAL;
	default: return SPF_RESULT_PASS;
	}
}

static char *strip_dot(struct pool *pool, const char *name)
{
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	char *s = pool_strndup(pool, name, len);
	str_ascii_lower(s);
	return s;
}

/* RFC 7208 section 4.3: a usable domain has at least two labels, none
 * empty or longer than 63 octets, and is no domain literal. */
static bool domain_usable(const char *d)
{
	size_t len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || d[0] == '[' || memchr(d, '.', len) == NULL)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > 63) {
			return false;
		}
	}
	return label > 0;
}

/* ---- finishing ---- */

static void finish(struct spf_check *c, enum spf_result result,
		   const char *reason)
{
	c->result = result;
	if (c->reason == NULL)
		c->reason = pool_strdup(c->pool, reason);
	c->done = true;
	c->wait = SPF_WAIT_NONE;
	/* The callback may destroy the check: nothing after it. */
	c->callback(c, c->ctx);
}

static void lookup(struct spf_check *c, const char *name, enum dns_type type,
		   enum spf_wait wait);

/* ---- macros (section 7) ---- */

static void ip_dotted(const struct spf_check *c, struct buf *out, bool human)
{
	if (c->family == AF_INET) {
		buf_printf(out, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
			   c->ip[3]);
	} else if (human) {
		char tmp[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, c->ip, tmp, sizeof(tmp));
		buf_append_str(out, tmp);
	} else {
		/* %{i} for IPv6 is dot-separated nibbles (section 7.3) */
		static const char hex[] = "0123456789abcdef";
		for (int i = 0; i < 16; i++) {
			if (i > 0)
				buf_append_byte(out, '.');
			buf_append_byte(out, (uint8_t)hex[c->ip[i] >> 4]);
			buf_append_byte(out, '.');
			buf_append_byte(out, (uint8_t)hex[c->ip[i] & 15]);
		}
	}
}

static bool name_in_domain(const char *name, const char *domain)
{
	size_t nl = strlen(name), dl = strlen(domain);
	if (nl == dl)
		return str_ascii_eq_ci(name, domain);
	return nl > dl && name[nl - dl - 1] == '.' &&
	       str_ascii_eq_ci(name + nl - dl, domain);
}

static const char *validated_name(const struct spf_check *c, const char *d)
{
	/* Prefer the domain itself, then a subdomain of it (section 7.3). */
	for (size_t i = 0; i < c->valid_count; i++) {
		if (str_ascii_eq_ci(c->valid_names[i], d))
			return c->valid_names[i];
	}
	for (size_t i = 0; i < c->valid_count; i++) {
		if (name_in_domain(c->valid_names[i], d))
			return c->valid_names[i];
	}
	return c->valid_count > 0 ? c->valid_names[0] : "unknown";
}

static void macro_value(struct spf_check *c, const char *d, char letter,
			struct buf *out)
{
	switch (letter) {
	case 's': buf_append_str(out, c->sender); break;
	case 'l': buf_append_str(out, c->local); break;
	case 'o': buf_append_str(out, c->sender_domain); break;
	case 'd': buf_append_str(out, d); break;
	case 'i': ip_dotted(c, out, false); break;
	case 'c': ip_dotted(c, out, true); break;
	case 'p': buf_append_str(out, validated_name(c, d)); break;
	case 'v':
		buf_append_str(out, c->family == AF_INET ? "in-addr" : "ip6");
		break;
	case 'h': buf_append_str(out, c->helo); break;
	case 'r': buf_append_str(out, c->receiver); break;
	case 't': buf_printf(out, "%lld", c->now); break;
	default: i_unreached();
	}
}

static bool macro_needs_ptr(const char *s)
{
	for (; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == '{' && (s[2] == 'p' || s[2] == 'P'))
			return true;
		if (s[0] == '%' && s[1] != '\0')
			s++;
	}
	return false;
}

/* Expands a macro-string already checked for syntax. Returns 0, or -1 on
 * a zero DIGIT transformer or an expansion past SPF_MAX_EXPANSION
 * (permerror; no explanation for exp). */
static int expand(struct spf_check *c, const char *d, const char *s, bool exp,
		  struct buf *out)
{
	const char *end = s + strlen(s);
	while (s < end) {
		/* a record of repeated %{s} must not grow without bound */
		if (out->len > SPF_MAX_EXPANSION)
			return -1;
		if (*s != '%') {
			buf_append_byte(out, (uint8_t)*s++);
			continue;
		}
		size_t n = spf_macro_expand_len(s, end, exp);
		if (n == 0)
			return -1;
		if (n == 2) {
			buf_append_str(out, s[1] == '%' ? "%" :
					    s[1] == '_' ? " " : "%20");
			s += 2;
			continue;
		}
		const char *p = s + 2;
		char letter = *p++;
		bool upper = isupper((unsigned char)letter);
		unsigned digits = 0;
		bool have_digits = false, reverse = false;
		while (isdigit((unsigned char)*p)) {
			have_digits = true;
			if (digits < 1000)
				digits = digits * 10 + (unsigned)(*p - '0');
			p++;
		}
		if (*p == 'r' || *p == 'R') {
			reverse = true;
			p++;
		}
		const char *delims = p;
		size_t ndelims = 0;
		while (*p != '}') {
			p++;
			ndelims++;
		}
		s = p + 1;
		if (have_digits && digits == 0)
			return -1;

		struct buf value = BUF_INIT;
		macro_value(c, d, (char)tolower((unsigned char)letter), &value);
		/* Split into parts on the delimiters, reverse, keep the
		 * rightmost N, join with "." (section 7.3). */
		const char *parts[256];
		size_t lens[256], count = 0;
		const char *v = buf_cstr(&value), *vend = v + value.len, *start = v;
		for (const char *q = v; q <= vend && count < N_ELEMENTS(parts); q++) {
			bool delim = q == vend ||
				     (ndelims == 0 ? *q == '.' :
				      memchr(delims, *q, ndelims) != NULL);
			if (delim) {
				parts[count] = start;
				lens[count++] = (size_t)(q - start);
				start = q + 1;
			}
		}
		if (reverse) {
			for (size_t i = 0; i < count / 2; i++) {
				const char *tp = parts[i];
				size_t tl = lens[i];
				parts[i] = parts[count - 1 - i];
				lens[i] = lens[count - 1 - i];
				parts[count - 1 - i] = tp;
				lens[count - 1 - i] = tl;
			}
		}
		size_t first = have_digits && digits < count ? count - digits : 0;
		struct buf joined = BUF_INIT;
		for (size_t i = first; i < count; i++) {
			if (i > first)
				buf_append_byte(&joined, '.');
			buf_append(&joined, parts[i], lens[i]);
		}
		if (upper) {
			for (size_t i = 0; i < joined.len; i++) {
				uint8_t ch = joined.data[i];
				if (isalnum(ch) || ch == '-' || ch == '.' ||
				    ch == '_' || ch == '~')
					buf_append_byte(out, ch);
				else
					buf_printf(out, "%%%02X", ch);
			}
		} else {
			buf_append(out, joined.data, joined.len);
		}
		buf_free(&joined);
		buf_free(&value);
	}
	return 0;
}

/* Expands a domain-spec into a query name (section 7.3: cut leading labels
 * past 253 octets). NULL on a macro error. */
static char *expand_domain(struct spf_check *c, const char *d, const char *spec)
{
	struct buf out = BUF_INIT;
	if (spec == NULL) {
		buf_append_str(&out, d);
	} else if (expand(c, d, spec, false, &out) < 0) {
		buf_free(&out);
		return NULL;
	}
	const char *s = buf_cstr(&out);
	size_t len = out.len;
	if (len > 0 && s[len - 1] == '.')
		len--;
	while (len > 253) {
		const char *dot = memchr(s, '.', len);
		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - s);
		s = dot + 1;
	}
	char *ret = pool_strndup(c->pool, s, len);
	buf_free(&out);
	return ret;
}

/* ---- address matching ---- */

static bool prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

static bool answer_matches(const struct spf_check *c,
			   const struct dns_answer *answer, int cidr4,
			   int cidr6)
{
	for (size_t i = 0; i < answer->count; i++) {
		const struct dns_rr *rr = &answer->rrs[i];
		if (c->family == AF_INET && rr->type == DNS_TYPE_A &&
		    prefix_match(rr->u.a, c->ip, cidr4 < 0 ? 32 : cidr4))
			return true;
		if (c->family == AF_INET6 && rr->type == DNS_TYPE_AAAA &&
		    prefix_match(rr->u.aaaa, c->ip, cidr6 < 0 ? 128 : cidr6))
			return true;
	}
	return false;
}

static enum dns_type addr_type(const struct spf_check *c)
{
	return c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

/* ---- frames ---- */

static struct spf_frame *top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

static void frame_start(struct spf_check *c, const char *domain)
{
	struct spf_frame *f = top(c);
	f->domain = pool_strdup(c->pool, domain);
	f->rec = NULL;
	f->idx = 0;
	f->counted = false;
	lookup(c, domain, DNS_TYPE_TXT, SPF_WAIT_RECORD);
}

/* The innermost frame ended with result. Pops includes until a frame goes
 * on, or finishes the check. */
static void frame_result(struct spf_check *c, enum spf_result result,
			 const char *reason)
{
	for (;;) {
		struct spf_frame *f = top(c);
		if (result == SPF_RESULT_NONE && (f->include || f->redirect)) {
			result = SPF_RESULT_PERMERROR;
			reason = pool_printf(c->pool, "no SPF record at %s",
					     f->domain);
		}
		if (!f->include) {
			if (result == SPF_RESULT_FAIL && f->rec != NULL &&
			    f->rec->exp != NULL) {
				char *target = expand_domain(c, f->domain,
							     f->rec->exp);
				c->result = result;
				c->reason = pool_strdup(c->pool, reason);
				c->exp_domain = f->domain;
				if (target != NULL && domain_usable(target)) {
					lookup(c, target, DNS_TYPE_TXT,
					       SPF_WAIT_EXP);
					return;
				}
			}
			finish(c, result, reason);
			return;
		}
		/* section 5.2: include's result table */
		c->depth--;
		struct spf_frame *parent = top(c);
		struct spf_term *t = &parent->rec->terms[parent->idx];
		switch (result) {
		case SPF_RESULT_PASS:
			result = qualifier_result(t->qualifier);
			reason = pool_printf(c->pool, "include:%s matched",
					     f->domain);
			continue;
		case SPF_RESULT_TEMPERROR:
		case SPF_RESULT_PERMERROR:
			continue;
		default:
			parent->idx++;
			parent->counted = false;
			step(c);
			return;
		}
	}
}

/* The current term matched. */
static void term_matched(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	struct spf_term *t = &f->rec->terms[f->idx];
	static const char *const mech[] = {
		"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists",
	};
	frame_result(c, qualifier_result(t->qualifier),
		     pool_printf(c->pool, "mechanism %s matched in %s",
				 mech[t->type], f->domain));
}

static void term_next(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	f->idx++;
	f->counted = false;
	step(c);
}

/* Counts a DNS-querying term once (section 4.6.4). false = limit passed
 * (the check has finished). */
static bool count_term(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	if (f->counted)
		return true;
	f->counted = true;
	if (++c->dns_terms > SPF_MAX_DNS_MECHANISMS) {
		frame_result(c, SPF_RESULT_PERMERROR, "too many DNS lookups");
		return false;
	}
	return true;
}

/* A void lookup (section 4.6.4); false = limit passed (finished). */
static bool count_void(struct spf_check *c, const struct dns_answer *a)
{
	if (a->rcode == 3 || a->count == 0) {
		if (++c->void_lookups > SPF_MAX_VOID_LOOKUPS) {
			frame_result(c, SPF_RESULT_PERMERROR,
				     "too many void DNS lookups");
			return false;
		}
	}
	return true;
}

static void ptr_start(struct spf_check *c)
{
	struct buf name = BUF_INIT;
	if (c->family == AF_INET) {
		buf_printf(&name, "%u.%u.%u.%u.in-addr.arpa", c->ip[3],
			   c->ip[2], c->ip[1], c->ip[0]);
	} else {
		static const char hex[] = "0123456789abcdef";
		for (int i = 15; i >= 0; i--)
			buf_printf(&name, "%c.%c.", hex[c->ip[i] & 15],
				   hex[c->ip[i] >> 4]);
		buf_append_str(&name, "ip6.arpa");
	}
	c->ptr_started = true;
	lookup(c, buf_cstr(&name), DNS_TYPE_PTR, SPF_WAIT_PTR);
	buf_free(&name);
}

static void ptr_next(struct spf_check *c)
{
	if (c->ptr_idx < c->ptr_count) {
		lookup(c, c->ptr_names[c->ptr_idx++], addr_type(c),
		       SPF_WAIT_PTR_ADDR);
		return;
	}
	c->ptr_done = true;
	if (c->exp_text != NULL)
		exp_finish(c);
	else
		step(c);
}

/* Evaluates the current term; false when it waits for DNS or finished. */
static bool eval_term(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	struct spf_term *t = &f->rec->terms[f->idx];

	if (t->domain_spec != NULL && macro_needs_ptr(t->domain_spec) &&
	    !c->ptr_done) {
		if (!c->ptr_started) {
			c->ptr_for_macro = true;
			ptr_start(c);
		}
		return false;
	}
	switch (t->type) {
	case SPF_MECH_ALL:
		term_matched(c);
		return false;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if ((t->type == SPF_MECH_IP4) == (c->family == AF_INET) &&
		    prefix_match(t->ip, c->ip, t->prefix)) {
			term_matched(c);
			return false;
		}
		return true;
	default:
		break;
	}
	if (!count_term(c))
		return false;
	char *target = expand_domain(c, f->domain, t->domain_spec);
	if (target == NULL) {
		frame_result(c, SPF_RESULT_PERMERROR, "bad macro");
		return false;
	}
	switch (t->type) {
	case SPF_MECH_INCLUDE:
		if (!domain_usable(target)) {
			frame_result(c, SPF_RESULT_PERMERROR,
				     "include of an invalid domain");
			return false;
		}
		if (c->depth == SPF_MAX_DEPTH) {
			frame_result(c, SPF_RESULT_PERMERROR, "includes too deep");
			return false;
		}
		c->depth++;
		memset(top(c), 0, sizeof(struct spf_frame));
		top(c)->include = true;
		frame_start(c, target);
		return false;
	case SPF_MECH_A:
	case SPF_MECH_MX:
	case SPF_MECH_EXISTS:
		/* An unusable name is a no-match (RFC 7208 leaves it open;
		 * the test suite accepts this). */
		if (!domain_usable(target))
			return true;
		lookup(c, target,
		       t->type == SPF_MECH_MX ? DNS_TYPE_MX :
		       t->type == SPF_MECH_EXISTS ? DNS_TYPE_A : addr_type(c),
		       t->type == SPF_MECH_MX ? SPF_WAIT_MX :
		       t->type == SPF_MECH_EXISTS ? SPF_WAIT_EXISTS : SPF_WAIT_A);
		return false;
	case SPF_MECH_PTR:
		if (!c->ptr_done) {
			if (!c->ptr_started)
				ptr_start(c);
			return false;
		}
		for (size_t i = 0; i < c->valid_count; i++) {
			if (name_in_domain(c->valid_names[i], target)) {
				term_matched(c);
				return false;
			}
		}
		return true;
	default:
		i_unreached();
	}
}

static void step(struct spf_check *c)
{
	for (;;) {
		struct spf_frame *f = top(c);
		if (f->idx < f->rec->count) {
			if (!eval_term(c))
				return;
			f->idx++;
			f->counted = false;
			continue;
		}
		if (f->rec->redirect == NULL) {
			frame_result(c, SPF_RESULT_NEUTRAL, "no mechanism matched");
			return;
		}
		/* section 6.1: redirect replaces this record's result */
		if (macro_needs_ptr(f->rec->redirect) && !c->ptr_done) {
			if (!c->ptr_started) {
				c->ptr_for_macro = true;
				ptr_start(c);
			}
			return;
		}
		if (!count_term(c))
			return;
		char *target = expand_domain(c, f->domain, f->rec->redirect);
		if (target == NULL || !domain_usable(target)) {
			frame_result(c, SPF_RESULT_PERMERROR,
				     "redirect to an invalid domain");
			return;
		}
		f->redirect = true;
		frame_start(c, target);
		return;
	}
}

/* ---- DNS answers ---- */

static void on_record(struct spf_check *c, const struct dns_answer *a)
{
	struct spf_frame *f = top(c);
	const struct dns_rr *found = NULL;
	for (size_t i = 0; a->rcode == 0 && i < a->count; i++) {
		const struct dns_rr *rr = &a->rrs[i];
		if (rr->type != DNS_TYPE_TXT || rr->txt_len < 6 ||
		    str_ascii_ncmp_ci((const char *)rr->txt_or_data, "v=spf1", 6) != 0 ||
		    (rr->txt_len > 6 && rr->txt_or_data[6] != ' '))
			continue;
		if (found != NULL) {
			frame_result(c, SPF_RESULT_PERMERROR,
				     pool_printf(c->pool, "more than one SPF record at %s",
						 f->domain));
			return;
		}
		found = rr;
	}
	if (found == NULL) {
		frame_result(c, SPF_RESULT_NONE,
			     pool_printf(c->pool, "no SPF record at %s", f->domain));
		return;
	}
	const char *error;
	if (memchr(found->txt_or_data, '\0', found->txt_len) != NULL ||
	    spf_record_parse(c->pool, (const char *)found->txt_or_data,
			     found->txt_len, &f->rec, &error) <= 0) {
		frame_result(c, SPF_RESULT_PERMERROR,
			     pool_printf(c->pool, "SPF record of %s: %s",
					 f->domain, "syntax error"));
		return;
	}
	f->idx = 0;
	f->counted = false;
	step(c);
}

static void on_mx(struct spf_check *c, const struct dns_answer *a)
{
	struct spf_frame *f = top(c);
	if (!count_void(c, a))
		return;
	if (a->rcode != 0) {
		term_next(c);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < a->count; i++)
		n += a->rrs[i].type == DNS_TYPE_MX;
	if (n > SPF_MAX_NAMES_PER_LOOKUP) {
		frame_result(c, SPF_RESULT_PERMERROR, "more than 10 MX records");
		return;
	}
	f->names = p_new(c->pool, char *, n + 1);
	f->names_count = 0;
	f->names_idx = 0;
	for (size_t i = 0; i < a->count; i++) {
		const struct dns_rr *rr = &a->rrs[i];
		if (rr->type != DNS_TYPE_MX || strcmp(rr->u.mx.host, ".") == 0 ||
		    rr->u.mx.host[0] == '\0')
			continue;
		f->names[f->names_count++] = strip_dot(c->pool, rr->u.mx.host);
	}
	c->wait = SPF_WAIT_NONE;
	if (f->names_count == 0) {
		term_next(c);
		return;
	}
	f->names_idx = 1;
	lookup(c, f->names[0], addr_type(c), SPF_WAIT_MX_ADDR);
}

static void on_mx_addr(struct spf_check *c, const struct dns_answer *a)
{
	struct spf_frame *f = top(c);
	struct spf_term *t = &f->rec->terms[f->idx];
	if (answer_matches(c, a, t->cidr4, t->cidr6)) {
		term_matched(c);
		return;
	}
	if (f->names_idx < f->names_count) {
		lookup(c, f->names[f->names_idx++], addr_type(c),
		       SPF_WAIT_MX_ADDR);
		return;
	}
	term_next(c);
}

static void on_ptr(struct spf_check *c, const struct dns_answer *a)
{
	if (a != NULL && !c->ptr_for_macro && !count_void(c, a))
		return;
	c->ptr_names = p_new(c->pool, char *, SPF_MAX_NAMES_PER_LOOKUP);
	c->valid_names = p_new(c->pool, char *, SPF_MAX_NAMES_PER_LOOKUP);
	/* section 4.6.4: only the first 10 PTR names are looked at */
	for (size_t i = 0; a != NULL && a->rcode == 0 && i < a->count &&
			   c->ptr_count < SPF_MAX_NAMES_PER_LOOKUP; i++) {
		if (a->rrs[i].type == DNS_TYPE_PTR)
			c->ptr_names[c->ptr_count++] =
				strip_dot(c->pool, a->rrs[i].u.name);
	}
	ptr_next(c);
}

static void on_ptr_addr(struct spf_check *c, const struct dns_answer *a)
{
	if (a != NULL && answer_matches(c, a, -1, -1))
		c->valid_names[c->valid_count++] = c->ptr_names[c->ptr_idx - 1];
	ptr_next(c);
}

static void exp_finish(struct spf_check *c)
{
	struct buf out = BUF_INIT;
	if (expand(c, c->exp_domain, c->exp_text, true, &out) == 0) {
		bool ascii = true;
		for (size_t i = 0; i < out.len; i++)
			ascii = ascii && out.data[i] >= 0x20 && out.data[i] < 0x7f;
		if (ascii)
			c->explanation = pool_strdup(c->pool, buf_cstr(&out));
	}
	buf_free(&out);
	finish(c, c->result, c->reason);
}

static void on_exp(struct spf_check *c, const struct dns_answer *a)
{
	/* section 6.2: any problem means no explanation, never an error */
	if (a != NULL && a->rcode == 0 && a->count == 1 &&
	    a->rrs[0].type == DNS_TYPE_TXT &&
	    memchr(a->rrs[0].txt_or_data, '\0', a->rrs[0].txt_len) == NULL &&
	    spf_macro_string_valid((const char *)a->rrs[0].txt_or_data,
				   a->rrs[0].txt_len, true)) {
		c->exp_text = pool_strndup(c->pool,
					   (const char *)a->rrs[0].txt_or_data,
					   a->rrs[0].txt_len);
		if (macro_needs_ptr(c->exp_text) && !c->ptr_done) {
			c->ptr_for_macro = true;
			ptr_start(c);
			return;
		}
		exp_finish(c);
		return;
	}
	finish(c, c->result, c->reason);
}

static void on_dns(const struct dns_answer *a, const char *error, void *ctx)
{
	struct spf_check *c = ctx;
	enum spf_wait wait = c->wait;
	c->request = NULL;
	c->wait = SPF_WAIT_NONE;

	if (wait == SPF_WAIT_SKIP) {
		finish(c, c->result, c->reason);
		return;
	}
	if (c->clock_ms() > c->deadline_ms) {
		c->reason = NULL;
		finish(c, SPF_RESULT_TEMPERROR, "time limit exceeded");
		return;
	}
	if (error != NULL && wait != SPF_WAIT_PTR && wait != SPF_WAIT_PTR_ADDR &&
	    wait != SPF_WAIT_EXP) {
		frame_result(c, SPF_RESULT_TEMPERROR,
			     pool_printf(c->pool, "DNS error: %s", error));
		return;
	}
	if (error != NULL)
		a = NULL;
	switch (wait) {
	case SPF_WAIT_RECORD:
		if (a->rcode != 0 && a->rcode != 3) {
			frame_result(c, SPF_RESULT_TEMPERROR, "DNS error");
			return;
		}
		on_record(c, a);
		return;
	case SPF_WAIT_A:
	case SPF_WAIT_EXISTS: {
		struct spf_frame *f = top(c);
		struct spf_term *t = &f->rec->terms[f->idx];
		if (!count_void(c, a))
			return;
		bool match = wait == SPF_WAIT_A ?
			answer_matches(c, a, t->cidr4, t->cidr6) :
			a->rcode == 0 && a->count > 0;
		if (match)
			term_matched(c);
		else
			term_next(c);
		return;
	}
	case SPF_WAIT_MX:
		on_mx(c, a);
		return;
	case SPF_WAIT_MX_ADDR:
		on_mx_addr(c, a);
		return;
	case SPF_WAIT_PTR:
		on_ptr(c, a);
		return;
	case SPF_WAIT_PTR_ADDR:
		on_ptr_addr(c, a);
		return;
	case SPF_WAIT_EXP:
		on_exp(c, a);
		return;
	case SPF_WAIT_NONE:
	case SPF_WAIT_SKIP:
		break;
	}
	i_unreached();
}

static void lookup(struct spf_check *c, const char *name, enum dns_type type,
		   enum spf_wait wait)
{
	i_assert(c->request == NULL);
	c->wait = wait;
	c->request = c->dns->lookup(c->dns->dns_ctx, name, type, on_dns, c);
}

/* ---- public ---- */

struct spf_check *spf_check_start(const struct mailauth_dns *dns,
				  const struct spf_request *req,
				  spf_callback_t *callback, void *ctx)
{
	struct pool *pool = pool_create("spf check", 4096);
	struct spf_check *c = p_new(pool, struct spf_check, 1);
	c->pool = pool;
	c->dns = dns;
	c->callback = callback;
	c->ctx = ctx;
	c->now = req->now != 0 ? req->now : (long long)time(NULL);
	c->clock_ms = req->clock_ms != NULL ? req->clock_ms : time_mono_ms;
	c->deadline_ms = c->clock_ms() + (req->time_limit_ms != 0 ?
					  req->time_limit_ms :
					  SPF_DEFAULT_TIME_LIMIT_MS);

	if (req->client_ip.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&req->client_ip;
		c->family = AF_INET;
		memcpy(c->ip, &sin->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&req->client_ip;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			c->family = AF_INET;
			memcpy(c->ip, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			c->family = AF_INET6;
			memcpy(c->ip, sin6->sin6_addr.s6_addr, 16);
		}
	}
	c->helo = pool_strdup(pool, req->helo != NULL && req->helo[0] != '\0' ?
				    req->helo : "unknown");
	c->receiver = pool_strdup(pool, req->receiver != NULL ? req->receiver :
					"unknown");
	/* section 4.3/2.4: the sender, or postmaster@helo for <> */
	const char *sender = req->sender != NULL ? req->sender : "";
	c->identity = sender[0] == '\0' ? "helo" : "mailfrom";
	if (sender[0] == '\0')
		sender = pool_printf(pool, "postmaster@%s", c->helo);
	const char *at = strrchr(sender, '@');
	if (at == NULL) {
		c->local = pool_strdup(pool, "postmaster");
		c->sender_domain = pool_strdup(pool, sender);
	} else {
		c->local = at == sender ? pool_strdup(pool, "postmaster") :
			pool_strndup(pool, sender, (size_t)(at - sender));
		c->sender_domain = pool_strdup(pool, at + 1);
	}
	c->sender = pool_printf(pool, "%s@%s", c->local, c->sender_domain);
	size_t dl = strlen(c->sender_domain);
	if (dl > 0 && c->sender_domain[dl - 1] == '.')
		c->sender_domain[dl - 1] = '\0';

	c->depth = 1;
	c->frames[0].domain = c->sender_domain;
	if (!domain_usable(c->sender_domain)) {
		/* section 4.3: a malformed domain is "none"; still later. */
		c->reason = pool_printf(pool, "%s is no usable domain name",
					c->sender_domain);
		c->result = SPF_RESULT_NONE;
		/* The callback must run later, never inside this call: a
		 * lookup of the reserved name "invalid" (RFC 6761) whose
		 * answer is ignored provides that turn of the loop. */
		lookup(c, "invalid", DNS_TYPE_TXT, SPF_WAIT_SKIP);
		return c;
	}
	frame_start(c, c->sender_domain);
	return c;
}

void spf_check_destroy(struct spf_check **_c)
{
	struct spf_check *c = *_c;
	if (c == NULL)
		return;
	*_c = NULL;
	if (c->request != NULL)
		c->dns->cancel(c->dns->dns_ctx, c->request);
	pool_destroy(&c->pool);
}

bool spf_check_done(const struct spf_check *c) { return c->done; }
enum spf_result spf_check_result(const struct spf_check *c) { return c->result; }
const char *spf_check_explanation(const struct spf_check *c) { return c->explanation; }
const char *spf_check_reason(const struct spf_check *c)
{
	return c->reason != NULL ? c->reason : "";
}
const char *spf_check_identity(const struct spf_check *c) { return c->identity; }
const char *spf_check_domain(const struct spf_check *c) { return c->sender_domain; }

static void header_value(struct buf *out, const char *key, const char *value)
{
	/* section 9.1: key-value-pair = key [CFWS] "=" ( dot-atom / quoted-string ) */
	bool atom = value[0] != '\0';
	for (const char *p = value; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-/=?^_`{|}~.", *p) == NULL)
			atom = false;
	}
	buf_printf(out, "\r\n\t%s=", key);
	if (atom) {
		buf_append_str(out, value);
	} else {
		buf_append_byte(out, '"');
		for (const char *p = value; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_append_byte(out, '\\');
			if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
				buf_append_byte(out, (uint8_t)*p);
		}
		buf_append_byte(out, '"');
	}
	buf_append_byte(out, ';');
}

char *spf_received_header(const struct spf_check *c)
{
	struct buf out = BUF_INIT;
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->ip, ip, sizeof(ip));
	const char *verb;
	switch (c->result) {
	case SPF_RESULT_PASS: verb = "designates"; break;
	case SPF_RESULT_FAIL: verb = "does not designate"; break;
	case SPF_RESULT_SOFTFAIL: verb = "does not designate (softfail)"; break;
	default: verb = NULL; break;
	}
	buf_printf(&out, "Received-SPF: %s (%s: ", spf_result_name(c->result),
		   c->receiver);
	struct buf comment = BUF_INIT;
	if (verb != NULL)
		buf_printf(&comment, "domain of %s %s %s as permitted sender",
			   c->sender, verb, ip);
	else
		buf_printf(&comment, "%s", spf_check_reason(c));
	for (size_t i = 0; i < comment.len; i++) {
		uint8_t ch = comment.data[i];
		if (ch == '(' || ch == ')' || ch == '\\')
			buf_append_byte(&out, '\\');
		if (ch >= 0x20 && ch < 0x7f)
			buf_append_byte(&out, ch);
	}
	buf_free(&comment);
	buf_append_byte(&out, ')');
	header_value(&out, "client-ip", ip);
	header_value(&out, "envelope-from", c->sender);
	header_value(&out, "helo", c->helo);
	header_value(&out, "identity", c->identity);
	header_value(&out, "receiver", c->receiver);
	size_t len;
	return (char *)buf_steal(&out, &len);
}

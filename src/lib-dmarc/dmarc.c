/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "dmarc.h"

#include <ctype.h>
#include <pthread.h>
#ifdef HAVE_PSL
#include <libpsl.h>
#endif

/* ---- record (RFC 7489 section 6.3) ---- */

static char *trim_dup(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return i_strndup(s, len);
}

static int parse_policy(const char *v, enum dmarc_policy *p_r)
{
	if (str_ascii_eq_ci(v, "none"))
		*p_r = DMARC_POLICY_NONE;
	else if (str_ascii_eq_ci(v, "quarantine"))
		*p_r = DMARC_POLICY_QUARANTINE;
	else if (str_ascii_eq_ci(v, "reject"))
		*p_r = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

static int parse_align(const char *v, bool *strict_r)
{
	if (str_ascii_eq_ci(v, "s"))
		*strict_r = true;
	else if (str_ascii_eq_ci(v, "r"))
		*strict_r = false;
	else
		return -1;
	return 0;
}

int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec,
		       const char **error_r)
{
	memset(rec, 0, sizeof(*rec));
	rec->pct = 100;
	rec->ri = 86400;
	bool first = true, have_p = false, bad_p = false;
	const char *p = txt, *end = txt + len;
	int ret = 1;

	if (memchr(txt, '\0', len) != NULL)
		return 0;
	while (p < end && ret > 0) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *tend = semi != NULL ? semi : end;
		const char *eq = memchr(p, '=', (size_t)(tend - p));
		char *name = eq != NULL ? trim_dup(p, (size_t)(eq - p)) :
			trim_dup(p, (size_t)(tend - p));
		char *value = eq != NULL ? trim_dup(eq + 1, (size_t)(tend - eq - 1)) :
			NULL;
		p = semi != NULL ? semi + 1 : end;
		if (name[0] == '\0' && value == NULL) {
			/* empty term, e.g. after a trailing ';' */
			free(name);
			if (first) {
				ret = 0;
			}
			continue;
		}
		if (first) {
			/* section 6.4: v=DMARC1 must come first */
			if (value == NULL || strcmp(name, "v") != 0 ||
			    strcmp(value, "DMARC1") != 0)
				ret = 0;
			first = false;
		} else if (value == NULL) {
			*error_r = "tag without '='";
			ret = -1;
		} else if (strcmp(name, "p") == 0) {
			have_p = true;
			bad_p = parse_policy(value, &rec->p) < 0;
		} else if (strcmp(name, "sp") == 0) {
			if (parse_policy(value, &rec->sp) < 0) {
				*error_r = "bad sp=";
				ret = -1;
			}
		} else if (strcmp(name, "adkim") == 0 || strcmp(name, "aspf") == 0) {
			if (parse_align(value, name[1] == 'd' ? &rec->adkim_strict :
					&rec->aspf_strict) < 0) {
				*error_r = "bad adkim= or aspf=";
				ret = -1;
			}
		} else if (strcmp(name, "pct") == 0) {
			uint64_t n;
			if (str_to_uint64(value, 100, &n) < 0) {
				*error_r = "bad pct=";
				ret = -1;
			} else {
				rec->pct = (unsigned)n;
			}
		} else if (strcmp(name, "ri") == 0) {
			uint64_t n;
			if (str_to_uint64(value, UINT32_MAX, &n) < 0) {
				*error_r = "bad ri=";
				ret = -1;
			} else {
				rec->ri = (unsigned)n;
			}
		} else if (strcmp(name, "rua") == 0 && rec->rua == NULL) {
			rec->rua = i_strdup(value);
		} else if (strcmp(name, "ruf") == 0 && rec->ruf == NULL) {
			rec->ruf = i_strdup(value);
		} else if (strcmp(name, "fo") == 0 && rec->fo == NULL) {
			rec->fo = i_strdup(value);
		}
		/* rf= and unknown tags are ignored (section 6.3) */
		free(name);
		free(value);
	}
	if (first)
		ret = 0;
	if (ret > 0 && (!have_p || bad_p)) {
		/* section 6.6.3: without a usable p=, a record with a rua=
		 * is taken as p=none; otherwise it is no record */
		if (rec->rua != NULL && str_ascii_has_prefix_ci(rec->rua, "mailto:")) {
			rec->p = DMARC_POLICY_NONE;
		} else {
			*error_r = "missing or bad p=";
			ret = -1;
		}
	}
	if (ret > 0 && rec->fo == NULL)
		rec->fo = i_strdup("0");
	if (ret <= 0)
		dmarc_record_free(rec);
	return ret;
}

void dmarc_record_free(struct dmarc_record *rec)
{
	i_free(rec->rua);
	i_free(rec->ruf);
	i_free(rec->fo);
}

/* ---- organisational domain (section 3.2) ---- */

#ifdef HAVE_PSL
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl;

static void psl_init(void)
{
	/* the newer of the built-in list and Debian's publicsuffix file */
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}
#endif

char *dmarc_org_domain(const char *domain)
{
	char *d = i_strdup(domain);
	size_t len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = '\0';
	str_ascii_lower(d);
#ifdef HAVE_PSL
	pthread_once(&psl_once, psl_init);
	if (psl != NULL) {
		const char *reg = psl_registrable_domain(psl, d);
		if (reg != NULL) {
			char *r = i_strdup(reg);
			free(d);
			return r;
		}
		return d;
	}
#endif
	/* without a list: the last two labels */
	char *last = strrchr(d, '.');
	if (last != NULL) {
		char *p = last;
		while (p > d && p[-1] != '.')
			p--;
		if (p > d) {
			char *r = i_strdup(p);
			free(d);
			return r;
		}
	}
	return d;
}

bool dmarc_aligned(const char *a, const char *b, bool strict)
{
	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return false;
	if (str_ascii_eq_ci(a, b))
		return true;
	if (strict)
		return false;
	char *oa = dmarc_org_domain(a), *ob = dmarc_org_domain(b);
	bool ret = strcmp(oa, ob) == 0;
	free(oa);
	free(ob);
	return ret;
}

/* ---- the check (section 6.6) ---- */

struct dmarc_check {
	const struct mailauth_dns *dns;
	dmarc_callback_t *callback;
	void *ctx;
	char *from_domain, *org_domain, *spf_domain;
	bool spf_pass;
	char **dkim_pass_domains;
	size_t dkim_count;
	unsigned pct_roll;

	void *request;
	bool at_org, skip;
	char *policy_domain;
	struct dmarc_record rec;
	bool have_rec;
	enum dmarc_result result;
	enum dmarc_policy disposition;
	bool spf_aligned, dkim_aligned;
};

const char *dmarc_result_name(enum dmarc_result result)
{
	static const char *const names[] = {
		"none", "pass", "fail", "temperror", "permerror",
	};
	return names[result];
}

const char *dmarc_policy_name(enum dmarc_policy policy)
{
	static const char *const names[] = {
		"unspecified", "none", "quarantine", "reject",
	};
	return names[policy];
}

static void lookup_policy(struct dmarc_check *c, const char *domain);

static void evaluate(struct dmarc_check *c)
{
	c->spf_aligned = c->spf_pass &&
		dmarc_aligned(c->spf_domain, c->from_domain, c->rec.aspf_strict);
	for (size_t i = 0; i < c->dkim_count && !c->dkim_aligned; i++)
		c->dkim_aligned = dmarc_aligned(c->dkim_pass_domains[i],
						c->from_domain, c->rec.adkim_strict);
	if (c->spf_aligned || c->dkim_aligned) {
		c->result = DMARC_RESULT_PASS;
		c->disposition = DMARC_POLICY_NONE;
		return;
	}
	c->result = DMARC_RESULT_FAIL;
	enum dmarc_policy p = c->rec.p;
	if (c->at_org && c->rec.sp != DMARC_POLICY_UNSPECIFIED)
		p = c->rec.sp;
	/* section 6.6.4: a message not sampled by pct gets the next
	 * policy down */
	if (c->pct_roll >= c->rec.pct) {
		if (p == DMARC_POLICY_REJECT)
			p = DMARC_POLICY_QUARANTINE;
		else if (p == DMARC_POLICY_QUARANTINE)
			p = DMARC_POLICY_NONE;
	}
	c->disposition = p;
}

static void finish(struct dmarc_check *c)
{
	c->callback(c, c->ctx);
}

static void on_policy(const struct dns_answer *a, const char *error, void *ctx)
{
	struct dmarc_check *c = ctx;
	c->request = NULL;
	if (c->skip) {
		finish(c);
		return;
	}
	if (error != NULL || (a->rcode != 0 && a->rcode != 3)) {
		c->result = DMARC_RESULT_TEMPERROR;
		finish(c);
		return;
	}
	size_t found = 0;
	for (size_t i = 0; a->rcode == 0 && i < a->count; i++) {
		if (a->rrs[i].type != DNS_TYPE_TXT)
			continue;
		struct dmarc_record rec;
		const char *err;
		int ret = dmarc_record_parse((const char *)a->rrs[i].txt_or_data,
					     a->rrs[i].txt_len, &rec, &err);
		if (ret > 0) {
			if (found++ == 0)
				c->rec = rec;
			else
				dmarc_record_free(&rec);
		}
	}
	if (found > 1) {
		/* section 6.6.3: more than one record means none */
		dmarc_record_free(&c->rec);
		memset(&c->rec, 0, sizeof(c->rec));
		found = 0;
		c->result = DMARC_RESULT_NONE;
		finish(c);
		return;
	}
	if (found == 0) {
		if (!c->at_org && strcmp(c->org_domain, c->from_domain) != 0) {
			c->at_org = true;
			lookup_policy(c, c->org_domain);
			return;
		}
		c->result = DMARC_RESULT_NONE;
		finish(c);
		return;
	}
	c->have_rec = true;
	c->policy_domain = i_strdup(c->at_org ? c->org_domain : c->from_domain);
	evaluate(c);
	finish(c);
}

static void lookup_policy(struct dmarc_check *c, const char *domain)
{
	char *name = i_strdup_printf("_dmarc.%s", domain);
	c->request = c->dns->lookup(c->dns->dns_ctx, name, DNS_TYPE_TXT,
				    on_policy, c);
	free(name);
}

struct dmarc_check *dmarc_check_start(const struct mailauth_dns *dns,
				      const struct dmarc_input *in,
				      dmarc_callback_t *callback, void *ctx)
{
	struct dmarc_check *c = i_new(struct dmarc_check, 1);
	c->dns = dns;
	c->callback = callback;
	c->ctx = ctx;
	c->pct_roll = in->pct_roll;
	c->spf_pass = in->spf_result != NULL && strcmp(in->spf_result, "pass") == 0;
	c->spf_domain = i_strdup(in->spf_domain);
	c->dkim_pass_domains = i_new(char *, in->dkim_count + 1);
	for (size_t i = 0; i < in->dkim_count; i++) {
		if (in->dkim[i].result != NULL && in->dkim[i].domain != NULL &&
		    strcmp(in->dkim[i].result, "pass") == 0)
			c->dkim_pass_domains[c->dkim_count++] =
				i_strdup(in->dkim[i].domain);
	}
	c->disposition = DMARC_POLICY_NONE;
	if (in->from_domain == NULL || in->from_domain[0] == '\0' ||
	    strchr(in->from_domain, '.') == NULL) {
		/* section 6.6.1: no usable From domain. The callback still
		 * comes later: the answer for "invalid" (RFC 6761) is
		 * ignored. */
		c->result = DMARC_RESULT_PERMERROR;
		c->skip = true;
		c->from_domain = i_strdup("");
		c->org_domain = i_strdup("");
		lookup_policy(c, "invalid");
		return c;
	}
	c->from_domain = i_strdup(in->from_domain);
	size_t fl = strlen(c->from_domain);
	if (c->from_domain[fl - 1] == '.')
		c->from_domain[fl - 1] = '\0';
	str_ascii_lower(c->from_domain);
	c->org_domain = dmarc_org_domain(c->from_domain);
	lookup_policy(c, c->from_domain);
	return c;
}

void dmarc_check_destroy(struct dmarc_check **_c)
{
	struct dmarc_check *c = *_c;
	if (c == NULL)
		return;
	*_c = NULL;
	if (c->request != NULL)
		c->dns->cancel(c->dns->dns_ctx, c->request);
	for (size_t i = 0; i < c->dkim_count; i++)
		free(c->dkim_pass_domains[i]);
	free(c->dkim_pass_domains);
	dmarc_record_free(&c->rec);
	free(c->from_domain);
	free(c->org_domain);
	free(c->spf_domain);
	free(c->policy_domain);
	free(c);
}

enum dmarc_result dmarc_check_result(const struct dmarc_check *c) { return c->result; }
enum dmarc_policy dmarc_check_disposition(const struct dmarc_check *c) { return c->disposition; }
const struct dmarc_record *dmarc_check_record(const struct dmarc_check *c)
{
	return c->have_rec ? &c->rec : NULL;
}
const char *dmarc_check_policy_domain(const struct dmarc_check *c) { return c->policy_domain; }
bool dmarc_check_spf_aligned(const struct dmarc_check *c) { return c->spf_aligned; }
bool dmarc_check_dkim_aligned(const struct dmarc_check *c) { return c->dkim_aligned; }

/* ---- Authentication-Results (RFC 8601) ---- */

static void append_value(struct buf *out, const char *v)
{
	/* pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) */
	bool plain = *v != '\0';
	for (const char *p = v; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-/=?^_`{|}~.@", *p) == NULL)
			plain = false;
	}
	if (plain) {
		buf_append_str(out, v);
		return;
	}
	buf_append_byte(out, '"');
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_byte(out, '\\');
		if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
			buf_append_byte(out, (uint8_t)*p);
	}
	buf_append_byte(out, '"');
}

char *mailauth_authentication_results(const char *authserv_id,
				      const struct mailauth_ar_entry *entries,
				      size_t count)
{
	struct buf out = BUF_INIT;
	buf_printf(&out, "Authentication-Results: %s", authserv_id);
	if (count == 0)
		buf_append_str(&out, "; none");
	for (size_t i = 0; i < count; i++) {
		const struct mailauth_ar_entry *e = &entries[i];
		buf_printf(&out, ";\r\n\t%s=%s", e->method, e->result);
		if (e->reason != NULL) {
			buf_append_str(&out, " reason=");
			append_value(&out, e->reason);
		}
		for (size_t j = 0; j < N_ELEMENTS(e->props) && e->props[j][0] != NULL; j++) {
			buf_printf(&out, " %s=", e->props[j][0]);
			append_value(&out, e->props[j][1] != NULL ? e->props[j][1] : "");
		}
	}
	size_t len;
	return (char *)buf_steal(&out, &len);
}

bool mailauth_ar_is_ours(const char *value, size_t len, const char *authserv_id)
{
	const char *p = value, *end = value + len;
	/* skip CFWS, comments included */
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p < end && *p == '(') {
			int depth = 0;
			for (; p < end; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0) {
					p++;
					break;
				}
			}
			continue;
		}
		break;
	}
	const char *id = p;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' &&
	       *p != '\n' && *p != '(')
		p++;
	size_t idl = strlen(authserv_id);
	return (size_t)(p - id) == idl && str_ascii_ncmp_ci(id, authserv_id, idl) == 0;
}

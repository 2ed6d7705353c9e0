/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "dkim-private.h"

#include <ctype.h>

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dkim_base64_decode(const char *s, size_t len, uint8_t **data_r,
		       size_t *len_r)
{
	uint8_t *out = i_malloc(len / 4 * 3 + 4);
	size_t n = 0, pad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		const char *p = c == '\0' ? NULL : strchr(b64chars, c);
		if (p == NULL || pad > 0) {
			free(out);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(out);
		return -1;
	}
	*data_r = out;
	*len_r = n;
	return 0;
}

char *dkim_base64_encode(const uint8_t *data, size_t len)
{
	char *out = i_malloc(i_size_add(len / 3 * 4, 5));
	size_t n = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[n++] = b64chars[(v >> 18) & 63];
		out[n++] = b64chars[(v >> 12) & 63];
		out[n++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	out[n] = '\0';
	return out;
}

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 * tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 * tag-name  =  ALPHA *ALNUMPUNC
 * tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 * tval      =  1*VALCHAR ; VALCHAR = %x21-3A / %x3C-7E */
int dkim_tag_list_parse(const char *s, size_t len, dkim_tag_cb_t *cb,
			void *ctx, const char **error_r)
{
	const char *p = s, *end = s + len;
	char seen[64][16];
	size_t seen_count = 0;
	while (p < end) {
		while (p < end && is_fws(*p))
			p++;
		if (p == end)
			break;
		const char *name = p;
		if (!isalpha((unsigned char)*p)) {
			*error_r = "bad tag name";
			return -1;
		}
		while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
		size_t name_len = (size_t)(p - name);
		while (p < end && is_fws(*p))
			p++;
		if (p == end || *p != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		p++;
		while (p < end && is_fws(*p))
			p++;
		const char *value = p;
		while (p < end && *p != ';') {
			unsigned char c = (unsigned char)*p;
			if (!is_fws((char)c) && (c < 0x21 || c > 0x7e)) {
				*error_r = "bad character in tag value";
				return -1;
			}
			p++;
		}
		const char *vend = p;
		while (vend > value && is_fws(vend[-1]))
			vend--;
		if (p < end)
			p++; /* ';' */
		/* Every tag is remembered, so a duplicate is always caught
		 * (and no value is ever assigned twice). */
		if (name_len >= sizeof(seen[0]) || seen_count == N_ELEMENTS(seen)) {
			*error_r = "too many or too long tags";
			return -1;
		}
		for (size_t i = 0; i < seen_count; i++) {
			if (strlen(seen[i]) == name_len &&
			    memcmp(seen[i], name, name_len) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		}
		memcpy(seen[seen_count], name, name_len);
		seen[seen_count++][name_len] = '\0';
		if (cb(name, name_len, value, (size_t)(vend - value), ctx,
		       error_r) < 0)
			return -1;
	}
	return 0;
}

static bool tag_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

static char *strip_fws(const char *v, size_t len)
{
	char *r = i_malloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_fws(v[i]))
			r[n++] = v[i];
	}
	r[n] = '\0';
	return r;
}

static int parse_uint(const char *v, size_t len, uint64_t *r)
{
	/* At most 12 digits (RFC 6376 section 3.5 t=, x=, l=) */
	if (len == 0 || len > 12)
		return -1;
	return str_to_uint64_n(v, len, UINT64_MAX, r);
}

struct sig_parse {
	struct dkim_signature *sig;
	bool v, a, b, bh, d, h, s;
};

static int sig_tag(const char *name, size_t nlen, const char *v, size_t vlen,
		   void *ctx, const char **error_r)
{
	struct sig_parse *ps = ctx;
	struct dkim_signature *sig = ps->sig;
	uint64_t n;

	if (tag_is(name, nlen, "v")) {
		if (vlen != 1 || v[0] != '1') {
			*error_r = "unsupported version";
			return -1;
		}
		ps->v = true;
	} else if (tag_is(name, nlen, "a")) {
		if (vlen == 10 && memcmp(v, "rsa-sha256", 10) == 0)
			sig->algorithm = DKIM_ALG_RSA_SHA256;
		else if (vlen == 14 && memcmp(v, "ed25519-sha256", 14) == 0)
			sig->algorithm = DKIM_ALG_ED25519_SHA256;
		else if (vlen == 8 && memcmp(v, "rsa-sha1", 8) == 0)
			sig->algorithm = DKIM_ALG_RSA_SHA1;
		else {
			*error_r = "unknown algorithm";
			return -1;
		}
		ps->a = true;
	} else if (tag_is(name, nlen, "b") || tag_is(name, nlen, "bh")) {
		bool b = nlen == 1;
		uint8_t *data;
		size_t dlen;
		if (dkim_base64_decode(v, vlen, &data, &dlen) < 0) {
			*error_r = "bad base64";
			return -1;
		}
		if (dlen == 0) {
			free(data);
			*error_r = "empty b= or bh=";
			return -1;
		}
		if (b) {
			sig->b = data;
			sig->b_len = dlen;
			sig->b_text = strip_fws(v, vlen);
			ps->b = true;
		} else {
			sig->bh = data;
			sig->bh_len = dlen;
			ps->bh = true;
		}
	} else if (tag_is(name, nlen, "c")) {
		char *c = strip_fws(v, vlen);
		char *slash = strchr(c, '/');
		if (slash != NULL)
			*slash++ = '\0';
		int ok = 0;
		for (int i = 0; i < 2; i++) {
			const char *x = i == 0 ? c : slash;
			enum dkim_canon *dst = i == 0 ? &sig->header_canon :
						       &sig->body_canon;
			if (x == NULL)
				*dst = DKIM_CANON_SIMPLE, ok++;
			else if (strcmp(x, "simple") == 0)
				*dst = DKIM_CANON_SIMPLE, ok++;
			else if (strcmp(x, "relaxed") == 0)
				*dst = DKIM_CANON_RELAXED, ok++;
		}
		free(c);
		if (ok != 2) {
			*error_r = "unknown canonicalization";
			return -1;
		}
	} else if (tag_is(name, nlen, "d")) {
		sig->domain = strip_fws(v, vlen);
		str_ascii_lower(sig->domain);
		ps->d = sig->domain[0] != '\0';
	} else if (tag_is(name, nlen, "s")) {
		sig->selector = strip_fws(v, vlen);
		ps->s = sig->selector[0] != '\0';
	} else if (tag_is(name, nlen, "i")) {
		sig->identity = strip_fws(v, vlen);
	} else if (tag_is(name, nlen, "h")) {
		char *h = strip_fws(v, vlen);
		size_t count = 1;
		for (char *p = h; *p != '\0'; p++)
			count += *p == ':';
		if (count > DKIM_MAX_HEADER_FIELDS) {
			free(h);
			*error_r = "too many signed fields";
			return -1;
		}
		sig->headers = i_new(char *, count);
		char *p = h;
		for (size_t i = 0; i < count; i++) {
			char *colon = strchr(p, ':');
			size_t l = colon != NULL ? (size_t)(colon - p) : strlen(p);
			if (l == 0) {
				free(h);
				*error_r = "empty field name in h=";
				return -1;
			}
			sig->headers[sig->header_count++] = i_strndup(p, l);
			str_ascii_lower(sig->headers[i]);
			p += l + 1;
		}
		free(h);
		ps->h = true;
	} else if (tag_is(name, nlen, "l")) {
		if (parse_uint(v, vlen, &n) < 0) {
			*error_r = "bad l=";
			return -1;
		}
		sig->have_length = true;
		sig->length = n;
	} else if (tag_is(name, nlen, "t") || tag_is(name, nlen, "x")) {
		if (parse_uint(v, vlen, &n) < 0) {
			*error_r = "bad t= or x=";
			return -1;
		}
		if (nlen == 1 && name[0] == 't') {
			sig->have_timestamp = true;
			sig->timestamp = (int64_t)n;
		} else {
			sig->have_expiry = true;
			sig->expiry = (int64_t)n;
		}
	} else if (tag_is(name, nlen, "q")) {
		if (!(vlen >= 7 && memcmp(v, "dns/txt", 7) == 0)) {
			*error_r = "unsupported q=";
			return -1;
		}
	}
	/* z= and unknown tags are ignored (section 3.2) */
	return 0;
}

int dkim_signature_parse(const char *value, size_t len,
			 struct dkim_signature **sig_r, const char **error_r)
{
	struct sig_parse ps;
	memset(&ps, 0, sizeof(ps));
	ps.sig = i_new(struct dkim_signature, 1);
	if (dkim_tag_list_parse(value, len, sig_tag, &ps, error_r) < 0) {
		dkim_signature_free(&ps.sig);
		return -1;
	}
	struct dkim_signature *sig = ps.sig;
	if (!(ps.v && ps.a && ps.b && ps.bh && ps.d && ps.h && ps.s)) {
		*error_r = "missing required tag";
		goto fail;
	}
	bool from = false;
	for (size_t i = 0; i < sig->header_count; i++)
		from = from || strcmp(sig->headers[i], "from") == 0;
	if (!from) {
		*error_r = "From is not signed";
		goto fail;
	}
	if (sig->identity != NULL) {
		/* i= must be d= or a subdomain of it (section 3.5) */
		const char *at = strrchr(sig->identity, '@');
		if (at == NULL) {
			*error_r = "bad i=";
			goto fail;
		}
		const char *idom = at + 1;
		size_t il = strlen(idom), dl = strlen(sig->domain);
		if (!(str_ascii_eq_ci(idom, sig->domain) ||
		      (il > dl && idom[il - dl - 1] == '.' &&
		       str_ascii_eq_ci(idom + il - dl, sig->domain)))) {
			*error_r = "i= is not within d=";
			goto fail;
		}
	}
	if (sig->have_timestamp && sig->have_expiry &&
	    sig->expiry < sig->timestamp) {
		*error_r = "x= before t=";
		goto fail;
	}
	*sig_r = sig;
	return 1;
fail:
	dkim_signature_free(&sig);
	return -1;
}

void dkim_signature_free(struct dkim_signature **_sig)
{
	struct dkim_signature *sig = *_sig;
	if (sig == NULL)
		return;
	*_sig = NULL;
	free(sig->domain);
	free(sig->selector);
	free(sig->identity);
	for (size_t i = 0; i < sig->header_count; i++)
		free(sig->headers[i]);
	free(sig->headers);
	free(sig->bh);
	free(sig->b);
	free(sig->b_text);
	free(sig);
}

struct key_parse {
	struct dkim_key_record *rec;
	bool first, p;
};

static bool list_has(const char *v, size_t len, const char *item)
{
	char *s = strip_fws(v, len);
	bool found = false;
	for (char *p = s; p != NULL && *p != '\0';) {
		char *colon = strchr(p, ':');
		size_t l = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (l == strlen(item) && memcmp(p, item, l) == 0)
			found = true;
		p = colon != NULL ? colon + 1 : NULL;
	}
	free(s);
	return found;
}

static int key_tag(const char *name, size_t nlen, const char *v, size_t vlen,
		   void *ctx, const char **error_r)
{
	struct key_parse *kp = ctx;
	struct dkim_key_record *rec = kp->rec;
	bool first = kp->first;
	kp->first = false;

	if (tag_is(name, nlen, "v")) {
		/* section 3.6.1: if present, first and exactly "DKIM1" */
		if (!first || vlen != 5 || memcmp(v, "DKIM1", 5) != 0) {
			*error_r = "bad v= in key record";
			return -1;
		}
	} else if (tag_is(name, nlen, "k")) {
		if (vlen == 3 && memcmp(v, "rsa", 3) == 0)
			rec->key_ed25519 = false;
		else if (vlen == 7 && memcmp(v, "ed25519", 7) == 0)
			rec->key_ed25519 = true;
		else {
			*error_r = "unknown key type";
			return -1;
		}
	} else if (tag_is(name, nlen, "h")) {
		rec->sha256_allowed = list_has(v, vlen, "sha256");
	} else if (tag_is(name, nlen, "p")) {
		kp->p = true;
		if (vlen == 0) {
			rec->revoked = true;
		} else if (dkim_base64_decode(v, vlen, &rec->pubkey,
					      &rec->pubkey_len) < 0) {
			*error_r = "bad base64 in p=";
			return -1;
		}
	} else if (tag_is(name, nlen, "s")) {
		if (!list_has(v, vlen, "*") && !list_has(v, vlen, "email")) {
			*error_r = "key not for email";
			return -1;
		}
	} else if (tag_is(name, nlen, "t")) {
		rec->testing = list_has(v, vlen, "y");
		rec->strict = list_has(v, vlen, "s");
	}
	return 0;
}

int dkim_key_record_parse(const char *txt, size_t len,
			  struct dkim_key_record *rec_r, const char **error_r)
{
	struct key_parse kp;
	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->sha256_allowed = true;
	memset(&kp, 0, sizeof(kp));
	kp.rec = rec_r;
	kp.first = true;
	if (dkim_tag_list_parse(txt, len, key_tag, &kp, error_r) < 0) {
		dkim_key_record_free(rec_r);
		return -1;
	}
	if (!kp.p) {
		*error_r = "key record without p=";
		dkim_key_record_free(rec_r);
		return -1;
	}
	return 1;
}

void dkim_key_record_free(struct dkim_key_record *rec)
{
	i_free(rec->pubkey);
	rec->pubkey_len = 0;
}

const char *dkim_result_name(enum dkim_result result)
{
	static const char *const names[] = {
		"none", "pass", "fail", "neutral", "temperror", "permerror",
	};
	return names[result];
}

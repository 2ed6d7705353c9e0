/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "smtp-address-private.h"

#include <arpa/inet.h>

struct addr_parser {
	const unsigned char *p;
	enum smtp_address_flags flags;
	enum smtp_address_error code;
	const char *error;
	bool utf8;
};

static bool fail(struct addr_parser *ap, enum smtp_address_error code,
		 const char *error)
{
	if (ap->code == SMTP_ADDRESS_OK) {
		ap->code = code;
		ap->error = error;
	}
	return false;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 section 3.2.3 atext (ASCII part). */
static bool is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the UTF-8 sequence starting at p when it is valid, else 0.
 * RFC 3629 section 4 (UTF8-2, UTF8-3, UTF8-4), which excludes overlongs
 * and surrogates. */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (left < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

bool smtp_utf8_valid(const unsigned char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq_len(data + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Consumes one UTF8-non-ascii character (RFC 6532 section 3.1) at ap->p
 * when UTF-8 is allowed. Returns false (with the error recorded) when the
 * octet is 8-bit but not allowed or not valid UTF-8; true otherwise, with
 * *took_r telling whether something was consumed. */
static bool take_utf8(struct addr_parser *ap, bool *took_r)
{
	size_t n;

	*took_r = false;
	if (*ap->p < 0x80)
		return true;
	if ((ap->flags & SMTP_ADDRESS_FLAG_ALLOW_UTF8) == 0)
		return fail(ap, SMTP_ADDRESS_ERR_NON_ASCII,
			    "Non-ASCII characters need SMTPUTF8");
	n = utf8_seq_len(ap->p, strnlen((const char *)ap->p, 4));
	if (n == 0)
		return fail(ap, SMTP_ADDRESS_ERR_BAD_UTF8, "Invalid UTF-8");
	ap->p += n;
	ap->utf8 = true;
	*took_r = true;
	return true;
}

/* Dot-string = Atom *("." Atom); Atom = 1*atext (RFC 5321 section 4.1.2,
 * atext extended with UTF8-non-ascii by RFC 6531 section 3.3). */
static bool parse_dot_string(struct addr_parser *ap)
{
	for (;;) {
		const unsigned char *start = ap->p;
		for (;;) {
			bool took;
			if (is_atext(*ap->p)) {
				ap->p++;
				continue;
			}
			if (!take_utf8(ap, &took))
				return false;
			if (!took)
				break;
		}
		if (ap->p == start)
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid local part");
		if (*ap->p != '.')
			return true;
		ap->p++;
	}
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE
 * QcontentSMTP = qtextSMTP / quoted-pairSMTP
 * quoted-pairSMTP = %d92 %d32-126
 * qtextSMTP = %d32-33 / %d35-91 / %d93-126 (RFC 5321 section 4.1.2)
 *           =/ UTF8-non-ascii (RFC 6531 section 3.3)
 * The unquoted content is appended to out. */
static bool parse_quoted_string(struct addr_parser *ap, struct buf *out)
{
	i_assert(*ap->p == '"');
	ap->p++;
	for (;;) {
		unsigned char c = *ap->p;
		if (c == '"') {
			ap->p++;
			return true;
		}
		if (c == '\\') {
			c = ap->p[1];
			if (c < 32 || c > 126)
				return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
					    "Invalid quoted local part");
			buf_append_byte(out, c);
			ap->p += 2;
		} else if (c >= 32 && c <= 126) {
			buf_append_byte(out, c);
			ap->p++;
		} else if (c >= 0x80) {
			const unsigned char *start = ap->p;
			bool took;
			if (!take_utf8(ap, &took))
				return false;
			buf_append(out, start, ap->p - start);
		} else {
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid quoted local part");
		}
	}
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str];
 * Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig (RFC 5321 section 4.1.2);
 * sub-domain =/ U-label (RFC 6531 section 3.3). For a U-label we check
 * only that it is UTF-8 made of letters, digits, hyphens and non-ASCII
 * characters; IDNA2008 validity is the resolver's business. */
static bool parse_domain_name(struct addr_parser *ap)
{
	for (;;) {
		const unsigned char *start = ap->p;
		for (;;) {
			bool took;
			if (is_alpha(*ap->p) || is_digit(*ap->p) ||
			    *ap->p == '-') {
				ap->p++;
				continue;
			}
			if (!take_utf8(ap, &took))
				return false;
			if (!took)
				break;
		}
		if (ap->p == start || *start == '-' || ap->p[-1] == '-')
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid domain");
		if (ap->p - start > 63)
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Domain label too long");
		if (*ap->p != '.')
			return true;
		ap->p++;
	}
}

/* IPv4-address-literal = Snum 3("." Snum); Snum = 1*3DIGIT, 0..255. */
static bool ipv4_literal_valid(const char *s, size_t len)
{
	unsigned parts = 0;
	size_t i = 0;

	while (i < len) {
		unsigned value = 0, digits = 0;
		while (i < len && is_digit(s[i]) && digits < 4) {
			value = value * 10 + (s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || value > 255)
			return false;
		parts++;
		if (i == len)
			break;
		if (s[i] != '.' || parts == 4)
			return false;
		i++;
		if (i == len)
			return false;
	}
	return parts == 4;
}

/* address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                         General-address-literal ) "]"
 * IPv6-address-literal = "IPv6:" IPv6-addr
 * General-address-literal = Standardized-tag ":" 1*dcontent
 * dcontent = %d33-90 / %d94-126 (RFC 5321 section 4.1.3).
 * IPv6-addr is the RFC 4291 text form, which inet_pton() implements. */
static bool parse_address_literal(struct addr_parser *ap)
{
	const char *start = (const char *)ap->p + 1;
	const char *end = strchr(start, ']');
	const char *colon;
	size_t len;

	if (end == NULL)
		return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
			    "Invalid address literal");
	len = end - start;
	colon = memchr(start, ':', len);
	if (colon == NULL) {
		if (!ipv4_literal_valid(start, len))
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid IPv4 address literal");
	} else if (colon - start == 4 &&
		   str_ascii_ncmp_ci(start, "IPv6", 4) == 0) {
		char tmp[INET6_ADDRSTRLEN + 1];
		struct in6_addr in6;
		size_t alen = end - (colon + 1);
		if (alen == 0 || alen >= sizeof(tmp))
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid IPv6 address literal");
		memcpy(tmp, colon + 1, alen);
		tmp[alen] = '\0';
		if (strspn(tmp, "0123456789abcdefABCDEF:.") != alen ||
		    inet_pton(AF_INET6, tmp, &in6) != 1)
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid IPv6 address literal");
	} else {
		const char *p;
		if (colon == start || colon[-1] == '-' || *start == '-' ||
		    colon + 1 == end)
			return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
				    "Invalid address literal");
		for (p = start; p < colon; p++) {
			if (!is_alpha(*p) && !is_digit(*p) && *p != '-')
				return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
					    "Invalid address literal");
		}
		for (p = colon + 1; p < end; p++) {
			unsigned char c = *p;
			if (c < 33 || c > 126 || c == '[' || c == '\\')
				return fail(ap, SMTP_ADDRESS_ERR_SYNTAX,
					    "Invalid address literal");
		}
	}
	ap->p = (const unsigned char *)end + 1;
	return true;
}

static bool parse_domain(struct addr_parser *ap, bool *literal_r)
{
	const unsigned char *start = ap->p;

	*literal_r = *ap->p == '[';
	if (*literal_r) {
		if (!parse_address_literal(ap))
			return false;
	} else if (!parse_domain_name(ap))
		return false;
	if (ap->p - start > SMTP_DOMAIN_MAX_LEN)
		return fail(ap, SMTP_ADDRESS_ERR_DOMAIN_LONG, "Domain too long");
	return true;
}

/* Mailbox = Local-part "@" ( Domain / address-literal )
 * Local-part = Dot-string / Quoted-string (RFC 5321 section 4.1.2). */
static bool parse_mailbox(struct addr_parser *ap, struct pool *pool,
			  struct smtp_address *addr)
{
	struct buf local = BUF_INIT;
	const unsigned char *start = ap->p;
	bool ok;

	memset(addr, 0, sizeof(*addr));
	if (*ap->p == '"') {
		addr->quoted = true;
		ok = parse_quoted_string(ap, &local);
	} else {
		ok = parse_dot_string(ap);
		if (ok)
			buf_append(&local, start, ap->p - start);
	}
	if (ok && ap->p - start > SMTP_LOCALPART_MAX_LEN)
		ok = fail(ap, SMTP_ADDRESS_ERR_LOCALPART_LONG,
			  "Local part too long");
	if (!ok) {
		buf_free(&local);
		return false;
	}
	addr->localpart = pool_strndup(pool, buf_cstr(&local), local.len);
	buf_free(&local);

	if (*ap->p != '@') {
		bool postmaster = str_ascii_eq_ci(addr->localpart, "postmaster") &&
			!addr->quoted;
		if ((ap->flags & SMTP_ADDRESS_FLAG_ALLOW_NO_DOMAIN) != 0 ||
		    (postmaster && (ap->flags &
				    SMTP_ADDRESS_FLAG_ALLOW_POSTMASTER) != 0)) {
			addr->utf8 = ap->utf8;
			return true;
		}
		return fail(ap, SMTP_ADDRESS_ERR_SYNTAX, "Missing @domain");
	}
	ap->p++;
	start = ap->p;
	if (!parse_domain(ap, &addr->literal))
		return false;
	addr->domain = pool_strndup(pool, (const char *)start, ap->p - start);
	addr->utf8 = ap->utf8;
	return true;
}

int smtp_address_parse(const char *s, struct pool *pool,
		       enum smtp_address_flags flags,
		       struct smtp_address *addr_r, const char **error_r)
{
	struct addr_parser ap = {.p = (const unsigned char *)s, .flags = flags};

	if (!parse_mailbox(&ap, pool, addr_r)) {
		*error_r = ap.error;
		return -1;
	}
	if (*ap.p != '\0') {
		*error_r = "Invalid characters after address";
		return -1;
	}
	return 1;
}

int smtp_path_parse_full(const char *s, struct pool *pool,
			 enum smtp_address_flags flags, bool allow_null,
			 struct smtp_address *addr_r, const char **end_r,
			 enum smtp_address_error *code_r,
			 const char **error_r)
{
	struct addr_parser ap = {.p = (const unsigned char *)s, .flags = flags};

	memset(addr_r, 0, sizeof(*addr_r));
	addr_r->localpart = "";
	if (*ap.p != '<') {
		fail(&ap, SMTP_ADDRESS_ERR_SYNTAX, "Address must be in <>");
		goto failed;
	}
	ap.p++;
	if (*ap.p == '>') {
		if (!allow_null) {
			fail(&ap, SMTP_ADDRESS_ERR_SYNTAX, "Empty address");
			goto failed;
		}
		*end_r = (const char *)ap.p + 1;
		*code_r = SMTP_ADDRESS_OK;
		return 1;
	}
	/* A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain.
	 * Accepted and ignored (RFC 5321 section 4.1.2 and appendix C). */
	if (*ap.p == '@') {
		for (;;) {
			bool literal;
			ap.p++;
			if (!parse_domain(&ap, &literal))
				goto failed;
			if (*ap.p == ':')
				break;
			if (*ap.p != ',' || ap.p[1] != '@') {
				fail(&ap, SMTP_ADDRESS_ERR_SYNTAX,
				     "Invalid source route");
				goto failed;
			}
			ap.p++;
		}
		ap.p++;
	}
	if (!parse_mailbox(&ap, pool, addr_r))
		goto failed;
	if (*ap.p != '>') {
		fail(&ap, SMTP_ADDRESS_ERR_SYNTAX, "Invalid characters in address");
		goto failed;
	}
	ap.p++;
	if ((const char *)ap.p - s > SMTP_PATH_MAX_LEN) {
		fail(&ap, SMTP_ADDRESS_ERR_PATH_LONG, "Path too long");
		goto failed;
	}
	*end_r = (const char *)ap.p;
	*code_r = SMTP_ADDRESS_OK;
	return 1;
failed:
	/* A later length error is more useful than the syntax error an
	 * over-long token leads to: report the path limit first. */
	if (ap.code == SMTP_ADDRESS_ERR_SYNTAX) {
		const char *close = strchr(s, '>');
		if (close != NULL && close - s + 1 > SMTP_PATH_MAX_LEN) {
			ap.code = SMTP_ADDRESS_ERR_PATH_LONG;
			ap.error = "Path too long";
		}
	}
	*code_r = ap.code;
	*error_r = ap.error;
	addr_r->localpart = "";
	addr_r->domain = NULL;
	return -1;
}

int smtp_path_parse(const char *s, struct pool *pool,
		    enum smtp_address_flags flags, bool allow_null,
		    struct smtp_address *addr_r, const char **end_r,
		    const char **error_r)
{
	enum smtp_address_error code;

	return smtp_path_parse_full(s, pool, flags, allow_null, addr_r, end_r,
				    &code, error_r);
}

static bool localpart_is_dot_string(const char *s)
{
	bool need_atom = true;

	for (; *s != '\0'; s++) {
		unsigned char c = *s;
		if (c == '.') {
			if (need_atom)
				return false;
			need_atom = true;
		} else if (is_atext(c) || c >= 0x80) {
			need_atom = false;
		} else {
			return false;
		}
	}
	return !need_atom;
}

void smtp_address_write(struct buf *out, const struct smtp_address *addr)
{
	if (smtp_address_is_null(addr))
		return;
	if (localpart_is_dot_string(addr->localpart))
		buf_append_str(out, addr->localpart);
	else {
		buf_append_byte(out, '"');
		for (const char *p = addr->localpart; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_append_byte(out, '\\');
			buf_append_byte(out, *p);
		}
		buf_append_byte(out, '"');
	}
	if (addr->domain != NULL) {
		buf_append_byte(out, '@');
		buf_append_str(out, addr->domain);
	}
}

const char *smtp_address_to_string(struct pool *pool,
				   const struct smtp_address *addr)
{
	struct buf b = BUF_INIT;
	const char *ret;

	smtp_address_write(&b, addr);
	ret = pool_strndup(pool, buf_cstr(&b), b.len);
	buf_free(&b);
	return ret;
}

bool smtp_domain_valid(const char *domain, enum smtp_address_flags flags)
{
	struct addr_parser ap = {.p = (const unsigned char *)domain,
				 .flags = flags};
	bool literal;

	return parse_domain(&ap, &literal) && *ap.p == '\0';
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "smtp-address-private.h"
#include "smtp-command.h"

/* esmtp-keyword is short in practice; a long one is unknown anyway. */
#define SMTP_PARAM_KEYWORD_MAX_LEN 32

struct esmtp_param {
	const char *keyword; /* as sent */
	const char *value;   /* NULL when there was no "=" */
};

static int set_error(struct smtp_error *error_r, unsigned code,
		     const char *enhanced, const char *text)
{
	error_r->code = code;
	error_r->enhanced = enhanced;
	error_r->text = text;
	return -1;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value]
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value = 1*(%d33-60 / %d62-126)   (RFC 5321 section 4.1.2)
 * esmtp-value =/ UTF8-non-ascii            (RFC 6531 section 3.3)
 * Splits the next parameter off *p (which points past a separating SP).
 * The strings are copied to pool. */
static bool next_param(const char **p, struct pool *pool,
		       struct esmtp_param *param_r)
{
	const char *s = *p, *kw_end, *v_end;

	for (kw_end = s; *kw_end != '\0' && *kw_end != ' ' && *kw_end != '=';
	     kw_end++) {
		char c = *kw_end;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c == '-' && kw_end != s);
		if (!ok)
			return false;
	}
	if (kw_end == s || kw_end - s > SMTP_PARAM_KEYWORD_MAX_LEN)
		return false;
	param_r->keyword = pool_strndup(pool, s, kw_end - s);
	param_r->value = NULL;
	v_end = kw_end;
	if (*kw_end == '=') {
		const char *v = kw_end + 1;
		for (v_end = v; *v_end != '\0' && *v_end != ' '; v_end++) {
			unsigned char c = *v_end;
			if (c < 33 || c == '=' || c == 127)
				return false;
		}
		if (v_end == v)
			return false;
		if (!smtp_utf8_valid((const unsigned char *)v, v_end - v))
			return false;
		param_r->value = pool_strndup(pool, v, v_end - v);
	}
	while (*v_end == ' ')
		v_end++;
	*p = v_end;
	return true;
}

static int unsupported(struct pool *pool, const struct esmtp_param *param,
		       struct smtp_error *error_r)
{
	return set_error(error_r, 555, "5.5.4",
			 pool_printf(pool, "Unsupported parameter: %s",
				     param->keyword));
}

static bool value_is(const struct esmtp_param *param, const char *value)
{
	return param->value != NULL && str_ascii_eq_ci(param->value, value);
}

static int address_error(struct pool *pool, bool sender,
			 enum smtp_address_error code, const char *reason,
			 struct smtp_error *error_r)
{
	const char *enh = sender ? "5.1.7" : "5.1.3";
	const char *who = sender ? "sender" : "recipient";

	switch (code) {
	case SMTP_ADDRESS_ERR_NON_ASCII:
		return set_error(error_r, sender ? 550 : 553, "5.6.7",
				 pool_printf(pool, "Non-ASCII %s address "
					     "requires SMTPUTF8", who));
	case SMTP_ADDRESS_ERR_PATH_LONG:
	case SMTP_ADDRESS_ERR_LOCALPART_LONG:
	case SMTP_ADDRESS_ERR_DOMAIN_LONG:
		return set_error(error_r, 501, enh,
				 pool_printf(pool, "Bad %s address: %s", who,
					     reason));
	default:
		return set_error(error_r, 501, enh,
				 pool_printf(pool, "Bad %s address syntax: %s",
					     who, reason));
	}
}

/* Keyword:value prefix of MAIL and RCPT, with the spaces some clients put
 * before the path (RFC 5321 has none, but rejecting them helps nobody). */
static const char *skip_prefix(const char *args, const char *prefix)
{
	size_t len = strlen(prefix);

	if (str_ascii_ncmp_ci(args, prefix, len) != 0)
		return NULL;
	args += len;
	while (*args == ' ')
		args++;
	return args;
}

/* The part MAIL and RCPT share: "FROM:"/"TO:", the path, and the
 * separating spaces. Returns 1 with *p_r at the first parameter (or the
 * end), or -1 with error_r set. */
static int parse_path_head(const char *args, const char *prefix,
			   const char *syntax, bool sender,
			   enum smtp_address_flags flags, struct pool *pool,
			   struct smtp_address *path_r, const char **p_r,
			   struct smtp_error *error_r)
{
	enum smtp_address_error code;
	const char *p, *reason;

	p = skip_prefix(args, prefix);
	if (p == NULL || *p == '\0')
		return set_error(error_r, 501, "5.5.4", syntax);
	if (smtp_path_parse_full(p, pool, flags, sender, path_r, &p, &code,
				 &reason) < 0)
		return address_error(pool, sender, code, reason, error_r);
	if (*p != '\0' && *p != ' ')
		return address_error(pool, sender, SMTP_ADDRESS_ERR_SYNTAX,
				     "Invalid characters after address",
				     error_r);
	while (*p == ' ')
		p++;
	*p_r = p;
	return 1;
}

/* One parameter a command knows: recognised only while one of caps is
 * offered; parse() stores the value into the command's args and returns
 * NULL, or the 501 text for a bad value. */
struct param_def {
	const char *keyword;
	enum smtp_caps caps;
	const char *(*parse)(const struct esmtp_param *param, struct pool *pool,
			     enum smtp_caps caps, void *args);
};

/* The parameters from p on, each at most once (RFC 5321 section 4.1.2
 * does not allow repeats); unknown or unoffered ones get 555. */
static int parse_params(const char *p, struct pool *pool, enum smtp_caps caps,
			const struct param_def *defs, unsigned def_count,
			void *args, struct smtp_error *error_r)
{
	unsigned seen = 0;

	i_assert(def_count <= sizeof(seen) * 8);
	while (*p != '\0') {
		struct esmtp_param param;
		unsigned i;

		if (!next_param(&p, pool, &param))
			return set_error(error_r, 501, "5.5.4",
					 "Invalid parameter syntax");
		for (i = 0; i < def_count; i++) {
			if (str_ascii_eq_ci(param.keyword, defs[i].keyword) &&
			    (caps & defs[i].caps) != 0)
				break;
		}
		if (i == def_count)
			return unsupported(pool, &param, error_r);
		const char *bad = defs[i].parse(&param, pool, caps, args);
		if (bad != NULL)
			return set_error(error_r, 501, "5.5.4", bad);
		if ((seen & (1u << i)) != 0)
			return set_error(error_r, 501, "5.5.4",
					 "Duplicate parameter");
		seen |= 1u << i;
	}
	return 1;
}

/* size-value = 1*20DIGIT (RFC 1870 section 5). */
static const char *mail_size(const struct esmtp_param *param,
			     struct pool *pool,
			     enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	if (param->value == NULL || strlen(param->value) > 20 ||
	    str_to_uint64(param->value, UINT64_MAX, &mail->size) < 0)
		return "Invalid SIZE value";
	mail->size_set = true;
	return NULL;
}

static const char *mail_body(const struct esmtp_param *param,
			     struct pool *pool,
			     enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	if (value_is(param, "7BIT"))
		mail->body = SMTP_BODY_7BIT;
	else if (value_is(param, "8BITMIME") && (caps & SMTP_CAP_8BITMIME) != 0)
		mail->body = SMTP_BODY_8BITMIME;
	else if (value_is(param, "BINARYMIME") &&
		 (caps & SMTP_CAP_BINARYMIME) != 0)
		mail->body = SMTP_BODY_BINARYMIME;
	else
		return "Invalid BODY value";
	return NULL;
}

static const char *mail_smtputf8(const struct esmtp_param *param,
				 struct pool *pool,
				 enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	/* RFC 6531 section 3.4: "MUST not accept a value". */
	if (param->value != NULL)
		return "SMTPUTF8 takes no value";
	mail->smtputf8 = true;
	return NULL;
}

static const char *mail_ret(const struct esmtp_param *param,
			    struct pool *pool,
			    enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	if (value_is(param, "FULL"))
		mail->ret = SMTP_DSN_RET_FULL;
	else if (value_is(param, "HDRS"))
		mail->ret = SMTP_DSN_RET_HDRS;
	else
		return "Invalid RET value";
	return NULL;
}

static const char *mail_envid(const struct esmtp_param *param,
			      struct pool *pool,
			      enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	if (param->value == NULL || strlen(param->value) > SMTP_ENVID_MAX_LEN ||
	    smtp_xtext_decode(param->value, pool, &mail->envid) < 0)
		return "Invalid ENVID value";
	mail->envid_raw = param->value;
	return NULL;
}

/* RFC 4954 section 5: AUTH=<> or AUTH=xtext. */
static const char *mail_auth(const struct esmtp_param *param,
			     struct pool *pool,
			     enum smtp_caps caps, void *args)
{
	struct smtp_mail_args *mail = args;

	if (param->value != NULL && strcmp(param->value, "<>") == 0)
		mail->auth = param->value;
	else if (param->value == NULL ||
		 smtp_xtext_decode(param->value, pool, &mail->auth) < 0)
		return "Invalid AUTH value";
	return NULL;
}

static const struct param_def mail_params[] = {
	{ "SIZE", SMTP_CAP_SIZE, mail_size },
	{ "BODY", SMTP_CAP_8BITMIME | SMTP_CAP_BINARYMIME, mail_body },
	{ "SMTPUTF8", SMTP_CAP_SMTPUTF8, mail_smtputf8 },
	{ "RET", SMTP_CAP_DSN, mail_ret },
	{ "ENVID", SMTP_CAP_DSN, mail_envid },
	{ "AUTH", SMTP_CAP_AUTH, mail_auth },
};

/* "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 * (RFC 5321 section 4.1.1.2), with the parameters of RFC 1870 (SIZE),
 * RFC 6152/3030 (BODY), RFC 6531 (SMTPUTF8), RFC 3461 (RET, ENVID) and
 * RFC 4954 (AUTH). */
int smtp_mail_args_parse(const char *args, struct pool *pool,
			 enum smtp_caps caps, struct smtp_mail_args *mail_r,
			 struct smtp_error *error_r)
{
	enum smtp_address_flags flags = 0;
	const char *p;

	memset(mail_r, 0, sizeof(*mail_r));
	if ((caps & SMTP_CAP_SMTPUTF8) != 0)
		flags |= SMTP_ADDRESS_FLAG_ALLOW_UTF8;
	if (parse_path_head(args, "FROM:", "Syntax: MAIL FROM:<address>", true,
			    flags, pool, &mail_r->path, &p, error_r) < 0 ||
	    parse_params(p, pool, caps, mail_params, N_ELEMENTS(mail_params),
			 mail_r, error_r) < 0)
		return -1;
	if (mail_r->path.utf8 && !mail_r->smtputf8)
		return address_error(pool, true, SMTP_ADDRESS_ERR_NON_ASCII,
				     NULL, error_r);
	return 1;
}

/* notify-esmtp-value = "NEVER" / 1#notify-list-element
 * notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
 * (RFC 3461 section 4.1; NEVER only alone.) */
static bool parse_notify(const char *value, struct pool *pool,
			 unsigned *notify_r)
{
	char *copy = pool_strdup(pool, value), *item = copy, *comma;
	unsigned notify = 0;

	for (;;) {
		unsigned bit;
		comma = strchr(item, ',');
		if (comma != NULL)
			*comma = '\0';
		if (str_ascii_eq_ci(item, "NEVER"))
			bit = SMTP_DSN_NOTIFY_NEVER;
		else if (str_ascii_eq_ci(item, "SUCCESS"))
			bit = SMTP_DSN_NOTIFY_SUCCESS;
		else if (str_ascii_eq_ci(item, "FAILURE"))
			bit = SMTP_DSN_NOTIFY_FAILURE;
		else if (str_ascii_eq_ci(item, "DELAY"))
			bit = SMTP_DSN_NOTIFY_DELAY;
		else
			return false;
		if ((notify & bit) != 0)
			return false;
		notify |= bit;
		if (comma == NULL)
			break;
		item = comma + 1;
	}
	if ((notify & SMTP_DSN_NOTIFY_NEVER) != 0 &&
	    notify != SMTP_DSN_NOTIFY_NEVER)
		return false;
	*notify_r = notify;
	return true;
}

/* orcpt-parameter = "ORCPT=" original-recipient-address
 * original-recipient-address = addr-type ";" xtext; addr-type = atom
 * (RFC 3461 section 4.2; at most 500 characters). */
static bool parse_orcpt(const char *value, struct pool *pool,
			struct smtp_rcpt_args *rcpt)
{
	const char *semi = strchr(value, ';');

	if (semi == NULL || semi == value || strlen(value) > SMTP_ORCPT_MAX_LEN)
		return false;
	for (const char *p = value; p < semi; p++) {
		unsigned char c = *p;
		bool atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') ||
			strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
		if (!atext)
			return false;
	}
	if (semi[1] == '\0' ||
	    smtp_xtext_decode(semi + 1, pool, &rcpt->orcpt_addr) < 0)
		return false;
	rcpt->orcpt_type = pool_strndup(pool, value, semi - value);
	rcpt->orcpt_raw = value;
	return true;
}

static const char *rcpt_notify(const struct esmtp_param *param,
			       struct pool *pool,
			       enum smtp_caps caps, void *args)
{
	struct smtp_rcpt_args *rcpt = args;

	if (param->value == NULL || !parse_notify(param->value, pool,
						  &rcpt->notify))
		return "Invalid NOTIFY value";
	return NULL;
}

static const char *rcpt_orcpt(const struct esmtp_param *param,
			      struct pool *pool,
			      enum smtp_caps caps, void *args)
{
	if (param->value == NULL || !parse_orcpt(param->value, pool, args))
		return "Invalid ORCPT value";
	return NULL;
}

static const struct param_def rcpt_params[] = {
	{ "NOTIFY", SMTP_CAP_DSN, rcpt_notify },
	{ "ORCPT", SMTP_CAP_DSN, rcpt_orcpt },
};

/* "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *              Forward-path ) [SP Rcpt-parameters] CRLF
 * (RFC 5321 section 4.1.1.3), with NOTIFY and ORCPT of RFC 3461. */
int smtp_rcpt_args_parse(const char *args, struct pool *pool,
			 enum smtp_caps caps, bool mail_smtputf8,
			 struct smtp_rcpt_args *rcpt_r,
			 struct smtp_error *error_r)
{
	enum smtp_address_flags flags = SMTP_ADDRESS_FLAG_ALLOW_POSTMASTER;
	const char *p;

	memset(rcpt_r, 0, sizeof(*rcpt_r));
	if ((caps & SMTP_CAP_SMTPUTF8) != 0)
		flags |= SMTP_ADDRESS_FLAG_ALLOW_UTF8;
	if (parse_path_head(args, "TO:", "Syntax: RCPT TO:<address>", false,
			    flags, pool, &rcpt_r->path, &p, error_r) < 0)
		return -1;
	if (rcpt_r->path.utf8 && !mail_smtputf8)
		return address_error(pool, false, SMTP_ADDRESS_ERR_NON_ASCII,
				     NULL, error_r);
	return parse_params(p, pool, caps, rcpt_params,
			    N_ELEMENTS(rcpt_params), rcpt_r, error_r);
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
 * chunk-size = 1*DIGIT; end-marker = "LAST" (RFC 3030 section 3). */
int smtp_bdat_args_parse(const char *args, uint64_t *size_r, bool *last_r,
			 struct smtp_error *error_r)
{
	size_t n = strspn(args, "0123456789");
	const char *rest = args + n;

	if (n == 0 || n > 20 || str_to_uint64_n(args, n, UINT64_MAX, size_r) < 0)
		return set_error(error_r, 501, "5.5.4",
				 "Syntax: BDAT chunk-size [LAST]");
	*last_r = false;
	if (*rest == '\0')
		return 1;
	if (*rest != ' ')
		return set_error(error_r, 501, "5.5.4",
				 "Syntax: BDAT chunk-size [LAST]");
	while (*rest == ' ')
		rest++;
	if (!str_ascii_eq_ci(rest, "LAST"))
		return set_error(error_r, 501, "5.5.4",
				 "Syntax: BDAT chunk-size [LAST]");
	*last_r = true;
	return 1;
}

/* ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
 * helo = "HELO" SP Domain CRLF (RFC 5321 section 4.1.1.1). */
int smtp_helo_args_parse(const char *args, const char **domain_r,
			 bool *valid_r, struct smtp_error *error_r)
{
	if (*args == '\0')
		return set_error(error_r, 501, "5.5.4", "Syntax: EHLO hostname");
	for (const char *p = args; *p != '\0'; p++) {
		unsigned char c = *p;
		if (c <= ' ' || c == 127)
			return set_error(error_r, 501, "5.5.4",
					 "Syntax: EHLO hostname");
	}
	*domain_r = args;
	*valid_r = smtp_domain_valid(args, SMTP_ADDRESS_FLAG_ALLOW_UTF8);
	return 1;
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DMARC_H
#define POSTHORN_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include "mailauth-dns.h"

/* DMARC, RFC 7489: record parser, policy discovery (the From domain, then
 * its organisational domain by the public suffix list, libpsl), SPF and
 * DKIM identifier alignment, and the verdict. Plus the
 * Authentication-Results field (RFC 8601) for all three methods.
 *
 * In smtpd at end of DATA, after SPF and DKIM are done:
 *   struct dmarc_input in = { .from_domain = <RFC5322.From domain>,
 *     .spf_result = spf_result_name(..), .spf_domain = spf_check_domain(),
 *     .dkim = [{ "pass", d= }...], .dkim_count = n };
 *   dmarc_check_start(&dns, &in, on_dmarc_done, session);
 *   on_dmarc_done: dmarc_check_result() and dmarc_check_disposition():
 *     DMARC_POLICY_REJECT -> 550 5.7.1, QUARANTINE -> Junk, NONE -> deliver.
 */

enum dmarc_policy {
	DMARC_POLICY_UNSPECIFIED, /* only for sp= absent */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_result {
	DMARC_RESULT_NONE,      /* no policy record */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR, /* e.g. no From domain */
};

struct dmarc_record {
	enum dmarc_policy p, sp;
	bool adkim_strict, aspf_strict;
	unsigned pct;      /* 0..100, default 100 */
	char *rua, *ruf;   /* as written, or NULL */
	char *fo;          /* default "0" */
	unsigned ri;       /* default 86400 */
};

/* Parses a DMARC TXT record (section 6.3). 1 with *rec_r (free with
 * dmarc_record_free), 0 when it is not a DMARC record (no "v=DMARC1"
 * first), -1 with *error_r when it is one but invalid (a missing or bad
 * p= is tolerated as section 6.6.3 says when rua is valid; see .c). */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *rec_r,
		       const char **error_r);
void dmarc_record_free(struct dmarc_record *rec);

/* The organisational domain of domain (lower case, i_malloc'd): the public
 * suffix plus one label; domain itself when no suffix list is available. */
char *dmarc_org_domain(const char *domain);
/* Relaxed alignment: same organisational domain; strict: equal (ASCII
 * case-insensitive). */
bool dmarc_aligned(const char *a, const char *b, bool strict);

struct dmarc_dkim_input {
	const char *result; /* "pass", "fail", ... (only pass counts) */
	const char *domain; /* d= */
};

struct dmarc_input {
	const char *from_domain;  /* NULL or "" = permerror */
	const char *spf_result;   /* spf_result_name(), or NULL = none */
	const char *spf_domain;   /* MAIL FROM domain (or HELO) checked */
	const struct dmarc_dkim_input *dkim;
	size_t dkim_count;
	/* 0..99: compared with pct (sampling); the caller passes a random
	 * number in production and a fixed one in tests. */
	unsigned pct_roll;
};

struct dmarc_check;
typedef void dmarc_callback_t(struct dmarc_check *check, void *ctx);

/* Copies in. callback runs exactly once, later, unless destroyed first. */
struct dmarc_check *dmarc_check_start(const struct mailauth_dns *dns,
				      const struct dmarc_input *in,
				      dmarc_callback_t *callback, void *ctx);
void dmarc_check_destroy(struct dmarc_check **check);

enum dmarc_result dmarc_check_result(const struct dmarc_check *check);
/* The policy to apply to this message: NONE for a pass, no record, an
 * error, or a fail that pct sampled out (then quarantine falls to none and
 * reject to quarantine, section 6.6.4); else p= (or sp= for a subdomain). */
enum dmarc_policy dmarc_check_disposition(const struct dmarc_check *check);
/* The record found (or NULL) and the domain where it was found. */
const struct dmarc_record *dmarc_check_record(const struct dmarc_check *check);
const char *dmarc_check_policy_domain(const struct dmarc_check *check);
bool dmarc_check_spf_aligned(const struct dmarc_check *check);
bool dmarc_check_dkim_aligned(const struct dmarc_check *check);

const char *dmarc_result_name(enum dmarc_result result);
const char *dmarc_policy_name(enum dmarc_policy policy);

/* One method result for Authentication-Results (RFC 8601 section 2.2). */
struct mailauth_ar_entry {
	const char *method;   /* "spf", "dkim", "dmarc" */
	const char *result;   /* "pass", "fail", ... */
	const char *reason;   /* or NULL */
	/* Up to 3 ptype.property=value pairs, e.g. "smtp.mailfrom",
	 * "header.d", "header.b", "header.from". NULL names end the list. */
	const char *props[3][2];
};
/* "Authentication-Results: mx.example.org;\r\n\tspf=pass
 * smtp.mailfrom=a.test;\r\n\tdkim=pass header.d=a.test ..." without the
 * final CRLF (i_malloc'd). No entries gives "...; none". */
char *mailauth_authentication_results(const char *authserv_id,
				      const struct mailauth_ar_entry *entries,
				      size_t count);
struct spf_check;
struct dkim_verify;
/* Our Authentication-Results field from finished checks, any of which may
 * be NULL (not run): "spf=pass smtp.mailfrom=a.test" (smtp.helo for the
 * HELO identity), one "dkim=... header.d= header.s= header.b=" per
 * signature (or "dkim=none"), "dmarc=... header.from=". i_malloc'd, no
 * final CRLF. */
char *mailauth_ar_from_checks(const char *authserv_id,
			      const struct spf_check *spf,
			      const struct dkim_verify *dkim,
			      const struct dmarc_check *dmarc,
			      const char *from_domain);

/* True when a received Authentication-Results field value (after the
 * colon) carries authserv_id, so smtpd removes it before adding ours
 * (RFC 8601 section 5). */
bool mailauth_ar_is_ours(const char *value, size_t len,
			 const char *authserv_id);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SMTP_ADDRESS_H
#define POSTHORN_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

struct pool;
struct buf;

/* RFC 5321 section 4.5.3.1: size limits, in octets (also for UTF-8). */
#define SMTP_LOCALPART_MAX_LEN 64
#define SMTP_DOMAIN_MAX_LEN 255
#define SMTP_PATH_MAX_LEN 256 /* including the angle brackets */

/* A parsed Mailbox (RFC 5321 section 4.1.2). */
struct smtp_address {
	/* Local-part with quoting undone: "a\"b"@x gives a"b. Never NULL.
	 * Empty only for the null reverse-path. */
	const char *localpart;
	/* Domain as sent (case kept), or an address literal with its
	 * brackets ("[192.0.2.1]", "[IPv6:2001:db8::1]"). NULL only for the
	 * null reverse-path and for a bare "postmaster" recipient. */
	const char *domain;
	bool quoted;        /* Local-part was a Quoted-string */
	bool utf8;          /* non-ASCII octets in local part or domain */
	bool literal;       /* domain is an address literal */
};

enum smtp_address_flags {
	/* RFC 6531: UTF8-non-ascii allowed in atext, qtextSMTP and labels
	 * (validated as UTF-8). Without it any octet >= 0x80 is an error. */
	SMTP_ADDRESS_FLAG_ALLOW_UTF8 = 1 << 0,
	/* A local part alone, without "@domain", is accepted when it is
	 * "postmaster" (any case; RFC 5321 section 4.1.1.3). */
	SMTP_ADDRESS_FLAG_ALLOW_POSTMASTER = 1 << 1,
	/* A local part alone, without "@domain", is accepted (domain NULL).
	 * For admin tools that take "user" and add their default domain. */
	SMTP_ADDRESS_FLAG_ALLOW_NO_DOMAIN = 1 << 2,
};

/* Parses a bare Mailbox "local@domain" (no angle brackets), e.g. for the
 * admin command line. The whole string must be the address. Strings in
 * *addr_r are allocated from pool. Returns 1 and fills *addr_r, or -1 with
 * a short human-readable reason in *error_r (static string). */
int smtp_address_parse(const char *s, struct pool *pool,
		       enum smtp_address_flags flags,
		       struct smtp_address *addr_r, const char **error_r);

/* Parses a Path or "<>" at the start of s (RFC 5321 section 4.1.2):
 * "<" [ A-d-l ":" ] Mailbox ">". Source routes are accepted and dropped.
 * allow_null permits "<>" (a reverse-path), returned as localpart "" and
 * domain NULL. On success returns 1 and sets *end_r just past '>'; -1 on
 * syntax error or when a length limit is passed. */
int smtp_path_parse(const char *s, struct pool *pool,
		    enum smtp_address_flags flags, bool allow_null,
		    struct smtp_address *addr_r, const char **end_r,
		    const char **error_r);

/* True for the null reverse-path. */
static inline bool smtp_address_is_null(const struct smtp_address *addr)
{
	return addr->domain == NULL && addr->localpart[0] == '\0';
}

/* Appends "local@domain" with the minimal quoting RFC 5321 asks for (the
 * local part is quoted only when it is not a Dot-string). The null path
 * appends nothing. */
void smtp_address_write(struct buf *out, const struct smtp_address *addr);
/* The same, allocated from pool. */
const char *smtp_address_to_string(struct pool *pool,
				   const struct smtp_address *addr);

/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns true when data[0..len) is valid. */
bool smtp_utf8_valid(const unsigned char *data, size_t len);

/* RFC 5321 Domain or address-literal (without "@"), as smtp_address_parse
 * checks it. For HELO/EHLO arguments and admin input. */
bool smtp_domain_valid(const char *domain, enum smtp_address_flags flags);

#endif

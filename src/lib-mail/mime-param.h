/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MIME_PARAM_H
#define POSTHORN_MIME_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* One parameter of Content-Type or Content-Disposition. Names keep their
 * case as written. RFC 2231 continuations are joined the way IMAP
 * BODYSTRUCTURE shows them (as Dovecot does): "title*0=a; title*1=b" becomes
 * title="ab"; when any piece is extended ("title*0*=us-ascii'en'a%20b")
 * the joined name ends in '*' ("title*") and the value stays percent-encoded
 * with its charset'language' prefix; use rfc2231_value_decode() for text. */
struct mime_param {
	const char *name;
	const char *value;
};

/* Parses a Content-Type value (RFC 2045 section 5.1):
 *   content := type "/" subtype *(";" parameter)
 *   parameter := attribute "=" value ; value := token / quoted-string
 * with RFC 822 comments and folding allowed between tokens. Lenient: bad
 * parameters are skipped (like Dovecot, parsing resumes at the next ';').
 * Returns 1 and type/subtype (NUL-terminated, case kept) and the
 * parameters, or 0 when the type/subtype is missing or anything but ';'
 * follows it: then there are no parameters, subtype is NULL and type is
 * NULL too, except for a lone type token ("text"), which is returned. All
 * from pool. */
int mime_content_type_parse(struct pool *pool, const char *value,
			    const char **type_r, const char **subtype_r,
			    struct mime_param **params_r,
			    unsigned int *params_count_r);

/* Content-Disposition (RFC 2183): disposition-type *(";" parameter).
 * Returns 1, or 0 when the type token is missing (params still set;
 * *disposition_r is "", or NULL when a comment after it is unterminated). */
int mime_disposition_parse(struct pool *pool, const char *value,
			   const char **disposition_r,
			   struct mime_param **params_r,
			   unsigned int *params_count_r);

/* Parses just the parameter list "; a=b; c="d"" (starting at the first
 * ';' or at a name) with RFC 2231 joining as above. */
void mime_params_parse(struct pool *pool, const char *str,
		       struct mime_param **params_r,
		       unsigned int *params_count_r);

/* Decodes an RFC 2231 extended value "charset'language'percent-text" to
 * UTF-8 (via iconv). Returns 1 with *utf8_r (and language, "" if none), or
 * -1 when the charset is unknown or the text invalid in it (*utf8_r is then
 * the raw percent-decoded bytes with invalid UTF-8 replaced by U+FFFD). */
int rfc2231_value_decode(struct pool *pool, const char *value,
			 const char **utf8_r, const char **language_r);

/* Looks up a parameter by name (case-insensitive); NULL if absent. */
const char *mime_param_get(const struct mime_param *params,
			   unsigned int count, const char *name);

#endif

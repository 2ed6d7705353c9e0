/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "dns-zone.h"

#include <arpa/inet.h>
#include <ctype.h>

#define ZONE_MAX_TOKENS 256
#define ZONE_MAX_TOKEN_LEN 4096
#define ZONE_MAX_FILE_SIZE (16 * 1024 * 1024)
#define ZONE_DEFAULT_TTL 3600

struct zone_token {
	char *text;
	bool quoted;
};

struct zone_parser {
	const char *name;
	const char *p;
	unsigned line;
	struct buf errors;
	int error_count;
	char *origin;	    /* absolute, or NULL */
	char *prev_owner;   /* absolute, or NULL */
	unsigned default_ttl;
	struct dns_zone zone;
	size_t max_records;
	size_t alloc;
};

static void ATTR_FORMAT(3, 4)
zone_error(struct zone_parser *zp, unsigned line, const char *fmt, ...)
{
	va_list args;
	buf_printf(&zp->errors, "%s:%u: ", zp->name, line);
	va_start(args, fmt);
	buf_vprintf(&zp->errors, fmt, args);
	va_end(args);
	buf_append_byte(&zp->errors, '\n');
	zp->error_count++;
}

static void tokens_free(struct zone_token *tokens, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(tokens[i].text);
}

/* Reads one logical record: tokens up to the end of a line outside
 * parentheses. Returns 1 with tokens, 0 at end of input, and sets
 * *blank_owner when the record's first line began with whitespace. */
static int zone_read_record(struct zone_parser *zp, struct zone_token *tokens,
			    size_t *count_r, bool *blank_owner_r,
			    unsigned *line_r)
{
	size_t count = 0;
	int depth = 0;
	bool at_line_start = true, started = false;
	bool bad = false;

	*blank_owner_r = false;
	while (*zp->p != '\0') {
		char c = *zp->p;
		if (c == '\n') {
			zp->line++;
			zp->p++;
			at_line_start = true;
			if (depth == 0 && count > 0)
				break;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			if (at_line_start && depth == 0 && count == 0)
				*blank_owner_r = true;
			at_line_start = false;
			zp->p++;
			continue;
		}
		at_line_start = false;
		if (c == ';') {
			while (*zp->p != '\0' && *zp->p != '\n')
				zp->p++;
			continue;
		}
		if (!started) {
			started = true;
			*line_r = zp->line;
		}
		if (c == '(' || c == ')') {
			depth += c == '(' ? 1 : -1;
			if (depth < 0) {
				zone_error(zp, zp->line, "unbalanced ')'");
				depth = 0;
				bad = true;
			}
			zp->p++;
			continue;
		}
		struct buf tok = BUF_INIT;
		bool quoted = c == '"';
		if (quoted) {
			zp->p++;
			while (*zp->p != '\0' && *zp->p != '"' && *zp->p != '\n') {
				if (*zp->p == '\\' && zp->p[1] != '\0' &&
				    zp->p[1] != '\n') {
					/* Keep escapes as written: they are
					 * passed on in presentation form. */
					buf_append(&tok, zp->p, 2);
					zp->p += 2;
				} else {
					buf_append_byte(&tok, (uint8_t)*zp->p++);
				}
			}
			if (*zp->p != '"') {
				zone_error(zp, zp->line, "unterminated quoted string");
				bad = true;
			} else {
				zp->p++;
			}
		} else {
			while (*zp->p != '\0' && !strchr(" \t\r\n;()\"", *zp->p))
				buf_append_byte(&tok, (uint8_t)*zp->p++);
		}
		if (tok.len > ZONE_MAX_TOKEN_LEN) {
			zone_error(zp, zp->line, "token too long");
			bad = true;
		}
		if (count == ZONE_MAX_TOKENS) {
			if (!bad)
				zone_error(zp, zp->line, "too many fields");
			bad = true;
			buf_free(&tok);
			continue;
		}
		tokens[count].quoted = quoted;
		tokens[count].text = i_strdup(buf_cstr(&tok));
		buf_free(&tok);
		count++;
	}
	if (depth > 0) {
		zone_error(zp, zp->line, "unbalanced '(' at end of file");
		bad = true;
	}
	*count_r = count;
	if (bad) {
		tokens_free(tokens, count);
		*count_r = 0;
		return *zp->p == '\0' ? 0 : 2; /* 2: skip this record */
	}
	return count > 0 ? 1 : 0;
}

static bool name_valid(const char *name)
{
	/* RFC 1035 section 2.3.4: labels up to 63 octets, names up to 255.
	 * Letters beyond LDH are allowed (underscore for DKIM/SRV/TLSA). */
	size_t len = strlen(name), label = 0;
	if (len == 0 || len > 254)
		return false;
	if (strcmp(name, ".") == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0 && !(i == len - 1 && len > 1))
				return false;
			label = 0;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* Returns a new absolute, lower-case name or NULL with an error logged. */
static char *zone_absolute(struct zone_parser *zp, unsigned line,
			   const char *name)
{
	char *abs;
	if (strcmp(name, "@") == 0) {
		if (zp->origin == NULL) {
			zone_error(zp, line, "'@' used without $ORIGIN");
			return NULL;
		}
		return i_strdup(zp->origin);
	}
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		abs = i_strdup(name);
	else if (zp->origin != NULL)
		abs = i_strdup_printf("%s.%s", name,
				      strcmp(zp->origin, ".") == 0 ? "" : zp->origin);
	else
		abs = i_strdup_printf("%s.", name);
	if (abs[0] == '.' && abs[1] == '.') /* "x." + root */
		memmove(abs, abs + 1, strlen(abs));
	str_ascii_lower(abs);
	if (!name_valid(abs)) {
		zone_error(zp, line, "invalid domain name '%s'", name);
		free(abs);
		return NULL;
	}
	return abs;
}

static bool parse_ttl(const char *s, unsigned *ttl_r)
{
	uint64_t v;
	if (str_to_uint64(s, 2147483647, &v) < 0)
		return false;
	*ttl_r = (unsigned)v;
	return true;
}

static bool type_is_known(const char *t)
{
	static const char *const types[] = {"A", "AAAA", "MX", "TXT", "SPF",
					    "CNAME", "PTR", "NS", "TLSA",
					    "SRV", "SOA", "CAA"};
	for (size_t i = 0; i < N_ELEMENTS(types); i++)
		if (str_ascii_eq_ci(t, types[i]))
			return true;
	return false;
}

static bool parse_u16(const char *s, unsigned *r)
{
	uint64_t v;
	if (str_to_uint64(s, 65535, &v) < 0)
		return false;
	*r = (unsigned)v;
	return true;
}

/* Builds the normalised rdata for one record. Returns NULL on error. */
static char *zone_rdata(struct zone_parser *zp, unsigned line,
			const char *type, struct zone_token *f, size_t n)
{
	struct buf out = BUF_INIT;
	unsigned u1, u2, u3;

	if (n == 0) {
		zone_error(zp, line, "%s record without data", type);
		return NULL;
	}
	if (strcmp(type, "A") == 0 || strcmp(type, "AAAA") == 0) {
		unsigned char addr[16];
		int af = type[1] == '\0' ? AF_INET : AF_INET6;
		if (n != 1 || inet_pton(af, f[0].text, addr) != 1) {
			zone_error(zp, line, "invalid %s address '%s'", type,
				   f[0].text);
			return NULL;
		}
		buf_append_str(&out, f[0].text);
	} else if (strcmp(type, "MX") == 0) {
		if (n != 2 || !parse_u16(f[0].text, &u1)) {
			zone_error(zp, line, "MX needs a preference (0-65535) and a host");
			return NULL;
		}
		char *host = zone_absolute(zp, line, f[1].text);
		if (host == NULL)
			return NULL;
		buf_printf(&out, "%u %s", u1, host);
		free(host);
	} else if (strcmp(type, "CNAME") == 0 || strcmp(type, "PTR") == 0 ||
		   strcmp(type, "NS") == 0) {
		if (n != 1) {
			zone_error(zp, line, "%s takes exactly one name", type);
			return NULL;
		}
		char *target = zone_absolute(zp, line, f[0].text);
		if (target == NULL)
			return NULL;
		buf_append_str(&out, target);
		free(target);
	} else if (strcmp(type, "TXT") == 0 || strcmp(type, "SPF") == 0) {
		for (size_t i = 0; i < n; i++) {
			size_t raw = 0;
			/* Count octets as they will be on the wire: an escape
			 * pair stands for one octet (\DDD for one too). */
			for (const char *s = f[i].text; *s != '\0'; s++, raw++) {
				if (*s == '\\' && isdigit((unsigned char)s[1]) &&
				    isdigit((unsigned char)s[2]) &&
				    isdigit((unsigned char)s[3]))
					s += 3;
				else if (*s == '\\' && s[1] != '\0')
					s++;
			}
			if (raw > 255) {
				zone_error(zp, line,
					   "TXT string longer than 255 octets; split it into several quoted strings");
				buf_free(&out);
				return NULL;
			}
			if (i > 0)
				buf_append_byte(&out, ' ');
			buf_append_byte(&out, '"');
			/* Presentation form that reads back as the same
			 * octets: escape pairs kept, a lone trailing
			 * backslash and quotes escaped, control and 8-bit
			 * octets as \DDD (RFC 1035 section 5.1). */
			for (const char *s = f[i].text; *s != '\0'; s++) {
				unsigned char c = (unsigned char)*s;
				if (c == '\\' && s[1] != '\0') {
					buf_append(&out, s, 2);
					s++;
				} else if (c == '\\' || c == '"') {
					buf_append_byte(&out, '\\');
					buf_append_byte(&out, c);
				} else if (c < 0x20 || c >= 0x7f) {
					buf_printf(&out, "\\%03u", c);
				} else {
					buf_append_byte(&out, c);
				}
			}
			buf_append_byte(&out, '"');
		}
	} else if (strcmp(type, "TLSA") == 0) {
		if (n < 4 || !parse_u16(f[0].text, &u1) || u1 > 255 ||
		    !parse_u16(f[1].text, &u2) || u2 > 255 ||
		    !parse_u16(f[2].text, &u3) || u3 > 255) {
			zone_error(zp, line, "TLSA needs usage, selector, matching type and hex data");
			return NULL;
		}
		buf_printf(&out, "%u %u %u ", u1, u2, u3);
		for (size_t i = 3; i < n; i++) {
			for (const char *s = f[i].text; *s != '\0'; s++) {
				if (!isxdigit((unsigned char)*s)) {
					zone_error(zp, line, "TLSA data is not hex");
					buf_free(&out);
					return NULL;
				}
			}
			buf_append_str(&out, f[i].text);
		}
	} else if (strcmp(type, "SRV") == 0) {
		if (n != 4 || !parse_u16(f[0].text, &u1) ||
		    !parse_u16(f[1].text, &u2) || !parse_u16(f[2].text, &u3)) {
			zone_error(zp, line, "SRV needs priority, weight, port and target");
			return NULL;
		}
		char *target = zone_absolute(zp, line, f[3].text);
		if (target == NULL)
			return NULL;
		buf_printf(&out, "%u %u %u %s", u1, u2, u3, target);
		free(target);
	} else {
		/* SOA, CAA: passed through; the resolver checks them. */
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				buf_append_byte(&out, ' ');
			if (f[i].quoted)
				buf_printf(&out, "\"%s\"", f[i].text);
			else
				buf_append_str(&out, f[i].text);
		}
	}
	size_t len;
	return (char *)buf_steal(&out, &len);
}

static void zone_add(struct zone_parser *zp, char *owner, unsigned ttl,
		     const char *type, char *rdata, unsigned line)
{
	if (zp->zone.count == zp->alloc) {
		zp->alloc = zp->alloc == 0 ? 16 : zp->alloc * 2;
		zp->zone.records = i_realloc(
			zp->zone.records,
			i_size_mul(zp->alloc, sizeof(struct dns_zone_record)));
	}
	struct dns_zone_record *rec = &zp->zone.records[zp->zone.count++];
	rec->owner = owner;
	rec->ttl = ttl;
	rec->type = i_strdup(type);
	rec->rdata = rdata;
	rec->line = line;
}

static void zone_directive(struct zone_parser *zp, unsigned line,
			   struct zone_token *t, size_t n)
{
	if (str_ascii_eq_ci(t[0].text, "$ORIGIN")) {
		if (n != 2 || t[1].text[strlen(t[1].text) - 1] != '.') {
			zone_error(zp, line, "$ORIGIN needs one absolute name (ending in '.')");
			return;
		}
		char *o = zone_absolute(zp, line, t[1].text);
		if (o != NULL) {
			free(zp->origin);
			zp->origin = o;
		}
	} else if (str_ascii_eq_ci(t[0].text, "$TTL")) {
		if (n != 2 || !parse_ttl(t[1].text, &zp->default_ttl))
			zone_error(zp, line, "$TTL needs one number of seconds");
	} else {
		zone_error(zp, line, "unsupported directive '%s'", t[0].text);
	}
}

static void zone_record(struct zone_parser *zp, unsigned line,
			struct zone_token *t, size_t n, bool blank_owner)
{
	size_t i = 0;
	char *owner;
	if (blank_owner) {
		if (zp->prev_owner == NULL) {
			zone_error(zp, line, "record without owner name");
			return;
		}
		owner = i_strdup(zp->prev_owner);
	} else {
		owner = zone_absolute(zp, line, t[i++].text);
		if (owner == NULL)
			return;
		free(zp->prev_owner);
		zp->prev_owner = i_strdup(owner);
	}
	unsigned ttl = zp->default_ttl;
	/* RFC 1035 section 5.1: TTL and class are optional, in any order. */
	for (int k = 0; k < 2 && i < n; k++) {
		if (isdigit((unsigned char)t[i].text[0])) {
			if (!parse_ttl(t[i].text, &ttl)) {
				zone_error(zp, line, "invalid TTL '%s'", t[i].text);
				free(owner);
				return;
			}
			i++;
		} else if (str_ascii_eq_ci(t[i].text, "IN")) {
			i++;
		} else if (str_ascii_eq_ci(t[i].text, "CH") ||
			   str_ascii_eq_ci(t[i].text, "HS")) {
			zone_error(zp, line, "only class IN is supported");
			free(owner);
			return;
		}
	}
	if (i >= n) {
		zone_error(zp, line, "record without type");
		free(owner);
		return;
	}
	char type[16];
	if (strlen(t[i].text) >= sizeof(type) || !type_is_known(t[i].text)) {
		zone_error(zp, line, "unsupported record type '%s'", t[i].text);
		free(owner);
		return;
	}
	snprintf(type, sizeof(type), "%s", t[i].text);
	for (char *c = type; *c != '\0'; c++)
		*c = (char)toupper((unsigned char)*c);
	i++;
	char *rdata = zone_rdata(zp, line, type, t + i, n - i);
	if (rdata == NULL) {
		free(owner);
		return;
	}
	if (zp->zone.count >= zp->max_records) {
		zone_error(zp, line, "too many records (limit %zu)", zp->max_records);
		free(owner);
		free(rdata);
		return;
	}
	zone_add(zp, owner, ttl, type, rdata, line);
}

int dns_zone_parse(const char *text, const char *name, size_t max_records,
		   struct dns_zone *zone_r, char **errors_r)
{
	struct zone_parser zp = {
		.name = name,
		.p = text,
		.line = 1,
		.default_ttl = ZONE_DEFAULT_TTL,
		.max_records = max_records,
	};
	struct zone_token *tokens = i_new(struct zone_token, ZONE_MAX_TOKENS);
	size_t count;
	bool blank_owner;
	unsigned line = 1;
	int ret;

	while ((ret = zone_read_record(&zp, tokens, &count, &blank_owner,
				       &line)) != 0) {
		if (ret == 2)
			continue;
		if (!blank_owner && tokens[0].text[0] == '$')
			zone_directive(&zp, line, tokens, count);
		else
			zone_record(&zp, line, tokens, count, blank_owner);
		tokens_free(tokens, count);
	}
	free(tokens);
	free(zp.origin);
	free(zp.prev_owner);

	if (zp.error_count > 0) {
		dns_zone_free(&zp.zone);
		size_t len;
		*errors_r = (char *)buf_steal(&zp.errors, &len);
		return -1;
	}
	buf_free(&zp.errors);
	*errors_r = NULL;
	*zone_r = zp.zone;
	return 0;
}

int dns_zone_parse_file(const char *path, struct dns_zone *zone_r,
			char **errors_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*errors_r = i_strdup_printf("%s:0: cannot read: %s\n", path,
					    strerror(errno));
		return -1;
	}
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append_max(&text, chunk, n, ZONE_MAX_FILE_SIZE) < 0) {
			fclose(f);
			buf_free(&text);
			*errors_r = i_strdup_printf("%s:0: file too large\n", path);
			return -1;
		}
	}
	fclose(f);
	if (memchr(text.data, '\0', text.len) != NULL) {
		buf_free(&text);
		*errors_r = i_strdup_printf("%s:0: file contains NUL bytes\n", path);
		return -1;
	}
	int ret = dns_zone_parse(buf_cstr(&text), path, 100000, zone_r,
				 errors_r);
	buf_free(&text);
	return ret;
}

void dns_zone_free(struct dns_zone *zone)
{
	for (size_t i = 0; i < zone->count; i++) {
		free(zone->records[i].owner);
		free(zone->records[i].type);
		free(zone->records[i].rdata);
	}
	free(zone->records);
	zone->records = NULL;
	zone->count = 0;
}

char *dns_zone_record_line(const struct dns_zone_record *rec)
{
	return i_strdup_printf("%s %u IN %s %s", rec->owner, rec->ttl,
			       rec->type, rec->rdata);
}

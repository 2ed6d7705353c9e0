/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DNS_ZONE_H
#define POSTHORN_DNS_ZONE_H

#include <stddef.h>

/* The static zone file ([dns] static): records answered before the real
 * resolver, so tests and private setups need no network.
 *
 * Master-file syntax of RFC 1035 section 5.1, the subset a mail server
 * needs: one record per logical line, `owner [TTL] [class] type rdata`
 * (TTL and class in either order), `;` comments, parentheses joining lines,
 * quoted strings (TXT takes one or more), `@` for the origin, $ORIGIN and
 * $TTL directives, a blank owner meaning the previous one. Names without a
 * trailing dot are relative to $ORIGIN when one is set, absolute otherwise.
 *
 * Every owner in the file becomes a zone of its own: a name at or under it
 * is answered from the file alone (NXDOMAIN or NODATA when absent). */

struct dns_zone_record {
	char *owner;  /* absolute, lower case, with trailing dot */
	unsigned ttl;
	char *type;   /* upper case: A, AAAA, MX, TXT, ... */
	char *rdata;  /* normalised presentation form (names made absolute) */
	unsigned line;
};

struct dns_zone {
	struct dns_zone_record *records;
	size_t count;
};

/* Parses text (NUL-terminated). Returns 0 and fills *zone_r, or -1 with
 * every problem in *errors_r as "NAME:LINE: message" lines (caller frees
 * with free()). name is used only in messages. At most max_records records
 * are accepted. */
int dns_zone_parse(const char *text, const char *name, size_t max_records,
		   struct dns_zone *zone_r, char **errors_r);
/* Reads and parses a file; errors as above (including "cannot read"). */
int dns_zone_parse_file(const char *path, struct dns_zone *zone_r,
			char **errors_r);
void dns_zone_free(struct dns_zone *zone);

/* "owner TTL IN TYPE rdata" for record i (caller frees). */
char *dns_zone_record_line(const struct dns_zone_record *rec);

#endif

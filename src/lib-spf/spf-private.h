/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SPF_PRIVATE_H
#define POSTHORN_SPF_PRIVATE_H

#include "spf.h"

struct pool;

/* Parsed records stay small: a record with more terms is a permerror. */
#define SPF_MAX_TERMS 256

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech type;
	char qualifier;    /* '+', '-', '~', '?' */
	char *domain_spec; /* unexpanded, or NULL for the current domain */
	int cidr4, cidr6;  /* a/mx: -1 = whole address */
	uint8_t ip[16];    /* ip4/ip6 network */
	int prefix;
};

struct spf_record {
	struct spf_term *terms;
	size_t count;
	char *redirect, *exp; /* unexpanded domain-specs, or NULL */
};

/* 1 record parsed into *rec_r (allocated from pool), 0 not an SPF record,
 * -1 syntax error (permerror) with *error_r. */
int spf_record_parse(struct pool *pool, const char *rec, size_t len,
		     struct spf_record **rec_r, const char **error_r);
size_t spf_macro_expand_len(const char *s, const char *end, bool exp);
bool spf_macro_string_valid(const char *s, size_t len, bool exp);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DNS_PACKET_H
#define POSTHORN_DNS_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* DNS wire-format answers (RFC 1035 section 4), as libunbound hands them
 * over: only the answer section is decoded, into the record types a mail
 * server asks for. The parser trusts nothing: every length and compression
 * pointer is bounds-checked and pointer loops are cut. */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_TLSA = 52,
};

#define DNS_NAME_MAX 256 /* presentation form with trailing dot and NUL */

struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	char owner[DNS_NAME_MAX]; /* lower case, trailing dot */
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct {
			uint16_t preference;
			char host[DNS_NAME_MAX]; /* "." for a null MX */
		} mx;
		char name[DNS_NAME_MAX]; /* CNAME, PTR, NS */
		struct {
			uint8_t usage, selector, mtype;
			uint8_t *data; /* points into txt_or_data */
			size_t len;
		} tlsa;
	} u;
	/* TXT: the character-strings concatenated (RFC 7208 section 3.3);
	 * TLSA: the association data. Allocated; may contain NULs. */
	uint8_t *txt_or_data;
	size_t txt_len;
};

struct dns_answer {
	int rcode; /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
	bool secure; /* DNSSEC-validated (set by the resolver) */
	bool bogus;
	struct dns_rr *rrs; /* answer records of the asked type (CNAMEs
			       followed, their records dropped) */
	size_t count;
};

/* Decodes packet; keeps answer records whose type is qtype. Returns 0, or
 * -1 with *error_r for a malformed packet. */
int dns_packet_parse(const uint8_t *packet, size_t len, uint16_t qtype,
		     struct dns_answer *answer_r, const char **error_r);
void dns_answer_free(struct dns_answer *answer);

#endif

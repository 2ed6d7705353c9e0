/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_SPF_TEST_DNS_H
#define POSTHORN_SPF_TEST_DNS_H

/* A canned DNS for the mail-authentication tests: records are added by
 * hand or from test data, lookups queue and are answered by
 * test_dns_run(), never inside lookup(), as the real resolver does. */

#include "mailauth-dns.h"

struct test_dns;

struct test_dns *test_dns_create(void);
void test_dns_destroy(struct test_dns **dns);
/* Forgets every record. */
void test_dns_clear(struct test_dns *dns);
/* type: "A", "AAAA", "MX" (data "PREF host"), "PTR", "TXT", "CNAME",
 * or "TIMEOUT" (every query of name times out). data is len bytes. */
void test_dns_add(struct test_dns *dns, const char *name, const char *type,
		  const char *data, size_t len);
/* Answers queued lookups until none is left. */
void test_dns_run(struct test_dns *dns);
/* Lookups answered since creation. */
unsigned test_dns_queries(const struct test_dns *dns);
const struct mailauth_dns *test_dns_iface(struct test_dns *dns);

#endif

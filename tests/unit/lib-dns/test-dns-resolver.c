/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "dns.h"

#include <arpa/inet.h>
#include <event2/event.h>

/* The resolver against a static zone only: no lookup leaves the machine. */

struct result {
	bool called;
	bool inline_call;
	char error[128];
	int rcode;
	size_t count;
	char first[512];
};

static bool in_lookup;

static void on_answer(const struct dns_answer *answer, const char *error,
		      void *ctx)
{
	struct result *r = ctx;
	r->called = true;
	r->inline_call = in_lookup;
	if (error != NULL) {
		snprintf(r->error, sizeof(r->error), "%s", error);
		return;
	}
	r->rcode = answer->rcode;
	r->count = answer->count;
	if (answer->count == 0)
		return;
	const struct dns_rr *rr = &answer->rrs[0];
	char addr[64];
	switch (rr->type) {
	case DNS_TYPE_MX:
		snprintf(r->first, sizeof(r->first), "%u %s",
			 rr->u.mx.preference, rr->u.mx.host);
		break;
	case DNS_TYPE_A:
		inet_ntop(AF_INET, rr->u.a, addr, sizeof(addr));
		snprintf(r->first, sizeof(r->first), "%s", addr);
		break;
	case DNS_TYPE_AAAA:
		inet_ntop(AF_INET6, rr->u.aaaa, addr, sizeof(addr));
		snprintf(r->first, sizeof(r->first), "%s", addr);
		break;
	case DNS_TYPE_TXT:
		snprintf(r->first, sizeof(r->first), "%.*s",
			 (int)rr->txt_len, (const char *)rr->txt_or_data);
		break;
	}
}

static const char zone_text[] =
	"remote.example. 300 IN MX 10 mx.remote.example.\n"
	"mx.remote.example. 300 IN A 127.0.0.1\n"
	"$ORIGIN two.test.\n"
	"@     MX 20 mx-b\n"
	"@     MX 10 mx-a\n"
	"mx-a  A 127.0.0.3\n"
	"mx-b  AAAA ::1\n"
	"@     TXT \"v=spf1 \" \"ip4:127.0.0.3 -all\"\n"
	"nomx.test. MX 0 .\n";

static struct dns_resolver *make_resolver_mode(struct event_base *base,
					       struct dns_zone *zone,
					       bool static_only)
{
	char *errors;
	assert_int_equal(dns_zone_parse(zone_text, "t", 100, zone, &errors), 0);
	struct dns_resolver_settings set = {.static_zone = zone,
					    .timeout_ms = 5000,
					    .static_only = static_only};
	const char *error = NULL;
	struct dns_resolver *r = dns_resolver_create(base, &set, &error);
	if (r == NULL)
		fail_msg("resolver: %s", error);
	return r;
}

static struct dns_resolver *make_resolver(struct event_base *base,
					  struct dns_zone *zone)
{
	return make_resolver_mode(base, zone, false);
}

static void lookup(struct event_base *base, struct dns_resolver *r,
		   const char *name, enum dns_type type, struct result *res)
{
	memset(res, 0, sizeof(*res));
	in_lookup = true;
	struct dns_request *req = dns_lookup(r, name, type, on_answer, res);
	in_lookup = false;
	assert_non_null(req);
	while (!res->called)
		event_base_loop(base, EVLOOP_ONCE);
	assert_false(res->inline_call);
}

static void test_static_answers(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_zone zone;
	struct dns_resolver *r = make_resolver(base, &zone);
	struct result res;

	lookup(base, r, "two.test", DNS_TYPE_MX, &res);
	assert_string_equal(res.error, "");
	assert_int_equal(res.count, 2);

	lookup(base, r, "mx-a.two.test", DNS_TYPE_A, &res);
	assert_int_equal(res.count, 1);
	assert_string_equal(res.first, "127.0.0.3");

	lookup(base, r, "MX-B.two.test.", DNS_TYPE_AAAA, &res);
	assert_string_equal(res.first, "::1");

	lookup(base, r, "two.test", DNS_TYPE_TXT, &res);
	assert_string_equal(res.first, "v=spf1 ip4:127.0.0.3 -all");

	lookup(base, r, "nomx.test", DNS_TYPE_MX, &res);
	assert_string_equal(res.first, "0 .");

	/* Under a static owner but absent: NXDOMAIN, without the network. */
	lookup(base, r, "nothere.two.test", DNS_TYPE_A, &res);
	assert_string_equal(res.error, "");
	assert_int_equal(res.rcode, 3);
	assert_int_equal(res.count, 0);

	/* Existing name, other type: NODATA. */
	lookup(base, r, "mx-a.two.test", DNS_TYPE_AAAA, &res);
	assert_string_equal(res.error, "");
	assert_int_equal(res.rcode, 0);
	assert_int_equal(res.count, 0);

	assert_int_equal(dns_resolver_pending(r), 0);
	dns_resolver_destroy(&r);
	assert_null(r);
	dns_zone_free(&zone);
	event_base_free(base);
}

/* static_only: names outside the zone do not exist, answered at once by
 * the resolver itself (the timeout would say "timeout" otherwise); the
 * zone's own names still answer. */
static void test_static_only(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_zone zone;
	struct dns_resolver *r = make_resolver_mode(base, &zone, true);
	struct result res;

	lookup(base, r, "example.com", DNS_TYPE_TXT, &res);
	assert_string_equal(res.error, "");
	assert_int_equal(res.rcode, 3);
	assert_int_equal(res.count, 0);
	/* Beside a static zone's owner (remote.example). */
	lookup(base, r, "sender.example", DNS_TYPE_TXT, &res);
	assert_string_equal(res.error, "");
	assert_int_equal(res.rcode, 3);
	lookup(base, r, "_dmarc.gmail.com", DNS_TYPE_TXT, &res);
	assert_int_equal(res.rcode, 3);

	lookup(base, r, "two.test", DNS_TYPE_TXT, &res);
	assert_string_equal(res.first, "v=spf1 ip4:127.0.0.3 -all");
	lookup(base, r, "mx-a.two.test", DNS_TYPE_A, &res);
	assert_string_equal(res.first, "127.0.0.3");
	lookup(base, r, "nomx.test", DNS_TYPE_MX, &res);
	assert_string_equal(res.first, "0 .");

	dns_resolver_destroy(&r);
	dns_zone_free(&zone);
	event_base_free(base);
}

static void test_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_zone zone;
	struct dns_resolver *r = make_resolver(base, &zone);
	struct result res = {0};
	struct dns_request *req = dns_lookup(r, "two.test", DNS_TYPE_MX,
					     on_answer, &res);
	dns_request_cancel(&req);
	assert_null(req);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_false(res.called);
	assert_int_equal(dns_resolver_pending(r), 0);

	/* Destroy with a lookup pending: no callback, no leak. */
	dns_lookup(r, "two.test", DNS_TYPE_MX, on_answer, &res);
	dns_resolver_destroy(&r);
	assert_false(res.called);
	dns_zone_free(&zone);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_answers),
		cmocka_unit_test(test_static_only),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

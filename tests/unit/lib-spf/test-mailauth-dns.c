/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "dns.h"
#include "spf.h"

#include <arpa/inet.h>
#include <event2/event.h>

/* Production wiring: SPF through lib-dns (its static zone, no network) on
 * a libevent loop, via mailauth_dns_init_resolver. */

static const char zone_text[] =
	"$ORIGIN a.test.\n"
	"@     TXT \"v=spf1 mx \" \"include:inc.a.test -all\"\n"
	"@     MX 10 mx\n"
	"mx    A 127.0.0.2\n"
	"inc   TXT \"v=spf1 ip6:2001:db8::/32 -all\"\n";

static void on_done(struct spf_check *check, void *ctx)
{
	*(int *)ctx += 1;
}

static enum spf_result check(struct event_base *base,
			     const struct mailauth_dns *dns, int family,
			     const char *ip)
{
	struct spf_request req = { .helo = "mx.a.test", .sender = "x@a.test" };
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&req.client_ip;
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &sin->sin_addr);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&req.client_ip;
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	}
	int calls = 0;
	struct spf_check *c = spf_check_start(dns, &req, on_done, &calls);
	while (calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(calls, 1);
	enum spf_result r = spf_check_result(c);
	spf_check_destroy(&c);
	return r;
}

static void test_resolver_adapter(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_zone zone;
	char *errors;
	assert_int_equal(dns_zone_parse(zone_text, "t", 100, &zone, &errors), 0);
	struct dns_resolver_settings set = { .static_zone = &zone,
					     .timeout_ms = 5000 };
	const char *error = NULL;
	struct dns_resolver *r = dns_resolver_create(base, &set, &error);
	if (r == NULL)
		fail_msg("resolver: %s", error);
	struct mailauth_dns dns;
	mailauth_dns_init_resolver(&dns, r);

	assert_int_equal(check(base, &dns, AF_INET, "127.0.0.2"), SPF_RESULT_PASS);
	assert_int_equal(check(base, &dns, AF_INET, "127.0.0.3"), SPF_RESULT_FAIL);
	assert_int_equal(check(base, &dns, AF_INET6, "2001:db8::25"), SPF_RESULT_PASS);

	/* destroyed while its lookup is in flight: the callback never runs */
	struct spf_request req = { .helo = "h", .sender = "x@a.test" };
	struct sockaddr_in *sin = (void *)&req.client_ip;
	sin->sin_family = AF_INET;
	int calls = 0;
	struct spf_check *c = spf_check_start(&dns, &req, on_done, &calls);
	spf_check_destroy(&c);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(calls, 0);
	assert_int_equal(dns_resolver_pending(r), 0);

	dns_resolver_destroy(&r);
	dns_zone_free(&zone);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver_adapter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

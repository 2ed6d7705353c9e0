/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "dns.h"
#include "queue-mx.h"

#include <event2/event.h>

/* MX selection against the static zone: nothing leaves the machine. */

static const char zone_text[] =
	"multi.test.   MX 20 mx-c.multi.test.\n"
	"multi.test.   MX 10 mx-a.multi.test.\n"
	"multi.test.   MX 10 mx-b.multi.test.\n"
	"mx-a.multi.test. A 127.0.0.11\n"
	"mx-b.multi.test. A 127.0.0.12\n"
	"mx-b.multi.test. AAAA ::1\n"
	"mx-c.multi.test. A 127.0.0.13\n"
	"implicit.test. A 127.0.0.20\n"
	"null.test.    MX 0 .\n"
	"noaddr.test.  MX 10 nowhere.noaddr.test.\n"
	"nowhere.noaddr.test. TXT \"no address here\"\n"
	"loop.test.    MX 10 mx.self.test.\n"
	"mx.self.test. A 127.0.0.30\n";

struct mx_result {
	bool called;
	enum queue_mx_status status;
	char enhanced[16];
	char addrs[8][64];
	char hosts[8][64];
	unsigned count;
	struct event_base *base;
};

static void on_mx(const struct queue_mx_result *res, void *ctx)
{
	struct mx_result *r = ctx;

	r->called = true;
	r->status = res->status;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s",
		 res->enhanced != NULL ? res->enhanced : "");
	r->count = res->addr_count;
	for (unsigned i = 0; i < res->addr_count && i < 8; i++) {
		snprintf(r->addrs[i], sizeof(r->addrs[i]), "%s",
			 res->addrs[i].ip);
		snprintf(r->hosts[i], sizeof(r->hosts[i]), "%s",
			 res->addrs[i].host);
	}
	event_base_loopbreak(r->base);
}

struct fixture {
	struct event_base *base;
	struct dns_zone zone;
	struct dns_resolver *resolver;
};

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	char *errors = NULL;
	const char *error;

	f->base = event_base_new();
	assert_int_equal(dns_zone_parse(zone_text, "zone", 100, &f->zone,
					&errors), 0);
	struct dns_resolver_settings set = {.static_zone = &f->zone,
					    .timeout_ms = 2000};
	f->resolver = dns_resolver_create(f->base, &set, &error);
	assert_non_null(f->resolver);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dns_resolver_destroy(&f->resolver);
	dns_zone_free(&f->zone);
	event_base_free(f->base);
	i_free(f);
	return 0;
}

static void lookup_self(struct fixture *f, const char *domain,
			const char *self, struct mx_result *r)
{
	memset(r, 0, sizeof(*r));
	r->base = f->base;
	struct queue_mx_lookup *l =
		queue_mx_lookup(f->base, f->resolver, domain, self, on_mx, r);
	assert_non_null(l);
	assert_false(r->called);
	event_base_dispatch(f->base);
	assert_true(r->called);
}

static void lookup(struct fixture *f, const char *domain, struct mx_result *r)
{
	lookup_self(f, domain, "mx.self.test.", r);
}

static void test_self_in_mx_list(void **state)
{
	struct fixture *f = *state;
	struct mx_result r;

	/* We are the only MX: the mail would loop. */
	lookup(f, "loop.test", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
	assert_string_equal(r.enhanced, "5.4.6");
	/* We are the backup (20): only the better hosts remain. */
	lookup_self(f, "multi.test", "MX-C.multi.test", &r);
	assert_int_equal(r.status, QUEUE_MX_OK);
	assert_int_equal(r.count, 3);
	for (unsigned i = 0; i < r.count; i++)
		assert_string_not_equal(r.hosts[i], "mx-c.multi.test");
	/* We are the primary of multi.test: nothing better to relay to. */
	lookup_self(f, "multi.test", "mx-b.multi.test", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
}

static void test_preference_order(void **state)
{
	struct fixture *f = *state;
	struct mx_result r;
	bool seen_a_first = false, seen_b_first = false;

	/* Equal preferences come in either order over enough tries; the
	 * lower preference always comes before the higher one. */
	for (unsigned i = 0; i < 40; i++) {
		lookup(f, "Multi.Test", &r);
		assert_int_equal(r.status, QUEUE_MX_OK);
		assert_int_equal(r.count, 4);
		assert_string_equal(r.hosts[3], "mx-c.multi.test");
		assert_string_equal(r.addrs[3], "127.0.0.13");
		if (strcmp(r.hosts[0], "mx-a.multi.test") == 0) {
			seen_a_first = true;
			assert_string_equal(r.addrs[0], "127.0.0.11");
			assert_string_equal(r.addrs[1], "127.0.0.12");
			assert_string_equal(r.addrs[2], "::1");
		} else {
			seen_b_first = true;
			assert_string_equal(r.addrs[0], "127.0.0.12");
			assert_string_equal(r.addrs[1], "::1");
			assert_string_equal(r.addrs[2], "127.0.0.11");
		}
		if (seen_a_first && seen_b_first)
			break;
	}
	assert_true(seen_a_first && seen_b_first);
}

static void test_implicit_null_and_missing(void **state)
{
	struct fixture *f = *state;
	struct mx_result r;

	lookup(f, "implicit.test", &r);
	assert_int_equal(r.status, QUEUE_MX_OK);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.addrs[0], "127.0.0.20");
	assert_string_equal(r.hosts[0], "implicit.test");

	lookup(f, "null.test", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
	assert_string_equal(r.enhanced, "5.1.10");

	lookup(f, "noaddr.test", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
	assert_string_equal(r.enhanced, "5.4.4");

	/* Under a static owner but absent: NXDOMAIN. */
	lookup(f, "sub.implicit.test", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
	assert_string_equal(r.enhanced, "5.1.2");
}

static void test_literal(void **state)
{
	struct fixture *f = *state;
	struct mx_result r;

	lookup(f, "[127.0.0.5]", &r);
	assert_int_equal(r.status, QUEUE_MX_OK);
	assert_string_equal(r.addrs[0], "127.0.0.5");
	lookup(f, "[IPv6:::1]", &r);
	assert_int_equal(r.status, QUEUE_MX_OK);
	assert_string_equal(r.addrs[0], "::1");
	lookup(f, "[nonsense]", &r);
	assert_int_equal(r.status, QUEUE_MX_PERMFAIL);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct mx_result r = {.base = f->base};
	struct queue_mx_lookup *l =
		queue_mx_lookup(f->base, f->resolver, "multi.test", NULL, on_mx,
				&r);

	queue_mx_lookup_cancel(&l);
	assert_null(l);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_false(r.called);
	assert_int_equal(dns_resolver_pending(f->resolver), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_preference_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_implicit_null_and_missing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_literal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_in_mx_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "service.h"

static const struct service svc_a = { .name = "imap" };
static const struct service svc_b = { .name = "pop3s" };

static void count_cb(const struct service *service, void *ctx)
{
	(*(unsigned *)ctx)++;
}

static void test_registry(void **state)
{
	unsigned before = 0, after = 0;
	service_foreach(count_cb, &before);
	assert_null(service_find("no-such-listener"));
	service_register(&svc_a);
	service_register(&svc_b);
	assert_ptr_equal(service_find("imap"), &svc_a);
	assert_ptr_equal(service_find("pop3s"), &svc_b);
	service_foreach(count_cb, &after);
	assert_int_equal(after, before + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

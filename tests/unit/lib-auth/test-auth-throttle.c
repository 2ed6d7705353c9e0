/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "auth-throttle.h"

#include <pthread.h>

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static struct auth_throttle *throttle_new(unsigned int max_entries)
{
	struct auth_throttle_settings set = {
		.free_failures = 2, .base_delay_ms = 1000,
		.max_delay_ms = 30000, .decay_ms = 60000,
		.max_entries = max_entries, .now_ms = fake_clock,
	};
	fake_now = 5000000;
	return auth_throttle_create(&set);
}

static void test_growth_and_cap(void **state)
{
	static const unsigned int expected[] = {
		0, 0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
	};
	struct auth_throttle *t = throttle_new(0);

	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "alice"), 0);
	for (unsigned int i = 0; i < N_ELEMENTS(expected); i++) {
		auth_throttle_failure(t, "192.0.2.1", "alice");
		fake_now += 100;
		assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "alice"),
				 expected[i]);
	}
	/* Per IP and per account, the larger wins. */
	assert_int_equal(auth_throttle_delay(t, "192.0.2.9", "alice"), 30000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "bob"), 30000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.9", "bob"), 0);
	assert_int_equal(auth_throttle_delay(t, NULL, "ALICE"), 30000);
	assert_int_equal(auth_throttle_delay(t, NULL, NULL), 0);
	auth_throttle_destroy(&t);
	assert_null(t);
}

static void test_decay(void **state)
{
	struct auth_throttle *t = throttle_new(0);

	for (int i = 0; i < 6; i++)
		auth_throttle_failure(t, "198.51.100.7", NULL);
	assert_int_equal(auth_throttle_delay(t, "198.51.100.7", NULL), 8000);
	/* Not yet quiet long enough. */
	fake_now += 59999;
	assert_int_equal(auth_throttle_delay(t, "198.51.100.7", NULL), 8000);
	/* One quiet period: 6 -> 3 failures. */
	fake_now += 1;
	assert_int_equal(auth_throttle_delay(t, "198.51.100.7", NULL), 1000);
	/* Two more: 3 -> 1 -> 0, and the entry is gone. */
	fake_now += 120000;
	assert_int_equal(auth_throttle_delay(t, "198.51.100.7", NULL), 0);
	assert_int_equal(auth_throttle_count(t), 0);
	auth_throttle_destroy(&t);
}

static void test_success_clears_account_not_ip(void **state)
{
	struct auth_throttle *t = throttle_new(0);

	for (int i = 0; i < 4; i++)
		auth_throttle_failure(t, "203.0.113.5", "carol");
	auth_throttle_success(t, "203.0.113.5", "carol");
	assert_int_equal(auth_throttle_delay(t, NULL, "carol"), 0);
	assert_int_equal(auth_throttle_delay(t, "203.0.113.5", NULL), 2000);
	auth_throttle_destroy(&t);
}

/* IPv6 clients share one count per /64; IPv4 and mapped addresses do not
 * mix with it. */
static void test_ipv6_prefix(void **state)
{
	struct auth_throttle *t = throttle_new(0);

	for (int i = 0; i < 4; i++)
		auth_throttle_failure(t, "2001:db8:1:2::1", NULL);
	assert_int_equal(auth_throttle_delay(t, "2001:db8:1:2::1", NULL), 2000);
	assert_int_equal(auth_throttle_delay(t, "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
					     NULL), 2000);
	assert_int_equal(auth_throttle_delay(t, "2001:db8:1:3::1", NULL), 0);
	assert_int_equal(auth_throttle_delay(t, "::ffff:192.0.2.1", NULL), 0);
	assert_int_equal(auth_throttle_count(t), 1);
	auth_throttle_destroy(&t);
}

static void test_bounded(void **state)
{
	struct auth_throttle *t = throttle_new(100);
	char ip[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		auth_throttle_failure(t, ip, NULL);
		auth_throttle_failure(t, ip, NULL);
		auth_throttle_failure(t, ip, NULL);
		fake_now++;
	}
	assert_int_equal(auth_throttle_count(t), 100);
	/* The most recent survive, the oldest were evicted. */
	assert_int_equal(auth_throttle_delay(t, ip, NULL), 1000);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.0", NULL), 0);
	/* Very long account names are cut, not stored whole. */
	char *longname = i_malloc(100001);
	memset(longname, 'z', 100000);
	auth_throttle_failure(t, NULL, longname);
	assert_int_equal(auth_throttle_count(t), 100);
	i_free(longname);
	auth_throttle_destroy(&t);
}

static void test_defaults(void **state)
{
	struct auth_throttle *t = auth_throttle_create(NULL);

	auth_throttle_failure(t, "::1", "x");
	auth_throttle_failure(t, "::1", "x");
	assert_int_equal(auth_throttle_delay(t, "::1", "x"), 0);
	auth_throttle_failure(t, "::1", "x");
	assert_int_equal(auth_throttle_delay(t, "::1", "x"), 1000);
	auth_throttle_destroy(&t);
}

static void *hammer(void *arg)
{
	struct auth_throttle *t = arg;
	char ip[32];

	for (int i = 0; i < 2000; i++) {
		snprintf(ip, sizeof(ip), "10.1.0.%d", i % 300);
		auth_throttle_failure(t, ip, "shared");
		(void)auth_throttle_delay(t, ip, "shared");
		if (i % 10 == 0)
			auth_throttle_success(t, ip, "shared");
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct auth_throttle_settings set = { .max_entries = 64 };
	struct auth_throttle *t = auth_throttle_create(&set);
	pthread_t threads[4];

	for (unsigned int i = 0; i < N_ELEMENTS(threads); i++)
		assert_int_equal(pthread_create(&threads[i], NULL, hammer, t),
				 0);
	for (unsigned int i = 0; i < N_ELEMENTS(threads); i++)
		pthread_join(threads[i], NULL);
	assert_true(auth_throttle_count(t) <= 64);
	auth_throttle_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_and_cap),
		cmocka_unit_test(test_decay),
		cmocka_unit_test(test_success_clears_account_not_ip),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

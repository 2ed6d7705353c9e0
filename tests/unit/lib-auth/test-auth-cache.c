/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "auth-cache.h"

#include <pthread.h>

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static struct auth_cache *cache_new(unsigned int ttl, unsigned int max)
{
	struct auth_cache_settings set = {
		.ttl_ms = ttl, .max_entries = max, .now_ms = fake_clock,
	};
	fake_now = 1000000;
	return auth_cache_create(&set);
}

static void test_hit_and_miss(void **state)
{
	struct auth_cache *cache = cache_new(60000, 10);
	int64_t id = 0;
	char *canonical = NULL;

	assert_int_equal(auth_cache_lookup(cache, "alice", "pw", &id, NULL), 0);
	auth_cache_insert(cache, "Alice", "pw", 42, "alice@example.org");
	assert_int_equal(auth_cache_lookup(cache, "Alice", "pw", &id,
					   &canonical), 1);
	assert_int_equal(id, 42);
	assert_string_equal(canonical, "alice@example.org");
	i_free(canonical);
	/* Another password, another spelling, another split of the same
	 * bytes: all misses. */
	assert_int_equal(auth_cache_lookup(cache, "Alice", "pW", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "alice", "pw", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "Alicep", "w", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "Alic", "epw", &id, NULL), 0);
	assert_int_equal(auth_cache_count(cache), 1);
	auth_cache_destroy(&cache);
	assert_null(cache);
}

static void test_expiry(void **state)
{
	struct auth_cache *cache = cache_new(5000, 10);
	int64_t id;

	auth_cache_insert(cache, "bob", "secret", 7, NULL);
	fake_now += 4999;
	assert_int_equal(auth_cache_lookup(cache, "bob", "secret", &id, NULL), 1);
	/* A hit does not extend the lifetime. */
	fake_now += 1;
	assert_int_equal(auth_cache_lookup(cache, "bob", "secret", &id, NULL), 0);
	assert_int_equal(auth_cache_count(cache), 0);
	auth_cache_destroy(&cache);
}

static void test_drop_account(void **state)
{
	struct auth_cache *cache = cache_new(0, 0);
	int64_t id;
	char *canonical = NULL;

	auth_cache_insert(cache, "carol", "one", 1, NULL);
	auth_cache_insert(cache, "carol@x", "one", 1, NULL);
	auth_cache_insert(cache, "dave", "two", 2, NULL);
	assert_int_equal(auth_cache_drop_account(cache, 1), 2);
	assert_int_equal(auth_cache_lookup(cache, "carol", "one", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "carol@x", "one", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "dave", "two", &id,
					   &canonical), 1);
	assert_string_equal(canonical, "dave");
	i_free(canonical);
	assert_int_equal(auth_cache_drop_account(cache, 1), 0);
	auth_cache_clear(cache);
	assert_int_equal(auth_cache_count(cache), 0);
	auth_cache_destroy(&cache);
}

static void test_bounded_lru(void **state)
{
	struct auth_cache *cache = cache_new(60000, 3);
	int64_t id;

	auth_cache_insert(cache, "u1", "p", 1, NULL);
	auth_cache_insert(cache, "u2", "p", 2, NULL);
	auth_cache_insert(cache, "u3", "p", 3, NULL);
	/* u1 used recently: u2 is the one to go. */
	assert_int_equal(auth_cache_lookup(cache, "u1", "p", &id, NULL), 1);
	auth_cache_insert(cache, "u4", "p", 4, NULL);
	assert_int_equal(auth_cache_count(cache), 3);
	assert_int_equal(auth_cache_lookup(cache, "u2", "p", &id, NULL), 0);
	assert_int_equal(auth_cache_lookup(cache, "u1", "p", &id, NULL), 1);
	assert_int_equal(auth_cache_lookup(cache, "u4", "p", &id, NULL), 1);
	/* Re-inserting replaces, never duplicates. */
	auth_cache_insert(cache, "u4", "p", 44, NULL);
	assert_int_equal(auth_cache_count(cache), 3);
	assert_int_equal(auth_cache_lookup(cache, "u4", "p", &id, NULL), 1);
	assert_int_equal(id, 44);
	for (int i = 0; i < 1000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%d", i);
		auth_cache_insert(cache, name, "p", i, NULL);
	}
	assert_int_equal(auth_cache_count(cache), 3);
	auth_cache_destroy(&cache);
}

static void *hammer(void *arg)
{
	struct auth_cache *cache = arg;
	char name[32];
	int64_t id;

	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "user%d", i % 50);
		auth_cache_insert(cache, name, "pw", i % 50, NULL);
		if (auth_cache_lookup(cache, name, "pw", &id, NULL) > 0)
			assert_int_equal(id, i % 50);
		if (i % 100 == 0)
			auth_cache_drop_account(cache, i % 50);
	}
	return NULL;
}

/* Event loops and workers share one cache. */
static void test_threads(void **state)
{
	struct auth_cache_settings set = { .max_entries = 20 };
	struct auth_cache *cache = auth_cache_create(&set);
	pthread_t threads[4];

	for (unsigned int i = 0; i < N_ELEMENTS(threads); i++)
		assert_int_equal(pthread_create(&threads[i], NULL, hammer,
						cache), 0);
	for (unsigned int i = 0; i < N_ELEMENTS(threads); i++)
		pthread_join(threads[i], NULL);
	assert_true(auth_cache_count(cache) <= 20);
	auth_cache_destroy(&cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_miss),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_drop_account),
		cmocka_unit_test(test_bounded_lru),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

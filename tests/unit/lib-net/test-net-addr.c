/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "net-addr.h"

#include <netinet/in.h>

static void test_parse_good(void **state)
{
	static const struct {
		const char *in, *ip, *str;
		unsigned port;
		bool v6, loopback;
	} cases[] = {
		{"127.0.0.1:25", "127.0.0.1", "127.0.0.1:25", 25, false, true},
		{"0.0.0.0:0", "0.0.0.0", "0.0.0.0:0", 0, false, false},
		{"*:587", "0.0.0.0", "0.0.0.0:587", 587, false, false},
		{"192.0.2.10:65535", "192.0.2.10", "192.0.2.10:65535", 65535,
		 false, false},
		{"[::1]:143", "::1", "[::1]:143", 143, true, true},
		{"[::]:993", "::", "[::]:993", 993, true, false},
		{"[2001:db8::1]:110", "2001:db8::1", "[2001:db8::1]:110", 110,
		 true, false},
		{"[::ffff:127.0.0.2]:25", "127.0.0.2", "127.0.0.2:25", 25, true,
		 true},
		{"[fe80::1%1]:25", "fe80::1", "[fe80::1]:25", 25, true, false},
		{"[fe80::1%lo]:25", "fe80::1", "[fe80::1]:25", 25, true, false},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct net_addr addr;
		const char *error = NULL;
		char buf[NET_ADDR_STR_SIZE];
		int ret = net_addr_parse(cases[i].in, &addr, &error);
		if (ret != 0)
			fail_msg("%s: %s", cases[i].in, error);
		assert_string_equal(net_addr_ip_str(&addr, buf, sizeof(buf)),
				    cases[i].ip);
		assert_string_equal(net_addr_str(&addr, buf, sizeof(buf)),
				    cases[i].str);
		assert_int_equal(net_addr_port(&addr), cases[i].port);
		assert_int_equal(net_addr_is_ipv6(&addr), cases[i].v6);
		assert_int_equal(net_addr_is_loopback(&addr), cases[i].loopback);
		assert_int_equal(addr.len, cases[i].v6 ?
						   sizeof(struct sockaddr_in6) :
						   sizeof(struct sockaddr_in));
	}
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *in, *error;
	} cases[] = {
		{"", "empty address"},
		{"127.0.0.1", "missing port"},
		{"127.0.0.1:", "missing port"},
		{"127.0.0.1:65536", "invalid port"},
		{"127.0.0.1:-1", "invalid port"},
		{"127.0.0.1:2x", "invalid port"},
		{"127.0.0.1: 25", "invalid port"},
		{"256.0.0.1:25", "invalid IPv4 address"},
		{"localhost:25", "invalid IPv4 address"},
		{":25", "invalid IPv4 address"},
		{"::1:25", "IPv6 address must be in brackets: [addr]:port"},
		{"[::1]", "missing port"},
		{"[::1]25", "expected ':' after ']'"},
		{"[::1:25", "missing ']' after IPv6 address"},
		{"[]:25", "invalid IPv6 address"},
		{"[::g]:25", "invalid IPv6 address"},
		{"[127.0.0.1]:25", "invalid IPv6 address"},
		{"[fe80::1%]:25", "empty IPv6 scope"},
		{"[fe80::1%nosuchif0]:25", "unknown IPv6 scope interface"},
		{"[::1]:99999", "invalid port"},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct net_addr addr;
		const char *error = NULL;
		if (net_addr_parse(cases[i].in, &addr, &error) != -1)
			fail_msg("%s: accepted", cases[i].in);
		assert_non_null(error);
		if (strcmp(error, cases[i].error) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].in, error,
				 cases[i].error);
	}
	const char *error = NULL;
	struct net_addr addr;
	assert_int_equal(net_addr_parse(NULL, &addr, &error), -1);
}

static size_t limit_key(const char *str, unsigned char key[NET_ADDR_LIMIT_KEY_SIZE])
{
	struct net_addr addr;
	const char *error = NULL;

	assert_int_equal(net_addr_parse(str, &addr, &error), 0);
	memset(key, 0xaa, NET_ADDR_LIMIT_KEY_SIZE);
	return net_addr_limit_key(&addr, key);
}

/* IPv6 clients are counted per /64, IPv4 per address, mapped as IPv4. */
static void test_limit_key(void **state)
{
	unsigned char a[NET_ADDR_LIMIT_KEY_SIZE], b[NET_ADDR_LIMIT_KEY_SIZE];
	size_t alen, blen;

	alen = limit_key("[2001:db8:1:2::1]:25", a);
	blen = limit_key("[2001:db8:1:2:ffff:eeee:dddd:cccc]:25", b);
	assert_int_equal(alen, 9);
	assert_int_equal(blen, 9);
	assert_memory_equal(a, b, alen);
	blen = limit_key("[2001:db8:1:3::1]:25", b);
	assert_memory_not_equal(a, b, alen);

	alen = limit_key("192.0.2.1:25", a);
	blen = limit_key("[::ffff:192.0.2.1]:25", b);
	assert_int_equal(alen, 5);
	assert_int_equal(blen, 5);
	assert_memory_equal(a, b, alen);
	blen = limit_key("192.0.2.2:25", b);
	assert_memory_not_equal(a, b, alen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_limit_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

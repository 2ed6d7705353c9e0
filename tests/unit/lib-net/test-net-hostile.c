/* SPDX-License-Identifier: MIT */
/* Hostile peers: pre-greeting talkers, slow-drip clients, trusted
 * networks. */
#include "../unit.h"
#include "net-test-util.h"
#include "net-addr.h"

#include <unistd.h>

static void test_pregreet_talker(void **state)
{
	struct net_service_settings set = {
		.greeting_delay_ms = 300,
		.trusted_networks = "127.0.0.1",
	};
	struct net_greeting_stats st;
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 1);
	/* Talks at once, from an address not trusted: rejected, and the
	 * protocol never saw it (no on_connect). */
	test_client_connect(&c, s.port, "127.0.0.2");
	test_client_send(&c, "EHLO spam\r\n");
	test_client_expect(&c, "554 5.5.0 Protocol violation: talked before greeting");
	test_client_expect_eof(&c);
	test_client_close(&c);
	net_service_greeting_stats(s.service, &st);
	assert_int_equal(st.delayed, 1);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(echo_stats.connects, 0);

	/* Waits for the greeting: greeted after the pause. */
	test_client_connect(&c, s.port, "127.0.0.2");
	test_client_expect(&c, "hello");
	test_client_send(&c, "one\r\n");
	test_client_expect(&c, "L3:C:one");
	test_client_close(&c);
	net_service_greeting_stats(s.service, &st);
	assert_int_equal(st.delayed, 2);
	assert_int_equal(st.remembered, 0);

	/* Now remembered: greeted at once, so talking first is fine. */
	test_client_connect(&c, s.port, "127.0.0.2");
	test_client_send(&c, "two\r\n");
	test_client_expect(&c, "hello");
	test_client_expect(&c, "L3:C:two");
	test_client_close(&c);
	net_service_greeting_stats(s.service, &st);
	assert_int_equal(st.delayed, 2);
	assert_int_equal(st.remembered, 1);

	/* Trusted network: no check at all. */
	test_client_connect(&c, s.port, "127.0.0.1");
	test_client_send(&c, "three\r\n");
	test_client_expect(&c, "hello");
	test_client_expect(&c, "L5:C:three");
	test_client_close(&c);
	net_service_greeting_stats(s.service, &st);
	assert_int_equal(st.delayed, 2);
	assert_int_equal(st.remembered, 1);

	/* Another untrusted address still waits; closing early is no
	 * verdict. */
	test_client_connect(&c, s.port, "127.0.0.3");
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 3);
	echo_server_stop(&s);
}

static void test_trusted_networks(void **state)
{
	struct net_service_settings set = {
		.greeting_delay_ms = 1000,
		.trusted_networks = "10.0.0.0/8, 127.0.0.0/31 2001:db8::/32",
	};
	struct echo_server s;
	struct net_addr a;
	const char *error;

	echo_server_start(&s, &set, 1);
	assert_int_equal(net_addr_parse("127.0.0.1:1", &a, &error), 0);
	assert_true(net_service_is_trusted(s.service, &a));
	assert_int_equal(net_addr_parse("127.0.0.2:1", &a, &error), 0);
	assert_false(net_service_is_trusted(s.service, &a));
	assert_int_equal(net_addr_parse("10.255.1.2:1", &a, &error), 0);
	assert_true(net_service_is_trusted(s.service, &a));
	assert_int_equal(net_addr_parse("[2001:db8:1::5]:1", &a, &error), 0);
	assert_true(net_service_is_trusted(s.service, &a));
	assert_int_equal(net_addr_parse("[2001:db9::5]:1", &a, &error), 0);
	assert_false(net_service_is_trusted(s.service, &a));
	assert_int_equal(net_addr_parse("[::ffff:10.1.1.1]:1", &a, &error), 0);
	assert_true(net_service_is_trusted(s.service, &a));
	echo_server_stop(&s);

	/* Bad entries fail the service. */
	static const char *const bad[] = {
		"10.0.0.0/33", "::1/129", "nonsense", "10.0.0.0/", "1.2.3.4/x",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		struct net_service_settings b = {
			.handlers = &echo_handlers,
			.trusted_networks = bad[i],
		};
		assert_null(net_service_create(&b, &error));
	}
	/* Empty = nothing trusted, not even loopback. */
	struct net_service_settings e = {
		.handlers = &echo_handlers,
		.trusted_networks = "",
	};
	struct net_service *svc = net_service_create(&e, &error);
	assert_non_null(svc);
	assert_int_equal(net_addr_parse("127.0.0.1:1", &a, &error), 0);
	assert_false(net_service_is_trusted(svc, &a));
	net_service_destroy(&svc);
}

static void test_slow_drip_dropped(void **state)
{
	/* The idle timeout is long and restarts with every byte; the line
	 * deadline is what ends the drip. */
	struct net_service_settings set = {
		.idle_timeout_ms = 10000,
		.line_timeout_ms = 400,
	};
	struct echo_server s;
	struct test_client c;
	char line[64];
	int sent = 0, n = -1;

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* Complete lines each within the deadline are fine. */
	test_client_send(&c, "a");
	usleep(100 * 1000);
	test_client_send(&c, "b\r\n");
	test_client_expect(&c, "L2:C:ab");
	/* One byte every 100 ms, never a line end: stopped after ~4
	 * bytes; bounded at 40 sends so a broken server fails. */
	for (; sent < 40; sent++) {
		if (send(c.fd, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100 * 1000);
		struct timeval tv = {0, 0};
		fd_set rfds;
		FD_ZERO(&rfds);
		FD_SET(c.fd, &rfds);
		if (select(c.fd + 1, &rfds, NULL, NULL, &tv) > 0)
			break;
	}
	assert_true(sent < 40);
	n = test_client_read_line(&c, line, sizeof(line));
	assert_int_equal(n, 7);
	assert_string_equal(line, "TIMEOUT");
	test_client_expect_eof(&c);
	test_client_close(&c);

	/* Raw mode: a literal dripped byte by byte times out the same way,
	 * while one sent promptly passes. */
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "RAW 3\r\nabc");
	test_client_expect(&c, "RAW:abc");
	test_client_send(&c, "RAW 100\r\n");
	for (sent = 0; sent < 40; sent++) {
		if (send(c.fd, "y", 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100 * 1000);
		struct timeval tv = {0, 0};
		fd_set rfds;
		FD_ZERO(&rfds);
		FD_SET(c.fd, &rfds);
		if (select(c.fd + 1, &rfds, NULL, NULL, &tv) > 0)
			break;
	}
	assert_true(sent < 40);
	test_client_expect(&c, "TIMEOUT");
	test_client_expect_eof(&c);
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 2);
	echo_server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pregreet_talker),
		cmocka_unit_test(test_trusted_networks),
		cmocka_unit_test(test_slow_drip_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

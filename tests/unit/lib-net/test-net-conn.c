/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "net-test-util.h"
#include "buf.h"

#include <unistd.h>

static void test_lines_crlf_and_bare_lf(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 2);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "one\r\ntwo\nthr\ree\r\n\r\n\n");
	test_client_expect(&c, "L3:C:one");
	test_client_expect(&c, "L3:N:two");
	/* A bare CR stays in the data. */
	test_client_expect(&c, "L6:C:thr\ree");
	test_client_expect(&c, "L0:C:");
	test_client_expect(&c, "L0:N:");
	/* A line in many pieces. */
	test_client_send(&c, "pi");
	test_client_send(&c, "ec");
	test_client_send(&c, "es\r");
	test_client_send(&c, "\n");
	test_client_expect(&c, "L6:C:pieces");
	test_client_send(&c, "QUIT\r\n");
	test_client_expect(&c, "bye");
	test_client_expect_eof(&c);
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_line_too_long(void **state)
{
	struct net_service_settings set = {.max_line_length = 10};
	struct echo_server s;
	struct test_client c;
	char big[5000];

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* Exactly the maximum, with CRLF and with LF. */
	test_client_send(&c, "0123456789\r\n0123456789\n");
	test_client_expect(&c, "L10:C:0123456789");
	test_client_expect(&c, "L10:N:0123456789");
	/* One over, completed in the same read. */
	test_client_send(&c, "0123456789A\r\nnext\r\n");
	test_client_expect(&c, "TOOLONG");
	test_client_expect(&c, "L4:C:next");
	/* Far over, arriving in pieces: the rest is discarded up to LF. */
	memset(big, 'x', sizeof(big));
	test_client_send_n(&c, big, sizeof(big));
	test_client_expect(&c, "TOOLONG");
	test_client_send_n(&c, big, sizeof(big));
	test_client_send(&c, "xxx\r\nafter\r\n");
	test_client_expect(&c, "L5:C:after");
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_raw_mode(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* Raw bytes across piece boundaries, then straight back to line
	 * mode within the same piece. */
	test_client_send(&c, "RAW 10\r\n012");
	test_client_send(&c, "3456");
	test_client_send(&c, "789NEXT\r\n");
	test_client_expect(&c, "RAW:0123456789");
	test_client_expect(&c, "L4:C:NEXT");
	/* Line ends inside raw data are data; two raw reads back to back. */
	test_client_send(&c, "RAW 4\r\na\r\nbRAW 2\r\nxyDONE\n");
	test_client_expect(&c, "RAW:a");
	test_client_expect(&c, "b");
	test_client_expect(&c, "RAW:xy");
	test_client_expect(&c, "L4:N:DONE");
	/* A big raw read arrives in several pieces. */
	char *big = i_malloc(100001);
	test_client_send(&c, "RAW 99990\r\n");
	memset(big, 'r', 99990);
	big[99990] = '\0';
	test_client_send(&c, big);
	test_client_send(&c, "END\r\n");
	char *line = i_malloc(100010);
	assert_int_equal(test_client_read_line(&c, line, 100010), 99994);
	assert_memory_equal(line, "RAW:", 4);
	assert_memory_equal(line + 4, big, 99990);
	test_client_expect(&c, "L3:C:END");
	free(line);
	free(big);
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_pause_resume_order(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 2);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* All in one write: A and B are buffered when PAUSE is handled, and
	 * must wait for the async completion, then come in order. */
	test_client_send(&c, "PAUSE\r\nA\r\nB\r\nPAUSE\r\nC\r\n");
	test_client_expect(&c, "paused");
	test_client_expect(&c, "resumed");
	test_client_expect(&c, "L1:C:A");
	test_client_expect(&c, "L1:C:B");
	test_client_expect(&c, "paused");
	test_client_expect(&c, "resumed");
	test_client_expect(&c, "L1:C:C");
	/* Pause, then raw mode set while paused by the next command. */
	test_client_send(&c, "PAUSE\r\nRAW 3\r\nxyzD\r\n");
	test_client_expect(&c, "paused");
	test_client_expect(&c, "resumed");
	test_client_expect(&c, "RAW:xyz");
	test_client_expect(&c, "L1:C:D");
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_idle_timeout(void **state)
{
	struct net_service_settings set = {.idle_timeout_ms = 150};
	struct echo_server s;
	struct test_client c;

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_expect(&c, "TIMEOUT");
	test_client_expect_eof(&c);
	test_client_close(&c);
	/* Per-connection override: 0 disables, a new value re-arms. */
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "TIMEOUT 100\r\n");
	test_client_expect(&c, "ok");
	test_client_expect(&c, "TIMEOUT");
	test_client_expect_eof(&c);
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 2);
	echo_server_stop(&s);
}

static void test_connection_limits(void **state)
{
	struct net_service_settings set = {
		.max_connections = 3,
		.max_connections_per_ip = 2,
		.too_many_message = "421 4.7.0 Too many connections\r\n",
	};
	struct echo_server s;
	struct test_client c[6];

	echo_server_start(&s, &set, 2);
	test_client_connect(&c[0], s.port, "127.0.0.1");
	test_client_expect(&c[0], "hello");
	test_client_connect(&c[1], s.port, "127.0.0.1");
	test_client_expect(&c[1], "hello");
	/* Third from the same IP: refused with the message. */
	test_client_connect(&c[2], s.port, "127.0.0.1");
	test_client_expect(&c[2], "421 4.7.0 Too many connections");
	test_client_expect_eof(&c[2]);
	test_client_close(&c[2]);
	/* Another IP is fine, until the total is reached. */
	test_client_connect(&c[3], s.port, "127.0.0.2");
	test_client_expect(&c[3], "hello");
	test_client_connect(&c[4], s.port, "127.0.0.2");
	test_client_expect(&c[4], "421 4.7.0 Too many connections");
	test_client_expect_eof(&c[4]);
	test_client_close(&c[4]);
	assert_int_equal(net_service_connection_count(s.service), 3);
	/* Closing one releases its slot. */
	test_client_send(&c[0], "QUIT\r\n");
	test_client_expect(&c[0], "bye");
	test_client_expect_eof(&c[0]);
	test_client_close(&c[0]);
	echo_stats_wait(&echo_stats.closes, 1);
	test_client_connect(&c[5], s.port, "127.0.0.1");
	test_client_expect(&c[5], "hello");
	test_client_close(&c[1]);
	test_client_close(&c[3]);
	test_client_close(&c[5]);
	echo_stats_wait(&echo_stats.closes, 4);
	echo_server_stop(&s);
}

static void test_close_after_flush(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;
	size_t n = 3 * 1024 * 1024;
	char *data = i_malloc(n + 2);

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* Pipelined input after the closing command must not reset the
	 * connection before the reply is read. */
	test_client_send(&c, "BIGQ 3145728\r\nignored\r\n");
	assert_int_equal(test_client_read_n(&c, data, n + 2), 0);
	for (size_t i = 0; i < n; i++) {
		if (data[i] != (char)('a' + (i % 4096) % 26))
			fail_msg("byte %zu differs", i);
	}
	assert_memory_equal(data + n, "\r\n", 2);
	test_client_expect_eof(&c);
	test_client_close(&c);
	free(data);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_backpressure(void **state)
{
	struct net_service_settings set = {
		.output_high_watermark = 64 * 1024,
		.output_low_watermark = 16 * 1024,
	};
	struct echo_server s;
	struct test_client c;
	char cmds[40 * 12 + 1] = "";
	enum { RESPONSES = 40, SIZE = 100000 };
	char *data = i_malloc(SIZE + 2);

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	for (int i = 0; i < RESPONSES; i++)
		strncat(cmds, "BIG 100000\r\n", sizeof(cmds) - strlen(cmds) - 1);
	/* 4 MB of replies asked for at once, none read yet: the server must
	 * stop taking commands once a reply is queued above the mark. */
	test_client_send(&c, cmds);
	for (int i = 0; i < RESPONSES; i++)
		assert_int_equal(test_client_read_n(&c, data, SIZE + 2), 0);
	pthread_mutex_lock(&echo_stats.lock);
	size_t max_pending = echo_stats.max_pending;
	pthread_mutex_unlock(&echo_stats.lock);
	if (max_pending > 64 * 1024 + SIZE + 2)
		fail_msg("output grew to %zu bytes", max_pending);
	test_client_send(&c, "QUIT\r\n");
	test_client_expect(&c, "bye");
	test_client_close(&c);
	free(data);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

struct stop_thread {
	pthread_t thread;
	struct echo_server *s;
};

static void *stop_thread_run(void *arg)
{
	struct echo_server *s = arg;
	net_loops_stop(s->loops, 2000);
	return NULL;
}

static void test_stop_waits_for_inflight(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c;
	pthread_t thread;

	echo_server_start(&s, &set, 2);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	test_client_send(&c, "SLOW\r\nAFTER\r\n");
	test_client_expect(&c, "slow");
	net_listener_destroy(&s.listener);
	assert_int_equal(pthread_create(&thread, NULL, stop_thread_run, &s), 0);
	/* Stop has begun (on_shutdown ran) while the job still runs. */
	echo_stats_wait(&echo_stats.shutdowns, 1);
	test_client_expect(&c, "shutdown");
	echo_gate_open();
	/* The completion still answers; the pipelined line after it is new
	 * work and is not started during shutdown. */
	test_client_expect(&c, "resumed");
	test_client_expect_eof(&c);
	pthread_join(thread, NULL);
	test_client_close(&c);
	echo_server_stop(&s);
}

static void post_fn(void *ctx)
{
	struct net_loops *loops = ctx;
	/* Runs on loop 1's thread. */
	i_assert(net_loop_current() == net_loops_get(loops, 1));
	echo_stats_bump(&echo_stats.connects);
}

static void test_loop_post(void **state)
{
	struct net_loops *loops = net_loops_create(2);

	assert_int_equal(net_loops_count(loops), 2);
	assert_null(net_loop_current());
	pthread_mutex_lock(&echo_stats.lock);
	echo_stats.connects = 0;
	pthread_mutex_unlock(&echo_stats.lock);
	/* Posted before start: runs once the thread starts. */
	net_loop_post(net_loops_get(loops, 1), post_fn, loops);
	net_loops_start(loops);
	struct completion_target t =
		net_loop_completion_target(net_loops_get(loops, 1));
	for (int i = 0; i < 99; i++)
		completion_post(&t, post_fn, loops);
	echo_stats_wait(&echo_stats.connects, 100);
	net_loops_destroy(&loops);
	assert_null(loops);

	struct net_loops *def = net_loops_create(0);
	assert_int_equal(net_loops_count(def), sysconf(_SC_NPROCESSORS_ONLN));
	net_loops_destroy(&def);
}

static void test_stream_with_write_ready(void **state)
{
	struct net_service_settings set = {
		.output_high_watermark = 32 * 1024,
		.output_low_watermark = 8 * 1024,
	};
	struct echo_server s;
	struct test_client c;
	enum { SIZE = 2000000 };
	char *data = i_malloc(SIZE + 2);

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	/* 2 MB produced piecewise as the client drains it; queued output
	 * never exceeds the mark plus one chunk. */
	test_client_send(&c, "STREAM 2000000\r\nAFTER\r\n");
	assert_int_equal(test_client_read_n(&c, data, SIZE + 2), 0);
	for (size_t i = 0; i < SIZE; i++)
		if (data[i] != 's')
			fail_msg("byte %zu", i);
	assert_memory_equal(data + SIZE, "\r\n", 2);
	test_client_expect(&c, "L5:C:AFTER");
	pthread_mutex_lock(&echo_stats.lock);
	assert_true(echo_stats.max_pending <= 32 * 1024 + 1000 + 2);
	pthread_mutex_unlock(&echo_stats.lock);
	test_client_close(&c);
	free(data);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

static void test_accept_round_robin(void **state)
{
	struct net_service_settings set = {0};
	struct echo_server s;
	struct test_client c[4];
	char line[64];
	unsigned seen[2] = {0, 0};

	echo_server_start(&s, &set, 2);
	for (int i = 0; i < 4; i++) {
		test_client_connect(&c[i], s.port, NULL);
		test_client_expect(&c[i], "hello");
		test_client_send(&c[i], "LOOP\r\n");
		assert_true(test_client_read_line(&c[i], line, sizeof(line)) > 0);
		if (strcmp(line, "loop 0") == 0)
			seen[0]++;
		else if (strcmp(line, "loop 1") == 0)
			seen[1]++;
		else
			fail_msg("got %s", line);
	}
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], 2);
	for (int i = 0; i < 4; i++)
		test_client_close(&c[i]);
	echo_stats_wait(&echo_stats.closes, 4);
	echo_server_stop(&s);
}

/* Random lines (with bare CRs, NULs, CRLF or LF ends, some too long) sent
 * in random pieces must come back exactly as a reference splitter says. */
static void test_random_stream(void **state)
{
	struct net_service_settings set = {.max_line_length = 40};
	struct echo_server s;
	struct test_client c;
	static const char alphabet[] = "abcxyz \t\r\0";
	struct buf stream = BUF_INIT, expected = BUF_INIT;
	unsigned seed = 12345;

	echo_server_start(&s, &set, 1);
	test_client_connect(&c, s.port, NULL);
	test_client_expect(&c, "hello");
	for (int i = 0; i < 300; i++) {
		size_t len = (size_t)(rand_r(&seed) % 60);
		uint8_t data[64];
		for (size_t j = 0; j < len; j++)
			data[j] = (uint8_t)alphabet[rand_r(&seed) %
						    (sizeof(alphabet) - 1)];
		bool crlf_end = rand_r(&seed) % 2 == 0;
		buf_append(&stream, data, len);
		buf_append_str(&stream, crlf_end ? "\r\n" : "\n");
		/* The reference: a CR right before LF belongs to the end. */
		size_t content = len + (crlf_end ? 1 : 0);
		bool crlf = content > 0 &&
			    (crlf_end || data[len - 1] == '\r');
		if (crlf)
			content--;
		if (content > 40) {
			buf_append_str(&expected, "TOOLONG\r\n");
		} else {
			buf_printf(&expected, "L%zu:%c:", content,
				   crlf ? 'C' : 'N');
			buf_append(&expected, data, content);
			buf_append_str(&expected, "\r\n");
		}
	}
	for (size_t off = 0; off < stream.len;) {
		size_t n = MIN(stream.len - off,
			       (size_t)(rand_r(&seed) % 100) + 1);
		test_client_send_n(&c, stream.data + off, n);
		off += n;
	}
	char *got = i_malloc(expected.len);
	assert_int_equal(test_client_read_n(&c, got, expected.len), 0);
	for (size_t i = 0; i < expected.len; i++) {
		if (got[i] != (char)expected.data[i])
			fail_msg("output differs at byte %zu", i);
	}
	free(got);
	buf_free(&stream);
	buf_free(&expected);
	test_client_close(&c);
	echo_stats_wait(&echo_stats.closes, 1);
	echo_server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_crlf_and_bare_lf),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_raw_mode),
		cmocka_unit_test(test_pause_resume_order),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_close_after_flush),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_stop_waits_for_inflight),
		cmocka_unit_test(test_loop_post),
		cmocka_unit_test(test_stream_with_write_ready),
		cmocka_unit_test(test_accept_round_robin),
		cmocka_unit_test(test_random_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

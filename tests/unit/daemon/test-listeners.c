/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "conn.h"
#include "daemon.h"
#include "service.h"
#include "workpool.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* posthornd's wiring of services: a listener role answered by its service,
 * a background service, control commands routed to services, reload and
 * deinit. */

static int bg_inits, bg_reloads, bg_deinits, bg_wakes, mb_changes;
static atomic_int connects;

static int bg_init(const struct service_env *env, void **context_r,
		   const char **error_r)
{
	assert_non_null(env->config);
	assert_non_null(env->loops);
	bg_inits++;
	*context_r = &bg_inits;
	return 0;
}

static void bg_reload(void *context, struct config *config)
{
	assert_ptr_equal(context, &bg_inits);
	bg_reloads++;
}

static void bg_deinit(void *context)
{
	bg_deinits++;
}

static int bg_control(void *context, const char *const *args, unsigned count,
		      const char **error_r)
{
	if (strcmp(args[0], "wake") == 0) {
		bg_wakes++;
		return 1;
	}
	if (strcmp(args[0], "mailbox-changed") == 0) {
		assert_int_equal(count, 3);
		assert_string_equal(args[1], "a@example.com");
		mb_changes++;
		return 1;
	}
	if (strcmp(args[0], "fail") == 0) {
		*error_r = "failed on purpose";
		return -1;
	}
	return 0;
}

static const struct service bg_service = {
	.name = "queue",
	.background = true,
	.init = bg_init,
	.reload = bg_reload,
	.deinit = bg_deinit,
	.control = bg_control,
};

static void echo_connect(struct conn *conn)
{
	atomic_fetch_add(&connects, 1);
	conn_write_str(conn, "hello\r\n");
	conn_close_after_flush(conn, "test");
}

static void echo_line(struct conn *conn, const uint8_t *line, size_t len,
		      bool crlf)
{
}

static void echo_close(struct conn *conn)
{
}

static const struct conn_handlers echo_handlers = {
	.on_connect = echo_connect,
	.on_line = echo_line,
	.on_close = echo_close,
};

static const struct service imap_service = {
	.name = "imap",
	.handlers = &echo_handlers,
};

static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void test_wiring(void **state)
{
	char dir[] = "/tmp/posthorn-test-listeners-XXXXXX";
	assert_non_null(mkdtemp(dir));
	unsigned port = free_port();
	struct buf text = BUF_INIT, errors = BUF_INIT;
	buf_printf(&text, "[server]\ndata_dir = %s\nio_threads = 1\n"
		   "[listen]\nimap = 127.0.0.1:%u\npop3 = 127.0.0.1:%u\n",
		   dir, port, free_port());

	struct daemon d;
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load_string("t.conf", buf_cstr(&text), &d.config,
					    &errors), 1);
	d.workpool = workpool_create("test", 1);
	service_register(&bg_service);
	service_register(&imap_service);

	const char *error;
	assert_int_equal(daemon_listeners_open(&d, &error), 1);
	assert_int_equal(bg_inits, 1);
	assert_int_equal(daemon_listeners_start(&d, &error), 1);

	struct buf desc = BUF_INIT;
	daemon_listeners_describe(&d, &desc);
	char expect[64];
	snprintf(expect, sizeof(expect), "imap=127.0.0.1:%u", port);
	/* pop3 has no service: skipped, not bound. */
	assert_string_equal(buf_cstr(&desc), expect);

	/* A client gets the service's greeting. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	char greeting[16];
	size_t got = 0;
	while (got < 7) {
		ssize_t n = read(fd, greeting + got, sizeof(greeting) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(greeting, "hello\r\n", 7);
	close(fd);
	assert_int_equal(atomic_load(&connects), 1);

	/* Control commands reach the services. */
	const char *const wake[] = { "wake" };
	const char *const mb[] = { "mailbox-changed", "a@example.com", "INBOX" };
	const char *const fail[] = { "fail" };
	const char *const other[] = { "other" };
	assert_int_equal(daemon_services_control(&d, "queue", wake, 1, &error), 1);
	assert_int_equal(bg_wakes, 1);
	assert_int_equal(daemon_services_control(&d, "imap", wake, 1, &error), 0);
	assert_int_equal(daemon_services_control(&d, NULL, mb, 3, &error), 1);
	assert_int_equal(mb_changes, 1);
	assert_int_equal(daemon_services_control(&d, NULL, other, 1, &error), 0);
	assert_int_equal(daemon_services_control(&d, NULL, fail, 1, &error), -1);
	assert_string_equal(error, "failed on purpose");

	daemon_listeners_reload(&d, d.config);
	assert_int_equal(bg_reloads, 1);

	daemon_listeners_stop(&d);
	assert_int_equal(bg_deinits, 1);
	workpool_destroy(&d.workpool);
	daemon_listeners_free(&d);
	assert_null(d.listeners);

	config_unref(&d.config);
	buf_free(&text);
	buf_free(&errors);
	buf_free(&desc);
	/* The self-signed pair made for the listener. */
	char path[256];
	snprintf(path, sizeof(path), "%s/selfsigned-cert.pem", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/selfsigned-key.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wiring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

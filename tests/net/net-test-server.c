/* SPDX-License-Identifier: MIT */
/* net-test-server: a toy line protocol on lib-net for integration tests.
 *
 *   net-test-server --cert-dir DIR [--plain ADDR]... [--tls ADDR]...
 *                   [--max-line N] [--idle-ms N] [--loops N]
 *
 * Prints "ready plain=ADDR tls=ADDR ..." (actual bound addresses) on
 * stdout once listening; stops cleanly on SIGTERM/SIGINT. Commands:
 *   ECHO <text>  -> "+OK crlf <text>" or "+OK lf <text>" (bare LF)
 *   STARTTLS     -> "+OK begin TLS", then the server handshake
 *   TLSINFO      -> "+OK tls <version> <cipher>" or "+OK plain"
 *   QUIT         -> "+OK bye", close
 */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "strutil.h"
#include "net-loop.h"
#include "net-listener.h"
#include "conn.h"
#include "tls.h"

#include <pthread.h>
#include <signal.h>

static void ts_connect(struct conn *conn)
{
	conn_write_str(conn, "+OK net-test-server ready\r\n");
}

static bool ts_is(const uint8_t *line, size_t len, const char *cmd)
{
	size_t n = strlen(cmd);
	return len >= n && str_ascii_ncmp_ci((const char *)line, cmd, n) == 0 &&
	       (len == n || line[n] == ' ');
}

static void ts_line(struct conn *conn, const uint8_t *line, size_t len,
		    bool crlf)
{
	if (ts_is(line, len, "ECHO")) {
		size_t skip = len > 5 ? 5 : len;
		conn_printf(conn, "+OK %s ", crlf ? "crlf" : "lf");
		conn_write(conn, line + skip, len - skip);
		conn_write_str(conn, "\r\n");
	} else if (ts_is(line, len, "STARTTLS")) {
		if (!conn_can_starttls(conn)) {
			conn_write_str(conn, "-ERR TLS not available\r\n");
			return;
		}
		conn_write_str(conn, "+OK begin TLS\r\n");
		if (conn_starttls(conn) < 0)
			conn_close(conn, "starttls failed");
	} else if (ts_is(line, len, "TLSINFO")) {
		if (conn_is_tls(conn))
			conn_printf(conn, "+OK tls %s %s\r\n",
				    conn_tls_version(conn),
				    conn_tls_cipher(conn));
		else
			conn_write_str(conn, "+OK plain\r\n");
	} else if (ts_is(line, len, "QUIT")) {
		conn_write_str(conn, "+OK bye\r\n");
		conn_close_after_flush(conn, "quit");
	} else {
		conn_write_str(conn, "-ERR unknown command\r\n");
	}
}

static void ts_too_long(struct conn *conn)
{
	conn_write_str(conn, "-ERR line too long\r\n");
}

static void ts_timeout(struct conn *conn)
{
	conn_write_str(conn, "-ERR idle timeout\r\n");
}

static void ts_shutdown(struct conn *conn)
{
	conn_write_str(conn, "-ERR shutting down\r\n");
}

static void ts_close(struct conn *conn) { }

static const struct conn_handlers ts_handlers = {
	.on_connect = ts_connect,
	.on_line = ts_line,
	.on_line_too_long = ts_too_long,
	.on_timeout = ts_timeout,
	.on_shutdown = ts_shutdown,
	.on_close = ts_close,
};

static void usage(void) ATTR_NORETURN;
static void usage(void)
{
	fprintf(stderr, "usage: net-test-server --cert-dir DIR [--plain ADDR]... "
			"[--tls ADDR]... [--max-line N] [--idle-ms N] "
			"[--loops N]\n");
	exit(2);
}

static unsigned parse_uint(const char *s)
{
	uint64_t v;
	if (str_to_uint64(s, UINT32_MAX, &v) < 0)
		usage();
	return (unsigned)v;
}

int main(int argc, char *argv[])
{
	const char *plain[8], *tls_addrs[8], *cert_dir = NULL, *error;
	unsigned nplain = 0, ntls = 0, nloops = 2;
	struct net_service_settings set = {
		.name = "test",
		.handlers = &ts_handlers,
		.too_many_message = "-ERR too many connections\r\n",
	};

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--plain") == 0 && nplain < 8)
			plain[nplain++] = argv[++i];
		else if (strcmp(argv[i], "--tls") == 0 && ntls < 8)
			tls_addrs[ntls++] = argv[++i];
		else if (strcmp(argv[i], "--cert-dir") == 0)
			cert_dir = argv[++i];
		else if (strcmp(argv[i], "--max-line") == 0)
			set.max_line_length = parse_uint(argv[++i]);
		else if (strcmp(argv[i], "--idle-ms") == 0)
			set.idle_timeout_ms = parse_uint(argv[++i]);
		else if (strcmp(argv[i], "--loops") == 0)
			nloops = parse_uint(argv[++i]);
		else
			usage();
	}
	if (cert_dir == NULL || nplain + ntls == 0)
		usage();

	/* Signals go to sigwait() below, not to the loop threads. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	struct tls_ctx *tls = tls_ctx_create_selfsigned(cert_dir, "localhost",
							&error);
	if (tls == NULL)
		i_fatal("TLS: %s", error);
	struct net_loops *loops = net_loops_create(nloops);
	set.tls = tls;
	set.implicit_tls = false;
	struct net_service *svc_plain = net_service_create(&set, &error);
	set.name = "test-tls";
	set.implicit_tls = true;
	struct net_service *svc_tls = net_service_create(&set, &error);
	if (svc_plain == NULL || svc_tls == NULL)
		i_fatal("service: %s", error);
	tls_ctx_unref(&tls);

	struct net_listener *listeners[16];
	unsigned nlisteners = 0;
	struct buf ready = BUF_INIT;
	buf_append_str(&ready, "ready");
	for (unsigned i = 0; i < nplain + ntls; i++) {
		bool is_tls = i >= nplain;
		const char *addr = is_tls ? tls_addrs[i - nplain] : plain[i];
		struct net_listener *l = net_listener_create_str(
			is_tls ? svc_tls : svc_plain, loops, addr, &error);
		if (l == NULL)
			i_fatal("%s: %s", addr, error);
		char str[NET_ADDR_STR_SIZE];
		buf_printf(&ready, " %s=%s", is_tls ? "tls" : "plain",
			   net_addr_str(net_listener_addr(l), str, sizeof(str)));
		listeners[nlisteners++] = l;
	}
	net_loops_start(loops);
	printf("%s\n", buf_cstr(&ready));
	fflush(stdout);
	buf_free(&ready);

	int sig;
	sigwait(&sigs, &sig);
	log_info(NULL, "stopping", "signal=%d", sig);
	for (unsigned i = 0; i < nlisteners; i++)
		net_listener_destroy(&listeners[i]);
	net_loops_stop(loops, 2000);
	net_loops_destroy(&loops);
	net_service_destroy(&svc_plain);
	net_service_destroy(&svc_tls);
	return 0;
}

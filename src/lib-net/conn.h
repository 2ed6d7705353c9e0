/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib.h"
#include "net-addr.h"

/* One client connection on an I/O loop. All functions below must be called
 * on the connection's loop thread (from its handlers, or from a function
 * posted with net_loop_post(conn_loop(conn), ...)).
 *
 * Input is delivered in line mode by default: one on_line() per line.
 * conn_read_raw() switches to raw mode for an exact byte count. Handlers
 * are never re-entered: a handler's own calls (conn_write, conn_pause,
 * conn_close...) take effect when appropriate but never call back into a
 * handler before it returns.
 *
 * A protocol waiting for async work (sketch):
 *
 *   static void cmd_done(void *ctx)           // runs on conn's loop
 *   {
 *           struct job *job = ctx;
 *           struct conn *conn = job->conn;
 *           if (!conn_is_closed(conn)) {
 *                   conn_write_str(conn, "250 2.0.0 Ok\r\n");
 *                   conn_resume(conn);       // next pipelined command
 *           }
 *           conn_unref(&job->conn);
 *           free(job);
 *   }
 *   ... in on_line():
 *           conn_pause(conn);
 *           conn_ref(conn);
 *           job->conn = conn;
 *           struct completion_target t =
 *                   net_loop_completion_target(conn_loop(conn));
 *           workpool_submit(pool, cmd_work, cmd_done, job, &t);
 */
struct conn;
struct net_loop;
struct net_service;

struct conn_handlers {
	/* A new connection, after the TLS handshake on implicit-TLS
	 * services: typically writes the greeting. Required. */
	void (*on_connect)(struct conn *conn);
	/* One line, without its line end. crlf is true when it ended in
	 * CRLF, false for a bare LF (RFC 5321 section 2.3.8 / SMTP
	 * smuggling); a CR not followed by LF stays in the data. line is
	 * valid only during the call. Required. */
	void (*on_line)(struct conn *conn, const uint8_t *line, size_t len,
			bool crlf);
	/* A line exceeded the maximum length: its bytes up to and including
	 * the next LF are discarded (never delivered), then line mode goes
	 * on. Called once per over-long line, when detected. NULL = close
	 * the connection. */
	void (*on_line_too_long)(struct conn *conn);
	/* Raw mode (conn_read_raw): the next piece of the requested bytes;
	 * conn_raw_remaining() tells how many are still to come (0 on the
	 * last piece, after which line mode resumes). Required if
	 * conn_read_raw() is used. */
	void (*on_raw)(struct conn *conn, const uint8_t *data, size_t len);
	/* conn_starttls() finished: ok = handshake succeeded. On failure the
	 * connection is closed after this returns. Optional. */
	void (*on_tls_done)(struct conn *conn, bool ok);
	/* Idle timeout (no input for the idle timeout while waiting for it,
	 * or output stuck that long). The handler may write a last message
	 * (e.g. "421 4.4.2 Idle timeout\r\n"); the connection is then closed
	 * after flushing. NULL = close silently. */
	void (*on_timeout)(struct conn *conn);
	/* Output dropped below the low watermark after having been above
	 * the high one: a protocol streaming a big response may write more.
	 * Optional. */
	void (*on_write_ready)(struct conn *conn);
	/* net_loops_stop() has begun. Optional; the connection is closed
	 * once the loop's holds are gone. */
	void (*on_shutdown)(struct conn *conn);
	/* Exactly once for every connection that got on_connect() (a failed
	 * implicit-TLS handshake gets neither), whatever ended it; it runs
	 * from the loop, never inside a conn_*() call. The protocol frees its
	 * session here. The conn stays valid during the call and afterwards
	 * only for holders of a conn_ref(); writes no longer have effect.
	 * Required. */
	void (*on_close)(struct conn *conn);
};

/* The protocol's own session pointer. */
void conn_set_context(struct conn *conn, void *context);
void *conn_get_context(const struct conn *conn);
/* net_service_settings.context of the service that accepted conn. */
void *conn_service_context(const struct conn *conn);
struct net_service *conn_service(const struct conn *conn);
struct net_loop *conn_loop(const struct conn *conn);

/* The session id (12 chars), logged with every event of the connection;
 * protocols pass it to log_*() as sid. */
const char *conn_sid(const struct conn *conn);
const struct net_addr *conn_peer_addr(const struct conn *conn);
/* Peer IP as text ("192.0.2.1", "2001:db8::1"). */
const char *conn_peer_ip(const struct conn *conn);
unsigned conn_peer_port(const struct conn *conn);
const struct net_addr *conn_local_addr(const struct conn *conn);
unsigned conn_local_port(const struct conn *conn);

/* --- output --- */
/* Queues bytes for the peer. Never blocks; see the watermarks in
 * net_service_settings: above the high one, input stops being read and
 * delivered until the output drains below the low one. A no-op unless the
 * connection is open: not during a TLS handshake, not once closing. */
void conn_write(struct conn *conn, const void *data, size_t len);
void conn_write_str(struct conn *conn, const char *str);
void conn_printf(struct conn *conn, const char *fmt, ...) ATTR_FORMAT(2, 3);
/* Bytes queued and not yet handed to the kernel. */
size_t conn_output_pending(const struct conn *conn);

/* --- input --- */
/* Stops delivering input (and reading it) until conn_resume(). Lines
 * already buffered are kept and delivered, in order, after resume. Use it
 * while a command waits for async work (a store commit) so pipelined
 * commands wait too. Pauses do not nest. */
void conn_pause(struct conn *conn);
/* Resumes delivery; buffered input is processed from the loop shortly
 * after (never inline in this call). */
void conn_resume(struct conn *conn);
bool conn_is_paused(const struct conn *conn);
/* Delivers exactly the next n bytes (n > 0) through on_raw() in one or
 * more pieces, then returns to line mode. Call from on_line() (e.g. after
 * "BDAT 1000" or an IMAP literal "{1000}"), or while paused. */
void conn_read_raw(struct conn *conn, uint64_t n);
uint64_t conn_raw_remaining(const struct conn *conn);
void conn_set_max_line_length(struct conn *conn, size_t max);
/* 0 = no idle timeout. Restarts the timer. TLS handshakes are limited to
 * 30 s regardless. */
void conn_set_idle_timeout(struct conn *conn, unsigned timeout_ms);

/* --- TLS --- */
/* STARTTLS/STLS: the protocol writes its "go ahead" reply first, then calls
 * this. Everything the client sent after the STARTTLS line and before the
 * handshake is discarded (RFC 3207 section 4.2: no command injection), the
 * server handshake starts on the existing socket, and on_tls_done() reports
 * the result. Input stays paused until then. Returns -1 when the service
 * has no TLS context or the connection is already TLS (nothing written:
 * the protocol should have checked conn_can_starttls()). */
int conn_starttls(struct conn *conn);
bool conn_can_starttls(const struct conn *conn);
bool conn_is_tls(const struct conn *conn);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384"; NULL when not TLS. */
const char *conn_tls_version(const struct conn *conn);
const char *conn_tls_cipher(const struct conn *conn);
/* Keying material exporter (RFC 5705/8446) with an empty context, e.g.
 * label "EXPORTER-Channel-Binding" and len 32 for tls-exporter channel
 * binding (RFC 9266). Returns 0, or -1 when not TLS or on error. */
int conn_tls_exporter(struct conn *conn, const char *label, uint8_t *out,
		      size_t len);
#define CONN_TLS_EXPORTER_CHANNEL_BINDING "EXPORTER-Channel-Binding"

/* --- closing and lifetime --- */
/* Closes now: pending output is dropped. reason goes to the close log line
 * (e.g. "quit", "protocol error"). on_close() runs later from the loop,
 * not inside this call. Idempotent. */
void conn_close(struct conn *conn, const char *reason);
/* Stops reading, flushes queued output, then closes (with a short linger
 * so a pipelined client still reads our last reply). */
void conn_close_after_flush(struct conn *conn, const char *reason);
/* True once conn_close*() was called or the peer went away. */
bool conn_is_closed(const struct conn *conn);

/* References keep the struct alive (not the connection) past on_close, for
 * async work that completes later: take one before submitting the work,
 * and in the completion check conn_is_closed() before touching the
 * session, then conn_unref(). A reference is also a loop hold (see
 * net_loops_stop()). Loop thread only. */
void conn_ref(struct conn *conn);
void conn_unref(struct conn **conn);

/* Byte counters (after TLS decryption). */
uint64_t conn_bytes_in(const struct conn *conn);
uint64_t conn_bytes_out(const struct conn *conn);

#endif

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "tls.h"
#include "conn.h"
#include "net-loop.h"
#include "net-private.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

/* Largest piece handed to on_raw() at once. */
#define CONN_RAW_PIECE_MAX 16384
/* After a graceful close we keep reading (and discarding) for this long so
 * that our last reply is not destroyed by a TCP reset caused by unread
 * pipelined input. */
#define CONN_LINGER_MS 2000
/* The default of net_service_settings.handshake_timeout_ms. */
#define CONN_HANDSHAKE_TIMEOUT_MS 30000

enum conn_state {
	CONN_STATE_HANDSHAKE,	/* implicit TLS handshake running */
	CONN_STATE_OPEN,
	CONN_STATE_STARTTLS,	/* STARTTLS handshake running */
	CONN_STATE_FLUSHING,	/* conn_close_after_flush() */
	CONN_STATE_CLOSED,	/* waiting for the deferred teardown */
	CONN_STATE_LINGER,	/* on_close done, draining the socket */
	CONN_STATE_DEAD,	/* only references keep the struct */
};

struct conn {
	struct conn *prev, *next;
	struct net_loop *loop;
	struct net_service *service;
	const struct conn_handlers *h;
	void *context;

	int fd;
	struct bufferevent *bev;      /* what we read and write */
	struct bufferevent *bev_sock; /* plain socket bev under a filter */
	SSL *ssl;
	struct event *defer_ev;	/* deferred processing and teardown */
	struct event *linger_ev;
	int linger_fd;
	int64_t linger_start_ms;
	struct evbuffer_cb_entry *sock_out_cb;
	struct event *greet_ev;	/* greeting delay running */
	struct event *line_ev;	/* line deadline */

	enum conn_state state;
	char sid[LOG_SID_SIZE];
	struct net_addr peer, local;
	char peer_ip[NET_ADDR_STR_SIZE];
	char close_reason[64];
	int64_t start_ms;

	size_t max_line;
	unsigned idle_ms;
	unsigned line_ms;
	size_t hiwat, lowat;
	uint64_t raw_remaining;
	size_t raw_progress;	/* raw bytes since the deadline restarted */
	uint64_t bytes_in, bytes_out;
	unsigned refcount;	/* conn_ref() */
	unsigned busy;		/* inside our own processing */

	bool connected:1;	/* on_connect was called */
	bool paused:1;
	bool out_blocked:1;
	bool skipping:1;	/* discarding the rest of a long line */
	bool peer_eof:1;
	bool greet_wait:1;	/* pre-greeting check in progress */
};

static void conn_teardown(struct conn *conn);
static void conn_process_input(struct conn *conn);
static void conn_apply_timeouts(struct conn *conn);
static bool conn_check_output(struct conn *conn);

struct conn *conn_list_next(struct conn *conn) { return conn->next; }
struct conn *conn_list_prev(struct conn *conn) { return conn->prev; }
void conn_list_set_next(struct conn *conn, struct conn *next) { conn->next = next; }
void conn_list_set_prev(struct conn *conn, struct conn *prev) { conn->prev = prev; }

static void conn_schedule(struct conn *conn)
{
	event_active(conn->defer_ev, 0, 0);
}

static void conn_free_if_unused(struct conn *conn)
{
	if (conn->state != CONN_STATE_DEAD || conn->refcount > 0 ||
	    conn->busy > 0)
		return;
	event_free(conn->defer_ev);
	free(conn);
}

static size_t conn_output_len(const struct conn *conn)
{
	size_t n;

	if (conn->bev == NULL)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(conn->bev));
	if (conn->bev_sock != NULL && conn->bev_sock != conn->bev)
		n += evbuffer_get_length(bufferevent_get_output(conn->bev_sock));
	return n;
}

static void conn_update_read(struct conn *conn)
{
	bool want;

	switch (conn->state) {
	case CONN_STATE_HANDSHAKE:
	case CONN_STATE_STARTTLS:
		want = true;
		break;
	case CONN_STATE_OPEN:
		want = !conn->paused && !conn->out_blocked && !conn->peer_eof;
		break;
	default:
		want = false;
		break;
	}
	if (want)
		bufferevent_enable(conn->bev, EV_READ);
	else
		bufferevent_disable(conn->bev, EV_READ);
}

static void conn_set_close_reason(struct conn *conn, const char *reason)
{
	if (conn->close_reason[0] == '\0')
		snprintf(conn->close_reason, sizeof(conn->close_reason), "%s",
			 reason);
}

static void conn_log_tls(struct conn *conn)
{
	log_info(conn->sid, "tls", "version=%s cipher=%s",
		 SSL_get_version(conn->ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(conn->ssl)));
}

static const char *conn_bev_error(struct conn *conn, short what)
{
	static __thread char err[300];
	unsigned long e;

	if (conn->ssl != NULL &&
	    (e = bufferevent_get_openssl_error(conn->bev)) != 0) {
		char ebuf[256];
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(err, sizeof(err), "tls: %s", ebuf);
		while (bufferevent_get_openssl_error(conn->bev) != 0) ;
	} else if (EVUTIL_SOCKET_ERROR() != 0) {
		snprintf(err, sizeof(err), "%s",
			 strerror(EVUTIL_SOCKET_ERROR()));
	} else {
		snprintf(err, sizeof(err), "connection error");
	}
	return err;
}

/* --- libevent callbacks --- */

static void conn_greet_talker(struct conn *conn)
{
	const char *msg = net_service_greeting_reject(conn->service);

	log_info(conn->sid, "pregreet_reject", "ip=%s bytes=%zu",
		 conn->peer_ip,
		 evbuffer_get_length(bufferevent_get_input(conn->bev)));
	net_service_greeting_result(conn->service, &conn->peer, false);
	event_del(conn->greet_ev);
	conn->greet_wait = false;
	bufferevent_write(conn->bev, msg, strlen(msg));
	conn->bytes_out += strlen(msg);
	conn_close_after_flush(conn, "talked before greeting");
}

static void conn_read_cb(struct bufferevent *bev, void *ctx)
{
	struct conn *conn = ctx;

	if (conn->state != CONN_STATE_OPEN)
		return;
	if (conn->greet_wait) {
		conn_greet_talker(conn);
		return;
	}
	conn_process_input(conn);
}

static void conn_write_cb(struct bufferevent *bev, void *ctx)
{
	struct conn *conn = ctx;

	if (conn->state == CONN_STATE_FLUSHING) {
		if (conn_output_len(conn) == 0)
			conn_schedule(conn);
		return;
	}
	if (conn_check_output(conn) && conn->state == CONN_STATE_OPEN)
		conn_schedule(conn);
}

/* The filter owns the socket bev's callbacks, so under STARTTLS we learn of
 * its output draining through the evbuffer itself. */
static void conn_sock_output_cb(struct evbuffer *buf,
				const struct evbuffer_cb_info *info, void *ctx)
{
	struct conn *conn = ctx;

	size_t len = evbuffer_get_length(buf);

	if (info->n_deleted == 0)
		return;
	if ((conn->state == CONN_STATE_FLUSHING && len == 0) ||
	    (conn->out_blocked && len <= conn->lowat))
		conn_schedule(conn);
}

static void conn_handshake_done(struct conn *conn)
{
	conn_log_tls(conn);
	if (conn->state == CONN_STATE_HANDSHAKE) {
		conn->state = CONN_STATE_OPEN;
		conn_apply_timeouts(conn);
		conn->connected = true;
		conn->busy++;
		conn->h->on_connect(conn);
		conn->busy--;
	} else {
		conn->state = CONN_STATE_OPEN;
		conn_apply_timeouts(conn);
		if (conn->h->on_tls_done != NULL) {
			conn->busy++;
			conn->h->on_tls_done(conn, true);
			conn->busy--;
		}
	}
	if (conn->state == CONN_STATE_OPEN) {
		conn_update_read(conn);
		conn_process_input(conn);
	}
}

static void conn_handshake_failed(struct conn *conn, const char *error)
{
	char q[256];

	log_info(conn->sid, "tls_failed", "error=%s",
		 log_quote(q, sizeof(q), error));
	if (conn->state == CONN_STATE_STARTTLS &&
	    conn->h->on_tls_done != NULL) {
		conn->busy++;
		conn->h->on_tls_done(conn, false);
		conn->busy--;
	}
	conn_close(conn, "tls handshake failed");
}

static void conn_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct conn *conn = ctx;

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		if (conn->state == CONN_STATE_HANDSHAKE ||
		    conn->state == CONN_STATE_STARTTLS)
			conn_handshake_done(conn);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		switch (conn->state) {
		case CONN_STATE_HANDSHAKE:
		case CONN_STATE_STARTTLS:
			conn_handshake_failed(conn, "handshake timeout");
			break;
		case CONN_STATE_OPEN:
			log_info(conn->sid, "idle_timeout", "ms=%u",
				 conn->idle_ms);
			if (conn->h->on_timeout != NULL && conn->connected) {
				conn->busy++;
				conn->h->on_timeout(conn);
				conn->busy--;
			}
			conn_close_after_flush(conn, "idle timeout");
			break;
		case CONN_STATE_FLUSHING:
			conn_close(conn, "flush timeout");
			break;
		default:
			break;
		}
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0) {
		bool eof = (what & BEV_EVENT_EOF) != 0;
		const char *error = eof ? "connection closed by peer" :
					  conn_bev_error(conn, what);
		switch (conn->state) {
		case CONN_STATE_HANDSHAKE:
		case CONN_STATE_STARTTLS:
			conn_handshake_failed(conn, error);
			break;
		case CONN_STATE_OPEN:
			if (eof && conn->greet_wait) {
				conn_close(conn, "closed before greeting");
			} else if (eof) {
				/* Lines already received still get their
				 * answers (e.g. a paused command). */
				conn->peer_eof = true;
				conn_update_read(conn);
				conn_process_input(conn);
			} else {
				conn_close(conn, error);
			}
			break;
		case CONN_STATE_FLUSHING:
			conn_close(conn, error);
			break;
		default:
			break;
		}
	}
}

static void conn_linger_cb(evutil_socket_t fd, short what, void *ctx);

static void conn_defer_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct conn *conn = ctx;

	switch (conn->state) {
	case CONN_STATE_OPEN:
		conn_check_output(conn);
		conn_process_input(conn);
		break;
	case CONN_STATE_FLUSHING:
		if (conn_output_len(conn) == 0)
			conn_teardown(conn);
		break;
	case CONN_STATE_CLOSED:
		conn_teardown(conn);
		break;
	case CONN_STATE_DEAD:
		conn_free_if_unused(conn);
		break;
	default:
		break;
	}
}

/* --- creation --- */

static void conn_connected(struct conn *conn)
{
	conn->connected = true;
	conn->busy++;
	conn->h->on_connect(conn);
	conn->busy--;
	conn_update_read(conn);
	conn_free_if_unused(conn);
}

static void conn_greet_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct conn *conn = ctx;

	if (!conn->greet_wait || conn->state != CONN_STATE_OPEN)
		return;
	conn->greet_wait = false;
	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0) {
		/* Arrived with the timer in the same loop turn. */
		conn_greet_talker(conn);
		return;
	}
	net_service_greeting_result(conn->service, &conn->peer, true);
	log_info(conn->sid, "pregreet_pass", "ip=%s", conn->peer_ip);
	conn_connected(conn);
}

void conn_create_accepted(struct net_loop *loop, struct net_service *service,
			  int fd, const struct net_addr *peer)
{
	const struct net_service_settings *set =
		net_service_get_settings(service);
	struct event_base *base = net_loop_base(loop);
	struct conn *conn = i_new(struct conn, 1);
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	int one = 1;

	/* Replies are written whole per loop iteration, so Nagle would only
	 * add delayed-ACK stalls to pipelined dialogues; keepalive finds
	 * peers that vanished during a long IDLE. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	conn->loop = loop;
	conn->service = service;
	conn->h = set->handlers;
	conn->fd = fd;
	conn->linger_fd = -1;
	conn->peer = *peer;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		net_addr_from_sockaddr(&conn->local, (void *)&ss, sslen);
	net_addr_ip_str(peer, conn->peer_ip, sizeof(conn->peer_ip));
	log_session_id_new(conn->sid);
	conn->start_ms = time_mono_ms();
	conn->max_line = set->max_line_length;
	conn->idle_ms = set->idle_timeout_ms;
	conn->line_ms = set->line_timeout_ms;
	conn->hiwat = set->output_high_watermark;
	conn->lowat = set->output_low_watermark;
	conn->defer_ev = event_new(base, -1, 0, conn_defer_cb, conn);
	net_loop_conn_attach(loop, conn);

	log_info(conn->sid, "connect", "service=%s ip=%s port=%u local_port=%u",
		 set->name, conn->peer_ip, net_addr_port(peer),
		 net_addr_port(&conn->local));

	int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	if (set->implicit_tls) {
		struct tls_ctx *tls = net_service_get_tls(service);
		if (tls != NULL)
			conn->ssl = tls_ctx_new_ssl(tls);
		tls_ctx_unref(&tls);
		if (conn->ssl == NULL) {
			log_error(conn->sid, "tls_failed", "error=%s",
				  tls_error_str("no TLS context"));
			conn->bev = bufferevent_socket_new(base, fd, opts);
			conn->state = CONN_STATE_OPEN;
			conn_close(conn, "tls unavailable");
			return;
		}
		conn->bev = bufferevent_openssl_socket_new(
			base, fd, conn->ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
		bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
		conn->state = CONN_STATE_HANDSHAKE;
	} else {
		conn->bev = bufferevent_socket_new(base, fd, opts);
		conn->state = CONN_STATE_OPEN;
	}
	if (conn->bev == NULL)
		i_fatal("bufferevent creation failed");
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	bufferevent_setwatermark(conn->bev, EV_WRITE, conn->lowat, 0);
	conn_apply_timeouts(conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);

	if (conn->state == CONN_STATE_OPEN &&
	    net_service_greeting_needed(service, peer)) {
		/* Reading stays on: any byte before the greeting is the
		 * talker's verdict (conn_read_cb). */
		unsigned ms = set->greeting_delay_ms;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		conn->greet_wait = true;
		conn->greet_ev = evtimer_new(base, conn_greet_cb, conn);
		evtimer_add(conn->greet_ev, &tv);
		log_info(conn->sid, "pregreet_wait", "ms=%u", ms);
		return;
	}
	if (conn->state == CONN_STATE_OPEN)
		conn_connected(conn);
}

/* --- input --- */

static void conn_line_too_long(struct conn *conn)
{
	log_info(conn->sid, "line_too_long", "max=%zu", conn->max_line);
	if (conn->h->on_line_too_long == NULL)
		conn_close(conn, "line too long");
	else
		conn->h->on_line_too_long(conn);
}

/* Returns true when output just dropped below the low watermark. */
static bool conn_check_output(struct conn *conn)
{
	if (!conn->out_blocked || conn_output_len(conn) > conn->lowat)
		return false;
	conn->out_blocked = false;
	conn_update_read(conn);
	if (conn->h->on_write_ready != NULL && conn->state == CONN_STATE_OPEN) {
		conn->busy++;
		conn->h->on_write_ready(conn);
		conn->busy--;
	}
	return true;
}

static void conn_line_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct conn *conn = ctx;

	/* Paused from outside the input path (a completion): waiting on
	 * us, not the peer; the deadline restarts once input flows. */
	if (conn->state != CONN_STATE_OPEN || conn->paused ||
	    conn->out_blocked)
		return;
	log_info(conn->sid, "line_timeout", "ms=%u", conn->line_ms);
	if (conn->h->on_timeout != NULL && conn->connected) {
		conn->busy++;
		conn->h->on_timeout(conn);
		conn->busy--;
	}
	conn_close_after_flush(conn, "line timeout");
}

/* A partial line left in the input starts the line deadline, and so does
 * raw data still owed; a new line begun, or every CONN_RAW_PIECE_MAX raw
 * bytes, restarts it (so a literal must come at 16 KB per deadline at
 * least); waiting on ourselves (paused, output blocked) stops it. */
static void conn_update_line_timer(struct conn *conn, bool line_done)
{
	bool partial = conn->state == CONN_STATE_OPEN && !conn->paused &&
		       !conn->out_blocked && conn->line_ms > 0 &&
		       (conn->raw_remaining > 0 || conn->skipping ||
			evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0);

	if (!partial) {
		if (conn->line_ev != NULL)
			event_del(conn->line_ev);
		return;
	}
	if (conn->line_ev == NULL)
		conn->line_ev = evtimer_new(net_loop_base(conn->loop),
					    conn_line_cb, conn);
	if (line_done || !evtimer_pending(conn->line_ev, NULL)) {
		struct timeval tv = {conn->line_ms / 1000,
				     (conn->line_ms % 1000) * 1000};
		evtimer_add(conn->line_ev, &tv);
	}
}

static void conn_process_input(struct conn *conn)
{
	struct evbuffer *input;
	struct buf *scratch = net_loop_scratch(conn->loop);
	struct evbuffer_ptr p, end;
	bool line_done = false;

	if (conn->greet_wait)
		return;
	if (conn->busy > 0) {
		/* Called from inside a handler: never re-enter it. */
		conn_schedule(conn);
		return;
	}
	conn->busy++;
	input = bufferevent_get_input(conn->bev);
	while (conn->state == CONN_STATE_OPEN && !conn->paused &&
	       !conn->out_blocked) {
		size_t avail = evbuffer_get_length(input);
		if (avail == 0)
			break;

		if (conn->raw_remaining > 0) {
			size_t n = MIN(avail, CONN_RAW_PIECE_MAX);
			if (n > conn->raw_remaining)
				n = (size_t)conn->raw_remaining;
			buf_reset(scratch);
			buf_reserve(scratch, n);
			evbuffer_remove(input, scratch->data, n);
			conn->raw_remaining -= n;
			conn->bytes_in += n;
			conn->raw_progress += n;
			if (conn->raw_progress >= CONN_RAW_PIECE_MAX ||
			    conn->raw_remaining == 0) {
				conn->raw_progress = 0;
				line_done = true;
			}
			conn->h->on_raw(conn, scratch->data, n);
			continue;
		}
		if (conn->skipping) {
			p = evbuffer_search(input, "\n", 1, NULL);
			if (p.pos < 0) {
				evbuffer_drain(input, avail);
				conn->bytes_in += avail;
				break;
			}
			evbuffer_drain(input, (size_t)p.pos + 1);
			conn->bytes_in += (size_t)p.pos + 1;
			conn->skipping = false;
			continue;
		}

		/* Look no further than the longest allowed line plus CRLF, so
		 * a peer cannot make us scan an unbounded buffer. */
		size_t limit = i_size_add(conn->max_line, 2);
		if (avail > limit) {
			evbuffer_ptr_set(input, &end, limit, EVBUFFER_PTR_SET);
			p = evbuffer_search_range(input, "\n", 1, NULL, &end);
		} else {
			p = evbuffer_search(input, "\n", 1, NULL);
		}
		if (p.pos < 0) {
			if (avail >= limit) {
				/* Only what was scanned: the LF ending this
				 * line may follow in the same buffer. */
				evbuffer_drain(input, limit);
				conn->bytes_in += limit;
				conn->skipping = true;
				conn_line_too_long(conn);
				continue;
			}
			break;
		}
		size_t total = (size_t)p.pos + 1, len = (size_t)p.pos;
		buf_reset(scratch);
		buf_reserve(scratch, total);
		evbuffer_remove(input, scratch->data, total);
		conn->bytes_in += total;
		bool crlf = len > 0 && scratch->data[len - 1] == '\r';
		if (crlf)
			len--;
		line_done = true;
		if (len > conn->max_line) {
			conn_line_too_long(conn);
			continue;
		}
		conn->h->on_line(conn, scratch->data, len, crlf);
	}
	conn_update_line_timer(conn, line_done);
	if (conn->state == CONN_STATE_OPEN && conn->peer_eof &&
	    !conn->paused && !conn->out_blocked) {
		/* Whatever is left is an unterminated line: nothing more can
		 * come, answer what we have and go. */
		conn_close_after_flush(conn, "connection closed by peer");
	}
	conn->busy--;
}

void conn_pause(struct conn *conn)
{
	if (conn->paused)
		return;
	conn->paused = true;
	if (conn->state == CONN_STATE_OPEN)
		conn_update_read(conn);
}

void conn_resume(struct conn *conn)
{
	if (!conn->paused)
		return;
	conn->paused = false;
	if (conn->state == CONN_STATE_OPEN) {
		conn_update_read(conn);
		conn_schedule(conn);
	}
}

bool conn_is_paused(const struct conn *conn)
{
	return conn->paused;
}

void conn_read_raw(struct conn *conn, uint64_t n)
{
	i_assert(n > 0);
	i_assert(conn->h->on_raw != NULL);
	conn->raw_remaining = n;
	conn->raw_progress = 0;
	if (conn->state == CONN_STATE_OPEN)
		conn_schedule(conn);
}

uint64_t conn_raw_remaining(const struct conn *conn)
{
	return conn->raw_remaining;
}

void conn_set_max_line_length(struct conn *conn, size_t max)
{
	i_assert(max > 0);
	conn->max_line = max;
}

static void conn_apply_timeouts(struct conn *conn)
{
	unsigned timeout_ms = conn->idle_ms;

	if (conn->state == CONN_STATE_HANDSHAKE ||
	    conn->state == CONN_STATE_STARTTLS) {
		unsigned hs_ms = net_service_get_settings(conn->service)
					 ->handshake_timeout_ms;
		if (hs_ms == 0)
			hs_ms = CONN_HANDSHAKE_TIMEOUT_MS;
		if (timeout_ms == 0 || timeout_ms > hs_ms)
			timeout_ms = hs_ms;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	if (timeout_ms == 0)
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
	else
		bufferevent_set_timeouts(conn->bev, &tv, &tv);
}

void conn_set_idle_timeout(struct conn *conn, unsigned timeout_ms)
{
	conn->idle_ms = timeout_ms;
	if (conn->bev != NULL && conn->state < CONN_STATE_CLOSED)
		conn_apply_timeouts(conn);
}

/* --- output --- */

void conn_write(struct conn *conn, const void *data, size_t len)
{
	if (conn->state != CONN_STATE_OPEN || len == 0)
		return;
	bufferevent_write(conn->bev, data, len);
	conn->bytes_out += len;
	if (!conn->out_blocked && conn_output_len(conn) > conn->hiwat) {
		conn->out_blocked = true;
		conn_update_read(conn);
	}
}

void conn_write_str(struct conn *conn, const char *str)
{
	conn_write(conn, str, strlen(str));
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list args;

	va_start(args, fmt);
	buf_vprintf(&b, fmt, args);
	va_end(args);
	conn_write(conn, b.data, b.len);
	buf_free(&b);
}

size_t conn_output_pending(const struct conn *conn)
{
	return conn_output_len(conn);
}

/* --- TLS --- */

bool conn_can_starttls(const struct conn *conn)
{
	if (conn->state != CONN_STATE_OPEN || conn->ssl != NULL)
		return false;
	struct tls_ctx *tls = net_service_get_tls(conn->service);
	bool ok = tls != NULL;
	tls_ctx_unref(&tls);
	return ok;
}

int conn_starttls(struct conn *conn)
{
	struct event_base *base = net_loop_base(conn->loop);
	struct bufferevent *filter;
	struct tls_ctx *tls;
	SSL *ssl = NULL;

	if (conn->state != CONN_STATE_OPEN || conn->ssl != NULL)
		return -1;
	tls = net_service_get_tls(conn->service);
	if (tls == NULL)
		return -1;
	ssl = tls_ctx_new_ssl(tls);
	tls_ctx_unref(&tls);
	if (ssl == NULL) {
		log_error(conn->sid, "tls_failed", "error=%s",
			  tls_error_str("SSL_new failed"));
		return -1;
	}

	/* RFC 3207 section 4.2: whatever the client pipelined after the
	 * STARTTLS command was sent in plaintext and must not be taken as
	 * coming from inside the TLS session (command injection). */
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	size_t n = evbuffer_get_length(in);
	if (n > 0) {
		evbuffer_drain(in, n);
		conn->bytes_in += n;
		log_info(conn->sid, "starttls_discard", "bytes=%zu", n);
	}
	conn->raw_remaining = 0;
	conn->skipping = false;

	conn->bev_sock = conn->bev;
	bufferevent_set_timeouts(conn->bev_sock, NULL, NULL);
	filter = bufferevent_openssl_filter_new(base, conn->bev_sock, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE |
							BEV_OPT_DEFER_CALLBACKS);
	if (filter == NULL)
		i_fatal("bufferevent_openssl_filter_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	conn->bev = filter;
	conn->ssl = ssl;
	conn->state = CONN_STATE_STARTTLS;
	conn->sock_out_cb = evbuffer_add_cb(
		bufferevent_get_output(conn->bev_sock), conn_sock_output_cb,
		conn);
	bufferevent_setcb(filter, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	bufferevent_setwatermark(filter, EV_WRITE, conn->lowat, 0);
	conn_apply_timeouts(conn);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
	return 0;
}

bool conn_is_tls(const struct conn *conn)
{
	return conn->ssl != NULL && SSL_is_init_finished(conn->ssl);
}

const char *conn_tls_version(const struct conn *conn)
{
	return conn_is_tls(conn) ? SSL_get_version(conn->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *conn)
{
	if (!conn_is_tls(conn))
		return NULL;
	return SSL_CIPHER_get_name(SSL_get_current_cipher(conn->ssl));
}

int conn_tls_exporter(struct conn *conn, const char *label, uint8_t *out,
		      size_t len)
{
	static const unsigned char empty[1] = {0};

	if (!conn_is_tls(conn))
		return -1;
	/* RFC 9266 section 2: a zero-length context, not an absent one. */
	if (SSL_export_keying_material(conn->ssl, out, len, label,
				       strlen(label), empty, 0, 1) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* --- closing --- */

void conn_close(struct conn *conn, const char *reason)
{
	if (conn->state >= CONN_STATE_CLOSED)
		return;
	conn_set_close_reason(conn, reason);
	conn->state = CONN_STATE_CLOSED;
	bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	conn_schedule(conn);
}

void conn_close_after_flush(struct conn *conn, const char *reason)
{
	if (conn->state >= CONN_STATE_FLUSHING)
		return;
	if (conn->state != CONN_STATE_OPEN) {
		conn_close(conn, reason);
		return;
	}
	conn_set_close_reason(conn, reason);
	conn->state = CONN_STATE_FLUSHING;
	bufferevent_disable(conn->bev, EV_READ);
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	bufferevent_enable(conn->bev, EV_WRITE);
	conn_schedule(conn);
}

bool conn_is_closed(const struct conn *conn)
{
	return conn->state >= CONN_STATE_FLUSHING;
}

static void conn_finish(struct conn *conn)
{
	conn->state = CONN_STATE_DEAD;
	net_loop_conn_detach(conn->loop, conn);
	conn_free_if_unused(conn);
}

static void conn_linger_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct conn *conn = ctx;
	char discard[4096];

	if ((what & EV_READ) != 0 &&
	    time_mono_ms() - conn->linger_start_ms < CONN_LINGER_MS) {
		ssize_t ret = read(fd, discard, sizeof(discard));
		if (ret > 0 || (ret < 0 && (errno == EAGAIN || errno == EINTR)))
			return;
	}
	event_free(conn->linger_ev);
	conn->linger_ev = NULL;
	close(conn->linger_fd);
	conn->linger_fd = -1;
	conn_finish(conn);
}

static void conn_teardown(struct conn *conn)
{
	bool graceful = conn->state == CONN_STATE_FLUSHING;
	char q[100];

	if (conn->greet_ev != NULL) {
		event_free(conn->greet_ev);
		conn->greet_ev = NULL;
	}
	if (conn->line_ev != NULL) {
		event_free(conn->line_ev);
		conn->line_ev = NULL;
	}

	net_service_conn_release(conn->service, &conn->peer);
	log_info(conn->sid, "close",
		 "ip=%s port=%u local_port=%u reason=%s bytes_in=%llu "
		 "bytes_out=%llu duration_ms=%lld",
		 conn->peer_ip, net_addr_port(&conn->peer),
		 net_addr_port(&conn->local),
		 log_quote(q, sizeof(q), conn->close_reason),
		 (unsigned long long)conn->bytes_in,
		 (unsigned long long)conn->bytes_out,
		 (long long)(time_mono_ms() - conn->start_ms));

	if (graceful) {
		conn->linger_fd = fcntl(conn->fd, F_DUPFD_CLOEXEC, 0);
		if (conn->ssl != NULL && SSL_is_init_finished(conn->ssl)) {
			/* close_notify, best effort: the socket is
			 * non-blocking and we do not wait for the peer's. */
			(void)SSL_shutdown(conn->ssl);
			if (conn->bev_sock != NULL)
				(void)evbuffer_write(bufferevent_get_output(
							     conn->bev_sock),
						     conn->fd);
			ERR_clear_error();
		}
	}
	if (conn->sock_out_cb != NULL) {
		evbuffer_remove_cb_entry(bufferevent_get_output(conn->bev_sock),
					 conn->sock_out_cb);
		conn->sock_out_cb = NULL;
	}
	bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
	/* Frees the filter, the socket bev under it, the SSL and the fd. */
	bufferevent_free(conn->bev);
	conn->bev = conn->bev_sock = NULL;
	conn->ssl = NULL;
	conn->fd = -1;

	if (conn->linger_fd >= 0 && shutdown(conn->linger_fd, SHUT_WR) == 0) {
		struct timeval tv = {CONN_LINGER_MS / 1000,
				     (CONN_LINGER_MS % 1000) * 1000};
		conn->state = CONN_STATE_LINGER;
		conn->linger_start_ms = time_mono_ms();
		conn->linger_ev = event_new(net_loop_base(conn->loop),
					    conn->linger_fd,
					    EV_READ | EV_PERSIST,
					    conn_linger_cb, conn);
		event_add(conn->linger_ev, &tv);
	} else if (conn->linger_fd >= 0) {
		close(conn->linger_fd);
		conn->linger_fd = -1;
	}

	if (conn->connected) {
		conn->busy++;
		conn->h->on_close(conn);
		conn->busy--;
	}
	if (conn->state != CONN_STATE_LINGER)
		conn_finish(conn);
}

void conn_loop_shutdown(struct conn *conn)
{
	if (conn->state == CONN_STATE_OPEN && conn->connected &&
	    conn->h->on_shutdown != NULL) {
		conn->busy++;
		conn->h->on_shutdown(conn);
		conn->busy--;
	}
}

/* --- lifetime and accessors --- */

void conn_ref(struct conn *conn)
{
	conn->refcount++;
	net_loop_hold(conn->loop);
}

void conn_unref(struct conn **_conn)
{
	struct conn *conn = *_conn;

	*_conn = NULL;
	i_assert(conn->refcount > 0);
	conn->refcount--;
	struct net_loop *loop = conn->loop;
	conn_free_if_unused(conn);
	net_loop_unhold(loop);
}

void conn_set_context(struct conn *conn, void *context) { conn->context = context; }
void *conn_get_context(const struct conn *conn) { return conn->context; }
struct net_service *conn_service(const struct conn *conn) { return conn->service; }
struct net_loop *conn_loop(const struct conn *conn) { return conn->loop; }
const char *conn_sid(const struct conn *conn) { return conn->sid; }
const struct net_addr *conn_peer_addr(const struct conn *conn) { return &conn->peer; }
const char *conn_peer_ip(const struct conn *conn) { return conn->peer_ip; }
unsigned conn_peer_port(const struct conn *conn) { return net_addr_port(&conn->peer); }
const struct net_addr *conn_local_addr(const struct conn *conn) { return &conn->local; }
unsigned conn_local_port(const struct conn *conn) { return net_addr_port(&conn->local); }
uint64_t conn_bytes_in(const struct conn *conn) { return conn->bytes_in; }
uint64_t conn_bytes_out(const struct conn *conn) { return conn->bytes_out; }

void *conn_service_context(const struct conn *conn)
{
	return net_service_get_settings(conn->service)->context;
}

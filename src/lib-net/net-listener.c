/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "tls.h"
#include "conn.h"
#include "net-loop.h"
#include "net-private.h"

#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/listener.h>

/* Connections per peer address, for the per-IP limit. IPv4-mapped IPv6
 * peers count as their IPv4 address. */
struct net_ip_count {
	struct net_ip_count *next;
	uint8_t key[17]; /* family byte + up to 16 address bytes */
	unsigned count;
};

#define NET_IP_BUCKETS 1024

struct net_service {
	struct net_service_settings set;
	char *name, *too_many_message;

	pthread_mutex_t lock; /* protects everything below */
	struct tls_ctx *tls;
	unsigned conn_count;
	struct net_ip_count *ip_buckets[NET_IP_BUCKETS];
};

struct net_listener {
	struct net_service *service;
	struct net_loops *loops;
	struct net_loop *accept_loop;
	struct net_addr addr;
	int fd;
	struct evconnlistener *evl;
	struct event *retry_timer;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool freed;
};

struct net_service *net_service_create(const struct net_service_settings *set,
				       const char **error_r)
{
	const struct conn_handlers *h = set->handlers;

	if (h == NULL || h->on_connect == NULL || h->on_line == NULL ||
	    h->on_close == NULL) {
		*error_r = "on_connect, on_line and on_close handlers are required";
		return NULL;
	}
	if (set->implicit_tls && set->tls == NULL) {
		*error_r = "implicit TLS needs a TLS context";
		return NULL;
	}
	struct net_service *service = i_new(struct net_service, 1);
	service->set = *set;
	service->name = i_strdup(set->name != NULL ? set->name : "unnamed");
	service->set.name = service->name;
	service->too_many_message = i_strdup(set->too_many_message);
	service->set.too_many_message = service->too_many_message;
	service->set.tls = NULL;
	if (service->set.max_line_length == 0)
		service->set.max_line_length = NET_DEFAULT_MAX_LINE_LENGTH;
	if (service->set.idle_timeout_ms == 0)
		service->set.idle_timeout_ms = NET_DEFAULT_IDLE_TIMEOUT_MS;
	if (service->set.output_high_watermark == 0)
		service->set.output_high_watermark =
			NET_DEFAULT_OUTPUT_HIGH_WATERMARK;
	if (service->set.output_low_watermark == 0)
		service->set.output_low_watermark =
			MIN(NET_DEFAULT_OUTPUT_LOW_WATERMARK,
			    service->set.output_high_watermark / 2);
	if (service->set.output_low_watermark >=
	    service->set.output_high_watermark) {
		*error_r = "output low watermark must be below the high one";
		free(service->name);
		free(service->too_many_message);
		free(service);
		return NULL;
	}
	pthread_mutex_init(&service->lock, NULL);
	if (set->tls != NULL) {
		tls_ctx_ref(set->tls);
		service->tls = set->tls;
	}
	return service;
}

void net_service_destroy(struct net_service **_service)
{
	struct net_service *service = *_service;

	if (service == NULL)
		return;
	*_service = NULL;
	i_assert(service->conn_count == 0);
	for (unsigned i = 0; i < NET_IP_BUCKETS; i++) {
		while (service->ip_buckets[i] != NULL) {
			struct net_ip_count *c = service->ip_buckets[i];
			service->ip_buckets[i] = c->next;
			free(c);
		}
	}
	tls_ctx_unref(&service->tls);
	pthread_mutex_destroy(&service->lock);
	free(service->name);
	free(service->too_many_message);
	free(service);
}

const char *net_service_name(const struct net_service *service)
{
	return service->name;
}

const struct net_service_settings *
net_service_get_settings(const struct net_service *service)
{
	return &service->set;
}

void net_service_set_tls(struct net_service *service, struct tls_ctx *tls)
{
	struct tls_ctx *old;

	if (tls != NULL)
		tls_ctx_ref(tls);
	pthread_mutex_lock(&service->lock);
	old = service->tls;
	service->tls = tls;
	pthread_mutex_unlock(&service->lock);
	tls_ctx_unref(&old);
}

struct tls_ctx *net_service_get_tls(struct net_service *service)
{
	pthread_mutex_lock(&service->lock);
	struct tls_ctx *tls = service->tls;
	if (tls != NULL)
		tls_ctx_ref(tls);
	pthread_mutex_unlock(&service->lock);
	return tls;
}

unsigned net_service_connection_count(struct net_service *service)
{
	pthread_mutex_lock(&service->lock);
	unsigned n = service->conn_count;
	pthread_mutex_unlock(&service->lock);
	return n;
}

static size_t net_ip_key(const struct net_addr *addr, uint8_t key[17])
{
	if (addr->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&addr->ss;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
		return 5;
	}
	const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, &sin6->sin6_addr.s6_addr[12], 4);
		return 5;
	}
	key[0] = 6;
	memcpy(key + 1, &sin6->sin6_addr, 16);
	return 17;
}

static struct net_ip_count **net_ip_lookup(struct net_service *service,
					   const uint8_t *key, size_t len)
{
	/* FNV-1a: peers cannot pick their addresses freely enough for
	 * flooding one bucket to matter much, and chains stay short. */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	struct net_ip_count **p = &service->ip_buckets[h % NET_IP_BUCKETS];
	while (*p != NULL && memcmp((*p)->key, key, len) != 0)
		p = &(*p)->next;
	return p;
}

int net_service_conn_acquire(struct net_service *service,
			     const struct net_addr *peer, const char **reason_r)
{
	uint8_t key[17] = {0};
	size_t len = net_ip_key(peer, key);
	int ret = 0;

	pthread_mutex_lock(&service->lock);
	struct net_ip_count **p = net_ip_lookup(service, key, len);
	if (service->set.max_connections != 0 &&
	    service->conn_count >= service->set.max_connections) {
		*reason_r = "max_connections";
		ret = -1;
	} else if (service->set.max_connections_per_ip != 0 && *p != NULL &&
		   (*p)->count >= service->set.max_connections_per_ip) {
		*reason_r = "max_connections_per_ip";
		ret = -1;
	} else {
		if (*p == NULL) {
			*p = i_new(struct net_ip_count, 1);
			memcpy((*p)->key, key, sizeof(key));
		}
		(*p)->count++;
		service->conn_count++;
	}
	pthread_mutex_unlock(&service->lock);
	return ret;
}

void net_service_conn_release(struct net_service *service,
			      const struct net_addr *peer)
{
	uint8_t key[17] = {0};
	size_t len = net_ip_key(peer, key);

	pthread_mutex_lock(&service->lock);
	struct net_ip_count **p = net_ip_lookup(service, key, len);
	i_assert(*p != NULL && (*p)->count > 0);
	if (--(*p)->count == 0) {
		struct net_ip_count *c = *p;
		*p = c->next;
		free(c);
	}
	i_assert(service->conn_count > 0);
	service->conn_count--;
	pthread_mutex_unlock(&service->lock);
}

/* --- listeners --- */

struct net_accept_job {
	struct net_service *service;
	struct net_loop *loop;
	int fd;
	struct net_addr peer;
};

static void net_accept_job_run(void *ctx)
{
	struct net_accept_job *job = ctx;

	if (net_loop_current() != job->loop || net_loop_is_stopping(job->loop)) {
		/* The loop is going away: the client gets a plain close. */
		close(job->fd);
		net_service_conn_release(job->service, &job->peer);
	} else {
		conn_create_accepted(job->loop, job->service, job->fd,
				     &job->peer);
	}
	free(job);
}

static void net_listener_reject(struct net_listener *listener, int fd,
				const struct net_addr *peer,
				const char *reason)
{
	const struct net_service_settings *set = &listener->service->set;
	char ip[NET_ADDR_STR_SIZE];

	log_info(NULL, "connection_refused", "service=%s ip=%s port=%u reason=%s",
		 set->name, net_addr_ip_str(peer, ip, sizeof(ip)),
		 net_addr_port(peer), reason);
	if (set->too_many_message != NULL && !set->implicit_tls) {
		/* Best effort into a fresh socket buffer: never blocks. */
		ssize_t ret = send(fd, set->too_many_message,
				   strlen(set->too_many_message),
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)ret;
		shutdown(fd, SHUT_WR);
	}
	close(fd);
}

static void net_listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
				   struct sockaddr *sa, int socklen, void *ctx)
{
	struct net_listener *listener = ctx;
	struct net_accept_job *job;
	const char *reason;
	struct net_addr peer;

	net_addr_from_sockaddr(&peer, sa, (socklen_t)socklen);
	if (net_service_conn_acquire(listener->service, &peer, &reason) < 0) {
		net_listener_reject(listener, fd, &peer, reason);
		return;
	}
	job = i_new(struct net_accept_job, 1);
	job->service = listener->service;
	job->loop = net_loops_next(listener->loops);
	job->fd = fd;
	job->peer = peer;
	if (job->loop == net_loop_current()) {
		net_accept_job_run(job);
	} else if (!net_loop_try_post(job->loop, net_accept_job_run, job,
				      false)) {
		close(fd);
		net_service_conn_release(listener->service, &peer);
		free(job);
	}
}

static void net_listener_retry_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct net_listener *listener = ctx;

	evconnlistener_enable(listener->evl);
}

static void net_listener_error_cb(struct evconnlistener *evl, void *ctx)
{
	struct net_listener *listener = ctx;
	int err = EVUTIL_SOCKET_ERROR();
	char addr[NET_ADDR_STR_SIZE];

	log_error(NULL, "accept_failed", "service=%s listen=%s error=\"%s\"",
		  listener->service->name,
		  net_addr_str(&listener->addr, addr, sizeof(addr)),
		  strerror(err));
	/* Out of descriptors or memory: pause accepting instead of spinning
	 * on a socket that stays readable. */
	struct timeval tv = {0, 200 * 1000};
	evconnlistener_disable(evl);
	evtimer_add(listener->retry_timer, &tv);
}

static __thread char net_listener_errbuf[256];

static int net_listener_bind(const struct net_addr *addr, int *fd_r,
			     const char **error_r)
{
	char str[NET_ADDR_STR_SIZE];
	int fd, one = 1;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
						SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (addr->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
		goto fail;
	if (listen(fd, 1024) < 0)
		goto fail;
	*fd_r = fd;
	return 0;
fail:
	snprintf(net_listener_errbuf, sizeof(net_listener_errbuf),
		 "cannot listen on %s: %s",
		 net_addr_str(addr, str, sizeof(str)), strerror(errno));
	if (fd >= 0)
		close(fd);
	*error_r = net_listener_errbuf;
	return -1;
}

struct net_listener *net_listener_create(struct net_service *service,
					 struct net_loops *loops,
					 const struct net_addr *addr,
					 const char **error_r)
{
	struct net_listener *listener;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char str[NET_ADDR_STR_SIZE];
	int fd;

	if (net_listener_bind(addr, &fd, error_r) < 0)
		return NULL;
	listener = i_new(struct net_listener, 1);
	listener->service = service;
	listener->loops = loops;
	listener->fd = fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		net_addr_from_sockaddr(&listener->addr, (void *)&ss, len);
	else
		listener->addr = *addr;
	/* Accepting is cheap next to the connections' work; spread
	 * listeners over the loops, connections go round robin anyway. */
	listener->accept_loop = net_loops_next(loops);
	pthread_mutex_init(&listener->lock, NULL);
	pthread_cond_init(&listener->cond, NULL);
	struct event_base *base = net_loop_base(listener->accept_loop);
	listener->evl = evconnlistener_new(base, net_listener_accept_cb,
					   listener,
					   LEV_OPT_CLOSE_ON_FREE |
						   LEV_OPT_CLOSE_ON_EXEC,
					   -1, fd);
	if (listener->evl == NULL)
		i_fatal("evconnlistener_new failed");
	evconnlistener_set_error_cb(listener->evl, net_listener_error_cb);
	listener->retry_timer = evtimer_new(base, net_listener_retry_cb,
					    listener);
	log_info(NULL, "listen", "service=%s listen=%s tls=%s", service->name,
		 net_addr_str(&listener->addr, str, sizeof(str)),
		 service->set.implicit_tls ? "implicit" :
		 service->tls != NULL ? "starttls" : "no");
	return listener;
}

struct net_listener *net_listener_create_str(struct net_service *service,
					     struct net_loops *loops,
					     const char *addr_str,
					     const char **error_r)
{
	struct net_addr addr;

	if (net_addr_parse(addr_str, &addr, error_r) < 0)
		return NULL;
	return net_listener_create(service, loops, &addr, error_r);
}

const struct net_addr *net_listener_addr(const struct net_listener *listener)
{
	return &listener->addr;
}

unsigned net_listener_port(const struct net_listener *listener)
{
	return net_addr_port(&listener->addr);
}

static void net_listener_free_events(struct net_listener *listener)
{
	evconnlistener_free(listener->evl);
	event_free(listener->retry_timer);
}

static void net_listener_free_on_loop(void *ctx)
{
	struct net_listener *listener = ctx;

	net_listener_free_events(listener);
	pthread_mutex_lock(&listener->lock);
	listener->freed = true;
	pthread_cond_signal(&listener->cond);
	pthread_mutex_unlock(&listener->lock);
}

void net_listener_destroy(struct net_listener **_listener)
{
	struct net_listener *listener = *_listener;
	char str[NET_ADDR_STR_SIZE];

	if (listener == NULL)
		return;
	*_listener = NULL;
	i_assert(net_loop_current() == NULL);
	if (net_loop_try_post(listener->accept_loop, net_listener_free_on_loop,
			      listener, false)) {
		pthread_mutex_lock(&listener->lock);
		while (!listener->freed)
			pthread_cond_wait(&listener->cond, &listener->lock);
		pthread_mutex_unlock(&listener->lock);
	} else {
		net_listener_free_events(listener);
	}
	log_info(NULL, "listen_close", "service=%s listen=%s",
		 listener->service->name,
		 net_addr_str(&listener->addr, str, sizeof(str)));
	pthread_mutex_destroy(&listener->lock);
	pthread_cond_destroy(&listener->cond);
	free(listener);
}

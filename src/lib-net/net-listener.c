/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "tls.h"
#include "conn.h"
#include "net-loop.h"
#include "net-private.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/listener.h>

/* Connections per peer address, for the per-IP limit. IPv4-mapped IPv6
 * peers count as their IPv4 address. */
struct net_ip_count {
	struct net_ip_count *next;
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE]; /* net_addr_limit_key() */
	unsigned count;
};

#define NET_IP_BUCKETS 1024

struct net_network {
	uint8_t key[17]; /* as net_ip_key() */
	unsigned prefix; /* bits of the address part */
};

/* Peers that passed the greeting check: a set-associative cache, so its
 * memory is fixed whatever the number of addresses seen; a full set
 * forgets the entry closest to expiry. */
#define NET_GREET_WAYS 4
#define NET_GREET_SETS (NET_GREETING_PASS_MAX / NET_GREET_WAYS)
struct net_greet_entry {
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE];
	time_t expires; /* 0 = empty */
};

struct net_service {
	struct net_service_settings set;
	char *name, *too_many_message, *greeting_reject;
	struct net_network *trusted;
	unsigned trusted_count;
	struct net_greet_entry *greet; /* NET_GREETING_PASS_MAX, lazily */
	struct net_greeting_stats greet_stats;

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


static int net_network_parse(const char *str, size_t len,
			     struct net_network *net_r)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned prefix, max;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, str, len);
	tmp[len] = '\0';
	memset(net_r, 0, sizeof(*net_r));
	char *sl = strchr(tmp, '/');
	slash = sl;
	if (sl != NULL)
		*sl = '\0';
	if (inet_pton(AF_INET, tmp, net_r->key + 1) == 1) {
		net_r->key[0] = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, net_r->key + 1) == 1) {
		net_r->key[0] = 6;
		max = 128;
	} else {
		return -1;
	}
	prefix = max;
	if (slash != NULL) {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || v > max)
			return -1;
		prefix = (unsigned)v;
	}
	net_r->prefix = prefix;
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					     0xff, 0xff};
	if (net_r->key[0] == 6 && memcmp(net_r->key + 1, v4mapped, 12) == 0 &&
	    prefix >= 96) {
		/* Peers are compared as IPv4 when mapped. */
		memmove(net_r->key + 1, net_r->key + 13, 4);
		memset(net_r->key + 5, 0, 12);
		net_r->key[0] = 4;
		net_r->prefix = prefix - 96;
	}
	return 0;
}

static int net_service_parse_trusted(struct net_service *service,
				     const char *list)
{
	const char *p = list;
	unsigned alloc = 0;

	while (*p != '\0') {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		if (service->trusted_count == alloc) {
			alloc = alloc == 0 ? 4 : alloc * 2;
			service->trusted = i_realloc(service->trusted,
				i_size_mul(alloc, sizeof(struct net_network)));
		}
		if (net_network_parse(p, len,
				      &service->trusted[service->trusted_count]) < 0)
			return -1;
		service->trusted_count++;
		p += len;
	}
	return 0;
}

/* The whole address, for matching trusted networks: family byte (4 or 6)
 * and the address bytes; IPv4-mapped peers as IPv4. */
static void net_ip_key(const struct net_addr *addr, uint8_t key[17])
{
	const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;

	if (addr->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&addr->ss;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
	} else if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, &sin6->sin6_addr.s6_addr[12], 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, &sin6->sin6_addr, 16);
	}
}

static bool net_network_match(const struct net_network *net,
			      const uint8_t key[17])
{
	unsigned bits = net->prefix, i = 0;

	if (net->key[0] != key[0])
		return false;
	for (; bits >= 8; bits -= 8, i++) {
		if (net->key[1 + i] != key[1 + i])
			return false;
	}
	if (bits > 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((net->key[1 + i] & mask) != (key[1 + i] & mask))
			return false;
	}
	return true;
}

bool net_service_is_trusted(struct net_service *service,
			    const struct net_addr *peer)
{
	uint8_t key[17] = {0};

	net_ip_key(peer, key);
	for (unsigned i = 0; i < service->trusted_count; i++) {
		if (net_network_match(&service->trusted[i], key))
			return true;
	}
	return false;
}

static uint32_t net_key_hash(const uint8_t *key, size_t len)
{
	/* FNV-1a: peers cannot pick their addresses freely enough for
	 * flooding one bucket to matter much, and chains stay short. */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

bool net_service_greeting_needed(struct net_service *service,
				 const struct net_addr *peer)
{
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE] = {0};
	bool needed = true;

	if (service->set.greeting_delay_ms == 0 || service->set.implicit_tls)
		return false;
	if (net_service_is_trusted(service, peer))
		return false;
	size_t len = net_addr_limit_key(peer, key);
	time_t now = time(NULL);
	pthread_mutex_lock(&service->lock);
	if (service->greet != NULL) {
		struct net_greet_entry *set = service->greet +
			(net_key_hash(key, len) % NET_GREET_SETS) * NET_GREET_WAYS;
		for (unsigned i = 0; i < NET_GREET_WAYS; i++) {
			if (set[i].expires > now &&
			    memcmp(set[i].key, key, sizeof(key)) == 0) {
				needed = false;
				break;
			}
		}
	}
	if (needed)
		service->greet_stats.delayed++;
	else
		service->greet_stats.remembered++;
	pthread_mutex_unlock(&service->lock);
	return needed;
}

void net_service_greeting_result(struct net_service *service,
				 const struct net_addr *peer, bool passed)
{
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE] = {0};

	size_t len = net_addr_limit_key(peer, key);
	time_t now = time(NULL);
	pthread_mutex_lock(&service->lock);
	if (!passed) {
		service->greet_stats.rejected++;
		pthread_mutex_unlock(&service->lock);
		return;
	}
	if (service->greet == NULL)
		service->greet = i_new(struct net_greet_entry,
				       NET_GREETING_PASS_MAX);
	struct net_greet_entry *set = service->greet +
		(net_key_hash(key, len) % NET_GREET_SETS) * NET_GREET_WAYS;
	struct net_greet_entry *victim = &set[0];
	for (unsigned i = 0; i < NET_GREET_WAYS; i++) {
		if (memcmp(set[i].key, key, sizeof(key)) == 0) {
			victim = &set[i];
			break;
		}
		if (set[i].expires < victim->expires)
			victim = &set[i];
	}
	memcpy(victim->key, key, sizeof(key));
	victim->expires = now + NET_GREETING_PASS_SECS;
	pthread_mutex_unlock(&service->lock);
}

void net_service_greeting_stats(struct net_service *service,
				struct net_greeting_stats *stats_r)
{
	pthread_mutex_lock(&service->lock);
	*stats_r = service->greet_stats;
	pthread_mutex_unlock(&service->lock);
}

const char *net_service_greeting_reject(const struct net_service *service)
{
	return service->greeting_reject;
}

static void net_service_free(struct net_service *service)
{
	free(service->name);
	free(service->too_many_message);
	free(service->greeting_reject);
	free(service->trusted);
	free(service->greet);
	free(service);
}

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
		net_service_free(service);
		return NULL;
	}
	if (service->set.line_timeout_ms == 0)
		service->set.line_timeout_ms = NET_DEFAULT_LINE_TIMEOUT_MS;
	service->greeting_reject = i_strdup(
		set->greeting_reject_message != NULL ?
			set->greeting_reject_message : NET_DEFAULT_GREETING_REJECT);
	service->set.greeting_reject_message = service->greeting_reject;
	if (net_service_parse_trusted(service, set->trusted_networks != NULL ?
				      set->trusted_networks :
				      NET_DEFAULT_TRUSTED_NETWORKS) < 0) {
		*error_r = "trusted_networks: expected addresses or networks "
			   "like 192.0.2.0/24, 2001:db8::/32";
		net_service_free(service);
		return NULL;
	}
	service->set.trusted_networks = NULL;
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
	net_service_free(service);
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


static struct net_ip_count **net_ip_lookup(struct net_service *service,
					   const uint8_t *key, size_t len)
{
	uint32_t h = net_key_hash(key, len);
	struct net_ip_count **p = &service->ip_buckets[h % NET_IP_BUCKETS];
	while (*p != NULL && memcmp((*p)->key, key, len) != 0)
		p = &(*p)->next;
	return p;
}

int net_service_conn_acquire(struct net_service *service,
			     const struct net_addr *peer, const char **reason_r)
{
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE] = {0};
	size_t len = net_addr_limit_key(peer, key);
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
	uint8_t key[NET_ADDR_LIMIT_KEY_SIZE] = {0};
	size_t len = net_addr_limit_key(peer, key);

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

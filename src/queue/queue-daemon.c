/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "workpool.h"
#include "net-loop.h"
#include "dns.h"
#include "queue.h"
#include "queue-store.h"
#include "queue-daemon.h"

#include <pthread.h>
#include <stdatomic.h>
#include <openssl/ssl.h>

struct queue_daemon {
	struct net_loop *loop;
	struct store *store;
	struct queue_settings set;
	char *hostname, *source_ip;
	struct dns_zone zone;
	bool have_zone;
	void *ssl_ctx;

	/* Loop thread only. */
	struct dns_resolver *resolver;
	struct queue_store *qs;
	struct queue *queue;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopped;
};

static _Atomic(struct queue_daemon *) queue_daemon_current;

struct queue_daemon *queue_daemon_get(void)
{
	return atomic_load(&queue_daemon_current);
}

static void queue_daemon_start_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;
	struct completion_target target = net_loop_completion_target(qd->loop);
	struct dns_resolver_settings dset = {
		.static_zone = qd->have_zone ? &qd->zone : NULL,
	};
	const char *error;

	qd->resolver = dns_resolver_create(net_loop_base(qd->loop), &dset,
					   &error);
	if (qd->resolver == NULL) {
		log_error(NULL, "queue-start-failed", "error=\"%s\"", error);
		return;
	}
	qd->qs = queue_store_create(qd->store, &target);
	qd->queue = queue_create(net_loop_base(qd->loop), qd->resolver,
				 &qd->set, queue_store_persist(qd->qs));
	queue_store_attach(qd->qs, qd->queue);
	queue_set_dsn_callback(qd->queue, queue_store_dsn, qd->qs);
	log_info(NULL, "queue-start", "mx_port=%u source=%s",
		 qd->set.mx_port,
		 qd->set.source_ip != NULL && qd->set.source_ip[0] != '\0'
			 ? qd->set.source_ip
			 : "any");
	queue_kick(qd->queue);
}

static void queue_daemon_wake_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	if (qd->queue != NULL)
		queue_wake(qd->queue);
}

static void queue_daemon_kick_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	if (qd->queue != NULL)
		queue_kick(qd->queue);
}

static void queue_daemon_stop_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	/* Sessions in flight are cut; their recipients stay pending in the
	 * store and are tried again after the restart. */
	queue_destroy(&qd->queue);
	queue_store_destroy(&qd->qs);
	dns_resolver_destroy(&qd->resolver);
	pthread_mutex_lock(&qd->lock);
	qd->stopped = true;
	pthread_cond_signal(&qd->cond);
	pthread_mutex_unlock(&qd->lock);
}

struct queue_daemon *
queue_daemon_create(struct net_loops *loops, struct store *store,
		    const struct queue_daemon_settings *set,
		    const char **error_r)
{
	struct queue_daemon *qd = i_new(struct queue_daemon, 1);
	char *errors = NULL;

	if (set->static_zone != NULL && set->static_zone[0] != '\0') {
		if (dns_zone_parse_file(set->static_zone, &qd->zone,
					&errors) < 0) {
			static char msg[512];
			snprintf(msg, sizeof(msg), "[dns] static: %s",
				 errors != NULL ? errors : "unreadable");
			free(errors);
			i_free(qd);
			*error_r = msg;
			return NULL;
		}
		qd->have_zone = true;
	}
	qd->ssl_ctx = smtp_client_ssl_ctx_create(error_r);
	if (qd->ssl_ctx == NULL) {
		if (qd->have_zone)
			dns_zone_free(&qd->zone);
		i_free(qd);
		return NULL;
	}
	qd->loop = net_loops_get(loops, 0);
	qd->store = store;
	qd->hostname = i_strdup(set->hostname);
	qd->source_ip = i_strdup(set->source_ip);
	qd->set = (struct queue_settings){
		.hostname = qd->hostname,
		.mx_port = set->mx_port,
		.source_ip = qd->source_ip,
		.retry_initial_s = set->retry_initial,
		.retry_max_s = set->retry_max,
		.give_up_s = set->give_up,
		.delay_notify_s = set->delay_notify,
		.no_delay_notify = set->no_delay_notify,
		.max_sessions = set->max_sessions,
		.client = {
			.ssl_ctx = qd->ssl_ctx,
			.connect_timeout_ms = set->connect_timeout * 1000,
			.greeting_timeout_ms = set->command_timeout * 1000,
			.mail_timeout_ms = set->command_timeout * 1000,
			.rcpt_timeout_ms = set->command_timeout * 1000,
			/* RFC 5321 4.5.3.2.4-5: 2 and 3 minutes, never
			 * more than the command timeout. */
			.data_init_timeout_ms =
				MIN(set->command_timeout, 120u) * 1000,
			.data_block_timeout_ms =
				MIN(set->command_timeout, 180u) * 1000,
			.data_final_timeout_ms = set->data_timeout * 1000,
		},
	};
	pthread_mutex_init(&qd->lock, NULL);
	pthread_cond_init(&qd->cond, NULL);
	net_loop_post(qd->loop, queue_daemon_start_cb, qd);
	atomic_store(&queue_daemon_current, qd);
	return qd;
}

void queue_daemon_wake(struct queue_daemon *qd)
{
	net_loop_post(qd->loop, queue_daemon_wake_cb, qd);
}

void queue_daemon_kick(struct queue_daemon *qd)
{
	net_loop_post(qd->loop, queue_daemon_kick_cb, qd);
}

void queue_daemon_destroy(struct queue_daemon **_qd)
{
	struct queue_daemon *qd = *_qd;

	if (qd == NULL)
		return;
	*_qd = NULL;
	atomic_store(&queue_daemon_current, NULL);
	net_loop_post(qd->loop, queue_daemon_stop_cb, qd);
	pthread_mutex_lock(&qd->lock);
	while (!qd->stopped)
		pthread_cond_wait(&qd->cond, &qd->lock);
	pthread_mutex_unlock(&qd->lock);
	pthread_mutex_destroy(&qd->lock);
	pthread_cond_destroy(&qd->cond);
	SSL_CTX_free(qd->ssl_ctx);
	if (qd->have_zone)
		dns_zone_free(&qd->zone);
	i_free(qd->hostname);
	i_free(qd->source_ip);
	i_free(qd);
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "strutil.h"
#include "workpool.h"
#include "net-loop.h"
#include "dns.h"
#include "queue.h"
#include "queue-store.h"
#include "queue-daemon.h"
#ifdef HAVE_DMARC_REPORT
#include "mailauth-dns.h"
#include "dmarc-report.h"
#endif

#include <stdatomic.h>
#include <openssl/ssl.h>

struct queue_daemon {
	struct net_loop *loop;
	struct store *store;
	struct queue_settings set;
	char *hostname, *source_ip;
	char *relay_host, *relay_user, *relay_password;
	struct dns_zone zone;
	bool have_zone;
	void *ssl_ctx;

	/* Loop thread only. */
	struct dns_resolver *resolver;
	struct queue_store *qs;
	struct queue *queue;
#ifdef HAVE_DMARC_REPORT
	/* The reporting timer shares the queue's loop and resolver. */
	bool dmarc_reports;
	char *report_sender, *report_org;
	struct dmarc_report_settings dmarc_set;
	struct mailauth_dns dmarc_dns;
	struct dmarc_report_scheduler *dmarc;
#endif

	/* One reference for the owner and one per post in flight: a post
	 * still queued when the loops are freed runs after destroy. */
	atomic_uint refs;
	bool destroyed;
};

static void queue_daemon_free(struct queue_daemon *qd);

static void queue_daemon_unref(struct queue_daemon *qd)
{
	if (atomic_fetch_sub(&qd->refs, 1) == 1)
		queue_daemon_free(qd);
}

static void queue_daemon_post(struct queue_daemon *qd, void (*fn)(void *))
{
	atomic_fetch_add(&qd->refs, 1);
	net_loop_post(qd->loop, fn, qd);
}

static _Atomic(struct queue_daemon *) queue_daemon_current;

struct queue_daemon *queue_daemon_get(void)
{
	return atomic_load(&queue_daemon_current);
}

#ifdef HAVE_DMARC_REPORT
static void queue_daemon_dmarc_queued(void *ctx)
{
	struct queue_daemon *qd = ctx;

	if (qd->queue != NULL)
		queue_kick(qd->queue);
}
#endif

static void queue_daemon_start_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;
	struct completion_target target = net_loop_completion_target(qd->loop);
	struct dns_resolver_settings dset = {
		.static_zone = qd->have_zone ? &qd->zone : NULL,
	};
	const char *error;

	if (qd->destroyed) {
		queue_daemon_unref(qd);
		return;
	}
	qd->resolver = dns_resolver_create(net_loop_base(qd->loop), &dset,
					   &error);
	if (qd->resolver == NULL) {
		log_error(NULL, "queue-start-failed", "error=\"%s\"", error);
		queue_daemon_unref(qd);
		return;
	}
	qd->qs = queue_store_create(qd->store, &target);
	qd->queue = queue_create(net_loop_base(qd->loop), qd->resolver,
				 &qd->set, queue_store_persist(qd->qs));
	queue_store_attach(qd->qs, qd->queue);
	queue_set_dsn_callback(qd->queue, queue_store_dsn, qd->qs);
	log_info(NULL, "queue-start", "mx_port=%u relayhost=%s source=%s",
		 qd->set.mx_port,
		 qd->relay_host != NULL ? qd->relay_host : "none",
		 qd->set.source_ip != NULL && qd->set.source_ip[0] != '\0'
			 ? qd->set.source_ip
			 : "any");
	queue_kick(qd->queue);
#ifdef HAVE_DMARC_REPORT
	if (qd->dmarc_reports) {
		mailauth_dns_init_resolver(&qd->dmarc_dns, qd->resolver);
		qd->dmarc = dmarc_report_scheduler_create(
			net_loop_base(qd->loop), qd->store, &qd->dmarc_set,
			&qd->dmarc_dns, &target, queue_daemon_dmarc_queued, qd);
	}
#endif
	queue_daemon_unref(qd);
}

static void queue_daemon_wake_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	if (qd->queue != NULL)
		queue_wake(qd->queue);
	queue_daemon_unref(qd);
}

static void queue_daemon_kick_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	if (qd->queue != NULL)
		queue_kick(qd->queue);
	queue_daemon_unref(qd);
}

static void queue_daemon_stop_cb(void *ctx)
{
	struct queue_daemon *qd = ctx;

	/* Sessions in flight are cut; their recipients stay pending in the
	 * store and are tried again after the restart. */
#ifdef HAVE_DMARC_REPORT
	dmarc_report_scheduler_destroy(&qd->dmarc);
#endif
	queue_destroy(&qd->queue);
	queue_store_destroy(&qd->qs);
	dns_resolver_destroy(&qd->resolver);
}

/* "HOST:PORT", "[HOST]:PORT" (IPv6 literals need the brackets) or "HOST"
 * (port 25). */
static int parse_relayhost(const char *value, char **host_r,
			   unsigned *port_r)
{
	const char *port = NULL;
	char *host;

	if (value[0] == '[') {
		const char *end = strchr(value, ']');
		if (end == NULL || end == value + 1)
			return -1;
		host = i_strndup(value + 1, (size_t)(end - value - 1));
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0') {
			i_free(host);
			return -1;
		}
	} else {
		const char *colon = strrchr(value, ':');
		if (colon != NULL && strchr(value, ':') != colon)
			return -1; /* a bare IPv6 address: ambiguous */
		host = colon == NULL ? i_strdup(value)
				     : i_strndup(value, (size_t)(colon - value));
		if (colon != NULL)
			port = colon + 1;
	}
	uint64_t n = 25;
	if (host[0] == '\0' ||
	    (port != NULL && (str_to_uint64(port, 65535, &n) < 0 || n == 0))) {
		i_free(host);
		return -1;
	}
	*host_r = host;
	*port_r = (unsigned)n;
	return 0;
}

static char *read_password(const char *path, const char **error_r)
{
	static char msg[512];
	char line[1024];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(msg, sizeof(msg), "relay_password_file %s: %s", path,
			 strerror(errno));
		*error_r = msg;
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	char *ret = i_strdup(line);
	OPENSSL_cleanse(line, sizeof(line));
	return ret;
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
	unsigned relay_port = 0;
	if (set->relayhost != NULL && set->relayhost[0] != '\0' &&
	    parse_relayhost(set->relayhost, &qd->relay_host,
			    &relay_port) < 0) {
		*error_r = "[outbound] relayhost: expected HOST:PORT";
		goto fail;
	}
	if (set->relay_user != NULL && set->relay_user[0] != '\0') {
		qd->relay_user = i_strdup(set->relay_user);
		qd->relay_password =
			set->relay_password_file != NULL &&
					set->relay_password_file[0] != '\0'
				? read_password(set->relay_password_file,
						error_r)
				: i_strdup("");
		if (qd->relay_password == NULL)
			goto fail;
	}
	qd->ssl_ctx = smtp_client_ssl_ctx_create(error_r);
	if (qd->ssl_ctx == NULL)
		goto fail;
	qd->loop = net_loops_get(loops, 0);
	qd->store = store;
	qd->hostname = i_strdup(set->hostname);
	qd->source_ip = i_strdup(set->source_ip);
#ifdef HAVE_DMARC_REPORT
	qd->dmarc_reports = set->dmarc_reports;
	qd->report_sender = i_strdup(set->report_sender);
	qd->report_org = i_strdup(set->report_org);
	qd->dmarc_set = (struct dmarc_report_settings){
		.hostname = qd->hostname,
		.sender = qd->report_sender,
		.org_name = qd->report_org,
		.interval = set->report_interval,
		.sign = set->report_sign,
		.sign_ctx = set->report_sign_ctx,
	};
#endif
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
		.relay_host = qd->relay_host,
		.relay_port = relay_port,
		.client = {
			.ssl_ctx = qd->ssl_ctx,
			.auth_user = qd->relay_host != NULL ? qd->relay_user
							    : NULL,
			.auth_password = qd->relay_password,
			.require_tls = qd->relay_host != NULL &&
				       set->relay_require_tls,
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
	atomic_init(&qd->refs, 1);
	queue_daemon_post(qd, queue_daemon_start_cb);
	atomic_store(&queue_daemon_current, qd);
	return qd;
fail:
	if (qd->have_zone)
		dns_zone_free(&qd->zone);
	i_free(qd->relay_host);
	i_free(qd->relay_user);
	i_free(qd->relay_password);
	i_free(qd);
	return NULL;
}

void queue_daemon_wake(struct queue_daemon *qd)
{
	queue_daemon_post(qd, queue_daemon_wake_cb);
}

void queue_daemon_kick(struct queue_daemon *qd)
{
	queue_daemon_post(qd, queue_daemon_kick_cb);
}

void queue_daemon_destroy(struct queue_daemon **_qd)
{
	struct queue_daemon *qd = *_qd;

	if (qd == NULL)
		return;
	*_qd = NULL;
	atomic_store(&queue_daemon_current, NULL);
	/* The loop's thread is gone (net_loops_stop() came first), so its
	 * objects may be freed from here. */
	queue_daemon_stop_cb(qd);
	qd->destroyed = true;
	queue_daemon_unref(qd);
}

static void queue_daemon_free(struct queue_daemon *qd)
{
	SSL_CTX_free(qd->ssl_ctx);
	if (qd->have_zone)
		dns_zone_free(&qd->zone);
	i_free(qd->hostname);
	i_free(qd->source_ip);
#ifdef HAVE_DMARC_REPORT
	i_free(qd->report_sender);
	i_free(qd->report_org);
#endif
	i_free(qd->relay_host);
	i_free(qd->relay_user);
	if (qd->relay_password != NULL)
		OPENSSL_cleanse(qd->relay_password, strlen(qd->relay_password));
	i_free(qd->relay_password);
	i_free(qd);
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "config.h"
#include "service.h"
#include "queue-daemon.h"
#include "queue-dsn.h"
#include "dkim-sign.h"

/* The outbound queue as a posthornd background service (service.h): it
 * answers on no listener, starts with the daemon on the first I/O loop and
 * takes the control socket's "queue-wake" and "queue-kick". */

static int queue_service_init(const struct service_env *env, void **context_r,
			      const char **error_r)
{
	const struct config *c = env->config;

	*context_r = NULL;
	if (env->store == NULL)
		return 0; /* nothing to keep a queue in */
	/* Our DSNs (also smtpd's success DSNs) are signed for the host
	 * name's domain when it has keys. */
	if (c->auth.dkim_sign)
		queue_dsn_set_signer(dkimsign_host_signer,
				     dkimsign_keys_shared(c->server.data_dir));
	struct queue_daemon_settings set = {
		.hostname = c->server.hostname,
		.static_zone = c->dns.static_zone,
		.mx_port = c->outbound.mx_port,
		.source_ip = c->outbound.source,
		.retry_initial = c->outbound.retry_initial,
		.retry_max = c->outbound.retry_max,
		.give_up = c->outbound.give_up,
		.delay_notify = c->outbound.delay_notify,
		.no_delay_notify = c->outbound.delay_notify == 0,
		.connect_timeout = c->outbound.connect_timeout,
		.command_timeout = c->outbound.command_timeout,
		.data_timeout = c->outbound.data_timeout,
		.max_sessions = c->outbound.max_sessions,
		.relayhost = c->outbound.relayhost,
		.relay_user = c->outbound.relay_user,
		.relay_password_file = c->outbound.relay_password_file,
		.relay_require_tls = c->outbound.relay_require_tls,
		.dmarc_reports = c->auth.dmarc_reports,
		.report_sender = c->auth.report_sender,
		.report_org = c->auth.report_org,
		.report_interval = c->auth.report_interval,
		.report_sign = c->auth.dkim_sign ? dkimsign_host_signer : NULL,
		.report_sign_ctx = c->auth.dkim_sign
					   ? dkimsign_keys_shared(
						     c->server.data_dir)
					   : NULL,
	};
	struct queue_daemon *qd =
		queue_daemon_create(env->loops, env->store, &set, error_r);
	if (qd == NULL)
		return -1;
	*context_r = qd;
	return 0;
}

static int queue_service_control(void *context, const char *const *args,
				 unsigned count, const char **error_r)
{
	struct queue_daemon *qd = context;

	bool kick = count >= 1 && strcmp(args[0], "kick") == 0;
	if (count < 1 || (strcmp(args[0], "wake") != 0 && !kick))
		return 0;
	if (qd == NULL) {
		*error_r = "no outbound queue (no store)";
		return -1;
	}
	if (kick)
		queue_daemon_kick(qd);
	else
		queue_daemon_wake(qd);
	return 1;
}

static void queue_service_deinit(void *context)
{
	struct queue_daemon *qd = context;

	queue_daemon_destroy(&qd);
}

static const struct service queue_service = {
	.name = "queue",
	.background = true,
	.init = queue_service_init,
	.control = queue_service_control,
	.deinit = queue_service_deinit,
};

const struct service *const queue_services[] = { &queue_service, NULL };

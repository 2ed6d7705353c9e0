/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "service.h"
#include "buf.h"
#include "log.h"
#include "conn.h"
#include "net-listener.h"
#include "net-loop.h"
#include "tls.h"

#include <unistd.h>


/* Listener roles: each [listen] key becomes one lib-net service (limits
 * and TLS) fed by one listener per address, answered by the protocol
 * module's service of the same name. */

struct daemon_role {
	enum config_listener id;
	const struct service *service;
	void *service_context;
	bool service_inited;
	struct net_service *net_service;
	unsigned listener_count;
	struct net_listener **listeners;
};

#define DAEMON_BACKGROUND_MAX 8

struct daemon_background {
	const struct service *service;
	void *context;
	bool inited;
};

struct daemon_listeners {
	struct net_loops *loops;
	struct tls_ctx *tls;
	bool selfsigned;
	struct service_env env;
	struct daemon_role roles[CONFIG_LISTEN_COUNT];
	unsigned background_count;
	struct daemon_background background[DAEMON_BACKGROUND_MAX];
};

static const char *const role_descriptions[CONFIG_LISTEN_COUNT] = {
	[CONFIG_LISTEN_SMTP] = "SMTP (MX), STARTTLS",
	[CONFIG_LISTEN_SUBMISSION] = "submission, STARTTLS + AUTH",
	[CONFIG_LISTEN_SUBMISSIONS] = "submission, implicit TLS + AUTH",
	[CONFIG_LISTEN_IMAP] = "IMAP, STARTTLS",
	[CONFIG_LISTEN_IMAPS] = "IMAP, implicit TLS",
	[CONFIG_LISTEN_POP3] = "POP3, STLS",
	[CONFIG_LISTEN_POP3S] = "POP3, implicit TLS",
};

static unsigned role_idle_timeout(const struct config *c, enum config_listener l)
{
	switch (l) {
	case CONFIG_LISTEN_IMAP:
	case CONFIG_LISTEN_IMAPS:
		return c->limits.imap_idle_timeout;
	case CONFIG_LISTEN_POP3:
	case CONFIG_LISTEN_POP3S:
		return c->limits.pop3_idle_timeout;
	default:
		return c->limits.smtp_idle_timeout;
	}
}

static bool role_is_smtp(enum config_listener l)
{
	return l == CONFIG_LISTEN_SMTP || l == CONFIG_LISTEN_SUBMISSION ||
	       l == CONFIG_LISTEN_SUBMISSIONS;
}

static struct tls_ctx *tls_load(struct daemon *d, const struct config *c,
				bool *selfsigned_r, const char **error_r)
{
	if (c->tls.cert[0] != '\0') {
		*selfsigned_r = false;
		return tls_ctx_create(c->tls.cert, c->tls.key, error_r);
	}
	*selfsigned_r = true;
	const char *dir = c->server.data_dir;
	/* Made as the daemon's user, so it stays readable after the drop. */
	if (d->drop_privileges && privileges_assume(&d->priv, error_r) < 0)
		return NULL;
	int ret = tls_selfsigned_ensure(dir, c->server.hostname, error_r);
	if (d->drop_privileges) {
		const char *error;
		if (privileges_restore(&error) < 0)
			i_fatal("%s", error);
	}
	if (ret < 0)
		return NULL;
	if (ret > 0)
		log_info(NULL, "tls-selfsigned-created", "dir=%s hostname=%s", dir,
			 c->server.hostname);
	return tls_ctx_create_selfsigned(dir, c->server.hostname, error_r);
}

static int role_open(struct daemon *d, struct daemon_listeners *dl,
		     struct daemon_role *role, const char **error_r)
{
	const struct config *c = d->config;
	const struct config_addr_list *addrs = &c->listen[role->id];
	static char error[512];

	if (role->service->init != NULL) {
		if (role->service->init(&dl->env, &role->service_context,
					error_r) < 0)
			return -1;
	}
	role->service_inited = true;

	struct net_service_settings set;
	memset(&set, 0, sizeof(set));
	set.name = config_listener_name(role->id);
	set.implicit_tls = config_listener_implicit_tls(role->id);
	set.tls = dl->tls;
	set.handlers = role->service->handlers;
	set.context = role->service_context;
	set.idle_timeout_ms = role_idle_timeout(c, role->id) * 1000;
	if (role_is_smtp(role->id))
		set.max_line_length = c->smtp.max_line_length;
	set.max_connections = c->limits.max_connections;
	set.max_connections_per_ip = c->limits.max_connections_per_ip;
	set.too_many_message = role->service->too_many_message;
	set.trusted_networks = c->limits.trusted_networks;
	set.line_timeout_ms = c->limits.line_timeout * 1000;
	set.handshake_timeout_ms = c->limits.handshake_timeout * 1000;
	if (role->id == CONFIG_LISTEN_SMTP)
		set.greeting_delay_ms = c->smtp.greeting_delay * 1000;
	role->net_service = net_service_create(&set, error_r);
	if (role->net_service == NULL)
		return -1;

	role->listeners = i_new(struct net_listener *, addrs->count);
	for (unsigned i = 0; i < addrs->count; i++) {
		const char *lerror;
		role->listeners[i] = net_listener_create_str(
			role->net_service, dl->loops, addrs->addrs[i].str, &lerror);
		if (role->listeners[i] == NULL) {
			snprintf(error, sizeof(error), "listen.%s %s: %s",
				 set.name, addrs->addrs[i].str, lerror);
			*error_r = error;
			return -1;
		}
		role->listener_count++;
	}
	return 1;
}

static void background_collect(const struct service *service, void *ctx)
{
	struct daemon_listeners *dl = ctx;
	if (!service->background)
		return;
	if (dl->background_count == DAEMON_BACKGROUND_MAX) {
		log_error(NULL, "service-skipped",
			  "service=%s reason=\"too many background services\"",
			  service->name);
		return;
	}
	dl->background[dl->background_count++].service = service;
}

int daemon_listeners_open(struct daemon *d, const char **error_r)
{
	const struct config *c = d->config;
	struct daemon_listeners *dl = i_new(struct daemon_listeners, 1);
	d->listeners = dl;

	bool configured = false;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		role->id = l;
		if (c->listen[l].count == 0)
			continue;
		configured = true;
		role->service = service_find(config_listener_name(l));
		if (role->service == NULL) {
			log_warn(NULL, "listener-skipped",
				 "listener=%s reason=\"protocol not built yet\"",
				 config_listener_name(l));
			continue;
		}
	}

	dl->loops = net_loops_create(c->server.io_threads);
	if (configured) {
		dl->tls = tls_load(d, c, &dl->selfsigned, error_r);
		if (dl->tls == NULL)
			return -1;
	}
	dl->env.config = d->config;
	dl->env.loops = dl->loops;
	dl->env.workpool = d->workpool;
	dl->env.tls = dl->tls;
	dl->env.store = d->store;
	dl->env.auth = d->auth;

	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		if (role->service == NULL)
			continue;
		if (role_open(d, dl, role, error_r) < 0)
			return -1;
	}

	service_foreach(background_collect, dl);
	for (unsigned i = 0; i < dl->background_count; i++) {
		struct daemon_background *bg = &dl->background[i];
		if (bg->service->init != NULL &&
		    bg->service->init(&dl->env, &bg->context, error_r) < 0)
			return -1;
		bg->inited = true;
		log_info(NULL, "service-started", "service=%s background=yes",
			 bg->service->name);
	}
	return 1;
}

int daemon_services_control(struct daemon *d, const char *name,
			    const char *const *args, unsigned count,
			    const char **error_r)
{
	struct daemon_listeners *dl = d->listeners;
	int handled = 0;
	if (dl == NULL)
		return 0;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT + dl->background_count; l++) {
		const struct service *service;
		void *context;
		if (l < CONFIG_LISTEN_COUNT) {
			if (!dl->roles[l].service_inited)
				continue;
			service = dl->roles[l].service;
			context = dl->roles[l].service_context;
		} else {
			const struct daemon_background *bg =
				&dl->background[l - CONFIG_LISTEN_COUNT];
			if (!bg->inited)
				continue;
			service = bg->service;
			context = bg->context;
		}
		if (service->control == NULL ||
		    (name != NULL && strcmp(service->name, name) != 0))
			continue;
		int ret = service->control(context, args, count, error_r);
		if (ret < 0)
			return -1;
		handled += ret;
	}
	return handled;
}

int daemon_listeners_start(struct daemon *d, const char **error_r)
{
	net_loops_start(d->listeners->loops);
	return 1;
}

void daemon_listeners_describe(struct daemon *d, struct buf *out)
{
	struct daemon_listeners *dl = d->listeners;
	bool first = true;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		const struct daemon_role *role = &dl->roles[l];
		for (unsigned i = 0; i < role->listener_count; i++) {
			char addr[NET_ADDR_STR_SIZE];
			net_addr_str(net_listener_addr(role->listeners[i]), addr,
				     sizeof(addr));
			buf_printf(out, "%s%s=%s", first ? "" : " ",
				   config_listener_name(l), addr);
			first = false;
		}
	}
}

void daemon_listeners_banner(struct daemon *d, struct buf *out)
{
	struct daemon_listeners *dl = d->listeners;
	const struct config *c = d->config;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		const struct config_addr_list *addrs = &c->listen[l];
		for (unsigned i = 0; i < addrs->count; i++) {
			buf_printf(out, "  %-12s %-22s %s\n",
				   config_listener_name(l), addrs->addrs[i].str,
				   dl->roles[l].service != NULL ?
					   role_descriptions[l] :
					   "(not answering yet: protocol not built)");
		}
	}
	if (dl->selfsigned)
		buf_printf(out, "\nTLS: self-signed certificate %s/%s\n",
			   c->server.data_dir, TLS_SELFSIGNED_CERT_NAME);
}

void daemon_listeners_reload(struct daemon *d, struct config *config)
{
	struct daemon_listeners *dl = d->listeners;
	if (dl == NULL)
		return;
	if (dl->tls != NULL) {
		bool selfsigned;
		const char *error;
		/* Read as the daemon's user now: a key only root can read
		 * needs a restart. */
		bool drop = d->drop_privileges;
		d->drop_privileges = false;
		struct tls_ctx *tls = tls_load(d, config, &selfsigned, &error);
		d->drop_privileges = drop;
		if (tls == NULL) {
			char q[300];
			log_error(NULL, "tls-reload-failed",
				  "error=%s msg=\"keeping the old certificate; a key readable only by root needs a restart\"",
				  log_quote(q, sizeof(q), error));
		} else {
			for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
				if (dl->roles[l].net_service != NULL)
					net_service_set_tls(dl->roles[l].net_service, tls);
			}
			tls_ctx_unref(&dl->tls);
			dl->tls = tls;
			dl->selfsigned = selfsigned;
			log_info(NULL, "tls-reloaded", "selfsigned=%s",
				 selfsigned ? "yes" : "no");
		}
	}
	dl->env.config = config;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		if (role->service_inited && role->service->reload != NULL)
			role->service->reload(role->service_context, config);
	}
	for (unsigned i = 0; i < dl->background_count; i++) {
		struct daemon_background *bg = &dl->background[i];
		if (bg->inited && bg->service->reload != NULL)
			bg->service->reload(bg->context, config);
	}
}

void daemon_listeners_stop(struct daemon *d)
{
	struct daemon_listeners *dl = d->listeners;
	if (dl == NULL)
		return;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		for (unsigned i = 0; i < role->listener_count; i++)
			net_listener_destroy(&role->listeners[i]);
	}
	/* In-flight work (store commits) finishes and answers its client
	 * before the loops exit. */
	net_loops_stop(dl->loops, 5000);
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		if (role->service_inited && role->service->deinit != NULL)
			role->service->deinit(role->service_context);
		role->service_inited = false;
	}
	for (unsigned i = 0; i < dl->background_count; i++) {
		struct daemon_background *bg = &dl->background[i];
		if (bg->inited && bg->service->deinit != NULL)
			bg->service->deinit(bg->context);
		bg->inited = false;
	}
}

void daemon_listeners_free(struct daemon *d)
{
	struct daemon_listeners *dl = d->listeners;
	if (dl == NULL)
		return;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		struct daemon_role *role = &dl->roles[l];
		if (role->net_service != NULL)
			net_service_destroy(&role->net_service);
		i_free(role->listeners);
	}
	net_loops_destroy(&dl->loops);
	tls_ctx_unref(&dl->tls);
	i_free(dl);
	d->listeners = NULL;
}

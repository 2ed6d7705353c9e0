/* SPDX-License-Identifier: MIT */
/* Registration with posthornd: the "pop3" (110, STLS) and "pop3s" (995,
 * implicit TLS) listeners. posthornd sets up TLS, limits, the idle timeout
 * ([limits] pop3_idle_timeout, RFC 1939 section 3: at least 10 minutes). */
#include "lib.h"
#include "conn.h"
#include "config.h"
#include "service.h"
#include "pop3d.h"

static void pop3d_apply_config(struct pop3d_server *server,
			       const struct config *config)
{
	server->plaintext_loopback = config->pop3.allow_plaintext_loopback;
}

static int pop3d_init(const struct service_env *env, const char *name,
		      void **context_r, const char **error_r)
{
	struct pop3d_server *server;

	if (env->store == NULL || env->auth == NULL) {
		*error_r = "pop3 needs the store and the authentication layer";
		return -1;
	}
	server = i_new(struct pop3d_server, 1);
	server->name = name;
	server->store = env->store;
	server->auth = (struct auth_server *)env->auth;
	pop3d_apply_config(server, env->config);
	*context_r = server;
	return 0;
}

static int pop3d_init_pop3(const struct service_env *env, void **context_r,
			   const char **error_r)
{
	return pop3d_init(env, "pop3", context_r, error_r);
}

static int pop3d_init_pop3s(const struct service_env *env, void **context_r,
			    const char **error_r)
{
	return pop3d_init(env, "pop3s", context_r, error_r);
}

static void pop3d_reload(void *context, struct config *config)
{
	pop3d_apply_config(context, config);
}

static void pop3d_deinit(void *context)
{
	struct pop3d_server *server = context;

	i_free(server);
}

static const struct service pop3d_service_pop3 = {
	.name = "pop3",
	.handlers = &pop3d_conn_handlers,
	.too_many_message = "-ERR [SYS/TEMP] Too many connections\r\n",
	.init = pop3d_init_pop3,
	.reload = pop3d_reload,
	.deinit = pop3d_deinit,
};

static const struct service pop3d_service_pop3s = {
	.name = "pop3s",
	.handlers = &pop3d_conn_handlers,
	.too_many_message = NULL,
	.init = pop3d_init_pop3s,
	.reload = pop3d_reload,
	.deinit = pop3d_deinit,
};

const struct service *const pop3d_services[] = {
	&pop3d_service_pop3,
	&pop3d_service_pop3s,
	NULL,
};

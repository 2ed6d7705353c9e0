/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "buf.h"
#include "log.h"

/* posthornd without lib-net (not merged yet): starts, answers its control
 * socket, but opens no listener. */

int daemon_listeners_open(struct daemon *d, const char **error_r)
{
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		if (d->config->listen[l].count > 0)
			log_warn(NULL, "listener-skipped",
				 "listener=%s reason=\"networking not built yet\"",
				 config_listener_name(l));
	}
	return 1;
}

int daemon_listeners_start(struct daemon *d, const char **error_r)
{
	return 1;
}

void daemon_listeners_describe(struct daemon *d, struct buf *out)
{
}

void daemon_listeners_banner(struct daemon *d, struct buf *out)
{
	const struct config *c = d->config;
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		for (unsigned i = 0; i < c->listen[l].count; i++)
			buf_printf(out, "  %-12s %-22s %s\n",
				   config_listener_name(l),
				   c->listen[l].addrs[i].str,
				   "(not answering yet: protocol not built)");
	}
}

void daemon_listeners_reload(struct daemon *d, struct config *config)
{
}

void daemon_listeners_stop(struct daemon *d)
{
}

void daemon_listeners_free(struct daemon *d)
{
}

int daemon_services_control(struct daemon *d, const char *name,
			    const char *const *args, unsigned count,
			    const char **error_r)
{
	return 0;
}

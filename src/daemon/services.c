/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "service.h"

/* The protocol modules linked into posthornd (see service.h): meson
 * defines HAVE_<MODULE> when src/<module>/meson.build provides its dep. A
 * new protocol module adds one line here. */
static const struct service *const *const service_modules[] = {
#ifdef HAVE_SMTPD
	smtpd_services,
#endif
#ifdef HAVE_IMAPD
	imapd_services,
#endif
#ifdef HAVE_POP3D
	pop3d_services,
#endif
#ifdef HAVE_QUEUE
	queue_services,
#endif
	NULL
};

#define SERVICE_EXTRA_MAX 16
static const struct service *service_extra[SERVICE_EXTRA_MAX];
static unsigned service_extra_count;

void service_register(const struct service *service)
{
	i_assert(service_extra_count < SERVICE_EXTRA_MAX);
	service_extra[service_extra_count++] = service;
}

void service_foreach(void (*fn)(const struct service *service, void *ctx),
		     void *ctx)
{
	for (unsigned i = 0; i < service_extra_count; i++)
		fn(service_extra[i], ctx);
	for (size_t m = 0; service_modules[m] != NULL; m++) {
		for (size_t i = 0; service_modules[m][i] != NULL; i++)
			fn(service_modules[m][i], ctx);
	}
}

const struct service *service_find(const char *name)
{
	/* Run-time registrations win, so tests can stand in for a module. */
	for (unsigned i = 0; i < service_extra_count; i++) {
		if (strcmp(service_extra[i]->name, name) == 0)
			return service_extra[i];
	}
	for (size_t m = 0; service_modules[m] != NULL; m++) {
		for (size_t i = 0; service_modules[m][i] != NULL; i++) {
			if (strcmp(service_modules[m][i]->name, name) == 0)
				return service_modules[m][i];
		}
	}
	return NULL;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "log.h"

/* posthornd without the store or lib-auth (not merged yet). */

int daemon_accounts_open(struct daemon *d, const char **error_r)
{
	log_warn(NULL, "accounts-unavailable",
		 "reason=\"store or lib-auth not built yet\"");
	return 1;
}

int daemon_accounts_auth_flush(struct daemon *d, const char *address,
			       int64_t id, const char **error_r)
{
	return 0;
}

int daemon_accounts_mailbox_changed(struct daemon *d, const char *address,
				    const char *mailbox, const char **error_r)
{
	return 0;
}

void daemon_accounts_close_store(struct daemon *d)
{
}

void daemon_accounts_close_auth(struct daemon *d)
{
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "dns.h"
#include "mailauth-dns.h"

/* lib-dns already has the contract mailauth_dns asks for (callback later,
 * from the loop; cancel suppresses it), so the adapter only forwards. */

static void *resolver_lookup(void *dns_ctx, const char *name,
			     enum dns_type type,
			     mailauth_dns_callback_t *callback, void *cb_ctx)
{
	return dns_lookup(dns_ctx, name, type, callback, cb_ctx);
}

static void resolver_cancel(void *dns_ctx, void *request)
{
	struct dns_request *req = request;
	dns_request_cancel(&req);
}

void mailauth_dns_init_resolver(struct mailauth_dns *dns,
				struct dns_resolver *resolver)
{
	dns->lookup = resolver_lookup;
	dns->cancel = resolver_cancel;
	dns->dns_ctx = resolver;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "dns.h"
#include "queue-mx.h"

#include <arpa/inet.h>
#include <event2/event.h>

struct queue_mx_host {
	char *name;
	unsigned preference;
	struct dns_request *req_a, *req_aaaa;
	const char *a[QUEUE_MX_MAX_ADDRS];
	unsigned a_count;
	const char *aaaa[QUEUE_MX_MAX_ADDRS];
	unsigned aaaa_count;
};

struct queue_mx_lookup {
	struct pool *pool;
	struct dns_resolver *resolver;
	char *domain;
	char *self_name; /* lower case, no trailing dot; NULL = none */
	queue_mx_callback_t *callback;
	void *ctx;

	struct dns_request *req_mx;
	struct queue_mx_host hosts[QUEUE_MX_MAX_HOSTS];
	unsigned host_count;
	unsigned pending;
	bool implicit;
	bool dns_error;
	const char *dns_error_text;
	struct event *literal_ev;
	struct queue_mx_addr literal;
};

static void queue_mx_free(struct queue_mx_lookup *lookup)
{
	for (unsigned i = 0; i < lookup->host_count; i++) {
		dns_request_cancel(&lookup->hosts[i].req_a);
		dns_request_cancel(&lookup->hosts[i].req_aaaa);
	}
	dns_request_cancel(&lookup->req_mx);
	if (lookup->literal_ev != NULL)
		event_free(lookup->literal_ev);
	/* The struct lives in its own pool. */
	struct pool *pool = lookup->pool;
	pool_destroy(&pool);
}

void queue_mx_lookup_cancel(struct queue_mx_lookup **_lookup)
{
	struct queue_mx_lookup *lookup = *_lookup;

	if (lookup == NULL)
		return;
	*_lookup = NULL;
	queue_mx_free(lookup);
}

static void queue_mx_finish(struct queue_mx_lookup *lookup,
			    const struct queue_mx_result *result)
{
	lookup->callback(result, lookup->ctx);
	queue_mx_free(lookup);
}

static void queue_mx_fail(struct queue_mx_lookup *lookup,
			  enum queue_mx_status status, const char *enhanced,
			  const char *error)
{
	struct queue_mx_result result = {
		.status = status,
		.enhanced = enhanced,
		.error = error,
	};
	queue_mx_finish(lookup, &result);
}

static void queue_mx_addrs_done(struct queue_mx_lookup *lookup)
{
	struct queue_mx_addr addrs[QUEUE_MX_MAX_ADDRS];
	unsigned count = 0;

	/* In MX order; within a host IPv4 first, then IPv6. */
	for (unsigned i = 0; i < lookup->host_count; i++) {
		struct queue_mx_host *h = &lookup->hosts[i];
		for (unsigned j = 0; j < h->a_count && count < N_ELEMENTS(addrs);
		     j++)
			addrs[count++] = (struct queue_mx_addr){h->name, h->a[j]};
		for (unsigned j = 0;
		     j < h->aaaa_count && count < N_ELEMENTS(addrs); j++)
			addrs[count++] =
				(struct queue_mx_addr){h->name, h->aaaa[j]};
	}
	if (count > 0) {
		struct queue_mx_result result = {
			.status = QUEUE_MX_OK,
			.addrs = addrs,
			.addr_count = count,
		};
		queue_mx_finish(lookup, &result);
	} else if (lookup->dns_error) {
		queue_mx_fail(lookup, QUEUE_MX_TEMPFAIL, "4.4.3",
			      pool_printf(lookup->pool,
					  "address lookup for %s failed: %s",
					  lookup->domain,
					  lookup->dns_error_text));
	} else {
		queue_mx_fail(lookup, QUEUE_MX_PERMFAIL, "5.4.4",
			      pool_printf(lookup->pool,
					  lookup->implicit
						  ? "no MX and no address for %s"
						  : "no MX host of %s has an "
						    "address",
					  lookup->domain));
	}
}

struct queue_mx_addr_ctx {
	struct queue_mx_lookup *lookup;
	unsigned host_idx;
	bool v6;
};

static void queue_mx_on_addr(const struct dns_answer *answer,
			     const char *error, void *ctx)
{
	struct queue_mx_addr_ctx *actx = ctx;
	struct queue_mx_lookup *lookup = actx->lookup;
	struct queue_mx_host *host = &lookup->hosts[actx->host_idx];
	char text[INET6_ADDRSTRLEN];

	if (actx->v6)
		host->req_aaaa = NULL;
	else
		host->req_a = NULL;
	if (error != NULL) {
		lookup->dns_error = true;
		lookup->dns_error_text = pool_strdup(lookup->pool, error);
	} else if (answer->rcode != 0 && answer->rcode != 3) {
		lookup->dns_error = true;
		lookup->dns_error_text =
			pool_printf(lookup->pool, "rcode %d", answer->rcode);
	} else {
		for (size_t i = 0; i < answer->count; i++) {
			const struct dns_rr *rr = &answer->rrs[i];
			if (!actx->v6 && rr->type == DNS_TYPE_A &&
			    host->a_count < QUEUE_MX_MAX_ADDRS) {
				inet_ntop(AF_INET, rr->u.a, text, sizeof(text));
				host->a[host->a_count++] =
					pool_strdup(lookup->pool, text);
			} else if (actx->v6 && rr->type == DNS_TYPE_AAAA &&
				   host->aaaa_count < QUEUE_MX_MAX_ADDRS) {
				inet_ntop(AF_INET6, rr->u.aaaa, text,
					  sizeof(text));
				host->aaaa[host->aaaa_count++] =
					pool_strdup(lookup->pool, text);
			}
		}
	}
	i_assert(lookup->pending > 0);
	if (--lookup->pending == 0)
		queue_mx_addrs_done(lookup);
}

static void queue_mx_resolve_hosts(struct queue_mx_lookup *lookup)
{
	/* Start every lookup first: an answer can't arrive inside
	 * dns_lookup(), so pending can't reach 0 early. */
	for (unsigned i = 0; i < lookup->host_count; i++) {
		struct queue_mx_host *h = &lookup->hosts[i];
		struct queue_mx_addr_ctx *a4 =
			p_new(lookup->pool, struct queue_mx_addr_ctx, 1);
		struct queue_mx_addr_ctx *a6 =
			p_new(lookup->pool, struct queue_mx_addr_ctx, 1);

		*a4 = (struct queue_mx_addr_ctx){lookup, i, false};
		*a6 = (struct queue_mx_addr_ctx){lookup, i, true};
		lookup->pending += 2;
		h->req_a = dns_lookup(lookup->resolver, h->name, DNS_TYPE_A,
				      queue_mx_on_addr, a4);
		h->req_aaaa = dns_lookup(lookup->resolver, h->name,
					 DNS_TYPE_AAAA, queue_mx_on_addr, a6);
	}
}

static char *host_without_dot(struct pool *pool, const char *name)
{
	size_t len = strlen(name);

	if (len > 1 && name[len - 1] == '.')
		len--;
	return pool_strndup(pool, name, len);
}

static void queue_mx_on_mx(const struct dns_answer *answer, const char *error,
			   void *ctx)
{
	struct queue_mx_lookup *lookup = ctx;
	struct dns_rr rrs[QUEUE_MX_MAX_HOSTS * 4];
	size_t count = 0;

	lookup->req_mx = NULL;
	if (error != NULL) {
		queue_mx_fail(lookup, QUEUE_MX_TEMPFAIL, "4.4.3",
			      pool_printf(lookup->pool,
					  "MX lookup for %s failed: %s",
					  lookup->domain, error));
		return;
	}
	if (answer->rcode == 3) {
		queue_mx_fail(lookup, QUEUE_MX_PERMFAIL, "5.1.2",
			      pool_printf(lookup->pool,
					  "domain %s does not exist",
					  lookup->domain));
		return;
	}
	if (answer->rcode != 0) {
		queue_mx_fail(lookup, QUEUE_MX_TEMPFAIL, "4.4.3",
			      pool_printf(lookup->pool,
					  "MX lookup for %s failed: rcode %d",
					  lookup->domain, answer->rcode));
		return;
	}
	for (size_t i = 0; i < answer->count && count < N_ELEMENTS(rrs); i++) {
		if (answer->rrs[i].type == DNS_TYPE_MX)
			rrs[count++] = answer->rrs[i];
	}
	/* RFC 7505 section 3: a null MX is the single record "0 .". A
	 * misconfigured domain mixing it with real MX records is served by
	 * the real ones (section 4.3 leaves this to the sender). */
	size_t real = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(rrs[i].u.mx.host, ".") != 0)
			rrs[real++] = rrs[i];
	}
	if (count > 0 && real == 0) {
		queue_mx_fail(lookup, QUEUE_MX_PERMFAIL, "5.1.10",
			      pool_printf(lookup->pool,
					  "domain %s does not accept mail "
					  "(null MX)",
					  lookup->domain));
		return;
	}
	count = real;
	if (count == 0) {
		/* RFC 5321 section 5.1: no MX records, the domain itself
		 * is the implicit MX with preference 0. */
		lookup->implicit = true;
		lookup->hosts[0].name = lookup->domain;
		lookup->host_count = 1;
		queue_mx_resolve_hosts(lookup);
		return;
	}
	dns_mx_sort(rrs, count);
	/* Equal preferences in random order (RFC 5321 section 5.1), so load
	 * spreads across hosts of one preference. */
	for (size_t start = 0; start < count;) {
		size_t end = start + 1;
		while (end < count &&
		       rrs[end].u.mx.preference == rrs[start].u.mx.preference)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + (size_t)random() % (i - start + 1);
			struct dns_rr tmp = rrs[i];
			rrs[i] = rrs[j];
			rrs[j] = tmp;
		}
		start = end;
	}
	if (lookup->self_name != NULL) {
		/* RFC 5321 section 5.1: never relay to ourselves or to a
		 * host we are preferred over. */
		for (size_t i = 0; i < count; i++) {
			char *name = host_without_dot(lookup->pool,
						      rrs[i].u.mx.host);
			if (str_ascii_eq_ci(name, lookup->self_name)) {
				unsigned pref = rrs[i].u.mx.preference;
				size_t keep = 0;
				while (keep < count &&
				       rrs[keep].u.mx.preference < pref)
					keep++;
				count = keep;
				break;
			}
		}
		if (count == 0) {
			queue_mx_fail(lookup, QUEUE_MX_PERMFAIL, "5.4.6",
				      pool_printf(lookup->pool,
						  "mail for %s loops back to "
						  "myself",
						  lookup->domain));
			return;
		}
	}
	for (size_t i = 0; i < count && lookup->host_count < QUEUE_MX_MAX_HOSTS;
	     i++) {
		struct queue_mx_host *h = &lookup->hosts[lookup->host_count++];
		h->name = host_without_dot(lookup->pool, rrs[i].u.mx.host);
		h->preference = rrs[i].u.mx.preference;
	}
	queue_mx_resolve_hosts(lookup);
}

static void queue_mx_literal_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				void *ctx)
{
	struct queue_mx_lookup *lookup = ctx;
	struct queue_mx_result result = {
		.status = QUEUE_MX_OK,
		.addrs = &lookup->literal,
		.addr_count = 1,
	};

	if (lookup->literal.ip == NULL)
		queue_mx_fail(lookup, QUEUE_MX_PERMFAIL, "5.1.2",
			      "bad address literal");
	else
		queue_mx_finish(lookup, &result);
}

/* RFC 5321 section 4.1.3 address literals. */
static const char *parse_literal(struct pool *pool, const char *domain)
{
	size_t len = strlen(domain);
	uint8_t tmp[16];
	const char *inner;

	if (len < 3 || domain[len - 1] != ']')
		return NULL;
	inner = pool_strndup(pool, domain + 1, len - 2);
	if (str_ascii_has_prefix_ci(inner, "IPv6:")) {
		inner += 5;
		return inet_pton(AF_INET6, inner, tmp) == 1 ? inner : NULL;
	}
	return inet_pton(AF_INET, inner, tmp) == 1 ? inner : NULL;
}

struct queue_mx_lookup *queue_mx_lookup_host(struct event_base *base,
					     struct dns_resolver *resolver,
					     const char *host,
					     queue_mx_callback_t *callback,
					     void *ctx)
{
	struct pool *pool = pool_create("host lookup", 2048);
	struct queue_mx_lookup *lookup = p_new(pool, struct queue_mx_lookup, 1);
	uint8_t tmp[16];

	lookup->pool = pool;
	lookup->resolver = resolver;
	lookup->domain = host_without_dot(pool, host);
	str_ascii_lower(lookup->domain);
	lookup->callback = callback;
	lookup->ctx = ctx;
	if (inet_pton(AF_INET, host, tmp) == 1 ||
	    inet_pton(AF_INET6, host, tmp) == 1) {
		lookup->literal.host = lookup->domain;
		lookup->literal.ip = lookup->domain;
		lookup->literal_ev = event_new(base, -1, 0,
					       queue_mx_literal_cb, lookup);
		event_active(lookup->literal_ev, EV_TIMEOUT, 0);
		return lookup;
	}
	lookup->implicit = true;
	lookup->hosts[0].name = lookup->domain;
	lookup->host_count = 1;
	queue_mx_resolve_hosts(lookup);
	return lookup;
}

struct queue_mx_lookup *queue_mx_lookup(struct event_base *base,
					struct dns_resolver *resolver,
					const char *domain,
					const char *self_name,
					queue_mx_callback_t *callback,
					void *ctx)
{
	struct pool *pool = pool_create("mx lookup", 2048);
	struct queue_mx_lookup *lookup = p_new(pool, struct queue_mx_lookup, 1);

	lookup->pool = pool;
	lookup->resolver = resolver;
	lookup->domain = pool_strdup(pool, domain);
	str_ascii_lower(lookup->domain);
	if (self_name != NULL && self_name[0] != '\0')
		lookup->self_name = host_without_dot(pool, self_name);
	lookup->callback = callback;
	lookup->ctx = ctx;
	if (domain[0] == '[') {
		lookup->literal.host = lookup->domain;
		lookup->literal.ip = parse_literal(pool, domain);
		lookup->literal_ev = event_new(base, -1, 0,
					       queue_mx_literal_cb, lookup);
		event_active(lookup->literal_ev, EV_TIMEOUT, 0);
		return lookup;
	}
	lookup->req_mx = dns_lookup(resolver, lookup->domain, DNS_TYPE_MX,
				    queue_mx_on_mx, lookup);
	return lookup;
}

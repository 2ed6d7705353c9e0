/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "dns.h"

#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>
#include <unistd.h>

#define DNS_DEFAULT_TIMEOUT_MS 10000

struct dns_request {
	struct dns_request *prev, *next;
	struct dns_resolver *resolver;
	dns_callback_t *callback;
	void *ctx;
	enum dns_type type;
	int async_id;
	bool ub_pending;   /* unbound still owns a callback for us */
	bool cancelled;
	bool have_result;
	struct event *timer; /* timeout, then deferred delivery */
	struct dns_answer answer;
	const char *error;
	char *name;
};

struct dns_resolver {
	struct event_base *base;
	struct ub_ctx *ub;
	struct dns_request *requests;
	unsigned pending;
	unsigned timeout_ms;
};

static void request_unlink(struct dns_request *req)
{
	struct dns_resolver *r = req->resolver;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		r->requests = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	r->pending--;
}

static void request_free(struct dns_request *req)
{
	if (req->timer != NULL)
		event_free(req->timer);
	dns_answer_free(&req->answer);
	free(req->name);
	free(req);
}

static void request_deliver(struct dns_request *req)
{
	request_unlink(req);
	req->callback(req->error == NULL ? &req->answer : NULL, req->error,
		      req->ctx);
	/* Unbound may still call back for a timed-out query: then the
	 * request is freed in that callback instead. */
	if (req->ub_pending)
		req->cancelled = true;
	else
		request_free(req);
}

static void request_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_request *req = arg;
	if (!req->have_result) {
		req->have_result = true;
		req->error = "DNS lookup timed out";
		if (req->ub_pending && req->async_id != 0 &&
		    ub_cancel(req->resolver->ub, req->async_id) == 0)
			req->ub_pending = false;
	}
	request_deliver(req);
}

static void request_ub_cb(void *arg, int rcode, void *packet, int packet_len,
			  int sec, char *why_bogus, int was_ratelimited)
{
	struct dns_request *req = arg;
	req->ub_pending = false;
	if (req->cancelled) {
		request_free(req);
		return;
	}
	if (req->have_result)
		return; /* timed out and already queued for delivery */
	req->have_result = true;

	const char *error;
	if (packet == NULL || packet_len <= 0) {
		/* An error rcode here is unbound's own (e.g. SERVFAIL). */
		req->error = rcode == 3 ? NULL : "DNS server failure";
		req->answer.rcode = rcode;
	} else if (dns_packet_parse(packet, (size_t)packet_len,
				    (uint16_t)req->type, &req->answer,
				    &error) < 0) {
		req->error = error;
	} else {
		if (rcode != 0 && req->answer.rcode == 0)
			req->answer.rcode = rcode;
		req->answer.secure = sec == 2;
		req->answer.bogus = sec == 1;
		if (req->answer.rcode != 0 && req->answer.rcode != 3)
			req->error = "DNS server failure";
	}
	/* Deliver from the loop, never from inside dns_lookup (unbound calls
	 * back immediately for local data). */
	event_del(req->timer);
	struct timeval now = {0, 0};
	evtimer_add(req->timer, &now);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every owner in the static zone becomes a "static" local zone: names at or
 * below it get NXDOMAIN/NODATA unless the file has them. Only the topmost
 * owners are added as zones (their data includes what lies below them):
 * libunbound stops answering names in a static zone once a nested static
 * zone is added inside it. */
static int resolver_add_static(struct ub_ctx *ub, const struct dns_zone *zone)
{
	char **owners = i_new(char *, zone->count + 1);
	size_t n = 0;
	for (size_t i = 0; i < zone->count; i++)
		owners[n++] = zone->records[i].owner;
	qsort(owners, n, sizeof(*owners), str_cmp);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (i > 0 && strcmp(owners[i], owners[i - 1]) == 0)
			continue;
		bool nested = false;
		for (const char *p = strchr(owners[i], '.');
		     p != NULL && p[1] != '\0' && !nested; p = strchr(p + 1, '.')) {
			const char *parent = p + 1;
			nested = bsearch(&parent, owners, n, sizeof(*owners),
					 str_cmp) != NULL;
		}
		if (!nested)
			ret = ub_ctx_zone_add(ub, owners[i], "static");
	}
	free(owners);
	for (size_t i = 0; i < zone->count && ret == 0; i++) {
		char *line = dns_zone_record_line(&zone->records[i]);
		ret = ub_ctx_data_add(ub, line);
		free(line);
	}
	return ret;
}

int dns_setup_init(struct dns_setup *setup, const char *static_path,
		   const char *resolv_conf, bool static_only,
		   const char **error_r)
{
	memset(setup, 0, sizeof(*setup));
	setup->resolv_conf = resolv_conf;
	setup->static_only = static_only;
	if (static_path == NULL || static_path[0] == '\0')
		return 0;
	char *errors = NULL;
	if (dns_zone_parse_file(static_path, &setup->zone, &errors) < 0) {
		static char msg[512];
		snprintf(msg, sizeof(msg), "[dns] static: %s",
			 errors != NULL ? errors : "unreadable");
		free(errors);
		*error_r = msg;
		return -1;
	}
	setup->have_zone = true;
	return 0;
}

void dns_setup_deinit(struct dns_setup *setup)
{
	if (setup->have_zone)
		dns_zone_free(&setup->zone);
	setup->have_zone = false;
}

void dns_setup_settings(const struct dns_setup *setup,
			struct dns_resolver_settings *set_r)
{
	*set_r = (struct dns_resolver_settings){
		.static_zone = setup->have_zone ? &setup->zone : NULL,
		.resolv_conf = setup->resolv_conf,
		.static_only = setup->static_only,
	};
}

struct dns_resolver *dns_resolver_create(struct event_base *base,
					 const struct dns_resolver_settings *set,
					 const char **error_r)
{
	struct ub_ctx *ub = ub_ctx_create_event(base);
	if (ub == NULL) {
		*error_r = "cannot create the DNS resolver";
		return NULL;
	}
	int ret = 0;
	if (set->resolv_conf != NULL && access(set->resolv_conf, R_OK) == 0)
		ret = ub_ctx_resolvconf(ub, set->resolv_conf);
	if (ret == 0 && set->trust_anchor_file != NULL)
		ret = ub_ctx_add_ta_autr(ub, set->trust_anchor_file);
	const struct dns_zone *zone = set->static_zone;
	if (ret == 0 && zone != NULL)
		ret = resolver_add_static(ub, zone);
	/* The root as a static zone: what the static records do not cover
	 * is answered NXDOMAIN locally; their own zones, more specific,
	 * still answer them. Added after them: with the root added first,
	 * libunbound 1.17 let a name beside a static zone (sender.example
	 * next to remote.example) fall through to a lookup that timed out
	 * (tests/unit/lib-dns). */
	if (ret == 0 && set->static_only)
		ret = ub_ctx_zone_add(ub, ".", "static");
	if (ret != 0) {
		*error_r = ub_strerror(ret);
		ub_ctx_delete(ub);
		return NULL;
	}
	struct dns_resolver *r = i_new(struct dns_resolver, 1);
	r->base = base;
	r->ub = ub;
	r->timeout_ms = set->timeout_ms != 0 ? set->timeout_ms
					     : DNS_DEFAULT_TIMEOUT_MS;
	return r;
}

void dns_resolver_destroy(struct dns_resolver **_r)
{
	struct dns_resolver *r = *_r;
	if (r == NULL)
		return;
	while (r->requests != NULL) {
		struct dns_request *req = r->requests;
		request_unlink(req);
		if (req->ub_pending && req->async_id != 0)
			ub_cancel(r->ub, req->async_id);
		request_free(req);
	}
	ub_ctx_delete(r->ub);
	free(r);
	*_r = NULL;
}

struct dns_request *dns_lookup(struct dns_resolver *r, const char *name,
			       enum dns_type type, dns_callback_t *callback,
			       void *ctx)
{
	struct dns_request *req = i_new(struct dns_request, 1);
	req->resolver = r;
	req->callback = callback;
	req->ctx = ctx;
	req->type = type;
	req->name = i_strdup(name);
	req->timer = evtimer_new(r->base, request_timer_cb, req);
	req->next = r->requests;
	if (r->requests != NULL)
		r->requests->prev = req;
	r->requests = req;
	r->pending++;

	struct timeval tv = {r->timeout_ms / 1000,
			     (r->timeout_ms % 1000) * 1000};
	evtimer_add(req->timer, &tv);
	req->ub_pending = true;
	int ret = ub_resolve_event(r->ub, name, (int)type, 1, req,
				   request_ub_cb, &req->async_id);
	if (ret != 0) {
		req->ub_pending = false;
		if (!req->have_result) {
			req->have_result = true;
			req->error = ub_strerror(ret);
			event_del(req->timer);
			struct timeval now = {0, 0};
			evtimer_add(req->timer, &now);
		}
	}
	return req;
}

void dns_request_cancel(struct dns_request **_req)
{
	struct dns_request *req = *_req;
	if (req == NULL)
		return;
	*_req = NULL;
	request_unlink(req);
	event_del(req->timer);
	if (req->ub_pending && req->async_id != 0 &&
	    ub_cancel(req->resolver->ub, req->async_id) == 0)
		req->ub_pending = false;
	if (req->ub_pending)
		req->cancelled = true; /* freed when unbound calls back */
	else
		request_free(req);
}

unsigned dns_resolver_pending(const struct dns_resolver *r)
{
	return r->pending;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;
	return (int)x->u.mx.preference - (int)y->u.mx.preference;
}

void dns_mx_sort(struct dns_rr *rrs, size_t count)
{
	qsort(rrs, count, sizeof(*rrs), mx_cmp);
}

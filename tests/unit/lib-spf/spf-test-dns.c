/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "spf-test-dns.h"

#include <arpa/inet.h>

struct test_record {
	char *name;
	enum dns_type type; /* 0 = TIMEOUT */
	char *data;
	size_t len;
	unsigned pref;
};

struct test_request {
	char *name;
	enum dns_type type;
	mailauth_dns_callback_t *callback;
	void *ctx;
	bool cancelled;
};

struct test_dns {
	struct mailauth_dns iface;
	struct test_record *recs;
	size_t count, cap;
	struct test_request **queue;
	size_t qhead, qcount, qcap;
	unsigned queries;
};

static char *lower_nodot(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	char *r = i_strndup(s, len);
	str_ascii_lower(r);
	return r;
}

static void *td_lookup(void *dns_ctx, const char *name, enum dns_type type,
		       mailauth_dns_callback_t *callback, void *cb_ctx)
{
	struct test_dns *dns = dns_ctx;
	struct test_request *req = i_new(struct test_request, 1);
	req->name = lower_nodot(name, strlen(name));
	req->type = type;
	req->callback = callback;
	req->ctx = cb_ctx;
	if (dns->qcount == dns->qcap) {
		dns->qcap = dns->qcap == 0 ? 16 : dns->qcap * 2;
		dns->queue = i_realloc(dns->queue, dns->qcap * sizeof(*dns->queue));
	}
	dns->queue[dns->qcount++] = req;
	return req;
}

static void td_cancel(void *dns_ctx, void *request)
{
	struct test_request *req = request;
	req->cancelled = true;
}

struct test_dns *test_dns_create(void)
{
	struct test_dns *dns = i_new(struct test_dns, 1);
	dns->iface.lookup = td_lookup;
	dns->iface.cancel = td_cancel;
	dns->iface.dns_ctx = dns;
	return dns;
}

void test_dns_clear(struct test_dns *dns)
{
	for (size_t i = 0; i < dns->count; i++) {
		free(dns->recs[i].name);
		free(dns->recs[i].data);
	}
	dns->count = 0;
}

void test_dns_destroy(struct test_dns **_dns)
{
	struct test_dns *dns = *_dns;
	*_dns = NULL;
	test_dns_clear(dns);
	for (size_t i = dns->qhead; i < dns->qcount; i++) {
		free(dns->queue[i]->name);
		free(dns->queue[i]);
	}
	free(dns->queue);
	free(dns->recs);
	free(dns);
}

void test_dns_add(struct test_dns *dns, const char *name, const char *type,
		  const char *data, size_t len)
{
	static const struct { const char *name; enum dns_type type; } types[] = {
		{ "A", DNS_TYPE_A }, { "AAAA", DNS_TYPE_AAAA },
		{ "MX", DNS_TYPE_MX }, { "PTR", DNS_TYPE_PTR },
		{ "TXT", DNS_TYPE_TXT }, { "CNAME", DNS_TYPE_CNAME },
		{ "TIMEOUT", 0 },
	};
	if (dns->count == dns->cap) {
		dns->cap = dns->cap == 0 ? 64 : dns->cap * 2;
		dns->recs = i_realloc(dns->recs, dns->cap * sizeof(*dns->recs));
	}
	struct test_record *r = &dns->recs[dns->count];
	memset(r, 0, sizeof(*r));
	bool found = false;
	for (size_t i = 0; i < N_ELEMENTS(types); i++) {
		if (strcmp(types[i].name, type) == 0) {
			r->type = types[i].type;
			found = true;
		}
	}
	i_assert(found);
	r->name = lower_nodot(name, strlen(name));
	if (r->type == DNS_TYPE_MX) {
		char *end;
		r->pref = (unsigned)strtoul(data, &end, 10);
		while (*end == ' ')
			end++;
		len -= (size_t)(end - data);
		data = end;
	}
	r->data = i_malloc(len + 1);
	memcpy(r->data, data, len);
	r->len = len;
	dns->count++;
}

static bool name_exists(struct test_dns *dns, const char *name)
{
	for (size_t i = 0; i < dns->count; i++) {
		if (strcmp(dns->recs[i].name, name) == 0)
			return true;
	}
	return false;
}

static void answer(struct test_dns *dns, struct test_request *req)
{
	struct dns_answer a;
	char *name = i_strdup(req->name);
	memset(&a, 0, sizeof(a));
	a.rrs = i_new(struct dns_rr, dns->count + 1);

	for (unsigned hops = 0; hops < 8; hops++) {
		bool cname = false, timeout = false, have = false;
		for (size_t i = 0; i < dns->count; i++) {
			struct test_record *r = &dns->recs[i];
			if (strcmp(r->name, name) != 0)
				continue;
			timeout = timeout || r->type == 0;
			have = have || r->type == req->type;
		}
		if (timeout && !have) {
			/* TIMEOUT covers the types the name has no records of */
			free(name);
			free(a.rrs);
			req->callback(NULL, "timeout", req->ctx);
			return;
		}
		for (size_t i = 0; i < dns->count; i++) {
			struct test_record *r = &dns->recs[i];
			if (strcmp(r->name, name) != 0)
				continue;
			if (r->type == DNS_TYPE_CNAME && req->type != DNS_TYPE_CNAME) {
				free(name);
				name = lower_nodot(r->data, r->len);
				cname = true;
				break;
			}
		}
		if (!cname)
			break;
	}
	if (!name_exists(dns, name))
		a.rcode = 3;
	for (size_t i = 0; i < dns->count; i++) {
		struct test_record *r = &dns->recs[i];
		if (strcmp(r->name, name) != 0 || r->type != req->type)
			continue;
		struct dns_rr *rr = &a.rrs[a.count];
		rr->type = (uint16_t)r->type;
		snprintf(rr->owner, sizeof(rr->owner), "%s.", name);
		switch (r->type) {
		case DNS_TYPE_A:
			if (inet_pton(AF_INET, r->data, rr->u.a) != 1)
				continue;
			break;
		case DNS_TYPE_AAAA:
			if (inet_pton(AF_INET6, r->data, rr->u.aaaa) != 1)
				continue;
			break;
		case DNS_TYPE_MX:
			rr->u.mx.preference = (uint16_t)r->pref;
			snprintf(rr->u.mx.host, sizeof(rr->u.mx.host), "%s.",
				 r->data);
			break;
		case DNS_TYPE_PTR:
			snprintf(rr->u.name, sizeof(rr->u.name), "%s", r->data);
			break;
		case DNS_TYPE_TXT:
			rr->txt_or_data = (uint8_t *)r->data;
			rr->txt_len = r->len;
			break;
		default:
			continue;
		}
		a.count++;
	}
	free(name);
	req->callback(&a, NULL, req->ctx);
	free(a.rrs);
}

void test_dns_run(struct test_dns *dns)
{
	while (dns->qhead < dns->qcount) {
		struct test_request *req = dns->queue[dns->qhead++];
		if (!req->cancelled) {
			dns->queries++;
			answer(dns, req);
		}
		free(req->name);
		free(req);
	}
	dns->qhead = dns->qcount = 0;
}

unsigned test_dns_queries(const struct test_dns *dns)
{
	return dns->queries;
}

const struct mailauth_dns *test_dns_iface(struct test_dns *dns)
{
	return &dns->iface;
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "store-private.h"

/* Recipient resolution over the backend's lookups, so every backend
 * resolves the same way. */

#define STORE_RESOLVE_RESULTS_MAX 1000

struct store_resolve_ctx {
	struct store *store;
	struct pool *pool;
	int64_t *ids;
	unsigned id_count, id_alloc;
	const char **remote;
	unsigned remote_count, remote_alloc;
	/* The chain of aliases being expanded, for loop detection. */
	const char *path[64];
	unsigned depth;
	const char *error;
};

static int store_resolve_add_id(struct store_resolve_ctx *ctx, int64_t id)
{
	for (unsigned i = 0; i < ctx->id_count; i++) {
		if (ctx->ids[i] == id)
			return 1;
	}
	if (ctx->id_count + ctx->remote_count >= STORE_RESOLVE_RESULTS_MAX) {
		ctx->error = "too many recipients from alias expansion";
		return -1;
	}
	if (ctx->id_count == ctx->id_alloc) {
		unsigned n = ctx->id_alloc == 0 ? 4 : ctx->id_alloc * 2;
		int64_t *ids = p_new(ctx->pool, int64_t, n);
		if (ctx->id_count > 0)
			memcpy(ids, ctx->ids, sizeof(*ids) * ctx->id_count);
		ctx->ids = ids;
		ctx->id_alloc = n;
	}
	ctx->ids[ctx->id_count++] = id;
	return 1;
}

static int store_resolve_add_remote(struct store_resolve_ctx *ctx,
				    const char *address)
{
	for (unsigned i = 0; i < ctx->remote_count; i++) {
		if (strcmp(ctx->remote[i], address) == 0)
			return 1;
	}
	if (ctx->id_count + ctx->remote_count >= STORE_RESOLVE_RESULTS_MAX) {
		ctx->error = "too many recipients from alias expansion";
		return -1;
	}
	if (ctx->remote_count == ctx->remote_alloc) {
		unsigned n = ctx->remote_alloc == 0 ? 4 : ctx->remote_alloc * 2;
		const char **r = p_new(ctx->pool, const char *, n);
		if (ctx->remote_count > 0)
			memcpy(r, ctx->remote, sizeof(*r) * ctx->remote_count);
		ctx->remote = r;
		ctx->remote_alloc = n;
	}
	ctx->remote[ctx->remote_count++] = pool_strdup(ctx->pool, address);
	return 1;
}

static int store_resolve_address(struct store_resolve_ctx *ctx,
				 const char *address);

/* Expands source's alias targets. 1 if source is an alias, 0 if not. */
static int store_resolve_alias(struct store_resolve_ctx *ctx,
			       const char *source, const char *self)
{
	const struct store_backend *be = ctx->store->backend;
	const char *const *targets;
	unsigned count;
	const char *error;
	int ret = be->alias_targets(ctx->store, source, ctx->pool, &targets,
				    &count, &error);
	if (ret < 0) {
		ctx->error = error;
		return -1;
	}
	if (ret == 0)
		return 0;

	for (unsigned i = 0; i < ctx->depth; i++) {
		if (strcmp(ctx->path[i], source) == 0) {
			ctx->error =
			    pool_printf(ctx->pool, "alias loop at %s", source);
			return -1;
		}
	}
	if (ctx->depth >= ctx->store->alias_depth_max ||
	    ctx->depth >= N_ELEMENTS(ctx->path)) {
		ctx->error = pool_printf(
		    ctx->pool, "alias nesting too deep at %s", source);
		return -1;
	}
	ctx->path[ctx->depth++] = source;
	for (unsigned i = 0; i < count; i++) {
		const char *target = targets[i];
		if (strcmp(target, self) == 0) {
			/* "a@x -> a@x, b@y" keeps a copy in a's own account
			 * (as in Postfix's virtual table). */
			int64_t id;
			ret = be->account_id(ctx->store, self, &id, &error);
			if (ret < 0) {
				ctx->error = error;
				return -1;
			}
			if (ret > 0 && store_resolve_add_id(ctx, id) < 0)
				return -1;
			continue;
		}
		if (store_resolve_address(ctx, target) < 0)
			return -1;
	}
	ctx->depth--;
	return 1;
}

/* Tries the alias, then the account, of exactly address. */
static int store_resolve_exact(struct store_resolve_ctx *ctx,
			       const char *address)
{
	int ret = store_resolve_alias(ctx, address, address);
	if (ret != 0)
		return ret;
	int64_t id;
	const char *error;
	ret = ctx->store->backend->account_id(ctx->store, address, &id, &error);
	if (ret < 0) {
		ctx->error = error;
		return -1;
	}
	if (ret == 0)
		return 0;
	return store_resolve_add_id(ctx, id);
}

/* With no postmaster account configured (or it no longer exists), mail
 * to postmaster@domain still has to reach a person: the domain's oldest
 * account, normally the one its administrator created first. */
static int store_resolve_domain_admin(struct store_resolve_ctx *ctx,
				      const char *domain)
{
	struct store_account *accounts;
	unsigned count;
	const char *error;
	if (store_account_list(ctx->store, domain, ctx->pool, &accounts, &count,
			       &error) < 0) {
		ctx->error = error;
		return -1;
	}
	int64_t oldest = -1;
	for (unsigned i = 0; i < count; i++) {
		if (!accounts[i].disabled &&
		    (oldest < 0 || accounts[i].id < oldest))
			oldest = accounts[i].id;
	}
	return oldest < 0 ? 0 : store_resolve_add_id(ctx, oldest);
}

/* 1 resolved (something added), 0 unknown local address, -1 error. A
 * remote address is added as it is and counts as resolved. */
static int store_resolve_address(struct store_resolve_ctx *ctx,
				 const char *address)
{
	struct store *store = ctx->store;
	const char *norm, *local, *domain, *error;
	if (!store_address_normalize(ctx->pool, address, &norm, &local,
				     &domain)) {
		if (ctx->depth == 0)
			return 0;
		/* An unusable alias target is skipped, not fatal. */
		return 1;
	}
	int ret = store->backend->domain_exists(store, domain, &error);
	if (ret < 0) {
		ctx->error = error;
		return -1;
	}
	if (ret == 0) {
		if (ctx->depth == 0)
			return 0; /* not ours */
		return store_resolve_add_remote(ctx, address);
	}

	ret = store_resolve_exact(ctx, norm);
	if (ret != 0)
		return ret;

	const char *sep = store->subaddress_separator == '\0'
			      ? NULL
			      : strchr(local, store->subaddress_separator);
	if (sep != NULL && sep != local) {
		const char *base = pool_printf(
		    ctx->pool, "%.*s@%s", (int)(sep - local), local, domain);
		ret = store_resolve_exact(ctx, base);
		if (ret != 0)
			return ret;
	}

	/* RFC 5321 4.5.1: postmaster@ every domain must be deliverable. */
	if (strcmp(local, "postmaster") == 0) {
		if (store->postmaster_account != NULL &&
		    strcmp(norm, store->postmaster_account) != 0) {
			ret = store_resolve_exact(ctx, store->postmaster_account);
			if (ret != 0)
				return ret;
		}
		ret = store_resolve_domain_admin(ctx, domain);
		if (ret != 0)
			return ret;
	}

	const char *catchall = pool_printf(ctx->pool, "@%s", domain);
	ret = store_resolve_alias(ctx, catchall, "");
	if (ret != 0)
		return ret;
	/* An alias target naming an unknown local address: skipped, the
	 * other targets still get the message. */
	return ctx->depth == 0 ? 0 : 1;
}

int store_resolve(struct store *store, const char *address, struct pool *pool,
		  struct store_resolution *res_r, const char **error_r)
{
	struct store_resolve_ctx ctx = {.store = store, .pool = pool};
	memset(res_r, 0, sizeof(*res_r));
	/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain must work. */
	if (address != NULL && str_ascii_eq_ci(address, "postmaster")) {
		if (store->postmaster_account == NULL)
			return 0;
		address = store->postmaster_account;
	}
	int ret = store_resolve_address(&ctx, address);
	if (ret < 0) {
		*error_r = store_error_printf("%s", ctx.error);
		return -1;
	}
	if (ret == 0 || (ctx.id_count == 0 && ctx.remote_count == 0))
		return 0;
	res_r->account_ids = ctx.ids;
	res_r->account_count = ctx.id_count;
	res_r->remote = ctx.remote;
	res_r->remote_count = ctx.remote_count;
	return 1;
}

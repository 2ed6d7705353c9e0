/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "credentials.h"
#include "log.h"
#include "pool.h"
#include "store.h"
#include "auth-cache.h"
#include "auth-sasl.h"
#include "auth-throttle.h"
#include "workpool.h"

/* The store and the authentication layer, as posthornd wires them: one
 * store, one auth server whose credential lookups read the store. */

#define DEMO_DOMAIN "localhost"
#define DEMO_ACCOUNT "demo@localhost"
#define DEMO_PASSWORD_LEN 16

/* Runs on a workpool thread (auth-sasl.h): store reads are thread-safe. */
static enum auth_lookup_result
accounts_lookup(void *context, const char *username, struct pool *pool,
		struct auth_credentials *creds_r, const char **error_r)
{
	struct daemon *d = context;
	struct store_account *account;
	int ret = store_account_lookup(d->store, username, pool, &account,
				       error_r);
	if (ret < 0)
		return AUTH_LOOKUP_TEMPFAIL;
	if (ret == 0 || account->disabled)
		return AUTH_LOOKUP_NOT_FOUND;
	memset(creds_r, 0, sizeof(*creds_r));
	creds_r->account_id = account->id;
	creds_r->username = account->address;
	creds_r->password_hash = account->password_hash[0] != '\0' ?
					 account->password_hash : NULL;
	/* lib-auth takes the store's SCRAM fields as they are. */
	creds_r->scram_salt = account->scram_salt;
	creds_r->scram_iter = account->scram_iterations;
	creds_r->scram_stored_key = account->scram_stored_key;
	creds_r->scram_server_key = account->scram_server_key;
	return AUTH_LOOKUP_FOUND;
}

/* The embedded default's first start: domain localhost and the demo
 * account with a random password, shown once in the banner. */
static int demo_setup(struct daemon *d, const char **error_r)
{
	int ret = store_domain_exists(d->store, DEMO_DOMAIN, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0 && store_domain_add(d->store, DEMO_DOMAIN, error_r) != STORE_OK)
		return -1;

	struct pool *pool = pool_create("demo", 1024);
	struct store_account *account;
	ret = store_account_lookup(d->store, DEMO_ACCOUNT, pool, &account,
				   error_r);
	if (ret != 0) {
		pool_destroy(&pool);
		return ret < 0 ? -1 : 1;
	}
	char password[DEMO_PASSWORD_LEN + 1];
	credentials_random_password(password, DEMO_PASSWORD_LEN);
	struct store_credentials cred;
	int64_t id;
	if (credentials_from_password(password, pool, &cred, error_r) < 0 ||
	    store_account_add(d->store, DEMO_ACCOUNT, &cred, &id, error_r) !=
		    STORE_OK) {
		pool_destroy(&pool);
		return -1;
	}
	d->demo_password = i_strdup(password);
	explicit_bzero(password, sizeof(password));
	log_info(NULL, "demo-account-created", "account=%s", DEMO_ACCOUNT);
	pool_destroy(&pool);
	return 1;
}

int daemon_accounts_open(struct daemon *d, const char **error_r)
{
	const struct config *c = d->config;
	struct store_settings set;

	memset(&set, 0, sizeof(set));
	set.data_dir = c->server.data_dir;
	if (c->smtp.recipient_delimiter[0] != '\0')
		set.subaddress_separator = c->smtp.recipient_delimiter[0];
	else
		set.no_subaddress = true;
	if (c->server.postmaster[0] != '\0')
		set.postmaster_account = c->server.postmaster;
	if (store_open(&set, &d->store, error_r) < 0)
		return -1;

	d->auth_cache = auth_cache_create(NULL);
	d->auth_throttle = auth_throttle_create(NULL);
	struct auth_server_settings aset;
	memset(&aset, 0, sizeof(aset));
	aset.lookup.lookup = accounts_lookup;
	aset.lookup.context = d;
	aset.workpool = d->workpool;
	aset.cache = d->auth_cache;
	aset.throttle = d->auth_throttle;
	d->auth = auth_server_create(&aset, error_r);
	if (d->auth == NULL)
		return -1;

	if (c->embedded && demo_setup(d, error_r) < 0)
		return -1;
	return 1;
}

int daemon_accounts_auth_flush(struct daemon *d, const char *address,
			       int64_t id, const char **error_r)
{
	if (d->auth == NULL)
		return 0;
	if (id < 0) {
		struct pool *pool = pool_create("auth-flush", 512);
		struct store_account *account;
		int ret = store_account_lookup(d->store, address, pool,
					       &account, error_r);
		if (ret > 0)
			id = account->id;
		pool_destroy(&pool);
		if (ret <= 0)
			return ret;
	}
	auth_server_drop_account(d->auth, id);
	return 1;
}

int daemon_accounts_mailbox_changed(struct daemon *d, const char *address,
				    const char *mailbox, const char **error_r)
{
	if (d->store == NULL)
		return 0;
	struct pool *pool = pool_create("mailbox-changed", 1024);
	struct store_account *account;
	struct store_mailbox *box;
	int ret = store_account_lookup(d->store, address, pool, &account,
				       error_r);
	if (ret > 0)
		ret = store_mailbox_lookup(d->store, account->id, mailbox, pool,
					   &box, error_r);
	if (ret > 0)
		store_mailbox_notify_external(d->store, box->id);
	pool_destroy(&pool);
	return ret;
}

void daemon_accounts_close_store(struct daemon *d)
{
	/* Finishes every submitted transaction: in-flight durable writes
	 * complete before we exit. Their callbacks go to the stopped loops,
	 * which run them as they are freed. */
	store_close(&d->store);
}

void daemon_accounts_close_auth(struct daemon *d)
{
	/* The workpool is gone and the loops have run its last completions
	 * (main.c), so no session or lookup is left. */
	i_assert(d->workpool == NULL);
	auth_server_destroy(&d->auth);
	auth_cache_destroy(&d->auth_cache);
	auth_throttle_destroy(&d->auth_throttle);
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "timeutil.h"
#include "auth-cache.h"
#include "auth-private.h"

#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define CACHE_KEY_SIZE 32
#define CACHE_SECRET_SIZE 32
#define DEFAULT_TTL_MS (5 * 60 * 1000)
#define DEFAULT_MAX_ENTRIES 10000

struct cache_entry {
	struct auth_table_entry table; /* first */
	uint8_t key[CACHE_KEY_SIZE];
	int64_t expires_ms;
	int64_t account_id;
	char *canonical;
};

struct auth_cache {
	pthread_mutex_t lock;
	struct auth_table table;
	unsigned int ttl_ms, max_entries;
	int64_t (*now_ms)(void);
	/* Fetched once: implicit fetches per call contend on a lock in
	 * OpenSSL 3.0. */
	EVP_MAC *hmac;
	uint8_t secret[CACHE_SECRET_SIZE];
};

struct auth_cache *auth_cache_create(const struct auth_cache_settings *set)
{
	struct auth_cache *cache = i_new(struct auth_cache, 1);

	pthread_mutex_init(&cache->lock, NULL);
	cache->ttl_ms = set != NULL && set->ttl_ms != 0 ? set->ttl_ms :
							   DEFAULT_TTL_MS;
	cache->max_entries = set != NULL && set->max_entries != 0 ?
				     set->max_entries : DEFAULT_MAX_ENTRIES;
	cache->now_ms = set != NULL && set->now_ms != NULL ? set->now_ms :
							     time_mono_ms;
	auth_random_bytes(cache->secret, sizeof(cache->secret));
	cache->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (cache->hmac == NULL)
		i_fatal("auth cache: OpenSSL has no HMAC");
	auth_table_init(&cache->table, cache->max_entries);
	return cache;
}

static void entry_free(struct auth_cache *cache, struct cache_entry *e)
{
	auth_table_remove(&cache->table, &e->table);
	i_free(e->canonical);
	explicit_bzero(e, sizeof(*e));
	free(e);
}

void auth_cache_clear(struct auth_cache *cache)
{
	struct auth_table_entry *e;

	pthread_mutex_lock(&cache->lock);
	while ((e = auth_table_oldest(&cache->table)) != NULL)
		entry_free(cache, (struct cache_entry *)e);
	pthread_mutex_unlock(&cache->lock);
}

void auth_cache_destroy(struct auth_cache **_cache)
{
	struct auth_cache *cache = *_cache;

	if (cache == NULL)
		return;
	*_cache = NULL;
	auth_cache_clear(cache);
	auth_table_deinit(&cache->table);
	pthread_mutex_destroy(&cache->lock);
	explicit_bzero(cache->secret, sizeof(cache->secret));
	EVP_MAC_free(cache->hmac);
	i_free(cache);
}

/* The username's length goes first so that no (username, password) pair
 * can collide with another split of the same bytes. */
static void cache_key(const struct auth_cache *cache, const char *username,
		      const char *password, uint8_t key_r[CACHE_KEY_SIZE])
{
	size_t ulen = strlen(username), plen = strlen(password);
	uint8_t lenbuf[8];
	unsigned int key_len = CACHE_KEY_SIZE;

	for (int i = 0; i < 8; i++)
		lenbuf[i] = (uint8_t)(ulen >> (8 * i));
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cache->hmac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t out_len = 0;
	if (ctx == NULL ||
	    EVP_MAC_init(ctx, cache->secret, sizeof(cache->secret), params) != 1 ||
	    EVP_MAC_update(ctx, lenbuf, sizeof(lenbuf)) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)username, ulen) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)password, plen) != 1 ||
	    EVP_MAC_final(ctx, key_r, &out_len, key_len) != 1 ||
	    out_len != key_len)
		i_fatal("auth cache: HMAC-SHA256 failed");
	EVP_MAC_CTX_free(ctx);
}

int auth_cache_lookup(struct auth_cache *cache, const char *username,
		      const char *password, int64_t *account_id_r,
		      char **canonical_r)
{
	uint8_t key[CACHE_KEY_SIZE];
	int ret = 0;

	cache_key(cache, username, password, key);
	pthread_mutex_lock(&cache->lock);
	struct cache_entry *e = (struct cache_entry *)
		auth_table_find(&cache->table, key, sizeof(key));
	if (e != NULL && e->expires_ms <= cache->now_ms()) {
		entry_free(cache, e);
		e = NULL;
	}
	if (e != NULL) {
		auth_table_touch(&cache->table, &e->table);
		*account_id_r = e->account_id;
		if (canonical_r != NULL)
			*canonical_r = i_strdup(e->canonical);
		ret = 1;
	}
	pthread_mutex_unlock(&cache->lock);
	explicit_bzero(key, sizeof(key));
	return ret;
}

void auth_cache_insert(struct auth_cache *cache, const char *username,
		       const char *password, int64_t account_id,
		       const char *canonical)
{
	struct cache_entry *e = i_new(struct cache_entry, 1);

	cache_key(cache, username, password, e->key);
	e->table.key = e->key;
	e->table.key_len = sizeof(e->key);
	e->account_id = account_id;
	e->canonical = i_strdup(canonical != NULL ? canonical : username);

	pthread_mutex_lock(&cache->lock);
	e->expires_ms = cache->now_ms() + cache->ttl_ms;
	struct auth_table_entry *old =
		auth_table_find(&cache->table, e->key, sizeof(e->key));
	if (old != NULL)
		entry_free(cache, (struct cache_entry *)old);
	while (cache->table.count >= cache->max_entries)
		entry_free(cache, (struct cache_entry *)
				  auth_table_oldest(&cache->table));
	auth_table_insert(&cache->table, &e->table);
	pthread_mutex_unlock(&cache->lock);
}

unsigned int auth_cache_drop_account(struct auth_cache *cache,
				     int64_t account_id)
{
	unsigned int dropped = 0;

	pthread_mutex_lock(&cache->lock);
	struct auth_table_entry *t = cache->table.lru_head, *next;
	for (; t != NULL; t = next) {
		next = t->lru_next;
		struct cache_entry *e = (struct cache_entry *)t;
		if (e->account_id == account_id) {
			entry_free(cache, e);
			dropped++;
		}
	}
	pthread_mutex_unlock(&cache->lock);
	return dropped;
}

unsigned int auth_cache_count(struct auth_cache *cache)
{
	pthread_mutex_lock(&cache->lock);
	unsigned int count = cache->table.count;
	pthread_mutex_unlock(&cache->lock);
	return count;
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_CACHE_H
#define POSTHORN_AUTH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

/* A short-lived in-memory cache of successful password verifications
 * (DESIGN.md "Authentication cost"), so a client that logs in every few
 * commands does not pay a yescrypt verification each time.
 *
 * Entries are keyed by HMAC-SHA256(per-process random secret, username NUL
 * password): neither the password nor a fast unkeyed hash of it is kept in
 * memory. An entry lives ttl_ms from its insertion (a hit does not extend
 * it). Only successes are inserted; failures never are. When full, the
 * least recently used entry is evicted. All calls are thread-safe and cheap
 * (one HMAC and a hash lookup), fine on an event loop. */

struct auth_cache_settings {
	unsigned int ttl_ms;       /* 0 = 300000 (5 minutes) */
	unsigned int max_entries;  /* 0 = 10000 */
	/* Monotonic clock in milliseconds; NULL = time_mono_ms(). For tests. */
	int64_t (*now_ms)(void);
};

struct auth_cache;

/* set NULL or zero fields = defaults. */
struct auth_cache *auth_cache_create(const struct auth_cache_settings *set);
void auth_cache_destroy(struct auth_cache **cache);

/* Returns 1 when (username, password) verified successfully within the
 * TTL, with *account_id_r and, when canonical_r is not NULL, the account's
 * canonical name in *canonical_r (i_malloc'd, caller frees); 0 otherwise. */
int auth_cache_lookup(struct auth_cache *cache, const char *username,
		      const char *password, int64_t *account_id_r,
		      char **canonical_r);
/* Records a successful verification of password for username (as the client
 * typed it), for the account with id account_id and canonical name canonical
 * (NULL = username). Replaces an existing entry. */
void auth_cache_insert(struct auth_cache *cache, const char *username,
		       const char *password, int64_t account_id,
		       const char *canonical);
/* Forgets every entry for the account (the admin changed its password,
 * disabled or deleted it). Returns how many were dropped. */
unsigned int auth_cache_drop_account(struct auth_cache *cache,
				     int64_t account_id);
void auth_cache_clear(struct auth_cache *cache);
/* Live entries (expired ones may still be counted until touched). */
unsigned int auth_cache_count(struct auth_cache *cache);

#endif

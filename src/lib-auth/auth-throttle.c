/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "timeutil.h"
#include "auth-throttle.h"
#include "auth-private.h"

#include <arpa/inet.h>
#include <pthread.h>

#define DEFAULT_FREE_FAILURES 2
#define DEFAULT_BASE_DELAY_MS 1000
#define DEFAULT_MAX_DELAY_MS 30000
#define DEFAULT_DECAY_MS 60000
#define DEFAULT_MAX_ENTRIES 65536
/* Longer account names are cut: enough to tell real ones apart. */
#define KEY_MAX_LEN 256

struct throttle_entry {
	struct auth_table_entry table; /* first */
	unsigned int failures;
	int64_t last_failure_ms;
	size_t key_len;
	uint8_t key[]; /* 'i' + IP, '6' + IPv6 /64 prefix, or 'a' + lowercased
			  account name */
};

struct auth_throttle {
	pthread_mutex_t lock;
	struct auth_table table;
	struct auth_throttle_settings set;
};

struct auth_throttle *auth_throttle_create(const struct auth_throttle_settings *set)
{
	struct auth_throttle *throttle = i_new(struct auth_throttle, 1);

	if (set != NULL)
		throttle->set = *set;
	struct auth_throttle_settings *s = &throttle->set;
	if (s->free_failures == 0)
		s->free_failures = DEFAULT_FREE_FAILURES;
	else if (s->free_failures == AUTH_THROTTLE_NO_FREE)
		s->free_failures = 0;
	if (s->base_delay_ms == 0)
		s->base_delay_ms = DEFAULT_BASE_DELAY_MS;
	if (s->max_delay_ms == 0)
		s->max_delay_ms = DEFAULT_MAX_DELAY_MS;
	if (s->decay_ms == 0)
		s->decay_ms = DEFAULT_DECAY_MS;
	if (s->max_entries == 0)
		s->max_entries = DEFAULT_MAX_ENTRIES;
	if (s->now_ms == NULL)
		s->now_ms = time_mono_ms;
	pthread_mutex_init(&throttle->lock, NULL);
	auth_table_init(&throttle->table, s->max_entries);
	return throttle;
}

static void entry_free(struct auth_throttle *throttle, struct throttle_entry *e)
{
	auth_table_remove(&throttle->table, &e->table);
	free(e);
}

void auth_throttle_destroy(struct auth_throttle **_throttle)
{
	struct auth_throttle *throttle = *_throttle;
	struct auth_table_entry *e;

	if (throttle == NULL)
		return;
	*_throttle = NULL;
	while ((e = auth_table_oldest(&throttle->table)) != NULL)
		entry_free(throttle, (struct throttle_entry *)e);
	auth_table_deinit(&throttle->table);
	pthread_mutex_destroy(&throttle->lock);
	i_free(throttle);
}

static size_t make_key(char kind, const char *value, uint8_t key[KEY_MAX_LEN])
{
	struct in6_addr a6;
	size_t len = 1;

	key[0] = (uint8_t)kind;
	/* An IPv6 client is one /64, as for the connection limits: a
	 * single host commonly owns one whole and could otherwise spread
	 * its guesses over 2^64 addresses. */
	if (kind == 'i' && inet_pton(AF_INET6, value, &a6) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a6)) {
		key[0] = '6';
		memcpy(key + 1, a6.s6_addr, 8);
		return 9;
	}
	for (; *value != '\0' && len < KEY_MAX_LEN; value++, len++) {
		uint8_t c = (uint8_t)*value;
		key[len] = kind == 'a' && c >= 'A' && c <= 'Z' ? c + 32 : c;
	}
	return len;
}

/* Applies the decay for the quiet time since the last failure; frees the
 * entry and returns NULL when nothing is left. */
static struct throttle_entry *
entry_decay(struct auth_throttle *throttle, struct throttle_entry *e,
	    int64_t now)
{
	int64_t quiet = now - e->last_failure_ms;
	if (quiet < (int64_t)throttle->set.decay_ms)
		return e;
	int64_t periods = quiet / throttle->set.decay_ms;
	e->failures = periods >= 32 ? 0 : e->failures >> periods;
	e->last_failure_ms += periods * (int64_t)throttle->set.decay_ms;
	if (e->failures == 0) {
		entry_free(throttle, e);
		return NULL;
	}
	return e;
}

static struct throttle_entry *
entry_find(struct auth_throttle *throttle, char kind, const char *value,
	   int64_t now)
{
	uint8_t key[KEY_MAX_LEN];
	size_t len = make_key(kind, value, key);
	struct throttle_entry *e = (struct throttle_entry *)
		auth_table_find(&throttle->table, key, len);
	return e == NULL ? NULL : entry_decay(throttle, e, now);
}

static unsigned int failures_delay(const struct auth_throttle *throttle,
				   unsigned int failures)
{
	const struct auth_throttle_settings *s = &throttle->set;
	if (failures <= s->free_failures)
		return 0;
	unsigned int doublings = failures - s->free_failures - 1;
	uint64_t delay = doublings >= 32 ? UINT64_MAX :
		(uint64_t)s->base_delay_ms << doublings;
	return delay > s->max_delay_ms ? s->max_delay_ms : (unsigned int)delay;
}

unsigned int auth_throttle_delay(struct auth_throttle *throttle, const char *ip,
				 const char *account)
{
	unsigned int delay = 0;

	pthread_mutex_lock(&throttle->lock);
	int64_t now = throttle->set.now_ms();
	if (ip != NULL) {
		struct throttle_entry *e = entry_find(throttle, 'i', ip, now);
		if (e != NULL)
			delay = MAX(delay, failures_delay(throttle, e->failures));
	}
	if (account != NULL) {
		struct throttle_entry *e = entry_find(throttle, 'a', account, now);
		if (e != NULL)
			delay = MAX(delay, failures_delay(throttle, e->failures));
	}
	pthread_mutex_unlock(&throttle->lock);
	return delay;
}

static void record_failure(struct auth_throttle *throttle, char kind,
			   const char *value, int64_t now)
{
	struct throttle_entry *e = entry_find(throttle, kind, value, now);

	if (e == NULL) {
		uint8_t key[KEY_MAX_LEN];
		size_t len = make_key(kind, value, key);
		while (throttle->table.count >= throttle->set.max_entries)
			entry_free(throttle, (struct throttle_entry *)
					     auth_table_oldest(&throttle->table));
		e = i_malloc(sizeof(*e) + len);
		memcpy(e->key, key, len);
		e->key_len = len;
		e->table.key = e->key;
		e->table.key_len = len;
		auth_table_insert(&throttle->table, &e->table);
	} else {
		auth_table_touch(&throttle->table, &e->table);
	}
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_failure_ms = now;
}

void auth_throttle_failure(struct auth_throttle *throttle, const char *ip,
			   const char *account)
{
	pthread_mutex_lock(&throttle->lock);
	int64_t now = throttle->set.now_ms();
	if (ip != NULL)
		record_failure(throttle, 'i', ip, now);
	if (account != NULL)
		record_failure(throttle, 'a', account, now);
	pthread_mutex_unlock(&throttle->lock);
}

void auth_throttle_success(struct auth_throttle *throttle, const char *ip,
			   const char *account)
{
	if (account == NULL)
		return;
	pthread_mutex_lock(&throttle->lock);
	struct throttle_entry *e =
		entry_find(throttle, 'a', account, throttle->set.now_ms());
	if (e != NULL)
		entry_free(throttle, e);
	pthread_mutex_unlock(&throttle->lock);
}

unsigned int auth_throttle_count(struct auth_throttle *throttle)
{
	pthread_mutex_lock(&throttle->lock);
	unsigned int count = throttle->table.count;
	pthread_mutex_unlock(&throttle->lock);
	return count;
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_PRIVATE_H
#define POSTHORN_AUTH_PRIVATE_H

/* Helpers shared inside lib-auth; not part of its API. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Strict base64 (RFC 4648 section 4) as SASL protocols require (RFC 9051
 * section 6.2.2): alphabet only, padding only at the end, length a
 * multiple of 4, no whitespace. Appends the decoded bytes to out and
 * returns 0, or returns -1 (out unchanged in length) on bad input. */
int auth_base64_decode(const char *in, size_t in_len, struct buf *out);
/* Appends the base64 form of data to out. */
void auth_base64_encode(const void *data, size_t len, struct buf *out);

/* Fills dst with cryptographically strong random bytes; aborts on failure
 * (a server without randomness must not carry on). */
void auth_random_bytes(void *dst, size_t len);

/* Wipes then frees a NUL-terminated secret and sets the pointer to NULL. */
void auth_secret_free(char **secret);

/* SipHash-2-4 of data under a 16-byte key: table hashing that peers who
 * choose the keys (IP strings, user names) cannot flood. */
uint64_t auth_siphash(const uint8_t key[16], const void *data, size_t len);

/* A bounded table of binary keys with least-recently-used order, used by
 * the cache and the throttle under their own locks. Entries embed struct
 * auth_table_entry as their first member and are allocated by the user. */
struct auth_table_entry {
	struct auth_table_entry *hash_next;
	struct auth_table_entry *lru_prev, *lru_next; /* head = most recent */
	uint64_t hash;
	size_t key_len;
	uint8_t *key; /* owned by the entry's user */
};

struct auth_table {
	struct auth_table_entry **buckets;
	size_t bucket_mask;
	struct auth_table_entry *lru_head, *lru_tail;
	unsigned int count;
	uint8_t hash_key[16];
};

void auth_table_init(struct auth_table *table, unsigned int max_entries);
/* Frees the buckets only; the user frees the entries first (e.g. by
 * popping auth_table_oldest() until NULL). */
void auth_table_deinit(struct auth_table *table);
struct auth_table_entry *auth_table_find(struct auth_table *table,
					 const void *key, size_t key_len);
/* entry->key/key_len must be set; the key must not be present. Becomes
 * the most recent. */
void auth_table_insert(struct auth_table *table, struct auth_table_entry *entry);
void auth_table_remove(struct auth_table *table, struct auth_table_entry *entry);
void auth_table_touch(struct auth_table *table, struct auth_table_entry *entry);
static inline struct auth_table_entry *auth_table_oldest(struct auth_table *table)
{
	return table->lru_tail;
}

#endif

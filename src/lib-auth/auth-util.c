/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "auth-private.h"

#include <openssl/rand.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int auth_base64_decode(const char *in, size_t in_len, struct buf *out)
{
	size_t start = out->len;

	if (in_len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in_len; i += 4) {
		int v[4];
		unsigned int pad = 0;
		bool last = i + 4 == in_len;

		for (unsigned int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];
			if (c == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			/* Data after a pad character ("AA=A") is malformed. */
			if (pad > 0)
				goto fail;
			v[j] = base64_value(c);
			if (v[j] < 0)
				goto fail;
		}
		uint32_t n = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Non-zero bits under the padding would make two encodings of
		 * one value; RFC 4648 section 3.5 lets decoders reject them. */
		if ((pad == 1 && (n & 0xff) != 0) ||
		    (pad == 2 && (n & 0xffff) != 0))
			goto fail;
		buf_append_byte(out, (uint8_t)(n >> 16));
		if (pad < 2)
			buf_append_byte(out, (uint8_t)(n >> 8));
		if (pad < 1)
			buf_append_byte(out, (uint8_t)n);
	}
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

void auth_base64_encode(const void *data, size_t len, struct buf *out)
{
	const uint8_t *p = data;

	buf_reserve(out, i_size_mul((len + 2) / 3, 4));
	for (size_t i = 0; i < len; i += 3) {
		uint32_t n = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			n |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			n |= p[i + 2];
		buf_append_byte(out, (uint8_t)base64_alphabet[(n >> 18) & 63]);
		buf_append_byte(out, (uint8_t)base64_alphabet[(n >> 12) & 63]);
		buf_append_byte(out, i + 1 < len ?
				(uint8_t)base64_alphabet[(n >> 6) & 63] : '=');
		buf_append_byte(out, i + 2 < len ?
				(uint8_t)base64_alphabet[n & 63] : '=');
	}
}

void auth_random_bytes(void *dst, size_t len)
{
	if (RAND_bytes(dst, (int)len) != 1)
		i_fatal("RAND_bytes failed: no randomness for authentication");
}

void auth_secret_free(char **secret)
{
	if (*secret == NULL)
		return;
	explicit_bzero(*secret, strlen(*secret));
	i_free(*secret);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);     \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);     \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t auth_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	size_t full = len - len % 8;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void auth_table_init(struct auth_table *table, unsigned int max_entries)
{
	size_t n = 16;

	memset(table, 0, sizeof(*table));
	while (n < max_entries && n < ((size_t)1 << 30))
		n <<= 1;
	table->buckets = i_new(struct auth_table_entry *, n);
	table->bucket_mask = n - 1;
	auth_random_bytes(table->hash_key, sizeof(table->hash_key));
}

void auth_table_deinit(struct auth_table *table)
{
	i_assert(table->count == 0);
	i_free(table->buckets);
}

static void lru_unlink(struct auth_table *table, struct auth_table_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		table->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		table->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(struct auth_table *table, struct auth_table_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = table->lru_head;
	if (table->lru_head != NULL)
		table->lru_head->lru_prev = e;
	else
		table->lru_tail = e;
	table->lru_head = e;
}

struct auth_table_entry *auth_table_find(struct auth_table *table,
					 const void *key, size_t key_len)
{
	uint64_t hash = auth_siphash(table->hash_key, key, key_len);
	struct auth_table_entry *e = table->buckets[hash & table->bucket_mask];

	for (; e != NULL; e = e->hash_next) {
		if (e->hash == hash && e->key_len == key_len &&
		    memcmp(e->key, key, key_len) == 0)
			return e;
	}
	return NULL;
}

void auth_table_insert(struct auth_table *table, struct auth_table_entry *entry)
{
	entry->hash = auth_siphash(table->hash_key, entry->key, entry->key_len);
	struct auth_table_entry **bucket =
		&table->buckets[entry->hash & table->bucket_mask];
	entry->hash_next = *bucket;
	*bucket = entry;
	lru_push_head(table, entry);
	table->count++;
}

void auth_table_remove(struct auth_table *table, struct auth_table_entry *entry)
{
	struct auth_table_entry **p =
		&table->buckets[entry->hash & table->bucket_mask];

	while (*p != entry) {
		i_assert(*p != NULL);
		p = &(*p)->hash_next;
	}
	*p = entry->hash_next;
	entry->hash_next = NULL;
	lru_unlink(table, entry);
	table->count--;
}

void auth_table_touch(struct auth_table *table, struct auth_table_entry *entry)
{
	if (table->lru_head == entry)
		return;
	lru_unlink(table, entry);
	lru_push_head(table, entry);
}

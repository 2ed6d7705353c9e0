/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"

#define POOL_ALIGN 16
#define POOL_MIN_BLOCK 1024

struct pool_block {
	struct pool_block *next;
	size_t size, used;
	/* data follows, aligned */
	_Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool {
	char *name;
	struct pool_block *blocks; /* newest first */
	size_t used_total;
	size_t next_block_size;
};

static struct pool_block *block_new(size_t size)
{
	struct pool_block *b =
		i_malloc(i_size_add(sizeof(struct pool_block), size));
	b->size = size;
	return b;
}

struct pool *pool_create(const char *name, size_t initial_size)
{
	struct pool *p = i_new(struct pool, 1);
	p->name = i_strdup(name);
	p->next_block_size = MAX(initial_size, (size_t)POOL_MIN_BLOCK);
	p->blocks = block_new(p->next_block_size);
	return p;
}

void pool_destroy(struct pool **pool)
{
	struct pool *p = *pool;
	if (p == NULL)
		return;
	/* Cleared first: the pointer may live inside the pool itself (an
	 * object allocated from its own pool). */
	*pool = NULL;
	struct pool_block *b = p->blocks;
	while (b != NULL) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
	free(p->name);
	free(p);
}

void pool_clear(struct pool *pool)
{
	/* Keep the oldest block (the last in the list): it has the size the
	 * creator asked for. */
	struct pool_block *b = pool->blocks;
	while (b->next != NULL) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
	memset(b->data, 0, b->used);
	b->used = 0;
	pool->blocks = b;
	pool->used_total = 0;
	pool->next_block_size = b->size;
}

void *pool_alloc(struct pool *pool, size_t size)
{
	size_t need = (i_size_add(size, POOL_ALIGN - 1)) & ~(size_t)(POOL_ALIGN - 1);
	if (need == 0)
		need = POOL_ALIGN;
	struct pool_block *b = pool->blocks;
	if (b->size - b->used < need) {
		/* Grow geometrically so a pool holding N bytes costs
		 * O(log N) blocks. */
		size_t bsize = pool->next_block_size;
		while (bsize < need)
			bsize = i_size_mul(bsize, 2);
		pool->next_block_size = i_size_mul(bsize, 2);
		b = block_new(bsize);
		b->next = pool->blocks;
		pool->blocks = b;
	}
	void *ret = b->data + b->used;
	b->used += need;
	pool->used_total += size;
	return ret; /* block memory is zero from calloc or pool_clear */
}

void *pool_memdup(struct pool *pool, const void *data, size_t size)
{
	void *p = pool_alloc(pool, size);
	if (size > 0)
		memcpy(p, data, size);
	return p;
}

char *pool_strdup(struct pool *pool, const char *s)
{
	return s == NULL ? NULL : pool_memdup(pool, s, strlen(s) + 1);
}

char *pool_strndup(struct pool *pool, const char *s, size_t len)
{
	char *p = pool_alloc(pool, i_size_add(len, 1));
	memcpy(p, s, len);
	return p;
}

char *pool_vprintf(struct pool *pool, const char *fmt, va_list args)
{
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	i_assert(n >= 0);
	char *p = pool_alloc(pool, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, args);
	return p;
}

char *pool_printf(struct pool *pool, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	char *p = pool_vprintf(pool, fmt, args);
	va_end(args);
	return p;
}

size_t pool_used(const struct pool *pool)
{
	return pool->used_total;
}

const char *pool_name(const struct pool *pool)
{
	return pool->name;
}

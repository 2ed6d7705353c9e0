/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_POOL_H
#define POSTHORN_POOL_H

#include <stddef.h>
#include <stdarg.h>

/* A memory pool: an arena for one lifetime (connection, transaction,
 * command, message). Allocations are never freed one by one; the whole pool
 * is cleared or destroyed when its lifetime ends. Allocation never fails
 * (aborts on out-of-memory) and returns zero-filled memory aligned for any
 * type. A pool is used by one thread at a time. */
struct pool;

struct pool *pool_create(const char *name, size_t initial_size);
/* Sets *pool to NULL, then frees everything (so *pool may itself live in
 * the pool). NULL is allowed. */
void pool_destroy(struct pool **pool);
/* Frees every allocation but keeps the first block for reuse. */
void pool_clear(struct pool *pool);

void *pool_alloc(struct pool *pool, size_t size);
void *pool_memdup(struct pool *pool, const void *data, size_t size);
char *pool_strdup(struct pool *pool, const char *s); /* NULL in, NULL out */
char *pool_strndup(struct pool *pool, const char *s, size_t len);
char *pool_printf(struct pool *pool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *pool_vprintf(struct pool *pool, const char *fmt, va_list args)
	__attribute__((format(printf, 2, 0)));

/* Bytes handed out since creation or the last clear (for limits/metrics). */
size_t pool_used(const struct pool *pool);
const char *pool_name(const struct pool *pool);

#define p_new(pool, type, count) \
	((type *)pool_alloc(pool, i_size_mul(sizeof(type), (count))))

#endif

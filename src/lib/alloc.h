/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_ALLOC_H
#define POSTHORN_ALLOC_H

#include <stddef.h>
#include <stdarg.h>

/* Allocation that never returns NULL: on out-of-memory the process logs and
 * aborts, so callers never carry an error path for it. */
void *i_malloc(size_t size);  /* zero-filled */
void *i_realloc(void *ptr, size_t size);
void *i_memdup(const void *data, size_t size);
char *i_strdup(const char *s);              /* NULL in, NULL out */
char *i_strndup(const char *s, size_t max); /* stops at NUL or max */
char *i_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *i_strdup_vprintf(const char *fmt, va_list args) __attribute__((format(printf, 1, 0)));
/* Frees *ptr and sets it to NULL. */
#define i_free(ptr) do { free(ptr); (ptr) = NULL; } while (0)
#define i_new(type, count) ((type *)i_malloc(sizeof(type) * (count)))

/* size_t arithmetic that aborts on overflow instead of wrapping. */
size_t i_size_add(size_t a, size_t b);
size_t i_size_mul(size_t a, size_t b);

#endif

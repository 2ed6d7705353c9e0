/* SPDX-License-Identifier: MIT */
#include "lib.h"

#include <unistd.h>

static void ATTR_NORETURN out_of_memory(size_t size)
{
	/* Avoid anything that allocates: write straight to stderr. */
	char msg[96];
	int n = snprintf(msg, sizeof(msg),
			 "level=fatal event=out_of_memory size=%zu\n", size);
	if (n > 0 && write(2, msg, (size_t)n) < 0) {
		/* nothing more we can do */
	}
	abort();
}

void *i_malloc(size_t size)
{
	void *p = calloc(1, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *i_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *i_memdup(const void *data, size_t size)
{
	void *p = i_malloc(size);
	if (size > 0)
		memcpy(p, data, size);
	return p;
}

char *i_strdup(const char *s)
{
	return s == NULL ? NULL : i_memdup(s, strlen(s) + 1);
}

char *i_strndup(const char *s, size_t max)
{
	size_t len = strnlen(s, max);
	char *p = i_malloc(len + 1);
	memcpy(p, s, len);
	return p;
}

char *i_strdup_vprintf(const char *fmt, va_list args)
{
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	i_assert(n >= 0);
	char *p = i_malloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, args);
	return p;
}

char *i_strdup_printf(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	char *p = i_strdup_vprintf(fmt, args);
	va_end(args);
	return p;
}

size_t i_size_add(size_t a, size_t b)
{
	size_t r;
	if (__builtin_add_overflow(a, b, &r))
		out_of_memory(SIZE_MAX);
	return r;
}

size_t i_size_mul(size_t a, size_t b)
{
	size_t r;
	if (__builtin_mul_overflow(a, b, &r))
		out_of_memory(SIZE_MAX);
	return r;
}

void lib_assert_failed(const char *expr, const char *file, int line,
		       const char *func)
{
	fprintf(stderr, "level=fatal event=assert expr=\"%s\" at=%s:%d func=%s\n",
		expr, file, line, func);
	fflush(stderr);
	abort();
}

void i_fatal(const char *fmt, ...)
{
	va_list args;
	fputs("level=fatal ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	exit(1);
}

/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"

void buf_free(struct buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

void buf_reserve(struct buf *buf, size_t extra)
{
	size_t need = i_size_add(buf->len, extra);
	if (need <= buf->cap && buf->data != NULL)
		return;
	size_t cap = buf->cap < 64 ? 64 : buf->cap;
	while (cap < need)
		cap = i_size_mul(cap, 2);
	buf->data = i_realloc(buf->data, i_size_add(cap, 1));
	buf->cap = cap;
	buf->data[buf->len] = '\0';
}

void buf_append(struct buf *buf, const void *data, size_t len)
{
	buf_reserve(buf, len);
	if (len > 0)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void buf_append_str(struct buf *buf, const char *s)
{
	buf_append(buf, s, strlen(s));
}

void buf_append_byte(struct buf *buf, uint8_t c)
{
	buf_append(buf, &c, 1);
}

int buf_append_max(struct buf *buf, const void *data, size_t len, size_t max)
{
	if (buf->len > max || len > max - buf->len)
		return -1;
	buf_append(buf, data, len);
	return 0;
}

void buf_vprintf(struct buf *buf, const char *fmt, va_list args)
{
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	i_assert(n >= 0);
	buf_reserve(buf, (size_t)n);
	vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, args);
	buf->len += (size_t)n;
}

void buf_printf(struct buf *buf, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	buf_vprintf(buf, fmt, args);
	va_end(args);
}

void buf_consume(struct buf *buf, size_t n)
{
	i_assert(n <= buf->len);
	if (n == 0)
		return;
	memmove(buf->data, buf->data + n, buf->len - n);
	buf->len -= n;
	buf->data[buf->len] = '\0';
}

void buf_truncate(struct buf *buf, size_t len)
{
	if (len >= buf->len)
		return;
	buf->len = len;
	buf->data[len] = '\0';
}

const char *buf_cstr(const struct buf *buf)
{
	return buf->data == NULL ? "" : (const char *)buf->data;
}

bool buf_equals(const struct buf *buf, const void *data, size_t len)
{
	return buf->len == len && (len == 0 || memcmp(buf->data, data, len) == 0);
}

uint8_t *buf_steal(struct buf *buf, size_t *len_r)
{
	if (buf->data == NULL)
		buf_reserve(buf, 0);
	uint8_t *p = buf->data;
	*len_r = buf->len;
	buf->data = NULL;
	buf->len = buf->cap = 0;
	return p;
}

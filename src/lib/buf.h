/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdbool.h>

/* The one binary-safe growable buffer, for everything built or received.
 * data is always followed by a NUL byte (not counted in len), so text can be
 * handed to C string functions; binary content may contain NULs itself.
 * A zero-initialised struct buf is a valid empty buffer. */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap; /* allocated bytes, excluding the trailing NUL */
};

#define BUF_INIT { NULL, 0, 0 }

void buf_free(struct buf *buf);
/* Ensures room for extra more bytes. */
void buf_reserve(struct buf *buf, size_t extra);
void buf_append(struct buf *buf, const void *data, size_t len);
void buf_append_str(struct buf *buf, const char *s);
void buf_append_byte(struct buf *buf, uint8_t c);
void buf_printf(struct buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *buf, const char *fmt, va_list args)
	__attribute__((format(printf, 2, 0)));
/* Appends unless the result would exceed max bytes: returns 0 on success,
 * -1 (buffer unchanged) when the limit would be passed. For peer input. */
int buf_append_max(struct buf *buf, const void *data, size_t len, size_t max);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *buf, size_t n);
void buf_truncate(struct buf *buf, size_t len);
static inline void buf_reset(struct buf *buf) { buf_truncate(buf, 0); }
/* The content as a C string (never NULL, even for an empty buffer). */
const char *buf_cstr(const struct buf *buf);
bool buf_equals(const struct buf *buf, const void *data, size_t len);
/* Hands the allocation to the caller (NUL-terminated) and empties buf. */
uint8_t *buf_steal(struct buf *buf, size_t *len_r);

#endif

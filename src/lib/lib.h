/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_LIB_H
#define POSTHORN_LIB_H

/* The common header every Posthorn source file includes first: standard
 * headers, assertion and helper macros, and the poisoned unsafe string
 * functions. Keep it small: module APIs live in their own headers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <sys/types.h>

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#define ATTR_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ATTR_NULL_TERMINATED __attribute__((sentinel))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Programming errors are assertions; they stay on in release builds, since a
 * mail server that continues past a broken invariant can lose mail. */
void lib_assert_failed(const char *expr, const char *file, int line,
		       const char *func) ATTR_NORETURN;
#define i_assert(expr)                                                         \
	do {                                                                   \
		if (__builtin_expect(!(expr), 0))                              \
			lib_assert_failed(#expr, __FILE__, __LINE__,           \
					  __func__);                           \
	} while (0)
#define i_unreached() lib_assert_failed("unreached", __FILE__, __LINE__, __func__)

/* Fatal error: logs and exits(1). For start-up failures, not for peers. */
void i_fatal(const char *fmt, ...) ATTR_FORMAT(1, 2) ATTR_NORETURN;

#include "alloc.h"

#ifndef POSTHORN_NO_POISON
#pragma GCC poison strcpy strcat sprintf vsprintf strtok gets
#endif

#endif

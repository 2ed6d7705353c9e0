/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STRUTIL_H
#define POSTHORN_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII-only case-insensitive comparisons: protocol keywords are ASCII and
 * must not depend on the locale. */
bool str_ascii_eq_ci(const char *a, const char *b);
bool str_ascii_has_prefix_ci(const char *s, const char *prefix);
int str_ascii_ncmp_ci(const char *a, const char *b, size_t n);
void str_ascii_lower(char *s);

/* Parses a whole decimal string (no sign, no spaces) into *r; -1 on empty,
 * non-digit or overflow past max. */
int str_to_uint64(const char *s, uint64_t max, uint64_t *r);
int str_to_uint64_n(const char *s, size_t len, uint64_t max, uint64_t *r);

/* Strips leading and trailing ASCII whitespace in place; returns s moved
 * past leading whitespace. */
char *str_trim(char *s);

/* Value of a hexadecimal digit (either case), or -1. */
int hex_digit_value(unsigned char c);
/* Value of a base64 digit (RFC 4648 section 4 alphabet: A-Z a-z 0-9 + /),
 * or -1 (padding '=' included). */
int base64_digit_value(unsigned char c);

/* Constant-time comparison of two equal-length buffers. */
bool mem_equals_timing_safe(const void *a, const void *b, size_t len);

#endif

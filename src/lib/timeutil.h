/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_TIMEUTIL_H
#define POSTHORN_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

/* Monotonic clock, for timeouts and durations. */
int64_t time_mono_ms(void);
int64_t time_mono_us(void);
/* Wall clock, microseconds since the epoch. */
int64_t time_real_us(void);

/* "2026-11-30T08:18:22.123Z" (UTC). Returns dst. */
const char *time_format_iso8601_ms(int64_t real_us, char *dst, size_t size);
/* RFC 5322 section 3.3 date-time in local time with numeric zone:
 * "Mon, 30 Nov 2026 08:18:22 +0000". Locale-independent. Returns dst. */
const char *time_format_rfc5322(time_t t, char *dst, size_t size);
/* IMAP date-time (RFC 9051 section 9): "30-Nov-2026 08:18:22 +0000". */
const char *time_format_imap(time_t t, int tz_offset_minutes, char *dst,
			     size_t size);
/* Offset of local time from UTC at t, in minutes east. */
int time_local_offset_minutes(time_t t);

#endif

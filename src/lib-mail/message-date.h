/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_MESSAGE_DATE_H
#define POSTHORN_MESSAGE_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parses an RFC 5322 section 3.3 date-time, with the obsolete forms of
 * section 4.3 (two- and three-digit years, named and military zones,
 * comments, missing day name and seconds). Returns true with *time_r in UTC
 * seconds since the epoch and *tz_offset_r the zone in minutes east of UTC
 * (0 for unknown zones, as section 4.3 says), or false when it is not a
 * date. */
bool message_date_parse(const uint8_t *data, size_t size, time_t *time_r,
			int *tz_offset_r);

#endif

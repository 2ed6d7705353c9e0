/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "timeutil.h"

static const char *const wday_names[] = {"Sun", "Mon", "Tue", "Wed",
					 "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
					  "May", "Jun", "Jul", "Aug",
					  "Sep", "Oct", "Nov", "Dec"};

int64_t time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t time_mono_ms(void)
{
	return time_mono_us() / 1000;
}

int64_t time_real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *time_format_iso8601_ms(int64_t real_us, char *dst, size_t size)
{
	time_t secs = (time_t)(real_us / 1000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(dst, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)((real_us / 1000) % 1000));
	return dst;
}

int time_local_offset_minutes(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return (int)(tm.tm_gmtoff / 60);
}

static void format_zone(int off, char zone[8])
{
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(zone, 8, "%c%02d%02d", sign, (off / 60) % 100, off % 60);
}

const char *time_format_rfc5322(time_t t, char *dst, size_t size)
{
	struct tm tm;
	localtime_r(&t, &tm);
	char zone[8];
	format_zone((int)(tm.tm_gmtoff / 60), zone);
	snprintf(dst, size, "%s, %d %s %04d %02d:%02d:%02d %s",
		 wday_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
	return dst;
}

const char *time_format_imap(time_t t, int tz_offset_minutes, char *dst,
			     size_t size)
{
	time_t shifted = t + (time_t)tz_offset_minutes * 60;
	struct tm tm;
	gmtime_r(&shifted, &tm);
	char zone[8];
	format_zone(tz_offset_minutes, zone);
	snprintf(dst, size, "%02d-%s-%04d %02d:%02d:%02d %s", tm.tm_mday,
		 month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, zone);
	return dst;
}

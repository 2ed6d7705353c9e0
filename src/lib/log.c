/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "buf.h"
#include "timeutil.h"

#include <stdatomic.h>
#include <unistd.h>
#include <time.h>

static _Atomic int log_level = LOG_LEVEL_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	log_level = (int)level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)log_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

int log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < N_ELEMENTS(level_names); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(name, "warning") == 0) {
		*level_r = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

void log_eventv(enum log_level level, const char *sid, const char *event,
		const char *fmt, va_list args)
{
	if (!log_enabled(level))
		return;
	char ts[40];
	time_format_iso8601_ms(time_real_us(), ts, sizeof(ts));

	char line[4096];
	int n = snprintf(line, sizeof(line), "ts=%s level=%s", ts,
			 level_names[level]);
	size_t len = n > 0 ? (size_t)n : 0;
	if (sid != NULL && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, " sid=%s", sid);
		len += n > 0 ? (size_t)n : 0;
	}
	if (len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, " event=%s", event);
		len += n > 0 ? (size_t)n : 0;
	}
	if (fmt != NULL && *fmt != '\0' && len + 1 < sizeof(line)) {
		line[len++] = ' ';
		n = vsnprintf(line + len, sizeof(line) - len, fmt, args);
		len += n > 0 ? (size_t)n : 0;
	}
	if (len >= sizeof(line) - 1) {
		/* A line is cut rather than split, so one event stays one line. */
		len = sizeof(line) - 5;
		memcpy(line + len, "...", 3);
		len += 3;
	}
	line[len++] = '\n';
	ssize_t ret = write(log_fd, line, len);
	(void)ret; /* nowhere to report a failing log */
}

void log_event(enum log_level level, const char *sid, const char *event,
	       const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	log_eventv(level, sid, event, fmt, args);
	va_end(args);
}

void log_session_id_new(char sid_r[LOG_SID_SIZE])
{
	static _Atomic uint64_t counter;
	static uint64_t boot;
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	if (boot == 0) {
		/* Races here are harmless: every writer stores a similar
		 * value, and uniqueness comes from the counter. */
		boot = (uint64_t)time_real_us() ^ ((uint64_t)getpid() << 40);
	}
	uint64_t n = atomic_fetch_add(&counter, 1);
	/* Mix so consecutive ids don't look alike, but stay a bijection of
	 * (boot, n): 12 base-36 digits hold ~62 bits. */
	uint64_t v = (boot * 0x9E3779B97F4A7C15ULL) + n * 0xBF58476D1CE4E5B9ULL;
	v ^= v >> 31;
	for (int i = 0; i < LOG_SID_SIZE - 1; i++) {
		sid_r[i] = alphabet[v % 36];
		v /= 36;
	}
	sid_r[LOG_SID_SIZE - 1] = '\0';
}

const char *log_quote(char *dst, size_t dst_size, const char *value)
{
	i_assert(dst_size >= 8);
	bool plain = *value != '\0';
	for (const char *p = value; *p != '\0' && plain; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=')
			plain = false;
	}
	size_t max = MIN(dst_size, (size_t)210);
	size_t o = 0;
	if (plain) {
		for (const char *p = value; *p != '\0' && o + 4 < max; p++)
			dst[o++] = *p;
		if (value[o] != '\0')
			o = (size_t)snprintf(dst + o, dst_size - o, "...") + o;
		dst[o] = '\0';
		return dst;
	}
	dst[o++] = '"';
	for (const char *p = value; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (o + 8 >= max) {
			dst[o++] = '.';
			dst[o++] = '.';
			dst[o++] = '.';
			break;
		}
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* Logging: one line per event, key=value, written with a single write(2) so
 * lines from different threads never interleave:
 *
 *   ts=2026-11-30T08:18:22.123Z level=info sid=k3x9q2m7a1bc event=connect ip=127.0.0.1
 *
 * The caller's format supplies the key=value pairs after event=; values that
 * may contain spaces or quotes go through log_quote(). */

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

#define LOG_SID_SIZE 13 /* 12 characters + NUL */

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
static inline bool log_enabled(enum log_level level)
{
	return level >= log_get_level();
}
/* "debug", "info", "warn"/"warning", "error": 0 and *level_r set, or -1. */
int log_level_parse(const char *name, enum log_level *level_r);
/* Redirects output (default stderr, fd 2). For tests. */
void log_set_fd(int fd);

/* sid may be NULL for events not tied to a session. fmt may be NULL. */
void log_event(enum log_level level, const char *sid, const char *event,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_eventv(enum log_level level, const char *sid, const char *event,
		const char *fmt, va_list args) __attribute__((format(printf, 4, 0)));

#define log_debug(sid, event, ...)                                             \
	do {                                                                   \
		if (log_enabled(LOG_LEVEL_DEBUG))                              \
			log_event(LOG_LEVEL_DEBUG, sid, event, __VA_ARGS__);   \
	} while (0)
#define log_info(sid, event, ...) log_event(LOG_LEVEL_INFO, sid, event, __VA_ARGS__)
#define log_warn(sid, event, ...) log_event(LOG_LEVEL_WARN, sid, event, __VA_ARGS__)
#define log_error(sid, event, ...) log_event(LOG_LEVEL_ERROR, sid, event, __VA_ARGS__)

/* A new session id: 12 characters of [a-z0-9], unique within the process
 * and unlikely to repeat across restarts. Thread-safe. */
void log_session_id_new(char sid_r[LOG_SID_SIZE]);

/* Formats value for a log line: as is when it is non-empty and has only
 * printable non-space, non-quote ASCII; otherwise in double quotes with \",
 * \\ and \xNN escapes, cut at about 200 bytes. Returns dst. */
const char *log_quote(char *dst, size_t dst_size, const char *value);

#endif

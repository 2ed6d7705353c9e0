/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_AUTH_THROTTLE_H
#define POSTHORN_AUTH_THROTTLE_H

#include <stdint.h>

/* Throttling of failed authentications, per client IP and per account name.
 *
 * Each key (an IP, an account name) counts recent failures n. The delay for
 * a key is 0 while n <= free_failures, then base_delay_ms doubling per
 * further failure (1 s, 2 s, 4 s, ...) capped at max_delay_ms. After
 * decay_ms without a new failure the count halves, once per full quiet
 * period, so a forgotten password stops costing anything after a while.
 * A success clears the account's count (not the IP's: one valid account
 * must not launder guesses against others from the same address).
 *
 * The protocol asks auth_throttle_delay() after a failure and answers the
 * client only after that many milliseconds, with a timer on its event loop,
 * never a sleep. (The SASL layer in auth-sasl.h does the record/delay calls
 * itself and hands back delay_ms in its result.)
 *
 * Memory is bounded: at most max_entries keys; when full the least recently
 * failed key is evicted. All calls are thread-safe and cheap. */

struct auth_throttle_settings {
	unsigned int free_failures; /* 0 = 2; use AUTH_THROTTLE_NO_FREE for none */
	unsigned int base_delay_ms; /* 0 = 1000 */
	unsigned int max_delay_ms;  /* 0 = 30000 */
	unsigned int decay_ms;      /* 0 = 60000 */
	unsigned int max_entries;   /* 0 = 65536 */
	/* Monotonic clock in milliseconds; NULL = time_mono_ms(). For tests. */
	int64_t (*now_ms)(void);
};
#define AUTH_THROTTLE_NO_FREE ((unsigned int)-1)

struct auth_throttle;

/* set NULL or zero fields = defaults. */
struct auth_throttle *auth_throttle_create(const struct auth_throttle_settings *set);
void auth_throttle_destroy(struct auth_throttle **throttle);

/* ip and account may each be NULL (not tracked). account names compare
 * ASCII case-insensitively. */

/* Milliseconds to wait before answering a failure: the larger of the IP's
 * and the account's delays. */
unsigned int auth_throttle_delay(struct auth_throttle *throttle, const char *ip,
				 const char *account);
/* Records one failure for ip and account. */
void auth_throttle_failure(struct auth_throttle *throttle, const char *ip,
			   const char *account);
/* Records a success: clears the account's failures. */
void auth_throttle_success(struct auth_throttle *throttle, const char *ip,
			   const char *account);
/* Keys tracked (for tests and metrics). */
unsigned int auth_throttle_count(struct auth_throttle *throttle);

#endif

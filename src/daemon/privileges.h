/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_PRIVILEGES_H
#define POSTHORN_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

/* Dropping root for good, shared by posthornd (after binding its ports) and
 * the posthorn command (before touching a data directory owned by the
 * daemon's user). */

struct privileges {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Looks up a user by name. Returns 1, 0 when no such user, -1 on error
 * (*error_r static or thread-local text). */
int privileges_lookup_name(const char *name, struct privileges *priv_r,
			   const char **error_r);
/* The same by uid (name may then be numeric). Returns 1 or -1. */
int privileges_lookup_uid(uid_t uid, struct privileges *priv_r,
			  const char **error_r);

/* Switches the whole process (real, effective and saved ids, and the
 * supplementary groups) to priv, then checks that root cannot be regained.
 * Must be called while single-threaded. Returns 1, or -1 with *error_r
 * (the caller should exit: the process may be half-switched). */
int privileges_drop(const struct privileges *priv, const char **error_r);

/* Switches only the effective ids to priv (root keeps its saved uid and
 * can come back with privileges_restore()), so that files created
 * meanwhile belong to priv. glibc applies this to every thread. Returns 1,
 * or -1 with *error_r. */
int privileges_assume(const struct privileges *priv, const char **error_r);
int privileges_restore(const char **error_r);

#endif

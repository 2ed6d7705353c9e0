/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

static void fill(struct privileges *priv_r, const struct passwd *pw)
{
	priv_r->uid = pw->pw_uid;
	priv_r->gid = pw->pw_gid;
	snprintf(priv_r->name, sizeof(priv_r->name), "%s", pw->pw_name);
}

int privileges_lookup_name(const char *name, struct privileges *priv_r,
			   const char **error_r)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int err = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (err != 0 && err != ENOENT && err != ESRCH) {
		*error_r = strerror(err);
		return -1;
	}
	if (res == NULL)
		return 0;
	fill(priv_r, &pw);
	return 1;
}

int privileges_lookup_uid(uid_t uid, struct privileges *priv_r,
			  const char **error_r)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int err = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);
	if (err != 0 && err != ENOENT && err != ESRCH) {
		*error_r = strerror(err);
		return -1;
	}
	if (res == NULL) {
		/* A uid without a passwd entry (e.g. from a container):
		 * its own group id is the best guess. */
		priv_r->uid = uid;
		priv_r->gid = (gid_t)uid;
		snprintf(priv_r->name, sizeof(priv_r->name), "%u",
			 (unsigned)uid);
		return 1;
	}
	fill(priv_r, &pw);
	return 1;
}

int privileges_drop(const struct privileges *priv, const char **error_r)
{
	if (priv->uid == 0) {
		*error_r = "refusing to switch to uid 0";
		return -1;
	}
	/* Supplementary groups first: only root may change them. */
	if (setgroups(1, &priv->gid) < 0) {
		*error_r = "setgroups() failed";
		return -1;
	}
	if (setresgid(priv->gid, priv->gid, priv->gid) < 0) {
		*error_r = "setresgid() failed";
		return -1;
	}
	if (setresuid(priv->uid, priv->uid, priv->uid) < 0) {
		*error_r = "setresuid() failed";
		return -1;
	}
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    r != priv->uid || e != priv->uid || s != priv->uid ||
	    rg != priv->gid || eg != priv->gid || sg != priv->gid) {
		*error_r = "ids did not change as asked";
		return -1;
	}
	/* The check that matters: root must be gone for good. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		*error_r = "root privileges could be regained";
		return -1;
	}
	return 1;
}

int privileges_assume(const struct privileges *priv, const char **error_r)
{
	if (setegid(priv->gid) < 0) {
		*error_r = "setegid() failed";
		return -1;
	}
	if (seteuid(priv->uid) < 0) {
		*error_r = "seteuid() failed";
		return -1;
	}
	return 1;
}

int privileges_restore(const char **error_r)
{
	if (seteuid(0) < 0 || setegid(0) < 0) {
		*error_r = "cannot switch back to root";
		return -1;
	}
	return 1;
}

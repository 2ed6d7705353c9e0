/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "config.h"
#include "privileges.h"
#include "store.h"

#include <sys/stat.h>
#include <unistd.h>

/* As root, become the owner of the data directory (or [server] user when
 * the directory does not exist yet), so that whatever the command creates
 * stays usable by the daemon. */
static int cli_switch_user(struct cli *cli)
{
	const char *dir = cli->config->server.data_dir;
	const char *user = cli->config->server.user;
	struct privileges priv;
	const char *error;
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, &st) == 0) {
		if (st.st_uid == 0)
			return 0;
		if (privileges_lookup_uid(st.st_uid, &priv, &error) < 0)
			return cli_error("cannot look up the owner of %s: %s", dir,
					 error);
	} else if (errno == ENOENT && user[0] != '\0') {
		int ret = privileges_lookup_name(user, &priv, &error);
		if (ret <= 0)
			return cli_error("server.user: no such user: %s", user);
		if (priv.uid == 0)
			return 0;
		if (mkdir(dir, 0700) < 0 || chown(dir, priv.uid, priv.gid) < 0)
			return cli_error("cannot create %s: %s", dir,
					 strerror(errno));
	} else {
		return 0;
	}
	if (privileges_drop(&priv, &error) < 0)
		return cli_error("cannot switch to user %s: %s", priv.name, error);
	return 0;
}

struct store *cli_store(struct cli *cli)
{
	if (cli->store != NULL)
		return cli->store;
	struct stat st;
	if (cli->config->embedded &&
	    stat(cli->config->server.data_dir, &st) < 0 && errno == ENOENT) {
		/* Most likely the wrong directory: don't start a new store. */
		cli_error("no %s here: run posthorn where posthornd runs, or give -c FILE",
			  cli->config->server.data_dir);
		return NULL;
	}
	if (cli_switch_user(cli) != 0)
		return NULL;

	const struct config *c = cli->config;
	struct store_settings set;
	const char *error;
	memset(&set, 0, sizeof(set));
	set.data_dir = c->server.data_dir;
	if (c->smtp.recipient_delimiter[0] != '\0')
		set.subaddress_separator = c->smtp.recipient_delimiter[0];
	else
		set.no_subaddress = true;
	if (c->server.postmaster[0] != '\0')
		set.postmaster_account = c->server.postmaster;
	umask(077);
	if (store_open(&set, &cli->store, &error) < 0) {
		cli_error("cannot open the store in %s: %s", c->server.data_dir,
			  error);
		return NULL;
	}
	return cli->store;
}

void cli_store_close(struct cli *cli)
{
	store_close(&cli->store);
}

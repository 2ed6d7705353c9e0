/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "pool.h"
#include "store.h"

static int domain_add(struct cli *cli, char **args, unsigned count)
{
	char *domain = args[0];
	const char *error;
	if (!cli_domain_valid(domain))
		return cli_error("malformed domain: %s", args[0]);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	enum store_error err = store_domain_add(store, domain, &error);
	if (err == STORE_ERR_EXISTS)
		return cli_error("domain already exists: %s", domain);
	if (err != STORE_OK)
		return cli_error("cannot add domain %s: %s", domain, error);
	return 0;
}

static int domain_del(struct cli *cli, char **args, unsigned count)
{
	char *domain = args[0];
	const char *error;
	if (!cli_domain_valid(domain))
		return cli_error("malformed domain: %s", args[0]);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	int ret = store_domain_exists(store, domain, &error);
	if (ret < 0)
		return cli_error("cannot read the store: %s", error);
	if (ret == 0)
		return cli_error("unknown domain: %s", domain);

	struct store_txn *txn = store_txn_create(store);
	store_txn_domain_del(txn, domain);
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	if (err != STORE_OK)
		store_txn_error(txn, &text);
	store_txn_destroy(&txn);
	if (err == STORE_ERR_INVALID)
		return cli_error("domain %s still has accounts or aliases: delete them first",
				 domain);
	if (err != STORE_OK)
		return cli_error("cannot delete domain %s: %s", domain, text);
	return 0;
}

static int domain_list(struct cli *cli, char **args, unsigned count)
{
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	struct pool *pool = pool_create("domain-list", 4096);
	const char *const *domains;
	unsigned n;
	const char *error;
	if (store_domain_list(store, pool, &domains, &n, &error) < 0) {
		pool_destroy(&pool);
		return cli_error("cannot read the store: %s", error);
	}
	for (unsigned i = 0; i < n; i++)
		printf("%s\n", domains[i]);
	pool_destroy(&pool);
	return 0;
}

static const struct cli_command domain_commands[] = {
	{ "add", "DOMAIN", 1, 1, 0, domain_add },
	{ "del", "DOMAIN", 1, 1, 0, domain_del },
	{ "list", "", 0, 0, 0, domain_list },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_domain = {
	"domain", "local domains", domain_commands,
};

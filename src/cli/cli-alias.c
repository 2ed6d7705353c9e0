/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "pool.h"
#include "store.h"

#include <limits.h>

/* Checks an alias source, "user@domain" or "@domain" (the domain's
 * catch-all), whose domain must be local. Returns 0, or 1 after
 * cli_error(). */
static int alias_source_check(struct cli *cli, char *source, const char *orig,
			      struct store **store_r)
{
	const char *error;
	bool ok = source[0] == '@' ? cli_domain_valid(source + 1) :
				     cli_address_valid(source);
	if (!ok)
		return cli_error("malformed alias: %s (expected user@domain or @domain)",
				 orig);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	const char *domain = strrchr(source, '@') + 1;
	int ret = store_domain_exists(store, domain, &error);
	if (ret < 0)
		return cli_error("cannot read the store: %s", error);
	if (ret == 0)
		return cli_error("unknown domain: %s (add it with: posthorn domain add %s)",
				 domain, domain);
	*store_r = store;
	return 0;
}

static int alias_targets_check(char **targets, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		char *orig = i_strdup(targets[i]);
		bool ok = cli_address_valid(targets[i]);
		if (!ok) {
			int ret = cli_error("malformed target address: %s", orig);
			i_free(orig);
			return ret;
		}
		i_free(orig);
	}
	return 0;
}

static int alias_commit(struct store_txn *txn, const char *what)
{
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	int ret = 0;
	if (err != STORE_OK) {
		store_txn_error(txn, &text);
		for (unsigned i = 0; i < store_txn_op_count(txn); i++) {
			const struct store_op_result *r = store_txn_result(txn, i);
			if (r != NULL && r->error != STORE_OK && r->error_text[0] != '\0') {
				text = r->error_text;
				break;
			}
		}
		if (err == STORE_ERR_EXISTS)
			ret = cli_error("alias already exists: %s", what);
		else if (err == STORE_ERR_NOT_FOUND)
			ret = cli_error("unknown alias: %s", what);
		else
			ret = cli_error("cannot change alias %s: %s", what, text);
	}
	store_txn_destroy(&txn);
	return ret;
}

static int alias_add(struct cli *cli, char **args, unsigned count)
{
	struct store *store;
	if (alias_source_check(cli, args[0], args[0], &store) != 0 ||
	    alias_targets_check(args + 1, count - 1) != 0)
		return 1;
	struct store_txn *txn = store_txn_create(store);
	for (unsigned i = 1; i < count; i++)
		store_txn_alias_add(txn, args[0], args[i]);
	return alias_commit(txn, args[0]);
}

static int alias_del(struct cli *cli, char **args, unsigned count)
{
	struct store *store;
	if (alias_source_check(cli, args[0], args[0], &store) != 0 ||
	    alias_targets_check(args + 1, count - 1) != 0)
		return 1;
	struct store_txn *txn = store_txn_create(store);
	if (count == 1)
		store_txn_alias_del(txn, args[0], NULL);
	for (unsigned i = 1; i < count; i++)
		store_txn_alias_del(txn, args[0], args[i]);
	return alias_commit(txn, args[0]);
}

static int alias_list(struct cli *cli, char **args, unsigned count)
{
	char *domain = count > 0 ? args[0] : NULL;
	if (domain != NULL && !cli_domain_valid(domain))
		return cli_error("malformed domain: %s", args[0]);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	struct pool *pool = pool_create("alias-list", 4096);
	struct store_alias *aliases;
	unsigned n;
	const char *error;
	if (store_alias_list(store, domain, pool, &aliases, &n, &error) < 0) {
		pool_destroy(&pool);
		return cli_error("cannot read the store: %s", error);
	}
	for (unsigned i = 0; i < n; i++)
		printf("%s %s\n", aliases[i].source, aliases[i].target);
	pool_destroy(&pool);
	return 0;
}

static const struct cli_command alias_commands[] = {
	{ "add", "ALIAS TARGET...", 2, UINT_MAX, 0, alias_add },
	{ "del", "ALIAS [TARGET...]", 1, UINT_MAX, 0, alias_del },
	{ "list", "[DOMAIN]", 0, 1, 0, alias_list },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_alias = {
	"alias", "aliases and catch-alls", alias_commands,
};

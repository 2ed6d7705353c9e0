/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "cli.h"
#include "credentials.h"
#include "pool.h"
#include "store.h"
#include "auth-password.h"
#include "auth-scram.h"

#include <inttypes.h>

/* Checks the address and that its domain is local. Returns 0 or 1 (exit
 * status after cli_error()). */
static int user_address_check(struct cli *cli, char *address,
			      const char *orig, struct store **store_r)
{
	const char *error;
	if (!cli_address_valid(address))
		return cli_error("malformed address: %s", orig);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	const char *domain = strrchr(address, '@') + 1;
	int ret = store_domain_exists(store, domain, &error);
	if (ret < 0)
		return cli_error("cannot read the store: %s", error);
	if (ret == 0)
		return cli_error("unknown domain: %s (add it with: posthorn domain add %s)",
				 domain, domain);
	*store_r = store;
	return 0;
}

/* 1 and *account_r, or 0/-1 after cli_error(). */
static int user_lookup(struct store *store, const char *address,
		       struct pool *pool, struct store_account **account_r)
{
	const char *error;
	int ret = store_account_lookup(store, address, pool, account_r, &error);
	if (ret < 0) {
		cli_error("cannot read the store: %s", error);
		return -1;
	}
	if (ret == 0)
		cli_error("unknown user: %s", address);
	return ret;
}

static void notify_auth_flush(struct cli *cli, const char *address, int64_t id)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "auth-flush %s %" PRId64, address, id);
	cli_notify(cli, cmd);
}

static int user_add(struct cli *cli, char **args, unsigned count)
{
	char *address = args[0];
	struct store *store;
	const char *error;
	if (user_address_check(cli, address, args[0], &store) != 0)
		return 1;

	struct pool *pool = pool_create("user-add", 1024);
	struct store_account *existing;
	int ret = store_account_lookup(store, address, pool, &existing, &error);
	if (ret != 0) {
		pool_destroy(&pool);
		return ret < 0 ? cli_error("cannot read the store: %s", error) :
				 cli_error("user already exists: %s", address);
	}
	char *password = cli_password_read(cli, true);
	if (password == NULL) {
		pool_destroy(&pool);
		return 1;
	}
	struct store_credentials cred;
	ret = credentials_from_password(password, pool, &cred, &error);
	cli_password_free(&password);
	if (ret < 0) {
		pool_destroy(&pool);
		return cli_error("cannot hash the password: %s", error);
	}
	int64_t id;
	enum store_error err = store_account_add(store, address, &cred, &id, &error);
	pool_destroy(&pool);
	if (err == STORE_ERR_EXISTS)
		return cli_error("user already exists: %s", address);
	if (err != STORE_OK)
		return cli_error("cannot add user %s: %s", address, error);
	return 0;
}

static int user_del(struct cli *cli, char **args, unsigned count)
{
	char *address = args[0];
	struct store *store;
	if (user_address_check(cli, address, args[0], &store) != 0)
		return 1;
	struct pool *pool = pool_create("user-del", 1024);
	struct store_account *account;
	if (user_lookup(store, address, pool, &account) <= 0) {
		pool_destroy(&pool);
		return 1;
	}
	int64_t id = account->id;
	pool_destroy(&pool);

	struct store_txn *txn = store_txn_create(store);
	store_txn_account_del(txn, address);
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	if (err != STORE_OK)
		store_txn_error(txn, &text);
	int ret = err == STORE_OK ? 0 :
		  cli_error("cannot delete user %s: %s", address, text);
	store_txn_destroy(&txn);
	if (ret == 0)
		notify_auth_flush(cli, address, id);
	return ret;
}

static int user_list(struct cli *cli, char **args, unsigned count)
{
	char *domain = count > 0 ? args[0] : NULL;
	if (domain != NULL && !cli_domain_valid(domain))
		return cli_error("malformed domain: %s", args[0]);
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	struct pool *pool = pool_create("user-list", 4096);
	struct store_account *accounts;
	unsigned n;
	const char *error;
	if (store_account_list(store, domain, pool, &accounts, &n, &error) < 0) {
		pool_destroy(&pool);
		return cli_error("cannot read the store: %s", error);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct store_account *a = &accounts[i];
		printf("%s%s", a->address, a->disabled ? " (disabled)" : "");
		/* Accounts with a quota show it with their usage. */
		if (a->quota_bytes != 0 || a->quota_messages != 0) {
			printf(" quota bytes=%llu/%llu messages=%llu/%llu",
			       (unsigned long long)a->used_bytes,
			       (unsigned long long)a->quota_bytes,
			       (unsigned long long)a->used_messages,
			       (unsigned long long)a->quota_messages);
		}
		putchar('\n');
	}
	pool_destroy(&pool);
	return 0;
}

/* ADDRESS [--bytes N] [--messages N]: sets either limit (0 = none); with
 * neither, prints the current quota and usage. */
static int user_quota(struct cli *cli, char **args, unsigned count)
{
	const char *address = NULL;
	uint64_t bytes = 0, messages = 0;
	bool set_bytes = false, set_messages = false;

	for (unsigned i = 0; i < count; i++) {
		bool is_bytes = strcmp(args[i], "--bytes") == 0;
		if (is_bytes || strcmp(args[i], "--messages") == 0) {
			uint64_t v;
			if (i + 1 == count ||
			    str_to_uint64(args[i + 1], INT64_MAX, &v) < 0)
				return cli_error("%s needs a number (0 = no limit)",
						 args[i]);
			if (is_bytes) {
				bytes = v;
				set_bytes = true;
			} else {
				messages = v;
				set_messages = true;
			}
			i++;
		} else if (args[i][0] == '-') {
			return cli_error("unknown option for user quota: %s",
					 args[i]);
		} else if (address == NULL) {
			address = args[i];
		} else {
			return cli_error("usage: posthorn user quota ADDRESS "
					 "[--bytes N] [--messages N]");
		}
	}
	if (address == NULL)
		return cli_error("usage: posthorn user quota ADDRESS "
				 "[--bytes N] [--messages N]");
	char *addr = i_strdup(address);
	struct store *store;
	if (user_address_check(cli, addr, address, &store) != 0) {
		i_free(addr);
		return 1;
	}
	struct pool *pool = pool_create("user-quota", 1024);
	struct store_account *account;
	int ret = user_lookup(store, addr, pool, &account);
	if (ret <= 0) {
		pool_destroy(&pool);
		i_free(addr);
		return 1;
	}
	if (!set_bytes && !set_messages) {
		printf("%s bytes=%llu/%llu messages=%llu/%llu\n", account->address,
		       (unsigned long long)account->used_bytes,
		       (unsigned long long)account->quota_bytes,
		       (unsigned long long)account->used_messages,
		       (unsigned long long)account->quota_messages);
		pool_destroy(&pool);
		i_free(addr);
		return 0;
	}
	if (!set_bytes)
		bytes = account->quota_bytes;
	if (!set_messages)
		messages = account->quota_messages;
	pool_destroy(&pool);

	struct store_txn *txn = store_txn_create(store);
	store_txn_account_set_quota(txn, addr, bytes, messages);
	enum store_error err = store_txn_commit_wait(txn);
	if (err != STORE_OK) {
		const char *text;
		store_txn_error(txn, &text);
		store_txn_destroy(&txn);
		ret = cli_error("cannot set the quota of %s: %s", addr, text);
		i_free(addr);
		return ret;
	}
	store_txn_destroy(&txn);
	printf("quota of %s: bytes=%llu messages=%llu (0 = no limit)\n", addr,
	       (unsigned long long)bytes, (unsigned long long)messages);
	i_free(addr);
	return 0;
}

static int user_passwd(struct cli *cli, char **args, unsigned count)
{
	char *address = args[0];
	struct store *store;
	const char *error;
	if (user_address_check(cli, address, args[0], &store) != 0)
		return 1;
	struct pool *pool = pool_create("user-passwd", 1024);
	struct store_account *account;
	if (user_lookup(store, address, pool, &account) <= 0) {
		pool_destroy(&pool);
		return 1;
	}
	int64_t id = account->id;
	char *password = cli_password_read(cli, true);
	if (password == NULL) {
		pool_destroy(&pool);
		return 1;
	}
	struct store_credentials cred;
	int ret = credentials_from_password(password, pool, &cred, &error);
	cli_password_free(&password);
	if (ret < 0) {
		pool_destroy(&pool);
		return cli_error("cannot hash the password: %s", error);
	}
	struct store_txn *txn = store_txn_create(store);
	store_txn_account_set_credentials(txn, address, &cred);
	enum store_error err = store_txn_commit_wait(txn);
	const char *text = "";
	if (err != STORE_OK)
		store_txn_error(txn, &text);
	ret = err == STORE_OK ? 0 :
	      cli_error("cannot change the password of %s: %s", address, text);
	store_txn_destroy(&txn);
	pool_destroy(&pool);
	if (ret == 0)
		notify_auth_flush(cli, address, id);
	return ret;
}

/* Verifies a password against both stored forms: the crypt hash and the
 * SCRAM keys (derived again with the stored salt and iteration count). */
static int user_check(struct cli *cli, char **args, unsigned count)
{
	char *address = args[0];
	struct store *store;
	const char *error;
	if (user_address_check(cli, address, args[0], &store) != 0)
		return 1;
	struct pool *pool = pool_create("user-check", 1024);
	struct store_account *account;
	if (user_lookup(store, address, pool, &account) <= 0) {
		pool_destroy(&pool);
		return 1;
	}
	char *password = cli_password_read(cli, false);
	if (password == NULL) {
		pool_destroy(&pool);
		return 1;
	}
	int ret = auth_password_verify(account->password_hash, password);
	bool has_scram = account->scram_salt != NULL &&
			 account->scram_salt[0] != '\0';
	bool scram_ok = false;
	struct auth_scram_keys stored, derived;
	if (ret > 0 && has_scram &&
	    auth_scram_from_parts(account->scram_salt,
				  account->scram_iterations,
				  account->scram_stored_key,
				  account->scram_server_key, &stored, &error) > 0 &&
	    auth_scram_derive(password, stored.salt, stored.salt_len,
			      stored.iter, &derived, &error) > 0) {
		scram_ok = memcmp(stored.stored_key, derived.stored_key,
				  AUTH_SCRAM_KEY_SIZE) == 0 &&
			   memcmp(stored.server_key, derived.server_key,
				  AUTH_SCRAM_KEY_SIZE) == 0;
	}
	explicit_bzero(&derived, sizeof(derived));
	cli_password_free(&password);
	pool_destroy(&pool);
	if (ret < 0)
		return cli_error("user %s has no usable password hash", address);
	if (ret == 0)
		return cli_error("password does not match for %s", address);
	if (!has_scram)
		return cli_error("password matches, but %s has no SCRAM keys", address);
	if (!scram_ok)
		return cli_error("password matches, but the SCRAM keys of %s do not", address);
	printf("password ok for %s\n", address);
	return 0;
}

static const struct cli_command user_commands[] = {
	{ "add", "ADDRESS [--password-stdin]", 1, 1, CLI_FLAG_PASSWORD_STDIN, user_add },
	{ "del", "ADDRESS", 1, 1, 0, user_del },
	{ "list", "[DOMAIN]", 0, 1, 0, user_list },
	{ "passwd", "ADDRESS [--password-stdin]", 1, 1, CLI_FLAG_PASSWORD_STDIN, user_passwd },
	{ "check", "ADDRESS [--password-stdin]", 1, 1, CLI_FLAG_PASSWORD_STDIN, user_check },
	{ "quota", "ADDRESS [--bytes N] [--messages N]", 1, 5, CLI_FLAG_OPTIONS, user_quota },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_user = {
	"user", "accounts and passwords", user_commands,
};

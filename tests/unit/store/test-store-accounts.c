/* SPDX-License-Identifier: MIT */
#include "store-test.h"
#include "pool.h"

#include <sys/stat.h>

struct fixture {
	char *dir;
	struct store *store;
	struct pool *pool;
	int64_t alice, bob;
};

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	f->dir = test_tmpdir();
	f->store = test_store_open(f->dir, "admin@example.com");
	f->pool = pool_create("test", 1024);
	test_store_fixture(f->store, &f->alice, &f->bob);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	pool_destroy(&f->pool);
	test_tmpdir_remove(&f->dir);
	free(f);
	return 0;
}

static void test_open_permissions(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char *db = i_strdup_printf("%s/store.db", f->dir);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	i_free(db);
	assert_int_equal(store_schema_version(f->store), STORE_SCHEMA_VERSION);

	/* A new data directory below a missing one is created 0700 too. */
	char *sub = i_strdup_printf("%s/sub", f->dir);
	struct store *s2 = test_store_open(sub, NULL);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	store_close(&s2);
	assert_null(s2);
	i_free(sub);
}

static void test_domains(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_int_equal(store_domain_add(f->store, "Example.ORG", &error),
			 STORE_OK);
	assert_int_equal(store_domain_add(f->store, "example.org", &error),
			 STORE_ERR_EXISTS);
	assert_int_equal(store_domain_add(f->store, "bad..name", &error),
			 STORE_ERR_INVALID);
	assert_int_equal(store_domain_exists(f->store, "EXAMPLE.org", &error),
			 1);
	assert_int_equal(store_domain_exists(f->store, "nope.test", &error), 0);

	const char *const *domains;
	unsigned count;
	assert_int_equal(
	    store_domain_list(f->store, f->pool, &domains, &count, &error), 1);
	assert_int_equal(count, 2);
	assert_string_equal(domains[0], "example.com");
	assert_string_equal(domains[1], "example.org");

	/* In use: refused; unused: deleted. */
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_domain_del(txn, "example.com");
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_INVALID);
	store_txn_destroy(&txn);
	txn = store_txn_create(f->store);
	store_txn_domain_del(txn, "example.org");
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(store_domain_exists(f->store, "example.org", &error),
			 0);
}

static void test_accounts(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_account *a;

	assert_int_equal(store_account_add(f->store, "Alice@Example.com", NULL,
					   NULL, &error),
			 STORE_ERR_EXISTS);
	assert_int_equal(
	    store_account_add(f->store, "x@unknown.test", NULL, NULL, &error),
	    STORE_ERR_NOT_FOUND);
	assert_int_equal(
	    store_account_add(f->store, "no-at-sign", NULL, NULL, &error),
	    STORE_ERR_INVALID);

	assert_int_equal(store_account_lookup(f->store, "ALICE@example.COM",
					      f->pool, &a, &error),
			 1);
	assert_int_equal(a->id, f->alice);
	assert_string_equal(a->address, "alice@example.com");
	assert_string_equal(a->password_hash, "$y$fake");
	assert_string_equal(a->scram_salt, "");
	uint64_t serial = a->credentials_serial;
	assert_int_equal(store_account_lookup(f->store, "carol@example.com",
					      f->pool, &a, &error),
			 0);

	/* Credentials: stored as given, serial bumped. */
	struct store_credentials cred = {
	    .password_hash = "$y$new",
	    .scram_salt = "c2FsdA==",
	    .scram_iterations = 4096,
	    .scram_stored_key = "c3RvcmVk",
	    .scram_server_key = "c2VydmVy",
	};
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_account_set_credentials(txn, "alice@example.com", &cred);
	store_txn_account_set_quota(txn, "alice@example.com", 1000, 5);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(
	    store_account_lookup_id(f->store, f->alice, f->pool, &a, &error),
	    1);
	assert_string_equal(a->password_hash, "$y$new");
	assert_string_equal(a->scram_salt, "c2FsdA==");
	assert_int_equal(a->scram_iterations, 4096);
	assert_string_equal(a->scram_stored_key, "c3RvcmVk");
	assert_string_equal(a->scram_server_key, "c2VydmVy");
	assert_true(a->credentials_serial > serial);
	assert_int_equal(a->quota_bytes, 1000);
	assert_int_equal(a->quota_messages, 5);

	/* Unknown account: the whole transaction fails, nothing applies. */
	txn = store_txn_create(f->store);
	store_txn_account_set_quota(txn, "bob@example.com", 7, 7);
	unsigned op =
	    store_txn_account_set_quota(txn, "nobody@example.com", 1, 1);
	assert_int_equal(store_txn_commit_wait(txn), STORE_ERR_NOT_FOUND);
	assert_int_equal(store_txn_result(txn, op)->error, STORE_ERR_NOT_FOUND);
	store_txn_destroy(&txn);
	assert_int_equal(
	    store_account_lookup_id(f->store, f->bob, f->pool, &a, &error), 1);
	assert_int_equal(a->quota_bytes, 0);

	struct store_account *list;
	unsigned count;
	assert_int_equal(store_account_list(f->store, "example.com", f->pool,
					    &list, &count, &error),
			 1);
	assert_int_equal(count, 2);
	assert_string_equal(list[0].address, "alice@example.com");
	assert_string_equal(list[1].address, "bob@example.com");

	/* Deleting removes the account and its mailboxes. */
	txn = store_txn_create(f->store);
	store_txn_account_del(txn, "bob@example.com");
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(store_account_lookup(f->store, "bob@example.com",
					      f->pool, &a, &error),
			 0);
	struct store_mailbox *mbs;
	assert_int_equal(
	    store_mailbox_list(f->store, f->bob, f->pool, &mbs, &count, &error),
	    1);
	assert_int_equal(count, 0);
}

/* Resolves address and checks the outcome: expect_ret, then the local
 * account ids (in order) and remote addresses. */
static void check_resolve(struct fixture *f, const char *address,
			  int expect_ret, const int64_t *ids, unsigned id_count,
			  const char *const *remote, unsigned remote_count)
{
	struct store_resolution res;
	const char *error = NULL;
	int ret = store_resolve(f->store, address, f->pool, &res, &error);
	if (ret != expect_ret)
		fail_msg("resolve %s: %d (%s), expected %d", address, ret,
			 error == NULL ? "" : error, expect_ret);
	if (ret != 1)
		return;
	assert_int_equal(res.account_count, id_count);
	for (unsigned i = 0; i < id_count; i++)
		assert_int_equal(res.account_ids[i], ids[i]);
	assert_int_equal(res.remote_count, remote_count);
	for (unsigned i = 0; i < remote_count; i++)
		assert_string_equal(res.remote[i], remote[i]);
}

static void test_resolver(void **state)
{
	struct fixture *f = *state;
	const char *error;
	int64_t admin;
	assert_int_equal(store_account_add(f->store, "admin@example.com", NULL,
					   &admin, &error),
			 STORE_OK);
	assert_int_equal(store_domain_add(f->store, "example.net", &error),
			 STORE_OK);

	/* Plain accounts, any case. */
	check_resolve(f, "alice@example.com", 1, &f->alice, 1, NULL, 0);
	check_resolve(f, "ALICE@Example.Com", 1, &f->alice, 1, NULL, 0);
	check_resolve(f, "carol@example.com", 0, NULL, 0, NULL, 0);
	/* Not a local domain: not ours. */
	check_resolve(f, "alice@elsewhere.test", 0, NULL, 0, NULL, 0);

	/* Subaddressing. */
	check_resolve(f, "alice+lists@example.com", 1, &f->alice, 1, NULL, 0);
	check_resolve(f, "carol+x@example.com", 0, NULL, 0, NULL, 0);

	/* postmaster@ every local domain goes to the admin account. */
	check_resolve(f, "postmaster@example.com", 1, &admin, 1, NULL, 0);
	check_resolve(f, "PostMaster@example.net", 1, &admin, 1, NULL, 0);
	check_resolve(f, "Postmaster", 1, &admin, 1, NULL, 0);
	check_resolve(f, "alice", 0, NULL, 0, NULL, 0);

	/* Aliases: local and remote targets, recursion, a self-copy. */
	assert_int_equal(store_alias_add(f->store, "team@example.com",
					 "alice@example.com", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "team@example.com",
					 "sales@example.net", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "sales@example.net",
					 "bob@example.com", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "sales@example.net",
					 "Partner@Remote.TEST", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "team@example.com",
					 "alice@example.com", &error),
			 STORE_ERR_EXISTS);
	assert_int_equal(store_alias_add(f->store, "x@remote.test",
					 "alice@example.com", &error),
			 STORE_ERR_NOT_FOUND);
	int64_t team[] = {f->alice, f->bob};
	const char *team_remote[] = {"Partner@remote.test"};
	check_resolve(f, "team@example.com", 1, team, 2, team_remote, 1);
	check_resolve(f, "team+tag@example.com", 1, team, 2, team_remote, 1);

	/* bob keeps a copy and forwards one. */
	assert_int_equal(store_alias_add(f->store, "bob@example.com",
					 "bob@example.com", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "bob@example.com",
					 "bob@far.test", &error),
			 STORE_OK);
	const char *bob_remote[] = {"bob@far.test"};
	check_resolve(f, "bob@example.com", 1, &f->bob, 1, bob_remote, 1);

	/* Catch-all for unknown local parts only. */
	assert_int_equal(store_alias_add(f->store, "@example.net",
					 "alice@example.com", &error),
			 STORE_OK);
	check_resolve(f, "whoever@example.net", 1, &f->alice, 1, NULL, 0);
	check_resolve(f, "carol@example.com", 0, NULL, 0, NULL, 0);

	/* A loop is an error, not a hang. */
	assert_int_equal(store_alias_add(f->store, "loop1@example.com",
					 "loop2@example.com", &error),
			 STORE_OK);
	assert_int_equal(store_alias_add(f->store, "loop2@example.com",
					 "loop1@example.com", &error),
			 STORE_OK);
	check_resolve(f, "loop1@example.com", -1, NULL, 0, NULL, 0);

	/* Listing and deleting. */
	struct store_alias *aliases;
	unsigned count;
	assert_int_equal(store_alias_list(f->store, "example.net", f->pool,
					  &aliases, &count, &error),
			 1);
	assert_int_equal(count, 3);
	assert_string_equal(aliases[0].source, "@example.net");
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_alias_del(txn, "sales@example.net", NULL);
	store_txn_alias_del(txn, "@example.net", "alice@example.com");
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
	assert_int_equal(store_alias_list(f->store, "example.net", f->pool,
					  &aliases, &count, &error),
			 1);
	assert_int_equal(count, 0);
	check_resolve(f, "whoever@example.net", 0, NULL, 0, NULL, 0);
}

static void test_subaddress_settings(void **state)
{
	char *dir = test_tmpdir();
	struct store_settings set = {.data_dir = dir,
				     .subaddress_separator = '-'};
	struct store *store;
	const char *error;
	assert_int_equal(store_open(&set, &store, &error), 1);
	int64_t alice, bob;
	test_store_fixture(store, &alice, &bob);
	struct pool *pool = pool_create("t", 256);
	struct store_resolution res;
	assert_int_equal(
	    store_resolve(store, "alice-x@example.com", pool, &res, &error), 1);
	assert_int_equal(res.account_ids[0], alice);
	assert_int_equal(
	    store_resolve(store, "alice+x@example.com", pool, &res, &error), 0);
	/* No postmaster account configured: a bare <postmaster> has no
	 * domain to go by and is unknown, but postmaster@ a local domain
	 * still reaches a person (RFC 5321 4.5.1): its oldest account. */
	assert_int_equal(store_resolve(store, "postmaster", pool, &res, &error),
			 0);
	assert_int_equal(
	    store_resolve(store, "postmaster@example.com", pool, &res, &error),
	    1);
	assert_int_equal(res.account_count, 1);
	assert_int_equal(res.account_ids[0], MIN(alice, bob));
	assert_int_equal(
	    store_resolve(store, "postmaster@nowhere.example", pool, &res,
			  &error), 0);
	store_close(&store);

	set.no_subaddress = true;
	assert_int_equal(store_open(&set, &store, &error), 1);
	assert_int_equal(
	    store_resolve(store, "alice-x@example.com", pool, &res, &error), 0);
	store_close(&store);
	pool_destroy(&pool);
	test_tmpdir_remove(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_permissions, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolver, setup, teardown),
	    cmocka_unit_test(test_subaddress_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

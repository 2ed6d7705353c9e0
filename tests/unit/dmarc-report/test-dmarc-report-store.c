/* SPDX-License-Identifier: MIT */
#include "../store/store-test.h"
#include "pool.h"

/* The store's DMARC report rows: aggregation, periods, and the
 * report-done step that makes a second reporter's transaction fail. */

struct fixture {
	char *dir;
	struct store *store;
	struct pool *pool;
};

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	f->dir = test_tmpdir();
	f->store = test_store_open(f->dir, NULL);
	f->pool = pool_create("test", 1024);
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

static struct store_dmarc_row row_template(const char *domain, const char *ip)
{
	struct store_dmarc_row r = {
	    .policy_domain = domain,
	    .source_ip = ip,
	    .disposition = "none",
	    .dkim_eval = "pass",
	    .spf_eval = "fail",
	    .header_from = domain,
	    .envelope_from = "bounce.example.net",
	    .envelope_to = "example.org",
	    .dkim_auth = "a.test s1 pass",
	    .spf_domain = "bounce.example.net",
	    .spf_scope = "mfrom",
	    .spf_result = "softfail",
	    .p = "reject",
	    .sp = "quarantine",
	    .adkim = "r",
	    .aspf = "s",
	    .fo = "0",
	    .rua = "mailto:dmarc@a.test",
	    .pct = 100,
	};
	return r;
}

static enum store_error commit(struct store_txn *txn, int64_t *id_r,
			       unsigned *count_r)
{
	enum store_error err = store_txn_commit_wait(txn);
	if (id_r != NULL)
		*id_r = store_txn_result(txn, 0)->id;
	if (count_r != NULL)
		*count_r = store_txn_result(txn, 0)->count;
	store_txn_destroy(&txn);
	return err;
}

static enum store_error record(struct fixture *f,
			       const struct store_dmarc_row *row, time_t when)
{
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_dmarc_record(txn, row, when);
	return commit(txn, NULL, NULL);
}

static void test_dmarc_aggregate_and_close(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_dmarc_row r = row_template("a.test", "192.0.2.1");

	assert_int_equal(record(f, &r, 1000), STORE_OK);
	/* Detached: no wait, but the writer keeps submission order, so the
	 * next waited commit comes after it. */
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_dmarc_record(txn, &r, 1001);
	store_txn_commit_detached(txn, "test");
	r.count = 3;
	assert_int_equal(record(f, &r, 1002), STORE_OK);
	r.count = 0;
	r.source_ip = "192.0.2.2";
	assert_int_equal(record(f, &r, 1003), STORE_OK);
	struct store_dmarc_row b = row_template("b.test", "2001:db8::1");
	b.rua = "mailto:x@b.test";
	assert_int_equal(record(f, &b, 1004), STORE_OK);

	struct store_dmarc_period *periods;
	unsigned count;
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(count, 1);
	assert_int_equal(periods[0].begin, 1000);
	assert_int_equal(periods[0].end, 0);
	assert_int_equal(periods[0].rows, 3);
	int64_t open_id = periods[0].id;

	struct store_dmarc_row *rows;
	assert_int_equal(store_dmarc_rows(f->store, open_id, NULL, f->pool,
					  &rows, &count, &error),
			 1);
	assert_int_equal(count, 3);
	assert_string_equal(rows[0].policy_domain, "a.test");
	assert_string_equal(rows[0].source_ip, "192.0.2.1");
	assert_int_equal(rows[0].count, 5);
	assert_string_equal(rows[0].dkim_auth, "a.test s1 pass");
	assert_string_equal(rows[0].sp, "quarantine");
	assert_string_equal(rows[0].aspf, "s");
	assert_int_equal(rows[0].pct, 100);
	assert_string_equal(rows[1].source_ip, "192.0.2.2");
	assert_int_equal(rows[1].count, 1);
	assert_string_equal(rows[2].policy_domain, "b.test");
	assert_string_equal(rows[2].rua, "mailto:x@b.test");

	assert_int_equal(store_dmarc_rows(f->store, open_id, "b.test", f->pool,
					  &rows, &count, &error),
			 1);
	assert_int_equal(count, 1);

	/* Closing another id than the open one fails; the right one works
	 * and opens the next period at end. */
	txn = store_txn_create(f->store);
	store_txn_dmarc_period_close(txn, open_id + 100, 2000);
	assert_int_equal(commit(txn, NULL, NULL), STORE_ERR_NOT_FOUND);
	int64_t closed;
	unsigned closed_rows;
	txn = store_txn_create(f->store);
	store_txn_dmarc_period_close(txn, open_id, 2000);
	assert_int_equal(commit(txn, &closed, &closed_rows), STORE_OK);
	assert_int_equal(closed, open_id);
	assert_int_equal(closed_rows, 3);

	/* New rows go to the new period, never to the closed one. */
	assert_int_equal(record(f, &r, 2500), STORE_OK);
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(count, 2);
	assert_int_equal(periods[0].id, open_id);
	assert_int_equal(periods[0].end, 2000);
	assert_int_equal(periods[1].begin, 2000);
	assert_int_equal(periods[1].end, 0);
	assert_int_equal(periods[1].rows, 1);
	assert_int_equal(store_dmarc_rows(f->store, open_id, NULL, f->pool,
					  &rows, &count, &error),
			 1);
	assert_int_equal(count, 3);

	/* Reporting a domain deletes its rows; a second time fails. */
	txn = store_txn_create(f->store);
	store_txn_dmarc_report_done(txn, open_id, "a.test");
	assert_int_equal(commit(txn, NULL, &count), STORE_OK);
	assert_int_equal(count, 2);
	txn = store_txn_create(f->store);
	store_txn_dmarc_report_done(txn, open_id, "a.test");
	assert_int_equal(commit(txn, NULL, NULL), STORE_ERR_NOT_FOUND);
	/* The open period's rows are not reportable. */
	txn = store_txn_create(f->store);
	store_txn_dmarc_report_done(txn, periods[1].id, "a.test");
	assert_int_equal(commit(txn, NULL, NULL), STORE_ERR_NOT_FOUND);
	/* The last domain empties the period, which goes away. */
	txn = store_txn_create(f->store);
	store_txn_dmarc_report_done(txn, open_id, "b.test");
	assert_int_equal(commit(txn, NULL, NULL), STORE_OK);
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(count, 1);
	assert_int_equal(periods[0].end, 0);
}

static void test_dmarc_close_empty(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_dmarc_period *periods;
	unsigned count;

	/* Nothing open yet. */
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_dmarc_period_close(txn, 0, 100);
	assert_int_equal(commit(txn, NULL, NULL), STORE_ERR_NOT_FOUND);

	struct store_dmarc_row r = row_template("a.test", "192.0.2.1");
	assert_int_equal(record(f, &r, 50), STORE_OK);
	txn = store_txn_create(f->store);
	store_txn_dmarc_period_close(txn, 0, 100);
	assert_int_equal(commit(txn, NULL, NULL), STORE_OK);
	/* The next period is open and empty: closing drops it. */
	txn = store_txn_create(f->store);
	store_txn_dmarc_period_close(txn, 0, 200);
	assert_int_equal(commit(txn, NULL, NULL), STORE_OK);
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(count, 2);
	assert_int_equal(periods[0].begin, 50);
	assert_int_equal(periods[0].end, 100);
	assert_int_equal(periods[1].begin, 200);
	assert_int_equal(periods[1].end, 0);
}

static void test_dmarc_long_fields_cut(void **state)
{
	struct fixture *f = *state;
	const char *error;
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct store_dmarc_row r = row_template("a.test", big);
	r.rua = big;
	assert_int_equal(record(f, &r, 10), STORE_OK);
	struct store_dmarc_period *periods;
	struct store_dmarc_row *rows;
	unsigned count;
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(store_dmarc_rows(f->store, periods[0].id, NULL,
					  f->pool, &rows, &count, &error),
			 1);
	assert_int_equal(count, 1);
	assert_int_equal(strlen(rows[0].source_ip), STORE_DMARC_FIELD_MAX);
	assert_int_equal(strlen(rows[0].rua), STORE_DMARC_RUA_MAX);
}

static void test_dmarc_row_limit(void **state)
{
	struct fixture *f = *state;
	struct store_dmarc_row r = row_template("a.test", "");
	char ip[32];

	/* One transaction up to the limit. */
	struct store_txn *txn = store_txn_create(f->store);
	for (unsigned i = 0; i < STORE_DMARC_ROWS_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16,
			 (i >> 8) & 255, i & 255);
		r.source_ip = ip;
		store_txn_dmarc_record(txn, &r, 100);
	}
	assert_int_equal(commit(txn, NULL, NULL), STORE_OK);
	/* A new row is refused; a known one still counts. */
	r.source_ip = "192.0.2.200";
	assert_int_equal(record(f, &r, 100), STORE_ERR_OVER_QUOTA);
	r.source_ip = "10.0.0.7";
	assert_int_equal(record(f, &r, 100), STORE_OK);

	const char *error;
	struct store_dmarc_period *periods;
	struct store_dmarc_row *rows;
	unsigned count;
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	assert_int_equal(periods[0].rows, STORE_DMARC_ROWS_MAX);
	assert_int_equal(store_dmarc_rows(f->store, periods[0].id, NULL,
					  f->pool, &rows, &count, &error),
			 1);
	assert_int_equal(count, STORE_DMARC_ROWS_MAX);
	assert_int_equal(rows[7].count, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dmarc_aggregate_and_close,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dmarc_close_empty, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dmarc_long_fields_cut, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dmarc_row_limit, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

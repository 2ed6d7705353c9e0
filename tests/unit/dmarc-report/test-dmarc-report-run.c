/* SPDX-License-Identifier: MIT */
#include "../store/store-test.h"
#include "buf.h"
#include "pool.h"
#include "mailauth-dns.h"
#include "dmarc-report.h"

/* The reporting pass against a real store and a fake DNS on the test's
 * loop: external destination verification (section 7.1), a DNS
 * temperror that keeps the rows for a later pass, local delivery and the
 * rows deleted with it. */

struct fake_request {
	struct fake_dns *dns;
	char *name;
	mailauth_dns_callback_t *callback;
	void *ctx;
	bool cancelled;
};

struct fake_dns {
	struct test_loop *loop;
	unsigned lookups;
	bool looked_up;
};

static void fake_answer(void *ctx)
{
	struct fake_request *r = ctx;
	if (!r->cancelled) {
		const char *txt = "v=DMARC1";
		struct dns_rr rr = {
		    .type = DNS_TYPE_TXT,
		    .txt_or_data = (uint8_t *)txt,
		    .txt_len = strlen(txt),
		};
		struct dns_answer answer = {.rcode = 3};
		if (strstr(r->name, ".tempfail.test") != NULL) {
			r->callback(NULL, "timeout", r->ctx);
		} else {
			if (strcmp(r->name,
				   "a.test._report._dmarc.example.com") == 0) {
				answer.rcode = 0;
				answer.rrs = &rr;
				answer.count = 1;
			}
			r->callback(&answer, NULL, r->ctx);
		}
	}
	i_free(r->name);
	i_free(r);
}

static void *fake_lookup(void *dns_ctx, const char *name, enum dns_type type,
			 mailauth_dns_callback_t *callback, void *cb_ctx)
{
	struct fake_dns *f = dns_ctx;
	struct fake_request *r = i_new(struct fake_request, 1);
	assert_int_equal(type, DNS_TYPE_TXT);
	r->dns = f;
	r->name = i_strdup(name);
	r->callback = callback;
	r->ctx = cb_ctx;
	f->lookups++;
	f->looked_up = true;
	completion_post(&f->loop->target, fake_answer, r);
	return r;
}

static void fake_cancel(void *dns_ctx, void *request)
{
	((struct fake_request *)request)->cancelled = true;
}

struct fixture {
	char *dir;
	struct store *store;
	struct pool *pool;
	int64_t alice, bob;
	struct test_loop loop;
	struct fake_dns fdns;
	struct mailauth_dns dns;
	struct dmarc_report_stats stats;
	bool done;
	unsigned sign_calls;
};

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);
	f->dir = test_tmpdir();
	f->store = test_store_open(f->dir, NULL);
	f->pool = pool_create("test", 1024);
	test_store_fixture(f->store, &f->alice, &f->bob);
	test_loop_init(&f->loop);
	f->fdns.loop = &f->loop;
	f->dns.lookup = fake_lookup;
	f->dns.cancel = fake_cancel;
	f->dns.dns_ctx = &f->fdns;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	test_loop_run_pending(&f->loop);
	test_loop_deinit(&f->loop);
	pool_destroy(&f->pool);
	test_tmpdir_remove(&f->dir);
	free(f);
	return 0;
}

static void record(struct fixture *f, const char *domain, const char *ip,
		   const char *rua)
{
	struct store_dmarc_row r = {
	    .policy_domain = domain,
	    .source_ip = ip,
	    .disposition = "none",
	    .dkim_eval = "pass",
	    .spf_eval = "pass",
	    .header_from = domain,
	    .envelope_from = domain,
	    .spf_domain = domain,
	    .spf_scope = "mfrom",
	    .spf_result = "pass",
	    .p = "none",
	    .rua = rua,
	    .pct = 100,
	};
	struct store_txn *txn = store_txn_create(f->store);
	store_txn_dmarc_record(txn, &r, 0);
	assert_int_equal(store_txn_commit_wait(txn), STORE_OK);
	store_txn_destroy(&txn);
}

static void pass_done(const struct dmarc_report_stats *stats, void *ctx)
{
	struct fixture *f = ctx;
	f->stats = *stats;
	f->done = true;
}

static int fake_sign(void *sign_ctx, const char *domain, const void *msg,
		     size_t len, struct buf *headers_out)
{
	unsigned *calls = sign_ctx;
	(*calls)++;
	assert_string_equal(domain, "mx.example.com");
	assert_non_null(memmem(msg, len, "\r\nSubject: Report Domain: ", 26));
	buf_append_str(headers_out, "DKIM-Signature: v=1; d=mx.example.com; "
				    "b=fake\r\n");
	return 1;
}

static void run_pass(struct fixture *f, bool close_now)
{
	struct dmarc_report_settings set = {
	    .hostname = "mx.example.com",
	    .interval = 86400,
	    .sign = fake_sign,
	    .sign_ctx = &f->sign_calls,
	};
	f->done = false;
	memset(&f->stats, 0, sizeof(f->stats));
	(void)dmarc_report_run_start(f->store, &set, &f->dns,
				     &f->loop.target, close_now, pass_done, f);
	test_loop_run_until(&f->loop, &f->done);
}

static unsigned inbox_count(struct fixture *f, int64_t account_id)
{
	struct store_mailbox_status st;
	const char *error;
	assert_int_equal(store_mailbox_status(f->store,
					      test_mailbox_id(f->store,
							      account_id,
							      "INBOX"),
					      &st, &error),
			 1);
	return st.messages;
}

static unsigned rows_left(struct fixture *f)
{
	struct store_dmarc_period *periods;
	unsigned count, rows = 0;
	const char *error;
	assert_int_equal(
	    store_dmarc_periods(f->store, f->pool, &periods, &count, &error), 1);
	for (unsigned i = 0; i < count; i++)
		rows += periods[i].rows;
	return rows;
}

static void test_run_verify_and_defer(void **state)
{
	struct fixture *f = *state;

	/* example.com is external to a.test: verified (the fake publishes
	 * the record); the second destination's DNS fails. */
	record(f, "a.test", "192.0.2.1",
	       "mailto:alice@example.com,mailto:r@x.tempfail.test");
	record(f, "a.test", "192.0.2.1",
	       "mailto:alice@example.com,mailto:r@x.tempfail.test");
	/* Every destination fails temporarily: kept for the next pass. */
	record(f, "b.test", "192.0.2.2", "mailto:r@y.tempfail.test");
	/* Not verified (NXDOMAIN): dropped. */
	record(f, "c.test", "192.0.2.3", "mailto:bob@example.com");
	/* Same organisational domain: no lookup at all. */
	record(f, "example.com", "192.0.2.4", "mailto:bob@example.com!50m");

	run_pass(f, true);
	assert_int_equal(f->stats.periods_closed, 1);
	assert_int_equal(f->stats.reports, 2);
	assert_int_equal(f->stats.destinations, 2);
	assert_int_equal(f->stats.dropped, 1);
	assert_int_equal(f->stats.deferred, 1);
	assert_int_equal(f->stats.errors, 0);
	assert_int_equal(f->fdns.lookups, 4);
	assert_int_equal(inbox_count(f, f->alice), 1);
	assert_int_equal(inbox_count(f, f->bob), 1);
	assert_int_equal(rows_left(f), 1);
	/* Each report signed once, the signature on top of what arrived. */
	assert_int_equal(f->sign_calls, 2);
	struct store_message_info info;
	const char *error;
	assert_int_equal(store_message_get(f->store,
					   test_mailbox_id(f->store, f->alice,
							   "INBOX"),
					   1, f->pool, &info, &error),
			 1);
	struct store_body *body;
	assert_int_equal(store_body_open(f->store, info.msg.body_id, &body,
					 &error),
			 1);
	char head[128];
	ssize_t n = store_body_read(body, 0, head, sizeof(head) - 1, &error);
	store_body_close(&body);
	assert_true(n > 0);
	head[n] = '\0';
	assert_true(strncmp(head, "Return-Path: <postmaster@mx.example.com>"
				  "\r\nDKIM-Signature: v=1; d=mx.example.com;",
			    80) == 0);

	/* Next pass (period not due): the deferred domain is tried again
	 * and stays deferred; nothing is sent twice. */
	run_pass(f, false);
	assert_int_equal(f->stats.periods_closed, 0);
	assert_int_equal(f->stats.reports, 0);
	assert_int_equal(f->stats.deferred, 1);
	assert_int_equal(inbox_count(f, f->alice), 1);
	assert_int_equal(rows_left(f), 1);
}

static void test_run_nothing(void **state)
{
	struct fixture *f = *state;
	run_pass(f, false);
	assert_int_equal(f->stats.periods_closed, 0);
	assert_int_equal(f->stats.reports, 0);
	run_pass(f, true);
	assert_int_equal(f->stats.periods_closed, 0);
	assert_int_equal(f->stats.errors, 0);
}

static void test_run_abort(void **state)
{
	struct fixture *f = *state;
	struct dmarc_report_settings set = {.hostname = "mx.example.com"};
	record(f, "a.test", "192.0.2.1", "mailto:alice@example.com");
	f->done = false;
	struct dmarc_report_run *run = dmarc_report_run_start(
	    f->store, &set, &f->dns, &f->loop.target, true, pass_done, f);
	/* Let it reach the DNS lookup, then stop it. */
	test_loop_run_until(&f->loop, &f->fdns.looked_up);
	dmarc_report_run_abort(&run);
	assert_null(run);
	test_loop_run_pending(&f->loop);
	assert_false(f->done);
	assert_int_equal(inbox_count(f, f->alice), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_run_verify_and_defer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_run_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_abort, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

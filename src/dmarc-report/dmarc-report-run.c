/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "pool.h"
#include "strutil.h"
#include "workpool.h"
#include "store.h"
#include "mailauth-dns.h"
#include "dmarc.h"
#include "dmarc-report.h"

/* One reporting pass: an asynchronous chain on one event loop. Every step
 * ends in a store commit, a DNS answer or a post to the loop, so the
 * loop never waits and the chain never recurses deeply. */

/* Rows of a period whose every destination hit a DNS temperror are kept
 * for later passes this long after the period's end. */
#define DMARC_REPORT_RETRY_SECS (2 * 86400)

struct dmarc_report_run {
	struct store *store;
	char *hostname, *sender, *org;
	unsigned interval;
	int (*sign)(void *sign_ctx, const char *domain, const void *msg,
		    size_t len, struct buf *headers_out);
	void *sign_ctx;
	void (*delivered)(void *ctx, const char *address);
	void *delivered_ctx;
	const struct mailauth_dns *dns;
	struct completion_target target;
	bool close_now;
	dmarc_report_done_t *done;
	void *ctx;
	struct dmarc_report_stats stats;

	/* Posts, commits and lookups in flight each hold a reference; the
	 * owner holds one until done or abort. */
	unsigned refs;
	bool aborted;

	/* The closed periods, and the rows of the current one. */
	struct pool *pool;
	struct store_dmarc_period *periods;
	unsigned period_count, period_idx;
	struct pool *rows_pool;
	struct store_dmarc_row *rows;
	unsigned row_count, row_idx;

	/* The current job: one policy domain of the current period. */
	struct pool *job_pool;
	const struct store_dmarc_row *job_rows;
	unsigned job_count;
	const char *job_domain;
	struct dmarc_report_uri *uris;
	unsigned uri_count;
	struct dmarc_report_lookup *lookups; /* one per uri */
	unsigned lookups_pending;
	struct buf gz;
	char *report_id;
	bool job_dropped;
	int64_t *job_accounts; /* delivered to, in job_pool */
	unsigned job_account_count;
};

/* A destination's state and its verification lookup. */
enum dmarc_report_dest {
	DEST_OK,
	DEST_PENDING,
	DEST_REFUSED,
	DEST_TEMPFAIL,
};
struct dmarc_report_lookup {
	struct dmarc_report_run *run;
	void *request;
	enum dmarc_report_dest state;
};

static void run_next_job(struct dmarc_report_run *run);
static void run_next_period(struct dmarc_report_run *run);

static void run_free(struct dmarc_report_run *run)
{
	pool_destroy(&run->job_pool);
	pool_destroy(&run->rows_pool);
	pool_destroy(&run->pool);
	buf_free(&run->gz);
	i_free(run->report_id);
	i_free(run->hostname);
	i_free(run->sender);
	i_free(run->org);
	i_free(run);
}

static void run_unref(struct dmarc_report_run *run)
{
	i_assert(run->refs > 0);
	if (--run->refs == 0)
		run_free(run);
}

static void run_post(struct dmarc_report_run *run, void (*fn)(void *))
{
	run->refs++;
	completion_post(&run->target, fn, run);
}

static void run_commit(struct dmarc_report_run *run, struct store_txn *txn,
		       store_txn_callback_t *cb)
{
	run->refs++;
	store_txn_commit(txn, &run->target, cb, run);
}

static void run_finish(struct dmarc_report_run *run)
{
	const struct dmarc_report_stats *s = &run->stats;
	bool quiet = s->periods_closed == 0 && s->reports == 0 &&
		     s->dropped == 0 && s->deferred == 0 && s->errors == 0;
	log_event(quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, NULL,
		  "dmarc-report-pass",
		  "closed=%u reports=%u destinations=%u skipped=%u dropped=%u "
		  "deferred=%u errors=%u",
		  s->periods_closed, s->reports, s->destinations, s->skipped,
		  s->dropped, s->deferred, s->errors);
	run->aborted = true; /* nothing more runs */
	run->done(&run->stats, run->ctx);
	run_unref(run);
}

time_t dmarc_report_period_due(time_t begin, unsigned interval)
{
	if (interval == 0)
		interval = 86400;
	if (begin < 0)
		begin = 0;
	return (begin / (time_t)interval + 1) * (time_t)interval;
}

/* ---- 1. closing ---- */

static void run_load_periods(struct dmarc_report_run *run)
{
	struct store_dmarc_period *all;
	unsigned count;
	const char *error;

	if (store_dmarc_periods(run->store, run->pool, &all, &count, &error) <
	    0) {
		log_error(NULL, "dmarc-report-read", "error=\"%s\"", error);
		run->stats.errors++;
		run_finish(run);
		return;
	}
	run->periods = p_new(run->pool, struct store_dmarc_period, count + 1);
	run->period_count = 0;
	for (unsigned i = 0; i < count; i++) {
		if (all[i].end != 0)
			run->periods[run->period_count++] = all[i];
	}
	run->period_idx = 0;
	run_next_period(run);
}

static void run_closed(struct store_txn *txn, void *ctx)
{
	struct dmarc_report_run *run = ctx;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);

	if (!run->aborted) {
		if (err == STORE_OK) {
			const struct store_op_result *r =
			    store_txn_result(txn, 0);
			log_info(NULL, "dmarc-report-period-closed",
				 "period=%lld rows=%u", (long long)r->id,
				 r->count);
			if (r->count > 0)
				run->stats.periods_closed++;
		} else if (err != STORE_ERR_NOT_FOUND) {
			/* NOT_FOUND: nothing open, or someone else (the
			 * admin command, the daemon) closed it first. */
			log_error(NULL, "dmarc-report-close",
				  "error=\"%s\"", text);
			run->stats.errors++;
		}
		run_load_periods(run);
	}
	run_unref(run);
}

static void run_begin(void *ctx)
{
	struct dmarc_report_run *run = ctx;
	time_t now = time(NULL);

	if (run->aborted) {
		run_unref(run);
		return;
	}
	int64_t close_id = -1;
	if (run->close_now) {
		close_id = 0;
	} else {
		struct store_dmarc_period *all;
		unsigned count;
		const char *error;
		if (store_dmarc_periods(run->store, run->pool, &all, &count,
					&error) < 0) {
			log_error(NULL, "dmarc-report-read", "error=\"%s\"",
				  error);
			run->stats.errors++;
		} else if (count > 0 && all[count - 1].end == 0 &&
			   dmarc_report_period_due(all[count - 1].begin,
						   run->interval) <= now) {
			close_id = all[count - 1].id;
		}
	}
	if (close_id >= 0) {
		struct store_txn *txn = store_txn_create(run->store);
		store_txn_dmarc_period_close(txn, close_id, now);
		run_commit(run, txn, run_closed);
	} else {
		run_load_periods(run);
	}
	run_unref(run);
}

/* ---- 2. one period at a time, one policy domain at a time ---- */

static void run_next_period(struct dmarc_report_run *run)
{
	const char *error;

	if (run->period_idx >= run->period_count) {
		run_finish(run);
		return;
	}
	const struct store_dmarc_period *p = &run->periods[run->period_idx];
	pool_clear(run->rows_pool);
	if (store_dmarc_rows(run->store, p->id, NULL, run->rows_pool,
			     &run->rows, &run->row_count, &error) < 0) {
		log_error(NULL, "dmarc-report-read", "period=%lld error=\"%s\"",
			  (long long)p->id, error);
		run->stats.errors++;
		run->row_count = 0;
	}
	run->row_idx = 0;
	run_next_job(run);
}

static void run_next_job_cb(void *ctx)
{
	struct dmarc_report_run *run = ctx;
	if (!run->aborted)
		run_next_job(run);
	run_unref(run);
}

static void job_deliver(struct dmarc_report_run *run);

static void job_lookup_cb(const struct dns_answer *answer, const char *error,
			  void *ctx)
{
	struct dmarc_report_lookup *l = ctx;
	struct dmarc_report_run *run = l->run;

	l->request = NULL;
	if (answer == NULL) {
		l->state = DEST_TEMPFAIL;
	} else {
		l->state = DEST_REFUSED;
		/* Section 7.1: a record that starts with "v=DMARC1". */
		for (size_t i = 0; answer->rcode == 0 && i < answer->count;
		     i++) {
			const struct dns_rr *rr = &answer->rrs[i];
			if (rr->txt_len >= 8 &&
			    memcmp(rr->txt_or_data, "v=DMARC1", 8) == 0 &&
			    (rr->txt_len == 8 || rr->txt_or_data[8] == ';' ||
			     rr->txt_or_data[8] == ' ' ||
			     rr->txt_or_data[8] == '\t'))
				l->state = DEST_OK;
		}
	}
	i_assert(run->lookups_pending > 0);
	if (--run->lookups_pending == 0 && !run->aborted)
		job_deliver(run);
	run_unref(run);
}

static void job_build_message(struct dmarc_report_run *run,
			      const char *const *to, unsigned to_count,
			      struct buf *out)
{
	const struct store_dmarc_period *p = &run->periods[run->period_idx];
	struct dmarc_report_mail mail = {
	    .from = run->sender,
	    .to = to,
	    .to_count = to_count,
	    .policy_domain = run->job_domain,
	    .org_name = run->org,
	    .receiver = run->hostname,
	    .report_id = run->report_id,
	    .begin = p->begin,
	    .end = p->end,
	    .gz = run->gz.data,
	    .gz_size = run->gz.len,
	};
	dmarc_report_message(&mail, out);
}

static void job_start(struct dmarc_report_run *run)
{
	const struct store_dmarc_period *p = &run->periods[run->period_idx];
	const char *error;

	pool_clear(run->job_pool);
	buf_reset(&run->gz);
	i_free(run->report_id);
	run->report_id = i_strdup_printf("%lld.%lld.%s", (long long)p->begin,
					 (long long)p->id, run->job_domain);

	/* The newest row carries the rua= in force. */
	const struct store_dmarc_row *newest = &run->job_rows[0];
	for (unsigned i = 1; i < run->job_count; i++) {
		if (run->job_rows[i].id > newest->id)
			newest = &run->job_rows[i];
	}
	unsigned skipped;
	run->uri_count = dmarc_report_rua_parse(newest->rua, run->job_pool,
						&run->uris, &skipped);
	run->stats.skipped += skipped;

	struct buf xml = BUF_INIT;
	struct dmarc_report_meta meta = {
	    .org_name = run->org,
	    .email = run->sender,
	    .report_id = run->report_id,
	    .begin = p->begin,
	    .end = p->end,
	};
	dmarc_report_xml(&meta, run->job_rows, run->job_count, &xml);
	int ret = dmarc_report_gzip(xml.data, xml.len, &run->gz, &error);
	buf_free(&xml);
	if (ret < 0) {
		log_error(NULL, "dmarc-report-gzip", "domain=%s error=\"%s\"",
			  run->job_domain, error);
		run->stats.errors++;
		run->uri_count = 0;
	}

	/* The size a destination's !limit is held against: the message as
	 * it would go to every destination at once. */
	const char **to = p_new(run->job_pool, const char *, run->uri_count + 1);
	for (unsigned i = 0; i < run->uri_count; i++)
		to[i] = run->uris[i].address;
	struct buf msg = BUF_INIT;
	job_build_message(run, to, run->uri_count, &msg);
	size_t size = msg.len;
	buf_free(&msg);

	char *org_domain = dmarc_org_domain(run->job_domain);
	run->lookups = p_new(run->job_pool, struct dmarc_report_lookup,
			     run->uri_count + 1);
	run->lookups_pending = 0;
	for (unsigned i = 0; i < run->uri_count; i++) {
		struct dmarc_report_lookup *l = &run->lookups[i];
		const struct dmarc_report_uri *u = &run->uris[i];
		l->run = run;
		l->state = DEST_OK;
		if (u->max_size != 0 && size > u->max_size) {
			log_info(NULL, "dmarc-report-too-large",
				 "domain=%s to=%s size=%zu limit=%llu",
				 run->job_domain, u->address, size,
				 (unsigned long long)u->max_size);
			l->state = DEST_REFUSED;
			continue;
		}
		char *rua_org = dmarc_org_domain(u->domain);
		bool external = !str_ascii_eq_ci(rua_org, org_domain);
		i_free(rua_org);
		if (!external)
			continue;
		/* Section 7.1: the destination must agree to receive
		 * reports about this domain. */
		char *name = i_strdup_printf("%s._report._dmarc.%s",
					     run->job_domain, u->domain);
		if (strlen(name) > 253 || run->dns == NULL) {
			l->state = DEST_REFUSED;
		} else {
			l->state = DEST_PENDING;
			run->lookups_pending++;
			run->refs++;
			l->request = run->dns->lookup(run->dns->dns_ctx, name,
						      DNS_TYPE_TXT,
						      job_lookup_cb, l);
		}
		i_free(name);
	}
	i_free(org_domain);
	if (run->lookups_pending == 0)
		job_deliver(run);
}

static void run_next_job(struct dmarc_report_run *run)
{
	if (run->row_idx >= run->row_count) {
		run->period_idx++;
		run_next_period(run);
		return;
	}
	unsigned first = run->row_idx, n = 1;
	const char *domain = run->rows[first].policy_domain;
	while (first + n < run->row_count &&
	       strcmp(run->rows[first + n].policy_domain, domain) == 0)
		n++;
	run->row_idx = first + n;
	run->job_rows = &run->rows[first];
	run->job_count = n;
	run->job_domain = domain;
	job_start(run);
}

/* ---- 3. one transaction: deliveries, enqueue, rows deleted ---- */

static void job_announce(struct dmarc_report_run *run)
{
	for (unsigned i = 0; run->delivered != NULL &&
			     i < run->job_account_count; i++) {
		struct store_account *a;
		const char *error;
		if (store_account_lookup_id(run->store, run->job_accounts[i],
					    run->job_pool, &a, &error) > 0)
			run->delivered(run->delivered_ctx, a->address);
	}
}

static void job_committed(struct store_txn *txn, void *ctx)
{
	struct dmarc_report_run *run = ctx;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);

	if (!run->aborted) {
		if (err == STORE_OK && run->job_dropped) {
			run->stats.dropped++;
		} else if (err == STORE_OK) {
			run->stats.reports++;
			job_announce(run);
		} else if (err == STORE_ERR_NOT_FOUND) {
			log_info(NULL, "dmarc-report-already-sent",
				 "domain=%s", run->job_domain);
		} else {
			log_error(NULL, "dmarc-report-queue",
				  "domain=%s error=\"%s\"", run->job_domain,
				  text);
			run->stats.errors++;
		}
		run_post(run, run_next_job_cb);
	}
	run_unref(run);
}

/* Adds the deliveries for one address to txn: local accounts directly
 * (like our DSNs), others into the outbound queue. Returns false when the
 * address is an unknown local one or the lookup failed. */
static bool job_add_destination(struct dmarc_report_run *run,
				const char *address, int64_t **accounts,
				unsigned *account_count, const char ***remote,
				unsigned *remote_count)
{
	struct store_resolution res;
	const char *error;
	int ret = store_resolve(run->store, address, run->job_pool, &res,
				&error);
	if (ret < 0) {
		log_error(NULL, "dmarc-report-resolve", "to=%s error=\"%s\"",
			  address, error);
		return false;
	}
	if (ret == 0) {
		const char *at = strrchr(address, '@');
		if (store_domain_exists(run->store, at + 1, &error) != 0) {
			log_warn(NULL, "dmarc-report-unknown-local",
				 "to=%s", address);
			return false;
		}
		*remote = i_realloc(*remote,
				    (*remote_count + 1) * sizeof(**remote));
		(*remote)[(*remote_count)++] = address;
		return true;
	}
	for (unsigned i = 0; i < res.account_count; i++) {
		bool dup = false;
		for (unsigned j = 0; j < *account_count; j++)
			dup = dup || (*accounts)[j] == res.account_ids[i];
		if (dup)
			continue;
		*accounts = i_realloc(*accounts, (*account_count + 1) *
						     sizeof(**accounts));
		(*accounts)[(*account_count)++] = res.account_ids[i];
	}
	for (unsigned i = 0; i < res.remote_count; i++) {
		*remote = i_realloc(*remote,
				    (*remote_count + 1) * sizeof(**remote));
		(*remote)[(*remote_count)++] = res.remote[i];
	}
	return true;
}

/* Puts DKIM-Signature fields for the sender's domain above msg. */
static void job_sign(struct dmarc_report_run *run, struct buf *msg)
{
	const char *at = strrchr(run->sender, '@');
	if (run->sign == NULL || at == NULL)
		return;
	struct buf signed_msg = BUF_INIT;
	int ret = run->sign(run->sign_ctx, at + 1, msg->data, msg->len,
			    &signed_msg);
	if (ret > 0) {
		buf_append(&signed_msg, msg->data, msg->len);
		buf_free(msg);
		*msg = signed_msg;
		return;
	}
	if (ret < 0)
		log_warn(NULL, "dmarc-report-unsigned", "domain=%s",
			 run->job_domain);
	buf_free(&signed_msg);
}

static void job_deliver(struct dmarc_report_run *run)
{
	const struct store_dmarc_period *p = &run->periods[run->period_idx];
	const char **to = p_new(run->job_pool, const char *, run->uri_count + 1);
	unsigned to_count = 0;
	bool tempfail = false;

	for (unsigned i = 0; i < run->uri_count; i++) {
		switch (run->lookups[i].state) {
		case DEST_OK:
			to[to_count++] = run->uris[i].address;
			break;
		case DEST_TEMPFAIL:
			tempfail = true;
			/* fall through */
		case DEST_REFUSED:
		case DEST_PENDING:
			log_info(NULL, "dmarc-report-destination-refused",
				 "domain=%s to=%s reason=%s", run->job_domain,
				 run->uris[i].address,
				 run->lookups[i].state == DEST_TEMPFAIL
				     ? "dns-temperror"
				     : "not-verified-or-too-large");
			run->stats.skipped++;
			break;
		}
	}
	if (to_count == 0 && tempfail &&
	    time(NULL) < p->end + DMARC_REPORT_RETRY_SECS) {
		run->stats.deferred++;
		run_post(run, run_next_job_cb);
		return;
	}

	struct store_txn *txn = store_txn_create(run->store);
	int64_t *accounts = NULL;
	const char **remote = NULL;
	unsigned account_count = 0, remote_count = 0, dests = 0;
	for (unsigned i = 0; i < to_count; i++) {
		if (job_add_destination(run, to[i], &accounts, &account_count,
					&remote, &remote_count))
			dests++;
	}
	struct buf msg = BUF_INIT;
	run->job_dropped = dests == 0;
	if (dests > 0) {
		job_build_message(run, to, to_count, &msg);
		job_sign(run, &msg);
		if (account_count > 0) {
			struct store_delivery_rcpt *rcpts = p_new(
			    run->job_pool, struct store_delivery_rcpt,
			    account_count);
			for (unsigned i = 0; i < account_count; i++)
				rcpts[i].account_id = accounts[i];
			/* RFC 5321 section 4.4: the delivery records the
			 * reverse-path. */
			struct buf local = BUF_INIT;
			buf_printf(&local, "Return-Path: <%s>\r\n",
				   run->sender);
			buf_append(&local, msg.data, msg.len);
			store_txn_deliver(txn, local.data, local.len,
					  time(NULL), rcpts, account_count, 0);
			buf_free(&local);
		}
		if (remote_count > 0) {
			struct store_queue_envelope env = {
			    .sender = run->sender,
			};
			struct store_queue_rcpt *qr =
			    p_new(run->job_pool, struct store_queue_rcpt,
				  remote_count);
			for (unsigned i = 0; i < remote_count; i++)
				qr[i].address = remote[i];
			store_txn_enqueue(txn, msg.data, msg.len, &env, qr,
					  remote_count, 0);
		}
		run->stats.destinations += dests;
		log_info(NULL, "dmarc-report-queued",
			 "domain=%s period=%lld rows=%u local=%u remote=%u "
			 "size=%zu",
			 run->job_domain, (long long)p->id, run->job_count,
			 account_count, remote_count, msg.len);
	} else {
		log_warn(NULL, "dmarc-report-dropped",
			 "domain=%s period=%lld reason=no-destination",
			 run->job_domain, (long long)p->id);
	}
	buf_free(&msg);
	run->job_account_count = account_count;
	run->job_accounts = p_new(run->job_pool, int64_t, account_count + 1);
	if (account_count > 0)
		memcpy(run->job_accounts, accounts,
		       account_count * sizeof(*accounts));
	free(accounts);
	free(remote);
	store_txn_dmarc_report_done(txn, p->id, run->job_domain);
	run_commit(run, txn, job_committed);
}

/* ---- lifecycle ---- */

struct dmarc_report_run *
dmarc_report_run_start(struct store *store,
		       const struct dmarc_report_settings *set,
		       const struct mailauth_dns *dns,
		       const struct completion_target *target, bool close_now,
		       dmarc_report_done_t *done, void *ctx)
{
	struct dmarc_report_run *run = i_new(struct dmarc_report_run, 1);
	const char *host = set->hostname != NULL && set->hostname[0] != '\0'
			       ? set->hostname
			       : "localhost";

	run->store = store;
	run->hostname = i_strdup(host);
	run->sender = set->sender != NULL && set->sender[0] != '\0'
			  ? i_strdup(set->sender)
			  : i_strdup_printf("postmaster@%s", host);
	run->org = i_strdup(set->org_name != NULL && set->org_name[0] != '\0'
				? set->org_name
				: host);
	run->interval = set->interval != 0 ? set->interval : 86400;
	run->sign = set->sign;
	run->sign_ctx = set->sign_ctx;
	run->delivered = set->delivered;
	run->delivered_ctx = set->delivered_ctx;
	run->dns = dns;
	run->target = *target;
	run->close_now = close_now;
	run->done = done;
	run->ctx = ctx;
	run->pool = pool_create("dmarc report run", 1024);
	run->rows_pool = pool_create("dmarc report rows", 16384);
	run->job_pool = pool_create("dmarc report job", 4096);
	run->refs = 1;
	run_post(run, run_begin);
	return run;
}

void dmarc_report_run_abort(struct dmarc_report_run **_run)
{
	struct dmarc_report_run *run = *_run;

	if (run == NULL)
		return;
	*_run = NULL;
	i_assert(!run->aborted);
	run->aborted = true;
	for (unsigned i = 0; run->lookups != NULL && i < run->uri_count; i++) {
		struct dmarc_report_lookup *l = &run->lookups[i];
		if (l->request != NULL) {
			run->dns->cancel(run->dns->dns_ctx, l->request);
			l->request = NULL;
			run->lookups_pending--;
			run_unref(run);
		}
	}
	run_unref(run);
}

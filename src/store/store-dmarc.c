/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "log.h"
#include "store-private.h"

/* The generic side of the DMARC report rows: transaction builders, the
 * read entry points and the fire-and-forget commit. */

static const char *dmarc_field(struct pool *pool, const char *s, size_t max)
{
	if (s == NULL)
		return "";
	return pool_strndup(pool, s, strnlen(s, max));
}

unsigned store_txn_dmarc_record(struct store_txn *txn,
				const struct store_dmarc_row *row, time_t when)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_DMARC_RECORD, &idx);
	struct store_dmarc_row *r = p_new(txn->pool, struct store_dmarc_row, 1);
	const size_t max = STORE_DMARC_FIELD_MAX;

	r->policy_domain = dmarc_field(txn->pool, row->policy_domain, max);
	r->source_ip = dmarc_field(txn->pool, row->source_ip, max);
	r->disposition = dmarc_field(txn->pool, row->disposition, max);
	r->dkim_eval = dmarc_field(txn->pool, row->dkim_eval, max);
	r->spf_eval = dmarc_field(txn->pool, row->spf_eval, max);
	r->header_from = dmarc_field(txn->pool, row->header_from, max);
	r->envelope_from = dmarc_field(txn->pool, row->envelope_from, max);
	r->envelope_to = dmarc_field(txn->pool, row->envelope_to, max);
	/* Several signatures' lines. */
	r->dkim_auth = dmarc_field(txn->pool, row->dkim_auth, max * 8);
	r->spf_domain = dmarc_field(txn->pool, row->spf_domain, max);
	r->spf_scope = dmarc_field(txn->pool, row->spf_scope, max);
	r->spf_result = dmarc_field(txn->pool, row->spf_result, max);
	r->p = dmarc_field(txn->pool, row->p, max);
	r->sp = dmarc_field(txn->pool, row->sp, max);
	r->adkim = dmarc_field(txn->pool, row->adkim, max);
	r->aspf = dmarc_field(txn->pool, row->aspf, max);
	r->fo = dmarc_field(txn->pool, row->fo, max);
	r->rua = dmarc_field(txn->pool, row->rua, STORE_DMARC_RUA_MAX);
	r->pct = row->pct;
	r->count = row->count == 0 ? 1 : row->count;
	op->dmarc_row = r;
	op->internaldate = when;
	return idx;
}

unsigned store_txn_dmarc_period_close(struct store_txn *txn, int64_t period_id,
				      time_t end)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_DMARC_PERIOD_CLOSE, &idx);
	op->queue_id = period_id;
	op->internaldate = end;
	return idx;
}

unsigned store_txn_dmarc_report_done(struct store_txn *txn, int64_t period_id,
				     const char *policy_domain)
{
	unsigned idx;
	struct store_op *op =
	    store_txn_op_new(txn, STORE_OP_DMARC_REPORT_DONE, &idx);
	op->queue_id = period_id;
	op->s1 = pool_strdup(txn->pool, policy_domain);
	return idx;
}

int store_dmarc_periods(struct store *store, struct pool *pool,
			struct store_dmarc_period **periods_r,
			unsigned *count_r, const char **error_r)
{
	return store->backend->dmarc_periods(store, pool, periods_r, count_r,
					     error_r);
}

int store_dmarc_rows(struct store *store, int64_t period_id,
		     const char *policy_domain, struct pool *pool,
		     struct store_dmarc_row **rows_r, unsigned *count_r,
		     const char **error_r)
{
	return store->backend->dmarc_rows(store, period_id, policy_domain,
					  pool, rows_r, count_r, error_r);
}

/* The writer's completion for a detached transaction runs right where it
 * is posted (the writer thread, or the submitter when the store is
 * closing). That bends completion_target's "never inline" rule on
 * purpose: the callback only logs, and store_txn_complete() then destroys
 * the transaction, which touches nothing of the poster's state. */
static void store_detached_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	fn(ctx);
}

static void store_detached_done(struct store_txn *txn, void *ctx)
{
	const char *what = ctx;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	char quoted[256];

	if (err == STORE_OK)
		return;
	log_event(err == STORE_ERR_OVER_QUOTA ? LOG_LEVEL_WARN
					      : LOG_LEVEL_ERROR,
		  NULL, "store_txn_detached_failed", "what=%s error=%s", what,
		  log_quote(quoted, sizeof(quoted), text));
}

void store_txn_commit_detached(struct store_txn *txn, const char *what)
{
	static const struct completion_target target = {
	    .post = store_detached_post,
	    .owner = NULL,
	};
	store_txn_commit(txn, &target, store_detached_done, (void *)what);
}

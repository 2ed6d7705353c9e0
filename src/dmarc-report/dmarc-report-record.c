/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "dkim.h"
#include "store.h"
#include "dmarc-report.h"

/* Recording: one evaluated message becomes one store row, aggregated by
 * the store with identical ones of the period. */

static const char *dkim_auth_lines(const struct dmarc_report_event *ev,
				   struct pool *pool)
{
	struct buf b = BUF_INIT;

	if (ev->dkim != NULL) {
		size_t n = dkim_verify_count(ev->dkim);
		for (size_t i = 0; i < n; i++) {
			const struct dkim_verify_result *r =
			    dkim_verify_get(ev->dkim, i);
			/* A signature that did not parse names no domain:
			 * appendix C requires one, so it is left out. */
			if (r->domain == NULL || r->domain[0] == '\0')
				continue;
			buf_printf(&b, "%s%s %s %s", b.len > 0 ? "\n" : "",
				   r->domain,
				   r->selector != NULL && r->selector[0] != '\0'
				       ? r->selector
				       : "-",
				   dkim_result_name(r->result));
		}
	} else if (ev->input != NULL) {
		for (size_t i = 0; i < ev->input->dkim_count; i++) {
			const struct dmarc_dkim_input *d = &ev->input->dkim[i];
			if (d->domain == NULL || d->domain[0] == '\0')
				continue;
			buf_printf(&b, "%s%s - %s", b.len > 0 ? "\n" : "",
				   d->domain,
				   d->result != NULL ? d->result : "none");
		}
	}
	const char *ret = pool_strdup(pool, buf_cstr(&b));
	buf_free(&b);
	return ret;
}

static const char *policy_name(enum dmarc_policy p)
{
	/* A missing or bad p= counts as none (section 6.6.3). */
	return p == DMARC_POLICY_UNSPECIFIED ? "none" : dmarc_policy_name(p);
}

bool dmarc_report_row_from_check(const struct dmarc_check *check,
				 const struct dmarc_report_event *ev,
				 struct pool *pool,
				 struct store_dmarc_row *row_r)
{
	const struct dmarc_record *rec = dmarc_check_record(check);
	const char *domain = dmarc_check_policy_domain(check);

	if (rec == NULL || rec->rua == NULL || rec->rua[0] == '\0' ||
	    domain == NULL || domain[0] == '\0')
		return false;

	const struct dmarc_input *in = ev->input;
	memset(row_r, 0, sizeof(*row_r));
	row_r->policy_domain = pool_strdup(pool, domain);
	row_r->source_ip = ev->source_ip != NULL ? ev->source_ip : "";
	row_r->disposition = policy_name(ev->applied);
	row_r->dkim_eval = dmarc_check_dkim_aligned(check) ? "pass" : "fail";
	row_r->spf_eval = dmarc_check_spf_aligned(check) ? "pass" : "fail";
	row_r->header_from =
	    in != NULL && in->from_domain != NULL ? in->from_domain : "";
	row_r->envelope_from =
	    ev->envelope_from != NULL ? ev->envelope_from : "";
	row_r->envelope_to = ev->envelope_to != NULL ? ev->envelope_to : "";
	row_r->dkim_auth = dkim_auth_lines(ev, pool);
	row_r->spf_domain =
	    in != NULL && in->spf_domain != NULL ? in->spf_domain : "";
	/* With a null MAIL FROM, SPF checked the HELO identity (RFC 7208
	 * section 2.3). */
	row_r->spf_scope = row_r->envelope_from[0] == '\0' ? "helo" : "mfrom";
	row_r->spf_result =
	    in != NULL && in->spf_result != NULL ? in->spf_result : "none";
	row_r->p = policy_name(rec->p);
	row_r->sp = policy_name(rec->sp == DMARC_POLICY_UNSPECIFIED ? rec->p
								    : rec->sp);
	row_r->adkim = rec->adkim_strict ? "s" : "r";
	row_r->aspf = rec->aspf_strict ? "s" : "r";
	row_r->fo = rec->fo != NULL ? rec->fo : "0";
	row_r->rua = rec->rua;
	row_r->pct = rec->pct;
	row_r->count = 1;
	return true;
}

void dmarc_report_record(struct store *store, const struct dmarc_check *check,
			 const struct dmarc_report_event *ev)
{
	struct pool *pool = pool_create("dmarc record", 1024);
	struct store_dmarc_row row;

	if (dmarc_report_row_from_check(check, ev, pool, &row)) {
		struct store_txn *txn = store_txn_create(store);
		store_txn_dmarc_record(txn, &row, ev->when);
		store_txn_commit_detached(txn, "dmarc-report-record");
	}
	pool_destroy(&pool);
}
